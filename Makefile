# memstrategy without Bazel.
#
#   make lib     lib/libdefault_strategy.a (self-contained) plus lib/libmemstats.a,
#                lib/libmemstrategy.a, lib/libstatetracker.a, and every public header in lib/
#   make         library, tests and demo
#   make test    builds the tests
#   make check   runs them
#   make clean   removes everything built
#
# Then: gcc -pthread your_program.c -I./lib -L./lib -ldefault_strategy -lmemstats -lmemstrategy -lstatetracker
#
# GoogleTest comes from Debian's googletest package sources (GTEST_DIR).

CC ?= cc
CXX ?= c++
AR ?= ar
GTEST_DIR ?= /usr/src/googletest

WARNINGS := -Wall -Wextra -Wpedantic -Wshadow
CFLAGS ?= -O2 -g
CXXFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 $(WARNINGS) -Wstrict-prototypes -Wmissing-prototypes -Iinclude -Isrc $(CFLAGS)
ALL_CXXFLAGS := -std=c++14 $(WARNINGS) -Iinclude -Isrc -isystem $(GTEST_DIR)/googletest/include \
	-isystem $(GTEST_DIR)/googlemock/include $(CXXFLAGS)
LDLIBS := -pthread

BUILD := build
LIB := lib

HEADERS := $(wildcard include/*.h)
MEMSTRATEGY_SRCS := src/memory_strategy.c
STATETRACKER_SRCS := src/statetracker.c
MEMSTATS_SRCS := src/memstats.c src/thread_registry.c
DEFAULT_SRCS := src/default_strategy.c src/default_blocks.c src/default_misuse.c src/default_tracking.c src/fault_injection.c src/report.c
HOOKS_SRCS := src/testing_hooks.c

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

LIBS := $(LIB)/libdefault_strategy.a $(LIB)/libmemstats.a $(LIB)/libmemstrategy.a \
	$(LIB)/libstatetracker.a

# Tests: every GoogleTest file under tests/ and models/conformance, plus the examples.
TEST_SRCS := $(wildcard tests/*_test.cc)
TEST_BINS := $(patsubst tests/%.cc,$(BUILD)/tests/%,$(TEST_SRCS))
EXAMPLE_TESTS := $(BUILD)/examples/basic_usage $(BUILD)/examples/thread_safe_usage
DEMO := $(BUILD)/examples/demo

.PHONY: all lib test check clean
all: lib test $(DEMO)

lib: $(LIBS)
	cp $(HEADERS) $(LIB)/

$(BUILD)/%.o: %.c $(wildcard src/*.h) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB)/libmemstrategy.a: $(call obj,$(MEMSTRATEGY_SRCS))
$(LIB)/libstatetracker.a: $(call obj,$(STATETRACKER_SRCS))
$(LIB)/libmemstats.a: $(call obj,$(MEMSTATS_SRCS))
# Self-contained: links on its own with only -pthread.
$(LIB)/libdefault_strategy.a: $(call obj,$(DEFAULT_SRCS) $(MEMSTATS_SRCS) $(STATETRACKER_SRCS) $(MEMSTRATEGY_SRCS))
$(LIBS):
	@mkdir -p $(LIB)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libtesting_hooks.a: $(call obj,$(HOOKS_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/gtest/gtest-all.o: $(GTEST_DIR)/googletest/src/gtest-all.cc
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -I$(GTEST_DIR)/googletest -c $< -o $@
$(BUILD)/gtest/gtest_main.o: $(GTEST_DIR)/googletest/src/gtest_main.cc
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -I$(GTEST_DIR)/googletest -c $< -o $@
$(BUILD)/gtest/gmock-all.o: $(GTEST_DIR)/googlemock/src/gmock-all.cc
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -I$(GTEST_DIR)/googlemock -c $< -o $@
GTEST_OBJS := $(BUILD)/gtest/gtest-all.o $(BUILD)/gtest/gmock-all.o $(BUILD)/gtest/gtest_main.o

$(BUILD)/tests/%: tests/%.cc $(LIB)/libdefault_strategy.a $(BUILD)/libtesting_hooks.a $(GTEST_OBJS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) $< $(GTEST_OBJS) $(BUILD)/libtesting_hooks.a $(LIB)/libdefault_strategy.a \
		$(LDLIBS) -o $@

$(BUILD)/examples/%: examples/%.c $(LIB)/libdefault_strategy.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(LIB)/libdefault_strategy.a $(LDLIBS) -o $@

test: $(TEST_BINS) $(EXAMPLE_TESTS)

# Runs every test binary and example; prints one line per binary and a total.
check: test
	@passed=0; failed=0; \
	for t in $(TEST_BINS) $(EXAMPLE_TESTS); do \
	  if $$t > $$t.log 2>&1; then passed=$$((passed+1)); echo "PASS $$t"; \
	  else failed=$$((failed+1)); echo "FAIL $$t (see $$t.log)"; tail -n 30 $$t.log; fi; \
	done; \
	echo "check: $$passed passed, $$failed failed"; \
	test $$failed -eq 0

clean:
	rm -rf $(BUILD) $(LIB)
