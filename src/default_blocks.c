/* default_strategy: zeroed, resized and aligned blocks.  Everything here is
 * built from the same pieces as the hot path in default_strategy.c (the
 * header check, the backend, ms_stats_on_alloc / ms_stats_on_free), so the
 * counting protocol (models/UsageCounting.tla) is unchanged: a reallocation
 * is one free and one allocation recorded by the calling thread. */
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "default_strategy_internal.h"

/* ---- obtaining memory --------------------------------------------------- */

/* count * size, or 0 (an invalid size) if it overflows or either is 0;
 * *reported gets the product, SIZE_MAX on overflow. */
static size_t checked_product(size_t count, size_t size, size_t* reported) {
    if (count != 0 && size > SIZE_MAX / count) {
        *reported = SIZE_MAX;
        return 0;
    }
    *reported = count * size;
    return count * size;
}

/* `total` bytes from the backend, all zero.  Over malloc, calloc (fresh
 * pages are already zero); under a parent that has allocate_zeroed, that;
 * otherwise the backend's memory cleared here. */
static void* obtain_zeroed(ms_default* s, size_t total) {
    if (s->backend_allocate == NULL) return calloc(1, total);
    MemoryStrategy* parent = s->parent;
    if (parent != NULL && parent->allocate_zeroed != NULL) {
        ms_parent_call_begins();
        return parent->allocate_zeroed(parent, 1, total);
    }
    void* raw = s->backend_allocate(s->backend_context, total);
    if (raw != NULL) memset(raw, 0, total);
    return raw;
}

void* default_allocate_zeroed(MemoryStrategy* base, size_t count, size_t size) {
    if (base == NULL) return NULL;
    ms_site site = {__builtin_return_address(0), NULL, 0};
    ms_default* s = ms_default_of(base);
    size_t reported;
    size_t bytes = checked_product(count, size, &reported);
    /* One comparison covers 0 (wraps to SIZE_MAX) and > STRATEGY_MAX_ALLOCATION. */
    if (bytes - 1 >= STRATEGY_MAX_ALLOCATION) {
        return ms_refuse_request(s, STRATEGY_ERROR_INVALID_SIZE, NULL, reported);
    }
    if (!ms_state_allows(&s->tracker, MS_ALLOWS_ALLOCATE)) {
        return ms_refuse_request(s, STRATEGY_ERROR_ILLEGAL_STATE, NULL, bytes);
    }
    void* raw = obtain_zeroed(s, ms_plain_request(s, bytes));
    if (raw == NULL) return ms_refuse_backend_failure(s, NULL, bytes);
    return ms_commit_block(s, raw, bytes, &site);
}

/* ---- aligned blocks ----------------------------------------------------- */

/* The aligned blocks' layout, for alignment A = 2^shift > 16, in a backend
 * block of size + A + 23 bytes starting at raw:
 *
 *     raw ... [prefix: 8][header: 16][block: size bytes, address % A == 0] ...
 *
 * block is the first multiple of A at or after raw + 24, so it ends at most
 * 24 + (A - 1) + size bytes after raw.  The prefix records block - raw and
 * shift, sealed (ms_prefix_seal); the header's size word carries
 * MS_BLOCK_ALIGNED, and its check (ms_aligned_check) matches only with the
 * flag set. */
static size_t aligned_request(const ms_default* s, size_t size, unsigned shift) {
    return size + MS_ALIGNED_OVERHEAD + (((size_t)1 << shift) - 1) + s->canary_bytes;
}

/* Places an aligned block in `raw` (of aligned_request(size, shift) bytes)
 * and stamps its prefix, header and canary.  Returns the header. */
static ms_block_header* place_aligned(const ms_default* s, void* raw, size_t size, unsigned shift) {
    size_t alignment = (size_t)1 << shift;
    char* start = (char*)raw + MS_ALIGNED_OVERHEAD;
    char* block = start + ((alignment - ((uintptr_t)start & (alignment - 1))) & (alignment - 1));
    ms_block_header* header = (ms_block_header*)(void*)block - 1;
    uint64_t prefix = ms_prefix_seal(
        block, (uint64_t)(block - (char*)raw) | ((uint64_t)shift << MS_PREFIX_SHIFT_BITS), s->check_base);
    uint64_t word = (uint64_t)size | MS_BLOCK_ALIGNED;
    ((uint64_t*)(void*)header)[-1] = prefix;
    header->size = word;
    header->check = ms_aligned_check(block, word, s->check_base);
    ms_write_canary(s, block, size);
    return header;
}

static unsigned log2_of(size_t power_of_two) {
    unsigned shift = 0;
    while (((size_t)1 << shift) != power_of_two) shift++;
    return shift;
}

void* default_allocate_aligned(MemoryStrategy* base, size_t alignment, size_t size) {
    if (base == NULL) return NULL;
    bool power_of_two = alignment != 0 && (alignment & (alignment - 1)) == 0;
    /* Every block is 16-aligned already. */
    ms_default* s = ms_default_of(base);
    if (power_of_two && alignment <= sizeof(ms_block_header)) {
        if (s->tracking == NULL) return default_allocate(base, size);
        ms_site site = {__builtin_return_address(0), NULL, 0};
        return ms_allocate_slow(s, size, &site);
    }
    if (!power_of_two || alignment > STRATEGY_MAX_ALIGNMENT || size - 1 >= STRATEGY_MAX_ALLOCATION) {
        return ms_refuse_request(s, STRATEGY_ERROR_INVALID_SIZE, NULL, size);
    }
    if (!ms_state_allows(&s->tracker, MS_ALLOWS_ALLOCATE)) {
        return ms_refuse_request(s, STRATEGY_ERROR_ILLEGAL_STATE, NULL, size);
    }
    unsigned shift = log2_of(alignment);
    void* raw = ms_backend_obtain(s, aligned_request(s, size, shift));
    if (raw == NULL) return ms_refuse_backend_failure(s, NULL, size);
    ms_block_header* header = place_aligned(s, raw, size, shift);
    if (!ms_stats_on_alloc(&s->stats, size)) return ms_refuse_over_limit(s, header, raw, size);
    if (s->tracking != NULL) {
        ms_site site = {__builtin_return_address(0), NULL, 0};
        ms_track_add(s, header + 1, size, &site);
    }
    return header + 1;
}

/* ---- reallocation ------------------------------------------------------- */

/* Whether the backend can resize a plain block itself (realloc(), or the
 * parent's reallocate), on a strategy without debug options (whose blocks
 * carry a canary or must go to the quarantine). */
static bool backend_resizes(const ms_default* s) {
    if (s->debug) return false;
    return s->backend_allocate == NULL || (s->parent != NULL && s->parent->reallocate != NULL);
}

static void* backend_resize(ms_default* s, void* raw, size_t total) {
    if (s->backend_allocate == NULL) return realloc(raw, total);
    ms_parent_call_begins();
    return s->parent->reallocate(s->parent, raw, total);
}

/* Records a successful reallocation from `old_size` to `size`.  Without a
 * limit both records come now (free first, so the peak moves by the
 * difference); with one, the allocation was recorded before the old block
 * could be released (`counted`) and only the free remains. */
static void record_resize(ms_default* s, uint64_t old_size, size_t size, bool counted) {
    ms_stats_on_free(&s->stats, old_size);
    /* Cannot fail: without a limit nothing refuses an allocation. */
    if (!counted) (void)ms_stats_on_alloc(&s->stats, size);
}

/* A plain block, resized by the backend (in place when it can). */
static void* resize_plain(ms_default* s, void* ptr, const ms_block* old, size_t size) {
    bool limited = s->stats.limit != 0;
    /* Under a limit the new size is counted while the old block is intact:
     * if the limit refuses, nothing has happened to it. */
    if (limited && !ms_stats_on_alloc(&s->stats, size)) {
        return ms_refuse_request(s, STRATEGY_ERROR_LIMIT_EXCEEDED, ptr, size);
    }
    ms_block_header* header = old->header;
    header->check ^= MS_FREED_FLIP; /* the old address stops matching before the backend may free it */
    ms_block_header* moved = backend_resize(s, header, ms_plain_request(s, size));
    if (moved == NULL) {
        /* The backend left the old block as it was: make it live again. */
        header->check ^= MS_FREED_FLIP;
        if (limited) ms_stats_on_free(&s->stats, size);
        return ms_refuse_backend_failure(s, ptr, size);
    }
    void* block = ms_stamp_plain(s, moved, size, s->plain_tweak);
    record_resize(s, old->size, size, limited);
    return block;
}

/* Any block, moved: a new block of the same kind, the contents copied, the
 * old block released.  A failure changes nothing. */
static void* resize_by_moving(ms_default* s, void* ptr, const ms_block* old, size_t size) {
    size_t total = old->aligned ? aligned_request(s, size, old->shift)
                                : ms_plain_request(s, size);
    void* raw = ms_backend_obtain(s, total);
    if (raw == NULL) return ms_refuse_backend_failure(s, ptr, size);
    ms_block_header* header = old->aligned ? place_aligned(s, raw, size, old->shift) : raw;
    if (!old->aligned) {
        ms_stamp_plain(s, header, size, s->plain_tweak);
        ms_write_canary(s, header + 1, size);
    }
    bool limited = s->stats.limit != 0;
    if (limited && !ms_stats_on_alloc(&s->stats, size)) {
        header->check = 0;
        ms_backend_release(s, raw);
        return ms_refuse_request(s, STRATEGY_ERROR_LIMIT_EXCEEDED, ptr, size);
    }
    memcpy(header + 1, ptr, old->size < size ? (size_t)old->size : size);
    ms_release_block(s, old);
    record_resize(s, old->size, size, limited);
    return header + 1;
}

void* default_reallocate(MemoryStrategy* base, void* ptr, size_t size) {
    if (base == NULL) return NULL;
    if (ptr == NULL) return default_allocate(base, size);
    ms_default* s = ms_default_of(base);
    if (size - 1 >= STRATEGY_MAX_ALLOCATION) {
        return ms_refuse_request(s, STRATEGY_ERROR_INVALID_SIZE, ptr, size);
    }
    if (!ms_state_allows(&s->tracker, MS_ALLOWS_ALLOCATE)) {
        return ms_refuse_request(s, STRATEGY_ERROR_ILLEGAL_STATE, ptr, size);
    }
    ms_block old;
    StrategyError error = ms_find_block(s, ptr, &old);
    if (error != STRATEGY_OK) return ms_refuse_misuse(s, error, ptr, size);
    if (!old.aligned && backend_resizes(s)) return resize_plain(s, ptr, &old, size);
    void* moved = resize_by_moving(s, ptr, &old, size);
    if (moved != NULL && s->tracking != NULL) {
        ms_site site = {__builtin_return_address(0), NULL, 0};
        ms_track_add(s, moved, size, &site);
    }
    return moved;
}
