# Benchmarks (`make bench`): never part of the tests.
BENCH_SIM_OBJS := $(filter-out %/main.o,$(SIM_OBJS))

$(BUILD)/obj/test/bench/%.o: test/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Ifirmware -MMD -MP -c $< -o $@

$(BUILD)/bench/bench_module: $(BUILD)/obj/test/bench/bench_module.o $(BENCH_SIM_OBJS) $(FW_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ -lbearssl -ldl

.PHONY: bench bench-programs
bench-programs: programs $(BUILD)/bench/bench_module

bench:
	@tools/install-deps bench
	@$(MAKE) --no-print-directory bench-programs
	@test/bench/run-bench
