# hyc — a compiler for hybrid attention + state-space language models.
#
#   make            build build/hyc (installs missing Debian packages as root)
#   make demo       build hyc and show it working on an example hybrid model
#   make check      unit tests, golden tests, fixtures      (SAN=1: ASan+UBSan)
#   make fuzz       run the fuzz targets for a bounded time (clang, libFuzzer)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
FLEX     ?= flex
BISON    ?= bison
LLVM_CONFIG ?= $(shell command -v llvm-config-19 2>/dev/null || echo llvm-config)

WARNINGS := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla -Wformat=2
OPT      ?= -O2 -g
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) $(WARNINGS) -I$(BUILD)/gen -I.
LDLIBS_BASE := -lm -lpthread

# LLVM (codegen/emit_llvm.c only): its headers for that one file, its
# libraries for hyc and the unit tests.
LLVM_CFLAGS := $(shell $(LLVM_CONFIG) --cflags 2>/dev/null)
LLVM_LIBS   := $(shell $(LLVM_CONFIG) --ldflags --libs core analysis passes target native bitwriter 2>/dev/null) \
               $(shell $(LLVM_CONFIG) --system-libs 2>/dev/null)

ifeq ($(SAN),1)
  BUILD := build-san
  CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0
  export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
  # The code hyc build generates, compiled by the tests, is sanitized too.
  GEN_CFLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

# Library sources: every .c in these folders.  driver/ holds main().
LIB_DIRS := util formats frontend ir passes interp codegen
LIB_SRC  := $(sort $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
GEN_SRC  := $(BUILD)/gen/lexer.c $(BUILD)/gen/parser.c
DRV_SRC  := $(sort $(wildcard driver/*.c))
RT_SRC   := $(sort $(wildcard runtime/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:$(BUILD)/gen/%.c=$(BUILD)/gen/%.o)
DRV_OBJ  := $(DRV_SRC:%.c=$(BUILD)/%.o)
RT_OBJ   := $(RT_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/check_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

HYC      := $(BUILD)/hyc

.PHONY: all deps demo check unit golden fuzz install uninstall clean
.DEFAULT_GOAL := all

all: deps $(HYC) $(BUILD)/libhycrt.a

deps:
	@sh tools/deps.sh

$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h: frontend/parser.y
	@mkdir -p $(dir $@)
	$(BISON) -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h: frontend/lexer.l $(BUILD)/gen/parser.h
	@mkdir -p $(dir $@)
	$(FLEX) --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

# Generated code gets the warnings flex/bison output can live with.
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS_BASE) -Wno-missing-prototypes -Wno-unused-function -Wno-sign-compare -Wno-shadow $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/codegen/emit_llvm.o: CFLAGS += $(LLVM_CFLAGS)

$(BUILD)/libhyc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libhycrt.a: $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

# hyc carries the whole runtime and exports it (-rdynamic): `hyc build`
# writes weights files with it, and the shared objects of `hyc run --backend
# c` resolve their hycrt_* calls against it when dlopen'ed.
$(HYC): $(DRV_OBJ) $(BUILD)/libhyc.a $(BUILD)/libhycrt.a
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(DRV_OBJ) $(BUILD)/libhyc.a -Wl,--whole-archive $(BUILD)/libhycrt.a -Wl,--no-whole-archive $(LLVM_LIBS) $(LDLIBS_BASE) -ldl $(LDLIBS)

$(BUILD)/tests/check_%: tests/unit/check_%.c $(BUILD)/libhyc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CHECK_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhyc.a $(CHECK_LIBS) $(LLVM_LIBS) $(LDLIBS_BASE)

# The LLVM backend's test links the objects it emits with libhycrt.a.
$(BUILD)/tests/check_llvm: tests/unit/check_llvm.c $(BUILD)/libhyc.a $(BUILD)/libhycrt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CHECK_CFLAGS) $(CFLAGS) -DHYCRT_LIB='"$(BUILD)/libhycrt.a"' -DHYCRT_LIB_LDFLAGS='"$(strip $(LDFLAGS))"' $(LDFLAGS) -o $@ $< $(BUILD)/libhyc.a $(BUILD)/libhycrt.a $(CHECK_LIBS) $(LLVM_LIBS) $(LDLIBS_BASE)

# The runtime's tests link libhycrt.a (not libhyc.a), the toy models, and a
# wrapped allocator, so that a test can prove decode allocates nothing.
# toy_main is a model executable as generated code makes it; it is compiled
# without _GNU_SOURCE to check that runtime/hycrt.h stands on its own.
RT_TEST_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign
RT_TOY := tests/runtime/toy_model.c tests/runtime/toy_model.h runtime/hycrt.h

$(BUILD)/tests/toy_main: tests/runtime/toy_main.c $(RT_TOY) $(BUILD)/libhycrt.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -pedantic $(OPT) $(WARNINGS) -I. $(CFLAGS) $(LDFLAGS) -o $@ $< tests/runtime/toy_model.c $(BUILD)/libhycrt.a $(LDLIBS_BASE)

$(BUILD)/tests/check_runtime: tests/unit/check_runtime.c $(RT_TOY) $(BUILD)/libhycrt.a $(BUILD)/tests/toy_main
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CHECK_CFLAGS) $(CFLAGS) -DTOY_MAIN='"$(BUILD)/tests/toy_main"' $(LDFLAGS) $(RT_TEST_WRAP) -o $@ $< tests/runtime/toy_model.c $(BUILD)/libhycrt.a $(CHECK_LIBS) $(LDLIBS_BASE)

# Not a test: prints the cost of one hycrt_parallel_for dispatch.
$(BUILD)/tests/pool_bench: tests/runtime/pool_bench.c runtime/hycrt.h $(BUILD)/libhycrt.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(WARNINGS) -I. $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhycrt.a $(LDLIBS_BASE)

# The C backend's library API (tests/unit/check_build.c): the jamba fixture
# compiled by hyc build --emit lib into $(BUILD)/tests/buildlib, linked with
# a counting allocator (decode must not allocate).
BUILDLIB := $(BUILD)/tests/buildlib
$(BUILD)/tests/check_build: tests/unit/check_build.c $(HYC) $(BUILD)/libhycrt.a $(BUILD)/libhyc.a
	@mkdir -p $(BUILDLIB)
	HYC_CFLAGS="$(GEN_CFLAGS)" $(HYC) build tests/fixtures/hf/tiny/jamba --emit lib -o $(BUILDLIB)/fx >/dev/null
	$(CC) $(CFLAGS_BASE) $(CHECK_CFLAGS) $(CFLAGS) -I$(BUILDLIB) -DFX_WEIGHTS='"$(BUILDLIB)/fx.weights"' $(LDFLAGS) $(RT_TEST_WRAP) -o $@ $< $(BUILDLIB)/libfx.a $(BUILD)/libhyc.a $(CHECK_LIBS) $(LDLIBS_BASE)

demo: deps $(HYC)
	@sh tools/demo.sh $(HYC)

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

$(BUILD)/tests/irtool: tests/ir/irtool.c $(BUILD)/libhyc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhyc.a $(LDLIBS_BASE)

golden: $(HYC) $(BUILD)/tests/irtool $(BUILD)/tests/cmp_logits
	@sh tests/run_golden.sh $(HYC)
	@sh tests/ir/run.sh $(BUILD)/tests/irtool

$(BUILD)/tests/cmp_logits: tools/cmp_logits.c $(BUILD)/libhyc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhyc.a $(LDLIBS_BASE)

# The random-stack generator of the differential test (tests/run_diff.sh).
$(BUILD)/tests/randstack: tools/randstack.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS_BASE)

check: deps $(HYC) $(BUILD)/tests/cmp_logits $(BUILD)/tests/randstack
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory golden
	@sh tests/run_fixtures.sh $(HYC) $(BUILD)/tests/cmp_logits
	@HYC_CFLAGS="$(GEN_CFLAGS)" sh tests/run_build.sh $(HYC) $(BUILD)/tests/cmp_logits
	@HYC_CFLAGS="$(GEN_CFLAGS)" sh tests/run_ssd_chunk.sh $(HYC) $(BUILD)/tests/cmp_logits
	@DIFF_EVERY_c=$${DIFF_EVERY_c:-1} HYC_CFLAGS="$(GEN_CFLAGS)" HYC_CACHE_DIR=$(BUILD)/tests/cache sh tests/run_diff.sh $(HYC) $(BUILD)/tests/randstack $(BUILD)/tests/cmp_logits
	@HYC_CFLAGS="$(GEN_CFLAGS)" sh bench/check.sh $(HYC)
	@LONG_TOKENS="512 1024 2048" HYC_CFLAGS="$(GEN_CFLAGS)" sh bench/long_context.sh $(HYC) $(BUILD)/tests/cmp_logits
	@HYC_CFLAGS="$(GEN_CFLAGS)" sh tests/tune/run.sh $(HYC) $(BUILD)/tests/cmp_logits
	@echo "make check: all tests passed"

# Not part of check (long): time every bench/*.hyb and append a dated
# section to bench/results.md (BENCH_NOTE, BENCH_PREDICT, BENCH_ARGS: bench/run.sh).
.PHONY: bench
bench: deps $(HYC)
	@sh bench/run.sh $(HYC) bench/results.md

# Not part of check (about a minute): attention prefill of 8K, 16K and 32K
# tokens, peak RSS linear in the tokens (docs/bench.md).
.PHONY: bench-long
bench-long: deps $(HYC)
	@sh bench/long_context.sh $(HYC)

# Not part of check (~6 x (TUNE_BUDGET + 2 min)): tune every bench model, then
# bench defaults vs --tuning-db side by side (bench/tune.sh, docs/tuning.md).
.PHONY: bench-tune
bench-tune: deps $(HYC)
	@sh bench/tune.sh $(HYC) bench/results.md

fuzz: deps
	@sh tools/fuzz.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(HYC) $(DESTDIR)$(PREFIX)/bin/hyc
	install -m 644 runtime/hycrt.h $(DESTDIR)$(PREFIX)/include/hycrt.h
	install -m 644 $(BUILD)/libhycrt.a $(DESTDIR)$(PREFIX)/lib/libhycrt.a

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/hyc $(DESTDIR)$(PREFIX)/include/hycrt.h $(DESTDIR)$(PREFIX)/lib/libhycrt.a

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(DRV_OBJ:.o=.d) $(RT_OBJ:.o=.d)
