/* The demo: a multi-threaded workload through one strategy, with live usage
 * printed while it runs and a final report; then a small hierarchy (two
 * subsystems under one parent with a memory limit) and its reports. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "default_strategy.h"
#include "strategy_report.h"

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

/* Per-subsystem and total accounting: "net" and "db" take their memory from
 * "app", which has a limit; app counts each child block plus its 16-byte
 * header.  Returns false if a figure is not what the hierarchy implies. */
static bool hierarchy_demo(void) {
    DefaultStrategyConfig top = {.memory_limit = 64 * 1024, .name = "app"};
    DefaultStrategy* app = create_default_strategy_with(&top);
    DefaultStrategyConfig sub = {.parent = app != NULL ? &app->base : NULL, .name = "net"};
    DefaultStrategy* net = app != NULL ? create_default_strategy_with(&sub) : NULL;
    sub.name = "db";
    DefaultStrategy* db = app != NULL ? create_default_strategy_with(&sub) : NULL;
    if (net == NULL || db == NULL) {
        fprintf(stderr, "demo: cannot create the hierarchy\n");
        destroy_default_strategy(net);
        destroy_default_strategy(db);
        destroy_default_strategy(app);
        return false;
    }
    MemoryStrategy* n = &net->base;
    MemoryStrategy* d = &db->base;
    void* buffer = n->allocate_zeroed(n, 8, 1024);        /* 8 KiB of zeroes */
    void* grown = n->reallocate(n, buffer, 16 * 1024);     /* on failure buffer stays ours */
    if (grown != NULL) buffer = grown;
    void* page = d->allocate_aligned(d, 4096, 4096);       /* one page-aligned page */
    void* rows = d->allocate(d, 20 * 1024);
    void* refused = d->allocate(d, 32 * 1024);             /* app's limit says no */
    printf("\nhierarchy: net and db under app (limit 64 KiB); db asked for 32 KiB more: %s\n",
           refused == NULL ? "refused (limit exceeded)" : "granted");
    bool ok = grown != NULL && page != NULL && rows != NULL && refused == NULL &&
              get_current_usage(app) == 16 * 1024 + 16 + (4096 + 4096 + 23) + 20 * 1024 + 16 &&
              get_error_count(db, STRATEGY_ERROR_LIMIT_EXCEEDED) == 1;
    ok = print_strategy_report(app, stdout) && ok;
    ok = print_strategy_report(net, stdout) && ok;
    ok = print_strategy_report(db, stdout) && ok;
    printf("app as JSON (print_strategy_json; print_strategies_prometheus gives metrics):\n");
    ok = print_strategy_json(app, stdout) && ok;
    n->deallocate(n, buffer);
    d->deallocate(d, page);
    d->deallocate(d, rows);
    ok = ok && get_current_usage(app) == 0;
    destroy_default_strategy(net); /* children first */
    destroy_default_strategy(db);
    destroy_default_strategy(app);
    return ok;
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

    printf("final report\n");
    bool ok = print_strategy_report(g_strategy, stdout);
    printf("  validate          %s\n", g_strategy->base.validate(&g_strategy->base) ? "ok" : "FAILED");
    ok = ok && get_current_usage(g_strategy) == 0 && get_error_count(g_strategy, STRATEGY_ERROR_INVALID_POINTER) == 1;
    destroy_default_strategy(g_strategy);
    return ok && hierarchy_demo() ? 0 : 1;
}
