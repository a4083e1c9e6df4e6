// Stress test of the default strategy for ThreadSanitizer (and the other
// builds): many threads behind a start barrier hand blocks to each other
// through an exchange buffer, threads are created and exit during the run,
// and readers fold every statistic and validate concurrently.  After the
// join the figures must equal the sum of what every thread recorded it did.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "default_strategy.h"
#include "test_support.h"

namespace {

using mstest::Barrier;
using mstest::Scaled;

constexpr size_t kExchangeSlots = 64;
constexpr size_t kMinBlock = 16;  // room for the cookie header below

// What a thread did, as it recorded it itself.
struct Tally {
    uint64_t allocated_bytes = 0;
    uint64_t freed_bytes = 0;
    uint64_t allocations = 0;
    uint64_t deallocations = 0;

    void Add(const Tally& o) {
        allocated_bytes += o.allocated_bytes;
        freed_bytes += o.freed_bytes;
        allocations += o.allocations;
        deallocations += o.deallocations;
    }
};

// The first 16 bytes of every block: its size and a cookie derived from its
// address and size; the rest of the block is filled with the cookie's low
// byte.  Checked in full before every free.
struct Cookie {
    uint64_t size;
    uint64_t value;
};

uint64_t CookieFor(const void* p, uint64_t size) {
    uint64_t x = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)) ^ (size * UINT64_C(0x9e3779b97f4a7c15));
    x ^= x >> 31;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    return x ^ (x >> 29);
}

class Stress {
  public:
    explicit Stress(DefaultStrategy* s) : s_(s) {
        for (auto& slot : exchange_) slot.store(nullptr, std::memory_order_relaxed);
    }

    // Allocates and marks a block; nullptr (and a recorded failure) if the
    // strategy refused.
    void* Allocate(mstest::Rng& rng, Tally& tally) {
        const size_t size = kMinBlock + static_cast<size_t>(rng.Below(100) == 0 ? rng.Below(150000) : rng.Below(500));
        void* p = default_allocate(&s_->base, size);
        if (p == nullptr) {
            ADD_FAILURE() << "allocation of " << size << " bytes failed";
            return nullptr;
        }
        const Cookie cookie = {size, CookieFor(p, size)};
        std::memcpy(p, &cookie, sizeof cookie);
        std::memset(static_cast<unsigned char*>(p) + sizeof cookie, static_cast<unsigned char>(cookie.value),
                    size - sizeof cookie);
        tally.allocated_bytes += size;
        tally.allocations++;
        return p;
    }

    // Checks a block's cookie and fill, then frees it.
    void Free(void* p, Tally& tally) {
        Cookie cookie;
        std::memcpy(&cookie, p, sizeof cookie);
        ASSERT_EQ(CookieFor(p, cookie.size), cookie.value) << "block " << p << " was overwritten";
        const auto* bytes = static_cast<const unsigned char*>(p);
        const auto fill = static_cast<unsigned char>(cookie.value);
        for (size_t i = sizeof cookie; i < cookie.size; i++) {
            if (bytes[i] != fill) {
                ADD_FAILURE() << "block " << p << " byte " << i << " was overwritten";
                break;
            }
        }
        default_deallocate(&s_->base, p);
        tally.freed_bytes += cookie.size;
        tally.deallocations++;
    }

    // One random operation: hand a new block to another thread through the
    // exchange buffer, take one out, or allocate and free locally.
    void Step(mstest::Rng& rng, Tally& tally) {
        const uint64_t op = rng.Below(4);
        std::atomic<void*>& slot = exchange_[rng.Below(kExchangeSlots)];
        if (op <= 1) {
            void* mine = Allocate(rng, tally);
            if (mine == nullptr) return;
            // acq_rel: releases the block's contents to whoever takes it, and
            // acquires those of the block taken out.
            void* theirs = slot.exchange(mine, std::memory_order_acq_rel);
            if (theirs != nullptr) Free(theirs, tally);
        } else if (op == 2) {
            void* theirs = slot.exchange(nullptr, std::memory_order_acq_rel);
            if (theirs != nullptr) Free(theirs, tally);
        } else {
            void* mine = Allocate(rng, tally);
            if (mine != nullptr) Free(mine, tally);
        }
    }

    void Record(const Tally& tally) {
        std::lock_guard<std::mutex> lock(mu_);
        total_.Add(tally);
    }

    // Frees what is left in the exchange buffer (after every worker joined).
    void Drain(Tally& tally) {
        for (auto& slot : exchange_) {
            void* p = slot.exchange(nullptr, std::memory_order_acq_rel);
            if (p != nullptr) Free(p, tally);
        }
    }

    Tally total() {
        std::lock_guard<std::mutex> lock(mu_);
        return total_;
    }

  private:
    DefaultStrategy* const s_;
    std::atomic<void*> exchange_[kExchangeSlots];
    std::mutex mu_;
    Tally total_;
};

// Reads every figure and validates until told to stop; each read must be
// consistent on its own and its cumulative figures never go backwards.
void Reader(DefaultStrategy* s, const std::atomic<bool>& stop, Barrier& start, std::atomic<uint64_t>& reads) {
    start.Wait();
    MemStatsSnapshot prev;
    std::memset(&prev, 0, sizeof prev);
    uint64_t n = 0;
    do {
        MemStatsSnapshot snap;
        ASSERT_TRUE(get_usage_snapshot(s, &snap));
        // Frees are folded before allocations: a read never sees a free
        // without its allocation.
        ASSERT_LE(snap.total_freed_bytes, snap.total_allocated_bytes);
        ASSERT_LE(snap.deallocations, snap.allocations);
        // While operations run, current is the fold capped by the shared
        // reservation: never above the fold.
        ASSERT_LE(snap.current_bytes, snap.total_allocated_bytes - snap.total_freed_bytes);
        ASSERT_EQ(snap.allocations - snap.deallocations, snap.live_blocks);
        // Every counter is cumulative: no read goes backwards.
        ASSERT_GE(snap.total_allocated_bytes, prev.total_allocated_bytes);
        ASSERT_GE(snap.total_freed_bytes, prev.total_freed_bytes);
        ASSERT_GE(snap.allocations, prev.allocations);
        ASSERT_GE(snap.deallocations, prev.deallocations);
        // (The peak is not monotonic here: the churn driver resets it.)
        prev = snap;
        // The single getters and the rest of the read API, concurrently.
        (void)get_current_usage(s);
        (void)get_peak_usage(s);
        (void)get_total_allocated(s);
        (void)get_total_freed(s);
        (void)get_peak_overreport_bound(s);
        (void)get_allocation_count(s);
        (void)get_deallocation_count(s);
        (void)get_live_blocks(s);
        ASSERT_TRUE(default_validate(&s->base));
        ASSERT_EQ(STRATEGY_ACTIVE, default_get_status(&s->base));
        ASSERT_EQ(STRATEGY_OK, get_last_error(s));
        n++;
    } while (!stop.load(std::memory_order_acquire));
    reads.fetch_add(n, std::memory_order_relaxed);
}

TEST(DefaultStrategyStress, ExchangeBufferReadersAndThreadChurn) {
    DefaultStrategy* s = create_default_strategy();
    ASSERT_NE(nullptr, s);
    const size_t kWorkers = Scaled(16, 8);
    const size_t kReaders = 2;
    const size_t kWorkerSteps = Scaled(20000, 2500);
    const size_t kChurnThreads = 4;   // per wave
    const size_t kChurnSteps = Scaled(300, 100);

    Stress stress(s);
    Barrier start(kWorkers + kReaders + 1);  // + the churn driver
    std::atomic<bool> workers_done{false};
    std::atomic<bool> stop_readers{false};
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> churn_threads_run{0};

    std::vector<std::thread> readers;
    for (size_t r = 0; r < kReaders; r++) {
        readers.emplace_back([&] { Reader(s, stop_readers, start, reads); });
    }
    std::vector<std::thread> workers;
    for (size_t w = 0; w < kWorkers; w++) {
        workers.emplace_back([&, w] {
            mstest::Rng rng(0x57e55 + w);
            Tally tally;
            start.Wait();
            for (size_t i = 0; i < kWorkerSteps; i++) stress.Step(rng, tally);
            stress.Record(tally);
        });
    }
    // Creates short-lived threads in waves for as long as the workers run
    // (and at least a few waves): thread slots are claimed and given back
    // while everything else is going on.  Resets the peak between waves.
    std::thread churn([&] {
        start.Wait();
        for (uint64_t wave = 0; wave < 3 || !workers_done.load(std::memory_order_acquire); wave++) {
            std::vector<std::thread> wave_threads;
            for (size_t t = 0; t < kChurnThreads; t++) {
                wave_threads.emplace_back([&, wave, t] {
                    mstest::Rng rng(0xc4a2 + wave * 64 + t);
                    Tally tally;
                    for (size_t i = 0; i < kChurnSteps; i++) stress.Step(rng, tally);
                    stress.Record(tally);
                    churn_threads_run.fetch_add(1, std::memory_order_relaxed);
                });
            }
            for (auto& th : wave_threads) th.join();
            reset_peak_usage(s);
        }
    });

    for (auto& th : workers) th.join();
    workers_done.store(true, std::memory_order_release);
    churn.join();
    stop_readers.store(true, std::memory_order_release);
    for (auto& th : readers) th.join();

    // Nothing runs any more: the figures are exact.
    Tally expected = stress.total();
    MemStatsSnapshot snap;
    ASSERT_TRUE(get_usage_snapshot(s, &snap));
    EXPECT_EQ(expected.allocated_bytes, snap.total_allocated_bytes);
    EXPECT_EQ(expected.freed_bytes, snap.total_freed_bytes);
    EXPECT_EQ(expected.allocated_bytes - expected.freed_bytes, snap.current_bytes);
    EXPECT_EQ(expected.allocations, snap.allocations);
    EXPECT_EQ(expected.deallocations, snap.deallocations);
    EXPECT_EQ(expected.allocations - expected.deallocations, snap.live_blocks);
    // The last reset was at most the end of the run: the peak since then
    // covers the final usage.
    EXPECT_GE(snap.peak_bytes, snap.current_bytes);
    EXPECT_GT(snap.peak_overreport_bound, 0u);

    // What is left is exactly what sits in the exchange buffer.
    Tally drained;
    stress.Drain(drained);
    EXPECT_EQ(snap.current_bytes, drained.freed_bytes);
    EXPECT_EQ(snap.live_blocks, drained.deallocations);
    EXPECT_EQ(0u, get_current_usage(s));
    EXPECT_EQ(0u, get_live_blocks(s));
    EXPECT_EQ(expected.allocated_bytes, get_total_freed(s));

    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) {
        EXPECT_EQ(0u, get_error_count(s, static_cast<StrategyError>(e))) << strategy_error_name(static_cast<StrategyError>(e));
    }
    EXPECT_TRUE(default_validate(&s->base));
    EXPECT_EQ(STRATEGY_ACTIVE, default_get_status(&s->base));
    // The run really was concurrent in the ways it claims.
    EXPECT_GE(churn_threads_run.load(), 3 * kChurnThreads);
    EXPECT_GE(reads.load(), kReaders);
    EXPECT_GT(expected.allocations, kWorkers * kWorkerSteps / 2);
    destroy_default_strategy(s);
}

}  // namespace
