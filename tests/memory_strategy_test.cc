// Tests of the interface's name functions (memory_strategy.h).
#include "memory_strategy.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

TEST(StrategyStatusName, NamesEveryStatus) {
    EXPECT_STREQ("initializing", strategy_status_name(STRATEGY_INITIALIZING));
    EXPECT_STREQ("active", strategy_status_name(STRATEGY_ACTIVE));
    EXPECT_STREQ("degraded", strategy_status_name(STRATEGY_DEGRADED));
    EXPECT_STREQ("shutting down", strategy_status_name(STRATEGY_SHUTTING_DOWN));
    EXPECT_STREQ("destroyed", strategy_status_name(STRATEGY_DESTROYED));
    EXPECT_STREQ("invalid", strategy_status_name(STRATEGY_STATUS_INVALID));
}

TEST(StrategyStatusName, RealStatesHaveDistinctNames) {
    std::set<std::string> names;
    for (int s = 0; s < STRATEGY_STATUS_COUNT; s++) {
        const char* name = strategy_status_name(static_cast<StrategyStatus>(s));
        ASSERT_NE(nullptr, name);
        EXPECT_STRNE("invalid", name) << "status " << s;
        names.insert(name);
    }
    EXPECT_EQ(static_cast<size_t>(STRATEGY_STATUS_COUNT), names.size());
}

// Out-of-range values: C++14 defines a conversion to an enum without a fixed
// underlying type only inside the enum's range of values (the smallest bit
// field holding every enumerator, e.g. 0..7 for StrategyStatus), so the tests
// use values of that range that name no real member: the sentinels, and for
// StrategyStatus the two values above STRATEGY_STATUS_INVALID.  In the C code
// every non-member value takes the same path (no case matches), so a larger
// value would test nothing more.
static_assert(STRATEGY_STATUS_INVALID + 2 <= 7, "StrategyStatus's range of values is 0..7");

TEST(StrategyStatusName, OutOfRangeIsInvalid) {
    for (int s : {static_cast<int>(STRATEGY_STATUS_INVALID), STRATEGY_STATUS_INVALID + 1, STRATEGY_STATUS_INVALID + 2}) {
        const char* name = strategy_status_name(static_cast<StrategyStatus>(s));
        ASSERT_NE(nullptr, name);
        EXPECT_STREQ("invalid", name) << "status " << s;
    }
}

TEST(StrategyErrorName, NamesEveryError) {
    EXPECT_STREQ("ok", strategy_error_name(STRATEGY_OK));
    EXPECT_STREQ("invalid size", strategy_error_name(STRATEGY_ERROR_INVALID_SIZE));
    EXPECT_STREQ("out of memory", strategy_error_name(STRATEGY_ERROR_OUT_OF_MEMORY));
    EXPECT_STREQ("illegal state", strategy_error_name(STRATEGY_ERROR_ILLEGAL_STATE));
    EXPECT_STREQ("invalid pointer", strategy_error_name(STRATEGY_ERROR_INVALID_POINTER));
    EXPECT_STREQ("illegal transition", strategy_error_name(STRATEGY_ERROR_ILLEGAL_TRANSITION));
    EXPECT_STREQ("limit exceeded", strategy_error_name(STRATEGY_ERROR_LIMIT_EXCEEDED));
    EXPECT_STREQ("leak", strategy_error_name(STRATEGY_ERROR_LEAK));
}

TEST(StrategyErrorName, EveryErrorHasADistinctKnownName) {
    std::set<std::string> names;
    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) {
        const char* name = strategy_error_name(static_cast<StrategyError>(e));
        ASSERT_NE(nullptr, name);
        EXPECT_STRNE("unknown", name) << "error " << e;
        names.insert(name);
    }
    EXPECT_EQ(static_cast<size_t>(STRATEGY_ERROR_COUNT), names.size());
}

TEST(StrategyErrorName, OutOfRangeIsUnknown) {
    const char* name = strategy_error_name(STRATEGY_ERROR_COUNT);
    ASSERT_NE(nullptr, name);
    EXPECT_STREQ("unknown", name);
}

TEST(StrategyOperationName, NamesEveryOperation) {
    EXPECT_STREQ("allocate", strategy_operation_name(STRATEGY_OP_ALLOCATE));
    EXPECT_STREQ("deallocate", strategy_operation_name(STRATEGY_OP_DEALLOCATE));
    EXPECT_STREQ("read", strategy_operation_name(STRATEGY_OP_READ));
}

TEST(StrategyOperationName, EveryOperationHasADistinctKnownName) {
    std::set<std::string> names;
    for (int op = 0; op < STRATEGY_OP_COUNT; op++) {
        const char* name = strategy_operation_name(static_cast<StrategyOperation>(op));
        ASSERT_NE(nullptr, name);
        EXPECT_STRNE("unknown", name) << "operation " << op;
        names.insert(name);
    }
    EXPECT_EQ(static_cast<size_t>(STRATEGY_OP_COUNT), names.size());
}

TEST(StrategyOperationName, OutOfRangeIsUnknown) {
    const char* name = strategy_operation_name(STRATEGY_OP_COUNT);
    ASSERT_NE(nullptr, name);
    EXPECT_STREQ("unknown", name);
}

TEST(StrategyLimits, MaxAllocationIsAQuarterOfTheAddressSpace) {
    EXPECT_EQ(SIZE_MAX / 4, static_cast<size_t>(STRATEGY_MAX_ALLOCATION));
}

}  // namespace
