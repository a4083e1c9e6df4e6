/* The ops fuzz target's printers op (OP_PRINT): runs the printers of
 * strategy_report.h and leak_report.h on the run's two strategies and
 * checks their output against the shadow model (ops.h): text, JSON checked
 * against the grammar and Prometheus output, every figure equal to the
 * shadow's, every escaped name intact, and the leak report listing each
 * live block once, under its STRATEGY_ALLOCATE site when it has one; then
 * the documented refusals (NULL arguments, a stream that refuses writes).
 * The rest of the target, and what it checks after every step, is in
 * ops.c. */
#define _POSIX_C_SOURCE 200809L /* open_memstream, fmemopen */

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "fuzz_input.h"
#include "leak_report.h"
#include "ops.h"
#include "strategy_report.h"

/* ---- reading the printers' output ----------------------------------------- */

/* Each take_* consumes what it names at *p and returns true, or returns
 * false leaving *p wherever it stopped. */
static bool take(const char** p, const char* text) {
    size_t n = strlen(text);
    if (strncmp(*p, text, n) != 0) return false;
    *p += n;
    return true;
}

static bool take_bytes(const char** p, const char* bytes, size_t n) {
    if (strncmp(*p, bytes, n) != 0) return false;
    *p += n;
    return true;
}

/* A decimal number (digits only) that fits in 64 bits. */
static bool take_u64(const char** p, uint64_t* value) {
    const char* at = *p;
    uint64_t v = 0;
    if (*at < '0' || *at > '9') return false;
    for (; *at >= '0' && *at <= '9'; at++) {
        unsigned digit = (unsigned)(*at - '0');
        if (v > (UINT64_MAX - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *value = v;
    *p = at;
    return true;
}

/* `word` then `next` (so a word that merely starts another is not taken). */
static bool take_word(const char** p, const char* word, const char* next) {
    const char* at = *p;
    if (!take(&at, word) || !take(&at, next)) return false;
    *p = at;
    return true;
}

/* A decimal number equal to `want`. */
static bool take_value(const char** p, uint64_t want) {
    uint64_t v;
    return take_u64(p, &v) && v == want;
}

/* strategy_error_name with spaces as underscores (strategy_report.h),
 * made once (the fuzzer runs one input at a time). */
static const char* error_identifier(unsigned kind) {
    static char names[STRATEGY_ERROR_COUNT][32];
    static bool made;
    if (!made) {
        for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) {
            snprintf(names[k], sizeof names[k], "%s", strategy_error_name((StrategyError)k));
            for (char* c = names[k]; *c != '\0'; c++) {
                if (*c == ' ') *c = '_';
            }
        }
        made = true;
    }
    return names[kind];
}

/* Error kinds the reports list: all but STRATEGY_OK and the leak report. */
static bool listed_kind(unsigned kind) { return kind != STRATEGY_OK && kind != STRATEGY_ERROR_LEAK; }

/* ---- JSON: checked against the grammar, without building a tree ---------- */

typedef struct JsonCursor {
    const char* p;
    int depth;
} JsonCursor;

static void json_space(JsonCursor* c) {
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r') c->p++;
}

static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* The length of the UTF-8 sequence at `s` (whose first byte is >= 0x80),
 * or 0 if it is malformed. */
static size_t utf8_length(const unsigned char* s) {
    unsigned char c = s[0];
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
    }
    return n;
}

/* A string at c->p: well formed (escapes, no raw control characters, valid
 * UTF-8).  Its decoded bytes go to out (if not NULL; at most `capacity`,
 * else false) and their number to *length. */
static bool json_string(JsonCursor* c, char* out, size_t capacity, size_t* length) {
    const unsigned char* p = (const unsigned char*)c->p;
    size_t n = 0;
    if (*p++ != '"') return false;
    while (*p != '"') {
        unsigned char decoded[4] = {*p};
        size_t run = 1, size = 1;
        if (*p < 0x20) return false; /* a raw control character, or the end of the text */
        if (*p == '\\') {
            run = 2;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/': decoded[0] = p[1]; break;
            case 'b': decoded[0] = '\b'; break;
            case 'f': decoded[0] = '\f'; break;
            case 'n': decoded[0] = '\n'; break;
            case 'r': decoded[0] = '\r'; break;
            case 't': decoded[0] = '\t'; break;
            case 'u': {
                unsigned v = 0;
                for (size_t i = 2; i < 6; i++) {
                    int h = hex_digit((char)p[i]);
                    if (h < 0) return false;
                    v = v * 16 + (unsigned)h;
                }
                if (v >= 0xd800 && v <= 0xdfff) return false; /* no surrogate pairs are printed */
                run = 6;
                if (v < 0x80) {
                    decoded[0] = (unsigned char)v;
                } else if (v < 0x800) {
                    decoded[0] = (unsigned char)(0xc0 | v >> 6);
                    decoded[1] = (unsigned char)(0x80 | (v & 0x3f));
                    size = 2;
                } else {
                    decoded[0] = (unsigned char)(0xe0 | v >> 12);
                    decoded[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3f));
                    decoded[2] = (unsigned char)(0x80 | (v & 0x3f));
                    size = 3;
                }
                break;
            }
            default: return false;
            }
        } else if (*p >= 0x80) {
            run = size = utf8_length(p);
            if (run == 0) return false;
            memcpy(decoded, p, run);
        }
        if (out != NULL) {
            if (n + size > capacity) return false;
            memcpy(out + n, decoded, size);
        }
        n += size;
        p += run;
    }
    c->p = (const char*)p + 1;
    if (length != NULL) *length = n;
    return true;
}

static bool json_number(JsonCursor* c) {
    const char* p = c->p;
    if (*p == '-') p++;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (*p >= '0' && *p <= '9') p++;
    } else {
        return false;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    c->p = p;
    return true;
}

static bool json_value(JsonCursor* c);

/* The members of an object or the elements of an array, after c->p's '{'
 * or '['. */
static bool json_members(JsonCursor* c, bool object) {
    char close = object ? '}' : ']';
    c->p++;
    json_space(c);
    if (*c->p == close) {
        c->p++;
        return true;
    }
    for (;;) {
        if (object) {
            if (!json_string(c, NULL, 0, NULL)) return false;
            json_space(c);
            if (*c->p != ':') return false;
            c->p++;
        }
        if (!json_value(c)) return false;
        json_space(c);
        if (*c->p == close) {
            c->p++;
            return true;
        }
        if (*c->p != ',') return false;
        c->p++;
        json_space(c);
    }
}

static bool json_value(JsonCursor* c) {
    json_space(c);
    switch (*c->p) {
    case '{':
    case '[': {
        if (++c->depth > 8) return false; /* the printers nest 3 deep */
        bool ok = json_members(c, *c->p == '{');
        c->depth--;
        return ok;
    }
    case '"': return json_string(c, NULL, 0, NULL);
    case 't': return take(&c->p, "true");
    case 'f': return take(&c->p, "false");
    case 'n': return take(&c->p, "null");
    default: return json_number(c);
    }
}

/* True if `text` is one JSON value and nothing else but white space. */
static bool json_valid(const char* text) {
    JsonCursor c = {text, 0};
    if (!json_value(&c)) return false;
    json_space(&c);
    return *c.p == '\0';
}

/* What follows the one occurrence of `pattern` in `text` (NULL if none; two
 * fail the run). */
static const char* after_unique(const char* text, const char* pattern) {
    const char* at = strstr(text, pattern);
    if (at == NULL) return NULL;
    FUZZ_CHECK(strstr(at + 1, pattern) == NULL);
    return at + strlen(pattern);
}

/* What follows the one "key": in `json` (NULL if none; two fail the run).
 * Keys are found by text: in a valid document "key": cannot occur inside
 * a string (a quote there is escaped). */
static const char* json_key(const char* json, const char* key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    return after_unique(json, pattern);
}

/* The unsigned integer value of "key". */
static uint64_t json_u64(const char* json, const char* key) {
    const char* p = json_key(json, key);
    uint64_t v = 0;
    FUZZ_CHECK(p != NULL && take_u64(&p, &v) && (*p == ',' || *p == '}'));
    return v;
}

/* Checks that the string value of "key" decodes to `want` (`length` bytes). */
static void json_string_is(const char* json, const char* key, const char* want, size_t length) {
    JsonCursor c = {json_key(json, key), 0};
    char decoded[64];
    size_t n = 0;
    FUZZ_CHECK(c.p != NULL && json_string(&c, decoded, sizeof decoded, &n));
    FUZZ_CHECK(n == length && memcmp(decoded, want, n) == 0);
}

/* ---- strategy_report.h -------------------------------------------------- */

/* What the printers show of one strategy, from the shadow. */
enum { FIG_CURRENT, FIG_PEAK, FIG_BOUND, FIG_ALLOCATED, FIG_FREED, FIG_ALLOCATIONS, FIG_DEALLOCATIONS, FIG_LIVE, FIG_LIMIT };
typedef struct Figures {
    const char* name;
    size_t name_length;
    StrategyStatus status;
    StrategyError last_error;
    uint64_t family[9]; /* FIG_*, in the order of kFamilies */
    uint64_t errors[STRATEGY_ERROR_COUNT];
    const uint64_t* size_classes; /* NULL without the histogram */
} Figures;

/* The families strategy_report.h lists, with their types; then the error
 * counts and the histogram. */
#define FAMILY_ERRORS 9
#define FAMILY_SIZES 10
#define FAMILIES 11
static const struct {
    const char* name;
    const char* type;
} kFamilies[FAMILIES] = {
    {"memstrategy_current_bytes", "gauge"},
    {"memstrategy_peak_bytes", "gauge"},
    {"memstrategy_peak_overreport_bytes", "gauge"},
    {"memstrategy_allocated_bytes_total", "counter"},
    {"memstrategy_freed_bytes_total", "counter"},
    {"memstrategy_allocations_total", "counter"},
    {"memstrategy_deallocations_total", "counter"},
    {"memstrategy_live_blocks", "gauge"},
    {"memstrategy_limit_bytes", "gauge"},
    {"memstrategy_errors_total", "counter"},
    {"memstrategy_allocation_size_bytes", "histogram"},
};

static Figures main_figures(const Run* r) {
    const Shadow* sh = &r->shadow;
    Figures f = {kMainName,
                 sizeof kMainName - 1,
                 sh->status,
                 sh->last_error,
                 {sh->current, sh->peak, 0, sh->total_allocated, sh->total_freed, sh->allocations,
                  sh->deallocations, r->live_count, r->limit},
                 {0},
                 r->histogram ? sh->size_classes : NULL};
    memcpy(f.errors, sh->errors, sizeof f.errors);
    return f;
}

static Figures other_figures(const Run* r) {
    Figures f = {"",
                 0,
                 STRATEGY_ACTIVE,
                 r->other_invalid_pointer != 0 ? STRATEGY_ERROR_WRONG_STRATEGY : STRATEGY_OK,
                 {r->other_current, r->other_peak, 0, r->other_total_allocated, r->other_total_freed,
                  r->other_allocations, r->other_deallocations, r->other_live_count, 0},
                 {0},
                 NULL};
    f.errors[STRATEGY_ERROR_WRONG_STRATEGY] = r->other_invalid_pointer;
    return f;
}

/* The text after `label` and its padding, on the one line of `text` that
 * starts with two spaces and `label`; NULL if there is none. */
static const char* report_line(const char* text, const char* label) {
    char pattern[32];
    snprintf(pattern, sizeof pattern, "\n  %s ", label);
    const char* at = after_unique(text, pattern);
    if (at == NULL) return NULL;
    while (*at == ' ') at++;
    return at;
}

/* print_strategy_report: the lines strategy_report.h shows, with the
 * shadow's figures (the layout is for reading, so only the labels, the
 * words around the numbers and the numbers are compared, not the padding,
 * nor the order of the error kinds). */
static void check_report_text(const Figures* f, const char* text) {
    const uint64_t* v = f->family;
    const char* p = text;
    if (f->name_length != 0) {
        FUZZ_CHECK(take(&p, "memstrategy \"") && take_bytes(&p, f->name, f->name_length) && take(&p, "\" ("));
    } else {
        FUZZ_CHECK(take(&p, "memstrategy ("));
    }
    FUZZ_CHECK(take(&p, strategy_status_name(f->status)) && take(&p, ")\n"));
    p = report_line(text, "current usage");
    FUZZ_CHECK(p != NULL && take_value(&p, v[FIG_CURRENT]) && take(&p, " bytes in ") && take_value(&p, v[FIG_LIVE]) &&
               take(&p, " blocks\n"));
    p = report_line(text, "peak usage");
    FUZZ_CHECK(p != NULL && take_value(&p, v[FIG_PEAK]) && take(&p, " bytes (over-report bound ") &&
               take_value(&p, v[FIG_BOUND]) && take(&p, ")\n"));
    p = report_line(text, "total allocated");
    FUZZ_CHECK(p != NULL && take_value(&p, v[FIG_ALLOCATED]) && take(&p, " bytes in ") &&
               take_value(&p, v[FIG_ALLOCATIONS]) && take(&p, " allocations\n"));
    p = report_line(text, "total freed");
    FUZZ_CHECK(p != NULL && take_value(&p, v[FIG_FREED]) && take(&p, " bytes in ") &&
               take_value(&p, v[FIG_DEALLOCATIONS]) && take(&p, " deallocations\n"));
    p = report_line(text, "memory limit");
    FUZZ_CHECK(p != NULL && (v[FIG_LIMIT] != 0 ? take_value(&p, v[FIG_LIMIT]) && take(&p, " bytes\n")
                                               : take(&p, "none\n")));

    /* "errors            2 (limit exceeded 2); last: limit exceeded" */
    uint64_t total = 0;
    unsigned kinds = 0;
    for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) {
        if (listed_kind(k)) total += f->errors[k];
        if (listed_kind(k) && f->errors[k] != 0) kinds++;
    }
    p = report_line(text, "errors");
    FUZZ_CHECK(p != NULL);
    if (total == 0) {
        FUZZ_CHECK(take(&p, "none\n"));
    } else {
        FUZZ_CHECK(take_value(&p, total) && take(&p, " ("));
        bool seen[STRATEGY_ERROR_COUNT] = {false};
        for (unsigned i = 0; i < kinds; i++) {
            FUZZ_CHECK(i == 0 || take(&p, ", "));
            unsigned k = 0;
            while (k < STRATEGY_ERROR_COUNT && !(listed_kind(k) && take_word(&p, strategy_error_name((StrategyError)k), " "))) {
                k++;
            }
            FUZZ_CHECK(k < STRATEGY_ERROR_COUNT && !seen[k] && f->errors[k] != 0 && take_value(&p, f->errors[k]));
            seen[k] = true;
        }
        FUZZ_CHECK(take(&p, "); last: ") && take(&p, strategy_error_name(f->last_error)) && take(&p, "\n"));
    }

    /* With the histogram: "sizes (bytes)     1-1: 3, 16-31: 2" (or none). */
    p = report_line(text, "sizes (bytes)");
    FUZZ_CHECK((p != NULL) == (f->size_classes != NULL));
    if (p == NULL) return;
    unsigned classes = 0;
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) classes += f->size_classes[k] != 0;
    if (classes == 0) {
        FUZZ_CHECK(take(&p, "none\n"));
        return;
    }
    uint64_t previous = 0;
    for (unsigned i = 0; i < classes; i++) {
        uint64_t low = 0, high = 0;
        FUZZ_CHECK((i == 0 || take(&p, ", ")) && take_u64(&p, &low) && take(&p, "-") && take_u64(&p, &high) &&
                   take(&p, ": "));
        FUZZ_CHECK(low != 0 && (low & (low - 1)) == 0 && high == low + (low - 1) && low > previous);
        previous = low;
        unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)low);
        FUZZ_CHECK(f->size_classes[k] != 0 && take_value(&p, f->size_classes[k]));
    }
    FUZZ_CHECK(take(&p, "\n"));
}

/* print_strategy_json: valid JSON on one line, each figure the shadow's. */
static void check_report_json(const Figures* f, const char* text) {
    const uint64_t* v = f->family;
    FUZZ_CHECK(json_valid(text) && text[0] == '{');
    const char* newline = strchr(text, '\n');
    FUZZ_CHECK(newline != NULL && newline[1] == '\0');
    json_string_is(text, "name", f->name, f->name_length);
    const char* status = strategy_status_name(f->status);
    json_string_is(text, "status", status, strlen(status));
    FUZZ_CHECK(json_u64(text, "current_bytes") == v[FIG_CURRENT]);
    FUZZ_CHECK(json_u64(text, "peak_bytes") == v[FIG_PEAK]);
    FUZZ_CHECK(json_u64(text, "peak_overreport_bound_bytes") == v[FIG_BOUND]);
    FUZZ_CHECK(json_u64(text, "total_allocated_bytes") == v[FIG_ALLOCATED]);
    FUZZ_CHECK(json_u64(text, "total_freed_bytes") == v[FIG_FREED]);
    FUZZ_CHECK(json_u64(text, "allocations") == v[FIG_ALLOCATIONS]);
    FUZZ_CHECK(json_u64(text, "deallocations") == v[FIG_DEALLOCATIONS]);
    FUZZ_CHECK(json_u64(text, "live_blocks") == v[FIG_LIVE]);
    FUZZ_CHECK(json_u64(text, "memory_limit_bytes") == v[FIG_LIMIT]);
    const char* id = error_identifier(f->last_error);
    json_string_is(text, "last_error", id, strlen(id));
    FUZZ_CHECK(json_key(text, "errors") != NULL);
    for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) {
        id = error_identifier(k);
        if (listed_kind(k)) {
            FUZZ_CHECK(json_u64(text, id) == f->errors[k]);
        } else {
            FUZZ_CHECK(json_key(text, id) == NULL);
        }
    }
    const char* p = json_key(text, "size_classes");
    FUZZ_CHECK((p != NULL) == (f->size_classes != NULL));
    if (p == NULL) return;
    FUZZ_CHECK(take(&p, "["));
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
        FUZZ_CHECK((k == 0 || take(&p, ",")) && take_value(&p, f->size_classes[k]));
    }
    FUZZ_CHECK(take(&p, "]"));
}

/* A label value between quotes at *p: only \\, \" and \n may be escaped
 * (the exposition format); decoded into out. */
static bool take_label_value(const char** p, char* out, size_t capacity, size_t* length) {
    const char* at = *p;
    size_t n = 0;
    if (*at++ != '"') return false;
    for (; *at != '"'; at++) {
        char ch = *at;
        if (ch == '\0' || ch == '\n') return false;
        if (ch == '\\') {
            at++;
            if (*at != '\\' && *at != '"' && *at != 'n') return false;
            ch = *at == 'n' ? '\n' : *at;
        }
        if (n == capacity) return false;
        out[n++] = ch;
    }
    *p = at + 1;
    *length = n;
    return true;
}

static bool is_name_char(char ch, bool first) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
           (!first && ch >= '0' && ch <= '9');
}

/* The shadow's cumulative count of allocations up to `le` bytes: the size
 * classes whose largest size (2^(k+1) - 1) is at most `le`. */
static uint64_t cumulative_sizes(const uint64_t* classes, uint64_t le) {
    uint64_t n = 0;
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
        if ((UINT64_C(1) << k) + ((UINT64_C(1) << k) - 1) <= le) n += classes[k];
    }
    return n;
}

/* One sample line (without its newline) of `count` strategies' output:
 * well formed, of a documented family, labelled with one of the strategies'
 * names, with the shadow's value.  Counts it in seen[family][strategy]. */
static void check_prometheus_sample(const char* line, const Figures* figures, size_t count,
                                    unsigned seen[FAMILIES][2], unsigned kinds_seen[2][STRATEGY_ERROR_COUNT]) {
    const char* p = line;
    const char* metric = p;
    FUZZ_CHECK(is_name_char(*p, true));
    while (is_name_char(*p, false)) p++;
    size_t metric_length = (size_t)(p - metric);
    FUZZ_CHECK(take(&p, "{"));
    char name[64] = "", kind[32] = "", le[32] = "";
    size_t name_length = SIZE_MAX, kind_length = SIZE_MAX, le_length = SIZE_MAX;
    for (bool first = true; !take(&p, "}"); first = false) {
        FUZZ_CHECK(first || take(&p, ","));
        if (take(&p, "name=")) {
            FUZZ_CHECK(name_length == SIZE_MAX && take_label_value(&p, name, sizeof name, &name_length));
        } else if (take(&p, "kind=")) {
            FUZZ_CHECK(kind_length == SIZE_MAX && take_label_value(&p, kind, sizeof kind - 1, &kind_length));
            kind[kind_length] = '\0';
        } else {
            FUZZ_CHECK(take(&p, "le=") && le_length == SIZE_MAX && take_label_value(&p, le, sizeof le - 1, &le_length));
            le[le_length] = '\0';
        }
    }
    uint64_t value = 0;
    FUZZ_CHECK(take(&p, " ") && take_u64(&p, &value) && *p == '\n');
    size_t s = 0;
    while (s < count && !(name_length == figures[s].name_length && memcmp(name, figures[s].name, name_length) == 0)) {
        s++;
    }
    FUZZ_CHECK(s < count);
    const Figures* f = &figures[s];
    for (unsigned i = 0; i < FAMILY_ERRORS; i++) {
        if (metric_length == strlen(kFamilies[i].name) && strncmp(metric, kFamilies[i].name, metric_length) == 0) {
            FUZZ_CHECK(kind_length == SIZE_MAX && le_length == SIZE_MAX && value == f->family[i]);
            seen[i][s]++;
            return;
        }
    }
    const char* rest = metric;
    if (take(&rest, "memstrategy_errors_total{")) {
        FUZZ_CHECK(le_length == SIZE_MAX && kind_length != SIZE_MAX);
        unsigned k = 0;
        while (k < STRATEGY_ERROR_COUNT && !(listed_kind(k) && strcmp(kind, error_identifier(k)) == 0)) k++;
        FUZZ_CHECK(k < STRATEGY_ERROR_COUNT); /* a listed kind */
        FUZZ_CHECK(value == f->errors[k] && kinds_seen[s][k]++ == 0);
        seen[FAMILY_ERRORS][s]++;
        return;
    }
    FUZZ_CHECK(f->size_classes != NULL && kind_length == SIZE_MAX && take(&rest, "memstrategy_allocation_size_bytes_"));
    uint64_t allocations = f->family[FIG_ALLOCATIONS];
    if (take(&rest, "bucket{")) {
        const char* bound = le;
        uint64_t at_most = 0;
        FUZZ_CHECK(le_length != SIZE_MAX);
        if (strcmp(le, "+Inf") == 0) {
            FUZZ_CHECK(value == allocations);
            seen[FAMILY_SIZES][s]++;
        } else {
            FUZZ_CHECK(take_u64(&bound, &at_most) && *bound == '\0' && value == cumulative_sizes(f->size_classes, at_most));
        }
    } else if (take(&rest, "sum{")) {
        FUZZ_CHECK(le_length == SIZE_MAX && value == f->family[FIG_ALLOCATED]);
        seen[FAMILY_SIZES][s]++;
    } else {
        FUZZ_CHECK(take(&rest, "count{") && le_length == SIZE_MAX && value == allocations);
        seen[FAMILY_SIZES][s]++;
    }
}

/* print_strategy_prometheus (count 1: the main strategy) or
 * print_strategies_prometheus (count 2: and the other): every line a # HELP,
 * a # TYPE or a well-formed sample; each family's # HELP and # TYPE once
 * (with its documented type); one sample per family and strategy, one per
 * error kind, and the histogram's +Inf bucket, sum and count for the main
 * strategy when it has one; every value the shadow's. */
static void check_prometheus(const Run* r, const char* text, size_t count) {
    Figures figures[2] = {main_figures(r), other_figures(r)};
    unsigned help[FAMILIES] = {0}, type[FAMILIES] = {0};
    unsigned seen[FAMILIES][2] = {{0}};
    unsigned kinds_seen[2][STRATEGY_ERROR_COUNT] = {{0}};
    size_t length = strlen(text);
    FUZZ_CHECK(length != 0 && text[length - 1] == '\n');
    for (const char* line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
        const char* p = line;
        bool is_help = take(&p, "# HELP ");
        if (is_help || take(&p, "# TYPE ")) {
            unsigned f = 0;
            while (f < FAMILIES && !take_word(&p, kFamilies[f].name, " ")) f++;
            FUZZ_CHECK(f < FAMILIES);
            if (is_help) {
                FUZZ_CHECK(*p != '\n'); /* some help text */
                help[f]++;
            } else {
                FUZZ_CHECK(take(&p, kFamilies[f].type) && *p == '\n');
                type[f]++;
            }
            continue;
        }
        check_prometheus_sample(line, figures, count, seen, kinds_seen);
    }
    unsigned listed = 0;
    for (unsigned k = 0; k < STRATEGY_ERROR_COUNT; k++) listed += listed_kind(k);
    for (unsigned f = 0; f < FAMILIES; f++) {
        bool shown = f != FAMILY_SIZES || r->histogram;
        FUZZ_CHECK(help[f] == shown && type[f] == shown);
        for (size_t s = 0; s < count; s++) {
            unsigned want = f < FAMILY_ERRORS ? 1 : f == FAMILY_ERRORS ? listed : figures[s].size_classes != NULL ? 3 : 0;
            FUZZ_CHECK(seen[f][s] == want);
        }
    }
}

/* ---- leak_report.h -------------------------------------------------------- */

/* Live blocks with STRATEGY_ALLOCATE site `site`: not resized since (their
 * site is documented) and resized (not documented: either that site or a
 * return-address site). */
static void site_blocks(const Run* r, int site, uint64_t* sure, uint64_t* maybe) {
    *sure = *maybe = 0;
    for (size_t i = 0; i < r->live_count; i++) {
        if (r->live[i].site != site) continue;
        if (r->live[i].resized) {
            ++*maybe;
        } else {
            ++*sure;
        }
    }
}

/* The site id of "file:line" at *p (a file OP_ALLOCATE_AT names), or 0. */
static int take_site(const char** p) {
    uint64_t line = 0;
    const char* at = *p;
    bool c = take_bytes(&at, SITE_FILE_C, sizeof SITE_FILE_C - 1);
    if (!c && !take_bytes(&at, SITE_FILE_A, sizeof SITE_FILE_A - 1)) return 0;
    if (!take(&at, ":") || !take_u64(&at, &line) || line < 1 || line > SITE_LINES) return 0;
    *p = at;
    return site_number(c, (int)line);
}

/* print_leak_report: per site (largest total first) "memstrategy: leak: B
 * bytes in N block(s) allocated at SITE", then N lines "    S bytes at P"
 * (largest first); every live block exactly once, with its size, under its
 * STRATEGY_ALLOCATE site if it has one (else under a return-address site);
 * nothing else. */
static void check_leak_text(const Run* r, const char* text) {
    bool listed[MAX_LIVE] = {false};
    bool site_seen[SITE_IDS] = {false};
    uint64_t bytes = 0, blocks = 0, previous_site = UINT64_MAX;
    const char* p = text;
    while (*p != '\0') {
        uint64_t site_bytes = 0, n = 0;
        FUZZ_CHECK(take(&p, "memstrategy: leak: ") && take_u64(&p, &site_bytes) && take(&p, " bytes in ") &&
                   take_u64(&p, &n) && take(&p, n == 1 ? " block allocated at " : " blocks allocated at "));
        FUZZ_CHECK(n != 0 && site_bytes <= previous_site);
        previous_site = site_bytes;
        int site = take_site(&p);
        if (site != 0) {
            FUZZ_CHECK(!site_seen[site] && take(&p, " ("));
            site_seen[site] = true;
        }
        const char* end = strchr(p, '\n');
        FUZZ_CHECK(end != NULL && end > p && (site == 0 || end[-1] == ')'));
        p = end + 1;
        uint64_t sum = 0, previous_size = UINT64_MAX;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t size = 0;
            void* at = NULL;
            int used = 0;
            FUZZ_CHECK(take(&p, "    ") && take_u64(&p, &size) && take(&p, " bytes at "));
            FUZZ_CHECK(sscanf(p, "%p%n", &at, &used) == 1 && used > 0);
            p += used;
            FUZZ_CHECK(take(&p, "\n") && size <= previous_size);
            previous_size = size;
            size_t j = 0;
            while (j < r->live_count && r->live[j].ptr != at) j++;
            const Block* b = &r->live[j];
            FUZZ_CHECK(j < r->live_count && !listed[j] && b->size == size);
            FUZZ_CHECK(b->site == site || (b->resized && site == 0));
            listed[j] = true;
            sum += size;
        }
        FUZZ_CHECK(sum == site_bytes);
        bytes += site_bytes;
        blocks += n;
    }
    FUZZ_CHECK(bytes == r->shadow.current && blocks == r->live_count);
}

/* print_leak_report_json with tracking: valid JSON whose totals are the
 * shadow's; per site (largest first) its bytes, blocks and sizes (largest
 * first) agree; "file" and "line" exactly for the STRATEGY_ALLOCATE sites,
 * each holding that site's live blocks. */
static void check_leak_json(const Run* r, const char* text) {
    FUZZ_CHECK(json_valid(text) && text[0] == '{');
    const char* p = json_key(text, "tracking");
    FUZZ_CHECK(p != NULL && take(&p, "true"));
    FUZZ_CHECK(json_u64(text, "live_bytes") == r->shadow.current);
    FUZZ_CHECK(json_u64(text, "live_blocks") == r->live_count);
    bool site_seen[SITE_IDS] = {false};
    uint64_t bytes = 0, blocks = 0, previous_site = UINT64_MAX;
    JsonCursor c = {json_key(text, "sites"), 0};
    FUZZ_CHECK(c.p != NULL && take(&c.p, "["));
    for (bool first = true; !take(&c.p, "]"); first = false) {
        FUZZ_CHECK((first || take(&c.p, ",")) && take(&c.p, "{"));
        uint64_t site_bytes = UINT64_MAX, n = UINT64_MAX, line = 0, sizes = 0, sum = 0;
        char file[64];
        size_t file_length = SIZE_MAX, location_length = 0;
        for (bool first_member = true; !take(&c.p, "}"); first_member = false) {
            char key[16];
            size_t key_length = 0;
            FUZZ_CHECK((first_member || take(&c.p, ",")) && json_string(&c, key, sizeof key - 1, &key_length) &&
                       take(&c.p, ":"));
            key[key_length] = '\0';
            if (strcmp(key, "site") == 0) {
                FUZZ_CHECK(json_string(&c, NULL, 0, &location_length) && location_length != 0);
            } else if (strcmp(key, "file") == 0) {
                FUZZ_CHECK(json_string(&c, file, sizeof file, &file_length));
            } else if (strcmp(key, "line") == 0) {
                FUZZ_CHECK(take_u64(&c.p, &line));
            } else if (strcmp(key, "bytes") == 0) {
                FUZZ_CHECK(take_u64(&c.p, &site_bytes));
            } else if (strcmp(key, "blocks") == 0) {
                FUZZ_CHECK(take_u64(&c.p, &n));
            } else {
                FUZZ_CHECK(strcmp(key, "sizes") == 0 && take(&c.p, "["));
                uint64_t previous_size = UINT64_MAX;
                for (bool first_size = true; !take(&c.p, "]"); first_size = false) {
                    uint64_t size = 0;
                    FUZZ_CHECK((first_size || take(&c.p, ",")) && take_u64(&c.p, &size) && size <= previous_size);
                    previous_size = size;
                    sizes++;
                    sum += size;
                }
            }
        }
        FUZZ_CHECK(location_length != 0 && n != 0 && n == sizes && site_bytes == sum && site_bytes <= previous_site);
        previous_site = site_bytes;
        FUZZ_CHECK((file_length != SIZE_MAX) == (line != 0));
        if (file_length != SIZE_MAX) {
            /* As "file:line", the form take_site reads. */
            char at_line[24];
            snprintf(at_line, sizeof at_line, ":%" PRIu64, line);
            char site_text[96];
            FUZZ_CHECK(file_length + strlen(at_line) < sizeof site_text);
            memcpy(site_text, file, file_length);
            memcpy(site_text + file_length, at_line, strlen(at_line) + 1);
            const char* f = site_text;
            int site = take_site(&f);
            FUZZ_CHECK(site != 0 && *f == '\0' && !site_seen[site]);
            site_seen[site] = true;
            uint64_t sure = 0, maybe = 0;
            site_blocks(r, site, &sure, &maybe);
            FUZZ_CHECK(n >= sure && n <= sure + maybe);
        }
        bytes += site_bytes;
        blocks += n;
    }
    FUZZ_CHECK(bytes == r->shadow.current && blocks == r->live_count);
    for (int site = 1; site < SITE_IDS; site++) {
        uint64_t sure = 0, maybe = 0;
        site_blocks(r, site, &sure, &maybe);
        if (sure != 0) FUZZ_CHECK(site_seen[site]);
    }
}

/* ---- the printers op ------------------------------------------------------ */

/* A stream into memory; after capture_close, data holds what was written
 * (NUL-terminated, size bytes, no NUL inside). */
typedef struct Capture {
    FILE* f;
    char* data;
    size_t size;
} Capture;

static void capture_open(Capture* c) {
    c->data = NULL;
    c->size = 0;
    c->f = open_memstream(&c->data, &c->size);
    FUZZ_CHECK(c->f != NULL);
}

static void capture_close(Capture* c) {
    FUZZ_CHECK(fclose(c->f) == 0);
    FUZZ_CHECK(c->data != NULL && strlen(c->data) == c->size);
}

#define PRINTERS 6

/* Runs printer `which` (0 text, 1 JSON, 2 Prometheus, 3 Prometheus of both
 * strategies, 4 leak report, 5 leak report JSON) on the main strategy into
 * `out`; text and JSON on the other (unnamed) strategy with `other`. */
static bool run_printer(const Run* r, unsigned which, bool other, FILE* out) {
    const DefaultStrategy* both[2] = {r->s, r->other};
    const DefaultStrategy* s = other ? r->other : r->s;
    switch (which) {
    case 0: return print_strategy_report(s, out);
    case 1: return print_strategy_json(s, out);
    case 2: return print_strategy_prometheus(r->s, out);
    case 3: return print_strategies_prometheus(both, 2, out);
    case 4: return print_leak_report(r->s, out);
    default: return print_leak_report_json(r->s, out);
    }
}

static void print_and_check(const Run* r, unsigned which) {
    Capture c;
    if (which < 2) {
        /* The other strategy first: it has no name. */
        Figures other = other_figures(r);
        capture_open(&c);
        bool ok = run_printer(r, which, true, c.f);
        capture_close(&c);
        FUZZ_CHECK(ok);
        if (which == 0) {
            check_report_text(&other, c.data);
        } else {
            check_report_json(&other, c.data);
        }
        free(c.data);
    }
    capture_open(&c);
    bool ok = run_printer(r, which, false, c.f);
    capture_close(&c);
    Figures figures = main_figures(r);
    switch (which) {
    case 0: FUZZ_CHECK(ok); check_report_text(&figures, c.data); break;
    case 1: FUZZ_CHECK(ok); check_report_json(&figures, c.data); break;
    case 2: FUZZ_CHECK(ok); check_prometheus(r, c.data, 1); break;
    case 3: FUZZ_CHECK(ok); check_prometheus(r, c.data, 2); break;
    case 4:
        /* Documented: false for a strategy that does not track; with
         * tracking nothing (and true) when no block is live. */
        FUZZ_CHECK(ok == r->tracking);
        if (ok) {
            FUZZ_CHECK((c.size == 0) == (r->live_count == 0));
            check_leak_text(r, c.data);
        }
        break;
    default:
        FUZZ_CHECK(ok);
        if (r->tracking) {
            check_leak_json(r, c.data);
        } else {
            /* "tracking":false and an empty list. */
            FUZZ_CHECK(json_valid(c.data));
            const char* p = json_key(c.data, "tracking");
            FUZZ_CHECK(p != NULL && take(&p, "false"));
            FUZZ_CHECK(json_u64(c.data, "live_bytes") == 0 && json_u64(c.data, "live_blocks") == 0);
            p = json_key(c.data, "sites");
            FUZZ_CHECK(p != NULL && take(&p, "[]"));
        }
        break;
    }
    free(c.data);
}

/* The documented refusals: NULL arguments; a stream that refuses writes (a
 * write error: false, except for a leak report with nothing to write); the
 * multi-strategy printer with count 0 (true), or a NULL strategy among
 * them (false), writing nothing in both cases. */
static void print_refusals(const Run* r) {
    Capture c;
    capture_open(&c);
    const DefaultStrategy* with_null[2] = {r->s, NULL};
    FUZZ_CHECK(print_strategies_prometheus(with_null, 0, c.f));
    FUZZ_CHECK(!print_strategies_prometheus(with_null, 2, c.f));
    FUZZ_CHECK(!print_strategies_prometheus(NULL, 1, c.f));
    capture_close(&c);
    FUZZ_CHECK(c.size == 0);
    free(c.data);
    capture_open(&c);
    FUZZ_CHECK(!print_strategy_report(NULL, c.f) && !print_strategy_report(r->s, NULL));
    FUZZ_CHECK(!print_strategy_json(NULL, c.f) && !print_strategy_json(r->s, NULL));
    FUZZ_CHECK(!print_strategy_prometheus(NULL, c.f) && !print_strategy_prometheus(r->s, NULL));
    FUZZ_CHECK(!print_strategies_prometheus(with_null, 1, NULL));
    FUZZ_CHECK(!print_leak_report(NULL, c.f) && !print_leak_report(r->s, NULL));
    FUZZ_CHECK(!print_leak_report_json(NULL, c.f) && !print_leak_report_json(r->s, NULL));
    FUZZ_CHECK(!print_leak_report(r->other, c.f)); /* does not track */
    capture_close(&c);
    free(c.data);
    for (unsigned which = 0; which < PRINTERS; which++) {
        char buffer[16] = "x";
        FILE* read_only = fmemopen(buffer, sizeof buffer, "r");
        FUZZ_CHECK(read_only != NULL);
        bool nothing_to_write = which == 4 && r->tracking && r->live_count == 0;
        FUZZ_CHECK(run_printer(r, which, false, read_only) == nothing_to_write);
        fclose(read_only);
    }
}

/* Selector % 8: 0-5 one printer (run_printer), 6 all of them, 7 the
 * refusals (which count as one).  Printing and checking the output costs
 * several ordinary steps, so each input gets PRINT_BUDGET printer runs and
 * later ones are skipped.  Printing changes nothing (check_all runs after
 * every op). */
void op_print(Run* r, uint8_t selector) {
    FUZZ_CHECK(strcmp(get_strategy_name(r->s), kMainName) == 0);
    FUZZ_CHECK(strcmp(get_strategy_name(r->other), "") == 0); /* no name */
    unsigned which = selector % 8;
    if (which == PRINTERS + 1) {
        if (r->prints_left != 0) {
            r->prints_left--;
            print_refusals(r);
        }
        return;
    }
    unsigned first = which == PRINTERS ? 0 : which, last = which == PRINTERS ? PRINTERS - 1 : which;
    for (unsigned i = first; i <= last && r->prints_left != 0; i++) {
        r->prints_left--;
        print_and_check(r, i);
    }
}
