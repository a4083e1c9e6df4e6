/* bench: the variants measured (what allocates and frees) and one timed run
 * of a variant on a workload.
 *
 * Variants, each compared with the raw allocator named as its reference:
 *
 *   malloc             raw glibc malloc/free                      (reference)
 *   strategy           //:default_strategy over malloc, called through its
 *                      vtable: s->base.allocate(&s->base, n)     vs malloc
 *   strategy+cache     the same with thread_cache_blocks =
 *                      BENCH_THREAD_CACHE_BLOCKS                 vs malloc
 *   baseline-header    16-byte size header only (baselines.h)    vs malloc
 *   baseline-mutex     header + one mutex around shared counters vs malloc
 *   baseline-atomic    header + shared atomic counters           vs malloc
 *   jemalloc           raw mallocx/dallocx                        (reference)
 *   strategy/jemalloc  the strategy with jemalloc as its backend vs jemalloc
 *   strategy+cache/jemalloc  the same with the thread cache      vs jemalloc
 *   mimalloc           raw mi_malloc/mi_free                      (reference)
 *   strategy/mimalloc  the strategy with mimalloc as its backend vs mimalloc
 *   strategy+cache/mimalloc  the same with the thread cache      vs mimalloc
 *
 * Every run gets a fresh context (a new strategy, zeroed baseline counters),
 * and ends by checking the variant's own figures against what the workload
 * threads counted: for the strategy, current usage 0, totals equal to the
 * bytes requested and freed, operation counts equal, no error recorded, and a
 * peak that is consistent with the threads' own high-water marks. */
#ifndef MEMSTRATEGY_BENCH_VARIANTS_H_
#define MEMSTRATEGY_BENCH_VARIANTS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workloads.h"

/* config.thread_cache_blocks of "strategy+cache" and of the memory
 * measurements' "+cache" rows. */
#define BENCH_THREAD_CACHE_BLOCKS 8u

/* What all threads of one run did, added up. */
typedef struct bench_run_totals {
    uint64_t ops;
    uint64_t allocations;
    uint64_t frees;
    uint64_t bytes_allocated;
    uint64_t bytes_freed;
    uint64_t max_thread_peak; /* largest per-thread high-water mark */
    uint64_t sum_thread_peak;
    uint64_t reads;    /* readers: reads of the four figures */
    uint32_t writers;  /* threads that allocated */
    bool cross_thread; /* blocks were freed by other threads (handoff) */
} bench_run_totals;

typedef void* (*bench_thread_main)(void* arg);

typedef struct bench_variant {
    const char* name;
    const char* reference; /* the raw allocator compared with; NULL for a raw allocator */
    const char* description;
    /* Creates the run's context; false if it cannot. */
    bool (*setup)(void** context);
    /* Checks the variant's own figures against `totals`, then releases the
     * context.  False, with a message, on any mismatch. */
    bool (*finish)(void* context, const bench_run_totals* totals, char* message, size_t size);
    /* Thread entry per workload (the writer's for readers, the producer's for
     * handoff); each waits on the start barrier first. */
    bench_thread_main thread_main[BENCH_WORKLOAD_COUNT];
    bench_thread_main consumer_main; /* handoff consumer */
    void (*read_figures)(void* context, uint64_t out[4]);
    /* Not inlined, for the untimed memory measurements. */
    bench_alloc_fn alloc;
    bench_free_fn free;
} bench_variant;

extern const bench_variant bench_variants[];
extern const size_t bench_variant_count;

/* Returns the variant named `name`, or NULL. */
const bench_variant* bench_find_variant(const char* name);

const char* bench_workload_name(bench_workload workload);
const char* bench_workload_description(bench_workload workload);
/* Returns the workload named `name`, or BENCH_WORKLOAD_COUNT. */
bench_workload bench_find_workload(const char* name);

/* The result of one run. */
typedef struct bench_run_result {
    double seconds; /* from the start barrier to the last worker's join */
    bench_run_totals totals;
    bool ok;
    char message[256]; /* why not ok */
} bench_run_result;

/* Runs `variant` on `workload` with `threads` workload threads sharing `ops`
 * operations, and checks the figures afterwards.  Must be called from one
 * thread at a time. */
void bench_run(const bench_variant* variant, bench_workload workload, uint32_t threads, uint64_t ops,
               const bench_params* params, bench_run_result* result);

#endif /* MEMSTRATEGY_BENCH_VARIANTS_H_ */
