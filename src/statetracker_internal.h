/* Internal: the layout of StateTracker, so a strategy can embed one, and the
 * inline check used on the allocation hot path.
 *
 * The protocol is modelled in models/StrategyLifecycle.tla (and its checked
 * twin models/StrategyLifecycle.pml). */
#ifndef MEMSTRATEGY_SRC_STATETRACKER_INTERNAL_H_
#define MEMSTRATEGY_SRC_STATETRACKER_INTERNAL_H_

#include "ms_atomic.h"
#include "statetracker.h"

struct StateTracker {
    _Atomic uint32_t status;  /* a StrategyStatus; changed only by CAS */
    _Atomic uint64_t refused; /* illegal transitions requested */
};

/* Bit s of each mask is set when status s allows the operation.  Each is
 * one run of consecutive statuses (MS_ALLOWS_RUN), which lets
 * ms_state_allows test it with one subtraction and one comparison. */
#define MS_ALLOWS_RUN(first, last) ((2u << (last)) - (1u << (first)))
#define MS_ALLOWS_ALLOCATE MS_ALLOWS_RUN(STRATEGY_ACTIVE, STRATEGY_ACTIVE)
#define MS_ALLOWS_DEALLOCATE MS_ALLOWS_RUN(STRATEGY_ACTIVE, STRATEGY_DEGRADED)
#define MS_ALLOWS_READ MS_ALLOWS_RUN(STRATEGY_ACTIVE, STRATEGY_SHUTTING_DOWN)

/* Initialises an embedded tracker in STRATEGY_INITIALIZING.  Plain
 * initialisation: the object is not yet shared with any other thread. */
void ms_state_tracker_init(StateTracker* tracker);

/* True if the tracker's status is in `mask`.  Relaxed is enough: the strategy
 * was handed to this thread through the caller's own synchronisation, which
 * already orders its construction before this call; a status change racing
 * with the call may be seen or not, either outcome is a legal linearisation
 * (the operation runs before or after the change; see StrategyLifecycle.tla,
 * action CheckStatus). */
static inline bool ms_state_allows(const StateTracker* tracker, uint32_t mask) {
    uint32_t s = ms_load_relaxed(&tracker->status);
#if defined(__GNUC__)
    /* `mask` is a run (MS_ALLOWS_RUN): s is in it iff s - first < length,
     * unsigned, which also refuses any value above the run.  `mask` is a
     * constant at every call, so both builtins fold. */
    return s - (uint32_t)__builtin_ctz(mask) < (uint32_t)__builtin_popcount(mask);
#else
    return s < 32u && ((mask >> s) & 1u) != 0;
#endif
}

#endif /* MEMSTRATEGY_SRC_STATETRACKER_INTERNAL_H_ */
