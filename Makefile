# labelfree build. Variants (make VARIANT=...):
#   default  portable -O2 (what the tests use)      native  -O3 -march=native (benchmarks, real runs)
#   asan     AddressSanitizer + UBSan               f64     lf_real = double (gradient checks)
VARIANT ?= default
BUILD   := build/$(VARIANT)
CC      ?= cc
PKGS    := jansson libpng libtiff-4 zlib libmicrohttpd
# OpenBLAS's OpenMP build, so BLAS and the engine's OpenMP loops share one thread pool (the
# default pthreads build busy-waits against OpenMP's threads: forward + backward of the
# ResNet-18 layer of bench/conv_bench.c took 1.8-2.2 s against 0.2-0.26 s; src/backend/cpu/conv_cpu.c).
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
CFLAGS_COMMON := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
                 -Iinclude -Isrc -I$(BLAS_INC) -fopenmp -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ljpeg -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lsqlite3 -fopenmp -lm -lpthread

ifeq ($(VARIANT),default)
  CFLAGS_V := -O2 -g
else ifeq ($(VARIANT),native)
  CFLAGS_V := -O3 -march=native -g -DNDEBUG
else ifeq ($(VARIANT),asan)
  # every tensor in the arena's block heap, whose freed blocks are poisoned: ASan sees reads
  # of memory that backward has freed (src/core/arena_blocks.c)
  CFLAGS_V := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
              -DLF_ARENA_BLOCK_MIN=64
  LDFLAGS  += -fsanitize=address,undefined
else ifeq ($(VARIANT),f64)
  CFLAGS_V := -O2 -g -DLF_DOUBLE
else
  $(error unknown VARIANT '$(VARIANT)': default, native, asan or f64)
endif
CFLAGS += $(CFLAGS_COMMON) $(CFLAGS_V)

LIB_SRC  := $(shell find src -name '*.c' -not -path 'src/backend/cuda/*' | sort)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/unit/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

.PHONY: all lib cli tests test check clean bench fixtures
all: cli tests
lib: $(BUILD)/liblabelfree.a
cli: $(BUILD)/labelfree
tests: $(BUILD)/unit_tests

$(BUILD)/liblabelfree.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	ar rcs $@ $^

$(BUILD)/labelfree: $(CLI_OBJ) $(BUILD)/liblabelfree.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/liblabelfree.a $(LDLIBS)

$(BUILD)/unit_tests: $(TEST_OBJ) $(BUILD)/liblabelfree.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/liblabelfree.a $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# The whole test suite: unit tests in three builds (float32, float64 gradient checks,
# ASan+UBSan), then end-to-end CLI tests. Ends with 'N passed, N failed'.
test:
	@bash tests/run_all.sh

check: test

bench:
	@bash bench/run.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
