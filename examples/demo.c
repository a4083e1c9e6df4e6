/* The demo: a multi-threaded workload through one strategy, with live usage
 * printed while it runs and a final report. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "default_strategy.h"

#define WORKERS 4
#define SLOTS 256
#define OPERATIONS 400000

static DefaultStrategy* g_strategy;
static atomic_int g_running;

static uint64_t next_random(uint64_t* state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void* worker(void* arg) {
    uint64_t rng = 0x9e3779b97f4a7c15u * ((uint64_t)(uintptr_t)arg + 1);
    void* slots[SLOTS] = {0};
    MemoryStrategy* base = &g_strategy->base;
    for (int op = 0; op < OPERATIONS; op++) {
        size_t i = next_random(&rng) % SLOTS;
        if (slots[i] != NULL) {
            base->deallocate(base, slots[i]);
            slots[i] = NULL;
        } else {
            size_t size = 8 + next_random(&rng) % 4000;
            slots[i] = base->allocate(base, size);
            if (slots[i] != NULL) memset(slots[i], 0xab, size);
        }
    }
    for (size_t i = 0; i < SLOTS; i++) base->deallocate(base, slots[i]);
    return NULL;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void) {
    g_strategy = create_default_strategy();
    if (g_strategy == NULL) {
        fprintf(stderr, "demo: cannot create a strategy\n");
        return 1;
    }
    printf("memstrategy demo: %d threads, %d random alloc/free operations each\n", WORKERS, OPERATIONS);
    pthread_t threads[WORKERS];
    atomic_store(&g_running, 1);
    for (size_t t = 0; t < WORKERS; t++) pthread_create(&threads[t], NULL, worker, (void*)t);
    for (int tick = 0; tick < 5; tick++) {
        sleep_ms(20);
        printf("  live: current %8zu bytes  peak %8zu  allocated %10zu  freed %10zu\n",
               get_current_usage(g_strategy), get_peak_usage(g_strategy),
               get_total_allocated(g_strategy), get_total_freed(g_strategy));
    }
    for (size_t t = 0; t < WORKERS; t++) pthread_join(threads[t], NULL);

    /* A misuse, caught and counted instead of crashing. */
    int not_from_strategy;
    g_strategy->base.deallocate(&g_strategy->base, &not_from_strategy);

    MemStatsSnapshot s;
    get_usage_snapshot(g_strategy, &s);
    printf("final report\n");
    printf("  status               %s\n", strategy_status_name(g_strategy->base.get_status(&g_strategy->base)));
    printf("  current usage        %" PRIu64 " bytes in %" PRIu64 " blocks\n", s.current_bytes, s.live_blocks);
    printf("  peak usage           %" PRIu64 " bytes (over-report bound %" PRIu64 ")\n", s.peak_bytes,
           s.peak_overreport_bound);
    printf("  total allocated      %" PRIu64 " bytes in %" PRIu64 " allocations\n", s.total_allocated_bytes,
           s.allocations);
    printf("  total freed          %" PRIu64 " bytes in %" PRIu64 " frees\n", s.total_freed_bytes,
           s.deallocations);
    printf("  invalid pointers     %" PRIu64 "\n", get_error_count(g_strategy, STRATEGY_ERROR_INVALID_POINTER));
    printf("  validate             %s\n", g_strategy->base.validate(&g_strategy->base) ? "ok" : "FAILED");
    fflush(stdout);
    destroy_default_strategy(g_strategy);
    return 0;
}
