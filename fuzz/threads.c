/* Fuzz target "threads": 2-4 threads replay their own operation lists
 * concurrently on one DefaultStrategy; blocks also travel between threads
 * through a mutex-protected mailbox, so some are freed by a thread that did
 * not allocate them.
 *
 * Input: a byte choosing the thread count, a byte of flags (bit 0: a memory
 * limit, from the next two bytes; bit 1: config.thread_cache_blocks = 1 +
 * the next byte % 4, so blocks freed by one thread are reused by it or,
 * through the depot, by another, and lists fill up and overflow), then
 * operations: an opcode byte whose high bits name the thread, and two
 * argument bytes.  With the thread cache the workers exit with blocks in
 * their caches and the depot, which destroy gives back.  OP_VALIDATE with
 * bit 0 of its argument also calls release_cached_blocks, which races the
 * other threads' use of the depot.
 *
 * Checked while the threads run (what holds for a concurrent read):
 *   - validate is true and the status ACTIVE;
 *   - a snapshot never shows less than what the reading thread alone
 *     holds and has done (current and peak >= its live bytes; totals and
 *     counts >= its own), and never more than the limit;
 *   - every block holds its fill pattern when freed, whoever frees it.
 * Checked after the join, before anything else touches the strategy:
 *   - current, totals, counts and every error count equal the sums of what
 *     each list did (a thread's tally counts the frees it made);
 *   - peak is at least the largest usage a single thread held and at most
 *     the total allocated plus the over-report bound, which is exactly
 *     2 * batch per thread that recorded something (0 if only one did);
 *   - every error reached the handler once; validate is true. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "fuzz_input.h"

#define MAX_THREADS 4
#define MAX_OPS_PER_THREAD 256
#define MAX_HELD 32      /* blocks one thread holds */
#define MAILBOX_SIZE 32  /* blocks in transit */

typedef enum Op {
    OP_ALLOCATE = 0, /* size from the arguments */
    OP_ALLOCATE_LARGE, /* up to 64 KiB: crosses the reservation batch */
    OP_FREE,         /* a block this thread holds */
    OP_HANDOFF,      /* put a held block in the mailbox */
    OP_TAKE_FREE,    /* take a block from the mailbox and free it */
    OP_VALIDATE,
    OP_READ,
    OP_INVALID,      /* an invalid size or a misaligned pointer */
    OP_COUNT
} Op;

typedef struct Step {
    uint8_t op;
    uint16_t arg;
} Step;

typedef struct Block {
    unsigned char* ptr;
    size_t size;
    uint8_t seed;
} Block;

/* What one thread did, added up after the join. */
typedef struct Tally {
    uint64_t allocated_bytes, allocations, freed_bytes, frees;
    uint64_t errors[STRATEGY_ERROR_COUNT];
    uint64_t held_peak; /* the most bytes this thread held at once */
} Tally;

struct Shared;

typedef struct Worker {
    struct Shared* shared;
    unsigned id;
    Step steps[MAX_OPS_PER_THREAD];
    size_t step_count;
    Block held[MAX_HELD];
    size_t held_count;
    uint64_t held_bytes;
    uint8_t next_seed;
    Tally tally;
} Worker;

typedef struct Shared {
    DefaultStrategy* s;
    size_t limit;
    size_t cache_blocks; /* config.thread_cache_blocks */
    pthread_barrier_t start, end;
    pthread_mutex_t mailbox_lock;
    Block mailbox[MAILBOX_SIZE];
    size_t mailbox_count;
    _Atomic uint64_t handler_calls[STRATEGY_ERROR_COUNT];
    Worker workers[MAX_THREADS];
} Shared;

static void counting_handler(const StrategyErrorInfo* info, void* user_data) {
    Shared* sh = user_data;
    FUZZ_CHECK(info != NULL && info->strategy == sh->s);
    FUZZ_CHECK((unsigned)info->error < STRATEGY_ERROR_COUNT);
    /* Relaxed: a count, read after the join (which orders it). */
    atomic_fetch_add_explicit(&sh->handler_calls[info->error], 1, memory_order_relaxed);
}

static void fill(const Block* b) { fuzz_pattern_fill(b->ptr, b->size, b->seed); }

static void check_pattern(const Block* b) { FUZZ_CHECK(fuzz_pattern_holds(b->ptr, 0, b->size, b->seed)); }

static void free_block(Worker* w, const Block* b) {
    check_pattern(b);
    DefaultStrategy* s = w->shared->s;
    s->base.deallocate(&s->base, b->ptr);
    w->tally.freed_bytes += b->size;
    w->tally.frees++;
}

static void drop_held(Worker* w, size_t index) {
    w->held_bytes -= w->held[index].size;
    w->held[index] = w->held[--w->held_count];
}

static void do_allocate(Worker* w, size_t size) {
    if (w->held_count == MAX_HELD) {
        Block b = w->held[0];
        drop_held(w, 0);
        free_block(w, &b);
    }
    DefaultStrategy* s = w->shared->s;
    unsigned char* p = s->base.allocate(&s->base, size);
    if (p == NULL) {
        /* Only the limit may refuse a valid request here (the backend is
         * malloc), and only if there is one. */
        FUZZ_CHECK(w->shared->limit != 0);
        w->tally.errors[STRATEGY_ERROR_LIMIT_EXCEEDED]++;
        return;
    }
    Block b = {p, size, (uint8_t)(w->id * 64u + w->next_seed++)};
    fill(&b);
    w->held[w->held_count++] = b;
    w->held_bytes += size;
    if (w->held_bytes > w->tally.held_peak) w->tally.held_peak = w->held_bytes;
    w->tally.allocated_bytes += size;
    w->tally.allocations++;
}

static void do_read(Worker* w) {
    const Shared* sh = w->shared;
    MemStatsSnapshot snap;
    FUZZ_CHECK(get_usage_snapshot(sh->s, &snap));
    /* The blocks this thread holds are live for the whole read, and its own
     * operations happened before it. */
    FUZZ_CHECK(snap.current_bytes >= w->held_bytes);
    FUZZ_CHECK(snap.peak_bytes >= w->held_bytes);
    FUZZ_CHECK(snap.total_allocated_bytes >= w->tally.allocated_bytes);
    FUZZ_CHECK(snap.total_freed_bytes >= w->tally.freed_bytes);
    FUZZ_CHECK(snap.allocations >= w->tally.allocations);
    FUZZ_CHECK(snap.deallocations >= w->tally.frees);
    FUZZ_CHECK(snap.live_blocks >= w->held_count);
    if (sh->limit != 0) {
        FUZZ_CHECK(snap.current_bytes <= sh->limit);
        FUZZ_CHECK(snap.peak_bytes <= sh->limit);
    }
}

static void run_step(Worker* w, Step step) {
    Shared* sh = w->shared;
    DefaultStrategy* s = sh->s;
    switch ((Op)step.op) {
    case OP_ALLOCATE: do_allocate(w, 1 + step.arg % 2048); break;
    case OP_ALLOCATE_LARGE: do_allocate(w, 1 + step.arg); break;
    case OP_FREE:
        if (w->held_count != 0) {
            size_t index = step.arg % w->held_count;
            Block b = w->held[index];
            drop_held(w, index);
            free_block(w, &b);
        }
        break;
    case OP_HANDOFF:
        if (w->held_count != 0) {
            pthread_mutex_lock(&sh->mailbox_lock);
            if (sh->mailbox_count < MAILBOX_SIZE) {
                size_t index = step.arg % w->held_count;
                sh->mailbox[sh->mailbox_count++] = w->held[index];
                drop_held(w, index);
            }
            pthread_mutex_unlock(&sh->mailbox_lock);
        }
        break;
    case OP_TAKE_FREE: {
        Block b = {NULL, 0, 0};
        pthread_mutex_lock(&sh->mailbox_lock);
        if (sh->mailbox_count != 0) {
            size_t index = step.arg % sh->mailbox_count;
            b = sh->mailbox[index];
            sh->mailbox[index] = sh->mailbox[--sh->mailbox_count];
        }
        pthread_mutex_unlock(&sh->mailbox_lock);
        if (b.ptr != NULL) free_block(w, &b);
        break;
    }
    case OP_VALIDATE:
        FUZZ_CHECK(s->base.validate(&s->base));
        FUZZ_CHECK(s->base.get_status(&s->base) == STRATEGY_ACTIVE);
        /* With bit 0 of the argument, also release_cached_blocks, racing the
         * other threads' frees into the depot and takes from it: each block
         * must go back once (a second give-back or a use after it is what
         * ASan reports), the figures not move (the checks after the join),
         * and a strategy without a cache give back nothing. */
        if ((step.arg & 1u) != 0) {
            size_t released = release_cached_blocks(s);
            if (w->shared->cache_blocks == 0) FUZZ_CHECK(released == 0);
        }
        break;
    case OP_READ: do_read(w); break;
    case OP_INVALID:
        if ((step.arg & 1u) == 0 || w->held_count == 0) {
            size_t size = (step.arg & 2u) ? 0 : STRATEGY_MAX_ALLOCATION + 1 + (step.arg >> 2);
            FUZZ_CHECK(s->base.allocate(&s->base, size) == NULL);
            w->tally.errors[STRATEGY_ERROR_INVALID_SIZE]++;
        } else {
            /* Misaligned, so refused without reading memory. */
            const Block* b = &w->held[(step.arg >> 1) % w->held_count];
            s->base.deallocate(&s->base, b->ptr + 1 + (step.arg >> 8) % 15);
            w->tally.errors[STRATEGY_ERROR_INVALID_POINTER]++;
        }
        break;
    case OP_COUNT: break;
    }
}

static void* worker_main(void* arg) {
    Worker* w = arg;
    pthread_barrier_wait(&w->shared->start);
    for (size_t i = 0; i < w->step_count; i++) run_step(w, w->steps[i]);
    /* Stay alive until every worker is done, so no two workers share a
     * thread index (and a statistics slot) in this run. */
    pthread_barrier_wait(&w->shared->end);
    return NULL;
}

/* After the join: the strategy against the sum of the tallies. */
static void check_totals(Shared* sh, unsigned threads) {
    Tally sum;
    memset(&sum, 0, sizeof sum);
    uint64_t held = 0, max_held_peak = 0, recorded = 0;
    for (unsigned t = 0; t < threads; t++) {
        const Worker* w = &sh->workers[t];
        sum.allocated_bytes += w->tally.allocated_bytes;
        sum.allocations += w->tally.allocations;
        sum.freed_bytes += w->tally.freed_bytes;
        sum.frees += w->tally.frees;
        for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) sum.errors[k] += w->tally.errors[k];
        held += w->held_count;
        if (w->tally.held_peak > max_held_peak) max_held_peak = w->tally.held_peak;
        if (w->tally.allocations + w->tally.frees != 0) recorded++;
    }
    held += sh->mailbox_count;

    MemStatsSnapshot snap;
    FUZZ_CHECK(get_usage_snapshot(sh->s, &snap));
    FUZZ_CHECK(snap.total_allocated_bytes == sum.allocated_bytes);
    FUZZ_CHECK(snap.total_freed_bytes == sum.freed_bytes);
    FUZZ_CHECK(snap.current_bytes == sum.allocated_bytes - sum.freed_bytes);
    FUZZ_CHECK(snap.allocations == sum.allocations);
    FUZZ_CHECK(snap.deallocations == sum.frees);
    FUZZ_CHECK(snap.live_blocks == held);
    FUZZ_CHECK(get_current_usage(sh->s) == snap.current_bytes);
    FUZZ_CHECK(get_live_blocks(sh->s) == held);

    uint64_t batch = MEMSTATS_BATCH_BYTES;
    if (sh->limit != 0 && sh->limit / 256 < batch) batch = sh->limit / 256;
    uint64_t bound = recorded <= 1 ? 0 : 2 * batch * recorded;
    FUZZ_CHECK(snap.peak_overreport_bound == bound);
    FUZZ_CHECK(snap.peak_bytes >= max_held_peak);
    FUZZ_CHECK(snap.peak_bytes >= snap.current_bytes);
    FUZZ_CHECK(snap.peak_bytes <= sum.allocated_bytes + bound);
    if (sh->limit != 0) FUZZ_CHECK(snap.peak_bytes <= sh->limit);

    for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) {
        if (k == STRATEGY_ERROR_LEAK) continue;
        FUZZ_CHECK(get_error_count(sh->s, (StrategyError)k) == sum.errors[k]);
        FUZZ_CHECK(atomic_load_explicit(&sh->handler_calls[k], memory_order_relaxed) == sum.errors[k]);
    }
    FUZZ_CHECK(sh->s->base.validate(&sh->s->base));
    FUZZ_CHECK(sh->s->base.get_status(&sh->s->base) == STRATEGY_ACTIVE);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz_pattern_init(); /* before the workers share the table */
    FuzzInput in = fuzz_input_make(data, size);
    unsigned threads = 2 + fuzz_u8(&in) % (MAX_THREADS - 1);
    uint8_t flags = fuzz_u8(&in);
    Shared* sh = calloc(1, sizeof *sh);
    FUZZ_CHECK(sh != NULL);
    /* A limit from 4 KiB to 260 KiB: tight enough to be reached. */
    if (flags & 1u) sh->limit = 4096 + (size_t)fuzz_u16(&in) * 4;
    size_t cache_blocks = (flags & 2u) != 0 ? 1u + fuzz_u8(&in) % 4u : 0;
    sh->cache_blocks = cache_blocks;

    for (unsigned t = 0; t < threads; t++) {
        sh->workers[t].shared = sh;
        sh->workers[t].id = t;
    }
    while (!fuzz_input_done(&in)) {
        uint8_t code = fuzz_u8(&in);
        Step step = {(uint8_t)(code % OP_COUNT), fuzz_u16(&in)};
        Worker* w = &sh->workers[(code / OP_COUNT) % threads];
        if (w->step_count < MAX_OPS_PER_THREAD) w->steps[w->step_count++] = step;
    }

    DefaultStrategyConfig config;
    memset(&config, 0, sizeof config);
    config.memory_limit = sh->limit;
    config.thread_cache_blocks = cache_blocks;
    config.error_handler = counting_handler;
    config.error_handler_data = sh;
    sh->s = create_default_strategy_with(&config);
    FUZZ_CHECK(sh->s != NULL);
    FUZZ_CHECK(pthread_barrier_init(&sh->start, NULL, threads) == 0);
    FUZZ_CHECK(pthread_barrier_init(&sh->end, NULL, threads) == 0);
    FUZZ_CHECK(pthread_mutex_init(&sh->mailbox_lock, NULL) == 0);

    pthread_t ids[MAX_THREADS];
    for (unsigned t = 0; t < threads; t++) {
        FUZZ_CHECK(pthread_create(&ids[t], NULL, worker_main, &sh->workers[t]) == 0);
    }
    for (unsigned t = 0; t < threads; t++) FUZZ_CHECK(pthread_join(ids[t], NULL) == 0);

    check_totals(sh, threads);

    /* Clean up on this thread: everything still allocated goes back. */
    Worker* cleaner = &sh->workers[0];
    for (unsigned t = 0; t < threads; t++) {
        Worker* w = &sh->workers[t];
        while (w->held_count != 0) {
            Block b = w->held[0];
            drop_held(w, 0);
            free_block(cleaner, &b);
        }
    }
    for (size_t i = 0; i < sh->mailbox_count; i++) free_block(cleaner, &sh->mailbox[i]);
    FUZZ_CHECK(get_current_usage(sh->s) == 0);
    FUZZ_CHECK(get_live_blocks(sh->s) == 0);
    destroy_default_strategy(sh->s);
    pthread_mutex_destroy(&sh->mailbox_lock);
    pthread_barrier_destroy(&sh->start);
    pthread_barrier_destroy(&sh->end);
    free(sh);
    return 0;
}
