/* overhead: what the accounting strategy costs over the allocator beneath it.
 *
 *     bazel run -c opt //bench:overhead                 # full run, table
 *     bazel run -c opt //bench:overhead -- --json > r.json
 *     bazel run -c opt //bench:overhead -- --smoke      # seconds; checks only
 *
 * Method.  Absolute times are not comparable between runs on a shared,
 * noisy machine; ratios taken within one run are.  So every variant runs in
 * this process next to the raw allocator it is compared with (its
 * reference), alternating A B / B A round by round after a warm-up, and the
 * figure reported is the median over rounds of (variant time / reference
 * time of the same round).  ns/op (wall time of a run / operations, an
 * operation being one allocate or one free) is reported too, as the median
 * over runs, for orientation only.
 *
 * Every run ends with exact checks of the variant's own figures (variants.h);
 * a mismatch is printed and makes the exit status 1.  Timing is never
 * asserted.  --smoke runs every workload and variant on tiny sizes and fails
 * only on such a check, or if something did not run.
 *
 * Workloads: workloads.h.  Variants and baselines: variants.h, baselines.h,
 * peers.h.  Memory figures: memory.h.  Results: docs/PERFORMANCE.md. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, clock_gettime, strtok_r, gmtime_r */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memory.h"
#include "peers.h"
#include "variants.h"

#define MAX_THREAD_COUNTS 16
#define MAX_VARIANTS 16

/* ---- options ------------------------------------------------------------------ */

typedef enum output_format { OUTPUT_TABLE, OUTPUT_JSON, OUTPUT_MARKDOWN } output_format;

typedef struct options {
    uint32_t threads[MAX_THREAD_COUNTS];
    size_t thread_counts;
    unsigned rounds;
    unsigned warmup;
    uint64_t ops;
    bool workload[BENCH_WORKLOAD_COUNT];
    bool variant[MAX_VARIANTS];
    output_format format;
    bool smoke;
    bool memory;
    bool timing;
    uint64_t memory_blocks;
    const char* json_file; /* --json-file=PATH: JSON there as well */
    const char* single;    /* --single VARIANT: one run per workload, for callgrind */
    bench_params params;
} options;

static void usage(FILE* out) {
    fprintf(out,
            "usage: overhead [options]\n"
            "  --threads=LIST      thread counts (default 1,2,4,8,16)\n"
            "  --rounds=N          measured rounds per variant (default 15)\n"
            "  --warmup=N          unmeasured rounds first (default 1)\n"
            "  --ops=N             operations per run, shared by its threads (default 1000000)\n"
            "  --workloads=LIST    of mixed,small,handoff,burst,readers (default all)\n"
            "  --variants=LIST     variants to measure (default all; references are added)\n"
            "  --list              print the workloads and variants, then exit\n"
            "  --json              JSON on stdout instead of the table\n"
            "  --json-file=PATH    also write the JSON to PATH\n"
            "  --markdown          Markdown tables on stdout (as in docs/PERFORMANCE.md)\n"
            "  --no-memory         skip the memory measurements\n"
            "  --memory-only       only the memory measurements\n"
            "  --memory-blocks=N   live 32-byte blocks for resident memory (default 1000000);\n"
            "                      N/10+1 blocks of 1100-2000 bytes for retention\n"
            "  --slots=N           slots per thread of mixed/small/readers (default 256)\n"
            "  --burst-blocks=N    blocks per burst (default 32768)\n"
            "  --reader-pause-us=N readers: the reader sleeps N microseconds after each read\n"
            "                      (default 0: it reads as fast as it can)\n"
            "  --single=VARIANT    run VARIANT once per workload, threads = first of --threads,\n"
            "                      and print its operation counts (for bench/callgrind.sh)\n"
            "  --smoke             tiny sizes, a few seconds: checks that everything runs and\n"
            "                      that the figures are exact; asserts no timing\n");
}

static bool parse_u64(const char* text, uint64_t* out) {
    char* end = NULL;
    if (text == NULL || *text == '\0') return false;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0') return false;
    *out = v;
    return true;
}

/* Calls `each` for every comma-separated item of `list`; false if any fails. */
static bool for_each_item(const char* list, bool (*each)(const char* item, options* o), options* o) {
    char buffer[512];
    if (list == NULL || strlen(list) >= sizeof buffer) return false;
    strcpy(buffer, list);
    for (char *save = NULL, *item = strtok_r(buffer, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        if (!each(item, o)) return false;
    }
    return true;
}

static bool add_thread_count(const char* item, options* o) {
    uint64_t n;
    if (!parse_u64(item, &n) || n == 0 || n > 1024 || o->thread_counts >= MAX_THREAD_COUNTS) {
        fprintf(stderr, "overhead: bad thread count '%s'\n", item);
        return false;
    }
    o->threads[o->thread_counts++] = (uint32_t)n;
    return true;
}

static bool add_workload(const char* item, options* o) {
    bench_workload w = bench_find_workload(item);
    if (w == BENCH_WORKLOAD_COUNT) {
        fprintf(stderr, "overhead: unknown workload '%s'\n", item);
        return false;
    }
    o->workload[w] = true;
    return true;
}

static bool add_variant(const char* item, options* o) {
    const bench_variant* v = bench_find_variant(item);
    if (v == NULL) {
        fprintf(stderr, "overhead: unknown or unavailable variant '%s'%s%s\n", item,
                BENCH_HAVE_PEERS ? "" : "; ", BENCH_PEERS_NOTE);
        return false;
    }
    o->variant[v - bench_variants] = true;
    return true;
}

static void list_everything(void) {
    printf("workloads:\n");
    for (int w = 0; w < BENCH_WORKLOAD_COUNT; w++) {
        printf("  %-8s %s\n", bench_workload_name((bench_workload)w),
               bench_workload_description((bench_workload)w));
    }
    printf("variants:\n");
    for (size_t v = 0; v < bench_variant_count; v++) {
        printf("  %-18s %s%s%s\n", bench_variants[v].name, bench_variants[v].description,
               bench_variants[v].reference ? "; compared with " : "",
               bench_variants[v].reference ? bench_variants[v].reference : "");
    }
    if (!BENCH_HAVE_PEERS) printf("%s\n", BENCH_PEERS_NOTE);
}

/* Splits "--name=value" / "--name value"; returns the value or NULL. */
static const char* option_value(int argc, char** argv, int* i, const char* name) {
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0) return NULL;
    if (argv[*i][len] == '=') return argv[*i] + len + 1;
    if (argv[*i][len] == '\0' && *i + 1 < argc) return argv[++*i];
    return NULL;
}

static int parse_options(int argc, char** argv, options* o) {
    memset(o, 0, sizeof *o);
    o->rounds = 15;
    o->warmup = 1;
    o->ops = 1000000;
    o->memory = true;
    o->timing = true;
    o->memory_blocks = 1000000;
    o->params.slots = 256;
    o->params.burst_blocks = 32768;
    bool workloads_given = false, variants_given = false, threads_given = false;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const char* v;
        uint64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--list") == 0) {
            list_everything();
            exit(0);
        } else if (strcmp(a, "--json") == 0) {
            o->format = OUTPUT_JSON;
        } else if (strcmp(a, "--markdown") == 0) {
            o->format = OUTPUT_MARKDOWN;
        } else if (strcmp(a, "--smoke") == 0) {
            o->smoke = true;
        } else if (strcmp(a, "--no-memory") == 0) {
            o->memory = false;
        } else if (strcmp(a, "--memory-only") == 0) {
            o->timing = false;
        } else if ((v = option_value(argc, argv, &i, "--threads")) != NULL) {
            o->thread_counts = 0;
            if (!for_each_item(v, add_thread_count, o)) return 2;
            threads_given = true;
        } else if ((v = option_value(argc, argv, &i, "--workloads")) != NULL) {
            if (!for_each_item(v, add_workload, o)) return 2;
            workloads_given = true;
        } else if ((v = option_value(argc, argv, &i, "--variants")) != NULL) {
            if (!for_each_item(v, add_variant, o)) return 2;
            variants_given = true;
        } else if ((v = option_value(argc, argv, &i, "--json-file")) != NULL) {
            o->json_file = v;
        } else if ((v = option_value(argc, argv, &i, "--single")) != NULL) {
            if (bench_find_variant(v) == NULL) {
                fprintf(stderr, "overhead: unknown or unavailable variant '%s'\n", v);
                return 2;
            }
            o->single = v;
        } else if ((v = option_value(argc, argv, &i, "--rounds")) != NULL && parse_u64(v, &n) && n >= 1 &&
                   n <= 10000) {
            o->rounds = (unsigned)n;
        } else if ((v = option_value(argc, argv, &i, "--warmup")) != NULL && parse_u64(v, &n) && n <= 1000) {
            o->warmup = (unsigned)n;
        } else if ((v = option_value(argc, argv, &i, "--ops")) != NULL && parse_u64(v, &n) && n >= 2) {
            o->ops = n;
        } else if ((v = option_value(argc, argv, &i, "--memory-blocks")) != NULL && parse_u64(v, &n) &&
                   n >= 1 && n <= 100000000) {
            o->memory_blocks = n;
        } else if ((v = option_value(argc, argv, &i, "--slots")) != NULL && parse_u64(v, &n) && n >= 1 &&
                   n <= BENCH_MAX_SLOTS) {
            o->params.slots = (uint32_t)n;
        } else if ((v = option_value(argc, argv, &i, "--burst-blocks")) != NULL && parse_u64(v, &n) &&
                   n >= 1 && n <= 10000000) {
            o->params.burst_blocks = (uint32_t)n;
        } else if ((v = option_value(argc, argv, &i, "--reader-pause-us")) != NULL && parse_u64(v, &n) &&
                   n <= 10000000) {
            o->params.reader_pause_us = (uint32_t)n;
        } else {
            fprintf(stderr, "overhead: bad option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o->smoke) {
        /* Tiny and quick; smaller still under ThreadSanitizer. */
#ifdef BENCH_TSAN
        static const uint32_t smoke_threads[] = {1, 2};
        o->ops = 1000;
#else
        static const uint32_t smoke_threads[] = {1, 2, 4};
        o->ops = 4000;
#endif
        if (!threads_given) {
            o->thread_counts = sizeof smoke_threads / sizeof smoke_threads[0];
            memcpy(o->threads, smoke_threads, sizeof smoke_threads);
        }
        o->rounds = 2; /* both orders, A B and B A */
        o->warmup = 1;
        o->params.slots = 64;
        o->params.burst_blocks = 128;
        o->memory_blocks = 4096;
    }
    if (!threads_given && !o->smoke) {
        static const uint32_t all_threads[] = {1, 2, 4, 8, 16};
        o->thread_counts = sizeof all_threads / sizeof all_threads[0];
        memcpy(o->threads, all_threads, sizeof all_threads);
    }
    if (!workloads_given) {
        for (int w = 0; w < BENCH_WORKLOAD_COUNT; w++) o->workload[w] = true;
    }
    if (!variants_given) {
        for (size_t v = 0; v < bench_variant_count; v++) o->variant[v] = true;
    }
    /* Every selected variant brings its reference. */
    for (size_t v = 0; v < bench_variant_count; v++) {
        if (o->variant[v] && bench_variants[v].reference != NULL) {
            o->variant[bench_find_variant(bench_variants[v].reference) - bench_variants] = true;
        }
    }
    return 0;
}

/* ---- statistics of a series ---------------------------------------------------- */

typedef struct series {
    double* value;
    size_t count;
    size_t capacity;
} series;

static void series_add(series* s, double v) {
    if (s->count == s->capacity) {
        size_t capacity = s->capacity == 0 ? 16 : s->capacity * 2;
        double* grown = realloc(s->value, capacity * sizeof *grown);
        if (grown == NULL) {
            fprintf(stderr, "overhead: out of memory\n");
            exit(2);
        }
        s->value = grown;
        s->capacity = capacity;
    }
    s->value[s->count++] = v;
}

static int compare_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) with linear interpolation; 0 for an empty series. */
static double quantile(const series* s, double q) {
    if (s->count == 0) return 0;
    double* sorted = malloc(s->count * sizeof *sorted);
    if (sorted == NULL) return 0;
    memcpy(sorted, s->value, s->count * sizeof *sorted);
    qsort(sorted, s->count, sizeof *sorted, compare_double);
    double pos = q * (double)(s->count - 1);
    size_t lo = (size_t)pos;
    size_t hi = lo + 1 < s->count ? lo + 1 : lo;
    double v = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - (double)lo);
    free(sorted);
    return v;
}

/* ---- measurements ---------------------------------------------------------------- */

/* One variant at one (workload, thread count). */
typedef struct cell {
    series ns_per_op; /* this variant's own runs (for a reference: every run of it) */
    series ratio;     /* variant / reference, one per round */
    series reads_per_second;
    bool failed;
} cell;

typedef struct results {
    cell* cells; /* [workload][thread count][variant] */
    size_t thread_counts;
    unsigned runs;
    unsigned failures;
} results;

static cell* cell_at(results* r, int workload, size_t thread_index, size_t variant) {
    return &r->cells[((size_t)workload * r->thread_counts + thread_index) * MAX_VARIANTS + variant];
}

static const char* target_label(bench_workload w) {
    return (w == BENCH_SMALL || w == BENCH_BURST) ? "1.05" : "1.03";
}

static double target_of(bench_workload w) {
    return (w == BENCH_SMALL || w == BENCH_BURST) ? 1.05 : 1.03;
}

/* Runs variant v once and records it; returns ns per op (0 on failure). */
static double run_and_record(results* r, const options* o, size_t v, bench_workload w, size_t ti,
                             bool record) {
    bench_run_result result;
    bench_run(&bench_variants[v], w, o->threads[ti], o->ops, &o->params, &result);
    r->runs++;
    cell* c = cell_at(r, w, ti, v);
    if (!result.ok) {
        fprintf(stderr, "overhead: CHECK FAILED: %s, %s, %u threads: %s\n", bench_variants[v].name,
                bench_workload_name(w), o->threads[ti], result.message);
        c->failed = true;
        r->failures++;
        return 0;
    }
    double ns = result.seconds * 1e9 / (double)result.totals.ops;
    if (record) {
        series_add(&c->ns_per_op, ns);
        if (w == BENCH_READERS && result.seconds > 0) {
            series_add(&c->reads_per_second, (double)result.totals.reads / result.seconds);
        }
    }
    return ns;
}

/* Is variant v needed only as a reference this time (no dependent selected)? */
static bool has_selected_dependent(const options* o, size_t v) {
    for (size_t d = 0; d < bench_variant_count; d++) {
        if (o->variant[d] && bench_variants[d].reference != NULL &&
            strcmp(bench_variants[d].reference, bench_variants[v].name) == 0) {
            return true;
        }
    }
    return false;
}

static void measure(results* r, const options* o, bench_workload w, size_t ti) {
    for (unsigned k = 0; k < o->warmup; k++) {
        for (size_t v = 0; v < bench_variant_count; v++) {
            if (o->variant[v]) run_and_record(r, o, v, w, ti, false);
        }
    }
    for (unsigned round = 0; round < o->rounds; round++) {
        for (size_t v = 0; v < bench_variant_count; v++) {
            if (!o->variant[v]) continue;
            const char* reference = bench_variants[v].reference;
            if (reference == NULL) {
                if (!has_selected_dependent(o, v)) run_and_record(r, o, v, w, ti, true);
                continue;
            }
            size_t ref = (size_t)(bench_find_variant(reference) - bench_variants);
            double ref_ns, var_ns;
            if (round % 2 == 0) {
                ref_ns = run_and_record(r, o, ref, w, ti, true);
                var_ns = run_and_record(r, o, v, w, ti, true);
            } else {
                var_ns = run_and_record(r, o, v, w, ti, true);
                ref_ns = run_and_record(r, o, ref, w, ti, true);
            }
            if (ref_ns > 0 && var_ns > 0) series_add(&cell_at(r, w, ti, v)->ratio, var_ns / ref_ns);
        }
    }
}

/* ---- machine ------------------------------------------------------------------------ */

typedef struct machine {
    long nproc;
    char cpu[128];
    char load_start[64];
    char load_end[64];
    char date[64];
} machine;

static void read_first_line(const char* path, const char* key, char* out, size_t size) {
    snprintf(out, size, "unknown");
    FILE* f = fopen(path, "r");
    if (f == NULL) return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (key != NULL && strncmp(line, key, strlen(key)) != 0) continue;
        char* text = line;
        if (key != NULL) {
            char* colon = strchr(line, ':');
            text = colon == NULL ? line : colon + 1;
            while (*text == ' ' || *text == '\t') text++;
        }
        size_t n = strcspn(text, "\n");
        if (n >= size) n = size - 1;
        memcpy(out, text, n);
        out[n] = '\0';
        break;
    }
    fclose(f);
}

/* The three load averages of /proc/loadavg. */
static void read_load(char* out, size_t size) {
    char line[128];
    read_first_line("/proc/loadavg", NULL, line, sizeof line);
    double a = 0, b = 0, c = 0;
    if (sscanf(line, "%lf %lf %lf", &a, &b, &c) == 3) {
        snprintf(out, size, "%.2f %.2f %.2f", a, b, c);
    } else {
        snprintf(out, size, "unknown");
    }
}

static void describe_machine(machine* m) {
    m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    read_first_line("/proc/cpuinfo", "model name", m->cpu, sizeof m->cpu);
    read_load(m->load_start, sizeof m->load_start);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%d %H:%M UTC", &tm);
}

static const char* build_kind(void) {
#if defined(BENCH_ASAN)
    return "asan";
#elif defined(BENCH_TSAN)
    return "tsan";
#elif defined(__OPTIMIZE__)
    return "optimized";
#else
    return "unoptimized (timings not meaningful: use bazel run -c opt)";
#endif
}

/* ---- output ---------------------------------------------------------------------------- */

/* Short column names for the table. */
static const char* short_name(const char* name) {
    if (strcmp(name, "baseline-header") == 0) return "b-header";
    if (strcmp(name, "baseline-mutex") == 0) return "b-mutex";
    if (strcmp(name, "baseline-atomic") == 0) return "b-atomic";
    if (strcmp(name, "baseline-header/jemalloc") == 0) return "b-hdr/je";
    if (strcmp(name, "baseline-header/mimalloc") == 0) return "b-hdr/mi";
    if (strcmp(name, "strategy/jemalloc") == 0) return "strat/je";
    if (strcmp(name, "strategy/mimalloc") == 0) return "strat/mi";
    if (strcmp(name, "strategy+cache/jemalloc") == 0) return "s+c/je";
    if (strcmp(name, "strategy+cache/mimalloc") == 0) return "s+c/mi";
    return name;
}

static bool is_strategy(const bench_variant* v) {
    return strncmp(v->name, "strategy", 8) == 0;
}

/* A strategy cell whose median ratio is above its workload's target. */
static bool above_target(const bench_variant* v, bench_workload w, double ratio) {
    return is_strategy(v) && ratio > target_of(w);
}

/* What a table's heading adds to the workload's description: the reader's
 * pause, when it has one. */
static void print_workload_note(const options* o, int w) {
    if (w == BENCH_READERS && o->params.reader_pause_us != 0) {
        printf(" (the reader sleeps %u us after each read)", o->params.reader_pause_us);
    }
}

static void print_table(results* r, const options* o) {
    for (int w = 0; w < BENCH_WORKLOAD_COUNT; w++) {
        if (!o->workload[w]) continue;
        printf("\n%s: %s", bench_workload_name((bench_workload)w), bench_workload_description((bench_workload)w));
        print_workload_note(o, w);
        printf("\n");
        printf("threads");
        for (size_t v = 0; v < bench_variant_count; v++) {
            if (!o->variant[v]) continue;
            if (bench_variants[v].reference == NULL) {
                printf("  %9s ns/op", short_name(bench_variants[v].name));
            } else {
                printf("  %9s", short_name(bench_variants[v].name));
            }
        }
        printf("\n");
        for (size_t ti = 0; ti < o->thread_counts; ti++) {
            printf("%7u", o->threads[ti]);
            for (size_t v = 0; v < bench_variant_count; v++) {
                if (!o->variant[v]) continue;
                cell* c = cell_at(r, w, ti, v);
                if (bench_variants[v].reference == NULL) {
                    printf("  %15.1f", quantile(&c->ns_per_op, 0.5));
                } else {
                    double ratio = quantile(&c->ratio, 0.5);
                    bool missed = above_target(&bench_variants[v], (bench_workload)w, ratio);
                    printf("  %8.3f%c", ratio, c->failed ? '!' : (missed ? '*' : ' '));
                }
            }
            printf("\n");
        }
    }
    printf(
        "\nratios: median over %u rounds of variant time / reference time (the raw allocator of\n"
        "the same backend, adjacent run); '*' marks a strategy above its target (mixed, handoff,\n"
        "readers %s; small, burst %s); '!' a failed check.\n",
        o->rounds, target_label(BENCH_MIXED), target_label(BENCH_SMALL));
}

static void print_markdown(results* r, const options* o) {
    for (int w = 0; w < BENCH_WORKLOAD_COUNT; w++) {
        if (!o->workload[w]) continue;
        printf("\n#### %s (target: strategy/raw at most %s)\n\n%s", bench_workload_name((bench_workload)w),
               target_label((bench_workload)w), bench_workload_description((bench_workload)w));
        print_workload_note(o, w);
        printf(".\n\n");
        printf("| threads |");
        size_t columns = 1;
        for (size_t v = 0; v < bench_variant_count; v++) {
            if (!o->variant[v]) continue;
            columns++;
            if (bench_variants[v].reference == NULL) {
                printf(" %s ns/op |", bench_variants[v].name);
            } else {
                printf(" %s |", bench_variants[v].name);
            }
        }
        if (w == BENCH_READERS) {
            printf(" strategy reads/s |");
            columns++;
        }
        printf("\n|");
        for (size_t k = 0; k < columns; k++) printf("---:|");
        printf("\n");
        for (size_t ti = 0; ti < o->thread_counts; ti++) {
            printf("| %u |", o->threads[ti]);
            for (size_t v = 0; v < bench_variant_count; v++) {
                if (!o->variant[v]) continue;
                cell* c = cell_at(r, w, ti, v);
                if (bench_variants[v].reference == NULL) {
                    printf(" %.1f |", quantile(&c->ns_per_op, 0.5));
                } else {
                    double ratio = quantile(&c->ratio, 0.5);
                    bool strategy = is_strategy(&bench_variants[v]);
                    bool missed = above_target(&bench_variants[v], (bench_workload)w, ratio);
                    if (strategy) {
                        printf(" %s%.3f%s (%.3f–%.3f) |", missed ? "**" : "", ratio, missed ? "**" : "",
                               quantile(&c->ratio, 0.25), quantile(&c->ratio, 0.75));
                    } else {
                        printf(" %.3f |", ratio);
                    }
                }
            }
            if (w == BENCH_READERS) {
                const bench_variant* s = bench_find_variant("strategy");
                if (s != NULL && o->variant[s - bench_variants]) {
                    printf(" %.0f |", quantile(&cell_at(r, w, ti, (size_t)(s - bench_variants))->reads_per_second, 0.5));
                } else {
                    printf(" - |"); /* the strategy was not measured */
                }
            }
            printf("\n");
        }
    }
    printf("\nStrategy cells: median ratio (first–third quartile) over %u rounds; bold: above target.\n",
           o->rounds);
}

static void print_memory_text(const bench_memory_report* m, output_format format) {
    bool md = format == OUTPUT_MARKDOWN;
    printf(md ? "\n#### Metadata per block\n\n| backend | requested +bytes (8..2000 avg) | usable +bytes "
                "(8..2000 avg) | requested +bytes (32) | usable +bytes (32) |\n|---|---:|---:|---:|---:|\n"
              : "\nmetadata per block (strategy block vs raw block of the same backend)\n"
                "backend        requested+ avg  usable+ avg  requested+ @32  usable+ @32\n");
    for (size_t i = 0; i < m->metadata_count; i++) {
        const bench_metadata_row* row = &m->metadata[i];
        printf(md ? "| %s | %.2f | %.2f | %.0f | %.0f |\n" : "%-14s %14.2f %12.2f %15.0f %12.0f\n",
               row->backend, row->requested_per_block, row->usable_per_block, row->requested_32,
               row->usable_32);
    }
    printf(md ? "\n#### Resident memory, %" PRIu64
                " live 32-byte blocks\n\n| variant | VmRSS bytes/block | "
                "vs its raw allocator | child maxrss KiB |\n|---|---:|---:|---:|\n"
              : "\nresident memory with %" PRIu64
                " live 32-byte blocks (VmRSS growth in a child process)\n"
                "variant             bytes/block  vs raw   maxrss KiB\n",
           m->blocks);
    for (size_t i = 0; i < m->rss_count; i++) {
        const bench_rss_row* row = &m->rss[i];
        double base = 0;
        for (size_t j = 0; j < m->rss_count; j++) {
            if (row->reference != NULL && strcmp(m->rss[j].variant, row->reference) == 0) {
                base = m->rss[j].bytes_per_block;
            }
        }
        char delta[32] = "";
        if (row->reference != NULL) snprintf(delta, sizeof delta, "%+.1f", row->bytes_per_block - base);
        printf(md ? "| %s | %.1f | %s | %.0f |\n" : "%-18s %12.1f  %6s   %10.0f\n", row->variant,
               row->bytes_per_block, delta, row->maxrss_kib);
    }
    printf(md ? "\n#### Retention, %" PRIu64
                " blocks of 1100-2000 bytes allocated, then all freed\n\n| variant | VmRSS +KiB, all live | "
                "after the frees | after release_cached_blocks (blocks) |\n|---|---:|---:|---:|\n"
              : "\nretention: %" PRIu64
                " blocks of 1100-2000 bytes allocated, then all freed (VmRSS growth in a child process)\n"
                "variant            live KiB  after frees KiB  after release KiB (blocks)\n",
           m->retain_blocks);
    for (size_t i = 0; i < BENCH_RETAIN_ROWS; i++) {
        const bench_retain_row* row = &m->retain[i];
        char released[48] = "-";
        if (row->released_kib >= 0) {
            snprintf(released, sizeof released, "%.0f (%" PRIu64 ")", row->released_kib, row->released);
        }
        printf(md ? "| %s | %.0f | %.0f | %s |\n" : "%-18s %9.0f  %15.0f  %s\n", row->variant, row->live_kib,
               row->freed_kib, released);
    }
}

static void json_string(FILE* out, const char* s) {
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            fprintf(out, "\\%c", *s);
        } else if ((unsigned char)*s < 0x20) {
            fprintf(out, "\\u%04x", (unsigned)(unsigned char)*s);
        } else {
            fputc(*s, out);
        }
    }
    fputc('"', out);
}

/* One result per line, so that line-oriented tools (bench/plot) can read it. */
static void print_json(FILE* out, results* r, const options* o, const machine* m,
                       const bench_memory_report* mem, const char* binding) {
    fprintf(out, "{\n\"benchmark\": \"overhead\",\n\"date\": ");
    json_string(out, m->date);
    fprintf(out, ",\n\"machine\": {\"nproc\": %ld, \"cpu\": ", m->nproc);
    json_string(out, m->cpu);
    fprintf(out, ", \"loadavg_start\": ");
    json_string(out, m->load_start);
    fprintf(out, ", \"loadavg_end\": ");
    json_string(out, m->load_end);
    fprintf(out, "},\n\"build\": {\"kind\": ");
    json_string(out, build_kind());
    fprintf(out, ", \"compiler\": ");
    json_string(out, __VERSION__);
    fprintf(out, ", \"binding\": ");
    json_string(out, binding);
    fprintf(out,
            "},\n\"config\": {\"rounds\": %u, \"warmup\": %u, \"ops_per_run\": %" PRIu64
            ", \"slots\": %u, \"burst_blocks\": %u, \"reader_pause_us\": %u, \"smoke\": %s, \"threads\": [",
            o->rounds, o->warmup, o->ops, o->params.slots, o->params.burst_blocks, o->params.reader_pause_us,
            o->smoke ? "true" : "false");
    for (size_t ti = 0; ti < o->thread_counts; ti++) fprintf(out, "%s%u", ti ? ", " : "", o->threads[ti]);
    fprintf(out, "]},\n\"notes\": [");
    if (!BENCH_HAVE_PEERS) json_string(out, BENCH_PEERS_NOTE);
    fprintf(out, "],\n\"results\": [\n");
    bool first = true;
    for (int w = 0; w < BENCH_WORKLOAD_COUNT && o->timing; w++) {
        if (!o->workload[w]) continue;
        for (size_t ti = 0; ti < o->thread_counts; ti++) {
            for (size_t v = 0; v < bench_variant_count; v++) {
                if (!o->variant[v]) continue;
                cell* c = cell_at(r, w, ti, v);
                const bench_variant* var = &bench_variants[v];
                fprintf(out, "%s{\"workload\": \"%s\", \"threads\": %u, \"variant\": \"%s\", \"reference\": ",
                        first ? "" : ",\n", bench_workload_name((bench_workload)w), o->threads[ti],
                        var->name);
                first = false;
                if (var->reference == NULL) {
                    fprintf(out, "null");
                } else {
                    json_string(out, var->reference);
                }
                fprintf(
                    out,
                    ", \"runs\": %zu, \"ns_per_op\": %.3f, \"ns_per_op_q1\": %.3f, \"ns_per_op_q3\": %.3f",
                    c->ns_per_op.count, quantile(&c->ns_per_op, 0.5), quantile(&c->ns_per_op, 0.25),
                    quantile(&c->ns_per_op, 0.75));
                if (var->reference != NULL) {
                    fprintf(out,
                            ", \"ratio\": %.4f, \"ratio_q1\": %.4f, \"ratio_q3\": %.4f, \"ratio_min\": %.4f, "
                            "\"ratio_max\": %.4f",
                            quantile(&c->ratio, 0.5), quantile(&c->ratio, 0.25), quantile(&c->ratio, 0.75),
                            quantile(&c->ratio, 0.0), quantile(&c->ratio, 1.0));
                    if (is_strategy(var)) {
                        fprintf(out, ", \"target\": %s, \"target_met\": %s", target_label((bench_workload)w),
                                quantile(&c->ratio, 0.5) <= target_of((bench_workload)w) ? "true" : "false");
                    }
                }
                if (w == BENCH_READERS)
                    fprintf(out, ", \"reads_per_s\": %.0f", quantile(&c->reads_per_second, 0.5));
                fprintf(out, ", \"check_failed\": %s}", c->failed ? "true" : "false");
            }
        }
    }
    fprintf(out, "\n],\n\"memory\": ");
    if (mem == NULL) {
        fprintf(out, "null");
    } else {
        fprintf(out, "{\"blocks\": %" PRIu64 ", \"metadata\": [", mem->blocks);
        for (size_t i = 0; i < mem->metadata_count; i++) {
            const bench_metadata_row* row = &mem->metadata[i];
            fprintf(out,
                    "%s\n{\"backend\": \"%s\", \"requested_per_block\": %.3f, \"usable_per_block\": %.3f, "
                    "\"requested_32\": %.0f, \"usable_32\": %.0f}",
                    i ? "," : "", row->backend, row->requested_per_block, row->usable_per_block,
                    row->requested_32, row->usable_32);
        }
        fprintf(out, "],\n\"rss\": [");
        for (size_t i = 0; i < mem->rss_count; i++) {
            const bench_rss_row* row = &mem->rss[i];
            fprintf(out, "%s\n{\"variant\": \"%s\", \"bytes_per_block\": %.2f, \"maxrss_kib\": %.0f}",
                    i ? "," : "", row->variant, row->bytes_per_block, row->maxrss_kib);
        }
        fprintf(out, "],\n\"retention\": {\"blocks\": %" PRIu64 ", \"rows\": [", mem->retain_blocks);
        for (size_t i = 0; i < BENCH_RETAIN_ROWS; i++) {
            const bench_retain_row* row = &mem->retain[i];
            fprintf(out, "%s\n{\"variant\": \"%s\", \"live_kib\": %.0f, \"freed_kib\": %.0f", i ? "," : "",
                    row->variant, row->live_kib, row->freed_kib);
            if (row->released_kib >= 0) {
                fprintf(out, ", \"released_kib\": %.0f, \"released_blocks\": %" PRIu64, row->released_kib,
                        row->released);
            }
            fprintf(out, "}");
        }
        fprintf(out, "]}}");
    }
    fprintf(out, ",\n\"runs\": %u,\n\"failures\": %u\n}\n", r->runs, r->failures);
}

/* ---- main ------------------------------------------------------------------------------- */

static int run_single(const options* o) {
    const bench_variant* v = bench_find_variant(o->single);
    int failures = 0;
    for (int w = 0; w < BENCH_WORKLOAD_COUNT; w++) {
        if (!o->workload[w]) continue;
        bench_run_result result;
        bench_run(v, (bench_workload)w, o->threads[0], o->ops, &o->params, &result);
        printf("single variant=%s workload=%s threads=%u ops=%" PRIu64 " allocations=%" PRIu64
               " frees=%" PRIu64 " seconds=%.6f ok=%d\n",
               v->name, bench_workload_name((bench_workload)w), o->threads[0], result.totals.ops,
               result.totals.allocations, result.totals.frees, result.seconds, result.ok ? 1 : 0);
        if (!result.ok) {
            fprintf(stderr, "overhead: CHECK FAILED: %s\n", result.message);
            failures++;
        }
    }
    return failures == 0 ? 0 : 1;
}

/* --smoke: everything selected ran at every thread count. */
static unsigned smoke_missing(results* r, const options* o) {
    unsigned missing = 0;
    for (int w = 0; w < BENCH_WORKLOAD_COUNT && o->timing; w++) {
        if (!o->workload[w]) continue;
        for (size_t ti = 0; ti < o->thread_counts; ti++) {
            for (size_t v = 0; v < bench_variant_count; v++) {
                if (!o->variant[v]) continue;
                cell* c = cell_at(r, w, ti, v);
                bool ran = c->ns_per_op.count > 0 &&
                           (bench_variants[v].reference == NULL || c->ratio.count == o->rounds);
                if (!ran) {
                    fprintf(stderr, "overhead: smoke: %s did not complete %s at %u threads\n",
                            bench_variants[v].name, bench_workload_name((bench_workload)w), o->threads[ti]);
                    missing++;
                }
            }
        }
    }
    return missing;
}

int main(int argc, char** argv) {
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0) return rc;

    char binding[512];
    if (!bench_peers_check_binding(binding, sizeof binding)) {
        fprintf(stderr,
                "overhead: the process-wide malloc is not glibc's (%s): link libc before "
                "libjemalloc/libmimalloc (see bench/BUILD.bazel)\n",
                binding);
        return 2;
    }
    if (o.single != NULL) return run_single(&o);

    machine m;
    describe_machine(&m);
    fprintf(stderr, "overhead: %s; %ld CPUs (%s); load %s; %s build; %s\n", m.date, m.nproc, m.cpu,
            m.load_start, build_kind(), binding);
    if (!BENCH_HAVE_PEERS) fprintf(stderr, "overhead: %s\n", BENCH_PEERS_NOTE);

    results r;
    memset(&r, 0, sizeof r);
    r.thread_counts = o.thread_counts;
    r.cells = calloc((size_t)BENCH_WORKLOAD_COUNT * o.thread_counts * MAX_VARIANTS, sizeof *r.cells);
    if (r.cells == NULL) return 2;

    bench_memory_report memory;
    bool have_memory = false;
    /* Memory first, while the heap is fresh: later children would inherit a
     * heap with resident free space from the timing runs. */
    if (o.memory) {
        fprintf(stderr, "overhead: memory (%" PRIu64 " blocks) ...\n", o.memory_blocks);
        bench_memory_measure(o.memory_blocks, o.memory_blocks / 10 + 1, o.variant, &memory);
        have_memory = true;
        if (!memory.ok) {
            fprintf(stderr, "overhead: CHECK FAILED: memory: %s\n", memory.message);
            r.failures++;
        }
    }
    for (int w = 0; w < BENCH_WORKLOAD_COUNT && o.timing; w++) {
        if (!o.workload[w]) continue;
        for (size_t ti = 0; ti < o.thread_counts; ti++) {
            fprintf(stderr, "overhead: %-8s %2u threads ...", bench_workload_name((bench_workload)w),
                    o.threads[ti]);
            measure(&r, &o, (bench_workload)w, ti);
            const bench_variant* s = bench_find_variant("strategy");
            if (s != NULL && o.variant[s - bench_variants]) {
                fprintf(stderr, " strategy/malloc %.3f",
                        quantile(&cell_at(&r, w, ti, (size_t)(s - bench_variants))->ratio, 0.5));
            }
            fprintf(stderr, "\n");
        }
    }

    read_load(m.load_end, sizeof m.load_end);

    if (o.format == OUTPUT_JSON) {
        print_json(stdout, &r, &o, &m, have_memory ? &memory : NULL, binding);
    } else {
        printf("overhead: %s, %ld CPUs (%s), load %s at start, %s at end; %s build\n", m.date, m.nproc, m.cpu,
               m.load_start, m.load_end, build_kind());
        if (!BENCH_HAVE_PEERS) printf("%s\n", BENCH_PEERS_NOTE);
        if (o.timing) {
            if (o.format == OUTPUT_MARKDOWN) {
                print_markdown(&r, &o);
            } else {
                print_table(&r, &o);
            }
        }
        if (have_memory) print_memory_text(&memory, o.format);
    }

    if (o.json_file != NULL) {
        FILE* f = fopen(o.json_file, "w");
        if (f == NULL) {
            perror(o.json_file);
            r.failures++;
        } else {
            print_json(f, &r, &o, &m, have_memory ? &memory : NULL, binding);
            fclose(f);
        }
    }

    unsigned missing = o.smoke ? smoke_missing(&r, &o) : 0;
    if (o.smoke) {
        fprintf(stderr, "overhead: smoke: %u runs, %u failed checks, %u missing\n", r.runs, r.failures,
                missing);
    }
    for (size_t i = 0; i < BENCH_WORKLOAD_COUNT * o.thread_counts * MAX_VARIANTS; i++) {
        free(r.cells[i].ns_per_op.value);
        free(r.cells[i].ratio.value);
        free(r.cells[i].reads_per_second.value);
    }
    free(r.cells);
    return r.failures == 0 && missing == 0 ? 0 : 1;
}
