# Tests. `make test` installs what it needs and runs test/run-all, which
# builds every flavour (gcc, clang, ASan+UBSan, cross) and every suite and
# ends with one "N passed, N failed" line.
#
# Unit tests: test/unit/test_*.c, one cmocka program each, linked with the
# firmware library and the in-memory test board (test/unit/*.c that are not
# tests themselves).
UNIT_TEST_SRCS := $(wildcard test/unit/test_*.c)
UNIT_SUPPORT_SRCS := $(filter-out $(UNIT_TEST_SRCS),$(wildcard test/unit/*.c))
# The in-memory board has no key token: board/common/no_token.c, shared
# with the MPS2 board.
UNIT_SUPPORT_OBJS := $(UNIT_SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o) \
	$(BUILD)/obj/test/board-common/no_token.o
UNIT_TESTS := $(UNIT_TEST_SRCS:test/unit/%.c=$(BUILD)/test/%)

$(BUILD)/obj/test/unit/%.o: test/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Ifirmware -MMD -MP -c $< -o $@

$(BUILD)/test/%: $(BUILD)/obj/test/unit/%.o $(UNIT_SUPPORT_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $< $(UNIT_SUPPORT_OBJS) $(FW_LIB) -lcmocka -lbearssl

# test_p11_token: the simulator board's PKCS#11 token driver against
# SoftHSMv2. Also links board/sim/p11_token.o, and has beside it the
# misbehaving token library it loads (test/p11/weak_token.c), which is
# built but not linked.
$(BUILD)/obj/test/unit/test_p11_token.o: HOST_CFLAGS += $(P11_CFLAGS)

$(BUILD)/test/libsello_p11_weak.so: test/p11/weak_token.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(P11_CFLAGS) -fPIC -shared -o $@ $< -ldl

$(BUILD)/test/test_p11_token: $(BUILD)/obj/test/unit/test_p11_token.o \
		$(BUILD)/obj/board/sim/p11_token.o $(UNIT_SUPPORT_OBJS) $(FW_LIB) \
		| $(BUILD)/test/libsello_p11_weak.so
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $(filter %.o %.a,$^) -lcmocka -lbearssl -ldl

# test_serial_link: the serial link codec that the boards and the relay
# share (board/common/serial_link.c), compiled here with the tests' flags
# (sanitizers included) and linked into this test only.
SERIAL_LINK_TEST_OBJ := $(BUILD)/obj/test/board-common/serial_link.o

$(BUILD)/obj/test/board-common/%.o: board/common/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/test/test_serial_link: $(BUILD)/obj/test/unit/test_serial_link.o \
		$(SERIAL_LINK_TEST_OBJ) $(UNIT_SUPPORT_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $(filter %.o %.a,$^) -lcmocka -lbearssl

# test_bare_runtime: the MPS2 board's memcpy/memmove/memset/memcmp
# (board/mps2-an385/runtime.c), renamed so that they do not replace the
# host C library's in the test program, and compiled as on the board (no
# builtins, no loop-to-call rewriting).
BARE_RUNTIME_TEST_OBJ := $(BUILD)/obj/test/board-mps2/runtime.o
BARE_RUNTIME_RENAME := -Dmemcpy=bare_memcpy -Dmemmove=bare_memmove \
	-Dmemset=bare_memset -Dmemcmp=bare_memcmp

$(BARE_RUNTIME_TEST_OBJ): board/mps2-an385/runtime.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(BARE_RUNTIME_RENAME) -fno-builtin \
		-fno-strict-aliasing -MMD -MP -c $< -o $@

$(BUILD)/test/test_bare_runtime: $(BUILD)/obj/test/unit/test_bare_runtime.o \
		$(BARE_RUNTIME_TEST_OBJ) $(UNIT_SUPPORT_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $(filter %.o %.a,$^) -lcmocka -lbearssl

.PHONY: unit-tests
unit-tests: $(UNIT_TESTS)

test: deps-test
	@test/run-all

# Fuzz targets (libFuzzer): test/fuzz/fuzz_*.c, each linked with its own
# copy of the firmware, of the test board and of the serial link codec
# (board/common/serial_link.c) built by clang with
# -fsanitize=fuzzer-no-link,address,undefined, into $(BUILD)/fuzz/.
#   make fuzz          builds them
#   make fuzz-replay   runs each once over its seed corpus
#                      (test/fuzz/corpus/<target>/); a crash fails it
# test/run-all also fuzzes each target for FUZZ_SECONDS (default 10).
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 $(WARN) -O1 -g -Iinclude -Ifirmware -Itest/unit \
	-fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_SRCS := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(FUZZ_SRCS:test/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_FW_OBJS := $(FW_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_SUPPORT_OBJS := $(addprefix $(BUILD)/fuzz/obj/test/unit/,\
	board_mem.o testdata.o fixture.o) \
	$(BUILD)/fuzz/obj/board/common/serial_link.o \
	$(BUILD)/fuzz/obj/board/common/no_token.o

$(BUILD)/fuzz/obj/firmware/%.o: firmware/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -ffreestanding -MMD -MP -c $< -o $@

$(BUILD)/fuzz/obj/test/%.o: test/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -D_GNU_SOURCE -MMD -MP -c $< -o $@

$(BUILD)/fuzz/obj/board/common/%.o: board/common/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -ffreestanding -MMD -MP -c $< -o $@

# BearSSL is the system library (not instrumented), unless
# FUZZ_BEARSSL_SRC names a BearSSL source tree (e.g. the one `make cross`
# unpacks into build/cross/bearssl-src): then it is compiled with the same
# sanitizers into $(BUILD)/fuzz-bearssl/ and the targets go to
# $(BUILD)/fuzz-bearssl/ too. Slower to build; for long runs by hand.
FUZZ_BEARSSL_SRC ?=
ifneq ($(FUZZ_BEARSSL_SRC),)
FUZZ_OUT := $(BUILD)/fuzz-bearssl
FUZZ_BEARSSL_OBJS := $(patsubst $(FUZZ_BEARSSL_SRC)/src/%.c,$(FUZZ_OUT)/bearssl/%.o,\
	$(shell find $(FUZZ_BEARSSL_SRC)/src -name '*.c'))
FUZZ_BEARSSL_LIB := $(FUZZ_OUT)/libbearssl.a
FUZZ_TARGETS := $(FUZZ_SRCS:test/fuzz/%.c=$(FUZZ_OUT)/%)
$(FUZZ_OUT)/bearssl/%.o: $(FUZZ_BEARSSL_SRC)/src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g -I$(FUZZ_BEARSSL_SRC)/inc -I$(FUZZ_BEARSSL_SRC)/src \
		-fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@
$(FUZZ_BEARSSL_LIB): $(FUZZ_BEARSSL_OBJS)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_OUT)/fuzz_%: $(BUILD)/fuzz/obj/test/fuzz/fuzz_%.o $(FUZZ_SUPPORT_OBJS) \
		$(FUZZ_FW_OBJS) $(FUZZ_BEARSSL_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^
else
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/test/fuzz/fuzz_%.o $(FUZZ_SUPPORT_OBJS) \
		$(FUZZ_FW_OBJS)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ -lbearssl
endif

.PHONY: fuzz fuzz-replay
fuzz: $(FUZZ_TARGETS)

fuzz-replay: fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  name=$$(basename $$t); \
	  echo "replay $$name"; \
	  $$t -runs=0 test/fuzz/corpus/$$name >$(BUILD)/fuzz/$$name-replay.log 2>&1 \
	    || { cat $(BUILD)/fuzz/$$name-replay.log; exit 1; }; \
	done

-include $(FUZZ_FW_OBJS:.o=.d) $(FUZZ_SUPPORT_OBJS:.o=.d) \
	$(FUZZ_SRCS:test/fuzz/%.c=$(BUILD)/fuzz/obj/test/fuzz/%.d)

-include $(UNIT_SUPPORT_OBJS:.o=.d) $(UNIT_TEST_SRCS:test/unit/%.c=$(BUILD)/obj/test/unit/%.d) \
	$(SERIAL_LINK_TEST_OBJ:.o=.d)
include test/bench/bench.mk
