/* memstats: lock-free memory statistics for many threads.
 *
 * Each thread counts into its own cache-line-sized slot with plain
 * (owner-only) atomic stores; a reader folds all slots.  No cache line is
 * written by every thread on every operation.  A shared counter is touched
 * only when a thread's usage moves by more than MEMSTATS_BATCH_BYTES, to keep
 * an upper bound on the peak.
 *
 * Figures (all in bytes the caller asked for, or operations):
 *   current         total allocated - total freed; exact whenever no
 *                   operation is in flight, whichever thread freed what, and
 *                   after threads have exited (their counts stay).
 *   peak            never below the true high-water mark of current; exact
 *                   when every operation since creation ran on one thread;
 *                   otherwise over-reports by at most
 *                   memstats_peak_overreport_bound() bytes.
 *   totals, counts  exact whenever no operation is in flight.
 * Reads are fresh: a read reflects every operation that happened-before it.
 * While operations run, a read folds per-thread values that each reflect some
 * moment during the read: current then lies between the usage when the read
 * began and the usage during the read plus the over-report bound, and never
 * above a limit.
 *
 * Thread safety:
 *
 *     call                          may run concurrently with
 *     memstats_record_*             everything but memstats_destroy
 *     memstats_snapshot, getters    everything but memstats_destroy
 *     memstats_destroy              nothing on the same MemStats
 *
 * The protocol is modelled in models/UsageCounting.tla. */
#ifndef MEMSTRATEGY_MEMSTATS_H_
#define MEMSTRATEGY_MEMSTATS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How far (in bytes) one thread's usage may move before it touches the
 * shared peak counter (the "batch").  The peak's over-report bound is 2 * the
 * batch per thread.  Statistics with a limit use limit/256 if smaller. */
#define MEMSTATS_BATCH_BYTES ((uint64_t)64 * 1024)

typedef struct MemStats MemStats;

/* All figures at once, read in one pass. */
typedef struct MemStatsSnapshot {
    uint64_t current_bytes;
    uint64_t peak_bytes;
    uint64_t total_allocated_bytes;
    uint64_t total_freed_bytes;
    uint64_t allocations;   /* successful allocations recorded */
    uint64_t deallocations; /* successful frees recorded */
    uint64_t live_blocks;   /* allocations - deallocations */
    uint64_t peak_overreport_bound;
} MemStatsSnapshot;

/* Creates empty statistics.  Returns NULL if memory cannot be obtained. */
MemStats* memstats_create(void);

/* Creates empty statistics whose current usage may never exceed
 * `limit_bytes` (0: unlimited): memstats_record_allocation refuses, recording
 * nothing, an allocation that would.  With one thread the usage can reach the
 * limit exactly; with several, an allocation may be refused while other
 * threads hold unused reservation: at most 2 * limit/256 each (so with T
 * threads, allocations succeed at least up to limit * (1 - T/128)).
 * Returns NULL if memory cannot be obtained. */
MemStats* memstats_create_limited(uint64_t limit_bytes);

/* Frees the statistics.  NULL is a no-op.  No other call may be running on
 * them, and none may start afterwards. */
void memstats_destroy(MemStats* stats);

/* Records an allocation of `bytes` (1 .. SIZE_MAX/4) by the calling thread.
 * Returns false, recording nothing, for NULL stats, a size outside that range,
 * or an allocation the limit refuses.  Release: a reader that sees the new
 * totals sees everything the caller did before.  The figures are exact while
 * the usage recorded plus the reservation slack (2 * MEMSTATS_BATCH_BYTES per
 * thread slot) stays below 2^63 bytes: memory a process can really hold
 * always does; fictitious sizes beyond that wrap the signed shared total. */
bool memstats_record_allocation(MemStats* stats, size_t bytes);

/* Records a free of `bytes` (1 .. SIZE_MAX/4) by the calling thread, which
 * need not be the thread that recorded the allocation.  Returns false,
 * recording nothing, for NULL stats or a size outside that range. */
bool memstats_record_free(MemStats* stats, size_t bytes);

/* Fills *out with every figure.  Returns false (leaving *out untouched) for
 * NULL arguments. */
bool memstats_snapshot(const MemStats* stats, MemStatsSnapshot* out);

/* Restarts the peak from the current usage: afterwards the peak is the high
 * water mark since the reset (same guarantees as before).  May run
 * concurrently with recording and reads; NULL is a no-op. */
void memstats_reset_peak(MemStats* stats);

/* Single figures; each returns 0 for NULL. */
uint64_t memstats_current(const MemStats* stats);
uint64_t memstats_peak(const MemStats* stats);
uint64_t memstats_total_allocated(const MemStats* stats);
uint64_t memstats_total_freed(const MemStats* stats);

/* The most the peak may exceed the true high-water mark by:
 * 2 * batch (MEMSTATS_BATCH_BYTES, or limit/256 if smaller) times the number
 * of thread slots that have recorded anything, or 0 while only one slot has.
 * 0 for NULL. */
uint64_t memstats_peak_overreport_bound(const MemStats* stats);

/* Checks the statistics' internal invariants (intact structures, counters
 * consistent with each other).  Safe to call while other threads record;
 * returns false on any violation, never crashes. */
bool memstats_validate(const MemStats* stats);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_MEMSTATS_H_ */
