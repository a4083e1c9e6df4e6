// Shared helpers for the memstrategy tests: sanitizer detection and scaling,
// a reusable barrier, a deterministic random generator, a recording backend
// and a recording error handler.  Header-only so that each test file also
// builds on its own (see the Makefile).
#ifndef MEMSTRATEGY_TESTS_TEST_SUPPORT_H_
#define MEMSTRATEGY_TESTS_TEST_SUPPORT_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "default_strategy.h"

// ---- sanitizers ---------------------------------------------------------------

#if defined(__SANITIZE_THREAD__)
#define MS_TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MS_TEST_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#ifndef MS_TEST_TSAN
#define MS_TEST_TSAN 1
#endif
#endif
#if __has_feature(address_sanitizer)
#ifndef MS_TEST_ASAN
#define MS_TEST_ASAN 1
#endif
#endif
#endif

namespace mstest {

#ifdef MS_TEST_TSAN
constexpr bool kUnderTsan = true;
#else
constexpr bool kUnderTsan = false;
#endif

// `normal` outside ThreadSanitizer, `tsan` under it (TSan runs 5-15x slower).
constexpr std::size_t Scaled(std::size_t normal, std::size_t tsan) { return kUnderTsan ? tsan : normal; }

// ---- synchronisation ------------------------------------------------------------

// A reusable barrier for `count` participants (C++14 has no std::barrier).
class Barrier {
  public:
    explicit Barrier(std::size_t count) : count_(count) {}
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;

    void Wait() {
        std::unique_lock<std::mutex> lock(mu_);
        const std::uint64_t generation = generation_;
        if (++arrived_ == count_) {
            arrived_ = 0;
            generation_++;
            cv_.notify_all();
            return;
        }
        cv_.wait(lock, [&] { return generation_ != generation; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    const std::size_t count_;
    std::size_t arrived_ = 0;
    std::uint64_t generation_ = 0;
};

// ---- randomness -------------------------------------------------------------------

// SplitMix64: deterministic for a given seed, independent of the standard
// library's distributions (which differ between implementations).
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t Next() {
        std::uint64_t z = (state_ += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound) for bound > 0 (the tiny modulo bias is irrelevant here).
    std::uint64_t Below(std::uint64_t bound) { return Next() % bound; }

  private:
    std::uint64_t state_;
};

// ---- a recording backend --------------------------------------------------------------

// A backend over malloc/free that counts its calls, remembers every pointer
// it handed out, and can:
//  - refuse sizes above `fail_above` (returns NULL without trying), and
//  - quarantine freed memory: keep it allocated (so a second free of the
//    same block reads memory that is still valid) until the backend dies.
// Every pointer it hands out is preceded by kGuardBytes of zeroed memory of
// the same allocation, so even the 16 bytes before the backend's own pointer
// (which a test may pass to deallocate as a foreign pointer) can be read
// without touching another allocation.  The destructor frees everything
// still held, including blocks the strategy leaked, so LeakSanitizer stays
// clean.  Thread-safe.
class RecordingBackend {
  public:
    explicit RecordingBackend(bool quarantine = false, std::size_t fail_above = SIZE_MAX)
        : quarantine_(quarantine), fail_above_(fail_above) {}
    RecordingBackend(const RecordingBackend&) = delete;
    RecordingBackend& operator=(const RecordingBackend&) = delete;
    ~RecordingBackend() {
        for (void* p : live_) std::free(Start(p));
        for (void* p : quarantined_) std::free(Start(p));
    }

    static constexpr std::size_t kGuardBytes = 16;

    // A config that routes the strategy's memory through this backend.
    DefaultStrategyConfig Config(StrategyErrorHandler handler = nullptr, void* handler_data = nullptr) {
        DefaultStrategyConfig config{};
        config.backend_allocate = &RecordingBackend::Allocate;
        config.backend_free = &RecordingBackend::Free;
        config.backend_context = this;
        config.error_handler = handler;
        config.error_handler_data = handler_data;
        return config;
    }

    static void* Allocate(void* context, std::size_t size) {
        auto* self = static_cast<RecordingBackend*>(context);
        std::lock_guard<std::mutex> lock(self->mu_);
        self->allocate_calls_++;
        self->last_size_ = size;
        if (size > self->fail_above_ || size > SIZE_MAX - kGuardBytes) return nullptr;
        auto* start = static_cast<unsigned char*>(std::malloc(kGuardBytes + size));
        if (start == nullptr) return nullptr;
        std::memset(start, 0, kGuardBytes);
        void* p = start + kGuardBytes;
        self->live_.insert(p);
        return p;
    }

    static void Free(void* context, void* ptr) {
        auto* self = static_cast<RecordingBackend*>(context);
        std::lock_guard<std::mutex> lock(self->mu_);
        self->free_calls_++;
        if (self->live_.erase(ptr) != 1) {
            self->bad_frees_++;  // not ours, or freed twice: never pass it on
            return;
        }
        if (self->quarantine_) {
            self->quarantined_.push_back(ptr);
        } else {
            std::free(Start(ptr));
        }
    }

    std::uint64_t allocate_calls() const { return Locked(allocate_calls_); }
    std::uint64_t free_calls() const { return Locked(free_calls_); }
    std::uint64_t bad_frees() const { return Locked(bad_frees_); }
    std::size_t last_size() const { return Locked(last_size_); }
    std::size_t live_count() const {
        std::lock_guard<std::mutex> lock(mu_);
        return live_.size();
    }
    // True if `raw` is a pointer this backend handed out and has not freed.
    bool IsLive(const void* raw) const {
        std::lock_guard<std::mutex> lock(mu_);
        return live_.count(const_cast<void*>(raw)) == 1;
    }

  private:
    static void* Start(void* p) { return static_cast<unsigned char*>(p) - kGuardBytes; }

    template <typename T>
    T Locked(const T& value) const {
        std::lock_guard<std::mutex> lock(mu_);
        return value;
    }

    mutable std::mutex mu_;
    const bool quarantine_;
    const std::size_t fail_above_;
    std::unordered_set<void*> live_;
    std::vector<void*> quarantined_;
    std::uint64_t allocate_calls_ = 0;
    std::uint64_t free_calls_ = 0;
    std::uint64_t bad_frees_ = 0;
    std::size_t last_size_ = 0;
};

// ---- a recording error handler ------------------------------------------------------------

// Collects every StrategyErrorInfo it receives, and for each the error count
// the strategy reported at that moment (the handler runs after counting).
// Thread-safe.
class ErrorRecorder {
  public:
    struct Entry {
        StrategyErrorInfo info;
        std::uint64_t count_seen;  // get_error_count(strategy, error) inside the handler
    };

    static void Handle(const StrategyErrorInfo* info, void* user_data) {
        auto* self = static_cast<ErrorRecorder*>(user_data);
        Entry entry{*info, 0};
        if (info->error != STRATEGY_ERROR_LEAK) entry.count_seen = get_error_count(info->strategy, info->error);
        std::lock_guard<std::mutex> lock(self->mu_);
        self->entries_.push_back(entry);
    }

    std::vector<Entry> entries() const {
        std::lock_guard<std::mutex> lock(mu_);
        return entries_;
    }
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mu_);
        return entries_.size();
    }
    void Clear() {
        std::lock_guard<std::mutex> lock(mu_);
        entries_.clear();
    }

  private:
    mutable std::mutex mu_;
    std::vector<Entry> entries_;
};

// A config with the default backend and `recorder` as error handler.
inline DefaultStrategyConfig ConfigWithRecorder(ErrorRecorder* recorder) {
    DefaultStrategyConfig config{};
    config.error_handler = &ErrorRecorder::Handle;
    config.error_handler_data = recorder;
    return config;
}

}  // namespace mstest

// Placed once in a test file (outside any namespace): the sanitizers'
// allocators abort on an impossible request unless told to return NULL as
// malloc is specified to do; tests of the size limit need NULL.
#if defined(MS_TEST_ASAN)
#define MSTEST_ALLOCATOR_MAY_RETURN_NULL()                                                  \
    extern "C" const char* __asan_default_options();                                        \
    extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#elif defined(MS_TEST_TSAN)
#define MSTEST_ALLOCATOR_MAY_RETURN_NULL()                                                  \
    extern "C" const char* __tsan_default_options();                                        \
    extern "C" const char* __tsan_default_options() { return "allocator_may_return_null=1"; }
#else
#define MSTEST_ALLOCATOR_MAY_RETURN_NULL()
#endif

#endif  // MEMSTRATEGY_TESTS_TEST_SUPPORT_H_
