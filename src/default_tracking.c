/* default_strategy: the record of live blocks and their allocation sites
 * (config.track_allocations) and the leak report printed from it
 * (leak_report.h).  Only strategies that track reach this file: the hot path
 * never does. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "default_strategy.h"
#include "default_strategy_internal.h"
#include "leak_report.h"

/* 64 shards chosen by the block's address, each a mutex and a small chained
 * hash table, so threads freeing and allocating different blocks rarely
 * meet on a lock. */
#define MS_TRACK_SHARDS 64u
#define MS_TRACK_BUCKETS 64u

typedef struct ms_track_node {
    struct ms_track_node* next;
    const void* block;
    size_t size;
    ms_site site;
} ms_track_node;

typedef struct ms_track_shard {
    pthread_mutex_t lock;
    ms_track_node* buckets[MS_TRACK_BUCKETS];
} ms_track_shard;

struct ms_tracking {
    ms_track_shard shards[MS_TRACK_SHARDS];
    /* Blocks allocated but not recorded: no memory for their record.
     * Relaxed: a count read on its own. */
    _Atomic uint64_t unrecorded;
};

static uint64_t address_hash(const void* block) {
    return ((uint64_t)(uintptr_t)block >> 4) * UINT64_C(0x9e3779b97f4a7c15);
}

static ms_track_shard* shard_of(ms_tracking* t, const void* block) {
    return &t->shards[address_hash(block) >> 58];
}

static ms_track_node** bucket_of(ms_track_shard* shard, const void* block) {
    return &shard->buckets[(address_hash(block) >> 52) & (MS_TRACK_BUCKETS - 1u)];
}

ms_tracking* ms_tracking_create(void) {
    ms_tracking* t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    for (unsigned i = 0; i < MS_TRACK_SHARDS; i++) pthread_mutex_init(&t->shards[i].lock, NULL);
    return t;
}

void ms_tracking_destroy(ms_tracking* t) {
    if (t == NULL) return;
    for (unsigned i = 0; i < MS_TRACK_SHARDS; i++) {
        for (unsigned b = 0; b < MS_TRACK_BUCKETS; b++) {
            ms_track_node* n = t->shards[i].buckets[b];
            while (n != NULL) {
                ms_track_node* next = n->next;
                free(n);
                n = next;
            }
        }
        pthread_mutex_destroy(&t->shards[i].lock);
    }
    free(t);
}

void ms_track_add(ms_default* s, const void* block, size_t size, const ms_site* site) {
    ms_track_node* n = malloc(sizeof *n);
    if (n == NULL) {
        /* Relaxed: a count read on its own. */
        ms_fetch_add_relaxed(&s->tracking->unrecorded, 1);
        return;
    }
    n->block = block;
    n->size = size;
    n->site = *site;
    ms_track_shard* shard = shard_of(s->tracking, block);
    pthread_mutex_lock(&shard->lock);
    ms_track_node** bucket = bucket_of(shard, block);
    n->next = *bucket;
    *bucket = n;
    pthread_mutex_unlock(&shard->lock);
}

void ms_track_remove(ms_default* s, const void* block) {
    ms_track_shard* shard = shard_of(s->tracking, block);
    ms_track_node* found = NULL;
    pthread_mutex_lock(&shard->lock);
    for (ms_track_node** at = bucket_of(shard, block); *at != NULL; at = &(*at)->next) {
        if ((*at)->block == block) {
            found = *at;
            *at = found->next;
            break;
        }
    }
    pthread_mutex_unlock(&shard->lock);
    free(found);
}

/* ---- the report ---------------------------------------------------------- */

typedef struct leak_entry {
    const void* block;
    size_t size;
    ms_site site;
    uint64_t site_bytes; /* the total of the entry's site, filled by group() */
} leak_entry;

/* Copies the record (shard by shard, each under its lock).  Returns the
 * entries (free them) and their number, or NULL with *count 0 when empty or
 * out of memory (*failed set). */
static leak_entry* collect(ms_tracking* t, size_t* count, bool* failed) {
    size_t capacity = 0, n = 0;
    leak_entry* entries = NULL;
    *failed = false;
    for (unsigned i = 0; i < MS_TRACK_SHARDS; i++) {
        ms_track_shard* shard = &t->shards[i];
        pthread_mutex_lock(&shard->lock);
        for (unsigned b = 0; b < MS_TRACK_BUCKETS && !*failed; b++) {
            for (const ms_track_node* node = shard->buckets[b]; node != NULL; node = node->next) {
                if (n == capacity) {
                    size_t grown = capacity == 0 ? 64 : capacity * 2;
                    leak_entry* more = realloc(entries, grown * sizeof *more);
                    if (more == NULL) {
                        *failed = true;
                        break;
                    }
                    entries = more;
                    capacity = grown;
                }
                entries[n++] = (leak_entry){node->block, node->size, node->site, 0};
            }
        }
        pthread_mutex_unlock(&shard->lock);
    }
    if (*failed) {
        free(entries);
        n = 0;
        entries = NULL;
    }
    *count = n;
    return entries;
}

/* Sites with file:line (STRATEGY_ALLOCATE) are one site per file:line,
 * whatever the return address (an inlined wrapper has several); the others
 * one per return address. */
static int compare_sites(const ms_site* a, const ms_site* b) {
    if ((a->file == NULL) != (b->file == NULL)) return a->file == NULL ? -1 : 1;
    if (a->file == NULL) {
        if (a->pc != b->pc) return (uintptr_t)a->pc < (uintptr_t)b->pc ? -1 : 1;
        return 0;
    }
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    return a->file == b->file ? 0 : strcmp(a->file, b->file);
}

static int by_site(const void* x, const void* y) {
    const leak_entry* a = x;
    const leak_entry* b = y;
    return compare_sites(&a->site, &b->site);
}

/* Largest site first, then the site itself (entries of one site together),
 * then the largest block first, then the address (a stable order). */
static int by_report_order(const void* x, const void* y) {
    const leak_entry* a = x;
    const leak_entry* b = y;
    if (a->site_bytes != b->site_bytes) return a->site_bytes > b->site_bytes ? -1 : 1;
    int c = compare_sites(&a->site, &b->site);
    if (c != 0) return c;
    if (a->size != b->size) return a->size > b->size ? -1 : 1;
    if (a->block != b->block) return (uintptr_t)a->block < (uintptr_t)b->block ? -1 : 1;
    return 0;
}

/* Sorts the entries into report order. */
static void group(leak_entry* entries, size_t n) {
    if (n == 0) return; /* entries may be NULL */
    qsort(entries, n, sizeof *entries, by_site);
    for (size_t start = 0; start < n;) {
        size_t end = start;
        uint64_t bytes = 0;
        while (end < n && compare_sites(&entries[end].site, &entries[start].site) == 0) bytes += entries[end++].size;
        for (size_t i = start; i < end; i++) entries[i].site_bytes = bytes;
        start = end;
    }
    qsort(entries, n, sizeof *entries, by_report_order);
}

/* "function+0xoffset", or "module+0xoffset" when the function's name is not
 * exported, or the bare address. */
static void put_location(const void* pc, FILE* out, bool json) {
    Dl_info info;
    if (pc != NULL && dladdr(pc, &info) != 0) {
        if (info.dli_sname != NULL && info.dli_saddr != NULL) {
            fprintf(out, "%s+0x%" PRIxPTR, info.dli_sname, (uintptr_t)pc - (uintptr_t)info.dli_saddr);
            return;
        }
        if (info.dli_fname != NULL && info.dli_fbase != NULL) {
            const char* name = strrchr(info.dli_fname, '/');
            name = name != NULL ? name + 1 : info.dli_fname;
            /* A module name is printed as is, except a JSON string's
             * specials. */
            for (; *name != '\0'; name++) {
                if (json && (*name == '"' || *name == '\\' || (unsigned char)*name < 0x20)) continue;
                fputc(*name, out);
            }
            fprintf(out, "+0x%" PRIxPTR, (uintptr_t)pc - (uintptr_t)info.dli_fbase);
            return;
        }
    }
    fprintf(out, "%p", pc);
}

static void put_json_string(const char* text, FILE* out) {
    fputc('"', out);
    for (; *text != '\0'; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static bool finish(FILE* out) {
    bool flushed = fflush(out) == 0;
    return flushed && ferror(out) == 0;
}

static ms_tracking* tracking_of(const DefaultStrategy* strategy) {
    return ms_default_const(strategy)->tracking;
}

bool print_leak_report(const DefaultStrategy* strategy, FILE* out) {
    if (strategy == NULL || out == NULL || tracking_of(strategy) == NULL) return false;
    ms_tracking* t = tracking_of(strategy);
    size_t n;
    bool failed;
    leak_entry* entries = collect(t, &n, &failed);
    if (failed) return false;
    group(entries, n);
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && compare_sites(&entries[end].site, &entries[start].site) == 0) end++;
        size_t blocks = end - start;
        fprintf(out, "memstrategy: leak: %" PRIu64 " bytes in %zu block%s allocated at ", entries[start].site_bytes,
                blocks, blocks == 1 ? "" : "s");
        if (entries[start].site.file != NULL) {
            fprintf(out, "%s:%d (", entries[start].site.file, entries[start].site.line);
            put_location(entries[start].site.pc, out, false);
            fputs(")\n", out);
        } else {
            put_location(entries[start].site.pc, out, false);
            fputc('\n', out);
        }
        for (size_t i = start; i < end; i++) fprintf(out, "    %zu bytes at %p\n", entries[i].size, entries[i].block);
        start = end;
    }
    /* Relaxed: a count read on its own. */
    uint64_t unrecorded = ms_load_relaxed(&t->unrecorded);
    if (unrecorded != 0) {
        fprintf(out, "memstrategy: leak: %" PRIu64 " blocks allocated while their record could not be kept\n",
                unrecorded);
    }
    free(entries);
    return finish(out);
}

bool print_leak_report_json(const DefaultStrategy* strategy, FILE* out) {
    if (strategy == NULL || out == NULL) return false;
    ms_tracking* t = tracking_of(strategy);
    size_t n = 0;
    bool failed = false;
    leak_entry* entries = t != NULL ? collect(t, &n, &failed) : NULL;
    if (failed) return false;
    group(entries, n);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += entries[i].size;
    fprintf(out, "{\"tracking\":%s,\"live_bytes\":%" PRIu64 ",\"live_blocks\":%zu,\"sites\":[",
            t != NULL ? "true" : "false", bytes, n);
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && compare_sites(&entries[end].site, &entries[start].site) == 0) end++;
        fputs(start == 0 ? "{\"site\":\"" : ",{\"site\":\"", out);
        put_location(entries[start].site.pc, out, true);
        fputc('"', out);
        if (entries[start].site.file != NULL) {
            fputs(",\"file\":", out);
            put_json_string(entries[start].site.file, out);
            fprintf(out, ",\"line\":%d", entries[start].site.line);
        }
        fprintf(out, ",\"bytes\":%" PRIu64 ",\"blocks\":%zu,\"sizes\":[", entries[start].site_bytes, end - start);
        for (size_t i = start; i < end; i++) fprintf(out, i == start ? "%zu" : ",%zu", entries[i].size);
        fputs("]}", out);
        start = end;
    }
    fputs("]}\n", out);
    free(entries);
    return finish(out);
}
