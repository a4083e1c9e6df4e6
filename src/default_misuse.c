/* default_strategy: telling misuse apart (double free, a block of another
 * strategy, a corrupted header, a pointer that never was a block), the
 * registry of live strategies' tags, the quarantine and the overflow canary.
 * Everything here runs off the hot path: after the hot path's check failed,
 * or for a strategy with a debug option. */
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "default_strategy_internal.h"

/* ---- the registry of live strategies ------------------------------------ */

/* One slot per live strategy that got one: its check_base (tag << 32 | low
 * half of the secret), 0 when free.  Values only: nothing here points to a
 * strategy, so a lookup racing with a destroy reads a stale value at worst.
 * A tag's low 8 bits are its slot index + 1 (0: no slot, the registry was
 * full), so tags of live strategies with a slot are distinct. */
#define MS_REGISTRY_SLOTS 255u
static _Atomic uint64_t registry[MS_REGISTRY_SLOTS];

void ms_registry_claim(ms_default* s) {
    /* The tag's upper 24 bits come from the secret, so a stale block of a
     * destroyed strategy rarely matches a new one on its slot; bit 30 is
     * always set, so no check is 0 (ms_block_check). */
    uint64_t upper = ((s->secret >> 40) | (UINT64_C(1) << 22)) << 8;
    uint64_t secret_lo = s->secret & UINT64_C(0xffffffff);
    for (unsigned i = 0; i < MS_REGISTRY_SLOTS; i++) {
        uint64_t base = ((upper | (i + 1u)) << 32) | secret_lo;
        uint64_t expected = 0;
        /* acq_rel: pairs with the release store that cleared the slot at a
         * destroy; only the value matters to readers. */
        if (ms_cas_acq_rel(&registry[i], &expected, base)) {
            s->check_base = base;
            s->registry_slot = i + 1u;
            return;
        }
    }
    s->check_base = (upper << 32) | secret_lo; /* no slot: WRONG_STRATEGY is not told for it */
    s->registry_slot = 0;
}

void ms_registry_release(ms_default* s) {
    /* Release: pairs with the CAS of the next claim of this slot. */
    if (s->registry_slot != 0) ms_store_release(&registry[s->registry_slot - 1u], 0);
}

/* The check_base of the live strategy whose tag is `tag`, or 0. */
static uint64_t registry_lookup(uint32_t tag) {
    unsigned index = tag & 0xffu;
    if (index == 0) return 0;
    /* Relaxed: a value compared on its own; nothing is read through it. */
    uint64_t base = ms_load_relaxed(&registry[index - 1u]);
    return (uint32_t)(base >> 32) == tag ? base : 0;
}

/* ---- the canary --------------------------------------------------------- */

static uint64_t canary_of(const ms_default* s, const void* block) {
    return ((uint64_t)(uintptr_t)block * UINT64_C(0xff51afd7ed558ccd)) ^ s->secret;
}

void ms_write_canary(const ms_default* s, void* block, size_t size) {
    if (s->canary_bytes == 0) return;
    uint64_t canary = canary_of(s, block);
    memcpy((char*)block + size, &canary, sizeof canary);
}

static bool canary_intact(const ms_default* s, const void* block, uint64_t size) {
    if (s->canary_bytes == 0) return true;
    const char* at = (const char*)block + size;
    if (!ms_readable(at, sizeof(uint64_t))) return false;
    uint64_t canary;
    memcpy(&canary, at, sizeof canary);
    return canary == canary_of(s, block);
}

/* ---- finding and classifying -------------------------------------------- */

/* Which check the header at `ptr` carries, for a strategy whose check_base
 * is `base`: 1 a live block, 2 a freed one, 0 neither.  `tweak` is the
 * strategy's plain_tweak, or MS_ANY_TWEAK for another strategy (whose kind
 * is unknown: every kind is tried). */
enum { MS_NO_MATCH = 0, MS_LIVE = 1, MS_FREED = 2 };
#define MS_ANY_TWEAK UINT64_MAX

static int match_plain(const void* ptr, uint64_t word, uint64_t check, uint64_t base, uint64_t tweak) {
    static const uint64_t kTweaks[] = {0, MS_BACKEND_TWEAK, MS_DEBUG_TWEAK, MS_CACHE_TWEAK};
    uint64_t plain = ms_block_check(ptr, word, base);
    for (size_t i = 0; i < sizeof kTweaks / sizeof kTweaks[0]; i++) {
        if (tweak != MS_ANY_TWEAK && tweak != kTweaks[i]) continue;
        uint64_t live = plain ^ kTweaks[i];
        if (check == live) return MS_LIVE;
        if (check == (live ^ MS_FREED_FLIP)) return MS_FREED;
    }
    return MS_NO_MATCH;
}

static int match_aligned(const ms_block_header* header, const void* ptr, uint64_t word, uint64_t check,
                         uint64_t base, uint64_t* prefix_out) {
    if ((word & MS_BLOCK_ALIGNED) == 0) return MS_NO_MATCH;
    uint64_t live = ms_aligned_check(ptr, word, base);
    if (check == (live ^ MS_FREED_FLIP)) return MS_FREED;
    if (check != live) return MS_NO_MATCH;
    /* Only now is the prefix known to exist: the header proved this is an
     * aligned block of this strategy, which always has one. */
    const uint64_t* prefix_at = (const uint64_t*)(const void*)header - 1;
    if (!ms_readable(prefix_at, sizeof *prefix_at)) return MS_NO_MATCH;
    uint64_t prefix = *prefix_at;
    uint64_t offset = prefix & MS_PREFIX_OFFSET_MASK;
    unsigned shift = (unsigned)((prefix >> MS_PREFIX_SHIFT_BITS) & 0xffu);
    if (prefix != ms_prefix_seal(ptr, prefix & MS_PREFIX_LOW_MASK, base) || shift > 63 ||
        offset < MS_ALIGNED_OVERHEAD || offset - MS_ALIGNED_OVERHEAD >= ((uint64_t)1 << shift)) {
        return MS_NO_MATCH; /* a damaged prefix: reported as a corrupted block */
    }
    *prefix_out = prefix;
    return MS_LIVE;
}

/* How the header at `ptr` matches the strategy of `base`. */
static int match_any(const ms_block_header* header, const void* ptr, uint64_t base, uint64_t tweak) {
    uint64_t word = header->size;
    uint64_t check = header->check;
    uint64_t prefix;
    int how = match_plain(ptr, word, check, base, tweak);
    return how != MS_NO_MATCH ? how : match_aligned(header, ptr, word, check, base, &prefix);
}

/* Whether the header at `ptr`, whose check and size word give `tag`, is
 * one of strategy `ours`'s: its tag is `ours`, or it would be had the size
 * word not been overwritten (without the aligned flag, the high half of
 * the size word of every block below 4 GiB is 0).  A change to the
 * check's high half changes both. */
static bool claims_tag(const ms_block_header* header, const void* ptr, uint32_t tag, uint32_t ours) {
    return tag == ours || ms_check_tag(ptr, 0, header->check) == ours;
}

StrategyError ms_classify_misuse(const ms_default* s, const void* ptr) {
    if (((uintptr_t)ptr & 15u) != 0) return STRATEGY_ERROR_INVALID_POINTER;
    const ms_block_header* header = (const ms_block_header*)ptr - 1;
    if (!ms_readable(header, sizeof *header)) return STRATEGY_ERROR_INVALID_POINTER;
    uint32_t tag = ms_check_tag(ptr, header->size, header->check);
    if (claims_tag(header, ptr, tag, (uint32_t)(s->check_base >> 32))) {
        int how = match_any(header, ptr, s->check_base, s->plain_tweak);
        if (how == MS_FREED) return STRATEGY_ERROR_DOUBLE_FREE;
        /* Our tag, but neither a live nor a freed check (a live one with a
         * damaged canary is reported by ms_find_other_block). */
        return STRATEGY_ERROR_CORRUPTED_BLOCK;
    }
    uint64_t other = registry_lookup(tag);
    if (other != 0 && match_any(header, ptr, other, MS_ANY_TWEAK) == MS_LIVE) return STRATEGY_ERROR_WRONG_STRATEGY;
    return STRATEGY_ERROR_INVALID_POINTER;
}

StrategyError ms_find_other_block(const ms_default* s, void* ptr, ms_block_header* header, ms_block* out) {
    uint64_t word = header->size;
    uint64_t check = header->check;
    uint64_t prefix = 0;
    /* A plain block of a strategy whose blocks the hot path over malloc
     * does not take (over a backend, with a thread cache, or with a debug
     * option). */
    if (s->plain_tweak != 0 && match_plain(ptr, word, check, s->check_base, s->plain_tweak) == MS_LIVE) {
        if (!canary_intact(s, ptr, word)) return STRATEGY_ERROR_CORRUPTED_BLOCK;
        ms_plain_block(header, word, out);
        return STRATEGY_OK;
    }
    if (match_aligned(header, ptr, word, check, s->check_base, &prefix) == MS_LIVE) {
        uint64_t size = word & ~MS_BLOCK_ALIGNED;
        if (!canary_intact(s, ptr, size)) return STRATEGY_ERROR_CORRUPTED_BLOCK;
        out->header = header;
        out->raw = (char*)ptr - (prefix & MS_PREFIX_OFFSET_MASK);
        out->size = size;
        out->aligned = true;
        out->shift = (unsigned)((prefix >> MS_PREFIX_SHIFT_BITS) & 0xffu);
        return STRATEGY_OK;
    }
    return ms_classify_misuse(s, ptr);
}

MS_NOINLINE void* ms_refuse_misuse(ms_default* s, StrategyError error, const void* pointer, size_t size) {
    ms_default_report(s, error, pointer, size, 0);
    if (s->abort_on_misuse) abort();
    return NULL;
}

/* ---- the quarantine ----------------------------------------------------- */

void ms_quarantine_push(ms_default* s, void* raw) {
    /* Relaxed: the counter only spreads pushes over the slots; the exchange
     * below is what hands a block over. */
    uint64_t n = ms_fetch_add_relaxed(&s->quarantine_next, 1);
    /* acq_rel: the release publishes this block's freed mark to the thread
     * that pushes it out; the acquire makes the pushed-out block's writes
     * (its freed mark) happen-before its release to the backend here. */
    void* old = ms_exchange_acq_rel(&s->quarantine[n % s->quarantine_slots], raw);
    if (old != NULL) ms_backend_release(s, old);
}

void ms_quarantine_drain(ms_default* s) {
    if (s->quarantine == NULL) return;
    for (size_t i = 0; i < s->quarantine_slots; i++) {
        /* acq_rel: as in ms_quarantine_push (destroy runs alone, so this is
         * only for uniformity). */
        void* old = ms_exchange_acq_rel(&s->quarantine[i], NULL);
        if (old != NULL) ms_backend_release(s, old);
    }
    free((void*)s->quarantine);
    s->quarantine = NULL;
}
