// Multi-thread exactness of the default strategy: cross-thread frees, threads
// that exit before the read, a plateau read while every thread holds its
// memory, and freshness of reads.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "default_strategy.h"
#include "test_support.h"

namespace {

using mstest::Barrier;
using mstest::Scaled;

class StrategyHolder {
  public:
    StrategyHolder() : s_(create_default_strategy()) {}
    ~StrategyHolder() { destroy_default_strategy(s_); }
    StrategyHolder(const StrategyHolder&) = delete;
    StrategyHolder& operator=(const StrategyHolder&) = delete;
    DefaultStrategy* get() const { return s_; }
    MemoryStrategy* base() const { return &s_->base; }

  private:
    DefaultStrategy* s_;
};

uint64_t TotalErrors(const DefaultStrategy* s) {
    uint64_t n = 0;
    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) n += get_error_count(s, static_cast<StrategyError>(e));
    return n;
}

// A block's size travels with it (the consumer records what it freed).
struct Block {
    void* p;
    size_t size;
};

// A closable blocking queue.
class BlockQueue {
  public:
    void Push(Block b) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            q_.push_back(b);
        }
        cv_.notify_one();
    }
    void Close() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            closed_ = true;
        }
        cv_.notify_all();
    }
    // False once closed and empty.
    bool Pop(Block* out) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closed_ || !q_.empty(); });
        if (q_.empty()) return false;
        *out = q_.front();
        q_.pop_front();
        return true;
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Block> q_;
    bool closed_ = false;
};

// (a) One producer allocates; several consumers free what it produced.
TEST(DefaultStrategyThreads, ProducerAndConsumersAreExactAfterJoin) {
    StrategyHolder h;
    ASSERT_NE(nullptr, h.get());
    const size_t kConsumers = 4;
    const size_t kBlocks = Scaled(40000, 8000);
    const size_t kKept = 100;  // the producer keeps the last ones
    BlockQueue queue;
    std::vector<uint64_t> freed_bytes(kConsumers, 0), freed_blocks(kConsumers, 0);
    std::vector<std::thread> consumers;
    for (size_t c = 0; c < kConsumers; c++) {
        consumers.emplace_back([&, c] {
            Block b;
            while (queue.Pop(&b)) {
                // The producer wrote the first byte; the queue carried it here.
                EXPECT_EQ(static_cast<unsigned char>(b.size), *static_cast<unsigned char*>(b.p));
                default_deallocate(h.base(), b.p);
                freed_bytes[c] += b.size;
                freed_blocks[c]++;
            }
        });
    }
    uint64_t allocated_bytes = 0, kept_bytes = 0;
    std::vector<void*> kept;
    std::thread producer([&] {
        mstest::Rng rng(42);
        for (size_t i = 0; i < kBlocks; i++) {
            const size_t size = static_cast<size_t>(1 + rng.Below(i % 97 == 0 ? 200000 : 2000));
            void* p = default_allocate(h.base(), size);
            if (p == nullptr) {
                ADD_FAILURE() << "allocation " << i << " failed";
                continue;  // keep going so the consumers are released
            }
            *static_cast<unsigned char*>(p) = static_cast<unsigned char>(size);
            allocated_bytes += size;
            if (i + kKept >= kBlocks) {
                kept.push_back(p);
                kept_bytes += size;
            } else {
                queue.Push(Block{p, size});
            }
        }
        queue.Close();
    });
    producer.join();
    for (auto& t : consumers) t.join();

    uint64_t freed_total = 0, freed_count = 0;
    for (size_t c = 0; c < kConsumers; c++) {
        freed_total += freed_bytes[c];
        freed_count += freed_blocks[c];
    }
    MemStatsSnapshot snap;
    ASSERT_TRUE(get_usage_snapshot(h.get(), &snap));
    EXPECT_EQ(allocated_bytes, snap.total_allocated_bytes);
    EXPECT_EQ(freed_total, snap.total_freed_bytes);
    EXPECT_EQ(kept_bytes, snap.current_bytes);
    EXPECT_EQ(allocated_bytes - freed_total, kept_bytes);
    EXPECT_EQ(static_cast<uint64_t>(kBlocks), snap.allocations);
    EXPECT_EQ(freed_count, snap.deallocations);
    EXPECT_EQ(static_cast<uint64_t>(kBlocks - kKept), freed_count);
    EXPECT_EQ(static_cast<uint64_t>(kKept), snap.live_blocks);
    EXPECT_GE(snap.peak_bytes, kept_bytes);
    EXPECT_LE(snap.peak_bytes, allocated_bytes + snap.peak_overreport_bound);
    EXPECT_GT(snap.peak_overreport_bound, 0u);  // several threads operated
    EXPECT_TRUE(default_validate(h.base()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
    // The main thread frees the producer's last blocks.
    for (void* p : kept) default_deallocate(h.base(), p);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(0u, get_live_blocks(h.get()));
    EXPECT_EQ(allocated_bytes, get_total_freed(h.get()));
}

// (b) Waves of short-lived threads, all exited before the read: their counts
// remain, and their thread slots are reused by the next waves.
TEST(DefaultStrategyThreads, CountsOfExitedThreadsRemainAndSlotsAreReused) {
    StrategyHolder h;
    ASSERT_NE(nullptr, h.get());
    const size_t kWaves = Scaled(12, 6);
    const size_t kThreadsPerWave = 6;
    const size_t kOps = Scaled(500, 100);
    std::vector<void*> held;  // one block per thread outlives it
    std::mutex held_mu;
    uint64_t expected_allocated = 0, expected_freed = 0;
    for (size_t wave = 0; wave < kWaves; wave++) {
        std::vector<std::thread> threads;
        std::vector<uint64_t> allocated(kThreadsPerWave, 0), freed(kThreadsPerWave, 0);
        for (size_t t = 0; t < kThreadsPerWave; t++) {
            threads.emplace_back([&, t, wave] {
                mstest::Rng rng(wave * 1000 + t);
                for (size_t i = 0; i < kOps; i++) {
                    const size_t size = static_cast<size_t>(1 + rng.Below(3000));
                    void* p = default_allocate(h.base(), size);
                    ASSERT_NE(nullptr, p);
                    allocated[t] += size;
                    if (i + 1 == kOps) {
                        std::lock_guard<std::mutex> lock(held_mu);
                        held.push_back(p);
                    } else {
                        default_deallocate(h.base(), p);
                        freed[t] += size;
                    }
                }
            });
        }
        for (auto& th : threads) th.join();
        for (size_t t = 0; t < kThreadsPerWave; t++) {
            expected_allocated += allocated[t];
            expected_freed += freed[t];
        }
        // Read after every wave: all of it is there although every thread
        // that did it has exited.
        const uint64_t threads_so_far = (wave + 1) * kThreadsPerWave;
        MemStatsSnapshot snap;
        ASSERT_TRUE(get_usage_snapshot(h.get(), &snap));
        ASSERT_EQ(expected_allocated, snap.total_allocated_bytes) << "wave " << wave;
        ASSERT_EQ(expected_freed, snap.total_freed_bytes) << "wave " << wave;
        ASSERT_EQ(expected_allocated - expected_freed, snap.current_bytes) << "wave " << wave;
        ASSERT_EQ(threads_so_far * kOps, snap.allocations) << "wave " << wave;
        ASSERT_EQ(threads_so_far * (kOps - 1), snap.deallocations) << "wave " << wave;
        ASSERT_EQ(threads_so_far, snap.live_blocks) << "wave " << wave;
        // Slots of exited threads are reused: never more slots than threads
        // alive at once (one wave; the main thread has not operated yet),
        // although kThreadsPerWave new threads operated in every wave.
        ASSERT_LE(snap.peak_overreport_bound, kThreadsPerWave * 2 * MEMSTATS_BATCH_BYTES) << "wave " << wave;
        ASSERT_EQ(0u, snap.peak_overreport_bound % (2 * MEMSTATS_BATCH_BYTES)) << "wave " << wave;
        ASSERT_TRUE(default_validate(h.base()));
    }
    for (void* p : held) default_deallocate(h.base(), p);
    EXPECT_EQ(0u, get_current_usage(h.get()));
    EXPECT_EQ(0u, get_live_blocks(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

// (c) Every thread holds its memory at once behind a barrier; the main
// thread reads during the plateau.
TEST(DefaultStrategyThreads, PlateauReadIsExactAndPeakIsWithinItsBound) {
    StrategyHolder h;
    ASSERT_NE(nullptr, h.get());
    const size_t kThreads = 6;
    const size_t kRounds = Scaled(20, 7);  // not a multiple of 3: see the reset below
    Barrier all_held(kThreads + 1);
    Barrier read_done(kThreads + 1);
    Barrier all_freed(kThreads + 1);
    Barrier next_round(kThreads + 1);
    std::vector<std::vector<uint64_t>> held_bytes(kRounds, std::vector<uint64_t>(kThreads, 0));
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            mstest::Rng rng(0xb1a7 + t);
            for (size_t round = 0; round < kRounds; round++) {
                std::vector<void*> mine;
                // Some rounds hold several batches, so the shared reservation moves.
                const size_t blocks = 1 + static_cast<size_t>(rng.Below(40));
                const uint64_t max_size = round % 2 == 0 ? 500 : 20000;
                for (size_t i = 0; i < blocks; i++) {
                    const size_t size = static_cast<size_t>(1 + rng.Below(max_size));
                    void* p = default_allocate(h.base(), size);
                    if (p == nullptr) break;  // counted as a failure below
                    mine.push_back(p);
                    held_bytes[round][t] += size;
                }
                EXPECT_EQ(blocks, mine.size());
                all_held.Wait();   // plateau: everything of this round is held
                read_done.Wait();  // the main thread has read
                for (void* p : mine) default_deallocate(h.base(), p);
                // Nobody starts the next round before everyone has freed
                // this one, so usage only rises up to a plateau.
                all_freed.Wait();
                next_round.Wait();  // the main thread may reset the peak in between
            }
        });
    }
    uint64_t max_plateau = 0;  // the largest plateau since the last reset
    for (size_t round = 0; round < kRounds; round++) {
        all_held.Wait();
        uint64_t plateau = 0;
        for (size_t t = 0; t < kThreads; t++) plateau += held_bytes[round][t];
        MemStatsSnapshot snap;
        std::memset(&snap, 0, sizeof snap);
        EXPECT_TRUE(get_usage_snapshot(h.get(), &snap));
        const uint64_t current = get_current_usage(h.get());
        const uint64_t peak = get_peak_usage(h.get());
        const uint64_t bound = get_peak_overreport_bound(h.get());
        read_done.Wait();
        all_freed.Wait();
        // After every third round, with nothing held, the peak restarts.
        const bool reset = round % 3 == 2;
        if (reset) reset_peak_usage(h.get());
        next_round.Wait();
        max_plateau = std::max(max_plateau, plateau);
        EXPECT_EQ(plateau, snap.current_bytes) << "round " << round;
        EXPECT_EQ(plateau, current) << "round " << round;
        // The true high-water mark so far is the largest plateau (usage only
        // rises up to a plateau, then falls to zero before the next round).
        EXPECT_GE(peak, max_plateau) << "round " << round;
        EXPECT_LE(peak, max_plateau + bound) << "round " << round;
        EXPECT_GE(snap.peak_bytes, max_plateau) << "round " << round;
        EXPECT_LE(snap.peak_bytes, max_plateau + snap.peak_overreport_bound) << "round " << round;
        EXPECT_GT(bound, 0u);
        EXPECT_LE(bound, kThreads * 2 * MEMSTATS_BATCH_BYTES);
        if (reset) max_plateau = 0;
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(0u, get_current_usage(h.get()));
    ASSERT_GT(max_plateau, 0u);  // the last round was not followed by a reset
    EXPECT_GE(get_peak_usage(h.get()), max_plateau);
    EXPECT_LE(get_peak_usage(h.get()), max_plateau + get_peak_overreport_bound(h.get()));
    EXPECT_TRUE(default_validate(h.base()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

// Several threads allocate under a memory limit until each is refused, all
// holding what they got: usage never exceeds the limit (also as read while
// they run), reaches at least limit * (1 - T/128) less one request, and every
// refusal is a counted LIMIT_EXCEEDED.
TEST(DefaultStrategyThreads, MemoryLimitHoldsWithSeveralThreads) {
    const size_t kLimit = 512 * 1024;
    const size_t kBlock = 128;
    const size_t kThreads = 4;
    mstest::ErrorRecorder errors;
    DefaultStrategyConfig config{};
    config.memory_limit = kLimit;
    config.error_handler = &mstest::ErrorRecorder::Handle;
    config.error_handler_data = &errors;
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    Barrier start(kThreads + 1);
    std::atomic<size_t> running{kThreads};
    std::vector<std::vector<void*>> held(kThreads);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            start.Wait();
            for (;;) {
                void* p = default_allocate(&s->base, kBlock);
                if (p == nullptr) break;
                held[t].push_back(p);
            }
            running.fetch_sub(1, std::memory_order_release);
        });
    }
    start.Wait();
    uint64_t reads = 0;
    while (running.load(std::memory_order_acquire) != 0) {
        EXPECT_LE(get_current_usage(s), kLimit);
        reads++;
    }
    for (auto& th : threads) th.join();
    size_t blocks = 0;
    for (const auto& mine : held) blocks += mine.size();
    const uint64_t total = blocks * kBlock;
    EXPECT_EQ(total, get_current_usage(s));
    EXPECT_LE(total, kLimit);
    EXPECT_GT(total + kBlock, kLimit - kLimit * kThreads / 128);
    EXPECT_LE(get_peak_usage(s), kLimit);
    EXPECT_EQ(kThreads, get_error_count(s, STRATEGY_ERROR_LIMIT_EXCEEDED));  // one refusal each
    EXPECT_EQ(kThreads, errors.size());
    EXPECT_EQ(kThreads, TotalErrors(s));
    EXPECT_TRUE(default_validate(&s->base));
    for (const auto& mine : held) {
        for (void* p : mine) default_deallocate(&s->base, p);
    }
    EXPECT_EQ(0u, get_current_usage(s));
    destroy_default_strategy(s);
}

// (d) Freshness: a read that happens-after an operation (here through an
// atomic release/acquire handoff) reflects it.
TEST(DefaultStrategyThreads, ReadsReflectEveryOperationThatHappenedBefore) {
    StrategyHolder h;
    ASSERT_NE(nullptr, h.get());
    const int kRounds = static_cast<int>(Scaled(2000, 300));
    std::atomic<int> published{0};  // the round whose operation is done
    std::atomic<int> acknowledged{0};
    std::vector<void*> blocks;
    std::thread writer([&] {
        for (int round = 1; round <= kRounds; round++) {
            // Odd rounds allocate round bytes; even rounds free the last block.
            if (round % 2 == 1) {
                void* p = default_allocate(h.base(), static_cast<size_t>(round));
                EXPECT_NE(nullptr, p);  // (a NULL is pushed too: freeing it is a no-op)
                blocks.push_back(p);
            } else {
                default_deallocate(h.base(), blocks.back());
                blocks.pop_back();
            }
            published.store(round, std::memory_order_release);
            while (acknowledged.load(std::memory_order_acquire) != round) std::this_thread::yield();
        }
    });
    uint64_t allocations = 0, deallocations = 0, allocated = 0, current = 0;
    for (int round = 1; round <= kRounds; round++) {
        while (published.load(std::memory_order_acquire) != round) std::this_thread::yield();
        if (round % 2 == 1) {
            allocations++;
            allocated += static_cast<uint64_t>(round);
            current += static_cast<uint64_t>(round);
        } else {
            deallocations++;
            current -= static_cast<uint64_t>(round - 1);
        }
        EXPECT_EQ(allocations, get_allocation_count(h.get())) << "round " << round;
        EXPECT_EQ(deallocations, get_deallocation_count(h.get())) << "round " << round;
        EXPECT_EQ(allocated, get_total_allocated(h.get())) << "round " << round;
        EXPECT_EQ(current, get_current_usage(h.get())) << "round " << round;
        EXPECT_EQ(allocated - current, get_total_freed(h.get())) << "round " << round;
        // One thread did every operation: the peak is exact.
        EXPECT_EQ(static_cast<uint64_t>(round % 2 == 1 ? round : round - 1), get_peak_usage(h.get()))
            << "round " << round;
        acknowledged.store(round, std::memory_order_release);
    }
    writer.join();
    EXPECT_EQ(0u, get_live_blocks(h.get()));
    EXPECT_EQ(0u, TotalErrors(h.get()));
}

// Errors recorded on many threads at once are all counted.
TEST(DefaultStrategyThreads, ErrorCountsFromManyThreadsAreExact) {
    DefaultStrategyConfig config{};
    mstest::ErrorRecorder errors;
    config.error_handler = &mstest::ErrorRecorder::Handle;
    config.error_handler_data = &errors;
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    const size_t kThreads = 6;
    const size_t kEach = Scaled(2000, 300);
    Barrier start(kThreads);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; t++) {
        threads.emplace_back([&] {
            start.Wait();
            for (size_t i = 0; i < kEach; i++) {
                EXPECT_EQ(nullptr, default_allocate(&s->base, 0));
                void* p = default_allocate(&s->base, 16);
                ASSERT_NE(nullptr, p);
                default_deallocate(&s->base, static_cast<unsigned char*>(p) + 8);  // misaligned
                default_deallocate(&s->base, p);
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(kThreads * kEach, get_error_count(s, STRATEGY_ERROR_INVALID_SIZE));
    EXPECT_EQ(kThreads * kEach, get_error_count(s, STRATEGY_ERROR_INVALID_POINTER));
    EXPECT_EQ(2 * kThreads * kEach, errors.size());
    EXPECT_EQ(kThreads * kEach, get_allocation_count(s));
    EXPECT_EQ(kThreads * kEach, get_deallocation_count(s));
    EXPECT_EQ(0u, get_current_usage(s));
    const StrategyError last = get_last_error(s);
    EXPECT_TRUE(last == STRATEGY_ERROR_INVALID_SIZE || last == STRATEGY_ERROR_INVALID_POINTER);
    destroy_default_strategy(s);
}

}  // namespace
