"""Offline stand-ins for repositories that Bazel 4.2.3's built-in WORKSPACE
suffix would otherwise download (@rules_cc, @rules_java,
@remote_coverage_tools).

Each stub is a thin wrapper over Bazel's native rules, providing exactly the
labels that @bazel_tools and the suffix refer to:

  @rules_cc//cc:defs.bzl            (loaded by @bazel_tools//tools/cpp:BUILD,
                                     tools/jdk:BUILD and the generated
                                     @local_config_cc BUILD file)
  @rules_cc//cc:toolchain_type      (used by @bazel_tools cc_import.bzl)
  @rules_java//java:defs.bzl        (loaded by @bazel_tools//tools/jdk:BUILD,
                                     which is loaded for toolchain resolution
                                     of every build)
  @remote_coverage_tools//:lcov_merger, :coverage_report_generator
                                    (only used by `bazel coverage`; the stubs
                                     fail loudly because the real tools are a
                                     downloaded Java binary)
"""

def _write_files(repository_ctx, files):
    for path, content in files.items():
        repository_ctx.file(path, content, executable = path.endswith(".sh"))

# ---------------------------------------------------------------------------
# @rules_cc
# ---------------------------------------------------------------------------

_RULES_CC_DEFS = '''"""Offline stub of rules_cc: re-exports Bazel's native C++ rules."""

def _add_tag(attrs):
    # Same marker the real rules_cc adds, so tools can tell who created a target.
    tags = list(attrs.get("tags", []))
    if "__CC_RULES_MIGRATION_DO_NOT_USE_WILL_BREAK__" not in tags:
        tags.append("__CC_RULES_MIGRATION_DO_NOT_USE_WILL_BREAK__")
    attrs["tags"] = tags
    return attrs

def cc_binary(**attrs):
    native.cc_binary(**_add_tag(attrs))

def cc_test(**attrs):
    native.cc_test(**_add_tag(attrs))

def cc_library(**attrs):
    native.cc_library(**_add_tag(attrs))

def cc_import(**attrs):
    native.cc_import(**_add_tag(attrs))

def cc_proto_library(**attrs):
    native.cc_proto_library(**_add_tag(attrs))

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**_add_tag(attrs))

def fdo_profile(**attrs):
    native.fdo_profile(**_add_tag(attrs))

def cc_toolchain(**attrs):
    native.cc_toolchain(**_add_tag(attrs))

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**_add_tag(attrs))

def objc_library(**attrs):
    native.objc_library(**_add_tag(attrs))

def objc_import(**attrs):
    native.objc_import(**_add_tag(attrs))
'''

_RULES_CC_BUILD = '''package(default_visibility = ["//visibility:public"])

licenses(["notice"])

exports_files(["defs.bzl"])

alias(
    name = "toolchain_type",
    actual = "@bazel_tools//tools/cpp:toolchain_type",
)
'''

def _rules_cc_stub_impl(repository_ctx):
    _write_files(repository_ctx, {
        "WORKSPACE": 'workspace(name = "rules_cc")\n',
        "BUILD.bazel": "",
        "cc/BUILD.bazel": _RULES_CC_BUILD,
        "cc/defs.bzl": _RULES_CC_DEFS,
    })

rules_cc_stub = repository_rule(
    implementation = _rules_cc_stub_impl,
    doc = "Offline @rules_cc: wrappers over the native C++ rules.",
)

# ---------------------------------------------------------------------------
# @rules_java
# ---------------------------------------------------------------------------

_RULES_JAVA_DEFS = '''"""Offline stub of rules_java: re-exports Bazel's native Java rules."""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_lite_proto_library(**attrs):
    native.java_lite_proto_library(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_test(**attrs):
    native.java_test(**attrs)

def java_package_configuration(**attrs):
    native.java_package_configuration(**attrs)

def java_plugin(**attrs):
    native.java_plugin(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
'''

def _rules_java_stub_impl(repository_ctx):
    _write_files(repository_ctx, {
        "WORKSPACE": 'workspace(name = "rules_java")\n',
        "BUILD.bazel": "",
        "java/BUILD.bazel": 'package(default_visibility = ["//visibility:public"])\n\nexports_files(["defs.bzl"])\n',
        "java/defs.bzl": _RULES_JAVA_DEFS,
    })

rules_java_stub = repository_rule(
    implementation = _rules_java_stub_impl,
    doc = "Offline @rules_java: wrappers over the native Java rules.",
)

# ---------------------------------------------------------------------------
# @remote_coverage_tools
# ---------------------------------------------------------------------------

_COVERAGE_STUB_SH = '''#!/bin/bash
echo "ERROR: $(basename "$0"): @remote_coverage_tools is an offline stub" \\
     "(see bazel/offline_repos.bzl); 'bazel coverage' is not supported in" \\
     "this offline setup. Use gcov/lcov directly instead." >&2
exit 1
'''

_COVERAGE_BUILD = '''package(default_visibility = ["//visibility:public"])

sh_binary(
    name = "lcov_merger",
    srcs = ["coverage_stub.sh"],
)

sh_binary(
    name = "coverage_report_generator",
    srcs = ["coverage_stub.sh"],
)
'''

def _remote_coverage_tools_stub_impl(repository_ctx):
    _write_files(repository_ctx, {
        "WORKSPACE": 'workspace(name = "remote_coverage_tools")\n',
        "BUILD.bazel": _COVERAGE_BUILD,
        "coverage_stub.sh": _COVERAGE_STUB_SH,
    })

remote_coverage_tools_stub = repository_rule(
    implementation = _remote_coverage_tools_stub_impl,
    doc = "Offline @remote_coverage_tools: targets exist but fail when run.",
)
