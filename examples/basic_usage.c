/* Basic usage: one strategy, a few blocks, the four statistics.
 * Exits non-zero if anything is not as documented (it is also a test). */
#include <stdio.h>
#include <string.h>

#include "default_strategy.h"

#define EXPECT(cond)                                                    \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "basic_usage: expected %s (line %d)\n", #cond, __LINE__); \
            return 1;                                                   \
        }                                                               \
    } while (0)

int main(void) {
    DefaultStrategy* strategy = create_default_strategy();
    EXPECT(strategy != NULL);
    EXPECT(strategy->base.get_status(&strategy->base) == STRATEGY_ACTIVE);

    char* text = strategy->base.allocate(&strategy->base, 1024);
    EXPECT(text != NULL);
    strcpy(text, "hello from a 1024-byte block");
    int* numbers = strategy->base.allocate(&strategy->base, 100 * sizeof(int));
    EXPECT(numbers != NULL);
    for (int i = 0; i < 100; i++) numbers[i] = i;

    printf("current %zu, peak %zu\n", get_current_usage(strategy), get_peak_usage(strategy));
    EXPECT(get_current_usage(strategy) == 1024 + 100 * sizeof(int));

    strategy->base.deallocate(&strategy->base, text);
    EXPECT(get_current_usage(strategy) == 100 * sizeof(int));
    strategy->base.deallocate(&strategy->base, numbers);

    printf("current %zu, peak %zu, allocated %zu, freed %zu\n", get_current_usage(strategy),
           get_peak_usage(strategy), get_total_allocated(strategy), get_total_freed(strategy));
    EXPECT(get_current_usage(strategy) == 0);
    EXPECT(get_peak_usage(strategy) == 1024 + 100 * sizeof(int));
    EXPECT(get_total_allocated(strategy) == get_total_freed(strategy));
    EXPECT(strategy->base.validate(&strategy->base));

    destroy_default_strategy(strategy);
    return 0;
}
