// Tests of the status machine (statetracker.h): the transition table, the
// operation matrix, and the compare-and-swap that applies them.
#include "statetracker.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.h"

namespace {

constexpr StrategyStatus kStates[STRATEGY_STATUS_COUNT] = {
    STRATEGY_INITIALIZING, STRATEGY_ACTIVE, STRATEGY_DEGRADED, STRATEGY_SHUTTING_DOWN,
    STRATEGY_DESTROYED,
};

// The transition table exactly as the comment in statetracker.h states it.
const std::vector<std::pair<StrategyStatus, StrategyStatus>>& DocumentedTable() {
    static const std::vector<std::pair<StrategyStatus, StrategyStatus>> table = {
        {STRATEGY_INITIALIZING, STRATEGY_ACTIVE},
        {STRATEGY_INITIALIZING, STRATEGY_SHUTTING_DOWN},
        {STRATEGY_ACTIVE, STRATEGY_DEGRADED},
        {STRATEGY_ACTIVE, STRATEGY_SHUTTING_DOWN},
        {STRATEGY_DEGRADED, STRATEGY_SHUTTING_DOWN},
        {STRATEGY_SHUTTING_DOWN, STRATEGY_DESTROYED},
    };
    return table;
}

bool InDocumentedTable(StrategyStatus from, StrategyStatus to) {
    for (const auto& row : DocumentedTable()) {
        if (row.first == from && row.second == to) return true;
    }
    return false;
}

// The operation matrix exactly as the comment in statetracker.h states it:
// allocate, deallocate, read for each status.
bool DocumentedAllows(StrategyStatus status, StrategyOperation op) {
    static const bool matrix[STRATEGY_STATUS_COUNT][STRATEGY_OP_COUNT] = {
        /* initializing  */ {false, false, false},
        /* active        */ {true, true, true},
        /* degraded      */ {false, true, true},
        /* shutting down */ {false, false, true},
        /* destroyed     */ {false, false, false},
    };
    return matrix[status][op];
}

// Drives a fresh tracker to `target` through legal transitions only.
void DriveTo(StateTracker* tracker, StrategyStatus target) {
    ASSERT_EQ(STRATEGY_INITIALIZING, state_tracker_status(tracker));
    switch (target) {
    case STRATEGY_INITIALIZING:
        break;
    case STRATEGY_ACTIVE:
        ASSERT_EQ(STATE_TRANSITION_DONE,
                  state_tracker_transition(tracker, STRATEGY_INITIALIZING, STRATEGY_ACTIVE));
        break;
    case STRATEGY_DEGRADED:
        ASSERT_EQ(STATE_TRANSITION_DONE,
                  state_tracker_transition(tracker, STRATEGY_INITIALIZING, STRATEGY_ACTIVE));
        ASSERT_EQ(STATE_TRANSITION_DONE, state_tracker_transition(tracker, STRATEGY_ACTIVE, STRATEGY_DEGRADED));
        break;
    case STRATEGY_SHUTTING_DOWN:
        ASSERT_EQ(STATE_TRANSITION_DONE,
                  state_tracker_transition(tracker, STRATEGY_INITIALIZING, STRATEGY_SHUTTING_DOWN));
        break;
    case STRATEGY_DESTROYED:
        ASSERT_EQ(STATE_TRANSITION_DONE,
                  state_tracker_transition(tracker, STRATEGY_INITIALIZING, STRATEGY_SHUTTING_DOWN));
        ASSERT_EQ(STATE_TRANSITION_DONE,
                  state_tracker_transition(tracker, STRATEGY_SHUTTING_DOWN, STRATEGY_DESTROYED));
        break;
    case STRATEGY_STATUS_INVALID:
        FAIL() << "not a state";
    }
    ASSERT_EQ(target, state_tracker_status(tracker));
    ASSERT_EQ(0u, state_tracker_refused_count(tracker));
}

// Owns a tracker for the duration of a test.
struct TrackerHolder {
    TrackerHolder() : tracker(state_tracker_create()) {}
    ~TrackerHolder() { state_tracker_destroy(tracker); }
    TrackerHolder(const TrackerHolder&) = delete;
    TrackerHolder& operator=(const TrackerHolder&) = delete;
    StateTracker* tracker;
};

// ---- life cycle ----------------------------------------------------------------

TEST(StateTracker, CreateStartsInitializingWithNothingRefused) {
    StateTracker* tracker = state_tracker_create();
    ASSERT_NE(nullptr, tracker);
    EXPECT_EQ(STRATEGY_INITIALIZING, state_tracker_status(tracker));
    EXPECT_EQ(0u, state_tracker_refused_count(tracker));
    state_tracker_destroy(tracker);
}

TEST(StateTracker, TrackersAreIndependent) {
    TrackerHolder a;
    TrackerHolder b;
    ASSERT_NE(nullptr, a.tracker);
    ASSERT_NE(nullptr, b.tracker);
    ASSERT_NE(a.tracker, b.tracker);
    EXPECT_EQ(STATE_TRANSITION_DONE, state_tracker_transition(a.tracker, STRATEGY_INITIALIZING, STRATEGY_ACTIVE));
    EXPECT_EQ(STATE_TRANSITION_ILLEGAL, state_tracker_transition(a.tracker, STRATEGY_ACTIVE, STRATEGY_ACTIVE));
    EXPECT_EQ(STRATEGY_ACTIVE, state_tracker_status(a.tracker));
    EXPECT_EQ(1u, state_tracker_refused_count(a.tracker));
    EXPECT_EQ(STRATEGY_INITIALIZING, state_tracker_status(b.tracker));
    EXPECT_EQ(0u, state_tracker_refused_count(b.tracker));
}

TEST(StateTracker, NullHandling) {
    state_tracker_destroy(nullptr);  // no-op
    EXPECT_EQ(STRATEGY_STATUS_INVALID, state_tracker_status(nullptr));
    EXPECT_EQ(0u, state_tracker_refused_count(nullptr));
    // A NULL tracker is refused before the table is consulted, legal or not.
    EXPECT_EQ(STATE_TRANSITION_INVALID_ARGUMENT,
              state_tracker_transition(nullptr, STRATEGY_INITIALIZING, STRATEGY_ACTIVE));
    EXPECT_EQ(STATE_TRANSITION_INVALID_ARGUMENT,
              state_tracker_transition(nullptr, STRATEGY_DESTROYED, STRATEGY_ACTIVE));
}

// ---- transitions ----------------------------------------------------------------

TEST(StateTracker, EveryLegalTransitionSucceedsFromItsSourceState) {
    const StateTransition* rows = nullptr;
    const size_t n = state_transition_table(&rows);
    ASSERT_NE(nullptr, rows);
    ASSERT_EQ(DocumentedTable().size(), n);
    for (size_t i = 0; i < n; i++) {
        SCOPED_TRACE(std::string(strategy_status_name(rows[i].from)) + " -> " + strategy_status_name(rows[i].to));
        TrackerHolder h;
        ASSERT_NE(nullptr, h.tracker);
        ASSERT_NO_FATAL_FAILURE(DriveTo(h.tracker, rows[i].from));
        EXPECT_EQ(STATE_TRANSITION_DONE, state_tracker_transition(h.tracker, rows[i].from, rows[i].to));
        EXPECT_EQ(rows[i].to, state_tracker_status(h.tracker));
        EXPECT_EQ(0u, state_tracker_refused_count(h.tracker));
    }
}

TEST(StateTracker, LegalTransitionFromAnotherStateIsAConflict) {
    for (const auto& row : DocumentedTable()) {
        for (StrategyStatus current : kStates) {
            if (current == row.first) continue;
            SCOPED_TRACE(std::string("current ") + strategy_status_name(current) + ", request " +
                         strategy_status_name(row.first) + " -> " + strategy_status_name(row.second));
            TrackerHolder h;
            ASSERT_NE(nullptr, h.tracker);
            ASSERT_NO_FATAL_FAILURE(DriveTo(h.tracker, current));
            EXPECT_EQ(STATE_TRANSITION_CONFLICT, state_tracker_transition(h.tracker, row.first, row.second));
            EXPECT_EQ(current, state_tracker_status(h.tracker));
            // Conflicts are not illegal requests: not counted.
            EXPECT_EQ(0u, state_tracker_refused_count(h.tracker));
        }
    }
}

TEST(StateTracker, EveryPairOutsideTheTableIsIllegalAndCounted) {
    int illegal_pairs = 0;
    for (StrategyStatus from : kStates) {
        for (StrategyStatus to : kStates) {
            if (InDocumentedTable(from, to)) continue;
            illegal_pairs++;
            // Ask from every current state, including `from` itself: the
            // table is checked before the status.
            for (StrategyStatus current : kStates) {
                SCOPED_TRACE(std::string("current ") + strategy_status_name(current) + ", request " +
                             strategy_status_name(from) + " -> " + strategy_status_name(to));
                TrackerHolder h;
                ASSERT_NE(nullptr, h.tracker);
                ASSERT_NO_FATAL_FAILURE(DriveTo(h.tracker, current));
                EXPECT_EQ(STATE_TRANSITION_ILLEGAL, state_tracker_transition(h.tracker, from, to));
                EXPECT_EQ(current, state_tracker_status(h.tracker));
                EXPECT_EQ(1u, state_tracker_refused_count(h.tracker));
                EXPECT_EQ(STATE_TRANSITION_ILLEGAL, state_tracker_transition(h.tracker, from, to));
                EXPECT_EQ(2u, state_tracker_refused_count(h.tracker));
                EXPECT_EQ(current, state_tracker_status(h.tracker));
            }
        }
    }
    EXPECT_EQ(STRATEGY_STATUS_COUNT * STRATEGY_STATUS_COUNT - 6, illegal_pairs);
}

TEST(StateTracker, TransitionsInvolvingTheInvalidMarkerAreIllegal) {
    TrackerHolder h;
    ASSERT_NE(nullptr, h.tracker);
    uint64_t expected_refused = 0;
    for (StrategyStatus s : kStates) {
        EXPECT_EQ(STATE_TRANSITION_ILLEGAL, state_tracker_transition(h.tracker, s, STRATEGY_STATUS_INVALID));
        EXPECT_EQ(STATE_TRANSITION_ILLEGAL, state_tracker_transition(h.tracker, STRATEGY_STATUS_INVALID, s));
        expected_refused += 2;
    }
    EXPECT_EQ(STATE_TRANSITION_ILLEGAL,
              state_tracker_transition(h.tracker, STRATEGY_STATUS_INVALID, STRATEGY_STATUS_INVALID));
    expected_refused++;
    EXPECT_EQ(expected_refused, state_tracker_refused_count(h.tracker));
    EXPECT_EQ(STRATEGY_INITIALIZING, state_tracker_status(h.tracker));
}

TEST(StateTracker, FullLifeCyclesThroughDegraded) {
    TrackerHolder h;
    ASSERT_NE(nullptr, h.tracker);
    const StrategyStatus path[] = {STRATEGY_INITIALIZING, STRATEGY_ACTIVE, STRATEGY_DEGRADED,
                                   STRATEGY_SHUTTING_DOWN, STRATEGY_DESTROYED};
    for (size_t i = 0; i + 1 < sizeof path / sizeof path[0]; i++) {
        EXPECT_EQ(STATE_TRANSITION_DONE, state_tracker_transition(h.tracker, path[i], path[i + 1]));
        EXPECT_EQ(path[i + 1], state_tracker_status(h.tracker));
    }
    // DESTROYED is absorbing.
    for (StrategyStatus to : kStates) {
        EXPECT_NE(STATE_TRANSITION_DONE, state_tracker_transition(h.tracker, STRATEGY_DESTROYED, to));
    }
    EXPECT_EQ(STRATEGY_DESTROYED, state_tracker_status(h.tracker));
}

// ---- the table ----------------------------------------------------------------------

TEST(TransitionTable, MatchesTheDocumentedTable) {
    const StateTransition* rows = nullptr;
    const size_t n = state_transition_table(&rows);
    ASSERT_NE(nullptr, rows);
    ASSERT_EQ(DocumentedTable().size(), n);
    for (size_t i = 0; i < n; i++) {
        EXPECT_EQ(DocumentedTable()[i].first, rows[i].from) << "row " << i;
        EXPECT_EQ(DocumentedTable()[i].second, rows[i].to) << "row " << i;
    }
    EXPECT_EQ(n, state_transition_table(nullptr));
}

TEST(TransitionTable, IsSortedWithoutDuplicatesAndOverRealStates) {
    const StateTransition* rows = nullptr;
    const size_t n = state_transition_table(&rows);
    ASSERT_GT(n, 0u);
    for (size_t i = 0; i < n; i++) {
        EXPECT_LT(static_cast<int>(rows[i].from), STRATEGY_STATUS_COUNT) << "row " << i;
        EXPECT_LT(static_cast<int>(rows[i].to), STRATEGY_STATUS_COUNT) << "row " << i;
        EXPECT_NE(rows[i].from, rows[i].to) << "row " << i;
    }
    for (size_t i = 1; i < n; i++) {
        const auto prev = std::make_pair(static_cast<int>(rows[i - 1].from), static_cast<int>(rows[i - 1].to));
        const auto cur = std::make_pair(static_cast<int>(rows[i].from), static_cast<int>(rows[i].to));
        EXPECT_LT(prev, cur) << "rows " << i - 1 << " and " << i << " are out of order or duplicated";
    }
}

TEST(TransitionTable, IsLegalAgreesWithTheTable) {
    const StateTransition* rows = nullptr;
    const size_t n = state_transition_table(&rows);
    const StrategyStatus all[] = {STRATEGY_INITIALIZING,  STRATEGY_ACTIVE,    STRATEGY_DEGRADED,
                                  STRATEGY_SHUTTING_DOWN, STRATEGY_DESTROYED, STRATEGY_STATUS_INVALID};
    for (StrategyStatus from : all) {
        for (StrategyStatus to : all) {
            bool in_table = false;
            for (size_t i = 0; i < n; i++) in_table = in_table || (rows[i].from == from && rows[i].to == to);
            EXPECT_EQ(in_table, state_transition_is_legal(from, to))
                << strategy_status_name(from) << " -> " << strategy_status_name(to);
            EXPECT_EQ(InDocumentedTable(from, to), state_transition_is_legal(from, to))
                << strategy_status_name(from) << " -> " << strategy_status_name(to);
        }
    }
}

TEST(OperationMatrix, MatchesTheDocumentedMatrix) {
    for (StrategyStatus status : kStates) {
        for (int op = 0; op < STRATEGY_OP_COUNT; op++) {
            const auto operation = static_cast<StrategyOperation>(op);
            EXPECT_EQ(DocumentedAllows(status, operation), state_allows_operation(status, operation))
                << strategy_status_name(status) << " / " << strategy_operation_name(operation);
        }
    }
}

TEST(OperationMatrix, InvalidStatusOrOperationAllowsNothing) {
    for (int op = 0; op < STRATEGY_OP_COUNT; op++) {
        EXPECT_FALSE(state_allows_operation(STRATEGY_STATUS_INVALID, static_cast<StrategyOperation>(op)));
    }
    for (StrategyStatus status : kStates) {
        EXPECT_FALSE(state_allows_operation(status, STRATEGY_OP_COUNT)) << strategy_status_name(status);
    }
}

// ---- concurrency ------------------------------------------------------------------------

// N threads race for the same transition: exactly one wins, the others see a
// conflict, and nothing is counted as illegal.
TEST(StateTrackerConcurrency, ExactlyOneThreadWinsARace) {
    const size_t kThreads = 8;
    const int kRounds = static_cast<int>(mstest::Scaled(200, 40));
    for (int round = 0; round < kRounds; round++) {
        TrackerHolder h;
        ASSERT_NE(nullptr, h.tracker);
        ASSERT_NO_FATAL_FAILURE(DriveTo(h.tracker, STRATEGY_ACTIVE));
        mstest::Barrier start(kThreads);
        std::vector<StateTransitionResult> results(kThreads, STATE_TRANSITION_INVALID_ARGUMENT);
        std::vector<std::thread> threads;
        for (size_t t = 0; t < kThreads; t++) {
            threads.emplace_back([&, t] {
                start.Wait();
                results[t] = state_tracker_transition(h.tracker, STRATEGY_ACTIVE, STRATEGY_DEGRADED);
            });
        }
        for (auto& th : threads) th.join();
        size_t done = 0, conflict = 0;
        for (StateTransitionResult r : results) {
            done += r == STATE_TRANSITION_DONE;
            conflict += r == STATE_TRANSITION_CONFLICT;
        }
        ASSERT_EQ(1u, done) << "round " << round;
        ASSERT_EQ(kThreads - 1, conflict) << "round " << round;
        ASSERT_EQ(STRATEGY_DEGRADED, state_tracker_status(h.tracker));
        ASSERT_EQ(0u, state_tracker_refused_count(h.tracker));
    }
}

// Threads race for two different legal transitions out of ACTIVE: exactly
// one of all of them wins, and the final status is the winner's target.
TEST(StateTrackerConcurrency, CompetingTransitionsHaveOneWinner) {
    const size_t kThreads = 8;
    const int kRounds = static_cast<int>(mstest::Scaled(200, 40));
    for (int round = 0; round < kRounds; round++) {
        TrackerHolder h;
        ASSERT_NE(nullptr, h.tracker);
        ASSERT_NO_FATAL_FAILURE(DriveTo(h.tracker, STRATEGY_ACTIVE));
        mstest::Barrier start(kThreads);
        std::vector<StateTransitionResult> results(kThreads, STATE_TRANSITION_INVALID_ARGUMENT);
        std::vector<std::thread> threads;
        for (size_t t = 0; t < kThreads; t++) {
            threads.emplace_back([&, t] {
                start.Wait();
                // Odd threads also make one illegal request each.
                if (t % 2 == 1) (void)state_tracker_transition(h.tracker, STRATEGY_ACTIVE, STRATEGY_INITIALIZING);
                results[t] = state_tracker_transition(h.tracker, STRATEGY_ACTIVE,
                                                      t % 2 == 0 ? STRATEGY_DEGRADED : STRATEGY_SHUTTING_DOWN);
            });
        }
        for (auto& th : threads) th.join();
        size_t done = 0;
        StrategyStatus winner_target = STRATEGY_STATUS_INVALID;
        for (size_t t = 0; t < kThreads; t++) {
            if (results[t] == STATE_TRANSITION_DONE) {
                done++;
                winner_target = t % 2 == 0 ? STRATEGY_DEGRADED : STRATEGY_SHUTTING_DOWN;
            } else {
                ASSERT_EQ(STATE_TRANSITION_CONFLICT, results[t]) << "round " << round << " thread " << t;
            }
        }
        ASSERT_EQ(1u, done) << "round " << round;
        ASSERT_EQ(winner_target, state_tracker_status(h.tracker));
        ASSERT_EQ(kThreads / 2, state_tracker_refused_count(h.tracker));
    }
}

// What a thread wrote before a successful transition is visible to a thread
// that observes the new status (release/acquire through the status).
TEST(StateTrackerConcurrency, TransitionPublishesPriorWrites) {
    const int kRounds = static_cast<int>(mstest::Scaled(200, 50));
    for (int round = 0; round < kRounds; round++) {
        TrackerHolder h;
        ASSERT_NE(nullptr, h.tracker);
        ASSERT_NO_FATAL_FAILURE(DriveTo(h.tracker, STRATEGY_ACTIVE));
        int payload = 0;  // plain: ordered only by the tracker's transition
        std::thread writer([&] {
            payload = round + 1;
            ASSERT_EQ(STATE_TRANSITION_DONE, state_tracker_transition(h.tracker, STRATEGY_ACTIVE, STRATEGY_DEGRADED));
        });
        while (state_tracker_status(h.tracker) != STRATEGY_DEGRADED) std::this_thread::yield();
        EXPECT_EQ(round + 1, payload);
        writer.join();
    }
}

}  // namespace
