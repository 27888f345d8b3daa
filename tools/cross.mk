# `make cross`: builds the firmware module for a bare-metal ARM Cortex-M3
# and proves that it is freestanding. Board-independent: it uses no BOARD=
# setting and builds nothing of the host or simulator.
#
#   1. tools/fetch-bearssl-source unpacks Debian's bearssl source package
#      into $(CROSS_DIR)/bearssl-src (once; as root it sets up deb-src).
#   2. tools/build-bearssl-cross compiles all of BearSSL for the target into
#      $(CROSS_DIR)/libbearssl.a (no BearSSL copy lives in this repo).
#   3. Every firmware source is compiled with the cross flags below.
#   4. tools/check-freestanding links the module against libbearssl.a and
#      libgcc only (-nostdlib, --gc-sections) and fails unless everything
#      still undefined is a board contract function (<sello/board.h>) or one
#      of memcpy/memset/memmove/memcmp from the board's bare runtime. It
#      writes the size and stack summary that `make cross` prints.
#
# There is no Cortex-M board yet, so nothing here is a firmware image: the
# link is a check (unresolved board symbols are allowed, then listed and
# judged), not something to flash.

CROSS_PREFIX ?= arm-none-eabi-
CROSS_CC := $(CROSS_PREFIX)gcc
CROSS_AR := $(CROSS_PREFIX)ar
CROSS_ARCH := -mcpu=cortex-m3 -mthumb
CROSS_DIR := $(BUILD)/cross

CROSS_BEARSSL_SRC := $(CROSS_DIR)/bearssl-src
CROSS_BEARSSL_STAMP := $(CROSS_BEARSSL_SRC)/.sello-fetched
CROSS_BEARSSL_LIB := $(CROSS_DIR)/libbearssl.a

# BearSSL configuration for a Cortex-M3 (see src/config.h in its source):
# - BR_ARMEL_CORTEXM_GCC: Thumb inline assembly for i15 Montgomery
#   multiplication; also sets BR_LOMUL, so BearSSL's defaults pick the i15
#   and m15 big-integer and curve code, which only uses 32x32->32 MUL,
#   constant-time on the M3.
# - BR_CT_MUL31: the M3's UMULL/SMULL finish early on small operands, so
#   should the module pick an i31/m31 implementation anyway, its 31-bit
#   multiplications are emulated in constant time.
# - No OS: no /dev/urandom, no system time (the module gets entropy and
#   time from the board, never from BearSSL's system hooks).
CROSS_BEARSSL_CONFIG := -DBR_ARMEL_CORTEXM_GCC=1 -DBR_CT_MUL31=1 \
	-DBR_USE_URANDOM=0 -DBR_USE_WIN32_RAND=0 -DBR_RDRAND=0 \
	-DBR_USE_UNIX_TIME=0 -DBR_USE_WIN32_TIME=0
# BearSSL is third-party C compiled with its own warning level; whatever
# it needs from a C library shows up as an undefined symbol at the check.
# -fcallgraph-info=su: each object's call graph with its frame sizes, for
# the worst-case stack of a board image (tools/stack-report).
CROSS_BEARSSL_CFLAGS := $(CROSS_ARCH) -Os -ffunction-sections -fdata-sections \
	-fstack-usage -fcallgraph-info=su -W -Wall $(CROSS_BEARSSL_CONFIG)

CROSS_FW_CFLAGS = -std=c11 $(WARN) -Os $(CROSS_ARCH) -ffreestanding \
	-fstack-usage -fcallgraph-info=su -ffunction-sections -fdata-sections \
	-Iinclude -I$(CROSS_BEARSSL_SRC)/inc
CROSS_FW_SRCS = $(FW_SRCS)
CROSS_FW_OBJS = $(CROSS_FW_SRCS:%.c=$(CROSS_DIR)/obj/%.o)
CROSS_REPORT := $(CROSS_DIR)/report.txt
CROSS_OBJ_LIST := $(CROSS_DIR)/fw-objs.list

cross: $(CROSS_REPORT)
	@cat $(CROSS_REPORT)

$(CROSS_BEARSSL_STAMP):
	tools/fetch-bearssl-source $(CROSS_BEARSSL_SRC)

$(CROSS_BEARSSL_LIB): $(CROSS_BEARSSL_STAMP) tools/build-bearssl-cross tools/cross.mk
	@echo "CROSS   BearSSL $$(cat $(CROSS_BEARSSL_SRC)/.sello-version) -> $@"
	@CROSS_CC='$(CROSS_CC)' CROSS_AR='$(CROSS_AR)' \
		CROSS_BEARSSL_CFLAGS='$(CROSS_BEARSSL_CFLAGS)' \
		tools/build-bearssl-cross $(CROSS_BEARSSL_SRC) $@

# BearSSL's headers come from the fetched source, hence the order-only
# prerequisite; the -MMD dependencies cover everything after the first build.
$(CROSS_DIR)/obj/firmware/%.o: firmware/%.c tools/cross.mk | $(CROSS_BEARSSL_STAMP)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(CROSS_FW_CFLAGS) -MMD -MP -c $< -o $@

# Rewritten only when the set of firmware objects changes, so that deleting
# a source file also reruns the check.
$(CROSS_OBJ_LIST): cross-objs-changed
	@mkdir -p $(dir $@)
	@echo '$(CROSS_FW_OBJS)' | cmp -s - $@ || echo '$(CROSS_FW_OBJS)' >$@
.PHONY: cross-objs-changed

$(CROSS_REPORT): $(CROSS_FW_OBJS) $(CROSS_BEARSSL_LIB) $(CROSS_OBJ_LIST) \
		tools/check-freestanding
	@CROSS_PREFIX='$(CROSS_PREFIX)' CROSS_ARCH='$(CROSS_ARCH)' \
		tools/check-freestanding $(CROSS_DIR) $(CROSS_BEARSSL_LIB) \
		$(CROSS_FW_OBJS)

-include $(CROSS_FW_OBJS:.o=.d)
