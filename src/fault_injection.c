/* fault_injection: a backend that fails the Nth allocation (fault_injection.h). */
#include "fault_injection.h"

#include <stdlib.h>

#include "ms_atomic.h"

struct FaultInjector {
    _Atomic uint64_t fail_at;    /* 0: disarmed */
    _Atomic uint32_t persistent; /* 1: every call from fail_at on fails */
    _Atomic uint64_t calls;
    _Atomic uint64_t failures;
    _Atomic int64_t live;
};

FaultInjector* fault_injector_create(void) { return calloc(1, sizeof(FaultInjector)); }

void fault_injector_destroy(FaultInjector* injector) { free(injector); }

void fault_injector_configure(FaultInjector* injector, DefaultStrategyConfig* config) {
    if (config == NULL) return;
    config->backend_allocate = fault_injector_allocate;
    config->backend_free = fault_injector_free;
    config->backend_context = injector;
}

void fault_injector_arm(FaultInjector* injector, uint64_t n, FaultInjectionMode mode) {
    if (injector == NULL) return;
    /* Relaxed throughout: counters and a threshold used as values; nothing is
     * published through them (a concurrent allocation may see either epoch,
     * as documented). */
    ms_store_relaxed(&injector->calls, 0);
    ms_store_relaxed(&injector->failures, 0);
    ms_store_relaxed(&injector->persistent, mode == FAULT_INJECTION_PERSISTENT ? 1u : 0u);
    ms_store_relaxed(&injector->fail_at, n);
}

void* fault_injector_allocate(void* context, size_t size) {
    FaultInjector* injector = context;
    /* Relaxed: see fault_injector_arm. */
    uint64_t call = ms_fetch_add_relaxed(&injector->calls, 1) + 1;
    uint64_t fail_at = ms_load_relaxed(&injector->fail_at);
    if (fail_at != 0 &&
        (call == fail_at || (call > fail_at && ms_load_relaxed(&injector->persistent) != 0))) {
        ms_fetch_add_relaxed(&injector->failures, 1);
        return NULL;
    }
    void* p = malloc(size);
    if (p != NULL) ms_fetch_add_relaxed(&injector->live, 1);
    return p;
}

void fault_injector_free(void* context, void* ptr) {
    FaultInjector* injector = context;
    if (ptr == NULL) return;
    /* Relaxed: a count read on its own. */
    ms_fetch_add_relaxed(&injector->live, -1);
    free(ptr);
}

uint64_t fault_injector_calls(const FaultInjector* injector) {
    /* Relaxed: a statistic read on its own. */
    return injector == NULL ? 0 : ms_load_relaxed(&injector->calls);
}

uint64_t fault_injector_failures(const FaultInjector* injector) {
    /* Relaxed: a statistic read on its own. */
    return injector == NULL ? 0 : ms_load_relaxed(&injector->failures);
}

uint64_t fault_injector_live_blocks(const FaultInjector* injector) {
    /* Relaxed: a statistic read on its own. */
    return injector == NULL ? 0 : (uint64_t)ms_load_relaxed(&injector->live);
}
