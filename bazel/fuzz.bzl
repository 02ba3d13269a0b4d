"""cc_fuzz_target: a libFuzzer target and its corpus.

Makes two targets from one LLVMFuzzerTestOneInput source:
  <name>_replay  a cc_test (default compiler) that runs every corpus file
                 through the target: the corpus is a regression test of
                 every `bazel test //...`;
  <name>         a cc_binary for clang's libFuzzer, tagged manual: built by
                 tools/fuzz/run.sh with --config=fuzz, which adds
                 -fsanitize=fuzzer,address.
The corpus is the folder `corpus` of the package (seed inputs and found
crashes, kept in the repo).
"""

def cc_fuzz_target(name, srcs, deps, corpus):
    native.cc_test(
        name = name + "_replay",
        srcs = srcs + ["//common:fuzz_replay_main.cc"],
        deps = deps,
        args = [native.package_name() + "/" + corpus],
        data = native.glob([corpus + "/**"]),
        size = "small",
    )
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps,
        tags = ["manual", "fuzz"],
    )
