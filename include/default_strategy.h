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
 * Thread safety (same strategy; different strategies are independent):
 *
 *     call                                  may run concurrently with
 *     allocate, deallocate (vtable/default_) everything except destroy
 *     get_status, validate                  everything except destroy
 *     get_* statistics and error counts     everything except destroy
 *     destroy_default_strategy              nothing: no other call on this
 *                                           strategy may be running or start
 *                                           afterwards (as with free())
 *
 * A block may be freed by any thread, not only the one that allocated it.
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
 * defaults: malloc/free and the stderr error handler. */
typedef struct DefaultStrategyConfig {
    size_t memory_limit; /* 0: unlimited; otherwise current usage never exceeds it (see below) */
    StrategyBackendAllocate backend_allocate; /* NULL: malloc (then backend_free must be NULL) */
    StrategyBackendFree backend_free;         /* NULL: free */
    void* backend_context;                    /* passed to both backend functions */
    StrategyErrorHandler error_handler;       /* NULL: strategy_default_error_handler */
    void* error_handler_data;
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
 * of not sharing a counter; see memstats.h).  Returns
 * NULL if memory cannot be obtained or the config is inconsistent (exactly
 * one of backend_allocate and backend_free set). */
DefaultStrategy* create_default_strategy_with(const DefaultStrategyConfig* config);

/* Destroys a strategy: SHUTTING_DOWN, a leak report through the error handler
 * if blocks are still allocated (the default handler prints
 * "memstrategy: leak: 600 bytes in 3 blocks still allocated at destroy"),
 * DESTROYED, then frees it.  Blocks still allocated are not freed (their
 * owners may still use them).  NULL is a no-op.  A pointer that is not a live
 * strategy is reported on stderr and left alone.  Nothing else may run on the
 * strategy concurrently or afterwards. */
void destroy_default_strategy(DefaultStrategy* strategy);

/* Allocates `size` bytes (1 .. STRATEGY_MAX_ALLOCATION), aligned to 16.
 * Returns NULL, changing no usage statistic, for an invalid size
 * (STRATEGY_ERROR_INVALID_SIZE), a status other than ACTIVE
 * (STRATEGY_ERROR_ILLEGAL_STATE), a backend failure
 * (STRATEGY_ERROR_OUT_OF_MEMORY), or the memory limit
 * (STRATEGY_ERROR_LIMIT_EXCEEDED).  NULL base: returns NULL. */
void* default_allocate(MemoryStrategy* base, size_t size);

/* Frees a block allocated by this strategy, from any thread.  NULL ptr is a
 * no-op.  A pointer that is not a live block of this strategy (never
 * allocated by it, interior, already freed, header overwritten) is refused
 * with STRATEGY_ERROR_INVALID_POINTER: nothing is freed and no statistic
 * changes.  Refused with STRATEGY_ERROR_ILLEGAL_STATE unless ACTIVE or
 * DEGRADED.  Limits: a double free is caught when the block's header was not
 * reused in between; reading the header of a foreign pointer reads the 16
 * bytes before it (ASan builds check those bytes are addressable first). */
void default_deallocate(MemoryStrategy* base, void* ptr);

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
 * thread that has operated on the strategy, or 0 while only one has.  0 for
 * NULL. */
size_t get_peak_overreport_bound(const DefaultStrategy* strategy);

/* Successful allocations, successful deallocations, and their difference
 * (blocks still allocated).  0 for NULL. */
uint64_t get_allocation_count(const DefaultStrategy* strategy);
uint64_t get_deallocation_count(const DefaultStrategy* strategy);
uint64_t get_live_blocks(const DefaultStrategy* strategy);

/* Every statistic at once (one fold).  False for NULL arguments. */
bool get_usage_snapshot(const DefaultStrategy* strategy, MemStatsSnapshot* out);

/* How many errors of `kind` this strategy recorded; 0 for NULL or a kind
 * outside the enum. */
uint64_t get_error_count(const DefaultStrategy* strategy, StrategyError kind);

/* The most recent error any thread recorded, STRATEGY_OK if none or NULL. */
StrategyError get_last_error(const DefaultStrategy* strategy);

/* The handler used when none is configured: one line on stderr per error,
 * "memstrategy: error: <name> (pointer 0x..., size N)", at most 16 lines per
 * strategy, then one line saying further errors are only counted.  A leak
 * report is always printed, as the line documented at destroy. */
void strategy_default_error_handler(const StrategyErrorInfo* info, void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_DEFAULT_STRATEGY_H_ */
