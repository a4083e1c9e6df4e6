/* bench: the five workloads, written once and instantiated per variant.
 *
 * Each workload body below is an always-inline function taking the variant's
 * alloc/free functions as constant arguments; bench/variants.c instantiates
 * every body once per variant, so after inlining raw malloc is a direct call
 * to malloc, a baseline is inlined, and the strategy is called through its
 * vtable exactly as a user would call it (s->base.allocate(&s->base, n)).
 *
 * Workloads (sizes are bytes requested; "op" is one allocate or one free):
 *
 *   mixed    Each thread keeps `slots` (256) slots and repeatedly picks one at
 *            random: an empty slot gets a new block of 8..2000 bytes, a full
 *            one is freed.  Every new block has its first and last byte
 *            written; the first is read back before the free.
 *   small    mixed with sizes 16..128 only: allocator fast paths dominate, so
 *            a fixed per-call cost shows most.
 *   handoff  Producer/consumer pairs: the producer allocates 16..512 bytes,
 *            writes a sequence number and the size into the block and passes
 *            it through a lock-free SPSC ring (spsc_ring.h); the consumer
 *            checks both and frees the block.  Every block is freed by a
 *            different thread than the one that allocated it (the larson /
 *            xmalloc-test pattern).  "threads" counts producers; each has its
 *            own consumer thread.
 *   burst    Each thread allocates `burst_blocks` (32768) blocks of 8..512
 *            bytes, touching each, then frees them all in allocation order,
 *            and repeats: usage swings by megabytes per thread.
 *   readers  mixed, plus one extra thread that reads all four statistics
 *            (current, peak, total allocated, total freed) in a loop for as
 *            long as the writers run, as fast as it can, or (with
 *            reader_pause_us) sleeping that long after each read, as a
 *            monitoring thread would.  For variants without statistics the
 *            extra thread runs an equivalent loop that reads four private
 *            values, so every variant loses the same CPU to it.
 *
 * Random numbers come from a per-thread xorshift generator seeded from the
 * thread's index only, so every variant performs exactly the same sequence of
 * requests. */
#ifndef MEMSTRATEGY_BENCH_WORKLOADS_H_
#define MEMSTRATEGY_BENCH_WORKLOADS_H_

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "spsc_ring.h"

typedef enum bench_workload {
    BENCH_MIXED = 0,
    BENCH_SMALL,
    BENCH_HANDOFF,
    BENCH_BURST,
    BENCH_READERS,
    BENCH_WORKLOAD_COUNT
} bench_workload;

#define BENCH_MAX_SLOTS 1024u

/* What every thread of a run is told.  Read-only once the threads start. */
typedef struct bench_params {
    uint32_t slots;        /* mixed/small/readers: slots per thread (<= BENCH_MAX_SLOTS) */
    uint32_t burst_blocks; /* burst: blocks per burst */
    uint32_t reader_pause_us; /* readers: microseconds the reader sleeps after each read; 0: none */
} bench_params;

typedef void* (*bench_alloc_fn)(void* context, size_t size);
typedef void (*bench_free_fn)(void* context, void* block);

/* One thread of a run.  The inputs are set before the thread starts; the
 * outputs are written by the thread just before it returns and read after
 * pthread_join (which orders them). */
typedef struct bench_thread {
    alignas(BENCH_CACHE_LINE) uint32_t index; /* 0.. within its role */
    uint64_t ops;                             /* operations to perform */
    void* context;                            /* the variant's context */
    const bench_params* params;
    bench_ring* ring;                                     /* handoff: the ring shared with the partner */
    pthread_barrier_t* start;                             /* every thread and the timer wait here */
    _Atomic int* stop;                                    /* readers: set when the writers are done */
    void (*read_figures)(void* context, uint64_t out[4]); /* readers: the reader's loop body */
    unsigned char** scratch;                              /* burst: room for burst_blocks pointers */
    /* outputs */
    double began; /* seconds (bench_now) when this thread passed the start barrier */
    double ended; /* ... and when it finished its work */
    uint64_t done_ops;
    uint64_t allocations;
    uint64_t frees;
    uint64_t bytes_allocated;
    uint64_t bytes_freed;
    uint64_t peak_live; /* high-water of bytes this thread allocated minus freed */
    uint64_t reads;     /* readers: completed reads of the four figures */
    uint64_t sink;      /* a value derived from the data read, so reads stay */
    bool failed;        /* an allocation failed or a block's contents were wrong */
} bench_thread;

/* Monotonic seconds. */
static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__GNUC__)
#define BENCH_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define BENCH_ALWAYS_INLINE inline
#endif

static inline uint64_t bench_rng_seed(uint32_t index) {
    uint64_t x = (uint64_t)index * UINT64_C(0x9e3779b97f4a7c15) + UINT64_C(0x2545f4914f6cdd1d);
    return x == 0 ? 1 : x;
}

static inline uint64_t bench_rng_next(uint64_t* state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* A value in lo..hi from the high bits of r (multiply-shift, no division). */
static inline size_t bench_pick(uint64_t r, size_t lo, size_t hi) {
    return lo + (size_t)(((r >> 32) * (uint64_t)(hi - lo + 1)) >> 32);
}

/* mixed, small, and the writers of readers. */
static BENCH_ALWAYS_INLINE void bench_mixed_body(bench_thread* t, bench_alloc_fn alloc_fn,
                                                 bench_free_fn free_fn, size_t lo, size_t hi) {
    unsigned char* block[BENCH_MAX_SLOTS];
    size_t size[BENCH_MAX_SLOTS];
    unsigned char tag[BENCH_MAX_SLOTS];
    uint32_t slots = t->params->slots;
    memset(block, 0, sizeof block);
    uint64_t rng = bench_rng_seed(t->index);
    uint64_t live = 0, peak = 0, allocs = 0, frees = 0, bytes_in = 0, bytes_out = 0, sink = 0;
    bool failed = false;
    uint64_t i = 0;
    for (; i < t->ops; i++) {
        uint64_t r = bench_rng_next(&rng);
        uint32_t k = (uint32_t)(((r & 0xffffffffu) * slots) >> 32);
        if (block[k] != NULL) {
            failed |= block[k][0] != tag[k];
            sink += block[k][0];
            free_fn(t->context, block[k]);
            block[k] = NULL;
            live -= size[k];
            bytes_out += size[k];
            frees++;
        } else {
            size_t n = bench_pick(r, lo, hi);
            unsigned char* p = alloc_fn(t->context, n);
            if (p == NULL) {
                failed = true;
                continue;
            }
            tag[k] = (unsigned char)(r >> 8);
            p[0] = tag[k];
            p[n - 1] = (unsigned char)k;
            block[k] = p;
            size[k] = n;
            live += n;
            if (live > peak) peak = live;
            bytes_in += n;
            allocs++;
        }
    }
    for (uint32_t k = 0; k < slots; k++) {
        if (block[k] == NULL) continue;
        failed |= block[k][0] != tag[k];
        free_fn(t->context, block[k]);
        bytes_out += size[k];
        frees++;
        i++;
    }
    t->done_ops = i;
    t->allocations = allocs;
    t->frees = frees;
    t->bytes_allocated = bytes_in;
    t->bytes_freed = bytes_out;
    t->peak_live = peak;
    t->sink = sink;
    t->failed = failed;
}

/* handoff, producer side: ops/2 blocks. */
static BENCH_ALWAYS_INLINE void bench_produce_body(bench_thread* t, bench_alloc_fn alloc_fn) {
    uint64_t rng = bench_rng_seed(t->index);
    uint64_t count = t->ops / 2, bytes = 0, done = 0;
    bool failed = false;
    for (uint64_t i = 0; i < count; i++) {
        size_t n = bench_pick(bench_rng_next(&rng), 16, 512);
        unsigned char* p = alloc_fn(t->context, n);
        if (p == NULL) {
            failed = true;
            break; /* the consumer is told by a NULL item */
        }
        uint64_t header[2] = {i, n};
        memcpy(p, header, sizeof header);
        bench_ring_push(t->ring, p);
        bytes += n;
        done++;
    }
    if (failed) bench_ring_push(t->ring, NULL);
    t->done_ops = done;
    t->allocations = done;
    t->bytes_allocated = bytes;
    t->failed = failed;
}

/* handoff, consumer side: frees what its producer sends, ops/2 blocks. */
static BENCH_ALWAYS_INLINE void bench_consume_body(bench_thread* t, bench_free_fn free_fn) {
    uint64_t count = t->ops / 2, bytes = 0, done = 0;
    bool failed = false;
    for (uint64_t i = 0; i < count; i++) {
        unsigned char* p = bench_ring_pop(t->ring);
        if (p == NULL) {
            failed = true;
            break;
        }
        uint64_t header[2];
        memcpy(header, p, sizeof header);
        failed |= header[0] != i || header[1] < 16 || header[1] > 512;
        free_fn(t->context, p);
        bytes += header[1];
        done++;
    }
    t->done_ops = done;
    t->frees = done;
    t->bytes_freed = bytes;
    t->failed = failed;
}

/* burst: the block array comes from the caller (allocated outside the timed
 * region). */
static BENCH_ALWAYS_INLINE void bench_burst_body(bench_thread* t, bench_alloc_fn alloc_fn,
                                                 bench_free_fn free_fn, unsigned char** block) {
    uint64_t rng = bench_rng_seed(t->index);
    uint64_t burst = t->params->burst_blocks;
    uint64_t rounds = t->ops / (2 * burst);
    if (rounds == 0) rounds = 1;
    uint64_t bytes_in = 0, bytes_out = 0, allocs = 0, frees = 0, peak = 0, sink = 0;
    bool failed = false;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t replay = rng; /* replays the sizes for the checks below */
        uint64_t live = 0;
        uint64_t got = 0;
        for (; got < burst; got++) {
            size_t n = bench_pick(bench_rng_next(&rng), 8, 512);
            unsigned char* p = alloc_fn(t->context, n);
            if (p == NULL) {
                failed = true;
                break;
            }
            p[0] = (unsigned char)n;
            p[n - 1] = (unsigned char)got;
            block[got] = p;
            live += n;
        }
        bytes_in += live;
        allocs += got;
        if (live > peak) peak = live;
        for (uint64_t j = 0; j < got; j++) {
            size_t n = bench_pick(bench_rng_next(&replay), 8, 512);
            unsigned char* p = block[j];
            failed |= p[0] != (unsigned char)n || p[n - 1] != (unsigned char)j;
            sink += p[0];
            free_fn(t->context, p);
        }
        bytes_out += live;
        frees += got;
    }
    t->done_ops = allocs + frees;
    t->allocations = allocs;
    t->frees = frees;
    t->bytes_allocated = bytes_in;
    t->bytes_freed = bytes_out;
    t->peak_live = peak;
    t->sink = sink;
    t->failed = failed;
}

/* readers: the extra thread.  At least one read, then until told to stop. */
static inline void bench_reader_body(bench_thread* t) {
    uint64_t reads = 0, sink = 0;
    uint64_t figures[4];
    do {
        t->read_figures(t->context, figures);
        sink += figures[0] ^ figures[1] ^ figures[2] ^ figures[3];
        reads++;
        if (t->params->reader_pause_us != 0) {
            struct timespec pause = {(time_t)(t->params->reader_pause_us / 1000000u),
                                     (long)(t->params->reader_pause_us % 1000000u) * 1000L};
            nanosleep(&pause, NULL);
        }
        /* Relaxed: a flag only; the run's results are read after join. */
    } while (atomic_load_explicit(t->stop, memory_order_relaxed) == 0);
    t->reads = reads;
    t->sink = sink;
}

#endif /* MEMSTRATEGY_BENCH_WORKLOADS_H_ */
