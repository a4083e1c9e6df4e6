// Out-of-memory sweep, in the style of SQLite's OOM tests: a workload
// (allocate, zeroed, grow, shrink, aligned, a child strategy under a parent)
// runs with the fault-injecting backend failing the Nth backend allocation,
// for N = 1, 2, ... until a run completes without an injected failure.  Every
// call either succeeds or returns NULL with STRATEGY_ERROR_OUT_OF_MEMORY; the
// statistics of both strategies match a shadow model after every call;
// destroy reports no leak and every backend block was given back.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "default_strategy.h"
#include "fault_injection.h"
#include "test_support.h"

namespace {

using mstest::ErrorRecorder;

// A strategy and the figures it must show.
struct Shadowed {
    DefaultStrategy* s = nullptr;
    ErrorRecorder errors;
    uint64_t current = 0, live = 0, allocations = 0, deallocations = 0, oom = 0;

    void Allocated(uint64_t size) {
        current += size;
        live++;
        allocations++;
    }
    void Freed(uint64_t size) {
        current -= size;
        live--;
        deallocations++;
    }
    void Resized(uint64_t from, uint64_t to) {
        Freed(from);
        Allocated(to);
    }
    void Check(const char* step) const {
        SCOPED_TRACE(step);
        MemStatsSnapshot snap;
        ASSERT_TRUE(get_usage_snapshot(s, &snap));
        EXPECT_EQ(current, snap.current_bytes);
        EXPECT_EQ(live, snap.live_blocks);
        EXPECT_EQ(allocations, snap.allocations);
        EXPECT_EQ(deallocations, snap.deallocations);
        EXPECT_EQ(oom, get_error_count(s, STRATEGY_ERROR_OUT_OF_MEMORY));
        EXPECT_EQ(oom, errors.size());  // nothing but out-of-memory errors
        for (const auto& e : errors.entries()) EXPECT_EQ(STRATEGY_ERROR_OUT_OF_MEMORY, e.info.error);
    }
};

constexpr uint64_t kHeader = 16;
uint64_t AlignedRequest(uint64_t size, uint64_t alignment) { return size + alignment + 23; }

// One run of the workload with allocation `n` of the backend failing
// (persistent: and every later one).  Returns the failures injected.
uint64_t RunWorkload(uint64_t n, FaultInjectionMode mode) {
    FaultInjector* inject = fault_injector_create();
    EXPECT_NE(nullptr, inject);
    if (inject == nullptr) return 0;
    Shadowed parent;
    Shadowed child;
    DefaultStrategyConfig pc = mstest::ConfigWithRecorder(&parent.errors);
    fault_injector_configure(inject, &pc);
    parent.s = create_default_strategy_with(&pc);
    DefaultStrategyConfig cc = mstest::ConfigWithRecorder(&child.errors);
    cc.parent = parent.s != nullptr ? &parent.s->base : nullptr;
    child.s = create_default_strategy_with(&cc);
    EXPECT_NE(nullptr, parent.s);
    EXPECT_NE(nullptr, child.s);
    if (parent.s == nullptr || child.s == nullptr) return 0;
    fault_injector_arm(inject, n, mode);

    MemoryStrategy* p = &parent.s->base;
    MemoryStrategy* c = &child.s->base;
    struct Held {
        void* ptr;
        uint64_t size;
        Shadowed* owner;
        uint64_t parent_size;  // for a child block: what the parent counts
    };
    std::vector<Held> held;
    // Records the outcome of an allocating call on `who` (a child call
    // failing also fails in the parent).
    auto allocated = [&](void* ptr, uint64_t size, Shadowed* who, uint64_t parent_size) {
        if (ptr == nullptr) {
            who->oom++;
            if (who == &child) parent.oom++;
            return;
        }
        std::memset(ptr, 0x5c, size);
        who->Allocated(size);
        if (who == &child) parent.Allocated(parent_size);
        held.push_back({ptr, size, who, parent_size});
    };
    auto check = [&](const char* step) {
        parent.Check(step);
        child.Check(step);
    };

    allocated(p->allocate(p, 100), 100, &parent, 0);
    check("allocate");
    void* z = p->allocate_zeroed(p, 10, 20);
    if (z != nullptr) {
        const auto* bytes = static_cast<const unsigned char*>(z);
        for (int i = 0; i < 200; i++) EXPECT_EQ(0, bytes[i]);
    }
    allocated(z, 200, &parent, 0);
    check("allocate_zeroed");
    allocated(p->allocate_aligned(p, 256, 300), 300, &parent, 0);
    check("allocate_aligned");
    allocated(c->allocate(c, 64), 64, &child, 64 + kHeader);
    check("child allocate");
    allocated(c->allocate_zeroed(c, 8, 8), 64, &child, 64 + kHeader);
    check("child allocate_zeroed");
    allocated(c->allocate_aligned(c, 128, 40), 40, &child, AlignedRequest(40, 128));
    check("child allocate_aligned");

    // Grow every block, then shrink it.
    for (uint64_t target : {uint64_t{5000}, uint64_t{24}}) {
        for (Held& h : held) {
            MemoryStrategy* m = h.owner == &child ? c : p;
            void* moved = m->reallocate(m, h.ptr, target);
            if (moved == nullptr) {
                h.owner->oom++;
                if (h.owner == &child) parent.oom++;
            } else {
                h.owner->Resized(h.size, target);
                if (h.owner == &child) {
                    const bool aligned = h.parent_size != h.size + kHeader;
                    const uint64_t now = aligned ? AlignedRequest(target, 128) : target + kHeader;
                    parent.Resized(h.parent_size, now);
                    h.parent_size = now;
                }
                h.ptr = moved;
                h.size = target;
                std::memset(moved, 0x3a, target);
            }
            check("reallocate");
        }
    }

    for (const Held& h : held) {
        MemoryStrategy* m = h.owner == &child ? c : p;
        m->deallocate(m, h.ptr);
        h.owner->Freed(h.size);
        if (h.owner == &child) parent.Freed(h.parent_size);
        check("deallocate");
    }
    const uint64_t failures = fault_injector_failures(inject);
    destroy_default_strategy(child.s);
    destroy_default_strategy(parent.s);
    // No leak report (it would be an entry of kind LEAK).
    EXPECT_EQ(parent.oom, parent.errors.size());
    EXPECT_EQ(child.oom, child.errors.size());
    EXPECT_EQ(0u, fault_injector_live_blocks(inject));
    if (mode == FAULT_INJECTION_TRANSIENT) {
        EXPECT_LE(failures, 1u);
    }
    fault_injector_destroy(inject);
    return failures;
}

void Sweep(FaultInjectionMode mode) {
    uint64_t n = 1;
    uint64_t runs_with_failure = 0;
    for (;; n++) {
        SCOPED_TRACE(n);
        const uint64_t failures = RunWorkload(n, mode);
        if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) return;
        if (failures == 0) break;
        runs_with_failure++;
        ASSERT_LT(n, 1000u) << "the workload never completed";
    }
    // The workload makes more backend allocations than this; each was failed
    // in one run.
    EXPECT_GT(runs_with_failure, 10u);
}

TEST(OomSweep, TransientFailureAtEveryAllocation) { Sweep(FAULT_INJECTION_TRANSIENT); }

TEST(OomSweep, PersistentFailureFromEveryAllocation) { Sweep(FAULT_INJECTION_PERSISTENT); }

TEST(FaultInjector, CountsCallsFailuresAndLiveBlocks) {
    FaultInjector* inject = fault_injector_create();
    ASSERT_NE(nullptr, inject);
    fault_injector_arm(inject, 2, FAULT_INJECTION_TRANSIENT);
    void* a = fault_injector_allocate(inject, 10);
    void* b = fault_injector_allocate(inject, 10);
    void* c = fault_injector_allocate(inject, 10);
    EXPECT_NE(nullptr, a);
    EXPECT_EQ(nullptr, b);
    EXPECT_NE(nullptr, c);
    EXPECT_EQ(3u, fault_injector_calls(inject));
    EXPECT_EQ(1u, fault_injector_failures(inject));
    EXPECT_EQ(2u, fault_injector_live_blocks(inject));
    fault_injector_arm(inject, 1, FAULT_INJECTION_PERSISTENT);
    EXPECT_EQ(nullptr, fault_injector_allocate(inject, 1));
    EXPECT_EQ(nullptr, fault_injector_allocate(inject, 1));
    EXPECT_EQ(2u, fault_injector_failures(inject));
    fault_injector_arm(inject, 0, FAULT_INJECTION_PERSISTENT);  // disarmed
    void* d = fault_injector_allocate(inject, 1);
    EXPECT_NE(nullptr, d);
    EXPECT_EQ(0u, fault_injector_failures(inject));
    fault_injector_free(inject, a);
    fault_injector_free(inject, c);
    fault_injector_free(inject, d);
    EXPECT_EQ(0u, fault_injector_live_blocks(inject));
    fault_injector_destroy(inject);
}

}  // namespace
