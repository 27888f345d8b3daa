# The ARM MPS2 AN385 board (Cortex-M3) under QEMU: `make BOARD=mps2-an385`
# builds the firmware image $(MPS2_ELF) besides the host programs (relay
# and command line). The firmware objects and BearSSL are those of
# `make cross` (tools/cross.mk): the same cross flags, BearSSL built from
# Debian's source package; this file adds the board's own sources, the
# bare runtime and the link with ldscripts/mps2-an385.ld.
#
#   make BOARD=mps2-an385            the image (and the host programs)
#   make run BOARD=mps2-an385        the demo, served from QEMU
#   make size BOARD=mps2-an385       footprint against the budgets
MPS2_DIR := $(BUILD)/mps2-an385
MPS2_ELF := $(MPS2_DIR)/sello-mps2.elf
MPS2_TEST_ELF := $(MPS2_DIR)/sello-mps2-test.elf
MPS2_LDSCRIPT := ldscripts/mps2-an385.ld
MPS2_SRCS := $(wildcard board/mps2-an385/*.c) board/common/serial_link.c \
	board/common/no_token.c
MPS2_OBJS := $(MPS2_SRCS:%.c=$(MPS2_DIR)/obj/%.o)
MPS2_TEST_OBJS := $(MPS2_SRCS:%.c=$(MPS2_DIR)/obj-test/%.o)
PROGRAMS += $(MPS2_ELF)

# The board's C is freestanding like the module's. The bare runtime must
# not be compiled into calls to itself.
MPS2_CFLAGS = $(CROSS_FW_CFLAGS) -fno-strict-aliasing
$(MPS2_DIR)/obj/board/mps2-an385/runtime.o \
$(MPS2_DIR)/obj-test/board/mps2-an385/runtime.o: \
	MPS2_CFLAGS += -fno-builtin -fno-tree-loop-distribute-patterns

$(MPS2_DIR)/obj/%.o: %.c board/mps2-an385/board.mk tools/cross.mk | $(CROSS_BEARSSL_STAMP)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(MPS2_CFLAGS) -MMD -MP -c $< -o $@

# The test image: the same board with test hooks (--fault-test), for the
# end-to-end tests only.
$(MPS2_DIR)/obj-test/%.o: %.c board/mps2-an385/board.mk tools/cross.mk | $(CROSS_BEARSSL_STAMP)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(MPS2_CFLAGS) -DSELLO_MPS2_TEST_HOOKS -MMD -MP -c $< -o $@

MPS2_LDFLAGS = $(CROSS_ARCH) -nostdlib -T $(MPS2_LDSCRIPT) -Wl,--gc-sections \
	-Wl,--emit-relocs

$(MPS2_ELF): $(MPS2_OBJS) $(CROSS_FW_OBJS) $(CROSS_BEARSSL_LIB) $(MPS2_LDSCRIPT)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(MPS2_LDFLAGS) -Wl,-Map,$(MPS2_DIR)/sello-mps2.map -o $@ \
		$(MPS2_OBJS) $(CROSS_FW_OBJS) $(CROSS_BEARSSL_LIB) -lgcc

$(MPS2_TEST_ELF): $(MPS2_TEST_OBJS) $(CROSS_FW_OBJS) $(CROSS_BEARSSL_LIB) \
		$(MPS2_LDSCRIPT)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(MPS2_LDFLAGS) -o $@ \
		$(MPS2_TEST_OBJS) $(CROSS_FW_OBJS) $(CROSS_BEARSSL_LIB) -lgcc

.PHONY: test-programs
test-programs: $(MPS2_TEST_ELF)

-include $(MPS2_OBJS:.o=.d) $(MPS2_TEST_OBJS:.o=.d)

# ---- make size ----------------------------------------------------------------
# The worst-case stack from the call graphs of every object in the image
# (tools/stack-report), and the measured high-water mark: the demo's
# ceremony and one token for each of MPS2_MEASURE_KEYS, run in QEMU
# (tools/demo-run with DEMO_ONESHOT=1), whose console reports the mark.
# SIZE_MEASURE=0 skips the QEMU runs.
MPS2_STACK_REPORT := $(MPS2_DIR)/stack-report.txt
MPS2_MEASURE_KEYS ?= p256 rsa2048
SIZE_MEASURE ?= 1

$(MPS2_STACK_REPORT): $(MPS2_ELF) tools/stack-report
	tools/stack-report $(MPS2_ELF) $(MPS2_DIR)/obj $(CROSS_DIR)/obj \
		$(CROSS_DIR)/bearssl-obj --root mps2_reset \
		--handler mps2_timer0_irq --handler mps2_uart0_rx_irq \
		--fault mps2_fault_report >$@.tmp && mv $@.tmp $@

.PHONY: size
size: deps
	@$(MAKE) --no-print-directory programs $(MPS2_STACK_REPORT)
	@if [ "$(SIZE_MEASURE)" = 1 ]; then \
	  for key in $(MPS2_MEASURE_KEYS); do \
	    echo "size: measuring the stack in QEMU: demo ceremony and a token, $$key key"; \
	    port=$$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	    BUILD=$(BUILD) BOARD=mps2-an385 DEMO_ONESHOT=1 FRESH=1 KEY=$$key \
	      PORT=$$port DEMO_DIR=$(MPS2_DIR)/measure-$$key \
	      tools/demo-run >$(MPS2_DIR)/measure-$$key.log 2>&1 || \
	      { tail -n 20 $(MPS2_DIR)/measure-$$key.log; exit 1; }; \
	  done; \
	fi
	@tools/mps2-size $(MPS2_ELF) $(MPS2_DIR)/sello-mps2.map \
		$(MPS2_STACK_REPORT) \
		$(foreach k,$(MPS2_MEASURE_KEYS),$(MPS2_DIR)/measure-$(k)/console.log)
