#!/usr/bin/env bash
# Runs spin on a Promela model, exhaustively, and checks the outcome.
#
#   spin_check.sh MODEL.pml RUN...
#
# Each RUN is one verification, in one of two forms:
#
#   pass:NAME:DEFINES:LABELS   spin must explore the whole state space and
#                              find no error (no assertion violation, no
#                              invalid end state, depth limit not hit, memory
#                              limit not hit), and every label in LABELS must
#                              be reached: the check is not vacuous.
#   fail:NAME:DEFINES:REGEX    a mutant: spin must report an assertion
#                              violation whose text matches REGEX.
#
# DEFINES and LABELS are comma-separated ("NTHREADS=2,NO_READER";
# "cover_reserve,cover_unreserve"); DEFINES may be "-".  A label is reached
# when at least one of the model states it labels is not in pan's
# "unreached" report (a label inside an inline is expanded once per use).
# That report is by source line, so each label must begin its line (only
# blanks before it): on its guard's line, or after another statement, the
# line would count as reached as soon as the guard is evaluated (or that
# statement reached), even if the labelled step can never run.
#
# Needs spin and gcc on PATH.  Prints one line per run and a summary; exits
# non-zero if any run fails.
set -u

if [ "$#" -lt 2 ]; then
  echo "usage: $0 MODEL.pml RUN..." >&2
  exit 2
fi
model_src=$1
shift
for tool in spin gcc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "FAIL: $tool not found on PATH (install Debian package '$tool')" >&2
    exit 1
  fi
done
model=$(basename "$model_src")
work=${TEST_TMPDIR:-$(mktemp -d)}/spin_check.$$
mkdir -p "$work"

# pan settings: safety only (assertions, invalid end states), no partial
# order reduction (so the unreached report is exact), state compression, a
# memory cap so a growing model fails instead of exhausting the machine.
PAN_CFLAGS=(-O2 -w -DSAFETY -DNOREDUCE -DCOLLAPSE -DMEMLIM=2048 -DVECTORSZ=2048)
PAN_DEPTH=1000000

passed=0
failed=0

fail_run() {
  echo "FAIL  $1: $2"
  [ -n "${3:-}" ] && [ -f "$3" ] && sed -n '1,60p' "$3" | sed 's/^/      | /'
  failed=$((failed + 1))
}

# Verifies one run; the working directory is the run's own.
run_one() {
  local kind=$1 name=$2 defines=$3 arg=$4
  local dir="$work/$name"
  mkdir -p "$dir"
  cp "$model_src" "$dir/$model"
  cd "$dir" || return 1
  local -a dflags=()
  if [ "$defines" != "-" ] && [ -n "$defines" ]; then
    IFS=',' read -r -a ds <<<"$defines"
    for d in "${ds[@]}"; do dflags+=("-D$d"); done
  fi
  # -o3: no statement merging, so every labelled statement has its own
  # state in the tables the coverage check reads.
  if ! spin -a -o3 "${dflags[@]}" "$model" >spin.out 2>&1; then
    fail_run "$name" "spin -a failed" spin.out
    return
  fi
  if ! gcc "${PAN_CFLAGS[@]}" -o pan pan.c >gcc.out 2>&1; then
    fail_run "$name" "compiling pan failed" gcc.out
    return
  fi
  local start=$SECONDS
  ./pan -m"$PAN_DEPTH" -c1 >pan.out 2>&1
  local secs=$((SECONDS - start))
  local states
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -1)
  local errors
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -1)
  if grep -q "max search depth too small" pan.out; then
    fail_run "$name" "depth limit $PAN_DEPTH hit: the search was not exhaustive" pan.out
    return
  fi
  if grep -qiE "out of memory|reached -DMEMLIM|memory limit" pan.out; then
    fail_run "$name" "pan ran out of memory: the search was not exhaustive" pan.out
    return
  fi
  if [ -z "$errors" ]; then
    fail_run "$name" "no result from pan" pan.out
    return
  fi

  if [ "$kind" = fail ]; then
    local violation
    violation=$(grep -m1 "assertion violated" pan.out)
    if [ "$errors" = 0 ] || [ -z "$violation" ]; then
      fail_run "$name" "the mutant was not caught: expected an assertion violation matching /$arg/" pan.out
      return
    fi
    if ! grep -qE "$arg" <<<"$violation"; then
      fail_run "$name" "unexpected violation (wanted /$arg/): $violation" pan.out
      return
    fi
    echo "ok    $name: mutant caught after ${states:-?} states: ${violation#pan:1: }"
    passed=$((passed + 1))
    return
  fi

  if [ "$errors" != 0 ]; then
    fail_run "$name" "$errors error(s): $(grep -m1 -E 'assertion violated|invalid end state|pan:' pan.out)" pan.out
    return
  fi
  if ! grep -q "Full statespace search" pan.out; then
    fail_run "$name" "not a full state-space search" pan.out
    return
  fi
  # Coverage: the labelled statements must be reached.
  ./pan -d >table.out 2>&1
  local missing=()
  IFS=',' read -r -a labels <<<"$arg"
  for label in "${labels[@]}"; do
    local lines
    lines=$(grep -nE "(^|[^A-Za-z0-9_])$label:" "$model" | cut -d: -f1 | tr '\n' ' ')
    if [ -z "$lines" ]; then
      fail_run "$name" "label $label does not occur in $model"
      return
    fi
    local shared
    shared=$(grep -nE "(^|[^A-Za-z0-9_])$label:" "$model" |
      grep -vE "^[0-9]+:[[:space:]]*$label:" | cut -d: -f1 | tr '\n' ' ')
    if [ -n "$shared" ]; then
      fail_run "$name" "label $label does not begin its line (line(s) ${shared% } of $model): put it on a line of its own, or pan's line-based unreached report may count its guard as the branch taken"
      return
    fi
    # (proctype, state) pairs for the label's lines, minus the unreached ones.
    local reached
    reached=$(awk -v lines="$lines" -v file="$model" '
      BEGIN { n = split(lines, ls, " "); for (i = 1; i <= n; i++) want[file ":" ls[i]] = 1 }
      FILENAME == ARGV[1] && /^proctype / { p = $2; gsub(/:/, "", p); next }
      FILENAME == ARGV[1] && /^init$/ { p = "init"; next }
      FILENAME == ARGV[1] && /^\tstate/ {
        for (i = 1; i <= NF; i++) if ($i in want) { seen[p " " $2] = 1 }
        next
      }
      FILENAME == ARGV[2] && /^unreached in/ { p = $NF; gsub(/:/, "", p); next }
      FILENAME == ARGV[2] && /^\t.*, state / {
        split($0, a, ", state "); split(a[2], b, ","); gone[p " " b[1] + 0] = 1; next
      }
      END { c = 0; for (k in seen) { split(k, kk, " "); if (!((kk[1] " " kk[2] + 0) in gone)) c++ } print c }
    ' table.out pan.out)
    if [ "${reached:-0}" = 0 ]; then missing+=("$label"); fi
  done
  if [ "${#missing[@]}" -ne 0 ]; then
    fail_run "$name" "vacuous: never reached: ${missing[*]}" pan.out
    return
  fi
  echo "ok    $name: ${states:-?} states, no errors, ${#labels[@]} coverage labels reached (${secs}s)"
  passed=$((passed + 1))
}

for run in "$@"; do
  IFS=':' read -r kind name defines arg <<<"$run"
  case "$kind" in
    pass | fail)
      # In a subshell: run_one changes directory.
      (
        passed=0
        failed=0
        run_one "$kind" "$name" "$defines" "$arg"
        echo "$passed $failed" >"$work/.count.$name"
      )
      ;;
    *)
      echo "FAIL  bad run spec: $run"
      failed=$((failed + 1))
      continue
      ;;
  esac
  read -r p f <"$work/.count.$name"
  passed=$((passed + p))
  failed=$((failed + f))
done

echo "spin_check $model: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
