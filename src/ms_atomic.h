/* Internal: C11 atomics with the memory order named at every call site.
 *
 * Every atomic access in the library goes through one of these helpers, so a
 * reader sees the order where it is used.  There is deliberately no helper with
 * a defaulted (sequentially consistent) order and no standalone fence:
 * ThreadSanitizer does not model fences, and each ordering point in this
 * library is a release/acquire pair on a specific variable, documented where
 * it is used ("pairs with ...").
 */
#ifndef MEMSTRATEGY_SRC_MS_ATOMIC_H_
#define MEMSTRATEGY_SRC_MS_ATOMIC_H_

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define ms_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define ms_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define ms_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define ms_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define ms_fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define ms_fetch_add_release(p, v) atomic_fetch_add_explicit((p), (v), memory_order_release)
#define ms_fetch_and_release(p, v) atomic_fetch_and_explicit((p), (v), memory_order_release)
#define ms_exchange_acq_rel(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define ms_exchange_acquire(p, v) atomic_exchange_explicit((p), (v), memory_order_acquire)

/* Strong compare-and-swap.  On success the order is acq_rel (the new value is
 * published and what the previous writer published is visible); on failure
 * the observed value is loaded with acquire. */
#define ms_cas_acq_rel(p, expected, desired)                                  \
    atomic_compare_exchange_strong_explicit((p), (expected), (desired),       \
                                            memory_order_acq_rel,             \
                                            memory_order_acquire)

/* Strong compare-and-swap that publishes: release on success, relaxed on
 * failure (the caller then uses nothing it read). */
#define ms_cas_release(p, expected, desired)                                  \
    atomic_compare_exchange_strong_explicit((p), (expected), (desired),       \
                                            memory_order_release,             \
                                            memory_order_relaxed)

/* Raises *p to at least v.  Relaxed throughout: callers use the maximum as
 * a value only (nothing else is published through it), and the modification
 * order of *p alone makes the result the maximum of every value offered. */
static inline void ms_max_relaxed_i64(_Atomic int64_t* p, int64_t v) {
    int64_t seen = ms_load_relaxed(p);
    while (seen < v && !atomic_compare_exchange_weak_explicit(p, &seen, v, memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
}

#if defined(__GNUC__)
#define MS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MS_NOINLINE __attribute__((noinline))
#define MS_ALWAYS_INLINE inline __attribute__((always_inline))
#define MS_INITIAL_EXEC_TLS __attribute__((tls_model("initial-exec")))
#else
#define MS_LIKELY(x) (x)
#define MS_UNLIKELY(x) (x)
#define MS_NOINLINE
#define MS_ALWAYS_INLINE inline
#define MS_INITIAL_EXEC_TLS
#endif

#define MS_CACHE_LINE 64

#endif /* MEMSTRATEGY_SRC_MS_ATOMIC_H_ */
