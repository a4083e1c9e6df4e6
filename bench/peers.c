/* bench: checks that linking the peers did not replace the process's malloc
 * (see peers.h). */
#define _GNU_SOURCE /* dladdr */
#include "peers.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shared object that defines `function`, or "?" if unknown. */
static const char* origin(void (*function)(void)) {
    Dl_info info;
    /* Converting a function pointer to void* is what dladdr's interface
     * requires (POSIX guarantees it works). */
    void* address;
    memcpy(&address, &function, sizeof address);
    if (dladdr(address, &info) == 0 || info.dli_fname == NULL) return "?";
    const char* slash = strrchr(info.dli_fname, '/');
    return slash == NULL ? info.dli_fname : slash + 1;
}

/* Wraps a function pointer of any type for origin(). */
#define ORIGIN_OF(f) origin((void (*)(void))(f))

bool bench_peers_check_binding(char* where, size_t size) {
    const char* malloc_from = ORIGIN_OF(malloc);
    const char* free_from = ORIGIN_OF(free);
#if BENCH_HAVE_PEERS
    snprintf(where, size, "malloc from %s, free from %s, mallocx from %s, mi_malloc from %s", malloc_from,
             free_from, ORIGIN_OF(mallocx), ORIGIN_OF(mi_malloc));
#else
    snprintf(where, size, "malloc from %s, free from %s", malloc_from, free_from);
#endif
    return strstr(malloc_from, "jemalloc") == NULL && strstr(malloc_from, "mimalloc") == NULL &&
           strstr(free_from, "jemalloc") == NULL && strstr(free_from, "mimalloc") == NULL;
}
