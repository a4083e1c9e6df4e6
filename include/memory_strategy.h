/* memstrategy: the strategy interface.
 *
 * A MemoryStrategy is a small vtable through which a program allocates and
 * frees memory so that every byte is accounted for.  Concrete strategies
 * (see default_strategy.h) embed it as their first member, named `base`:
 *
 *     DefaultStrategy* s = create_default_strategy();
 *     void* p = s->base.allocate(&s->base, 1024);
 *     s->base.deallocate(&s->base, p);
 *     destroy_default_strategy(s);
 *
 * Thread safety: every entry of the vtable may be called from any number of
 * threads at once on the same strategy, except while the strategy is being
 * destroyed (see default_strategy.h for the full table).
 */
#ifndef MEMSTRATEGY_MEMORY_STRATEGY_H_
#define MEMSTRATEGY_MEMORY_STRATEGY_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest size a single request may ask for.  Sizes from 1 to
 * STRATEGY_MAX_ALLOCATION inclusive are valid; 0 and anything larger are
 * refused with STRATEGY_ERROR_INVALID_SIZE. */
#define STRATEGY_MAX_ALLOCATION (SIZE_MAX / 4)

/* The largest alignment allocate_aligned accepts (1 MiB).  Alignments are
 * powers of two from 1 to STRATEGY_MAX_ALIGNMENT inclusive; 0, a value that
 * is not a power of two, or anything larger is refused with
 * STRATEGY_ERROR_INVALID_SIZE. */
#define STRATEGY_MAX_ALIGNMENT ((size_t)1 << 20)

/* The life cycle of a strategy.  Changes happen only by compare-and-swap
 * through the transition table in statetracker.h, which is the single source
 * of truth for which changes are legal:
 *
 *     INITIALIZING --> ACTIVE --> DEGRADED
 *          |             |           |
 *          +-------------+-----------+--> SHUTTING_DOWN --> DESTROYED
 *
 * INITIALIZING   being built; no operation is allowed yet.
 * ACTIVE         allocate, deallocate and every read are allowed.
 * DEGRADED       validation found a broken invariant: new allocations are
 *                refused (STRATEGY_ERROR_ILLEGAL_STATE), frees and reads still
 *                work so that a program can drain its memory.  No way back.
 * SHUTTING_DOWN  destroy has begun; only reads (the leak report) are allowed.
 * DESTROYED      absorbing; nothing is allowed.
 *
 * STRATEGY_STATUS_INVALID is not a state: it is what get_status returns for a
 * NULL or unrecognisable strategy. */
typedef enum StrategyStatus {
    STRATEGY_INITIALIZING = 0,
    STRATEGY_ACTIVE = 1,
    STRATEGY_DEGRADED = 2,
    STRATEGY_SHUTTING_DOWN = 3,
    STRATEGY_DESTROYED = 4,
    STRATEGY_STATUS_INVALID = 5
} StrategyStatus;

/* Number of real states (STRATEGY_STATUS_INVALID excluded). */
#define STRATEGY_STATUS_COUNT 5

/* What went wrong.  Every refused or failed operation records exactly one of
 * these (see get_error_count / get_last_error in default_strategy.h). */
typedef enum StrategyError {
    STRATEGY_OK = 0,
    STRATEGY_ERROR_INVALID_SIZE,       /* size 0, above STRATEGY_MAX_ALLOCATION, overflow, bad alignment */
    STRATEGY_ERROR_OUT_OF_MEMORY,      /* the backend returned NULL */
    STRATEGY_ERROR_ILLEGAL_STATE,      /* the strategy's status forbids the operation */
    STRATEGY_ERROR_INVALID_POINTER,    /* not a block of any live strategy (foreign, interior, reused) */
    STRATEGY_ERROR_ILLEGAL_TRANSITION, /* a status change the transition table forbids */
    STRATEGY_ERROR_LIMIT_EXCEEDED,     /* the allocation would take usage above the memory limit */
    STRATEGY_ERROR_DOUBLE_FREE,        /* a block of this strategy that was already freed */
    STRATEGY_ERROR_WRONG_STRATEGY,     /* a live block of another live strategy */
    STRATEGY_ERROR_CORRUPTED_BLOCK,    /* this strategy's block with damaged metadata or canary */
    STRATEGY_ERROR_LEAK,               /* blocks still allocated at destroy (a report, not a failure) */
    STRATEGY_ERROR_COUNT
} StrategyError;

/* Which operation a status allows (used by the transition table). */
typedef enum StrategyOperation {
    STRATEGY_OP_ALLOCATE = 0,
    STRATEGY_OP_DEALLOCATE,
    STRATEGY_OP_READ,
    STRATEGY_OP_COUNT
} StrategyOperation;

typedef struct MemoryStrategy MemoryStrategy;

/* The vtable.  Each entry receives the strategy itself as its first argument.
 * Every strategy of this library fills all seven entries.  The last three
 * came after the first four, so a vtable written for the first four with a
 * positional initializer still compiles and leaves them NULL: code that takes
 * a MemoryStrategy from elsewhere may check them before calling. */
struct MemoryStrategy {
    /* Returns a block of at least `size` bytes, aligned for any object type,
     * or NULL (with the error recorded) on failure. */
    void* (*allocate)(MemoryStrategy* self, size_t size);
    /* Frees a block returned by any of this strategy's allocating entries.
     * NULL is a no-op. */
    void (*deallocate)(MemoryStrategy* self, void* ptr);
    /* Returns the current status. */
    StrategyStatus (*get_status)(MemoryStrategy* self);
    /* Checks internal invariants; false on any violation.  Never crashes. */
    bool (*validate)(MemoryStrategy* self);
    /* Returns a block of count * size bytes, all zero, aligned as allocate's,
     * or NULL (with the error recorded) on failure, including a product that
     * overflows or is 0. */
    void* (*allocate_zeroed)(MemoryStrategy* self, size_t count, size_t size);
    /* Resizes a block of this strategy to `size` bytes, keeping its contents
     * up to the smaller size; may move it.  NULL ptr allocates.  On failure
     * returns NULL (with the error recorded) and `ptr` is untouched, still
     * valid and still owned by the caller. */
    void* (*reallocate)(MemoryStrategy* self, void* ptr, size_t size);
    /* Returns a block of at least `size` bytes whose address is a multiple of
     * `alignment` (a power of two up to STRATEGY_MAX_ALIGNMENT), freed and
     * resized by deallocate and reallocate, or NULL (with the error
     * recorded). */
    void* (*allocate_aligned)(MemoryStrategy* self, size_t alignment, size_t size);
};

/* Returns the lower-case name of a status ("active", ...), or "invalid" for a
 * value outside the enum.  Never NULL.  Safe from any thread. */
const char* strategy_status_name(StrategyStatus status);

/* Returns the lower-case name of an error ("invalid size", ...), or "unknown"
 * for a value outside the enum.  Never NULL.  Safe from any thread. */
const char* strategy_error_name(StrategyError error);

/* Returns the name of an operation ("allocate", ...), or "unknown". */
const char* strategy_operation_name(StrategyOperation operation);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_MEMORY_STRATEGY_H_ */
