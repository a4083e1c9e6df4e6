/*
 * UsageCounting.pml: the checked twin of UsageCounting.tla.
 *
 * The per-thread counting protocol as implemented in
 *   src/memstats_internal.h  ms_stats_on_alloc, ms_stats_on_free, ms_stats_slot
 *   src/memstats.c           ms_stats_reserve, ms_stats_unreserve,
 *                            ms_stats_record_shared, ms_stats_fold,
 *                            ms_stats_validate
 *   src/ms_atomic.h          ms_max_relaxed_i64 (the reserved_peak CAS loop)
 *   src/thread_registry.c    ms_thread_index_claim, on_thread_exit
 *
 * NTHREADS threads share NSLOTS thread indices (so a thread may inherit the
 * slot of one that exited, or find none free and use the shared overflow
 * slot).  Thread 1 makes NOPS_FIRST calls, the others NOPS: each allocates
 * 1 or 3 bytes (1..3 with ALL_SIZES) or frees any live block, whichever
 * thread allocated it.  A reader concurrently folds the counters
 * (ms_stats_fold), or with READER_VALIDATE validates them
 * (ms_stats_validate), or with NO_READER is absent; the owner folds and
 * validates once more after joining every thread.  With LIMIT=n the
 * statistics have a limit (add_reservation's CAS loop).  Every shared load
 * or store is its own step, in the order of the C code; read-modify-writes
 * (fetch_add, CAS) are one step each (see "Step granularity" below).
 *
 * Each operation is linearised at its update of reserved_total when it makes
 * one, else at its release store of alloc_bytes / freed_bytes.  The ghost
 * variables g_* record the true usage in that order.
 *
 * With RESET, the peak reset (ms_stats_reset_peak, src/memstats.c), the
 * peak epochs (ms_stats_check_epoch, ms_stats_restart_local_peak), the
 * per-thread slot cache (ms_tl_slot_cache, keyed by stats->id) and the fast
 * paths ms_stats_try_alloc / ms_stats_try_free are modelled: the reader
 * resets the peak once, then folds (or with RESET_ONLY does nothing more;
 * with RESET_PROC a separate process resets, concurrently with the reader).
 * Without RESET these add nothing: the id never changes, so a fast path is
 * the full path without a reservation, which the model already has.  A
 * fast path is linearised at its load of the id, a full-path free at its
 * load of peak_epoch (see check_epoch).
 *
 * Build variants (spin -D...), each of which spin must refute:
 *   LOST_UPDATE       reserve by load + store instead of one fetch_add
 *   STORE_FIRST       publish alloc_bytes before reserving
 *   NO_UNRESERVE      never give back reserve on free
 *   ALLOCS_FIRST      fold allocations before frees
 *   RESET_NO_REKEY    (with RESET) a reset that keeps the id, so threads
 *                     with a cached slot skip the epoch restart
 * and checks of a known defect (README.md, "Stale-slot race"):
 *   CHECK_STALE_RACE  (with RESET) assert PeakSettledInv for a concurrent
 *                     fold that counted a stale slot: spin refutes it
 *   STALE_FREED_FIRST (with RESET) the proposed fix: pass 2 loads a slot's
 *                     freed_bytes before its alloc_bytes and uses that
 *                     value for a stale slot; PeakSettledInv then holds
 *   VALIDATE_EPOCH_FIX (with RESET) the proposed fix of validate during a
 *                     reset: the restart stores the slot's epoch first,
 *                     validate skips a slot whose epoch changed during its
 *                     local-peak check
 */

#ifndef NTHREADS
#define NTHREADS 2
#endif
#ifndef NOPS
#define NOPS 1
#endif
#ifndef NOPS_FIRST
#define NOPS_FIRST 2     /* calls made by thread 1 */
#endif
#define BATCH 2          /* MEMSTATS_BATCH_BYTES */
#define MAXSIZE 3        /* sizes 1..3: a free may exceed BATCH */
#define NSLOTS 2         /* thread indices 0..1 (MS_MAX_THREADS) */
#define OVERFLOW NSLOTS  /* MS_OVERFLOW_INDEX: the shared slot */
#define NO_INDEX 255     /* MS_NO_INDEX */

typedef Slot {
    short alloc_bytes;
    short freed_bytes;
    byte alloc_ops;
    byte free_ops;
    short local_peak;
    short reserved;
    byte epoch           /* the peak_epoch local_peak belongs to */
};

Slot slot[NSLOTS + 1];   /* slot[OVERFLOW] is MemStats.overflow */
short reserved_total = 0;
short reserved_peak = 0;
bool overflow_used = false;
bool claimed[NSLOTS];    /* g_claimed bits */
byte peak_epoch = 0;     /* MemStats.peak_epoch (RESET) */
byte stats_id = 1;       /* MemStats.id, never 0: the slot cache's key (RESET) */

/* Live blocks by size, handed between threads (any thread may free one). */
byte live[MAXSIZE + 1];

/* Coverage: each `cover_*: cover = 1` marks an event that spin_check.sh
 * requires to be reached (hidden: not part of the state).  Each such label
 * sits on a line of its own, never on its guard's line or after another
 * statement: pan reports unreached code by line, and a guard's evaluation
 * would otherwise count as the branch being taken. */
hidden byte cover;

/* Ghost state: the true history, in linearisation order. */
short g_alloc = 0;       /* bytes allocated by linearised operations */
short g_freed = 0;
short g_cur = 0;         /* g_alloc - g_freed */
short g_hw = 0;          /* high-water mark of g_cur since the reset began
                          * (since the start without a reset) */
short g_hwlo = 0;        /* high-water mark of g_cur since the reset ended
                          * (equal to g_hw without a reset) */
short g_hw_quiet = 0;    /* g_hwlo at the last moment nothing was in flight */
bool resetting = false;  /* ms_stats_reset_peak is running */
short g_live_blocks = 0;
byte inflight = 0;       /* calls between entry and return */
bool reading = false;    /* a fold is running */
bool disturbed = false;  /* a call began while it ran */
byte done_threads = 0;
byte done_readers = 0;

#define NET(i) (slot[i].alloc_bytes - slot[i].freed_bytes)
#define SLACK_OK(i) (NET(i) <= slot[i].reserved && slot[i].reserved <= NET(i) + 2 * BATCH)
#if NSLOTS != 2
#error "the invariants below spell out NSLOTS == 2"
#endif
#define SUM_RESERVED (slot[0].reserved + slot[1].reserved + NET(OVERFLOW))

/* Checked in every reachable state (see Monitor):
 *   ReserveCoversInv: reserved_total >= true current usage, always.
 *   At quiescence, TotalInv (reserved_total is the sum of the slots' shares
 *   plus the overflow slot's net) and SlackInv (net <= reserved <= net +
 *   2*BATCH in each slot).  With LIMIT, LimitInv: reserved_total and the
 *   true usage never exceed the limit. */
#ifdef LIMIT
#define LIMIT_OK (reserved_total <= LIMIT && g_cur <= LIMIT)
#else
#define LIMIT_OK true
#endif
#define STATE_INV ( \
    LIMIT_OK && \
    reserved_total >= g_cur && \
    (resetting || reserved_peak >= g_hw_quiet) && \
    (inflight != 0 || \
     (reserved_total == SUM_RESERVED && SLACK_OK(0) && SLACK_OK(1) && \
      g_cur == NET(0) + NET(1) + NET(OVERFLOW))))

active proctype Monitor() {
end: atomic { !STATE_INV -> assert(false) }
}

inline ghost_linearise(amount, blocks) {
    g_cur = g_cur + amount;
    if
    :: amount > 0 -> g_alloc = g_alloc + amount
    :: else -> g_freed = g_freed - amount
    fi;
    g_live_blocks = g_live_blocks + blocks;
    if
    :: g_cur > g_hw -> g_hw = g_cur
    :: else -> skip
    fi;
    if
    :: g_cur > g_hwlo -> g_hwlo = g_cur
    :: else -> skip
    fi
}

/* add_reservation(need, want) in src/memstats.c: without a limit one
 * fetch_add of `want`; with LIMIT, a CAS loop (linearisable at its successful
 * CAS) that asks for less slack, down to `need`, or fails (refused).  Sets
 * total to the new reserved_total; the caller raises reserved_peak after. */
#ifdef LIMIT
#define ADD_RESERVATION(need) \
    if \
    :: reserved_total > LIMIT || LIMIT - reserved_total < (need) -> refused = true \
    :: else -> \
        if \
        :: LIMIT - reserved_total < want -> want = LIMIT - reserved_total \
        :: else -> skip \
        fi; \
        reserved_total = reserved_total + want; \
        total = reserved_total \
    fi
#else
#define ADD_RESERVATION(need) \
    reserved_total = reserved_total + want; \
    total = reserved_total
#endif

/* ms_max_relaxed_i64(&reserved_peak, v): a relaxed load, then CAS until the
 * stored value is at least v.  The loop is linearisable at its last step (the
 * load that saw a value >= v, or the successful CAS), so it is one atomic
 * step here. */
inline max_relaxed(v) {
    atomic {
        if
        :: reserved_peak < v -> reserved_peak = v
        :: else -> skip
        fi
    }
}

/* Step granularity.  Each atomic step below makes at most one access to a
 * variable that another thread writes, or that a reader reads, in the order
 * of the C code.  Merged into a neighbouring step are: loads of the caller's
 * own slot (nobody else writes it), local computation, ghost updates, the
 * store of slot.reserved (no reader loads it), claiming the thread index and
 * taking a live block (acquisitions: right movers), and handing the new
 * block out (a release: a left mover).  These commute with every step of
 * every other thread, so merging them loses no interleaving of the shared
 * accesses (Lipton's reduction). */

#ifdef ALL_SIZES
#define PICK_SIZE \
    if \
    :: size = 1 \
    :: size = 2 \
    :: size = 3 \
    fi
#else
#define PICK_SIZE \
    if \
    :: size = 1 \
    :: size = 3 \
    fi
#endif

/* Takes any live block (a free may come from any thread); not executable
 * unless the thread has a call left and a block is live. */
#define TAKE_BLOCK \
    if \
    :: n < nops && live[1] > 0 -> live[1]--; size = 1 \
    :: n < nops && live[2] > 0 -> live[2]--; size = 2 \
    :: n < nops && live[3] > 0 -> live[3]--; size = 3 \
    fi

/* Entry of a call: ms_stats_slot -> ms_thread_index, which on the thread's
 * first call runs ms_thread_index_claim: the lowest free index by CAS, or
 * for good the overflow slot if every index is held (action ClaimIndex). */
inline begin_call() {
    n++;
    inflight++;
    disturbed = disturbed || reading;
    if
    :: idx == NO_INDEX ->
        idx = 0;
        do
        :: idx < NSLOTS && claimed[idx] -> idx++
        :: else -> break
        od;
        if
        :: idx < NSLOTS ->
            claimed[idx] = true;
            if
            :: slot[idx].alloc_ops + slot[idx].free_ops > 0 ->
                cover_handoff: cover = 1             /* inherits an exited thread's counts */
            :: else -> skip
            fi
        :: else ->
            idx = OVERFLOW;
            cover_overflow_index: cover = 1
        fi
    :: else -> skip
    fi
}

inline end_call() {
    if
    :: idx < NSLOTS -> assert(SLACK_OK(idx))   /* SlackInv */
    :: else -> skip
    fi;
    inflight--;
    if
    :: inflight == 0 -> g_hw_quiet = g_hwlo
    :: else -> skip
    fi;
    size = 0; alloc = 0; freed = 0; net = 0; want = 0; total = 0;
    lin = false; res = false; refused = false; fast = false
}

#ifdef RESET
/* The per-thread slot cache (ms_tl_slot_cache[0], keyed by the statistics'
 * id) and the all-or-nothing fast paths ms_stats_try_alloc /
 * ms_stats_try_free.  One step: the load of stats->id (the only shared
 * access) with the owner-only loads.  A fast path records the operation
 * without checking the peak epoch: it is linearised here, at its id load,
 * which precedes the id store of any reset whose old id it read (so it
 * linearises before that reset; action FastPath).  Otherwise the full path
 * (ms_stats_on_alloc_declined, which ms_stats_on_alloc calls after making
 * the fast path's test itself / ms_stats_on_free) runs: on a cache miss
 * ms_stats_slot_slow loads the id again (acquire) and caches it; the two
 * loads are merged (the first only decides the branch, and after a miss
 * the second one's value is all that is used). */
#ifdef RESET_NO_REKEY
#define CACHE_FILL cid = 1
#else
#define CACHE_FILL cid = stats_id
#endif
inline cache_lookup(ok_fast) {
    if
    :: cid == stats_id && (ok_fast) -> fast = true
    :: cid == stats_id && !(ok_fast) -> skip    /* cache hit, full path */
    :: cid != stats_id ->
        if
        :: cid != 0 ->
            cover_cache_miss_after_reset: cover = 1
        :: else -> skip
        fi;
        CACHE_FILL
    fi
}

/* ms_stats_check_epoch(stats, slot, before): a relaxed load of peak_epoch;
 * if the slot's epoch is behind, ms_stats_restart_local_peak stores
 * local_peak = before, then the slot's epoch (two owner stores a reader
 * loads: two steps).  A full-path free is linearised at the epoch load
 * (action CheckEpoch): one that reads the old epoch leaves its slot behind,
 * and a fold then counts the slot's net after the free, so the free must
 * precede the reset; linearising a free early only lowers the true usage
 * sooner, which every other invariant allows. */
inline check_epoch(before, is_free) {
    atomic {
        e = peak_epoch;
        restart = (slot[idx].epoch != e);
        if
        :: is_free && !lin -> lin = true; ghost_linearise(-size, -1)
        :: else -> skip
        fi
    }
    if
    :: restart ->
#ifdef VALIDATE_EPOCH_FIX
        /* the proposed fix: the slot's epoch first */
        atomic { slot[idx].epoch = e }
        atomic {
            slot[idx].local_peak = before;
            cover_restart: cover = 1;
            restart = false; e = 0
        }
#else
        atomic {
            slot[idx].local_peak = before;
            cover_restart: cover = 1
        }
        atomic { slot[idx].epoch = e; restart = false; e = 0 }
#endif
    :: else -> e = 0
    fi
}
#endif

proctype Thread(byte id) {
    byte idx = NO_INDEX, n = 0, size;
    byte nops = (id == 1 -> NOPS_FIRST : NOPS);
    short alloc, freed, net, want, total;
    bool lin, res, refused, fast;
#ifdef RESET
    byte cid = 0, e;     /* cid: ms_tl_slot_cache[0].owner_id (0: empty) */
    bool restart;
#endif

    do
    :: n < nops ->
        /* ---- allocate ---- */
        atomic {
            begin_call();
            PICK_SIZE;
#ifdef RESET
            if
            :: idx < NSLOTS ->
                /* ms_stats_try_alloc: fast when cached and reserved */
                net = slot[idx].alloc_bytes + size - slot[idx].freed_bytes;
                cache_lookup(net <= slot[idx].reserved);
                if
                :: fast ->
                    lin = true; ghost_linearise(size, 1);
                    cover_fast_alloc: cover = 1
                :: else -> skip
                fi;
                net = 0
            :: else -> skip
            fi
        }
        if
        :: idx < NSLOTS && !fast ->
            check_epoch(slot[idx].alloc_bytes - slot[idx].freed_bytes, false)
        :: else -> skip
        fi;
        atomic {
#endif
            if
            :: idx < NSLOTS && fast ->
                alloc = slot[idx].alloc_bytes + size;
                net = alloc - slot[idx].freed_bytes
            :: idx < NSLOTS && !fast ->
                /* ms_stats_on_alloc (or ms_stats_try_alloc, the same steps
                 * when no reservation is needed): owner-only loads */
                alloc = slot[idx].alloc_bytes + size;
                net = alloc - slot[idx].freed_bytes;
                res = net > slot[idx].reserved;
                if
                :: res ->
                    /* ms_stats_reserve -> add_reservation(need, need +
                     * batch) (action Reserve): its update of reserved_total
                     * is the linearisation point.  `want`: bytes added. */
                    want = net - slot[idx].reserved + BATCH;
#if defined(STORE_FIRST) || defined(LOST_UPDATE)
                    total = reserved_total + want   /* mutants: a plain load */
#else
                    ADD_RESERVATION(net - slot[idx].reserved);
                    if
                    :: !refused && want != net - slot[idx].reserved + BATCH ->
                        cover_limit_clipped: cover = 1   /* asked for less slack */
                    :: else -> skip
                    fi;
                    if
                    :: !refused ->
                        lin = true; ghost_linearise(size, 1);
                        cover_reserve: cover = 1
                    :: else -> skip
                    fi
#endif
                :: else -> skip
                fi
            :: else ->
                /* ms_stats_record_shared: add_reservation(bytes, bytes)
                 * first (action SharedAlloc), the linearisation point */
                want = size;
                ADD_RESERVATION(size);
                if
                :: !refused -> lin = true; ghost_linearise(size, 1)
                :: else -> skip
                fi
            fi
        }
#ifdef STORE_FIRST
        /* mutant: publish the bytes before reserving */
        if
        :: idx < NSLOTS ->
            atomic { slot[idx].alloc_bytes = alloc; lin = true; ghost_linearise(size, 1) }
        :: else -> skip
        fi;
#endif
#if defined(STORE_FIRST) || defined(LOST_UPDATE)
        if
        :: idx < NSLOTS && res ->
            atomic {
#ifdef STORE_FIRST
                reserved_total = reserved_total + want;
                total = reserved_total;
#else
                reserved_total = total;           /* load + store: loses updates */
#endif
                if
                :: !lin -> lin = true; ghost_linearise(size, 1)
                :: else -> skip
                fi
            }
        :: else -> skip
        fi;
#endif
        if
        :: refused ->
            /* the allocation is refused: nothing was recorded */
            cover_limit_refused: atomic { cover = 1; end_call() }
        :: !refused && idx < NSLOTS ->
            if
            :: res -> max_relaxed(total)
            :: else -> skip
            fi;
            /* ms_slot_store_alloc, after storing `reserved` (owner-only) */
            if
            :: net > slot[idx].local_peak ->
                atomic {
                    if
                    :: res -> slot[idx].reserved = slot[idx].reserved + want; res = false
                    :: else -> skip
                    fi;
                    slot[idx].local_peak = net
                }
            :: else -> skip
            fi;
            atomic {
                if
                :: res -> slot[idx].reserved = slot[idx].reserved + want
                :: else -> skip
                fi;
                slot[idx].alloc_bytes = alloc;              /* release */
                if
                :: !lin -> lin = true; ghost_linearise(size, 1)
                :: else -> skip
                fi
            }
            atomic {
                slot[idx].alloc_ops = slot[idx].alloc_ops + 1; /* release */
                live[size]++;                               /* allocate returns */
                end_call()
            }
        :: !refused && idx == OVERFLOW ->
            max_relaxed(total);
            overflow_used = true;
            slot[OVERFLOW].alloc_bytes = slot[OVERFLOW].alloc_bytes + size;  /* fetch_add */
            atomic {
                slot[OVERFLOW].alloc_ops = slot[OVERFLOW].alloc_ops + 1;     /* fetch_add */
                live[size]++;
                cover_overflow_alloc: cover = 1;
                end_call()
            }
        fi
    :: /* ---- free a live block, whoever allocated it ---- */
        atomic {
            TAKE_BLOCK;
            begin_call();
#ifdef RESET
            if
            :: idx < NSLOTS ->
                /* ms_stats_try_free: fast when cached and the slack stays
                 * within 2*BATCH */
                net = slot[idx].alloc_bytes - slot[idx].freed_bytes - size;
                cache_lookup(slot[idx].reserved - net <= 2 * BATCH);
                if
                :: fast ->
                    lin = true; ghost_linearise(-size, -1);
                    cover_fast_free: cover = 1
                :: else -> skip
                fi;
                net = 0
            :: else -> skip
            fi
        }
        if
        :: idx < NSLOTS && !fast ->
            check_epoch(slot[idx].alloc_bytes - slot[idx].freed_bytes, true)
        :: else -> skip
        fi;
        atomic {
#endif
            if
            :: idx < NSLOTS && fast ->
                freed = slot[idx].freed_bytes + size
            :: idx < NSLOTS && !fast ->
                /* ms_stats_on_free: owner-only loads */
                freed = slot[idx].freed_bytes + size;
                net = slot[idx].alloc_bytes - freed;
                if
                :: net < 0 ->                  /* another slot's block */
                    cover_foreign_free: cover = 1
                :: else -> skip
                fi;
#ifdef NO_UNRESERVE
                res = false;
#else
                res = slot[idx].reserved - net > 2 * BATCH;
#endif
                if
                :: res ->
                    /* ms_stats_unreserve (action Unreserve): the fetch_add
                     * is the linearisation point */
                    want = net + BATCH;
                    reserved_total = reserved_total - (slot[idx].reserved - want);
                    if
                    :: !lin -> lin = true; ghost_linearise(-size, -1)
                    :: else -> skip
                    fi;
                    cover_unreserve: cover = 1
                :: else -> skip
                fi
            :: else ->
                /* ms_stats_record_shared (action SharedFree) */
                overflow_used = true
            fi
        }
        if
        :: idx < NSLOTS ->
            atomic {
                if
                :: res -> slot[idx].reserved = want
                :: else -> skip
                fi;
                slot[idx].freed_bytes = freed;              /* release */
                if
                :: !lin -> lin = true; ghost_linearise(-size, -1)
                :: else -> skip
                fi
            }
            atomic {
                slot[idx].free_ops = slot[idx].free_ops + 1;  /* release */
                end_call()
            }
        :: else ->
            atomic {
                reserved_total = reserved_total - size;     /* fetch_add */
                ghost_linearise(-size, -1)
            }
            slot[OVERFLOW].freed_bytes = slot[OVERFLOW].freed_bytes + size;  /* fetch_add */
            atomic {
                slot[OVERFLOW].free_ops = slot[OVERFLOW].free_ops + 1;       /* fetch_add */
                cover_overflow_free: cover = 1;
                end_call()
            }
        fi
    :: else -> break
    od;
    /* on_thread_exit -> release_index (action ThreadExit) */
    atomic {
        if
        :: idx < NSLOTS ->
            claimed[idx] = false;
            cover_exit_release: cover = 1
        :: else -> skip
        fi;
        done_threads++
    }
}

/* ms_stats_fold: pass 1 frees, pass 2 allocations and local peaks, then the
 * shared peak; the figures are then checked against the ghost history.
 * `quiet`: no call was in flight at any moment of the fold.  The loops over
 * the slots are unrolled; each step is one load (plus local arithmetic).
 * cur accumulates alloc_bytes - freed_bytes, blocks alloc_ops - free_ops. */
#define FOLD_FREES(i) \
    atomic { cur = cur - slot[i].freed_bytes }; \
    atomic { blocks = blocks - slot[i].free_ops }
#ifdef RESET
/* Pass 2 with peak epochs: a slot whose epoch is the one loaded at the start
 * of pass 2 contributes its local_peak, any other its net usage, alloc_bytes
 * as loaded in this pass minus freed_bytes loaded again now (action
 * FoldLoad). */
#ifdef STALE_FREED_FIRST
/* The fix of the stale-slot race (see README.md): pass 2 loads the slot's
 * freed_bytes before its alloc_bytes and uses that value. */
#define STALE_NET(i) \
    atomic { \
        local_peaks = local_peaks + a - f; \
        stalenz = stalenz || a != f; \
        stale = false; sawstale = true; f = 0 \
    }
#define PASS2_FREED(i) atomic { f = slot[i].freed_bytes };
#else
/* As ms_stats_fold: freed_bytes loaded again after the epoch. */
#define STALE_NET(i) \
    atomic { \
        f = slot[i].freed_bytes; \
        local_peaks = local_peaks + a - f; \
        stalenz = stalenz || a != f; \
        stale = false; sawstale = true; f = 0 \
    }
#define PASS2_FREED(i)
#endif
#define FOLD_LOCAL_PEAK(i) \
    atomic { stale = (slot[i].epoch != e) }; \
    if \
    :: stale -> STALE_NET(i) \
    :: else -> atomic { local_peaks = local_peaks + slot[i].local_peak } \
    fi; \
    atomic { \
        a = 0; \
        if \
        :: ops != 0 -> touched++; ops = 0 \
        :: else -> skip \
        fi \
    }; \

#define FOLD_EPOCH atomic { e = peak_epoch }
#define FOLD_ALLOC_BYTES(i) \
    atomic { a = slot[i].alloc_bytes; cur = cur + a; blocks = blocks + ops }
#else
#define FOLD_ALLOC_BYTES(i) \
    atomic { cur = cur + slot[i].alloc_bytes; blocks = blocks + ops }
#define FOLD_LOCAL_PEAK(i) \
    atomic { \
        local_peaks = local_peaks + slot[i].local_peak; \
        if \
        :: ops != 0 -> touched++; ops = 0 \
        :: else -> skip \
        fi \
    }; \

#define FOLD_EPOCH skip
#endif
#ifndef RESET
#define PASS2_FREED(i)
#endif
#define FOLD_ALLOCS(i) \
    PASS2_FREED(i) \
    atomic { ops = slot[i].alloc_ops }; \
    FOLD_ALLOC_BYTES(i); \
    FOLD_LOCAL_PEAK(i) \
    if \
    :: ops == 0 -> atomic { if :: slot[i].free_ops != 0 -> touched++ :: else -> skip fi } \
    :: else -> skip \
    fi
/* The overflow slot's local_peak is never written (0) and it is not counted
 * in `touched`.  With no more threads than indices the overflow slot stays
 * zero, and its loads are left out. */
#if NTHREADS > NSLOTS
#define FOLD_FREES_OVERFLOW FOLD_FREES(OVERFLOW)
#define FOLD_ALLOCS_OVERFLOW \
    atomic { ops = slot[OVERFLOW].alloc_ops }; \
    atomic { cur = cur + slot[OVERFLOW].alloc_bytes; blocks = blocks + ops; ops = 0 }
#define CHECK_FREES_OVERFLOW CHECK_FREES(OVERFLOW)
#define CHECK_ALLOCS_OVERFLOW CHECK_ALLOCS(OVERFLOW)
#else
#define FOLD_FREES_OVERFLOW skip
#define FOLD_ALLOCS_OVERFLOW skip
#define CHECK_FREES_OVERFLOW skip
#define CHECK_ALLOCS_OVERFLOW skip
#endif

inline fold() {
    atomic {
        q = (inflight == 0);
        reading = true;
        disturbed = false;
        hwq = g_hw_quiet;
        cur = 0; blocks = 0; local_peaks = 0; touched = 0
    }
#ifndef ALLOCS_FIRST
    FOLD_FREES(0); FOLD_FREES(1); FOLD_FREES_OVERFLOW;
#endif
    FOLD_EPOCH;
    FOLD_ALLOCS(0); FOLD_ALLOCS(1); FOLD_ALLOCS_OVERFLOW;
#ifdef ALLOCS_FIRST
    FOLD_FREES(0); FOLD_FREES(1); FOLD_FREES_OVERFLOW;
#endif
    atomic { peak = reserved_peak }
    atomic { ov = overflow_used }
    atomic {
        /* current is capped by reserved_total (loaded last) */
        cap = reserved_total;
        if
        :: cap < 0 -> cap = 0
        :: else -> skip
        fi;
        if
        :: cur < cap -> cap = (cur > 0 -> cur : 0)
        :: cur > cap ->                      /* a concurrent read capped */
            cover_cap_lowers: cover = 1
        :: else -> skip
        fi;
        if
        :: stalenz ->                        /* a stale slot's non-zero net */
            cover_stale_slot_in_fold: cover = 1
        :: else -> skip
        fi;
        if
        :: peak < 0 -> peak = 0
        :: else -> skip
        fi;
        if
        :: !ov && local_peaks < peak -> peak = (local_peaks > 0 -> local_peaks : 0)
        :: else -> skip
        fi;
        if
        :: !ov && touched <= 1 -> bound = 0
        :: else -> bound = 2 * BATCH * touched
        fi;
        /* Any fold, even concurrent with calls: */
        assert(cur >= 0);                    /* CurrentNonNegativeInv */
#ifdef LIMIT
        assert(cap <= LIMIT);                /* LimitInv: reported usage */
#endif
        assert(blocks >= 0);                 /* LiveBlocksNonNegativeInv */
#if defined(RESET) && !defined(STALE_FREED_FIRST) && !defined(CHECK_STALE_RACE)
        /* PeakSettledInv does not hold for a concurrent fold that counted a
         * stale slot (README.md, "Stale-slot race"); CHECK_STALE_RACE
         * asserts it anyway and spin finds the counterexample. */
        assert(sawstale || peak >= hwq);
#else
        assert(peak >= hwq);                 /* PeakSettledInv */
#endif
        quiet = q && !disturbed && inflight == 0;
        reading = false;
        if
        :: quiet ->
            assert(cur == g_cur && cap == g_cur);         /* CurrentExactInv */
            assert(blocks == g_live_blocks);
            assert(peak >= g_hwlo);                       /* PeakLowerBoundInv */
            assert(peak - g_hw <= bound);                 /* OverreportBoundInv */
            if
            :: peak > g_hw ->                /* the bound is not vacuous */
                cover_overreport: cover = 1
            :: else -> skip
            fi;
            if
            :: !ov && touched == 1 && g_hw > 0 ->
                /* SingleSlotExactInv: exact; after a reset, the high-water
                 * mark since some point of the reset's own interval */
                assert(g_hwlo <= peak && peak <= g_hw);
                cover_single_exact: cover = 1;
                if
                :: peak_epoch != 0 ->
                    cover_single_exact_after_reset: cover = 1
                :: else -> skip
                fi
            :: else -> skip
            fi
        :: else ->
            cover_concurrent_fold: cover = 1
        fi;
        cur = 0; blocks = 0; local_peaks = 0; touched = 0; cap = 0;
        peak = 0; bound = 0; hwq = 0; q = false; ov = false; e = 0;
        sawstale = false; stalenz = false
    }
}

/* ms_stats_validate (without the structure checks) must never report a
 * violation for a correct history, or default_validate would move the
 * strategy to DEGRADED (ValidateSoundInv).  Counts are loaded before bytes;
 * frees before allocations; a slot's bytes before its local peak. */
#define CHECK_FREES(i) \
    atomic { ops = slot[i].free_ops }; \
    atomic { bytes = slot[i].freed_bytes; ok = ok && ops <= bytes; \
             blocks = blocks - ops; cur = cur - bytes; ops = 0; bytes = 0 }
#define CHECK_ALLOCS(i) \
    atomic { ops = slot[i].alloc_ops }; \
    atomic { bytes = slot[i].alloc_bytes; ok = ok && ops <= bytes; \
             blocks = blocks + ops; cur = cur + bytes; ops = 0; bytes = 0 }
#ifdef VALIDATE_EPOCH_FIX
/* The proposed fix: the slot's epoch loaded before and after; the check
 * only if they are equal (no restart in between). */
#define CHECK_PEAK(i) \
    atomic { e = slot[i].epoch }; \
    atomic { bytes = slot[i].alloc_bytes }; \
    atomic { bytes = bytes - slot[i].freed_bytes }; \
    atomic { stale = bytes > slot[i].local_peak }; \
    atomic { ok = ok && (!stale || e != slot[i].epoch); bytes = 0; stale = false; e = 0 }
#else
#define CHECK_PEAK(i) \
    atomic { bytes = slot[i].alloc_bytes }; \
    atomic { bytes = bytes - slot[i].freed_bytes }; \
    atomic { ok = ok && bytes <= slot[i].local_peak; bytes = 0 }
#endif

inline validate() {
    atomic {
        q = (inflight == 0);
        reading = true;
        disturbed = false;
        ok = true; cur = 0; blocks = 0
    }
    CHECK_FREES(0); CHECK_FREES(1); CHECK_FREES_OVERFLOW;
    CHECK_ALLOCS(0); CHECK_ALLOCS(1); CHECK_ALLOCS_OVERFLOW;
    atomic { ok = ok && cur >= 0 && blocks >= 0; cur = 0; blocks = 0 }
    CHECK_PEAK(0); CHECK_PEAK(1);
    atomic {
        assert(ok);                       /* ValidateSoundInv */
        if
        :: q && !disturbed && inflight == 0 ->
            cover_quiet_validate: cover = 1
        :: else ->
            cover_concurrent_validate: cover = 1
        fi;
        reading = false;
        ok = false; q = false
    }
}

#define READER_LOCALS \
    byte ops, touched, e; \
    short cur, cap, blocks, local_peaks, peak, bound, hwq, bytes, a, f, rt; \
    bool q, quiet, ov, ok, stale, sawstale, stalenz

#ifdef RESET
/* ms_stats_reset_peak (actions ResetLoad, ResetBump, ResetRekey,
 * ResetStore, ResetMax): load reserved_total, bump peak_epoch, store a
 * fresh id (release), store reserved_peak = the total loaded first, then
 * raise it to the total loaded again (ms_max_relaxed_i64, one step).  The
 * reset takes effect at some point of its interval: g_hw restarts at its
 * first step (the upper end of what a fold may report), g_hwlo at its last
 * (the lower end).  With RESET_NO_REKEY (a mutant) the id is not replaced. */
inline reset_peak() {
    atomic { resetting = true; g_hw = g_cur; rt = reserved_total }
    atomic {
        peak_epoch = peak_epoch + 1;
        cover_reset: cover = 1
    }
#ifndef RESET_NO_REKEY
    atomic { stats_id = stats_id + 1 }
#endif
    atomic { reserved_peak = rt; rt = 0 }
    atomic {
        max_relaxed(reserved_total);
        g_hwlo = g_cur;
        g_hw_quiet = (inflight == 0 -> g_cur : 0);   /* settled since the reset */
        resetting = false
    }
}
#endif

/* A concurrent reader: get_usage_snapshot (the default) or, with
 * READER_VALIDATE, default_validate's statistics check. */
#ifdef RESET_PROC
/* A reset of its own, concurrent with the reader. */
proctype Resetter() {
    short rt;
    reset_peak();
    done_readers++
}
#endif

proctype Reader() {
    READER_LOCALS;
#if defined(RESET) && !defined(RESET_PROC)
    reset_peak();
#endif
#if defined(RESET_ONLY)
    skip
#elif defined(READER_VALIDATE)
    validate();
#else
    fold();
#endif
    done_readers++
}

init {
    READER_LOCALS;
    byte i;
    atomic {
        for (i : 1 .. NTHREADS) { run Thread(i) }
#ifndef NO_READER
        run Reader()
#else
        done_readers = 1
#endif
    }
#ifdef RESET_PROC
    run Resetter();
    done_threads == NTHREADS && done_readers == 2;  /* the owner joins */
#else
    done_threads == NTHREADS && done_readers == 1;  /* the owner joins */
#endif
    fold();
    assert(quiet);
    validate()
}
