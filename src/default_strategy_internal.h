/* Internal: the private layout of a DefaultStrategy, its block header, and the
 * pieces shared by default_strategy.c (the hot path, life cycle) and
 * default_blocks.c (zeroed, resized and aligned blocks). */
#ifndef MEMSTRATEGY_SRC_DEFAULT_STRATEGY_INTERNAL_H_
#define MEMSTRATEGY_SRC_DEFAULT_STRATEGY_INTERNAL_H_

#include <stdalign.h>
#include <stdlib.h>

#include "default_strategy.h"
#include "memstats_internal.h"
#include "ms_atomic.h"
#include "statetracker_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(MS_ASAN)
#define MS_ASAN 1
#endif
#ifdef MS_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define MS_DEFAULT_MAGIC UINT64_C(0x6d73747261743031) /* "mstrat01" */
#define MS_REPORT_LIMIT 16u

/* Precedes every block.  16 bytes, so the block keeps the backend's 16-byte
 * alignment.  A plain block (allocate, allocate_zeroed, reallocate) has
 * size = the caller's size and check = ms_block_check(block, size, secret),
 * and the backend's block starts at the header.  An aligned block
 * (allocate_aligned with alignment > 16) has size = the caller's size |
 * MS_BLOCK_ALIGNED, a prefix word just before the header (MS_PREFIX_*), and
 * check = ms_aligned_check(block, size word, prefix, secret), which never
 * equals the plain check of the same header, and covers the flag and the
 * prefix.  A freed block's check is cleared before its memory goes back to
 * the backend. */
typedef struct ms_block_header {
    uint64_t size;
    uint64_t check;
} ms_block_header;

/* Bit 63 of an aligned block's size word.  Real sizes are at most
 * STRATEGY_MAX_ALLOCATION (SIZE_MAX/4), so their top two bits are 0. */
#define MS_BLOCK_ALIGNED (UINT64_C(1) << 63)
/* An aligned block's prefix word: bits 0-31 the offset from the backend's
 * block to the caller's block, bits 32-39 log2 of the alignment. */
#define MS_PREFIX_OFFSET_MASK UINT64_C(0xffffffff)
#define MS_PREFIX_SHIFT_BITS 32
/* Room before an aligned block: the prefix word and the header. */
#define MS_ALIGNED_OVERHEAD (sizeof(uint64_t) + sizeof(ms_block_header))

typedef struct ms_default {
    DefaultStrategy pub; /* first: a MemoryStrategy* is an ms_default* */
    /* Read by every operation, written only at create/destroy. */
    uint64_t magic;
    uint64_t secret;
    StrategyBackendAllocate backend_allocate; /* NULL: malloc */
    StrategyBackendFree backend_free;         /* NULL: free */
    void* backend_context;                    /* the parent, if there is one */
    StrategyErrorHandler error_handler;
    void* error_handler_data;
    MemoryStrategy* parent; /* NULL unless the backend is a parent strategy */
    char* name;             /* copy of config.name, or NULL */
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

/* An aligned block's check word: the plain check of its size word (flag
 * included) XOR a term that is never 0 (an odd multiple of prefix + 1, and
 * the prefix is never all ones), so it never matches the plain check and a
 * changed flag, size or prefix does not match. */
static inline uint64_t ms_aligned_check(const void* block, uint64_t word, uint64_t prefix, uint64_t secret) {
    return ms_block_check(block, word, secret) ^ ((prefix + 1) * UINT64_C(0xd6e8feb86659fd93));
}

/* True if `size` bytes at `p` may be read.  Under ASan a foreign or freed
 * pointer's header may be poisoned: reading it would be reported as the
 * library's own error, so we look first.  Elsewhere the read is done. */
static inline bool ms_readable(const void* p, size_t size) {
#ifdef MS_ASAN
    return __asan_region_is_poisoned((void*)(uintptr_t)p, size) == NULL;
#else
    (void)p;
    (void)size;
    return true;
#endif
}

/* A live block found by ms_find_block. */
typedef struct ms_block {
    ms_block_header* header;
    void* raw;     /* what the backend returned */
    uint64_t size; /* the caller's size */
    bool aligned;
    unsigned shift; /* aligned blocks: log2 of the alignment */
} ms_block;

/* The aligned case of ms_find_block, given the header that did not match as
 * a plain one (out of line: the plain case is the hot one). */
bool ms_find_aligned_block(const ms_default* s, void* ptr, ms_block_header* header, ms_block* out);

/* The checks every operation on an existing block makes (deallocate,
 * reallocate): true and *out filled if `ptr` is a live block of `s`.  A
 * pointer that is not 16-aligned is refused without reading memory.  Only a
 * local copy is passed to the slow path, so the caller's ms_block stays in
 * registers on the hot path. */
static inline bool ms_find_block(const ms_default* s, void* ptr, ms_block* out) {
    ms_block_header* header = (ms_block_header*)ptr - 1;
    if (MS_UNLIKELY(((uintptr_t)ptr & 15u) != 0 || !ms_readable(header, sizeof *header))) return false;
    uint64_t size = header->size;
    if (MS_UNLIKELY(header->check != ms_block_check(ptr, size, s->secret))) {
        ms_block found;
        if (!ms_find_aligned_block(s, ptr, header, &found)) return false;
        *out = found;
        return true;
    }
    out->header = header;
    out->raw = header;
    out->size = size;
    out->aligned = false;
    out->shift = 0;
    return true;
}

static inline void ms_backend_release(ms_default* s, void* raw) {
    if (s->backend_free == NULL) {
        free(raw);
    } else {
        s->backend_free(s->backend_context, raw);
    }
}

/* Gives a found block back to the backend: first its check is cleared, so
 * the address no longer matches as a live block. */
static inline void ms_release_block(ms_default* s, const ms_block* block) {
    block->header->check = 0;
    ms_backend_release(s, block->raw);
}

/* ---- error paths (cold, default_strategy.c) ---------------------------- */

/* Counts `error` (except a leak report), records it as the last error, calls
 * the handler. */
void ms_default_report(ms_default* s, StrategyError error, const void* pointer, size_t size,
                       uint64_t blocks);
/* Reports a refused allocating request and returns NULL.  Also records, for
 * a child whose parent this strategy is, why it refused (see
 * ms_refuse_backend_failure). */
void* ms_refuse_request(ms_default* s, StrategyError error, const void* pointer, size_t size);
/* The backend (or parent) returned NULL: STRATEGY_ERROR_LIMIT_EXCEEDED if
 * it was a parent refusing because of its limit, otherwise
 * STRATEGY_ERROR_OUT_OF_MEMORY.  Returns NULL. */
void* ms_refuse_backend_failure(ms_default* s, const void* pointer, size_t size);
/* The limit refused a block the backend already gave: hands it back (its
 * header's check cleared) and reports.  Returns NULL. */
void* ms_refuse_over_limit(ms_default* s, ms_block_header* header, void* raw, size_t size);

/* Before calling a parent: forget the reason of this thread's last refusal,
 * so ms_refuse_backend_failure only sees the parent's. */
void ms_parent_call_begins(void);

/* ms_commit_plain when the accounting fast path declined (out of line). */
void* ms_commit_plain_slow(ms_default* s, void* raw, size_t size);

/* Stamps a plain block's header at `raw` and records the allocation; on a
 * limit refusal hands the memory back.  Returns the block or NULL.  The fast
 * path calls nothing (the slow one is a tail call). */
static inline void* ms_commit_plain(ms_default* s, void* raw, size_t size) {
    ms_block_header* header = raw;
    void* block = header + 1;
    header->size = size;
    header->check = ms_block_check(block, size, s->secret);
    if (MS_UNLIKELY(!ms_stats_try_alloc(&s->stats, size))) return ms_commit_plain_slow(s, raw, size);
    return block;
}

#endif /* MEMSTRATEGY_SRC_DEFAULT_STRATEGY_INTERNAL_H_ */
