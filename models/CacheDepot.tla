------------------------------- MODULE CacheDepot -------------------------------
(***************************************************************************)
(* The thread cache's depot: how freed blocks flow between the per-thread  *)
(* caches of a DefaultStrategy, as the code runs it.  One size class (the  *)
(* classes share nothing).                                                 *)
(*                                                                         *)
(*   src/default_strategy.c                                                *)
(*     deallocate_with_cache -> cache_keep_or_release: cache_push when the *)
(*         current list has room (CachePush); when it is full and the      *)
(*         spare empty, spare := current and cache_push onto an empty      *)
(*         current list (CacheToSpare); when both are full, depot_put of   *)
(*         the spare (DepotPutBegin, DepotPutLoad, DepotPutCas), then      *)
(*         spare := current and cache_push onto an empty current list, or  *)
(*         the block to the backend when no slot took it, both lists kept  *)
(*         (BackendRelease: the spill begins); during the spill, the block *)
(*         to the backend with no look at the depot (SpillRelease)         *)
(*     allocate_with_cache -> allocate_cache_slow: cache_pop when the      *)
(*         current list has a block (CachePop); when it is empty and the   *)
(*         spare full, current := spare and cache_pop (CacheFromSpare);    *)
(*         when both are empty, depot_take (DepotTakeBegin, DepotTakeLoad, *)
(*         DepotTakeExchange) and cache_pop from the list taken, or        *)
(*         ms_backend_obtain when no list was taken (BackendObtain)        *)
(*     destroy_default_strategy: cache_drain (CacheDrain) and depot_drain  *)
(*         (DepotDrain), after the owner joined every thread (DestroyBegin,*)
(*         DestroyFinish)                                                  *)
(*                                                                         *)
(* Each thread's cache is owner-only, read and written only by the thread: *)
(* per class two singly linked lists (the "magazine" pair), the current    *)
(* list of at most N blocks (N = config.thread_cache_blocks) with its      *)
(* count, and the spare list, either empty or exactly N blocks.            *)
(* Allocations pop from and frees push onto the current list; the spare    *)
(* absorbs one full list each way, so a thread whose frees and allocations *)
(* oscillate by fewer than N blocks never reaches the depot and its blocks *)
(* stay with it.  The depot is the one shared part: K atomic slots         *)
(* (depot->list[c][k], MS_DEPOT_LISTS), NULL (<<>> here) when empty, else  *)
(* holding a whole NULL-terminated list of exactly N blocks (a former      *)
(* spare) whose headers (each the block's link, sealed by its check word) *)
(* the thread that put it there wrote.                                     *)
(*                                                                         *)
(* A free into a full current list with a full spare hands the whole       *)
(* spare to the first slot whose relaxed load reads NULL and whose CAS     *)
(* (NULL -> spare, release) succeeds; the current list then becomes the    *)
(* spare and the block starts an empty current list.  If no slot takes it  *)
(* (every slot full, or every CAS lost) the block goes to the backend and  *)
(* both lists stay, and so do the next N - 1 frees into the full lists    *)
(* (the spill, an owner-only countdown left out here: any free into full   *)
(* lists may spill, which includes every one the code makes).              *)
(* An allocation with both lists empty exchanges NULL into the first slot  *)
(* whose relaxed load reads non-NULL (acquire) and, if the exchange        *)
(* returned a list (not NULL: a racing take emptied the slot), makes it    *)
(* its current list and pops from it; otherwise it gets a new block from   *)
(* the backend.  The relaxed loads are hints: the CAS and the exchange     *)
(* decide.                                                                 *)
(*                                                                         *)
(* Threads pass live blocks to each other (Handoff: a pointer through a    *)
(* queue with release/acquire, the benchmark's producer and consumer), so  *)
(* one thread's frees fill the depot and another's allocations empty it.   *)
(*                                                                         *)
(* Ghost state: where every block is (the backend, a thread's hands, a     *)
(* thread's list, a depot list).  ConservationInv and ExclusiveInv: every  *)
(* block is in exactly one place, always.                                  *)
(*                                                                         *)
(* Each step makes at most one shared access (a depot slot, the backend,   *)
(* the handoff), in the order of the C code; owner-only list work and      *)
(* ghost updates are merged into a neighbouring step.                      *)
(*                                                                         *)
(* Checked twin: CacheDepot.pml (spin, exhaustive; see README.md for the   *)
(* bounds), run by //models:cache_depot_test.                              *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Threads,    \* application threads
    Blocks,     \* the backend's blocks (enough for every call: see MC)
    N,          \* config.thread_cache_blocks: blocks per thread and class
    K,          \* MS_DEPOT_LISTS: depot slots per class
    MaxCalls,   \* allocations and handoffs per thread (a bound)
    NoBlock     \* a model value: no block

ASSUME N \in Nat \ {0} /\ K \in Nat \ {0} /\ MaxCalls \in Nat
ASSUME NoBlock \notin Blocks

Lists == 0..(K - 1)
Null == <<>>                \* an empty depot slot (NULL); lists are sequences, head first

Range(s) == {s[i] : i \in DOMAIN s}

Phases == {"idle",          \* between calls
           "take_load",     \* depot_take: the relaxed load of list[slot]
           "take_xchg",     \* depot_take: the exchange on list[slot]
           "obtain",        \* allocate_cache_slow: the backend's malloc
           "put_load",      \* depot_put: the relaxed load of list[slot]
           "put_cas",       \* depot_put: the CAS on list[slot]
           "release",       \* cache_keep_or_release: ms_backend_release
           "done"}          \* returned (joinable)

VARIABLES
    depot,      \* depot->list[c][k]: the slots, Null or a list
    own,        \* per thread: its current list (owner-only), head first
    count,      \* per thread: the current list's count (owner-only)
    spare,      \* per thread: its spare list (owner-only): <<>> or N blocks
    backend,    \* ghost: the blocks in the backend's free memory
    held,       \* ghost: per thread, the live blocks in its hands
    pc,         \* per thread: the phase of its call
    slot,       \* per thread: the slot its depot scan is at
    blk,        \* per thread: the block depot_put's caller is freeing
    lost,       \* per thread: its scan lost a race (a CAS, an exchange)
    calls,      \* per thread: allocations and handoffs made
    owner       \* the owner: "run", "destroy" (joined, destroying), "done"

vars == <<depot, own, count, spare, backend, held, pc, slot, blk, lost, calls, owner>>

TypeOK ==
    /\ depot \in [Lists -> Seq(Blocks)]
    /\ own \in [Threads -> Seq(Blocks)]
    /\ count \in [Threads -> 0..N]
    /\ spare \in [Threads -> Seq(Blocks)]
    /\ backend \subseteq Blocks
    /\ held \in [Threads -> SUBSET Blocks]
    /\ pc \in [Threads -> Phases]
    /\ slot \in [Threads -> Lists]
    /\ blk \in [Threads -> Blocks \cup {NoBlock}]
    /\ lost \in [Threads -> BOOLEAN]
    /\ calls \in [Threads -> 0..MaxCalls]
    /\ owner \in {"run", "destroy", "done"}

Init ==
    /\ depot = [k \in Lists |-> Null]
    /\ own = [t \in Threads |-> <<>>]
    /\ count = [t \in Threads |-> 0]
    /\ spare = [t \in Threads |-> <<>>]
    /\ backend = Blocks
    /\ held = [t \in Threads |-> {}]
    /\ pc = [t \in Threads |-> "idle"]
    /\ slot = [t \in Threads |-> 0]
    /\ blk = [t \in Threads |-> NoBlock]
    /\ lost = [t \in Threads |-> FALSE]
    /\ calls = [t \in Threads |-> 0]
    /\ owner = "run"

(* The scan of thread t passes slot[t]: on to the next slot in phase     *)
(* `again`, or, after the last, to phase `after`.                        *)
NextSlot(t, again, after) ==
    IF slot[t] + 1 < K
    THEN /\ slot' = [slot EXCEPT ![t] = @ + 1]
         /\ pc' = [pc EXCEPT ![t] = again]
    ELSE /\ slot' = [slot EXCEPT ![t] = 0]
         /\ pc' = [pc EXCEPT ![t] = after]

(* The end of a call. *)
Idle(t) ==
    /\ pc' = [pc EXCEPT ![t] = "idle"]
    /\ slot' = [slot EXCEPT ![t] = 0]
    /\ blk' = [blk EXCEPT ![t] = NoBlock]
    /\ lost' = [lost EXCEPT ![t] = FALSE]

-----------------------------------------------------------------------------
(* allocate_with_cache *)

(* The hot path: the current list has a block; cache_pop (owner-only).   *)
CachePop(t) ==
    /\ owner = "run"
    /\ pc[t] = "idle"
    /\ calls[t] < MaxCalls
    /\ count[t] > 0
    /\ held' = [held EXCEPT ![t] = @ \cup {Head(own[t])}]
    /\ own' = [own EXCEPT ![t] = Tail(@)]
    /\ count' = [count EXCEPT ![t] = @ - 1]
    /\ calls' = [calls EXCEPT ![t] = @ + 1]
    /\ UNCHANGED <<depot, spare, backend, pc, slot, blk, lost, owner>>

(* allocate_cache_slow, the current list empty and the spare full:       *)
(* current := spare (count N), spare := empty, and cache_pop             *)
(* (owner-only, no shared access).                                       *)
CacheFromSpare(t) ==
    /\ owner = "run"
    /\ pc[t] = "idle"
    /\ calls[t] < MaxCalls
    /\ count[t] = 0
    /\ spare[t] # <<>>
    /\ held' = [held EXCEPT ![t] = @ \cup {Head(spare[t])}]
    /\ own' = [own EXCEPT ![t] = Tail(spare[t])]
    /\ count' = [count EXCEPT ![t] = N - 1]
    /\ spare' = [spare EXCEPT ![t] = <<>>]
    /\ calls' = [calls EXCEPT ![t] = @ + 1]
    /\ UNCHANGED <<depot, backend, pc, slot, blk, lost, owner>>

(* allocate_cache_slow with both lists empty: depot_take scans from      *)
(* slot 0.                                                               *)
DepotTakeBegin(t) ==
    /\ owner = "run"
    /\ pc[t] = "idle"
    /\ calls[t] < MaxCalls
    /\ count[t] = 0
    /\ spare[t] = <<>>
    /\ pc' = [pc EXCEPT ![t] = "take_load"]
    /\ slot' = [slot EXCEPT ![t] = 0]
    /\ calls' = [calls EXCEPT ![t] = @ + 1]
    /\ UNCHANGED <<depot, own, count, spare, backend, held, blk, lost, owner>>

(* depot_take: relaxed load of list[k]; NULL, on to the next slot.       *)
DepotTakeLoad(t) ==
    /\ pc[t] = "take_load"
    /\ IF depot[slot[t]] # Null
       THEN /\ pc' = [pc EXCEPT ![t] = "take_xchg"]
            /\ UNCHANGED slot
       ELSE NextSlot(t, "take_load", "obtain")
    /\ UNCHANGED <<depot, own, count, spare, backend, held, blk, lost, calls, owner>>

(* depot_take: atomic_exchange(&list[k], NULL), acquire.  A list: the    *)
(* thread's current list := it, count := N, and cache_pop from it.  NULL *)
(* (a racing take emptied the slot after the load): on to the next slot. *)
DepotTakeExchange(t) ==
    /\ pc[t] = "take_xchg"
    /\ LET got == depot[slot[t]] IN
       /\ depot' = [depot EXCEPT ![slot[t]] = Null]
       /\ IF got # Null
          THEN /\ own' = [own EXCEPT ![t] = Tail(got)]
               /\ count' = [count EXCEPT ![t] = N - 1]
               /\ held' = [held EXCEPT ![t] = @ \cup {Head(got)}]
               /\ Idle(t)
          ELSE /\ lost' = [lost EXCEPT ![t] = TRUE]
               /\ NextSlot(t, "take_load", "obtain")
               /\ UNCHANGED <<own, count, held, blk>>
    /\ UNCHANGED <<spare, backend, calls, owner>>

(* allocate_cache_slow when no list was taken: ms_backend_obtain (the    *)
(* backend's malloc, any free block).                                    *)
BackendObtain(t) ==
    /\ pc[t] = "obtain"
    /\ \E b \in backend :
        /\ backend' = backend \ {b}
        /\ held' = [held EXCEPT ![t] = @ \cup {b}]
    /\ Idle(t)
    /\ UNCHANGED <<depot, own, count, spare, calls, owner>>

-----------------------------------------------------------------------------
(* deallocate_with_cache -> cache_keep_or_release, of a block t holds *)

(* The current list has room: cache_push (owner-only).                   *)
CachePush(t) ==
    /\ pc[t] = "idle"
    /\ count[t] < N
    /\ \E b \in held[t] :
        /\ held' = [held EXCEPT ![t] = @ \ {b}]
        /\ own' = [own EXCEPT ![t] = <<b>> \o @]
    /\ count' = [count EXCEPT ![t] = @ + 1]
    /\ UNCHANGED <<depot, spare, backend, pc, slot, blk, lost, calls, owner>>

(* The current list is full and the spare empty: spare := current,       *)
(* current := empty, and cache_push keeps the block there (owner-only,   *)
(* no shared access).                                                    *)
CacheToSpare(t) ==
    /\ pc[t] = "idle"
    /\ count[t] = N
    /\ spare[t] = <<>>
    /\ \E b \in held[t] :
        /\ held' = [held EXCEPT ![t] = @ \ {b}]
        /\ own' = [own EXCEPT ![t] = <<b>>]
    /\ spare' = [spare EXCEPT ![t] = own[t]]
    /\ count' = [count EXCEPT ![t] = 1]
    /\ UNCHANGED <<depot, backend, pc, slot, blk, lost, calls, owner>>

(* Both lists are full: depot_put of the spare scans from slot 0.  The   *)
(* block stays in the thread's hands until the put is over.              *)
DepotPutBegin(t) ==
    /\ pc[t] = "idle"
    /\ count[t] = N
    /\ spare[t] # <<>>
    /\ \E b \in held[t] : blk' = [blk EXCEPT ![t] = b]
    /\ pc' = [pc EXCEPT ![t] = "put_load"]
    /\ slot' = [slot EXCEPT ![t] = 0]
    /\ UNCHANGED <<depot, own, count, spare, backend, held, lost, calls, owner>>

(* depot_put: relaxed load of list[k]; not NULL, on to the next slot.    *)
DepotPutLoad(t) ==
    /\ pc[t] = "put_load"
    /\ IF depot[slot[t]] = Null
       THEN /\ pc' = [pc EXCEPT ![t] = "put_cas"]
            /\ UNCHANGED slot
       ELSE NextSlot(t, "put_load", "release")
    /\ UNCHANGED <<depot, own, count, spare, backend, held, blk, lost, calls, owner>>

(* depot_put: atomic_compare_exchange_strong(&list[k], &expected = NULL, *)
(* spare), release on success.  Success: the slot holds the thread's N   *)
(* spare blocks, spare := current, current := empty, and cache_push      *)
(* keeps the block being freed.  Failure (a racing put filled the slot   *)
(* after the load): on to the next slot.                                 *)
DepotPutCas(t) ==
    /\ pc[t] = "put_cas"
    /\ IF depot[slot[t]] = Null
       THEN /\ depot' = [depot EXCEPT ![slot[t]] = spare[t]]
            /\ spare' = [spare EXCEPT ![t] = own[t]]
            /\ own' = [own EXCEPT ![t] = <<blk[t]>>]
            /\ count' = [count EXCEPT ![t] = 1]
            /\ held' = [held EXCEPT ![t] = @ \ {blk[t]}]
            /\ Idle(t)
       ELSE /\ lost' = [lost EXCEPT ![t] = TRUE]
            /\ NextSlot(t, "put_load", "release")
            /\ UNCHANGED <<depot, own, count, spare, held, blk>>
    /\ UNCHANGED <<backend, calls, owner>>

(* No slot took the spare (every slot full, or every CAS lost): the      *)
(* block goes back to the backend (ms_backend_release) and both lists    *)
(* stay; the spill begins (SpillRelease), so a thread that frees more    *)
(* than it allocates looks at the depot once per N blocks, not once per  *)
(* block.                                                                *)
BackendRelease(t) ==
    /\ pc[t] = "release"
    /\ backend' = backend \cup {blk[t]}
    /\ held' = [held EXCEPT ![t] = @ \ {blk[t]}]
    /\ Idle(t)
    /\ UNCHANGED <<depot, own, count, spare, calls, owner>>

(* Both lists are full and the thread spills the class (cache_spilling): *)
(* the block goes back to the backend with no look at the depot.  The    *)
(* spill's countdown is owner-only and left out: any free into full      *)
(* lists may spill, which includes every one the code makes.             *)
SpillRelease(t) ==
    /\ pc[t] = "idle"
    /\ count[t] = N
    /\ spare[t] # <<>>
    /\ \E b \in held[t] :
        /\ backend' = backend \cup {b}
        /\ held' = [held EXCEPT ![t] = @ \ {b}]
    /\ UNCHANGED <<depot, own, count, spare, pc, slot, blk, lost, calls, owner>>

-----------------------------------------------------------------------------
(* The application *)

(* A live block handed to another running thread through a queue         *)
(* (release/acquire): its new holder frees it or hands it on.  (The twin *)
(* hands it to the next thread in a ring; with two threads, the other.)  *)
Handoff(t) ==
    /\ pc[t] = "idle"
    /\ calls[t] < MaxCalls
    /\ \E b \in held[t], u \in Threads \ {t} :
        /\ pc[u] # "done"
        /\ held' = [held EXCEPT ![t] = @ \ {b}, ![u] = @ \cup {b}]
    /\ calls' = [calls EXCEPT ![t] = @ + 1]
    /\ UNCHANGED <<depot, own, count, spare, backend, pc, slot, blk, lost, owner>>

(* The thread returns once it made its calls and freed what it holds;    *)
(* its cache stays (destroy drains it).                                  *)
ThreadReturns(t) ==
    /\ pc[t] = "idle"
    /\ calls[t] = MaxCalls
    /\ held[t] = {}
    /\ pc' = [pc EXCEPT ![t] = "done"]
    /\ UNCHANGED <<depot, own, count, spare, backend, held, slot, blk, lost, calls, owner>>

-----------------------------------------------------------------------------
(* destroy_default_strategy, after the owner joined every thread *)

DestroyBegin ==
    /\ owner = "run"
    /\ \A t \in Threads : pc[t] = "done"
    /\ owner' = "destroy"
    /\ UNCHANGED <<depot, own, count, spare, backend, held, pc, slot, blk, lost, calls>>

(* cache_drain: a thread's cached blocks, current and spare list, to the *)
(* backend.                                                              *)
CacheDrain(t) ==
    /\ owner = "destroy"
    /\ own[t] # <<>> \/ spare[t] # <<>>
    /\ backend' = backend \cup Range(own[t]) \cup Range(spare[t])
    /\ own' = [own EXCEPT ![t] = <<>>]
    /\ count' = [count EXCEPT ![t] = 0]
    /\ spare' = [spare EXCEPT ![t] = <<>>]
    /\ UNCHANGED <<depot, held, pc, slot, blk, lost, calls, owner>>

(* depot_drain: a non-empty slot's list to the backend.                  *)
DepotDrain(k) ==
    /\ owner = "destroy"
    /\ depot[k] # Null
    /\ backend' = backend \cup Range(depot[k])
    /\ depot' = [depot EXCEPT ![k] = Null]
    /\ UNCHANGED <<own, count, spare, held, pc, slot, blk, lost, calls, owner>>

DestroyFinish ==
    /\ owner = "destroy"
    /\ \A t \in Threads : own[t] = <<>> /\ spare[t] = <<>>
    /\ \A k \in Lists : depot[k] = Null
    /\ owner' = "done"
    /\ UNCHANGED <<depot, own, count, spare, backend, held, pc, slot, blk, lost, calls>>

(* Nothing left to do (not a deadlock). *)
Terminated ==
    /\ owner = "done"
    /\ UNCHANGED vars

Next ==
    \/ \E t \in Threads :
        \/ CachePop(t) \/ CacheFromSpare(t) \/ DepotTakeBegin(t)
        \/ DepotTakeLoad(t) \/ DepotTakeExchange(t) \/ BackendObtain(t)
        \/ CachePush(t) \/ CacheToSpare(t) \/ DepotPutBegin(t)
        \/ DepotPutLoad(t) \/ DepotPutCas(t) \/ BackendRelease(t)
        \/ SpillRelease(t) \/ Handoff(t) \/ ThreadReturns(t) \/ CacheDrain(t)
    \/ \E k \in Lists : DepotDrain(k)
    \/ DestroyBegin \/ DestroyFinish \/ Terminated

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

(* How many places hold block b: the backend, a thread's hands, a        *)
(* position in a thread's current or spare list, a position in a depot   *)
(* list.                                                                 *)
CachePositions == UNION {{<<t, i>> : i \in DOMAIN own[t]} : t \in Threads}
SparePositions == UNION {{<<t, i>> : i \in DOMAIN spare[t]} : t \in Threads}
DepotPositions == UNION {{<<k, i>> : i \in DOMAIN depot[k]} : k \in Lists}

Places(b) ==
    (IF b \in backend THEN 1 ELSE 0)
    + Cardinality({t \in Threads : b \in held[t]})
    + Cardinality({p \in CachePositions : own[p[1]][p[2]] = b})
    + Cardinality({p \in SparePositions : spare[p[1]][p[2]] = b})
    + Cardinality({p \in DepotPositions : depot[p[1]][p[2]] = b})

(* No block is lost. *)
ConservationInv == \A b \in Blocks : Places(b) >= 1

(* No block is in two places (two threads' caches, a thread's current    *)
(* and spare list, a cache and the backend, twice in one list, ...):     *)
(* owned twice.                                                          *)
ExclusiveInv == \A b \in Blocks : Places(b) <= 1

(* A thread's count is the length of its current list, at most N. *)
CountInv == \A t \in Threads : count[t] = Len(own[t]) /\ count[t] <= N

(* A thread's spare list is empty or exactly N blocks. *)
SpareInv == \A t \in Threads : spare[t] = <<>> \/ Len(spare[t]) = N

(* A non-empty depot slot holds exactly N blocks. *)
DepotListInv == \A k \in Lists : depot[k] # Null => Len(depot[k]) = N

(* The block depot_put's caller frees is in its hands until placed. *)
InFlightInv ==
    \A t \in Threads : pc[t] \in {"put_load", "put_cas", "release"} => blk[t] \in held[t]

(* After destroy every block is back in the backend. *)
DrainedInv == owner = "done" => backend = Blocks

=============================================================================
