/* default_strategy: the accounting strategy over malloc/free (or any backend
 * pair you configure).
 *
 *     #include "default_strategy.h"
 *
 *     DefaultStrategy* s = create_default_strategy();
 *     void* p = s->base.allocate(&s->base, 1024);
 *     printf("%zu bytes in use\n", get_current_usage(s));
 *     s->base.deallocate(&s->base, p);
 *     destroy_default_strategy(s);
 *
 * Every block carries a 16-byte header (its size and a check word derived from
 * its address and a per-strategy secret), so deallocate needs no size and can
 * refuse pointers that are not live blocks of this strategy.  Statistics count
 * the bytes callers asked for, per thread, folded on read (memstats.h).
 *
 * The vtable's allocate and deallocate are default_allocate and
 * default_deallocate for a strategy over malloc; a strategy over a configured
 * backend or a parent has entries of its own, tuned for that kind.  The
 * default_ functions accept every strategy and any mix with the vtable's
 * entries; called directly on a strategy of another kind, default_allocate
 * and default_deallocate go on as that kind's entries (after a check that
 * costs a call and a comparison), so they use its thread cache too.
 *
 * Thread safety (same strategy; different strategies are independent):
 *
 *     call                                  may run concurrently with
 *     allocate, deallocate, allocate_zeroed, everything except destroy
 *       reallocate, allocate_aligned
 *       (vtable or default_)
 *     get_status, validate                  everything except destroy
 *     get_* statistics and error counts,    everything except destroy
 *       default_strategy_snapshot,
 *       reset_peak_usage, get_strategy_name
 *     destroy_default_strategy              nothing: no other call on this
 *                                           strategy may be running or start
 *                                           afterwards (as with free())
 *
 * A block may be freed or resized by any thread, not only the one that
 * allocated it (but, as with free() and realloc(), one block by one call at a
 * time).
 *
 * Hierarchies: a strategy created with config.parent takes its memory from
 * that parent strategy instead of malloc, so a program can account per
 * subsystem (each child) and in total (the parent):
 *
 *     DefaultStrategyConfig top = {.memory_limit = 1 << 20, .name = "app"};
 *     DefaultStrategy* app = create_default_strategy_with(&top);
 *     DefaultStrategyConfig sub = {.parent = &app->base, .name = "net"};
 *     DefaultStrategy* net = create_default_strategy_with(&sub);
 *     ...
 *     destroy_default_strategy(net);   (children first)
 *     destroy_default_strategy(app);
 *
 * The parent counts each child block as one block of the bytes the child asked
 * its backend for: the caller's size plus the child's 16-byte header (plus
 * the padding of an aligned block, see default_allocate_aligned, and the
 * 8-byte canary when the child has check_overflow).  Each
 * level's limit applies to its own figures.  A parent must outlive its
 * children; the calls on a child may run concurrently with any call on the
 * parent except its destroy.
 */
#ifndef MEMSTRATEGY_DEFAULT_STRATEGY_H_
#define MEMSTRATEGY_DEFAULT_STRATEGY_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory_strategy.h"
#include "memstats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The strategy.  Only `base` is public; the rest of the object is private. */
typedef struct DefaultStrategy {
    MemoryStrategy base;
} DefaultStrategy;

/* The backend: where the strategy gets its memory.  allocate must return
 * memory aligned for any object type (as malloc does) or NULL. */
typedef void* (*StrategyBackendAllocate)(void* context, size_t size);
typedef void (*StrategyBackendFree)(void* context, void* ptr);

/* What an error handler is told. */
typedef struct StrategyErrorInfo {
    StrategyError error;
    const DefaultStrategy* strategy;
    const void* pointer; /* the pointer involved, or NULL */
    size_t size;         /* the size involved (bytes leaked for STRATEGY_ERROR_LEAK), or 0 */
    uint64_t blocks;     /* blocks leaked for STRATEGY_ERROR_LEAK, else 0 */
} StrategyErrorInfo;

/* Called once for every error, from the thread that hit it, after the error
 * was counted.  It must not call back into the same strategy. */
typedef void (*StrategyErrorHandler)(const StrategyErrorInfo* info, void* user_data);

/* Options for create_default_strategy_with.  A zeroed config means the
 * defaults: malloc/free, the stderr error handler, no limit, no name. */
typedef struct DefaultStrategyConfig {
    size_t memory_limit; /* 0: unlimited; otherwise current usage never exceeds it (see below) */
    StrategyBackendAllocate backend_allocate; /* NULL: malloc (then backend_free must be NULL) */
    StrategyBackendFree backend_free;         /* NULL: free */
    void* backend_context;                    /* passed to both backend functions */
    StrategyErrorHandler error_handler;       /* NULL: strategy_default_error_handler */
    void* error_handler_data;
    /* NULL: none.  Otherwise the strategy this one takes its memory from (see
     * "Hierarchies" above); then backend_allocate and backend_free must be
     * NULL, and parent->allocate and parent->deallocate set. */
    MemoryStrategy* parent;
    /* NULL: unnamed.  Copied at create; shown by get_strategy_name and the
     * printers of strategy_report.h.  UTF-8 text. */
    const char* name;
    /* Debug options (all off in a zeroed config; any of the first two moves
     * every operation of this strategy off the tuned hot path).
     * quarantine: 0, or how many freed blocks are kept (their memory not yet
     * given back to the backend, their header marked freed) before the
     * oldest goes back, so a double free of any of the last `quarantine`
     * blocks is caught as STRATEGY_ERROR_DOUBLE_FREE.  Statistics count a
     * quarantined block as freed.  Emptied at destroy. */
    size_t quarantine;
    /* check_overflow: an 8-byte canary (derived from the secret and the
     * address) after every block, checked when the block is freed or
     * resized: a damaged canary is STRATEGY_ERROR_CORRUPTED_BLOCK and the
     * operation is refused.  The backend is asked for 8 more bytes. */
    bool check_overflow;
    /* abort_on_misuse: after reporting STRATEGY_ERROR_DOUBLE_FREE,
     * _INVALID_POINTER, _WRONG_STRATEGY or _CORRUPTED_BLOCK from
     * deallocate or reallocate, abort(). */
    bool abort_on_misuse;
    /* track_allocations: every live block is recorded with its allocation
     * site (sharded by address, so threads rarely wait on each other); at
     * destroy the default error handler lists the leaked blocks by site
     * after the summary line; print_leak_report and print_leak_report_json
     * (leak_report.h) show the live blocks at any time. */
    bool track_allocations;
    /* size_histogram: count allocations by power-of-two size class (see
     * StrategyStats.size_classes), in per-thread counters.  Moves every
     * operation of this strategy off the tuned hot path (the full path counts
     * the class), so it costs nothing when off. */
    bool size_histogram;
    /* thread_cache_blocks: 0 (no cache), or N (at most 4096): each thread
     * keeps freed blocks for its own next allocations instead of giving
     * them back to the backend, per size class in two lists of up to N
     * blocks.  Blocks of 1 to 2040 bytes are cached, in 255 classes 8
     * bytes wide (1-8, 9-16, ..., 2033-2040 bytes): the backend is asked
     * for every block of class c as 8c bytes (plus the 16-byte header),
     * so a freed block serves any request of its class.  That costs
     * glibc's malloc, jemalloc and mimalloc no memory (each hands out the
     * same block for a request rounded up to a multiple of 8); a backend
     * that hands out blocks to the byte gives up to 7 bytes more per
     * block.  The vtable's allocate and deallocate use the cache (and
     * their full path, taken after a peak reset, the same way), and so do
     * default_allocate, default_allocate_at and default_deallocate called
     * directly, which go on as them (and a reallocate of NULL or an
     * alignment of 16 or less, which are default_allocate); zeroed,
     * resized and aligned blocks come from the backend, and a block freed
     * by reallocate goes back to it.  An allocation served from the cache
     * does not call the backend, which makes the strategy cheaper than the
     * backend alone where blocks are reused and the backend's own path is
     * longer than the cache's (glibc's malloc, less so jemalloc; not
     * mimalloc: docs/PERFORMANCE.md).  Frees
     * fill a class's head list; a full head list becomes the spare list,
     * and a spare list already there goes to the strategy's depot (up to 4
     * lists of N per class, shared by all threads).  If the depot's lists
     * of the class are taken, the freed block itself goes back to the
     * backend and both lists stay, and so do the blocks of the thread's
     * next N - 1 frees into them (at most 255; then it looks at the depot
     * again): a thread that frees more than it reuses keeps the blocks it
     * freed first and gives the rest back in the order it frees them, as
     * without the cache.  Allocations empty the head list, which is then
     * refilled from the spare list, else from the depot, except that a
     * thread whose free into its full lists of the class looked at the
     * depot skips the depot on its next 2 * N refills of the class (at
     * most 255) and asks the backend.  So a thread's own swings of fewer
     * than N blocks stay with it, blocks one thread frees serve another
     * thread's allocations (producers and consumers), and threads that
     * both allocate and free a class keep their own blocks instead of
     * trading lists (which would leave their small blocks side by side in
     * memory, written from two cores).  Statistics count a cached block as freed, and its
     * header stays marked freed, so a second free of it is
     * STRATEGY_ERROR_DOUBLE_FREE; under AddressSanitizer its memory is
     * poisoned.  The lists are linked through the blocks' headers, sealed
     * with the strategy's secret, never through the memory the caller
     * had: a write after free into a cached block changes nothing the
     * strategy reads (the block is handed out again as it is), and a
     * write into a cached block's header (before its start) is caught
     * when the strategy next reaches the block (an allocation that would
     * take it, release_cached_blocks, destroy): reported as
     * STRATEGY_ERROR_CORRUPTED_BLOCK (the block, size 0; with
     * abort_on_misuse the process aborts), and the block and those after
     * it in its list are never used again nor given back to the backend
     * (at most N); an allocation that found it is then served as if that
     * list had been empty.  A thread's cache stays with its thread index
     * when the thread exits (the next thread to take the index uses it);
     * destroy gives every cached block back, and release_cached_blocks
     * what the calling thread's lists and the depot hold.  So each thread
     * that used the strategy holds back up to about thread_cache_blocks *
     * 518 KiB from the backend (both lists of all 255 classes full), and
     * the depot up to thread_cache_blocks * 1036 KiB; held blocks can also
     * keep the backend from returning some memory around them to the
     * system (see release_cached_blocks).  Not used with a debug option
     * (quarantine, check_overflow, track_allocations), a parent, or
     * size_histogram. */
    size_t thread_cache_blocks;
} DefaultStrategyConfig;

/* Creates a strategy over malloc/free with the default error handler.
 * Returns NULL if memory for it cannot be obtained.  The new strategy is
 * ACTIVE. */
DefaultStrategy* create_default_strategy(void);

/* Creates a strategy with the given options (NULL: the defaults).
 * memory_limit: an allocation that would take current usage above it fails
 * with STRATEGY_ERROR_LIMIT_EXCEEDED and changes nothing.  It is never
 * exceeded, with any number of threads.  With one thread usage can reach it
 * exactly; with several, an allocation can be refused while other threads
 * hold unused reservations of at most 2 * memory_limit/256 bytes each (so with
 * T threads allocations succeed at least up to limit * (1 - T/128); the cost
 * of not sharing a counter; see memstats.h).
 * parent: when the parent refuses a child's request because of its own limit
 * (the parent records STRATEGY_ERROR_LIMIT_EXCEEDED), the child records
 * STRATEGY_ERROR_LIMIT_EXCEEDED too; any other refusal by the parent is the
 * child's STRATEGY_ERROR_OUT_OF_MEMORY.  Both error handlers are called.
 * Returns NULL if memory cannot be obtained or the config is inconsistent
 * (exactly one of backend_allocate and backend_free set; a parent together
 * with either; a parent without allocate or deallocate; thread_cache_blocks
 * above 4096). */
DefaultStrategy* create_default_strategy_with(const DefaultStrategyConfig* config);

/* Destroys a strategy: SHUTTING_DOWN, a leak report through the error handler
 * if blocks are still allocated (the default handler prints
 * "memstrategy: leak: 600 bytes in 3 blocks still allocated at destroy"),
 * DESTROYED, then frees it.  Blocks still allocated are not freed (their
 * owners may still use them; a child's stay counted in its parent).  NULL is a no-op.  A pointer that is not a live
 * strategy is reported on stderr and left alone.  Nothing else may run on the
 * strategy concurrently or afterwards. */
void destroy_default_strategy(DefaultStrategy* strategy);

/* With a thread cache (thread_cache_blocks): gives back to the backend
 * every block the calling thread's cache holds for this strategy, and
 * every list in the strategy's depot, and returns how many blocks went
 * back.  The statistics do not change (cached blocks already count as
 * freed).  Cached blocks keep the backend from reusing their memory, and
 * can keep it from returning memory to the system: after a burst of
 * blocks above glibc's own per-thread cache (1032 bytes), glibc's heap
 * stays resident up to the cached blocks (the first a thread freed: 12 MB
 * of a 150 MB burst) until they go back (docs/PERFORMANCE.md, "Memory").
 * Call it, for example, when a thread ends a burst or goes idle.  Other
 * threads' caches are left alone (each thread's lists are its own;
 * destroy gives every block back), and the cache fills again with the
 * next frees.  A cached block whose header was
 * overwritten is reported as with destroy (STRATEGY_ERROR_CORRUPTED_BLOCK;
 * it and the rest of its list are not given back).  Returns 0 for NULL, a
 * pointer that is not a live strategy, a strategy without a thread cache,
 * or nothing cached; a status other than ACTIVE or DEGRADED is refused as
 * STRATEGY_ERROR_ILLEGAL_STATE (0).  Safe to call while other threads use
 * the strategy. */
size_t release_cached_blocks(DefaultStrategy* strategy);

/* Allocates `size` bytes (1 .. STRATEGY_MAX_ALLOCATION), aligned to 16.
 * Returns NULL, changing no usage statistic, for an invalid size
 * (STRATEGY_ERROR_INVALID_SIZE), a status other than ACTIVE
 * (STRATEGY_ERROR_ILLEGAL_STATE), a backend failure
 * (STRATEGY_ERROR_OUT_OF_MEMORY), or the memory limit
 * (STRATEGY_ERROR_LIMIT_EXCEEDED).  NULL base: returns NULL.  With a
 * thread cache, allocate may also report
 * STRATEGY_ERROR_CORRUPTED_BLOCK for a cached block whose header was
 * overwritten (see thread_cache_blocks) and still succeed. */
void* default_allocate(MemoryStrategy* base, size_t size);

/* Frees a block allocated by this strategy (through any of its allocating
 * entries), from any thread.  NULL ptr is a no-op.  A pointer that is not a
 * live block of this strategy is refused: nothing is freed, no statistic
 * changes, the block is not written, and the error is one of
 *   - STRATEGY_ERROR_DOUBLE_FREE: a block of this strategy already freed,
 *     whose header is intact (always, for a block still in the quarantine);
 *   - STRATEGY_ERROR_WRONG_STRATEGY: a live block of another live strategy;
 *   - STRATEGY_ERROR_CORRUPTED_BLOCK: this strategy's block whose size or
 *     check word was overwritten (the tag intact), or whose canary is damaged
 *     (check_overflow);
 *   - STRATEGY_ERROR_INVALID_POINTER: anything else: not 16-aligned (nothing
 *     is read), never a block (stack, static, plain malloc, interior), a
 *     header overwritten with its tag, or a freed block whose header the
 *     backend reused (glibc's tcache writes the first 16 bytes of a freed
 *     chunk).
 * With abort_on_misuse the process then aborts.  Refused with
 * STRATEGY_ERROR_ILLEGAL_STATE unless ACTIVE or DEGRADED.  Limits: reading
 * the header of a foreign pointer reads the 16 bytes before it (24 when those
 * look like an aligned block's; ASan builds check the bytes are addressable
 * first); a double free after the memory was handed out again as a new block
 * of this strategy frees that block.  With a thread cache, deallocate may
 * also report STRATEGY_ERROR_CORRUPTED_BLOCK for another, cached block
 * whose header was overwritten, found in a list it gives back (see
 * thread_cache_blocks); the free itself is done. */
void default_deallocate(MemoryStrategy* base, void* ptr);

/* Allocates count * size bytes, all zero, aligned to 16.  Fails as
 * default_allocate does; a product that overflows, is 0 or exceeds
 * STRATEGY_MAX_ALLOCATION is STRATEGY_ERROR_INVALID_SIZE (the error reports
 * the product, SIZE_MAX if it overflows).  Counted as one allocation of
 * count * size bytes.  Over malloc the memory comes from calloc, so a large
 * zeroed block costs no more than the system's zero pages; over a custom
 * backend it is cleared with memset; under a parent, the parent's
 * allocate_zeroed is used when it has one.  Concurrency as default_allocate.
 * NULL base: returns NULL. */
void* default_allocate_zeroed(MemoryStrategy* base, size_t count, size_t size);

/* Resizes a live block of this strategy to `size` bytes (1 ..
 * STRATEGY_MAX_ALLOCATION), keeping its contents up to the smaller of the two
 * sizes; the block may move.  An aligned block keeps its alignment.  Returns
 * the block, or NULL on failure.
 *   - ptr NULL: exactly default_allocate(base, size).
 *   - size 0 (or above STRATEGY_MAX_ALLOCATION): refused with
 *     STRATEGY_ERROR_INVALID_SIZE, as default_allocate refuses it; the block
 *     is NOT freed (use deallocate for that).
 *   - ptr not a live block of this strategy: refused with the error
 *     default_deallocate would report (DOUBLE_FREE, WRONG_STRATEGY,
 *     CORRUPTED_BLOCK or INVALID_POINTER; abort_on_misuse applies).
 *   - refused with STRATEGY_ERROR_ILLEGAL_STATE unless ACTIVE (a DEGRADED
 *     strategy frees but does not allocate).
 *   - the backend fails: STRATEGY_ERROR_OUT_OF_MEMORY (or LIMIT_EXCEEDED from
 *     a parent, see create_default_strategy_with).
 *   - the memory limit refuses: STRATEGY_ERROR_LIMIT_EXCEEDED.
 * On every failure the block is untouched and still owned by the caller.
 * Statistics: a success counts one deallocation of the old size and one
 * allocation of the new size, by the calling thread, so current usage moves
 * by the difference and live blocks do not change.  Without a memory limit
 * the two are recorded after the backend succeeded and a failure changes no
 * statistic.  With a limit the new size is recorded first, while the old
 * block is intact, so the limit sees both sizes during the call: a
 * reallocation needs room for old + new size under the limit (as a moving
 * realloc needs memory for both), and the peak may show both.  If the backend
 * then fails, the new size is recorded as freed again: current usage is
 * unchanged, but the totals and counts show that allocation and free.
 * Over malloc the block is resized with realloc() (in place when the system
 * can); over a parent with its reallocate; otherwise (a custom backend, an
 * aligned block) by allocate, copy and free, where a failure changes no
 * statistic.  Concurrency as default_allocate.  NULL base: returns NULL. */
void* default_reallocate(MemoryStrategy* base, void* ptr, size_t size);

/* Allocates `size` bytes (1 .. STRATEGY_MAX_ALLOCATION) at an address that is
 * a multiple of `alignment`, a power of two from 1 to STRATEGY_MAX_ALIGNMENT
 * (1 MiB).  An alignment of 16 or less is exactly default_allocate.  The
 * block is freed by default_deallocate and resized by default_reallocate
 * (keeping its alignment).  Fails as default_allocate does; an alignment of
 * 0, not a power of two or above STRATEGY_MAX_ALIGNMENT is
 * STRATEGY_ERROR_INVALID_SIZE (the error reports `size`).  Statistics count
 * `size`; the backend (or a parent) is asked for size + alignment + 23 bytes
 * (the header, a word recording where the backend's block starts, and the
 * padding).  Concurrency as default_allocate.  NULL base: returns NULL. */
void* default_allocate_aligned(MemoryStrategy* base, size_t alignment, size_t size);

/* Returns the status; STRATEGY_STATUS_INVALID for NULL or a pointer that is
 * not a live strategy. */
StrategyStatus default_get_status(MemoryStrategy* base);

/* Checks the internal invariants: a recognisable strategy, a legal status,
 * intact statistics structures and counters consistent with each other.
 * Returns false on any violation (and moves an ACTIVE strategy to DEGRADED,
 * reporting STRATEGY_ERROR_ILLEGAL_STATE once); never crashes on a strategy
 * that has not been destroyed.  Safe while other threads operate. */
bool default_validate(MemoryStrategy* base);

/* Statistics, in bytes callers asked for.  Exact whenever no operation is in
 * flight; fresh (reflect every operation that happened-before the call); 0 for
 * NULL.  See memstats.h for what a read concurrent with operations means. */
size_t get_current_usage(const DefaultStrategy* strategy);
/* Never below the true high-water mark of current usage; exact when every
 * operation ran on one thread; otherwise over by at most
 * get_peak_overreport_bound(). */
size_t get_peak_usage(const DefaultStrategy* strategy);
size_t get_total_allocated(const DefaultStrategy* strategy);
size_t get_total_freed(const DefaultStrategy* strategy);

/* Restarts the peak from the current usage (the peak then reports the high
 * water mark since this call, with the same guarantees).  May run while other
 * threads operate.  NULL is a no-op. */
void reset_peak_usage(DefaultStrategy* strategy);

/* 2 * MEMSTATS_BATCH_BYTES (128 KiB; 2 * memory_limit/256 if smaller) per
 * thread slot that has operated on the strategy (a thread that starts after
 * another exited reuses its slot), or 0 while only one slot has.  0 for
 * NULL. */
size_t get_peak_overreport_bound(const DefaultStrategy* strategy);

/* Successful allocations, successful deallocations, and their difference
 * (blocks still allocated).  0 for NULL. */
uint64_t get_allocation_count(const DefaultStrategy* strategy);
uint64_t get_deallocation_count(const DefaultStrategy* strategy);
uint64_t get_live_blocks(const DefaultStrategy* strategy);

/* Every statistic at once (one fold).  False for NULL arguments. */
bool get_usage_snapshot(const DefaultStrategy* strategy, MemStatsSnapshot* out);

/* Size classes of the histogram: class k counts successful allocations of
 * 2^k to 2^(k+1)-1 bytes (class 0: 1 byte, class 4: 16-31, ...). */
#define STRATEGY_SIZE_CLASSES 64

/* Everything a report shows, read at once by default_strategy_snapshot. */
typedef struct StrategyStats {
    MemStatsSnapshot usage;                 /* the figures of get_usage_snapshot */
    uint64_t memory_limit;                  /* 0: unlimited */
    uint64_t errors[STRATEGY_ERROR_COUNT];  /* by StrategyError, as get_error_count; */
                                            /* [STRATEGY_OK] and [STRATEGY_ERROR_LEAK] are 0 */
    StrategyError last_error;               /* as get_last_error */
    StrategyStatus status;                  /* as default_get_status */
    bool size_histogram;                    /* config.size_histogram; if false, size_classes are 0 */
    uint64_t size_classes[STRATEGY_SIZE_CLASSES]; /* allocations by size class (see above) */
} StrategyStats;

/* Fills *out with every figure, error count, the limit, the last error and
 * the status.  Returns false (leaving *out untouched) for NULL arguments.
 * May run while other threads operate: the usage figures are one fold with
 * the guarantees of get_usage_snapshot, and each error count is fresh (it
 * reflects every error that happened-before the call), but the set is not
 * one atomic instant. */
bool default_strategy_snapshot(const DefaultStrategy* strategy, StrategyStats* out);

/* The name given at create (config.name), or "" if none or for NULL.  Valid
 * until the strategy is destroyed.  Never NULL. */
const char* get_strategy_name(const DefaultStrategy* strategy);

/* How many errors of `kind` this strategy recorded; 0 for NULL or a kind
 * outside the enum. */
uint64_t get_error_count(const DefaultStrategy* strategy, StrategyError kind);

/* The most recent error any thread recorded, STRATEGY_OK if none or NULL. */
StrategyError get_last_error(const DefaultStrategy* strategy);

/* The handler used when none is configured: one line on stderr per error,
 * "memstrategy: error: <name> (pointer 0x..., size N)", at most 16 lines per
 * strategy, then one line saying further errors are only counted.  A leak
 * report is always printed, as the line documented at destroy, followed for
 * a strategy with track_allocations by the leaked blocks by site
 * (leak_report.h). */
void strategy_default_error_handler(const StrategyErrorInfo* info, void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_DEFAULT_STRATEGY_H_ */
