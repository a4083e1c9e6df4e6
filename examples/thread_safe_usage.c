/* Thread-safe usage: several threads allocate and free through one strategy;
 * afterwards the figures add up exactly.  Exits non-zero otherwise (it is
 * also a test). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "default_strategy.h"

#define THREADS 4
#define ROUNDS 1000
#define BLOCKS 16

static DefaultStrategy* g_strategy;

static void* worker(void* arg) {
    size_t id = (size_t)arg;
    void* blocks[BLOCKS];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < BLOCKS; i++) {
            size_t size = 16 + (id * 31 + (size_t)i * 7) % 512;
            blocks[i] = g_strategy->base.allocate(&g_strategy->base, size);
            if (blocks[i] != NULL) memset(blocks[i], (int)id, size);
        }
        for (int i = 0; i < BLOCKS; i++) g_strategy->base.deallocate(&g_strategy->base, blocks[i]);
    }
    return NULL;
}

int main(void) {
    g_strategy = create_default_strategy();
    if (g_strategy == NULL) return 1;
    pthread_t threads[THREADS];
    for (size_t t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, worker, (void*)t);
    for (size_t t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

    size_t expected = 0;
    for (size_t id = 0; id < THREADS; id++) {
        for (size_t i = 0; i < BLOCKS; i++) expected += 16 + (id * 31 + i * 7) % 512;
    }
    expected *= ROUNDS;
    printf("allocated %zu (expected %zu), freed %zu, current %zu, peak %zu\n",
           get_total_allocated(g_strategy), expected, get_total_freed(g_strategy),
           get_current_usage(g_strategy), get_peak_usage(g_strategy));
    int failed = get_total_allocated(g_strategy) != expected ||
                 get_total_freed(g_strategy) != expected || get_current_usage(g_strategy) != 0 ||
                 get_allocation_count(g_strategy) != (uint64_t)THREADS * ROUNDS * BLOCKS ||
                 !g_strategy->base.validate(&g_strategy->base);
    destroy_default_strategy(g_strategy);
    if (failed) fprintf(stderr, "thread_safe_usage: figures do not add up\n");
    return failed;
}
