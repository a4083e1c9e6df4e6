/* bench: the real allocators the strategy is compared with (jemalloc and
 * mimalloc, from Debian's libjemalloc-dev and libmimalloc-dev).
 *
 * Both Debian libraries export the plain names malloc/free as well as their
 * own (jemalloc: mallocx/dallocx, mimalloc: mi_malloc/mi_free).  The benchmark
 * links libc before them (see bench/BUILD.bazel), so the dynamic linker binds
 * the process-wide malloc/free to glibc and the peers are reached only through
 * their own names; bench_peers_check_binding() verifies this at run time.
 *
 * Under ThreadSanitizer the peers are compiled out: their internal
 * synchronisation is not instrumented, so TSan would report a block that one
 * thread freed and another thread got back from the peer as a data race
 * between its two users.  The benchmark says so in its output. */
#ifndef MEMSTRATEGY_BENCH_PEERS_H_
#define MEMSTRATEGY_BENCH_PEERS_H_

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_THREAD__)
#define BENCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BENCH_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define BENCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BENCH_ASAN 1
#endif
#endif

/* -DBENCH_HAVE_PEERS=1 forces them in (to see TSan's reports for oneself). */
#if !defined(BENCH_HAVE_PEERS) && defined(BENCH_TSAN)
#define BENCH_HAVE_PEERS 0
#elif !defined(BENCH_HAVE_PEERS)
#define BENCH_HAVE_PEERS 1
#endif
#if BENCH_HAVE_PEERS
#define BENCH_PEERS_NOTE ""
#else
#define BENCH_PEERS_NOTE                                                                                     \
    "jemalloc and mimalloc variants excluded: ThreadSanitizer build (their internal synchronisation is not " \
    "instrumented)"
#endif

#if BENCH_HAVE_PEERS
#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

static inline void* peer_je_alloc(void* context, size_t size) {
    (void)context;
    return mallocx(size, 0);
}
static inline void peer_je_free(void* context, void* block) {
    (void)context;
    if (block != NULL) dallocx(block, 0);
}
static inline void* peer_mi_alloc(void* context, size_t size) {
    (void)context;
    return mi_malloc(size);
}
static inline void peer_mi_free(void* context, void* block) {
    (void)context;
    mi_free(block);
}
#endif

/* Returns true if the process-wide malloc is not one of the peers (it is
 * glibc's, or a sanitizer's), writing where malloc, mallocx and mi_malloc
 * come from into `where` (at most `size` bytes). */
bool bench_peers_check_binding(char* where, size_t size);

#endif /* MEMSTRATEGY_BENCH_PEERS_H_ */
