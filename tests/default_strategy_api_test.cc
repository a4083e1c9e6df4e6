// Tests of the API beyond the seed (default_strategy.h): zeroed, resized and
// aligned blocks, the memory limit through them (one thread and many),
// hierarchies of strategies, snapshots, names and the validation of the new
// vtable entries.  The printers are tested in report_test.cc.
#include "default_strategy.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.h"

// Requests the system cannot satisfy must come back as NULL (OUT_OF_MEMORY).
// The sanitizers' allocators abort on such a request unless told to return
// NULL as malloc is specified to do.
MSTEST_ALLOCATOR_MAY_RETURN_NULL()

namespace {

using mstest::Barrier;
using mstest::ErrorRecorder;
using mstest::RecordingBackend;
using mstest::Rng;
using mstest::Scaled;

constexpr size_t kMax = STRATEGY_MAX_ALLOCATION;
constexpr size_t kHeader = 16;       // documented in default_strategy.h
constexpr size_t kAlignedExtra = 23; // size + alignment + 23, documented at default_allocate_aligned

// ---- helpers ----------------------------------------------------------------------

struct Destroy {
    void operator()(DefaultStrategy* s) const { destroy_default_strategy(s); }
};
using Strategy = std::unique_ptr<DefaultStrategy, Destroy>;

Strategy Make(const DefaultStrategyConfig& config) { return Strategy(create_default_strategy_with(&config)); }

StrategyStats Stats(const DefaultStrategy* s) {
    StrategyStats st;
    std::memset(&st, 0, sizeof st);
    EXPECT_TRUE(default_strategy_snapshot(s, &st));
    return st;
}

void ExpectSameUsage(const StrategyStats& before, const StrategyStats& after) {
    EXPECT_EQ(before.usage.current_bytes, after.usage.current_bytes);
    EXPECT_EQ(before.usage.peak_bytes, after.usage.peak_bytes);
    EXPECT_EQ(before.usage.total_allocated_bytes, after.usage.total_allocated_bytes);
    EXPECT_EQ(before.usage.total_freed_bytes, after.usage.total_freed_bytes);
    EXPECT_EQ(before.usage.allocations, after.usage.allocations);
    EXPECT_EQ(before.usage.deallocations, after.usage.deallocations);
    EXPECT_EQ(before.usage.live_blocks, after.usage.live_blocks);
}

// A recognisable pattern: byte i of a block filled with `seed`.
unsigned char PatternByte(size_t i, unsigned seed) { return static_cast<unsigned char>(seed + i * 31u); }
void Fill(void* p, size_t n, unsigned seed) {
    auto* b = static_cast<unsigned char*>(p);
    for (size_t i = 0; i < n; i++) b[i] = PatternByte(i, seed);
}
bool Holds(const void* p, size_t n, unsigned seed) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; i++) {
        if (b[i] != PatternByte(i, seed)) return false;
    }
    return true;
}
bool AllZero(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    return std::all_of(b, b + n, [](unsigned char c) { return c == 0; });
}
uintptr_t Address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// The last error a recorder saw.
StrategyErrorInfo LastInfo(const ErrorRecorder& recorder) {
    auto entries = recorder.entries();
    EXPECT_FALSE(entries.empty());
    return entries.empty() ? StrategyErrorInfo{} : entries.back().info;
}

// A backend whose memory is never zero (0xA5 everywhere).
void* DirtyAllocate(void* context, size_t size) {
    static_cast<std::atomic<int>*>(context)->fetch_add(1);
    void* p = std::malloc(size);
    if (p != nullptr) std::memset(p, 0xA5, size);
    return p;
}
void DirtyFree(void* context, void* ptr) {
    (void)context;
    std::free(ptr);
}

// Moves an ACTIVE strategy to DEGRADED the public way: a vtable entry that
// validate checks, broken and then restored.
void Degrade(DefaultStrategy* s) {
    auto saved = s->base.reallocate;
    s->base.reallocate = nullptr;
    EXPECT_FALSE(s->base.validate(&s->base));
    s->base.reallocate = saved;
    ASSERT_EQ(STRATEGY_DEGRADED, default_get_status(&s->base));
}

// ---- allocate_zeroed -------------------------------------------------------------------

TEST(AllocateZeroed, ReturnsZeroedBlockCountedAsTheProduct) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    void* p = default_allocate_zeroed(&s->base, 25, 40);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(0u, Address(p) % 16);
    EXPECT_TRUE(AllZero(p, 1000));
    Fill(p, 1000, 1);  // writable over its full size
    void* q = s->base.allocate_zeroed(&s->base, 3, 5);  // through the vtable
    ASSERT_NE(nullptr, q);
    EXPECT_TRUE(AllZero(q, 15));
    StrategyStats st = Stats(s.get());
    EXPECT_EQ(1015u, st.usage.current_bytes);
    EXPECT_EQ(2u, st.usage.allocations);
    EXPECT_EQ(2u, st.usage.live_blocks);
    s->base.deallocate(&s->base, p);
    s->base.deallocate(&s->base, q);
    EXPECT_EQ(0u, get_current_usage(s.get()));
    EXPECT_EQ(0u, errors.size());
}

TEST(AllocateZeroed, ZeroesRecycledMemory) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    for (int round = 0; round < 20; round++) {
        void* dirty = default_allocate(&s->base, 4096);
        ASSERT_NE(nullptr, dirty);
        std::memset(dirty, 0xff, 4096);
        default_deallocate(&s->base, dirty);
        void* clean = default_allocate_zeroed(&s->base, 4096, 1);
        ASSERT_NE(nullptr, clean);
        EXPECT_TRUE(AllZero(clean, 4096)) << "round " << round;
        default_deallocate(&s->base, clean);
    }
}

TEST(AllocateZeroed, ClearsTheMemoryOfACustomBackend) {
    std::atomic<int> calls{0};
    DefaultStrategyConfig config{};
    config.backend_allocate = DirtyAllocate;
    config.backend_free = DirtyFree;
    config.backend_context = &calls;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    // The backend's memory really is dirty...
    auto* plain = static_cast<unsigned char*>(default_allocate(&s->base, 63));
    ASSERT_NE(nullptr, plain);
    EXPECT_TRUE(std::all_of(plain, plain + 63, [](unsigned char c) { return c == 0xA5; }));
    // ...and a zeroed block from it is not.
    void* zeroed = default_allocate_zeroed(&s->base, 7, 9);
    ASSERT_NE(nullptr, zeroed);
    EXPECT_TRUE(AllZero(zeroed, 63));
    EXPECT_EQ(2, calls.load());
    EXPECT_EQ(126u, get_current_usage(s.get()));
    default_deallocate(&s->base, plain);
    default_deallocate(&s->base, zeroed);
}

TEST(AllocateZeroed, LargeBlockIsZeroEverywhere) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    const size_t n = Scaled(size_t{64} << 20, size_t{8} << 20);
    void* p = default_allocate_zeroed(&s->base, n / 4096, 4096);
    ASSERT_NE(nullptr, p);
    static const unsigned char zeros[4096] = {};
    for (size_t at = 0; at < n; at += sizeof zeros) {
        ASSERT_EQ(0, std::memcmp(static_cast<char*>(p) + at, zeros, sizeof zeros)) << "at " << at;
    }
    EXPECT_EQ(n, get_current_usage(s.get()));
    default_deallocate(&s->base, p);
}

TEST(AllocateZeroed, RefusesOverflowingZeroAndTooLargeProducts) {
    ErrorRecorder errors;
    RecordingBackend backend;
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ASSERT_NE(nullptr, s);
    struct Case {
        size_t count, size, reported;
    };
    const Case cases[] = {
        {SIZE_MAX / 2 + 1, 2, SIZE_MAX},  // wraps to 0
        {2, SIZE_MAX / 2 + 1, SIZE_MAX},
        {SIZE_MAX, SIZE_MAX, SIZE_MAX},
        {SIZE_MAX / 3 + 1, 3, SIZE_MAX},
        {kMax / 2 + 1, 2, kMax + 1},  // no overflow, one byte too large
        {1, kMax + 1, kMax + 1},
        {kMax + 1, 1, kMax + 1},
        {0, 8, 0},
        {8, 0, 0},
        {0, 0, 0},
    };
    StrategyStats before = Stats(s.get());
    for (const Case& c : cases) {
        errors.Clear();
        EXPECT_EQ(nullptr, default_allocate_zeroed(&s->base, c.count, c.size)) << c.count << " x " << c.size;
        ASSERT_EQ(1u, errors.size());
        EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, LastInfo(errors).error);
        EXPECT_EQ(c.reported, LastInfo(errors).size) << c.count << " x " << c.size;
        EXPECT_EQ(nullptr, LastInfo(errors).pointer);
    }
    EXPECT_EQ(0u, backend.allocate_calls());
    ExpectSameUsage(before, Stats(s.get()));
    EXPECT_EQ(sizeof cases / sizeof cases[0], get_error_count(s.get(), STRATEGY_ERROR_INVALID_SIZE));
}

TEST(AllocateZeroed, ProductAtTheMaximumIsAValidSize) {
    ErrorRecorder errors;
    RecordingBackend backend(false, size_t{1} << 20);  // refuses it: OUT_OF_MEMORY, not INVALID_SIZE
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ASSERT_NE(nullptr, s);
    EXPECT_EQ(nullptr, default_allocate_zeroed(&s->base, kMax, 1));
    EXPECT_EQ(kMax + kHeader, backend.last_size());
    EXPECT_EQ(nullptr, default_allocate_zeroed(&s->base, 1, kMax));
    EXPECT_EQ(2u, get_error_count(s.get(), STRATEGY_ERROR_OUT_OF_MEMORY));
    EXPECT_EQ(0u, get_error_count(s.get(), STRATEGY_ERROR_INVALID_SIZE));
    EXPECT_EQ(0u, get_allocation_count(s.get()));
}

TEST(AllocateZeroed, CallocFailureIsOutOfMemory) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    EXPECT_EQ(nullptr, default_allocate_zeroed(&s->base, 1, kMax));
    EXPECT_EQ(1u, get_error_count(s.get(), STRATEGY_ERROR_OUT_OF_MEMORY));
    EXPECT_EQ(kMax, LastInfo(errors).size);
    EXPECT_EQ(0u, get_allocation_count(s.get()));
}

TEST(AllocateZeroed, LimitRefusesAndHandsTheMemoryBack) {
    ErrorRecorder errors;
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
    config.memory_limit = 1000;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    void* p = default_allocate_zeroed(&s->base, 10, 100);  // exactly the limit
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(1000u, get_current_usage(s.get()));
    EXPECT_EQ(nullptr, default_allocate_zeroed(&s->base, 1, 1));
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(errors).error);
    EXPECT_EQ(1u, backend.live_count());  // the refused block went back
    EXPECT_EQ(1000u, get_current_usage(s.get()));
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, backend.live_count());
}

TEST(AllocateZeroed, RefusedUnlessActive) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    Degrade(s.get());
    errors.Clear();
    EXPECT_EQ(nullptr, default_allocate_zeroed(&s->base, 2, 2));
    EXPECT_EQ(STRATEGY_ERROR_ILLEGAL_STATE, LastInfo(errors).error);
    EXPECT_EQ(nullptr, default_allocate_zeroed(nullptr, 2, 2));
}

// ---- reallocate --------------------------------------------------------------------------

TEST(Reallocate, NullPointerAllocates) {
    RecordingBackend backend;
    Strategy s = Make(backend.Config());
    ASSERT_NE(nullptr, s);
    void* p = default_reallocate(&s->base, nullptr, 100);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(100 + kHeader, backend.last_size());
    StrategyStats st = Stats(s.get());
    EXPECT_EQ(100u, st.usage.current_bytes);
    EXPECT_EQ(1u, st.usage.allocations);
    EXPECT_EQ(0u, st.usage.deallocations);
    void* q = s->base.reallocate(&s->base, nullptr, 7);  // through the vtable
    ASSERT_NE(nullptr, q);
    default_deallocate(&s->base, p);
    default_deallocate(&s->base, q);
    EXPECT_EQ(nullptr, default_reallocate(nullptr, nullptr, 8));
}

TEST(Reallocate, GrowthKeepsContentsAndMovesUsageByTheDifference) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 100);
    ASSERT_NE(nullptr, p);
    Fill(p, 100, 7);
    void* q = s->base.reallocate(&s->base, p, 100000);
    ASSERT_NE(nullptr, q);
    EXPECT_EQ(0u, Address(q) % 16);
    EXPECT_TRUE(Holds(q, 100, 7));
    Fill(q, 100000, 8);  // writable over the new size
    StrategyStats st = Stats(s.get());
    EXPECT_EQ(100000u, st.usage.current_bytes);
    EXPECT_EQ(100000u, st.usage.peak_bytes);  // no limit: the old size is not counted twice
    EXPECT_EQ(100100u, st.usage.total_allocated_bytes);
    EXPECT_EQ(100u, st.usage.total_freed_bytes);
    EXPECT_EQ(2u, st.usage.allocations);
    EXPECT_EQ(1u, st.usage.deallocations);
    EXPECT_EQ(1u, st.usage.live_blocks);
    default_deallocate(&s->base, q);
    EXPECT_EQ(0u, get_current_usage(s.get()));
    EXPECT_EQ(0u, errors.size());
}

TEST(Reallocate, ShrinkKeepsTheContentsThatFit) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 5000);
    ASSERT_NE(nullptr, p);
    Fill(p, 5000, 3);
    void* q = default_reallocate(&s->base, p, 300);
    ASSERT_NE(nullptr, q);
    EXPECT_TRUE(Holds(q, 300, 3));
    StrategyStats st = Stats(s.get());
    EXPECT_EQ(300u, st.usage.current_bytes);
    EXPECT_EQ(5000u, st.usage.peak_bytes);
    EXPECT_EQ(1u, st.usage.live_blocks);
    default_deallocate(&s->base, q);
}

TEST(Reallocate, SameSizeCountsOneFreeAndOneAllocation) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 64);
    ASSERT_NE(nullptr, p);
    Fill(p, 64, 9);
    void* q = default_reallocate(&s->base, p, 64);
    ASSERT_NE(nullptr, q);
    EXPECT_TRUE(Holds(q, 64, 9));
    StrategyStats st = Stats(s.get());
    EXPECT_EQ(64u, st.usage.current_bytes);
    EXPECT_EQ(2u, st.usage.allocations);
    EXPECT_EQ(1u, st.usage.deallocations);
    default_deallocate(&s->base, q);
}

TEST(Reallocate, CustomBackendMovesAndReleasesTheOldBlock) {
    ErrorRecorder errors;
    RecordingBackend backend(/*quarantine=*/true);  // freed memory stays readable: a stale free is safe to try
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 40);
    ASSERT_NE(nullptr, p);
    Fill(p, 40, 5);
    void* q = default_reallocate(&s->base, p, 4000);
    ASSERT_NE(nullptr, q);
    EXPECT_NE(p, q);
    EXPECT_TRUE(Holds(q, 40, 5));
    EXPECT_EQ(4000 + kHeader, backend.last_size());
    EXPECT_EQ(1u, backend.live_count());
    EXPECT_EQ(4000u, get_current_usage(s.get()));
    // The old pointer is no longer a live block.
    default_deallocate(&s->base, p);
    EXPECT_EQ(STRATEGY_ERROR_DOUBLE_FREE, LastInfo(errors).error);
    EXPECT_EQ(4000u, get_current_usage(s.get()));
    default_deallocate(&s->base, q);
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_EQ(0u, backend.bad_frees());
}

TEST(Reallocate, SizeZeroAndTooLargeAreRefusedLeavingTheBlock) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 64);
    ASSERT_NE(nullptr, p);
    Fill(p, 64, 11);
    StrategyStats before = Stats(s.get());
    for (size_t size : {size_t{0}, kMax + 1, SIZE_MAX}) {
        errors.Clear();
        EXPECT_EQ(nullptr, default_reallocate(&s->base, p, size));
        ASSERT_EQ(1u, errors.size());
        EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, LastInfo(errors).error);
        EXPECT_EQ(p, LastInfo(errors).pointer);
        EXPECT_EQ(size, LastInfo(errors).size);
    }
    ExpectSameUsage(before, Stats(s.get()));
    EXPECT_TRUE(Holds(p, 64, 11));
    errors.Clear();
    default_deallocate(&s->base, p);  // still live, still the caller's
    EXPECT_EQ(0u, errors.size());
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

TEST(Reallocate, RefusesPointersThatAreNotLiveBlocks) {
    ErrorRecorder errors;
    RecordingBackend backend(/*quarantine=*/true);
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    Strategy other(create_default_strategy());
    ASSERT_NE(nullptr, s);
    ASSERT_NE(nullptr, other);
    auto* live = static_cast<char*>(default_allocate(&s->base, 64));
    void* freed = default_allocate(&s->base, 64);
    void* others = default_allocate(&other->base, 64);
    ASSERT_NE(nullptr, live);
    ASSERT_NE(nullptr, freed);
    ASSERT_NE(nullptr, others);
    default_deallocate(&s->base, freed);
    alignas(16) unsigned char stack[64] = {};
    // A foreign heap pointer whose 16 bytes before are part of the same
    // allocation (before the start of an allocation they may belong to
    // another, freed, one: see ForeignHeapPointer in default_strategy_test).
    auto* foreign_allocation = static_cast<unsigned char*>(std::malloc(96));
    ASSERT_NE(nullptr, foreign_allocation);
    std::memset(foreign_allocation, 0, 96);
    void* foreign = foreign_allocation + 32;
    ASSERT_EQ(0u, Address(foreign) % 16);
    const uint64_t calls = backend.allocate_calls();
    StrategyStats before = Stats(s.get());
    std::memset(live, 0, 64);  // its payload, read as a header by live + 16, is no header
    const std::pair<void*, StrategyError> cases[] = {
        {stack + 16, STRATEGY_ERROR_INVALID_POINTER},   {foreign, STRATEGY_ERROR_INVALID_POINTER},
        {others, STRATEGY_ERROR_WRONG_STRATEGY},         {freed, STRATEGY_ERROR_DOUBLE_FREE},
        {live + 16, STRATEGY_ERROR_INVALID_POINTER},     {live + 1, STRATEGY_ERROR_INVALID_POINTER},
    };
    for (const auto& c : cases) {
        void* bad = c.first;
        errors.Clear();
        EXPECT_EQ(nullptr, default_reallocate(&s->base, bad, 128));
        ASSERT_EQ(1u, errors.size());
        EXPECT_EQ(c.second, LastInfo(errors).error);
        EXPECT_EQ(bad, LastInfo(errors).pointer);
    }
    EXPECT_EQ(calls, backend.allocate_calls());
    ExpectSameUsage(before, Stats(s.get()));
    default_deallocate(&s->base, live);
    default_deallocate(&other->base, others);
    std::free(foreign_allocation);
}

TEST(Reallocate, BackendFailureLeavesTheBlockAndTheFigures) {
    ErrorRecorder errors;
    RecordingBackend backend(false, 1000);
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 100);
    ASSERT_NE(nullptr, p);
    Fill(p, 100, 13);
    StrategyStats before = Stats(s.get());
    EXPECT_EQ(nullptr, default_reallocate(&s->base, p, 2000));
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, LastInfo(errors).error);
    EXPECT_EQ(p, LastInfo(errors).pointer);
    EXPECT_EQ(2000u, LastInfo(errors).size);
    ExpectSameUsage(before, Stats(s.get()));
    EXPECT_TRUE(Holds(p, 100, 13));
    EXPECT_EQ(1u, backend.live_count());
    void* q = default_reallocate(&s->base, p, 500);  // still the caller's: can be resized
    ASSERT_NE(nullptr, q);
    EXPECT_TRUE(Holds(q, 100, 13));
    default_deallocate(&s->base, q);
    EXPECT_EQ(0u, backend.live_count());
}

TEST(Reallocate, MallocFailureWithoutALimitChangesNothing) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 64);
    ASSERT_NE(nullptr, p);
    Fill(p, 64, 17);
    StrategyStats before = Stats(s.get());
    EXPECT_EQ(nullptr, default_reallocate(&s->base, p, kMax));  // realloc() cannot grant it
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, LastInfo(errors).error);
    ExpectSameUsage(before, Stats(s.get()));
    EXPECT_TRUE(Holds(p, 64, 17));
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

TEST(Reallocate, MallocFailureUnderALimitCountsTheAttemptBothWays) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    config.memory_limit = SIZE_MAX / 2;  // lets kMax through, so the backend is asked
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 64);
    ASSERT_NE(nullptr, p);
    Fill(p, 64, 19);
    StrategyStats before = Stats(s.get());
    EXPECT_EQ(nullptr, default_reallocate(&s->base, p, kMax));
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, LastInfo(errors).error);
    StrategyStats after = Stats(s.get());
    // As documented: current usage and live blocks unchanged; the attempt
    // shows as one allocation and one free of the new size.
    EXPECT_EQ(before.usage.current_bytes, after.usage.current_bytes);
    EXPECT_EQ(before.usage.live_blocks, after.usage.live_blocks);
    EXPECT_EQ(before.usage.allocations + 1, after.usage.allocations);
    EXPECT_EQ(before.usage.deallocations + 1, after.usage.deallocations);
    EXPECT_EQ(before.usage.total_allocated_bytes + kMax, after.usage.total_allocated_bytes);
    EXPECT_EQ(before.usage.total_freed_bytes + kMax, after.usage.total_freed_bytes);
    EXPECT_TRUE(Holds(p, 64, 19));
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

// Under a limit the block counts at both sizes during the call.
void CheckLimitNeedsRoomForBothSizes(RecordingBackend* backend) {
    ErrorRecorder errors;
    DefaultStrategyConfig config =
        backend != nullptr ? backend->Config(&ErrorRecorder::Handle, &errors) : mstest::ConfigWithRecorder(&errors);
    config.memory_limit = 1000;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 400);
    ASSERT_NE(nullptr, p);
    Fill(p, 400, 23);
    void* q = default_reallocate(&s->base, p, 600);  // 400 + 600: exactly the limit
    ASSERT_NE(nullptr, q);
    EXPECT_TRUE(Holds(q, 400, 23));
    EXPECT_EQ(600u, get_current_usage(s.get()));
    EXPECT_LE(get_peak_usage(s.get()), 1000u);
    StrategyStats before = Stats(s.get());
    EXPECT_EQ(nullptr, default_reallocate(&s->base, q, 401));  // 600 + 401 > 1000
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(errors).error);
    EXPECT_EQ(q, LastInfo(errors).pointer);
    ExpectSameUsage(before, Stats(s.get()));
    EXPECT_TRUE(Holds(q, 400, 23));
    if (backend != nullptr) {
        EXPECT_EQ(1u, backend->live_count());
    }
    void* r = default_reallocate(&s->base, q, 400);  // 600 + 400 fits
    ASSERT_NE(nullptr, r);
    EXPECT_TRUE(Holds(r, 400, 23));
    EXPECT_EQ(400u, get_current_usage(s.get()));
    default_deallocate(&s->base, r);
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

TEST(Reallocate, UnderALimitNeedsRoomForBothSizesWithRealloc) { CheckLimitNeedsRoomForBothSizes(nullptr); }

TEST(Reallocate, UnderALimitNeedsRoomForBothSizesWhenMoving) {
    RecordingBackend backend;
    CheckLimitNeedsRoomForBothSizes(&backend);
    EXPECT_EQ(0u, backend.live_count());
}

TEST(Reallocate, AlignedBlockKeepsItsAlignment) {
    RecordingBackend backend;
    Strategy s = Make(backend.Config());
    ASSERT_NE(nullptr, s);
    void* p = default_allocate_aligned(&s->base, 4096, 100);
    ASSERT_NE(nullptr, p);
    Fill(p, 100, 29);
    void* q = default_reallocate(&s->base, p, 10000);
    ASSERT_NE(nullptr, q);
    EXPECT_EQ(0u, Address(q) % 4096);
    EXPECT_EQ(10000 + 4096 + kAlignedExtra, backend.last_size());
    EXPECT_TRUE(Holds(q, 100, 29));
    Fill(q, 10000, 30);
    void* r = default_reallocate(&s->base, q, 50);
    ASSERT_NE(nullptr, r);
    EXPECT_EQ(0u, Address(r) % 4096);
    EXPECT_TRUE(Holds(r, 50, 30));
    EXPECT_EQ(50u, get_current_usage(s.get()));
    EXPECT_EQ(1u, backend.live_count());
    default_deallocate(&s->base, r);
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

TEST(Reallocate, DegradedStrategyRefusesButStillFrees) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 32);
    ASSERT_NE(nullptr, p);
    Fill(p, 32, 31);
    Degrade(s.get());
    errors.Clear();
    EXPECT_EQ(nullptr, default_reallocate(&s->base, p, 64));
    EXPECT_EQ(STRATEGY_ERROR_ILLEGAL_STATE, LastInfo(errors).error);
    EXPECT_TRUE(Holds(p, 32, 31));
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

// ---- allocate_aligned --------------------------------------------------------------------

TEST(AllocateAligned, EveryPowerOfTwoUpToTheMaximum) {
    ErrorRecorder errors;
    RecordingBackend backend;
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ASSERT_NE(nullptr, s);
    for (size_t alignment = 1; alignment <= STRATEGY_MAX_ALIGNMENT; alignment *= 2) {
        for (size_t size : {size_t{1}, size_t{24}, size_t{1000}, alignment + 5}) {
            void* p = default_allocate_aligned(&s->base, alignment, size);
            ASSERT_NE(nullptr, p) << alignment << "/" << size;
            EXPECT_EQ(0u, Address(p) % std::max<size_t>(alignment, 16)) << alignment << "/" << size;
            EXPECT_EQ(size + (alignment <= 16 ? kHeader : alignment + kAlignedExtra), backend.last_size());
            Fill(p, size, static_cast<unsigned>(alignment));  // writable over the full size
            EXPECT_TRUE(Holds(p, size, static_cast<unsigned>(alignment)));
            EXPECT_EQ(size, get_current_usage(s.get()));
            default_deallocate(&s->base, p);
            EXPECT_EQ(0u, get_current_usage(s.get()));
        }
    }
    EXPECT_EQ(0u, errors.size());
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_EQ(0u, backend.bad_frees());
}

TEST(AllocateAligned, ThroughTheVtableAndMany) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    std::vector<void*> blocks;
    for (int i = 0; i < 100; i++) {
        void* p = s->base.allocate_aligned(&s->base, 64, 1 + i);
        ASSERT_NE(nullptr, p);
        EXPECT_EQ(0u, Address(p) % 64);
        Fill(p, 1 + i, i);
        blocks.push_back(p);
    }
    for (int i = 0; i < 100; i++) EXPECT_TRUE(Holds(blocks[i], 1 + i, i));
    EXPECT_EQ(5050u, get_current_usage(s.get()));
    for (void* p : blocks) s->base.deallocate(&s->base, p);
    EXPECT_EQ(0u, get_current_usage(s.get()));
    EXPECT_EQ(0u, get_live_blocks(s.get()));
}

TEST(AllocateAligned, RefusesInvalidAlignmentsAndSizes) {
    ErrorRecorder errors;
    RecordingBackend backend;
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ASSERT_NE(nullptr, s);
    StrategyStats before = Stats(s.get());
    for (size_t alignment : {size_t{0}, size_t{3}, size_t{24}, size_t{48}, size_t{96}, size_t{65537},
                             STRATEGY_MAX_ALIGNMENT + 1, STRATEGY_MAX_ALIGNMENT * 2, SIZE_MAX / 2 + 1, SIZE_MAX}) {
        errors.Clear();
        EXPECT_EQ(nullptr, default_allocate_aligned(&s->base, alignment, 100)) << alignment;
        ASSERT_EQ(1u, errors.size());
        EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, LastInfo(errors).error);
        EXPECT_EQ(100u, LastInfo(errors).size);
    }
    for (size_t alignment : {size_t{8}, size_t{64}, size_t{65536}}) {
        for (size_t size : {size_t{0}, kMax + 1}) {
            errors.Clear();
            EXPECT_EQ(nullptr, default_allocate_aligned(&s->base, alignment, size));
            EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, LastInfo(errors).error);
        }
    }
    EXPECT_EQ(0u, backend.allocate_calls());
    ExpectSameUsage(before, Stats(s.get()));
    EXPECT_EQ(nullptr, default_allocate_aligned(nullptr, 64, 8));
}

TEST(AllocateAligned, CountsTheRequestedSizeUpToTheLimitExactly) {
    ErrorRecorder errors;
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
    config.memory_limit = 1000;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    void* p = default_allocate_aligned(&s->base, 4096, 1000);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(1000u, get_current_usage(s.get()));
    EXPECT_EQ(nullptr, default_allocate_aligned(&s->base, 4096, 1));
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(errors).error);
    EXPECT_EQ(1u, backend.live_count());  // the refused block went back
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, backend.live_count());
}

// White-box: the layout in src/default_strategy_internal.h (prefix word at
// block - 24, size word at block - 16, check word at block - 8).
// A backend that puts each block at the very start of a page whose preceding
// page is inaccessible: any read before the backend's block faults.
void* GuardedAllocate(void* context, size_t size) {
    (void)context;
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t span = page + (size + page - 1) / page * page;
    void* map = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    if (mprotect(map, page, PROT_NONE) != 0) return nullptr;
    return static_cast<char*>(map) + page;
}
void GuardedFree(void* context, void* ptr) {
    (void)context;
    (void)ptr;  // pages are left mapped: the test allocates only a few
}

// Regression (found by fuzz/ops, seed-smash_size_top_bit): a plain block
// whose size word gained the aligned flag made deallocate read the 8 bytes
// before the backend's block.  The prefix is now read only after the
// header's check proved the block aligned.
TEST(AllocateAligned, PlainBlockWithTheAlignedFlagIsNotReadBefore) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    config.backend_allocate = GuardedAllocate;
    config.backend_free = GuardedFree;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    auto* p = static_cast<unsigned char*>(s->base.allocate(&s->base, 256));
    ASSERT_NE(nullptr, p);
    uint64_t* size_word = reinterpret_cast<uint64_t*>(p - 16);
    *size_word ^= UINT64_C(1) << 63;
    s->base.deallocate(&s->base, p);  // faulted here before the fix
    EXPECT_EQ(STRATEGY_ERROR_CORRUPTED_BLOCK, LastInfo(errors).error);
    EXPECT_EQ(256u, get_current_usage(s.get()));
    *size_word ^= UINT64_C(1) << 63;
    s->base.deallocate(&s->base, p);
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

TEST(AllocateAligned, CorruptedHeaderOrPrefixIsRefused) {
    ErrorRecorder errors;
    RecordingBackend backend;
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ASSERT_NE(nullptr, s);
    auto* p = static_cast<unsigned char*>(default_allocate_aligned(&s->base, 256, 64));
    ASSERT_NE(nullptr, p);
    uint64_t* prefix = reinterpret_cast<uint64_t*>(p - 24);
    uint64_t* size_word = reinterpret_cast<uint64_t*>(p - 16);
    uint64_t* check = reinterpret_cast<uint64_t*>(p - 8);
    ASSERT_EQ(UINT64_C(1) << 63, *size_word & (UINT64_C(1) << 63));  // the aligned flag
    struct Corruption {
        uint64_t* word;
        uint64_t flip;
    };
    const Corruption corruptions[] = {
        {size_word, UINT64_C(1) << 63},  // the flag cleared: no longer an aligned block
        {size_word, UINT64_C(1) << 62},
        {size_word, 1},                  // another size
        {prefix, 16},                    // another backend pointer
        {prefix, UINT64_C(1) << 32},     // another alignment
        {check, 1},
    };
    for (const Corruption& c : corruptions) {
        *c.word ^= c.flip;
        errors.Clear();
        default_deallocate(&s->base, p);
        EXPECT_EQ(STRATEGY_ERROR_CORRUPTED_BLOCK, LastInfo(errors).error);
        EXPECT_EQ(nullptr, default_reallocate(&s->base, p, 128));
        EXPECT_EQ(STRATEGY_ERROR_CORRUPTED_BLOCK, LastInfo(errors).error);
        *c.word ^= c.flip;
        EXPECT_EQ(1u, backend.live_count());
        EXPECT_EQ(64u, get_current_usage(s.get()));
    }
    // The check's high half carries the tag: any bit of it changed (the
    // top one, which the size word's flag does not reach, included), the
    // header is no strategy's.
    for (int bit = 32; bit < 64; bit++) {
        SCOPED_TRACE(bit);
        *check ^= UINT64_C(1) << bit;
        errors.Clear();
        default_deallocate(&s->base, p);
        EXPECT_EQ(STRATEGY_ERROR_INVALID_POINTER, LastInfo(errors).error);
        *check ^= UINT64_C(1) << bit;
        EXPECT_EQ(1u, backend.live_count());
    }
    errors.Clear();
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, errors.size());
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_EQ(0u, backend.bad_frees());
}

TEST(AllocateAligned, PlainBlockWithTheFlagSetIsRefused) {
    ErrorRecorder errors;
    Strategy s = Make(mstest::ConfigWithRecorder(&errors));
    ASSERT_NE(nullptr, s);
    auto* p = static_cast<unsigned char*>(default_allocate(&s->base, 64));
    ASSERT_NE(nullptr, p);
    uint64_t* size_word = reinterpret_cast<uint64_t*>(p - 16);
    *size_word |= UINT64_C(1) << 63;
    default_deallocate(&s->base, p);
    EXPECT_EQ(STRATEGY_ERROR_CORRUPTED_BLOCK, LastInfo(errors).error);
    *size_word &= ~(UINT64_C(1) << 63);
    errors.Clear();
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, errors.size());
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

TEST(AllocateAligned, DoubleFreeAndOtherStrategiesAreRefused) {
    ErrorRecorder errors;
    RecordingBackend backend(/*quarantine=*/true);
    Strategy s = Make(backend.Config(&ErrorRecorder::Handle, &errors));
    ErrorRecorder other_errors;
    Strategy other = Make(mstest::ConfigWithRecorder(&other_errors));
    ASSERT_NE(nullptr, s);
    ASSERT_NE(nullptr, other);
    void* p = default_allocate_aligned(&s->base, 128, 10);
    ASSERT_NE(nullptr, p);
    default_deallocate(&other->base, p);
    EXPECT_EQ(STRATEGY_ERROR_WRONG_STRATEGY, LastInfo(other_errors).error);
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, errors.size());
    default_deallocate(&s->base, p);  // its memory is quarantined: the header is still readable
    EXPECT_EQ(STRATEGY_ERROR_DOUBLE_FREE, LastInfo(errors).error);
    EXPECT_EQ(1u, get_deallocation_count(s.get()));
    EXPECT_EQ(0u, backend.bad_frees());
}

// ---- the memory limit through every allocating call ----------------------------------------

TEST(MemoryLimit, EveryCallCanReachTheLimitExactlyAndNoMore) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    config.memory_limit = 4096;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    MemoryStrategy* b = &s->base;
    std::vector<void*> blocks = {
        b->allocate(b, 1000), b->allocate_zeroed(b, 2, 500), b->allocate_aligned(b, 512, 1000),
        b->reallocate(b, nullptr, 1000), b->allocate_aligned(b, 64, 96),
    };
    for (void* p : blocks) ASSERT_NE(nullptr, p);
    EXPECT_EQ(4096u, get_current_usage(s.get()));
    EXPECT_EQ(0u, errors.size());
    EXPECT_EQ(nullptr, b->allocate(b, 1));
    EXPECT_EQ(nullptr, b->allocate_zeroed(b, 1, 1));
    EXPECT_EQ(nullptr, b->allocate_aligned(b, 32, 1));
    EXPECT_EQ(nullptr, b->reallocate(b, nullptr, 1));
    EXPECT_EQ(nullptr, b->reallocate(b, blocks[0], 1001));
    EXPECT_EQ(5u, get_error_count(s.get(), STRATEGY_ERROR_LIMIT_EXCEEDED));
    EXPECT_EQ(4096u, get_current_usage(s.get()));
    EXPECT_EQ(4096u, get_peak_usage(s.get()));
    b->deallocate(b, blocks[0]);
    blocks[0] = b->allocate(b, 1000);
    ASSERT_NE(nullptr, blocks[0]);
    for (void* p : blocks) b->deallocate(b, p);
    EXPECT_EQ(0u, get_current_usage(s.get()));
}

// Many threads race at the limit with every allocating call while a reader
// checks that no figure it sees is above the limit.
TEST(MemoryLimit, NeverExceededByRacingThreads) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    const size_t limit = 256 * 1024;
    config.memory_limit = limit;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    const size_t threads = Scaled(8, 4);
    const size_t operations = Scaled(20000, 2500);
    constexpr size_t kSlots = 64;
    std::atomic<bool> done{false};
    std::atomic<uint64_t> over_limit{0}, reads{0};
    std::thread reader([&] {
        while (!done.load(std::memory_order_acquire)) {
            StrategyStats st;
            default_strategy_snapshot(s.get(), &st);
            if (st.usage.current_bytes > limit || get_current_usage(s.get()) > limit) over_limit++;
            reads++;
        }
    });
    Barrier start(threads);
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; t++) {
        workers.emplace_back([&, t] {
            Rng rng(1000 + t);
            void* slots[kSlots] = {};
            MemoryStrategy* b = &s->base;
            start.Wait();
            for (size_t op = 0; op < operations; op++) {
                size_t i = rng.Below(kSlots);
                size_t size = 1 + rng.Below(8192);
                void* p = nullptr;
                if (slots[i] != nullptr) {
                    if (rng.Below(2) == 0) {
                        b->deallocate(b, slots[i]);
                        slots[i] = nullptr;
                        continue;
                    }
                    p = b->reallocate(b, slots[i], size);  // refused: slots[i] is still ours
                } else {
                    switch (rng.Below(4)) {
                    case 0: p = b->allocate(b, size); break;
                    case 1: p = b->allocate_zeroed(b, 1, size); break;
                    case 2: p = b->allocate_aligned(b, size_t{32} << rng.Below(6), size); break;
                    default: p = b->reallocate(b, nullptr, size); break;
                    }
                }
                if (p == nullptr) continue;
                static_cast<unsigned char*>(p)[0] = 1;  // the whole size is ours
                static_cast<unsigned char*>(p)[size - 1] = 1;
                slots[i] = p;
            }
            for (void* p : slots) b->deallocate(b, p);
        });
    }
    for (auto& w : workers) w.join();
    done.store(true, std::memory_order_release);
    reader.join();
    EXPECT_EQ(0u, over_limit.load());
    EXPECT_GT(reads.load(), 0u);
    EXPECT_GT(get_error_count(s.get(), STRATEGY_ERROR_LIMIT_EXCEEDED), 0u);  // the race was at the limit
    EXPECT_LE(get_peak_usage(s.get()), limit);
    EXPECT_EQ(0u, get_current_usage(s.get()));
    EXPECT_EQ(0u, get_live_blocks(s.get()));
    EXPECT_TRUE(s->base.validate(&s->base));
}

// ---- hierarchies ----------------------------------------------------------------------------

DefaultStrategyConfig ChildConfig(DefaultStrategy* parent, const char* name, ErrorRecorder* errors = nullptr) {
    DefaultStrategyConfig config = errors != nullptr ? mstest::ConfigWithRecorder(errors) : DefaultStrategyConfig{};
    config.parent = &parent->base;
    config.name = name;
    return config;
}

// A strategy written for the seed's four entries: the last three are NULL.
// It forwards to a DefaultStrategy.
struct FourEntryStrategy {
    MemoryStrategy base;  // first
    DefaultStrategy* target;
};
void* FourAllocate(MemoryStrategy* self, size_t size) {
    DefaultStrategy* t = reinterpret_cast<FourEntryStrategy*>(self)->target;
    void* p = default_allocate(&t->base, size);
    if (p != nullptr) std::memset(p, 0x5A, size);  // dirty, so zeroing is visible
    return p;
}
void FourDeallocate(MemoryStrategy* self, void* ptr) {
    default_deallocate(&reinterpret_cast<FourEntryStrategy*>(self)->target->base, ptr);
}
StrategyStatus FourStatus(MemoryStrategy* self) {
    return default_get_status(&reinterpret_cast<FourEntryStrategy*>(self)->target->base);
}
bool FourValidate(MemoryStrategy* self) {
    return default_validate(&reinterpret_cast<FourEntryStrategy*>(self)->target->base);
}
void* NullAllocate(MemoryStrategy*, size_t) { return nullptr; }
void NoDeallocate(MemoryStrategy*, void*) {}

TEST(Hierarchy, InconsistentConfigsAreRefused) {
    Strategy parent(create_default_strategy());
    ASSERT_NE(nullptr, parent);
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config();
    config.parent = &parent->base;
    EXPECT_EQ(nullptr, create_default_strategy_with(&config));  // a parent and a backend
    config.backend_free = nullptr;
    EXPECT_EQ(nullptr, create_default_strategy_with(&config));
    FourEntryStrategy incomplete{};
    incomplete.base.deallocate = FourDeallocate;
    DefaultStrategyConfig no_allocate{};
    no_allocate.parent = &incomplete.base;
    EXPECT_EQ(nullptr, create_default_strategy_with(&no_allocate));
    incomplete.base.allocate = FourAllocate;
    incomplete.base.deallocate = nullptr;
    EXPECT_EQ(nullptr, create_default_strategy_with(&no_allocate));
}

TEST(Hierarchy, ChildBlocksCountInTheParentWithTheirHeaders) {
    RecordingBackend backend;
    DefaultStrategyConfig top = backend.Config();
    top.name = "app";
    Strategy app = Make(top);
    ASSERT_NE(nullptr, app);
    Strategy net = Make(ChildConfig(app.get(), "net"));
    Strategy db = Make(ChildConfig(app.get(), "db"));
    ASSERT_NE(nullptr, net);
    ASSERT_NE(nullptr, db);
    MemoryStrategy* n = &net->base;
    MemoryStrategy* d = &db->base;
    void* a = n->allocate(n, 100);
    void* z = n->allocate_zeroed(n, 10, 10);
    void* big = d->allocate(d, 1000);
    void* aligned = d->allocate_aligned(d, 4096, 50);
    ASSERT_NE(nullptr, a);
    ASSERT_NE(nullptr, z);
    ASSERT_NE(nullptr, big);
    ASSERT_NE(nullptr, aligned);
    EXPECT_TRUE(AllZero(z, 100));
    EXPECT_EQ(0u, Address(aligned) % 4096);
    EXPECT_EQ(200u, get_current_usage(net.get()));
    EXPECT_EQ(1050u, get_current_usage(db.get()));
    EXPECT_EQ((100 + kHeader) * 2 + (1000 + kHeader) + (50 + 4096 + kAlignedExtra), get_current_usage(app.get()));
    EXPECT_EQ(4u, get_live_blocks(app.get()));
    // A reallocation moves both levels by the difference.
    const size_t app_before = get_current_usage(app.get());
    void* grown = d->reallocate(d, big, 3000);
    ASSERT_NE(nullptr, grown);
    EXPECT_EQ(3050u, get_current_usage(db.get()));
    EXPECT_EQ(app_before + 2000, get_current_usage(app.get()));
    EXPECT_EQ(4u, get_live_blocks(app.get()));
    n->deallocate(n, a);
    n->deallocate(n, z);
    d->deallocate(d, grown);
    d->deallocate(d, aligned);
    EXPECT_EQ(0u, get_current_usage(app.get()));
    EXPECT_EQ(0u, get_live_blocks(app.get()));
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_TRUE(n->validate(n));
    EXPECT_TRUE(app->base.validate(&app->base));
    net.reset();  // children first
    db.reset();
}

TEST(Hierarchy, ParentLimitRefusalIsTheChildsLimitExceeded) {
    ErrorRecorder parent_errors, child_errors;
    DefaultStrategyConfig top = mstest::ConfigWithRecorder(&parent_errors);
    top.memory_limit = 1000;
    Strategy app = Make(top);
    ASSERT_NE(nullptr, app);
    Strategy net = Make(ChildConfig(app.get(), "net", &child_errors));
    ASSERT_NE(nullptr, net);
    MemoryStrategy* n = &net->base;
    void* p = n->allocate(n, 1000 - kHeader);  // the parent exactly at its limit
    ASSERT_NE(nullptr, p);
    Fill(p, 1000 - kHeader, 37);
    EXPECT_EQ(1000u, get_current_usage(app.get()));
    StrategyStats child_before = Stats(net.get());
    EXPECT_EQ(nullptr, n->allocate(n, 1));
    EXPECT_EQ(nullptr, n->allocate_zeroed(n, 1, 1));
    EXPECT_EQ(nullptr, n->allocate_aligned(n, 64, 1));
    EXPECT_EQ(nullptr, n->reallocate(n, p, 1000));  // through the parent's reallocate
    EXPECT_EQ(4u, get_error_count(net.get(), STRATEGY_ERROR_LIMIT_EXCEEDED));
    EXPECT_EQ(0u, get_error_count(net.get(), STRATEGY_ERROR_OUT_OF_MEMORY));
    EXPECT_EQ(4u, get_error_count(app.get(), STRATEGY_ERROR_LIMIT_EXCEEDED));
    ExpectSameUsage(child_before, Stats(net.get()));
    EXPECT_EQ(1000u, get_current_usage(app.get()));
    EXPECT_TRUE(Holds(p, 1000 - kHeader, 37));
    n->deallocate(n, p);
    EXPECT_EQ(0u, get_current_usage(app.get()));
    net.reset();
}

TEST(Hierarchy, ChildLimitAppliesToTheChild) {
    ErrorRecorder child_errors;
    Strategy app(create_default_strategy());
    ASSERT_NE(nullptr, app);
    DefaultStrategyConfig sub = ChildConfig(app.get(), "net", &child_errors);
    sub.memory_limit = 100;
    Strategy net = Make(sub);
    ASSERT_NE(nullptr, net);
    EXPECT_EQ(nullptr, default_allocate(&net->base, 101));
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(child_errors).error);
    EXPECT_EQ(0u, get_current_usage(app.get()));  // the parent's block went back
    EXPECT_EQ(0u, get_live_blocks(app.get()));
    void* p = default_allocate(&net->base, 100);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(100 + kHeader, get_current_usage(app.get()));
    default_deallocate(&net->base, p);
    net.reset();
}

TEST(Hierarchy, OtherParentFailuresAreOutOfMemory) {
    ErrorRecorder parent_errors, child_errors;
    RecordingBackend backend(false, 1000);
    Strategy app = Make(backend.Config(&ErrorRecorder::Handle, &parent_errors));
    ASSERT_NE(nullptr, app);
    Strategy net = Make(ChildConfig(app.get(), "net", &child_errors));
    ASSERT_NE(nullptr, net);
    EXPECT_EQ(nullptr, default_allocate(&net->base, 2000));
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, LastInfo(child_errors).error);
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, LastInfo(parent_errors).error);
    net.reset();
}

TEST(Hierarchy, AnEarlierLimitRefusalIsNotMistakenForTheParents) {
    ErrorRecorder limited_errors, child_errors;
    DefaultStrategyConfig limited_config = mstest::ConfigWithRecorder(&limited_errors);
    limited_config.memory_limit = 10;
    Strategy limited = Make(limited_config);
    ASSERT_NE(nullptr, limited);
    FourEntryStrategy null_parent{};
    null_parent.base.allocate = NullAllocate;
    null_parent.base.deallocate = NoDeallocate;
    DefaultStrategyConfig sub = mstest::ConfigWithRecorder(&child_errors);
    sub.parent = &null_parent.base;
    Strategy child = Make(sub);
    ASSERT_NE(nullptr, child);
    EXPECT_EQ(nullptr, default_allocate(&limited->base, 11));  // this thread's last refusal: the limit
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(limited_errors).error);
    EXPECT_EQ(nullptr, default_allocate(&child->base, 8));
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, LastInfo(child_errors).error);
    EXPECT_EQ(nullptr, default_allocate_zeroed(&child->base, 1, 8));
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, LastInfo(child_errors).error);
}

TEST(Hierarchy, ParentWithOnlyTheSeedsEntries) {
    Strategy target(create_default_strategy());
    ASSERT_NE(nullptr, target);
    FourEntryStrategy four{{FourAllocate, FourDeallocate, FourStatus, FourValidate, nullptr, nullptr, nullptr},
                           target.get()};
    DefaultStrategyConfig sub{};
    sub.parent = &four.base;
    Strategy child = Make(sub);
    ASSERT_NE(nullptr, child);
    MemoryStrategy* c = &child->base;
    void* z = c->allocate_zeroed(c, 30, 3);  // the parent's memory is dirty: cleared here
    ASSERT_NE(nullptr, z);
    EXPECT_TRUE(AllZero(z, 90));
    Fill(z, 90, 41);
    void* r = c->reallocate(c, z, 900);  // no parent reallocate: moved
    ASSERT_NE(nullptr, r);
    EXPECT_TRUE(Holds(r, 90, 41));
    EXPECT_EQ(900u, get_current_usage(child.get()));
    EXPECT_EQ(900 + kHeader, get_current_usage(target.get()));
    EXPECT_EQ(1u, get_live_blocks(target.get()));
    c->deallocate(c, r);
    EXPECT_EQ(0u, get_current_usage(target.get()));
    child.reset();
}

TEST(Hierarchy, ThreeLevelsMapTheLimitThroughEachLevel) {
    ErrorRecorder top_errors, mid_errors, leaf_errors;
    DefaultStrategyConfig top = mstest::ConfigWithRecorder(&top_errors);
    top.memory_limit = 1000;
    Strategy app = Make(top);
    ASSERT_NE(nullptr, app);
    Strategy mid = Make(ChildConfig(app.get(), "mid", &mid_errors));
    ASSERT_NE(nullptr, mid);
    Strategy leaf = Make(ChildConfig(mid.get(), "leaf", &leaf_errors));
    ASSERT_NE(nullptr, leaf);
    void* p = default_allocate(&leaf->base, 1000 - 2 * kHeader);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(1000u, get_current_usage(app.get()));
    EXPECT_EQ(1000 - kHeader, get_current_usage(mid.get()));
    EXPECT_EQ(nullptr, default_allocate(&leaf->base, 1));
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(top_errors).error);
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(mid_errors).error);
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, LastInfo(leaf_errors).error);
    default_deallocate(&leaf->base, p);
    EXPECT_EQ(0u, get_current_usage(app.get()));
    leaf.reset();
    mid.reset();
}

// Blocks allocated on one thread, resized on a second and freed on a third;
// the parent's figures equal the children's (plus headers) at every pause.
TEST(Hierarchy, AccountingWithCrossThreadFrees) {
    Strategy app(create_default_strategy());
    ASSERT_NE(nullptr, app);
    Strategy children[2] = {Make(ChildConfig(app.get(), "a")), Make(ChildConfig(app.get(), "b"))};
    ASSERT_NE(nullptr, children[0]);
    ASSERT_NE(nullptr, children[1]);
    const size_t threads = Scaled(6, 3);
    const size_t per_thread = Scaled(400, 100);
    struct Owned {
        MemoryStrategy* strategy;
        void* block;
        size_t size;
    };
    std::vector<std::vector<Owned>> blocks(threads);
    Barrier pause(threads + 1);
    auto check_identity = [&] {
        uint64_t child_bytes = 0, child_blocks = 0;
        for (auto& c : children) {
            child_bytes += get_current_usage(c.get());
            child_blocks += get_live_blocks(c.get());
        }
        EXPECT_EQ(child_bytes + kHeader * child_blocks, get_current_usage(app.get()));
        EXPECT_EQ(child_blocks, get_live_blocks(app.get()));
        return child_bytes;
    };
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; t++) {
        workers.emplace_back([&, t] {
            Rng rng(77 + t);
            for (size_t i = 0; i < per_thread; i++) {
                MemoryStrategy* c = &children[rng.Below(2)]->base;
                size_t size = 1 + rng.Below(2000);
                void* p = rng.Below(2) == 0 ? c->allocate(c, size) : c->allocate_zeroed(c, size, 1);
                ASSERT_NE(nullptr, p);
                Fill(p, size, static_cast<unsigned>(i));
                blocks[t].push_back({c, p, size});
            }
            pause.Wait();  // 1: all allocated
            pause.Wait();  // 2: checked
            for (size_t i = 0; i < blocks[(t + 1) % threads].size(); i++) {  // resize another thread's blocks
                Owned& o = blocks[(t + 1) % threads][i];
                EXPECT_TRUE(Holds(o.block, o.size, static_cast<unsigned>(i)));
                size_t size = 1 + rng.Below(3000);
                void* q = o.strategy->reallocate(o.strategy, o.block, size);
                ASSERT_NE(nullptr, q);
                EXPECT_TRUE(Holds(q, std::min(size, o.size), static_cast<unsigned>(i)));
                o.block = q;
                o.size = size;
            }
            pause.Wait();  // 3: all resized
            pause.Wait();  // 4: checked
            for (Owned& o : blocks[(t + 2) % threads]) o.strategy->deallocate(o.strategy, o.block);
        });
    }
    pause.Wait();
    uint64_t expected = 0;
    for (auto& list : blocks) {
        for (Owned& o : list) expected += o.size;
    }
    EXPECT_EQ(expected, check_identity());
    pause.Wait();
    pause.Wait();
    expected = 0;
    for (auto& list : blocks) {
        for (Owned& o : list) expected += o.size;
    }
    EXPECT_EQ(expected, check_identity());
    pause.Wait();
    for (auto& w : workers) w.join();
    EXPECT_EQ(0u, check_identity());
    EXPECT_EQ(0u, get_current_usage(app.get()));
    uint64_t child_allocations = 0, child_deallocations = 0;
    for (auto& c : children) {
        EXPECT_TRUE(c->base.validate(&c->base));
        child_allocations += get_allocation_count(c.get());
        child_deallocations += get_deallocation_count(c.get());
    }
    // Each block: one allocation, one reallocation (a free and an
    // allocation), one free; the parent counts the same through its
    // reallocate.
    EXPECT_EQ(2 * threads * per_thread, child_allocations);
    EXPECT_EQ(2 * threads * per_thread, child_deallocations);
    EXPECT_EQ(2 * threads * per_thread, get_allocation_count(app.get()));
    EXPECT_EQ(2 * threads * per_thread, get_deallocation_count(app.get()));
    EXPECT_TRUE(app->base.validate(&app->base));
    for (auto& c : children) c.reset();
}

// ---- the peak, reset while other threads run ----------------------------------------------

TEST(ResetPeak, WhileChildrenRun) {
    Strategy app(create_default_strategy());
    ASSERT_NE(nullptr, app);
    const size_t threads = Scaled(4, 2);
    std::vector<Strategy> children;
    for (size_t t = 0; t < threads; t++) children.push_back(Make(ChildConfig(app.get(), "worker")));
    constexpr size_t kBase = 1000;    // each thread always holds this much...
    constexpr size_t kBurst = 50000;  // ...plus, in phase B, this much at its height
    Barrier pause(threads + 1);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; t++) {
        workers.emplace_back([&, t] {
            MemoryStrategy* c = &children[t]->base;
            void* base = c->allocate(c, kBase);
            void* burst = c->allocate(c, 100000);
            c->deallocate(c, burst);
            pause.Wait();  // A: holding kBase, after a higher point
            pause.Wait();  // reset done
            burst = c->allocate(c, kBurst);
            c->deallocate(c, burst);
            pause.Wait();  // B: back at kBase
            pause.Wait();
            Rng rng(5 + t);  // C: churn while the main thread resets
            std::vector<void*> held;
            while (!stop.load(std::memory_order_acquire)) {
                if (held.size() < 16 && rng.Below(2) == 0) {
                    held.push_back(c->allocate(c, 1 + rng.Below(4096)));
                } else if (!held.empty()) {
                    c->deallocate(c, held.back());
                    held.pop_back();
                }
            }
            for (void* p : held) c->deallocate(c, p);
            c->deallocate(c, base);
        });
    }
    const uint64_t holding = threads * (kBase + kHeader);
    pause.Wait();
    EXPECT_GE(get_peak_usage(app.get()), kBase + 100000 + 2 * kHeader);  // one thread's base and burst
    reset_peak_usage(app.get());
    for (auto& c : children) reset_peak_usage(c.get());
    // Nothing runs: the peak restarts at the current usage, exactly.
    EXPECT_EQ(holding, get_current_usage(app.get()));
    EXPECT_EQ(holding, get_peak_usage(app.get()));
    for (auto& c : children) EXPECT_EQ(kBase, get_peak_usage(c.get()));
    pause.Wait();
    pause.Wait();
    // Each thread went kBurst above its base while the others held theirs.
    const uint64_t peak = get_peak_usage(app.get());
    EXPECT_GE(peak, holding + kBurst + kHeader);
    EXPECT_LE(peak, holding + threads * (kBurst + kHeader) + get_peak_overreport_bound(app.get()));
    for (auto& c : children) {
        EXPECT_GE(get_peak_usage(c.get()), kBase + kBurst);
        EXPECT_LE(get_peak_usage(c.get()), kBase + kBurst + get_peak_overreport_bound(c.get()));
    }
    pause.Wait();
    for (int i = 0; i < 200; i++) {
        reset_peak_usage(app.get());
        StrategyStats st = Stats(app.get());
        EXPECT_LE(st.usage.current_bytes, st.usage.total_allocated_bytes);
        EXPECT_TRUE(app->base.validate(&app->base));
    }
    stop.store(true, std::memory_order_release);
    for (auto& w : workers) w.join();
    EXPECT_EQ(0u, get_current_usage(app.get()));
    reset_peak_usage(app.get());
    EXPECT_EQ(0u, get_peak_usage(app.get()));
    for (auto& c : children) c.reset();
}

// ---- snapshot, name, validation ---------------------------------------------------------------

TEST(Snapshot, MatchesTheSingleFigures) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    config.memory_limit = 5000;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    void* a = default_allocate(&s->base, 1000);
    void* b = default_allocate_aligned(&s->base, 64, 2000);
    default_deallocate(&s->base, a);
    EXPECT_EQ(nullptr, default_allocate(&s->base, 0));
    EXPECT_EQ(nullptr, default_allocate(&s->base, 4000));
    int stack_value = 0;
    default_deallocate(&s->base, &stack_value);
    StrategyStats st = Stats(s.get());
    EXPECT_EQ(get_current_usage(s.get()), st.usage.current_bytes);
    EXPECT_EQ(2000u, st.usage.current_bytes);
    EXPECT_EQ(get_peak_usage(s.get()), st.usage.peak_bytes);
    EXPECT_EQ(3000u, st.usage.peak_bytes);
    EXPECT_EQ(get_total_allocated(s.get()), st.usage.total_allocated_bytes);
    EXPECT_EQ(get_total_freed(s.get()), st.usage.total_freed_bytes);
    EXPECT_EQ(get_allocation_count(s.get()), st.usage.allocations);
    EXPECT_EQ(get_deallocation_count(s.get()), st.usage.deallocations);
    EXPECT_EQ(get_live_blocks(s.get()), st.usage.live_blocks);
    EXPECT_EQ(get_peak_overreport_bound(s.get()), st.usage.peak_overreport_bound);
    EXPECT_EQ(5000u, st.memory_limit);
    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) {
        EXPECT_EQ(get_error_count(s.get(), static_cast<StrategyError>(e)), st.errors[e]) << e;
    }
    EXPECT_EQ(1u, st.errors[STRATEGY_ERROR_INVALID_SIZE]);
    EXPECT_EQ(1u, st.errors[STRATEGY_ERROR_LIMIT_EXCEEDED]);
    EXPECT_EQ(1u, st.errors[STRATEGY_ERROR_INVALID_POINTER]);
    EXPECT_EQ(0u, st.errors[STRATEGY_OK]);
    EXPECT_EQ(STRATEGY_ERROR_INVALID_POINTER, st.last_error);
    EXPECT_EQ(STRATEGY_ACTIVE, st.status);
    Degrade(s.get());
    EXPECT_EQ(STRATEGY_DEGRADED, Stats(s.get()).status);
    default_deallocate(&s->base, b);
    EXPECT_EQ(0u, Stats(s.get()).usage.current_bytes);
}

TEST(Snapshot, UnlimitedStrategyHasLimitZero) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    EXPECT_EQ(0u, Stats(s.get()).memory_limit);
}

TEST(Snapshot, NullArgumentsLeaveTheOutputUntouched) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    StrategyStats st, pristine;
    std::memset(&st, 0xab, sizeof st);
    std::memcpy(&pristine, &st, sizeof st);
    EXPECT_FALSE(default_strategy_snapshot(nullptr, &st));
    EXPECT_EQ(0, std::memcmp(&st, &pristine, sizeof st));
    EXPECT_FALSE(default_strategy_snapshot(s.get(), nullptr));
}

TEST(StrategyName, IsCopiedAtCreate) {
    char name[] = "network";
    DefaultStrategyConfig config{};
    config.name = name;
    Strategy s = Make(config);
    ASSERT_NE(nullptr, s);
    name[0] = 'X';
    EXPECT_STREQ("network", get_strategy_name(s.get()));
    Strategy unnamed(create_default_strategy());
    ASSERT_NE(nullptr, unnamed);
    EXPECT_STREQ("", get_strategy_name(unnamed.get()));
    EXPECT_STREQ("", get_strategy_name(nullptr));
}

TEST(Validate, ChecksTheNewVtableEntries) {
    for (int which = 0; which < 3; which++) {
        ErrorRecorder errors;
        Strategy s = Make(mstest::ConfigWithRecorder(&errors));
        ASSERT_NE(nullptr, s);
        EXPECT_TRUE(s->base.validate(&s->base));
        MemoryStrategy saved = s->base;
        if (which == 0) s->base.allocate_zeroed = nullptr;
        if (which == 1) s->base.reallocate = nullptr;
        if (which == 2) s->base.allocate_aligned = nullptr;
        EXPECT_FALSE(s->base.validate(&s->base)) << which;
        s->base = saved;
        EXPECT_EQ(STRATEGY_DEGRADED, default_get_status(&s->base));
        EXPECT_EQ(1u, get_error_count(s.get(), STRATEGY_ERROR_ILLEGAL_STATE));
    }
}

}  // namespace
