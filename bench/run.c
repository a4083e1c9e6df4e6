/* bench: one timed run of a variant on a workload (see variants.h). */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, clock_gettime, strtok_r, gmtime_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "variants.h"

static void* reader_main(void* arg) {
    bench_thread* t = arg;
    pthread_barrier_wait(t->start);
    bench_reader_body(t);
    return NULL;
}

/* A benchmark that cannot start its threads cannot measure anything; the
 * barrier would wait forever, so stop here. */
static void start_thread(pthread_t* id, bench_thread_main entry, bench_thread* t) {
    int rc = pthread_create(id, NULL, entry, t);
    if (rc != 0) {
        fprintf(stderr, "overhead: pthread_create: %s\n", strerror(rc));
        exit(2);
    }
}

static void fail(bench_run_result* result, const char* what) {
    result->ok = false;
    size_t used = strlen(result->message);
    if (used < sizeof result->message) {
        snprintf(result->message + used, sizeof result->message - used, "%s%s", used == 0 ? "" : "; ", what);
    }
}

void bench_run(const bench_variant* variant, bench_workload workload, uint32_t threads, uint64_t ops,
               const bench_params* params, bench_run_result* result) {
    memset(result, 0, sizeof *result);
    result->ok = true;
    void* context = NULL;
    if (!variant->setup(&context)) {
        fail(result, "setup failed (out of memory?)");
        return;
    }
    bool handoff = workload == BENCH_HANDOFF;
    uint32_t extra = handoff ? threads : (workload == BENCH_READERS ? 1u : 0u);
    uint32_t all = threads + extra;
    uint64_t per_thread = ops / threads < 2 ? 2 : ops / threads;

    bench_thread* t = aligned_alloc(BENCH_CACHE_LINE, sizeof *t * all);
    pthread_t* ids = malloc(sizeof *ids * all);
    bench_ring* rings = handoff ? aligned_alloc(BENCH_CACHE_LINE, sizeof *rings * threads) : NULL;
    unsigned char** scratch =
        workload == BENCH_BURST ? malloc(sizeof *scratch * params->burst_blocks * threads) : NULL;
    if (t == NULL || ids == NULL || (handoff && rings == NULL) ||
        (workload == BENCH_BURST && scratch == NULL)) {
        fprintf(stderr, "overhead: out of memory for %u threads\n", all);
        exit(2);
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, all + 1);
    _Atomic int stop;
    atomic_init(&stop, 0);

    memset(t, 0, sizeof *t * all);
    for (uint32_t i = 0; i < all; i++) {
        t[i].index = i < threads ? i : i - threads;
        t[i].ops = per_thread;
        t[i].context = context;
        t[i].params = params;
        t[i].start = &start;
        t[i].stop = &stop;
        t[i].read_figures = variant->read_figures;
        if (handoff) t[i].ring = &rings[t[i].index];
        if (scratch != NULL && i < threads) t[i].scratch = scratch + (size_t)i * params->burst_blocks;
    }
    if (handoff) {
        for (uint32_t i = 0; i < threads; i++) bench_ring_init(&rings[i]);
    }

    for (uint32_t i = 0; i < threads; i++) start_thread(&ids[i], variant->thread_main[workload], &t[i]);
    for (uint32_t i = threads; i < all; i++) {
        start_thread(&ids[i], handoff ? variant->consumer_main : reader_main, &t[i]);
    }
    pthread_barrier_wait(&start);
    uint32_t timed = handoff ? all : threads; /* the reader is not timed */
    for (uint32_t i = 0; i < timed; i++) pthread_join(ids[i], NULL);
    /* From the first thread past the barrier to the last one done: the main
     * thread may be scheduled late on a loaded machine, the workers' own
     * clocks are not. */
    double began = t[0].began, ended = t[0].ended;
    for (uint32_t i = 1; i < timed; i++) {
        if (t[i].began < began) began = t[i].began;
        if (t[i].ended > ended) ended = t[i].ended;
    }
    result->seconds = ended - began;
    /* Relaxed: a flag only; the reader's results are read after its join. */
    atomic_store_explicit(&stop, 1, memory_order_relaxed);
    for (uint32_t i = timed; i < all; i++) pthread_join(ids[i], NULL);
    pthread_barrier_destroy(&start);

    bench_run_totals* totals = &result->totals;
    totals->writers = threads;
    totals->cross_thread = handoff;
    bool any_failed = false;
    for (uint32_t i = 0; i < all; i++) {
        totals->ops += t[i].done_ops;
        totals->allocations += t[i].allocations;
        totals->frees += t[i].frees;
        totals->bytes_allocated += t[i].bytes_allocated;
        totals->bytes_freed += t[i].bytes_freed;
        totals->sum_thread_peak += t[i].peak_live;
        if (t[i].peak_live > totals->max_thread_peak) totals->max_thread_peak = t[i].peak_live;
        totals->reads += t[i].reads;
        any_failed |= t[i].failed;
    }
    if (any_failed) fail(result, "an allocation failed or a block's contents were wrong");
    if (totals->ops == 0) fail(result, "no operation ran");
    if (workload == BENCH_READERS && totals->reads == 0) fail(result, "the reader did not read");
    if (totals->allocations != totals->frees || totals->bytes_allocated != totals->bytes_freed) {
        fail(result, "the workload did not free everything it allocated");
    }
    char message[sizeof result->message];
    message[0] = '\0';
    if (!variant->finish(context, totals, message, sizeof message)) fail(result, message);

    free(scratch);
    free(rings);
    free(ids);
    free(t);
}
