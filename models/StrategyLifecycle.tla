--------------------------- MODULE StrategyLifecycle ---------------------------
(***************************************************************************)
(* The status state machine of a DefaultStrategy, as the code runs it.     *)
(*                                                                         *)
(*   src/statetracker.c          state_tracker_transition: the table check *)
(*                               and one compare-and-swap (Transition);    *)
(*                               state_tracker_status (acquire load)       *)
(*   src/statetracker_internal.h ms_state_allows: the relaxed status check *)
(*                               on the hot path (CheckStatus)             *)
(*   src/default_strategy.c      create_default_strategy_with (CreateSucceeds, *)
(*                               CreateFails, AbortFinish),                *)
(*                               default_allocate / default_deallocate /   *)
(*                               default_get_status (CheckStatus, Return), *)
(*                               default_validate (ValidateFails),         *)
(*                               destroy_default_strategy (DestroyBegin,   *)
(*                               DestroyFold, DestroyFinish)               *)
(*                                                                         *)
(* An owner creates the strategy, hands it to the workers, joins them and  *)
(* destroys it: destroy's documented precondition is that nothing runs     *)
(* concurrently with it or afterwards.  Workers call the vtable            *)
(* concurrently with each other and with validate's ACTIVE -> DEGRADED.    *)
(*                                                                         *)
(* A call is linearised at its status check: it runs in the status it      *)
(* read, whatever transition happens between the check and its return, so *)
(* an allocation racing with ACTIVE -> DEGRADED is ordered before it (it   *)
(* read ACTIVE) or after it (it read DEGRADED and was refused).            *)
(* LinearisedInv states this with the history of statuses.                *)
(*                                                                         *)
(* Checked twin: StrategyLifecycle.pml (spin, exhaustive, 2 workers x 2    *)
(* calls), run by //models:strategy_lifecycle_test.                        *)
(***************************************************************************)
EXTENDS Naturals, Sequences

CONSTANTS
    Workers,    \* application threads
    MaxCalls    \* calls per worker (a bound for model checking)

ASSUME MaxCalls \in Nat

\* BEGIN STATUS TABLE
\* Compared with src/statetracker.c (state_transition_table,
\* state_allows_operation) by tests/conformance_test.cc: one entry per line.
States == {"INITIALIZING", "ACTIVE", "DEGRADED", "SHUTTING_DOWN", "DESTROYED"}

Transitions == {
    <<"INITIALIZING", "ACTIVE">>,
    <<"INITIALIZING", "SHUTTING_DOWN">>,
    <<"ACTIVE", "DEGRADED">>,
    <<"ACTIVE", "SHUTTING_DOWN">>,
    <<"DEGRADED", "SHUTTING_DOWN">>,
    <<"SHUTTING_DOWN", "DESTROYED">>
}

Allowed == [
    INITIALIZING |-> {},
    ACTIVE |-> {"allocate", "deallocate", "read"},
    DEGRADED |-> {"deallocate", "read"},
    SHUTTING_DOWN |-> {"read"},
    DESTROYED |-> {}
]
\* END STATUS TABLE

Operations == {"allocate", "deallocate", "read"}
Calls == Operations \cup {"validate"}
OwnerSteps == {"create", "run", "destroy", "fold", "finish", "abort", "done"}
NoTransition == <<"none", "none">>

VARIABLES
    status,     \* tracker->status
    gate,       \* the hot path's allocation gate is open (malloc_gate / backend_gate / cache_gate)
    fkey,       \* the statistics' id is the one slot caches hold (deallocate's hot path)
    freed,      \* the strategy's memory went back to free()
    owner,      \* where the owner is: create, run, destroy, fold, finish, done
    pc,         \* per worker: "idle", "checked" (inside a call), "done"
    call,       \* per worker: the call in progress
    seenAt,     \* per worker: Len(history) when it checked the status
    result,     \* per worker: "ok" or "refused", decided at the check
    calls,      \* per worker: calls made
    held,       \* per worker: blocks it holds
    reports,    \* STRATEGY_ERROR_ILLEGAL_STATE reports made by validate
    history,    \* ghost: every status so far, in order
    last        \* ghost: the last status change, <<from, to>>

vars == <<status, gate, fkey, freed, owner, pc, call, seenAt, result, calls, held, reports,
          history, last>>

TypeOK ==
    /\ status \in States
    /\ gate \in BOOLEAN
    /\ fkey \in BOOLEAN
    /\ freed \in BOOLEAN
    /\ owner \in OwnerSteps
    /\ pc \in [Workers -> {"idle", "checked", "closed", "done"}]
    /\ call \in [Workers -> Calls \cup {"none"}]
    /\ seenAt \in [Workers -> Nat]
    /\ result \in [Workers -> {"ok", "refused", "none"}]
    /\ calls \in [Workers -> 0..MaxCalls]
    /\ held \in [Workers -> 0..MaxCalls]
    /\ reports \in Nat
    /\ history \in Seq(States)
    /\ last \in (States \X States) \cup {NoTransition}

Init ==
    /\ status = "INITIALIZING"
    /\ gate = FALSE
    /\ fkey = FALSE
    /\ freed = FALSE
    /\ owner = "create"
    /\ pc = [w \in Workers |-> "idle"]
    /\ call = [w \in Workers |-> "none"]
    /\ seenAt = [w \in Workers |-> 0]
    /\ result = [w \in Workers |-> "none"]
    /\ calls = [w \in Workers |-> 0]
    /\ held = [w \in Workers |-> 0]
    /\ reports = 0
    /\ history = <<"INITIALIZING">>
    /\ last = NoTransition

(* state_tracker_transition(from, to) when it succeeds: the table allows  *)
(* from -> to and the CAS finds `from`.  Refusals (ILLEGAL, CONFLICT)     *)
(* change nothing, so they are stuttering steps.                          *)
Transition(from, to) ==
    /\ <<from, to>> \in Transitions
    /\ status = from
    /\ status' = to
    /\ history' = Append(history, to)
    /\ last' = <<from, to>>

(* create_default_strategy_with: INITIALIZING -> ACTIVE before the        *)
(* pointer is returned; only then can workers see it.  The allocation     *)
(* gate opens just before (or never: a strategy with a debug option); the *)
(* statistics' id is the one the workers will cache.                      *)
CreateSucceeds ==
    /\ owner = "create"
    /\ Transition("INITIALIZING", "ACTIVE")
    /\ gate' \in BOOLEAN
    /\ fkey' = TRUE
    /\ owner' = "run"
    /\ UNCHANGED <<freed, pc, call, seenAt, result, calls, held, reports>>

(* Creation failing part-way: never published, torn down by the creator.  *)
CreateFails ==
    /\ owner = "create"
    /\ Transition("INITIALIZING", "SHUTTING_DOWN")
    /\ owner' = "abort"
    /\ UNCHANGED <<gate, fkey, freed, pc, call, seenAt, result, calls, held, reports>>

AbortFinish ==
    /\ owner = "abort"
    /\ Transition("SHUTTING_DOWN", "DESTROYED")
    /\ freed' = TRUE
    /\ owner' = "done"
    /\ UNCHANGED <<gate, fkey, pc, call, seenAt, result, calls, held, reports>>

(* Entry of a vtable call by worker w: the one load of the status         *)
(* (ms_state_allows in default_deallocate, relaxed; state_tracker_status  *)
(* in default_get_status, acquire).  An allocation loads the gate first   *)
(* (the hot path's size comparison, relaxed): open, the call goes ahead   *)
(* (GateInv: the status is ACTIVE); closed, the out-of-line path loads    *)
(* the status.  A closed gate never reopens, so the two loads are one     *)
(* step here.  A deallocation completes on the hot path only on a hit in *)
(* the thread's slot cache, without a status load; FreeKeyInv makes that  *)
(* the same outcome as the status check, which every other path makes.   *)
(* The call is linearised here; its outcome depends only on what it read. *)
CheckStatus(w) ==
    /\ owner = "run"
    /\ pc[w] = "idle"
    /\ calls[w] < MaxCalls
    /\ \E c \in Operations :
        /\ c = "deallocate" => held[w] > 0
        /\ call' = [call EXCEPT ![w] = c]
        /\ result' = [result EXCEPT ![w] =
                         IF (c = "allocate" /\ gate) \/ c \in Allowed[status]
                         THEN "ok" ELSE "refused"]
    /\ pc' = [pc EXCEPT ![w] = "checked"]
    /\ seenAt' = [seenAt EXCEPT ![w] = Len(history)]
    /\ calls' = [calls EXCEPT ![w] = @ + 1]
    /\ UNCHANGED <<status, gate, fkey, freed, owner, held, reports, history, last>>

(* The rest of the call (header, backend, ms_stats_on_alloc / _on_free,  *)
(* or the error report), whatever the status is by now.                   *)
Return(w) ==
    /\ pc[w] = "checked"
    /\ held' = [held EXCEPT ![w] =
           IF result[w] = "ok" /\ call[w] = "allocate" THEN @ + 1
           ELSE IF result[w] = "ok" /\ call[w] = "deallocate" THEN @ - 1
           ELSE @]
    /\ pc' = [pc EXCEPT ![w] = "idle"]
    /\ call' = [call EXCEPT ![w] = "none"]
    /\ result' = [result EXCEPT ![w] = "none"]
    /\ UNCHANGED <<status, gate, fkey, freed, owner, seenAt, calls, reports, history, last>>

(* default_validate finding a broken invariant: first the allocation     *)
(* gate closes (ms_close_gates), then one CAS ACTIVE -> DEGRADED; only    *)
(* the winner reports.  A losing CAS (already DEGRADED) changes nothing.  *)
(* validate finding nothing wrong is a stuttering step.                   *)
ValidateCloses(w) ==
    /\ owner = "run"
    /\ pc[w] = "idle"
    /\ calls[w] < MaxCalls
    /\ gate' = FALSE
    /\ pc' = [pc EXCEPT ![w] = "closed"]
    /\ calls' = [calls EXCEPT ![w] = @ + 1]
    /\ UNCHANGED <<status, fkey, freed, owner, call, seenAt, result, held, reports, history, last>>

ValidateFails(w) ==
    /\ pc[w] = "closed"
    /\ \/ /\ Transition("ACTIVE", "DEGRADED")
          /\ reports' = reports + 1
       \/ /\ status # "ACTIVE"
          /\ UNCHANGED <<status, reports, history, last>>
    /\ pc' = [pc EXCEPT ![w] = "idle"]
    /\ UNCHANGED <<gate, fkey, freed, owner, call, seenAt, result, calls, held>>

WorkerExits(w) ==
    /\ pc[w] = "idle"
    /\ pc' = [pc EXCEPT ![w] = "done"]
    /\ UNCHANGED <<status, gate, fkey, freed, owner, call, seenAt, result, calls, held,
                   reports, history, last>>

(* destroy_default_strategy, called once the owner has joined every       *)
(* worker: read the status, close the gate and give the statistics a     *)
(* fresh id, CAS it to SHUTTING_DOWN, fold the statistics for the leak    *)
(* report (a read), CAS to DESTROYED, free.                               *)
DestroyBegin ==
    /\ owner = "run"
    /\ \A w \in Workers : pc[w] = "done"
    /\ Transition(status, "SHUTTING_DOWN")
    /\ gate' = FALSE
    /\ fkey' = FALSE
    /\ owner' = "fold"
    /\ UNCHANGED <<freed, pc, call, seenAt, result, calls, held, reports>>

DestroyFold ==
    /\ owner = "fold"
    /\ "read" \in Allowed[status]
    /\ owner' = "finish"
    /\ UNCHANGED <<status, gate, fkey, freed, pc, call, seenAt, result, calls, held,
                   reports, history, last>>

DestroyFinish ==
    /\ owner = "finish"
    /\ Transition("SHUTTING_DOWN", "DESTROYED")
    /\ freed' = TRUE
    /\ owner' = "done"
    /\ UNCHANGED <<gate, fkey, pc, call, seenAt, result, calls, held, reports>>

Next ==
    \/ CreateSucceeds \/ CreateFails \/ AbortFinish
    \/ \E w \in Workers : CheckStatus(w) \/ Return(w) \/ ValidateCloses(w)
                          \/ ValidateFails(w) \/ WorkerExits(w)
    \/ DestroyBegin \/ DestroyFold \/ DestroyFinish

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

(* Only rows of the table ever happen. *)
TransitionInv == last = NoTransition \/ last \in Transitions

(* Every step of the history is a row of the table. *)
HistoryInv ==
    \A i \in 1..(Len(history) - 1) : <<history[i], history[i + 1]>> \in Transitions

(* A call succeeds only if the status it is linearised at allows it, and  *)
(* that status is the one the history had at its check: a call racing    *)
(* with a transition runs before it (it read the old status) or after it. *)
LinearisedInv ==
    \A w \in Workers : pc[w] = "checked" =>
        /\ seenAt[w] \in 1..Len(history)
        /\ (result[w] = "ok") <=> (call[w] \in Allowed[history[seenAt[w]]])

(* DESTROYED is absorbing: it can only be the last status. *)
DestroyedAbsorbingInv ==
    \A i \in 1..Len(history) : history[i] = "DESTROYED" => i = Len(history)

(* What destroy requires holds: no call is in flight once destroy began,  *)
(* and nothing touches the strategy after it was freed.                   *)
DestroyAloneInv ==
    owner \in {"fold", "finish", "done"} => \A w \in Workers : pc[w] \notin {"checked", "closed"}

NoUseAfterFreeInv == freed => \A w \in Workers : pc[w] \notin {"checked", "closed"}

(* Workers only ever see a published, not yet destroyed strategy. *)
WorkersSeeLiveInv ==
    \A w \in Workers : pc[w] \in {"checked", "closed"} => status \in {"ACTIVE", "DEGRADED"}

(* An open allocation gate means ACTIVE: it closes before every           *)
(* transition out of ACTIVE and never reopens.                            *)
GateInv == gate => status = "ACTIVE"

(* While the statistics' id is the one slot caches hold, the status       *)
(* allows freeing: destroy replaces the id before leaving ACTIVE or       *)
(* DEGRADED, so deallocate's hot path needs no status check.              *)
FreeKeyInv == fkey => "deallocate" \in Allowed[status]

(* validate reports the move to DEGRADED exactly once. *)
DegradedOnceInv ==
    reports = (IF \E i \in 1..Len(history) : history[i] = "DEGRADED" THEN 1 ELSE 0)

(* The same, as a property of steps. *)
TransitionProp == [][status' # status => <<status, status'>> \in Transitions]_vars

=============================================================================
