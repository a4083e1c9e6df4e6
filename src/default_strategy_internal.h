/* Internal: the private layout of a DefaultStrategy and its block header. */
#ifndef MEMSTRATEGY_SRC_DEFAULT_STRATEGY_INTERNAL_H_
#define MEMSTRATEGY_SRC_DEFAULT_STRATEGY_INTERNAL_H_

#include <stdalign.h>

#include "default_strategy.h"
#include "memstats_internal.h"
#include "ms_atomic.h"
#include "statetracker_internal.h"

#define MS_DEFAULT_MAGIC UINT64_C(0x6d73747261743031) /* "mstrat01" */
#define MS_REPORT_LIMIT 16u

/* Precedes every block.  16 bytes, so the block keeps the backend's 16-byte
 * alignment.  check = ms_block_check(block, size, secret); a freed block's
 * check is cleared before its memory goes back to the backend. */
typedef struct ms_block_header {
    uint64_t size;
    uint64_t check;
} ms_block_header;

typedef struct ms_default {
    DefaultStrategy pub; /* first: a MemoryStrategy* is an ms_default* */
    /* Read by every operation, written only at create/destroy. */
    uint64_t magic;
    uint64_t secret;
    StrategyBackendAllocate backend_allocate; /* NULL: malloc */
    StrategyBackendFree backend_free;         /* NULL: free */
    void* backend_context;
    StrategyErrorHandler error_handler;
    void* error_handler_data;
    StateTracker tracker;
    /* Written only on error paths. */
    alignas(MS_CACHE_LINE) _Atomic uint64_t errors[STRATEGY_ERROR_COUNT];
    _Atomic uint32_t last_error;
    _Atomic uint32_t reports; /* lines the default handler printed */
    /* Per-thread slots; written on every operation, one line per thread. */
    alignas(MS_CACHE_LINE) MemStats stats;
} ms_default;

static inline ms_default* ms_default_of(MemoryStrategy* base) { return (ms_default*)base; }
static inline const ms_default* ms_default_const(const DefaultStrategy* s) {
    return (const ms_default*)s;
}

/* The check word: mixes the block address and size, then the secret, so a
 * header copied to another address, a changed size, or a block of another
 * strategy (another secret) does not match. */
static inline uint64_t ms_block_check(const void* block, uint64_t size, uint64_t secret) {
    return (((uint64_t)(uintptr_t)block ^ size) * UINT64_C(0x9e3779b97f4a7c15)) ^ secret;
}

#endif /* MEMSTRATEGY_SRC_DEFAULT_STRATEGY_INTERNAL_H_ */
