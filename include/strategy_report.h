/* strategy_report: a strategy's figures printed for people, for programs
 * (JSON) and for monitoring (the Prometheus text exposition format).
 *
 *     #include "strategy_report.h"
 *
 *     print_strategy_report(strategy, stdout);
 *
 * Every printer takes one default_strategy_snapshot (default_strategy.h) per
 * strategy and writes it; the figures carry that function's guarantees (exact
 * when no operation is in flight).  Every printer flushes `out` and returns
 * false on a NULL argument or a write error (including one that only the
 * flush reveals, or an error indicator `out` already had); a partial output
 * may then have been written.
 *
 * Error kinds are named by strategy_error_name with spaces as underscores
 * ("invalid_size", ...); STRATEGY_OK and STRATEGY_ERROR_LEAK are not listed
 * (leaks are reported at destroy, never counted).  A strategy without a name
 * has the name "".
 *
 * Thread safety: a printer may run concurrently with every call on the
 * strategies it prints except their destroy.  Calls that print to the same
 * FILE* from several threads interleave as the stdio implementation does.
 */
#ifndef MEMSTRATEGY_STRATEGY_REPORT_H_
#define MEMSTRATEGY_STRATEGY_REPORT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "default_strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a human-readable report of several lines, e.g.
 *
 *     memstrategy "net" (active)
 *       current usage     1536 bytes in 3 blocks
 *       peak usage        4096 bytes (over-report bound 0)
 *       total allocated   10240 bytes in 12 allocations
 *       total freed       8704 bytes in 9 deallocations
 *       memory limit      65536 bytes
 *       errors            2 (limit exceeded 2); last: limit exceeded
 *
 * ("memory limit      none" without one, "errors            none" without
 * any; an unnamed strategy's first line is "memstrategy (active)").  The
 * layout is for reading, not parsing: use the JSON printer for that. */
bool print_strategy_report(const DefaultStrategy* strategy, FILE* out);

/* Writes one JSON object on one line, then a newline:
 *
 *     {"name":"net","status":"active","current_bytes":1536,"peak_bytes":4096,
 *      "peak_overreport_bound_bytes":0,"total_allocated_bytes":10240,
 *      "total_freed_bytes":8704,"allocations":12,"deallocations":9,
 *      "live_blocks":3,"memory_limit_bytes":65536,"last_error":"limit_exceeded",
 *      "errors":{"invalid_size":0,...,"limit_exceeded":2,...,"corrupted_block":0}}
 *
 * With config.size_histogram a "size_classes" array of STRATEGY_SIZE_CLASSES
 * counts follows "errors" (the text report adds a "sizes" line and the
 * Prometheus printer a histogram family memstrategy_allocation_size_bytes).
 * memory_limit_bytes is 0 without a limit; status is strategy_status_name's
 * text; every number is an unsigned integer; the name is escaped as JSON
 * requires (control characters as \u00XX). */
bool print_strategy_json(const DefaultStrategy* strategy, FILE* out);

/* Writes the strategy's metrics in the Prometheus text exposition format
 * (version 0.0.4), each family with its # HELP and # TYPE lines and every
 * sample labelled name="<the strategy's name>":
 *
 *     memstrategy_current_bytes             gauge
 *     memstrategy_peak_bytes                gauge
 *     memstrategy_peak_overreport_bytes     gauge  (bound on the peak's excess)
 *     memstrategy_allocated_bytes_total     counter
 *     memstrategy_freed_bytes_total         counter
 *     memstrategy_allocations_total         counter
 *     memstrategy_deallocations_total       counter
 *     memstrategy_live_blocks               gauge
 *     memstrategy_limit_bytes               gauge  (0: unlimited)
 *     memstrategy_errors_total{kind="..."}  counter, one sample per kind
 *
 * The name label is escaped as the format requires (\\, \" and \n).  To
 * expose several strategies in one scrape use print_strategies_prometheus
 * (each family's # HELP and # TYPE lines may appear only once). */
bool print_strategy_prometheus(const DefaultStrategy* strategy, FILE* out);

/* As print_strategy_prometheus for `count` strategies at once: each family's
 * # HELP and # TYPE lines once, then one sample per strategy.  Give the
 * strategies distinct names.  All snapshots are taken before anything is
 * written.  Returns false if `strategies` is NULL (with count > 0), any of
 * them is NULL, out is NULL, memory for the snapshots cannot be obtained
 * (nothing is written in those cases), or a write fails.  count 0 writes
 * nothing and returns true. */
bool print_strategies_prometheus(const DefaultStrategy* const* strategies, size_t count, FILE* out);

#ifdef __cplusplus
}
#endif

#endif /* MEMSTRATEGY_STRATEGY_REPORT_H_ */
