/* bench: the variant table (see variants.h) and the per-variant instances of
 * every workload. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, clock_gettime, strtok_r, gmtime_r */
#include "variants.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"
#include "default_strategy.h"
#include "peers.h"

#if defined(__GNUC__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE
#endif

/* ---- alloc/free of each variant -------------------------------------------- */

static inline void* raw_malloc_alloc(void* context, size_t size) {
    (void)context;
    return malloc(size);
}

static inline void raw_malloc_free(void* context, void* block) {
    (void)context;
    free(block);
}

/* The strategy exactly as a user calls it: through its vtable. */
static inline void* strategy_alloc(void* context, size_t size) {
    MemoryStrategy* base = context;
    return base->allocate(base, size);
}

static inline void strategy_free(void* context, void* block) {
    MemoryStrategy* base = context;
    base->deallocate(base, block);
}

/* ---- instances ---------------------------------------------------------------
 * run_<tag>_<workload> holds the timed work (a separate non-inlined function,
 * so `valgrind --toggle-collect='run_*'` counts exactly it);
 * worker_<tag>_<workload> is the thread entry: start barrier, then the run. */

/* The thread entry around run_<tag>_<what>: start barrier, then timed work. */
#define BENCH_WORKER(tag, what)                     \
    static void* worker_##tag##_##what(void* arg) { \
        bench_thread* t = arg;                      \
        pthread_barrier_wait(t->start);             \
        t->began = bench_now();                     \
        run_##tag##_##what(t);                      \
        t->ended = bench_now();                     \
        return NULL;                                \
    }

#define BENCH_INSTANTIATE(tag, ALLOC, FREE)                           \
    static BENCH_NOINLINE void run_##tag##_mixed(bench_thread* t) {   \
        bench_mixed_body(t, ALLOC, FREE, 8, 2000);                    \
    }                                                                 \
    static BENCH_NOINLINE void run_##tag##_small(bench_thread* t) {   \
        bench_mixed_body(t, ALLOC, FREE, 16, 128);                    \
    }                                                                 \
    static BENCH_NOINLINE void run_##tag##_produce(bench_thread* t) { \
        bench_produce_body(t, ALLOC);                                 \
    }                                                                 \
    static BENCH_NOINLINE void run_##tag##_consume(bench_thread* t) { \
        bench_consume_body(t, FREE);                                  \
    }                                                                 \
    static BENCH_NOINLINE void run_##tag##_burst(bench_thread* t) {   \
        bench_burst_body(t, ALLOC, FREE, t->scratch);                 \
    }                                                                 \
    BENCH_WORKER(tag, mixed)                                          \
    BENCH_WORKER(tag, small)                                          \
    BENCH_WORKER(tag, produce)                                        \
    BENCH_WORKER(tag, consume)                                        \
    BENCH_WORKER(tag, burst)

/* Entries of bench_variant for an instantiated tag; readers' writers run the
 * mixed body. */
#define BENCH_THREAD_MAINS(tag)                                                         \
    .thread_main = {worker_##tag##_mixed, worker_##tag##_small, worker_##tag##_produce, \
                    worker_##tag##_burst, worker_##tag##_mixed},                        \
    .consumer_main = worker_##tag##_consume

/* BASELINE (bench only): the 16-byte size header over a raw allocator,
 * nothing else: what keeping each block's size costs on that allocator
 * (baseline-header, and its /jemalloc and /mimalloc forms), instantiated
 * as header_<tag>. */
#define BENCH_HEADER_OVER(tag, ALLOC, FREE)                                 \
    static inline void* header_##tag##_alloc(void* context, size_t size) { \
        baseline_header* header = ALLOC(context, size + sizeof *header);    \
        if (header == NULL) return NULL;                                    \
        header->size = size;                                                \
        return header + 1;                                                  \
    }                                                                       \
    static inline void header_##tag##_free(void* context, void* block) {   \
        if (block == NULL) return;                                          \
        (void)baseline_header_size(block);                                  \
        FREE(context, (baseline_header*)block - 1);                         \
    }                                                                       \
    BENCH_INSTANTIATE(header_##tag, header_##tag##_alloc, header_##tag##_free)
BENCH_INSTANTIATE(malloc, raw_malloc_alloc, raw_malloc_free)
BENCH_INSTANTIATE(strategy, strategy_alloc, strategy_free)
BENCH_HEADER_OVER(glibc, raw_malloc_alloc, raw_malloc_free)
BENCH_INSTANTIATE(mutex, baseline_mutex_alloc, baseline_mutex_free)
BENCH_INSTANTIATE(atomic, baseline_atomic_alloc, baseline_atomic_free)
#if BENCH_HAVE_PEERS
BENCH_INSTANTIATE(jemalloc, peer_je_alloc, peer_je_free)
BENCH_INSTANTIATE(mimalloc, peer_mi_alloc, peer_mi_free)
BENCH_HEADER_OVER(je, peer_je_alloc, peer_je_free)
BENCH_HEADER_OVER(mi, peer_mi_alloc, peer_mi_free)
#endif

/* ---- contexts and final checks ------------------------------------------- */

static bool no_setup(void** context) {
    *context = NULL;
    return true;
}

static bool no_finish(void* context, const bench_run_totals* totals, char* message, size_t size) {
    (void)context;
    (void)totals;
    (void)message;
    (void)size;
    return true;
}

/* Readers of variants without statistics: four private values, so the extra
 * thread costs the writers the same CPU without touching shared data. */
static BENCH_NOINLINE void read_nothing(void* context, uint64_t out[4]) {
    static _Thread_local uint64_t private_figures[4];
    (void)context;
    for (int i = 0; i < 4; i++) out[i] = private_figures[i]++;
}

static bool strategy_setup_with(void** context, const DefaultStrategyConfig* config) {
    DefaultStrategy* s = create_default_strategy_with(config);
    *context = s == NULL ? NULL : &s->base;
    return s != NULL;
}

static bool strategy_setup(void** context) {
    return strategy_setup_with(context, NULL);
}

static bool strategy_cache_setup(void** context) {
    DefaultStrategyConfig config;
    memset(&config, 0, sizeof config);
    config.thread_cache_blocks = BENCH_THREAD_CACHE_BLOCKS;
    return strategy_setup_with(context, &config);
}

#if BENCH_HAVE_PEERS
/* The strategy over a peer, with `cache_blocks` per class (0: no cache). */
static bool strategy_peer_setup(void** context, void* (*allocate)(void*, size_t), void (*release)(void*, void*),
                                size_t cache_blocks) {
    DefaultStrategyConfig config;
    memset(&config, 0, sizeof config);
    config.backend_allocate = allocate;
    config.backend_free = release;
    config.thread_cache_blocks = cache_blocks;
    return strategy_setup_with(context, &config);
}

static bool strategy_je_setup(void** context) {
    return strategy_peer_setup(context, peer_je_alloc, peer_je_free, 0);
}

static bool strategy_cache_je_setup(void** context) {
    return strategy_peer_setup(context, peer_je_alloc, peer_je_free, BENCH_THREAD_CACHE_BLOCKS);
}

static bool strategy_mi_setup(void** context) {
    return strategy_peer_setup(context, peer_mi_alloc, peer_mi_free, 0);
}

static bool strategy_cache_mi_setup(void** context) {
    return strategy_peer_setup(context, peer_mi_alloc, peer_mi_free, BENCH_THREAD_CACHE_BLOCKS);
}
#endif

/* The strategy's `base` is its first member, so the context is the strategy. */
static DefaultStrategy* strategy_of(void* context) {
    return (DefaultStrategy*)context;
}

static void strategy_read(void* context, uint64_t out[4]) {
    const DefaultStrategy* s = strategy_of(context);
    out[0] = get_current_usage(s);
    out[1] = get_peak_usage(s);
    out[2] = get_total_allocated(s);
    out[3] = get_total_freed(s);
}

/* Appends "name: got X, expected Y" for a mismatch; returns the match. */
static bool expect_equal(const char* name, uint64_t got, uint64_t expected, char* message, size_t size) {
    if (got == expected) return true;
    size_t used = strlen(message);
    if (used < size) {
        snprintf(message + used, size - used, "%s%s: got %" PRIu64 ", expected %" PRIu64,
                 used == 0 ? "" : "; ", name, got, expected);
    }
    return false;
}

static bool expect_true(const char* what, bool ok, char* message, size_t size) {
    if (ok) return true;
    size_t used = strlen(message);
    if (used < size) snprintf(message + used, size - used, "%s%s", used == 0 ? "" : "; ", what);
    return false;
}

/* The peak of a variant that keeps one, against the threads' own high-water
 * marks (meaningful only when every block was freed by its allocator). */
static bool check_peak(uint64_t peak, uint64_t slack, const bench_run_totals* totals, char* message,
                       size_t size) {
    if (totals->cross_thread) return true;
    bool ok = expect_true("peak below a thread's own high-water mark", peak >= totals->max_thread_peak,
                          message, size);
    ok &= expect_true("peak above every thread's high-water mark combined (plus the bound)",
                      peak <= totals->sum_thread_peak + slack, message, size);
    if (totals->writers == 1)
        ok &= expect_equal("single-thread peak", peak, totals->max_thread_peak, message, size);
    return ok;
}

static bool strategy_finish(void* context, const bench_run_totals* totals, char* message, size_t size) {
    DefaultStrategy* s = strategy_of(context);
    MemStatsSnapshot snap;
    bool ok = expect_true("get_usage_snapshot failed", get_usage_snapshot(s, &snap), message, size);
    if (ok) {
        ok &= expect_equal("current usage", snap.current_bytes, 0, message, size);
        ok &= expect_equal("get_current_usage", get_current_usage(s), 0, message, size);
        ok &= expect_equal("total allocated", snap.total_allocated_bytes, totals->bytes_allocated, message,
                           size);
        ok &= expect_equal("total freed", snap.total_freed_bytes, totals->bytes_freed, message, size);
        ok &= expect_equal("get_total_allocated", get_total_allocated(s), totals->bytes_allocated, message,
                           size);
        ok &= expect_equal("get_total_freed", get_total_freed(s), totals->bytes_freed, message, size);
        ok &= expect_equal("allocations", snap.allocations, totals->allocations, message, size);
        ok &= expect_equal("deallocations", snap.deallocations, totals->frees, message, size);
        ok &= expect_equal("live blocks", snap.live_blocks, 0, message, size);
        ok &= expect_equal("get_peak_usage", get_peak_usage(s), snap.peak_bytes, message, size);
        ok &= check_peak(snap.peak_bytes, snap.peak_overreport_bound, totals, message, size);
        for (int e = STRATEGY_OK + 1; e < STRATEGY_ERROR_COUNT; e++) {
            ok &= expect_equal(strategy_error_name((StrategyError)e), get_error_count(s, (StrategyError)e), 0,
                               message, size);
        }
        ok &= expect_true("validate failed", s->base.validate(&s->base), message, size);
    }
    destroy_default_strategy(s);
    return ok;
}

static bool check_baseline(baseline_figures f, const bench_run_totals* totals, char* message, size_t size) {
    bool ok = expect_equal("current usage", f.current, 0, message, size);
    ok &= expect_equal("total allocated", f.total_allocated, totals->bytes_allocated, message, size);
    ok &= expect_equal("total freed", f.total_freed, totals->bytes_freed, message, size);
    ok &= check_peak(f.peak, 0, totals, message, size);
    return ok;
}

static bool mutex_setup(void** context) {
    baseline_mutex* b = malloc(sizeof *b);
    if (b != NULL && !baseline_mutex_init(b)) {
        free(b);
        b = NULL;
    }
    *context = b;
    return b != NULL;
}

static void mutex_read(void* context, uint64_t out[4]) {
    baseline_figures f = baseline_mutex_read(context);
    out[0] = f.current;
    out[1] = f.peak;
    out[2] = f.total_allocated;
    out[3] = f.total_freed;
}

static bool mutex_finish(void* context, const bench_run_totals* totals, char* message, size_t size) {
    bool ok = check_baseline(baseline_mutex_read(context), totals, message, size);
    baseline_mutex_destroy(context);
    free(context);
    return ok;
}

static bool atomic_setup(void** context) {
    baseline_atomic* b = aligned_alloc(64, sizeof *b);
    if (b != NULL) baseline_atomic_init(b);
    *context = b;
    return b != NULL;
}

static void atomic_read(void* context, uint64_t out[4]) {
    baseline_figures f = baseline_atomic_read(context);
    out[0] = f.current;
    out[1] = f.peak;
    out[2] = f.total_allocated;
    out[3] = f.total_freed;
}

static bool atomic_finish(void* context, const bench_run_totals* totals, char* message, size_t size) {
    bool ok = check_baseline(baseline_atomic_read(context), totals, message, size);
    free(context);
    return ok;
}

/* ---- the table -------------------------------------------------------------- */

/* One entry of the table: its functions, and TAG names its workers
 * (BENCH_INSTANTIATE). */
#define BENCH_VARIANT(NAME, REFERENCE, DESCRIPTION, SETUP, FINISH, TAG, ALLOC, FREE, READ) \
    {.name = NAME,                                                                       \
     .reference = REFERENCE,                                                             \
     .description = DESCRIPTION,                                                         \
     .setup = SETUP,                                                                     \
     .finish = FINISH,                                                                   \
     BENCH_THREAD_MAINS(TAG),                                                            \
     .alloc = ALLOC,                                                                     \
     .free = FREE,                                                                       \
     .read_figures = READ}

/* A variant without statistics: nothing to set up or check, and its
 * readers' extra thread reads private values (read_nothing). */
#define BENCH_PLAIN_VARIANT(NAME, REFERENCE, DESCRIPTION, TAG, ALLOC, FREE) \
    BENCH_VARIANT(NAME, REFERENCE, DESCRIPTION, no_setup, no_finish, TAG, ALLOC, FREE, read_nothing)

/* The strategy with the given setup: its figures are checked at the end
 * and read by the readers' extra thread. */
#define BENCH_STRATEGY_VARIANT(NAME, REFERENCE, DESCRIPTION, SETUP)                              \
    BENCH_VARIANT(NAME, REFERENCE, DESCRIPTION, SETUP, strategy_finish, strategy, strategy_alloc, \
                  strategy_free, strategy_read)

const bench_variant bench_variants[] = {
    BENCH_PLAIN_VARIANT("malloc", NULL,
                        "raw glibc malloc/free",
                        malloc, raw_malloc_alloc, raw_malloc_free),
    BENCH_STRATEGY_VARIANT("strategy", "malloc",
                           "//:default_strategy over malloc, through its vtable",
                           strategy_setup),
    BENCH_STRATEGY_VARIANT("strategy+cache", "malloc",
                           "//:default_strategy over malloc with thread_cache_blocks = 8",
                           strategy_cache_setup),
    BENCH_PLAIN_VARIANT("baseline-header", "malloc",
                        "BASELINE (bench only): 16-byte size header, no counters",
                        header_glibc, header_glibc_alloc, header_glibc_free),
    BENCH_VARIANT("baseline-mutex", "malloc",
                  "BASELINE (bench only): header + one mutex around shared counters",
                  mutex_setup, mutex_finish, mutex, baseline_mutex_alloc, baseline_mutex_free, mutex_read),
    BENCH_VARIANT("baseline-atomic", "malloc",
                  "BASELINE (bench only): header + shared atomic counters, CAS-max peak",
                  atomic_setup, atomic_finish, atomic, baseline_atomic_alloc, baseline_atomic_free, atomic_read),
#if BENCH_HAVE_PEERS
    BENCH_PLAIN_VARIANT("jemalloc", NULL,
                        "raw jemalloc 5.3 mallocx/dallocx",
                        jemalloc, peer_je_alloc, peer_je_free),
    BENCH_PLAIN_VARIANT("baseline-header/jemalloc", "jemalloc",
                        "BASELINE (bench only): 16-byte size header over jemalloc, no counters",
                        header_je, header_je_alloc, header_je_free),
    BENCH_STRATEGY_VARIANT("strategy/jemalloc", "jemalloc",
                           "//:default_strategy with jemalloc as its backend",
                           strategy_je_setup),
    BENCH_STRATEGY_VARIANT("strategy+cache/jemalloc", "jemalloc",
                           "//:default_strategy with jemalloc as its backend and thread_cache_blocks = 8",
                           strategy_cache_je_setup),
    BENCH_PLAIN_VARIANT("mimalloc", NULL,
                        "raw mimalloc 2.0 mi_malloc/mi_free",
                        mimalloc, peer_mi_alloc, peer_mi_free),
    BENCH_PLAIN_VARIANT("baseline-header/mimalloc", "mimalloc",
                        "BASELINE (bench only): 16-byte size header over mimalloc, no counters",
                        header_mi, header_mi_alloc, header_mi_free),
    BENCH_STRATEGY_VARIANT("strategy/mimalloc", "mimalloc",
                           "//:default_strategy with mimalloc as its backend",
                           strategy_mi_setup),
    BENCH_STRATEGY_VARIANT("strategy+cache/mimalloc", "mimalloc",
                           "//:default_strategy with mimalloc as its backend and thread_cache_blocks = 8",
                           strategy_cache_mi_setup),
#endif
};

const size_t bench_variant_count = sizeof bench_variants / sizeof bench_variants[0];

const bench_variant* bench_find_variant(const char* name) {
    for (size_t i = 0; i < bench_variant_count; i++) {
        if (strcmp(bench_variants[i].name, name) == 0) return &bench_variants[i];
    }
    return NULL;
}

static const char* const workload_names[BENCH_WORKLOAD_COUNT] = {"mixed", "small", "handoff", "burst",
                                                                 "readers"};

static const char* const workload_descriptions[BENCH_WORKLOAD_COUNT] = {
    "per-thread random alloc/free over 256 slots, 8-2000 bytes, every block touched",
    "as mixed, 16-128 bytes",
    "producer threads allocate 16-512 bytes, a consumer thread each frees them (SPSC ring)",
    "allocate 32768 blocks of 8-512 bytes per thread, then free them all; repeat",
    "mixed while one extra thread reads the four statistics in a loop",
};

const char* bench_workload_name(bench_workload workload) {
    return (unsigned)workload < BENCH_WORKLOAD_COUNT ? workload_names[workload] : "unknown";
}

const char* bench_workload_description(bench_workload workload) {
    return (unsigned)workload < BENCH_WORKLOAD_COUNT ? workload_descriptions[workload] : "";
}

bench_workload bench_find_workload(const char* name) {
    for (int w = 0; w < BENCH_WORKLOAD_COUNT; w++) {
        if (strcmp(workload_names[w], name) == 0) return (bench_workload)w;
    }
    return BENCH_WORKLOAD_COUNT;
}
