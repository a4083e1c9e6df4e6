/* A program in another workspace using @memstrategy//:default_strategy. */
#include <stdio.h>

#include "default_strategy.h"

int main(void) {
    DefaultStrategy* strategy = create_default_strategy();
    if (strategy == NULL) return 1;
    void* block = strategy->base.allocate(&strategy->base, 1024);
    size_t in_use = get_current_usage(strategy);
    strategy->base.deallocate(&strategy->base, block);
    printf("consumer: %zu bytes in use while the block was live, %zu after\n", in_use,
           get_current_usage(strategy));
    int ok = block != NULL && in_use == 1024 && get_current_usage(strategy) == 0;
    destroy_default_strategy(strategy);
    return ok ? 0 : 1;
}
