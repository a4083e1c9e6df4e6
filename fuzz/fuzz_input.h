/* Shared by the fuzz targets: a reader that turns the fuzzer's bytes into
 * small integers, the check that stops a run when the library disagrees
 * with a target's shadow model, and the fill pattern written into blocks.
 *
 * The reader never fails: past the end of the input it returns zeros and
 * fuzz_input_done() becomes true, so every byte string decodes to some
 * operation sequence and the fuzzer never wastes inputs on a parse error. */
#ifndef MEMSTRATEGY_FUZZ_FUZZ_INPUT_H_
#define MEMSTRATEGY_FUZZ_FUZZ_INPUT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every libFuzzer target defines this; the replay driver (replay_main.c)
 * calls it once per corpus file. */
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

/* Stops the run (libFuzzer records the input as a crash; the replay test
 * fails) when `cond` is false, naming the condition and its line. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

typedef struct FuzzInput {
    const uint8_t* data;
    size_t size;
    size_t pos;
} FuzzInput;

static inline FuzzInput fuzz_input_make(const uint8_t* data, size_t size) {
    FuzzInput in = {data, size, 0};
    return in;
}

static inline bool fuzz_input_done(const FuzzInput* in) { return in->pos >= in->size; }

static inline uint8_t fuzz_u8(FuzzInput* in) {
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* Little-endian, `bytes` (at most 8) bytes wide. */
static inline uint64_t fuzz_uint(FuzzInput* in, unsigned bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) v |= (uint64_t)fuzz_u8(in) << (8 * i);
    return v;
}

static inline uint16_t fuzz_u16(FuzzInput* in) { return (uint16_t)fuzz_uint(in, 2); }
static inline uint64_t fuzz_u64(FuzzInput* in) { return fuzz_uint(in, 8); }

/* ---- fill pattern ---------------------------------------------------------
 * Byte i of a block with seed s is table[s + i % FUZZ_PATTERN_PERIOD], from a
 * fixed pseudo-random table: neighbouring blocks and shifted copies differ.
 * Written with memcpy and compared with memcmp (not byte loops, whose
 * comparisons libFuzzer would trace one by one: several times slower). */
#define FUZZ_PATTERN_PERIOD 4096u

static inline const uint8_t* fuzz_pattern_table(void) {
    static uint8_t table[FUZZ_PATTERN_PERIOD + 256];
    static int ready; /* each thread using it calls fuzz_pattern_init first */
    if (!ready) {
        uint32_t x = 0x9e3779b9u;
        for (size_t i = 0; i < sizeof table; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            table[i] = (uint8_t)(x >> 24);
        }
        ready = 1;
    }
    return table;
}

/* Builds the table; call once before any thread uses the pattern. */
static inline void fuzz_pattern_init(void) { (void)fuzz_pattern_table(); }

static inline void fuzz_pattern_fill(unsigned char* p, size_t size, uint8_t seed) {
    const uint8_t* table = fuzz_pattern_table() + seed;
    for (size_t at = 0; at < size; at += FUZZ_PATTERN_PERIOD) {
        size_t n = size - at < FUZZ_PATTERN_PERIOD ? size - at : FUZZ_PATTERN_PERIOD;
        memcpy(p + at, table, n);
    }
}

/* True if bytes [from, to) of a block still hold the pattern. */
static inline bool fuzz_pattern_holds(const unsigned char* p, size_t from, size_t to, uint8_t seed) {
    const uint8_t* table = fuzz_pattern_table() + seed;
    while (from < to) {
        size_t offset = from % FUZZ_PATTERN_PERIOD;
        size_t n = FUZZ_PATTERN_PERIOD - offset;
        if (n > to - from) n = to - from;
        if (memcmp(p + from, table + offset, n) != 0) return false;
        from += n;
    }
    return true;
}

#endif /* MEMSTRATEGY_FUZZ_FUZZ_INPUT_H_ */
