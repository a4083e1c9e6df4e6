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

/* Bit s of each mask is set when status s allows the operation. */
#define MS_ALLOWS_ALLOCATE (1u << STRATEGY_ACTIVE)
#define MS_ALLOWS_DEALLOCATE ((1u << STRATEGY_ACTIVE) | (1u << STRATEGY_DEGRADED))
#define MS_ALLOWS_READ \
    ((1u << STRATEGY_ACTIVE) | (1u << STRATEGY_DEGRADED) | (1u << STRATEGY_SHUTTING_DOWN))

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
    return s < 32u && ((mask >> s) & 1u) != 0;
}

#endif /* MEMSTRATEGY_SRC_STATETRACKER_INTERNAL_H_ */
