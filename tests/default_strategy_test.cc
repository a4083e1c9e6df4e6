// Tests of every public function of default_strategy.h on one thread (the
// multi-threaded guarantees are in default_strategy_threads_test.cc and
// default_strategy_stress_test.cc).
#include "default_strategy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"
#include "testing_hooks.h"

// STRATEGY_MAX_ALLOCATION through the real malloc must come back as NULL
// (OUT_OF_MEMORY).  The sanitizers' allocators abort on such a request
// unless told to return NULL as malloc is specified to do.
MSTEST_ALLOCATOR_MAY_RETURN_NULL()

namespace {

using mstest::ErrorRecorder;
using mstest::RecordingBackend;

constexpr size_t kMax = STRATEGY_MAX_ALLOCATION;

// ---- helpers ----------------------------------------------------------------------

// Destroys the strategy at scope exit (unless released first).
class StrategyHolder {
  public:
    explicit StrategyHolder(DefaultStrategy* s) : s_(s) {}
    ~StrategyHolder() { destroy_default_strategy(s_); }
    StrategyHolder(const StrategyHolder&) = delete;
    StrategyHolder& operator=(const StrategyHolder&) = delete;
    DefaultStrategy* get() const { return s_; }
    MemoryStrategy* base() const { return &s_->base; }
    DefaultStrategy* release() {
        DefaultStrategy* s = s_;
        s_ = nullptr;
        return s;
    }

  private:
    DefaultStrategy* s_;
};

MemStatsSnapshot Snapshot(const DefaultStrategy* s) {
    MemStatsSnapshot snap;
    std::memset(&snap, 0, sizeof snap);
    EXPECT_TRUE(get_usage_snapshot(s, &snap));
    return snap;
}

void ExpectSameSnapshot(const MemStatsSnapshot& before, const MemStatsSnapshot& after) {
    EXPECT_EQ(before.current_bytes, after.current_bytes);
    EXPECT_EQ(before.peak_bytes, after.peak_bytes);
    EXPECT_EQ(before.total_allocated_bytes, after.total_allocated_bytes);
    EXPECT_EQ(before.total_freed_bytes, after.total_freed_bytes);
    EXPECT_EQ(before.allocations, after.allocations);
    EXPECT_EQ(before.deallocations, after.deallocations);
    EXPECT_EQ(before.live_blocks, after.live_blocks);
    EXPECT_EQ(before.peak_overreport_bound, after.peak_overreport_bound);
}

uint64_t TotalErrors(const DefaultStrategy* s) {
    uint64_t n = 0;
    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) n += get_error_count(s, static_cast<StrategyError>(e));
    return n;
}

std::string Format(const char* fmt, const void* p, size_t n) {
    char buf[256];
    std::snprintf(buf, sizeof buf, fmt, p, n);
    return buf;
}

// The line the default handler prints for an error.
std::string ErrorLine(const char* name, const void* pointer, size_t size) {
    return std::string("memstrategy: error: ") + name + Format(" (pointer %p, size %zu)\n", pointer, size);
}

size_t CountLines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

void Fill(void* block, size_t size, unsigned char value) { std::memset(block, value, size); }

bool Filled(const void* block, size_t size, unsigned char value) {
    const auto* p = static_cast<const unsigned char*>(block);
    for (size_t i = 0; i < size; i++) {
        if (p[i] != value) return false;
    }
    return true;
}

bool Aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// ---- the vtable and the documented usage ----------------------------------------------

TEST(DefaultStrategy, CreateGivesAnActiveValidStrategyWithTheDefaultVtable) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    EXPECT_EQ(&default_allocate, h.get()->base.allocate);
    EXPECT_EQ(&default_deallocate, h.get()->base.deallocate);
    EXPECT_EQ(&default_get_status, h.get()->base.get_status);
    EXPECT_EQ(&default_validate, h.get()->base.validate);
    EXPECT_EQ(STRATEGY_ACTIVE, h.get()->base.get_status(h.base()));
    EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(h.base()));
    EXPECT_TRUE(h.get()->base.validate(h.base()));
    const MemStatsSnapshot snap = Snapshot(h.get());
    EXPECT_EQ(0u, snap.current_bytes);
    EXPECT_EQ(0u, snap.peak_bytes);
    EXPECT_EQ(0u, snap.allocations);
    EXPECT_EQ(0u, TotalErrors(h.get()));
    EXPECT_EQ(STRATEGY_OK, get_last_error(h.get()));
}

TEST(DefaultStrategy, DocumentedUsageThroughTheVtable) {
    DefaultStrategy* strategy = create_default_strategy();
    ASSERT_NE(nullptr, strategy);
    void* p = strategy->base.allocate(&strategy->base, 1024);
    ASSERT_NE(nullptr, p);
    EXPECT_TRUE(Aligned16(p));
    Fill(p, 1024, 0x5a);  // the whole block is writable
    EXPECT_EQ(1024u, get_current_usage(strategy));
    EXPECT_EQ(1024u, get_peak_usage(strategy));
    EXPECT_EQ(1024u, get_total_allocated(strategy));
    EXPECT_EQ(0u, get_total_freed(strategy));
    EXPECT_EQ(1u, get_allocation_count(strategy));
    EXPECT_EQ(0u, get_deallocation_count(strategy));
    EXPECT_EQ(1u, get_live_blocks(strategy));
    EXPECT_EQ(0u, get_peak_overreport_bound(strategy));
    EXPECT_TRUE(Filled(p, 1024, 0x5a));
    strategy->base.deallocate(&strategy->base, p);
    EXPECT_EQ(0u, get_current_usage(strategy));
    EXPECT_EQ(1024u, get_peak_usage(strategy));
    EXPECT_EQ(1024u, get_total_freed(strategy));
    EXPECT_EQ(1u, get_deallocation_count(strategy));
    EXPECT_EQ(0u, get_live_blocks(strategy));
    EXPECT_EQ(0u, TotalErrors(strategy));
    destroy_default_strategy(strategy);
}

TEST(DefaultStrategy, DirectCallsEqualVtableCalls) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    void* a = default_allocate(h.base(), 100);
    void* b = h.get()->base.allocate(h.base(), 200);
    ASSERT_NE(nullptr, a);
    ASSERT_NE(nullptr, b);
    EXPECT_EQ(300u, get_current_usage(h.get()));
    h.get()->base.deallocate(h.base(), a);  // a block from the direct call
    default_deallocate(h.base(), b);        // and one from the vtable
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(2u, get_deallocation_count(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

TEST(DefaultStrategy, BlocksAreAlignedAndDistinctForEverySmallSize) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    std::vector<void*> blocks;
    uint64_t total = 0;
    for (size_t size = 1; size <= 300; size++) {
        void* p = default_allocate(h.base(), size);
        ASSERT_NE(nullptr, p) << size;
        EXPECT_TRUE(Aligned16(p)) << size;
        Fill(p, size, static_cast<unsigned char>(size));
        blocks.push_back(p);
        total += size;
    }
    EXPECT_EQ(total, get_current_usage(h.get()));
    for (size_t i = 0; i < blocks.size(); i++) {
        EXPECT_TRUE(Filled(blocks[i], i + 1, static_cast<unsigned char>(i + 1))) << "size " << i + 1;
        default_deallocate(h.base(), blocks[i]);
    }
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

TEST(DefaultStrategy, NullArguments) {
    destroy_default_strategy(nullptr);  // no-op
    EXPECT_EQ(nullptr, default_allocate(nullptr, 16));
    default_deallocate(nullptr, nullptr);
    int not_a_block = 0;
    default_deallocate(nullptr, &not_a_block);  // NULL base: nothing happens
    EXPECT_EQ(STRATEGY_STATUS_INVALID, default_get_status(nullptr));
    EXPECT_FALSE(default_validate(nullptr));
    EXPECT_EQ(0u, get_current_usage(nullptr));
    EXPECT_EQ(0u, get_peak_usage(nullptr));
    EXPECT_EQ(0u, get_total_allocated(nullptr));
    EXPECT_EQ(0u, get_total_freed(nullptr));
    EXPECT_EQ(0u, get_peak_overreport_bound(nullptr));
    EXPECT_EQ(0u, get_allocation_count(nullptr));
    EXPECT_EQ(0u, get_deallocation_count(nullptr));
    EXPECT_EQ(0u, get_live_blocks(nullptr));
    MemStatsSnapshot snap;
    std::memset(&snap, 0x3c, sizeof snap);
    const MemStatsSnapshot untouched = snap;
    EXPECT_FALSE(get_usage_snapshot(nullptr, &snap));
    EXPECT_EQ(0, std::memcmp(&snap, &untouched, sizeof snap));
    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) {
        EXPECT_EQ(0u, get_error_count(nullptr, static_cast<StrategyError>(e)));
    }
    EXPECT_EQ(STRATEGY_OK, get_last_error(nullptr));

    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    EXPECT_FALSE(get_usage_snapshot(h.get(), nullptr));
    EXPECT_EQ(0u, get_error_count(h.get(), STRATEGY_ERROR_COUNT));
}

TEST(DefaultStrategy, SnapshotAgreesWithTheSingleFigures) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    void* a = default_allocate(h.base(), 5000);
    void* b = default_allocate(h.base(), 70000);
    ASSERT_NE(nullptr, a);
    ASSERT_NE(nullptr, b);
    default_deallocate(h.base(), a);
    const MemStatsSnapshot snap = Snapshot(h.get());
    EXPECT_EQ(70000u, snap.current_bytes);
    EXPECT_EQ(75000u, snap.peak_bytes);
    EXPECT_EQ(snap.current_bytes, get_current_usage(h.get()));
    EXPECT_EQ(snap.peak_bytes, get_peak_usage(h.get()));
    EXPECT_EQ(snap.total_allocated_bytes, get_total_allocated(h.get()));
    EXPECT_EQ(snap.total_freed_bytes, get_total_freed(h.get()));
    EXPECT_EQ(snap.peak_overreport_bound, get_peak_overreport_bound(h.get()));
    EXPECT_EQ(snap.allocations, get_allocation_count(h.get()));
    EXPECT_EQ(snap.deallocations, get_deallocation_count(h.get()));
    EXPECT_EQ(snap.live_blocks, get_live_blocks(h.get()));
    default_deallocate(h.base(), b);
}

// ---- single-thread exactness ------------------------------------------------------------

// A long seeded random sequence, checked against a shadow model after every
// step.  On one thread every figure, the peak included, is exact (the peak
// is the high-water mark since the last reset_peak_usage).
TEST(DefaultStrategy, SingleThreadFiguresMatchAShadowModelAfterEveryStep) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    struct Live {
        void* p;
        size_t size;
        unsigned char fill;
    };
    std::vector<Live> live;
    uint64_t current = 0, peak = 0, allocated = 0, freed = 0, allocations = 0, deallocations = 0;
    mstest::Rng rng(0xdefa017);
    const size_t kSteps = mstest::Scaled(200000, 40000);
    const size_t kMaxLive = 2000;
    for (size_t step = 0; step < kSteps; step++) {
        const bool alloc = live.empty() || (live.size() < kMaxLive && rng.Below(100) < 52);
        if (rng.Below(1000) == 0) {
            // Now and then the peak restarts from the current usage.
            reset_peak_usage(h.get());
            peak = current;
        } else if (alloc) {
            const uint64_t kind = rng.Below(100);
            const size_t size = static_cast<size_t>(kind < 70 ? 1 + rng.Below(256)
                                                   : kind < 97 ? 257 + rng.Below(8192)
                                                               : 8449 + rng.Below(200000));
            void* p = default_allocate(h.base(), size);
            ASSERT_NE(nullptr, p) << "step " << step;
            ASSERT_TRUE(Aligned16(p)) << "step " << step;
            const auto fill = static_cast<unsigned char>(step);
            // Mark both ends (and everything of small blocks).
            Fill(p, std::min<size_t>(size, 64), fill);
            if (size > 64) Fill(static_cast<unsigned char*>(p) + size - 64, 64, fill);
            live.push_back(Live{p, size, fill});
            current += size;
            allocated += size;
            allocations++;
            peak = std::max(peak, current);
        } else {
            const size_t i = static_cast<size_t>(rng.Below(live.size()));
            const Live block = live[i];
            live[i] = live.back();
            live.pop_back();
            ASSERT_TRUE(Filled(block.p, std::min<size_t>(block.size, 64), block.fill)) << "step " << step;
            if (block.size > 64) {
                ASSERT_TRUE(Filled(static_cast<unsigned char*>(block.p) + block.size - 64, 64, block.fill))
                    << "step " << step;
            }
            default_deallocate(h.base(), block.p);
            current -= block.size;
            freed += block.size;
            deallocations++;
        }
        MemStatsSnapshot snap;
        ASSERT_TRUE(get_usage_snapshot(h.get(), &snap));
        ASSERT_EQ(current, snap.current_bytes) << "step " << step;
        ASSERT_EQ(peak, snap.peak_bytes) << "step " << step;
        ASSERT_EQ(allocated, snap.total_allocated_bytes) << "step " << step;
        ASSERT_EQ(freed, snap.total_freed_bytes) << "step " << step;
        ASSERT_EQ(allocations, snap.allocations) << "step " << step;
        ASSERT_EQ(deallocations, snap.deallocations) << "step " << step;
        ASSERT_EQ(static_cast<uint64_t>(live.size()), snap.live_blocks) << "step " << step;
        ASSERT_EQ(0u, snap.peak_overreport_bound) << "step " << step;
        if (step % 1000 == 0) {
            ASSERT_EQ(current, get_current_usage(h.get()));
            ASSERT_EQ(peak, get_peak_usage(h.get()));
            ASSERT_EQ(static_cast<uint64_t>(live.size()), get_live_blocks(h.get()));
            ASSERT_TRUE(default_validate(h.base())) << "step " << step;
        }
    }
    for (const Live& block : live) default_deallocate(h.base(), block.p);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(peak, get_peak_usage(h.get()));
    EXPECT_EQ(allocated, get_total_freed(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
    EXPECT_TRUE(default_validate(h.base()));
}

// ---- the size limit ----------------------------------------------------------------------

TEST(DefaultStrategySizes, LimitsThroughABackendThatRefusesHugeSizes) {
    // Requests above 1 GiB are refused by the backend without trying.
    RecordingBackend backend(false, size_t{1} << 30);
    ErrorRecorder errors;
    DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    void* one = default_allocate(h.base(), 1);
    ASSERT_NE(nullptr, one);
    ASSERT_EQ(1u, backend.allocate_calls());
    EXPECT_EQ(STRATEGY_OK, get_last_error(h.get()));
    const MemStatsSnapshot before = Snapshot(h.get());

    struct Case {
        size_t size;
        StrategyError error;
        bool reaches_backend;
    };
    const Case cases[] = {
        {0, STRATEGY_ERROR_INVALID_SIZE, false},
        {kMax, STRATEGY_ERROR_OUT_OF_MEMORY, true},  // valid: the backend fails
        {kMax + 1, STRATEGY_ERROR_INVALID_SIZE, false},
        {SIZE_MAX - 15, STRATEGY_ERROR_INVALID_SIZE, false},  // + header would wrap
        {SIZE_MAX, STRATEGY_ERROR_INVALID_SIZE, false},
    };
    uint64_t invalid = 0, oom = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.size);
        const uint64_t calls = backend.allocate_calls();
        errors.Clear();
        EXPECT_EQ(nullptr, default_allocate(h.base(), c.size));
        EXPECT_EQ(calls + (c.reaches_backend ? 1 : 0), backend.allocate_calls());
        if (c.reaches_backend) {
            EXPECT_EQ(c.size + 16, backend.last_size());
        }
        (c.error == STRATEGY_ERROR_INVALID_SIZE ? invalid : oom)++;
        EXPECT_EQ(c.error, get_last_error(h.get()));
        EXPECT_EQ(invalid, get_error_count(h.get(), STRATEGY_ERROR_INVALID_SIZE));
        EXPECT_EQ(oom, get_error_count(h.get(), STRATEGY_ERROR_OUT_OF_MEMORY));
        const auto entries = errors.entries();
        ASSERT_EQ(1u, entries.size());
        EXPECT_EQ(c.error, entries[0].info.error);
        EXPECT_EQ(h.get(), entries[0].info.strategy);
        EXPECT_EQ(nullptr, entries[0].info.pointer);
        EXPECT_EQ(c.size, entries[0].info.size);
        EXPECT_EQ(0u, entries[0].info.blocks);
        ExpectSameSnapshot(before, Snapshot(h.get()));
    }
    EXPECT_EQ(invalid + oom, TotalErrors(h.get()));
    default_deallocate(h.base(), one);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(1u, backend.free_calls());
}

TEST(DefaultStrategySizes, MaxAllocationThroughMallocIsOutOfMemory) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    const MemStatsSnapshot before = Snapshot(h.get());
    EXPECT_EQ(nullptr, default_allocate(h.base(), kMax));
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, get_last_error(h.get()));
    EXPECT_EQ(1u, get_error_count(h.get(), STRATEGY_ERROR_OUT_OF_MEMORY));
    EXPECT_EQ(0u, get_error_count(h.get(), STRATEGY_ERROR_INVALID_SIZE));
    ASSERT_EQ(1u, errors.size());
    EXPECT_EQ(kMax, errors.entries()[0].info.size);
    ExpectSameSnapshot(before, Snapshot(h.get()));
    // Still fully usable afterwards.
    void* p = default_allocate(h.base(), 64);
    ASSERT_NE(nullptr, p);
    default_deallocate(h.base(), p);
    EXPECT_EQ(64u, get_total_freed(h.get()));
}

TEST(DefaultStrategySizes, SmallestAndLargeValidSizesAreCountedExactly) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    void* a = default_allocate(h.base(), 1);
    void* b = default_allocate(h.base(), 3 * 1024 * 1024);
    ASSERT_NE(nullptr, a);
    ASSERT_NE(nullptr, b);
    Fill(b, 3 * 1024 * 1024, 0x11);
    EXPECT_EQ(1u + 3 * 1024 * 1024, get_current_usage(h.get()));
    default_deallocate(h.base(), b);
    default_deallocate(h.base(), a);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(1u + 3 * 1024 * 1024, get_peak_usage(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

// ---- deallocate: NULL and invalid pointers -------------------------------------------------------

TEST(DefaultStrategyDeallocate, NullIsANoOp) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    void* p = default_allocate(h.base(), 32);
    ASSERT_NE(nullptr, p);
    const MemStatsSnapshot before = Snapshot(h.get());
    default_deallocate(h.base(), nullptr);
    h.get()->base.deallocate(h.base(), nullptr);
    ExpectSameSnapshot(before, Snapshot(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
    EXPECT_EQ(0u, errors.size());
    EXPECT_EQ(STRATEGY_OK, get_last_error(h.get()));
    default_deallocate(h.base(), p);
}

alignas(16) unsigned char g_static_block[64];

// A static array whose 16 bytes before `data` belong to the same object.
struct alignas(16) PaddedBlock {
    unsigned char pad[16];
    unsigned char data[64];
};
PaddedBlock g_padded_static;

// Three neighbouring blocks of one strategy, allocated through a backend that
// quarantines freed memory (so a second free reads memory that is still
// allocated), and a recorder for the errors.
class InvalidPointerTest : public ::testing::Test {
  protected:
    static constexpr size_t kSize = 64;

    void SetUp() override {
        config_ = backend_.Config(&ErrorRecorder::Handle, &errors_);
        s_ = create_default_strategy_with(&config_);
        ASSERT_NE(nullptr, s_);
        for (int i = 0; i < 3; i++) {
            blocks_[i] = default_allocate(&s_->base, kSize);
            ASSERT_NE(nullptr, blocks_[i]);
            Fill(blocks_[i], kSize, static_cast<unsigned char>(0xa0 + i));
        }
    }

    void TearDown() override {
        if (s_ == nullptr) return;
        for (void* p : blocks_) {
            if (p != nullptr) default_deallocate(&s_->base, p);
        }
        EXPECT_EQ(0u, get_current_usage(s_));
        destroy_default_strategy(s_);
    }

    // Frees `ptr`, which must be refused: counted once as `kind`,
    // reported once with the pointer, no statistic changed, nothing given
    // back to the backend, every neighbour intact.
    void ExpectRefused(void* ptr, StrategyError kind = STRATEGY_ERROR_INVALID_POINTER) {
        const uint64_t count = get_error_count(s_, kind);
        const uint64_t total = TotalErrors(s_);
        const uint64_t backend_frees = backend_.free_calls();
        const MemStatsSnapshot before = Snapshot(s_);
        errors_.Clear();
        default_deallocate(&s_->base, ptr);
        EXPECT_EQ(count + 1, get_error_count(s_, kind));
        EXPECT_EQ(total + 1, TotalErrors(s_));
        EXPECT_EQ(kind, get_last_error(s_));
        const auto entries = errors_.entries();
        ASSERT_EQ(1u, entries.size());
        EXPECT_EQ(kind, entries[0].info.error);
        EXPECT_EQ(s_, entries[0].info.strategy);
        EXPECT_EQ(ptr, entries[0].info.pointer);
        EXPECT_EQ(0u, entries[0].info.size);
        EXPECT_EQ(count + 1, entries[0].count_seen);  // counted before the handler ran
        EXPECT_EQ(backend_frees, backend_.free_calls());
        ExpectSameSnapshot(before, Snapshot(s_));
        ExpectNeighboursIntact();
    }

    void ExpectNeighboursIntact() {
        for (int i = 0; i < 3; i++) {
            if (blocks_[i] == nullptr) continue;
            EXPECT_TRUE(Filled(blocks_[i], kSize, static_cast<unsigned char>(0xa0 + i))) << "block " << i;
        }
        EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(&s_->base));
    }

    RecordingBackend backend_{true};
    ErrorRecorder errors_;
    DefaultStrategyConfig config_{};
    DefaultStrategy* s_ = nullptr;
    void* blocks_[3] = {nullptr, nullptr, nullptr};
};

constexpr size_t InvalidPointerTest::kSize;  // odr-used by the EXPECT macros (C++14)

TEST_F(InvalidPointerTest, StackPointers) {
    alignas(16) unsigned char local[64];
    std::memset(local, 0, sizeof local);
    ExpectRefused(local);       // header would be other stack memory (a redzone under ASan)
    ExpectRefused(local + 16);  // header inside the array (zeros)
    PaddedBlock padded;
    std::memset(&padded, 0, sizeof padded);
    ExpectRefused(padded.data);
}

TEST_F(InvalidPointerTest, StaticPointers) {
    ExpectRefused(g_static_block);
    ExpectRefused(g_static_block + 16);
    ExpectRefused(g_padded_static.data);
}

TEST_F(InvalidPointerTest, ForeignHeapPointer) {
    void* foreign = std::malloc(96);
    ASSERT_NE(nullptr, foreign);
    std::memset(foreign, 0, 96);
    // Aligned pointers into a foreign allocation, whose 16 bytes before are
    // part of the same allocation.
    ExpectRefused(static_cast<unsigned char*>(foreign) + 16);
    ExpectRefused(static_cast<unsigned char*>(foreign) + 64);
#if defined(MS_TEST_ASAN)
    // The start of a foreign allocation: the library reads the 16 bytes
    // before it (documented), which belong to the allocator.  Only ASan
    // builds make that read well-defined (the library checks they are
    // addressable first; here they are a redzone); elsewhere, e.g. under
    // ThreadSanitizer, they may be another, freed, allocation.
    ExpectRefused(foreign);
#endif
    std::free(foreign);
}

TEST_F(InvalidPointerTest, InteriorPointers) {
    auto* b = static_cast<unsigned char*>(blocks_[1]);
    ExpectRefused(b + 16);
    ExpectRefused(b + 32);
    ExpectRefused(b + 48);
}

TEST_F(InvalidPointerTest, MisalignedPointers) {
    auto* b = static_cast<unsigned char*>(blocks_[1]);
    for (size_t offset : {1, 2, 4, 8, 15, 17, 33}) ExpectRefused(b + offset);
}

TEST_F(InvalidPointerTest, TheBackendsRawPointer) {
    // The block minus its header is what the backend returned: not a block
    // (the test backend keeps 16 zeroed bytes before it, see test_support.h).
    void* raw = static_cast<unsigned char*>(blocks_[1]) - 16;
    ASSERT_TRUE(backend_.IsLive(raw));
    ExpectRefused(raw);
}

TEST_F(InvalidPointerTest, BlockOfAnotherStrategy) {
    RecordingBackend other_backend;
    ErrorRecorder other_errors;
    DefaultStrategyConfig other_config = other_backend.Config(&ErrorRecorder::Handle, &other_errors);
    StrategyHolder other(create_default_strategy_with(&other_config));
    ASSERT_NE(nullptr, other.get());
    void* theirs = default_allocate(other.base(), kSize);
    ASSERT_NE(nullptr, theirs);
    Fill(theirs, kSize, 0x77);
    ExpectRefused(theirs, STRATEGY_ERROR_WRONG_STRATEGY);
    // Untouched in its own strategy, which still frees it normally.
    EXPECT_TRUE(Filled(theirs, kSize, 0x77));
    EXPECT_EQ(kSize, get_current_usage(other.get()));
    EXPECT_EQ(0u, TotalErrors(other.get()));
    default_deallocate(other.base(), theirs);
    EXPECT_EQ(0u, get_current_usage(other.get()));
    EXPECT_EQ(0u, TotalErrors(other.get()));
    // And the other way round.
    void* ours = blocks_[0];
    default_deallocate(other.base(), ours);
    EXPECT_EQ(1u, get_error_count(other.get(), STRATEGY_ERROR_WRONG_STRATEGY));
    ASSERT_EQ(1u, other_errors.size());
    EXPECT_EQ(ours, other_errors.entries()[0].info.pointer);
    ExpectNeighboursIntact();
}

TEST_F(InvalidPointerTest, DoubleFree) {
    void* b = blocks_[1];
    blocks_[1] = nullptr;
    default_deallocate(&s_->base, b);  // the first free succeeds
    EXPECT_EQ(0u, TotalErrors(s_));
    EXPECT_EQ(2 * kSize, get_current_usage(s_));
    EXPECT_EQ(1u, backend_.free_calls());
    ExpectRefused(b, STRATEGY_ERROR_DOUBLE_FREE);  // the second is refused (its memory is quarantined)
    ExpectRefused(b, STRATEGY_ERROR_DOUBLE_FREE);  // and so is a third
    EXPECT_EQ(0u, backend_.bad_frees());
}

TEST_F(InvalidPointerTest, OverwrittenHeader) {
    // The 16 bytes before a block are its header; flipping any bit of them
    // makes the block unrecognisable until it is restored.
    auto* header = static_cast<unsigned char*>(blocks_[1]) - 16;
    for (int byte = 0; byte < 16; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            SCOPED_TRACE(testing::Message() << "byte " << byte << ", bit " << bit);
            header[byte] ^= static_cast<unsigned char>(1u << bit);
            // Bytes 12..15 carry the strategy's tag (the high half of
            // check ^ address ^ size word): changed, the header is no longer
            // recognisably this strategy's.  A changed size word (the
            // aligned flag, bit 63, included) keeps it.
            ExpectRefused(blocks_[1], byte < 12 ? STRATEGY_ERROR_CORRUPTED_BLOCK : STRATEGY_ERROR_INVALID_POINTER);
            header[byte] ^= static_cast<unsigned char>(1u << bit);
        }
    }
    default_deallocate(&s_->base, blocks_[1]);  // restored: freed normally
    blocks_[1] = nullptr;
    EXPECT_EQ(2 * kSize, get_current_usage(s_));
}

TEST_F(InvalidPointerTest, HeaderCheckWordIsTheDocumentedOne) {
    // The hook computes the check word a block would carry; only the real
    // address and size match the header.
    const auto* header = static_cast<const unsigned char*>(blocks_[1]) - 16;
    uint64_t check;
    std::memcpy(&check, header + 8, sizeof check);
    EXPECT_EQ(ms_testing_block_check(s_, blocks_[1], kSize), check);
    EXPECT_NE(ms_testing_block_check(s_, blocks_[1], kSize + 1), check);
    EXPECT_NE(ms_testing_block_check(s_, blocks_[0], kSize), check);
}

// ---- error reporting ---------------------------------------------------------------------------

TEST(DefaultStrategyErrors, CustomHandlerGetsEveryErrorOnceAfterItIsCounted) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    void* p = default_allocate(h.base(), 48);
    ASSERT_NE(nullptr, p);
    auto* misaligned = static_cast<unsigned char*>(p) + 4;

    EXPECT_EQ(nullptr, default_allocate(h.base(), 0));
    EXPECT_EQ(nullptr, default_allocate(h.base(), SIZE_MAX));
    default_deallocate(h.base(), misaligned);
    EXPECT_EQ(nullptr, default_allocate(h.base(), kMax + 1));

    const auto entries = errors.entries();
    ASSERT_EQ(4u, entries.size());
    EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, entries[0].info.error);
    EXPECT_EQ(0u, entries[0].info.size);
    EXPECT_EQ(1u, entries[0].count_seen);
    EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, entries[1].info.error);
    EXPECT_EQ(SIZE_MAX, entries[1].info.size);
    EXPECT_EQ(2u, entries[1].count_seen);
    EXPECT_EQ(STRATEGY_ERROR_INVALID_POINTER, entries[2].info.error);
    EXPECT_EQ(misaligned, entries[2].info.pointer);
    EXPECT_EQ(0u, entries[2].info.size);
    EXPECT_EQ(1u, entries[2].count_seen);
    EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, entries[3].info.error);
    EXPECT_EQ(kMax + 1, entries[3].info.size);
    EXPECT_EQ(3u, entries[3].count_seen);
    for (const auto& e : entries) {
        EXPECT_EQ(h.get(), e.info.strategy);
        EXPECT_EQ(0u, e.info.blocks);
    }
    EXPECT_EQ(nullptr, entries[0].info.pointer);
    EXPECT_EQ(3u, get_error_count(h.get(), STRATEGY_ERROR_INVALID_SIZE));
    EXPECT_EQ(1u, get_error_count(h.get(), STRATEGY_ERROR_INVALID_POINTER));
    EXPECT_EQ(4u, TotalErrors(h.get()));
    EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, get_last_error(h.get()));
    default_deallocate(h.base(), p);
    EXPECT_EQ(4u, errors.size());
}

struct HandlerDataProbe {
    const void* seen = nullptr;
    int calls = 0;
};

void ProbeHandler(const StrategyErrorInfo* info, void* user_data) {
    (void)info;
    auto* probe = static_cast<HandlerDataProbe*>(user_data);
    probe->seen = user_data;
    probe->calls++;
}

TEST(DefaultStrategyErrors, HandlerGetsItsUserData) {
    HandlerDataProbe probe;
    DefaultStrategyConfig config{};
    config.error_handler = &ProbeHandler;
    config.error_handler_data = &probe;
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    EXPECT_EQ(nullptr, default_allocate(h.base(), 0));
    EXPECT_EQ(1, probe.calls);
    EXPECT_EQ(&probe, probe.seen);
}

TEST(DefaultStrategyErrors, DefaultHandlerLineFormat) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    void* p = default_allocate(h.base(), 32);
    ASSERT_NE(nullptr, p);
    auto* bad = static_cast<unsigned char*>(p) + 1;
    testing::internal::CaptureStderr();
    EXPECT_EQ(nullptr, default_allocate(h.base(), 0));
    EXPECT_EQ(nullptr, default_allocate(h.base(), SIZE_MAX));
    default_deallocate(h.base(), bad);
    const std::string out = testing::internal::GetCapturedStderr();
    EXPECT_EQ(ErrorLine("invalid size", nullptr, 0) + ErrorLine("invalid size", nullptr, SIZE_MAX) +
                  ErrorLine("invalid pointer", bad, 0),
              out);
    default_deallocate(h.base(), p);
}

TEST(DefaultStrategyErrors, DefaultHandlerPrintsSixteenLinesThenOneNoticeThenNothing) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    const int kErrors = 40;
    testing::internal::CaptureStderr();
    for (int i = 0; i < kErrors; i++) EXPECT_EQ(nullptr, default_allocate(h.base(), 0));
    const std::string out = testing::internal::GetCapturedStderr();
    std::string want;
    for (int i = 0; i < 16; i++) want += ErrorLine("invalid size", nullptr, 0);
    want += Format("memstrategy: error: further errors on strategy %p are counted, not printed\n",
                   static_cast<const void*>(h.get()), 0);
    EXPECT_EQ(want, out);
    EXPECT_EQ(17u, CountLines(out));
    // Every error is still counted.
    EXPECT_EQ(static_cast<uint64_t>(kErrors), get_error_count(h.get(), STRATEGY_ERROR_INVALID_SIZE));

    // The limit is per strategy: a fresh one prints again.
    StrategyHolder other(create_default_strategy());
    ASSERT_NE(nullptr, other.get());
    testing::internal::CaptureStderr();
    EXPECT_EQ(nullptr, default_allocate(other.base(), 0));
    EXPECT_EQ(nullptr, default_allocate(h.base(), 0));  // still silent
    EXPECT_EQ(ErrorLine("invalid size", nullptr, 0), testing::internal::GetCapturedStderr());
}

TEST(DefaultStrategyErrors, DefaultHandlerCalledDirectly) {
    testing::internal::CaptureStderr();
    strategy_default_error_handler(nullptr, nullptr);  // no-op
    const StrategyErrorInfo oom = {STRATEGY_ERROR_OUT_OF_MEMORY, nullptr, nullptr, 123, 0};
    strategy_default_error_handler(&oom, nullptr);
    const StrategyErrorInfo leak = {STRATEGY_ERROR_LEAK, nullptr, nullptr, 600, 3};
    strategy_default_error_handler(&leak, nullptr);
    EXPECT_EQ(ErrorLine("out of memory", nullptr, 123) +
                  "memstrategy: leak: 600 bytes in 3 blocks still allocated at destroy\n",
              testing::internal::GetCapturedStderr());
}

// ---- destroy ----------------------------------------------------------------------------------------

TEST(DefaultStrategyDestroy, LeakLineWithTheDefaultHandler) {
    // The leaked blocks come from a backend that frees them when the test
    // ends (after the strategy is gone), so LeakSanitizer stays clean.
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config();
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    ASSERT_NE(nullptr, default_allocate(&s->base, 100));
    ASSERT_NE(nullptr, default_allocate(&s->base, 200));
    void* freed = default_allocate(&s->base, 50);
    ASSERT_NE(nullptr, freed);
    ASSERT_NE(nullptr, default_allocate(&s->base, 300));
    default_deallocate(&s->base, freed);
    testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    EXPECT_EQ("memstrategy: leak: 600 bytes in 3 blocks still allocated at destroy\n",
              testing::internal::GetCapturedStderr());
    // Leaked blocks were not freed by destroy.
    EXPECT_EQ(3u, backend.live_count());
    EXPECT_EQ(1u, backend.free_calls());
}

TEST(DefaultStrategyDestroy, LeakReportToACustomHandler) {
    RecordingBackend backend;
    ErrorRecorder errors;
    DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    ASSERT_NE(nullptr, default_allocate(&s->base, 70000));
    ASSERT_NE(nullptr, default_allocate(&s->base, 5));
    destroy_default_strategy(s);
    const auto entries = errors.entries();
    ASSERT_EQ(1u, entries.size());
    EXPECT_EQ(STRATEGY_ERROR_LEAK, entries[0].info.error);
    EXPECT_EQ(s, entries[0].info.strategy);
    EXPECT_EQ(nullptr, entries[0].info.pointer);
    EXPECT_EQ(70005u, entries[0].info.size);
    EXPECT_EQ(2u, entries[0].info.blocks);
    EXPECT_EQ(2u, backend.live_count());
}

// A free that reaches the strategy after destroy began breaks destroy's
// precondition; while the strategy's memory is still there it is refused
// (ILLEGAL_STATE), nothing freed.  Here it comes from the leak report's
// handler, which runs in SHUTTING_DOWN (and is documented not to call back
// into the strategy), on the thread whose slot cache holds the strategy:
// deallocate's hot path makes no status check of its own, so this shows
// destroy's fresh statistics id sending the call to the checking path.
struct FreeDuringDestroy {
    DefaultStrategy* strategy = nullptr;
    void* block = nullptr;
    int leak_reports = 0;
    std::vector<StrategyError> refusals;

    static void Handle(const StrategyErrorInfo* info, void* data) {
        auto* self = static_cast<FreeDuringDestroy*>(data);
        if (info->error != STRATEGY_ERROR_LEAK) {
            self->refusals.push_back(info->error);
            return;
        }
        self->leak_reports++;
        self->strategy->base.deallocate(&self->strategy->base, self->block);
        default_deallocate(&self->strategy->base, self->block);
    }
};

// Returns true when both frees were refused (so the block is still the
// caller's).
bool ExpectFreeDuringDestroyRefused(DefaultStrategyConfig config, FreeDuringDestroy* probe) {
    config.error_handler = &FreeDuringDestroy::Handle;
    config.error_handler_data = probe;
    probe->strategy = create_default_strategy_with(&config);
    EXPECT_NE(nullptr, probe->strategy);
    if (probe->strategy == nullptr) return false;
    MemoryStrategy* base = &probe->strategy->base;
    // Both hot paths run first, so this thread's slot cache holds the strategy.
    void* warm = base->allocate(base, 64);
    EXPECT_NE(nullptr, warm);
    base->deallocate(base, warm);
    probe->block = base->allocate(base, 100);
    EXPECT_NE(nullptr, probe->block);
    destroy_default_strategy(probe->strategy);
    EXPECT_EQ(1, probe->leak_reports);
    const std::vector<StrategyError> both = {STRATEGY_ERROR_ILLEGAL_STATE, STRATEGY_ERROR_ILLEGAL_STATE};
    EXPECT_EQ(both, probe->refusals);
    return probe->block != nullptr && probe->refusals == both;
}

TEST(DefaultStrategyDestroy, AFreeDuringDestroyIsRefusedOverMalloc) {
    FreeDuringDestroy probe;
    // Refused, so still the caller's: its memory is malloc's block 16 bytes
    // before it (the header).
    if (ExpectFreeDuringDestroyRefused(DefaultStrategyConfig{}, &probe)) {
        std::free(static_cast<unsigned char*>(probe.block) - 16);
    }
}

TEST(DefaultStrategyDestroy, AFreeDuringDestroyIsRefusedOverABackend) {
    RecordingBackend backend;
    FreeDuringDestroy probe;
    EXPECT_TRUE(ExpectFreeDuringDestroyRefused(backend.Config(), &probe));
    EXPECT_TRUE(backend.IsLive(static_cast<unsigned char*>(probe.block) - 16));
    EXPECT_EQ(1u, backend.free_calls());  // the warm-up block only
}

TEST(DefaultStrategyDestroy, NoLeakNoOutput) {
    DefaultStrategy* s = create_default_strategy();
    ASSERT_NE(nullptr, s);
    void* p = default_allocate(&s->base, 10);
    ASSERT_NE(nullptr, p);
    default_deallocate(&s->base, p);
    testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    destroy_default_strategy(nullptr);
    EXPECT_EQ("", testing::internal::GetCapturedStderr());
}

TEST(DefaultStrategyDestroy, SomethingThatIsNotAStrategyIsReportedAndLeftAlone) {
    // Zeroed memory, larger than a strategy, that was never created as one.
    alignas(64) static unsigned char fake[16384];
    std::memset(fake, 0, sizeof fake);
    auto* not_a_strategy = reinterpret_cast<DefaultStrategy*>(fake);
    EXPECT_EQ(STRATEGY_STATUS_INVALID, default_get_status(&not_a_strategy->base));
    EXPECT_FALSE(default_validate(&not_a_strategy->base));
    testing::internal::CaptureStderr();
    destroy_default_strategy(not_a_strategy);
    const std::string out = testing::internal::GetCapturedStderr();
    EXPECT_EQ(Format("memstrategy: error: destroy of %p, which is not a live strategy; nothing freed\n",
                     static_cast<const void*>(not_a_strategy), 0),
              out);
    for (unsigned char b : fake) ASSERT_EQ(0, b);  // left alone (and, being static, not freed)
}

// ---- reset_peak_usage ---------------------------------------------------------------------------------

TEST(DefaultStrategyResetPeak, NullIsANoOp) { reset_peak_usage(nullptr); }

TEST(DefaultStrategyResetPeak, PeakRestartsFromTheCurrentUsage) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    void* big = default_allocate(h.base(), 300000);
    void* small = default_allocate(h.base(), 100);
    ASSERT_NE(nullptr, big);
    ASSERT_NE(nullptr, small);
    default_deallocate(h.base(), big);
    EXPECT_EQ(300100u, get_peak_usage(h.get()));
    reset_peak_usage(h.get());
    EXPECT_EQ(100u, get_peak_usage(h.get()));
    EXPECT_EQ(100u, get_current_usage(h.get()));
    // Everything else is untouched by a reset.
    EXPECT_EQ(300100u, get_total_allocated(h.get()));
    EXPECT_EQ(300000u, get_total_freed(h.get()));
    EXPECT_EQ(2u, get_allocation_count(h.get()));
    void* more = default_allocate(h.base(), 50);
    ASSERT_NE(nullptr, more);
    EXPECT_EQ(150u, get_peak_usage(h.get()));
    default_deallocate(h.base(), more);
    default_deallocate(h.base(), small);
    EXPECT_EQ(150u, get_peak_usage(h.get()));
    reset_peak_usage(h.get());
    EXPECT_EQ(0u, get_peak_usage(h.get()));
    EXPECT_TRUE(default_validate(h.base()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

// ---- memory limit -----------------------------------------------------------------------------------

TEST(DefaultStrategyLimit, OneThreadReachesTheLimitExactly) {
    RecordingBackend backend;
    ErrorRecorder errors;
    DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
    config.memory_limit = 10000;
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    void* a = default_allocate(h.base(), 6000);
    void* b = default_allocate(h.base(), 4000);  // exactly at the limit
    ASSERT_NE(nullptr, a);
    ASSERT_NE(nullptr, b);
    EXPECT_EQ(10000u, get_current_usage(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));

    const MemStatsSnapshot before = Snapshot(h.get());
    EXPECT_EQ(nullptr, default_allocate(h.base(), 1));
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, get_last_error(h.get()));
    EXPECT_EQ(1u, get_error_count(h.get(), STRATEGY_ERROR_LIMIT_EXCEEDED));
    ASSERT_EQ(1u, errors.size());
    EXPECT_EQ(STRATEGY_ERROR_LIMIT_EXCEEDED, errors.entries()[0].info.error);
    EXPECT_EQ(1u, errors.entries()[0].info.size);
    EXPECT_EQ(nullptr, errors.entries()[0].info.pointer);
    ExpectSameSnapshot(before, Snapshot(h.get()));
    // Whatever the backend gave for the refused request went back to it.
    EXPECT_EQ(2u, backend.live_count());
    EXPECT_EQ(backend.allocate_calls(), backend.free_calls() + backend.live_count());

    default_deallocate(h.base(), b);
    EXPECT_EQ(nullptr, default_allocate(h.base(), 4001));
    EXPECT_EQ(2u, get_error_count(h.get(), STRATEGY_ERROR_LIMIT_EXCEEDED));
    void* c = default_allocate(h.base(), 4000);
    ASSERT_NE(nullptr, c);
    EXPECT_EQ(10000u, get_current_usage(h.get()));
    EXPECT_EQ(10000u, get_peak_usage(h.get()));
    EXPECT_EQ(0u, get_peak_overreport_bound(h.get()));
    // An invalid size is still INVALID_SIZE, not a limit error.
    EXPECT_EQ(nullptr, default_allocate(h.base(), kMax + 1));
    EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, get_last_error(h.get()));
    default_deallocate(h.base(), a);
    default_deallocate(h.base(), c);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_TRUE(default_validate(h.base()));
}

TEST(DefaultStrategyLimit, DefaultHandlerNamesTheLimit) {
    DefaultStrategyConfig config{};
    config.memory_limit = 100;
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    testing::internal::CaptureStderr();
    EXPECT_EQ(nullptr, default_allocate(h.base(), 101));
    EXPECT_EQ(ErrorLine("limit exceeded", nullptr, 101), testing::internal::GetCapturedStderr());
}

// A limit no usage can reach constrains nothing.
TEST(DefaultStrategyLimit, HugeLimitsAreNoConstraint) {
    for (size_t limit : {kMax, static_cast<size_t>(INT64_MAX), static_cast<size_t>(INT64_MAX) + 1, SIZE_MAX}) {
        SCOPED_TRACE(limit);
        ErrorRecorder errors;
        DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
        config.memory_limit = limit;
        StrategyHolder h(create_default_strategy_with(&config));
        ASSERT_NE(nullptr, h.get());
        void* p = default_allocate(h.base(), 100);
        EXPECT_NE(nullptr, p);
        EXPECT_EQ(0u, TotalErrors(h.get()));
        default_deallocate(h.base(), p);
    }
}

TEST(DefaultStrategyLimit, OverreportBoundShrinksWithTheLimit) {
    DefaultStrategyConfig config{};
    config.memory_limit = 256 * 100;  // limit/256 = 100 bytes of slack per thread
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    void* mine = default_allocate(h.base(), 10);
    ASSERT_NE(nullptr, mine);
    EXPECT_EQ(0u, get_peak_overreport_bound(h.get()));
    void* theirs = nullptr;
    std::thread other([&] { theirs = default_allocate(h.base(), 10); });
    other.join();
    ASSERT_NE(nullptr, theirs);
    EXPECT_EQ(2u * 2 * 100, get_peak_overreport_bound(h.get()));
    default_deallocate(h.base(), theirs);
    default_deallocate(h.base(), mine);
}

// ---- instances ------------------------------------------------------------------------------------

TEST(DefaultStrategy, InstancesNeverShareCounters) {
    StrategyHolder a(create_default_strategy());
    StrategyHolder b(create_default_strategy());
    ASSERT_NE(nullptr, a.get());
    ASSERT_NE(nullptr, b.get());
    ASSERT_NE(a.get(), b.get());
    void* pa = default_allocate(a.base(), 1000);
    void* pb1 = default_allocate(b.base(), 7);
    void* pb2 = default_allocate(b.base(), 9);
    ASSERT_NE(nullptr, pa);
    ASSERT_NE(nullptr, pb1);
    ASSERT_NE(nullptr, pb2);
    default_deallocate(b.base(), pb1);
    testing::internal::CaptureStderr();
    EXPECT_EQ(nullptr, default_allocate(a.base(), 0));
    (void)testing::internal::GetCapturedStderr();

    EXPECT_EQ(1000u, get_current_usage(a.get()));
    EXPECT_EQ(1000u, get_peak_usage(a.get()));
    EXPECT_EQ(1u, get_allocation_count(a.get()));
    EXPECT_EQ(0u, get_deallocation_count(a.get()));
    EXPECT_EQ(1u, get_error_count(a.get(), STRATEGY_ERROR_INVALID_SIZE));
    EXPECT_EQ(STRATEGY_ERROR_INVALID_SIZE, get_last_error(a.get()));

    EXPECT_EQ(9u, get_current_usage(b.get()));
    EXPECT_EQ(16u, get_peak_usage(b.get()));
    EXPECT_EQ(16u, get_total_allocated(b.get()));
    EXPECT_EQ(7u, get_total_freed(b.get()));
    EXPECT_EQ(2u, get_allocation_count(b.get()));
    EXPECT_EQ(1u, get_deallocation_count(b.get()));
    EXPECT_EQ(1u, get_live_blocks(b.get()));
    EXPECT_EQ(0u, TotalErrors(b.get()));
    EXPECT_EQ(STRATEGY_OK, get_last_error(b.get()));

    default_deallocate(a.base(), pa);
    default_deallocate(b.base(), pb2);
}

// ---- validation and corruption ------------------------------------------------------------------------

class CorruptionTest : public ::testing::TestWithParam<MsCorruption> {};

// Corruptions after which the strategy is still recognisable and ACTIVE
// until validate notices (so validate moves it to DEGRADED).
bool Degrades(MsCorruption kind) { return kind != MS_CORRUPT_MAGIC && kind != MS_CORRUPT_STATUS; }

TEST_P(CorruptionTest, ValidateNoticesAndTheStrategyCanStillBeDrained) {
    const MsCorruption kind = GetParam();
    ErrorRecorder errors;
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    // A live block, so this thread's slot holds usage (the per-thread kinds
    // need it).
    void* p = default_allocate(&s->base, 4096);
    ASSERT_NE(nullptr, p);
    ASSERT_TRUE(default_validate(&s->base));

    ASSERT_TRUE(ms_testing_corrupt(s, kind));
    EXPECT_FALSE(default_validate(&s->base));
    EXPECT_FALSE(default_validate(&s->base));  // still broken; reported once only
    if (Degrades(kind)) {
        EXPECT_EQ(STRATEGY_DEGRADED, default_get_status(&s->base));
        EXPECT_EQ(1u, get_error_count(s, STRATEGY_ERROR_ILLEGAL_STATE));
        ASSERT_EQ(1u, errors.size());
        EXPECT_EQ(STRATEGY_ERROR_ILLEGAL_STATE, errors.entries()[0].info.error);
        EXPECT_EQ(s, errors.entries()[0].info.strategy);
    } else {
        // Unrecognisable (magic) or an unknown status: no status to move.
        EXPECT_EQ(STRATEGY_STATUS_INVALID, default_get_status(&s->base));
        EXPECT_EQ(0u, get_error_count(s, STRATEGY_ERROR_ILLEGAL_STATE));
    }
    ms_testing_undo(s);

    if (Degrades(kind)) {
        // DEGRADED: no way back; allocation refused, frees and reads work.
        EXPECT_EQ(STRATEGY_DEGRADED, default_get_status(&s->base));
        EXPECT_TRUE(default_validate(&s->base));  // the state itself is consistent again
        const uint64_t calls = backend.allocate_calls();
        const MemStatsSnapshot before = Snapshot(s);
        EXPECT_EQ(nullptr, default_allocate(&s->base, 16));
        EXPECT_EQ(nullptr, s->base.allocate(&s->base, 16));
        EXPECT_EQ(STRATEGY_ERROR_ILLEGAL_STATE, get_last_error(s));
        EXPECT_EQ(3u, get_error_count(s, STRATEGY_ERROR_ILLEGAL_STATE));
        EXPECT_EQ(calls, backend.allocate_calls());
        ExpectSameSnapshot(before, Snapshot(s));
    } else {
        EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(&s->base));
        EXPECT_TRUE(default_validate(&s->base));
    }
    default_deallocate(&s->base, p);
    EXPECT_EQ(0u, get_current_usage(s));
    EXPECT_EQ(4096u, get_total_freed(s));
    EXPECT_EQ(0u, get_error_count(s, STRATEGY_ERROR_INVALID_POINTER));
    EXPECT_EQ(0u, backend.live_count());
    errors.Clear();
    destroy_default_strategy(s);
    EXPECT_EQ(0u, errors.size());  // no leak report
}

std::string CorruptionName(const ::testing::TestParamInfo<MsCorruption>& info) {
    static const char* const names[] = {"Magic",     "Status",    "Vtable",    "AllocOps",
                                        "FreedBytes", "LocalPeak", "ChunkOwner"};
    return names[info.param];
}

INSTANTIATE_TEST_SUITE_P(EveryKind, CorruptionTest,
                         ::testing::Values(MS_CORRUPT_MAGIC, MS_CORRUPT_STATUS, MS_CORRUPT_VTABLE,
                                           MS_CORRUPT_ALLOC_OPS, MS_CORRUPT_FREED_BYTES,
                                           MS_CORRUPT_LOCAL_PEAK, MS_CORRUPT_CHUNK_OWNER),
                         CorruptionName);

TEST(DefaultStrategyCorruption, EveryKindIsCovered) {
    // The instantiation above lists every kind: keep it in step with the enum.
    EXPECT_EQ(7, static_cast<int>(MS_CORRUPT_COUNT));
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    EXPECT_FALSE(ms_testing_corrupt(h.get(), MS_CORRUPT_COUNT));
}

// The allocation hot path reads the strategy's gate, not the status word
// (a status changes only through the library, which closes the gate
// first); a status word damaged behind the library's back is what validate
// notices, and from then on allocation is refused.
TEST(DefaultStrategyCorruption, UnknownStatusNoticedByValidateRefusesAllocationAsIllegalState) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    ASSERT_TRUE(ms_testing_corrupt(s, MS_CORRUPT_STATUS));
    EXPECT_FALSE(default_validate(&s->base));
    EXPECT_EQ(nullptr, default_allocate(&s->base, 8));
    EXPECT_EQ(nullptr, s->base.allocate(&s->base, 8));
    EXPECT_EQ(2u, get_error_count(s, STRATEGY_ERROR_ILLEGAL_STATE));
    EXPECT_EQ(0u, get_current_usage(s));
    ms_testing_undo(s);
    EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(&s->base));
    void* p = default_allocate(&s->base, 8);
    ASSERT_NE(nullptr, p);
    default_deallocate(&s->base, p);
    destroy_default_strategy(s);
}

TEST(DefaultStrategyCorruption, HealthyStrategyValidatesAfterManyOperations) {
    StrategyHolder h(create_default_strategy());
    ASSERT_NE(nullptr, h.get());
    std::vector<void*> blocks;
    for (int i = 0; i < 1000; i++) {
        blocks.push_back(default_allocate(h.base(), static_cast<size_t>(1 + i * 97 % 5000)));
        ASSERT_NE(nullptr, blocks.back());
        if (i % 3 == 0) {
            default_deallocate(h.base(), blocks.front());
            blocks.erase(blocks.begin());
        }
        if (i % 100 == 0) {
            ASSERT_TRUE(default_validate(h.base())) << i;
        }
    }
    EXPECT_TRUE(default_validate(h.base()));
    for (void* p : blocks) default_deallocate(h.base(), p);
    EXPECT_TRUE(default_validate(h.base()));
    EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(h.base()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

// ---- create_default_strategy_with ---------------------------------------------------------------------

TEST(DefaultStrategyCreate, NullAndZeroedConfigsMeanTheDefaults) {
    DefaultStrategyConfig zeroed;
    std::memset(&zeroed, 0, sizeof zeroed);
    for (const DefaultStrategyConfig* config : {static_cast<const DefaultStrategyConfig*>(nullptr),
                                                static_cast<const DefaultStrategyConfig*>(&zeroed)}) {
        StrategyHolder h(create_default_strategy_with(config));
        ASSERT_NE(nullptr, h.get());
        EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(h.base()));
        EXPECT_EQ(&default_allocate, h.get()->base.allocate);
        EXPECT_TRUE(default_validate(h.base()));
        void* p = default_allocate(h.base(), 128);
        ASSERT_NE(nullptr, p);
        EXPECT_EQ(128u, get_current_usage(h.get()));
        default_deallocate(h.base(), p);
        // The default handler prints.
        testing::internal::CaptureStderr();
        EXPECT_EQ(nullptr, default_allocate(h.base(), 0));
        EXPECT_EQ(ErrorLine("invalid size", nullptr, 0), testing::internal::GetCapturedStderr());
    }
}

TEST(DefaultStrategyCreate, InconsistentBackendIsRefused) {
    DefaultStrategyConfig only_allocate{};
    only_allocate.backend_allocate = &RecordingBackend::Allocate;
    EXPECT_EQ(nullptr, create_default_strategy_with(&only_allocate));
    DefaultStrategyConfig only_free{};
    only_free.backend_free = &RecordingBackend::Free;
    EXPECT_EQ(nullptr, create_default_strategy_with(&only_free));
}

struct ContextProbe {
    int allocations = 0;
    int frees = 0;
    // A config whose backend is ProbeAllocate / ProbeFree with this probe.
    DefaultStrategyConfig Config();
};

void* ProbeAllocate(void* context, size_t size) {
    auto* probe = static_cast<ContextProbe*>(context);
    probe->allocations++;
    return std::malloc(size);
}

void ProbeFree(void* context, void* ptr) {
    auto* probe = static_cast<ContextProbe*>(context);
    probe->frees++;
    std::free(ptr);
}

DefaultStrategyConfig ContextProbe::Config() {
    DefaultStrategyConfig config{};
    config.backend_allocate = &ProbeAllocate;
    config.backend_free = &ProbeFree;
    config.backend_context = this;
    return config;
}

TEST(DefaultStrategyCreate, CustomBackendIsUsedWithItsContext) {
    ContextProbe probe;
    DefaultStrategyConfig config = probe.Config();
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    EXPECT_EQ(0, probe.allocations);  // the strategy itself is not from the backend
    void* a = default_allocate(h.base(), 10);
    void* b = default_allocate(h.base(), 20);
    ASSERT_NE(nullptr, a);
    ASSERT_NE(nullptr, b);
    EXPECT_EQ(2, probe.allocations);
    EXPECT_EQ(0, probe.frees);
    default_deallocate(h.base(), a);
    EXPECT_EQ(1, probe.frees);
    default_deallocate(h.base(), b);
    EXPECT_EQ(2, probe.frees);
    EXPECT_EQ(30u, get_total_freed(h.get()));
}

// A strategy over a backend has a hot path of its own in its vtable; the
// seed's default_allocate / default_deallocate still serve it when called
// directly, and the two may be mixed on the same blocks.
TEST(DefaultStrategyCreate, BackendStrategyVtableAndDirectCallsMix) {
    ContextProbe probe;
    DefaultStrategyConfig config = probe.Config();
    ErrorRecorder errors;
    config.error_handler = &ErrorRecorder::Handle;
    config.error_handler_data = &errors;
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    MemoryStrategy* base = h.base();
    EXPECT_TRUE(base->validate(base));
    const size_t kRounds = 200;
    uint64_t bytes = 0;
    for (size_t i = 0; i < kRounds; i++) {
        const size_t size = 1 + i % 300;
        // Allocated one way, freed the other, both ways round.
        void* via_vtable = base->allocate(base, size);
        void* direct = default_allocate(base, size + 1);
        ASSERT_NE(nullptr, via_vtable);
        ASSERT_NE(nullptr, direct);
        Fill(via_vtable, size, 0x5a);
        Fill(direct, size + 1, 0xa5);
        EXPECT_EQ(2 * size + 1, get_current_usage(h.get()));
        default_deallocate(base, via_vtable);
        base->deallocate(base, direct);
        bytes += 2 * size + 1;
    }
    EXPECT_EQ(static_cast<int>(2 * kRounds), probe.allocations);
    EXPECT_EQ(static_cast<int>(2 * kRounds), probe.frees);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(bytes, get_total_allocated(h.get()));
    EXPECT_EQ(bytes, get_total_freed(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
    EXPECT_EQ(0u, errors.size());
    EXPECT_TRUE(base->validate(base));

    // A block of the backend strategy given to a strategy over malloc is
    // refused as another live strategy's, not handed to malloc's free.
    ErrorRecorder malloc_errors;
    DefaultStrategyConfig malloc_config = ConfigWithRecorder(&malloc_errors);
    StrategyHolder over_malloc(create_default_strategy_with(&malloc_config));
    ASSERT_NE(nullptr, over_malloc.get());
    void* p = base->allocate(base, 64);
    ASSERT_NE(nullptr, p);
    over_malloc.base()->deallocate(over_malloc.base(), p);
    EXPECT_EQ(1u, get_error_count(over_malloc.get(), STRATEGY_ERROR_WRONG_STRATEGY));
    EXPECT_EQ(64u, get_current_usage(h.get()));
    EXPECT_EQ(static_cast<int>(2 * kRounds), probe.frees);  // not freed by anyone
    // Its own strategy frees it.
    base->deallocate(base, p);
    EXPECT_EQ(static_cast<int>(2 * kRounds + 1), probe.frees);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(0u, errors.size());
    EXPECT_TRUE(base->validate(base));
}

TEST(DefaultStrategyCreate, CustomBackendSeesTheSizePlusTheHeader) {
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config();
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    for (size_t size : {static_cast<size_t>(1), static_cast<size_t>(16), static_cast<size_t>(1000)}) {
        void* p = default_allocate(h.base(), size);
        ASSERT_NE(nullptr, p);
        EXPECT_EQ(size + 16, backend.last_size());
        // The block is the backend's memory after a 16-byte header.
        EXPECT_TRUE(backend.IsLive(static_cast<unsigned char*>(p) - 16));
        default_deallocate(h.base(), p);
        EXPECT_FALSE(backend.IsLive(static_cast<unsigned char*>(p) - 16));
    }
    EXPECT_EQ(3u, backend.allocate_calls());
    EXPECT_EQ(3u, backend.free_calls());
    EXPECT_EQ(0u, backend.bad_frees());
}

TEST(DefaultStrategyCreate, BackendFailureIsOutOfMemoryAndChangesNothing) {
    RecordingBackend backend(false, 0);  // refuses everything
    ErrorRecorder errors;
    DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
    StrategyHolder h(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, h.get());
    EXPECT_EQ(nullptr, default_allocate(h.base(), 8));
    EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, get_last_error(h.get()));
    EXPECT_EQ(1u, get_error_count(h.get(), STRATEGY_ERROR_OUT_OF_MEMORY));
    ASSERT_EQ(1u, errors.size());
    EXPECT_EQ(8u, errors.entries()[0].info.size);
    EXPECT_EQ(0u, get_allocation_count(h.get()));
    EXPECT_EQ(0u, get_peak_usage(h.get()));
    EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(h.base()));
}

}  // namespace
