/* strategy_report: printers of default_strategy_snapshot (public API only). */
#include "strategy_report.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

/* Every write's result is checked once, at the end: a failed fputs/fprintf
 * sets the stream's error indicator, and the flush reveals a failure the
 * buffer was hiding. */
static bool finish(FILE* out) {
    bool flushed = fflush(out) == 0;
    return flushed && ferror(out) == 0;
}

/* Errors a report lists: every kind but STRATEGY_OK and the (never counted)
 * leak report. */
static bool listed_error(unsigned kind) {
    return kind != STRATEGY_OK && kind != STRATEGY_ERROR_LEAK && kind < STRATEGY_ERROR_COUNT;
}

/* strategy_error_name with spaces as underscores. */
static void put_identifier(const char* text, FILE* out) {
    for (; *text != '\0'; text++) fputc(*text == ' ' ? '_' : *text, out);
}

/* ---- human-readable ------------------------------------------------------ */

bool print_strategy_report(const DefaultStrategy* strategy, FILE* out) {
    StrategyStats st;
    if (out == NULL || !default_strategy_snapshot(strategy, &st)) return false;
    const MemStatsSnapshot* u = &st.usage;
    const char* name = get_strategy_name(strategy);
    if (name[0] != '\0') {
        fprintf(out, "memstrategy \"%s\" (%s)\n", name, strategy_status_name(st.status));
    } else {
        fprintf(out, "memstrategy (%s)\n", strategy_status_name(st.status));
    }
    fprintf(out, "  %-18s%" PRIu64 " bytes in %" PRIu64 " blocks\n", "current usage", u->current_bytes,
            u->live_blocks);
    fprintf(out, "  %-18s%" PRIu64 " bytes (over-report bound %" PRIu64 ")\n", "peak usage", u->peak_bytes,
            u->peak_overreport_bound);
    fprintf(out, "  %-18s%" PRIu64 " bytes in %" PRIu64 " allocations\n", "total allocated",
            u->total_allocated_bytes, u->allocations);
    fprintf(out, "  %-18s%" PRIu64 " bytes in %" PRIu64 " deallocations\n", "total freed",
            u->total_freed_bytes, u->deallocations);
    if (st.memory_limit != 0) {
        fprintf(out, "  %-18s%" PRIu64 " bytes\n", "memory limit", st.memory_limit);
    } else {
        fprintf(out, "  %-18snone\n", "memory limit");
    }
    uint64_t errors = 0;
    for (unsigned kind = 0; kind < STRATEGY_ERROR_COUNT; kind++) {
        if (listed_error(kind)) errors += st.errors[kind];
    }
    if (errors == 0) {
        fprintf(out, "  %-18snone\n", "errors");
    } else {
        fprintf(out, "  %-18s%" PRIu64 " (", "errors", errors);
        const char* separator = "";
        for (unsigned kind = 0; kind < STRATEGY_ERROR_COUNT; kind++) {
            if (!listed_error(kind) || st.errors[kind] == 0) continue;
            fprintf(out, "%s%s %" PRIu64, separator, strategy_error_name((StrategyError)kind), st.errors[kind]);
            separator = ", ";
        }
        fprintf(out, "); last: %s\n", strategy_error_name(st.last_error));
    }
    if (st.size_histogram) {
        fprintf(out, "  %-18s", "sizes (bytes)");
        const char* separator = "";
        for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
            if (st.size_classes[k] == 0) continue;
            fprintf(out, "%s%" PRIu64 "-%" PRIu64 ": %" PRIu64, separator, UINT64_C(1) << k,
                    (UINT64_C(1) << k) + ((UINT64_C(1) << k) - 1), st.size_classes[k]);
            separator = ", ";
        }
        fprintf(out, "%s\n", separator[0] == '\0' ? "none" : "");
    }
    return finish(out);
}

/* ---- JSON ------------------------------------------------------------------ */

static void put_json_string(const char* text, FILE* out) {
    fputc('"', out);
    for (const unsigned char* p = (const unsigned char*)text; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', out);
            fputc(*p, out);
        } else if (*p < 0x20) {
            fprintf(out, "\\u%04x", (unsigned)*p);
        } else {
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

bool print_strategy_json(const DefaultStrategy* strategy, FILE* out) {
    StrategyStats st;
    if (out == NULL || !default_strategy_snapshot(strategy, &st)) return false;
    const MemStatsSnapshot* u = &st.usage;
    fputs("{\"name\":", out);
    put_json_string(get_strategy_name(strategy), out);
    fputs(",\"status\":", out);
    put_json_string(strategy_status_name(st.status), out);
    fprintf(out,
            ",\"current_bytes\":%" PRIu64 ",\"peak_bytes\":%" PRIu64 ",\"peak_overreport_bound_bytes\":%" PRIu64
            ",\"total_allocated_bytes\":%" PRIu64 ",\"total_freed_bytes\":%" PRIu64 ",\"allocations\":%" PRIu64
            ",\"deallocations\":%" PRIu64 ",\"live_blocks\":%" PRIu64 ",\"memory_limit_bytes\":%" PRIu64,
            u->current_bytes, u->peak_bytes, u->peak_overreport_bound, u->total_allocated_bytes,
            u->total_freed_bytes, u->allocations, u->deallocations, u->live_blocks, st.memory_limit);
    fputs(",\"last_error\":\"", out);
    put_identifier(strategy_error_name(st.last_error), out);
    fputs("\",\"errors\":{", out);
    const char* separator = "";
    for (unsigned kind = 0; kind < STRATEGY_ERROR_COUNT; kind++) {
        if (!listed_error(kind)) continue;
        fprintf(out, "%s\"", separator);
        put_identifier(strategy_error_name((StrategyError)kind), out);
        fprintf(out, "\":%" PRIu64, st.errors[kind]);
        separator = ",";
    }
    fputc('}', out);
    if (st.size_histogram) {
        fputs(",\"size_classes\":[", out);
        for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
            fprintf(out, "%s%" PRIu64, k == 0 ? "" : ",", st.size_classes[k]);
        }
        fputc(']', out);
    }
    fputs("}\n", out);
    return finish(out);
}

/* ---- Prometheus text exposition format ------------------------------------ */

typedef struct metric_family {
    const char* name;
    const char* type;
    const char* help;
    size_t offset; /* of the uint64_t figure in StrategyStats */
} metric_family;

static const metric_family kFamilies[] = {
    {"memstrategy_current_bytes", "gauge", "Bytes currently allocated (as callers asked for them).",
     offsetof(StrategyStats, usage.current_bytes)},
    {"memstrategy_peak_bytes", "gauge", "High-water mark of current bytes (never below the true one).",
     offsetof(StrategyStats, usage.peak_bytes)},
    {"memstrategy_peak_overreport_bytes", "gauge", "Most the peak may exceed the true high-water mark by.",
     offsetof(StrategyStats, usage.peak_overreport_bound)},
    {"memstrategy_allocated_bytes_total", "counter", "Bytes allocated since the strategy was created.",
     offsetof(StrategyStats, usage.total_allocated_bytes)},
    {"memstrategy_freed_bytes_total", "counter", "Bytes freed since the strategy was created.",
     offsetof(StrategyStats, usage.total_freed_bytes)},
    {"memstrategy_allocations_total", "counter", "Successful allocations.",
     offsetof(StrategyStats, usage.allocations)},
    {"memstrategy_deallocations_total", "counter", "Successful deallocations.",
     offsetof(StrategyStats, usage.deallocations)},
    {"memstrategy_live_blocks", "gauge", "Blocks currently allocated.", offsetof(StrategyStats, usage.live_blocks)},
    {"memstrategy_limit_bytes", "gauge", "Memory limit in bytes (0: unlimited).",
     offsetof(StrategyStats, memory_limit)},
};

static void put_label_value(const char* text, FILE* out) {
    fputc('"', out);
    for (; *text != '\0'; text++) {
        if (*text == '\\' || *text == '"') {
            fputc('\\', out);
            fputc(*text, out);
        } else if (*text == '\n') {
            fputs("\\n", out);
        } else {
            fputc(*text, out);
        }
    }
    fputc('"', out);
}

static void put_family_header(const char* name, const char* type, const char* help, FILE* out) {
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t figure_at(const StrategyStats* st, size_t offset) {
    return *(const uint64_t*)(const void*)((const char*)st + offset);
}

bool print_strategies_prometheus(const DefaultStrategy* const* strategies, size_t count, FILE* out) {
    if (out == NULL || (strategies == NULL && count > 0)) return false;
    if (count == 0) return true;
    for (size_t i = 0; i < count; i++) {
        if (strategies[i] == NULL) return false;
    }
    if (count > SIZE_MAX / sizeof(StrategyStats)) return false;
    StrategyStats* stats = malloc(count * sizeof *stats);
    if (stats == NULL) return false;
    for (size_t i = 0; i < count; i++) default_strategy_snapshot(strategies[i], &stats[i]);

    for (size_t f = 0; f < sizeof kFamilies / sizeof kFamilies[0]; f++) {
        const metric_family* family = &kFamilies[f];
        put_family_header(family->name, family->type, family->help, out);
        for (size_t i = 0; i < count; i++) {
            fprintf(out, "%s{name=", family->name);
            put_label_value(get_strategy_name(strategies[i]), out);
            fprintf(out, "} %" PRIu64 "\n", figure_at(&stats[i], family->offset));
        }
    }
    put_family_header("memstrategy_errors_total", "counter", "Errors recorded, by kind.", out);
    for (size_t i = 0; i < count; i++) {
        for (unsigned kind = 0; kind < STRATEGY_ERROR_COUNT; kind++) {
            if (!listed_error(kind)) continue;
            fputs("memstrategy_errors_total{name=", out);
            put_label_value(get_strategy_name(strategies[i]), out);
            fputs(",kind=\"", out);
            put_identifier(strategy_error_name((StrategyError)kind), out);
            fprintf(out, "\"} %" PRIu64 "\n", stats[i].errors[kind]);
        }
    }
    bool any_histogram = false;
    for (size_t i = 0; i < count; i++) any_histogram = any_histogram || stats[i].size_histogram;
    if (any_histogram) {
        put_family_header("memstrategy_allocation_size_bytes", "histogram",
                          "Successful allocations by requested size (power-of-two buckets).", out);
        for (size_t i = 0; i < count; i++) {
            if (!stats[i].size_histogram) continue;
            uint64_t cumulative = 0;
            for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
                cumulative += stats[i].size_classes[k];
                if (stats[i].size_classes[k] == 0 && k + 1 < STRATEGY_SIZE_CLASSES) continue;
                fputs("memstrategy_allocation_size_bytes_bucket{name=", out);
                put_label_value(get_strategy_name(strategies[i]), out);
                /* Class k holds sizes up to 2^(k+1)-1. */
                fprintf(out, ",le=\"%" PRIu64 "\"} %" PRIu64 "\n",
                        (UINT64_C(1) << k) + ((UINT64_C(1) << k) - 1), cumulative);
            }
            fputs("memstrategy_allocation_size_bytes_bucket{name=", out);
            put_label_value(get_strategy_name(strategies[i]), out);
            fprintf(out, ",le=\"+Inf\"} %" PRIu64 "\n", cumulative);
            fputs("memstrategy_allocation_size_bytes_sum{name=", out);
            put_label_value(get_strategy_name(strategies[i]), out);
            fprintf(out, "} %" PRIu64 "\n", stats[i].usage.total_allocated_bytes);
            fputs("memstrategy_allocation_size_bytes_count{name=", out);
            put_label_value(get_strategy_name(strategies[i]), out);
            fprintf(out, "} %" PRIu64 "\n", cumulative);
        }
    }
    free(stats);
    return finish(out);
}

bool print_strategy_prometheus(const DefaultStrategy* strategy, FILE* out) {
    return print_strategies_prometheus(&strategy, 1, out);
}
