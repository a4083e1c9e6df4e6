/* Replays fuzz inputs without libFuzzer: links with one fuzz target and
 * feeds it every file named on the command line (a directory stands for the
 * regular files in it, in name order), each in a buffer of exactly its size
 * so an over-read is caught by ASan.
 *
 *     replay FILE_OR_DIR...
 *
 * Exits 0 after replaying at least one input; 1 if an argument cannot be
 * read or no input was found (an empty corpus is a mistake, not a pass).  A
 * failing check inside the target aborts, as it does under libFuzzer. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_input.h"

static size_t g_replayed;

static int replay_file(const char* path) {
    FILE* f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t capacity = 4096, size = 0;
    uint8_t* data = malloc(capacity);
    for (;;) {
        if (data == NULL) break;
        size += fread(data + size, 1, capacity - size, f);
        if (size < capacity) break;
        uint8_t* grown = realloc(data, capacity * 2);
        if (grown == NULL) free(data);
        data = grown;
        capacity *= 2;
    }
    int failed = data == NULL || ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(data);
        return 1;
    }
    /* Exactly `size` bytes (at least one, so malloc does not return NULL). */
    uint8_t* exact = malloc(size == 0 ? 1 : size);
    if (exact == NULL) {
        free(data);
        return 1;
    }
    memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    g_replayed++;
    return 0;
}

static int compare_names(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

static int replay_directory(const char* path) {
    DIR* dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: cannot open directory %s\n", path);
        return 1;
    }
    char** names = NULL;
    size_t count = 0, capacity = 0;
    int failed = 0;
    for (struct dirent* e = readdir(dir); e != NULL; e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        if (count == capacity) {
            capacity = capacity == 0 ? 64 : 2 * capacity;
            char** grown = realloc(names, capacity * sizeof *grown);
            if (grown == NULL) {
                failed = 1;
                break;
            }
            names = grown;
        }
        size_t length = strlen(path) + 1 + strlen(e->d_name) + 1;
        names[count] = malloc(length);
        if (names[count] == NULL) {
            failed = 1;
            break;
        }
        snprintf(names[count], length, "%s/%s", path, e->d_name);
        count++;
    }
    closedir(dir);
    if (count > 1) qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (!failed && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) failed = replay_file(names[i]);
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char** argv) {
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 1;
        }
        int failed = S_ISDIR(st.st_mode) ? replay_directory(argv[i]) : replay_file(argv[i]);
        if (failed) return 1;
    }
    if (g_replayed == 0) {
        fprintf(stderr, "replay: no inputs given\n");
        return 1;
    }
    printf("replay: %zu inputs, all checks passed\n", g_replayed);
    return 0;
}
