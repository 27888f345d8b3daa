/*
 * Test-only hooks of the simulator board, compiled into
 * build/test/sello-sim-test (SELLO_SIM_TEST_HOOKS) and never into
 * sello-sim: a tick source the tests can speed up, slow down and jump
 * forward, and a crash at a chosen persistence point, so that the
 * end-to-end tests can show what the module does when its oscillator
 * drifts, time observations stop, or power is lost at every write (after
 * MCUboot's simulator).
 *
 *   SELLO_SIM_TEST_TICKS=FILE     FILE holds "RATE_PPM JUMP_NS": from the
 *                                 moment the file changes, ticks run at
 *                                 (1 + RATE_PPM/10^6) of CLOCK_MONOTONIC
 *                                 (-999999..10^6), and JUMP_NS (never
 *                                 smaller than before) is the total of
 *                                 forward jumps so far. A missing file is
 *                                 "0 0". Ticks never go backwards.
 *   SELLO_SIM_TEST_CRASH_AT=N     the process ends with _exit(99) at the
 *   SELLO_SIM_TEST_CRASH_WHEN=before|after
 *                                 N-th persistence point (a record or the
 *                                 counter replaced, or a record erased):
 *                                 before it starts, or right after it is
 *                                 durable (default before).
 *   SELLO_SIM_TEST_PERSIST_LOG=FILE  appends "N\n" at each persistence
 *                                 point, so a test learns how many a run
 *                                 has.
 */
#ifndef SELLO_SIM_TEST_HOOKS
#error "test_hooks.c belongs to the test build only"
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"

static struct {
    bool init;
    const char *file;
    struct timespec mtime;
    long long rate_ppm;
    unsigned long long jump_ns;
    uint64_t base_mono, base_ticks; /* the segment the rate applies from */
    uint64_t last;
} ticks;

static uint64_t scaled(uint64_t mono)
{
    uint64_t d = mono - ticks.base_mono;
    /* d * (10^6 + rate) / 10^6 without overflow for days of ticks */
    unsigned long long num = (unsigned long long)(1000000 + ticks.rate_ppm);
    unsigned __int128 v = (unsigned __int128)d * num / 1000000u;
    return ticks.base_ticks + (uint64_t)v + ticks.jump_ns;
}

/* Re-reads the control file when it changed; a new rate starts a new
 * segment at the current tick, so the ticks stay continuous. */
static void reload(uint64_t mono)
{
    struct stat st;
    if (!ticks.file || stat(ticks.file, &st) != 0)
        return;
    if (st.st_mtim.tv_sec == ticks.mtime.tv_sec &&
        st.st_mtim.tv_nsec == ticks.mtime.tv_nsec)
        return;
    FILE *f = fopen(ticks.file, "r");
    if (!f)
        return;
    long long rate;
    unsigned long long jump;
    int ok = fscanf(f, "%lld %llu", &rate, &jump) == 2;
    fclose(f);
    if (!ok || rate <= -1000000 || rate > 1000000 || jump < ticks.jump_ns) {
        fprintf(stderr, "sello-sim-test: bad %s ignored\n", ticks.file);
        return;
    }
    uint64_t now = scaled(mono) - ticks.jump_ns;
    ticks.base_mono = mono;
    ticks.base_ticks = now;
    ticks.rate_ppm = rate;
    ticks.jump_ns = jump;
    ticks.mtime = st.st_mtim;
}

uint64_t sim_test_ticks(uint64_t mono)
{
    if (!ticks.init) {
        ticks.init = true;
        ticks.file = getenv("SELLO_SIM_TEST_TICKS");
        ticks.base_mono = mono;
        ticks.base_ticks = mono;
    }
    reload(mono);
    uint64_t t = scaled(mono);
    if (t < ticks.last)
        t = ticks.last;
    ticks.last = t;
    return t;
}

static unsigned long persist_points;

void sim_test_persist_point(bool after)
{
    const char *at = getenv("SELLO_SIM_TEST_CRASH_AT");
    const char *when = getenv("SELLO_SIM_TEST_CRASH_WHEN");
    bool want_after = when && strcmp(when, "after") == 0;
    if (!after) {
        persist_points++;
        const char *log = getenv("SELLO_SIM_TEST_PERSIST_LOG");
        if (log) {
            FILE *f = fopen(log, "a");
            if (f) {
                fprintf(f, "%lu\n", persist_points);
                fclose(f);
            }
        }
    }
    if (at && strtoul(at, NULL, 10) == persist_points && after == want_after) {
        fprintf(stderr, "sello-sim-test: crash at persistence point %lu "
                        "(%s)\n", persist_points, after ? "after" : "before");
        _exit(99);
    }
}
