/* Test-only corruption hooks (see testing_hooks.h).  Every write here is a
 * deliberate plain or relaxed write to state that the test owns at that
 * moment: no other thread operates on the strategy while a test corrupts it. */
#include "testing_hooks.h"

#include "default_strategy_internal.h"

static MsCorruption g_kind;
static uint64_t g_saved;
static const void* g_saved_ptr;

static ms_slot* own_slot(ms_default* s) {
    uint32_t index = ms_tl_thread_index;
    if (index >= MS_MAX_THREADS) return NULL;
    ms_slot_chunk* chunk = ms_load_acquire(&s->stats.chunks[index / MS_SLOTS_PER_CHUNK]);
    return chunk == NULL ? NULL : &chunk->slots[index % MS_SLOTS_PER_CHUNK];
}

bool ms_testing_corrupt(DefaultStrategy* strategy, MsCorruption kind) {
    ms_default* s = (ms_default*)strategy;
    ms_slot* slot = own_slot(s);
    g_kind = kind;
    switch (kind) {
    case MS_CORRUPT_MAGIC:
        g_saved = s->magic;
        s->magic ^= 1;
        return true;
    case MS_CORRUPT_STATUS:
        g_saved = ms_load_relaxed(&s->tracker.status);
        ms_store_relaxed(&s->tracker.status, 77u);
        return true;
    case MS_CORRUPT_VTABLE:
        g_saved_ptr = (const void*)(uintptr_t)s->pub.base.allocate;
        s->pub.base.allocate = NULL;
        return true;
    case MS_CORRUPT_ALLOC_OPS:
        if (slot == NULL) return false;
        g_saved = ms_load_relaxed(&slot->alloc_ops);
        ms_store_relaxed(&slot->alloc_ops, ms_load_relaxed(&slot->alloc_bytes) + 1);
        return true;
    case MS_CORRUPT_FREED_BYTES:
        if (slot == NULL) return false;
        g_saved = ms_load_relaxed(&slot->freed_bytes);
        ms_store_relaxed(&slot->freed_bytes, g_saved + (UINT64_C(1) << 60));
        return true;
    case MS_CORRUPT_LOCAL_PEAK:
        if (slot == NULL) return false;
        g_saved = ms_load_relaxed(&slot->local_peak);
        ms_store_relaxed(&slot->local_peak, 0);
        return true;
    case MS_CORRUPT_CHUNK_OWNER: {
        if (slot == NULL) return false;
        ms_slot_chunk* chunk = ms_load_relaxed(&s->stats.chunks[ms_tl_thread_index / MS_SLOTS_PER_CHUNK]);
        g_saved_ptr = chunk->owner;
        chunk->owner = NULL;
        return true;
    }
    case MS_CORRUPT_COUNT:
        break;
    }
    return false;
}

void ms_testing_undo(DefaultStrategy* strategy) {
    ms_default* s = (ms_default*)strategy;
    ms_slot* slot = own_slot(s);
    switch (g_kind) {
    case MS_CORRUPT_MAGIC: s->magic = g_saved; break;
    case MS_CORRUPT_STATUS: ms_store_relaxed(&s->tracker.status, (uint32_t)g_saved); break;
    case MS_CORRUPT_VTABLE: s->pub.base.allocate = (ms_allocate_fn)(uintptr_t)g_saved_ptr; break;
    case MS_CORRUPT_ALLOC_OPS: ms_store_relaxed(&slot->alloc_ops, g_saved); break;
    case MS_CORRUPT_FREED_BYTES: ms_store_relaxed(&slot->freed_bytes, g_saved); break;
    case MS_CORRUPT_LOCAL_PEAK: ms_store_relaxed(&slot->local_peak, g_saved); break;
    case MS_CORRUPT_CHUNK_OWNER:
        ms_load_relaxed(&s->stats.chunks[ms_tl_thread_index / MS_SLOTS_PER_CHUNK])->owner = g_saved_ptr;
        break;
    case MS_CORRUPT_COUNT: break;
    }
}

void ms_testing_release_thread_index(void) { ms_thread_index_release_current(); }

uint64_t ms_testing_block_check(const DefaultStrategy* strategy, const void* block, size_t size) {
    return ms_plain_check((const ms_default*)strategy, block, size);
}
