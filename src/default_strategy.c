/* default_strategy: accounting over malloc/free, a configured backend or a
 * parent strategy: the hot path (allocate/deallocate), status, validation,
 * life cycle and figures.  Zeroed, resized and aligned blocks are in
 * default_blocks.c.  Status protocol: models/StrategyLifecycle.tla; counting
 * protocol: models/UsageCounting.tla (via memstats_internal.h). */
#include "default_strategy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "default_strategy_internal.h"
#include "leak_report.h"

/* ---- error path (cold) ---------------------------------------------------- */

/* Why this thread's most recent refused allocating request (on any strategy)
 * was refused, STRATEGY_OK after ms_parent_call_begins.  A child reads it
 * when its parent returned NULL.  A plain thread-local: only its own thread
 * reads or writes it. */
static _Thread_local StrategyError tl_refusal;

void ms_parent_call_begins(void) { tl_refusal = STRATEGY_OK; }

MS_NOINLINE void ms_default_report(ms_default* s, StrategyError error, const void* pointer, size_t size,
                                   uint64_t blocks) {
    if (error != STRATEGY_ERROR_LEAK) {
        /* Relaxed: statistics read on their own; nothing is published. */
        ms_fetch_add_relaxed(&s->errors[error], 1);
        ms_store_relaxed(&s->last_error, (uint32_t)error);
    }
    StrategyErrorInfo info = {error, &s->pub, pointer, size, blocks};
    s->error_handler(&info, s->error_handler_data);
}

void strategy_default_error_handler(const StrategyErrorInfo* info, void* user_data) {
    (void)user_data;
    if (info == NULL) return;
    if (info->error == STRATEGY_ERROR_LEAK) {
        fprintf(stderr, "memstrategy: leak: %zu bytes in %" PRIu64 " blocks still allocated at destroy\n",
                info->size, info->blocks);
        /* A tracking strategy: the leaked blocks, by site. */
        if (info->strategy != NULL && ms_default_const(info->strategy)->tracking != NULL) {
            (void)print_leak_report(info->strategy, stderr);
        }
        return;
    }
    if (info->strategy != NULL) {
        ms_default* s = (ms_default*)(uintptr_t)info->strategy;
        /* Relaxed: a rate limit; only the count matters. */
        uint32_t n = ms_fetch_add_relaxed(&s->reports, 1u);
        if (n > MS_REPORT_LIMIT) return;
        if (n == MS_REPORT_LIMIT) {
            fprintf(stderr, "memstrategy: error: further errors on strategy %p are counted, not printed\n",
                    (const void*)info->strategy);
            return;
        }
    }
    fprintf(stderr, "memstrategy: error: %s (pointer %p, size %zu)\n", strategy_error_name(info->error),
            info->pointer, info->size);
}

MS_NOINLINE void* ms_refuse_request(ms_default* s, StrategyError error, const void* pointer, size_t size) {
    ms_default_report(s, error, pointer, size, 0);
    /* After the handler, which may itself allocate elsewhere: the reason
     * left for a child is this refusal's. */
    tl_refusal = error;
    return NULL;
}

MS_NOINLINE void* ms_refuse_backend_failure(ms_default* s, const void* pointer, size_t size) {
    StrategyError error = (s->parent != NULL && tl_refusal == STRATEGY_ERROR_LIMIT_EXCEEDED)
                              ? STRATEGY_ERROR_LIMIT_EXCEEDED
                              : STRATEGY_ERROR_OUT_OF_MEMORY;
    return ms_refuse_request(s, error, pointer, size);
}

MS_NOINLINE void* ms_refuse_over_limit(ms_default* s, ms_block_header* header, void* raw, size_t size) {
    header->check = 0; /* never a live block: not one to tell a double free of */
    ms_backend_release(s, raw);
    return ms_refuse_request(s, STRATEGY_ERROR_LIMIT_EXCEEDED, NULL, size);
}

/* The backend of a child strategy: its parent. */
static void* parent_allocate(void* context, size_t size) {
    MemoryStrategy* parent = context;
    ms_parent_call_begins();
    return parent->allocate(parent, size);
}

static void parent_free(void* context, void* ptr) {
    MemoryStrategy* parent = context;
    parent->deallocate(parent, ptr);
}

/* ---- the thread cache (config.thread_cache_blocks) ----------------------- */

/* A cached block's header holds its list's link: the size word is the next
 * block's header (0 at the end of the list), and the check word seals it
 * (cache_key), so the link lives outside the memory the caller had.  A
 * write after free into a cached block's memory therefore changes nothing
 * the strategy reads, and one into its header is caught before the link is
 * followed (cache_pop, cache_give_back).  The memory after the header
 * (its class's room) is off limits under ASan while cached, so a use after
 * free of a cached block is still reported (ms_cache_poison and
 * ms_cache_unpoison: default_strategy_internal.h). */

/* The check word of a cached block at `header` whose size word is `link`
 * is cache_key(s, header) ^ link: the freed check of a block of the cache
 * kind, computed with the link in place of the size, so a second free of a
 * cached block is still told as STRATEGY_ERROR_DOUBLE_FREE
 * (ms_classify_misuse reads the size word as it finds it). */
static MS_ALWAYS_INLINE uint64_t cache_key(const ms_default* s, const ms_block_header* header) {
    return ms_block_check(header + 1, 0, s->check_base) ^ MS_CACHE_TWEAK ^ MS_FREED_FLIP;
}

/* Whether the cached block at `header` still carries the seal of its link
 * (its size word), i.e. nothing wrote its header while it was cached. */
static MS_ALWAYS_INLINE bool cache_intact(const ms_default* s, const ms_block_header* header) {
    return header->check == (cache_key(s, header) ^ header->size);
}

/* Puts a freed block of class c first in its head list (not full); `key`
 * is cache_key(s, header). */
static MS_ALWAYS_INLINE void cache_push(ms_thread_cache* cache, ms_block_header* header, size_t c, uint64_t key) {
    uint64_t link = (uint64_t)(uintptr_t)cache->head[c];
    cache->head[c] = header;
    cache->count[c]++;
    header->size = link;
    header->check = key ^ link;
    ms_cache_poison(header + 1, MS_CACHE_ROOM(c));
}

/* Takes the first block of class c (not empty) for a request of `size`
 * (8c-7 .. 8c) bytes: only those become addressable under ASan.  *intact
 * is false if the block's header was overwritten while it was cached: the
 * head list then holds an untrusted link, which the caller drops
 * (cache_corrupted) before anything else. */
static MS_ALWAYS_INLINE ms_block_header* cache_pop(const ms_default* s, ms_thread_cache* cache, size_t c,
                                                   size_t size, bool* intact) {
    ms_block_header* header = cache->head[c];
    cache->head[c] = (ms_block_header*)(uintptr_t)header->size;
    cache->count[c]--;
    *intact = cache_intact(s, header);
    if (MS_LIKELY(*intact)) ms_cache_unpoison(header + 1, size);
    return header;
}

/* The thread's cache in its owner cell `cell`, created on first use; NULL
 * if the thread has no slot (NULL `cell`) or no memory for the cache. */
static ms_thread_cache* cache_of(void** cell) {
    if (cell == NULL) return NULL;
    if (*cell == NULL) *cell = calloc(1, sizeof(ms_thread_cache));
    return *cell;
}

/* Relaxed looks at all of class c's depot slots, taken without a branch
 * per slot so that a thread that misses often (a burst larger than the
 * cache) pays little for finding the depot full or empty: whether one
 * slot was seen empty (depot_seen_room), or one seen holding a list
 * (depot_seen_list).  Hints only: the CAS or the exchange decides. */
static MS_ALWAYS_INLINE bool depot_seen_room(const ms_default* s, size_t c) {
    bool room = false;
#if defined(__GNUC__)
#pragma GCC unroll 8
#endif
    for (size_t k = 0; k < MS_DEPOT_LISTS; k++) room |= ms_load_relaxed(&s->depot->list[c][k]) == NULL;
    return room;
}

static MS_ALWAYS_INLINE bool depot_seen_list(const ms_default* s, size_t c) {
    uintptr_t any = 0;
#if defined(__GNUC__)
#pragma GCC unroll 8
#endif
    for (size_t k = 0; k < MS_DEPOT_LISTS; k++) any |= (uintptr_t)ms_load_relaxed(&s->depot->list[c][k]);
    return any != 0;
}

/* Hands `list`, a spare list of class c (N blocks), to an empty slot of
 * the depot.  False if every slot was taken.  The relaxed loads only skip slots
 * seen full; the CAS from NULL decides (no ABA: NULL says nothing about a
 * list), and its release publishes the list's links and headers to the
 * thread that takes it (depot_take's acquire). */
static bool depot_put(ms_default* s, ms_block_header* list, size_t c) {
    if (!depot_seen_room(s, c)) return false;
    for (size_t k = 0; k < MS_DEPOT_LISTS; k++) {
        _Atomic(ms_block_header*)* slot = &s->depot->list[c][k];
        ms_block_header* empty = NULL;
        if (ms_load_relaxed(slot) == NULL && ms_cas_release(slot, &empty, list)) return true;
    }
    return false;
}

/* A whole list of class c from the depot, NULL if it had none.  The
 * exchange with NULL makes this thread the list's one owner; acquire pairs
 * with depot_put's release.  Its caller has looked first
 * (depot_seen_list). */
static MS_NOINLINE ms_block_header* depot_take(ms_default* s, size_t c) {
    for (size_t k = 0; k < MS_DEPOT_LISTS; k++) {
        _Atomic(ms_block_header*)* slot = &s->depot->list[c][k];
        if (ms_load_relaxed(slot) == NULL) continue;
        ms_block_header* list = ms_exchange_acquire(slot, NULL);
        if (list != NULL) return list;
    }
    return NULL;
}

/* Class c of `cache` has an empty head list: refills it with the spare
 * list, else with a list from the depot, unless the thread's own spare
 * list of c left within its last MS_CACHE_COOLDOWN(N) refills (each such
 * refill counts one down).  False if none was had. */
static MS_ALWAYS_INLINE bool cache_refill(ms_default* s, ms_thread_cache* cache, size_t c) {
    ms_block_header* list = cache->spare[c];
    if (list != NULL) {
        cache->spare[c] = NULL;
    } else {
        if (cache->cooldown[c] != 0) { /* this thread gave a list of c lately: not the depot's */
            cache->cooldown[c]--;
            return false;
        }
        if (!depot_seen_list(s, c)) return false;
        list = depot_take(s, c);
        if (list == NULL) return false;
    }
    cache->head[c] = list;
    cache->count[c] = (uint16_t)s->cache_blocks;
    return true;
}

/* Reports a cached block found with its header overwritten (NULL: none) as
 * STRATEGY_ERROR_CORRUPTED_BLOCK (aborting with abort_on_misuse).  Called
 * with the cache's lists consistent, since the error handler may use the
 * strategy. */
static MS_NOINLINE void cache_report_corrupted(ms_default* s, const ms_block_header* header) {
    if (header != NULL) (void)ms_refuse_misuse(s, STRATEGY_ERROR_CORRUPTED_BLOCK, header + 1, 0);
}

/* The frees of class c into the full lists of `cache` still to give
 * straight back (spill[c]): true, counting one down, if there was one. */
static MS_ALWAYS_INLINE bool cache_spilling(ms_thread_cache* cache, size_t c) {
    if (MS_LIKELY(cache->spill[c] == 0)) return false;
    cache->spill[c]--;
    return true;
}

/* Gives a freed block of `size` bytes (its check already marked freed)
 * back to the backend, its whole room unpoisoned (a block popped from the
 * cache had only its `size` bytes unpoisoned). */
static MS_ALWAYS_INLINE void cache_release_block(ms_default* s, ms_block_header* header, uint64_t size) {
    ms_cache_unpoison_room(s, header + 1, size);
    ms_backend_release(s, header);
}

/* Whether class c of `cache` keeps a freed block: its head list has room;
 * or, full, becomes the spare list, a spare list already there first going
 * to the depot.  False (the block goes straight back) if the thread is
 * spilling the class (cache_spilling), or if the depot's lists of the
 * class are all taken, which starts a spill: both lists stay, and the
 * next MS_CACHE_SPILL(N) frees that find them full give their blocks
 * straight back too, without looking at the depot (so a thread that frees
 * more than it allocates looks at the depot once per N blocks, not once
 * per block).  A free that looks at the depot starts the class's cooldown
 * (cache_refill). */
static bool cache_keeps(ms_default* s, ms_thread_cache* cache, size_t c) {
    if (cache->count[c] < s->cache_blocks) return true;
    if (cache_spilling(cache, c)) return false;
    if (cache->spare[c] != NULL) {
        cache->cooldown[c] = MS_CACHE_COOLDOWN(s->cache_blocks);
        if (!depot_put(s, cache->spare[c], c)) {
            cache->spill[c] = MS_CACHE_SPILL(s->cache_blocks);
            return false;
        }
    }
    cache->spare[c] = cache->head[c];
    cache->head[c] = NULL;
    cache->count[c] = 0;
    return true;
}

/* Keeps a freed block (its check already marked freed) in the thread's
 * cache whose owner cell is `cell` if its size is cached and its class
 * keeps it (cache_keeps).  Otherwise (a size not cached; NULL `cell`: the
 * thread has no slot, so no cache; no memory for the cache; or the class
 * gives it back) gives the block back to the backend. */
static MS_NOINLINE void cache_keep_or_release(ms_default* s, void** cell, ms_block_header* header, uint64_t size) {
    if (size <= MS_CACHE_MAX_SIZE) {
        size_t c = (size_t)MS_CACHE_CLASS(size); /* its backend block has the class's room */
        ms_thread_cache* cache = cache_of(cell);
        if (cache != NULL && cache_keeps(s, cache, c)) {
            cache_push(cache, header, c, cache_key(s, header));
            return;
        }
    }
    cache_release_block(s, header, size);
}

/* cache_keep_or_release for the hot path, whose thread's slot is cached:
 * the owner cell is read here, so the hot path need not keep it. */
static MS_NOINLINE void cache_keep_or_release_owned(ms_default* s, ms_block_header* header, uint64_t size) {
    cache_keep_or_release(s, ms_stats_owner_cell(), header, size);
}

/* ---- the hot path ------------------------------------------------------- */

MS_NOINLINE void* ms_commit_plain_slow(ms_default* s, void* raw, size_t size) {
    ms_block_header* header = raw;
    if (MS_UNLIKELY(!ms_stats_on_alloc_declined(&s->stats, size))) {
        ms_cache_unpoison_room(s, header + 1, size); /* it may have been popped */
        return ms_refuse_over_limit(s, header, raw, size);
    }
    return header + 1;
}

/* The status check of deallocate, made on every out-of-line path (the hot
 * path makes none: see deallocate_hot).  Reports and returns true when the
 * status does not allow freeing. */
static bool refuse_free_in_state(ms_default* s, const void* ptr) {
    if (ms_state_allows(&s->tracker, MS_ALLOWS_DEALLOCATE)) return false;
    ms_default_report(s, STRATEGY_ERROR_ILLEGAL_STATE, ptr, 0, 0);
    return true;
}

/* The kinds of strategy without a debug option, each with a hot path of its
 * own (ms_default_vtable): over malloc/free (default_allocate and
 * default_deallocate, the seed's vtable), over a configured backend or a
 * parent, and with a thread cache (over malloc or a backend). */
typedef enum ms_kind { MS_KIND_MALLOC, MS_KIND_BACKEND, MS_KIND_CACHE } ms_kind;

static MS_ALWAYS_INLINE uint64_t kind_tweak(ms_kind kind) {
    return kind == MS_KIND_MALLOC ? 0 : kind == MS_KIND_BACKEND ? MS_BACKEND_TWEAK : MS_CACHE_TWEAK;
}

/* The allocation gate of a kind's hot path (see ms_default). */
static MS_ALWAYS_INLINE _Atomic size_t* kind_gate(ms_default* s, ms_kind kind) {
    return kind == MS_KIND_MALLOC    ? &s->malloc_gate
           : kind == MS_KIND_BACKEND ? &s->backend_gate
                                     : &s->cache_gate;
}

/* The kind of a strategy without a debug option, from its plain_tweak. */
static ms_kind kind_of(const ms_default* s) {
    return s->plain_tweak == MS_BACKEND_TWEAK ? MS_KIND_BACKEND
           : s->plain_tweak == MS_CACHE_TWEAK ? MS_KIND_CACHE
                                              : MS_KIND_MALLOC;
}

static void* allocate_over_backend(MemoryStrategy* base, size_t size);
static void* allocate_with_cache(MemoryStrategy* base, size_t size);
static void deallocate_over_backend(MemoryStrategy* base, void* ptr);
static void deallocate_with_cache(MemoryStrategy* base, void* ptr);

/* Each kind's entries, in its vtable (ms_default_vtable). */
static const ms_allocate_fn kKindAllocate[] = {default_allocate, allocate_over_backend, allocate_with_cache};
static const ms_deallocate_fn kKindDeallocate[] = {default_deallocate, deallocate_over_backend,
                                                   deallocate_with_cache};

/* deallocate when the accounting fast path declined. */
static MS_NOINLINE void deallocate_slow(ms_default* s, ms_block_header* header, uint64_t size) {
    if (refuse_free_in_state(s, header + 1)) return;
    ms_stats_on_free(&s->stats, size);
    header->check ^= MS_FREED_FLIP;
    if (s->cache_blocks != 0) {
        /* The cache kind keeps the block as its hot path would. */
        cache_keep_or_release(s, ms_stats_owner_cell_slow(&s->stats), header, size);
        return;
    }
    ms_backend_release(s, header);
}

/* allocate off the hot path: the gate was closed (an invalid size, a status
 * other than ACTIVE, another kind of strategy, a debug option). */
MS_NOINLINE void* ms_allocate_slow(ms_default* s, size_t size, const ms_site* site) {
    if (size - 1 >= STRATEGY_MAX_ALLOCATION) return ms_refuse_request(s, STRATEGY_ERROR_INVALID_SIZE, NULL, size);
    if (!ms_state_allows(&s->tracker, MS_ALLOWS_ALLOCATE)) {
        return ms_refuse_request(s, STRATEGY_ERROR_ILLEGAL_STATE, NULL, size);
    }
    void* raw = ms_backend_obtain(s, ms_plain_request(s, size));
    if (raw == NULL) return ms_refuse_backend_failure(s, NULL, size);
    return ms_commit_block(s, raw, size, site);
}

/* The hot path's way into ms_allocate_slow: only the return address of
 * default_allocate's caller is passed (no site object on the hot path).
 * A direct default_allocate call on a strategy over a backend or with a
 * thread cache (whose vtable has entries of their own) goes on as that
 * entry: its gate is open whenever its hot path would take the request,
 * and that hot path comes here only with its own gate closed, so this
 * happens at most once per call. */
static MS_NOINLINE void* allocate_slow(ms_default* s, size_t size, const void* pc) {
    ms_kind kind = kind_of(s);
    if (kind != MS_KIND_MALLOC && size - 1 < ms_load_relaxed(kind_gate(s, kind))) {
        return kKindAllocate[kind](&s->pub.base, size);
    }
    ms_site site = {pc, NULL, 0};
    return ms_allocate_slow(s, size, &site);
}

void* default_allocate_at(MemoryStrategy* base, size_t size, const char* file, int line) {
    if (base == NULL) return NULL;
    ms_default* s = ms_default_of(base);
    if (s->tracking == NULL) return default_allocate(base, size);
    ms_site site = {__builtin_return_address(0), file, line};
    return ms_allocate_slow(s, size, &site);
}

MS_NOINLINE void* ms_commit_block(ms_default* s, void* raw, size_t size, const ms_site* site) {
    ms_block_header* header = raw;
    void* block = ms_stamp_plain(s, raw, size, s->plain_tweak);
    ms_write_canary(s, block, size);
    if (!ms_stats_on_alloc(&s->stats, size)) return ms_refuse_over_limit(s, header, raw, size);
    if (s->tracking != NULL) ms_track_add(s, block, size, site);
    return block;
}

/* default_deallocate when the block is not a hot-path plain one: an aligned
 * block, a block of a strategy with a debug option, or misuse.  A live
 * plain block of a strategy over a backend or with a thread cache, freed
 * by a direct default_deallocate call, goes to that kind's entry, whose
 * hot path accepts the header just matched (the thread cache keeps the
 * block), as if it had come through the vtable. */
static MS_NOINLINE void deallocate_other(ms_default* s, void* ptr) {
    ms_kind kind = kind_of(s);
    ms_block_header* header = (ms_block_header*)ptr - 1;
    if (kind != MS_KIND_MALLOC && header->check == ms_plain_check(s, ptr, header->size)) {
        kKindDeallocate[kind](&s->pub.base, ptr);
        return;
    }
    if (refuse_free_in_state(s, ptr)) return;
    ms_block block;
    StrategyError error = ms_find_other_block(s, ptr, header, &block);
    if (error != STRATEGY_OK) {
        ms_refuse_misuse(s, error, ptr, 0);
        return;
    }
    ms_stats_on_free(&s->stats, block.size);
    ms_release_block(s, &block);
}

static MS_NOINLINE void refuse_unreadable(ms_default* s, const void* ptr) {
    if (refuse_free_in_state(s, ptr)) return;
    ms_refuse_misuse(s, STRATEGY_ERROR_INVALID_POINTER, ptr, 0);
}

/* The cache kind's request to the backend (no cached block): for a block
 * of `size` bytes, whose backend block is `request` bytes. */
static MS_ALWAYS_INLINE void* allocate_cache_backend(ms_default* s, size_t size, size_t request) {
    void* raw = ms_backend_obtain(s, request);
    if (MS_UNLIKELY(raw == NULL)) return ms_refuse_backend_failure(s, NULL, size);
    /* Checks the slot again: a backend (or a malloc) that allocates through
     * another strategy has cached that strategy's slot instead. */
    return ms_commit_plain(s, raw, size, MS_CACHE_TWEAK, false);
}

/* A pop found `header`, the first block of its class's head list in the
 * thread's cache, with its header overwritten while it was cached (a write
 * before the start of a freed block): the list is dropped (its blocks are
 * never used again, nor given back: the links cannot be trusted), the
 * block is reported as STRATEGY_ERROR_CORRUPTED_BLOCK, and the request
 * starts again from the top (the error handler may have used the strategy,
 * or another one, on this thread since the hot path looked at its slot). */
static MS_NOINLINE void* cache_corrupted(ms_default* s, size_t size, const ms_block_header* header) {
    /* The popping thread's slot is still cached (the pop called nothing),
     * so its owner cell holds the cache popped from. */
    ms_thread_cache* cache = *ms_stats_owner_cell();
    size_t c = MS_CACHE_CLASS(size);
    cache->head[c] = NULL;
    cache->count[c] = 0;
    cache_report_corrupted(s, header);
    return allocate_with_cache(&s->pub.base, size);
}

/* Hands out the first block of class c's head list (not empty) for a
 * request of `size` bytes, or, if its header was overwritten while it was
 * cached, drops the list and starts again (cache_corrupted).  The caller
 * has seen the thread's slot cached. */
static MS_ALWAYS_INLINE void* allocate_popped(ms_default* s, size_t size, ms_thread_cache* cache, size_t c) {
    bool intact;
    ms_block_header* header = cache_pop(s, cache, c, size, &intact);
    if (MS_UNLIKELY(!intact)) return cache_corrupted(s, size, header);
    return ms_commit_plain(s, header, size, MS_CACHE_TWEAK, true);
}

/* The cache kind's allocation when the thread's cache has no block at the
 * head of class c (a size it caches): the spare list or a list from the
 * depot refills the head list, else the backend serves the request.  The
 * hot path has seen the thread's slot cached, and refilling calls nothing
 * that could change that. */
static MS_NOINLINE void* allocate_cache_miss(ms_default* s, size_t size, ms_thread_cache* cache, size_t c) {
    if (cache_refill(s, cache, c)) return allocate_popped(s, size, cache, c);
    return allocate_cache_backend(s, size, sizeof(ms_block_header) + MS_CACHE_ROOM(c));
}

/* The cache kind's allocation of class c from the thread's cache: the head
 * list's first block, or the miss path.  The caller has seen the thread's
 * slot cached. */
static MS_ALWAYS_INLINE void* allocate_from_cache(ms_default* s, size_t size, ms_thread_cache* cache, size_t c) {
    if (MS_LIKELY(cache->head[c] != NULL)) return allocate_popped(s, size, cache, c);
    return allocate_cache_miss(s, size, cache, c); /* a tail call: no frame on the way here */
}

/* The cache kind's allocation off the hot path: a size it does not cache,
 * or (`look_up`) the thread's slot was not cached (its first operation on
 * the strategy, or the first after a peak reset), so the thread's cache is
 * looked up (or created) now; or the thread has no cache yet.  With a
 * cache, the slot is cached (the hot path saw it, or the lookup cached it)
 * and the allocation goes on as the hot path's. */
static MS_NOINLINE void* allocate_cache_slow(ms_default* s, size_t size, bool look_up) {
    size_t c = MS_CACHE_CLASS(size);
    if (c < MS_CACHE_CLASSES) {
        ms_thread_cache* cache = cache_of(look_up ? ms_stats_owner_cell_slow(&s->stats) : ms_stats_owner_cell());
        if (cache != NULL) return allocate_from_cache(s, size, cache, c);
    }
    return allocate_cache_backend(s, size, ms_plain_request(s, size));
}

/* Gives list `list` of class c (cached, so poisoned), which no one else
 * can reach any more, back to the backend, first to last; returns how many
 * blocks went back.  Stops at a block whose header was overwritten while
 * it was cached: that block and the rest of the list are never used again
 * (their link cannot be trusted), and it is reported once the walk is
 * over (cache_report_corrupted).  For release_cached_blocks and destroy. */
static MS_NOINLINE size_t cache_give_back(ms_default* s, ms_block_header* list, size_t c) {
    size_t released = 0;
    ms_block_header* header = list;
    while (header != NULL && cache_intact(s, header)) {
        ms_block_header* next = (ms_block_header*)(uintptr_t)header->size; /* read before the release */
        ms_cache_unpoison(header + 1, MS_CACHE_ROOM(c));
        ms_backend_release(s, header);
        released++;
        header = next;
    }
    cache_report_corrupted(s, header);
    return released;
}

/* Empties every list of `cache` (a thread's), giving the blocks back;
 * returns how many went back.  Each class's lists are detached before they
 * are given back, so the cache is consistent whenever the error handler
 * runs. */
static size_t cache_give_back_all(ms_default* s, ms_thread_cache* cache) {
    size_t released = 0;
    for (size_t c = 1; c < MS_CACHE_CLASSES; c++) {
        ms_block_header* head = cache->head[c];
        ms_block_header* spare = cache->spare[c];
        cache->head[c] = NULL;
        cache->count[c] = 0;
        cache->spare[c] = NULL;
        released += cache_give_back(s, head, c);
        released += cache_give_back(s, spare, c);
    }
    return released;
}

/* Takes every list out of the depot, each by exchange with NULL (as
 * depot_take: this thread becomes its one owner), and gives them back;
 * returns how many blocks went back. */
static size_t depot_give_back_all(ms_default* s) {
    size_t released = 0;
    for (size_t c = 1; c < MS_CACHE_CLASSES; c++) {
        for (size_t k = 0; k < MS_DEPOT_LISTS; k++) {
            _Atomic(ms_block_header*)* slot = &s->depot->list[c][k];
            if (ms_load_relaxed(slot) == NULL) continue;
            released += cache_give_back(s, ms_exchange_acquire(slot, NULL), c);
        }
    }
    return released;
}

/* destroy: gives the depot's lists back to the backend and frees it. */
static void depot_drain(ms_default* s) {
    if (s->depot == NULL) return;
    (void)depot_give_back_all(s);
    free(s->depot);
}

/* destroy: gives every cached block back to the backend. */
static void cache_drain(void* value, void* context) {
    ms_thread_cache* cache = value;
    (void)cache_give_back_all(context, cache);
    free(cache);
}

/* ---- the hot paths -------------------------------------------------------- */

/* The hot path, written once for the three kinds.  Each kind's plain blocks
 * carry its own check (the strategy's plain_tweak), so each function's one
 * comparison accepts only blocks of its own kind, and a block of another
 * kind (a direct default_deallocate call on a strategy with a backend) takes
 * the general out-of-line path, which handles every kind.  Always inlined
 * into the entry points, so __builtin_return_address(0) below is the entry
 * point's caller (the allocation site), read only on the out-of-line
 * branch. */
static MS_ALWAYS_INLINE void* allocate_hot(MemoryStrategy* base, size_t size, ms_kind kind) {
    if (MS_UNLIKELY(base == NULL)) return NULL;
    ms_default* s = ms_default_of(base);
    /* The gate: one comparison covers 0 (wraps to SIZE_MAX), sizes above
     * STRATEGY_MAX_ALLOCATION, a status other than ACTIVE, a strategy of
     * another kind and a debug option (the gate is 0).  Relaxed: the
     * status check of StrategyLifecycle.tla (CheckStatus), see ms_default. */
    size_t gate = ms_load_relaxed(kind_gate(s, kind));
    if (MS_UNLIKELY(size - 1 >= gate)) return allocate_slow(s, size, __builtin_return_address(0));
    if (kind == MS_KIND_CACHE) {
        size_t c = MS_CACHE_CLASS(size);
        if (MS_UNLIKELY(c >= MS_CACHE_CLASSES)) return allocate_cache_slow(s, size, false);
        /* The owner cell is this thread's only while its slot is cached. */
        if (MS_UNLIKELY(!ms_stats_slot_cached(&s->stats))) return allocate_cache_slow(s, size, true);
        ms_thread_cache* cache = *ms_stats_owner_cell();
        if (MS_UNLIKELY(cache == NULL)) return allocate_cache_slow(s, size, false);
        return allocate_from_cache(s, size, cache, c);
    }
    void* raw = kind == MS_KIND_MALLOC ? malloc(size + sizeof(ms_block_header))
                                       : s->backend_allocate(s->backend_context, size + sizeof(ms_block_header));
    if (MS_UNLIKELY(raw == NULL)) return ms_refuse_backend_failure(s, NULL, size);
    return ms_commit_plain(s, raw, size, kind_tweak(kind), false);
}

/* deallocate makes its status check only off the hot path: the hot path
 * completes only with this thread's cached slot (ms_stats_try_free), an
 * entry cached by an operation that had passed a status check, and destroy
 * gives the statistics a fresh id (so every entry misses) before its
 * transition out of ACTIVE or DEGRADED, the statuses that allow freeing;
 * every other way out of the hot path checks the status first
 * (refuse_free_in_state).  So a free that comes after destroy began
 * (breaking its precondition) is still refused as ILLEGAL_STATE while the
 * strategy's memory is there, at no cost to the hot path
 * (models/StrategyLifecycle.pml, FreeKeyInv).  The cache kind finds the
 * thread's cache through the same cached slot (deallocate_slow through the
 * slot it looks up). */
static MS_ALWAYS_INLINE void deallocate_hot(MemoryStrategy* base, void* ptr, ms_kind kind) {
    if (MS_UNLIKELY(ptr == NULL || base == NULL)) return;
    ms_default* s = ms_default_of(base);
    ms_block_header* header = (ms_block_header*)ptr - 1;
    if (MS_UNLIKELY(((uintptr_t)ptr & 15u) != 0 || !ms_readable(header, sizeof *header))) {
        refuse_unreadable(s, ptr);
        return;
    }
    uint64_t size = header->size;
    uint64_t check = ms_block_check(ptr, size, s->check_base) ^ kind_tweak(kind);
    if (MS_UNLIKELY(header->check != check)) {
        deallocate_other(s, ptr);
        return;
    }
    /* Counted before the memory goes back, so the backend call is the last
     * thing done (a tail call); the free linearises at the count. */
    if (MS_UNLIKELY(!ms_stats_try_free(&s->stats, size))) {
        deallocate_slow(s, header, size);
        return;
    }
    header->check = check ^ MS_FREED_FLIP; /* a second free is told while the header is intact */
    /* A block with this kind's check belongs to a strategy of this kind. */
    if (kind == MS_KIND_MALLOC) {
        free(header);
    } else if (kind == MS_KIND_BACKEND) {
        s->backend_free(s->backend_context, header);
    } else {
        size_t c = (size_t)MS_CACHE_CLASS(size);
        ms_thread_cache* cache = *ms_stats_owner_cell();
        if (MS_LIKELY(size <= MS_CACHE_MAX_SIZE && cache != NULL)) {
            if (MS_LIKELY(cache->count[c] < s->cache_blocks)) {
                /* The seal overwrites the freed mark stored above.  Storing
                 * the mark only on the other paths costs more: gcc then
                 * keeps a frame here (3 instructions per pair, callgrind). */
                cache_push(cache, header, c, cache_key(s, header));
                return;
            }
            /* A spill (cache_keeps) gives the block back from here, a tail
             * call: 32 instructions per pair less on burst than through
             * cache_keep_or_release (callgrind, OPS=2000000). */
            if (cache_spilling(cache, c)) {
                cache_release_block(s, header, size);
                return;
            }
        }
        cache_keep_or_release_owned(s, header, size);
    }
}

void* default_allocate(MemoryStrategy* base, size_t size) {
    return allocate_hot(base, size, MS_KIND_MALLOC);
}

void default_deallocate(MemoryStrategy* base, void* ptr) { deallocate_hot(base, ptr, MS_KIND_MALLOC); }

static void* allocate_over_backend(MemoryStrategy* base, size_t size) {
    return allocate_hot(base, size, MS_KIND_BACKEND);
}

static void deallocate_over_backend(MemoryStrategy* base, void* ptr) {
    deallocate_hot(base, ptr, MS_KIND_BACKEND);
}

static void* allocate_with_cache(MemoryStrategy* base, size_t size) {
    return allocate_hot(base, size, MS_KIND_CACHE);
}

static void deallocate_with_cache(MemoryStrategy* base, void* ptr) {
    deallocate_hot(base, ptr, MS_KIND_CACHE);
}

void ms_default_vtable(const ms_default* s, ms_allocate_fn* allocate, ms_deallocate_fn* deallocate) {
    *allocate = kKindAllocate[kind_of(s)];
    *deallocate = kKindDeallocate[kind_of(s)];
}

/* ---- status and validation --------------------------------------------- */

static const ms_default* recognise(const MemoryStrategy* base) {
    const ms_default* s = (const ms_default*)base;
    return (s != NULL && s->magic == MS_DEFAULT_MAGIC) ? s : NULL;
}

StrategyStatus default_get_status(MemoryStrategy* base) {
    const ms_default* s = recognise(base);
    return s == NULL ? STRATEGY_STATUS_INVALID : state_tracker_status(&s->tracker);
}

bool default_validate(MemoryStrategy* base) {
    if (recognise(base) == NULL) return false;
    ms_default* s = ms_default_of(base);
    StrategyStatus status = state_tracker_status(&s->tracker);
    ms_allocate_fn allocate;
    ms_deallocate_fn deallocate;
    ms_default_vtable(s, &allocate, &deallocate);
    bool ok = status != STRATEGY_STATUS_INVALID && base->allocate == allocate &&
              base->deallocate == deallocate && base->get_status == default_get_status &&
              base->validate == default_validate && base->allocate_zeroed == default_allocate_zeroed &&
              base->reallocate == default_reallocate && base->allocate_aligned == default_allocate_aligned &&
              s->error_handler != NULL && ms_stats_validate(&s->stats);
    /* A child's backend is its parent, fixed at create. */
    if (s->parent != NULL && (s->backend_allocate != parent_allocate || s->backend_free != parent_free ||
                              s->backend_context != s->parent)) {
        ok = false;
    }
    if (!ok) ms_close_gates(s); /* before the transition (GateInv) */
    if (!ok && state_tracker_transition(&s->tracker, STRATEGY_ACTIVE, STRATEGY_DEGRADED) ==
                   STATE_TRANSITION_DONE) {
        ms_default_report(s, STRATEGY_ERROR_ILLEGAL_STATE, NULL, 0, 0);
    }
    return ok;
}

/* ---- life cycle --------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t make_secret(const void* where) {
    static _Atomic uint64_t counter;
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    /* Relaxed: only distinctness matters. */
    uint64_t n = ms_fetch_add_relaxed(&counter, 1);
    return mix64((uint64_t)(uintptr_t)where ^ mix64(n) ^ mix64((uint64_t)now.tv_nsec) ^
                 (uint64_t)now.tv_sec);
}

DefaultStrategy* create_default_strategy_with(const DefaultStrategyConfig* config) {
    DefaultStrategyConfig defaults;
    memset(&defaults, 0, sizeof defaults);
    if (config == NULL) config = &defaults;
    if ((config->backend_allocate == NULL) != (config->backend_free == NULL)) return NULL;
    if (config->thread_cache_blocks > MS_CACHE_MAX_BLOCKS) return NULL;
    MemoryStrategy* parent = config->parent;
    if (parent != NULL && (config->backend_allocate != NULL || parent->allocate == NULL ||
                           parent->deallocate == NULL)) {
        return NULL;
    }
    size_t size = (sizeof(ms_default) + MS_CACHE_LINE - 1) / MS_CACHE_LINE * MS_CACHE_LINE;
    ms_default* s = aligned_alloc(MS_CACHE_LINE, size);
    if (s == NULL) return NULL;
    /* Not yet shared: plain initialisation, published by the caller's own
     * hand-off of the returned pointer. */
    memset(s, 0, sizeof *s);
    if (config->name != NULL) {
        size_t length = strlen(config->name) + 1;
        s->name = malloc(length);
        if (s->name == NULL) {
            free(s);
            return NULL;
        }
        memcpy(s->name, config->name, length);
    }
    ms_state_tracker_init(&s->tracker);
    ms_stats_init(&s->stats, config->memory_limit);
    s->stats.size_histogram = config->size_histogram;
    s->pub.base.allocate = default_allocate;
    s->pub.base.deallocate = default_deallocate;
    s->pub.base.get_status = default_get_status;
    s->pub.base.validate = default_validate;
    s->pub.base.allocate_zeroed = default_allocate_zeroed;
    s->pub.base.reallocate = default_reallocate;
    s->pub.base.allocate_aligned = default_allocate_aligned;
    s->secret = make_secret(s);
    s->abort_on_misuse = config->abort_on_misuse;
    if (config->check_overflow) s->canary_bytes = MS_CANARY_BYTES;
    if (config->quarantine != 0) {
        s->quarantine_slots = config->quarantine;
        s->quarantine = calloc(config->quarantine, sizeof *s->quarantine);
        if (s->quarantine == NULL) {
            free(s->name);
            free(s);
            return NULL;
        }
    }
    if (config->track_allocations) {
        s->tracking = ms_tracking_create();
        if (s->tracking == NULL) {
            free((void*)s->quarantine);
            free(s->name);
            free(s);
            return NULL;
        }
    }
    /* The gates stay 0 (memset) until the strategy is ACTIVE, below. */
    if (config->check_overflow || config->quarantine != 0 || config->track_allocations) {
        s->debug = true;
        s->plain_tweak = MS_DEBUG_TWEAK;
    } else if (config->thread_cache_blocks != 0 && parent == NULL && !config->size_histogram) {
        /* Its own hot path (ms_default_vtable), over malloc or the backend;
         * direct default_allocate calls take the out-of-line one. */
        s->plain_tweak = MS_CACHE_TWEAK;
        s->cache_blocks = config->thread_cache_blocks;
        s->depot = calloc(1, sizeof *s->depot);
        if (s->depot == NULL) {
            free(s->name);
            free(s);
            return NULL;
        }
    } else if (parent != NULL || config->backend_allocate != NULL) {
        /* Its own hot path (ms_default_vtable); direct default_allocate
         * calls take the out-of-line one. */
        s->plain_tweak = MS_BACKEND_TWEAK;
    }
    ms_default_vtable(s, &s->pub.base.allocate, &s->pub.base.deallocate);
    ms_registry_claim(s);
    if (parent != NULL) {
        s->parent = parent;
        s->backend_allocate = parent_allocate;
        s->backend_free = parent_free;
        s->backend_context = parent;
    } else {
        s->backend_allocate = config->backend_allocate;
        s->backend_free = config->backend_free;
        s->backend_context = config->backend_context;
    }
    s->error_handler = config->error_handler != NULL ? config->error_handler : strategy_default_error_handler;
    s->error_handler_data = config->error_handler_data;
    s->magic = MS_DEFAULT_MAGIC;
    /* Not yet shared: the gate of this strategy's hot path opens with the
     * move to ACTIVE (GateInv), both published by the caller's hand-off. */
    if (!s->debug) ms_store_relaxed(kind_gate(s, kind_of(s)), (size_t)STRATEGY_MAX_ALLOCATION);
    state_tracker_transition(&s->tracker, STRATEGY_INITIALIZING, STRATEGY_ACTIVE);
    return &s->pub;
}

DefaultStrategy* create_default_strategy(void) { return create_default_strategy_with(NULL); }

void destroy_default_strategy(DefaultStrategy* strategy) {
    if (strategy == NULL) return;
    if (recognise(&strategy->base) == NULL) {
        fprintf(stderr, "memstrategy: error: destroy of %p, which is not a live strategy; nothing freed\n",
                (void*)strategy);
        return;
    }
    ms_default* s = ms_default_of(&strategy->base);
    StrategyStatus from = state_tracker_status(&s->tracker);
    ms_close_gates(s);         /* before the transition (GateInv) */
    ms_stats_rekey(&s->stats); /* likewise for deallocate (FreeKeyInv) */
    if (state_tracker_transition(&s->tracker, from, STRATEGY_SHUTTING_DOWN) != STATE_TRANSITION_DONE) {
        ms_default_report(s, STRATEGY_ERROR_ILLEGAL_TRANSITION, strategy, 0, 0);
        return;
    }
    MemStatsSnapshot snap;
    ms_stats_fold(&s->stats, &snap);
    if (snap.live_blocks != 0 || snap.current_bytes != 0) {
        ms_default_report(s, STRATEGY_ERROR_LEAK, NULL, (size_t)snap.current_bytes, snap.live_blocks);
    }
    ms_quarantine_drain(s);
    ms_stats_drain_owner_cells(&s->stats, cache_drain, s); /* the thread caches */
    depot_drain(s);
    state_tracker_transition(&s->tracker, STRATEGY_SHUTTING_DOWN, STRATEGY_DESTROYED);
    ms_registry_release(s);
    ms_tracking_destroy(s->tracking);
    ms_stats_release_memory(&s->stats);
    s->magic = 0;
    free(s->name);
    free(s);
}

/* The calling thread's cache first (only this thread touches it; looked
 * up, never created), then the depot. */
size_t release_cached_blocks(DefaultStrategy* strategy) {
    if (strategy == NULL || recognise(&strategy->base) == NULL) return 0;
    ms_default* s = ms_default_of(&strategy->base);
    if (s->cache_blocks == 0) return 0;
    if (refuse_free_in_state(s, NULL)) return 0;
    void** cell = ms_stats_owner_cell_slow(&s->stats);
    ms_thread_cache* cache = cell != NULL ? *cell : NULL;
    size_t released = cache != NULL ? cache_give_back_all(s, cache) : 0;
    return released + depot_give_back_all(s);
}

/* ---- figures ------------------------------------------------------------ */

bool get_usage_snapshot(const DefaultStrategy* strategy, MemStatsSnapshot* out) {
    if (strategy == NULL || out == NULL) return false;
    ms_stats_fold(&ms_default_const(strategy)->stats, out);
    return true;
}

#define MS_STRATEGY_FIGURE(type, name, field)              \
    type name(const DefaultStrategy* strategy) {           \
        MemStatsSnapshot snap;                             \
        return get_usage_snapshot(strategy, &snap) ? (type)snap.field : 0; \
    }
MS_STRATEGY_FIGURE(size_t, get_current_usage, current_bytes)
MS_STRATEGY_FIGURE(size_t, get_peak_usage, peak_bytes)
MS_STRATEGY_FIGURE(size_t, get_total_allocated, total_allocated_bytes)
MS_STRATEGY_FIGURE(size_t, get_total_freed, total_freed_bytes)
MS_STRATEGY_FIGURE(size_t, get_peak_overreport_bound, peak_overreport_bound)
MS_STRATEGY_FIGURE(uint64_t, get_allocation_count, allocations)
MS_STRATEGY_FIGURE(uint64_t, get_deallocation_count, deallocations)
MS_STRATEGY_FIGURE(uint64_t, get_live_blocks, live_blocks)

void reset_peak_usage(DefaultStrategy* strategy) {
    if (strategy != NULL) ms_stats_reset_peak(&ms_default_of(&strategy->base)->stats);
}

uint64_t get_error_count(const DefaultStrategy* strategy, StrategyError kind) {
    if (strategy == NULL || (unsigned)kind >= STRATEGY_ERROR_COUNT) return 0;
    /* Relaxed: a statistic read on its own. */
    return ms_load_relaxed(&ms_default_const(strategy)->errors[kind]);
}

StrategyError get_last_error(const DefaultStrategy* strategy) {
    if (strategy == NULL) return STRATEGY_OK;
    /* Relaxed: a value read on its own. */
    return (StrategyError)ms_load_relaxed(&ms_default_const(strategy)->last_error);
}

bool default_strategy_snapshot(const DefaultStrategy* strategy, StrategyStats* out) {
    if (strategy == NULL || out == NULL) return false;
    const ms_default* s = ms_default_const(strategy);
    memset(out, 0, sizeof *out);
    ms_stats_fold(&s->stats, &out->usage);
    out->memory_limit = s->stats.limit;
    for (unsigned kind = 0; kind < STRATEGY_ERROR_COUNT; kind++) {
        /* Relaxed: statistics read on their own (as get_error_count). */
        out->errors[kind] = ms_load_relaxed(&s->errors[kind]);
    }
    /* Relaxed: a value read on its own (as get_last_error). */
    out->last_error = (StrategyError)ms_load_relaxed(&s->last_error);
    out->status = state_tracker_status(&s->tracker);
    out->size_histogram = s->stats.size_histogram;
    if (out->size_histogram) ms_stats_fold_size_classes(&s->stats, out->size_classes);
    return true;
}

const char* get_strategy_name(const DefaultStrategy* strategy) {
    if (strategy == NULL) return "";
    const char* name = ms_default_const(strategy)->name;
    return name != NULL ? name : "";
}
