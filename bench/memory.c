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

/* Runs child(arg, message) in a fresh child process and copies its
 * `size`-byte message back; false if the child failed. */
static bool in_child(void (*child)(const void* arg, void* message), const void* arg, void* message, size_t size) {
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
        child(arg, message);
        ssize_t w = write(fd[1], message, size);
        _exit(w == (ssize_t)size ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], message, size);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == (ssize_t)size && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

typedef struct rss_request {
    const bench_variant* variant;
    uint64_t blocks;
} rss_request;

static void rss_child_main(const void* arg, void* message) {
    const rss_request* request = arg;
    *(rss_message*)message = rss_child(request->variant, request->blocks);
}

static bool measure_rss(const bench_variant* variant, uint64_t blocks, bench_rss_row* row) {
    row->variant = variant->name;
    row->reference = variant->reference;
    row->ok = false;
    rss_request request = {variant, blocks};
    rss_message m;
    if (!in_child(rss_child_main, &request, &m, sizeof m) || !m.ok) return false;
    row->bytes_per_block = m.bytes_per_block;
    row->maxrss_kib = m.maxrss_kib;
    row->ok = true;
    return true;
}

/* ---- retention ---------------------------------------------------------------- */

#define RETAIN_MIN 1100u /* above glibc's per-thread cache (tcache: up to 1032 bytes) */
#define RETAIN_MAX 2000u /* within the strategy's thread cache (up to 2040) */

typedef struct retain_request {
    unsigned row; /* 0 malloc, 1 strategy, 2 strategy+cache */
    uint64_t blocks;
} retain_request;

static void retain_child(const void* arg, void* message) {
    const retain_request* request = arg;
    bench_retain_row* m = message;
    memset(m, 0, sizeof *m);
    m->released_kib = -1;
    DefaultStrategy* s = NULL;
    if (request->row != 0) {
        DefaultStrategyConfig config;
        memset(&config, 0, sizeof config);
        config.thread_cache_blocks = request->row == 2 ? BENCH_THREAD_CACHE_BLOCKS : 0;
        s = create_default_strategy_with(&config);
        if (s == NULL) return;
    }
    size_t bytes = (size_t)request->blocks * sizeof(void*);
    void** block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return;
    memset(block, 0, bytes);
    long before = vm_rss_kib();
    uint64_t rng = bench_rng_seed(0);
    for (uint64_t i = 0; i < request->blocks; i++) {
        size_t size = bench_pick(bench_rng_next(&rng), RETAIN_MIN, RETAIN_MAX);
        unsigned char* p = s != NULL ? s->base.allocate(&s->base, size) : malloc(size);
        if (p == NULL) return;
        p[0] = 1;
        p[size - 1] = 2;
        block[i] = p;
    }
    long live = vm_rss_kib();
    for (uint64_t i = 0; i < request->blocks; i++) {
        if (s != NULL) {
            s->base.deallocate(&s->base, block[i]);
        } else {
            free(block[i]);
        }
    }
    long freed = vm_rss_kib();
    m->live_kib = (double)(live - before);
    m->freed_kib = (double)(freed - before);
    m->ok = before >= 0 && live >= 0 && freed >= 0 && (s == NULL || get_current_usage(s) == 0);
    if (request->row == 2) {
        m->released = release_cached_blocks(s);
        m->released_kib = (double)(vm_rss_kib() - before);
    }
    /* No cleanup: the child exits at once. */
}

static void measure_retention(uint64_t blocks, bench_memory_report* report) {
    static const char* const names[BENCH_RETAIN_ROWS] = {"malloc", "strategy", "strategy+cache"};
    report->retain_blocks = blocks;
    for (unsigned row = 0; row < BENCH_RETAIN_ROWS; row++) {
        retain_request request = {row, blocks};
        bench_retain_row* out = &report->retain[row];
        bool ok = in_child(retain_child, &request, out, sizeof *out) && out->ok;
        out->variant = names[row]; /* a pointer from this process */
        out->ok = ok;
        if (!ok) {
            report->ok = false;
            snprintf(report->message, sizeof report->message, "retention of %s: the child failed", names[row]);
        }
    }
}

void bench_memory_measure(uint64_t blocks, uint64_t retain_blocks, const bool* enabled,
                          bench_memory_report* report) {
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
    measure_retention(retain_blocks, report);
}
