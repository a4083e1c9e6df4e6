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
 * size = the caller's size and check = ms_block_check(block, size, base),
 * and the backend's block starts at the header.  An aligned block
 * (allocate_aligned with alignment > 16) has size = the caller's size |
 * MS_BLOCK_ALIGNED, a prefix word just before the header (MS_PREFIX_*), and
 * check = ms_aligned_check(block, size word, base), which never equals the
 * plain check of the same header (a changed flag does not match either
 * way), so the prefix is read only once the header has proved the block is
 * an aligned block of this strategy; the prefix carries its own seal
 * (ms_prefix_seal).  A plain block's check is XORed with its strategy's
 * plain_tweak: 0 over malloc, MS_BACKEND_TWEAK over a backend or a parent,
 * MS_CACHE_TWEAK with a thread cache (config.thread_cache_blocks),
 * MS_DEBUG_TWEAK with a debug option (quarantine, check_overflow,
 * track_allocations; the hot paths' comparisons then fail and every block
 * takes the out-of-line path), and with a debug option every block may be
 * followed by a canary (ms_canary).
 *
 * The check is the block's address XOR its size XOR the strategy's
 * check_base (its tag, nonzero and distinct among live strategies, in the
 * high 32 bits, see default_misuse.c; the secret's low half below) XOR the
 * kind's tweak, where a plain block's size is its size word and an aligned
 * block's the size word without the flag; so the tag is the high half of
 * check ^ address ^ size (ms_check_tag).  A freed block's check has the
 * low 31 bits inverted (MS_FREED_FLIP) before its memory goes back to the
 * backend (or into the quarantine), so a second free of it is told from a
 * pointer that was never a block. */
typedef struct ms_block_header {
    uint64_t size;
    uint64_t check;
} ms_block_header;

/* Bit 63 of an aligned block's size word.  Real sizes are at most
 * STRATEGY_MAX_ALLOCATION (SIZE_MAX/4), so their top two bits are 0. */
#define MS_BLOCK_ALIGNED (UINT64_C(1) << 63)
/* An aligned block's prefix word: bits 0-31 the offset from the backend's
 * block to the caller's block, bits 32-39 log2 of the alignment, bits 40-63
 * a seal over the rest, the block's address and the strategy's secret. */
#define MS_PREFIX_OFFSET_MASK UINT64_C(0xffffffff)
#define MS_PREFIX_SHIFT_BITS 32
#define MS_PREFIX_SEAL_BITS 40
#define MS_PREFIX_LOW_MASK ((UINT64_C(1) << MS_PREFIX_SEAL_BITS) - 1)
/* XORed into the low half of an aligned block's check (distinct from 0,
 * MS_FREED_FLIP and MS_DEBUG_TWEAK, with or without the flip). */
#define MS_ALIGNED_TWEAK UINT64_C(0x4b7e1d93)
/* Room before an aligned block: the prefix word and the header. */
#define MS_ALIGNED_OVERHEAD (sizeof(uint64_t) + sizeof(ms_block_header))
/* XORed into a live check to mark the block freed.  31 bits, so the XOR
 * is one instruction with an immediate operand on x86-64. */
#define MS_FREED_FLIP UINT64_C(0x7fffffff)
/* XORed into a plain block's check on a strategy with debug options.  Not
 * 0 and not MS_FREED_FLIP. */
#define MS_DEBUG_TWEAK UINT64_C(0x2c1b3c6d)
/* XORed into a plain block's check on a strategy without debug options over
 * a configured backend or a parent, so the hot path over malloc
 * (default_deallocate) never takes its block for one of its own kind and
 * hands it to malloc's free.  Distinct from 0 and the other tweaks, with or
 * without MS_FREED_FLIP. */
#define MS_BACKEND_TWEAK UINT64_C(0x15a3c96e)
/* XORed into a plain block's check on a strategy with a thread cache
 * (config.thread_cache_blocks) and no debug option or parent: its blocks go
 * through that kind's hot path.  Distinct from 0 and the other tweaks, with
 * or without MS_FREED_FLIP. */
#define MS_CACHE_TWEAK UINT64_C(0x3d5e87a1)
/* The thread cache's size classes: class c (1 .. MS_CACHE_CLASSES-1)
 * holds freed plain blocks of 8c-7 .. 8c bytes, whose backend blocks the
 * strategy requested for 8c bytes (8c+16 with the header:
 * ms_plain_request), and serves requests of the same sizes; blocks of up to
 * MS_CACHE_MAX_SIZE bytes are cached.  Rounding a request up to a multiple
 * of 8 costs no memory on glibc's malloc, jemalloc or mimalloc: each hands
 * out the same block for 8c+16 bytes as for any request of 8c+9 .. 8c+16
 * (their usable sizes are multiples of 8; glibc's chunks of 16k bytes
 * hold requests of up to 16k-8). */
#define MS_CACHE_CLASSES 256u
#define MS_CACHE_MAX_SIZE (8u * (MS_CACHE_CLASSES - 1u))
/* The class of a block of `size` (1 .. MS_CACHE_MAX_SIZE) bytes. */
#define MS_CACHE_CLASS(size) (((size) + 7u) >> 3)
/* The room of a block of class c: what the backend is asked for beyond the
 * header. */
#define MS_CACHE_ROOM(c) (8u * (c))
/* The most blocks per class config.thread_cache_blocks may ask for. */
#define MS_CACHE_MAX_BLOCKS 4096u
/* Bytes of the trailing canary (check_overflow). */
#define MS_CANARY_BYTES 8u

/* Where a block was allocated (config.track_allocations): the return
 * address of the call into the strategy, and file:line from
 * STRATEGY_ALLOCATE (NULL, 0 otherwise). */
typedef struct ms_site {
    const void* pc;
    const char* file;
    int line;
} ms_site;

/* The record of live blocks (default_tracking.c). */
typedef struct ms_tracking ms_tracking;

/* One thread's cache of freed blocks of one strategy (config.
 * thread_cache_blocks = N), kept in the owner cell of the thread's
 * statistics slot: only the thread holding that index touches it (the next
 * holder inherits it through the registry's release/acquire), and destroy,
 * which runs alone, gives its blocks back to the backend.  Per class two
 * lists of backend blocks (their header first) linked through their
 * headers (the size word holds the next block's header, the check word
 * seals it: cache_key in default_strategy.c): head[c], which
 * allocations pop and frees push (up to N blocks), and spare[c], NULL or a
 * full list of N blocks (a full head[c] moves there, and it moves back when
 * head[c] runs empty).  Only spare lists go to the depot, and a list taken
 * from the depot becomes head[c], so a thread whose use of a class swings
 * by fewer than N blocks never touches the depot.  A free that finds
 * both lists of class c full hands the spare list to the depot; if the
 * depot's lists of the class are all taken, the freed block itself goes
 * back to the backend and both lists stay, and so do the blocks of the
 * thread's next spill[c] frees that find the lists full (N - 1 of them:
 * the depot is looked at once per N such frees).  So a thread that frees
 * more of a class than it reuses (the end of a burst, a consumer) keeps
 * the blocks it freed first and gives the rest back in the order it freed
 * them, as it would without the cache, rather than keeping its latest
 * blocks and pinning them through the backend's free memory (MS_CACHE_SPILL,
 * see The thread cache in docs/PERFORMANCE.md).  Such a thread frees the
 * class as well as allocating it: its next cooldown[c] refills skip the
 * depot and ask the backend, so two such threads do not trade their lists
 * through the depot, which would leave each with blocks next to the
 * other's in memory, written from both cores (MS_CACHE_COOLDOWN); a thread
 * that only allocates a class never fills its lists and takes from the
 * depot at once.  Each block's check stays a freed one (computed with the
 * link as its size), so a second free of a cached block is
 * STRATEGY_ERROR_DOUBLE_FREE. */
typedef struct ms_thread_cache {
    void* head[MS_CACHE_CLASSES]; /* first: the hot paths index it (and count) with no added offset */
    uint16_t count[MS_CACHE_CLASSES]; /* blocks in head[c], at most cache_blocks */
    void* spare[MS_CACHE_CLASSES];
    uint8_t cooldown[MS_CACHE_CLASSES]; /* refills of class c still to skip the depot */
    uint8_t spill[MS_CACHE_CLASSES];    /* frees of class c into full lists still to give straight back */
} ms_thread_cache;

/* The refills of a class that skip the depot after a free into the
 * thread's full lists of the class looked at the depot: 2N (at most 255). */
#define MS_CACHE_COOLDOWN(blocks) ((uint8_t)((blocks) < 128u ? 2u * (blocks) : 255u))

/* The frees into full lists of a class that give their block straight back
 * after the depot had no room for the class's spare list: N - 1 (at most
 * 255), so the depot is looked at once per N. */
#define MS_CACHE_SPILL(blocks) ((uint8_t)((blocks) <= 256u ? (blocks) - 1u : 255u))

/* Lists the depot holds per class. */
#define MS_DEPOT_LISTS 4u

/* The thread cache's depot, shared by the strategy's threads: a thread whose
 * class's two lists are full hands its spare list (cache_blocks blocks) to
 * an empty slot by compare-and-swap from NULL (release), and a thread whose
 * class's two lists are empty takes a whole list by exchange with NULL
 * (acquire), so blocks freed by one thread serve another thread's
 * allocations.  Each list has exactly one owner at any time
 * (models/CacheDepot.tla); destroy gives the lists back. */
typedef struct ms_cache_depot {
    _Atomic(ms_block_header*) list[MS_CACHE_CLASSES][MS_DEPOT_LISTS]; /* NULL: empty */
} ms_cache_depot;

typedef struct ms_default {
    DefaultStrategy pub; /* first: a MemoryStrategy* is an ms_default* */
    /* Read by every operation, written only at create/destroy. */
    uint64_t magic;
    /* tag << 32 | low 32 bits of the secret: XORed into every check word. */
    uint64_t check_base;
    /* The allocation gates: the largest size each hot path serves, one per
     * kind (ms_default_vtable).  STRATEGY_MAX_ALLOCATION for the path of the
     * strategy's own kind while it is ACTIVE, 0 otherwise: so the hot path's
     * one comparison of the size also covers the status, and every other
     * request (an invalid size, a status other than ACTIVE, a direct
     * default_allocate call on a strategy over a backend, a debug option)
     * takes the out-of-line path, which checks everything.  Opened before
     * the strategy is published; closed (ms_close_gates) before any
     * transition out of ACTIVE, which never comes back, so a gate read open
     * means the status was ACTIVE at that moment (models/StrategyLifecycle,
     * GateInv).  Relaxed loads and stores: the store is ordered before the
     * transition's release CAS, so a thread that saw the new status sees the
     * gate closed. */
    _Atomic size_t malloc_gate;  /* default_allocate */
    _Atomic size_t backend_gate; /* the hot path over a backend or parent */
    _Atomic size_t cache_gate;   /* the hot path with a thread cache */
    /* XORed into every plain block's check: 0, MS_BACKEND_TWEAK,
     * MS_CACHE_TWEAK or MS_DEBUG_TWEAK (see ms_block_header). */
    uint64_t plain_tweak;
    uint64_t cache_blocks; /* config.thread_cache_blocks (0 without a cache) */
    ms_cache_depot* depot; /* with a thread cache, else NULL */
    StrategyBackendAllocate backend_allocate; /* NULL: malloc */
    StrategyBackendFree backend_free;         /* NULL: free */
    void* backend_context;                    /* the parent, if there is one */
    uint64_t secret;
    StrategyErrorHandler error_handler;
    void* error_handler_data;
    MemoryStrategy* parent; /* NULL unless the backend is a parent strategy */
    char* name;             /* copy of config.name, or NULL */
    /* Debug options (config), read only off the hot path. */
    bool debug;           /* quarantine, check_overflow or track_allocations */
    bool abort_on_misuse; /* abort() after reporting a misuse error */
    size_t canary_bytes;  /* MS_CANARY_BYTES with check_overflow, else 0 */
    size_t quarantine_slots;
    _Atomic(void*)* quarantine; /* quarantine_slots backend blocks, NULL if none */
    _Atomic uint64_t quarantine_next;
    unsigned registry_slot; /* index + 1 in the live-strategy registry, 0: none */
    ms_tracking* tracking;  /* the record of live blocks, NULL unless tracking */
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

/* The check word: the block's address XOR its size word XOR `base` (the
 * tag << 32 | the secret's low half).  Each bit of each input reaches the
 * check, so any change to one field (the size word, or the check), a
 * header copied to another address, or a block of another strategy
 * (another tag) does not match; only a change to both fields that keeps
 * their XOR does.  Bit 62 of an address or a size word is 0 and the tag's
 * bit 30 is 1 (ms_registry_claim), so no live or freed check is 0. */
static inline uint64_t ms_block_check(const void* block, uint64_t size, uint64_t base) {
    return (uint64_t)(uintptr_t)block ^ size ^ base;
}

/* The tag of the strategy whose block has this check, address and size
 * word, plain or aligned (for a header that passes neither check, the tag
 * it claims). */
static inline uint32_t ms_check_tag(const void* block, uint64_t word, uint64_t check) {
    return (uint32_t)((check ^ (uint64_t)(uintptr_t)block ^ (word & ~MS_BLOCK_ALIGNED)) >> 32);
}

/* An aligned block's check word: the plain check of its size (the size
 * word without the flag) XOR MS_ALIGNED_TWEAK.  It never matches a plain
 * check (the tweaks differ), so a changed flag does not match either way.
 * The flag is left out so that the check's high half is the tag XOR the
 * address and the size for every block: a change to the check's top bit is
 * then never taken for a change to the flag (ms_classify_misuse).  A
 * changed size does not match; the prefix (offset and alignment) carries
 * its own seal. */
static inline uint64_t ms_aligned_check(const void* block, uint64_t word, uint64_t base) {
    return ms_block_check(block, word & ~MS_BLOCK_ALIGNED, base) ^ MS_ALIGNED_TWEAK;
}

/* The prefix word of an aligned block: `low` (offset and shift) sealed with
 * the block's address and the secret, so a damaged prefix is detected before
 * it is used to find the backend's pointer. */
static inline uint64_t ms_prefix_seal(const void* block, uint64_t low, uint64_t base) {
    uint64_t seal = (((uint64_t)(uintptr_t)block ^ low) * UINT64_C(0xd6e8feb86659fd93)) ^ base;
    return (low & MS_PREFIX_LOW_MASK) | (seal & ~MS_PREFIX_LOW_MASK); /* the product's top bits */
}

/* The check of a plain block as this strategy stamps it. */
static inline uint64_t ms_plain_check(const ms_default* s, const void* block, uint64_t size) {
    return ms_block_check(block, size, s->check_base) ^ s->plain_tweak;
}

/* Stamps the header of a plain block of `size` bytes at `raw` with the
 * check of the given tweak (the strategy's plain_tweak, which a hot path
 * knows as a constant).  Returns the block. */
static inline void* ms_stamp_plain(const ms_default* s, void* raw, size_t size, uint64_t tweak) {
    ms_block_header* header = raw;
    void* block = header + 1;
    header->size = size;
    header->check = ms_block_check(block, size, s->check_base) ^ tweak;
    return block;
}

typedef void* (*ms_allocate_fn)(MemoryStrategy* self, size_t size);
typedef void (*ms_deallocate_fn)(MemoryStrategy* self, void* ptr);

/* Closes every allocation gate (see ms_default): before any transition out
 * of ACTIVE. */
static inline void ms_close_gates(ms_default* s) {
    ms_store_relaxed(&s->malloc_gate, 0);
    ms_store_relaxed(&s->backend_gate, 0);
    ms_store_relaxed(&s->cache_gate, 0);
}

/* The allocate and deallocate entries of the strategy's vtable: default_*
 * over malloc and with a debug option, the backend kind's hot path over a
 * backend or a parent, the cache kind's with a thread cache
 * (default_strategy.c). */
void ms_default_vtable(const ms_default* s, ms_allocate_fn* allocate, ms_deallocate_fn* deallocate);

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

/* The out-of-line case of ms_find_block, given the header that did not match
 * as a hot-path plain one: an aligned block, a plain block of a strategy
 * with debug options (its canary checked), or misuse.  Returns STRATEGY_OK
 * with *out filled, or the misuse error (ms_classify_misuse). */
StrategyError ms_find_other_block(const ms_default* s, void* ptr, ms_block_header* header, ms_block* out);

/* Why `ptr` is not a live block of `s`: STRATEGY_ERROR_DOUBLE_FREE,
 * _WRONG_STRATEGY, _CORRUPTED_BLOCK or _INVALID_POINTER (default_misuse.c).
 * Reads the header only if it is 16-aligned and readable. */
StrategyError ms_classify_misuse(const ms_default* s, const void* ptr);

/* The checks every operation on an existing block makes (deallocate,
 * reallocate): STRATEGY_OK and *out filled if `ptr` is a live block of `s`,
 * else the misuse error.  A pointer that is not 16-aligned is refused
 * without reading memory. */
/* Describes a plain block: the backend's block starts at its header. */
static inline void ms_plain_block(ms_block_header* header, uint64_t size, ms_block* out) {
    out->header = header;
    out->raw = header;
    out->size = size;
    out->aligned = false;
    out->shift = 0;
}

static inline StrategyError ms_find_block(const ms_default* s, void* ptr, ms_block* out) {
    ms_block_header* header = (ms_block_header*)ptr - 1;
    if (((uintptr_t)ptr & 15u) != 0 || !ms_readable(header, sizeof *header)) {
        return STRATEGY_ERROR_INVALID_POINTER;
    }
    uint64_t size = header->size;
    if (header->check != ms_block_check(ptr, size, s->check_base)) {
        return ms_find_other_block(s, ptr, header, out);
    }
    ms_plain_block(header, size, out);
    return STRATEGY_OK;
}

/* What the backend is asked for to hold a plain block of `size` bytes: the
 * header, the block and the canary; with a thread cache a block of a cached
 * size gets the room of its whole size class, so once freed it can serve any
 * request of that class. */
static inline size_t ms_plain_request(const ms_default* s, size_t size) {
    if (s->cache_blocks != 0 && size <= MS_CACHE_MAX_SIZE) size = MS_CACHE_ROOM(MS_CACHE_CLASS(size));
    return size + sizeof(ms_block_header) + s->canary_bytes;
}

static inline void* ms_backend_obtain(ms_default* s, size_t bytes) {
    return s->backend_allocate == NULL ? malloc(bytes) : s->backend_allocate(s->backend_context, bytes);
}

static inline void ms_backend_release(ms_default* s, void* raw) {
    if (MS_LIKELY(s->backend_free == NULL)) {
        free(raw);
    } else {
        s->backend_free(s->backend_context, raw);
    }
}

/* Under ASan: `bytes` at `block` become off limits (poison) or addressable
 * again (unpoison); nothing otherwise.  For the thread cache's blocks. */
static inline void ms_cache_poison(void* block, size_t bytes) {
#ifdef MS_ASAN
    ASAN_POISON_MEMORY_REGION(block, bytes);
#else
    (void)block;
    (void)bytes;
#endif
}

static inline void ms_cache_unpoison(void* block, size_t bytes) {
#ifdef MS_ASAN
    ASAN_UNPOISON_MEMORY_REGION(block, bytes);
#else
    (void)block;
    (void)bytes;
#endif
}

/* Before a plain block of `size` bytes of a strategy with a thread cache
 * goes back to the backend, which owns all of it again: under ASan a block
 * popped from the cache has only its requested bytes addressable (cache_pop
 * in default_strategy.c), the rest of its class's room still poisoned. */
static inline void ms_cache_unpoison_room(const ms_default* s, void* block, uint64_t size) {
    if (s->cache_blocks != 0 && size <= MS_CACHE_MAX_SIZE) {
        ms_cache_unpoison(block, MS_CACHE_ROOM(MS_CACHE_CLASS((size_t)size)));
    }
}

/* Puts a freed block into the quarantine; the block pushed out (if any) goes
 * back to the backend (default_misuse.c). */
void ms_quarantine_push(ms_default* s, void* raw);

/* The record of live blocks (default_tracking.c): create/destroy with the
 * strategy; a block is added once counted, and removed before its memory
 * goes back (so its address cannot be recorded again first). */
ms_tracking* ms_tracking_create(void);
void ms_tracking_destroy(ms_tracking* tracking);
void ms_track_add(ms_default* s, const void* block, size_t size, const ms_site* site);
void ms_track_remove(ms_default* s, const void* block);

/* Gives a found block back to the backend (or the quarantine): first its
 * check is marked freed, so the address no longer matches as a live block
 * and a second free is recognised while the header is intact. */
static inline void ms_release_block(ms_default* s, const ms_block* block) {
    if (s->tracking != NULL) ms_track_remove(s, block->header + 1);
    if (!block->aligned) ms_cache_unpoison_room(s, block->header + 1, block->size);
    block->header->check ^= MS_FREED_FLIP;
    if (s->quarantine != NULL) {
        ms_quarantine_push(s, block->raw);
        return;
    }
    ms_backend_release(s, block->raw);
}

/* Writes the canary after a block of `size` bytes (check_overflow). */
void ms_write_canary(const ms_default* s, void* block, size_t size);

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

/* Refuses a misuse (reports it; aborts with abort_on_misuse).  Returns NULL. */
void* ms_refuse_misuse(ms_default* s, StrategyError error, const void* pointer, size_t size);

/* The registry of live strategies' tags (default_misuse.c): claims a tag for
 * `s` (setting check_base and registry_slot) at create, clears it at destroy. */
void ms_registry_claim(ms_default* s);
void ms_registry_release(ms_default* s);
/* Releases every block in the quarantine to the backend (destroy). */
void ms_quarantine_drain(ms_default* s);

/* Stamps a plain block's header (and canary) at `raw` as this strategy
 * stamps it and records the allocation (and, tracking, the block at `site`);
 * on a limit refusal hands the memory back.  Returns the block or NULL.  For
 * every path but the hot one. */
void* ms_commit_block(ms_default* s, void* raw, size_t size, const ms_site* site);

/* default_allocate off the hot path: an invalid size, or a strategy with a
 * debug option.  `site` is where the caller called from. */
void* ms_allocate_slow(ms_default* s, size_t size, const ms_site* site);

/* ms_commit_plain when the accounting fast path declined (out of line). */
void* ms_commit_plain_slow(ms_default* s, void* raw, size_t size);

/* Stamps a plain block's header at `raw` (with the strategy's plain_tweak,
 * known to the caller as `tweak`) and records the allocation; on a limit
 * refusal hands the memory back.  Returns the block or NULL.  The fast path
 * calls nothing (the slow one is a tail call).  `slot_cached`: the caller
 * has just seen ms_stats_slot_cached true for the strategy's statistics
 * (a constant at every call, so each caller gets only its own test). */
static MS_ALWAYS_INLINE void* ms_commit_plain(ms_default* s, void* raw, size_t size, uint64_t tweak,
                                              bool slot_cached) {
    void* block = ms_stamp_plain(s, raw, size, tweak);
    bool counted = slot_cached ? ms_stats_try_alloc_cached(&s->stats, size) : ms_stats_try_alloc(&s->stats, size);
    if (MS_UNLIKELY(!counted)) return ms_commit_plain_slow(s, raw, size);
    return block;
}

#endif /* MEMSTRATEGY_SRC_DEFAULT_STRATEGY_INTERNAL_H_ */
