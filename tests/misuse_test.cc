// Misuse detection of the default strategy: each kind of misuse (double free,
// a pointer that never was a block, a block of another strategy, corrupted
// metadata, an overflow caught by the canary) is refused, counted and
// reported exactly once, changes no statistic, and leaves neighbouring blocks
// intact; abort_on_misuse aborts after the report.
//
// Freed memory is never read after it went back to the system: the
// strategies here keep freed blocks in their quarantine or use the
// quarantining RecordingBackend, so a second free reads memory that is still
// allocated (under ASan and TSan too).
#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "default_strategy.h"
#include "test_support.h"

namespace {

using mstest::ErrorRecorder;
using mstest::RecordingBackend;

constexpr size_t kSize = 48;

struct Destroy {
    void operator()(DefaultStrategy* s) const { destroy_default_strategy(s); }
};
using Strategy = std::unique_ptr<DefaultStrategy, Destroy>;

uint64_t TotalErrors(const DefaultStrategy* s) {
    uint64_t n = 0;
    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) n += get_error_count(s, static_cast<StrategyError>(e));
    return n;
}

void Fill(void* p, size_t n, unsigned char v) { std::memset(p, v, n); }
bool Holds(const void* p, size_t n, unsigned char v) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; i++) {
        if (b[i] != v) return false;
    }
    return true;
}

// Three live blocks in a strategy with a quarantine over a recording
// backend; each test misuses the strategy and checks the outcome.
class MisuseTest : public ::testing::Test {
  protected:
    void SetUp() override { Create(/*check_overflow=*/false); }

    void Create(bool check_overflow) {
        DefaultStrategyConfig config = backend_.Config(&ErrorRecorder::Handle, &errors_);
        config.quarantine = 8;
        config.check_overflow = check_overflow;
        s_.reset(create_default_strategy_with(&config));
        ASSERT_NE(nullptr, s_);
        for (int i = 0; i < 3; i++) {
            blocks_[i] = default_allocate(&s_->base, kSize);
            ASSERT_NE(nullptr, blocks_[i]);
            Fill(blocks_[i], kSize, static_cast<unsigned char>(0xa0 + i));
        }
    }

    void TearDown() override {
        for (void* p : blocks_) {
            if (p != nullptr) default_deallocate(&s_->base, p);
        }
        EXPECT_EQ(0u, get_current_usage(s_.get()));
        s_.reset();
        EXPECT_EQ(0u, backend_.live_count());  // the quarantine was emptied at destroy
        EXPECT_EQ(0u, backend_.bad_frees());
    }

    // Frees `ptr`, which must be refused as `kind`: counted once, reported
    // once with the pointer, no statistic changed, nothing given back to the
    // backend, the live blocks intact.
    void ExpectRefusedFree(void* ptr, StrategyError kind) {
        const uint64_t count = get_error_count(s_.get(), kind);
        const uint64_t total = TotalErrors(s_.get());
        const uint64_t frees = backend_.free_calls();
        MemStatsSnapshot before;
        ASSERT_TRUE(get_usage_snapshot(s_.get(), &before));
        errors_.Clear();
        default_deallocate(&s_->base, ptr);
        EXPECT_EQ(count + 1, get_error_count(s_.get(), kind));
        EXPECT_EQ(total + 1, TotalErrors(s_.get()));
        EXPECT_EQ(kind, get_last_error(s_.get()));
        const auto entries = errors_.entries();
        ASSERT_EQ(1u, entries.size());
        EXPECT_EQ(kind, entries[0].info.error);
        EXPECT_EQ(s_.get(), entries[0].info.strategy);
        EXPECT_EQ(ptr, entries[0].info.pointer);
        EXPECT_EQ(count + 1, entries[0].count_seen);
        EXPECT_EQ(frees, backend_.free_calls());
        MemStatsSnapshot after;
        ASSERT_TRUE(get_usage_snapshot(s_.get(), &after));
        EXPECT_EQ(before.current_bytes, after.current_bytes);
        EXPECT_EQ(before.total_freed_bytes, after.total_freed_bytes);
        EXPECT_EQ(before.deallocations, after.deallocations);
        EXPECT_EQ(before.live_blocks, after.live_blocks);
        ExpectLiveBlocksIntact();
    }

    // blocks_[1], its header repaired after a refused call, frees normally.
    void ExpectRepairedBlockFrees() {
        errors_.Clear();
        default_deallocate(&s_->base, blocks_[1]);
        blocks_[1] = nullptr;
        EXPECT_EQ(0u, errors_.size());
        EXPECT_EQ(2 * kSize, get_current_usage(s_.get()));
    }

    void ExpectLiveBlocksIntact() {
        for (int i = 0; i < 3; i++) {
            if (blocks_[i] != nullptr) {
                EXPECT_TRUE(Holds(blocks_[i], kSize, static_cast<unsigned char>(0xa0 + i))) << i;
            }
        }
    }

    RecordingBackend backend_;
    ErrorRecorder errors_;
    Strategy s_;
    void* blocks_[3] = {};
};

TEST_F(MisuseTest, DoubleFreeIsToldAndRefused) {
    void* b = blocks_[1];
    blocks_[1] = nullptr;
    default_deallocate(&s_->base, b);
    EXPECT_EQ(0u, TotalErrors(s_.get()));
    EXPECT_EQ(2 * kSize, get_current_usage(s_.get()));
    ExpectRefusedFree(b, STRATEGY_ERROR_DOUBLE_FREE);
    ExpectRefusedFree(b, STRATEGY_ERROR_DOUBLE_FREE);  // and a third time
    EXPECT_STREQ("double free", strategy_error_name(STRATEGY_ERROR_DOUBLE_FREE));
}

TEST_F(MisuseTest, DoubleFreeOfAlignedAndZeroedBlocks) {
    void* aligned = default_allocate_aligned(&s_->base, 256, 100);
    void* zeroed = default_allocate_zeroed(&s_->base, 4, 10);
    ASSERT_NE(nullptr, aligned);
    ASSERT_NE(nullptr, zeroed);
    default_deallocate(&s_->base, aligned);
    default_deallocate(&s_->base, zeroed);
    EXPECT_EQ(0u, TotalErrors(s_.get()));
    ExpectRefusedFree(aligned, STRATEGY_ERROR_DOUBLE_FREE);
    ExpectRefusedFree(zeroed, STRATEGY_ERROR_DOUBLE_FREE);
}

TEST_F(MisuseTest, ReallocateOfAFreedBlockIsADoubleFree) {
    void* b = blocks_[0];
    blocks_[0] = nullptr;
    default_deallocate(&s_->base, b);
    errors_.Clear();
    EXPECT_EQ(nullptr, default_reallocate(&s_->base, b, 2 * kSize));
    ASSERT_EQ(1u, errors_.size());
    EXPECT_EQ(STRATEGY_ERROR_DOUBLE_FREE, errors_.entries()[0].info.error);
    EXPECT_EQ(2 * kSize, get_current_usage(s_.get()));
}

TEST_F(MisuseTest, PointersThatNeverWereBlocks) {
    alignas(16) unsigned char stack[64] = {};
    ExpectRefusedFree(stack + 16, STRATEGY_ERROR_INVALID_POINTER);
    auto* foreign = static_cast<unsigned char*>(std::calloc(1, 96));
    ASSERT_NE(nullptr, foreign);
    ExpectRefusedFree(foreign + 32, STRATEGY_ERROR_INVALID_POINTER);  // its header lies inside the allocation
    std::free(foreign);
    auto* b = static_cast<unsigned char*>(blocks_[2]);
    ExpectRefusedFree(b + 1, STRATEGY_ERROR_INVALID_POINTER);   // misaligned: nothing read
    ExpectRefusedFree(b + 16, STRATEGY_ERROR_INVALID_POINTER);  // interior: the payload is no header
    EXPECT_EQ(3 * kSize, get_current_usage(s_.get()));
}

TEST_F(MisuseTest, BlockOfAnotherLiveStrategy) {
    ErrorRecorder other_errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&other_errors);
    Strategy other(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, other);
    void* theirs = default_allocate(&other->base, kSize);
    void* theirs_aligned = default_allocate_aligned(&other->base, 64, kSize);
    ASSERT_NE(nullptr, theirs);
    ASSERT_NE(nullptr, theirs_aligned);
    Fill(theirs, kSize, 0x77);
    ExpectRefusedFree(theirs, STRATEGY_ERROR_WRONG_STRATEGY);
    ExpectRefusedFree(theirs_aligned, STRATEGY_ERROR_WRONG_STRATEGY);
    EXPECT_TRUE(Holds(theirs, kSize, 0x77));
    EXPECT_EQ(0u, other_errors.size());
    EXPECT_EQ(2 * kSize, get_current_usage(other.get()));
    // Ours, freed in the other: the other refuses it the same way.
    default_deallocate(&other->base, blocks_[0]);
    ASSERT_EQ(1u, other_errors.size());
    EXPECT_EQ(STRATEGY_ERROR_WRONG_STRATEGY, other_errors.entries()[0].info.error);
    EXPECT_EQ(1u, get_error_count(other.get(), STRATEGY_ERROR_WRONG_STRATEGY));
    ExpectLiveBlocksIntact();
    // Both still free their own blocks normally.
    default_deallocate(&other->base, theirs);
    default_deallocate(&other->base, theirs_aligned);
    EXPECT_EQ(0u, get_current_usage(other.get()));
    EXPECT_EQ(1u, TotalErrors(other.get()));
}

TEST_F(MisuseTest, OverflowIntoTheNextHeaderIsACorruptedBlock) {
    // The size word (the first 8 bytes of the header) overwritten, as by an
    // overflow of the block before it; the check word keeps the tag (read
    // as if the size word's high half were 0 when the size word is wrong).
    auto* header = static_cast<unsigned char*>(blocks_[1]) - 16;
    unsigned char saved[8];
    std::memcpy(saved, header, sizeof saved);
    std::memset(header, 0x41, sizeof saved);
    ExpectRefusedFree(blocks_[1], STRATEGY_ERROR_CORRUPTED_BLOCK);
    EXPECT_EQ(nullptr, default_reallocate(&s_->base, blocks_[1], 10));
    EXPECT_EQ(STRATEGY_ERROR_CORRUPTED_BLOCK, get_last_error(s_.get()));
    std::memcpy(header, saved, sizeof saved);
    ExpectRepairedBlockFrees();
}

TEST_F(MisuseTest, AHeaderCopiedOntoAnotherBlockIsRefused) {
    // The whole header of blocks_[0], a live block of the same size, copied
    // over that of blocks_[1]: the check word covers the address, so the
    // copy matches no live block here.  The tag survives (both blocks lie in
    // one 4 GiB range), so it is this strategy's corrupted block.
    auto* from = static_cast<unsigned char*>(blocks_[0]) - 16;
    auto* to = static_cast<unsigned char*>(blocks_[1]) - 16;
    ASSERT_EQ(reinterpret_cast<uintptr_t>(from) >> 32, reinterpret_cast<uintptr_t>(to) >> 32);
    unsigned char saved[16];
    std::memcpy(saved, to, sizeof saved);
    std::memcpy(to, from, sizeof saved);
    ExpectRefusedFree(blocks_[1], STRATEGY_ERROR_CORRUPTED_BLOCK);
    std::memcpy(to, saved, sizeof saved);
    ExpectRepairedBlockFrees();
}

TEST_F(MisuseTest, CheckOverflowCatchesAWriteBehindTheBlock) {
    TearDown();
    Create(/*check_overflow=*/true);
    auto* b = static_cast<unsigned char*>(blocks_[0]);
    b[kSize] ^= 1;  // one byte past the end: the canary
    ExpectRefusedFree(b, STRATEGY_ERROR_CORRUPTED_BLOCK);
    EXPECT_EQ(nullptr, default_reallocate(&s_->base, b, 2 * kSize));
    EXPECT_EQ(STRATEGY_ERROR_CORRUPTED_BLOCK, get_last_error(s_.get()));
    b[kSize] ^= 1;
    // Aligned, zeroed and resized blocks carry the canary too.
    auto* aligned = static_cast<unsigned char*>(default_allocate_aligned(&s_->base, 128, 30));
    auto* zeroed = static_cast<unsigned char*>(default_allocate_zeroed(&s_->base, 3, 7));
    ASSERT_NE(nullptr, aligned);
    ASSERT_NE(nullptr, zeroed);
    auto* resized = static_cast<unsigned char*>(default_reallocate(&s_->base, b, 100));
    ASSERT_NE(nullptr, resized);
    blocks_[0] = nullptr;
    EXPECT_TRUE(Holds(resized, kSize, 0xa0));
    struct Sized {
        unsigned char* p;
        size_t n;
    };
    for (const Sized& c : {Sized{aligned, 30}, Sized{zeroed, 21}, Sized{resized, 100}}) {
        unsigned char* p = c.p;
        const size_t n = c.n;
        p[n + 7] ^= 0x80;
        ExpectRefusedFree(p, STRATEGY_ERROR_CORRUPTED_BLOCK);
        p[n + 7] ^= 0x80;
        errors_.Clear();
        default_deallocate(&s_->base, p);
        EXPECT_EQ(0u, errors_.size());
    }
    EXPECT_EQ(2 * kSize, get_current_usage(s_.get()));
}

TEST(Quarantine, BlocksCountAsFreedAndGoBackWhenPushedOut) {
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config();
    config.quarantine = 2;
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, s);
    void* p[4];
    for (auto& q : p) {
        q = default_allocate(&s->base, 32);
        ASSERT_NE(nullptr, q);
    }
    default_deallocate(&s->base, p[0]);
    default_deallocate(&s->base, p[1]);
    EXPECT_EQ(2 * 32u, get_current_usage(s.get()));
    EXPECT_EQ(2u, get_deallocation_count(s.get()));
    EXPECT_EQ(0u, backend.free_calls());  // both in the quarantine
    default_deallocate(&s->base, p[2]);
    EXPECT_EQ(1u, backend.free_calls());  // the oldest pushed out
    default_deallocate(&s->base, p[3]);
    EXPECT_EQ(2u, backend.free_calls());
    EXPECT_EQ(0u, get_current_usage(s.get()));
    EXPECT_EQ(0u, get_live_blocks(s.get()));
    EXPECT_EQ(0u, TotalErrors(s.get()));
    s.reset();
    EXPECT_EQ(4u, backend.free_calls());  // emptied at destroy
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_EQ(0u, backend.bad_frees());
}

TEST(Quarantine, WorksUnderAParent) {
    Strategy parent(create_default_strategy());
    ASSERT_NE(nullptr, parent);
    DefaultStrategyConfig config{};
    config.parent = &parent->base;
    config.quarantine = 4;
    config.check_overflow = true;
    Strategy child(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, child);
    void* p = default_allocate(&child->base, 10);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(1u, get_live_blocks(parent.get()));
    void* q = default_reallocate(&child->base, p, 1000);
    ASSERT_NE(nullptr, q);
    default_deallocate(&child->base, q);
    EXPECT_EQ(0u, get_current_usage(child.get()));
    EXPECT_EQ(2u, get_live_blocks(parent.get()));  // both in the child's quarantine
    child.reset();
    EXPECT_EQ(0u, get_live_blocks(parent.get()));
    EXPECT_EQ(0u, TotalErrors(parent.get()));
}

// Threads freeing into one quarantine (an exchange per slot) and reading
// the debug path: every block goes back to the backend exactly once.
TEST(Quarantine, ThreadsShareIt) {
    constexpr int kEach = static_cast<int>(mstest::Scaled(3000, 300));
    constexpr int kThreads = 4;
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config();
    config.quarantine = 16;
    config.check_overflow = true;
    config.track_allocations = true;
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, s);
    mstest::Barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            start.Wait();
            for (int i = 0; i < kEach; i++) {
                void* p = i % 3 == 0 ? default_allocate_aligned(&s->base, 64, 24) : default_allocate(&s->base, 8 + t);
                ASSERT_NE(nullptr, p);
                default_deallocate(&s->base, p);
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(0u, get_current_usage(s.get()));
    EXPECT_EQ(uint64_t{kThreads} * kEach, get_deallocation_count(s.get()));
    EXPECT_EQ(0u, TotalErrors(s.get()));
    EXPECT_EQ(16u, backend.live_count());  // the quarantine's
    s.reset();
    EXPECT_EQ(0u, backend.live_count());
    EXPECT_EQ(0u, backend.bad_frees());
}

TEST(MisuseNames, EveryKindHasAName) {
    EXPECT_STREQ("wrong strategy", strategy_error_name(STRATEGY_ERROR_WRONG_STRATEGY));
    EXPECT_STREQ("corrupted block", strategy_error_name(STRATEGY_ERROR_CORRUPTED_BLOCK));
    EXPECT_STREQ("double free", strategy_error_name(STRATEGY_ERROR_DOUBLE_FREE));
}

// abort_on_misuse: the report is made (on stderr by the default handler),
// then the process aborts.  Checked in a forked child whose stderr goes to a
// pipe (fork and waitpid directly: gtest's death tests run the child on a
// stack of their own, which ASan's detect_stack_use_after_return rejects).
struct ChildResult {
    bool aborted = false;
    std::string stderr_text;
};

template <typename Body>
ChildResult RunInChild(Body body) {
    ChildResult result;
    int fds[2];
    if (pipe(fds) != 0) return result;
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        body();
        _exit(0);  // not reached when abort_on_misuse works
    }
    close(fds[1]);
    char buffer[512];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) result.stderr_text.append(buffer, n);
    close(fds[0]);
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid) {
        result.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    }
    return result;
}

TEST(AbortOnMisuse, DoubleFreeAbortsAfterReporting) {
    const ChildResult r = RunInChild([] {
        DefaultStrategyConfig config{};
        config.quarantine = 4;
        config.abort_on_misuse = true;
        DefaultStrategy* s = create_default_strategy_with(&config);
        if (s == nullptr) _exit(3);
        void* p = default_allocate(&s->base, 16);
        default_deallocate(&s->base, p);
        default_deallocate(&s->base, p);
    });
    EXPECT_TRUE(r.aborted);
    EXPECT_NE(std::string::npos, r.stderr_text.find("memstrategy: error: double free (pointer 0x")) << r.stderr_text;
}

TEST(AbortOnMisuse, ForeignPointerAbortsAfterReporting) {
    const ChildResult r = RunInChild([] {
        DefaultStrategyConfig config{};
        config.abort_on_misuse = true;
        DefaultStrategy* s = create_default_strategy_with(&config);
        if (s == nullptr) _exit(3);
        alignas(16) static unsigned char not_a_block[64];
        default_deallocate(&s->base, not_a_block + 16);
    });
    EXPECT_TRUE(r.aborted);
    EXPECT_NE(std::string::npos, r.stderr_text.find("memstrategy: error: invalid pointer")) << r.stderr_text;
}

TEST(AbortOnMisuse, WithoutTheOptionTheChildCarriesOn) {
    const ChildResult r = RunInChild([] {
        DefaultStrategy* s = create_default_strategy();
        if (s == nullptr) _exit(3);
        alignas(16) static unsigned char not_a_block[64];
        default_deallocate(&s->base, not_a_block + 16);
    });
    EXPECT_FALSE(r.aborted);
    EXPECT_NE(std::string::npos, r.stderr_text.find("memstrategy: error: invalid pointer")) << r.stderr_text;
}

TEST(AbortOnMisuse, OtherErrorsDoNotAbort) {
    ErrorRecorder errors;
    DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors);
    config.abort_on_misuse = true;
    config.memory_limit = 100;
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, s);
    EXPECT_EQ(nullptr, default_allocate(&s->base, 0));
    EXPECT_EQ(nullptr, default_allocate(&s->base, 1000));
    EXPECT_EQ(2u, errors.size());
}

}  // namespace
