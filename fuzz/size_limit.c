/* Fuzz target "size_limit": size and limit arithmetic at the edges.
 *
 * Every request is a boundary plus a small signed offset (wrapping like
 * size_t): 0, 1, STRATEGY_MAX_ALLOCATION (SIZE_MAX/4), SIZE_MAX/2,
 * SIZE_MAX, the backend's cap, 2^32, the room left under the memory limit,
 * the current usage, or a raw 64-bit value.  Each goes to one of
 *
 *   - a DefaultStrategy (capped backend, optional memory_limit): the
 *     classification must be exactly right: INVALID_SIZE for 0 and above
 *     STRATEGY_MAX_ALLOCATION, OUT_OF_MEMORY when the backend refuses,
 *     LIMIT_EXCEEDED when usage would pass the limit, success otherwise; a
 *     refusal reports one error and changes no statistic;
 *   - a MemStats (optional limit) through memstats_record_allocation /
 *     memstats_record_free: true exactly for valid sizes (and, for
 *     allocations, within the limit), false with nothing recorded otherwise.
 *
 * After every step every figure of both equals the shadow's (one thread:
 * peak exact, over-report bound 0) and both validate.
 *
 * Input: the two limits (decode_limit: kind, offset, maybe a value), then
 * operations until the input ends: an opcode byte, then for sizes a base
 * byte and an offset byte (and 8 bytes for a raw size), for a free an index
 * byte.
 *
 * Limits range over all of uint64 (above INT64_MAX a limit cannot be
 * reached).  MemStats, unlike a strategy, counts bytes nobody allocated, so
 * its usage could grow past what the counters hold: without a limit below
 * INT64_MAX, a MemStats allocation that would take usage above USAGE_DOMAIN
 * (or the total past 2^64) is skipped, not sent.  See docs/FUZZING.md
 * ("Known issues") for what happens beyond that bound. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "fuzz_input.h"
#include "memstats.h"

#define HEADER_BYTES 16u                /* documented in default_strategy.h */
#define BACKEND_CAP ((size_t)4096)      /* largest request the backend grants */
#define MAX_LIVE 32u

/* The largest MemStats usage fuzzed without a reachable limit.  memstats.h
 * says figures are exact below 2^63 bytes, but the signed reservation total
 * also holds the slot's slack (up to 2 batches), so on one thread they break
 * from 2^63 - MEMSTATS_BATCH_BYTES on (docs/FUZZING.md, "Known issues"). */
#define USAGE_DOMAIN ((uint64_t)INT64_MAX - 2 * MEMSTATS_BATCH_BYTES)

/* ---- backend and error handler ------------------------------------------ */

typedef struct Backend {
    uint64_t outstanding;
    size_t last_request;
} Backend;

static void* backend_allocate(void* context, size_t size) {
    Backend* b = context;
    b->last_request = size;
    if (size > BACKEND_CAP) return NULL;
    void* p = malloc(size);
    FUZZ_CHECK(p != NULL);
    b->outstanding++;
    return p;
}

static void backend_free(void* context, void* ptr) {
    Backend* b = context;
    FUZZ_CHECK(b->outstanding > 0);
    b->outstanding--;
    free(ptr);
}

typedef struct ErrorLog {
    uint64_t calls;
    StrategyErrorInfo last;
} ErrorLog;

static void quiet_handler(const StrategyErrorInfo* info, void* user_data) {
    ErrorLog* log = user_data;
    log->calls++;
    log->last = *info;
}

/* ---- shadows ------------------------------------------------------------ */

typedef struct Figures {
    uint64_t current, peak, total_allocated, total_freed, allocations, deallocations;
} Figures;

static void figures_alloc(Figures* f, uint64_t bytes) {
    f->current += bytes;
    f->total_allocated += bytes;
    f->allocations++;
    if (f->current > f->peak) f->peak = f->current;
}

static void figures_free(Figures* f, uint64_t bytes) {
    f->current -= bytes;
    f->total_freed += bytes;
    f->deallocations++;
}

static void check_figures(const MemStatsSnapshot* snap, const Figures* f) {
    FUZZ_CHECK(snap->current_bytes == f->current);
    FUZZ_CHECK(snap->peak_bytes == f->peak);
    FUZZ_CHECK(snap->total_allocated_bytes == f->total_allocated);
    FUZZ_CHECK(snap->total_freed_bytes == f->total_freed);
    FUZZ_CHECK(snap->allocations == f->allocations);
    FUZZ_CHECK(snap->deallocations == f->deallocations);
    FUZZ_CHECK(snap->live_blocks == f->allocations - f->deallocations);
    FUZZ_CHECK(snap->peak_overreport_bound == 0);
}

typedef struct Block {
    void* ptr;
    size_t size;
} Block;

typedef struct Run {
    DefaultStrategy* s;
    uint64_t s_limit;
    Figures s_figures;
    uint64_t s_errors[STRATEGY_ERROR_COUNT];
    ErrorLog log;
    Backend backend;
    Block live[MAX_LIVE];
    size_t live_count;

    MemStats* m;
    uint64_t m_limit;
    Figures m_figures;
    uint64_t m_blocks[MAX_LIVE]; /* sizes recorded and not yet freed */
    size_t m_block_count;
    unsigned steps;
} Run;

static void check_all(Run* r) {
    MemStatsSnapshot snap;
    FUZZ_CHECK(get_usage_snapshot(r->s, &snap));
    check_figures(&snap, &r->s_figures);
    FUZZ_CHECK(r->backend.outstanding == r->live_count);
    for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) {
        FUZZ_CHECK(get_error_count(r->s, (StrategyError)k) == r->s_errors[k]);
    }
    FUZZ_CHECK(r->s->base.validate(&r->s->base));

    FUZZ_CHECK(memstats_snapshot(r->m, &snap));
    check_figures(&snap, &r->m_figures);
    /* One single-figure getter per step, in turn (each is a full fold). */
    switch (r->steps++ % 5) {
    case 0: FUZZ_CHECK(memstats_current(r->m) == r->m_figures.current); break;
    case 1: FUZZ_CHECK(memstats_peak(r->m) == r->m_figures.peak); break;
    case 2: FUZZ_CHECK(memstats_total_allocated(r->m) == r->m_figures.total_allocated); break;
    case 3: FUZZ_CHECK(memstats_total_freed(r->m) == r->m_figures.total_freed); break;
    default: FUZZ_CHECK(memstats_peak_overreport_bound(r->m) == 0); break;
    }
    FUZZ_CHECK(memstats_validate(r->m));
}

/* ---- sizes ------------------------------------------------------------- */

/* The room left under a limit (SIZE_MAX without one). */
static uint64_t room(uint64_t limit, uint64_t current) {
    return limit == 0 ? SIZE_MAX : limit - current;
}

/* A boundary plus a signed offset of -128 .. 127, wrapping. */
static size_t decode_size(Run* r, FuzzInput* in, bool for_memstats) {
    uint8_t base_kind = fuzz_u8(in);
    uint8_t offset_byte = fuzz_u8(in);
    size_t offset = (size_t)(int8_t)offset_byte; /* sign-extended: wraps below */
    uint64_t limit = for_memstats ? r->m_limit : r->s_limit;
    uint64_t current = for_memstats ? r->m_figures.current : r->s_figures.current;
    size_t base;
    switch (base_kind % 12) {
    case 0: base = 0; break;
    case 1: base = 1; break;
    case 2: base = STRATEGY_MAX_ALLOCATION; break;
    case 3: base = SIZE_MAX / 2; break;
    case 4: base = SIZE_MAX; break;
    case 5: base = BACKEND_CAP - HEADER_BYTES; break;
    case 6: base = (size_t)1 << 32; break;
    case 7: base = (size_t)room(limit, current); break;
    case 8: base = (size_t)current; break;
    case 9: return (size_t)fuzz_u64(in);
    case 10: base = (size_t)limit; break;
    default: return 1 + (size_t)offset_byte; /* ordinary: 1 .. 256 */
    }
    return base + offset;
}

static bool valid_size(size_t size) { return size >= 1 && size <= STRATEGY_MAX_ALLOCATION; }

/* ---- operations --------------------------------------------------------- */

static void strategy_allocate(Run* r, size_t size) {
    if (r->live_count == MAX_LIVE) return;
    uint64_t calls = r->log.calls;
    r->backend.last_request = 0;
    void* p = r->s->base.allocate(&r->s->base, size);

    bool backend_refuses = size + HEADER_BYTES > BACKEND_CAP;
    bool over_limit = r->s_limit != 0 && size > room(r->s_limit, r->s_figures.current);
    StrategyError want = STRATEGY_OK;
    if (!valid_size(size)) {
        want = STRATEGY_ERROR_INVALID_SIZE;
        FUZZ_CHECK(r->backend.last_request == 0);
    } else {
        FUZZ_CHECK(r->backend.last_request == size + HEADER_BYTES || over_limit);
        if (backend_refuses && over_limit) {
            /* Which of the two is reported is not documented. */
            FUZZ_CHECK(r->log.last.error == STRATEGY_ERROR_OUT_OF_MEMORY ||
                       r->log.last.error == STRATEGY_ERROR_LIMIT_EXCEEDED);
            want = r->log.last.error;
        } else if (backend_refuses) {
            want = STRATEGY_ERROR_OUT_OF_MEMORY;
        } else if (over_limit) {
            want = STRATEGY_ERROR_LIMIT_EXCEEDED;
        }
    }
    if (want == STRATEGY_OK) {
        FUZZ_CHECK(p != NULL);
        FUZZ_CHECK(r->log.calls == calls);
        memset(p, 0x6b, size);
        r->live[r->live_count++] = (Block){p, size};
        figures_alloc(&r->s_figures, size);
    } else {
        FUZZ_CHECK(p == NULL);
        FUZZ_CHECK(r->log.calls == calls + 1);
        FUZZ_CHECK(r->log.last.error == want);
        FUZZ_CHECK(r->log.last.size == size);
        FUZZ_CHECK(get_last_error(r->s) == want);
        r->s_errors[want]++;
    }
}

static void strategy_free(Run* r, size_t index) {
    if (r->live_count == 0) return;
    index %= r->live_count;
    Block b = r->live[index];
    r->s->base.deallocate(&r->s->base, b.ptr);
    r->live[index] = r->live[--r->live_count];
    figures_free(&r->s_figures, b.size);
}

static void memstats_allocate(Run* r, size_t size) {
    Figures* f = &r->m_figures;
    bool valid = valid_size(size);
    bool reachable_limit = r->m_limit != 0 && r->m_limit <= (uint64_t)INT64_MAX;
    if (valid && (r->m_block_count == MAX_LIVE || f->total_allocated > UINT64_MAX - size ||
                  (!reachable_limit && f->current + size > USAGE_DOMAIN))) {
        return; /* outside the fuzzed domain */
    }
    bool want = valid && size <= room(r->m_limit, f->current);
    FUZZ_CHECK(memstats_record_allocation(r->m, size) == want);
    if (want) {
        figures_alloc(f, size);
        r->m_blocks[r->m_block_count++] = size;
    }
}

/* An invalid size must be refused.  A valid one stands for "free a block
 * recorded earlier" (the one its value picks): frees that match no recorded
 * allocation are the caller's mistake, which MemStats cannot detect. */
static void memstats_free(Run* r, size_t size) {
    if (!valid_size(size)) {
        FUZZ_CHECK(!memstats_record_free(r->m, size));
        return;
    }
    if (r->m_block_count == 0) return;
    size_t index = size % r->m_block_count;
    uint64_t bytes = r->m_blocks[index];
    r->m_blocks[index] = r->m_blocks[--r->m_block_count];
    FUZZ_CHECK(memstats_record_free(r->m, (size_t)bytes));
    figures_free(&r->m_figures, bytes);
}

/* A limit: none, small, around the boundaries, or raw. */
static uint64_t decode_limit(FuzzInput* in) {
    uint8_t kind = fuzz_u8(in);
    size_t offset = (size_t)(int8_t)fuzz_u8(in);
    uint64_t limit;
    switch (kind % 8) {
    case 0: return 0;
    case 1: limit = BACKEND_CAP + offset; break;
    case 2: limit = STRATEGY_MAX_ALLOCATION + offset; break;
    case 3: limit = (uint64_t)INT64_MAX + offset; break;
    case 4: limit = fuzz_u64(in); break;
    case 5: limit = 256 + offset; break; /* batch = limit/256 around 1 */
    case 6: limit = (uint64_t)SIZE_MAX + offset; break;
    default: limit = 1 + fuzz_u16(in); break;
    }
    return limit;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzInput in = fuzz_input_make(data, size);
    Run* r = calloc(1, sizeof *r);
    FUZZ_CHECK(r != NULL);
    r->s_limit = decode_limit(&in);
    r->m_limit = decode_limit(&in);

    DefaultStrategyConfig config;
    memset(&config, 0, sizeof config);
    config.memory_limit = (size_t)r->s_limit;
    config.backend_allocate = backend_allocate;
    config.backend_free = backend_free;
    config.backend_context = &r->backend;
    config.error_handler = quiet_handler;
    config.error_handler_data = &r->log;
    r->s = create_default_strategy_with(&config);
    FUZZ_CHECK(r->s != NULL);
    r->m = r->m_limit == 0 ? memstats_create() : memstats_create_limited(r->m_limit);
    FUZZ_CHECK(r->m != NULL);
    check_all(r);

    while (!fuzz_input_done(&in)) {
        uint8_t op = fuzz_u8(&in);
        switch (op % 5) {
        case 0: strategy_allocate(r, decode_size(r, &in, false)); break;
        case 1: strategy_free(r, fuzz_u8(&in)); break;
        case 2: memstats_allocate(r, decode_size(r, &in, true)); break;
        case 3: memstats_free(r, decode_size(r, &in, true)); break;
        default:
            memstats_reset_peak(r->m);
            r->m_figures.peak = r->m_figures.current;
            break;
        }
        check_all(r);
    }

    while (r->live_count != 0) strategy_free(r, 0);
    check_all(r);
    destroy_default_strategy(r->s);
    FUZZ_CHECK(r->backend.outstanding == 0);
    memstats_destroy(r->m);
    free(r);
    return 0;
}
