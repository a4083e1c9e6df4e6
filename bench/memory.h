/* bench: what the strategy costs in memory.
 *
 * Metadata per block, two ways, for every backend:
 *   requested  the strategy's backend is wrapped in a counter that records
 *              the size the strategy asks the backend for; minus the size the
 *              caller asked for, averaged over every size 8..2000 (and for 32
 *              bytes alone).  This is the header: exactly 16.
 *   usable     the backend's usable size (malloc_usable_size, sallocx,
 *              mi_usable_size) of the block the strategy got, minus the usable
 *              size of a raw block of the caller's size: what the header
 *              really costs after the backend's rounding to size classes.
 * Resident memory: a child process per variant (fork) holds `blocks` live
 * 32-byte blocks, each written once; VmRSS from /proc/self/status before and
 * after, divided by the block count.  The pointer array is mmap'ed and
 * touched before the first reading, so only the blocks count.
 * Retention: a child process per row allocates `retain_blocks` blocks of
 * 1,100 .. 2,000 bytes (above glibc's per-thread cache, fixed pseudo-random
 * sizes, each written), frees them all in allocation order, and reads
 * VmRSS growth with all of them live, after the frees, and for the thread
 * cache after release_cached_blocks: what the backend kept resident. */
#ifndef MEMSTRATEGY_BENCH_MEMORY_H_
#define MEMSTRATEGY_BENCH_MEMORY_H_

#include <stdbool.h>
#include <stdint.h>

#include "variants.h"

#define BENCH_MEMORY_MAX_ROWS 16

typedef struct bench_metadata_row {
    const char* backend;        /* "malloc", "jemalloc", "mimalloc", each also "+cache" */
    bool thread_cache;          /* measured with BENCH_THREAD_CACHE_BLOCKS (variants.h) */
    double requested_per_block; /* average over sizes 8..2000 */
    double usable_per_block;    /* average over sizes 8..2000 */
    double requested_32;
    double usable_32;
    bool ok;
} bench_metadata_row;

typedef struct bench_rss_row {
    const char* variant;
    const char* reference;  /* NULL for a raw allocator */
    double bytes_per_block; /* VmRSS growth / blocks */
    double maxrss_kib;      /* the child's peak resident set (getrusage) */
    bool ok;
} bench_rss_row;

typedef struct bench_retain_row {
    const char* variant;   /* "malloc", "strategy", "strategy+cache" */
    double live_kib;       /* VmRSS growth with every block live */
    double freed_kib;      /* ... after freeing them all */
    double released_kib;   /* ... then after release_cached_blocks (the cache's row; else < 0) */
    uint64_t released;     /* what release_cached_blocks returned */
    bool ok;
} bench_retain_row;

#define BENCH_RETAIN_ROWS 3

typedef struct bench_memory_report {
    uint64_t blocks;
    uint64_t retain_blocks;
    bench_retain_row retain[BENCH_RETAIN_ROWS];
    size_t metadata_count;
    bench_metadata_row metadata[BENCH_MEMORY_MAX_ROWS];
    size_t rss_count;
    bench_rss_row rss[BENCH_MEMORY_MAX_ROWS];
    bool ok;
    char message[256];
} bench_memory_report;

/* Measures metadata for every backend, resident memory for the given
 * variants (enabled flags indexed like bench_variants) and retention with
 * `retain_blocks` blocks.  Call with no other benchmark thread running (it
 * forks). */
void bench_memory_measure(uint64_t blocks, uint64_t retain_blocks, const bool* enabled,
                          bench_memory_report* report);

#endif /* MEMSTRATEGY_BENCH_MEMORY_H_ */
