/* bench: metadata and resident memory per block (see memory.h). */
#define _GNU_SOURCE /* malloc_usable_size, MAP_ANONYMOUS */
#include "memory.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "default_strategy.h"
#include "peers.h"
#include "variants.h"

/* ---- metadata --------------------------------------------------------------- */

typedef struct counting_backend {
    bench_alloc_fn alloc;
    bench_free_fn free;
    size_t (*usable)(void* block);
    size_t last_request; /* what the strategy asked for last */
    size_t last_usable;  /* usable size of what it got */
} counting_backend;

/* Backend functions of the measured strategy; it is used from one thread. */
static void* counting_alloc(void* context, size_t size) {
    counting_backend* b = context;
    void* block = b->alloc(NULL, size);
    b->last_request = size;
    b->last_usable = block == NULL ? 0 : b->usable(block);
    return block;
}

static void counting_free(void* context, void* block) {
    counting_backend* b = context;
    b->free(NULL, block);
}

static void* glibc_alloc(void* context, size_t size) {
    (void)context;
    return malloc(size);
}
static void glibc_free(void* context, void* block) {
    (void)context;
    free(block);
}
static size_t glibc_usable(void* block) {
    return malloc_usable_size(block);
}

#if BENCH_HAVE_PEERS
static size_t je_usable(void* block) {
    return sallocx(block, 0);
}
static size_t mi_usable(void* block) {
    return mi_usable_size(block);
}
#endif

/* Sizes 8 .. 2000 are measured, each block kept live until all are (so
 * every request reaches the backend, also with a thread cache). */
#define METADATA_MIN 8u
#define METADATA_MAX 2000u

static void measure_metadata(const char* name, bench_alloc_fn alloc, bench_free_fn free_fn,
                             size_t (*usable)(void*), size_t cache_blocks, bench_metadata_row* row) {
    counting_backend backend = {alloc, free_fn, usable, 0, 0};
    DefaultStrategyConfig config;
    memset(&config, 0, sizeof config);
    config.backend_allocate = counting_alloc;
    config.backend_free = counting_free;
    config.backend_context = &backend;
    config.thread_cache_blocks = cache_blocks;
    memset(row, 0, sizeof *row);
    row->backend = name;
    row->thread_cache = cache_blocks != 0;
    DefaultStrategy* s = create_default_strategy_with(&config);
    void** blocks = calloc(METADATA_MAX + 1, sizeof *blocks);
    if (s == NULL || blocks == NULL) {
        free(blocks);
        if (s != NULL) destroy_default_strategy(s);
        return;
    }
    double requested = 0, usable_extra = 0;
    unsigned sizes = 0;
    bool ok = true;
    for (size_t n = METADATA_MIN; n <= METADATA_MAX; n++) {
        blocks[n] = s->base.allocate(&s->base, n);
        void* raw = alloc(NULL, n);
        if (blocks[n] == NULL || raw == NULL) {
            ok = false;
        } else {
            double req = (double)backend.last_request - (double)n;
            double use = (double)backend.last_usable - (double)usable(raw);
            requested += req;
            usable_extra += use;
            if (n == 32) {
                row->requested_32 = req;
                row->usable_32 = use;
            }
            sizes++;
        }
        free_fn(NULL, raw);
    }
    for (size_t n = METADATA_MIN; n <= METADATA_MAX; n++) s->base.deallocate(&s->base, blocks[n]);
    free(blocks);
    ok &= get_current_usage(s) == 0;
    destroy_default_strategy(s);
    row->requested_per_block = sizes == 0 ? 0 : requested / sizes;
    row->usable_per_block = sizes == 0 ? 0 : usable_extra / sizes;
    row->ok = ok && sizes > 0;
}

/* ---- resident memory -------------------------------------------------------- */

static long vm_rss_kib(void) {
    FILE* f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

typedef struct rss_message {
    double bytes_per_block;
    double maxrss_kib;
    int ok;
} rss_message;

/* In the child: holds `blocks` live 32-byte blocks of `variant`. */
static rss_message rss_child(const bench_variant* variant, uint64_t blocks) {
    rss_message m = {0, 0, 0};
    void* context = NULL;
    if (!variant->setup(&context)) return m;
    size_t bytes = (size_t)blocks * sizeof(void*);
    void** block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return m;
    memset(block, 0, bytes);
    /* Warm the allocator up, so its own start-up data does not count. */
    variant->free(context, variant->alloc(context, 32));
    long before = vm_rss_kib();
    for (uint64_t i = 0; i < blocks; i++) {
        unsigned char* p = variant->alloc(context, 32);
        if (p == NULL) return m;
        p[0] = (unsigned char)i;
        block[i] = p;
    }
    long after = vm_rss_kib();
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    m.bytes_per_block = (double)(after - before) * 1024.0 / (double)blocks;
    m.maxrss_kib = (double)usage.ru_maxrss;
    m.ok = before >= 0 && after >= 0;
    /* No cleanup: the child exits at once. */
    return m;
}

static bool measure_rss(const bench_variant* variant, uint64_t blocks, bench_rss_row* row) {
    row->variant = variant->name;
    row->reference = variant->reference;
    row->ok = false;
    int fd[2];
    if (pipe(fd) != 0) return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return false;
    }
    if (pid == 0) {
        close(fd[0]);
        rss_message m = rss_child(variant, blocks);
        ssize_t w = write(fd[1], &m, sizeof m);
        _exit(w == (ssize_t)sizeof m ? 0 : 1);
    }
    close(fd[1]);
    rss_message m;
    ssize_t got = read(fd[0], &m, sizeof m);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof m || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !m.ok) {
        return false;
    }
    row->bytes_per_block = m.bytes_per_block;
    row->maxrss_kib = m.maxrss_kib;
    row->ok = true;
    return true;
}

void bench_memory_measure(uint64_t blocks, const bool* enabled, bench_memory_report* report) {
    memset(report, 0, sizeof *report);
    report->blocks = blocks;
    report->ok = true;
    /* Without and with a thread cache (whose classes round requests up). */
    for (size_t cache = 0; cache < 2; cache++) {
        size_t blocks_per_class = cache * BENCH_THREAD_CACHE_BLOCKS;
        measure_metadata(cache ? "malloc+cache" : "malloc", glibc_alloc, glibc_free, glibc_usable,
                         blocks_per_class, &report->metadata[report->metadata_count++]);
#if BENCH_HAVE_PEERS
        measure_metadata(cache ? "jemalloc+cache" : "jemalloc", peer_je_alloc, peer_je_free, je_usable,
                         blocks_per_class, &report->metadata[report->metadata_count++]);
        measure_metadata(cache ? "mimalloc+cache" : "mimalloc", peer_mi_alloc, peer_mi_free, mi_usable,
                         blocks_per_class, &report->metadata[report->metadata_count++]);
#endif
    }
    for (size_t i = 0; i < report->metadata_count; i++) {
        const bench_metadata_row* row = &report->metadata[i];
        bool exact = row->thread_cache || (row->requested_per_block == 16.0 && row->requested_32 == 16.0);
        if (!row->ok || !exact) {
            report->ok = false;
            snprintf(report->message, sizeof report->message,
                     "metadata over %s: %.2f bytes requested per block, expected 16", row->backend,
                     row->requested_per_block);
        }
    }
    for (size_t v = 0; v < bench_variant_count && report->rss_count < BENCH_MEMORY_MAX_ROWS; v++) {
        if (!enabled[v]) continue;
        bench_rss_row* row = &report->rss[report->rss_count++];
        if (!measure_rss(&bench_variants[v], blocks, row)) {
            report->ok = false;
            snprintf(report->message, sizeof report->message, "resident memory of %s: the child failed",
                     bench_variants[v].name);
        }
    }
}
