// Tests of the public statistics API (memstats.h).
#include "memstats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "memory_strategy.h"
#include "test_support.h"

namespace {

constexpr size_t kMaxSize = SIZE_MAX / 4;

// Owns a MemStats for the duration of a test.
struct StatsHolder {
    StatsHolder() : stats(memstats_create()) {}
    ~StatsHolder() { memstats_destroy(stats); }
    StatsHolder(const StatsHolder&) = delete;
    StatsHolder& operator=(const StatsHolder&) = delete;
    MemStats* stats;
};

// What the figures must be after a sequence of operations.
struct Shadow {
    uint64_t current = 0;
    uint64_t peak = 0;
    uint64_t allocated = 0;
    uint64_t freed = 0;
    uint64_t allocations = 0;
    uint64_t deallocations = 0;

    void Alloc(uint64_t bytes) {
        current += bytes;
        allocated += bytes;
        allocations++;
        peak = std::max(peak, current);
    }
    void Free(uint64_t bytes) {
        current -= bytes;
        freed += bytes;
        deallocations++;
    }
};

// Checks every figure of a snapshot (and, with `getters`, the single getters)
// against the shadow, with an exact peak (single-threaded use).

// One step of the random single-thread runs: records in the statistics and
// the shadow, and keeps the live sizes.
void RecordAllocation(MemStats* stats, uint64_t bytes, Shadow* want, std::vector<uint64_t>* live) {
    ASSERT_TRUE(memstats_record_allocation(stats, static_cast<size_t>(bytes)));
    want->Alloc(bytes);
    live->push_back(bytes);
}

// Frees one live size chosen at random.
void RecordRandomFree(MemStats* stats, mstest::Rng* rng, Shadow* want, std::vector<uint64_t>* live) {
    const size_t i = static_cast<size_t>(rng->Below(live->size()));
    const uint64_t bytes = (*live)[i];
    (*live)[i] = live->back();
    live->pop_back();
    ASSERT_TRUE(memstats_record_free(stats, static_cast<size_t>(bytes)));
    want->Free(bytes);
}
void ExpectExactly(const MemStats* stats, const Shadow& want, bool getters = true) {
    MemStatsSnapshot snap;
    ASSERT_TRUE(memstats_snapshot(stats, &snap));
    EXPECT_EQ(want.current, snap.current_bytes);
    EXPECT_EQ(want.peak, snap.peak_bytes);
    EXPECT_EQ(want.allocated, snap.total_allocated_bytes);
    EXPECT_EQ(want.freed, snap.total_freed_bytes);
    EXPECT_EQ(want.allocations, snap.allocations);
    EXPECT_EQ(want.deallocations, snap.deallocations);
    EXPECT_EQ(want.allocations - want.deallocations, snap.live_blocks);
    EXPECT_EQ(0u, snap.peak_overreport_bound);
    if (!getters) return;
    EXPECT_EQ(want.current, memstats_current(stats));
    EXPECT_EQ(want.peak, memstats_peak(stats));
    EXPECT_EQ(want.allocated, memstats_total_allocated(stats));
    EXPECT_EQ(want.freed, memstats_total_freed(stats));
    EXPECT_EQ(0u, memstats_peak_overreport_bound(stats));
}

TEST(MemStats, CreateStartsEmptyAndValid) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, Shadow{}));
    EXPECT_TRUE(memstats_validate(h.stats));
}

TEST(MemStats, NullArgumentsAreRefused) {
    memstats_destroy(nullptr);  // no-op
    EXPECT_FALSE(memstats_record_allocation(nullptr, 1));
    EXPECT_FALSE(memstats_record_free(nullptr, 1));
    MemStatsSnapshot snap;
    std::memset(&snap, 0xab, sizeof snap);
    MemStatsSnapshot untouched = snap;
    EXPECT_FALSE(memstats_snapshot(nullptr, &snap));
    EXPECT_EQ(0, std::memcmp(&snap, &untouched, sizeof snap));
    EXPECT_EQ(0u, memstats_current(nullptr));
    EXPECT_EQ(0u, memstats_peak(nullptr));
    EXPECT_EQ(0u, memstats_total_allocated(nullptr));
    EXPECT_EQ(0u, memstats_total_freed(nullptr));
    EXPECT_EQ(0u, memstats_peak_overreport_bound(nullptr));
    EXPECT_FALSE(memstats_validate(nullptr));

    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    EXPECT_FALSE(memstats_snapshot(h.stats, nullptr));
}

TEST(MemStats, SizesOutsideTheLimitRecordNothing) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    Shadow want;
    ASSERT_TRUE(memstats_record_allocation(h.stats, 100));
    want.Alloc(100);
    for (size_t bad : {static_cast<size_t>(0), kMaxSize + 1, SIZE_MAX - 1, SIZE_MAX}) {
        EXPECT_FALSE(memstats_record_allocation(h.stats, bad)) << bad;
        EXPECT_FALSE(memstats_record_free(h.stats, bad)) << bad;
    }
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want));
    EXPECT_TRUE(memstats_validate(h.stats));
}

TEST(MemStats, SizesAtTheLimitsAreRecorded) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    Shadow want;
    ASSERT_TRUE(memstats_record_allocation(h.stats, 1));
    want.Alloc(1);
    ASSERT_TRUE(memstats_record_allocation(h.stats, kMaxSize));
    want.Alloc(kMaxSize);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want));
    ASSERT_TRUE(memstats_record_free(h.stats, kMaxSize));
    want.Free(kMaxSize);
    ASSERT_TRUE(memstats_record_free(h.stats, 1));
    want.Free(1);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want));
    EXPECT_TRUE(memstats_validate(h.stats));
}

// A long seeded random sequence on one thread: every figure, including the
// peak, is exact after every step.
TEST(MemStats, SingleThreadFiguresAreExactAfterEveryStep) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    mstest::Rng rng(0x5eed0001);
    Shadow want;
    std::vector<uint64_t> live;
    const int kSteps = static_cast<int>(mstest::Scaled(50000, 10000));
    for (int step = 0; step < kSteps; step++) {
        const bool alloc = live.empty() || rng.Below(100) < 55;
        if (alloc) {
            // Mostly small, sometimes beyond a batch, rarely huge.
            const uint64_t kind = rng.Below(100);
            uint64_t bytes = kind < 80 ? 1 + rng.Below(512)
                                       : kind < 99 ? 1 + rng.Below(3 * MEMSTATS_BATCH_BYTES)
                                                   : 1 + rng.Below(UINT64_C(1) << 40);
            ASSERT_NO_FATAL_FAILURE(RecordAllocation(h.stats, bytes, &want, &live));
        } else {
            ASSERT_NO_FATAL_FAILURE(RecordRandomFree(h.stats, &rng, &want, &live));
        }
        ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want, step % 100 == 0)) << "step " << step;
    }
    EXPECT_TRUE(memstats_validate(h.stats));
}

TEST(MemStats, SingleThreadPeakIsTheExactHighWaterMark) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    Shadow want;
    // Rise across several batches, fall, rise again less high: the peak stays.
    const uint64_t kStep = MEMSTATS_BATCH_BYTES / 3 + 7;
    for (int i = 0; i < 10; i++) {
        ASSERT_TRUE(memstats_record_allocation(h.stats, kStep));
        want.Alloc(kStep);
    }
    const uint64_t high = want.current;
    for (int i = 0; i < 10; i++) {
        ASSERT_TRUE(memstats_record_free(h.stats, kStep));
        want.Free(kStep);
    }
    ASSERT_TRUE(memstats_record_allocation(h.stats, 5));
    want.Alloc(5);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want));
    EXPECT_EQ(high, memstats_peak(h.stats));
    // Just one byte above the old peak raises it by exactly that.
    ASSERT_TRUE(memstats_record_allocation(h.stats, high - 5 + 1));
    want.Alloc(high - 5 + 1);
    EXPECT_EQ(high + 1, memstats_peak(h.stats));
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want));
}

// One thread allocates, another frees (and neither may see a negative
// figure); counts stay after the freeing thread has exited.
TEST(MemStats, CrossThreadFreesAreExactAfterJoin) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    const int kBlocks = 1000;
    uint64_t bytes_total = 0;
    for (int i = 1; i <= kBlocks; i++) {
        ASSERT_TRUE(memstats_record_allocation(h.stats, static_cast<size_t>(i)));
        bytes_total += static_cast<uint64_t>(i);
    }
    std::thread freer([&] {
        for (int i = 1; i <= kBlocks; i++) memstats_record_free(h.stats, static_cast<size_t>(i));
    });
    freer.join();
    MemStatsSnapshot snap;
    ASSERT_TRUE(memstats_snapshot(h.stats, &snap));
    EXPECT_EQ(0u, snap.current_bytes);
    EXPECT_EQ(bytes_total, snap.total_allocated_bytes);
    EXPECT_EQ(bytes_total, snap.total_freed_bytes);
    EXPECT_EQ(static_cast<uint64_t>(kBlocks), snap.allocations);
    EXPECT_EQ(static_cast<uint64_t>(kBlocks), snap.deallocations);
    EXPECT_EQ(0u, snap.live_blocks);
    // The high-water mark is exactly bytes_total; two slots recorded, so the
    // peak may be over by at most the bound.
    EXPECT_GE(snap.peak_bytes, bytes_total);
    EXPECT_LE(snap.peak_bytes, bytes_total + snap.peak_overreport_bound);
    EXPECT_TRUE(memstats_validate(h.stats));
}

TEST(MemStats, OverreportBoundIsZeroForOneThreadAndGrowsWithThreads) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    EXPECT_EQ(0u, memstats_peak_overreport_bound(h.stats));
    ASSERT_TRUE(memstats_record_allocation(h.stats, 10));
    ASSERT_TRUE(memstats_record_free(h.stats, 10));
    EXPECT_EQ(0u, memstats_peak_overreport_bound(h.stats));

    // A second thread (alive together with this one, so a slot of its own).
    std::thread second([&] { memstats_record_allocation(h.stats, 20); });
    second.join();
    EXPECT_EQ(2 * 2 * MEMSTATS_BATCH_BYTES, memstats_peak_overreport_bound(h.stats));

    // Three threads alive at once: three more slots.
    mstest::Barrier all_recorded(4);
    std::vector<std::thread> three;
    for (int t = 0; t < 3; t++) {
        three.emplace_back([&] {
            memstats_record_allocation(h.stats, 1);
            all_recorded.Wait();
        });
    }
    all_recorded.Wait();
    const uint64_t bound = memstats_peak_overreport_bound(h.stats);
    for (auto& th : three) th.join();
    // At least the earlier two slots plus the three held at once; the
    // second thread's slot may be among those reused.
    EXPECT_GE(bound, 4 * 2 * MEMSTATS_BATCH_BYTES);
    EXPECT_LE(bound, 5 * 2 * MEMSTATS_BATCH_BYTES);
    EXPECT_EQ(0u, bound % (2 * MEMSTATS_BATCH_BYTES));
}

TEST(MemStats, PeakWithSeveralThreadsIsWithinItsBound) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    // Main holds 3 batches' worth; a second thread adds a burst and frees it.
    const uint64_t held = 3 * MEMSTATS_BATCH_BYTES + 11;
    const uint64_t burst = 5 * MEMSTATS_BATCH_BYTES + 13;
    ASSERT_TRUE(memstats_record_allocation(h.stats, held));
    std::thread other([&] {
        memstats_record_allocation(h.stats, burst);
        memstats_record_free(h.stats, burst);
    });
    other.join();
    const uint64_t true_peak = held + burst;
    MemStatsSnapshot snap;
    ASSERT_TRUE(memstats_snapshot(h.stats, &snap));
    EXPECT_EQ(held, snap.current_bytes);
    EXPECT_GT(snap.peak_overreport_bound, 0u);
    EXPECT_GE(snap.peak_bytes, true_peak);
    EXPECT_LE(snap.peak_bytes, true_peak + snap.peak_overreport_bound);
    EXPECT_TRUE(memstats_validate(h.stats));
}

TEST(MemStats, CountsOfExitedThreadsRemain) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    const int kWaves = 4, kThreadsPerWave = 4, kOps = 100;
    for (int wave = 0; wave < kWaves; wave++) {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreadsPerWave; t++) {
            threads.emplace_back([&] {
                for (int i = 0; i < kOps; i++) memstats_record_allocation(h.stats, 8);
                for (int i = 0; i < kOps / 2; i++) memstats_record_free(h.stats, 8);
            });
        }
        for (auto& th : threads) th.join();
    }
    const uint64_t threads = kWaves * kThreadsPerWave;
    MemStatsSnapshot snap;
    ASSERT_TRUE(memstats_snapshot(h.stats, &snap));
    EXPECT_EQ(threads * kOps * 8, snap.total_allocated_bytes);
    EXPECT_EQ(threads * (kOps / 2) * 8, snap.total_freed_bytes);
    EXPECT_EQ(threads * (kOps / 2) * 8, snap.current_bytes);
    EXPECT_EQ(threads * kOps, snap.allocations);
    EXPECT_EQ(threads * (kOps / 2), snap.deallocations);
    EXPECT_EQ(threads * (kOps / 2), snap.live_blocks);
    // Waves reuse the slots of exited threads: at most one wave's worth.
    EXPECT_LE(snap.peak_overreport_bound, kThreadsPerWave * 2 * MEMSTATS_BATCH_BYTES);
    EXPECT_TRUE(memstats_validate(h.stats));
}

// ---- reset_peak ----------------------------------------------------------------------

TEST(MemStatsResetPeak, NullIsANoOp) { memstats_reset_peak(nullptr); }

TEST(MemStatsResetPeak, SingleThreadPeakRestartsFromCurrentAndStaysExact) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    Shadow want;
    const uint64_t big = 3 * MEMSTATS_BATCH_BYTES + 5;
    ASSERT_TRUE(memstats_record_allocation(h.stats, big));
    want.Alloc(big);
    ASSERT_TRUE(memstats_record_allocation(h.stats, 400));
    want.Alloc(400);
    ASSERT_TRUE(memstats_record_free(h.stats, big));
    want.Free(big);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want));
    EXPECT_EQ(big + 400, memstats_peak(h.stats));

    memstats_reset_peak(h.stats);
    want.peak = want.current;  // restarts from the current usage
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want));
    EXPECT_EQ(400u, memstats_peak(h.stats));

    // A seeded random sequence with resets mixed in: exact after every step.
    mstest::Rng rng(0x7e5e7);
    std::vector<uint64_t> live = {400};
    for (int step = 0; step < static_cast<int>(mstest::Scaled(20000, 4000)); step++) {
        const uint64_t op = rng.Below(100);
        if (op < 3) {
            memstats_reset_peak(h.stats);
            want.peak = want.current;
        } else if (op < 55 || live.empty()) {
            const uint64_t bytes = 1 + rng.Below(op < 50 ? 700 : 2 * MEMSTATS_BATCH_BYTES);
            ASSERT_NO_FATAL_FAILURE(RecordAllocation(h.stats, bytes, &want, &live));
        } else {
            ASSERT_NO_FATAL_FAILURE(RecordRandomFree(h.stats, &rng, &want, &live));
        }
        ASSERT_NO_FATAL_FAILURE(ExpectExactly(h.stats, want, step % 100 == 0)) << "step " << step;
    }
    EXPECT_TRUE(memstats_validate(h.stats));
}

TEST(MemStatsResetPeak, AfterCrossThreadFreesThePeakIsWithinItsBound) {
    StatsHolder h;
    ASSERT_NE(nullptr, h.stats);
    const uint64_t kBlock = 1000;
    const int kBlocks = 500;
    for (int i = 0; i < kBlocks; i++) ASSERT_TRUE(memstats_record_allocation(h.stats, kBlock));
    // Another thread frees half of them: its slot's usage is negative.
    std::thread freer([&] {
        for (int i = 0; i < kBlocks / 2; i++) memstats_record_free(h.stats, kBlock);
    });
    freer.join();
    const uint64_t current = kBlock * (kBlocks - kBlocks / 2);
    ASSERT_EQ(current, memstats_current(h.stats));
    memstats_reset_peak(h.stats);
    MemStatsSnapshot snap;
    ASSERT_TRUE(memstats_snapshot(h.stats, &snap));
    EXPECT_GE(snap.peak_bytes, current);
    EXPECT_LE(snap.peak_bytes, current + snap.peak_overreport_bound);
    // Usage rises by one block on this thread: the new high-water mark.
    ASSERT_TRUE(memstats_record_allocation(h.stats, kBlock));
    ASSERT_TRUE(memstats_snapshot(h.stats, &snap));
    EXPECT_GE(snap.peak_bytes, current + kBlock);
    EXPECT_LE(snap.peak_bytes, current + kBlock + snap.peak_overreport_bound);
    EXPECT_TRUE(memstats_validate(h.stats));
}

// ---- limits ------------------------------------------------------------------------------

TEST(MemStatsLimit, OneThreadReachesTheLimitExactlyAndNeverAbove) {
    const uint64_t kLimit = 1000;
    MemStats* stats = memstats_create_limited(kLimit);
    ASSERT_NE(nullptr, stats);
    Shadow want;
    ASSERT_TRUE(memstats_record_allocation(stats, 600));
    want.Alloc(600);
    ASSERT_TRUE(memstats_record_allocation(stats, 400));
    want.Alloc(400);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(stats, want));
    EXPECT_FALSE(memstats_record_allocation(stats, 1));  // above: nothing recorded
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(stats, want));
    ASSERT_TRUE(memstats_record_free(stats, 400));
    want.Free(400);
    EXPECT_FALSE(memstats_record_allocation(stats, 401));
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(stats, want));
    ASSERT_TRUE(memstats_record_allocation(stats, 400));
    want.Alloc(400);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(stats, want));
    EXPECT_FALSE(memstats_record_allocation(stats, kMaxSize));
    EXPECT_TRUE(memstats_validate(stats));
    memstats_destroy(stats);
}

TEST(MemStatsLimit, TinyLimits) {
    for (uint64_t limit : {UINT64_C(1), UINT64_C(2), UINT64_C(255), UINT64_C(256), UINT64_C(257)}) {
        SCOPED_TRACE(limit);
        MemStats* stats = memstats_create_limited(limit);
        ASSERT_NE(nullptr, stats);
        Shadow want;
        for (uint64_t i = 0; i < limit; i++) {
            ASSERT_TRUE(memstats_record_allocation(stats, 1)) << i;
            want.Alloc(1);
        }
        EXPECT_FALSE(memstats_record_allocation(stats, 1));
        ASSERT_NO_FATAL_FAILURE(ExpectExactly(stats, want));
        ASSERT_TRUE(memstats_record_free(stats, 1));
        want.Free(1);
        EXPECT_TRUE(memstats_record_allocation(stats, 1));
        want.Alloc(1);
        ASSERT_NO_FATAL_FAILURE(ExpectExactly(stats, want));
        memstats_destroy(stats);
    }
}

// A limit at or above anything representable refuses nothing below
// SIZE_MAX/4 (no usage can exceed it).
TEST(MemStatsLimit, HugeLimitsAreNoConstraint) {
    for (uint64_t limit : {static_cast<uint64_t>(INT64_MAX), static_cast<uint64_t>(INT64_MAX) + 1,
                           UINT64_MAX - 1, UINT64_MAX}) {
        SCOPED_TRACE(limit);
        MemStats* stats = memstats_create_limited(limit);
        ASSERT_NE(nullptr, stats);
        EXPECT_TRUE(memstats_record_allocation(stats, 1));
        EXPECT_TRUE(memstats_record_allocation(stats, kMaxSize));
        EXPECT_EQ(kMaxSize + 1, memstats_current(stats));
        EXPECT_TRUE(memstats_validate(stats));
        memstats_destroy(stats);
    }
}

TEST(MemStatsLimit, ZeroMeansUnlimited) {
    MemStats* stats = memstats_create_limited(0);
    ASSERT_NE(nullptr, stats);
    EXPECT_TRUE(memstats_record_allocation(stats, kMaxSize));
    EXPECT_TRUE(memstats_record_allocation(stats, 3 * MEMSTATS_BATCH_BYTES));
    EXPECT_EQ(kMaxSize + 3 * MEMSTATS_BATCH_BYTES, memstats_current(stats));
    EXPECT_EQ(kMaxSize + 3 * MEMSTATS_BATCH_BYTES, memstats_peak(stats));
    memstats_destroy(stats);
}

TEST(MemStatsLimit, BatchShrinksWithTheLimit) {
    // limit/256 = 1000 bytes of slack per slot, so the bound is 2*1000 per slot.
    const uint64_t kLimit = 256 * 1000;
    MemStats* stats = memstats_create_limited(kLimit);
    ASSERT_NE(nullptr, stats);
    ASSERT_TRUE(memstats_record_allocation(stats, 10));
    EXPECT_EQ(0u, memstats_peak_overreport_bound(stats));
    std::thread other([&] { memstats_record_allocation(stats, 10); });
    other.join();
    EXPECT_EQ(2u * 2 * 1000, memstats_peak_overreport_bound(stats));
    memstats_destroy(stats);
}

// Several threads allocate under a limit until each is refused: usage never
// exceeds the limit, and reaches at least limit * (1 - T/128) (less one
// request: a refused request is one that would not have fitted).
TEST(MemStatsLimit, SeveralThreadsNeverExceedTheLimit) {
    const uint64_t kLimit = 256 * 1024;
    const uint64_t kBlock = 64;
    const size_t kThreads = 4;
    MemStats* stats = memstats_create_limited(kLimit);
    ASSERT_NE(nullptr, stats);
    std::vector<uint64_t> held(kThreads, 0);
    mstest::Barrier start(kThreads);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            start.Wait();
            while (memstats_record_allocation(stats, kBlock)) {
                held[t] += kBlock;
                EXPECT_LE(memstats_current(stats), kLimit);
            }
        });
    }
    for (auto& th : threads) th.join();
    uint64_t total = 0;
    for (uint64_t bytes : held) total += bytes;
    EXPECT_EQ(total, memstats_current(stats));
    EXPECT_LE(total, kLimit);
    EXPECT_GT(total + kBlock, kLimit - kLimit * kThreads / 128);
    EXPECT_TRUE(memstats_validate(stats));
    memstats_destroy(stats);
}

TEST(MemStats, InstancesAreIndependent) {
    StatsHolder a;
    StatsHolder b;
    ASSERT_NE(nullptr, a.stats);
    ASSERT_NE(nullptr, b.stats);
    ASSERT_TRUE(memstats_record_allocation(a.stats, 1000));
    Shadow want_a;
    want_a.Alloc(1000);
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(a.stats, want_a));
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(b.stats, Shadow{}));
}

// Recording, resetting and validating at once: validate must never fail, and
// after the join the figures are exact.  (The race the UsageCounting model
// found here, a reset between validate's loads of a slot's usage and of its
// restarted local peak, is too narrow to hit reliably in a test; its
// regression check is the model: runs validate_reset_race and
// pass:validate_reset of //models:usage_counting_reset_test.)
TEST(MemStatsReset, ValidateStaysTrueWhileThePeakIsReset) {
    MemStats* stats = memstats_create();
    ASSERT_NE(nullptr, stats);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; t++) {
        workers.emplace_back([&] {
            while (!stop.load(std::memory_order_acquire)) {
                memstats_record_allocation(stats, 1);
                memstats_record_free(stats, 1);
            }
        });
    }
    std::thread resetter([&] {
        while (!stop.load(std::memory_order_acquire)) memstats_reset_peak(stats);
    });
    const size_t rounds = mstest::Scaled(20000, 2000);
    size_t failures = 0;
    for (size_t i = 0; i < rounds; i++) failures += memstats_validate(stats) ? 0 : 1;
    stop.store(true, std::memory_order_release);
    for (auto& w : workers) w.join();
    resetter.join();
    EXPECT_EQ(0u, failures);
    EXPECT_EQ(0u, memstats_current(stats));
    EXPECT_EQ(memstats_total_allocated(stats), memstats_total_freed(stats));
    memstats_reset_peak(stats);
    EXPECT_EQ(0u, memstats_peak(stats));
    memstats_destroy(stats);
}

}  // namespace
