/* fault_injection: a backend for DefaultStrategyConfig that fails the Nth
 * allocation, to test how code (the library's, or a program's) copes with
 * running out of memory.
 *
 *     FaultInjector* inject = fault_injector_create();
 *     DefaultStrategyConfig config = {0};
 *     fault_injector_configure(inject, &config);
 *     DefaultStrategy* s = create_default_strategy_with(&config);
 *     fault_injector_arm(inject, 3, FAULT_INJECTION_TRANSIENT);
 *     ... the third allocation the strategy asks the backend for fails ...
 *     destroy_default_strategy(s);
 *     fault_injector_destroy(inject);
 *
 * A sweep in the style of SQLite's OOM tests runs a workload with N = 1, 2,
 * ... until a run completes without an injected failure
 * (fault_injector_failures() == 0).
 *
 * Thread safety:
 *
 *     call                                  may run concurrently with
 *     fault_injector_allocate, _free        each other, every reader, _arm
 *     fault_injector_calls, _failures,      everything except destroy
 *       _live_blocks
 *     fault_injector_arm                    everything except destroy
 *     fault_injector_create, _destroy       nothing on the same injector
 */
#ifndef MEMSTRATEGY_FAULT_INJECTION_H_
#define MEMSTRATEGY_FAULT_INJECTION_H_

#include <stddef.h>
#include <stdint.h>

#include "default_strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FaultInjector FaultInjector;

/* Which allocations fail once armed with n. */
typedef enum FaultInjectionMode {
    FAULT_INJECTION_TRANSIENT = 0, /* only the nth */
    FAULT_INJECTION_PERSISTENT     /* the nth and every one after it */
} FaultInjectionMode;

/* Creates an injector over malloc/free, not armed (nothing fails).  Returns
 * NULL if memory for it cannot be obtained. */
FaultInjector* fault_injector_create(void);

/* Frees the injector.  Blocks still allocated through it are not freed.  No
 * strategy may use it afterwards.  NULL is a no-op. */
void fault_injector_destroy(FaultInjector* injector);

/* Sets config's backend_allocate, backend_free and backend_context to the
 * injector (leaving the other fields). */
void fault_injector_configure(FaultInjector* injector, DefaultStrategyConfig* config);

/* Restarts the count of allocation calls and failures and arms the injector:
 * counting from 1 after this call, allocation n fails (and, persistent, every
 * later one).  n = 0 disarms it.  A call concurrent with allocations may
 * count them in either epoch. */
void fault_injector_arm(FaultInjector* injector, uint64_t n, FaultInjectionMode mode);

/* The backend pair (context: the injector).  allocate returns NULL for an
 * injected failure, otherwise malloc's result. */
void* fault_injector_allocate(void* context, size_t size);
void fault_injector_free(void* context, void* ptr);

/* Allocation calls since the last arm (failed ones included), failures
 * injected since then, and blocks allocated through the injector and not yet
 * freed.  0 for NULL. */
uint64_t fault_injector_calls(const FaultInjector* injector);
uint64_t fault_injector_failures(const FaultInjector* injector);
uint64_t fault_injector_live_blocks(const FaultInjector* injector);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_FAULT_INJECTION_H_ */
