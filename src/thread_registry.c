/* The thread-index registry (see thread_registry.h). */
#include "thread_registry.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define WORD_BITS 64u
#define WORDS (MS_MAX_THREADS / WORD_BITS)

_Thread_local uint32_t ms_tl_thread_index MS_INITIAL_EXEC_TLS = MS_NO_INDEX;
_Thread_local ms_slot_cache_entry ms_tl_slot_cache[2] MS_INITIAL_EXEC_TLS;

/* Bit i set: index i is held by a live thread. */
static _Atomic uint64_t g_claimed[WORDS];

static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_exit_key;
static bool g_key_ok;

static void release_index(uint32_t index) {
    /* Release: pairs with the acq_rel CAS of the next claimer, so every
     * slot store this thread made happens-before the next owner's. */
    ms_fetch_and_release(&g_claimed[index / WORD_BITS], ~(UINT64_C(1) << (index % WORD_BITS)));
}

static void on_thread_exit(void* value) {
    (void)value;
    uint32_t index = ms_tl_thread_index;
    ms_tl_thread_index = MS_NO_INDEX;
    memset(ms_tl_slot_cache, 0, sizeof ms_tl_slot_cache);
    if (index < MS_MAX_THREADS) release_index(index);
}

static void create_key(void) { g_key_ok = pthread_key_create(&g_exit_key, on_thread_exit) == 0; }

uint32_t ms_thread_index_claim(void) {
    uint32_t cached = ms_tl_thread_index;
    if (cached != MS_NO_INDEX) return cached; /* MS_OVERFLOW_INDEX stays cached */
    pthread_once(&g_key_once, create_key);
    uint32_t index = MS_OVERFLOW_INDEX;
    /* Without an exit hook an index could never be returned: use the shared
     * slot instead of leaking one. */
    if (g_key_ok && pthread_setspecific(g_exit_key, &g_claimed) == 0) {
        for (uint32_t w = 0; w < WORDS && index == MS_OVERFLOW_INDEX; w++) {
            /* Relaxed: only a hint for which bit to try; the CAS decides. */
            uint64_t bits = ms_load_relaxed(&g_claimed[w]);
            while (bits != UINT64_MAX) {
                uint64_t bit = (uint64_t)__builtin_ctzll(~bits);
                /* acq_rel: acquires the previous owner's release_index. */
                if (ms_cas_acq_rel(&g_claimed[w], &bits, bits | (UINT64_C(1) << bit))) {
                    index = w * WORD_BITS + (uint32_t)bit;
                    break;
                }
            }
        }
    }
    ms_tl_thread_index = index;
    return index;
}

void ms_thread_index_release_current(void) { on_thread_exit(NULL); }
