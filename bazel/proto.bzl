"""cc_grpc_protos: C++ (and gRPC) code from .proto files with Debian's protoc.

Bazel 4.2 offline has no usable rules_proto/grpc rules, so a genrule calls
/usr/bin/protoc with grpc_cpp_plugin and a cc_library wraps the outputs.

Args:
  name: the cc_library's name.
  srcs: .proto files of this package to generate code for.
  proto_deps: .proto files of this package imported by srcs (copied, not generated).
  import_prefix: prefix under which the files are imported (e.g. containerd's
    "github.com/containerd/containerd/").
  strip_gogo: remove gogoproto/fieldpath imports and options (containerd's API);
    the result is wire-compatible.
  grpc: also generate service stubs.
  deps: cc deps (other cc_grpc_protos libraries whose protos srcs import).
"""

_GOGO_SED = (
    "sed -e '/^import weak/d' -e '/option (gogoproto/d' " +
    "-e '/option (containerd.plugin/d' -e 's/ *\\[(gogoproto[^]]*\\]//'"
)

def cc_grpc_protos(name, srcs, proto_deps = [], import_prefix = "", strip_gogo = False, grpc = True, deps = [], visibility = None):
    pkg = native.package_name()
    outs = []
    gen = []
    for s in srcs:
        base = import_prefix + s[:-len(".proto")]
        gen.append(import_prefix + s)
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    filt = _GOGO_SED if strip_gogo else "cat"
    grpc_flags = "--grpc_out=$(RULEDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin" if grpc else ""
    prefix = (pkg + "/") if pkg else ""
    native.genrule(
        name = name + "_gen",
        srcs = srcs + proto_deps,
        outs = outs,
        cmd = """
T=$$(mktemp -d)
for f in $(SRCS); do
  rel=$${f#%s}
  mkdir -p $$T/%s$$(dirname $$rel)
  %s < $$f > $$T/%s$$rel
done
/usr/bin/protoc -I$$T -I/usr/include --cpp_out=$(RULEDIR) %s %s
rc=$$?
rm -rf $$T
exit $$rc
""" % (prefix, import_prefix, filt, import_prefix, grpc_flags, " ".join(["$$T/" + g for g in gen])),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        copts = ["-Wno-unused-parameter"],
        deps = deps + ["@system//:grpc++"],
        visibility = visibility,
    )
