"""spin_test: a model check by spin_check.sh (see that script for RUNS)."""

def spin_test(name, model, runs, size = "medium"):
    """Runs spin_check.sh on the Promela `model` with `runs`.

    Args:
      name: the test's name.
      model: the .pml file in this package.
      runs: "pass:NAME:DEFINES:LABELS" and "fail:NAME:DEFINES:REGEX"
        entries (spin_check.sh).
      size: the test size.
    """
    native.sh_test(
        name = name,
        size = size,
        # spin builds and runs its own verifier: sanitizer configs add
        # nothing to it, so .ci/run runs these in the default configuration
        # only (tag "spin").
        tags = ["spin"],
        srcs = ["spin_check.sh"],
        args = ["$(rootpath %s)" % model] + runs,
        data = [model],
    )
