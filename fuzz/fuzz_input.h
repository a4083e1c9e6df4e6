/* Shared by the fuzz targets: a reader that turns the fuzzer's bytes into
 * small integers, and the check that stops a run when the library disagrees
 * with a target's shadow model.
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

#endif /* MEMSTRATEGY_FUZZ_FUZZ_INPUT_H_ */
