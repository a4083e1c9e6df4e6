/* memstats: per-thread slots folded on read (see memstats_internal.h for the
 * protocol; modelled in models/UsageCounting.tla). */
#include <stdlib.h>
#include <string.h>

#include "memory_strategy.h"
#include "memstats_internal.h"

/* A process-wide unique id, never 0.  Relaxed: only uniqueness matters. */
static uint64_t new_id(void) {
    static _Atomic uint64_t last_id;
    return ms_fetch_add_relaxed(&last_id, 1) + 1;
}

void ms_stats_init(MemStats* stats, uint64_t limit) {
    /* Not yet shared with other threads: whoever publishes `stats` orders
     * these stores before any other thread's access. */
    memset(stats, 0, sizeof *stats);
    stats->magic = MS_STATS_MAGIC;
    ms_store_relaxed(&stats->id, new_id());
    stats->limit = limit;
    stats->batch = ms_stats_batch_for(limit);
    stats->slack_max = 2 * stats->batch;
}

/* Adds up to `want` (at least `need`) to reserved_total without taking it
 * above the limit.  Returns what was added, or -1 if even `need` does not
 * fit.  Relaxed: reserved_total and reserved_peak are values; the
 * modification order of each makes every total the exact sum of the deltas
 * before it, and a reader that happens-after this operation sees at least
 * this peak by coherence.  This update is the operation's linearisation point
 * (UsageCounting.tla, action Reserve). */
static int64_t add_reservation(MemStats* stats, int64_t need, int64_t want) {
    int64_t total;
    /* A limit above INT64_MAX cannot be reached (reserved_total is signed)
     * and would turn negative in the signed comparison below: no limit. */
    if (stats->limit == 0 || stats->limit > (uint64_t)INT64_MAX) {
        total = ms_fetch_add_relaxed(&stats->reserved_total, want) + want;
    } else {
        int64_t limit = (int64_t)stats->limit;
        int64_t seen = ms_load_relaxed(&stats->reserved_total);
        do {
            if (seen > limit || limit - seen < need) return -1;
            if (limit - seen < want) want = limit - seen;
        } while (!atomic_compare_exchange_weak_explicit(&stats->reserved_total, &seen, seen + want,
                                                        memory_order_relaxed, memory_order_relaxed));
        total = seen + want;
    }
    ms_max_relaxed_i64(&stats->reserved_peak, total);
    return want;
}

void ms_stats_release_memory(MemStats* stats) {
    for (uint32_t c = 0; c < MS_CHUNKS; c++) {
        /* Relaxed: destroy runs with no concurrent operation (documented
         * precondition), so every chunk publication happened-before it. */
        ms_slot_chunk* chunk = ms_load_relaxed(&stats->chunks[c]);
        if (chunk == NULL) continue;
        for (uint32_t i = 0; i < MS_SLOTS_PER_CHUNK; i++) {
            free(ms_load_relaxed(&chunk->size_classes[i]));
        }
        free(chunk);
        ms_store_relaxed(&stats->chunks[c], NULL);
    }
    stats->magic = 0;
}

void ms_stats_drain_owner_cells(MemStats* stats, void (*release)(void* value, void* context), void* context) {
    for (uint32_t c = 0; c < MS_CHUNKS; c++) {
        /* Relaxed: runs with no concurrent operation (as
         * ms_stats_release_memory). */
        ms_slot_chunk* chunk = ms_load_relaxed(&stats->chunks[c]);
        if (chunk == NULL) continue;
        for (uint32_t i = 0; i < MS_SLOTS_PER_CHUNK; i++) {
            if (chunk->owner_cell[i] == NULL) continue;
            release(chunk->owner_cell[i], context);
            chunk->owner_cell[i] = NULL;
        }
    }
}

ms_slot* ms_stats_slot_slow(MemStats* stats) {
    ms_slot_cache_entry* cache = ms_tl_slot_cache;
    /* Acquire: pairs with the release in ms_stats_reset_peak, so the peak
     * epoch the caller checks next is at least the one this id came with. */
    uint64_t id = ms_load_acquire(&stats->id);
    if (cache[1].owner_id == id) { /* the other recently used strategy */
        ms_slot_cache_entry hit = cache[1];
        cache[1] = cache[0];
        cache[0] = hit;
        return (ms_slot*)hit.slot;
    }
    uint32_t index = ms_thread_index();
    if (index >= MS_MAX_THREADS) return NULL;
    _Atomic(ms_slot_chunk*)* cell = &stats->chunks[index / MS_SLOTS_PER_CHUNK];
    /* Acquire: pairs with the release CAS below (run by whichever thread
     * published the chunk). */
    ms_slot_chunk* chunk = ms_load_acquire(cell);
    if (chunk == NULL) {
        ms_slot_chunk* fresh = aligned_alloc(MS_CACHE_LINE, sizeof *fresh);
        if (fresh == NULL) return NULL; /* count through the shared slot instead */
        memset(fresh, 0, sizeof *fresh);
        /* Nothing reserved yet: the floor is -slack_max (the ceiling, 0, is
         * min(local peak 0, reserved 0)). */
        for (uint32_t i = 0; i < MS_SLOTS_PER_CHUNK; i++) fresh->slots[i].floor = -(int64_t)stats->slack_max;
        fresh->owner = stats;
        fresh->magic = MS_STATS_MAGIC;
        ms_slot_chunk* expected = NULL;
        /* acq_rel: releases the zeroed chunk to every later acquire of the
         * cell; on failure, acquires the winner's chunk. */
        if (ms_cas_acq_rel(cell, &expected, fresh)) {
            chunk = fresh;
        } else {
            free(fresh);
            chunk = expected;
        }
    }
    ms_slot* slot = &chunk->slots[index % MS_SLOTS_PER_CHUNK];
    if (stats->size_histogram) return slot; /* never cached: see MemStats */
    cache[1] = cache[0];
    cache[0] = (ms_slot_cache_entry){id, slot, &chunk->owner_cell[index % MS_SLOTS_PER_CHUNK]};
    return slot;
}

/* A slot's ceiling: min(local peak, reserved), compared by signed
 * difference. */
static int64_t slot_ceiling(uint64_t local_peak, uint64_t reserved) {
    return (int64_t)(ms_diff(local_peak, reserved) < 0 ? local_peak : reserved);
}

/* Sets the slot's reservation and recomputes its ceiling from it and the
 * local peak.  Owner-only plain fields (see ms_slot). */
static void slot_set_bounds(const MemStats* stats, ms_slot* slot, uint64_t reserved) {
    slot->floor = (int64_t)(reserved - stats->slack_max);
    slot->ceiling = slot_ceiling(ms_load_relaxed(&slot->local_peak), reserved);
}

/* Raises the slot's reservation to cover `net` plus a batch of slack.
 * Returns false, changing nothing, if the limit does not allow it.  The
 * caller updates the slot's bounds. */
static bool reserve(MemStats* stats, uint64_t net, uint64_t* reserved) {
    int64_t need = ms_diff(net, *reserved);
    int64_t added = add_reservation(stats, need, need + (int64_t)stats->batch);
    if (added < 0) return false;
    *reserved += (uint64_t)added;
    return true;
}

/* Hands back the slack above a batch.  Relaxed: as in add_reservation; the
 * linearisation point of this free (UsageCounting.tla, action Unreserve). */
static void unreserve(MemStats* stats, uint64_t net, uint64_t* reserved) {
    uint64_t want = net + stats->batch;
    ms_fetch_add_relaxed(&stats->reserved_total, -ms_diff(*reserved, want));
    *reserved = want;
}

/* Restarts a slot behind the peak epoch from its usage before the current
 * operation (owner-only).  The epoch first, then the local peak, both
 * release: ms_stats_validate, which acquires the local peak and then reloads
 * the epoch, sees the new epoch whenever it sees a restarted (lower) local
 * peak, and skips that slot (models/UsageCounting.pml, VALIDATE_EPOCH_FIX;
 * a restart between its loads was a false alarm). */
static void ms_stats_restart_local_peak(ms_slot* slot, uint64_t epoch, uint64_t net_before) {
    ms_store_release(&slot->epoch, epoch);
    ms_store_release(&slot->local_peak, net_before);
}

/* The epoch check of the full paths.  Relaxed: peak_epoch is a value; an
 * operation that reads the old one linearises before the reset (the reader
 * then counts this slot's current usage, see ms_stats_fold). */
static void ms_stats_check_epoch(const MemStats* stats, ms_slot* slot, uint64_t net_before) {
    uint64_t epoch = ms_load_relaxed(&stats->peak_epoch);
    if (ms_load_relaxed(&slot->epoch) != epoch) ms_stats_restart_local_peak(slot, epoch, net_before);
}

/* The end of every full-path allocation on a slot, once its reservation
 * `reserved` covers it: the slot's bounds, then what the fast path does
 * within a reservation (the local peak before the release of the bytes,
 * the ceiling, the counters). */
static void slot_commit_alloc(const MemStats* stats, ms_slot* slot, uint64_t alloc, uint64_t net,
                              uint64_t reserved) {
    slot_set_bounds(stats, slot, reserved);
    (void)ms_slot_alloc_within(stats, slot, alloc, net); /* true: `reserved` covers net */
}

/* The calling thread's slot, or NULL when it must use the shared overflow
 * path.  The common case is one thread-local comparison: the slot cache
 * (thread_registry.h) was filled by ms_stats_slot_slow, which acquired the
 * chunk's publication, on this same thread. */
static ms_slot* ms_stats_slot(MemStats* stats) {
    return ms_stats_slot_cached(stats) ? (ms_slot*)ms_tl_slot_cache[0].slot : ms_stats_slot_slow(stats);
}

void** ms_stats_owner_cell_slow(MemStats* stats) {
    ms_slot* slot = ms_stats_slot(stats);
    if (slot == NULL || !ms_stats_slot_cached(stats)) return NULL;
    /* The slot may have been cached just now, behind a peak reset, and the
     * fast paths take a cached slot's epoch to be current: check it as the
     * full paths do, from the slot's usage (no operation is recorded here),
     * and bring the bounds to a restarted local peak. */
    ms_stats_check_epoch(stats, slot, ms_load_relaxed(&slot->alloc_bytes) - ms_load_relaxed(&slot->freed_bytes));
    slot_set_bounds(stats, slot, ms_slot_reserved(stats, slot));
    return ms_stats_owner_cell();
}

bool ms_stats_on_alloc(MemStats* stats, uint64_t bytes) {
    if (ms_stats_slot_cached(stats)) {
        /* Within the reservation no shared state moves (histogram
         * statistics are never cached, see MemStats).  The exact test, by
         * wrapping difference: the public recording functions come here
         * with sizes up to the top of the usage domain, which the fast
         * path's signed comparison with the ceiling is not made for. */
        ms_slot* slot = (ms_slot*)ms_tl_slot_cache[0].slot;
        uint64_t alloc = ms_load_relaxed(&slot->alloc_bytes) + bytes;
        if (ms_slot_alloc_within(stats, slot, alloc, alloc - ms_load_relaxed(&slot->freed_bytes))) return true;
    }
    return ms_stats_on_alloc_declined(stats, bytes);
}

bool ms_stats_on_alloc_declined(MemStats* stats, uint64_t bytes) {
    ms_slot* slot;
    if (ms_stats_slot_cached(stats)) {
        slot = (ms_slot*)ms_tl_slot_cache[0].slot;
    } else {
        slot = ms_stats_slot_slow(stats);
        if (slot == NULL) {
            if (!ms_stats_record_shared(stats, bytes, false)) return false;
            if (stats->size_histogram) ms_stats_count_size(stats, NULL, bytes);
            return true;
        }
    }
    /* Owner-only fields: relaxed loads read this thread's own last stores
     * (or, after an index handoff, the previous owner's, ordered by the
     * registry's release/acquire). */
    uint64_t alloc = ms_load_relaxed(&slot->alloc_bytes) + bytes;
    uint64_t net = alloc - ms_load_relaxed(&slot->freed_bytes);
    ms_stats_check_epoch(stats, slot, net - bytes);
    uint64_t reserved = ms_slot_reserved(stats, slot);
    /* The reservation first: its shared update is this allocation's
     * linearisation point (UsageCounting.tla, action Reserve). */
    if (ms_diff(net, reserved) > 0 && !reserve(stats, net, &reserved)) {
        slot_set_bounds(stats, slot, reserved); /* the epoch check may have restarted the peak */
        return false;
    }
    if (stats->size_histogram) ms_stats_count_size(stats, slot, bytes);
    slot_commit_alloc(stats, slot, alloc, net, reserved);
    return true;
}

void ms_stats_on_free(MemStats* stats, uint64_t bytes) {
    ms_slot* slot = ms_stats_slot(stats);
    if (slot == NULL) {
        (void)ms_stats_record_shared(stats, bytes, true);
        return;
    }
    /* Owner-only fields: relaxed loads read this thread's own stores. */
    uint64_t freed = ms_load_relaxed(&slot->freed_bytes) + bytes;
    uint64_t net = ms_load_relaxed(&slot->alloc_bytes) - freed;
    ms_stats_check_epoch(stats, slot, net + bytes);
    uint64_t reserved = ms_slot_reserved(stats, slot);
    if (ms_diff(reserved, net) > (int64_t)stats->slack_max) unreserve(stats, net, &reserved);
    slot_set_bounds(stats, slot, reserved);
    ms_slot_store_free(slot, freed);
}

static unsigned size_class(uint64_t bytes) { return 63u - (unsigned)__builtin_clzll(bytes); }

/* The cell holding the size-class counters of the calling thread's slot
 * `slot` (whose index is this thread's). */
static _Atomic(_Atomic uint64_t*)* size_classes_cell(ms_slot* slot) {
    ms_slot_chunk* chunk = (ms_slot_chunk*)(void*)(slot - ms_tl_thread_index % MS_SLOTS_PER_CHUNK);
    return &chunk->size_classes[ms_tl_thread_index % MS_SLOTS_PER_CHUNK];
}

void ms_stats_count_size(MemStats* stats, ms_slot* slot, uint64_t bytes) {
    unsigned k = size_class(bytes);
    _Atomic(_Atomic uint64_t*)* cell = slot == NULL ? NULL : size_classes_cell(slot);
    _Atomic uint64_t* classes = cell == NULL ? NULL : ms_load_relaxed(cell);
    if (cell != NULL && classes == NULL) {
        classes = aligned_alloc(MS_CACHE_LINE, MS_SIZE_CLASSES * sizeof *classes);
        if (classes != NULL) {
            for (unsigned i = 0; i < MS_SIZE_CLASSES; i++) atomic_init(&classes[i], 0);
            /* Release: pairs with the fold's acquire, so the zeroed
             * counters are visible before the pointer. */
            ms_store_release(cell, classes);
        }
    }
    if (classes == NULL) {
        /* Relaxed: a counter read on its own. */
        ms_fetch_add_relaxed(&stats->shared_size_classes[k], 1);
        return;
    }
    /* Owner-only counter: relaxed load and store. */
    ms_store_relaxed(&classes[k], ms_load_relaxed(&classes[k]) + 1);
}

void ms_stats_fold_size_classes(const MemStats* stats, uint64_t* out) {
    for (unsigned k = 0; k < MS_SIZE_CLASSES; k++) {
        /* Relaxed: counters read on their own. */
        out[k] = ms_load_relaxed(&stats->shared_size_classes[k]);
    }
    for (uint32_t c = 0; c < MS_CHUNKS; c++) {
        /* Acquire: pairs with the publishing CAS in ms_stats_slot_slow. */
        const ms_slot_chunk* chunk = ms_load_acquire(&stats->chunks[c]);
        if (chunk == NULL) continue;
        for (uint32_t i = 0; i < MS_SLOTS_PER_CHUNK; i++) {
            /* Acquire: pairs with the release in ms_stats_count_size. */
            _Atomic uint64_t* classes = ms_load_acquire(&chunk->size_classes[i]);
            if (classes == NULL) continue;
            for (unsigned k = 0; k < MS_SIZE_CLASSES; k++) out[k] += ms_load_relaxed(&classes[k]);
        }
    }
}

void ms_stats_rekey(MemStats* stats) {
    /* Release: pairs with the acquire in ms_stats_slot_slow. */
    ms_store_release(&stats->id, new_id());
}

void ms_stats_reset_peak(MemStats* stats) {
    /* Relaxed throughout: all three are values (see add_reservation).  A
     * reservation racing with the reset may raise reserved_peak just before
     * the store below overwrites it; the second maximum puts back whatever
     * of it is still reserved, and what was released meanwhile belongs to
     * operations that linearised before the reset. */
    int64_t total = ms_load_relaxed(&stats->reserved_total);
    ms_fetch_add_relaxed(&stats->peak_epoch, 1);
    /* Every cached entry of the old id now misses, and the slow path checks
     * the epoch. */
    ms_stats_rekey(stats);
    ms_store_relaxed(&stats->reserved_peak, total);
    ms_max_relaxed_i64(&stats->reserved_peak, ms_load_relaxed(&stats->reserved_total));
}

bool ms_stats_record_shared(MemStats* stats, uint64_t bytes, bool is_free) {
    ms_slot* shared = &stats->overflow;
    if (!is_free && add_reservation(stats, (int64_t)bytes, (int64_t)bytes) < 0) return false;
    /* Relaxed: readers load it after the byte counters below are released;
     * the fetch_adds carry the ordering. */
    ms_store_relaxed(&stats->overflow_used, 1u);
    if (is_free) {
        /* Relaxed: a value (see add_reservation).  No slack: the shared
         * total moves with every shared operation. */
        ms_fetch_add_relaxed(&stats->reserved_total, -(int64_t)bytes);
        /* Release: as ms_stats_on_free's stores. */
        ms_fetch_add_release(&shared->freed_bytes, bytes);
        ms_fetch_add_release(&shared->free_ops, 1);
    } else {
        /* Release: as ms_stats_on_alloc's stores. */
        ms_fetch_add_release(&shared->alloc_bytes, bytes);
        ms_fetch_add_release(&shared->alloc_ops, 1);
    }
    return true;
}

/* Visits the slots in use: every published chunk's slots, then the shared
 * overflow slot. */
#define MS_FOR_EACH_SLOT(stats, slot, body)                                            \
    do {                                                                               \
        for (uint32_t c_ = 0; c_ < MS_CHUNKS; c_++) {                                  \
            /* Acquire: pairs with the publishing CAS in ms_stats_slot_slow. */        \
            const ms_slot_chunk* chunk_ = ms_load_acquire(&(stats)->chunks[c_]);       \
            if (chunk_ == NULL) continue;                                              \
            for (uint32_t s_ = 0; s_ < MS_SLOTS_PER_CHUNK; s_++) {                     \
                const ms_slot* slot = &chunk_->slots[s_];                              \
                body                                                                   \
            }                                                                          \
        }                                                                              \
        {                                                                              \
            const ms_slot* slot = &(stats)->overflow;                                  \
            body                                                                       \
        }                                                                              \
    } while (0)

void ms_stats_fold(const MemStats* stats, MemStatsSnapshot* out) {
    uint64_t freed = 0, frees = 0, alloc = 0, allocs = 0, local_peaks = 0, touched = 0;
    /* Pass 1, frees.  Acquire: pairs with the release stores in
     * ms_stats_on_free, so every allocation that happened-before a free we
     * count is visible to pass 2: current never goes below zero. */
    MS_FOR_EACH_SLOT(stats, slot, {
        freed += ms_load_acquire(&slot->freed_bytes);
        frees += ms_load_acquire(&slot->free_ops);
    });
    /* Pass 2, allocations.  Acquire on alloc_bytes pairs with the release in
     * ms_stats_on_alloc, so the local peak loaded after it covers it.
     * Relaxed on the epochs: values (see ms_stats_check_epoch). */
    uint64_t epoch = ms_load_relaxed(&stats->peak_epoch);
    MS_FOR_EACH_SLOT(stats, slot, {
        /* Frees before allocations here too, for a slot behind the epoch:
         * its net from an allocation count loaded later and a free count
         * loaded earlier can only be high, never low.  (Loading the frees
         * after the epoch let an allocate-and-free racing with the fold
         * after a reset pull the sum of local peaks below a settled peak:
         * models/UsageCounting.pml, STALE_FREED_FIRST.) */
        uint64_t slot_freed = ms_load_acquire(&slot->freed_bytes);
        uint64_t ops = ms_load_acquire(&slot->alloc_ops);
        uint64_t slot_alloc = ms_load_acquire(&slot->alloc_bytes);
        alloc += slot_alloc;
        allocs += ops;
        if (ms_load_relaxed(&slot->epoch) == epoch) {
            /* Relaxed: stored before alloc_bytes' release, loaded after its acquire. */
            local_peaks += ms_load_relaxed(&slot->local_peak);
        } else {
            /* No operation since the reset: its usage has not moved, so its
             * net (even a negative one, frees of others' blocks) is exact
             * for every moment since. */
            local_peaks += slot_alloc - slot_freed;
        }
        if (slot != &stats->overflow && (ops != 0 || ms_load_relaxed(&slot->free_ops) != 0)) {
            touched++;
        }
    });
    /* Relaxed: values (see add_reservation). */
    int64_t reserved_peak = ms_load_relaxed(&stats->reserved_peak);
    bool overflow = ms_load_relaxed(&stats->overflow_used) != 0;
    uint64_t peak = reserved_peak > 0 ? (uint64_t)reserved_peak : 0;
    /* The local peaks add up as signed values (a slot that freed others'
     * blocks contributes a negative high-water mark). */
    if (!overflow && ms_diff(local_peaks, peak) < 0) peak = ms_diff(local_peaks, 0) > 0 ? local_peaks : 0;

    out->total_freed_bytes = freed;
    out->total_allocated_bytes = alloc;
    /* The fold reads frees before allocations, so while threads run it can
     * count allocations made during the read without their frees.  The
     * shared reserved_total is never below true usage and at most the
     * documented slack above it: capping the fold by it keeps a concurrent
     * read within that slack (and under the limit).  At quiescence the fold
     * is exact and the cap changes nothing.  Relaxed: a value; any
     * reservation covering an operation that happened-before this read is
     * visible by coherence. */
    int64_t reserved_total = ms_load_relaxed(&stats->reserved_total);
    uint64_t current = ms_diff(alloc, freed) > 0 ? alloc - freed : 0;
    if (reserved_total < 0) reserved_total = 0;
    if (current > (uint64_t)reserved_total) current = (uint64_t)reserved_total;
    out->current_bytes = current;
    out->allocations = allocs;
    out->deallocations = frees;
    out->live_blocks = ms_diff(allocs, frees) > 0 ? allocs - frees : 0;
    out->peak_bytes = peak;
    out->peak_overreport_bound =
        (!overflow && touched <= 1) ? 0 : 2 * stats->batch * touched;
}

bool ms_stats_validate(const MemStats* stats) {
    if (stats->magic != MS_STATS_MAGIC) return false;
    for (uint32_t c = 0; c < MS_CHUNKS; c++) {
        /* Acquire: pairs with the publishing CAS; owner/magic were written
         * before it. */
        const ms_slot_chunk* chunk = ms_load_acquire(&stats->chunks[c]);
        if (chunk != NULL && (chunk->owner != stats || chunk->magic != MS_STATS_MAGIC)) return false;
    }
    bool ok = true;
    uint64_t freed = 0, frees = 0, alloc = 0, allocs = 0;
    /* Each check below holds at every moment for the values as read, even
     * while owners write: counts are read (acquire) before bytes, and each
     * count is released after its bytes; frees are read before
     * allocations (see ms_stats_fold). */
    MS_FOR_EACH_SLOT(stats, slot, {
        uint64_t ops = ms_load_acquire(&slot->free_ops);
        uint64_t bytes = ms_load_acquire(&slot->freed_bytes);
        if (ops > bytes) ok = false; /* every free is of at least one byte */
        frees += ops;
        freed += bytes;
    });
    MS_FOR_EACH_SLOT(stats, slot, {
        uint64_t ops = ms_load_acquire(&slot->alloc_ops);
        uint64_t bytes = ms_load_acquire(&slot->alloc_bytes);
        if (ops > bytes) ok = false;
        allocs += ops;
        alloc += bytes;
    });
    if (ms_diff(alloc, freed) < 0 || ms_diff(allocs, frees) < 0) ok = false;
    /* Per slot, the local peak covers the net usage read before it, unless
     * a peak reset restarted the slot meanwhile (epoch changed between the
     * loads: the acquire of the local peak pairs with the release in
     * ms_stats_restart_local_peak, which stores the epoch first). */
    MS_FOR_EACH_SLOT(stats, slot, {
        uint64_t epoch_before = ms_load_acquire(&slot->epoch);
        uint64_t a = ms_load_acquire(&slot->alloc_bytes);
        uint64_t f = ms_load_acquire(&slot->freed_bytes);
        uint64_t local_peak = ms_load_acquire(&slot->local_peak);
        bool restarted = ms_load_relaxed(&slot->epoch) != epoch_before;
        if (slot != &stats->overflow && !restarted && ms_diff(a - f, local_peak) > 0) ok = false;
    });
    return ok;
}

/* ---- the public, opaque API ---------------------------------------------- */

static bool valid_size(size_t bytes) { return bytes >= 1 && bytes <= STRATEGY_MAX_ALLOCATION; }

MemStats* memstats_create_limited(uint64_t limit_bytes) {
    size_t size = (sizeof(MemStats) + MS_CACHE_LINE - 1) / MS_CACHE_LINE * MS_CACHE_LINE;
    MemStats* stats = aligned_alloc(MS_CACHE_LINE, size);
    if (stats != NULL) ms_stats_init(stats, limit_bytes);
    return stats;
}

MemStats* memstats_create(void) { return memstats_create_limited(0); }

void memstats_destroy(MemStats* stats) {
    if (stats == NULL) return;
    ms_stats_release_memory(stats);
    free(stats);
}

bool memstats_record_allocation(MemStats* stats, size_t bytes) {
    return stats != NULL && valid_size(bytes) && ms_stats_on_alloc(stats, bytes);
}

bool memstats_record_free(MemStats* stats, size_t bytes) {
    if (stats == NULL || !valid_size(bytes)) return false;
    ms_stats_on_free(stats, bytes);
    return true;
}

bool memstats_snapshot(const MemStats* stats, MemStatsSnapshot* out) {
    if (stats == NULL || out == NULL) return false;
    ms_stats_fold(stats, out);
    return true;
}

#define MS_FIGURE(name, field)                         \
    uint64_t name(const MemStats* stats) {             \
        MemStatsSnapshot s;                            \
        return memstats_snapshot(stats, &s) ? s.field : 0; \
    }
MS_FIGURE(memstats_current, current_bytes)
MS_FIGURE(memstats_peak, peak_bytes)
MS_FIGURE(memstats_total_allocated, total_allocated_bytes)
MS_FIGURE(memstats_total_freed, total_freed_bytes)
MS_FIGURE(memstats_peak_overreport_bound, peak_overreport_bound)

void memstats_reset_peak(MemStats* stats) {
    if (stats != NULL) ms_stats_reset_peak(stats);
}

bool memstats_validate(const MemStats* stats) { return stats != NULL && ms_stats_validate(stats); }
