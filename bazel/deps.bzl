"""External dependencies of memstrategy, all resolved offline.

Usage (main WORKSPACE and any consumer WORKSPACE):

    load("@memstrategy//bazel:deps.bzl", "memstrategy_dependencies")
    memstrategy_dependencies()

Every repository is declared only if the WORKSPACE has not declared it
already, so a consumer can override any of them by declaring it first.
"""

load(
    ":offline_repos.bzl",
    "remote_coverage_tools_stub",
    "rules_cc_stub",
    "rules_java_stub",
)

# Debian package `googletest` (1.12.1) installs its sources here.
GOOGLETEST_PATH = "/usr/src/googletest"

def _maybe(repo_rule, name, **kwargs):
    if name not in native.existing_rules():
        repo_rule(name = name, **kwargs)

def memstrategy_dependencies():
    """Declares every external repository memstrategy needs (offline)."""

    # Referenced by Bazel 4.2.3's built-in WORKSPACE suffix / @bazel_tools;
    # declared here first so the suffix's http_archive()s are never used.
    _maybe(rules_cc_stub, "rules_cc")
    _maybe(rules_java_stub, "rules_java")
    _maybe(remote_coverage_tools_stub, "remote_coverage_tools")

    # GoogleTest from the Debian package, built from source (so that
    # sanitizer configs instrument it too).
    # Use: @com_google_googletest//:gtest_main, :gtest, :gmock, :gmock_main.
    _maybe(
        native.new_local_repository,
        "com_google_googletest",
        path = GOOGLETEST_PATH,
        # str(Label(...)) resolves relative to *this* repository, so it is
        # "//third_party/..." in memstrategy's own workspace and
        # "@memstrategy//third_party/..." in a consumer's.
        build_file = str(Label("//third_party/googletest:BUILD.googletest")),
    )
