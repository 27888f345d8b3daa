# The POSIX simulator board: the module as a process (sello-sim).
SIM_TEST_ONLY_SRCS := board/sim/test_hooks.c
SIM_SRCS := $(filter-out $(SIM_TEST_ONLY_SRCS),$(wildcard board/sim/*.c))
SIM_OBJS := $(SIM_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BIN)/sello-sim

# The PKCS#11 token driver (p11_token.c) uses the PKCS#11 header of p11-kit
# (libp11-kit-dev) and loads the token library at run time (-ldl).
P11_CFLAGS := $(shell pkg-config --cflags p11-kit-1 2>/dev/null)
$(BUILD)/obj/board/sim/p11_token.o: HOST_CFLAGS += $(P11_CFLAGS)

$(BUILD)/obj/board/sim/%.o: board/sim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(BIN)/sello-sim: $(SIM_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $(SIM_OBJS) $(FW_LIB) -lbearssl -ldl

-include $(SIM_OBJS:.o=.d)

# sello-sim-test: the same board with the test hooks of test_hooks.c (a
# controllable tick source, crashes at persistence points). Only for the
# end-to-end tests; never in build/bin.
SIM_TEST_OBJS := $(SIM_SRCS:board/sim/%.c=$(BUILD)/obj/board/sim-test/%.o) \
	$(SIM_TEST_ONLY_SRCS:board/sim/%.c=$(BUILD)/obj/board/sim-test/%.o)

$(BUILD)/obj/board/sim-test/p11_token.o: HOST_CFLAGS += $(P11_CFLAGS)

$(BUILD)/obj/board/sim-test/%.o: board/sim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -DSELLO_SIM_TEST_HOOKS -MMD -MP -c $< -o $@

$(BUILD)/test/sello-sim-test: $(SIM_TEST_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $(SIM_TEST_OBJS) $(FW_LIB) -lbearssl -ldl

.PHONY: test-programs
test-programs: $(BUILD)/test/sello-sim-test

-include $(SIM_TEST_OBJS:.o=.d)

.PHONY: size
size:
	@echo "make size: the footprint of a bare-metal image (make size BOARD=mps2-an385)" >&2
	@exit 2
