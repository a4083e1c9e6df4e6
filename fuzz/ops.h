/* The ops fuzz target's shared part: its constants, the records its
 * backend and error handler keep, and the shadow model (Run), used by
 * ops.c (the operations, the checks after every step, and the run; its
 * header comment describes the target) and ops_print.c (the printers op). */
#ifndef MEMSTRATEGY_FUZZ_OPS_H_
#define MEMSTRATEGY_FUZZ_OPS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "default_strategy.h"
#include "fuzz_input.h"

/* ---- constants -------------------------------------------------------- */

#define HEADER_BYTES 16u                  /* documented in default_strategy.h */
#define BACKEND_CAP ((size_t)64 << 10)    /* largest request the backend grants */
#define MAX_LIVE 64u                      /* live blocks in the main strategy */
#define MAX_OTHER_LIVE 8u                 /* live blocks in the second strategy */
#define MAX_FREED 64u                     /* freed pointers kept for double frees */
#define EDGE_BYTES 32u                    /* checked at each end after every step */
#define CANARY_BYTES 8u                   /* check_overflow, documented in default_strategy.h */
#define MAX_QUARANTINE 8u                 /* config.quarantine is 1 .. this when on */
#define PRINT_BUDGET 16u                  /* printer runs per input (OP_PRINT); the rest are skipped */
#define CACHE_MAX_SIZE 2040u              /* thread cache: largest cached size, documented in default_strategy.h */
#define CACHE_CLASSES 256u                /* thread cache classes 1 .. 255 (8 bytes wide); 0 unused */
#define CACHE_MAX_BLOCKS 4096u            /* the largest config.thread_cache_blocks create accepts */
#define DEPOT_LISTS 4u                    /* thread cache: the depot's lists per class */

/* ---- what the backend and the error handler record (ops.c) ------------ */

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
    uint64_t free_calls;       /* blocks given back so far */
    unsigned char* last_freed; /* the last one */
} Backend;

typedef struct ErrorLog {
    const DefaultStrategy* strategy; /* every call must name it */
    uint64_t calls;
    uint64_t count[STRATEGY_ERROR_COUNT];
    StrategyErrorInfo last;
    StrategyErrorInfo leak; /* the last STRATEGY_ERROR_LEAK report */
} ErrorLog;

/* ---- the shadow model ------------------------------------------------- */

typedef struct Block {
    unsigned char* ptr;
    unsigned char* raw; /* the backend's block it lies in */
    size_t size;
    uint8_t seed;
    size_t alignment; /* > 16 for an aligned block (its layout differs); else 0 */
    int site;         /* its STRATEGY_ALLOCATE site (site_id), 0 if allocated otherwise */
    bool resized;     /* moved by reallocate since (a site is then not documented) */
} Block;

typedef struct Shadow {
    uint64_t current, peak, total_allocated, total_freed, allocations, deallocations;
    uint64_t errors[STRATEGY_ERROR_COUNT];
    StrategyError last_error;
    StrategyStatus status;
    uint64_t size_classes[STRATEGY_SIZE_CLASSES]; /* successful allocations by size class */
} Shadow;

/* One list of the thread cache's model (a head, spare or depot list, or
 * the dropped blocks): a stack of backend blocks, the last kept last. */
typedef struct CacheClass {
    unsigned char** raw;
    size_t count;
    size_t capacity;
} CacheClass;

typedef struct Run {
    DefaultStrategy* s;
    size_t limit; /* the main strategy's memory_limit; 0: none */
    bool histogram; /* config.size_histogram of the main strategy */
    size_t canary;     /* CANARY_BYTES with config.check_overflow, else 0 */
    size_t quarantine; /* config.quarantine: 0 or 1 .. MAX_QUARANTINE */
    bool tracking;     /* config.track_allocations */
    unsigned prints_left; /* OP_PRINT runs only PRINT_BUDGET printers per input */
    Shadow shadow;
    ErrorLog log;
    Block live[MAX_LIVE];
    size_t live_count;
    unsigned char* freed[MAX_FREED]; /* user pointers of the last released blocks */
    bool freed_aligned[MAX_FREED];   /* whether freed[i] was an aligned block */
    uint64_t freed_release[MAX_FREED]; /* the release number of freed[i] */
    uint64_t freed_total;            /* releases so far (frees, moves); freed[] is a ring */
    /* The backend blocks of the last `quarantine` releases, at release
     * number % quarantine: what the library's quarantine holds. */
    unsigned char* quarantined[MAX_QUARANTINE];
    /* config.thread_cache_blocks as the strategy uses it: 0 without a cache
     * (also when a debug option or the histogram makes it ignore the
     * config), and its lists per class c. */
    size_t cache_blocks;
    CacheClass cache[CACHE_CLASSES];              /* the head lists (up to N blocks) */
    CacheClass spare[CACHE_CLASSES];              /* the spare lists (empty or N blocks) */
    CacheClass depot[CACHE_CLASSES][DEPOT_LISTS]; /* the depot's lists (empty or N blocks) */
    /* Refills of class c still to skip the depot: 2N (at most 255) once
     * a free into the full lists of c looks at the depot, one less with
     * each (refill_source). */
    unsigned cooldown[CACHE_CLASSES];
    /* Frees into the full lists of class c still to give their block
     * straight back: N - 1 (at most 255) once the depot had no room for
     * the spare list of c, one less with each (settle_release). */
    unsigned spill[CACHE_CLASSES];
    size_t cached_total; /* blocks in all of them */
    /* Blocks of head lists the strategy dropped (op_smash_cached): never
     * used again nor given back, so the backend keeps them to the end. */
    CacheClass lost;
    /* Extension bit 6: just before destroy, a write into the header of
     * the cached block `smash_pick` (mod the cached blocks) picks, at byte
     * `smash_byte` % 16, by XOR with `smash_mask` (smash_for_destroy). */
    bool smash_at_destroy;
    uint16_t smash_pick;
    uint8_t smash_byte, smash_mask;
    /* Extension bit 7: opcode 21 is op_smash_spare. */
    bool smash_spare;
    bool extended;       /* the input has the extension byte: opcodes mod OP_COUNT */
    /* A validate that failed on a recognisable strategy closed the hot
     * paths' gates (ms_close_gates), for good: allocations then take the
     * out-of-line path, which never pops (op_degrade). */
    bool gates_closed;
    /* The thread's statistics slot in the main strategy exists although
     * nothing was recorded: the cache was looked up (op_allocate). */
    bool slot_made;
    uint8_t next_seed;
    /* The second strategy, for blocks of the wrong strategy. */
    DefaultStrategy* other;
    ErrorLog other_log;
    Block other_live[MAX_OTHER_LIVE];
    size_t other_live_count;
    uint64_t other_current, other_peak, other_total_allocated, other_total_freed;
    uint64_t other_allocations, other_deallocations;
    uint64_t other_invalid_pointer;
    Backend backend;
} Run;

/* ---- allocation sites (OP_ALLOCATE_AT) ---------------------------------- */

/* The files OP_ALLOCATE_AT names (the second with characters JSON escapes),
 * each at lines 1 .. SITE_LINES. */
#define SITE_FILE_A "fuzz/ops.c"
#define SITE_FILE_C "fuzz/q\"uote\\d\t.c"
#define SITE_LINES 4 /* lines 1 .. SITE_LINES */
#define SITE_IDS (2 * SITE_LINES + 1) /* site ids 1 .. 2 * SITE_LINES */

/* The id of line `line` of SITE_FILE_C (in_file_c) or SITE_FILE_A. */
static inline int site_number(bool in_file_c, int line) { return (in_file_c ? SITE_LINES : 0) + line; }

/* The main strategy's name: every character the printers must escape (JSON:
 * quote, backslash, control characters; Prometheus: quote, backslash,
 * newline), a tab, and a non-ASCII UTF-8 character. */
static const char kMainName[] = "main \"q\" \\ \n\t\x01 \xc3\xa9";

/* ---- the printers op (ops_print.c) -------------------------------------- */

void op_print(Run* r, uint8_t selector);

#endif /* MEMSTRATEGY_FUZZ_OPS_H_ */
