"""Writes compile_commands.json (for clang-tidy/clangd) from Bazel's CppCompile actions."""
import json, subprocess, sys, os
root = sys.argv[1]
out = subprocess.run(["bazel", "aquery", 'mnemonic("CppCompile", //...)', "--output=jsonproto"],
                     cwd=root, capture_output=True, text=True).stdout
data = json.loads(out)
execroot = subprocess.run(["bazel", "info", "execution_root"], cwd=root, capture_output=True, text=True).stdout.strip()
cmds = []
for a in data.get("actions", []):
    args = a["arguments"]
    src = None
    for i, x in enumerate(args):
        if x == "-c":
            src = args[i + 1]
    if not src or src.startswith("bazel-out") or src.startswith("external") or "third_party" in src:
        continue
    # Flags gcc knows and clang does not.
    args = [x for x in args if x not in ("-fno-canonical-system-headers",
                                          "-Wno-free-nonheap-object",
                                          "-Wunused-but-set-parameter")]
    cmds.append({"directory": execroot, "arguments": args, "file": src})
json.dump(cmds, open(os.path.join(root, "compile_commands.json"), "w"), indent=1)
print(len(cmds))
