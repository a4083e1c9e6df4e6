/* Internal: a process-wide registry that gives each live thread a small,
 * unique index.  Statistics keep one slot per index, so a slot is written by
 * exactly one live thread (owner-only, no read-modify-write), while readers
 * fold every slot.
 *
 * An index is claimed on a thread's first accounted operation and returned
 * when the thread exits (pthread key destructor).  The next thread to claim
 * it inherits the slots, whose counters are cumulative, so nothing a thread
 * counted is lost at exit.  Modelled in models/UsageCounting.tla (actions
 * ClaimIndex / ThreadExit). */
#ifndef MEMSTRATEGY_SRC_THREAD_REGISTRY_H_
#define MEMSTRATEGY_SRC_THREAD_REGISTRY_H_

#include <stdint.h>

#include "ms_atomic.h"

/* Indices 0 .. MS_MAX_THREADS-1 are real.  A thread that finds none free
 * (more than MS_MAX_THREADS live threads) gets MS_OVERFLOW_INDEX and its
 * operations use a shared slot with atomic read-modify-writes instead. */
#define MS_MAX_THREADS 16384u
#define MS_OVERFLOW_INDEX MS_MAX_THREADS
#define MS_NO_INDEX UINT32_MAX

/* This thread's index, MS_NO_INDEX before its first operation.  A plain
 * thread-local: only its own thread reads or writes it. */
extern _Thread_local uint32_t ms_tl_thread_index MS_INITIAL_EXEC_TLS;

/* The calling thread's two most recently used statistics slots, keyed by the
 * statistics' unique id (never 0, never reused, so an entry of destroyed
 * statistics can never match).  A plain thread-local: only its own thread
 * reads or writes it.  Cleared whenever the thread's index is released, so a
 * slot is never written through a stale entry after another thread took the
 * index over. */
typedef struct ms_slot_cache_entry {
    uint64_t owner_id;
    void* slot;
    /* The slot's owner cell (ms_stats_owner_cell): where the statistics'
     * embedder keeps per-thread data of its own. */
    void** owner_cell;
} ms_slot_cache_entry;
extern _Thread_local ms_slot_cache_entry ms_tl_slot_cache[2] MS_INITIAL_EXEC_TLS;

/* Claims an index for the calling thread (or MS_OVERFLOW_INDEX) and caches
 * it in ms_tl_thread_index.  The claim's CAS is acq_rel: it acquires the
 * release of the previous owner's exit, so the previous owner's last slot
 * stores happen-before this thread's first. */
uint32_t ms_thread_index_claim(void);

/* Returns the calling thread's index, claiming one on first use. */
static inline uint32_t ms_thread_index(void) {
    uint32_t index = ms_tl_thread_index;
    return MS_LIKELY(index < MS_MAX_THREADS) ? index : ms_thread_index_claim();
}

/* Test support: releases the calling thread's index now, as thread exit
 * would.  The next accounted operation claims one again. */
void ms_thread_index_release_current(void);

#endif /* MEMSTRATEGY_SRC_THREAD_REGISTRY_H_ */
