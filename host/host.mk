# sello-relayd, the host relay: HTTP front end, admin socket, and the one
# pipelined connection to the module. See host/http.h, host/admin.h and
# host/module_link.h.

RELAY_SRCS := $(wildcard host/*.c)
# The OID renderer is the command line's (tools/oidx.c), and the serial
# link codec is the boards' (board/common/serial_link.c, for serial:
# module addresses); both are compiled here as well so that the relay does
# not depend on other makefiles' rules.
RELAY_OBJS := $(RELAY_SRCS:%.c=$(BUILD)/obj/%.o) \
	$(BUILD)/obj/host/tools-oidx.o $(BUILD)/obj/host/board-serial_link.o
RELAY_CFLAGS := $(HOST_CFLAGS) -pthread -Itools
RELAY_LIBS := -lmicrohttpd -lbearssl

PROGRAMS += $(BIN)/sello-relayd

$(BUILD)/obj/host/%.o: host/%.c
	@mkdir -p $(dir $@)
	$(CC) $(RELAY_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/host/tools-oidx.o: tools/oidx.c
	@mkdir -p $(dir $@)
	$(CC) $(RELAY_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/host/board-serial_link.o: board/common/serial_link.c
	@mkdir -p $(dir $@)
	$(CC) $(RELAY_CFLAGS) -MMD -MP -c $< -o $@

$(BIN)/sello-relayd: $(RELAY_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -pthread $^ $(RELAY_LIBS) -o $@

-include $(RELAY_OBJS:.o=.d)
