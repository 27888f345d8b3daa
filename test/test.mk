# Tests. `make test` installs what it needs and runs test/run-all, which
# builds every flavour (gcc, clang, ASan+UBSan, cross) and every suite and
# ends with one "N passed, N failed" line.
#
# Unit tests: test/unit/test_*.c, one cmocka program each, linked with the
# firmware library and the in-memory test board (test/unit/*.c that are not
# tests themselves).
UNIT_TEST_SRCS := $(wildcard test/unit/test_*.c)
UNIT_SUPPORT_SRCS := $(filter-out $(UNIT_TEST_SRCS),$(wildcard test/unit/*.c))
UNIT_SUPPORT_OBJS := $(UNIT_SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_TESTS := $(UNIT_TEST_SRCS:test/unit/%.c=$(BUILD)/test/%)

$(BUILD)/obj/test/unit/%.o: test/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Ifirmware -MMD -MP -c $< -o $@

$(BUILD)/test/%: $(BUILD)/obj/test/unit/%.o $(UNIT_SUPPORT_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $< $(UNIT_SUPPORT_OBJS) $(FW_LIB) -lcmocka -lbearssl

.PHONY: unit-tests
unit-tests: $(UNIT_TESTS)

test: deps-test
	@test/run-all

-include $(UNIT_SUPPORT_OBJS:.o=.d) $(UNIT_TEST_SRCS:test/unit/%.c=$(BUILD)/obj/test/unit/%.d)
include test/bench/bench.mk
