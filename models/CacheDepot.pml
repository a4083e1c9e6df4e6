/*
 * CacheDepot.pml: the checked twin of CacheDepot.tla.
 *
 * The thread cache's depot (src/default_strategy.c), one size class:
 *   deallocate_with_cache -> cache_keep_or_release: push onto the thread's
 *                            current list; when it is full, move it to the
 *                            empty spare list (owner-only) and push, or,
 *                            when the spare is full too, depot_put the
 *                            spare (relaxed load + CAS per slot), then
 *                            spare := current and push onto an empty
 *                            current list, or, when no slot took it, give
 *                            the block to the backend, both lists kept
 *                            (the spill begins: cache_keeps); a free into
 *                            full lists during the spill gives its block
 *                            to the backend without a look at the depot
 *   allocate_with_cache -> allocate_cache_slow: pop from the current list,
 *                            or, when it is empty, swap in the full spare
 *                            (owner-only) and pop, or, when both are empty,
 *                            depot_take (relaxed load + exchange per slot)
 *                            and pop, or obtain a block from the backend
 *   destroy_default_strategy: cache_drain (every thread's two lists) and
 *                            depot_drain (every depot list)
 *
 * Each thread has two owner-only singly linked lists of cached blocks (the
 * link word in each block's header, its size word, sealed by its check
 * word; the seal is owner-side and not modelled): the current list (head,
 * count 0..NCACHE) and the spare list (spare: NULL, or a full list of
 * exactly NCACHE blocks), the classic "magazine" pair: a thread whose frees
 * and allocations oscillate by fewer than NCACHE blocks never reaches the
 * depot.  The depot
 * has NLISTS atomic slots (depot->list[c][k], NULL = empty); a non-NULL
 * slot holds a whole NULL-terminated list of exactly NCACHE blocks, always
 * a thread's former spare.  NTHREADS threads each make NOPS calls (thread 1
 * NOPS_FIRST) that allocate or hand a live block to the next thread (a
 * queue between a producer and a consumer, release/acquire); a thread frees
 * any block it holds at any time and before it exits, so lists flow from
 * the threads that free to the threads that allocate through the depot.
 * The owner joins every thread and destroys the strategy.
 *
 * Build variants (spin -D...):
 *   NTHREADS, NOPS, NOPS_FIRST (thread 1's calls; default NOPS), NCACHE (N,
 *   config.thread_cache_blocks), NLISTS (K, MS_DEPOT_LISTS), NBLOCKS (the
 *   backend's blocks; a run that needed more would fail on BackendInv, so
 *   the bound is never silently cut).
 *   PUT_LOAD_STORE   depot_put loads the slot and then stores its list with
 *                    a plain store instead of the CAS: spin must find two
 *                    puts on one empty slot, one list lost (ConservationInv).
 *   TAKE_LOAD_STORE  depot_take loads the slot and then stores NULL instead
 *                    of the exchange: spin must find two takes of the same
 *                    list, its blocks in two caches (ExclusiveInv).
 * The TLA+ spec states the same protocol; the invariants named here (*Inv)
 * are the spec's.
 */

#ifndef NTHREADS
#define NTHREADS 2
#endif
#ifndef NOPS
#define NOPS 5
#endif
#ifndef NOPS_FIRST
#define NOPS_FIRST NOPS
#endif
#ifndef NCACHE
#define NCACHE 2
#endif
#ifndef NLISTS
#define NLISTS 1
#endif
/* Every block leaves the backend through an allocation, so as many blocks
 * as calls are always enough (BackendInv checks it). */
#ifndef NBLOCKS
#define NBLOCKS ((NTHREADS - 1) * NOPS + NOPS_FIRST)
#endif

#define NULL 0

/* Block b (1..NBLOCKS) stands for its header address; 0 is NULL. */
byte next[NBLOCKS + 1];     /* the block's header's size word: the list's link */
byte head[NTHREADS + 1];    /* per thread: the current list's head
                             * (owner-only) */
byte count[NTHREADS + 1];   /* per thread: the current list's count
                             * (owner-only) */
byte spare[NTHREADS + 1];   /* per thread: the spare list's head, NULL or a
                             * list of exactly NCACHE blocks (owner-only) */
byte depot[NLISTS];         /* depot->list[c][k]: _Atomic(ms_block_header*) */

/* Ghost state, for the invariants only. */
bit backend[NBLOCKS + 1] = 1; /* in the backend's free memory (all at first) */
byte holder[NBLOCKS + 1];   /* the thread holding it live (0: none); a block
                             * being freed stays in its thread's hands until
                             * deallocate puts it somewhere */
byte nheld[NTHREADS + 1];   /* per thread: blocks it holds */
bool exited[NTHREADS + 1];  /* the thread has returned (joinable) */
byte ndone = 0;

/* The invariants' values, computed just before each assertion of them
 * (hidden: scratch, not part of the state); an assertion that fails prints
 * the invariant's name. */
hidden byte ExclusiveInv, ConservationInv, CountInv, SpareInv, DepotListInv,
    DrainedInv;

/* Coverage: each `cover_*: cover = 1` marks an event that spin_check.sh
 * requires to be reached (hidden: not part of the state). */
hidden byte cover;

/* ---- owner-only list operations (no shared access) -------------------- */

/* cache_push: the block's link word := head; head := block. */
inline cache_push(t, b) {
    next[b] = head[t];
    head[t] = b;
    count[t]++
}

/* cache_pop: head := the first block's link word.  The link word of a block
 * in no list is meaningless (its size again, or the backend's): zeroed here so
 * that states differing only in it are one state. */
inline cache_pop(t, b) {
    b = head[t];
    head[t] = next[b];
    next[b] = NULL;
    count[t]--
}

/* The ghost: thread t now holds b live (ExclusiveInv: from nowhere else). */
inline take_hold(t, b) {
    ExclusiveInv = (holder[b] == 0 && !backend[b]);
    assert(ExclusiveInv);
    holder[b] = t;
    nheld[t]++
}

inline drop_hold(t, b) {
    assert(holder[b] == t);                 /* InFlightInv */
    holder[b] = 0;
    nheld[t]--
}

/* The block the thread frees or hands over: the lowest-numbered one it
 * holds.  Blocks a thread holds are interchangeable (nothing else refers to
 * them), so choosing one loses no behaviour up to renaming of blocks. */
inline lowest_held(t, b) {
    b = 1;
    do
    :: holder[b] == t -> break
    :: else -> b++
    od
}

/* The backend's malloc: the lowest-numbered free block (the backend may
 * return any address, including one just freed; free blocks are
 * interchangeable).  BackendInv: the model has enough blocks. */
inline backend_obtain(t, b) {
    b = 1;
    do
    :: b > NBLOCKS -> break
    :: b <= NBLOCKS && backend[b] -> break
    :: b <= NBLOCKS && !backend[b] -> b++
    od;
    assert(b <= NBLOCKS);                   /* BackendInv */
    backend[b] = 0;
    take_hold(t, b)
}

/* ---- the invariants, in every reachable state --------------------------
 *   ExclusiveInv     no block is in two places (backend, a thread's hands,
 *                    a thread's list, a depot list) or twice in one list.
 *   ConservationInv  every block is in one of them: none is lost.
 *   CountInv         a thread's count is the length of its current list,
 *                    at most NCACHE, and the list is NULL-terminated.
 *   SpareInv         a thread's spare is NULL or a NULL-terminated list of
 *                    exactly NCACHE blocks.
 *   DepotListInv     a non-NULL depot slot holds a NULL-terminated list of
 *                    exactly NCACHE blocks.
 * ExclusiveInv is also asserted wherever a block moves into a thread's hands
 * or the backend (take_hold, BackendRelease, SpillRelease, the drains): a
 * step that both takes a list and pops from it breaks it there first.
 * The monitor's one step computes them from the lists themselves (walking
 * at most NCACHE + 1 links) and leaves its locals as it found them, so it
 * adds no state.  It runs in every state the workers reach, and first: init
 * starts it last, and pan tries the highest process id first, so a broken
 * state is reported by the monitor before anything else is tried from it. */
proctype Monitor() {
    byte occ[NBLOCKS + 1];
    byte i, p, length;
end:
    do
    :: d_step {
        ExclusiveInv = true;
        ConservationInv = true;
        CountInv = true;
        SpareInv = true;
        DepotListInv = true;
        for (i : 1 .. NBLOCKS) {
            occ[i] = backend[i] + (holder[i] != 0 -> 1 : 0)
        }
        for (i : 1 .. NTHREADS) {
            p = head[i];
            length = 0;
            do
            :: p != NULL && length <= NCACHE -> occ[p]++; length++; p = next[p]
            :: else -> break
            od;
            if
            :: p != NULL || length != count[i] || length > NCACHE -> CountInv = false
            :: else -> skip
            fi;
            p = spare[i];
            length = 0;
            do
            :: p != NULL && length <= NCACHE -> occ[p]++; length++; p = next[p]
            :: else -> break
            od;
            if
            :: spare[i] != NULL && (p != NULL || length != NCACHE) -> SpareInv = false
            :: else -> skip
            fi
        }
        for (i : 0 .. NLISTS - 1) {
            p = depot[i];
            length = 0;
            do
            :: p != NULL && length <= NCACHE -> occ[p]++; length++; p = next[p]
            :: else -> break
            od;
            if
            :: depot[i] != NULL && (p != NULL || length != NCACHE) -> DepotListInv = false
            :: else -> skip
            fi
        }
        for (i : 1 .. NBLOCKS) {
            if
            :: occ[i] > 1 -> ExclusiveInv = false
            :: occ[i] == 0 -> ConservationInv = false
            :: else -> skip
            fi;
            occ[i] = 0
        }
        assert(ExclusiveInv);
        assert(ConservationInv);
        assert(CountInv);
        assert(SpareInv);
        assert(DepotListInv);
        i = 0;
        p = 0;
        length = 0
    }
    od
}

/* ---- the threads --------------------------------------------------------
 * Each atomic step makes at most one shared access (a depot slot, the
 * backend, the handoff), in the order of the C code; owner-only list work,
 * local decisions and ghost updates are merged into a neighbouring step
 * (they commute with every step of every other thread).  Locals are reset
 * when a call ends. */
proctype Worker(byte id) {
    byte nops = (id == 1 -> NOPS_FIRST : NOPS); /* calls to make */
    byte n = 0;        /* calls made (allocations and handoffs) */
    byte b = 0;        /* the block being freed, allocated or handed over */
    byte k = 0;        /* the depot slot the scan is at */
    byte seen = 0;     /* depot_take: what the relaxed load saw (non-NULL) */
    byte got = 0;      /* depot_take: the exchange's result */
    bool sawnull = false; /* depot_put: the relaxed load saw NULL */
    bool lost = false; /* the scan lost a race (a CAS, an exchange) */
    do
    /* ---- allocate_with_cache ---------------------------------------- */
    :: atomic { n < nops && count[id] > 0 ->
           /* CachePop: the hot path pops from the thread's current list
            * (owner-only) */
           n++;
           cache_pop(id, b);
           take_hold(id, b);
           b = 0;
           cover_alloc_pop: cover = 1
       }
    :: atomic { n < nops && count[id] == 0 && spare[id] != NULL ->
           /* CacheFromSpare: allocate_cache_slow, the current list is
            * empty and the spare full: current := spare (count N), spare
            * := empty, and pop (owner-only) */
           n++;
           head[id] = spare[id];
           count[id] = NCACHE;
           spare[id] = NULL;
           cache_pop(id, b);
           take_hold(id, b);
           b = 0;
           cover_from_spare: cover = 1
       }
    :: atomic { n < nops && count[id] == 0 && spare[id] == NULL ->
           /* DepotTakeBegin: allocate_cache_slow -> depot_take, both lists
            * are empty; the scan starts at slot 0 */
           n++;
           k = 0
       };
       do
       :: atomic { k < NLISTS && seen == NULL ->
              /* DepotTakeLoad: relaxed load of depot->list[c][k], only a
               * hint; NULL, on to the next slot */
              seen = depot[k];
              if
              :: seen == NULL -> k++
              :: else -> skip
              fi
          }
       :: atomic { seen != NULL ->
#ifdef TAKE_LOAD_STORE
              /* MUTANT: a plain store of NULL after the load: the thread
               * takes the list it loaded, which a racing take may have
               * taken too */
              depot[k] = NULL;
              got = seen;
#else
              /* DepotTakeExchange: atomic_exchange(&list[k], NULL),
               * acquire: the whole list, or NULL when a racing take
               * emptied the slot first */
              got = depot[k];
              depot[k] = NULL;
#endif
              if
              :: got != NULL && got != seen ->
                  /* the slot was emptied and refilled between the load and
                   * the exchange: the exchange takes the list it returns */
                  cover_take_refilled: cover = 1
              :: else -> skip
              fi;
              seen = NULL;
              if
              :: got != NULL ->
                  /* current list := the list taken, count := N; pop from
                   * it */
                  assert(head[id] == NULL && count[id] == 0 && spare[id] == NULL);
                  head[id] = got;
                  count[id] = NCACHE;
                  cache_pop(id, b);
                  take_hold(id, b);
                  if
                  :: k > 0 ->
                      /* past an empty slot */
                      cover_take_later_slot: cover = 1
                  :: else -> skip
                  fi;
                  got = 0;
                  k = 0;
                  b = 0;
                  lost = false;
                  cover_take: cover = 1;
                  break
              :: else ->
                  cover_take_raced: lost = true;
                  k++
              fi
          }
       :: atomic { k == NLISTS && seen == NULL ->
              /* BackendObtain: no list taken, a new block from the
               * backend's malloc (ms_backend_obtain) */
              backend_obtain(id, b);
              if
              :: !lost ->
                  /* every slot was NULL */
                  cover_alloc_backend: cover = 1
              :: else -> lost = false
              fi;
              b = 0;
              k = 0;
              break
          }
       od

    /* ---- deallocate_with_cache -> cache_keep_or_release -------------- */
    :: atomic { nheld[id] > 0 && count[id] < NCACHE ->
           /* CachePush: the current list has room (owner-only) */
           lowest_held(id, b);
           drop_hold(id, b);
           cache_push(id, b);
           b = 0;
           cover_keep: cover = 1
       }
    :: atomic { nheld[id] > 0 && count[id] == NCACHE && spare[id] == NULL ->
           /* CacheToSpare: the current list is full and the spare empty:
            * spare := current, current := empty, and push (owner-only) */
           lowest_held(id, b);
           drop_hold(id, b);
           spare[id] = head[id];
           head[id] = NULL;
           count[id] = 0;
           cache_push(id, b);
           b = 0;
           cover_to_spare: cover = 1
       }
    :: atomic { nheld[id] > 0 && count[id] == NCACHE && spare[id] != NULL ->
           /* SpillRelease: both lists are full and the thread spills the
            * class (cache_spilling): the block goes back to the backend
            * with no look at the depot.  The spill's countdown is
            * owner-only and left out: any free into full lists may spill,
            * which includes every one the code makes. */
           lowest_held(id, b);
           drop_hold(id, b);
           ExclusiveInv = !backend[b];
           assert(ExclusiveInv);
           backend[b] = 1;
           b = 0;
           cover_spill: cover = 1
       }
    :: atomic { nheld[id] > 0 && count[id] == NCACHE && spare[id] != NULL ->
           /* DepotPutBegin: both lists are full, depot_put of the spare;
            * the block stays in the thread's hands until the put is
            * over */
           lowest_held(id, b);
           k = 0
       };
       do
       :: atomic { k < NLISTS && !sawnull ->
              /* DepotPutLoad: relaxed load of depot->list[c][k], only a
               * hint; not NULL, on to the next slot */
              if
              :: depot[k] == NULL -> sawnull = true
              :: else -> k++
              fi
          }
       :: atomic { sawnull ->
              sawnull = false;
#ifdef PUT_LOAD_STORE
              /* MUTANT: a plain store after the load saw NULL: a list a
               * racing put stored meanwhile is overwritten */
              if
              :: true ->
#else
              /* DepotPutCas: atomic_compare_exchange_strong(&list[k],
               * &expected = NULL, spare), release on success, relaxed on
               * failure */
              if
              :: depot[k] == NULL ->
#endif
                  depot[k] = spare[id];
                  /* handed over: spare := current, current := empty,
                   * count := 0; push b */
                  spare[id] = head[id];
                  head[id] = NULL;
                  count[id] = 0;
                  drop_hold(id, b);
                  cache_push(id, b);
                  if
                  :: k > 0 ->
                      /* past a full slot */
                      cover_put_later_slot: cover = 1
                  :: else -> skip
                  fi;
                  b = 0;
                  k = 0;
                  lost = false;
                  cover_put: cover = 1;
                  break
              :: else ->
                  /* a racing put filled the slot after the load */
                  cover_put_cas_lost: lost = true;
                  k++
              fi
          }
       :: atomic { k == NLISTS && !sawnull ->
              /* BackendRelease: every slot full or every CAS lost: the
               * block goes back to the backend, both lists stay (and the
               * spill begins: SpillRelease) */
              drop_hold(id, b);
              ExclusiveInv = !backend[b];
              assert(ExclusiveInv);
              backend[b] = 1;
              cover_release_block: cover = 1;
              if
              :: lost ->
                  cover_put_lost_release: cover = 1;
                  lost = false
              :: else ->
                  cover_put_full: cover = 1
              fi;
              b = 0;
              k = 0;
              break
          }
       od

    /* ---- the handoff -------------------------------------------------- */
    :: atomic { n < nops && nheld[id] > 0 && !exited[id % NTHREADS + 1] ->
           /* Handoff: a live block to the next thread (a ring), through a
            * queue (release/acquire): its new holder frees it or hands it
            * on */
           n++;
           lowest_held(id, b);
           drop_hold(id, b);
           take_hold(id % NTHREADS + 1, b);
           b = 0;
           cover_handoff: cover = 1
       }

    /* ---- ThreadReturns: its calls made, nothing held ----------------- */
    :: atomic { n == nops && nheld[id] == 0 ->
           exited[id] = true;
           ndone++;
           break
       }
    od
}

/* ---- the owner ----------------------------------------------------------- */
init {
    byte i, b, p;
    atomic {
        for (i : 1 .. NTHREADS) { run Worker(i) }
        run Monitor()
    }
    ndone == NTHREADS;                      /* DestroyBegin: the owner joins */

    /* destroy_default_strategy, alone.  CacheDrain: cache_drain gives every
     * thread's cached blocks, its current and its spare list, to the backend
     * (one step per thread: nothing runs concurrently with destroy) */
    for (i : 1 .. NTHREADS) {
        atomic {
            if
            :: head[i] != NULL ->
                cover_drain_cache: cover = 1
            :: else -> skip
            fi;
            if
            :: spare[i] != NULL ->
                cover_drain_spare: cover = 1
            :: else -> skip
            fi;
            do
            :: head[i] != NULL ->
                cache_pop(i, b);
                ExclusiveInv = !backend[b];
                assert(ExclusiveInv);
                backend[b] = 1
            :: else -> break
            od;
            do
            :: spare[i] != NULL ->
                b = spare[i];
                spare[i] = next[b];
                next[b] = NULL;
                ExclusiveInv = !backend[b];
                assert(ExclusiveInv);
                backend[b] = 1
            :: else -> break
            od;
            b = 0
        }
    }
    /* DepotDrain: depot_drain gives every non-NULL slot's list to the
     * backend */
    for (i : 0 .. NLISTS - 1) {
        atomic {
            p = depot[i];
            depot[i] = NULL;
            if
            :: p != NULL ->
                cover_drain_depot: cover = 1
            :: else -> skip
            fi;
            do
            :: p != NULL ->
                b = p;
                p = next[b];
                next[b] = NULL;
                ExclusiveInv = !backend[b];
                assert(ExclusiveInv);
                backend[b] = 1
            :: else -> break
            od;
            b = 0
        }
    }
    /* DestroyFinish.  DrainedInv: every block is back in the backend */
    DrainedInv = true;
    for (i : 1 .. NBLOCKS) {
        if
        :: !backend[i] || holder[i] != 0 -> DrainedInv = false
        :: else -> skip
        fi
    }
    assert(DrainedInv)
}
