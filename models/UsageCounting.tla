----------------------------- MODULE UsageCounting -----------------------------
(***************************************************************************)
(* The per-thread counting protocol of memstats, as implemented in         *)
(*                                                                         *)
(*   src/memstats_internal.h  ms_stats_on_alloc (Reserve, AllocNoReserve,  *)
(*                            StoreLocalPeak, PublishAlloc, CountAlloc),   *)
(*                            ms_stats_on_free (Unreserve, FreeNoUnreserve,*)
(*                            PublishFree, CountFree), ms_stats_slot and   *)
(*                            the slot cache (AllocFull, FreeFull),        *)
(*                            ms_stats_try_alloc / ms_stats_try_free       *)
(*                            (TryAlloc, TryFree), ms_stats_check_epoch    *)
(*                            (CheckEpoch, RestartPeak, RestartEpoch)      *)
(*   src/memstats.c           ms_stats_reserve (Reserve, RaisePeak),       *)
(*                            ms_stats_unreserve (Unreserve),              *)
(*                            ms_stats_record_shared (SharedAllocBegin,    *)
(*                            SharedAlloc, SharedFreeBegin, SharedFree,    *)
(*                            SharedBytes, SharedCount),                   *)
(*                            ms_stats_fold (FoldStart, FoldLoad, FoldEnd) *)
(*                            ms_stats_reset_peak (ResetLoad, ResetBump,   *)
(*                            ResetRekey, ResetStore, ResetMax)            *)
(*   src/ms_atomic.h          ms_max_relaxed_i64 (RaisePeak)               *)
(*   src/thread_registry.c    ms_thread_index_claim (ClaimIndex),          *)
(*                            on_thread_exit / release_index (ThreadExit)  *)
(*                                                                         *)
(* Each thread index owns one slot: only its holder writes it.  A slot     *)
(* keeps alloc_bytes, freed_bytes, the operation counts, local_peak (the   *)
(* high-water mark of its own net usage) and reserved (its share of the    *)
(* shared reserved_total).  Every operation keeps                          *)
(*     net <= reserved <= net + 2 * Batch      (net = alloc - freed)       *)
(* by moving reserved_total first when it would break it: on allocation    *)
(* when net would exceed reserved (reserve net + Batch), on free when      *)
(* reserved - net would exceed 2 * Batch (give back down to net + Batch).  *)
(* That shared update is the operation's linearisation point; without one, *)
(* the release store of the byte counter is.  A reader folds frees first,  *)
(* then allocations, and reports peak = min(reserved_peak, sum of          *)
(* local_peak) (only reserved_peak once the overflow slot was used).       *)
(*                                                                         *)
(* Peak reset: one reset bumps peak_epoch, gives the statistics a fresh id *)
(* (the key of each thread's slot cache), stores reserved_peak = the total *)
(* loaded first, then raises it to the total loaded again.  A slot carries *)
(* the epoch its local_peak belongs to; the full path restarts a stale     *)
(* slot's local_peak from its net before the operation.  The fast paths    *)
(* (cached id = current id, no reservation to move) skip the epoch check:  *)
(* after a reset the cached id misses once.  A fast path is linearised at  *)
(* its load of the id, a full-path free at its load of peak_epoch (so a    *)
(* free that leaves its slot stale precedes the reset).  The fold counts a *)
(* slot whose epoch is current by its local_peak, any other by its net.    *)
(* The reset takes effect at some point of its interval: gHw restarts at   *)
(* its first step, gHwLo at its last.                                      *)
(*                                                                         *)
(* Each step makes at most one shared access, in the order of the C code;  *)
(* owner-only loads, local arithmetic, the store of `reserved` (read by no *)
(* other thread) and ghost updates are folded into the neighbouring step.  *)
(*                                                                         *)
(* Checked twin: UsageCounting.pml (spin, exhaustive; see README.md for    *)
(* the configurations), run by //models:usage_counting_*_test.             *)
(***************************************************************************)
EXTENDS Integers, FiniteSets

CONSTANTS
    Threads,    \* application threads
    NSlots,     \* thread indices (MS_MAX_THREADS)
    Batch,      \* MEMSTATS_BATCH_BYTES
    Sizes,      \* block sizes a call may use
    MaxCalls,   \* calls per thread (a bound for model checking)
    Limit       \* the statistics' limit on reserved_total; 0: none

ASSUME NSlots \in Nat \ {0} /\ Batch \in Nat \ {0} /\ Sizes \subseteq Nat \ {0}
ASSUME MaxCalls \in Nat /\ Limit \in Nat

Slots == 0..(NSlots - 1)
Overflow == NSlots                 \* MS_OVERFLOW_INDEX: the shared slot
AllSlots == Slots \cup {Overflow}
NoIndex == -1                      \* MS_NO_INDEX

Max(a, b) == IF a >= b THEN a ELSE b
Min(S) == CHOOSE x \in S : \A y \in S : x <= y
Sum(f, S) ==
    LET F[T \in SUBSET S] ==
        IF T = {} THEN 0 ELSE LET x == CHOOSE x \in T : TRUE IN f[x] + F[T \ {x}]
    IN F[S]

ThreadSteps == {"idle", "a_epoch", "a_res", "a_max", "a_peak", "a_bytes", "a_ops",
                "f_epoch", "f_res", "f_bytes", "f_ops", "restart_peak", "restart_epoch",
                "sa_flag", "sa_max", "sa_bytes", "sa_ops",
                "sf_total", "sf_bytes", "sf_ops", "exited"}
Idle == {"idle", "exited"}
ReaderSteps == {"idle", "frees_bytes", "frees_ops", "allocs_epoch", "allocs_freed", "allocs_ops",
                "allocs_bytes", "allocs_slot_epoch", "allocs_peak", "allocs_net",
                "allocs_touched", "peak", "end", "done"}
ResetSteps == {"r_idle", "r_bump", "r_rekey", "r_store", "r_max", "r_done"}
Locals == [size : Nat, alloc : Int, freed : Int, net : Int, want : Int,
           total : Int, res : BOOLEAN, lin : BOOLEAN, epoch : Nat, free : BOOLEAN]
NoLocals == [size |-> 0, alloc |-> 0, freed |-> 0, net |-> 0, want |-> 0,
             total |-> 0, res |-> FALSE, lin |-> FALSE, epoch |-> 0, free |-> FALSE]

VARIABLES
    allocBytes, freedBytes, allocOps, freeOps, localPeak, reserved, slotEpoch,
                        \* the slots; [AllSlots -> Int]
    reservedTotal,      \* MemStats.reserved_total
    reservedPeak,       \* MemStats.reserved_peak
    overflowUsed,       \* MemStats.overflow_used
    claimed,            \* g_claimed: [Slots -> BOOLEAN]
    peakEpoch,          \* MemStats.peak_epoch
    statsId,            \* MemStats.id (never 0)
    cid,                \* each thread's ms_tl_slot_cache[0].owner_id (0: empty)
    resetPc, resetTotal, \* ms_stats_reset_peak: step, the total loaded first
    idx,                \* ms_tl_thread_index of each thread
    pc,                 \* where each thread is
    loc,                \* each thread's locals
    calls,              \* calls each thread made
    live,               \* live blocks by size, [Sizes -> Nat]; any thread may free one
    rpc, rslot, racc,   \* the reader: step, slot, accumulators
    report,             \* the figures of the last finished fold
    gAlloc, gFreed,     \* ghost: bytes allocated / freed, in linearisation order
    gBlocks,            \* ghost: live blocks, in linearisation order
    gHw,                \* ghost: true high-water mark of gAlloc - gFreed since
                        \*   the reset began (since the start before a reset)
    gHwLo,              \* ghost: the same since the reset ended
    gHwQuiet            \* ghost: gHwLo the last time no call was in flight

slotVars == <<allocBytes, freedBytes, allocOps, freeOps, localPeak, reserved, slotEpoch>>
sharedVars == <<reservedTotal, reservedPeak, overflowUsed, claimed, peakEpoch, statsId>>
threadVars == <<idx, pc, loc, calls, live, cid>>
readerVars == <<rpc, rslot, racc, report>>
resetVars == <<resetPc, resetTotal>>
ghostVars == <<gAlloc, gFreed, gBlocks, gHw, gHwLo, gHwQuiet>>
vars == <<slotVars, sharedVars, threadVars, readerVars, resetVars, ghostVars>>

Net(i) == allocBytes[i] - freedBytes[i]
GCur == gAlloc - gFreed
InFlight == {t \in Threads : pc[t] \notin Idle}
CallsMade == Sum(calls, Threads)

(* A fold is quiet if no call was in flight when it began or ended and   *)
(* none began in between (calls only grow at a call's entry).             *)
Accumulators == [cur : Int, blocks : Int, peaks : Int, touched : Nat, ops : Nat,
                 peak : Int, quiet : BOOLEAN, hwq : Int, calls : Nat,
                 epoch : Nat, a : Int, f : Int]
Figures == [cur : Int, current : Int, blocks : Int, peak : Int, bound : Int, quiet : BOOLEAN,
            hw : Int, hwlo : Int, hwq : Int, alloc : Int, freed : Int, liveBlocks : Int,
            single : BOOLEAN]
NoAcc(quiet, hwq, callsMade) ==
    [cur |-> 0, blocks |-> 0, peaks |-> 0, touched |-> 0, ops |-> 0,
     peak |-> 0, quiet |-> quiet, hwq |-> hwq, calls |-> callsMade, epoch |-> 0, a |-> 0, f |-> 0]
Resetting == resetPc \in ResetSteps \ {"r_idle", "r_done"}

TypeOK ==
    /\ \A v \in {allocBytes, freedBytes, localPeak, reserved} : v \in [AllSlots -> Int]
    /\ slotEpoch \in [AllSlots -> Nat]
    /\ peakEpoch \in Nat /\ statsId \in Nat \ {0}
    /\ cid \in [Threads -> Nat]
    /\ resetPc \in ResetSteps /\ resetTotal \in Int
    /\ allocOps \in [AllSlots -> Nat]
    /\ freeOps \in [AllSlots -> Nat]
    /\ reservedTotal \in Int
    /\ reservedPeak \in Int
    /\ overflowUsed \in BOOLEAN
    /\ claimed \in [Slots -> BOOLEAN]
    /\ idx \in [Threads -> AllSlots \cup {NoIndex}]
    /\ pc \in [Threads -> ThreadSteps]
    /\ loc \in [Threads -> Locals]
    /\ calls \in [Threads -> 0..MaxCalls]
    /\ live \in [Sizes -> Nat]
    /\ rpc \in ReaderSteps
    /\ rslot \in AllSlots
    /\ racc \in Accumulators
    /\ report \in Figures \cup {"none"}
    /\ gAlloc \in Nat /\ gFreed \in Nat /\ gBlocks \in Int
    /\ gHw \in Nat /\ gHwLo \in Nat /\ gHwQuiet \in Nat

Init ==
    /\ allocBytes = [i \in AllSlots |-> 0]
    /\ freedBytes = [i \in AllSlots |-> 0]
    /\ allocOps = [i \in AllSlots |-> 0]
    /\ freeOps = [i \in AllSlots |-> 0]
    /\ localPeak = [i \in AllSlots |-> 0]
    /\ reserved = [i \in AllSlots |-> 0]
    /\ slotEpoch = [i \in AllSlots |-> 0]
    /\ peakEpoch = 0 /\ statsId = 1
    /\ cid = [t \in Threads |-> 0]
    /\ resetPc = "r_idle" /\ resetTotal = 0
    /\ reservedTotal = 0
    /\ reservedPeak = 0
    /\ overflowUsed = FALSE
    /\ claimed = [i \in Slots |-> FALSE]
    /\ idx = [t \in Threads |-> NoIndex]
    /\ pc = [t \in Threads |-> "idle"]
    /\ loc = [t \in Threads |-> NoLocals]
    /\ calls = [t \in Threads |-> 0]
    /\ live = [s \in Sizes |-> 0]
    /\ rpc = "idle" /\ rslot = 0
    /\ racc = NoAcc(FALSE, 0, 0)
    /\ report = "none"
    /\ gAlloc = 0 /\ gFreed = 0 /\ gBlocks = 0 /\ gHw = 0 /\ gHwLo = 0 /\ gHwQuiet = 0

(* The ghost history: an allocation (+) or free (-) of `size` bytes takes  *)
(* effect at this step.                                                    *)
LinAlloc(size) ==
    /\ gAlloc' = gAlloc + size
    /\ gBlocks' = gBlocks + 1
    /\ gHw' = Max(gHw, gAlloc + size - gFreed)
    /\ gHwLo' = Max(gHwLo, gAlloc + size - gFreed)
    /\ UNCHANGED <<gFreed, gHwQuiet>>
LinFree(size) ==
    /\ gFreed' = gFreed + size
    /\ gBlocks' = gBlocks - 1
    /\ UNCHANGED <<gAlloc, gHw, gHwLo, gHwQuiet>>

SetPc(t, p) == pc' = [pc EXCEPT ![t] = p]
SetLoc(t, l) == loc' = [loc EXCEPT ![t] = l]

-----------------------------------------------------------------------------
(* The thread registry *)

(* ms_thread_index_claim, on a thread's first call: the lowest free index  *)
(* by CAS (acq_rel: acquires the previous holder's release), or for good   *)
(* the overflow slot when every index is held.                             *)
ClaimIndex(t) ==
    /\ pc[t] = "idle" /\ idx[t] = NoIndex /\ calls[t] < MaxCalls
    /\ IF \E i \in Slots : ~claimed[i]
         THEN LET i == Min({j \in Slots : ~claimed[j]}) IN
              /\ idx' = [idx EXCEPT ![t] = i]
              /\ claimed' = [claimed EXCEPT ![i] = TRUE]
         ELSE /\ idx' = [idx EXCEPT ![t] = Overflow]
              /\ UNCHANGED claimed
    /\ UNCHANGED <<slotVars, reservedTotal, reservedPeak, overflowUsed, pc, loc,
                   calls, live, readerVars, ghostVars,
                   peakEpoch, statsId, cid, resetVars>>

(* on_thread_exit -> release_index (release: pairs with the next claim).  *)
(* The slot keeps its cumulative counters for the next holder.            *)
ThreadExit(t) ==
    /\ pc[t] = "idle"
    /\ SetPc(t, "exited")
    /\ IF idx[t] \in Slots
         THEN claimed' = [claimed EXCEPT ![idx[t]] = FALSE]
         ELSE UNCHANGED claimed
    /\ UNCHANGED <<slotVars, reservedTotal, reservedPeak, overflowUsed, idx, loc,
                   calls, live, readerVars, ghostVars,
                   peakEpoch, statsId, cid, resetVars>>

-----------------------------------------------------------------------------
(* ms_stats_on_alloc in a thread's own slot *)

(* ms_stats_try_alloc: one load of stats->id (relaxed) with the owner-only *)
(* loads.  When the cached id is current and the reservation covers the    *)
(* new usage, the whole fast path follows, without the epoch check (the   *)
(* cached slot's epoch is current: it was cached after the last reset);   *)
(* it is linearised here, before any reset whose old id it read.          *)
TryAlloc(t, s) ==
    LET i == idx[t]
        alloc == allocBytes[i] + s
        net == alloc - freedBytes[i]
    IN /\ pc[t] = "idle" /\ idx[t] \in Slots /\ calls[t] < MaxCalls
       /\ cid[t] = statsId /\ net <= reserved[i]
       /\ calls' = [calls EXCEPT ![t] = @ + 1]
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s, !.alloc = alloc, !.net = net, !.lin = TRUE])
       /\ SetPc(t, "a_peak")
       /\ LinAlloc(s)
       /\ UNCHANGED <<slotVars, sharedVars, idx, live, cid, readerVars, resetVars>>

(* Otherwise ms_stats_on_alloc_declined (a strategy whose fast path has   *)
(* just declined calls it directly; ms_stats_on_alloc, the public path,   *)
(* first makes TryAlloc's test itself and calls it when that says no):    *)
(* ms_stats_slot loads the id again; on a miss ms_stats_slot_slow loads it *)
(* (acquire) and caches it (the loads are one step here: the first only   *)
(* chooses the branch).                                                   *)
AllocFull(t, s) ==
    LET i == idx[t]
        net == allocBytes[i] + s - freedBytes[i]
    IN /\ pc[t] = "idle" /\ idx[t] \in Slots /\ calls[t] < MaxCalls
       /\ ~(cid[t] = statsId /\ net <= reserved[i])
       /\ calls' = [calls EXCEPT ![t] = @ + 1]
       /\ cid' = [cid EXCEPT ![t] = statsId]
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s])
       /\ SetPc(t, "a_epoch")
       /\ UNCHANGED <<slotVars, sharedVars, idx, live, readerVars, resetVars, ghostVars>>

(* ms_stats_check_epoch: a relaxed load of peak_epoch.  A full-path free is *)
(* linearised here: if it reads the old epoch its slot stays behind and a *)
(* fold counts the slot's net after the free, so it precedes the reset.   *)
CheckEpoch(t) ==
    LET i == idx[t]
        free == pc[t] = "f_epoch"
        stale == slotEpoch[i] # peakEpoch
    IN /\ pc[t] \in {"a_epoch", "f_epoch"}
       /\ SetLoc(t, [loc[t] EXCEPT !.epoch = peakEpoch, !.free = free, !.lin = free])
       /\ SetPc(t, IF stale THEN "restart_epoch" ELSE IF free THEN "f_res" ELSE "a_res")
       /\ IF free THEN LinFree(loc[t].size) ELSE UNCHANGED ghostVars
       /\ UNCHANGED <<slotVars, sharedVars, idx, calls, live, cid, readerVars, resetVars>>

(* ms_stats_restart_local_peak: the slot's epoch, then local_peak = the    *)
(* net before the operation (owner stores, both release, so validate sees *)
(* the new epoch whenever it sees the restarted local peak).               *)
RestartPeak(t) ==
    /\ pc[t] = "restart_peak"
    /\ localPeak' = [localPeak EXCEPT ![idx[t]] = Net(idx[t])]
    /\ SetPc(t, IF loc[t].free THEN "f_res" ELSE "a_res")
    /\ UNCHANGED <<allocBytes, freedBytes, allocOps, freeOps, reserved, slotEpoch,
                   sharedVars, idx, loc, calls, live, cid, readerVars, resetVars, ghostVars>>

RestartEpoch(t) ==
    /\ pc[t] = "restart_epoch"
    /\ slotEpoch' = [slotEpoch EXCEPT ![idx[t]] = loc[t].epoch]
    /\ SetPc(t, "restart_peak")
    /\ UNCHANGED <<allocBytes, freedBytes, allocOps, freeOps, localPeak, reserved,
                   sharedVars, idx, loc, calls, live, cid, readerVars, resetVars, ghostVars>>

AllocEntry(t, s) ==
    /\ pc[t] = "a_res" /\ loc[t].size = s /\ idx[t] \in Slots
    /\ UNCHANGED calls

(* add_reservation(need, want): how much to add to reserved_total, or -1  *)
(* if the limit refuses even `need` (with a limit it is a CAS loop that    *)
(* asks for less slack, down to `need`; without one a fetch_add).          *)
Added(need, want) ==
    IF Limit = 0 THEN want
    ELSE IF reservedTotal > Limit \/ Limit - reservedTotal < need THEN -1
    ELSE IF Limit - reservedTotal < want THEN Limit - reservedTotal
    ELSE want

(* net would exceed reserved: ms_stats_reserve -> add_reservation; its    *)
(* update of reserved_total (relaxed) is the linearisation point.         *)
Reserve(t, s) ==
    LET i == idx[t]
        alloc == allocBytes[i] + s
        net == alloc - freedBytes[i]
        added == Added(net - reserved[i], net - reserved[i] + Batch)
    IN /\ AllocEntry(t, s)
       /\ net > reserved[i]
       /\ added >= 0
       /\ reservedTotal' = reservedTotal + added
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s, !.alloc = alloc, !.net = net,
                     !.want = reserved[i] + added, !.total = reservedTotal + added,
                     !.res = TRUE, !.lin = TRUE])
       /\ SetPc(t, "a_max")
       /\ LinAlloc(s)
       /\ UNCHANGED <<slotVars, reservedPeak, overflowUsed, claimed, idx, live,
                      readerVars,
                   peakEpoch, statsId, cid, resetVars>>

(* The limit refuses the reservation: the allocation records nothing. *)
RefuseAlloc(t, s) ==
    LET i == idx[t]
        net == allocBytes[i] + s - freedBytes[i]
        sharedRefused == idx[t] = Overflow /\ Added(s, s) < 0
        slotRefused == idx[t] \in Slots /\ net > reserved[i]
                       /\ Added(net - reserved[i], net - reserved[i] + Batch) < 0
    IN /\ \/ pc[t] = "idle" /\ calls[t] < MaxCalls /\ sharedRefused
             /\ calls' = [calls EXCEPT ![t] = @ + 1]
          \/ pc[t] = "a_res" /\ loc[t].size = s /\ slotRefused
             /\ UNCHANGED calls
       /\ SetPc(t, "idle") /\ SetLoc(t, NoLocals)
       /\ UNCHANGED <<slotVars, sharedVars, idx, live, readerVars, ghostVars,
                   cid, resetVars>>

AllocNoReserve(t, s) ==
    LET i == idx[t]
        alloc == allocBytes[i] + s
        net == alloc - freedBytes[i]
    IN /\ AllocEntry(t, s)
       /\ net <= reserved[i]
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s, !.alloc = alloc, !.net = net])
       /\ SetPc(t, "a_peak")
       /\ UNCHANGED <<slotVars, sharedVars, idx, live, readerVars, ghostVars,
                   cid, resetVars>>

(* ms_max_relaxed_i64(&reserved_peak, total): a CAS loop, linearisable at *)
(* its last load or successful CAS.                                       *)
RaisePeak(t) ==
    /\ pc[t] \in {"a_max", "sa_max"}
    /\ reservedPeak' = Max(reservedPeak, loc[t].total)
    /\ SetPc(t, IF pc[t] = "a_max" THEN "a_peak" ELSE "sa_flag")
    /\ UNCHANGED <<slotVars, reservedTotal, overflowUsed, claimed, idx, loc,
                   calls, live, readerVars, ghostVars,
                   peakEpoch, statsId, cid, resetVars>>

(* Store reserved (owner-only) and, if net is a new high, local_peak       *)
(* (relaxed, ordered before the release of alloc_bytes).                  *)
StoreLocalPeak(t) ==
    LET i == idx[t] IN
    /\ pc[t] = "a_peak"
    /\ reserved' = IF loc[t].res THEN [reserved EXCEPT ![i] = loc[t].want] ELSE reserved
    /\ localPeak' = IF loc[t].net > localPeak[i]
                      THEN [localPeak EXCEPT ![i] = loc[t].net] ELSE localPeak
    /\ SetLoc(t, [loc[t] EXCEPT !.res = FALSE])
    /\ SetPc(t, "a_bytes")
    /\ UNCHANGED <<allocBytes, freedBytes, allocOps, freeOps, sharedVars, idx,
                   calls, live, readerVars, ghostVars,
                   slotEpoch, cid, resetVars>>

(* The release store of alloc_bytes: the linearisation point when no      *)
(* reserve was needed.                                                    *)
PublishAlloc(t) ==
    /\ pc[t] = "a_bytes"
    /\ allocBytes' = [allocBytes EXCEPT ![idx[t]] = loc[t].alloc]
    /\ IF loc[t].lin THEN UNCHANGED ghostVars ELSE LinAlloc(loc[t].size)
    /\ SetLoc(t, [loc[t] EXCEPT !.lin = TRUE])
    /\ SetPc(t, "a_ops")
    /\ UNCHANGED <<freedBytes, allocOps, freeOps, localPeak, reserved, sharedVars,
                   idx, calls, live, readerVars,
                   slotEpoch, cid, resetVars>>

(* The release store of alloc_ops; allocate returns and the block may be   *)
(* handed to any thread.                                                  *)
CountAlloc(t) ==
    /\ pc[t] = "a_ops"
    /\ allocOps' = [allocOps EXCEPT ![idx[t]] = @ + 1]
    /\ live' = [live EXCEPT ![loc[t].size] = @ + 1]
    /\ SetLoc(t, NoLocals)
    /\ SetPc(t, "idle")
    /\ gHwQuiet' = IF InFlight = {t} THEN gHwLo ELSE gHwQuiet
    /\ UNCHANGED <<allocBytes, freedBytes, freeOps, localPeak, reserved,
                   sharedVars, idx, calls, readerVars, gAlloc, gFreed, gBlocks, gHw,
                   slotEpoch, cid, resetVars, gHwLo>>

-----------------------------------------------------------------------------
(* ms_stats_on_free in a thread's own slot, of any live block *)

(* ms_stats_try_free: as TryAlloc; fast when the cached id is current and *)
(* the free leaves at most 2 * Batch reserved.  Linearised at its id load. *)
TryFree(t, s) ==
    LET i == idx[t]
        freed == freedBytes[i] + s
        net == allocBytes[i] - freed
    IN /\ pc[t] = "idle" /\ idx[t] \in Slots /\ calls[t] < MaxCalls
       /\ live[s] > 0
       /\ cid[t] = statsId /\ reserved[i] - net <= 2 * Batch
       /\ live' = [live EXCEPT ![s] = @ - 1]
       /\ calls' = [calls EXCEPT ![t] = @ + 1]
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s, !.freed = freed, !.net = net, !.lin = TRUE])
       /\ SetPc(t, "f_bytes")
       /\ LinFree(s)
       /\ UNCHANGED <<slotVars, sharedVars, idx, cid, readerVars, resetVars>>

(* Otherwise ms_stats_on_free (the cache as in AllocFull). *)
FreeFull(t, s) ==
    LET i == idx[t]
        net == allocBytes[i] - freedBytes[i] - s
    IN /\ pc[t] = "idle" /\ idx[t] \in Slots /\ calls[t] < MaxCalls
       /\ live[s] > 0
       /\ ~(cid[t] = statsId /\ reserved[i] - net <= 2 * Batch)
       /\ live' = [live EXCEPT ![s] = @ - 1]
       /\ calls' = [calls EXCEPT ![t] = @ + 1]
       /\ cid' = [cid EXCEPT ![t] = statsId]
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s])
       /\ SetPc(t, "f_epoch")
       /\ UNCHANGED <<slotVars, sharedVars, idx, readerVars, resetVars, ghostVars>>

FreeEntry(t, s) ==
    /\ pc[t] = "f_res" /\ loc[t].size = s /\ idx[t] \in Slots
    /\ UNCHANGED <<live, calls>>

(* reserved - net would exceed 2 * Batch: ms_stats_unreserve's fetch_add  *)
(* gives back down to net + Batch (the free was linearised at CheckEpoch). *)
Unreserve(t, s) ==
    LET i == idx[t]
        freed == freedBytes[i] + s
        net == allocBytes[i] - freed
        want == net + Batch
    IN /\ FreeEntry(t, s)
       /\ reserved[i] - net > 2 * Batch
       /\ reservedTotal' = reservedTotal - (reserved[i] - want)
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s, !.freed = freed, !.net = net,
                     !.want = want, !.res = TRUE, !.lin = TRUE])
       /\ SetPc(t, "f_bytes")
       /\ UNCHANGED <<slotVars, reservedPeak, overflowUsed, claimed, idx, readerVars, ghostVars,
                   peakEpoch, statsId, cid, resetVars>>

FreeNoUnreserve(t, s) ==
    LET i == idx[t]
        freed == freedBytes[i] + s
        net == allocBytes[i] - freed
    IN /\ FreeEntry(t, s)
       /\ reserved[i] - net <= 2 * Batch
       /\ SetLoc(t, [NoLocals EXCEPT !.size = s, !.freed = freed, !.net = net, !.lin = TRUE])
       /\ SetPc(t, "f_bytes")
       /\ UNCHANGED <<slotVars, sharedVars, idx, readerVars, ghostVars,
                   cid, resetVars>>

(* Store reserved (owner-only), then the release store of freed_bytes:    *)
(* the linearisation point when nothing was given back.                   *)
PublishFree(t) ==
    LET i == idx[t] IN
    /\ pc[t] = "f_bytes"
    /\ reserved' = IF loc[t].res THEN [reserved EXCEPT ![i] = loc[t].want] ELSE reserved
    /\ freedBytes' = [freedBytes EXCEPT ![i] = loc[t].freed]
    /\ IF loc[t].lin THEN UNCHANGED ghostVars ELSE LinFree(loc[t].size)
    /\ SetLoc(t, [loc[t] EXCEPT !.lin = TRUE])
    /\ SetPc(t, "f_ops")
    /\ UNCHANGED <<allocBytes, allocOps, freeOps, localPeak, sharedVars, idx,
                   calls, live, readerVars,
                   slotEpoch, cid, resetVars>>

CountFree(t) ==
    /\ pc[t] = "f_ops"
    /\ freeOps' = [freeOps EXCEPT ![idx[t]] = @ + 1]
    /\ SetLoc(t, NoLocals)
    /\ SetPc(t, "idle")
    /\ gHwQuiet' = IF InFlight = {t} THEN gHwLo ELSE gHwQuiet
    /\ UNCHANGED <<allocBytes, freedBytes, allocOps, localPeak, reserved,
                   sharedVars, idx, calls, live, readerVars, gAlloc, gFreed,
                   gBlocks, gHw,
                   slotEpoch, cid, resetVars, gHwLo>>

-----------------------------------------------------------------------------
(* ms_stats_record_shared: a thread without an index, read-modify-writes *)
(* on the overflow slot and no slack in reserved_total.  An allocation    *)
(* reserves first (SharedAlloc: add_reservation(bytes, bytes), the        *)
(* linearisation point), then raises reserved_peak, then stores           *)
(* overflow_used (SharedAllocBegin), then the byte counter and the count. *)

SharedAlloc(t, s) ==
    /\ pc[t] = "idle" /\ idx[t] = Overflow /\ calls[t] < MaxCalls
    /\ Added(s, s) >= 0
    /\ reservedTotal' = reservedTotal + s
    /\ calls' = [calls EXCEPT ![t] = @ + 1]
    /\ SetLoc(t, [NoLocals EXCEPT !.size = s, !.total = reservedTotal + s])
    /\ SetPc(t, "sa_max")
    /\ LinAlloc(s)
    /\ UNCHANGED <<slotVars, reservedPeak, overflowUsed, claimed, idx, live,
                   readerVars,
                   peakEpoch, statsId, cid, resetVars>>

SharedAllocBegin(t) ==
    /\ pc[t] = "sa_flag"
    /\ overflowUsed' = TRUE
    /\ SetPc(t, "sa_bytes")
    /\ UNCHANGED <<slotVars, reservedTotal, reservedPeak, claimed, idx, loc, calls,
                   live, readerVars, ghostVars,
                   peakEpoch, statsId, cid, resetVars>>

SharedFreeBegin(t, s) ==
    /\ pc[t] = "idle" /\ idx[t] = Overflow /\ calls[t] < MaxCalls
    /\ live[s] > 0
    /\ live' = [live EXCEPT ![s] = @ - 1]
    /\ overflowUsed' = TRUE
    /\ calls' = [calls EXCEPT ![t] = @ + 1]
    /\ SetLoc(t, [NoLocals EXCEPT !.size = s])
    /\ SetPc(t, "sf_total")
    /\ UNCHANGED <<slotVars, reservedTotal, reservedPeak, claimed, idx,
                   readerVars, ghostVars,
                   peakEpoch, statsId, cid, resetVars>>

(* The fetch_add on reserved_total: the linearisation point of a free. *)
SharedFree(t) ==
    /\ pc[t] = "sf_total"
    /\ reservedTotal' = reservedTotal - loc[t].size
    /\ SetPc(t, "sf_bytes")
    /\ LinFree(loc[t].size)
    /\ UNCHANGED <<slotVars, reservedPeak, overflowUsed, claimed, idx, loc, calls,
                   live, readerVars,
                   peakEpoch, statsId, cid, resetVars>>

(* fetch_add_release on the overflow slot's byte counter, then its count. *)
SharedBytes(t) ==
    /\ pc[t] \in {"sa_bytes", "sf_bytes"}
    /\ IF pc[t] = "sa_bytes"
         THEN /\ allocBytes' = [allocBytes EXCEPT ![Overflow] = @ + loc[t].size]
              /\ UNCHANGED freedBytes
         ELSE /\ freedBytes' = [freedBytes EXCEPT ![Overflow] = @ + loc[t].size]
              /\ UNCHANGED allocBytes
    /\ SetPc(t, IF pc[t] = "sa_bytes" THEN "sa_ops" ELSE "sf_ops")
    /\ UNCHANGED <<allocOps, freeOps, localPeak, reserved, sharedVars, idx, loc,
                   calls, live, readerVars, ghostVars,
                   slotEpoch, cid, resetVars>>

SharedCount(t) ==
    /\ pc[t] \in {"sa_ops", "sf_ops"} /\ idx[t] = Overflow
    /\ IF pc[t] = "sa_ops"
         THEN /\ allocOps' = [allocOps EXCEPT ![Overflow] = @ + 1]
              /\ live' = [live EXCEPT ![loc[t].size] = @ + 1]
              /\ UNCHANGED freeOps
         ELSE /\ freeOps' = [freeOps EXCEPT ![Overflow] = @ + 1]
              /\ UNCHANGED <<allocOps, live,
                   slotEpoch, peakEpoch, statsId, cid, resetVars>>
    /\ SetLoc(t, NoLocals)
    /\ SetPc(t, "idle")
    /\ gHwQuiet' = IF InFlight = {t} THEN gHwLo ELSE gHwQuiet
    /\ UNCHANGED <<allocBytes, freedBytes, localPeak, reserved, sharedVars, idx,
                   calls, readerVars, gAlloc, gFreed, gBlocks, gHw,
                   slotEpoch, cid, resetVars, gHwLo>>

-----------------------------------------------------------------------------
(* ms_stats_fold: pass 1 loads each slot's freed_bytes then free_ops;     *)
(* pass 2 loads peak_epoch, then each slot's alloc_ops, alloc_bytes, its   *)
(* epoch, then local_peak if the epoch is the one loaded, else            *)
(* freed_bytes again (the slot counts by its net), and (for `touched`,    *)
(* real slots only) free_ops; then reserved_peak, then overflow_used.     *)
(* Slots are visited 0 .. NSlots-1, then the overflow (whose local peak   *)
(* and epoch are never written and are ignored once it is used).          *)

NextSlot(i) == IF i = Overflow THEN Overflow ELSE i + 1

FoldStart ==
    /\ rpc \in {"idle", "done"}
    /\ rpc' = "frees_bytes" /\ rslot' = 0
    /\ racc' = NoAcc(InFlight = {}, gHwQuiet, CallsMade)
    /\ UNCHANGED <<slotVars, sharedVars, threadVars, report, ghostVars,
                   resetVars>>

FoldLoad ==
    LET i == rslot IN
    /\ \/ /\ rpc = "frees_bytes"
          /\ racc' = [racc EXCEPT !.cur = @ - freedBytes[i]]
          /\ rpc' = "frees_ops" /\ UNCHANGED rslot
       \/ /\ rpc = "frees_ops"
          /\ racc' = [racc EXCEPT !.blocks = @ - freeOps[i]]
          /\ IF i = Overflow THEN rpc' = "allocs_epoch" /\ rslot' = 0
                            ELSE rpc' = "frees_bytes" /\ rslot' = NextSlot(i)
       \/ /\ rpc = "allocs_epoch"
          /\ racc' = [racc EXCEPT !.epoch = peakEpoch]
          /\ rpc' = "allocs_freed" /\ UNCHANGED rslot
       (* A slot's freed_bytes loaded before its alloc_bytes, used for its  *)
       (* net if it is behind the epoch (the fix of the stale-slot race).  *)
       \/ /\ rpc = "allocs_freed"
          /\ racc' = [racc EXCEPT !.f = freedBytes[i]]
          /\ rpc' = "allocs_ops" /\ UNCHANGED rslot
       \/ /\ rpc = "allocs_ops"
          /\ racc' = [racc EXCEPT !.ops = allocOps[i]]
          /\ rpc' = "allocs_bytes" /\ UNCHANGED rslot
       \/ /\ rpc = "allocs_bytes"
          /\ racc' = [racc EXCEPT !.cur = @ + allocBytes[i], !.blocks = @ + racc.ops,
                                  !.a = allocBytes[i]]
          /\ IF i = Overflow THEN rpc' = "peak" /\ UNCHANGED rslot
                            ELSE rpc' = "allocs_slot_epoch" /\ UNCHANGED rslot
       \/ /\ rpc = "allocs_slot_epoch"
          /\ UNCHANGED racc
          /\ rpc' = IF slotEpoch[i] = racc.epoch THEN "allocs_peak" ELSE "allocs_net"
          /\ UNCHANGED rslot
       \/ /\ rpc = "allocs_peak"
          /\ racc' = [racc EXCEPT !.peaks = @ + localPeak[i]]
          /\ rpc' = "allocs_touched" /\ UNCHANGED rslot
       \/ /\ rpc = "allocs_net"
          /\ racc' = [racc EXCEPT !.peaks = @ + racc.a - racc.f]
          /\ rpc' = "allocs_touched" /\ UNCHANGED rslot
       \/ /\ rpc = "allocs_touched"
          /\ racc' = [racc EXCEPT !.touched = IF racc.ops # 0 \/ freeOps[i] # 0
                                               THEN @ + 1 ELSE @]
          /\ rpc' = "allocs_freed" /\ rslot' = NextSlot(i)
       \/ /\ rpc = "peak"
          /\ racc' = [racc EXCEPT !.peak = reservedPeak]
          /\ rpc' = "end" /\ UNCHANGED rslot
    /\ UNCHANGED <<slotVars, sharedVars, threadVars, report, ghostVars,
                   resetVars>>

(* Loads overflow_used, then reserved_total (one step here), and computes *)
(* the figures as ms_stats_fold does: current is capped by reserved_total. *)
FoldEnd ==
    /\ rpc = "end"
    /\ LET ov == overflowUsed
           capped == IF racc.cur < 0 THEN 0 ELSE racc.cur
           cap == IF reservedTotal < 0 THEN 0 ELSE reservedTotal
           p0 == IF racc.peak > 0 THEN racc.peak ELSE 0
           peak == IF ~ov /\ racc.peaks < p0 THEN Max(racc.peaks, 0) ELSE p0
           bound == IF ~ov /\ racc.touched <= 1 THEN 0 ELSE 2 * Batch * racc.touched
       IN report' = [cur |-> racc.cur, current |-> IF capped > cap THEN cap ELSE capped,
                     blocks |-> racc.blocks, peak |-> peak,
                     bound |-> bound,
                     quiet |-> racc.quiet /\ InFlight = {} /\ CallsMade = racc.calls,
                     hw |-> gHw, hwlo |-> gHwLo, hwq |-> racc.hwq, alloc |-> gAlloc, freed |-> gFreed,
                     liveBlocks |-> gBlocks, single |-> ~ov /\ racc.touched = 1]
    /\ rpc' = "done"
    /\ UNCHANGED <<slotVars, sharedVars, threadVars, rslot, racc, ghostVars,
                   resetVars>>

-----------------------------------------------------------------------------
(* ms_stats_reset_peak, once, concurrently with everything else.  Relaxed *)
(* loads and stores of values, the id stored with release (pairs with the *)
(* acquire in ms_stats_slot_slow).  The reset takes effect somewhere in   *)
(* its interval: gHw restarts at ResetLoad, gHwLo at ResetMax.             *)

ResetLoad ==
    /\ resetPc = "r_idle"
    /\ resetTotal' = reservedTotal
    /\ gHw' = GCur
    /\ resetPc' = "r_bump"
    /\ UNCHANGED <<slotVars, sharedVars, threadVars, readerVars,
                   gAlloc, gFreed, gBlocks, gHwLo, gHwQuiet>>

ResetBump ==
    /\ resetPc = "r_bump"
    /\ peakEpoch' = peakEpoch + 1
    /\ resetPc' = "r_rekey"
    /\ UNCHANGED <<slotVars, reservedTotal, reservedPeak, overflowUsed, claimed, statsId,
                   threadVars, readerVars, resetTotal, ghostVars>>

(* new_id(): unique, never 0; every cached entry of the old id misses. *)
ResetRekey ==
    /\ resetPc = "r_rekey"
    /\ statsId' = statsId + 1
    /\ resetPc' = "r_store"
    /\ UNCHANGED <<slotVars, reservedTotal, reservedPeak, overflowUsed, claimed, peakEpoch,
                   threadVars, readerVars, resetTotal, ghostVars>>

ResetStore ==
    /\ resetPc = "r_store"
    /\ reservedPeak' = resetTotal
    /\ resetPc' = "r_max"
    /\ UNCHANGED <<slotVars, reservedTotal, overflowUsed, claimed, peakEpoch, statsId,
                   threadVars, readerVars, resetTotal, ghostVars>>

(* ms_max_relaxed_i64(&reserved_peak, load of reserved_total): one step. *)
ResetMax ==
    /\ resetPc = "r_max"
    /\ reservedPeak' = Max(reservedPeak, reservedTotal)
    /\ resetPc' = "r_done"
    /\ gHwLo' = GCur
    /\ gHwQuiet' = IF InFlight = {} THEN GCur ELSE 0
    /\ UNCHANGED <<slotVars, reservedTotal, overflowUsed, claimed, peakEpoch, statsId,
                   threadVars, readerVars, resetTotal, gAlloc, gFreed, gBlocks, gHw>>

-----------------------------------------------------------------------------

ThreadStep(t) ==
    \/ ClaimIndex(t) \/ ThreadExit(t)
    \/ \E s \in Sizes : \/ TryAlloc(t, s) \/ AllocFull(t, s) \/ TryFree(t, s) \/ FreeFull(t, s)
                        \/ Reserve(t, s) \/ AllocNoReserve(t, s) \/ RefuseAlloc(t, s)
                        \/ Unreserve(t, s) \/ FreeNoUnreserve(t, s)
                        \/ SharedAlloc(t, s) \/ SharedFreeBegin(t, s)
    \/ CheckEpoch(t) \/ RestartPeak(t) \/ RestartEpoch(t)
    \/ RaisePeak(t) \/ StoreLocalPeak(t) \/ PublishAlloc(t) \/ CountAlloc(t)
    \/ PublishFree(t) \/ CountFree(t)
    \/ SharedAllocBegin(t) \/ SharedFree(t) \/ SharedBytes(t) \/ SharedCount(t)

Next ==
    \/ \E t \in Threads : ThreadStep(t)
    \/ FoldStart \/ FoldLoad \/ FoldEnd
    \/ ResetLoad \/ ResetBump \/ ResetRekey \/ ResetStore \/ ResetMax

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

(* reserved_total never falls below the true current usage. *)
ReserveCoversInv == reservedTotal >= GCur

(* With a limit, neither reserved_total nor the true usage exceeds it. *)
LimitInv == Limit # 0 => reservedTotal <= Limit /\ GCur <= Limit

(* reserved_peak covers every high-water mark reached before the last     *)
(* moment nothing was in flight (since the reset ended; not while it      *)
(* runs: it overwrites reserved_peak before raising it again).            *)
PeakSettledInv == ~Resetting => reservedPeak >= gHwQuiet

(* At quiescence: reserved_total is the sum of the slots' shares plus the *)
(* overflow slot's net, every slot keeps its slack, and the slots' nets   *)
(* add up to the true usage.                                              *)
TotalInv ==
    InFlight = {} =>
        reservedTotal = Sum(reserved, Slots) + Net(Overflow)

SlackInv ==
    InFlight = {} =>
        \A i \in Slots : Net(i) <= reserved[i] /\ reserved[i] <= Net(i) + 2 * Batch

CountsInv ==
    InFlight = {} => Sum([i \in AllSlots |-> Net(i)], AllSlots) = GCur

(* A fold, even one concurrent with calls, never reports negative usage   *)
(* or block counts (frees are folded before allocations), and its peak    *)
(* covers every settled high-water mark (README.md, "Stale-slot race":    *)
(* why a stale slot's freed_bytes is loaded before its alloc_bytes).       *)
CurrentNonNegativeInv == report # "none" => report.cur >= 0
LiveBlocksNonNegativeInv == report # "none" => report.blocks >= 0
PeakSettledReadInv == report # "none" => report.peak >= report.hwq

(* A fold during which nothing ran: exact current usage and counts (the   *)
(* cap by reserved_total never lowers it), a peak never below the true    *)
(* high-water mark since the reset ended and above the one since it began *)
(* by at most the documented bound, and between the two when a single     *)
(* slot did everything (exact without a reset).                           *)
CurrentExactInv ==
    report # "none" /\ report.quiet =>
        /\ report.cur = report.alloc - report.freed
        /\ report.current = report.cur
        /\ report.blocks = report.liveBlocks
PeakLowerBoundInv == report # "none" /\ report.quiet => report.peak >= report.hwlo
OverreportBoundInv ==
    report # "none" /\ report.quiet => report.peak - report.hw <= report.bound
SingleSlotExactInv ==
    report # "none" /\ report.quiet /\ report.single =>
        report.hwlo <= report.peak /\ report.peak <= report.hw

=============================================================================
