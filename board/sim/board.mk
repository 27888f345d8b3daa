# The POSIX simulator board: the module as a process (sello-sim).
SIM_SRCS := $(wildcard board/sim/*.c)
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
