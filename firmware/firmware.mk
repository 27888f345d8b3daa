# The portable module, compiled once per build flavour into a static library.
FW_SRCS := $(wildcard firmware/*.c)
FW_OBJS := $(FW_SRCS:%.c=$(BUILD)/obj/%.o)
FW_LIB := $(BUILD)/lib/libsello-fw.a

$(BUILD)/obj/firmware/%.o: firmware/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FW_CFLAGS) -MMD -MP -c $< -o $@

$(FW_LIB): $(FW_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

-include $(FW_OBJS:.o=.d)
