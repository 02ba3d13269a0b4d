"""Compiler options for code that includes DPDK headers (Debian's dpdk 22.11).

cc_library copts do not propagate to dependents, so every target that
includes rte_*.h uses these: the include dirs, rte_config.h first, and an ISA
with SSE4.2 (DPDK's inline functions use it).
"""

DPDK_COPTS = [
    "-isystem/usr/include/dpdk",
    "-isystem/usr/include/x86_64-linux-gnu/dpdk",
    "-include",
    "rte_config.h",
    "-march=corei7",
    "-DALLOW_EXPERIMENTAL_API",
]
