/* statetracker: a compare-and-swap state machine over StrategyStatus, driven
 * by one transition table.
 *
 * The table below (returned by state_transition_table) is the single source
 * of truth for legal status changes; the models under models/ are checked
 * against it by a conformance test.
 *
 *     from            to
 *     initializing -> active          create finished
 *     initializing -> shutting down   create failed part-way
 *     active       -> degraded        validation found a broken invariant
 *     active       -> shutting down   destroy began
 *     degraded     -> shutting down   destroy began
 *     shutting down-> destroyed       destroy finished
 *
 * Which operations each status allows (state_allows_operation):
 *
 *     status          allocate  deallocate  read
 *     initializing       -          -         -
 *     active             x          x         x
 *     degraded           -          x         x
 *     shutting down      -          -         x
 *     destroyed          -          -         -
 *
 * Thread safety:
 *
 *     call                         may run concurrently with
 *     state_tracker_status         everything but destroy
 *     state_tracker_transition     everything but destroy (CAS; one winner)
 *     state_tracker_refused_count  everything but destroy
 *     table queries                everything (the table is constant)
 *     state_tracker_destroy        nothing on the same tracker
 */
#ifndef MEMSTRATEGY_STATETRACKER_H_
#define MEMSTRATEGY_STATETRACKER_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory_strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct StateTracker StateTracker;

/* One row of the transition table. */
typedef struct StateTransition {
    StrategyStatus from;
    StrategyStatus to;
} StateTransition;

/* The outcome of state_tracker_transition. */
typedef enum StateTransitionResult {
    STATE_TRANSITION_DONE = 0,      /* the status was `from` and is now `to` */
    STATE_TRANSITION_ILLEGAL,       /* the table forbids from -> to; nothing changed */
    STATE_TRANSITION_CONFLICT,      /* legal, but the status was not `from`; nothing changed */
    STATE_TRANSITION_INVALID_ARGUMENT /* NULL tracker; nothing changed */
} StateTransitionResult;

/* Creates a tracker in STRATEGY_INITIALIZING.  Returns NULL if memory for it
 * cannot be obtained. */
StateTracker* state_tracker_create(void);

/* Frees a tracker.  NULL is a no-op.  No other call on it may be running. */
void state_tracker_destroy(StateTracker* tracker);

/* Returns the current status (acquire: pairs with the release of the
 * transition that set it, so what the transitioning thread wrote before the
 * change is visible).  STRATEGY_STATUS_INVALID for NULL or for a stored value
 * outside the enum. */
StrategyStatus state_tracker_status(const StateTracker* tracker);

/* Changes the status from `from` to `to` by one compare-and-swap, if the table
 * allows it and the status is `from`.  Success is acq_rel; a refusal changes
 * nothing.  An ILLEGAL request is counted (state_tracker_refused_count). */
StateTransitionResult state_tracker_transition(StateTracker* tracker, StrategyStatus from,
                                               StrategyStatus to);

/* Returns how many ILLEGAL transitions this tracker refused; 0 for NULL. */
uint64_t state_tracker_refused_count(const StateTracker* tracker);

/* Returns true if the table contains from -> to. */
bool state_transition_is_legal(StrategyStatus from, StrategyStatus to);

/* Returns true if a strategy in `status` may perform `operation`. */
bool state_allows_operation(StrategyStatus status, StrategyOperation operation);

/* Returns the number of rows in the transition table and points *rows at
 * them (if rows is not NULL).  The table is constant and sorted by (from, to). */
size_t state_transition_table(const StateTransition** rows);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_STATETRACKER_H_ */
