/* statetracker: the transition table and the compare-and-swap that applies
 * it.  Modelled in models/StrategyLifecycle.tla. */
#include "statetracker.h"

#include <stdlib.h>

#include "statetracker_internal.h"

/* The single source of truth for legal status changes, sorted by (from, to).
 * tests/conformance_test.cc prints it and compares it with the models. */
static const StateTransition kTransitions[] = {
    {STRATEGY_INITIALIZING, STRATEGY_ACTIVE},
    {STRATEGY_INITIALIZING, STRATEGY_SHUTTING_DOWN},
    {STRATEGY_ACTIVE, STRATEGY_DEGRADED},
    {STRATEGY_ACTIVE, STRATEGY_SHUTTING_DOWN},
    {STRATEGY_DEGRADED, STRATEGY_SHUTTING_DOWN},
    {STRATEGY_SHUTTING_DOWN, STRATEGY_DESTROYED},
};

static const uint32_t kAllowed[STRATEGY_OP_COUNT] = {
    [STRATEGY_OP_ALLOCATE] = MS_ALLOWS_ALLOCATE,
    [STRATEGY_OP_DEALLOCATE] = MS_ALLOWS_DEALLOCATE,
    [STRATEGY_OP_READ] = MS_ALLOWS_READ,
};

static bool is_state(uint32_t s) { return s < STRATEGY_STATUS_COUNT; }

size_t state_transition_table(const StateTransition** rows) {
    if (rows != NULL) *rows = kTransitions;
    return sizeof kTransitions / sizeof kTransitions[0];
}

bool state_transition_is_legal(StrategyStatus from, StrategyStatus to) {
    for (size_t i = 0; i < sizeof kTransitions / sizeof kTransitions[0]; i++) {
        if (kTransitions[i].from == from && kTransitions[i].to == to) return true;
    }
    return false;
}

bool state_allows_operation(StrategyStatus status, StrategyOperation operation) {
    if (!is_state((uint32_t)status) || (unsigned)operation >= STRATEGY_OP_COUNT) return false;
    return ((kAllowed[operation] >> status) & 1u) != 0;
}

void ms_state_tracker_init(StateTracker* tracker) {
    /* Not yet shared: relaxed stores are enough; whoever publishes the
     * owning object to other threads orders these before it. */
    ms_store_relaxed(&tracker->status, (uint32_t)STRATEGY_INITIALIZING);
    ms_store_relaxed(&tracker->refused, 0);
}

StateTracker* state_tracker_create(void) {
    StateTracker* tracker = malloc(sizeof *tracker);
    if (tracker != NULL) ms_state_tracker_init(tracker);
    return tracker;
}

void state_tracker_destroy(StateTracker* tracker) { free(tracker); }

StrategyStatus state_tracker_status(const StateTracker* tracker) {
    if (tracker == NULL) return STRATEGY_STATUS_INVALID;
    /* Acquire: pairs with the acq_rel CAS in state_tracker_transition. */
    uint32_t s = ms_load_acquire(&tracker->status);
    return is_state(s) ? (StrategyStatus)s : STRATEGY_STATUS_INVALID;
}

StateTransitionResult state_tracker_transition(StateTracker* tracker, StrategyStatus from,
                                               StrategyStatus to) {
    if (tracker == NULL) return STATE_TRANSITION_INVALID_ARGUMENT;
    if (!state_transition_is_legal(from, to)) {
        /* Relaxed: a statistic; nothing is published through it. */
        ms_fetch_add_relaxed(&tracker->refused, 1);
        return STATE_TRANSITION_ILLEGAL;
    }
    uint32_t expected = (uint32_t)from;
    /* acq_rel on success: releases what this thread did before the change
     * (pairs with state_tracker_status's acquire) and acquires what the
     * previous transition released.  Acquire on failure is not needed for
     * correctness (nothing is read after a refusal) but costs nothing. */
    if (ms_cas_acq_rel(&tracker->status, &expected, (uint32_t)to)) return STATE_TRANSITION_DONE;
    return STATE_TRANSITION_CONFLICT;
}

uint64_t state_tracker_refused_count(const StateTracker* tracker) {
    if (tracker == NULL) return 0;
    /* Relaxed: a monotonic statistic, read on its own. */
    return ms_load_relaxed(&tracker->refused);
}
