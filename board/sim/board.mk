# The POSIX simulator board: the module as a process (sello-sim).
SIM_SRCS := $(wildcard board/sim/*.c)
SIM_OBJS := $(SIM_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BIN)/sello-sim

$(BUILD)/obj/board/sim/%.o: board/sim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(BIN)/sello-sim: $(SIM_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $(SIM_OBJS) $(FW_LIB) -lbearssl

-include $(SIM_OBJS:.o=.d)
