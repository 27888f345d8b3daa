# Benchmarks (`make bench`): never part of the tests.
# bench_module runs the module in process on the simulator board, with the
# test fixture (test/unit/fixture.c, testdata.c) to provision and activate
# its unit.
BENCH_SIM_OBJS := $(filter-out %/main.o,$(SIM_OBJS))
BENCH_FIXTURE_OBJS := $(addprefix $(BUILD)/obj/test/unit/,fixture.o testdata.o)

$(BUILD)/obj/test/bench/%.o: test/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Ifirmware -MMD -MP -c $< -o $@

$(BUILD)/bench/bench_module: $(BUILD)/obj/test/bench/bench_module.o \
		$(BENCH_FIXTURE_OBJS) $(BENCH_SIM_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ -lbearssl -ldl

-include $(BUILD)/obj/test/bench/bench_module.d

.PHONY: bench bench-programs
bench-programs: programs $(BUILD)/bench/bench_module

bench:
	@tools/install-deps bench
	@$(MAKE) --no-print-directory bench-programs
	@test/bench/run-bench
