/* Simulator time source: CLOCK_MONOTONIC in nanoseconds. */
#include <time.h>

#include <sello/board.h>

#include "sim.h"

static uint32_t drift_ppm = 100;

void sim_set_drift_ppm(uint32_t ppm)
{
    drift_ppm = ppm;
}

uint64_t sello_board_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t mono = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#ifdef SELLO_SIM_TEST_HOOKS
    return sim_test_ticks(mono);
#else
    return mono;
#endif
}

uint32_t sello_board_tick_hz(void)
{
    return 1000000000u;
}

uint32_t sello_board_tick_drift_ppm(void)
{
    return drift_ppm;
}
