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
 *    bytes it has added to the shared `reserved_total` (owner-only, kept as
 *    the slot's `floor`, see ms_slot).
 *  - The fast paths (ms_stats_try_alloc / ms_stats_try_free) handle an
 *    operation on a cached slot that moves no reservation: an allocation
 *    within the slot's reservation (its two counters, and the local peak
 *    when the allocation raises it), a free above its floor (no
 *    unreserve).  Everything else takes the full path (ms_stats_on_alloc /
 *    ms_stats_on_free).
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

/* One cache line, written only by the thread holding its index.  Each
 * operation count is stored with release after its byte counter; see
 * ms_slot_store_alloc for the exact order and what it pairs with.
 *
 * `ceiling` and `floor` are the slot's reservation in the form the fast
 * paths test: an allocation that leaves net usage at most `ceiling` neither
 * needs more reservation nor raises the local peak, and a free that leaves
 * it at least `floor` does not hold too much slack.  Only the owner reads or
 * writes them (a new owner after an index handoff reads them through the
 * registry's release/acquire), so they are plain fields; the allocation
 * fast path raises the ceiling with the local peak, and every slow path
 * that changes the reservation or the local peak recomputes both
 * (slot_set_bounds in memstats.c). */
typedef struct ms_slot {
    alignas(MS_CACHE_LINE) _Atomic uint64_t alloc_bytes;
    _Atomic uint64_t freed_bytes;
    _Atomic uint64_t alloc_ops;
    _Atomic uint64_t free_ops;
    _Atomic uint64_t local_peak; /* max of net (two's complement) since `epoch` began */
    _Atomic uint64_t epoch;      /* the peak_epoch local_peak belongs to */
    /* Owner-only: min(local_peak, reserved), as signed net usage. */
    int64_t ceiling;
    /* Owner-only: reserved - slack_max, where `reserved` is this slot's share
     * of reserved_total (so reserved = floor + slack_max, wrapping: see
     * slot_reserved in memstats.c).  A fresh slot's is -slack_max. */
    int64_t floor;
} ms_slot;

typedef struct ms_slot_chunk {
    ms_slot slots[MS_SLOTS_PER_CHUNK];
    /* With a size histogram: slot i's MS_SIZE_CLASSES owner-written
     * counters, allocated on the slot's first allocation and published with
     * release; NULL otherwise. */
    _Atomic(_Atomic uint64_t*) size_classes[MS_SLOTS_PER_CHUNK];
    /* Slot i's owner cell: a pointer the statistics' embedder keeps per
     * slot (default_strategy: the thread cache of freed blocks), NULL until
     * it stores one.  Read and written only by the thread holding index i
     * (the next holder reads it through the registry's release/acquire) and
     * by ms_stats_drain_owner_cells, which runs alone. */
    void* owner_cell[MS_SLOTS_PER_CHUNK];
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
/* Calls release(cell value, context) for every non-NULL owner cell and
 * clears it.  Only with no concurrent operation (destroy). */
void ms_stats_drain_owner_cells(MemStats* stats, void (*release)(void* value, void* context), void* context);

/* Frees the chunks of embedded statistics. */
void ms_stats_release_memory(MemStats* stats);

/* Slow paths (out of line, memstats.c). */
ms_slot* ms_stats_slot_slow(MemStats* stats);
void ms_stats_reset_peak(MemStats* stats);
/* Gives the statistics a fresh id: every thread's cached slot misses once,
 * so its next operation takes the full path (see ms_stats_slot_cached). */
void ms_stats_rekey(MemStats* stats);
bool ms_stats_record_shared(MemStats* stats, uint64_t bytes, bool is_free);

/* Records an allocation of `bytes` in the calling thread's slot (or the
 * shared one): within the slot's reservation if it covers it, else the
 * whole protocol.  Returns false, recording nothing, if it would take
 * usage above the limit. */
bool ms_stats_on_alloc(MemStats* stats, uint64_t bytes);
/* ms_stats_on_alloc for a caller whose ms_stats_try_alloc has just
 * declined (and which has called nothing since): the whole protocol,
 * without testing the reservation again (the fast path declines only with
 * the slot not cached or after ms_slot_alloc_within's test said no). */
bool ms_stats_on_alloc_declined(MemStats* stats, uint64_t bytes);
/* Records a free of `bytes` (as ms_stats_on_alloc). */
void ms_stats_on_free(MemStats* stats, uint64_t bytes);

/* The stores that end every allocation on a slot, in this order. */
static inline void ms_slot_store_alloc(ms_slot* slot, uint64_t alloc) {
    /* Release on bytes: pairs with the reader's acquire in ms_stats_fold;
     * with local_peak stored before (ms_stats_on_alloc), a reader that sees
     * these bytes sees a local peak covering them.  Release on the count
     * after the bytes: pairs with ms_stats_validate's acquire of the count,
     * so a count is never seen ahead of its bytes. */
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

/* True when the calling thread's most recently used slot (the first entry
 * of its slot cache, never NULL once filled) belongs to `stats`.  Relaxed
 * on the id: the entry can only match an id this thread cached itself in
 * ms_stats_slot_slow (which acquired it, and the peak epoch released with
 * it), so the slot's epoch is current; an operation that reads an id a
 * reset has just replaced linearises before the reset. */
static inline bool ms_stats_slot_cached(const MemStats* stats) {
    return ms_tl_slot_cache[0].owner_id == ms_load_relaxed(&stats->id);
}

/* The owner cell of the calling thread's slot of the statistics for which
 * ms_stats_slot_cached was last true on this thread (its cached slot). */
static inline void** ms_stats_owner_cell(void) { return ms_tl_slot_cache[0].owner_cell; }

/* The owner cell of the calling thread's slot of `stats`, putting the slot
 * in the thread's cache first; NULL for a thread without a slot of its own
 * (no index, or no memory for the slots) and with a size histogram (whose
 * slots are never cached). */
void** ms_stats_owner_cell_slow(MemStats* stats);

/* Signed view of the difference of two wrapping counters. */
static inline int64_t ms_diff(uint64_t a, uint64_t b) { return (int64_t)(a - b); }

/* The slot's reservation (owner-only, kept as its floor).  The paths that
 * compare with it compute with wrapping unsigned values and compare by
 * signed difference, as the counters do, so nothing overflows at the edges
 * of the domain; a bound that wrapped only makes the fast path decline. */
static inline uint64_t ms_slot_reserved(const MemStats* stats, const ms_slot* slot) {
    return (uint64_t)slot->floor + stats->slack_max;
}

/* Records an allocation on the calling thread's own slot `slot` (whose
 * peak epoch is current and whose ceiling is min(local peak, reserved)),
 * `alloc` its cumulative bytes and `net` its net usage after it, if the
 * slot's reservation covers it, raising the local peak if it is a new one;
 * returns false, recording nothing, if it is beyond the reservation (the
 * full path's case).  Exact over the whole domain (see ms_slot_reserved).
 * The local peak's store is relaxed, ordered before the release of the
 * bytes (ms_slot_store_alloc).  A new local peak within the reservation
 * is the new ceiling (min(net, reserved) is net); otherwise neither
 * bound moved and the ceiling stands, so a thread whose every allocation
 * is a new local peak (one whose blocks another thread frees) pays two
 * comparisons and two stores here, not a recomputed minimum. */
static inline bool ms_slot_alloc_within(const MemStats* stats, ms_slot* slot, uint64_t alloc, uint64_t net) {
    if (ms_diff(net, ms_slot_reserved(stats, slot)) > 0) return false;
    if (ms_diff(net, ms_load_relaxed(&slot->local_peak)) > 0) {
        ms_store_relaxed(&slot->local_peak, net);
        slot->ceiling = (int64_t)net;
    }
    ms_slot_store_alloc(slot, alloc);
    return true;
}

/* ms_stats_try_alloc for a caller that has just seen ms_stats_slot_cached
 * true for these statistics.  Its comparison with the ceiling is signed:
 * exact while the slot's own net usage (what its thread allocated minus
 * what it freed, whoever allocated that) stays below 2^63 bytes, which a
 * thread whose blocks another thread frees would pass only after
 * allocating 8 EiB; the strategy's sizes are bounded by
 * STRATEGY_MAX_ALLOCATION, and the public recording functions take the
 * exact full path (ms_stats_on_alloc). */
static MS_ALWAYS_INLINE bool ms_stats_try_alloc_cached(const MemStats* stats, uint64_t bytes) {
    ms_slot* slot = (ms_slot*)ms_tl_slot_cache[0].slot;
    /* Owner-only fields: relaxed loads read this thread's own last stores
     * (or, after an index handoff, the previous owner's, ordered by the
     * registry's release/acquire). */
    uint64_t alloc = ms_load_relaxed(&slot->alloc_bytes) + bytes;
    uint64_t net = alloc - ms_load_relaxed(&slot->freed_bytes);
    if (MS_UNLIKELY((int64_t)net > slot->ceiling)) return ms_slot_alloc_within(stats, slot, alloc, net);
    ms_slot_store_alloc(slot, alloc);
    return true;
}

/* The allocation fast path, or nothing: records the allocation and returns
 * true when this thread's slot is cached (so its peak epoch is current) and
 * its reservation covers the new net usage; otherwise records nothing and
 * returns false, and the caller takes ms_stats_on_alloc_declined.  Below
 * the slot's ceiling only the two counters change; above it, within the
 * reservation, the local peak too (a thread whose blocks another thread frees sets a
 * new local peak with every allocation).  It calls nothing, so its callers
 * need no stack frame for it. */
static MS_ALWAYS_INLINE bool ms_stats_try_alloc(MemStats* stats, uint64_t bytes) {
    if (MS_UNLIKELY(!ms_stats_slot_cached(stats))) return false;
    return ms_stats_try_alloc_cached(stats, bytes);
}

/* The whole free fast path, or nothing (as ms_stats_try_alloc): false when
 * the slot is not cached or the free would leave net usage below the
 * slot's floor (more than slack_max reserved); the caller then uses
 * ms_stats_on_free. */
static inline bool ms_stats_try_free(MemStats* stats, uint64_t bytes) {
    if (MS_UNLIKELY(!ms_stats_slot_cached(stats))) return false;
    ms_slot* slot = (ms_slot*)ms_tl_slot_cache[0].slot;
    uint64_t freed = ms_load_relaxed(&slot->freed_bytes) + bytes;
    int64_t net = (int64_t)(ms_load_relaxed(&slot->alloc_bytes) - freed);
    if (MS_UNLIKELY(net < slot->floor)) return false;
    ms_slot_store_free(slot, freed);
    return true;
}

/* The invariant checks of memstats_validate, for embedded statistics. */
bool ms_stats_validate(const MemStats* stats);
/* memstats_snapshot for embedded statistics (no NULL checks). */
void ms_stats_fold(const MemStats* stats, MemStatsSnapshot* out);

#endif /* MEMSTRATEGY_SRC_MEMSTATS_INTERNAL_H_ */
