/* Fuzz target "ops": one thread drives a DefaultStrategy through an
 * operation sequence decoded from the input and checks it after every step
 * against a plain shadow model.
 *
 * Input: one flags byte, then operations until the input ends (see the Op
 * enum for each operation's argument bytes).
 *
 * Checked after every step:
 *   - every figure (get_usage_snapshot and each single getter) equals the
 *     shadow's; the peak equals the shadow's high-water mark exactly (one
 *     thread did everything) and the over-report bound is 0;
 *   - every error count, the last error, and the error handler's calls equal
 *     the shadow's; each refused request reported exactly one error with the
 *     right pointer and size, and changed no statistic;
 *   - the status equals the shadow's;
 *   - every live block still holds the fill pattern written at allocation
 *     (its first and last bytes after every step, all of it when freed);
 *   - the backend holds exactly the shadow's live blocks;
 *   - default_strategy_snapshot's size classes equal the shadow's histogram
 *     (all 0 unless the flags byte turns config.size_histogram on).
 * Per operation: a zeroed block is all zero before it is filled; a resized
 * block keeps the common prefix of its pattern and its alignment, and moves
 * the statistics as default_reallocate documents (a refused resize leaves
 * it intact and owned); an aligned block is aligned.
 *
 * The backend refuses requests above BACKEND_CAP, so valid sizes up to
 * STRATEGY_MAX_ALLOCATION fail with OUT_OF_MEMORY without allocating, and it
 * never returns freed memory to the system before the run ends (quarantine),
 * so a double free is a refused request, not a use after free.
 *
 * DEGRADED is reached through //:testing_hooks: a corruption, validate (which
 * must notice it and degrade), and the corruption undone. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "fuzz_input.h"
#include "testing_hooks.h"

/* ---- constants -------------------------------------------------------- */

#define HEADER_BYTES 16u                  /* documented in default_strategy.h */
#define BACKEND_CAP ((size_t)64 << 10)    /* largest request the backend grants */
#define MAX_LIVE 64u                      /* live blocks in the main strategy */
#define MAX_OTHER_LIVE 8u                 /* live blocks in the second strategy */
#define MAX_FREED 64u                     /* freed pointers kept for double frees */
#define EDGE_BYTES 32u                    /* checked at each end after every step */

/* ---- the backend: capped, quarantining -------------------------------- */

/* Each allocation starts SLACK_BYTES (zeroed) before the pointer handed to
 * the library: default_deallocate documents that for a pointer whose header
 * looks like an aligned block's it reads 24 bytes before the pointer, i.e.
 * 8 bytes before the backend's block, so those must be readable.  (A
 * backend that returns the start of a mapping does not guarantee that; see
 * docs/FUZZING.md, "Known issues".) */
#define SLACK_BYTES 16u

typedef struct RawBlock {
    unsigned char* base; /* what aligned_alloc returned */
    unsigned char* raw;  /* base + SLACK_BYTES: what the library got */
    size_t size;
    bool freed; /* given back by the library; kept until the run ends */
} RawBlock;

typedef struct Backend {
    RawBlock* blocks;
    size_t count;
    size_t capacity;
    size_t outstanding; /* handed out and not given back */
    bool fail_next;     /* the next request returns NULL */
    size_t last_request;
    unsigned char* last_raw;
} Backend;

static void* backend_allocate(void* context, size_t size) {
    Backend* b = context;
    b->last_request = size;
    b->last_raw = NULL;
    if (b->fail_next) {
        b->fail_next = false;
        return NULL;
    }
    if (size > BACKEND_CAP) return NULL;
    if (b->count == b->capacity) {
        size_t capacity = b->capacity == 0 ? 64 : 2 * b->capacity;
        RawBlock* grown = realloc(b->blocks, capacity * sizeof *grown);
        FUZZ_CHECK(grown != NULL);
        b->blocks = grown;
        b->capacity = capacity;
    }
    /* Rounded up: aligned_alloc wants a multiple of the alignment. */
    unsigned char* base = aligned_alloc(16, SLACK_BYTES + (size + 15) / 16 * 16);
    FUZZ_CHECK(base != NULL);
    memset(base, 0, SLACK_BYTES);
    unsigned char* raw = base + SLACK_BYTES;
    b->blocks[b->count++] = (RawBlock){base, raw, size, false};
    b->outstanding++;
    b->last_raw = raw;
    return raw;
}

static void backend_free(void* context, void* ptr) {
    Backend* b = context;
    for (size_t i = 0; i < b->count; i++) {
        if (b->blocks[i].raw == ptr) {
            /* The library gives back only what it got, and only once. */
            FUZZ_CHECK(!b->blocks[i].freed);
            b->blocks[i].freed = true;
            b->outstanding--;
            /* Scribble over the payload, as a reusing allocator would; the
             * 16 header bytes stay as the library left them. */
            if (b->blocks[i].size > HEADER_BYTES) {
                memset(b->blocks[i].raw + HEADER_BYTES, 0xdd, b->blocks[i].size - HEADER_BYTES);
            }
            return;
        }
    }
    fprintf(stderr, "backend_free(%p): not a pointer the backend returned\n", ptr);
    abort();
}

static void backend_release_all(Backend* b) {
    for (size_t i = 0; i < b->count; i++) free(b->blocks[i].base);
    free(b->blocks);
    memset(b, 0, sizeof *b);
}

/* ---- the quiet error handler ------------------------------------------ */

typedef struct ErrorLog {
    const DefaultStrategy* strategy; /* every call must name it */
    uint64_t calls;
    uint64_t count[STRATEGY_ERROR_COUNT];
    StrategyErrorInfo last;
} ErrorLog;

static void quiet_handler(const StrategyErrorInfo* info, void* user_data) {
    ErrorLog* log = user_data;
    FUZZ_CHECK(info != NULL);
    FUZZ_CHECK((unsigned)info->error < STRATEGY_ERROR_COUNT && info->error != STRATEGY_OK);
    FUZZ_CHECK(info->strategy == log->strategy);
    log->calls++;
    log->count[info->error]++;
    log->last = *info;
}

/* ---- the shadow model ------------------------------------------------- */

typedef struct Block {
    unsigned char* ptr;
    size_t size;
    uint8_t seed;
    size_t alignment; /* > 16 for an aligned block (its layout differs); else 0 */
} Block;

typedef struct Shadow {
    uint64_t current, peak, total_allocated, total_freed, allocations, deallocations;
    uint64_t errors[STRATEGY_ERROR_COUNT];
    StrategyError last_error;
    StrategyStatus status;
    uint64_t size_classes[STRATEGY_SIZE_CLASSES]; /* successful allocations by size class */
} Shadow;

typedef struct Run {
    DefaultStrategy* s;
    size_t limit; /* the main strategy's memory_limit; 0: none */
    bool histogram; /* config.size_histogram of the main strategy */
    Shadow shadow;
    ErrorLog log;
    Block live[MAX_LIVE];
    size_t live_count;
    unsigned char* freed[MAX_FREED]; /* user pointers of the last freed blocks */
    bool freed_aligned[MAX_FREED];   /* whether freed[i] was an aligned block */
    size_t freed_total;              /* frees so far; freed[] is a ring */
    uint8_t next_seed;
    /* The second strategy, for blocks of the wrong strategy. */
    DefaultStrategy* other;
    ErrorLog other_log;
    Block other_live[MAX_OTHER_LIVE];
    size_t other_live_count;
    uint64_t other_current;
    uint64_t other_invalid_pointer;
    Backend backend;
} Run;

static void fill_block(const Block* b) { fuzz_pattern_fill(b->ptr, b->size, b->seed); }

static void check_range(const Block* b, size_t from, size_t to) {
    FUZZ_CHECK(fuzz_pattern_holds(b->ptr, from, to, b->seed));
}

static void check_block_full(const Block* b) { check_range(b, 0, b->size); }

static void check_block_edges(const Block* b) {
    if (b->size <= 2 * EDGE_BYTES) {
        check_block_full(b);
        return;
    }
    check_range(b, 0, EDGE_BYTES);
    check_range(b, b->size - EDGE_BYTES, b->size);
}

/* Expects exactly one new handler call since `calls_before`, of `error`,
 * with this pointer and size, and records it in the shadow. */
static void expect_error(Run* r, uint64_t calls_before, StrategyError error, const void* pointer,
                         size_t size) {
    FUZZ_CHECK(r->log.calls == calls_before + 1);
    FUZZ_CHECK(r->log.last.error == error);
    FUZZ_CHECK(r->log.last.pointer == pointer);
    FUZZ_CHECK(r->log.last.size == size);
    FUZZ_CHECK(r->log.last.blocks == 0);
    r->shadow.errors[error]++;
    r->shadow.last_error = error;
}

static void check_snapshot(const MemStatsSnapshot* snap, const Shadow* sh, uint64_t live) {
    FUZZ_CHECK(snap->current_bytes == sh->current);
    FUZZ_CHECK(snap->peak_bytes == sh->peak);
    FUZZ_CHECK(snap->total_allocated_bytes == sh->total_allocated);
    FUZZ_CHECK(snap->total_freed_bytes == sh->total_freed);
    FUZZ_CHECK(snap->allocations == sh->allocations);
    FUZZ_CHECK(snap->deallocations == sh->deallocations);
    FUZZ_CHECK(snap->live_blocks == live);
    FUZZ_CHECK(snap->peak_overreport_bound == 0);
}

/* The size histogram: with config.size_histogram every class equals the
 * shadow's and they add up to the successful allocations (reallocations
 * included); without it every class is 0. */
static void check_histogram(const Run* r) {
    StrategyStats st;
    memset(&st, 0xa5, sizeof st);
    FUZZ_CHECK(default_strategy_snapshot(r->s, &st));
    FUZZ_CHECK(st.size_histogram == r->histogram);
    check_snapshot(&st.usage, &r->shadow, r->live_count);
    uint64_t sum = 0;
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
        FUZZ_CHECK(st.size_classes[k] == (r->histogram ? r->shadow.size_classes[k] : 0));
        sum += st.size_classes[k];
    }
    FUZZ_CHECK(sum == (r->histogram ? r->shadow.allocations : 0));
}

/* Everything the header of this file lists, after every step. */
static void check_all(Run* r) {
    const Shadow* sh = &r->shadow;
    MemStatsSnapshot snap;
    memset(&snap, 0xa5, sizeof snap);
    FUZZ_CHECK(get_usage_snapshot(r->s, &snap));
    check_snapshot(&snap, sh, r->live_count);
    for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) {
        FUZZ_CHECK(get_error_count(r->s, (StrategyError)k) == sh->errors[k]);
        if (k != STRATEGY_ERROR_LEAK) FUZZ_CHECK(r->log.count[k] == sh->errors[k]);
    }
    FUZZ_CHECK(get_last_error(r->s) == sh->last_error);
    FUZZ_CHECK(r->s->base.get_status(&r->s->base) == sh->status);
    for (size_t i = 0; i < r->live_count; i++) check_block_edges(&r->live[i]);
    for (size_t i = 0; i < r->other_live_count; i++) check_block_edges(&r->other_live[i]);
    FUZZ_CHECK(r->backend.outstanding == r->live_count + r->other_live_count);
    FUZZ_CHECK(get_current_usage(r->other) == r->other_current);
    FUZZ_CHECK(get_error_count(r->other, STRATEGY_ERROR_WRONG_STRATEGY) == r->other_invalid_pointer);
    FUZZ_CHECK(r->other_log.calls == r->other_invalid_pointer);
    check_histogram(r);
}

/* ---- sizes ------------------------------------------------------------- */

/* A size from the whole range: the boundaries of the valid range and of the
 * backend's cap, their neighbours, powers of two, raw values, and (most
 * often) ordinary small sizes. */
static size_t decode_size(FuzzInput* in) {
    uint8_t kind = fuzz_u8(in);
    switch (kind % 16) {
    case 0: return 0;
    case 1: return 1;
    case 2: return STRATEGY_MAX_ALLOCATION;
    case 3: return STRATEGY_MAX_ALLOCATION + 1;
    case 4: return SIZE_MAX;
    case 5: return STRATEGY_MAX_ALLOCATION - fuzz_u8(in);
    case 6: return STRATEGY_MAX_ALLOCATION + 1 + fuzz_u8(in);
    case 7: return SIZE_MAX - fuzz_u8(in);
    case 8: return BACKEND_CAP - HEADER_BYTES - 128 + fuzz_u8(in); /* the cap +- 128 */
    case 9: return (size_t)1 << (fuzz_u8(in) % 64);
    case 10: return (size_t)fuzz_u64(in);
    case 11: return 1 + fuzz_u16(in) % (BACKEND_CAP - HEADER_BYTES); /* up to the cap */
    default: return 1 + fuzz_u16(in) % 4096;
    }
}

/* ---- operations --------------------------------------------------------- */

typedef enum Op {
    OP_ALLOCATE = 0,     /* size (decode_size) */
    OP_DEALLOCATE,       /* index byte */
    OP_DEALLOCATE_NULL,  /* -- (also NULL strategies) */
    OP_VALIDATE,         /* -- */
    OP_GET_STATUS,       /* -- */
    OP_READ,             /* selector byte, kind byte */
    OP_FREE_STACK,       /* 16 header bytes, offset byte */
    OP_FREE_INTERIOR,    /* index byte, offset u16 */
    OP_DOUBLE_FREE,      /* index byte */
    OP_SMASH_HEADER,     /* index byte, header byte index, xor byte */
    OP_OTHER_STRATEGY,   /* selector byte, index byte */
    OP_FAIL_NEXT,        /* -- */
    OP_DEGRADE,          /* corruption kind byte */
    OP_RESET_PEAK,       /* -- */
    OP_ALLOCATE_ZEROED,  /* count byte (< 128: 0..16; else decode_size after it), size (decode_size) */
    OP_REALLOCATE,       /* selector byte (% 8: 0 NULL, 1 a freed pointer, else live block / 8), size */
    OP_ALLOCATE_ALIGNED, /* alignment (decode_alignment), size (decode_size) */
    OP_COUNT
} Op;

/* The shadow's side of one successful allocation of `size` bytes. */
static void count_allocation(Shadow* sh, size_t size) {
    sh->total_allocated += size;
    sh->allocations++;
    sh->size_classes[63u - (unsigned)__builtin_clzll((unsigned long long)size)]++;
}

/* What an allocating call is expected to do. */
typedef struct Request {
    size_t size;      /* the block's size if valid */
    size_t reported;  /* the size an INVALID_SIZE error reports */
    bool invalid;     /* refused as STRATEGY_ERROR_INVALID_SIZE */
    size_t backend;   /* what the backend is asked for (valid requests) */
    size_t alignment; /* of the result: 16, or the aligned block's */
    size_t offset;    /* the result lies at least this far into the backend's block */
    bool zeroed;      /* every byte of the result is zero */
} Request;

static Request plain_request(size_t size) {
    return (Request){size, size, size == 0 || size > STRATEGY_MAX_ALLOCATION, size + HEADER_BYTES, 16,
                     HEADER_BYTES, false};
}

/* Checks the outcome `p` of an allocating call made with the backend's
 * fail_next at `fail_next` and `calls` handler calls before it, against
 * `q` and the shadow; on success records the block (filled with the
 * pattern) and returns true. */
static bool settle_allocation(Run* r, unsigned char* p, const Request* q, bool fail_next, uint64_t calls) {
    Shadow* sh = &r->shadow;
    uint64_t current_before = sh->current, allocations_before = sh->allocations;
    size_t size = q->size;
    bool allowed = sh->status == STRATEGY_ACTIVE;
    bool backend_refuses = !q->invalid && (fail_next || q->backend > BACKEND_CAP);
    /* One thread: usage may reach the limit exactly. */
    bool over_limit = r->limit != 0 && size > r->limit - sh->current;
    if (q->invalid || !allowed) {
        FUZZ_CHECK(p == NULL);
        FUZZ_CHECK(r->backend.last_request == 0); /* the backend was not asked */
        StrategyError want = q->invalid ? STRATEGY_ERROR_INVALID_SIZE : STRATEGY_ERROR_ILLEGAL_STATE;
        /* When both apply, which one is reported is not documented. */
        if (q->invalid && !allowed && r->log.last.error == STRATEGY_ERROR_ILLEGAL_STATE) {
            want = STRATEGY_ERROR_ILLEGAL_STATE;
        }
        expect_error(r, calls, want, NULL, want == STRATEGY_ERROR_INVALID_SIZE ? q->reported : size);
    } else if (backend_refuses || over_limit) {
        FUZZ_CHECK(p == NULL);
        StrategyError want = backend_refuses ? STRATEGY_ERROR_OUT_OF_MEMORY : STRATEGY_ERROR_LIMIT_EXCEEDED;
        /* Likewise when the backend fails and the limit refuses. */
        if (backend_refuses && over_limit && r->log.last.error == STRATEGY_ERROR_LIMIT_EXCEEDED) {
            want = STRATEGY_ERROR_LIMIT_EXCEEDED;
        }
        expect_error(r, calls, want, NULL, size);
        /* The backend was asked at most once; a block it gave for a request
         * the limit refused went back (check_all counts its blocks). */
        FUZZ_CHECK(r->backend.last_request == 0 || r->backend.last_request == q->backend);
    } else {
        /* A valid request reaches the backend with room for the header. */
        FUZZ_CHECK(r->backend.last_request == q->backend);
        FUZZ_CHECK(p != NULL);
        FUZZ_CHECK(r->log.calls == calls);
        FUZZ_CHECK(((uintptr_t)p & (q->alignment - 1)) == 0);
        /* The block lies inside what the backend returned. */
        unsigned char* raw = r->backend.last_raw;
        FUZZ_CHECK(raw != NULL && p >= raw + q->offset && p + size <= raw + q->backend);
        if (q->zeroed) {
            for (size_t i = 0; i < size; i++) FUZZ_CHECK(p[i] == 0);
        }
        Block b = {p, size, r->next_seed++, q->alignment > 16 ? q->alignment : 0};
        fill_block(&b);
        r->live[r->live_count++] = b;
        sh->current += size;
        count_allocation(sh, size);
        if (sh->current > sh->peak) sh->peak = sh->current;
        return true;
    }
    /* Refused: no statistic moved (check_all compares the rest). */
    FUZZ_CHECK(get_current_usage(r->s) == current_before);
    FUZZ_CHECK(get_allocation_count(r->s) == allocations_before);
    return false;
}

static void op_allocate(Run* r, size_t size) {
    uint64_t calls = r->log.calls;
    bool fail_next = r->backend.fail_next;
    r->backend.last_request = 0;
    unsigned char* p = r->s->base.allocate(&r->s->base, size);
    Request q = plain_request(size);
    settle_allocation(r, p, &q, fail_next, calls);
}

static void op_allocate_zeroed(Run* r, size_t count, size_t size) {
    uint64_t calls = r->log.calls;
    bool fail_next = r->backend.fail_next;
    r->backend.last_request = 0;
    unsigned char* p = r->s->base.allocate_zeroed(&r->s->base, count, size);
    bool overflow = count != 0 && size > SIZE_MAX / count;
    Request q = plain_request(overflow ? 0 : count * size);
    q.reported = overflow ? SIZE_MAX : count * size;
    q.invalid = q.invalid || overflow;
    q.zeroed = true;
    settle_allocation(r, p, &q, fail_next, calls);
}

/* An alignment: 0, a power of two 1 .. 2^23 (past STRATEGY_MAX_ALIGNMENT),
 * a power of two +- 1, or raw. */
static size_t decode_alignment(FuzzInput* in) {
    uint8_t kind = fuzz_u8(in);
    size_t power = (size_t)1 << (kind % 24);
    switch ((kind >> 5) % 8) {
    case 0: return 0;
    case 1: return power + 1;
    case 2: return power - 1;
    case 3: return (size_t)fuzz_u64(in);
    default: return power;
    }
}

static void op_allocate_aligned(Run* r, size_t alignment, size_t size) {
    uint64_t calls = r->log.calls;
    bool fail_next = r->backend.fail_next;
    r->backend.last_request = 0;
    unsigned char* p = r->s->base.allocate_aligned(&r->s->base, alignment, size);
    bool power_of_two = alignment != 0 && (alignment & (alignment - 1)) == 0;
    Request q = plain_request(size);
    if (!power_of_two || alignment > STRATEGY_MAX_ALIGNMENT) {
        q.invalid = true;
    } else if (alignment > 16 && !q.invalid) {
        /* Documented: size + alignment + 23 (prefix word, header, padding). */
        q.backend = size + alignment + 23;
        q.alignment = alignment;
        q.offset = HEADER_BYTES + 8;
    }
    settle_allocation(r, p, &q, fail_next, calls);
}

static void remember_freed(Run* r, const Block* b) {
    r->freed_aligned[r->freed_total % MAX_FREED] = b->alignment != 0;
    r->freed[r->freed_total++ % MAX_FREED] = b->ptr;
}

/* What freeing (or resizing) freed[i] again reports.  The backend scribbles
 * over everything after the first 16 bytes of a freed allocation, which for
 * an aligned block includes its header (it starts at least 24 bytes in):
 * "a freed block whose header the backend reused" is INVALID_POINTER. */
static StrategyError freed_error(const Run* r, size_t i) {
    return r->freed_aligned[i] ? STRATEGY_ERROR_INVALID_POINTER : STRATEGY_ERROR_DOUBLE_FREE;
}

static void op_deallocate(Run* r, size_t index) {
    if (r->live_count == 0) return;
    index %= r->live_count;
    Block b = r->live[index];
    check_block_full(&b);
    uint64_t calls = r->log.calls;
    size_t outstanding = r->backend.outstanding;
    r->s->base.deallocate(&r->s->base, b.ptr);
    /* ACTIVE and DEGRADED (the only statuses reached here) allow frees. */
    FUZZ_CHECK(r->log.calls == calls);
    FUZZ_CHECK(r->backend.outstanding == outstanding - 1);
    r->live[index] = r->live[--r->live_count];
    r->shadow.current -= b.size;
    r->shadow.total_freed += b.size;
    r->shadow.deallocations++;
    remember_freed(r, &b);
}

/* Resizes a live block (or NULL, which is allocate, or a freed pointer,
 * which must be refused as a double free) to `size`. */
static void op_reallocate(Run* r, uint8_t selector, size_t size) {
    uint64_t calls = r->log.calls;
    bool fail_next = r->backend.fail_next;
    r->backend.last_request = 0;
    size_t freed_count = r->freed_total < MAX_FREED ? r->freed_total : MAX_FREED;
    if (r->live_count == 0 || selector % 8 == 0) {
        if (r->live_count == MAX_LIVE) return;
        unsigned char* p = r->s->base.reallocate(&r->s->base, NULL, size);
        Request q = plain_request(size);
        settle_allocation(r, p, &q, fail_next, calls);
        return;
    }
    Shadow* sh = &r->shadow;
    bool invalid = size == 0 || size > STRATEGY_MAX_ALLOCATION;
    bool allowed = sh->status == STRATEGY_ACTIVE;
    if (selector % 8 == 1 && freed_count != 0) {
        size_t i = (selector >> 3) % freed_count;
        unsigned char* freed = r->freed[i];
        StrategyError want = invalid ? STRATEGY_ERROR_INVALID_SIZE
                                     : !allowed ? STRATEGY_ERROR_ILLEGAL_STATE : freed_error(r, i);
        size_t outstanding = r->backend.outstanding;
        FUZZ_CHECK(r->s->base.reallocate(&r->s->base, freed, size) == NULL);
        expect_error(r, calls, want, freed, size);
        FUZZ_CHECK(r->backend.outstanding == outstanding);
        FUZZ_CHECK(r->backend.last_request == 0);
        return;
    }
    size_t index = (selector >> 3) % r->live_count;
    Block old = r->live[index];
    check_block_full(&old);
    size_t request = old.alignment != 0 ? size + old.alignment + 23 : size + HEADER_BYTES;
    bool backend_refuses = fail_next || (!invalid && request > BACKEND_CAP);
    /* The old block is counted while the new one is: room for both. */
    bool over_limit = r->limit != 0 && size > r->limit - sh->current;
    uint64_t current_before = sh->current, allocations_before = sh->allocations;
    unsigned char* p = r->s->base.reallocate(&r->s->base, old.ptr, size);
    if (invalid || !allowed || backend_refuses || over_limit) {
        FUZZ_CHECK(p == NULL);
        StrategyError want = invalid ? STRATEGY_ERROR_INVALID_SIZE
                             : !allowed ? STRATEGY_ERROR_ILLEGAL_STATE
                             /* Over a custom backend the block is moved: the
                              * backend is asked before the limit. */
                             : backend_refuses ? STRATEGY_ERROR_OUT_OF_MEMORY
                                               : STRATEGY_ERROR_LIMIT_EXCEEDED;
        expect_error(r, calls, want, old.ptr, size);
        if (invalid || !allowed) FUZZ_CHECK(r->backend.last_request == 0);
        /* Untouched and still owned (check_all counts the backend's blocks). */
        check_block_full(&old);
        FUZZ_CHECK(get_current_usage(r->s) == current_before);
        FUZZ_CHECK(get_allocation_count(r->s) == allocations_before);
        return;
    }
    FUZZ_CHECK(p != NULL);
    FUZZ_CHECK(r->log.calls == calls);
    FUZZ_CHECK(r->backend.last_request == request);
    size_t alignment = old.alignment != 0 ? old.alignment : 16;
    FUZZ_CHECK(((uintptr_t)p & (alignment - 1)) == 0);
    Block b = {p, size, old.seed, old.alignment};
    check_range(&b, 0, old.size < size ? old.size : size); /* the common prefix */
    fill_block(&b);
    r->live[index] = b;
    if (p != old.ptr) remember_freed(r, &old);
    /* One free of the old size and one allocation of the new.  With a limit
     * the allocation is recorded first (both sizes count at once); without,
     * the free first. */
    uint64_t high = r->limit != 0 ? sh->current + size : sh->current - old.size + size;
    if (high > sh->peak) sh->peak = high;
    sh->current = sh->current - old.size + size;
    sh->total_freed += old.size;
    sh->deallocations++;
    count_allocation(sh, size);
}

/* Frees `ptr`, which is not a live block of the main strategy, and expects
 * it to be refused without touching the backend. */
static void expect_refused_free(Run* r, void* ptr, StrategyError error) {
    uint64_t calls = r->log.calls;
    size_t outstanding = r->backend.outstanding;
    r->s->base.deallocate(&r->s->base, ptr);
    expect_error(r, calls, error, ptr, 0);
    FUZZ_CHECK(r->backend.outstanding == outstanding);
}

static void op_free_stack(Run* r, FuzzInput* in) {
    /* A block-shaped stack object: 16 header bytes the fuzzer chooses, then
     * a payload; the header lies inside the object, so reading it is
     * defined whatever the build.  The fuzzer cannot forge the check word
     * (it depends on the strategy's secret). */
    _Alignas(16) unsigned char frame[HEADER_BYTES + 48];
    for (size_t i = 0; i < HEADER_BYTES; i++) frame[i] = fuzz_u8(in);
    memset(frame + HEADER_BYTES, 0x5a, sizeof frame - HEADER_BYTES);
    size_t offset = fuzz_u8(in) % 48; /* aligned or not */
    expect_refused_free(r, frame + HEADER_BYTES + offset, STRATEGY_ERROR_INVALID_POINTER);
}

static void op_free_interior(Run* r, size_t index, size_t offset) {
    if (r->live_count == 0) return;
    const Block* b = &r->live[index % r->live_count];
    if (b->size > 1) {
        /* Inside the block: 1 .. size-1.  A 16-aligned offset makes the
         * library read 16 bytes of payload as a header. */
        expect_refused_free(r, b->ptr + 1 + offset % (b->size - 1), STRATEGY_ERROR_INVALID_POINTER);
    } else {
        expect_refused_free(r, b->ptr + 1, STRATEGY_ERROR_INVALID_POINTER); /* one past the end, misaligned */
    }
}

static void op_double_free(Run* r, size_t index) {
    size_t count = r->freed_total < MAX_FREED ? r->freed_total : MAX_FREED;
    if (count == 0) return;
    expect_refused_free(r, r->freed[index % count], freed_error(r, index % count));
}

static void op_smash_header(Run* r, size_t index, size_t byte, uint8_t mask) {
    if (r->live_count == 0) return;
    const Block* b = &r->live[index % r->live_count];
    if (mask == 0) mask = 1;
    /* The header is the 16 bytes before the block, inside the backend's
     * allocation (op_allocate checked), so writing it is defined.  Any
     * change to the size or the check word must be refused. */
    unsigned char* at = b->ptr - HEADER_BYTES + byte % HEADER_BYTES;
    *at ^= mask;
    /* Bytes 12..15 are the strategy's tag: changed, the header is no
     * longer recognisably this strategy's. */
    expect_refused_free(r, b->ptr,
                        byte % HEADER_BYTES < 12 ? STRATEGY_ERROR_CORRUPTED_BLOCK : STRATEGY_ERROR_INVALID_POINTER);
    *at ^= mask; /* repaired: the block is live again and frees normally later */
}

static void op_other_strategy(Run* r, uint8_t selector, size_t index) {
    switch (selector % 4) {
    case 0: /* allocate in the other strategy */
        if (r->other_live_count < MAX_OTHER_LIVE && !r->backend.fail_next) {
            size_t size = 1 + index % 256;
            unsigned char* p = r->other->base.allocate(&r->other->base, size);
            FUZZ_CHECK(p != NULL);
            Block b = {p, size, r->next_seed++, 0};
            fill_block(&b);
            r->other_live[r->other_live_count++] = b;
            r->other_current += size;
        }
        break;
    case 1: /* free it there */
        if (r->other_live_count != 0) {
            index %= r->other_live_count;
            Block b = r->other_live[index];
            check_block_full(&b);
            r->other->base.deallocate(&r->other->base, b.ptr);
            r->other_live[index] = r->other_live[--r->other_live_count];
            r->other_current -= b.size;
        }
        break;
    case 2: /* a block of the other strategy, freed in this one */
        if (r->other_live_count != 0) {
            expect_refused_free(r, r->other_live[index % r->other_live_count].ptr, STRATEGY_ERROR_WRONG_STRATEGY);
        }
        break;
    default: /* a block of this strategy, freed in the other */
        if (r->live_count != 0) {
            unsigned char* p = r->live[index % r->live_count].ptr;
            uint64_t calls = r->other_log.calls;
            r->other->base.deallocate(&r->other->base, p);
            FUZZ_CHECK(r->other_log.calls == calls + 1);
            FUZZ_CHECK(r->other_log.last.error == STRATEGY_ERROR_WRONG_STRATEGY);
            FUZZ_CHECK(r->other_log.last.pointer == p);
            r->other_invalid_pointer++;
        }
        break;
    }
}

static void op_read(Run* r, uint8_t selector, uint8_t kind) {
    const Shadow* sh = &r->shadow;
    const DefaultStrategy* s = r->s;
    switch (selector % 12) {
    case 0: FUZZ_CHECK(get_current_usage(s) == sh->current); break;
    case 1: FUZZ_CHECK(get_peak_usage(s) == sh->peak); break;
    case 2: FUZZ_CHECK(get_total_allocated(s) == sh->total_allocated); break;
    case 3: FUZZ_CHECK(get_total_freed(s) == sh->total_freed); break;
    case 4: FUZZ_CHECK(get_peak_overreport_bound(s) == 0); break;
    case 5: FUZZ_CHECK(get_allocation_count(s) == sh->allocations); break;
    case 6: FUZZ_CHECK(get_deallocation_count(s) == sh->deallocations); break;
    case 7: FUZZ_CHECK(get_live_blocks(s) == r->live_count); break;
    case 8: {
        MemStatsSnapshot snap;
        FUZZ_CHECK(get_usage_snapshot(s, &snap));
        check_snapshot(&snap, sh, r->live_count);
        FUZZ_CHECK(!get_usage_snapshot(s, NULL));
        FUZZ_CHECK(!get_usage_snapshot(NULL, &snap));
        break;
    }
    case 9: {
        /* Every kind, including STRATEGY_OK and values outside the enum. */
        unsigned k = kind % (STRATEGY_ERROR_COUNT + 3);
        uint64_t want = k < STRATEGY_ERROR_COUNT ? sh->errors[k] : 0;
        FUZZ_CHECK(get_error_count(s, (StrategyError)k) == want);
        FUZZ_CHECK(get_error_count(NULL, (StrategyError)k) == 0);
        break;
    }
    case 10: FUZZ_CHECK(get_last_error(s) == sh->last_error); break;
    default:
        /* NULL strategies read as zero. */
        FUZZ_CHECK(get_current_usage(NULL) == 0 && get_peak_usage(NULL) == 0 &&
                   get_total_allocated(NULL) == 0 && get_total_freed(NULL) == 0 &&
                   get_peak_overreport_bound(NULL) == 0 && get_allocation_count(NULL) == 0 &&
                   get_deallocation_count(NULL) == 0 && get_live_blocks(NULL) == 0 &&
                   get_last_error(NULL) == STRATEGY_OK);
        break;
    }
}

static void op_degrade(Run* r, uint8_t kind_byte) {
    MsCorruption kind = (MsCorruption)(kind_byte % MS_CORRUPT_COUNT);
    bool per_thread = kind >= MS_CORRUPT_ALLOC_OPS;
    /* The per-thread kinds need this thread's slot, which exists once it
     * recorded something on this strategy or was refused by the limit (which
     * is checked in the slot). */
    bool has_slot = r->shadow.allocations != 0 || r->shadow.errors[STRATEGY_ERROR_LIMIT_EXCEEDED] != 0;
    bool applied = ms_testing_corrupt(r->s, kind);
    FUZZ_CHECK(applied == (!per_thread || has_slot));
    if (!applied) return;

    uint64_t calls = r->log.calls;
    bool expect_valid = false;
    bool may_degrade = true;
    switch (kind) {
    case MS_CORRUPT_MAGIC:
    case MS_CORRUPT_STATUS:
        /* Not recognisable, or no legal status: reads say INVALID and
         * there is no status to move from. */
        FUZZ_CHECK(r->s->base.get_status(&r->s->base) == STRATEGY_STATUS_INVALID);
        may_degrade = false;
        break;
    case MS_CORRUPT_LOCAL_PEAK:
        /* Zeroed local peak: broken only while this slot's usage is > 0. */
        expect_valid = r->shadow.current == 0;
        break;
    default: break;
    }
    bool valid = r->s->base.validate(&r->s->base);
    FUZZ_CHECK(valid == expect_valid);
    if (!valid && may_degrade && r->shadow.status == STRATEGY_ACTIVE) {
        expect_error(r, calls, STRATEGY_ERROR_ILLEGAL_STATE, NULL, 0);
        r->shadow.status = STRATEGY_DEGRADED;
    } else {
        FUZZ_CHECK(r->log.calls == calls);
    }
    ms_testing_undo(r->s);
    FUZZ_CHECK(r->s->base.validate(&r->s->base));
}

static void run_op(Run* r, FuzzInput* in) {
    Op op = (Op)(fuzz_u8(in) % OP_COUNT);
    switch (op) {
    case OP_ALLOCATE: {
        size_t size = decode_size(in);
        if (r->live_count == MAX_LIVE) {
            op_deallocate(r, size);
        } else {
            op_allocate(r, size);
        }
        break;
    }
    case OP_DEALLOCATE: op_deallocate(r, fuzz_u8(in)); break;
    case OP_DEALLOCATE_NULL:
        r->s->base.deallocate(&r->s->base, NULL);
        default_deallocate(NULL, r->live_count != 0 ? r->live[0].ptr : NULL);
        FUZZ_CHECK(default_allocate(NULL, 16) == NULL);
        FUZZ_CHECK(default_get_status(NULL) == STRATEGY_STATUS_INVALID);
        FUZZ_CHECK(!default_validate(NULL));
        break;
    case OP_VALIDATE: FUZZ_CHECK(r->s->base.validate(&r->s->base)); break;
    case OP_GET_STATUS: FUZZ_CHECK(r->s->base.get_status(&r->s->base) == r->shadow.status); break;
    case OP_READ: {
        uint8_t selector = fuzz_u8(in);
        op_read(r, selector, fuzz_u8(in));
        break;
    }
    case OP_FREE_STACK: op_free_stack(r, in); break;
    case OP_FREE_INTERIOR: {
        uint8_t index = fuzz_u8(in);
        op_free_interior(r, index, fuzz_u16(in));
        break;
    }
    case OP_DOUBLE_FREE: op_double_free(r, fuzz_u8(in)); break;
    case OP_SMASH_HEADER: {
        uint8_t index = fuzz_u8(in);
        uint8_t byte = fuzz_u8(in);
        op_smash_header(r, index, byte, fuzz_u8(in));
        break;
    }
    case OP_OTHER_STRATEGY: {
        uint8_t selector = fuzz_u8(in);
        op_other_strategy(r, selector, fuzz_u8(in));
        break;
    }
    case OP_FAIL_NEXT: r->backend.fail_next = true; break;
    case OP_DEGRADE: op_degrade(r, fuzz_u8(in)); break;
    case OP_RESET_PEAK:
        reset_peak_usage(r->s);
        reset_peak_usage(NULL);
        r->shadow.peak = r->shadow.current;
        break;
    case OP_ALLOCATE_ZEROED: {
        uint8_t count_byte = fuzz_u8(in);
        size_t count = count_byte < 128 ? count_byte % 17u : decode_size(in);
        size_t size = decode_size(in);
        if (r->live_count == MAX_LIVE) {
            op_deallocate(r, size);
        } else {
            op_allocate_zeroed(r, count, size);
        }
        break;
    }
    case OP_REALLOCATE: {
        uint8_t selector = fuzz_u8(in);
        op_reallocate(r, selector, decode_size(in));
        break;
    }
    case OP_ALLOCATE_ALIGNED: {
        size_t alignment = decode_alignment(in);
        size_t size = decode_size(in);
        if (r->live_count == MAX_LIVE) {
            op_deallocate(r, size);
        } else {
            op_allocate_aligned(r, alignment, size);
        }
        break;
    }
    case OP_COUNT: break;
    }
}

/* ---- the run -------------------------------------------------------------- */

/* Flags byte: bit 0 set = destroy with the live blocks still allocated and
 * check the leak report instead of freeing them first; bits 1-3 choose the
 * memory limit (decode_limit); bit 4 set = config.size_histogram on the
 * main strategy. */
#define FLAG_LEAK_AT_DESTROY 1u
#define FLAG_SIZE_HISTOGRAM 16u /* bit 4: config.size_histogram */

static size_t decode_limit(uint8_t flags, FuzzInput* in) {
    switch ((flags >> 1) % 8) {
    case 1: return 1 + fuzz_u16(in);                              /* tiny: below one block */
    case 2: return BACKEND_CAP - 128 + fuzz_u8(in);               /* around the backend cap */
    case 3: return 1 + (size_t)fuzz_uint(in, 3);                  /* up to 16 MiB */
    case 4: return STRATEGY_MAX_ALLOCATION;
    case 5: return (size_t)fuzz_u64(in);                          /* raw; 0 is none */
    default: return 0;                                            /* unlimited */
    }
}

static DefaultStrategy* make_strategy(Backend* backend, ErrorLog* log, size_t limit, bool histogram) {
    DefaultStrategyConfig config;
    memset(&config, 0, sizeof config);
    config.memory_limit = limit;
    config.backend_allocate = backend_allocate;
    config.backend_free = backend_free;
    config.backend_context = backend;
    config.error_handler = quiet_handler;
    config.error_handler_data = log;
    config.size_histogram = histogram;
    DefaultStrategy* s = create_default_strategy_with(&config);
    FUZZ_CHECK(s != NULL);
    log->strategy = s;
    return s;
}

static void finish(Run* r, bool leak_at_destroy) {
    r->backend.fail_next = false;
    for (size_t i = 0; i < r->other_live_count; i++) {
        check_block_full(&r->other_live[i]);
        r->other->base.deallocate(&r->other->base, r->other_live[i].ptr);
    }
    r->other_live_count = 0;
    r->other_current = 0;
    FUZZ_CHECK(get_current_usage(r->other) == 0);

    uint64_t calls = r->log.calls;
    if (leak_at_destroy && r->live_count != 0) {
        for (size_t i = 0; i < r->live_count; i++) check_block_full(&r->live[i]);
        destroy_default_strategy(r->s);
        /* One leak report with the exact figures; not counted as an error. */
        FUZZ_CHECK(r->log.calls == calls + 1);
        FUZZ_CHECK(r->log.last.error == STRATEGY_ERROR_LEAK);
        FUZZ_CHECK(r->log.last.size == r->shadow.current);
        FUZZ_CHECK(r->log.last.blocks == r->live_count);
        FUZZ_CHECK(r->log.last.pointer == NULL);
        /* Leaked blocks stay with their owner: the backend still has them. */
        FUZZ_CHECK(r->backend.outstanding == r->live_count);
    } else {
        while (r->live_count != 0) op_deallocate(r, 0);
        check_all(r);
        FUZZ_CHECK(r->shadow.current == 0 && get_live_blocks(r->s) == 0);
        destroy_default_strategy(r->s);
        FUZZ_CHECK(r->log.calls == calls);
        FUZZ_CHECK(r->backend.outstanding == 0);
    }
    uint64_t other_calls = r->other_log.calls;
    destroy_default_strategy(r->other);
    FUZZ_CHECK(r->other_log.calls == other_calls); /* nothing leaked there */
    backend_release_all(&r->backend);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzInput in = fuzz_input_make(data, size);
    uint8_t flags = fuzz_u8(&in);
    Run* r = calloc(1, sizeof *r);
    FUZZ_CHECK(r != NULL);
    r->limit = decode_limit(flags, &in);
    r->histogram = (flags & FLAG_SIZE_HISTOGRAM) != 0;
    r->s = make_strategy(&r->backend, &r->log, r->limit, r->histogram);
    r->other = make_strategy(&r->backend, &r->other_log, 0, false);
    r->shadow.status = STRATEGY_ACTIVE;
    r->shadow.last_error = STRATEGY_OK;
    check_all(r);
    while (!fuzz_input_done(&in)) {
        run_op(r, &in);
        check_all(r);
    }
    finish(r, (flags & FLAG_LEAK_AT_DESTROY) != 0);
    free(r);
    return 0;
}
