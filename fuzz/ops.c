/* Fuzz target "ops": one thread drives a DefaultStrategy through an
 * operation sequence decoded from the input and checks it after every step
 * against a plain shadow model.
 *
 * Input: one flags byte (see "the run" at the end: leak at destroy, memory
 * limit, size histogram, and the debug options check_overflow, quarantine
 * and track_allocations), with limit kind 6 an extension byte (the limit
 * kind again, and config.thread_cache_blocks), the bytes they ask for, then
 * operations until the input ends (see the Op enum for each operation's
 * argument bytes).
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
 *   - the backend holds exactly the shadow's live blocks plus, with
 *     config.quarantine, the shadow's quarantined ones (the last
 *     `quarantine` blocks released) and, with config.thread_cache_blocks,
 *     the shadow's cached ones; every release gives back exactly the block
 *     the shadow expects (the released one, with a quarantine the one it
 *     pushes out, with a thread cache none when the block stays cached),
 *     and nothing is given back when the shadow expects nothing;
 *   - default_strategy_snapshot's size classes equal the shadow's histogram
 *     (all 0 unless the flags byte turns config.size_histogram on).
 * Per operation: a zeroed block is all zero before it is filled; a resized
 * block keeps the common prefix of its pattern and its alignment, and moves
 * the statistics as default_reallocate documents (a refused resize leaves
 * it intact and owned); an aligned block is aligned; the backend is asked
 * for the documented size (8 bytes more with check_overflow); a freed
 * block still in the quarantine is a DOUBLE_FREE when freed again; a write
 * over the canary (check_overflow) makes the next free or resize of the
 * block a CORRUPTED_BLOCK that frees nothing; the printers of
 * strategy_report.h and leak_report.h print valid text, JSON and
 * Prometheus output whose figures equal the shadow's (the leak report: each
 * live block once, under its STRATEGY_ALLOCATE site when it has one).
 *
 * The thread cache (config.thread_cache_blocks = N, used only without a
 * debug option and the size histogram; otherwise ignored, rounding included)
 * is modelled exactly: per class (8 bytes wide: sizes 1 .. 8, 9 .. 16, ...,
 * 2033 .. 2040) two LIFO lists of backend blocks, the head list and the
 * spare one, and the depot's 4 lists.  Every plain block of up to 2040 bytes
 * asks the backend for its class's room (class c: 8c bytes, plus the
 * header); a free of such a live block (through the vtable or a direct
 * default_deallocate, which goes on as the vtable's entry) keeps it in the
 * head list (the backend not called), a full head list first becoming the
 * spare list, and a spare list already there going to the first empty one of
 * the depot's lists of the class; with those full, the block itself goes
 * back to the backend and both lists stay, and so do the blocks of the next
 * N - 1 frees into the full lists (the spill); the old block of a resize,
 * larger and aligned blocks always go back.  Only the vtable's allocate and
 * a direct default_allocate (or default_allocate_at without
 * track_allocations, a reallocate of NULL, an allocate_aligned of 16 or
 * less), which goes on as it, take a block from the cache: exactly the last
 * one kept in the request's head list (an empty head list first takes the
 * spare list, else the depot's first non-empty list of the class), without
 * asking the backend (a pending backend failure stays pending); a popped
 * block the memory limit refuses goes back to the backend.  A freed pointer
 * handed out again is live again (no longer a double free to try); a cached
 * one freed again is a DOUBLE_FREE; destroy gives every cached block back
 * (none is a leak).  A popped block's old contents are not looked at: it is
 * filled as any new block.  A write into the header of a cached block
 * (op_smash_cached) makes the pop that reaches it report CORRUPTED_BLOCK and
 * drop its head list, whose blocks the backend keeps to the end; the request
 * is served as with an empty head list.  A free walks no list, so a write
 * into a block of a spare list goes unreported by a free that gives its own
 * block back (extension bit 7, op_smash_spare).  The walks that give a list
 * back check every block's header first: a write into the header of any
 * cached block, at any depth of any list, just before destroy (extension bit
 * 6, smash_for_destroy) makes destroy report CORRUPTED_BLOCK once, after the
 * leak report, and give back every other cached block but those below it in
 * its list.
 *
 * The backend refuses requests above BACKEND_CAP, so valid sizes up to
 * STRATEGY_MAX_ALLOCATION fail with OUT_OF_MEMORY without allocating, and it
 * never returns freed memory to the system before the run ends, so a double
 * free is a refused request, not a use after free.
 *
 * DEGRADED is reached through //:testing_hooks: a corruption, validate (which
 * must notice it and degrade), and the corruption undone.
 *
 * Files: ops.h holds the constants and the shadow model's types, ops_print.c
 * the printers op (OP_PRINT) and its checks of their output; the rest is
 * here. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "fuzz_input.h"
#include "leak_report.h"
#include "ops.h"
#include "testing_hooks.h"

/* ---- the backend: capped, never reusing memory ------------------------ */

/* Each allocation starts SLACK_BYTES (zeroed) before the pointer handed to
 * the library: default_deallocate documents that for a pointer whose header
 * looks like an aligned block's it reads 24 bytes before the pointer, i.e.
 * 8 bytes before the backend's block, so those must be readable.  (A
 * backend that returns the start of a mapping does not guarantee that; see
 * docs/FUZZING.md, "Known issues".) */
#define SLACK_BYTES 16u

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
            b->free_calls++;
            b->last_freed = ptr;
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

/* True if the backend handed out `raw` and has had it back. */
static bool backend_got_back(const Backend* b, const unsigned char* raw) {
    for (size_t i = 0; i < b->count; i++) {
        if (b->blocks[i].raw == raw) return b->blocks[i].freed;
    }
    return false;
}

static void backend_release_all(Backend* b) {
    for (size_t i = 0; i < b->count; i++) free(b->blocks[i].base);
    free(b->blocks);
    memset(b, 0, sizeof *b);
}

/* ---- the quiet error handler ------------------------------------------ */

static void quiet_handler(const StrategyErrorInfo* info, void* user_data) {
    ErrorLog* log = user_data;
    FUZZ_CHECK(info != NULL);
    FUZZ_CHECK((unsigned)info->error < STRATEGY_ERROR_COUNT && info->error != STRATEGY_OK);
    FUZZ_CHECK(info->strategy == log->strategy);
    log->calls++;
    log->count[info->error]++;
    log->last = *info;
    if (info->error == STRATEGY_ERROR_LEAK) log->leak = *info;
}

/* ---- checks against the shadow (the model: ops.h) ------------------------ */

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

/* Blocks in the main strategy's quarantine: the last `quarantine` released. */
static size_t quarantined_count(const Run* r) {
    return r->freed_total < r->quarantine ? (size_t)r->freed_total : r->quarantine;
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
    FUZZ_CHECK(r->backend.outstanding ==
               r->live_count + r->other_live_count + quarantined_count(r) + r->cached_total + r->lost.count);
    FUZZ_CHECK(get_current_usage(r->other) == r->other_current);
    FUZZ_CHECK(get_error_count(r->other, STRATEGY_ERROR_WRONG_STRATEGY) == r->other_invalid_pointer);
    FUZZ_CHECK(r->other_log.calls == r->other_invalid_pointer);
    check_histogram(r);
}

/* ---- sizes ------------------------------------------------------------- */

/* A size from the whole range: the boundaries of the valid range and of the
 * backend's cap, their neighbours, powers of two, raw values, and (most
 * often) ordinary small sizes. */
static size_t decode_size(const Run* r, FuzzInput* in) {
    uint8_t kind = fuzz_u8(in);
    /* With the extension byte, kinds 13-15 are sizes 1 .. 64 (the first
     * eight cache classes), so the same classes are freed and allocated again
     * often (and fill up); inputs without it keep their sizes. */
    if (r->extended && kind % 16 >= 13) return 1 + fuzz_u8(in) % 64u;
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
    /* Added with the debug options; inputs written before them use only
     * the opcodes above (as bytes 0..16), which keep their meaning. */
    OP_OVERFLOW,         /* index byte, how byte, mask byte (op_overflow) */
    OP_PRINT,            /* selector byte (op_print) */
    OP_ALLOCATE_AT,      /* site byte (op_allocate_at), size (decode_size) */
    /* Added with the thread cache, and decoded only in inputs with the
     * extension byte (their opcodes are taken mod OP_COUNT, the others'
     * mod OP_DEALLOCATE_DIRECT), so older inputs keep their meaning. */
    OP_DEALLOCATE_DIRECT, /* index byte: default_deallocate called directly, not through the vtable */
    OP_SMASH_CACHED,      /* class selector byte, header byte index, xor byte (op_smash_cached) */
    /* Added with release_cached_blocks: extended inputs written before it
     * took opcodes mod 22 and now mod 23 (see docs/FUZZING.md). */
    OP_RELEASE_CACHED,    /* -- (op_release_cached) */
    OP_COUNT
} Op;

/* The shadow's side of one successful allocation of `size` bytes. */
static void count_allocation(Shadow* sh, size_t size) {
    sh->total_allocated += size;
    sh->allocations++;
    sh->size_classes[63u - (unsigned)__builtin_clzll((unsigned long long)size)]++;
}

/* ---- the thread cache's model ------------------------------------------- */

/* The class of a plain block of `size` bytes in the main strategy's thread
 * cache, 0 if it has no cache or does not cache that size. */
static size_t cache_class(const Run* r, size_t size) {
    if (r->cache_blocks == 0 || size == 0 || size > CACHE_MAX_SIZE) return 0;
    return (size + 7u) / 8u;
}

/* The room of a block of class c (what the backend is asked for beyond the
 * header): the largest size of the class. */
static size_t cache_room(size_t c) { return 8u * c; }

/* The first non-empty list of class c in the depot, NULL if none. */
static CacheClass* depot_first(Run* r, size_t c) {
    for (size_t k = 0; k < DEPOT_LISTS; k++) {
        if (r->depot[c][k].count != 0) return &r->depot[c][k];
    }
    return NULL;
}

/* Two lists trade places: a full head list becomes the spare one, a spare
 * list goes to an empty slot of the depot (depot_put), and the spare list
 * or a slot's list refills an empty head list (cache_take). */
static void swap_lists(CacheClass* a, CacheClass* b) {
    CacheClass kept = *a;
    *a = *b;
    *b = kept;
}

/* The list an empty head list of class c is refilled from: the spare list,
 * else, unless the class is cooling down (a free into its full lists
 * looked at the depot within the thread's last 2N refills of c), the
 * depot's first; NULL if none. */
static CacheClass* refill_source(Run* r, size_t c) {
    if (r->spare[c].count != 0) return &r->spare[c];
    return r->cooldown[c] != 0 ? NULL : depot_first(r, c);
}

/* A request of class c found the head list empty and went on to refill
 * it: a refill without the spare list counts the cooldown down. */
static void count_refill(Run* r, size_t c) {
    if (r->spare[c].count == 0 && r->cooldown[c] != 0) r->cooldown[c]--;
}

/* The block a pop from class c takes (the last one kept in the head list,
 * or the last of the list an empty head list is refilled from), NULL if
 * none. */
static unsigned char* cache_top(Run* r, size_t c) {
    const CacheClass* k = r->cache[c].count != 0 ? &r->cache[c] : refill_source(r, c);
    return k == NULL ? NULL : k->raw[k->count - 1];
}

/* Puts `raw` last in list `k`, growing it as needed. */
static void list_append(CacheClass* k, unsigned char* raw) {
    if (k->count == k->capacity) {
        size_t capacity = k->capacity == 0 ? 8 : 2 * k->capacity;
        unsigned char** grown = realloc(k->raw, capacity * sizeof *grown);
        FUZZ_CHECK(grown != NULL);
        k->raw = grown;
        k->capacity = capacity;
    }
    k->raw[k->count++] = raw;
}

static void cache_keep(Run* r, size_t c, unsigned char* raw) {
    FUZZ_CHECK(r->cache[c].count < r->cache_blocks);
    list_append(&r->cache[c], raw);
    r->cached_total++;
}

/* Class c's lists: the head list, the spare list and the depot's (the
 * order smash_for_destroy counts blocks in). */
#define CLASS_LISTS (2 + DEPOT_LISTS)
static void class_lists(Run* r, size_t c, CacheClass* lists[CLASS_LISTS]) {
    lists[0] = &r->cache[c];
    lists[1] = &r->spare[c];
    for (size_t k = 0; k < DEPOT_LISTS; k++) lists[2 + k] = &r->depot[c][k];
}

/* The pointer `ptr`, freed before, is a live block again (or went back to
 * the backend with its header cleared): no longer one to free twice. */
static void forget_freed(Run* r, const unsigned char* ptr) {
    size_t count = r->freed_total < MAX_FREED ? (size_t)r->freed_total : MAX_FREED;
    for (size_t i = 0; i < count; i++) {
        if (r->freed[i] == ptr) r->freed[i] = NULL;
    }
}

/* Takes the last block kept in class c out of the model (a pop), an empty
 * head list first refilled from the spare list or the depot's first. */
static unsigned char* cache_take(Run* r, size_t c) {
    CacheClass* k = &r->cache[c];
    if (k->count == 0) {
        CacheClass* source = refill_source(r, c);
        FUZZ_CHECK(source != NULL && source->count == r->cache_blocks);
        swap_lists(k, source);
    }
    FUZZ_CHECK(k->count != 0);
    unsigned char* raw = k->raw[--k->count];
    r->cached_total--;
    forget_freed(r, raw + HEADER_BYTES);
    return raw;
}

/* Every block of list `k` went back to the backend. */
static void check_list_back(const Run* r, const CacheClass* k) {
    for (size_t i = 0; i < k->count; i++) FUZZ_CHECK(backend_got_back(&r->backend, k->raw[i]));
}

/* The depot's first empty list of class c, NULL if all are taken. */
static CacheClass* depot_first_empty(Run* r, size_t c) {
    for (size_t k = 0; k < DEPOT_LISTS; k++) {
        if (r->depot[c][k].count == 0) return &r->depot[c][k];
    }
    return NULL;
}

/* Class c's spare list goes to the depot's first empty slot (the spare
 * list is then empty).  False if the depot has none for c. */
static bool depot_put(Run* r, size_t c) {
    CacheClass* empty = depot_first_empty(r, c);
    if (empty == NULL) return false;
    swap_lists(&r->spare[c], empty);
    return true;
}

static void cache_free_all(Run* r) {
    for (size_t c = 0; c < CACHE_CLASSES; c++) {
        free(r->cache[c].raw);
        free(r->spare[c].raw);
        for (size_t k = 0; k < DEPOT_LISTS; k++) free(r->depot[c][k].raw);
    }
    memset(r->cache, 0, sizeof r->cache);
    memset(r->spare, 0, sizeof r->spare);
    memset(r->depot, 0, sizeof r->depot);
    memset(r->cooldown, 0, sizeof r->cooldown);
    memset(r->spill, 0, sizeof r->spill);
    r->cached_total = 0;
}

/* ---- allocating --------------------------------------------------------- */

/* What an allocating call is expected to do. */
typedef struct Request {
    size_t size;      /* the block's size if valid */
    size_t reported;  /* the size an INVALID_SIZE error reports */
    bool invalid;     /* refused as STRATEGY_ERROR_INVALID_SIZE */
    size_t backend;   /* what the backend is asked for (valid requests) */
    size_t alignment; /* of the result: 16, or the aligned block's */
    size_t offset;    /* the result lies at least this far into the backend's block */
    bool zeroed;      /* every byte of the result is zero */
    int site;         /* the STRATEGY_ALLOCATE site of the result, 0 if none */
    size_t cache;     /* the cache class the call may pop from (the vtable's allocate), else 0 */
} Request;

/* The backend's state before an allocating call, which begins with the
 * backend's last request and block cleared. */
typedef struct Before {
    uint64_t calls;      /* handler calls */
    bool fail_next;      /* the backend's next request fails */
    uint64_t free_calls; /* blocks the backend had back */
} Before;

static Before before_call(Run* r) {
    Before before = {r->log.calls, r->backend.fail_next, r->backend.free_calls};
    r->backend.last_request = 0;
    r->backend.last_raw = NULL;
    return before;
}

/* What the backend is asked for to hold a plain block of `size` bytes: the
 * header, the block (with a thread cache, a cached size rounded up to its
 * class's room) and, with check_overflow, the canary. */
static size_t plain_backend_bytes(const Run* r, size_t size) {
    size_t c = cache_class(r, size);
    return (c != 0 ? cache_room(c) : size) + HEADER_BYTES + r->canary;
}

/* A plain block. */
static Request plain_request(const Run* r, size_t size) {
    return (Request){size, size, size == 0 || size > STRATEGY_MAX_ALLOCATION, plain_backend_bytes(r, size),
                     16, HEADER_BYTES, false, 0, 0};
}

/* A plain block requested through the vtable's allocate, or through a
 * direct default_allocate (default_allocate_at, a reallocate of NULL, an
 * alignment of 16 or less), which goes on as the vtable's: a request of a
 * cached size takes the last block kept in its class (settle_allocation).
 * On the hot path such a request looks the thread's cache up before the
 * backend is asked, which gives the thread its slot. */
static Request cached_request(Run* r, size_t size) {
    Request q = plain_request(r, size);
    q.cache = cache_class(r, size);
    if (q.cache != 0 && r->shadow.status == STRATEGY_ACTIVE && !r->gates_closed) r->slot_made = true;
    return q;
}

/* Checks the outcome `p` of an allocating call against `q`, the shadow and
 * the backend's state `before` it; on success records the block (filled
 * with the pattern) and returns true. */
static bool settle_allocation(Run* r, unsigned char* p, const Request* q, const Before* before) {
    Shadow* sh = &r->shadow;
    uint64_t current_before = sh->current, allocations_before = sh->allocations;
    size_t size = q->size;
    bool allowed = sh->status == STRATEGY_ACTIVE;
    /* A valid request the status allows takes the last block kept in its
     * class, if any, without asking the backend (on the hot path, whose
     * gate is open while the strategy is ACTIVE, see op_degrade). */
    bool looks = !q->invalid && allowed && !r->gates_closed; /* at the thread's cache, for a cached size */
    unsigned char* popped = looks ? cache_top(r, q->cache) : NULL;
    if (looks && q->cache != 0 && popped == NULL) count_refill(r, q->cache);
    bool backend_refuses = !q->invalid && popped == NULL && (before->fail_next || q->backend > BACKEND_CAP);
    /* One thread: usage may reach the limit exactly. */
    bool over_limit = r->limit != 0 && size > r->limit - sh->current;
    if (popped != NULL) {
        /* The backend was not asked: a failure it was told of stays pending. */
        FUZZ_CHECK(r->backend.last_request == 0 && r->backend.fail_next == before->fail_next);
    }
    if (q->invalid || !allowed) {
        FUZZ_CHECK(p == NULL);
        FUZZ_CHECK(r->backend.last_request == 0); /* the backend was not asked */
        FUZZ_CHECK(r->backend.free_calls == before->free_calls);
        StrategyError want = q->invalid ? STRATEGY_ERROR_INVALID_SIZE : STRATEGY_ERROR_ILLEGAL_STATE;
        /* When both apply, which one is reported is not documented. */
        if (q->invalid && !allowed && r->log.last.error == STRATEGY_ERROR_ILLEGAL_STATE) {
            want = STRATEGY_ERROR_ILLEGAL_STATE;
        }
        expect_error(r, before->calls, want, NULL, want == STRATEGY_ERROR_INVALID_SIZE ? q->reported : size);
    } else if (backend_refuses || over_limit) {
        FUZZ_CHECK(p == NULL);
        StrategyError want = backend_refuses ? STRATEGY_ERROR_OUT_OF_MEMORY : STRATEGY_ERROR_LIMIT_EXCEEDED;
        /* Likewise when the backend fails and the limit refuses. */
        if (backend_refuses && over_limit && r->log.last.error == STRATEGY_ERROR_LIMIT_EXCEEDED) {
            want = STRATEGY_ERROR_LIMIT_EXCEEDED;
        }
        expect_error(r, before->calls, want, NULL, size);
        /* The backend was asked at most once; a block it gave for a request
         * the limit refused went back, and so did a popped one (check_all
         * counts the backend's blocks). */
        FUZZ_CHECK(r->backend.last_request == 0 || r->backend.last_request == q->backend);
        unsigned char* back = popped != NULL ? cache_take(r, q->cache) : r->backend.last_raw;
        FUZZ_CHECK(r->backend.free_calls == before->free_calls + (back != NULL ? 1 : 0));
        if (back != NULL) FUZZ_CHECK(r->backend.last_freed == back);
    } else {
        FUZZ_CHECK(p != NULL);
        FUZZ_CHECK(r->log.calls == before->calls);
        FUZZ_CHECK(r->backend.free_calls == before->free_calls);
        FUZZ_CHECK(((uintptr_t)p & (q->alignment - 1)) == 0);
        unsigned char* raw = NULL;
        if (popped != NULL) {
            /* Exactly the block the model pops; its room is its class's. */
            raw = cache_take(r, q->cache);
            FUZZ_CHECK(p == raw + HEADER_BYTES);
        } else {
            /* A valid request reaches the backend with room for the header. */
            FUZZ_CHECK(r->backend.last_request == q->backend);
            raw = r->backend.last_raw;
        }
        /* The block (and its canary) lies inside what the backend returned. */
        FUZZ_CHECK(raw != NULL && p >= raw + q->offset && p + size + r->canary <= raw + q->backend);
        if (q->zeroed) {
            for (size_t i = 0; i < size; i++) FUZZ_CHECK(p[i] == 0);
        }
        Block b = {p, raw, size, r->next_seed++, q->alignment > 16 ? q->alignment : 0, q->site, false};
        fill_block(&b);
        FUZZ_CHECK(r->live_count < MAX_LIVE); /* every allocating op makes room first */
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

/* The vtable's allocate, or a direct default_allocate. */
static void op_allocate(Run* r, size_t size) {
    Before before = before_call(r);
    unsigned char* p = r->s->base.allocate(&r->s->base, size);
    Request q = cached_request(r, size);
    settle_allocation(r, p, &q, &before);
}

/* Files OP_ALLOCATE_AT names: two arrays with the same text (one site per
 * file:line, whatever the pointer), and one with characters JSON escapes. */
static const char kFileA[] = SITE_FILE_A;
static const char kFileB[] = SITE_FILE_A;
static const char kFileC[] = SITE_FILE_C;

/* The id of a file:line site: 1 .. 2 * SITE_LINES (kFileA and kFileB are
 * one file). */
static int site_id(const char* file, int line) { return site_number(file == kFileC, line); }

/* default_allocate_at: with track_allocations the block's site is
 * file:line; otherwise exactly default_allocate, which goes on as the
 * vtable's allocate (cached_request). */
static void op_allocate_at(Run* r, uint8_t site_byte, size_t size) {
    static const char* const files[4] = {kFileA, kFileB, kFileC, kFileA};
    const char* file = files[site_byte % 4];
    int line = 1 + (site_byte >> 2) % SITE_LINES;
    FUZZ_CHECK(default_allocate_at(NULL, size, file, line) == NULL);
    Before before = before_call(r);
    unsigned char* p = default_allocate_at(&r->s->base, size, file, line);
    Request q = cached_request(r, size);
    q.site = site_id(file, line);
    settle_allocation(r, p, &q, &before);
}

static void op_allocate_zeroed(Run* r, size_t count, size_t size) {
    Before before = before_call(r);
    unsigned char* p = r->s->base.allocate_zeroed(&r->s->base, count, size);
    bool overflow = count != 0 && size > SIZE_MAX / count;
    Request q = plain_request(r, overflow ? 0 : count * size);
    q.reported = overflow ? SIZE_MAX : count * size;
    q.invalid = q.invalid || overflow;
    q.zeroed = true;
    settle_allocation(r, p, &q, &before);
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
    Before before = before_call(r);
    unsigned char* p = r->s->base.allocate_aligned(&r->s->base, alignment, size);
    bool power_of_two = alignment != 0 && (alignment & (alignment - 1)) == 0;
    /* An alignment of 16 or less is exactly default_allocate. */
    Request q = power_of_two && alignment <= 16 ? cached_request(r, size) : plain_request(r, size);
    if (!power_of_two || alignment > STRATEGY_MAX_ALIGNMENT) {
        q.invalid = true;
    } else if (alignment > 16 && !q.invalid) {
        /* Documented: size + alignment + 23 (prefix word, header, padding),
         * and the canary. */
        q.backend = size + alignment + 23 + r->canary;
        q.alignment = alignment;
        q.offset = HEADER_BYTES + 8;
    }
    settle_allocation(r, p, &q, &before);
}

/* Whether class c keeps a block freed into it: its head list has room;
 * or, full, becomes the spare list, the spare list there first going to
 * the depot.  False (the block goes straight back) while the class
 * spills, one less to go, or when the depot has no room for the spare
 * list, which starts a spill of N - 1.  A look at the depot cools the
 * class down (refill_source). */
static bool class_keeps(Run* r, size_t c) {
    if (r->cache[c].count < r->cache_blocks) return true;
    if (r->spill[c] != 0) {
        r->spill[c]--;
        return false;
    }
    if (r->spare[c].count != 0) {
        r->cooldown[c] = r->cache_blocks < 128 ? 2 * (unsigned)r->cache_blocks : 255;
        if (!depot_put(r, c)) {
            r->spill[c] = r->cache_blocks <= 256 ? (unsigned)r->cache_blocks - 1 : 255;
            return false;
        }
    }
    swap_lists(&r->cache[c], &r->spare[c]); /* the full head list becomes the spare one */
    return true;
}

/* The main strategy released block `b` (a free, or the old block of a
 * resize), the backend having had `free_calls` frees before the call;
 * `cacheable`: a free (through the vtable's deallocate or a direct
 * default_deallocate), the way into the thread cache.  A plain block of a
 * cached size stays in its class while the head list has room; a full
 * head list becomes the spare one, whose list first goes to the depot.
 * With the depot's lists of the class full too, the block goes straight
 * back and both lists stay, and so do the blocks of the next N - 1 frees
 * into the full lists (the spill).  Otherwise, without a quarantine the
 * block goes straight back to the backend; with one it is kept, and once
 * `quarantine` blocks are kept the oldest goes back (default_strategy.h):
 * the block released `quarantine` releases ago.  Checks that exactly
 * those blocks (or none) went back, then remembers `b` for double frees. */
static void settle_release(Run* r, const Block* b, uint64_t free_calls, bool cacheable) {
    unsigned char* back = b->raw; /* the last block the backend got back */
    uint64_t backs = 1;           /* how many it got back */
    size_t c = cacheable && b->alignment == 0 ? cache_class(r, b->size) : 0;
    if (c != 0 && class_keeps(r, c)) {
        backs = 0;
        back = NULL;
        cache_keep(r, c, b->raw);
    } else if (r->quarantine != 0) { /* never with a cache (a debug option) */
        size_t slot = (size_t)(r->freed_total % r->quarantine);
        back = r->freed_total >= r->quarantine ? r->quarantined[slot] : NULL;
        backs = back != NULL ? 1 : 0;
        r->quarantined[slot] = b->raw;
    }
    FUZZ_CHECK(r->backend.free_calls == free_calls + backs);
    if (back != NULL) FUZZ_CHECK(r->backend.last_freed == back);
    size_t at = (size_t)(r->freed_total % MAX_FREED);
    r->freed_aligned[at] = b->alignment != 0;
    r->freed_release[at] = r->freed_total;
    r->freed[at] = b->ptr;
    r->freed_total++;
}

/* What freeing (or resizing) freed[i] again reports.  A block still in the
 * quarantine or the thread cache has its header intact: DOUBLE_FREE, always
 * (documented).  The backend scribbles over everything after the first 16
 * bytes of a block it got back, which for an aligned block includes its
 * header (it starts at least 24 bytes in): "a freed block whose header the
 * backend reused" is INVALID_POINTER.  A plain block's header is the
 * backend block's first 16 bytes, left intact: DOUBLE_FREE. */
static StrategyError freed_error(const Run* r, size_t i) {
    bool quarantined = r->quarantine != 0 && r->freed_release[i] + r->quarantine >= r->freed_total;
    return r->freed_aligned[i] && !quarantined ? STRATEGY_ERROR_INVALID_POINTER : STRATEGY_ERROR_DOUBLE_FREE;
}

/* Frees a live block through the vtable or (`direct`) with a direct
 * default_deallocate call, which goes on as the vtable's entry. */
static void free_live(Run* r, size_t index, bool direct) {
    if (r->live_count == 0) return;
    index %= r->live_count;
    Block b = r->live[index];
    check_block_full(&b);
    uint64_t calls = r->log.calls;
    uint64_t free_calls = r->backend.free_calls;
    if (direct) {
        default_deallocate(&r->s->base, b.ptr);
    } else {
        r->s->base.deallocate(&r->s->base, b.ptr);
    }
    r->live[index] = r->live[--r->live_count];
    r->shadow.current -= b.size;
    r->shadow.total_freed += b.size;
    r->shadow.deallocations++;
    settle_release(r, &b, free_calls, true);
    /* ACTIVE and DEGRADED (the only statuses reached here) allow frees,
     * and a free walks no list: no report. */
    FUZZ_CHECK(r->log.calls == calls);
}

static void op_deallocate(Run* r, size_t index) { free_live(r, index, false); }

/* Resizes a live block (or NULL, which is allocate, or a freed pointer,
 * which must be refused as a double free) to `size`. */
static void op_reallocate(Run* r, uint8_t selector, size_t size) {
    Before before = before_call(r);
    uint64_t calls = before.calls;
    bool fail_next = before.fail_next;
    size_t freed_count = r->freed_total < MAX_FREED ? r->freed_total : MAX_FREED;
    if (r->live_count == 0 || selector % 8 == 0) {
        if (r->live_count == MAX_LIVE) return;
        unsigned char* p = r->s->base.reallocate(&r->s->base, NULL, size);
        Request q = cached_request(r, size); /* exactly default_allocate */
        settle_allocation(r, p, &q, &before);
        return;
    }
    Shadow* sh = &r->shadow;
    bool invalid = size == 0 || size > STRATEGY_MAX_ALLOCATION;
    bool allowed = sh->status == STRATEGY_ACTIVE;
    if (selector % 8 == 1 && freed_count != 0) {
        size_t i = (selector >> 3) % freed_count;
        unsigned char* freed = r->freed[i];
        if (freed == NULL) return; /* handed out again since */
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
    /* A new block of the old one's kind: plain (with a thread cache, its
     * class's room; never from the cache) or aligned. */
    size_t request = old.alignment != 0 ? size + old.alignment + 23 + r->canary : plain_backend_bytes(r, size);
    bool backend_refuses = fail_next || (!invalid && request > BACKEND_CAP);
    /* The old block is counted while the new one is: room for both. */
    bool over_limit = r->limit != 0 && size > r->limit - sh->current;
    uint64_t current_before = sh->current, allocations_before = sh->allocations;
    uint64_t free_calls = r->backend.free_calls;
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
        /* A new block the limit refused went back; the old one stays. */
        FUZZ_CHECK(r->backend.free_calls == free_calls + (r->backend.last_raw != NULL ? 1 : 0));
        if (r->backend.last_raw != NULL) FUZZ_CHECK(r->backend.last_freed == r->backend.last_raw);
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
    /* Over a custom backend the block is moved: a new block, then the old
     * one released. */
    FUZZ_CHECK(p != old.ptr);
    unsigned char* raw = r->backend.last_raw;
    FUZZ_CHECK(raw != NULL && p + size + r->canary <= raw + request);
    Block b = {p, raw, size, old.seed, old.alignment, old.site, true};
    check_range(&b, 0, old.size < size ? old.size : size); /* the common prefix */
    fill_block(&b);
    r->live[index] = b;
    settle_release(r, &old, free_calls, false); /* never into the thread cache */
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
    if (count == 0 || r->freed[index % count] == NULL) return; /* none, or handed out again since */
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
    /* Bytes 12..15 carry the strategy's tag (the tag is the high half of
     * check ^ address ^ size word): changed, the header is no longer
     * recognisably this strategy's.  A changed size word keeps the tag
     * (misuse also reads it as if the size word's high half were 0). */
    expect_refused_free(r, b->ptr,
                        byte % HEADER_BYTES < 12 ? STRATEGY_ERROR_CORRUPTED_BLOCK : STRATEGY_ERROR_INVALID_POINTER);
    *at ^= mask; /* repaired: the block is live again and frees normally later */
}

/* Class `selector` % n among the n classes marked in `marked` (class 1
 * upward), 0 if none is. */
static size_t pick_class(const bool marked[CACHE_CLASSES], size_t selector) {
    size_t n = 0;
    for (size_t c = 1; c < CACHE_CLASSES; c++) n += marked[c];
    if (n == 0) return 0;
    size_t c = 1;
    for (size_t skip = selector % n;; c++) {
        if (marked[c] && skip-- == 0) return c;
    }
}

/* A write into the header of the first block of a class's head list in the
 * thread cache, then a request of that class through the vtable, which pops
 * that block first: documented as STRATEGY_ERROR_CORRUPTED_BLOCK (the
 * block, size 0), the head list dropped (its blocks never used again nor
 * given back), and the request served as if the head list had been empty
 * (the spare list, the depot, else the backend).  Only where that request
 * can succeed (ACTIVE with open gates, no pending backend failure, under
 * the limit), so that the report is the call's only one, and where the
 * shadow has room for one more live block. */
static void op_smash_cached(Run* r, uint8_t selector, size_t byte, uint8_t mask) {
    if (r->cache_blocks == 0 || r->shadow.status != STRATEGY_ACTIVE || r->gates_closed || r->backend.fail_next ||
        r->live_count == MAX_LIVE) { /* the request's block must fit in r->live */
        return;
    }
    bool cached[CACHE_CLASSES] = {false};
    for (size_t c = 1; c < CACHE_CLASSES; c++) cached[c] = r->cache[c].count != 0;
    size_t c = pick_class(cached, selector);
    if (c == 0) return;
    size_t size = cache_room(c); /* the largest size of the class */
    if (r->limit != 0 && size > r->limit - r->shadow.current) return;
    if (mask == 0) mask = 1;
    CacheClass* head = &r->cache[c];
    unsigned char* top = head->raw[head->count - 1];
    /* The header is inside the backend's block, and not poisoned while the
     * block is cached: writing it is defined. */
    top[byte % HEADER_BYTES] ^= mask;
    forget_freed(r, top + HEADER_BYTES); /* its header no longer says "freed" */
    Before before = before_call(r);
    unsigned char* p = r->s->base.allocate(&r->s->base, size);
    expect_error(r, before.calls, STRATEGY_ERROR_CORRUPTED_BLOCK, top + HEADER_BYTES, 0);
    before.calls++;
    for (size_t i = 0; i < head->count; i++) list_append(&r->lost, head->raw[i]);
    r->cached_total -= head->count;
    head->count = 0;
    Request q = plain_request(r, size);
    q.cache = c;
    r->slot_made = true;
    FUZZ_CHECK(settle_allocation(r, p, &q, &before));
}

/* release_cached_blocks: every list of the thread cache's model (head,
 * spare and depot lists: one thread, so the calling thread's lists are all
 * the threads') goes back to the backend, each from its last kept block
 * on, and the count is returned; nothing else changes (no report, no
 * statistic).  Without a cache, and on the second strategy (which has
 * none) and NULL, 0.  It looks the thread's cache up, which gives the
 * thread its statistics slot (op_degrade). */
static void op_release_cached(Run* r) {
    uint64_t calls = r->log.calls, free_calls = r->backend.free_calls;
    uint64_t other_calls = r->other_log.calls;
    FUZZ_CHECK(release_cached_blocks(NULL) == 0 && release_cached_blocks(r->other) == 0);
    size_t released = release_cached_blocks(r->s);
    FUZZ_CHECK(r->log.calls == calls && r->other_log.calls == other_calls);
    FUZZ_CHECK(released == r->cached_total);
    FUZZ_CHECK(r->backend.free_calls == free_calls + released);
    for (size_t c = 1; c < CACHE_CLASSES; c++) {
        CacheClass* lists[CLASS_LISTS];
        class_lists(r, c, lists);
        for (size_t l = 0; l < CLASS_LISTS; l++) {
            check_list_back(r, lists[l]);
            lists[l]->count = 0;
        }
    }
    r->cached_total = 0;
    if (r->cache_blocks != 0) r->slot_made = true;
}

/* The index of a live block whose free keeps it in class c of the thread
 * cache (plain, of a cached size), or r->live_count if none. */
static size_t live_of_class(const Run* r, size_t c) {
    size_t i = 0;
    while (i < r->live_count && !(r->live[i].alignment == 0 && cache_class(r, r->live[i].size) == c)) i++;
    return i;
}

/* Extension bit 7 makes opcode 21 this: a write into the header of a
 * block of a full spare list, of a class whose head list is full and whose
 * depot lists are all taken, then a free of a live block of the class.
 * The free gives its own block straight back (a spill, or the depot found
 * full: settle_release checks it) and walks no list, so nothing reports
 * the write (free_live checks it); the write is then undone.  (A written
 * header is reported where the cache reaches the block: op_smash_cached
 * for a pop, smash_for_destroy for destroy's walk.)  The selector picks
 * the class among those ready, then the block. */
static void op_smash_spare(Run* r, uint8_t selector, size_t byte, uint8_t mask) {
    if (r->cache_blocks == 0) return;
    size_t ready = 0;
    bool is_ready[CACHE_CLASSES] = {false};
    for (size_t c = 1; c < CACHE_CLASSES; c++) {
        is_ready[c] = r->cache[c].count == r->cache_blocks && r->spare[c].count == r->cache_blocks &&
                      depot_first_empty(r, c) == NULL && live_of_class(r, c) < r->live_count;
        ready += is_ready[c];
    }
    size_t c = pick_class(is_ready, selector);
    if (c == 0) return;
    unsigned char* raw = r->spare[c].raw[(selector / ready) % r->cache_blocks];
    if (mask == 0) mask = 1;
    /* Not poisoned while cached (op_smash_cached). */
    raw[byte % HEADER_BYTES] ^= mask;
    free_live(r, live_of_class(r, c), false);
    FUZZ_CHECK(r->spare[c].count == r->cache_blocks && r->cache[c].count == r->cache_blocks);
    raw[byte % HEADER_BYTES] ^= mask;
}

static void op_other_strategy(Run* r, uint8_t selector, size_t index) {
    switch (selector % 4) {
    case 0: /* allocate in the other strategy */
        if (r->other_live_count < MAX_OTHER_LIVE && !r->backend.fail_next) {
            size_t size = 1 + index % 256;
            unsigned char* p = r->other->base.allocate(&r->other->base, size);
            FUZZ_CHECK(p != NULL);
            Block b = {p, r->backend.last_raw, size, r->next_seed++, 0, 0, false};
            fill_block(&b);
            r->other_live[r->other_live_count++] = b;
            r->other_current += size;
            if (r->other_current > r->other_peak) r->other_peak = r->other_current;
            r->other_total_allocated += size;
            r->other_allocations++;
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
            r->other_total_freed += b.size;
            r->other_deallocations++;
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
     * recorded something on this strategy, was refused by the limit (which
     * is checked in the slot) or looked up its thread cache. */
    bool has_slot = r->shadow.allocations != 0 || r->shadow.errors[STRATEGY_ERROR_LIMIT_EXCEEDED] != 0 ||
                    r->slot_made;
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
    /* A failed validate closes the gates, unless the magic number does not
     * even recognise the strategy.  With a corrupted status there is no
     * DEGRADED to move to, so after the undo the strategy is ACTIVE with
     * its gates closed: allocations succeed, but not from the cache. */
    if (!valid && kind != MS_CORRUPT_MAGIC) r->gates_closed = true;
    if (!valid && may_degrade && r->shadow.status == STRATEGY_ACTIVE) {
        expect_error(r, calls, STRATEGY_ERROR_ILLEGAL_STATE, NULL, 0);
        r->shadow.status = STRATEGY_DEGRADED;
    } else {
        FUZZ_CHECK(r->log.calls == calls);
    }
    ms_testing_undo(r->s);
    FUZZ_CHECK(r->s->base.validate(&r->s->base));
}

/* ---- a write past the end (check_overflow) -------------------------------- */

/* Changes `how % 8 + 1` bytes just past the end of a live block (the
 * canary, inside the backend's block) by XOR with `mask` (0 counts as
 * 0x80), then frees it (bit 3 of `how`: resizes it instead).  Documented:
 * the canary is checked when the block is freed or resized, and a damaged
 * one is STRATEGY_ERROR_CORRUPTED_BLOCK with the operation refused: nothing
 * freed, no statistic changed, the block not written, still owned.  The
 * canary is then repaired; with bit 4 of `how` the block is freed (normally)
 * at once.  Skipped without check_overflow: past the end there may be
 * nothing the block owns. */
static void op_overflow(Run* r, size_t index, uint8_t how, uint8_t mask) {
    if (r->canary == 0 || r->live_count == 0) return;
    index %= r->live_count;
    Block b = r->live[index];
    size_t n = 1 + how % CANARY_BYTES;
    if (mask == 0) mask = 0x80;
    unsigned char* past = b.ptr + b.size;
    for (size_t i = 0; i < n; i++) past[i] ^= mask;
    uint64_t calls = r->log.calls;
    uint64_t free_calls = r->backend.free_calls;
    size_t outstanding = r->backend.outstanding;
    uint64_t current = r->shadow.current, deallocations = r->shadow.deallocations;
    if (how & 8) {
        size_t size = b.size + 1 + mask; /* valid: live blocks are below BACKEND_CAP */
        bool allowed = r->shadow.status == STRATEGY_ACTIVE;
        r->backend.last_request = 0;
        FUZZ_CHECK(r->s->base.reallocate(&r->s->base, b.ptr, size) == NULL);
        expect_error(r, calls, allowed ? STRATEGY_ERROR_CORRUPTED_BLOCK : STRATEGY_ERROR_ILLEGAL_STATE, b.ptr,
                     size);
        FUZZ_CHECK(r->backend.last_request == 0); /* refused before the backend was asked */
    } else {
        r->s->base.deallocate(&r->s->base, b.ptr);
        expect_error(r, calls, STRATEGY_ERROR_CORRUPTED_BLOCK, b.ptr, 0);
    }
    FUZZ_CHECK(r->backend.free_calls == free_calls && r->backend.outstanding == outstanding);
    FUZZ_CHECK(get_current_usage(r->s) == current && get_deallocation_count(r->s) == deallocations);
    check_block_full(&b);
    /* Not written either: the damaged bytes are as they were left. */
    for (size_t i = 0; i < n; i++) {
        past[i] ^= mask;
    }
    if (how & 16) op_deallocate(r, index);
}

/* The allocating operations' common first step: with the live table full,
 * the operation frees a block instead (the one its size byte picks) and
 * returns false. */
static bool room_for_a_block(Run* r, size_t size) {
    if (r->live_count < MAX_LIVE) return true;
    op_deallocate(r, size);
    return false;
}

static void run_op(Run* r, FuzzInput* in) {
    Op op = (Op)(fuzz_u8(in) % (r->extended ? OP_COUNT : OP_DEALLOCATE_DIRECT));
    switch (op) {
    case OP_ALLOCATE: {
        size_t size = decode_size(r, in);
        if (room_for_a_block(r, size)) op_allocate(r, size);
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
        size_t count = count_byte < 128 ? count_byte % 17u : decode_size(r, in);
        size_t size = decode_size(r, in);
        if (room_for_a_block(r, size)) op_allocate_zeroed(r, count, size);
        break;
    }
    case OP_REALLOCATE: {
        uint8_t selector = fuzz_u8(in);
        op_reallocate(r, selector, decode_size(r, in));
        break;
    }
    case OP_ALLOCATE_ALIGNED: {
        size_t alignment = decode_alignment(in);
        size_t size = decode_size(r, in);
        if (room_for_a_block(r, size)) op_allocate_aligned(r, alignment, size);
        break;
    }
    case OP_OVERFLOW: {
        uint8_t index = fuzz_u8(in);
        uint8_t how = fuzz_u8(in);
        op_overflow(r, index, how, fuzz_u8(in));
        break;
    }
    case OP_PRINT: op_print(r, fuzz_u8(in)); break;
    case OP_ALLOCATE_AT: {
        uint8_t site = fuzz_u8(in);
        size_t size = decode_size(r, in);
        if (room_for_a_block(r, size)) op_allocate_at(r, site, size);
        break;
    }
    case OP_DEALLOCATE_DIRECT: free_live(r, fuzz_u8(in), true); break;
    case OP_SMASH_CACHED: {
        uint8_t selector = fuzz_u8(in);
        uint8_t byte = fuzz_u8(in);
        if (r->smash_spare) {
            op_smash_spare(r, selector, byte, fuzz_u8(in));
        } else {
            op_smash_cached(r, selector, byte, fuzz_u8(in));
        }
        break;
    }
    case OP_RELEASE_CACHED: op_release_cached(r); break;
    case OP_COUNT: break;
    }
}

/* ---- the run -------------------------------------------------------------- */

/* Flags byte: bit 0 set = destroy with the live blocks still allocated and
 * check the leak report instead of freeing them first; bits 1-3 choose the
 * memory limit (decode_limit, which reads the limit's bytes); bit 4 set =
 * config.size_histogram on the main strategy.  The debug options of the
 * main strategy (bits that inputs written before them left at 0): bit 5
 * config.check_overflow; bit 6 config.quarantine, 1 + (the byte after the
 * limit's) % MAX_QUARANTINE slots; bit 7 config.track_allocations.
 *
 * Limit kind 6 (bits 1-3 = 6), like 0 and 7 no limit before the thread
 * cache came (no committed input used it), now says an extension byte
 * follows the flags byte: its bits 0-2 are the limit kind (decode_limit;
 * 6 is no limit there), bits 3-5 config.thread_cache_blocks
 * (decode_cache_blocks), bits 6-7 below.  The limit's
 * bytes follow it, then the quarantine's byte.  Inputs with it also decode
 * OP_DEALLOCATE_DIRECT and the small sizes of decode_size.  Extension bit
 * 6 (unused before it, set in 3 of the 27 committed inputs with the
 * extension byte, which then read 3 more bytes) asks for a write into a
 * cached block's header just before destroy (smash_for_destroy): a u16
 * picking the block and a byte index and a mask, after the quarantine's
 * byte.  Extension bit 7 (likewise unused before, set in 1 of the 27)
 * makes opcode 21 op_smash_spare instead of op_smash_cached. */
#define FLAG_LEAK_AT_DESTROY 1u
#define FLAG_SIZE_HISTOGRAM 16u   /* bit 4: config.size_histogram */
#define FLAG_CHECK_OVERFLOW 32u   /* bit 5: config.check_overflow */
#define FLAG_QUARANTINE 64u       /* bit 6: config.quarantine, a byte after the limit's */
#define FLAG_TRACK_ALLOCATIONS 128u /* bit 7: config.track_allocations */
#define LIMIT_EXTENSION 6u          /* limit kind: an extension byte follows the flags */
#define EXT_SMASH_AT_DESTROY 64u    /* extension bit 6: smash_for_destroy */
#define EXT_SMASH_SPARE 128u        /* extension bit 7: opcode 21 is op_smash_spare */

static size_t decode_limit(unsigned kind, FuzzInput* in) {
    switch (kind % 8) {
    case 1: return 1 + fuzz_u16(in);                              /* tiny: below one block */
    case 2: return BACKEND_CAP - 128 + fuzz_u8(in);               /* around the backend cap */
    case 3: return 1 + (size_t)fuzz_uint(in, 3);                  /* up to 16 MiB */
    case 4: return STRATEGY_MAX_ALLOCATION;
    case 5: return (size_t)fuzz_u64(in);                          /* raw; 0 is none */
    default: return 0;                                            /* unlimited */
    }
}

/* config.thread_cache_blocks from bits 3-5 of the extension byte: 0 (no
 * cache), 1-4 (most often: classes fill up and overflow to the backend),
 * 1 again for 5, the largest accepted (CACHE_MAX_BLOCKS) for 6, and for 7
 * one above it, which create must refuse (LLVMFuzzerTestOneInput checks,
 * then uses 2). */
static size_t decode_cache_blocks(unsigned selector) {
    switch (selector % 8) {
    case 5: return 1;
    case 6: return CACHE_MAX_BLOCKS;
    case 7: return CACHE_MAX_BLOCKS + 1;
    default: return selector % 8;
    }
}

/* A strategy over the backend with the quiet handler; `config` gives the
 * rest (limit, name, histogram, debug options, thread cache). */
static DefaultStrategy* make_strategy(Backend* backend, ErrorLog* log, DefaultStrategyConfig config) {
    config.backend_allocate = backend_allocate;
    config.backend_free = backend_free;
    config.backend_context = backend;
    config.error_handler = quiet_handler;
    config.error_handler_data = log;
    DefaultStrategy* s = create_default_strategy_with(&config);
    FUZZ_CHECK(s != NULL);
    log->strategy = s;
    return s;
}

/* Extension bit 6: a write into the header of one cached block, in any
 * list (a head list, a spare list or one of the depot's) at any depth,
 * just before destroy.  Destroy gives each list back from its first block
 * (the last one kept) on and stops at that block: documented as
 * STRATEGY_ERROR_CORRUPTED_BLOCK (the block, size 0), that block and the
 * rest of its list dropped (the backend keeps them), every other cached
 * block given back.  The model moves the dropped blocks to `lost`.
 * Returns the block's pointer, NULL if nothing is written (the bit is
 * clear, or nothing is cached). */
static unsigned char* smash_for_destroy(Run* r) {
    if (!r->smash_at_destroy || r->cached_total == 0) return NULL;
    size_t pick = r->smash_pick % r->cached_total;
    for (size_t c = 1; c < CACHE_CLASSES; c++) {
        CacheClass* lists[CLASS_LISTS];
        class_lists(r, c, lists);
        for (size_t l = 0; l < CLASS_LISTS; l++) {
            CacheClass* list = lists[l];
            if (pick >= list->count) {
                pick -= list->count;
                continue;
            }
            unsigned char* raw = list->raw[pick];
            /* Not poisoned while cached (op_smash_cached). */
            raw[r->smash_byte % HEADER_BYTES] ^= r->smash_mask != 0 ? r->smash_mask : 1;
            /* raw[count - 1] is given back first, so raw[pick] and the
             * blocks below it are dropped. */
            size_t dropped = pick + 1;
            for (size_t i = 0; i < dropped; i++) list_append(&r->lost, list->raw[i]);
            memmove(list->raw, list->raw + dropped, (list->count - dropped) * sizeof *list->raw);
            list->count -= dropped;
            r->cached_total -= dropped;
            return raw + HEADER_BYTES;
        }
    }
    FUZZ_CHECK(false); /* cached_total counts the lists' blocks */
    return NULL;
}

/* After destroy: the one CORRUPTED_BLOCK report of smash_for_destroy's
 * block, the last of destroy's reports (after the leak report). */
static void check_smash_reported(const Run* r, uint64_t corrupted_before, const unsigned char* smashed) {
    FUZZ_CHECK(r->log.count[STRATEGY_ERROR_CORRUPTED_BLOCK] == corrupted_before + (smashed != NULL ? 1 : 0));
    if (smashed == NULL) return;
    FUZZ_CHECK(r->log.last.error == STRATEGY_ERROR_CORRUPTED_BLOCK);
    FUZZ_CHECK(r->log.last.pointer == smashed && r->log.last.size == 0 && r->log.last.blocks == 0);
}

static void finish(Run* r, bool leak_at_destroy) {
    r->backend.fail_next = false;
    for (size_t i = 0; i < r->other_live_count; i++) {
        check_block_full(&r->other_live[i]);
        r->other->base.deallocate(&r->other->base, r->other_live[i].ptr);
    }
    r->other_live_count = 0;
    r->other_current = 0; /* the other figures are not read again */
    FUZZ_CHECK(get_current_usage(r->other) == 0);

    uint64_t calls = r->log.calls;
    uint64_t free_calls = r->backend.free_calls;
    uint64_t leaks = r->log.count[STRATEGY_ERROR_LEAK];
    uint64_t corrupted = r->log.count[STRATEGY_ERROR_CORRUPTED_BLOCK];
    if (leak_at_destroy && r->live_count != 0) {
        for (size_t i = 0; i < r->live_count; i++) check_block_full(&r->live[i]);
        unsigned char* smashed = smash_for_destroy(r);
        destroy_default_strategy(r->s);
        /* One leak report with the exact figures; not counted as an error. */
        FUZZ_CHECK(r->log.calls == calls + 1 + (smashed != NULL ? 1 : 0));
        FUZZ_CHECK(r->log.count[STRATEGY_ERROR_LEAK] == leaks + 1);
        FUZZ_CHECK(r->log.leak.size == r->shadow.current);
        FUZZ_CHECK(r->log.leak.blocks == r->live_count);
        FUZZ_CHECK(r->log.leak.pointer == NULL);
        check_smash_reported(r, corrupted, smashed);
        /* Leaked blocks stay with their owner: the backend still has them
         * (and only them: the quarantine and the thread cache were
         * emptied). */
        FUZZ_CHECK(r->backend.outstanding == r->live_count + r->lost.count);
        FUZZ_CHECK(r->backend.free_calls == free_calls + quarantined_count(r) + r->cached_total);
        for (size_t i = 0; i < r->live_count; i++) FUZZ_CHECK(!backend_got_back(&r->backend, r->live[i].raw));
    } else {
        while (r->live_count != 0) op_deallocate(r, 0);
        check_all(r);
        FUZZ_CHECK(r->shadow.current == 0 && get_live_blocks(r->s) == 0);
        free_calls = r->backend.free_calls;
        unsigned char* smashed = smash_for_destroy(r);
        destroy_default_strategy(r->s);
        FUZZ_CHECK(r->log.calls == calls + (smashed != NULL ? 1 : 0));
        check_smash_reported(r, corrupted, smashed);
        /* The quarantine and the thread cache were emptied; dropped blocks
         * stay with the backend. */
        FUZZ_CHECK(r->backend.outstanding == r->lost.count);
        FUZZ_CHECK(r->backend.free_calls == free_calls + quarantined_count(r) + r->cached_total);
    }
    for (size_t i = 0; i < r->lost.count; i++) FUZZ_CHECK(!backend_got_back(&r->backend, r->lost.raw[i]));
    free(r->lost.raw);
    /* Cached blocks are not leaks: every one went back. */
    for (size_t c = 1; c < CACHE_CLASSES; c++) {
        check_list_back(r, &r->cache[c]);
        check_list_back(r, &r->spare[c]);
        for (size_t k = 0; k < DEPOT_LISTS; k++) check_list_back(r, &r->depot[c][k]);
    }
    cache_free_all(r);
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
    unsigned limit_kind = (flags >> 1) % 8u;
    uint8_t extension = 0;
    r->extended = limit_kind == LIMIT_EXTENSION;
    if (r->extended) {
        extension = fuzz_u8(&in);
        limit_kind = extension % 8u;
    }
    r->limit = decode_limit(limit_kind, &in);
    r->histogram = (flags & FLAG_SIZE_HISTOGRAM) != 0;
    r->canary = (flags & FLAG_CHECK_OVERFLOW) != 0 ? CANARY_BYTES : 0;
    r->quarantine = (flags & FLAG_QUARANTINE) != 0 ? 1 + fuzz_u8(&in) % MAX_QUARANTINE : 0;
    r->smash_at_destroy = (extension & EXT_SMASH_AT_DESTROY) != 0;
    r->smash_spare = (extension & EXT_SMASH_SPARE) != 0;
    if (r->smash_at_destroy) {
        r->smash_pick = fuzz_u16(&in);
        r->smash_byte = fuzz_u8(&in);
        r->smash_mask = fuzz_u8(&in);
    }
    r->tracking = (flags & FLAG_TRACK_ALLOCATIONS) != 0;
    r->prints_left = PRINT_BUDGET;
    DefaultStrategyConfig config;
    memset(&config, 0, sizeof config);
    config.memory_limit = r->limit;
    config.name = kMainName;
    config.size_histogram = r->histogram;
    config.check_overflow = r->canary != 0;
    config.quarantine = r->quarantine;
    config.track_allocations = r->tracking;
    config.thread_cache_blocks = decode_cache_blocks(extension >> 3);
    if (config.thread_cache_blocks > CACHE_MAX_BLOCKS) {
        /* Documented: create refuses more than 4096 (NULL, nothing else done). */
        DefaultStrategyConfig refused = config;
        refused.backend_allocate = backend_allocate;
        refused.backend_free = backend_free;
        refused.backend_context = &r->backend;
        refused.error_handler = quiet_handler;
        refused.error_handler_data = &r->log;
        FUZZ_CHECK(create_default_strategy_with(&refused) == NULL);
        FUZZ_CHECK(r->log.calls == 0 && r->backend.count == 0);
        config.thread_cache_blocks = 2;
    }
    /* Documented: the cache is not used (nor the sizes rounded) with a
     * debug option or the size histogram. */
    bool cache_used = !r->histogram && r->canary == 0 && r->quarantine == 0 && !r->tracking;
    r->cache_blocks = cache_used ? config.thread_cache_blocks : 0;
    r->s = make_strategy(&r->backend, &r->log, config);
    memset(&config, 0, sizeof config);
    r->other = make_strategy(&r->backend, &r->other_log, config);
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
