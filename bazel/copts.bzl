"""The one place for memstrategy's compiler warning flags.

Usage in BUILD files:

    load("//bazel:copts.bzl", "MEMSTRATEGY_C_COPTS", "MEMSTRATEGY_TEST_COPTS")
    cc_library(name = "...", srcs = [...], copts = MEMSTRATEGY_C_COPTS)
    cc_test(name = "...", srcs = [...], copts = MEMSTRATEGY_TEST_COPTS,
            deps = ["@com_google_googletest//:gtest_main"])

-std=... is repeated here (and not only in .bazelrc) so the library also
builds with the right standard in consumer workspaces, which don't read our
.bazelrc. -Werror is *not* here: it comes from `--config=ci`.
"""

# C sources (src/, fuzz targets, C examples).
MEMSTRATEGY_C_COPTS = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
]

# C++ (GoogleTest) tests. -Wstrict-prototypes / -Wmissing-prototypes are
# C-only (gcc warns "valid for C/ObjC but not for C++").
MEMSTRATEGY_TEST_COPTS = [
    "-std=c++14",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
]
