/* leak_report: the live blocks of a strategy created with
 * config.track_allocations, grouped by allocation site.
 *
 * With track_allocations every live block is recorded with where it was
 * allocated: the return address of the call into the strategy (symbolised
 * with dladdr as function+0xoffset, or module+0xoffset when the function's
 * name is not exported), and file:line when it was allocated through
 * STRATEGY_ALLOCATE (then blocks from one file:line are one site, shown
 * with the return address of one of them).  A block resized with
 * reallocate is recorded again at the reallocate call (its return address,
 * without file:line).  At destroy the default error
 * handler prints, after the
 * one-line leak summary, one line per site (largest total first) and one
 * line per leaked block under it (largest first):
 *
 *     memstrategy: leak: 600 bytes in 3 blocks still allocated at destroy
 *     memstrategy: leak: 400 bytes in 2 blocks allocated at parser.c:42 (parse_line+0x3c)
 *         200 bytes at 0x5581f2c0
 *         200 bytes at 0x5581f3a0
 *     memstrategy: leak: 200 bytes in 1 block allocated at main+0x1f
 *         200 bytes at 0x5581f480
 *
 * Thread safety: both printers may run while other threads operate on the
 * strategy (each shard of the record is read under its lock, so the list is
 * not one atomic instant), but not concurrently with its destroy (except
 * from its own error handler during the destroy).
 */
#ifndef MEMSTRATEGY_LEAK_REPORT_H_
#define MEMSTRATEGY_LEAK_REPORT_H_

#include <stdbool.h>
#include <stdio.h>

#include "default_strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocates like base->allocate, recording file:line as the allocation site
 * when the strategy tracks allocations.  `base` must be a DefaultStrategy's. */
#define STRATEGY_ALLOCATE(strategy_base, size) default_allocate_at((strategy_base), (size), __FILE__, __LINE__)

/* default_allocate, with `file` (a string that must outlive the block, such
 * as __FILE__) and `line` recorded as the site when tracking.  Fails as
 * default_allocate does. */
void* default_allocate_at(MemoryStrategy* base, size_t size, const char* file, int line);

/* Prints the per-site lines of the leak report above (without the summary
 * line) for the blocks live now.  Returns false for NULL arguments, a
 * strategy that does not track allocations, memory for sorting that cannot
 * be obtained, or a write error. */
bool print_leak_report(const DefaultStrategy* strategy, FILE* out);

/* Prints the live blocks as one JSON object, usable at any time:
 *
 *     {"tracking":true,"live_bytes":600,"live_blocks":3,
 *      "sites":[{"site":"parse_line+0x3c","file":"parser.c","line":42,
 *                "bytes":400,"blocks":2,"sizes":[200,200]},...]}
 *
 * (sites largest first; "file" and "line" only for STRATEGY_ALLOCATE sites;
 * "tracking":false and an empty list for a strategy that does not track).
 * Returns false for NULL arguments, memory that cannot be obtained, or a
 * write error. */
bool print_leak_report_json(const DefaultStrategy* strategy, FILE* out);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_LEAK_REPORT_H_ */
