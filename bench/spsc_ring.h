/* bench: a bounded lock-free single-producer/single-consumer ring of
 * pointers, used by the handoff workload to pass blocks from the thread that
 * allocated them to the thread that frees them.
 *
 * Thread safety:
 *
 *     call               may run concurrently with
 *     bench_ring_push    bench_ring_pop (one producer thread only)
 *     bench_ring_pop     bench_ring_push (one consumer thread only)
 *     bench_ring_init    nothing
 *
 * Ordering: push stores the slot, then publishes `tail` with release; pop
 * acquires `tail`, so it sees the slot and everything the producer wrote to
 * the block before pushing it (the touch bytes).  pop releases `head` after
 * reading the slot; push acquires `head`, so it never overwrites a slot the
 * consumer has not read yet. */
#ifndef MEMSTRATEGY_BENCH_SPSC_RING_H_
#define MEMSTRATEGY_BENCH_SPSC_RING_H_

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_RING_CAPACITY 1024u /* a power of two */
#define BENCH_CACHE_LINE 64

typedef struct bench_ring {
    alignas(BENCH_CACHE_LINE) _Atomic uint64_t head; /* next slot to pop; written by the consumer */
    alignas(BENCH_CACHE_LINE) _Atomic uint64_t tail; /* next slot to fill; written by the producer */
    /* Slots are written by the producer before `tail` publishes them and read
     * by the consumer before `head` returns them: each slot has one writer
     * and one reader at a time, ordered by tail/head.  Atomic (relaxed) only
     * so that the slot accesses are not data races in the C11 sense. */
    alignas(BENCH_CACHE_LINE) _Atomic(void*) slot[BENCH_RING_CAPACITY];
} bench_ring;

/* Not yet shared: called before the threads that use the ring start (the
 * start barrier orders it before them). */
static inline void bench_ring_init(bench_ring* ring) {
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    for (size_t i = 0; i < BENCH_RING_CAPACITY; i++) atomic_init(&ring->slot[i], NULL);
}

/* Gives the CPU away after a short spin: the benchmark oversubscribes two
 * cores with up to 33 threads, where pure spinning would burn the peer's
 * time slice. */
static inline void bench_ring_backoff(unsigned* spins) {
    if (++*spins >= 64u) {
        *spins = 0;
        sched_yield();
    }
}

static inline void bench_ring_push(bench_ring* ring, void* item) {
    /* Relaxed: `tail` is written only by this (the producer) thread. */
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    unsigned spins = 0;
    /* Acquire: pairs with the consumer's release store of `head`, so the
     * slot we are about to reuse has been read. */
    while (tail - atomic_load_explicit(&ring->head, memory_order_acquire) >= BENCH_RING_CAPACITY) {
        bench_ring_backoff(&spins);
    }
    /* Relaxed: published by the release store of `tail` below. */
    atomic_store_explicit(&ring->slot[tail & (BENCH_RING_CAPACITY - 1u)], item, memory_order_relaxed);
    /* Release: pairs with the consumer's acquire load of `tail`. */
    atomic_store_explicit(&ring->tail, tail + 1u, memory_order_release);
}

static inline void* bench_ring_pop(bench_ring* ring) {
    /* Relaxed: `head` is written only by this (the consumer) thread. */
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    unsigned spins = 0;
    /* Acquire: pairs with the producer's release store of `tail`, so the
     * slot and the block's contents written before the push are visible. */
    while (atomic_load_explicit(&ring->tail, memory_order_acquire) == head) {
        bench_ring_backoff(&spins);
    }
    /* Relaxed: ordered after the acquire of `tail` above. */
    void* item = atomic_load_explicit(&ring->slot[head & (BENCH_RING_CAPACITY - 1u)], memory_order_relaxed);
    /* Release: pairs with the producer's acquire load of `head`. */
    atomic_store_explicit(&ring->head, head + 1u, memory_order_release);
    return item;
}

#endif /* MEMSTRATEGY_BENCH_SPSC_RING_H_ */
