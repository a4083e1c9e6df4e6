/* bench: BASELINE WRAPPERS, for comparison only.  NOT part of the library.
 *
 * Three naive ways to account for memory over malloc/free, against which the
 * library's strategy is measured.  They keep no check word, no status and no
 * error reporting; they exist so the benchmark can show what each ingredient
 * costs:
 *
 *   baseline-header  a 16-byte header holding the size, nothing else: the
 *                    irreducible cost of keeping the size of every block so
 *                    that free needs none (the library pays it too); over
 *                    each raw allocator, in variants.c (BENCH_HEADER_OVER).
 *   baseline-mutex   the header plus one pthread mutex around four shared
 *                    counters (current, peak, total allocated, total freed).
 *   baseline-atomic  the header plus shared atomic counters: fetch_add on
 *                    current and the totals, and a compare-and-swap loop that
 *                    raises the peak.
 *
 * Thread safety: alloc/free/read of one baseline may run concurrently from any
 * number of threads; init/destroy may not overlap any other call. */
#ifndef MEMSTRATEGY_BENCH_BASELINES_H_
#define MEMSTRATEGY_BENCH_BASELINES_H_

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The header every baseline puts before a block: 16 bytes, so the block
 * keeps malloc's 16-byte alignment. */
typedef struct baseline_header {
    uint64_t size;
    uint64_t unused;
} baseline_header;

/* The four figures a baseline keeps, as read by a reader thread or the final
 * check. */
typedef struct baseline_figures {
    uint64_t current;
    uint64_t peak;
    uint64_t total_allocated;
    uint64_t total_freed;
} baseline_figures;

static inline baseline_header* baseline_header_new(size_t size) {
    baseline_header* header = malloc(size + sizeof *header);
    if (header != NULL) header->size = size;
    return header;
}

/* Returns the size kept in the header.  The volatile read keeps the load even
 * where the caller does not use the value (baseline-header): reading the
 * size back is part of the cost being measured. */
static inline uint64_t baseline_header_size(const void* block) {
    const baseline_header* header = (const baseline_header*)block - 1;
    return *(const volatile uint64_t*)&header->size;
}

/* ---- baseline-mutex --------------------------------------------------------- */

typedef struct baseline_mutex {
    pthread_mutex_t lock;
    baseline_figures figures; /* guarded by lock */
} baseline_mutex;

static inline bool baseline_mutex_init(baseline_mutex* b) {
    b->figures = (baseline_figures){0, 0, 0, 0};
    return pthread_mutex_init(&b->lock, NULL) == 0;
}

static inline void baseline_mutex_destroy(baseline_mutex* b) {
    pthread_mutex_destroy(&b->lock);
}

static inline void* baseline_mutex_alloc(void* context, size_t size) {
    baseline_mutex* b = context;
    baseline_header* header = baseline_header_new(size);
    if (header == NULL) return NULL;
    pthread_mutex_lock(&b->lock);
    b->figures.current += size;
    b->figures.total_allocated += size;
    if (b->figures.current > b->figures.peak) b->figures.peak = b->figures.current;
    pthread_mutex_unlock(&b->lock);
    return header + 1;
}

static inline void baseline_mutex_free(void* context, void* block) {
    baseline_mutex* b = context;
    if (block == NULL) return;
    uint64_t size = baseline_header_size(block);
    free((baseline_header*)block - 1);
    pthread_mutex_lock(&b->lock);
    b->figures.current -= size;
    b->figures.total_freed += size;
    pthread_mutex_unlock(&b->lock);
}

static inline baseline_figures baseline_mutex_read(baseline_mutex* b) {
    pthread_mutex_lock(&b->lock);
    baseline_figures figures = b->figures;
    pthread_mutex_unlock(&b->lock);
    return figures;
}

/* ---- baseline-atomic -------------------------------------------------------- */

/* All four counters share one cache line, as a straightforward implementation
 * would have them. */
typedef struct baseline_atomic {
    alignas(64) _Atomic uint64_t current;
    _Atomic uint64_t peak;
    _Atomic uint64_t total_allocated;
    _Atomic uint64_t total_freed;
} baseline_atomic;

static inline void baseline_atomic_init(baseline_atomic* b) {
    atomic_init(&b->current, 0);
    atomic_init(&b->peak, 0);
    atomic_init(&b->total_allocated, 0);
    atomic_init(&b->total_freed, 0);
}

static inline void* baseline_atomic_alloc(void* context, size_t size) {
    baseline_atomic* b = context;
    baseline_header* header = baseline_header_new(size);
    if (header == NULL) return NULL;
    /* Relaxed throughout: the counters are values read on their own; nothing
     * is published through them, and each counter's modification order
     * makes it the exact sum of its updates. */
    uint64_t current = atomic_fetch_add_explicit(&b->current, size, memory_order_relaxed) + size;
    atomic_fetch_add_explicit(&b->total_allocated, size, memory_order_relaxed);
    uint64_t peak = atomic_load_explicit(&b->peak, memory_order_relaxed);
    while (peak < current && !atomic_compare_exchange_weak_explicit(
                                 &b->peak, &peak, current, memory_order_relaxed, memory_order_relaxed)) {
    }
    return header + 1;
}

static inline void baseline_atomic_free(void* context, void* block) {
    baseline_atomic* b = context;
    if (block == NULL) return;
    uint64_t size = baseline_header_size(block);
    free((baseline_header*)block - 1);
    /* Relaxed: as in baseline_atomic_alloc. */
    atomic_fetch_sub_explicit(&b->current, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->total_freed, size, memory_order_relaxed);
}

static inline baseline_figures baseline_atomic_read(baseline_atomic* b) {
    /* Relaxed: four independent values, as a naive reader would take them. */
    baseline_figures figures = {
        atomic_load_explicit(&b->current, memory_order_relaxed),
        atomic_load_explicit(&b->peak, memory_order_relaxed),
        atomic_load_explicit(&b->total_allocated, memory_order_relaxed),
        atomic_load_explicit(&b->total_freed, memory_order_relaxed),
    };
    return figures;
}

#endif /* MEMSTRATEGY_BENCH_BASELINES_H_ */
