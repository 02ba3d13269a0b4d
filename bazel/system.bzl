"""Repository rule exposing Debian's system libraries as cc_library targets.

Runs `pkg-config --cflags --libs` for each target's modules and turns the flags
into a cc_library: -D → defines, -I → copts (-isystem), the rest → linkopts.
"""

# target name -> (pkg-config modules, extra linkopts)
_LIBS = {
    "grpc++": (["grpc++", "protobuf"], []),
    # Servers only: a client with its own reflection.proto must not link it.
    "grpc++_reflection": (["grpc++", "protobuf"], ["-lgrpc++_reflection"]),
    "protobuf": (["protobuf"], []),
    "absl": ([
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_synchronization",
        "absl_time",
        "absl_flags",
        "absl_flags_parse",
        "absl_flags_usage",
        "absl_random_random",
        "absl_cleanup",
    ], []),
    "spdlog": (["spdlog", "fmt"], []),
    "gtest": (["gtest", "gmock"], []),
    "gtest_main": (["gtest", "gmock", "gmock_main"], []),
    "nlohmann_json": (["nlohmann_json"], []),
    "yaml_cpp": (["yaml-cpp"], []),
    "curl": (["libcurl", "libcrypto"], []),
    "crypto": (["libcrypto"], []),
    "cli11": ([], []),
    "libvirt": (["libvirt"], []),
    "pcap": (["libpcap"], []),
    # Debian's libcivetweb-dev has no .pc file (cloonix gui's HTTP server).
    "civetweb": ([], ["-lcivetweb"]),
    # Its .pc ends with a bare -Wl,--as-needed: close it. Consumers also need
    # //bazel:dpdk.bzl's DPDK_COPTS (copts do not propagate).
    "dpdk": (["libdpdk"], ["-Wl,--no-as-needed", "-lrte_bus_vdev"]),
}

def _split_cflags(flags):
    defines, copts = [], []
    for f in flags:
        if f.startswith("-D"):
            defines.append(f[2:])
        elif f.startswith("-I"):
            copts.append("-isystem" + f[2:])
        else:
            copts.append(f)
    return defines, copts, []

def _split(flags):
    defines, copts, linkopts = [], [], []
    for f in flags:
        if f.startswith("-D"):
            defines.append(f[2:])
        elif f.startswith("-I"):
            copts.append("-isystem" + f[2:])
        elif f == "-pthread":
            copts.append(f)
            linkopts.append(f)
        else:
            linkopts.append(f)
    return defines, copts, linkopts

# Libraries the CLI links statically (:cli_static): the dynamic loader spent
# most of a short command's time binding ~80 shared libraries (gRPC, protobuf
# and abseil's many small ones). OpenSSL, zlib, civetweb, libstdc++ and glibc
# stay shared.
_STATIC_LIBS = ["grpc++", "grpc", "gpr", "upb", "address_sorting", "re2",
                "cares", "protobuf", "yaml-cpp"]
# The modules of the libraries above as the CLI uses them: @system//:grpc++,
# :yaml_cpp and :absl.
_STATIC_MODULES = _LIBS["grpc++"][0] + _LIBS["yaml_cpp"][0] + _LIBS["absl"][0]

def _static_dir(ctx, pc):
    """Links the .a files of _STATIC_LIBS and abseil into static/; returns
    the linkopts that make `-lfoo` find them first, and the --static closure."""
    libdir = ctx.execute([pc, "--variable=libdir", "absl_base"]).stdout.strip()
    res = ctx.execute(["sh", "-c", "ls %s/libabsl_*.a" % libdir])
    archives = [a for a in res.stdout.strip().split("\n") if a]
    if not archives:
        fail("no libabsl_*.a in %s: run tools/install-deps.sh" % libdir)
    for name in _STATIC_LIBS:
        archives.append("%s/lib%s.a" % (libdir, name))
    for a in archives:
        if not ctx.path(a).exists:
            fail("%s missing: run tools/install-deps.sh" % a)
        ctx.symlink(a, "static/" + a.split("/")[-1])
    res = ctx.execute([pc, "--static", "--libs"] + _STATIC_MODULES)
    if res.return_code != 0:
        fail("pkg-config --static failed: " + res.stderr)
    libs = [f for f in res.stdout.strip().split(" ") if f]
    return (["-L" + str(ctx.path("static")), "-Wl,--start-group"] + libs +
            ["-Wl,--end-group"])

def _system_libraries_impl(ctx):
    pc = ctx.which("pkg-config")
    if not pc:
        fail("pkg-config not found: run tools/install-deps.sh")
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, (mods, extra) in _LIBS.items():
        cflags, libs = [], []
        if mods:
            res = ctx.execute([pc, "--cflags"] + mods)
            res2 = ctx.execute([pc, "--libs"] + mods)
            if res.return_code != 0 or res2.return_code != 0:
                fail("pkg-config %s failed: %s%s\nrun tools/install-deps.sh" % (mods, res.stderr, res2.stderr))
            cflags = [f for f in res.stdout.strip().split(" ") if f]
            libs = [f for f in res2.stdout.strip().split(" ") if f]
        defines, copts, _ = _split_cflags(cflags)
        linkopts = libs + extra
        build.append("cc_library(\n    name = %r,\n    defines = %r,\n    copts = %r,\n    linkopts = %r,\n)\n" % (
            name, defines, copts, linkopts))
    build.append("cc_library(\n    name = \"cli_static\",\n    linkopts = %r,\n)\n" % _static_dir(ctx, pc))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", "\n".join(build))

system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
