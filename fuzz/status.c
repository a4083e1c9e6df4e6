/* Fuzz target "status": random status changes on StateTrackers, legal and
 * illegal, against a shadow built from the transition table itself
 * (state_transition_table).
 *
 * Input: operations of three bytes (opcode, from, to) until the input ends.
 * `from` and `to` range over the five states, STRATEGY_STATUS_INVALID and two
 * values outside the enum.
 *
 * Checked after every step, for each of two trackers (independent of each
 * other) and for NULL:
 *   - state_tracker_transition returns DONE / ILLEGAL / CONFLICT exactly as
 *     the shadow predicts (ILLEGAL: the table has no row from -> to;
 *     CONFLICT: legal but the status is not `from`; DONE otherwise, and the
 *     status becomes `to`); INVALID_ARGUMENT for NULL, changing nothing;
 *   - state_tracker_status equals the shadow, state_tracker_refused_count
 *     equals the shadow's count of ILLEGAL requests;
 *   - state_transition_is_legal agrees with the table; state_allows_operation
 *     agrees with the operation table documented in statetracker.h.
 *
 * Once per run the table itself is checked: sorted by (from, to), no
 * duplicates, only real states, no self-loops, nothing out of DESTROYED. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_input.h"
#include "statetracker.h"

#define TRACKERS 2
#define STATUS_VALUES 8 /* 0..4 states, 5 INVALID, 6..7 outside the enum */

typedef struct Shadow {
    StrategyStatus status;
    uint64_t refused;
} Shadow;

/* The table under test, as an adjacency matrix over the real states. */
static bool g_legal[STRATEGY_STATUS_COUNT][STRATEGY_STATUS_COUNT];

static bool shadow_legal(unsigned from, unsigned to) {
    return from < STRATEGY_STATUS_COUNT && to < STRATEGY_STATUS_COUNT && g_legal[from][to];
}

/* Which operations each status allows, as documented in statetracker.h
 * (independent of the implementation's bit masks). */
static bool shadow_allows(unsigned status, unsigned operation) {
    switch (status) {
    case STRATEGY_ACTIVE: return operation < STRATEGY_OP_COUNT;
    case STRATEGY_DEGRADED:
        return operation == STRATEGY_OP_DEALLOCATE || operation == STRATEGY_OP_READ;
    case STRATEGY_SHUTTING_DOWN: return operation == STRATEGY_OP_READ;
    default: return false; /* initializing, destroyed, invalid, outside the enum */
    }
}

static void load_and_check_table(void) {
    const StateTransition* rows = NULL;
    size_t n = state_transition_table(&rows);
    FUZZ_CHECK(n == state_transition_table(NULL));
    FUZZ_CHECK(n > 0 && rows != NULL);
    for (unsigned f = 0; f < STRATEGY_STATUS_COUNT; f++) {
        for (unsigned t = 0; t < STRATEGY_STATUS_COUNT; t++) g_legal[f][t] = false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned from = (unsigned)rows[i].from, to = (unsigned)rows[i].to;
        FUZZ_CHECK(from < STRATEGY_STATUS_COUNT && to < STRATEGY_STATUS_COUNT);
        FUZZ_CHECK(from != to);                        /* no self-loops */
        FUZZ_CHECK(from != STRATEGY_DESTROYED);        /* absorbing */
        FUZZ_CHECK(to != STRATEGY_INITIALIZING);       /* never re-entered */
        if (i > 0) {
            unsigned pf = (unsigned)rows[i - 1].from, pt = (unsigned)rows[i - 1].to;
            FUZZ_CHECK(pf < from || (pf == from && pt < to)); /* sorted, no duplicates */
        }
        g_legal[from][to] = true;
    }
}

/* A status value for from/to: mostly real states, sometimes not. */
static StrategyStatus decode_status(FuzzInput* in) {
    return (StrategyStatus)(fuzz_u8(in) % STATUS_VALUES);
}

static void check_tracker(const StateTracker* t, const Shadow* sh) {
    FUZZ_CHECK(state_tracker_status(t) == sh->status);
    FUZZ_CHECK(state_tracker_refused_count(t) == sh->refused);
}

static void transition(StateTracker* t, Shadow* sh, StrategyStatus from, StrategyStatus to) {
    StateTransitionResult want;
    if (!shadow_legal((unsigned)from, (unsigned)to)) {
        want = STATE_TRANSITION_ILLEGAL;
        sh->refused++;
    } else if (sh->status != from) {
        want = STATE_TRANSITION_CONFLICT;
    } else {
        want = STATE_TRANSITION_DONE;
        sh->status = to;
    }
    FUZZ_CHECK(state_tracker_transition(t, from, to) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    load_and_check_table();
    FuzzInput in = fuzz_input_make(data, size);
    StateTracker* trackers[TRACKERS];
    Shadow shadows[TRACKERS];
    for (int i = 0; i < TRACKERS; i++) {
        trackers[i] = state_tracker_create();
        FUZZ_CHECK(trackers[i] != NULL);
        shadows[i] = (Shadow){STRATEGY_INITIALIZING, 0};
        check_tracker(trackers[i], &shadows[i]);
    }

    while (!fuzz_input_done(&in)) {
        uint8_t op = fuzz_u8(&in);
        StrategyStatus from = decode_status(&in);
        StrategyStatus to = decode_status(&in);
        int which = (op >> 4) % TRACKERS;
        switch (op % 5) {
        case 0: /* the request as decoded */
            transition(trackers[which], &shadows[which], from, to);
            break;
        case 1: /* from the current status (never CONFLICT): walks the table */
            transition(trackers[which], &shadows[which], shadows[which].status, to);
            break;
        case 2: /* NULL tracker */
            FUZZ_CHECK(state_tracker_transition(NULL, from, to) == STATE_TRANSITION_INVALID_ARGUMENT);
            FUZZ_CHECK(state_tracker_status(NULL) == STRATEGY_STATUS_INVALID);
            FUZZ_CHECK(state_tracker_refused_count(NULL) == 0);
            break;
        case 3: /* table queries */
            FUZZ_CHECK(state_transition_is_legal(from, to) == shadow_legal((unsigned)from, (unsigned)to));
            for (unsigned o = 0; o < STRATEGY_OP_COUNT + 2; o++) {
                FUZZ_CHECK(state_allows_operation(from, (StrategyOperation)o) ==
                           shadow_allows((unsigned)from, o));
            }
            break;
        default: /* restart one tracker */
            state_tracker_destroy(trackers[which]);
            trackers[which] = state_tracker_create();
            FUZZ_CHECK(trackers[which] != NULL);
            shadows[which] = (Shadow){STRATEGY_INITIALIZING, 0};
            break;
        }
        for (int i = 0; i < TRACKERS; i++) check_tracker(trackers[i], &shadows[i]);
    }
    for (int i = 0; i < TRACKERS; i++) state_tracker_destroy(trackers[i]);
    state_tracker_destroy(NULL);
    return 0;
}
