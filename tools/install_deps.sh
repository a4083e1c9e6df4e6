#!/usr/bin/env bash
# Installs the Debian 12 packages memstrategy's build, tests, sanitizers,
# fuzzing and benchmarks need. Idempotent: only missing packages are
# installed, and `apt-get update` runs only if something is missing.
#
# Usage: tools/install_deps.sh      (as root, or as a user with sudo)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  bazel-bootstrap     # Bazel 4.2.3 (offline setup: see WORKSPACE)
  googletest          # sources in /usr/src/googletest, built by Bazel
  clang-14            # --config=fuzz
  libclang-rt-14-dev  # libFuzzer + sanitizer runtimes for clang
  spin                # model checking
  valgrind
  libjemalloc-dev     # benchmark comparisons
  libmimalloc-dev
  gnuplot-nox         # benchmark plots
  make
  gcc
  g++
  nodejs
  npm
)

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo --preserve-env=DEBIAN_FRONTEND)
  else
    echo "error: must run as root (sudo is not available)" >&2
    exit 1
  fi
fi

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# nodejs/npm may come from elsewhere (e.g. NodeSource's nodejs package, which
# bundles npm and Conflicts: with Debian's npm package); a working command is
# good enough for those two.
is_satisfied() {
  case "$1" in
    nodejs) is_installed nodejs || command -v node >/dev/null 2>&1 ;;
    npm) is_installed npm || command -v npm >/dev/null 2>&1 ;;
    *) is_installed "$1" ;;
  esac
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! is_satisfied "${pkg}"; then
    missing+=("${pkg}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_deps: all ${#PACKAGES[@]} packages already present; nothing to do."
  exit 0
fi

echo "install_deps: installing: ${missing[*]}"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"

# Verify, and report what was installed.
failed=()
for pkg in "${missing[@]}"; do
  if is_satisfied "${pkg}"; then
    echo "install_deps: installed ${pkg} ($(dpkg-query -W -f='${Version}' "${pkg}"))"
  else
    failed+=("${pkg}")
  fi
done
if [[ ${#failed[@]} -ne 0 ]]; then
  echo "install_deps: error: still missing: ${failed[*]}" >&2
  exit 1
fi
