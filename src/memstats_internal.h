/* Internal: the layout of MemStats and the inline recording fast paths used
 * by the strategies.
 *
 * Protocol (modelled in models/UsageCounting.tla, checked by its twin
 * models/UsageCounting.pml):
 *
 *  - Each thread index (thread_registry.h) owns one slot per MemStats.  Only
 *    the owner writes it, with plain atomic stores; anyone may read it.
 *  - A slot keeps cumulative alloc/free bytes and operation counts, the high
 *    water mark of its own net usage (local_peak), and `reserved`: how many
 *    bytes it has added to the shared `reserved_total`.
 *  - Invariant kept by every operation: net <= reserved <= net + 2*batch,
 *    where net = alloc_bytes - freed_bytes of that slot.  An operation that
 *    would break it first moves reserved_total (and raises reserved_peak),
 *    then stores its slot: the shared update is the operation's
 *    linearisation point, so reserved_total >= true current usage at every
 *    moment and reserved_peak >= the true high-water mark.
 *  - Resetting the peak bumps peak_epoch, gives the statistics a fresh id (so
 *    every thread's cached slot misses once and takes the slow path, which
 *    checks the epoch) and restarts reserved_peak from reserved_total.  A slot whose epoch is behind restarts its local peak
 *    from its net usage at its next operation; until then a reader counts
 *    its current net usage instead (it has not moved since the reset).
 *  - peak = min(reserved_peak, sum of local_peak): both are upper bounds; the
 *    second is exact when a single slot did everything, the first is within
 *    2*BATCH per slot of the truth.
 *  - A limit (0: none) is enforced on reserved_total: a reservation that
 *    would take it above the limit asks for less slack, then for none, then
 *    fails, and the allocation is refused.  Since current usage never
 *    exceeds reserved_total, it never exceeds the limit; with one thread
 *    (no one else holds slack) usage can reach the limit exactly.  Under a
 *    limit the batch shrinks to limit/256, so idle threads cannot hold much
 *    of the budget.
 *  - Threads beyond MS_MAX_THREADS share `overflow` with read-modify-writes
 *    and go straight to reserved_total (no slack), which disables the
 *    local-peak bound.
 */
#ifndef MEMSTRATEGY_SRC_MEMSTATS_INTERNAL_H_
#define MEMSTRATEGY_SRC_MEMSTATS_INTERNAL_H_

#include <stdalign.h>

#include "memstats.h"
#include "ms_atomic.h"
#include "thread_registry.h"

#define MS_SLOTS_PER_CHUNK 64u
#define MS_CHUNKS (MS_MAX_THREADS / MS_SLOTS_PER_CHUNK)
#define MS_STATS_MAGIC UINT64_C(0x6d73746174733031) /* "mstats01" */
/* Size class k counts allocations of 2^k .. 2^(k+1)-1 bytes. */
#define MS_SIZE_CLASSES 64u

/* One cache line, written only by the thread holding its index.  Each byte
 * counter is stored with release after its operation count... see
 * ms_stats_on_alloc for the exact order and what it pairs with. */
typedef struct ms_slot {
    alignas(MS_CACHE_LINE) _Atomic uint64_t alloc_bytes;
    _Atomic uint64_t freed_bytes;
    _Atomic uint64_t alloc_ops;
    _Atomic uint64_t free_ops;
    _Atomic uint64_t local_peak; /* max of net (two's complement) since `epoch` began */
    _Atomic uint64_t reserved;   /* this slot's share of reserved_total (two's complement) */
    _Atomic uint64_t epoch;      /* the peak_epoch local_peak belongs to */
    /* With a size histogram: MS_SIZE_CLASSES owner-written counters,
     * allocated on the slot's first allocation and published with release;
     * NULL otherwise. */
    _Atomic(_Atomic uint64_t*) size_classes;
} ms_slot;

typedef struct ms_slot_chunk {
    ms_slot slots[MS_SLOTS_PER_CHUNK];
    const MemStats* owner; /* set before publication; checked by validate */
    uint64_t magic;
} ms_slot_chunk;

struct MemStats {
    uint64_t magic;
    /* Unique, never 0: the key of the per-thread slot cache.  Replaced by a
     * fresh one at every peak reset, so a cached slot is always one whose
     * peak epoch is current (see ms_stats_reset_peak). */
    _Atomic uint64_t id;
    uint64_t limit; /* 0: unlimited; fixed at creation */
    uint64_t batch; /* slack a slot reserves ahead; see ms_stats_batch_for */
    uint64_t slack_max; /* 2 * batch: a free above this much slack unreserves */
    _Atomic uint64_t peak_epoch; /* bumped by ms_stats_reset_peak */
    /* Chunk c holds the slots of thread indices c*64 .. c*64+63.  Published
     * once by CAS (release), read with acquire. */
    _Atomic(ms_slot_chunk*) chunks[MS_CHUNKS];
    /* Touched only when a slot moves by more than a batch. */
    alignas(MS_CACHE_LINE) _Atomic int64_t reserved_total;
    _Atomic int64_t reserved_peak;
    /* Fixed before the statistics are shared.  With a histogram, slots are
     * never put in the per-thread cache, so every operation takes the full
     * path, which counts the size class: no cost without it. */
    bool size_histogram;
    /* Size classes of allocations by threads without a slot (or whose
     * slot's counters could not be allocated); read-modify-write. */
    _Atomic uint64_t shared_size_classes[MS_SIZE_CLASSES];
    /* Set once a thread without an index has recorded anything. */
    _Atomic uint32_t overflow_used;
    /* Shared by threads without an index (read-modify-write). */
    ms_slot overflow;
};

/* The batch for a limit: MEMSTATS_BATCH_BYTES, or limit/256 if smaller. */
static inline uint64_t ms_stats_batch_for(uint64_t limit) {
    return (limit != 0 && limit / 256 < MEMSTATS_BATCH_BYTES) ? limit / 256 : MEMSTATS_BATCH_BYTES;
}

/* Counts an allocation's size class (full path only, with a histogram). */
void ms_stats_count_size(MemStats* stats, ms_slot* slot, uint64_t bytes);
/* Adds every slot's size classes into out[MS_SIZE_CLASSES] (zeroed first). */
void ms_stats_fold_size_classes(const MemStats* stats, uint64_t* out);

/* Initialises embedded statistics.  Not yet shared: plain stores suffice. */
void ms_stats_init(MemStats* stats, uint64_t limit);
/* Frees the chunks of embedded statistics. */
void ms_stats_release_memory(MemStats* stats);

/* Slow paths (out of line). */
ms_slot* ms_stats_slot_slow(MemStats* stats);
bool ms_stats_reserve(MemStats* stats, ms_slot* slot, uint64_t net);
void ms_stats_unreserve(MemStats* stats, ms_slot* slot, uint64_t net);
void ms_stats_restart_local_peak(ms_slot* slot, uint64_t epoch, uint64_t net_before);
void ms_stats_reset_peak(MemStats* stats);

/* The epoch check both fast paths make.  Relaxed: peak_epoch is a value; an
 * operation that reads the old one linearises before the reset (the reader
 * then counts this slot's current usage, see ms_stats_fold). */
static inline void ms_stats_check_epoch(const MemStats* stats, ms_slot* slot, uint64_t net_before) {
    uint64_t epoch = ms_load_relaxed(&stats->peak_epoch);
    if (MS_UNLIKELY(ms_load_relaxed(&slot->epoch) != epoch)) {
        ms_stats_restart_local_peak(slot, epoch, net_before);
    }
}
bool ms_stats_record_shared(MemStats* stats, uint64_t bytes, bool is_free);

/* Returns the calling thread's slot, or NULL when it must use the shared
 * overflow path.  The common case is one thread-local comparison: the slot
 * cache (thread_registry.h) was filled by ms_stats_slot_slow, which acquired
 * the chunk's publication, on this same thread. */
static inline ms_slot* ms_stats_slot(MemStats* stats) {
    /* Relaxed: see ms_stats_try_alloc. */
    if (MS_LIKELY(ms_tl_slot_cache[0].owner_id == ms_load_relaxed(&stats->id))) {
        return (ms_slot*)ms_tl_slot_cache[0].slot;
    }
    return ms_stats_slot_slow(stats);
}

/* Signed view of the difference of two wrapping counters. */
static inline int64_t ms_diff(uint64_t a, uint64_t b) { return (int64_t)(a - b); }

/* The stores that end every allocation on a slot, in this order. */
static inline void ms_slot_store_alloc(ms_slot* slot, uint64_t alloc, uint64_t net) {
    if (ms_diff(net, ms_load_relaxed(&slot->local_peak)) > 0) {
        /* Relaxed: ordered before the release store of alloc_bytes below. */
        ms_store_relaxed(&slot->local_peak, net);
    }
    /* Release on bytes: pairs with the reader's acquire in ms_stats_fold;
     * with local_peak stored before, a reader that sees these bytes sees a
     * local peak covering them.  Release on the count after the bytes: pairs
     * with ms_stats_validate's acquire of the count, so a count is never seen
     * ahead of its bytes. */
    ms_store_release(&slot->alloc_bytes, alloc);
    ms_store_release(&slot->alloc_ops, ms_load_relaxed(&slot->alloc_ops) + 1);
}

/* The stores that end every free on a slot, in this order.  Release on
 * bytes: a reader that acquires these freed bytes also sees every allocation
 * that happened-before this free (the block was handed to this thread after
 * it was allocated), so a fold that reads frees first never sees a free
 * without its allocation. */
static inline void ms_slot_store_free(ms_slot* slot, uint64_t freed) {
    ms_store_release(&slot->freed_bytes, freed);
    ms_store_release(&slot->free_ops, ms_load_relaxed(&slot->free_ops) + 1);
}

/* Records an allocation of `bytes` in the calling thread's slot.  Returns
 * false, recording nothing, if it would take usage above the limit. */
static inline bool ms_stats_on_alloc(MemStats* stats, uint64_t bytes) {
    ms_slot* slot = ms_stats_slot(stats);
    if (MS_UNLIKELY(slot == NULL)) {
        if (!ms_stats_record_shared(stats, bytes, false)) return false;
        if (stats->size_histogram) ms_stats_count_size(stats, NULL, bytes);
        return true;
    }
    /* Owner-only fields: relaxed loads read this thread's own last stores
     * (or, after an index handoff, the previous owner's, ordered by the
     * registry's release/acquire). */
    uint64_t alloc = ms_load_relaxed(&slot->alloc_bytes) + bytes;
    uint64_t net = alloc - ms_load_relaxed(&slot->freed_bytes);
    ms_stats_check_epoch(stats, slot, net - bytes);
    if (MS_UNLIKELY(ms_diff(net, ms_load_relaxed(&slot->reserved)) > 0) &&
        !ms_stats_reserve(stats, slot, net)) {
        return false;
    }
    if (MS_UNLIKELY(stats->size_histogram)) ms_stats_count_size(stats, slot, bytes);
    ms_slot_store_alloc(slot, alloc, net);
    return true;
}

/* The whole allocation fast path, or nothing: records the allocation and
 * returns true when this thread's slot is cached (so its peak epoch is
 * current) and its reservation covers the new usage; otherwise records nothing and returns
 * false, and the caller takes a slow path through ms_stats_on_alloc.  It
 * calls nothing, so its callers need no stack frame on the hot path. */
static inline bool ms_stats_try_alloc(MemStats* stats, uint64_t bytes) {
    /* Relaxed on the id: the entry can only match an id this thread cached
     * itself in ms_stats_slot_slow (which acquired it, and the peak epoch
     * released with it); an operation that reads an id a reset has just
     * replaced linearises before the reset. */
    if (MS_UNLIKELY(ms_tl_slot_cache[0].owner_id != ms_load_relaxed(&stats->id))) return false;
    ms_slot* slot = (ms_slot*)ms_tl_slot_cache[0].slot;
    /* Owner-only fields: see ms_stats_on_alloc. */
    uint64_t alloc = ms_load_relaxed(&slot->alloc_bytes) + bytes;
    uint64_t net = alloc - ms_load_relaxed(&slot->freed_bytes);
    if (MS_UNLIKELY(ms_diff(net, ms_load_relaxed(&slot->reserved)) > 0)) return false;
    ms_slot_store_alloc(slot, alloc, net);
    return true;
}

/* Records a free of `bytes` in the calling thread's slot. */
static inline void ms_stats_on_free(MemStats* stats, uint64_t bytes) {
    ms_slot* slot = ms_stats_slot(stats);
    if (MS_UNLIKELY(slot == NULL)) {
        (void)ms_stats_record_shared(stats, bytes, true);
        return;
    }
    /* Owner-only fields: relaxed loads read this thread's own stores. */
    uint64_t freed = ms_load_relaxed(&slot->freed_bytes) + bytes;
    uint64_t net = ms_load_relaxed(&slot->alloc_bytes) - freed;
    ms_stats_check_epoch(stats, slot, net + bytes);
    if (MS_UNLIKELY(ms_diff(ms_load_relaxed(&slot->reserved), net) > (int64_t)stats->slack_max)) {
        ms_stats_unreserve(stats, slot, net);
    }
    ms_slot_store_free(slot, freed);
}

/* The whole free fast path, or nothing (as ms_stats_try_alloc): false when
 * the slot is not cached or the free would leave more than slack_max
 * reserved; the caller then uses ms_stats_on_free. */
static inline bool ms_stats_try_free(MemStats* stats, uint64_t bytes) {
    /* Relaxed on the id: see ms_stats_try_alloc. */
    if (MS_UNLIKELY(ms_tl_slot_cache[0].owner_id != ms_load_relaxed(&stats->id))) return false;
    ms_slot* slot = (ms_slot*)ms_tl_slot_cache[0].slot;
    uint64_t freed = ms_load_relaxed(&slot->freed_bytes) + bytes;
    uint64_t net = ms_load_relaxed(&slot->alloc_bytes) - freed;
    if (MS_UNLIKELY(ms_diff(ms_load_relaxed(&slot->reserved), net) > (int64_t)stats->slack_max)) {
        return false;
    }
    ms_slot_store_free(slot, freed);
    return true;
}

/* The invariant checks of memstats_validate, for embedded statistics. */
bool ms_stats_validate(const MemStats* stats);
/* memstats_snapshot for embedded statistics (no NULL checks). */
void ms_stats_fold(const MemStats* stats, MemStatsSnapshot* out);

#endif /* MEMSTRATEGY_SRC_MEMSTATS_INTERNAL_H_ */
