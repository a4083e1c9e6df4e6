#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets.

    fuzz/make_seeds.py            (re)writes fuzz/corpus/<target>/seed-*

Each seed is a short operation sequence in the target's input format (see
the comment at the top of fuzz/<target>.c) that reaches one behaviour on
purpose: the size boundaries, each misuse, the memory limit, the status
table, several threads handing blocks to each other.  Inputs the fuzzer
finds later (tools/fuzz merges them in) sit beside these under hash names.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def s8(v):
    return struct.pack("<b", v)


# ---- ops ------------------------------------------------------------------
# Opcodes (enum Op in ops.c) and size kinds (decode_size).
(ALLOC, FREE, FREE_NULL, VALIDATE, STATUS, READ, FREE_STACK, FREE_INTERIOR,
 DOUBLE_FREE, SMASH, OTHER, FAIL_NEXT, DEGRADE, RESET_PEAK, ZEROED, REALLOC,
 ALIGNED, OVERFLOW, PRINT, ALLOC_AT) = range(20)
# OP_PRINT selectors (op_print in ops.c).
(PRINT_TEXT, PRINT_JSON, PRINT_PROMETHEUS, PRINT_PROMETHEUS_BOTH, PRINT_LEAK,
 PRINT_LEAK_JSON, PRINT_ALL, PRINT_REFUSALS) = range(8)
# OP_OVERFLOW: how byte bits above the byte count.
OVERFLOW_RESIZE, OVERFLOW_THEN_FREE = 8, 16


def small(n):          # kind 12: 1 + u16 % 4096
    return bytes([ALLOC, 12]) + u16(n - 1)


def size_kind(kind, *arg):
    return bytes([ALLOC, kind]) + b"".join(arg)


def sz(n):             # a size argument (decode_size kind 12): 1 + u16 % 4096
    return bytes([12]) + u16(n - 1)


def zeroed(count, size_arg):   # count 0..16, or a decode_size argument (bytes)
    count_arg = bytes([count]) if isinstance(count, int) else bytes([128]) + count
    return bytes([ZEROED]) + count_arg + size_arg


def realloc_live(index, size_arg):
    return bytes([REALLOC, 2 + 8 * index]) + size_arg


def realloc_null(size_arg):
    return bytes([REALLOC, 0]) + size_arg


def realloc_freed(index, size_arg):
    return bytes([REALLOC, 1 + 8 * index]) + size_arg


def alignment(a):
    """decode_alignment argument for 0, a power of two, or raw."""
    if a == 0:
        return bytes([0])
    if a & (a - 1) == 0 and a < 1 << 24:
        k = a.bit_length() - 1
        return bytes([next(b for b in range(128, 256) if b % 24 == k)])
    return bytes([3 << 5]) + u64(a)


def aligned(a, size_arg):
    return bytes([ALIGNED]) + alignment(a) + size_arg


def overflow(index, nbytes=1, how=0, mask=0x01):
    """Changes nbytes (1..8) past the end of live block `index`, then frees
    it (or resizes it: OVERFLOW_RESIZE); OVERFLOW_THEN_FREE frees it once
    repaired."""
    return bytes([OVERFLOW, index, (nbytes - 1) | how, mask])


def printer(selector):
    return bytes([PRINT, selector])


def alloc_at(file, line, size_arg):
    """default_allocate_at: file 0 and 1 are two arrays with the same text,
    2 one with characters JSON escapes; line 1..4."""
    return bytes([ALLOC_AT, file | (line - 1) << 2]) + size_arg


def reads():
    """Every read, then the error count of every kind (and two beyond)."""
    return (b"".join(bytes([READ, sel, 0]) for sel in range(12)) +
            b"".join(bytes([READ, 9, kind]) for kind in range(12)))


def ops_seeds():
    leak, no_flags = 1, 0
    limit_tiny = 1 << 1      # decode_limit case 1: 1 + u16
    limit_cap = 2 << 1       # case 2: 64 KiB - 128 + u8
    limit_raw = 5 << 1       # case 5: raw u64
    histogram = 1 << 4       # config.size_histogram
    check_overflow = 1 << 5  # config.check_overflow
    quarantine = 1 << 6      # config.quarantine: 1 + (a byte after the limit's) % 8 slots
    track = 1 << 7           # config.track_allocations
    debug = check_overflow | quarantine | track
    return {
        "basic": bytes([no_flags]) + small(100) + small(200) + reads() +
        bytes([FREE, 0, VALIDATE, STATUS]) + small(1) + bytes([FREE, 1, FREE, 0]) + reads(),
        "size_boundaries": bytes([no_flags]) + size_kind(0) + size_kind(1) + size_kind(2) +
        size_kind(3) + size_kind(4) + size_kind(5, b"\x05") + size_kind(6, b"\x05") +
        size_kind(7, b"\x03") + size_kind(9, b"\x3f") + size_kind(10, u64(2**62)) +
        size_kind(10, u64(2**62 - 1)) + reads(),
        "backend_cap": bytes([no_flags]) + size_kind(8, b"\x7f") + size_kind(8, b"\x80") +
        size_kind(8, b"\x81") + size_kind(11, u16(0xffff)) + bytes([FREE, 0, FREE, 0]),
        "misuse": bytes([no_flags]) + small(64) + small(4000) +
        bytes([FREE_STACK]) + bytes(16) + b"\x00" +
        bytes([FREE_STACK]) + bytes(range(16)) + b"\x03" +
        bytes([FREE_INTERIOR, 1]) + u16(15) +
        bytes([FREE_INTERIOR, 1]) + u16(0) +
        bytes([FREE_INTERIOR, 0]) + u16(7) +
        bytes([SMASH, 0, 3, 0x40, SMASH, 1, 12, 0xff]) +
        bytes([FREE, 0, DOUBLE_FREE, 0, FREE, 0, DOUBLE_FREE, 1, DOUBLE_FREE, 0]),
        "other_strategy": bytes([no_flags]) + small(32) +
        bytes([OTHER, 0, 40, OTHER, 0, 80, OTHER, 2, 0, OTHER, 3, 0, OTHER, 1, 0,
               OTHER, 2, 0, FREE, 0, OTHER, 1, 0]),
        "fail_next": bytes([no_flags, FAIL_NEXT]) + small(10) + small(10) +
        bytes([FAIL_NEXT]) + size_kind(0) + small(20) + bytes([FAIL_NEXT, OTHER, 0, 1]) + small(30),
        "degrade": bytes([no_flags]) + small(48) +
        b"".join(bytes([DEGRADE, k]) for k in range(7)) + small(16) + size_kind(0) +
        bytes([FREE, 0, VALIDATE, STATUS, DEGRADE, 5]),
        "degrade_empty": bytes([no_flags]) + b"".join(bytes([DEGRADE, k]) for k in range(7)),
        "leak_at_destroy": bytes([leak]) + small(100) + small(500) + small(7),
        "limit_tiny": bytes([limit_tiny]) + u16(999) + small(600) + small(400) + small(1) +
        bytes([FREE, 0]) + small(1) + bytes([RESET_PEAK]) + reads(),
        "limit_cap": bytes([limit_cap, 0x80]) + size_kind(8, b"\x80") + small(1) +
        bytes([FREE, 0]) + size_kind(8, b"\x81") + size_kind(8, b"\x7f") + small(200),
        "limit_huge": bytes([limit_raw]) + u64(2**64 - 1) + small(4096) + size_kind(2) +
        bytes([FREE, 0]),
        # The size word's top bit set by an overwrite: the block must still be
        # refused without reading outside its allocation.
        "smash_size_top_bit": bytes([no_flags]) + small(256) + bytes([SMASH, 0, 7, 0x80, FREE, 0]),
        # Every top bit of a plain and of an aligned block's header: the size
        # word's (for an aligned block, its flag) keeps the tag, the check's
        # is the tag's own (the check's top bit once read as a changed flag).
        "smash_top_bits": bytes([no_flags]) + small(48) + aligned(64, sz(48)) +
        b"".join(bytes([SMASH, k, byte, mask]) for k in (0, 1)
                 for byte, mask in ((7, 0x80), (7, 0x40), (11, 0x80), (12, 0x01), (15, 0x80), (15, 0x40))) +
        bytes([FREE, 0, FREE, 0]),
        # The entries added after the first targets: zeroed, resized and
        # aligned blocks, and the size histogram (flags bit 4).
        "zeroed": bytes([histogram]) + zeroed(3, sz(100)) + zeroed(0, sz(8)) + zeroed(5, bytes([0])) +
        zeroed(size_kind(4)[1:], bytes([4])) + zeroed(2, bytes([2])) + zeroed(1, bytes([2])) +
        zeroed(16, sz(4000)) + bytes([FAIL_NEXT]) + zeroed(1, sz(64)) + zeroed(1, sz(1)) +
        bytes([FREE, 0]) + reads(),
        "reallocate": bytes([histogram]) + small(100) + small(3000) + realloc_live(0, sz(1000)) +
        realloc_live(0, sz(10)) + realloc_live(1, sz(4096)) + realloc_null(sz(50)) +
        realloc_live(0, bytes([0])) + realloc_live(0, bytes([3])) + realloc_live(1, bytes([2])) +
        bytes([FAIL_NEXT]) + realloc_live(0, sz(200)) + realloc_live(2, bytes([11]) + u16(0xffff)) +
        realloc_freed(0, sz(30)) + realloc_freed(1, bytes([0])) + bytes([FREE, 0]) +
        realloc_freed(2, sz(30)) + reads(),
        "reallocate_limit": bytes([limit_tiny | histogram]) + u16(999) + small(400) +
        realloc_live(0, sz(500)) + realloc_live(0, sz(600)) + realloc_live(0, sz(100)) +
        small(399) + realloc_live(0, sz(500)) + bytes([RESET_PEAK]) + realloc_live(1, sz(1)) + reads(),
        "aligned": bytes([histogram]) + b"".join(aligned(a, sz(100)) for a in (1, 2, 16, 32, 64, 4096)) +
        aligned(1 << 20, sz(10)) + aligned(1 << 21, sz(10)) + aligned(0, sz(10)) + aligned(3, sz(10)) +
        aligned(48, sz(10)) + aligned(256, bytes([0])) + aligned(256, bytes([2])) +
        bytes([FAIL_NEXT]) + aligned(128, sz(10)) +
        realloc_live(3, sz(1000)) + realloc_live(4, sz(5)) + realloc_live(5, sz(4096)) +
        bytes([SMASH, 4, 3, 0x10, SMASH, 5, 7, 0x80, SMASH, 3, 13, 0xff]) +
        bytes([FREE_INTERIOR, 5]) + u16(63) + bytes([FREE, 4, DOUBLE_FREE, 0]) +
        realloc_freed(0, sz(20)) + reads(),
        "histogram_degraded": bytes([histogram | leak]) + small(1) + small(2) + small(3) + small(4095) +
        zeroed(2, sz(8)) + aligned(64, sz(33)) + realloc_live(0, sz(70)) + bytes([DEGRADE, 2]) +
        realloc_live(1, sz(9)) + zeroed(1, sz(9)) + aligned(32, sz(9)) + realloc_null(sz(9)) +
        bytes([FREE, 0, FREE, 1]) + reads(),
        "reset_peak": bytes([no_flags]) + small(3000) + small(1000) + bytes([FREE, 0, RESET_PEAK]) +
        bytes([READ, 1, 0]) + small(10) + bytes([READ, 1, 0, FREE, 0, FREE, 0, RESET_PEAK, READ, 1, 0]),
        # The debug options (flags bits 5-7), the canary, the printers and
        # default_allocate_at.
        "overflow": bytes([check_overflow | histogram]) + small(100) + zeroed(3, sz(7)) +
        aligned(128, sz(30)) + small(48) + realloc_live(0, sz(200)) +
        overflow(0) + overflow(1, 8, OVERFLOW_RESIZE, 0xff) + overflow(2, 3, OVERFLOW_THEN_FREE, 0x10) +
        overflow(0, 4, OVERFLOW_RESIZE | OVERFLOW_THEN_FREE, 0) + overflow(1, 8, 0, 0x5a) +
        size_kind(8, b"\x78") + size_kind(8, b"\x79") + bytes([DEGRADE, 2]) +
        overflow(0, 2, OVERFLOW_RESIZE) + overflow(1, 5) + printer(PRINT_ALL) + reads(),
        "quarantine": bytes([quarantine, 2]) + small(10) + small(20) + small(30) + small(40) +
        aligned(64, sz(50)) + aligned(256, sz(60)) + bytes([FREE, 4, DOUBLE_FREE, 0]) +
        realloc_freed(0, sz(5)) + bytes([FREE, 4, FREE, 0, DOUBLE_FREE, 0, DOUBLE_FREE, 1, FREE, 0,
                                         DOUBLE_FREE, 0, DOUBLE_FREE, 1, DOUBLE_FREE, 2, DOUBLE_FREE, 3]) +
        realloc_live(0, sz(100)) + realloc_live(0, sz(7)) + realloc_freed(0, sz(9)) +
        realloc_freed(4, sz(9)) + printer(PRINT_PROMETHEUS_BOTH) + bytes([OTHER, 0, 9, OTHER, 2, 0]) +
        printer(PRINT_PROMETHEUS_BOTH),
        "quarantine_leak": bytes([quarantine | leak, 7]) + small(1) + small(2) + small(3) +
        aligned(32, sz(4)) + bytes([FREE, 0, FREE, 0]) + printer(PRINT_TEXT),
        "track": bytes([track]) + alloc_at(0, 1, sz(100)) + alloc_at(1, 1, sz(300)) +
        alloc_at(2, 3, sz(50)) + alloc_at(0, 2, sz(5)) + small(64) + small(64) + aligned(32, sz(7)) +
        zeroed(2, sz(9)) + alloc_at(2, 3, sz(70)) + printer(PRINT_LEAK) + printer(PRINT_LEAK_JSON) +
        realloc_live(1, sz(30)) + realloc_live(5, sz(1000)) + printer(PRINT_LEAK) +
        printer(PRINT_LEAK_JSON) + bytes([FREE, 2, FREE, 0]) + printer(PRINT_ALL),
        "track_leak": bytes([track | leak]) + alloc_at(0, 4, sz(1)) + alloc_at(1, 4, sz(2)) +
        alloc_at(3, 4, sz(3)) + small(4000) + printer(PRINT_LEAK),
        "track_empty": bytes([track]) + printer(PRINT_ALL) + printer(PRINT_REFUSALS) + small(8) +
        bytes([FREE, 0]) + printer(PRINT_LEAK) + printer(PRINT_REFUSALS),
        "debug_all": bytes([debug | histogram, 0]) + alloc_at(2, 2, sz(40)) + aligned(64, sz(10)) +
        zeroed(4, sz(4)) + realloc_live(0, sz(80)) + small(4096) + overflow(3, 8, 0, 0x01) +
        bytes([FREE, 1, DOUBLE_FREE, 0, FREE, 0, DOUBLE_FREE, 0, DOUBLE_FREE, 1]) +
        bytes([OTHER, 0, 20, OTHER, 2, 0, OTHER, 3, 0, SMASH, 0, 4, 0x01, FREE_INTERIOR, 0]) + u16(16) +
        printer(PRINT_ALL) + bytes([FAIL_NEXT]) + small(10) + size_kind(0) + printer(PRINT_ALL) +
        bytes([DEGRADE, 2]) + printer(PRINT_ALL) + printer(PRINT_REFUSALS) + reads(),
        "debug_limit": bytes([debug | limit_tiny]) + u16(999) + b"\x03" + small(600) +
        alloc_at(0, 1, sz(300)) + small(200) + realloc_live(0, sz(500)) + realloc_live(1, sz(50)) +
        overflow(0, 1, OVERFLOW_THEN_FREE) + printer(PRINT_ALL) + realloc_live(0, sz(400)) +
        printer(PRINT_ALL),
        "print_plain": bytes([histogram]) + small(100) + small(4000) + size_kind(0) +
        bytes([FAIL_NEXT]) + small(10) + bytes([DOUBLE_FREE, 0, FREE, 0, DOUBLE_FREE, 0]) +
        bytes([OTHER, 0, 1, OTHER, 0, 2, OTHER, 3, 0, OTHER, 1, 0]) + alloc_at(2, 1, sz(3)) +
        printer(PRINT_ALL) + printer(PRINT_REFUSALS) + bytes([DEGRADE, 2]) + printer(PRINT_ALL),
    }


# ---- size_limit -------------------------------------------------------------
S_ALLOC, S_FREE, M_ALLOC, M_FREE, M_RESET = range(5)
(B_ZERO, B_ONE, B_MAX, B_HALF, B_SIZE_MAX, B_CAP, B_2_32, B_ROOM, B_CURRENT, B_RAW,
 B_LIMIT, B_SMALL) = range(12)


def near(op, base, offsets=(-1, 0, 1)):
    return b"".join(bytes([op, base]) + s8(k) for k in offsets)


def limit(kind, offset=0, extra=b""):
    return bytes([kind]) + s8(offset) + extra


def size_limit_seeds():
    none = limit(0)
    every_base = b"".join(near(op, b) for op in (S_ALLOC, M_ALLOC, M_FREE)
                          for b in (B_ZERO, B_ONE, B_MAX, B_HALF, B_SIZE_MAX, B_CAP, B_2_32))
    return {
        "all_boundaries_unlimited": none + none + every_base,
        "strategy_limit_at_cap": limit(1, 0) + none +
        near(S_ALLOC, B_CAP, (0,)) + near(S_ALLOC, B_ROOM, (1, 0)) + bytes([S_FREE, 0]) +
        near(S_ALLOC, B_ROOM, (0,)) + near(S_ALLOC, B_LIMIT, (0, 1)),
        "strategy_limit_small": limit(7, 0, u16(100)) + none +
        near(S_ALLOC, B_ROOM, (1, 0, 0, -1)) + bytes([S_FREE, 0, S_FREE, 1]) +
        near(S_ALLOC, B_SMALL, (50,)) + near(S_ALLOC, B_ROOM, (0,)),
        "memstats_max_twice": none + none + near(M_ALLOC, B_MAX, (0, 0, 0, 1)) +
        near(M_FREE, B_ONE, (0,)) + near(M_ALLOC, B_MAX, (0,)) + bytes([M_RESET]) +
        near(M_FREE, B_MAX, (0, 1)),
        "memstats_limit_max": none + limit(2, 0) + near(M_ALLOC, B_MAX, (0, 0)) +
        near(M_ALLOC, B_ONE, (0,)) + near(M_FREE, B_SMALL, (3,)) + near(M_ALLOC, B_ROOM, (0, 1)),
        "memstats_limit_int64_max": none + limit(3, 0) +
        near(M_ALLOC, B_MAX, (0, 0, 0)) + near(M_ALLOC, B_ROOM, (0, 1, -1)) + bytes([M_RESET]) +
        near(M_FREE, B_ONE, (0,)) + near(M_ALLOC, B_ROOM, (0,)),
        "limits_above_int64": limit(3, 1) + limit(6, 0) + near(S_ALLOC, B_SMALL, (10,)) +
        near(M_ALLOC, B_MAX, (0, 0)) + near(S_ALLOC, B_ROOM, (0,)),
        "limit_batch_one": limit(5, 0) + limit(5, -1) + near(S_ALLOC, B_SMALL, (100, 100, 50)) +
        near(S_ALLOC, B_ROOM, (0, 1)) + near(M_ALLOC, B_ROOM, (0, 1)) + near(M_FREE, B_SMALL, (0,)),
        "raw_sizes": none + none + bytes([S_ALLOC, B_RAW]) + s8(0) + u64(0) +
        bytes([S_ALLOC, B_RAW]) + s8(0) + u64(2**62) + bytes([M_ALLOC, B_RAW]) + s8(0) + u64(2**62 - 1) +
        bytes([M_FREE, B_RAW]) + s8(0) + u64(2**64 - 1),
        "current_based": limit(7, 0, u16(5000)) + limit(7, 0, u16(5000)) +
        near(S_ALLOC, B_SMALL, (100,)) + near(S_ALLOC, B_CURRENT, (0, 1)) +
        near(M_ALLOC, B_SMALL, (100,)) + near(M_ALLOC, B_CURRENT, (0, -1)) + near(M_FREE, B_CURRENT, (0,)),
    }


# ---- status -----------------------------------------------------------------
TRANSITION, FROM_CURRENT, NULL_TRACKER, QUERIES, RESTART = range(5)
INIT, ACTIVE, DEGRADED, SHUTTING, DESTROYED, INVALID = range(6)


def st(op, frm, to, tracker=0):
    return bytes([op | (tracker << 4), frm, to])


def status_seeds():
    return {
        "lifecycle": st(0, INIT, ACTIVE) + st(0, ACTIVE, DEGRADED) + st(0, DEGRADED, SHUTTING) +
        st(0, SHUTTING, DESTROYED),
        "create_failed": st(0, INIT, SHUTTING) + st(0, SHUTTING, DESTROYED) + st(0, DESTROYED, INIT),
        "every_pair": b"".join(st(0, f, t) for f in range(8) for t in range(8)),
        "conflicts": st(0, ACTIVE, DEGRADED) + st(0, INIT, ACTIVE) + st(0, INIT, ACTIVE) +
        st(0, DEGRADED, SHUTTING) + st(0, ACTIVE, SHUTTING),
        "two_trackers": st(0, INIT, ACTIVE, 1) + st(0, INIT, ACTIVE, 0) + st(1, 0, DEGRADED, 1) +
        st(1, 0, SHUTTING, 0) + st(RESTART, 0, 0, 1) + st(1, 0, ACTIVE, 1),
        "queries": b"".join(st(QUERIES, f, 0) for f in range(8)) + st(NULL_TRACKER, INIT, ACTIVE),
        "walk_from_current": b"".join(st(FROM_CURRENT, 0, t) for t in (ACTIVE, ACTIVE, DEGRADED, INIT,
                                                                       SHUTTING, DESTROYED, ACTIVE)),
    }


# ---- threads ----------------------------------------------------------------
T_ALLOC, T_LARGE, T_FREE, T_HANDOFF, T_TAKE, T_VALIDATE, T_READ, T_INVALID = range(8)


def th(op, thread, arg=0):
    return bytes([op + 8 * thread]) + u16(arg)


def threads_seeds():
    def rounds(threads, n):
        out = b""
        for i in range(n):
            for t in range(threads):
                out += th(T_ALLOC, t, 100 + 37 * i + t) + th(T_HANDOFF, t, i)
                out += th(T_TAKE, (t + 1) % threads, i) + th(T_READ, t)
        return out

    return {
        "two_threads": bytes([0, 0]) + rounds(2, 6) + th(T_VALIDATE, 0) + th(T_VALIDATE, 1),
        "four_threads": bytes([2, 0]) + rounds(4, 4) + th(T_FREE, 3) + th(T_READ, 2),
        "large_blocks": bytes([1, 0]) + b"".join(th(T_LARGE, t, 60000 + t) + th(T_READ, t)
                                                  for t in range(3)) * 3 +
        b"".join(th(T_FREE, t) for t in range(3)),
        "invalid": bytes([0, 0]) + th(T_INVALID, 0, 0) + th(T_INVALID, 1, 2) + th(T_ALLOC, 0, 64) +
        th(T_INVALID, 0, 0x301) + th(T_READ, 1) + th(T_VALIDATE, 0),
        "limit": bytes([1, 1]) + u16(1000) + b"".join(th(T_LARGE, t, 3000) + th(T_READ, t)
                                                       for t in range(3)) * 2 +
        rounds(3, 2),
        "leftovers": bytes([0, 0]) + rounds(2, 3) + th(T_ALLOC, 0, 5) + th(T_HANDOFF, 1, 0),
        # The thread cache (flags bit 1, N = 1 + byte % 4): blocks freed by
        # the thread that allocated them come back to it, handed-off ones
        # fill the other thread's cache; threads exit with full caches.
        "cache_two_threads": bytes([0, 2, 3]) + rounds(2, 6) +
        b"".join(th(T_ALLOC, t, 100 + t) + th(T_FREE, t) for t in range(2)) * 6 + th(T_VALIDATE, 0),
        "cache_limit": bytes([2, 3]) + u16(1000) + bytes([0]) + rounds(4, 4) +
        b"".join(th(T_LARGE, t, 3000) + th(T_FREE, t) + th(T_ALLOC, t, 40) for t in range(4)) * 2,
        # release_cached_blocks (a validate with argument bit 0) on each of
        # three threads while the others hand blocks over and free them (N =
        # 1: lists fill and reach the depot at once).
        "cache_release": bytes([1, 2, 0]) + (rounds(3, 3) + b"".join(th(T_VALIDATE, t, 1) for t in range(3))) * 3 +
        th(T_VALIDATE, 0, 1),
    }


# ---- ops: the thread cache --------------------------------------------------

DEALLOC_DIRECT, SMASH_CACHED, RELEASE_CACHED = 20, 21, 22
EXTENSION = 6 << 1          # flags limit kind 6: an extension byte follows


def ext(limit_kind=0, cache=0, smash=None, smash_spare=False):
    """The extension byte: bits 0-2 the limit kind, bits 3-5 the cache selector,
    bit 6 a write into a cached block's header before destroy, smash = (pick,
    byte, mask): written after the quarantine's byte, so only where nothing
    follows the extension byte before it (limit kinds 0, 4, 6, 7); bit 7
    (smash_spare) makes opcode 21 op_smash_spare."""
    byte = limit_kind | cache << 3 | (1 << 7 if smash_spare else 0)
    if smash is None:
        return bytes([byte])
    pick, at, mask = smash
    return bytes([byte | 1 << 6]) + u16(pick) + bytes([at, mask])


def tiny(n):                 # decode_size kind 13 with the extension: 1 + byte % 64
    return bytes([ALLOC, 13, n - 1])


def free_op(i):
    return bytes([FREE, i])


def direct(i):
    return bytes([DEALLOC_DIRECT, i])


def ops_cache_seeds():
    """The thread cache (config.thread_cache_blocks), behind the extension byte."""
    histogram, check_overflow, quarantine, track, leak = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1
    return {
        # Hits: two blocks of class 3 (17 .. 24 bytes) kept (N = 2), popped
        # last-in first out by requests of other sizes of the class; a third
        # goes back.
        "cache_hits": bytes([EXTENSION]) + ext(0, 2) + small(18) + small(20) + small(24) +
        free_op(0) + free_op(0) + free_op(0) + small(17) + small(24) + small(21) + reads() +
        free_op(1) + small(19) + bytes([READ, 1, 0]),
        # N = 1: class 1 (1 .. 8 bytes) overflows to the backend; sizes above
        # 2040 and aligned blocks are never kept; the entries that never pop.
        "cache_overflow": bytes([EXTENSION]) + ext(0, 1) + small(1) + small(8) + small(3) +
        small(3000) + aligned(64, sz(16)) + free_op(0) + free_op(0) + free_op(0) + free_op(0) + free_op(0) +
        zeroed(1, sz(5)) + realloc_null(sz(6)) + aligned(16, sz(7)) + alloc_at(0, 1, sz(9)) +
        small(2) + small(2040) + small(2041) + free_op(0) + free_op(0) + free_op(0) + free_op(0) + free_op(0) + free_op(0) +
        small(2033) + tiny(64) + reads(),
        # Double frees of cached blocks (and a resize of one); a popped one
        # is live again.
        "cache_double_free": bytes([EXTENSION]) + ext(0, 4) + small(40) + small(41) + small(100) +
        free_op(0) + free_op(0) + bytes([DOUBLE_FREE, 0, DOUBLE_FREE, 1]) + realloc_freed(0, sz(30)) +
        realloc_freed(1, sz(3000)) + small(33) + bytes([DOUBLE_FREE, 0, DOUBLE_FREE, 1]) +
        realloc_freed(0, sz(30)) + free_op(0) + bytes([DOUBLE_FREE, 2]) + reads(),
        # A limit of 100 bytes: a popped block of class 7 (49 .. 56) the limit refuses
        # goes back to the backend (unpoisoned under ASan); then a fresh one
        # of the class likewise.
        "cache_limit": bytes([EXTENSION]) + ext(1, 3) + u16(99) + small(50) + small(40) + free_op(0) +
        small(20) + small(61) + small(49) + bytes([DOUBLE_FREE, 0]) + free_op(1) + small(60) +
        bytes([RESET_PEAK]) + free_op(0) + small(64) + reads(),
        # A peak reset between a free and an allocation (the next operation
        # takes the full path, with the cache), and the other strategy's
        # operations in between (this thread's cached slot is then the
        # other's).
        "cache_reset_peak": bytes([EXTENSION]) + ext(0, 3) + small(100) + small(200) + free_op(0) +
        bytes([RESET_PEAK]) + small(97) + bytes([RESET_PEAK]) + free_op(0) + free_op(0) + bytes([RESET_PEAK]) +
        small(200) + bytes([OTHER, 0, 10, READ, 1, 0]) + small(100) + bytes([OTHER, 0, 11]) + free_op(0) +
        bytes([OTHER, 1, 0]) + free_op(0) + bytes([RESET_PEAK, OTHER, 3, 0]) + small(193) +
        bytes([OTHER, 2, 0]) + reads(),
        # Regression: an allocation after a peak reset, within the thread's
        # reservation, looked for a cached block through a lookup that
        # cached the thread's slot behind the new peak epoch, so its local
        # peak was lost and the peak fell with the next frees.
        "cache_reset_peak_lookup": bytes([EXTENSION]) + ext(0, 1) + bytes([RESET_PEAK]) + small(1) +
        bytes([RESET_PEAK]) + small(1) + bytes([READ, 1, 0]) + free_op(0) + bytes([READ, 1, 0]) + free_op(0) +
        bytes([READ, 1, 0, RESET_PEAK]) + small(2) + small(40) + free_op(0) + bytes([READ, 1, 0]),
        # A corrupted status that validate cannot move to DEGRADED closes
        # the gates for good: after the undo, frees still fill the cache but
        # allocations take the out-of-line path and never pop.
        "cache_gates_closed": bytes([EXTENSION]) + ext(0, 1) + small(1) + small(20) + free_op(0) +
        bytes([DEGRADE, 1]) + small(1) + free_op(0) + free_op(0) + small(1) + small(20) + bytes([STATUS]) + reads(),
        # The cache is looked up (giving the thread its statistics slot)
        # before the backend is asked: a per-thread corruption applies after
        # a refused first request.
        "cache_lookup_first": bytes([EXTENSION]) + ext(0, 2) + bytes([FAIL_NEXT]) + small(1) +
        bytes([DEGRADE, 6, DEGRADE, 3]) + small(1) + free_op(0) + small(2) + reads(),
        # The depot (N = 1): of seven frees of class 3 (17 .. 24 bytes) the
        # first is kept, the next four each hand the full class's list to
        # the depot's next empty slot, the last two each give the class's
        # block back and stay; double frees of blocks in the depot and of
        # one given back; then requests pop the thread's block, take
        # the depot's lists in slot order, and ask the backend, whose
        # failure told before stays pending until then.
        "cache_depot": bytes([EXTENSION]) + ext(0, 1) + b"".join(small(n) for n in (18, 19, 20, 21, 22, 23, 24)) +
        free_op(0) * 7 + bytes([DOUBLE_FREE, 0, DOUBLE_FREE, 3, DOUBLE_FREE, 5, FAIL_NEXT]) +
        b"".join(small(n) for n in (17, 18, 19, 20, 21, 22, 23, 24)) + reads() + free_op(0) * 3 + small(24) + reads(),
        # Direct default_deallocate goes on as the vtable's: a cached size
        # is kept in its class (also a popped block, its size not a multiple
        # of 8), an aligned block goes back to the backend.
        "cache_direct_free": bytes([EXTENSION]) + ext(0, 4) + small(20) + free_op(0) + small(20) + direct(0) +
        small(10) + small(12) + small(16) +
        aligned(32, sz(10)) + direct(0) + free_op(0) + small(11) + direct(2) + direct(0) + free_op(0) +
        small(5) + small(7) + direct(1) + free_op(0) + small(1) + reads(),
        # DEGRADED: frees still go to the cache, allocations are refused
        # (nothing popped); destroy with live blocks gives the cache back.
        "cache_degraded": bytes([EXTENSION | leak]) + ext(0, 2) + small(20) + small(20) + small(20) +
        small(500) + free_op(0) + bytes([DEGRADE, 2]) + free_op(0) + small(20) + free_op(0) + zeroed(1, sz(20)) +
        bytes([STATUS]) + printer(PRINT_TEXT) + reads(),
        # A backend failure stays pending through a pop; resizes never pop
        # and give the old block back, never to the cache (also a popped
        # one, whose class's room must not stay poisoned under ASan).
        "cache_fail_next": bytes([EXTENSION]) + ext(0, 2) + small(20) + free_op(0) + small(20) +
        realloc_live(0, sz(100)) + free_op(0) + small(64) + small(64) + free_op(0) +
        bytes([FAIL_NEXT]) + small(60) + small(60) + small(60) + free_op(0) + realloc_live(0, sz(64)) +
        realloc_live(0, sz(63)) + realloc_live(0, sz(3000)) + realloc_live(0, sz(1)) + free_op(0) +
        small(1) + bytes([FAIL_NEXT]) + realloc_live(0, sz(2)) + reads(),
        # The largest N (4096): a class holds many blocks; zeroed blocks
        # never pop.
        "cache_max": bytes([EXTENSION]) + ext(0, 6) + b"".join(zeroed(1, sz(24)) for _ in range(10)) +
        b"".join(free_op(0) for _ in range(10)) + b"".join(tiny(24) for _ in range(11)) + reads(),
        # thread_cache_blocks 4097 is refused at create; then 2.
        "cache_refused_create": bytes([EXTENSION]) + ext(0, 7) + small(16) + free_op(0) + small(1) + reads(),
        # N ignored with a debug option or the histogram (no rounding).
        "cache_ignored_debug": bytes([EXTENSION | quarantine | check_overflow]) + ext(0, 4) + b"\x02" +
        small(20) + small(20) + free_op(0) + small(20) + direct(0) + bytes([DOUBLE_FREE, 0]) + reads(),
        "cache_ignored_histogram": bytes([EXTENSION | histogram]) + ext(2, 1) + b"\x80" + small(20) +
        free_op(0) + small(20) + direct(0) + small(3) + printer(PRINT_PROMETHEUS) + reads(),
        "cache_ignored_track": bytes([EXTENSION | track]) + ext(0, 3) + alloc_at(1, 2, sz(20)) +
        small(20) + free_op(0) + small(20) + direct(1) + printer(PRINT_LEAK),
        # A write into a cached block's header (op_smash_cached): the pop that
        # reaches it reports CORRUPTED_BLOCK and drops the head list; the
        # request is served from the spare list (N = 2: three frees leave
        # one block in the head list, two in the spare), then from the
        # depot, then from the backend; dropped blocks stay with the
        # backend to the end; the size word (the link) and the check word.
        "cache_smashed": bytes([EXTENSION]) + ext(0, 2) + small(18) + small(20) + small(24) +
        free_op(0) + free_op(0) + free_op(0) + bytes([SMASH_CACHED, 0, 0, 0x40]) +
        small(100) + small(100) + small(100) + small(100) + small(100) + small(100) + small(100) +
        b"".join(free_op(0) for _ in range(8)) + bytes([SMASH_CACHED, 1, 9, 0xff]) + reads() +
        small(20) + free_op(0) + bytes([SMASH_CACHED, 5, 15, 0x80, DOUBLE_FREE, 0]) + reads(),
        "cache_smashed_limit": bytes([EXTENSION]) + ext(1, 1) + u16(40) + small(24) + free_op(0) +
        bytes([SMASH_CACHED, 0, 3, 1]) + small(8) + free_op(0) + bytes([FAIL_NEXT, SMASH_CACHED, 0, 3, 1]) +
        small(8) + reads(),
        # A write into a cached block's header just before destroy
        # (extension bit 6).  N = 2 and seven blocks of class 3 freed leave
        # one in the head list, two in the spare one and two in each of two
        # depot lists.  Destroy gives each list back from the last block
        # kept and stops at the written one: CORRUPTED_BLOCK, that block and
        # the rest of its list dropped.  Block 1 (the spare list's first
        # kept: its other block goes back first); with a leak, block 3 (the
        # first depot list's first kept), the report after the leak report.
        "cache_smashed_at_destroy": bytes([EXTENSION]) + ext(0, 2, (1, 0, 0x01)) +
        b"".join(small(n) for n in (18, 19, 20, 21, 22, 23, 24)) + reads(),
        "cache_smashed_at_destroy_leak": bytes([EXTENSION | leak]) + ext(0, 2, (3, 15, 0x80)) +
        small(100) + b"".join(small(n) for n in (18, 19, 20, 21, 22, 23, 24)) + free_op(1) * 7 + reads(),
        # A write into a block of a full spare list, then a free of the
        # class (extension bit 7: opcode 21 is op_smash_spare).  N = 2:
        # twelve frees of class 3 fill the head list, the spare list and the
        # depot's four lists, so the next free of the class finds the depot
        # full: its own block goes back and starts a spill of one, and
        # nothing reports the write (block 0 of the spare list), which is
        # undone.  One more free spills; then a write into block 1 and a
        # free that finds the depot full again; the cache goes on serving
        # the class.
        "cache_smashed_spare": bytes([EXTENSION]) + ext(0, 2, smash_spare=True) +
        small(20) * 16 + free_op(0) * 12 + bytes([SMASH_CACHED, 0, 0, 0x01]) + reads() +
        free_op(0) + bytes([SMASH_CACHED, 1, 15, 0x80]) + reads() +
        small(17) + small(24) + free_op(0) + bytes([DOUBLE_FREE, 3]) + reads(),
        # The spill outlasts a depot slot that comes free.  N = 2: twelve
        # frees of class 3 fill the head list, the spare list and the
        # depot's four lists; the 13th finds the depot full, so its block
        # goes back and one more free into full lists will give its block
        # back too.  Nine allocations pop the thread's 4, ask the backend
        # for the 2N = 4 of the cooldown, then take a depot list (a slot
        # comes free); three frees fill the lists again, the 4th spills
        # (its block back, though the depot has room), the 5th hands the
        # spare list to the free slot.
        "cache_spill": bytes([EXTENSION]) + ext(0, 2) + small(20) * 14 + free_op(0) * 13 + reads() +
        small(20) * 9 + free_op(0) * 4 + reads() + free_op(0) + reads(),
        # A written cached header with the shadow's 64 live blocks all taken
        # (found by run Z10: op_smash_cached's request used to store a 65th
        # block past the shadow's array): 62 blocks of class 3 and 2 of
        # class 5, one of class 5 freed into the cache, one more of class 3,
        # then opcode 21, which must now do nothing; the figures stay.
        "cache_smash_full_live": bytes([EXTENSION]) + ext(0, 2) + small(20) * 62 + small(40) * 2 +
        free_op(62) + small(20) + bytes([SMASH_CACHED, 0, 0, 0x01]) + reads(),
        # release_cached_blocks: N = 1 and seven frees of class 3 leave one
        # block in the head list, one in the spare list and four in the
        # depot (the seventh went back); all six go back, the figures stay,
        # the next request asks the backend, a released block freed again is
        # a DOUBLE_FREE, and a release with nothing cached returns 0.
        "cache_release": bytes([EXTENSION]) + ext(0, 1) + b"".join(small(n) for n in (18, 19, 20, 21, 22, 23, 24)) +
        free_op(0) * 7 + bytes([RELEASE_CACHED]) + reads() + small(20) + free_op(0) + bytes([DOUBLE_FREE, 1]) +
        bytes([RELEASE_CACHED, RELEASE_CACHED]) + small(20) + reads(),
        # No cache, but the extension: direct frees over a backend.
        "cache_none_direct": bytes([EXTENSION]) + ext(5, 0) + u64(5000) + small(20) + small(30) +
        aligned(64, sz(5)) + direct(0) + direct(1) + free_op(0) + bytes([DOUBLE_FREE, 0, DOUBLE_FREE, 2]) + reads(),
    }


def main():
    for target, seeds in (("ops", {**ops_seeds(), **ops_cache_seeds()}), ("size_limit", size_limit_seeds()),
                          ("status", status_seeds()), ("threads", threads_seeds())):
        directory = os.path.join(HERE, "corpus", target)
        os.makedirs(directory, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(directory, "seed-" + name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
