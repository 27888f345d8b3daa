# Sello build. `make` builds the simulator unit (BOARD=sim) into build/:
# programs in build/bin/. See README.md for run/test/bench/cross.

BOARD ?= sim
CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif
BUILD ?= build
BIN := $(BUILD)/bin
OPT ?= -O2
SANITIZE ?=

VALID_BOARDS := sim mps2-an385
ifeq ($(filter $(BOARD),$(VALID_BOARDS)),)
$(error BOARD=$(BOARD) is not one of: $(VALID_BOARDS))
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_BASE := -std=c11 $(WARN) $(OPT) -g -Iinclude $(SANITIZE)
# Host programs may use POSIX.
HOST_CFLAGS := $(CFLAGS_BASE) -D_GNU_SOURCE
# The module is freestanding on every board; on the simulator it is still
# compiled without libc headers (only the compiler's own) and with stack
# usage reports.
FW_CFLAGS := $(CFLAGS_BASE) -ffreestanding -fstack-usage
LDFLAGS_BASE := $(SANITIZE)

.PHONY: all run test bench cross deps deps-test clean print-config
all: programs

include firmware/firmware.mk
# Before the boards: a bare-metal board links the cross-compiled module.
include tools/cross.mk
include board/$(BOARD)/board.mk
include host/host.mk
include tools/tools.mk
include test/test.mk

programs: $(PROGRAMS)

print-config:
	@echo "BOARD=$(BOARD) CC=$(CC) OPT=$(OPT) SANITIZE=$(SANITIZE) BUILD=$(BUILD)"

# Debian packages each entry point needs; installed on demand.
deps:
	@BOARD=$(BOARD) tools/install-deps run

deps-test:
	@tools/install-deps test

run: deps
	@$(MAKE) --no-print-directory programs
	@BOARD=$(BOARD) tools/demo-run

clean:
	rm -rf $(BUILD)
