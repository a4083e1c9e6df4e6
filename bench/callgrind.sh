#!/usr/bin/env bash
# Instructions the strategy adds per allocate/deallocate pair, against the
# raw allocator beneath it (malloc unless REFERENCE says otherwise), counted
# by valgrind's callgrind (deterministic: one thread, a fixed seed, a fixed
# number of operations).
#
#   bench/callgrind.sh                    # builds //bench:overhead (-c opt -g)
#   bench/callgrind.sh path/to/overhead   # uses that binary
#
# Environment:
#   OPS=200000        operations per run (about half are allocations)
#   WORKLOADS="mixed small"
#   VARIANTS="strategy baseline-header"   compared with the reference (always run)
#   REFERENCE=malloc  the raw allocator compared with: malloc, jemalloc or
#                     mimalloc (e.g. REFERENCE=mimalloc
#                     VARIANTS="strategy/mimalloc strategy+cache/mimalloc")
#   OUT=dir           where callgrind files and annotations go (default: a temp dir)
#   ANNOTATE=1        also write per-line annotations of the strategy's hot path
#                     (src/default_strategy.c, src/memstats_internal.h, ...) to $OUT
#   CACHE_SIM=1       also simulate the data cache (a fixed 32 KiB 8-way L1 and
#                     8 MiB 16-way last level, 64-byte lines, whatever the machine
#                     has) and report the L1 data misses (reads and writes) the
#                     variant adds per pair: the locality of the blocks handed
#                     out, which instruction counts miss (slower: about 3x)
#   BAZEL=bazel BAZEL_STARTUP="--output_base=..." BAZEL_FLAGS="--jobs=2"
#
# Only the timed work is counted (--toggle-collect='run_*': the workload
# functions of bench/variants.c), so start-up, thread creation and strategy
# creation are left out.  Every variant performs the same requests, so
# (instructions of the variant - instructions of the reference) /
# allocations is what the variant adds per allocate/deallocate pair,
# including any extra work the backend does because each request is 16
# bytes larger.  "own" is the part spent in the library's code (every
# function and inlined line from src/, such as default_allocate,
# default_deallocate and the cache's out-of-line paths), "backend" the rest
# of the difference (negative for strategy+cache, whose thread cache serves
# most requests without calling the backend).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
OPS="${OPS:-200000}"
WORKLOADS="${WORKLOADS:-mixed small}"
VARIANTS="${VARIANTS:-strategy baseline-header}"
REFERENCE="${REFERENCE:-malloc}"
BAZEL="${BAZEL:-bazel}"
read -r -a startup <<<"${BAZEL_STARTUP:-}"
read -r -a flags <<<"${BAZEL_FLAGS:-}"

if ! command -v valgrind >/dev/null; then
    echo "callgrind.sh: valgrind not found (apt-get install valgrind)" >&2
    exit 2
fi

if [[ $# -ge 1 ]]; then
    bin="$1"
else
    build=(-c opt --copt=-g --strip=never)
    (cd "$root" && "$BAZEL" "${startup[@]}" build "${flags[@]}" "${build[@]}" //bench:overhead >&2)
    bin="$(cd "$root" && "$BAZEL" "${startup[@]}" info "${build[@]}" bazel-bin 2>/dev/null)/bench/overhead"
fi
[[ -x "$bin" ]] || { echo "callgrind.sh: no binary at $bin" >&2; exit 2; }

OUT="${OUT:-$(mktemp -d /tmp/callgrind.XXXXXX)}"
mkdir -p "$OUT"

# run VARIANT WORKLOAD -> "instructions allocations own d1-misses"
run() {
    local variant="$1" workload="$2" file="$OUT/callgrind.$2.${1//\//_}"
    local extra=()
    [[ "${ANNOTATE:-0}" == 1 ]] && extra+=(--dump-instr=yes)
    [[ "${CACHE_SIM:-0}" == 1 ]] && extra+=(--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64)
    local line
    line="$(valgrind --tool=callgrind --toggle-collect='run_*' "${extra[@]}" \
        --callgrind-out-file="$file" "$bin" --single="$variant" --workloads="$workload" \
        --threads=1 --ops="$OPS" 2>"$file.log" | grep '^single ')"
    grep -q 'ok=1' <<<"$line" || { echo "callgrind.sh: $variant $workload failed: $line" >&2; exit 1; }
    local allocations instructions own d1
    allocations="$(sed -n 's/.*allocations=\([0-9]*\).*/\1/p' <<<"$line")"
    # The totals line: Ir, and with CACHE_SIM Dr Dw I1mr D1mr D1mw ... after it.
    read -r instructions d1 < <(callgrind_annotate "$file" 2>/dev/null |
        awk '/PROGRAM TOTALS/ && !seen {seen = 1; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9,]+$/) {
                 n++; gsub(",", "", $i); if (n == 1) ir = $i; if (n == 5 || n == 6) d1 += $i }}
             END {print ir, d1 + 0}')
    own="$(callgrind_annotate --auto=no --inclusive=no --threshold=100 "$file" 2>/dev/null |
        awk '/\/src\/[^ ]*:/ {gsub(",", "", $1); s += $1}
             END {print s + 0}')"
    echo "$instructions $allocations $own $d1"
}

sim="${CACHE_SIM:-0}"
# row_end CELL: the L1 misses column (CACHE_SIM=1 only), then the newline.
row_end() { if [[ "$sim" == 1 ]]; then printf ' %18s\n' "$1"; else printf '\n'; fi; }
printf '%-8s %-24s %14s %12s %10s %8s %8s' workload variant instructions allocations "+/pair" own backend
row_end "L1 misses +/pair"
for workload in $WORKLOADS; do
    read -r base_ir base_allocs _ base_d1 < <(run "$REFERENCE" "$workload")
    printf '%-8s %-24s %14s %12s %10s %8s %8s' "$workload" "$REFERENCE" "$base_ir" "$base_allocs" - - -
    row_end -
    for variant in $VARIANTS; do
        read -r ir allocs own d1 < <(run "$variant" "$workload")
        if [[ "$allocs" != "$base_allocs" ]]; then
            echo "callgrind.sh: $variant did $allocs allocations, $REFERENCE $base_allocs" >&2
            exit 1
        fi
        awk -v w="$workload" -v v="$variant" -v ir="$ir" -v b="$base_ir" -v n="$allocs" -v own="$own" 'BEGIN {
            added = (ir - b) / n; mine = own / n
            printf "%-8s %-24s %14d %12d %10.1f %8.1f %8.1f", w, v, ir, n, added, mine, added - mine }'
        row_end "$(awk -v d1="$d1" -v bd1="$base_d1" -v n="$allocs" 'BEGIN {printf "%.2f", (d1 - bd1) / n}')"
    done
done
echo "(+/pair = (instructions - $REFERENCE's) / allocations; callgrind files in $OUT)"

if [[ "${ANNOTATE:-0}" == 1 ]]; then
    for workload in $WORKLOADS; do
        file="$OUT/callgrind.$workload.strategy"
        callgrind_annotate --auto=yes --show-percs=no --include="$root" --threshold=100 "$file" \
            >"$OUT/annotate.$workload.strategy.txt" 2>/dev/null || true
        echo "per-line annotation: $OUT/annotate.$workload.strategy.txt"
    done
fi
