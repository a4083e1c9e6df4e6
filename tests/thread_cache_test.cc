// The thread cache (config.thread_cache_blocks = N): freed blocks of 1 ..
// 2040 bytes stay with the freeing thread, in two lists of up to N per size
// class (8 bytes wide: 1..8, 9..16, ..., 2033..2040), and serve its next
// requests of the same class without calling the backend; full lists go to
// the strategy's depot, where other threads take them.  The statistics stay
// exact, misuse of a cached block is still caught, and destroy gives every
// cached block back.
//
// The strategies here run over the RecordingBackend, which counts the
// backend calls and keeps track of the blocks it handed out.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "default_strategy.h"
#include "test_support.h"

namespace {

using mstest::ErrorRecorder;
using mstest::RecordingBackend;

struct Destroy {
    void operator()(DefaultStrategy* s) const { destroy_default_strategy(s); }
};
using Strategy = std::unique_ptr<DefaultStrategy, Destroy>;

// A recording backend and error recorder for the strategies of one test.
class ThreadCacheTest : public ::testing::Test {
  protected:
    // A strategy over backend_ reporting to errors_, with `blocks` per class.
    Strategy Create(size_t blocks) {
        DefaultStrategyConfig config = backend_.Config(&ErrorRecorder::Handle, &errors_);
        config.thread_cache_blocks = blocks;
        return Strategy(create_default_strategy_with(&config));
    }

    RecordingBackend backend_;
    ErrorRecorder errors_;
};

void* Allocate(DefaultStrategy* s, size_t size) { return s->base.allocate(&s->base, size); }
void Free(DefaultStrategy* s, void* p) { s->base.deallocate(&s->base, p); }

// `count` blocks of `size` bytes, as bytes (to write into their headers).
std::vector<unsigned char*> AllocateMany(DefaultStrategy* s, size_t count, size_t size) {
    std::vector<unsigned char*> blocks;
    for (size_t i = 0; i < count; i++) blocks.push_back(static_cast<unsigned char*>(Allocate(s, size)));
    return blocks;
}

// The backend's block of a block of the strategy: its header comes first.
const void* Raw(const void* block) { return static_cast<const unsigned char*>(block) - 16; }

// Allocates `per_class` blocks of 64 bytes, then as many of 80 (another
// class: 73 .. 80), and frees them all in that order; returns them.
std::vector<void*> AllocateAndFreeTwoClasses(DefaultStrategy* s, size_t per_class) {
    std::vector<void*> blocks;
    for (size_t i = 0; i < per_class; i++) blocks.push_back(Allocate(s, 64));
    for (size_t i = 0; i < per_class; i++) blocks.push_back(Allocate(s, 80));
    for (void* p : blocks) Free(s, p);
    return blocks;
}

TEST_F(ThreadCacheTest, AFreedBlockServesTheNextRequestOfItsClass) {
    Strategy s = Create(4);
    ASSERT_NE(s, nullptr);
    void* p = Allocate(s.get(), 100);
    ASSERT_NE(p, nullptr);
    // The backend_ is asked for the class's 104 bytes (97 .. 104), plus the header.
    EXPECT_EQ(backend_.last_size(), 16u + 104u);
    std::memset(p, 0xab, 100);
    Free(s.get(), p);
    EXPECT_EQ(backend_.free_calls(), 0u);
    EXPECT_TRUE(backend_.IsLive(Raw(p)));
    EXPECT_EQ(get_current_usage(s.get()), 0u);

    void* q = Allocate(s.get(), 104);  // the same class
    EXPECT_EQ(q, p);
    EXPECT_EQ(backend_.allocate_calls(), 1u);
    std::memset(q, 0xcd, 104);
    EXPECT_EQ(get_current_usage(s.get()), 104u);
    EXPECT_EQ(get_total_allocated(s.get()), 204u);
    EXPECT_EQ(get_total_freed(s.get()), 100u);
    EXPECT_EQ(get_peak_usage(s.get()), 104u);
    EXPECT_EQ(get_allocation_count(s.get()), 2u);
    EXPECT_EQ(get_deallocation_count(s.get()), 1u);

    void* r = Allocate(s.get(), 105);  // the next class: the backend_
    ASSERT_NE(r, nullptr);
    EXPECT_NE(r, p);
    EXPECT_EQ(backend_.allocate_calls(), 2u);
    Free(s.get(), q);
    Free(s.get(), r);
    EXPECT_EQ(errors_.size(), 0u);
    EXPECT_TRUE(default_validate(&s->base));
}

// A peak reset makes each thread's next operation take the full accounting
// path; that path uses the cache the same way.
TEST_F(ThreadCacheTest, APeakResetDoesNotBypassTheCache) {
    Strategy s = Create(4);
    void* p = Allocate(s.get(), 64);
    reset_peak_usage(s.get());
    Free(s.get(), p);
    EXPECT_EQ(backend_.free_calls(), 0u);
    reset_peak_usage(s.get());
    EXPECT_EQ(Allocate(s.get(), 64), p);
    EXPECT_EQ(backend_.allocate_calls(), 1u);
    EXPECT_EQ(get_peak_usage(s.get()), 64u);
    Free(s.get(), p);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

// The first allocation after a reset looks the thread's cache up, which
// puts its statistics slot back in the thread's slot cache: the slot's peak
// must restart from its usage there, or the allocation raises a local peak
// that the reset made stale and the peak falls again with the frees.
TEST_F(ThreadCacheTest, ThePeakAfterAResetKeepsTheAllocationsAfterIt) {
    Strategy s = Create(1);
    void* a = Allocate(s.get(), 1);
    reset_peak_usage(s.get());
    void* b = Allocate(s.get(), 1);
    EXPECT_EQ(get_peak_usage(s.get()), 2u);
    Free(s.get(), a);
    Free(s.get(), b);
    EXPECT_EQ(get_peak_usage(s.get()), 2u);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

// A class holds two lists of up to N blocks: a free into a full head list
// makes it the spare list (handing a spare list already there to the depot,
// 4 lists per class) and starts a new head list.  With the depot's lists of
// the class taken too, the freed block goes straight back to the backend
// and both lists stay, and so do the next N - 1 frees into them (the
// spill).  Requests of the class then pop the head list, then the spare
// list, then (after the 2N misses of the cooldown, as this thread has
// filled its lists) the depot's lists in slot order, then ask the backend.
TEST_F(ThreadCacheTest, KeepsTwoListsPerClassAndHandsSpareListsToTheDepot) {
    const size_t kPerClass = 20;
    Strategy s = Create(3);
    std::vector<void*> blocks = AllocateAndFreeTwoClasses(s.get(), kPerClass);
    // Per class: 0 .. 11 went to the depot's 4 lists with the frees of 6,
    // 9, 12 and 15; 12 .. 14 are the spare list and 15 .. 17 the head
    // list; the free of 18 found the depot full, so 18 and 19 went back.
    EXPECT_EQ(backend_.free_calls(), 4u);
    EXPECT_EQ(backend_.live_count(), 36u);
    for (size_t i = 0; i < 2 * kPerClass; i++) {
        size_t j = i % kPerClass;
        EXPECT_EQ(backend_.IsLive(Raw(blocks[i])), j < 18) << i;
    }

    // Last in, first out within each list: the head list, the spare list;
    // then, as this thread filled its lists of the class, its next 2N = 6
    // misses ask the backend (the cooldown); then the depot's lists in slot
    // order; then the backend again.
    const size_t kOwn[] = {17, 16, 15, 14, 13, 12};
    const size_t kDepot[] = {2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9};
    const size_t kAgain = 6 + 6 + 12 + 1;
    std::vector<void*> again;
    // Allocates `count` more blocks of the class; returns the backend calls they made.
    auto more = [&](size_t count) {
        uint64_t calls = backend_.allocate_calls();
        for (size_t i = 0; i < count; i++) again.push_back(Allocate(s.get(), 75));
        return backend_.allocate_calls() - calls;
    };
    EXPECT_EQ(more(6), 0u);
    for (size_t i = 0; i < 6; i++) EXPECT_EQ(again[i], blocks[kPerClass + kOwn[i]]) << i;
    EXPECT_EQ(more(6), 6u);
    EXPECT_EQ(more(12), 0u);
    for (size_t i = 0; i < 12; i++) EXPECT_EQ(again[12 + i], blocks[kPerClass + kDepot[i]]) << i;
    EXPECT_EQ(more(1), 1u);
    for (void* p : again) Free(s.get(), p);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_allocation_count(s.get()), 2 * kPerClass + kAgain);
    EXPECT_EQ(get_deallocation_count(s.get()), 2 * kPerClass + kAgain);
    EXPECT_EQ(errors_.size(), 0u);
}

// Runs tasks on a thread of its own, one at a time, each to completion.
class Worker {
  public:
    Worker() : thread_([this] { Loop(); }) {}
    ~Worker() {
        Run(nullptr);
        thread_.join();
    }
    // Runs `task` on the worker (nullptr: makes it exit) and waits for it.
    void Run(std::function<void()> task) {
        std::unique_lock<std::mutex> lock(mutex_);
        task_ = std::move(task);
        pending_ = true;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !pending_; });
    }

  private:
    void Loop() {
        for (;;) {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [this] { return pending_; });
            std::function<void()> task = std::move(task_);
            if (task) task();
            pending_ = false;
            changed_.notify_all();
            if (!task) return;
        }
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::function<void()> task_;
    bool pending_ = false;
    std::thread thread_;  // last: starts once the rest is set up
};

// A thread that only allocates (a producer) gets the blocks another thread
// (a consumer) freed, through the depot: the consumer keeps two lists of N
// and hands on its spare lists; the producer takes them whole.
TEST_F(ThreadCacheTest, AProducerReusesWhatAConsumerFreedThroughTheDepot) {
    const size_t kBlocks = 40;
    Strategy s = Create(3);
    Worker producer;
    std::vector<void*> first, second;
    producer.Run([&] {
        for (size_t i = 0; i < kBlocks; i++) first.push_back(Allocate(s.get(), 64));
    });
    // This thread hands the depot 4 lists of 3 (the first 12 freed), keeps
    // the next 6 in its own lists, and gives the last 22 back as it frees
    // them (the depot is full).
    for (void* p : first) Free(s.get(), p);
    EXPECT_EQ(backend_.free_calls(), 22u);
    uint64_t calls = backend_.allocate_calls();
    producer.Run([&] {
        for (size_t i = 0; i < kBlocks; i++) second.push_back(Allocate(s.get(), 64));
    });
    EXPECT_EQ(backend_.allocate_calls() - calls, kBlocks - 12);  // the depot's 4 lists of 3 were reused
    std::set<void*> listed(first.begin(), first.begin() + 12);  // the first 12 freed went to the depot
    for (size_t i = 0; i < 12; i++) EXPECT_EQ(listed.count(second[i]), 1u) << i;
    for (void* p : second) Free(s.get(), p);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_allocation_count(s.get()), 2 * kBlocks);
    EXPECT_EQ(get_deallocation_count(s.get()), 2 * kBlocks);
    EXPECT_EQ(errors_.size(), 0u);
}

// The spill: once the depot had no room for a spare list, the next N - 1
// frees into the full lists give their own blocks back, in the order they
// were freed, without looking at the depot, even if a slot has come free
// meanwhile; the Nth looks again and hands its spare list on.  A free
// into lists with room keeps its block, spill or not.
TEST_F(ThreadCacheTest, FreesIntoFullListsGiveTheirBlocksBackWhileTheDepotIsFull) {
    Strategy s = Create(3);
    Worker worker;
    // 12 blocks fill the depot's 4 lists, 6 this thread's two lists.
    std::vector<void*> blocks;
    for (size_t i = 0; i < 18 + 7; i++) blocks.push_back(Allocate(s.get(), 64));
    for (size_t i = 0; i < 18; i++) Free(s.get(), blocks[i]);
    ASSERT_EQ(backend_.free_calls(), 0u);
    // The depot is full: the block itself goes back, and a spill of 2 starts.
    Free(s.get(), blocks[18]);
    EXPECT_EQ(backend_.free_calls(), 1u);
    EXPECT_FALSE(backend_.IsLive(Raw(blocks[18])));
    // Another thread takes one of the depot's lists: a slot is free.
    void* taken = nullptr;
    worker.Run([&] { taken = Allocate(s.get(), 64); });
    EXPECT_EQ(taken, blocks[2]);  // the first list's last block
    EXPECT_EQ(backend_.allocate_calls(), 25u);
    // The spill goes on: these blocks go back too, the slot stays free.
    for (size_t i = 19; i < 21; i++) {
        Free(s.get(), blocks[i]);
        EXPECT_EQ(backend_.free_calls(), i - 17) << i;
        EXPECT_FALSE(backend_.IsLive(Raw(blocks[i]))) << i;
    }
    // The spill is over: this free looks at the depot and hands its spare list on.
    Free(s.get(), blocks[21]);
    EXPECT_EQ(backend_.free_calls(), 3u);
    EXPECT_TRUE(backend_.IsLive(Raw(blocks[21])));
    // An allocation makes room in the head list: the next free keeps its block.
    void* p = Allocate(s.get(), 64);
    EXPECT_EQ(p, blocks[21]);
    Free(s.get(), p);
    EXPECT_EQ(backend_.free_calls(), 3u);
    // 22 and 23 fill the head list again; the depot is full again, so 24
    // goes back and starts another spill.
    for (size_t i = 22; i < 25; i++) Free(s.get(), blocks[i]);
    EXPECT_EQ(backend_.free_calls(), 4u);
    EXPECT_TRUE(backend_.IsLive(Raw(blocks[23])));
    EXPECT_FALSE(backend_.IsLive(Raw(blocks[24])));
    worker.Run([&] { Free(s.get(), taken); });
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_deallocation_count(s.get()), 27u);
    EXPECT_EQ(errors_.size(), 0u);
}

// Threads that both allocate and free a class keep their own blocks rather
// than trade lists through the depot: a thread whose spare list of a class
// has left asks the backend for its next 2N misses of the class, whatever
// the depot holds; a thread that has only allocated the class takes from
// the depot at once (AProducerReusesWhatAConsumerFreedThroughTheDepot).
TEST_F(ThreadCacheTest, AThreadThatGaveAListAsksTheBackendBeforeTakingFromTheDepot) {
    Strategy s = Create(3);
    Worker worker;
    std::vector<void*> theirs, mine, again;
    worker.Run([&] {
        for (size_t i = 0; i < 20; i++) theirs.push_back(Allocate(s.get(), 64));
    });
    // This thread's 7th free hands its first list (mine[0..2]) to the depot.
    for (size_t i = 0; i < 7; i++) mine.push_back(Allocate(s.get(), 64));
    for (void* p : mine) Free(s.get(), p);
    // The worker's frees fill the depot's other 3 slots (and give the rest back).
    worker.Run([&] {
        for (void* p : theirs) Free(s.get(), p);
    });
    uint64_t calls = backend_.allocate_calls();
    for (size_t i = 0; i < 4 + 6; i++) again.push_back(Allocate(s.get(), 64));  // its own 4, then 2N misses
    EXPECT_EQ(backend_.allocate_calls() - calls, 6u);
    for (size_t i = 0; i < 4; i++) EXPECT_EQ(again[i], mine[6 - i]) << i;
    std::set<void*> listed(theirs.begin(), theirs.begin() + 9);  // the worker's 3 lists in the depot
    for (size_t i = 0; i < 3 + 9; i++) again.push_back(Allocate(s.get(), 64));  // then the depot's 4 lists
    EXPECT_EQ(backend_.allocate_calls() - calls, 6u);
    for (size_t i = 0; i < 3; i++) EXPECT_EQ(again[10 + i], mine[2 - i]) << i;
    for (size_t i = 13; i < again.size(); i++) EXPECT_EQ(listed.count(again[i]), 1u) << i;
    for (void* p : again) Free(s.get(), p);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_allocation_count(s.get()), 20u + 7u + 22u);
    EXPECT_EQ(errors_.size(), 0u);
}

TEST_F(ThreadCacheTest, OnlySizesOfTheClassesAreCached) {
    Strategy s = Create(8);
    void* smallest = Allocate(s.get(), 1);
    void* largest = Allocate(s.get(), 2040);
    void* beyond = Allocate(s.get(), 2041);
    EXPECT_EQ(backend_.last_size(), 16u + 2041u);  // not rounded: never cached
    Free(s.get(), smallest);
    Free(s.get(), largest);
    EXPECT_EQ(backend_.free_calls(), 0u);
    Free(s.get(), beyond);
    EXPECT_EQ(backend_.free_calls(), 1u);
    EXPECT_EQ(Allocate(s.get(), 8), smallest);
    EXPECT_EQ(Allocate(s.get(), 2033), largest);
    EXPECT_EQ(backend_.allocate_calls(), 3u);
    Free(s.get(), smallest);
    Free(s.get(), largest);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_total_allocated(s.get()), 1u + 2040u + 2041u + 8u + 2033u);
    EXPECT_EQ(errors_.size(), 0u);
}

TEST_F(ThreadCacheTest, DestroyGivesEveryCachedBlockBack) {
    {
        Strategy s = Create(16);
        std::vector<void*> blocks;
        for (size_t size = 1; size <= 2100; size += 7) blocks.push_back(Allocate(s.get(), size));
        for (void* p : blocks) Free(s.get(), p);
        EXPECT_GT(backend_.live_count(), 250u);
        EXPECT_EQ(get_live_blocks(s.get()), 0u);
    }
    EXPECT_EQ(backend_.live_count(), 0u);
    EXPECT_EQ(backend_.bad_frees(), 0u);
    EXPECT_EQ(errors_.size(), 0u);  // no leak report: cached blocks are freed ones
}

// release_cached_blocks gives back the calling thread's lists and the
// depot's, and nothing else changes: the figures stay, and the next
// requests go to the backend.
TEST_F(ThreadCacheTest, ReleaseCachedBlocksGivesTheThreadsListsAndTheDepotBack) {
    const size_t kPerClass = 20;
    Strategy s = Create(3);
    AllocateAndFreeTwoClasses(s.get(), kPerClass);
    // Per class (as in KeepsTwoListsPerClassAndHandsSpareListsToTheDepot):
    // 12 in the depot, 3 in the spare list, 3 in the head list; 2 went back.
    ASSERT_EQ(backend_.live_count(), 36u);
    ASSERT_EQ(backend_.free_calls(), 4u);
    uint64_t freed = get_total_freed(s.get());
    EXPECT_EQ(release_cached_blocks(s.get()), 36u);
    EXPECT_EQ(backend_.live_count(), 0u);
    EXPECT_EQ(backend_.free_calls(), 40u);
    EXPECT_EQ(backend_.bad_frees(), 0u);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_total_freed(s.get()), freed);
    EXPECT_EQ(get_deallocation_count(s.get()), 2 * kPerClass);
    EXPECT_EQ(release_cached_blocks(s.get()), 0u);  // nothing left
    // The cache works on: the next request asks the backend, its free is kept.
    uint64_t calls = backend_.allocate_calls();
    void* p = Allocate(s.get(), 64);
    EXPECT_EQ(backend_.allocate_calls(), calls + 1);
    Free(s.get(), p);
    EXPECT_EQ(backend_.live_count(), 1u);
    EXPECT_EQ(Allocate(s.get(), 60), p);
    Free(s.get(), p);
    EXPECT_EQ(release_cached_blocks(s.get()), 1u);
    EXPECT_EQ(backend_.live_count(), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

// Each thread's lists are its own: a thread releases its lists and the
// depot's, never another thread's.
TEST_F(ThreadCacheTest, ReleaseCachedBlocksLeavesOtherThreadsListsAlone) {
    Strategy s = Create(3);
    Worker worker;
    worker.Run([&] {
        std::vector<void*> blocks;
        for (size_t i = 0; i < 20; i++) blocks.push_back(Allocate(s.get(), 64));
        for (void* p : blocks) Free(s.get(), p);  // 12 to the depot, 6 kept, 2 back
    });
    ASSERT_EQ(backend_.live_count(), 18u);
    EXPECT_EQ(release_cached_blocks(s.get()), 12u);  // this thread has no lists: the depot's
    EXPECT_EQ(backend_.live_count(), 6u);
    size_t released = 0;
    worker.Run([&] { released = release_cached_blocks(s.get()); });
    EXPECT_EQ(released, 6u);
    EXPECT_EQ(backend_.live_count(), 0u);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

TEST_F(ThreadCacheTest, ReleaseCachedBlocksWithoutACacheOrAStrategyDoesNothing) {
    EXPECT_EQ(release_cached_blocks(nullptr), 0u);
    Strategy none = Create(0);
    void* p = Allocate(none.get(), 64);
    Free(none.get(), p);
    EXPECT_EQ(backend_.free_calls(), 1u);
    EXPECT_EQ(release_cached_blocks(none.get()), 0u);
    Strategy empty = Create(4);
    EXPECT_EQ(release_cached_blocks(empty.get()), 0u);  // nothing cached yet
    EXPECT_EQ(backend_.free_calls(), 1u);
    EXPECT_EQ(errors_.size(), 0u);
}

// A cached block whose header was overwritten is reported as destroy
// reports it: it and the rest of its list are not given back.
TEST_F(ThreadCacheTest, ReleaseCachedBlocksReportsAnOverwrittenHeader) {
    Strategy s = Create(1);
    std::vector<unsigned char*> blocks = AllocateMany(s.get(), 3, 40);
    // Lists of one: block 0 goes to the depot, 1 is the spare list, 2 the head list.
    for (unsigned char* p : blocks) Free(s.get(), p);
    blocks[1][-8] ^= 1;  // the spare list's block: its check word
    EXPECT_EQ(release_cached_blocks(s.get()), 2u);
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_EQ(errors_.entries()[0].info.error, STRATEGY_ERROR_CORRUPTED_BLOCK);
    EXPECT_EQ(errors_.entries()[0].info.pointer, blocks[1]);
    EXPECT_EQ(errors_.entries()[0].info.size, 0u);
    EXPECT_EQ(backend_.live_count(), 1u);
    EXPECT_TRUE(backend_.IsLive(Raw(blocks[1])));
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    s.reset();
    EXPECT_EQ(errors_.size(), 1u);  // the dropped block is not walked again
    EXPECT_EQ(backend_.live_count(), 1u);
    EXPECT_EQ(backend_.bad_frees(), 0u);
}

TEST_F(ThreadCacheTest, ASecondFreeOfACachedBlockIsADoubleFree) {
    Strategy s = Create(4);
    void* p = Allocate(s.get(), 48);
    Free(s.get(), p);
    Free(s.get(), p);
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_EQ(errors_.entries()[0].info.error, STRATEGY_ERROR_DOUBLE_FREE);
    EXPECT_EQ(errors_.entries()[0].info.pointer, p);
    EXPECT_EQ(get_deallocation_count(s.get()), 1u);
    EXPECT_EQ(get_total_freed(s.get()), 48u);
    // The cache holds the block once: it is handed out once.
    void* a = Allocate(s.get(), 48);
    void* b = Allocate(s.get(), 48);
    EXPECT_EQ(a, p);
    EXPECT_NE(b, p);
    Free(s.get(), a);
    Free(s.get(), b);
    EXPECT_EQ(get_error_count(s.get(), STRATEGY_ERROR_DOUBLE_FREE), 1u);
}

// A cached block's list link lives in its header, not in the memory the
// caller had: a write after free into that memory changes nothing the
// strategy reads (without ASan, which reports the write itself: see
// CachedMemoryIsPoisonedUnderAsan).
#if !defined(MS_TEST_ASAN)
TEST_F(ThreadCacheTest, AWriteAfterFreeIntoACachedBlockLeavesTheCacheIntact) {
    Strategy s = Create(4);
    auto* a = static_cast<unsigned char*>(Allocate(s.get(), 32));
    auto* b = static_cast<unsigned char*>(Allocate(s.get(), 32));
    Free(s.get(), a);
    Free(s.get(), b);
    std::memset(b, 0x41, 32);  // the whole block, after free
    std::memset(a, 0xff, 32);
    EXPECT_EQ(Allocate(s.get(), 32), b);
    EXPECT_EQ(Allocate(s.get(), 32), a);
    void* c = Allocate(s.get(), 32);  // the list is empty: from the backend
    EXPECT_NE(c, nullptr);
    EXPECT_EQ(backend_.allocate_calls(), 3u);
    EXPECT_EQ(get_current_usage(s.get()), 96u);
    EXPECT_EQ(errors_.size(), 0u);
    Free(s.get(), a);
    Free(s.get(), b);
    Free(s.get(), c);
}
#endif

// A write into the header of a cached block (before its start) is caught
// when the cache reaches the block: STRATEGY_ERROR_CORRUPTED_BLOCK, and the
// rest of its list is dropped (never used again, never given back), since
// its link cannot be trusted.  The request is still served, and the
// figures stay exact.
TEST_F(ThreadCacheTest, AnOverwrittenHeaderOfACachedBlockIsCaughtAtItsPop) {
    for (size_t byte = 0; byte < 16; byte++) {
        RecordingBackend backend;
        ErrorRecorder errors;
        DefaultStrategyConfig config = backend.Config(&ErrorRecorder::Handle, &errors);
        config.thread_cache_blocks = 4;
        Strategy s(create_default_strategy_with(&config));
        ASSERT_NE(s, nullptr);
        auto* a = static_cast<unsigned char*>(Allocate(s.get(), 72));
        auto* b = static_cast<unsigned char*>(Allocate(s.get(), 72));
        auto* c = static_cast<unsigned char*>(Allocate(s.get(), 72));
        Free(s.get(), a);
        Free(s.get(), b);
        Free(s.get(), c);  // the head list: c, b, a
        b[-16 + static_cast<std::ptrdiff_t>(byte)] ^= 0x10;
        EXPECT_EQ(Allocate(s.get(), 72), c);
        EXPECT_EQ(errors.size(), 0u);
        void* d = Allocate(s.get(), 72);
        ASSERT_NE(d, nullptr);
        EXPECT_NE(d, b) << byte;
        EXPECT_NE(d, a) << byte;
        ASSERT_EQ(errors.size(), 1u) << byte;
        EXPECT_EQ(errors.entries()[0].info.error, STRATEGY_ERROR_CORRUPTED_BLOCK);
        EXPECT_EQ(errors.entries()[0].info.pointer, b);
        EXPECT_EQ(errors.entries()[0].info.size, 0u);
        EXPECT_EQ(get_error_count(s.get(), STRATEGY_ERROR_CORRUPTED_BLOCK), 1u);
        EXPECT_EQ(backend.allocate_calls(), 4u);  // d
        EXPECT_EQ(get_current_usage(s.get()), 144u);
        EXPECT_EQ(get_allocation_count(s.get()), 5u);
        EXPECT_EQ(get_deallocation_count(s.get()), 3u);
        Free(s.get(), c);
        Free(s.get(), d);
        EXPECT_EQ(Allocate(s.get(), 72), d);  // the class works on
        Free(s.get(), d);
        s.reset();
        EXPECT_EQ(backend.live_count(), 2u);  // a and b, dropped
        EXPECT_EQ(backend.bad_frees(), 0u);
        EXPECT_EQ(errors.size(), 1u);
    }
}

// Blocks in a list the strategy gives back (every list, at destroy or
// release_cached_blocks: ReleaseCachedBlocksReportsAnOverwrittenHeader) are
// checked the same way: the walk stops at the overwritten one and reports
// it.  A free into full lists while the depot is full gives back only its
// own block, and walks no list.
TEST_F(ThreadCacheTest, AnOverwrittenHeaderIsCaughtWhenItsListGoesBack) {
    Strategy s = Create(1);
    std::vector<unsigned char*> blocks = AllocateMany(s.get(), 8, 40);
    // Lists of one: the second free makes the first block's list the spare
    // one, the third hands it to the depot, ... until the depot (4 lists)
    // is full: blocks 0 .. 3 in the depot, 4 the spare list, 5 the head
    // list.  The 7th and 8th frees find the depot full: their blocks go back.
    for (size_t i = 0; i < 6; i++) Free(s.get(), blocks[i]);
    blocks[4][-8] ^= 1;   // the spare list's block: its check word
    blocks[5][-16] ^= 2;  // the head list's block: its size word (the link)
    blocks[0][-1] ^= 4;   // in the depot
    Free(s.get(), blocks[6]);
    Free(s.get(), blocks[7]);
    EXPECT_EQ(backend_.free_calls(), 2u);
    EXPECT_EQ(errors_.size(), 0u);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_deallocation_count(s.get()), 8u);
    s.reset();  // destroy walks every list: the thread's (head, spare), then the depot's
    ASSERT_EQ(errors_.size(), 3u);
    const unsigned char* caught[] = {blocks[5], blocks[4], blocks[0]};
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(errors_.entries()[i].info.error, STRATEGY_ERROR_CORRUPTED_BLOCK) << i;
        EXPECT_EQ(errors_.entries()[i].info.pointer, caught[i]) << i;
    }
    EXPECT_EQ(backend_.live_count(), 3u);  // blocks 5, 4 and 0 are never given back
    EXPECT_EQ(backend_.bad_frees(), 0u);
}

// The error handler may use the strategy: the cache is consistent when it
// runs, and the allocation that found the block starts again afterwards.
TEST_F(ThreadCacheTest, TheErrorHandlerMayAllocateWhenACachedBlockIsCaught) {
    struct Context {
        DefaultStrategy* s = nullptr;
        void* inner = nullptr;
        int calls = 0;
    } context;
    DefaultStrategyConfig config = backend_.Config(
        [](const StrategyErrorInfo* info, void* data) {
            auto* ctx = static_cast<Context*>(data);
            ctx->calls++;
            EXPECT_EQ(info->error, STRATEGY_ERROR_CORRUPTED_BLOCK);
            ctx->inner = Allocate(ctx->s, 72);  // the same class
        },
        &context);
    config.thread_cache_blocks = 4;
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(s, nullptr);
    context.s = s.get();
    auto* a = static_cast<unsigned char*>(Allocate(s.get(), 72));
    Free(s.get(), a);
    a[-4] ^= 0x80;
    void* outer = Allocate(s.get(), 72);
    EXPECT_EQ(context.calls, 1);
    ASSERT_NE(context.inner, nullptr);
    ASSERT_NE(outer, nullptr);
    EXPECT_NE(outer, context.inner);
    EXPECT_NE(outer, static_cast<void*>(a));
    EXPECT_EQ(get_current_usage(s.get()), 144u);
    EXPECT_EQ(get_allocation_count(s.get()), 3u);
    Free(s.get(), outer);
    Free(s.get(), context.inner);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
}

TEST_F(ThreadCacheTest, ABlockOfAnotherStrategyIsRefused) {
    Strategy a = Create(4);
    Strategy b = Create(4);
    void* p = Allocate(a.get(), 32);
    Free(b.get(), p);
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_EQ(errors_.entries()[0].info.error, STRATEGY_ERROR_WRONG_STRATEGY);
    EXPECT_EQ(get_current_usage(a.get()), 32u);
    EXPECT_EQ(get_total_freed(b.get()), 0u);
    // b's cache did not take it: b's next block of the class is a new one.
    void* q = Allocate(b.get(), 32);
    EXPECT_NE(q, p);
    Free(a.get(), p);
    Free(b.get(), q);
}

TEST_F(ThreadCacheTest, ZeroedAndResizedBlocksAreRoundedAndCached) {
    Strategy s = Create(4);
    auto* z = static_cast<unsigned char*>(s->base.allocate_zeroed(&s->base, 10, 10));
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(backend_.last_size(), 16u + 104u);
    for (int i = 0; i < 100; i++) ASSERT_EQ(z[i], 0) << i;
    Free(s.get(), z);
    EXPECT_EQ(Allocate(s.get(), 100), z);

    // Over a backend_ other than malloc a resize moves the block; the new one
    // is requested rounded too, and the old one goes back.
    std::memset(z, 0x5a, 100);
    auto* moved = static_cast<unsigned char*>(s->base.reallocate(&s->base, z, 1000));
    ASSERT_NE(moved, nullptr);
    EXPECT_EQ(backend_.last_size(), 16u + 1000u);  // class 993 .. 1000
    for (int i = 0; i < 100; i++) ASSERT_EQ(moved[i], 0x5a) << i;
    Free(s.get(), moved);
    EXPECT_EQ(Allocate(s.get(), 993), moved);
    Free(s.get(), moved);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

// default_allocate and default_deallocate called directly (not through the
// vtable, whose entries for a strategy with a thread cache are the cache
// kind's) go on as the vtable's entries: they use the cache too.
TEST_F(ThreadCacheTest, DirectCallsOfTheMallocPathUseTheCache) {
    Strategy s = Create(4);
    void* p = default_allocate(&s->base, 40);  // an empty cache: from the backend
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(backend_.IsLive(Raw(p)));
    EXPECT_EQ(backend_.allocate_calls(), 1u);
    default_deallocate(&s->base, p);  // kept in the cache, not given back
    EXPECT_EQ(backend_.free_calls(), 0u);
    EXPECT_EQ(default_allocate(&s->base, 33), p);  // the same class (33..40), popped
    EXPECT_EQ(backend_.allocate_calls(), 1u);
    Free(s.get(), p);  // through the vtable
    EXPECT_EQ(default_allocate(&s->base, 40), p);
    default_deallocate(&s->base, p);
    // A reallocate of NULL and an alignment of 16 are default_allocate.
    EXPECT_EQ(s->base.reallocate(&s->base, nullptr, 39), p);
    default_deallocate(&s->base, p);
    EXPECT_EQ(s->base.allocate_aligned(&s->base, 16, 40), p);
    default_deallocate(&s->base, p);
    EXPECT_EQ(backend_.allocate_calls(), 1u);
    EXPECT_EQ(backend_.free_calls(), 0u);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
    EXPECT_EQ(get_peak_usage(s.get()), 40u);
    EXPECT_EQ(get_allocation_count(s.get()), 5u);
    EXPECT_EQ(get_deallocation_count(s.get()), 5u);
    EXPECT_EQ(errors_.size(), 0u);
    // A second direct free of the cached block is still a double free, and
    // a size the gate refuses is still refused.
    default_deallocate(&s->base, p);
    EXPECT_EQ(default_allocate(&s->base, 0), nullptr);
    ASSERT_EQ(errors_.size(), 2u);
    EXPECT_EQ(errors_.entries()[0].info.error, STRATEGY_ERROR_DOUBLE_FREE);
    EXPECT_EQ(errors_.entries()[1].info.error, STRATEGY_ERROR_INVALID_SIZE);
    EXPECT_EQ(get_deallocation_count(s.get()), 5u);
    EXPECT_TRUE(default_validate(&s->base));
    s.reset();
    EXPECT_FALSE(backend_.IsLive(Raw(p)));  // destroy gave it back
}

TEST_F(ThreadCacheTest, ABlockTheLimitRefusesGoesBackToTheBackend) {
    DefaultStrategyConfig config = backend_.Config(&ErrorRecorder::Handle, &errors_);
    config.thread_cache_blocks = 4;
    config.memory_limit = 100;
    Strategy s(create_default_strategy_with(&config));
    void* a = Allocate(s.get(), 80);
    ASSERT_NE(a, nullptr);
    Free(s.get(), a);  // cached
    void* b = Allocate(s.get(), 30);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(Allocate(s.get(), 80), nullptr);  // the cached block, refused by the limit
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_EQ(errors_.entries()[0].info.error, STRATEGY_ERROR_LIMIT_EXCEEDED);
    EXPECT_FALSE(backend_.IsLive(Raw(a)));
    EXPECT_EQ(backend_.live_count(), 1u);
    EXPECT_EQ(get_current_usage(s.get()), 30u);
    EXPECT_EQ(get_allocation_count(s.get()), 2u);
    Free(s.get(), b);
}

TEST_F(ThreadCacheTest, NotUsedWithAParentADebugOptionOrAHistogram) {
    Strategy parent = Create(4);
    DefaultStrategyConfig child_config{};
    child_config.parent = &parent->base;
    child_config.thread_cache_blocks = 4;
    Strategy child(create_default_strategy_with(&child_config));
    ASSERT_NE(child, nullptr);
    void* p = Allocate(child.get(), 64);
    EXPECT_EQ(get_current_usage(parent.get()), 64u + 16u);
    Free(child.get(), p);
    EXPECT_EQ(get_current_usage(parent.get()), 0u);  // back in the parent at once

    for (int option = 0; option < 2; option++) {
        RecordingBackend other;
        DefaultStrategyConfig config = other.Config(&ErrorRecorder::Handle, &errors_);
        config.thread_cache_blocks = 4;
        config.check_overflow = option == 0;
        config.size_histogram = option == 1;
        Strategy s(create_default_strategy_with(&config));
        ASSERT_NE(s, nullptr);
        void* q = Allocate(s.get(), 64);
        Free(s.get(), q);
        EXPECT_EQ(other.free_calls(), 1u) << option;
        EXPECT_EQ(other.live_count(), 0u) << option;
    }
    EXPECT_EQ(errors_.size(), 0u);
}

TEST(ThreadCache, MoreThan4096BlocksPerClassIsRefusedAtCreate) {
    DefaultStrategyConfig config{};
    config.thread_cache_blocks = 4097;
    EXPECT_EQ(create_default_strategy_with(&config), nullptr);
    config.thread_cache_blocks = 4096;
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(s, nullptr);
    void* p = Allocate(s.get(), 24);  // over malloc
    ASSERT_NE(p, nullptr);
    Free(s.get(), p);
    EXPECT_EQ(Allocate(s.get(), 17), p);  // the same class, 17 .. 24
    Free(s.get(), p);
    EXPECT_EQ(get_current_usage(s.get()), 0u);
}

#if defined(MS_TEST_ASAN)
// Under AddressSanitizer a cached block's memory is poisoned, so a use after
// free is still reported although the block never went back to malloc; and a
// block handed out again for a smaller size of its class keeps the rest of
// its room poisoned (ASan's 8-byte granule that holds the block's last byte
// reports the rest of that granule as past the block).
TEST(ThreadCacheDeathTest, CachedMemoryIsPoisonedUnderAsan) {
    DefaultStrategyConfig config{};
    config.thread_cache_blocks = 4;
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(s, nullptr);
    auto* p = static_cast<volatile unsigned char*>(Allocate(s.get(), 72));  // class 65 .. 72
    ASSERT_NE(p, nullptr);
    p[71] = 1;
    Free(s.get(), const_cast<unsigned char*>(p));
    EXPECT_DEATH(p[0] = 2, "AddressSanitizer: use-after-poison");  // the first word too: no link there
    EXPECT_DEATH(p[40] = 2, "AddressSanitizer: use-after-poison");
    auto* q = static_cast<volatile unsigned char*>(Allocate(s.get(), 65));
    ASSERT_EQ(q, p);
    q[64] = 3;  // its own bytes are addressable
    EXPECT_DEATH(q[65] = 4, "AddressSanitizer: heap-buffer-overflow");
    EXPECT_DEATH(q[71] = 4, "AddressSanitizer: heap-buffer-overflow");
    Free(s.get(), const_cast<unsigned char*>(q));
}

// A block in a list the depot holds stays poisoned.
TEST(ThreadCacheDeathTest, MemoryInTheDepotIsPoisonedUnderAsan) {
    DefaultStrategyConfig config{};
    config.thread_cache_blocks = 1;
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(s, nullptr);
    auto* p = static_cast<volatile unsigned char*>(Allocate(s.get(), 72));
    void* q = Allocate(s.get(), 72);
    void* r = Allocate(s.get(), 72);
    Free(s.get(), const_cast<unsigned char*>(p));
    Free(s.get(), q);  // p's list becomes the spare one
    Free(s.get(), r);  // and goes to the depot
    EXPECT_DEATH(p[8] = 2, "AddressSanitizer: use-after-poison");
    EXPECT_EQ(Allocate(s.get(), 72), r);
    EXPECT_EQ(Allocate(s.get(), 72), q);
    void* fresh[2];  // having given a list, the thread asks the backend 2N = 2 times first
    for (void*& f : fresh) f = Allocate(s.get(), 72);
    EXPECT_EQ(Allocate(s.get(), 72), const_cast<unsigned char*>(p));  // from the depot
    p[71] = 3;
    Free(s.get(), const_cast<unsigned char*>(p));
    Free(s.get(), q);
    Free(s.get(), r);
    for (void* f : fresh) Free(s.get(), f);
}
#endif

// Blocks handed from thread to thread land in the freeing thread's cache;
// threads exit with full caches.  The figures stay exact, and destroy gives
// back every block the exited threads' caches held.
TEST_F(ThreadCacheTest, ThreadsHandingBlocksOverKeepExactFigures) {
    const size_t kThreads = 4;
    const size_t kRounds = mstest::Scaled(4000, 500);
    {
        Strategy s = Create(8);
        std::vector<std::vector<void*>> handed(kThreads);
        std::vector<uint64_t> bytes(kThreads, 0);
        std::vector<std::thread> threads;
        for (size_t t = 0; t < kThreads; t++) {
            threads.emplace_back([&, t] {
                mstest::Rng rng(t + 1);
                for (size_t i = 0; i < kRounds; i++) {
                    size_t size = 1 + rng.Below(2200);
                    void* p = Allocate(s.get(), size);
                    ASSERT_NE(p, nullptr);
                    std::memset(p, static_cast<int>(t), size);
                    bytes[t] += size;
                    handed[t].push_back(p);
                }
            });
        }
        for (auto& thread : threads) thread.join();
        threads.clear();
        // Each thread frees the blocks of the next one.
        for (size_t t = 0; t < kThreads; t++) {
            threads.emplace_back([&, t] {
                for (void* p : handed[(t + 1) % kThreads]) Free(s.get(), p);
            });
        }
        for (auto& thread : threads) thread.join();
        uint64_t total = 0;
        for (uint64_t b : bytes) total += b;
        EXPECT_EQ(get_current_usage(s.get()), 0u);
        EXPECT_EQ(get_total_allocated(s.get()), total);
        EXPECT_EQ(get_total_freed(s.get()), total);
        EXPECT_EQ(get_allocation_count(s.get()), kThreads * kRounds);
        EXPECT_EQ(get_deallocation_count(s.get()), kThreads * kRounds);
        EXPECT_GT(backend_.live_count(), 0u);  // held by the exited threads' caches
        EXPECT_TRUE(default_validate(&s->base));
    }
    EXPECT_EQ(backend_.live_count(), 0u);
    EXPECT_EQ(backend_.bad_frees(), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

// Consumers free blocks while producers allocate, with nothing between them
// but the depot (the flag they share is relaxed: it orders nothing), so
// under ThreadSanitizer every reused block's links and header are ordered
// only by depot_put's release and depot_take's acquire.  The producers keep
// allocating past the consumers' end by more than the depot holds, so some
// block freed by a consumer is reused whatever the interleaving.
TEST_F(ThreadCacheTest, ProducersAndConsumersShareBlocksOnlyThroughTheDepot) {
    const size_t kPairs = 2, kBlocks = mstest::Scaled(4000, 1000), kCap = 1000000;
    const size_t kPerClass = 2 * 3 + 4 * 3;  // what one class keeps: 2 lists of 3, and the depot's 4
    {
        Strategy s = Create(3);
        std::vector<std::vector<void*>> freeing(kPairs), got(kPairs);
        std::set<void*> freed_set;
        for (auto& blocks : freeing) {
            for (size_t i = 0; i < kBlocks; i++) blocks.push_back(Allocate(s.get(), 48));
            freed_set.insert(blocks.begin(), blocks.end());
        }
        std::atomic<size_t> consumers_left{kPairs};
        std::vector<size_t> reused(kPairs, 0);
        std::vector<std::thread> threads;
        for (size_t t = 0; t < kPairs; t++) {
            threads.emplace_back([&, t] {
                for (void* p : freeing[t]) Free(s.get(), p);
                consumers_left.fetch_sub(1, std::memory_order_relaxed);
            });
            threads.emplace_back([&, t] {
                size_t after = 0;
                while (after <= kPairs * kPerClass) {
                    ASSERT_LT(got[t].size(), kCap);
                    if (consumers_left.load(std::memory_order_relaxed) == 0) after++;
                    auto* p = static_cast<unsigned char*>(Allocate(s.get(), 44));  // the same class (41 .. 48)
                    ASSERT_NE(p, nullptr);
                    std::memset(p, static_cast<int>(t), 44);
                    if (freed_set.count(p) != 0) reused[t]++;
                    got[t].push_back(p);
                }
            });
        }
        for (auto& thread : threads) thread.join();
        EXPECT_GT(reused[0] + reused[1], 0u);
        size_t allocated = kPairs * kBlocks;
        for (auto& blocks : got) {
            for (void* p : blocks) Free(s.get(), p);
            allocated += blocks.size();
        }
        EXPECT_EQ(get_current_usage(s.get()), 0u);
        EXPECT_EQ(get_allocation_count(s.get()), allocated);
        EXPECT_EQ(get_deallocation_count(s.get()), allocated);
        EXPECT_EQ(get_total_allocated(s.get()), 48u * kPairs * kBlocks + 44u * (allocated - kPairs * kBlocks));
        EXPECT_TRUE(default_validate(&s->base));
    }
    EXPECT_EQ(backend_.live_count(), 0u);
    EXPECT_EQ(backend_.bad_frees(), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

// release_cached_blocks while other threads allocate and free: the
// depot's lists change hands only by exchange, so under ThreadSanitizer
// this checks that a release, a put and a take of the same slot are
// ordered; the figures stay exact and every block goes back exactly once.
TEST_F(ThreadCacheTest, ReleaseCachedBlocksWhileOtherThreadsUseTheCache) {
    const size_t kThreads = 2, kRounds = mstest::Scaled(20000, 2000);
    {
        Strategy s = Create(4);
        const size_t kMinReleases = 200;
        std::atomic<size_t> running{kThreads}, releases{0};
        std::vector<std::thread> threads;
        for (size_t t = 0; t < kThreads; t++) {
            threads.emplace_back([&, t] {
                mstest::Rng rng(t + 7);
                std::vector<void*> held;
                // Until this thread's rounds are done and the releases overlapped them.
                for (size_t i = 0; i < kRounds || releases.load(std::memory_order_relaxed) < kMinReleases; i++) {
                    if (held.size() < 64 && rng.Below(2) == 0) {
                        size_t size = 1 + rng.Below(300);
                        void* p = Allocate(s.get(), size);
                        ASSERT_NE(p, nullptr);
                        std::memset(p, static_cast<int>(t), size);
                        held.push_back(p);
                    } else if (!held.empty()) {
                        Free(s.get(), held.back());
                        held.pop_back();
                    }
                }
                for (void* p : held) Free(s.get(), p);
                running.fetch_sub(1, std::memory_order_relaxed);
            });
        }
        size_t released = 0;
        while (running.load(std::memory_order_relaxed) != 0) {
            released += release_cached_blocks(s.get());
            releases.fetch_add(1, std::memory_order_relaxed);
        }
        for (auto& thread : threads) thread.join();
        EXPECT_GE(releases.load(), kMinReleases);
        EXPECT_EQ(get_current_usage(s.get()), 0u);
        EXPECT_EQ(get_allocation_count(s.get()), get_deallocation_count(s.get()));
        EXPECT_LE(released, backend_.free_calls());
        EXPECT_TRUE(default_validate(&s->base));
    }
    EXPECT_EQ(backend_.live_count(), 0u);
    EXPECT_EQ(backend_.bad_frees(), 0u);
    EXPECT_EQ(errors_.size(), 0u);
}

}  // namespace
