/* Internal, test-only: ways to break a strategy's private state on purpose,
 * so tests can check that validation notices, and undo it afterwards.  Not
 * part of the public API; linked only into tests and fuzz targets. */
#ifndef MEMSTRATEGY_SRC_TESTING_HOOKS_H_
#define MEMSTRATEGY_SRC_TESTING_HOOKS_H_

#include "default_strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum MsCorruption {
    MS_CORRUPT_MAGIC = 0,     /* the strategy's magic number */
    MS_CORRUPT_STATUS,        /* a status value outside the enum */
    MS_CORRUPT_VTABLE,        /* base.allocate replaced */
    MS_CORRUPT_ALLOC_OPS,     /* the calling thread's allocation count above its bytes */
    MS_CORRUPT_FREED_BYTES,   /* the calling thread's freed bytes above all allocated */
    MS_CORRUPT_LOCAL_PEAK,    /* the calling thread's local peak below its usage */
    MS_CORRUPT_CHUNK_OWNER,   /* the calling thread's slot chunk claims another owner */
    MS_CORRUPT_COUNT
} MsCorruption;

/* Applies one corruption (the calling thread must have operated on the
 * strategy for the per-thread kinds).  Returns false if it cannot. */
bool ms_testing_corrupt(DefaultStrategy* strategy, MsCorruption kind);

/* Undoes the last ms_testing_corrupt on this strategy. */
void ms_testing_undo(DefaultStrategy* strategy);

/* Releases the calling thread's index as thread exit would. */
void ms_testing_release_thread_index(void);

/* The header check word a block of `size` at `block` would carry. */
uint64_t ms_testing_block_check(const DefaultStrategy* strategy, const void* block, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_SRC_TESTING_HOOKS_H_ */
