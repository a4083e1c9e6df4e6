/*
 * StrategyLifecycle.pml: the checked twin of StrategyLifecycle.tla.
 *
 * The status state machine of a DefaultStrategy as the code runs it:
 *   src/statetracker.c          state_tracker_transition (table check + CAS),
 *                               state_tracker_status (acquire load)
 *   src/statetracker_internal.h ms_state_allows (the relaxed status check on
 *                               the allocate/deallocate hot path)
 *   src/default_strategy.c      create_default_strategy_with, default_allocate,
 *                               default_deallocate, default_get_status,
 *                               default_validate, destroy_default_strategy
 *
 * spin explores every interleaving of NWORKERS worker threads, each making
 * NOPS calls, with the owner that creates the strategy, publishes it, joins
 * the workers and destroys it (the documented precondition of destroy).
 * Build variants (spin -D...):
 *   (none)          the code as it is; every assertion must hold.
 *   RAW_TRACKER     instead of a strategy, RAW_CLIENTS threads call the public
 *                   state_tracker_transition with arbitrary (from, to) pairs.
 *   RACE_DESTROY    the owner does NOT join the workers before destroy (a
 *                   caller breaking the precondition): spin must find a
 *                   use-after-free, which shows the status check alone does
 *                   not make destroy safe.
 *   CHECK_THEN_STORE validate sets DEGRADED by "load, compare, store" instead
 *                   of one CAS: spin must find an illegal transition.
 *   REKEY_AFTER_CAS destroy gives the statistics a fresh id after its CAS
 *                   instead of before: spin must find FreeKeyInv broken.
 *   GATE_AFTER_CAS  validate closes the allocation gate after its CAS
 *                   instead of before: spin must find GateInv broken
 *                   (DEGRADED with the gate open, so an allocation could
 *                   pass it after another thread saw DEGRADED).
 * The TLA+ spec states the same machine; the invariants named here (*Inv)
 * are the spec's.
 */

#ifndef NWORKERS
#define NWORKERS 2
#endif
#ifndef NOPS
#define NOPS 2
#endif
#ifndef RAW_CLIENTS
#define RAW_CLIENTS 2
#endif

/* ---- BEGIN STATUS TABLE ------------------------------------------------
 * Compared with src/statetracker.c (state_transition_table,
 * state_allows_operation) by tests/conformance_test.cc: keep one entry per
 * line, in this form. */
#define INITIALIZING 0
#define ACTIVE 1
#define DEGRADED 2
#define SHUTTING_DOWN 3
#define DESTROYED 4
#define NSTATES 5

#define LEGAL(from, to) ( \
    (from == INITIALIZING && to == ACTIVE) || \
    (from == INITIALIZING && to == SHUTTING_DOWN) || \
    (from == ACTIVE && to == DEGRADED) || \
    (from == ACTIVE && to == SHUTTING_DOWN) || \
    (from == DEGRADED && to == SHUTTING_DOWN) || \
    (from == SHUTTING_DOWN && to == DESTROYED) || \
    false)

#define ALLOWS_ALLOCATE(s) (s == ACTIVE)
#define ALLOWS_DEALLOCATE(s) (s == ACTIVE || s == DEGRADED)
#define ALLOWS_READ(s) (s == ACTIVE || s == DEGRADED || s == SHUTTING_DOWN)
/* ---- END STATUS TABLE -------------------------------------------------- */

/* Results of state_tracker_transition. */
#define DONE 0
#define ILLEGAL 1
#define CONFLICT 2

byte status = INITIALIZING; /* tracker->status */
/* The allocation gate of the strategy's hot path (malloc_gate,
 * backend_gate or cache_gate in src/default_strategy_internal.h, nonzero = open): opened
 * before the strategy is published, closed before any transition out of
 * ACTIVE (ms_close_gates), never reopened.  (A strategy with a debug option
 * never opens it: every allocation takes the status check below.) */
bool gate = false;
/* The statistics' id is the one the workers' slot caches were filled with:
 * deallocate's hot path completes only on a cache hit and makes no status
 * check (src/default_strategy.c, deallocate_hot); destroy gives the
 * statistics a fresh id (ms_stats_rekey) before its transition, so every
 * entry misses and the out-of-line path checks the status. */
bool fkey = false;
byte refused = 0;           /* tracker->refused (ILLEGAL requests) */
bool freed = false;         /* the strategy's memory went back to free() */

/* Coverage: each `cover_*: cover = 1` marks an event that spin_check.sh
 * requires to be reached (hidden: not part of the state).  Each such label
 * sits on a line of its own, never on its guard's line or after another
 * statement: pan reports unreached code by line, and a guard's evaluation
 * would otherwise count as the branch being taken. */
hidden byte cover;

/* Ghost state, for the invariants only. */
byte inflight = 0;         /* calls between entry and return */
bool destroy_begun = false;
byte degraded_reports = 0; /* STRATEGY_ERROR_ILLEGAL_STATE reports from validate */
byte done_workers = 0;

/* Every write of the status goes through here: TransitionInv (only table
 * rows happen) and DestroyedAbsorbingInv (nothing leaves DESTROYED). */
inline set_status(to) {
    assert(status != DESTROYED);           /* DestroyedAbsorbingInv */
    assert(LEGAL(status, to));             /* TransitionInv */
    status = to;
    assert(!gate || status == ACTIVE);     /* GateInv */
    assert(!fkey || ALLOWS_DEALLOCATE(status)) /* FreeKeyInv */
}

/* state_tracker_transition: the table check, then one compare-and-swap
 * (acq_rel on success).  `result` is DONE, ILLEGAL or CONFLICT. */
inline transition(from, to, result) {
    if
    :: !LEGAL(from, to) ->
        refused++;                         /* relaxed fetch_add */
        result = ILLEGAL
    :: else ->
        atomic {                           /* the CAS: one indivisible step */
            if
            :: status == from -> set_status(to); result = DONE
            :: else -> result = CONFLICT
            fi
        }
    fi
}

/* Every access to the strategy object: nothing may touch it after free
 * (NoUseAfterFreeInv). */
#define TOUCH assert(!freed)

#ifdef RAW_TRACKER

/* The public tracker API used directly: any (from, to) pair, from any thread,
 * concurrently.  One winner per CAS; only table rows happen. */
proctype RawClient(byte id) {
    byte n = 0, from, to, result;
    do
    :: n < 2 ->
        n++;
        if                                  /* from: the status read, or any */
        :: from = status
        :: select(from : 0 .. NSTATES - 1)
        fi;
        select(to : 0 .. NSTATES - 1);
        transition(from, to, result);
        if
        :: result == DONE ->
            cover_raw_done: assert(LEGAL(from, to));
            if
            :: to == DESTROYED ->
                cover_raw_destroyed: cover = 1
            :: else -> skip
            fi
        :: result == ILLEGAL ->
            cover_raw_illegal: assert(!LEGAL(from, to))
        :: result == CONFLICT ->
            cover_raw_conflict: assert(LEGAL(from, to))
        fi
    :: else -> break
    od
}

init {
    byte i;
    atomic {
        for (i : 1 .. RAW_CLIENTS) { run RawClient(i) }
    }
}

#else /* the DefaultStrategy */

/* One application thread calling the vtable.  Each call is entered with
 * TOUCH (it reads the strategy) and counted in `inflight`. */
proctype Worker(byte id) {
    byte n = 0, seen, held = 0, result;
    bool ok;
    do
    :: n < NOPS ->
        n++;
        atomic { inflight++; TOUCH }
        if
        :: /* allocate: one relaxed load of the gate (the hot path's size
            * comparison); closed, the out-of-line path loads the status
            * (ms_state_allows).  The call is linearised at the load that
            * decided it: a gate read open means the status was ACTIVE. */
            if
            :: atomic { gate ->            /* the load: one step */
                   assert(status == ACTIVE); /* GateInv */
                   seen = ACTIVE };
               cover_alloc_gate: cover = 1
            :: !gate -> seen = status      /* the gate's load, then the status' */
            fi;
            if
            :: ALLOWS_ALLOCATE(seen) ->
                TOUCH;                      /* header, ms_stats_on_alloc */
                held++;
                if
                :: status != seen ->
                    /* validate moved the status after the check: this
                     * allocation is linearised before that transition. */
                    cover_alloc_raced: cover = 1
                :: else ->
                    cover_alloc_plain: cover = 1
                fi
            :: else ->
                assert(!ALLOWS_ALLOCATE(seen)); /* OperationAllowedInv */
                TOUCH;                      /* report(): errors[], handler */
                cover_alloc_refused: cover = 1         /* linearised after the transition */
            fi
        :: held > 0 ->
            /* default_deallocate of a block this thread holds: a hit in the
             * slot cache (possible only while the id is the one cached)
             * completes without a status load; a miss, or any other way out
             * of the hot path, loads the status. */
            if
            :: atomic { fkey ->
                   assert(ALLOWS_DEALLOCATE(status)); /* FreeKeyInv */
                   seen = status };
               cover_free_key: cover = 1
            :: seen = status
            fi;
            if
            :: ALLOWS_DEALLOCATE(seen) ->
                TOUCH;                      /* header check, ms_stats_on_free */
                held--;
                if
                :: seen == DEGRADED ->
                    cover_free_in_degraded: cover = 1
                :: else -> skip
                fi
            :: else ->
                TOUCH;
                free_refused: skip
            fi
        :: /* default_get_status: acquire load */
            seen = status;
            assert(seen == ACTIVE || seen == DEGRADED) /* ReadStatusInv */
        :: /* default_validate: reads the status and checks the statistics.
            * `ok` is chosen freely (a broken invariant may be found or not). */
            seen = status;
            TOUCH;
            if :: ok = true :: ok = false fi;
            if
            :: !ok ->
#ifndef GATE_AFTER_CAS
                gate = false;              /* ms_close_gates, before the CAS */
#endif
#ifdef CHECK_THEN_STORE
                if
                :: status == ACTIVE -> set_status(DEGRADED); result = DONE
                :: else -> result = CONFLICT
                fi;
#else
                transition(ACTIVE, DEGRADED, result);
#endif
                if
                :: result == DONE ->
                    TOUCH;
                    degraded_reports++;
                    cover_degraded: assert(status != ACTIVE)
                :: result == CONFLICT ->
                    /* another validate won the CAS */
                    cover_validate_conflict: cover = 1
                :: result == ILLEGAL -> assert(false) /* ACTIVE->DEGRADED is a row */
                fi;
#ifdef GATE_AFTER_CAS
                gate = false;
#endif
                skip
            :: else -> skip
            fi;
            assert(degraded_reports <= 1)  /* DegradedOnceInv */
        fi;
        /* whatever a call started, it ends in a state no later than
         * DEGRADED: the owner destroys only after joining (DestroyAloneInv) */
#ifndef RACE_DESTROY
        assert(!destroy_begun);
#endif
        inflight--
    :: else -> break
    od;
    done_workers++
}

/* destroy_default_strategy: read the status, CAS it to SHUTTING_DOWN, fold the
 * statistics for the leak report (a read), CAS to DESTROYED, free. */
inline destroy() {
    destroy_begun = true;
    TOUCH;
#ifndef RACE_DESTROY
    assert(inflight == 0);                 /* DestroyAloneInv */
#endif
    from = status;
    if
    :: from == ACTIVE ->
        cover_destroy_active: cover = 1
    :: from == DEGRADED ->
        cover_destroy_degraded: cover = 1
    :: else -> skip
    fi;
    gate = false;                          /* ms_close_gates, before the CAS */
#ifndef REKEY_AFTER_CAS
    fkey = false;                          /* ms_stats_rekey, before the CAS */
#endif
    transition(from, SHUTTING_DOWN, result);
#ifdef REKEY_AFTER_CAS
    fkey = false;
#endif
    assert(result == DONE);                /* destroy cannot be refused */
    cover_shutting_down: TOUCH;
    assert(ALLOWS_READ(status));           /* the leak report's fold */
    transition(SHUTTING_DOWN, DESTROYED, result);
    assert(result == DONE);
    cover_destroyed: freed = true
}

init {
    byte i, from, result;
    /* create_default_strategy_with: not shared yet. */
    if
    :: /* create finished: INITIALIZING -> ACTIVE, then handed to workers;
        * the gate opens just before the transition, or never (a strategy
        * with a debug option) */
        if :: gate = true :: skip fi;
        transition(INITIALIZING, ACTIVE, result);
        assert(result == DONE);
        cover_active: assert(status == ACTIVE);
        fkey = true;                       /* the id slot caches will hold */
        atomic {
            for (i : 1 .. NWORKERS) { run Worker(i) }
        }
#ifndef RACE_DESTROY
        done_workers == NWORKERS;          /* the caller joins its threads */
#endif
        destroy();
        assert(status == DESTROYED)
    :: /* create failed part-way: never published */
        skip;
        transition(INITIALIZING, SHUTTING_DOWN, result);
        assert(result == DONE);
        cover_create_failed: cover = 1;
        transition(SHUTTING_DOWN, DESTROYED, result);
        assert(result == DONE && status == DESTROYED);
        freed = true
    fi
}

#endif
