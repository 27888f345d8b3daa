/*
 * The module clock (firmware/clock.h).
 *
 * GeneralizedTime formatting and civil-date conversion against
 * test/data/clock/{gentime,civil}.txt (values from Python's datetime) and
 * round trips over every day of four centuries; tick arithmetic against a
 * 128-bit reference; and the clock model as pure calls with explicit tick
 * values, independent of the module: the genTime precision, calibration,
 * drift growing the error bound until issuing stops, the maximum
 * observation age, observations and the slew, a hostile host, a quorum
 * step back, leap seconds, saturation.
 *
 * Expected numbers are computed here from the parameters (accuracy,
 * precision, uncertainty, drift, slew, tick rate), never copied from the
 * implementation's output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "fixture.h"

#include "clock.h"

typedef unsigned __int128 u128;
typedef unsigned long long ull;
typedef long long sll;

#define SEC 1000000ll /* one second in microseconds */
#define MHZ 1000000u
#define A0 5000000ull /* ticks at the calibration, not 0 to catch slips */

/* ---- vectors ----------------------------------------------------------------- */

static void test_gentime_vectors(void **state)
{
    (void)state;
    size_t n;
    td_line *lines = td_read_lines("clock/gentime.txt", &n);
    assert_non_null(lines);
    assert_true(n >= 20);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned long long ms;
        char expect[40];
        if (sscanf(lines[i].text, "%llu | %39s", &ms, expect) != 2) {
            print_error("clock/gentime.txt:%u: bad line\n", lines[i].lineno);
            bad++;
            continue;
        }
        char out[SELLO_GENTIME_MAX + 8];
        memset(out, '#', sizeof out);
        size_t len = sello_gentime_format(ms, out);
        if (len > SELLO_GENTIME_MAX || len != strlen(expect) ||
            memcmp(out, expect, len) != 0 || out[len] != '#') {
            print_error("clock/gentime.txt:%u: %llu gave '%.*s', want '%s'\n",
                        lines[i].lineno, ms, (int)(len < 30 ? len : 30), out,
                        expect);
            bad++;
        }
        /* the independent parser agrees */
        assert_int_equal(fx_gentime_ms(expect), ms);
    }
    td_free_lines(lines, n);
    assert_int_equal(bad, 0);
}

static void test_civil_vectors(void **state)
{
    (void)state;
    size_t n;
    td_line *lines = td_read_lines("clock/civil.txt", &n);
    assert_non_null(lines);
    assert_true(n >= 20);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        long long y;
        unsigned mo, d, h, mi, s;
        char expect[32];
        if (sscanf(lines[i].text, "%lld %u %u %u %u %u | %31s", &y, &mo, &d,
                   &h, &mi, &s, expect) != 7) {
            print_error("clock/civil.txt:%u: bad line\n", lines[i].lineno);
            bad++;
            continue;
        }
        uint64_t secs = 0xdeadbeef;
        bool ok = sello_utc_from_civil(y, mo, d, h, mi, s, &secs);
        if (strcmp(expect, "invalid") == 0) {
            if (ok) {
                print_error("clock/civil.txt:%u: accepted\n", lines[i].lineno);
                bad++;
            }
        } else if (!ok || secs != strtoull(expect, NULL, 10)) {
            print_error("clock/civil.txt:%u: got %d %llu\n", lines[i].lineno,
                        ok, (unsigned long long)secs);
            bad++;
        }
    }
    td_free_lines(lines, n);
    assert_int_equal(bad, 0);
}

/* ---- round trips -------------------------------------------------------------- */

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Walks every day from 1970-01-01 to 2399-12-31 with a plain calendar
 * counter, checking both directions at a varying time of day. */
static void test_every_day_round_trip(void **state)
{
    (void)state;
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31 };
    uint64_t day = 0;
    for (int64_t y = 1970; y < 2400; y++) {
        for (unsigned m = 1; m <= 12; m++) {
            unsigned dim = mdays[m - 1] + (m == 2 && leap(y));
            for (unsigned d = 1; d <= dim; d++, day++) {
                unsigned sod = (unsigned)(day * 7919 % 86400);
                unsigned h = sod / 3600, mi = sod / 60 % 60, s = sod % 60;
                uint64_t secs;
                assert_true(sello_utc_from_civil(y, m, d, h, mi, s, &secs));
                assert_int_equal(secs, day * 86400 + sod);
                unsigned ms = (unsigned)(day % 1000);
                char out[SELLO_GENTIME_MAX], want[40];
                size_t len = sello_gentime_format(secs * 1000 + ms, out);
                int n = snprintf(want, sizeof want, "%04lld%02u%02u%02u%02u%02u",
                                 (long long)y, m, d, h, mi, s);
                if (ms) {
                    char frac[8];
                    snprintf(frac, sizeof frac, "%03u", ms);
                    size_t fl = 3;
                    while (frac[fl - 1] == '0')
                        fl--;
                    n += snprintf(want + n, sizeof want - (size_t)n, ".%.*s",
                                  (int)fl, frac);
                }
                snprintf(want + n, sizeof want - (size_t)n, "Z");
                if (len != strlen(want) || memcmp(out, want, len) != 0) {
                    print_error("day %llu: '%.*s' vs '%s'\n",
                                (unsigned long long)day, (int)len, out, want);
                    fail();
                }
            }
            /* the day after the month's last is refused */
            uint64_t secs;
            assert_false(sello_utc_from_civil(y, m, dim + 1, 0, 0, 0, &secs));
        }
    }
}

/* The largest time the module accepts formats within SELLO_GENTIME_MAX. */
static void test_gentime_max_length(void **state)
{
    (void)state;
    char out[SELLO_GENTIME_MAX];
    assert_int_equal(sello_gentime_format(253402300799999ull, out),
                     SELLO_GENTIME_MAX);
    assert_memory_equal(out, "99991231235959.999Z", SELLO_GENTIME_MAX);
}

/* ---- helpers ------------------------------------------------------------------- */

/* Microseconds since 1970 of a UTC civil time. */
static int64_t utc_of(int64_t y, unsigned mo, unsigned d, unsigned h,
                      unsigned mi, unsigned s)
{
    uint64_t secs = 0;
    assert_true(sello_utc_from_civil(y, mo, d, h, mi, s, &secs));
    return (int64_t)secs * SEC;
}

/* 2025-01-02T03:04:05Z */
static int64_t u0(void)
{
    return utc_of(2025, 1, 2, 3, 4, 5);
}

/* floor(delta * 10^6 / hz), saturating: the reference for elapsed time. */
static uint64_t ref_elapsed(uint64_t delta, uint32_t hz)
{
    u128 v = (u128)delta * 1000000u / hz;
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* floor(x * ppm / 10^6), saturating. */
static uint64_t ref_ppm(uint64_t x, uint64_t ppm)
{
    u128 v = (u128)x * ppm / 1000000u;
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* The same rounded up: how the error bound counts drift. */
static uint64_t ref_ppm_up(uint64_t x, uint64_t ppm)
{
    u128 v = ((u128)x * ppm + 999999u) / 1000000u;
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* The least tick count whose elapsed time (rounded down) reaches e_us. */
static uint64_t ticks_for(uint64_t e_us, uint32_t hz)
{
    return (uint64_t)(((u128)e_us * hz + 999999u) / 1000000u);
}

/* One tick in microseconds, rounded up. */
static uint64_t tick_us(uint32_t hz)
{
    return (1000000ull + hz - 1) / hz;
}

/* The largest power of ten (1 ms .. 1 s) at most a tenth of the accuracy. */
static uint32_t expected_precision_us(uint32_t accuracy_ms)
{
    static const uint32_t powers[] = { 1000000, 100000, 10000, 1000 };
    uint64_t acc_us = (uint64_t)accuracy_ms * 1000u;
    for (size_t i = 0; i < sizeof powers / sizeof powers[0]; i++)
        if ((uint64_t)powers[i] * 10u <= acc_us)
            return powers[i];
    return 1000;
}

/* utc_us truncated to the precision, in milliseconds. */
static uint64_t trunc_ms(int64_t utc_us, uint32_t precision_us)
{
    return (uint64_t)(utc_us - utc_us % precision_us) / 1000u;
}

static const char *why_name(sello_clock_why w)
{
    switch (w) {
    case SELLO_CLOCK_WHY_NONE: return "NONE";
    case SELLO_CLOCK_WHY_UNCALIBRATED: return "UNCALIBRATED";
    case SELLO_CLOCK_WHY_ERROR: return "ERROR";
    case SELLO_CLOCK_WHY_DISAGREE: return "DISAGREE";
    case SELLO_CLOCK_WHY_STALE: return "STALE";
    case SELLO_CLOCK_WHY_LEAP: return "LEAP";
    case SELLO_CLOCK_WHY_BEHIND: return "BEHIND";
    }
    return "?";
}

#define assert_why(c, ticks, want) check_why(c, ticks, want, __LINE__)
static void check_why(sello_clock *c, uint64_t ticks, sello_clock_why want,
                      int line)
{
    sello_clock_why got = sello_clock_why_not(c, ticks);
    if (got != want) {
        print_error("line %d: tick %llu: why_not %s, want %s (error %llu us,"
                    " precision %u us, accuracy %u us)\n",
                    line, (ull)ticks, why_name(got), why_name(want),
                    (ull)sello_clock_error_us(c, ticks), c->precision_us,
                    c->accuracy_us);
        fail();
    }
}

#define assert_i64(got, want) check_i64((int64_t)(got), (int64_t)(want), #got, __LINE__)
static void check_i64(int64_t got, int64_t want, const char *what, int line)
{
    if (got != want) {
        print_error("line %d: %s = %lld, want %lld (off by %lld)\n", line,
                    what, (sll)got, (sll)want, (sll)(got - want));
        fail();
    }
}

#define assert_u64(got, want) check_u64((uint64_t)(got), (uint64_t)(want), #got, __LINE__)
static void check_u64(uint64_t got, uint64_t want, const char *what, int line)
{
    if (got != want) {
        print_error("line %d: %s = %llu, want %llu\n", line, what, (ull)got,
                    (ull)want);
        fail();
    }
}

#define now_ms(c, ticks) get_now(c, ticks, __LINE__)
static uint64_t get_now(sello_clock *c, uint64_t ticks, int line)
{
    uint64_t ms = 0;
    if (sello_clock_now(c, ticks, &ms) != SELLO_OK) {
        print_error("line %d: now() failed at tick %llu: %s\n", line,
                    (ull)ticks, why_name(sello_clock_why_not(c, ticks)));
        fail();
    }
    return ms;
}

#define assert_now_fails(c, ticks) check_now_fails(c, ticks, __LINE__)
static void check_now_fails(sello_clock *c, uint64_t ticks, int line)
{
    uint64_t ms = 4242;
    if (sello_clock_now(c, ticks, &ms) != SELLO_ERR_CLOCK || ms != 4242) {
        print_error("line %d: now() gave %llu at tick %llu\n", line, (ull)ms,
                    (ull)ticks);
        fail();
    }
}

#define observe(c, ref, u, ticks, offset) do_observe(c, ref, u, ticks, offset, __LINE__)
static sello_obs_verdict do_observe(sello_clock *c, int64_t ref, uint32_t u,
                                    uint64_t ticks, int64_t *offset, int line)
{
    sello_obs_verdict v = (sello_obs_verdict)0;
    int64_t off = 0;
    if (sello_clock_observe(c, ref, u, ticks, &v, &off) != SELLO_OK) {
        print_error("line %d: observe failed\n", line);
        fail();
    }
    if (offset)
        *offset = off;
    return v;
}

static void start_clock(sello_clock *c, uint32_t hz, uint32_t drift_ppm,
                        uint32_t accuracy_ms, uint32_t slew_ppm,
                        uint32_t max_age_s, int64_t utc_us,
                        uint32_t uncertainty_us, uint64_t ticks)
{
    sello_clock_init(c, hz, drift_ppm, accuracy_ms, slew_ppm, max_age_s);
    sello_clock_calibrate(c, utc_us, uncertainty_us, ticks);
}

/* ---- tick arithmetic ------------------------------------------------------------ */

static const uint32_t all_rates[] = { 1, 3, 1000, 32768, 1000000, 19200000,
                                      1000000000u, 4294967295u };

/* sello_ticks_to_us, module time and now() against a 128-bit reference at
 * tick rates from 1 Hz to 4.29 GHz, over tick values spread across the
 * whole 64-bit range the rate allows in ~500 years. */
static void test_ticks_to_us_arithmetic(void **state)
{
    (void)state;
    const int64_t base = utc_of(2020, 1, 1, 0, 0, 0);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t r = 0; r < sizeof all_rates / sizeof all_rates[0]; r++) {
        uint32_t hz = all_rates[r];
        /* 1 ms precision where a tick is shorter than that, else 1 s */
        uint32_t acc_ms = hz >= 1000 ? 10 : 3600000;
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint64_t anchor_ticks = x % (1ull << 40);
            uint64_t span = (uint64_t)hz * 500ull * 365 * 86400;
            if (span / 500 / 365 / 86400 != hz || span > UINT64_MAX - anchor_ticks)
                span = UINT64_MAX - anchor_ticks;
            uint64_t ticks = anchor_ticks + (x >> 3) % (span ? span : 1);
            uint64_t want = ref_elapsed(ticks - anchor_ticks, hz);
            uint64_t got = sello_ticks_to_us(ticks - anchor_ticks, hz);
            sello_clock c;
            start_clock(&c, hz, 0, acc_ms, 100, 0, base, 0, anchor_ticks);
            int64_t utc = sello_clock_utc_us(&c, ticks);
            uint64_t ms = 0;
            sello_status st = sello_clock_now(&c, ticks, &ms);
            int64_t want_utc = base + (int64_t)want;
            if (got != want || utc != want_utc || st != SELLO_OK ||
                ms != trunc_ms(want_utc, c.precision_us)) {
                print_error("hz %u anchor %llu ticks %llu: %llu us, utc %lld, "
                            "now %d %llu; want %llu us, utc %lld, now %llu\n",
                            hz, (ull)anchor_ticks, (ull)ticks, (ull)got,
                            (sll)utc, st, (ull)ms, (ull)want, (sll)want_utc,
                            (ull)trunc_ms(want_utc, c.precision_us));
                fail();
            }
        }
    }
}

/* Near the top of the range sello_ticks_to_us saturates instead of
 * wrapping: every delta whose microseconds do not fit in 64 bits gives
 * UINT64_MAX, every one that fits is exact. */
static void test_ticks_to_us_saturates(void **state)
{
    (void)state;
    static const uint32_t rates[] = { 1, 2, 3, 1000, 32768, 999999, 1000000,
                                      1000001, 19200000, 1000000000u,
                                      4294967295u };
    const uint64_t q = UINT64_MAX / 1000000u; /* whole seconds that fit */
    int bad = 0;
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        uint32_t hz = rates[r];
        int bad_here = 0;
        uint64_t parts[] = { 0, 1, 2, hz / 2, (uint64_t)hz * 551615 / 1000000,
                             (uint64_t)hz * 551615 / 1000000 + 1, hz - 2u,
                             hz - 1u };
        for (uint64_t s = q - 1; s <= q + 1; s++) {
            uint64_t all = hz <= 65536 ? hz : sizeof parts / sizeof parts[0];
            for (uint64_t i = 0; i < all; i++) {
                uint64_t part = hz <= 65536 ? i : parts[i];
                if (part >= hz)
                    continue;
                u128 d = (u128)s * hz + part;
                if (d > UINT64_MAX)
                    continue;
                uint64_t got = sello_ticks_to_us((uint64_t)d, hz);
                uint64_t want = ref_elapsed((uint64_t)d, hz);
                if (got != want && bad_here++ == 0)
                    print_error("sello_ticks_to_us(%llu, %u) = %llu, want %llu\n",
                                (ull)d, hz, (ull)got, (ull)want);
            }
        }
        if (bad_here)
            print_error("%u Hz: %d of the deltas tried wrapped\n", hz, bad_here);
        bad += bad_here;
        assert_u64(sello_ticks_to_us(UINT64_MAX, hz), ref_elapsed(UINT64_MAX, hz));
    }
    /* no tick rate: no time */
    assert_u64(sello_ticks_to_us(1, 0), UINT64_MAX);
    if (bad)
        print_error("%d deltas wrapped instead of saturating\n", bad);
    assert_int_equal(bad, 0);
}

/* A 1 GHz tick source for centuries: no overflow, exact milliseconds. */
static void test_clock_ghz_years(void **state)
{
    (void)state;
    sello_clock c;
    const uint64_t hz = 1000000000u;
    const int64_t base = utc_of(2020, 1, 1, 0, 0, 0);
    /* drift 0 and 10 ms accuracy: 1 ms precision, synchronised for ever */
    start_clock(&c, (uint32_t)hz, 0, 10, 100, 0, base, 0, 0);
    assert_int_equal(c.precision_us, 1000);
    for (uint64_t years = 1; years <= 500; years *= 2) {
        uint64_t secs = years * 31556952u; /* mean Gregorian year */
        uint64_t ticks = secs * hz + 999999999u;
        assert_i64(sello_clock_utc_us(&c, ticks),
                   base + (int64_t)secs * SEC + 999999);
        assert_u64(now_ms(&c, ticks), (uint64_t)base / 1000 + secs * 1000 + 999);
    }
    /* the very last tick value */
    start_clock(&c, (uint32_t)hz, 0, 10, 100, 0, 0, 0, 0);
    assert_i64(sello_clock_utc_us(&c, UINT64_MAX), UINT64_MAX / 1000u);
    assert_u64(now_ms(&c, UINT64_MAX),
               UINT64_MAX / hz * 1000 + UINT64_MAX % hz / 1000000);
}

/* ---- precision and now() ---------------------------------------------------------- */

static void test_precision_from_accuracy(void **state)
{
    (void)state;
    static const struct {
        uint32_t accuracy_ms, precision_us;
    } table[] = {
        { 1000, 100000 }, { 100, 10000 },   { 250, 10000 },
        { 10, 1000 },     { 3600000, 1000000 }, { 1, 1000 },
        { 99, 1000 },     { 999, 10000 },   { 9999, 100000 },
        { 10000, 1000000 },
    };
    sello_clock c;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        sello_clock_init(&c, MHZ, 50, table[i].accuracy_ms, 100, 0);
        assert_int_equal(c.accuracy_us, table[i].accuracy_ms * 1000u);
        assert_int_equal(c.precision_us, table[i].precision_us);
    }
    /* every accuracy the unit accepts (1 ms .. 1 h) */
    for (uint32_t a = 1; a <= 3600000; a++) {
        sello_clock_init(&c, MHZ, 50, a, 100, 0);
        if (c.precision_us != expected_precision_us(a) ||
            c.accuracy_us != a * 1000u) {
            print_error("accuracy %u ms: precision %u us, accuracy %u us\n", a,
                        c.precision_us, c.accuracy_us);
            fail();
        }
    }
}

/* genTime is truncated to the precision: a time at .987654 s gives .9
 * with 1 s accuracy, .98 with 100 ms, .987 with 10 ms, none with 1 h. */
static void test_now_truncates_to_precision(void **state)
{
    (void)state;
    static const struct {
        uint32_t accuracy_ms;
        const char *gentime;
    } table[] = {
        { 1000, "20250102030405.9Z" },
        { 100, "20250102030405.98Z" },
        { 250, "20250102030405.98Z" },
        { 10, "20250102030405.987Z" },
        { 3600000, "20250102030405Z" },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        sello_clock c;
        const int64_t t = u0() + 987654;
        start_clock(&c, MHZ, 50, table[i].accuracy_ms, 100, 0, t, 0, A0);
        uint32_t prec = expected_precision_us(table[i].accuracy_ms);
        assert_why(&c, A0, SELLO_CLOCK_WHY_NONE);
        uint64_t ms = now_ms(&c, A0);
        assert_u64(ms, trunc_ms(t, prec));
        char out[SELLO_GENTIME_MAX];
        size_t len = sello_gentime_format(ms, out);
        assert_int_equal(len, strlen(table[i].gentime));
        assert_memory_equal(out, table[i].gentime, len);
        /* the same until the next multiple of the precision, then that */
        int64_t next = t - t % prec + prec;
        uint64_t edge = A0 + (uint64_t)(next - t);
        assert_u64(now_ms(&c, edge - 1), ms);
        assert_u64(now_ms(&c, edge), (uint64_t)next / 1000);
        assert_u64(now_ms(&c, edge + prec - 1), (uint64_t)next / 1000);
        assert_u64(now_ms(&c, edge + prec), (uint64_t)(next + prec) / 1000);
    }
}

/* now() returns the truncated time and never goes backwards: equal ticks,
 * observations that slow the clock down and ones that speed it up. */
static void test_now_never_backwards(void **state)
{
    (void)state;
    sello_clock c;
    /* 10 ms accuracy: 1 ms precision */
    start_clock(&c, MHZ, 50, 10, 500, 0, u0(), 0, A0);
    uint64_t ticks = A0, last = 0, next_obs = A0;
    int n_obs = 0;
    for (int i = 0; i < 5000; i++) {
        ticks += (uint64_t)(i % 7) * 3371;
        if (ticks >= next_obs) {
            /* alternately 3 ms behind and 2 ms ahead */
            int64_t m = sello_clock_utc_us(&c, ticks);
            int64_t off = n_obs++ % 2 ? 2000 : -3000;
            assert_int_equal(observe(&c, m + off, 0, ticks, NULL),
                             SELLO_OBS_ACCEPTED);
            next_obs = ticks + 5 * MHZ;
        }
        int64_t m = sello_clock_utc_us(&c, ticks);
        uint64_t ms = now_ms(&c, ticks);
        assert_u64(ms, trunc_ms(m, 1000));
        assert_true(ms >= last);
        last = ms;
    }
    assert_true(n_obs >= 5);
}

/* ---- calibration, drift, age ---------------------------------------------------------- */

static void test_uncalibrated(void **state)
{
    (void)state;
    sello_clock c;
    sello_clock_init(&c, MHZ, 50, 1000, 100, 0);
    assert_false(c.calibrated);
    assert_why(&c, 123, SELLO_CLOCK_WHY_UNCALIBRATED);
    assert_now_fails(&c, 123);
    sello_obs_verdict v = (sello_obs_verdict)77;
    int64_t off = 77;
    assert_int_equal(sello_clock_observe(&c, u0(), 0, 123, &v, &off),
                     SELLO_ERR_CLOCK);
    assert_int_equal(v, 77);
    assert_int_equal(off, 77);
    assert_false(c.calibrated);
    assert_int_equal(sello_clock_sync_left_s(&c, 123), 0);

    /* a board without a tick rate never has a clock */
    start_clock(&c, 0, 50, 1000, 100, 0, u0(), 0, 0);
    assert_why(&c, 5, SELLO_CLOCK_WHY_UNCALIBRATED);
    assert_now_fails(&c, 5);
    assert_int_equal(sello_clock_observe(&c, u0(), 0, 5, &v, &off),
                     SELLO_ERR_CLOCK);
}

/* Synchronised at once exactly when u + precision + one tick fits the
 * accuracy; the error bound is then u plus one tick. */
static void test_calibration_synchronised_boundary(void **state)
{
    (void)state;
    static const uint32_t rates[] = { MHZ, 32768, 1000000000u, 3 };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        uint32_t hz = rates[r];
        sello_clock c;
        sello_clock_init(&c, hz, 50, 1000, 100, 0);
        uint64_t acc = 1000000, prec = 100000, tick = tick_us(hz);
        assert_int_equal(c.precision_us, prec);
        uint32_t u_max = (uint32_t)(acc - prec - tick);
        sello_clock_calibrate(&c, u0(), u_max, A0);
        assert_true(c.calibrated);
        assert_u64(sello_clock_error_us(&c, A0), u_max + tick);
        assert_why(&c, A0, SELLO_CLOCK_WHY_NONE);
        assert_u64(now_ms(&c, A0), trunc_ms(u0(), (uint32_t)prec));
        sello_clock_calibrate(&c, u0(), u_max + 1, A0);
        assert_u64(sello_clock_error_us(&c, A0), u_max + 1 + tick);
        assert_why(&c, A0, SELLO_CLOCK_WHY_ERROR);
        assert_now_fails(&c, A0);
    }
}

/* The error bound counts one tick, rounded up to a microsecond, at every
 * tick rate a board can declare. */
static void test_error_one_tick_at_every_rate(void **state)
{
    (void)state;
    static const uint32_t rates[] = { 1, 3, 1000, 32768, 1000000, 19200000,
                                      1000000000u, 4293967296u, 4293967297u,
                                      4294967295u };
    int bad = 0;
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        sello_clock c;
        start_clock(&c, rates[r], 50, 1000, 100, 0, u0(), 0, A0);
        uint64_t got = sello_clock_error_us(&c, A0);
        if (got != tick_us(rates[r])) {
            print_error("%u Hz: error bound at calibration %llu us, want "
                        "one tick = %llu us\n",
                        rates[r], (ull)got, (ull)tick_us(rates[r]));
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/*
 * Drift beyond the accuracy stops issuing: after a calibration with
 * uncertainty u the error bound is u + drift * elapsed + one tick, so the
 * clock stops being synchronised by itself at the first elapsed time T
 * where (in whole microseconds) drift * T exceeds the room the accuracy
 * leaves, accuracy - precision - u - tick. That T is the maximum
 * observation age, and sync_left_s says how far it is.
 */
static void test_drift_beyond_accuracy_stops_issuing(void **state)
{
    (void)state;
    static const uint32_t rates[] = { MHZ, 32768, 1000000000u, 3 };
    const uint64_t acc = 1000000, prec = 100000, u = 2000, drift = 50;
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        uint32_t hz = rates[r];
        sello_clock c;
        start_clock(&c, hz, (uint32_t)drift, 1000, 100, 0, u0(), (uint32_t)u, A0);
        uint64_t tick = tick_us(hz);
        uint64_t room = acc - prec - u - tick;
        /* the first elapsed microsecond where ceil(drift * T / 10^6) > room */
        uint64_t cross = room * 1000000 / drift + 1;
        if (hz == MHZ)
            assert_u64(cross, 17959980001ull); /* 4 h 59 min 19.98 s */
        uint64_t k = ticks_for(cross, hz);
        /* the error bound along the way */
        for (uint64_t f = 0; f <= 8; f++) {
            uint64_t t = k / 8 * f;
            uint64_t e = ref_elapsed(t, hz);
            assert_u64(sello_clock_error_us(&c, A0 + t),
                       u + ref_ppm_up(e, drift) + tick);
            assert_why(&c, A0 + t,
                       t < k ? SELLO_CLOCK_WHY_NONE : SELLO_CLOCK_WHY_ERROR);
            /* sync_left_s agrees with T within a second */
            sll left = (sll)sello_clock_sync_left_s(&c, A0 + t);
            sll want = ((sll)cross - (sll)e) / SEC;
            if (left < want - 1 || left > want + 1) {
                print_error("%u Hz at %llu us: sync_left_s %lld, want %lld\n",
                            hz, (ull)e, left, want);
                fail();
            }
        }
        /* exactly at the tick */
        assert_why(&c, A0 + k - 1, SELLO_CLOCK_WHY_NONE);
        assert_why(&c, A0 + k, SELLO_CLOCK_WHY_ERROR);
        assert_true(sello_clock_error_us(&c, A0 + k) + prec > acc);
        assert_now_fails(&c, A0 + k);
        assert_int_equal(sello_clock_sync_left_s(&c, A0 + k), 0);
        /* and a millisecond either side */
        if (hz >= 1000) {
            uint64_t before = (uint64_t)((u128)(cross - 1000) * hz / 1000000u);
            assert_why(&c, A0 + before, SELLO_CLOCK_WHY_NONE);
            assert_why(&c, A0 + ticks_for(cross + 1000, hz),
                       SELLO_CLOCK_WHY_ERROR);
        }
        /* for good */
        assert_why(&c, A0 + k * 10, SELLO_CLOCK_WHY_ERROR);
    }
}

/*
 * The same crossing in real numbers: with u = 2 ms, 1 MHz ticks, 50 ppm
 * and 100 ms precision the accuracy of 1 s is used up when
 * 50e-6 * T > 1 s - 100 ms - 2 ms - 1 us, i.e. at T = 17959.98 s. A
 * millisecond later the true worst case exceeds the accuracy; the bound
 * must round the drift term up, not down, to say so.
 */
static void test_error_bound_rounds_drift_up(void **state)
{
    (void)state;
    const uint64_t acc = 1000000, prec = 100000, u = 2000, drift = 50;
    sello_clock c;
    start_clock(&c, MHZ, (uint32_t)drift, 1000, 100, 0, u0(), (uint32_t)u, A0);
    uint64_t room = acc - prec - u - tick_us(MHZ);
    uint64_t t_real = room * 1000000 / drift; /* drift * t_real == room exactly */
    assert_u64(t_real, 17959980000ull);
    assert_why(&c, A0 + t_real - 1000, SELLO_CLOCK_WHY_NONE);
    /* worst case at +1 ms: room + 0.05 us */
    assert_why(&c, A0 + t_real + 1000, SELLO_CLOCK_WHY_ERROR);
}

/* sync_left_s with no declared drift: for ever while synchronised, and 0
 * when the error bound already exceeds the accuracy (as documented). */
static void test_sync_left_zero_drift(void **state)
{
    (void)state;
    sello_clock c;
    start_clock(&c, MHZ, 0, 1000, 100, 0, u0(), 1000, A0);
    assert_why(&c, A0 + 1000000 * (uint64_t)MHZ, SELLO_CLOCK_WHY_NONE);
    assert_int_equal(sello_clock_sync_left_s(&c, A0), UINT32_MAX);
    /* the quorum may propose an uncertainty up to the accuracy */
    sello_clock_calibrate(&c, u0(), 1000000, A0);
    assert_why(&c, A0, SELLO_CLOCK_WHY_ERROR);
    assert_int_equal(sello_clock_sync_left_s(&c, A0), 0);
}

/* With a maximum observation age the clock is stale that long after the
 * last calibration or accepted observation, even when the error bound
 * would allow hours more; an accepted observation resets it, a useless
 * one does not. */
static void test_max_age_stale(void **state)
{
    (void)state;
    sello_clock c;
    const uint64_t age = 60;
    start_clock(&c, MHZ, 50, 1000, 100, (uint32_t)age, u0(), 1000, A0);
    uint64_t limit = A0 + age * SEC;
    assert_why(&c, limit - 1000, SELLO_CLOCK_WHY_NONE);
    assert_why(&c, limit + 1000, SELLO_CLOCK_WHY_STALE);
    assert_now_fails(&c, limit + 1000);
    /* the error bound alone would allow far more */
    assert_true(sello_clock_error_us(&c, limit + 1000) + 100000 <= 1000000);
    assert_true(sello_clock_sync_left_s(&c, limit + 1000) > 10 * age);
    /* an accepted observation at 50 s resets the age */
    uint64_t t_obs = A0 + 50 * SEC;
    int64_t m = sello_clock_utc_us(&c, t_obs);
    assert_int_equal(observe(&c, m + 1500, 1000, t_obs, NULL),
                     SELLO_OBS_ACCEPTED);
    assert_why(&c, limit + 1000, SELLO_CLOCK_WHY_NONE);
    assert_why(&c, t_obs + age * SEC - 1000, SELLO_CLOCK_WHY_NONE);
    /* a useless one at 100 s does not */
    uint64_t t_useless = A0 + 100 * SEC;
    assert_int_equal(observe(&c, sello_clock_utc_us(&c, t_useless), 1000001,
                             t_useless, NULL),
                     SELLO_OBS_USELESS);
    assert_why(&c, t_obs + age * SEC + 1000, SELLO_CLOCK_WHY_STALE);
    /* a quorum calibration resets it too */
    uint64_t t_cal = t_obs + age * SEC + 5 * SEC;
    sello_clock_calibrate(&c, sello_clock_utc_us(&c, t_cal), 1000, t_cal);
    assert_why(&c, t_cal + age * SEC - 1000, SELLO_CLOCK_WHY_NONE);
    assert_why(&c, t_cal + age * SEC + 1000, SELLO_CLOCK_WHY_STALE);
}

/* ---- observations ------------------------------------------------------------------ */

/* An observation less certain than the accuracy changes nothing, however
 * far off it is. */
static void test_observation_useless(void **state)
{
    (void)state;
    sello_clock c;
    start_clock(&c, MHZ, 50, 1000, 100, 0, u0(), 1000, A0);
    uint64_t t = A0 + 100 * SEC;
    sello_clock before = c;
    static const int64_t offsets[] = { 0, 5000, -400000, 5 * SEC, -7200 * SEC };
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        int64_t off;
        int64_t m = sello_clock_utc_us(&c, t);
        assert_int_equal(observe(&c, m + offsets[i], 1000001, t, &off),
                         SELLO_OBS_USELESS);
        assert_i64(off, offsets[i]);
        assert_i64(c.last_offset_us, offsets[i]);
        assert_true(c.observed);
        /* the model is untouched */
        assert_u64(c.anchor_ticks, before.anchor_ticks);
        assert_i64(c.anchor_utc_us, before.anchor_utc_us);
        assert_i64(c.target_us, before.target_us);
        assert_u64(c.base_error_us, before.base_error_us);
        assert_u64(c.good_ticks, before.good_ticks);
        assert_false(c.disagree);
        for (uint64_t later = t; later < t + 5000 * SEC; later += 999 * SEC) {
            assert_i64(sello_clock_utc_us(&c, later),
                       sello_clock_utc_us(&before, later));
            assert_u64(sello_clock_error_us(&c, later),
                       sello_clock_error_us(&before, later));
        }
        assert_why(&c, t, SELLO_CLOCK_WHY_NONE);
    }
    /* an uncertainty equal to the accuracy is not useless (but leaves no
     * room: the clock is then unsynchronised by its error bound) */
    int64_t m = sello_clock_utc_us(&c, t);
    assert_int_equal(observe(&c, m, 1000000, t, NULL), SELLO_OBS_ACCEPTED);
    assert_u64(sello_clock_error_us(&c, t), 1000000 + 1);
    assert_why(&c, t, SELLO_CLOCK_WHY_ERROR);
}

/* An observation further off than the accuracy disagrees: the clock is
 * not moved and stays unsynchronised until an observation agrees again. */
static void test_observation_disagrees(void **state)
{
    (void)state;
    sello_clock c;
    const int64_t acc = 1000000;
    start_clock(&c, MHZ, 50, 1000, 100, 0, u0(), 1000, A0);
    sello_clock before = c;
    uint64_t t = A0 + 10 * SEC;
    int64_t m = sello_clock_utc_us(&c, t), off;
    assert_int_equal(observe(&c, m + acc + 1, 1000, t, &off),
                     SELLO_OBS_DISAGREES);
    assert_i64(off, acc + 1);
    assert_true(c.disagree);
    assert_why(&c, t, SELLO_CLOCK_WHY_DISAGREE);
    assert_now_fails(&c, t);
    /* not moved, and it stays so */
    for (uint64_t later = t; later < t + 600 * SEC; later += 60 * SEC) {
        assert_i64(sello_clock_utc_us(&c, later),
                   sello_clock_utc_us(&before, later));
        assert_why(&c, later, SELLO_CLOCK_WHY_DISAGREE);
    }
    /* the other way, and a useless one, change nothing */
    t += 20 * SEC;
    m = sello_clock_utc_us(&c, t);
    assert_int_equal(observe(&c, m - acc - 1, 1000, t, &off),
                     SELLO_OBS_DISAGREES);
    assert_i64(off, -acc - 1);
    assert_int_equal(observe(&c, m, 1000001, t, NULL), SELLO_OBS_USELESS);
    assert_why(&c, t, SELLO_CLOCK_WHY_DISAGREE);
    /* exactly the accuracy agrees (and leaves no room for the error) */
    assert_int_equal(observe(&c, m - acc, 0, t, &off), SELLO_OBS_ACCEPTED);
    assert_false(c.disagree);
    assert_why(&c, t, SELLO_CLOCK_WHY_ERROR);
    /* an agreeing observation with room: synchronised again */
    t += SEC;
    m = sello_clock_utc_us(&c, t);
    assert_int_equal(observe(&c, m + 2000, 1000, t, &off), SELLO_OBS_ACCEPTED);
    assert_i64(off, 2000);
    assert_why(&c, t, SELLO_CLOCK_WHY_NONE);
    assert_u64(now_ms(&c, t), trunc_ms(m, 100000));
}

/* An accepted observation restarts the drift growth: the error bound is
 * back to the observation's uncertainty plus the correction still to be
 * slewed in (plus a tick). */
static void test_observation_accepted_resets_error(void **state)
{
    (void)state;
    sello_clock c;
    const uint64_t u = 2000, drift = 50, slew = 100, tick = 1;
    start_clock(&c, MHZ, (uint32_t)drift, 1000, (uint32_t)slew, 0, u0(), (uint32_t)u, A0);
    uint64_t t = A0 + 1000 * SEC;
    assert_u64(sello_clock_error_us(&c, t), u + 1000 * drift + tick);
    const int64_t o = 3000;
    const uint64_t u_obs = 4000;
    int64_t m = sello_clock_utc_us(&c, t), off;
    assert_i64(m, u0() + 1000 * SEC);
    assert_int_equal(observe(&c, m + o, (uint32_t)u_obs, t, &off),
                     SELLO_OBS_ACCEPTED);
    assert_i64(off, o);
    assert_i64(c.last_offset_us, o);
    assert_i64(sello_clock_utc_us(&c, t), m); /* no jump */
    assert_u64(sello_clock_error_us(&c, t), u_obs + (uint64_t)o + tick);
    /* then: the pending correction shrinks by slew, the drift grows */
    static const uint64_t after_s[] = { 1, 10, 29, 30, 31, 100, 1000 };
    for (size_t i = 0; i < sizeof after_s / sizeof after_s[0]; i++) {
        uint64_t e = after_s[i] * SEC;
        uint64_t applied = e * slew / SEC < (uint64_t)o ? e * slew / SEC : (uint64_t)o;
        assert_u64(sello_clock_error_us(&c, t + e),
                   u_obs + ((uint64_t)o - applied) + e * drift / SEC + tick);
        assert_i64(sello_clock_utc_us(&c, t + e), m + (int64_t)(e + applied));
    }
    /* and the deadline moved: sync_left_s counts from the observation */
    uint64_t room = 1000000 - 100000 - u_obs - tick; /* once the 3 ms are in */
    sll left = (sll)sello_clock_sync_left_s(&c, t + 30 * SEC);
    sll want = (sll)(room / drift) - 30;
    assert_true(left >= want - 1 && left <= want + 1);
}

/* An accepted offset of +400 ms is slewed in at exactly 100 ppm: module
 * time advances by elapsed * (1 + 100e-6) until the 400 ms are applied
 * after 4000 s, then at the nominal rate. */
static void test_slew_forward(void **state)
{
    (void)state;
    static const uint32_t rates[] = { MHZ, 32768 };
    const uint64_t slew = 100, drift = 50, u = 1000, u_obs = 2000;
    const int64_t o = 400000;
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        uint32_t hz = rates[r];
        sello_clock c;
        start_clock(&c, hz, (uint32_t)drift, 1000, (uint32_t)slew, 0, u0(), (uint32_t)u, A0);
        uint64_t t_obs = A0 + 10ull * hz; /* 10 s after the calibration */
        int64_t m0 = sello_clock_utc_us(&c, t_obs), off;
        assert_i64(m0, u0() + 10 * SEC);
        assert_int_equal(observe(&c, m0 + o, (uint32_t)u_obs, t_obs, &off),
                         SELLO_OBS_ACCEPTED);
        assert_i64(off, o);
        assert_i64(sello_clock_utc_us(&c, t_obs), m0);
        uint64_t full = (uint64_t)o * SEC / slew;
        assert_u64(full, 4000 * SEC);
        static const uint64_t at_us[] = { 0, 10000, 1000000, 10000000,
                                          123450000, 1000000000, 3999990000,
                                          4000000000 };
        for (size_t i = 0; i < sizeof at_us / sizeof at_us[0]; i++) {
            uint64_t k = ticks_for(at_us[i], hz), e = ref_elapsed(k, hz);
            uint64_t applied = ref_ppm(e, slew);
            int64_t got = sello_clock_utc_us(&c, t_obs + k);
            if (hz == MHZ) {
                /* exactly elapsed * (1 + 100e-6) */
                assert_u64(e % 10000, 0);
                assert_i64(got, m0 + (int64_t)(e + e / 10000));
            }
            assert_i64(got, m0 + (int64_t)(e + applied));
            assert_u64(sello_clock_error_us(&c, t_obs + k),
                       u_obs + ((uint64_t)o - applied) + ref_ppm_up(e, drift) +
                           tick_us(hz));
            assert_why(&c, t_obs + k, SELLO_CLOCK_WHY_NONE);
        }
        /* fully applied at 4000 s: 4000.4 s of module time */
        uint64_t k_full = ticks_for(full, hz);
        assert_i64(sello_clock_utc_us(&c, t_obs + k_full),
                   m0 + (int64_t)ref_elapsed(k_full, hz) + o);
        if (hz == MHZ)
            assert_i64(sello_clock_utc_us(&c, t_obs + k_full),
                       m0 + 4000 * SEC + 400000);
        /* one second is 1.0001 s before, 1 s after */
        uint64_t k1000 = 1000ull * hz;
        assert_i64(sello_clock_utc_us(&c, t_obs + k1000 + hz) -
                       sello_clock_utc_us(&c, t_obs + k1000),
                   SEC + (int64_t)slew);
        for (uint64_t s = 4000; s <= 6000; s += 250) {
            uint64_t k = s * hz;
            assert_i64(sello_clock_utc_us(&c, t_obs + k),
                       m0 + (int64_t)s * SEC + o);
            assert_i64(sello_clock_utc_us(&c, t_obs + k + hz) -
                           sello_clock_utc_us(&c, t_obs + k),
                       SEC);
        }
    }
}

/* A negative offset slows module time down by exactly the slew, and it
 * never stands still for more than a microsecond: non-decreasing tick by
 * tick, strictly increasing over any two ticks and every millisecond. */
static void test_slew_backward(void **state)
{
    (void)state;
    sello_clock c;
    const uint64_t slew = 100;
    const int64_t o = -400000;
    start_clock(&c, MHZ, 50, 1000, (uint32_t)slew, 0, u0(), 1000, A0);
    uint64_t t_obs = A0 + 10 * SEC;
    int64_t m0 = sello_clock_utc_us(&c, t_obs), off;
    assert_int_equal(observe(&c, m0 + o, 2000, t_obs, &off),
                     SELLO_OBS_ACCEPTED);
    assert_i64(off, o);
    for (uint64_t s = 0; s <= 6000; s += 50) {
        uint64_t e = s * SEC;
        uint64_t applied = e * slew / SEC < 400000 ? e * slew / SEC : 400000;
        assert_i64(sello_clock_utc_us(&c, t_obs + e), m0 + (int64_t)(e - applied));
    }
    assert_i64(sello_clock_utc_us(&c, t_obs + 4000 * SEC), m0 + 4000 * SEC - 400000);
    /* tick by tick over the first 30 ms */
    int64_t prev = sello_clock_utc_us(&c, t_obs), prev2 = prev - 1;
    for (uint64_t k = 1; k <= 30000; k++) {
        int64_t v = sello_clock_utc_us(&c, t_obs + k);
        assert_true(v >= prev);
        assert_true(v > prev2);
        prev2 = prev;
        prev = v;
    }
    /* every millisecond over the first 20 s and around the end of the slew */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t from = pass ? 3990 * SEC : 0, to = from + 20 * SEC;
        int64_t p = sello_clock_utc_us(&c, t_obs + from);
        for (uint64_t e = from + 1000; e <= to; e += 1000) {
            int64_t v = sello_clock_utc_us(&c, t_obs + e);
            assert_true(v > p);
            uint64_t applied = e * slew / SEC < 400000 ? e * slew / SEC : 400000;
            assert_i64(v, m0 + (int64_t)(e - applied));
            p = v;
        }
    }
    /* a slew rate of a million ppm or more is capped below it: module time
     * then nearly stops while a negative offset is applied, but does not
     * go back */
    start_clock(&c, MHZ, 50, 1000, 5000000, 0, u0(), 1000, A0);
    assert_int_equal(c.slew_ppm, 999999);
    m0 = sello_clock_utc_us(&c, t_obs);
    assert_int_equal(observe(&c, m0 + o, 2000, t_obs, NULL), SELLO_OBS_ACCEPTED);
    prev = m0;
    for (uint64_t e = 1000; e <= 2 * SEC; e += 1000) {
        int64_t v = sello_clock_utc_us(&c, t_obs + e);
        uint64_t room = e * 999999 / SEC;
        assert_i64(v, m0 + (int64_t)e - (int64_t)(room < 400000 ? room : 400000));
        assert_true(v >= prev);
        prev = v;
    }
    assert_true(sello_clock_utc_us(&c, t_obs + 400000) > m0);
}

/* ---- a hostile host ---------------------------------------------------------------- */

/*
 * A host feeds an observation every second for an hour, each claiming the
 * reference is the module's time plus the accuracy less 1 us: always
 * "agreeing". Module time after t seconds is never more than
 * t * (1 + slew_ppm / 10^6) beyond the start (DESIGN.md section 4): here
 * exactly that, 360 ms after the hour. And a host claiming the whole
 * accuracy leaves no room for the error bound: the clock does not issue.
 */
static void host_drags(int dir)
{
    sello_clock c;
    const int64_t slew = 100, acc = 1000000;
    const int64_t start = u0();
    start_clock(&c, MHZ, 50, 1000, (uint32_t)slew, 0, start, 1000, A0);
    int64_t prev = start - 1;
    for (int64_t i = 0; i <= 3600; i++) {
        uint64_t t = A0 + (uint64_t)i * SEC;
        int64_t m = sello_clock_utc_us(&c, t);
        int64_t bound = start + i * (SEC + dir * slew);
        if (dir > 0)
            assert_true(m <= bound);
        else
            assert_true(m >= bound);
        assert_i64(m, bound); /* the full slew, every second */
        assert_true(m > prev);
        if (i > 0) {
            /* half-way between observations too */
            int64_t half = sello_clock_utc_us(&c, t - SEC / 2);
            assert_i64(half, start + (2 * i - 1) * (SEC + dir * slew) / 2);
        }
        prev = m;
        int64_t off;
        assert_int_equal(observe(&c, m + dir * (acc - 1), 0, t, &off),
                         SELLO_OBS_ACCEPTED);
        assert_i64(off, dir * (acc - 1));
        assert_why(&c, t, SELLO_CLOCK_WHY_ERROR);
    }
    assert_i64(sello_clock_utc_us(&c, A0 + 3600 * SEC) - (start + 3600 * SEC),
               dir * 3600 * slew);
}

static void test_hostile_host_forward(void **state)
{
    (void)state;
    host_drags(1);
}

static void test_hostile_host_backward(void **state)
{
    (void)state;
    host_drags(-1);
}

/* ---- a quorum step back ------------------------------------------------------------- */

/* After a recalibration 10 s back the clock is behind the latest time
 * handed out: now() fails (WHY_BEHIND) until module time reaches it, then
 * resumes from that same time, never an earlier one. */
static void test_recalibration_step_back(void **state)
{
    (void)state;
    sello_clock c;
    const int64_t prec = 100000;
    start_clock(&c, MHZ, 50, 1000, 100, 0, u0(), 1000, A0);
    uint64_t last = 0;
    for (uint64_t e = 0; e <= 5990000; e += 330000) {
        uint64_t ms = now_ms(&c, A0 + e);
        assert_true(ms >= last);
        last = ms;
    }
    last = now_ms(&c, A0 + 5990000);
    assert_u64(last, trunc_ms(u0() + 5990000, (uint32_t)prec));
    int64_t last_us = (int64_t)last * 1000;
    /* the quorum says it is 10 s earlier than the module thinks */
    uint64_t t2 = A0 + 6 * SEC;
    int64_t back = u0() + 6 * SEC - 10 * SEC;
    sello_clock_calibrate(&c, back, 1000, t2);
    assert_i64(sello_clock_utc_us(&c, t2), back);
    uint64_t catch_up = t2 + (uint64_t)(last_us - back); /* 9.9 s later */
    assert_u64(catch_up - t2, 9900000);
    for (uint64_t t = t2; t < catch_up; t += 450000) {
        assert_why(&c, t, SELLO_CLOCK_WHY_BEHIND);
        assert_now_fails(&c, t);
    }
    assert_why(&c, catch_up - 1, SELLO_CLOCK_WHY_BEHIND);
    assert_now_fails(&c, catch_up - 1);
    assert_why(&c, catch_up, SELLO_CLOCK_WHY_NONE);
    assert_u64(now_ms(&c, catch_up), last);
    assert_u64(now_ms(&c, catch_up + prec - 1), last);
    assert_u64(now_ms(&c, catch_up + prec), last + prec / 1000);
    assert_u64(now_ms(&c, catch_up + 60 * SEC), last + 60000);
}

/* ---- leap seconds ------------------------------------------------------------------ */

/* A clock calibrated 100 s before the leap at L (1 MHz, 1 s accuracy
 * unless told); at(x) is the tick at which continuous time is x. */
typedef struct {
    sello_clock c;
    int64_t L, cal, acc;
} leap_fx;

static void leap_start(leap_fx *f, uint32_t accuracy_ms, int sign)
{
    f->L = utc_of(2027, 1, 1, 0, 0, 0);
    f->cal = f->L - 100 * SEC;
    f->acc = (int64_t)accuracy_ms * 1000;
    start_clock(&f->c, MHZ, 50, accuracy_ms, 100, 0, f->cal, 1000, A0);
    sello_clock_announce_leap(&f->c, f->L, sign, A0);
}

static uint64_t at(const leap_fx *f, int64_t x)
{
    return A0 + (uint64_t)(x - f->cal);
}

/*
 * An inserted leap at L = 2027-01-01T00:00:00Z: synchronised until
 * L - accuracy, paused (WHY_LEAP) from there until L + 1 s + accuracy of
 * continuous time, synchronised again by itself; module time steps back
 * by the second at L, so afterwards it is 1 s behind continuous time.
 */
static void test_leap_inserted(void **state)
{
    (void)state;
    leap_fx f;
    /* the edges, to the microsecond */
    leap_start(&f, 1000, 1);
    int64_t L = f.L, acc = f.acc;
    assert_int_equal(f.c.leap_sign, 1);
    assert_why(&f.c, at(&f, L - acc - 1), SELLO_CLOCK_WHY_NONE);
    uint64_t before = now_ms(&f.c, at(&f, L - acc - 1));
    assert_u64(before, trunc_ms(L - acc - 1, 100000));
    assert_why(&f.c, at(&f, L - acc), SELLO_CLOCK_WHY_LEAP);
    assert_now_fails(&f.c, at(&f, L - acc));
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L - 1)), L - 1);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L)), L - SEC);
    assert_why(&f.c, at(&f, L + SEC + acc - 1), SELLO_CLOCK_WHY_LEAP);
    assert_why(&f.c, at(&f, L + SEC + acc + 1), SELLO_CLOCK_WHY_NONE);
    assert_int_equal(f.c.leap_sign, 0); /* settled by itself */
    uint64_t after = now_ms(&f.c, at(&f, L + SEC + acc + 1));
    assert_u64(after, trunc_ms(L + acc + 1, 100000));
    /* nothing within the accuracy of the leap was handed out */
    assert_true((int64_t)before * 1000 < L - acc);
    assert_true((int64_t)after * 1000 >= L + acc);
    for (int64_t s = 2; s <= 1000; s *= 3) {
        int64_t x = L + s * SEC + 123457;
        assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x - SEC);
        assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_NONE);
        assert_u64(now_ms(&f.c, at(&f, x)), trunc_ms(x - SEC, 100000));
    }

    /* every millisecond from 2 s before the pause to 2 s after it */
    leap_start(&f, 1000, 1);
    uint64_t last = 0;
    for (int64_t x = L - acc - 2 * SEC + 500; x < L + SEC + acc + 2 * SEC;
         x += 1000) {
        int64_t want = x < L ? x : x - SEC;
        assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), want);
        bool paused = x >= L - acc && x < L + SEC + acc;
        assert_why(&f.c, at(&f, x),
                   paused ? SELLO_CLOCK_WHY_LEAP : SELLO_CLOCK_WHY_NONE);
        if (paused) {
            assert_now_fails(&f.c, at(&f, x));
        } else {
            uint64_t ms = now_ms(&f.c, at(&f, x));
            assert_u64(ms, trunc_ms(want, 100000));
            assert_true(ms >= last);
            last = ms;
        }
    }
}

/* A deleted leap at L: module time jumps from L - 1 s to L; the pause is
 * from L - 1 s - accuracy to L - 1 s + accuracy of continuous time (module
 * time L + accuracy); afterwards module time is 1 s ahead. */
static void test_leap_deleted(void **state)
{
    (void)state;
    leap_fx f;
    leap_start(&f, 1000, -1);
    int64_t L = f.L, acc = f.acc;
    assert_int_equal(f.c.leap_sign, -1);
    assert_why(&f.c, at(&f, L - SEC - acc - 1), SELLO_CLOCK_WHY_NONE);
    uint64_t before = now_ms(&f.c, at(&f, L - SEC - acc - 1));
    assert_why(&f.c, at(&f, L - SEC - acc), SELLO_CLOCK_WHY_LEAP);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L - SEC - 1)), L - SEC - 1);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L - SEC)), L);
    assert_why(&f.c, at(&f, L - SEC + acc - 1), SELLO_CLOCK_WHY_LEAP);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L - SEC + acc - 1)), L + acc - 1);
    assert_why(&f.c, at(&f, L - SEC + acc + 1), SELLO_CLOCK_WHY_NONE);
    uint64_t after = now_ms(&f.c, at(&f, L - SEC + acc + 1));
    assert_u64(after, trunc_ms(L + acc + 1, 100000));
    assert_true((int64_t)before * 1000 < L - SEC - acc);
    for (int64_t s = 2; s <= 1000; s *= 3) {
        int64_t x = L + s * SEC + 123457;
        assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x + SEC);
        assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_NONE);
        assert_u64(now_ms(&f.c, at(&f, x)), trunc_ms(x + SEC, 100000));
    }
    assert_int_equal(f.c.leap_sign, 0);

    leap_start(&f, 1000, -1);
    uint64_t last = 0;
    for (int64_t x = L - SEC - acc - 2 * SEC + 500; x < L + acc + 2 * SEC;
         x += 1000) {
        int64_t want = x < L - SEC ? x : x + SEC;
        assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), want);
        bool paused = x >= L - SEC - acc && x <= L - SEC + acc;
        assert_why(&f.c, at(&f, x),
                   paused ? SELLO_CLOCK_WHY_LEAP : SELLO_CLOCK_WHY_NONE);
        if (!paused) {
            uint64_t ms = now_ms(&f.c, at(&f, x));
            assert_u64(ms, trunc_ms(want, 100000));
            assert_true(ms >= last);
            last = ms;
        }
    }
}

/* Observations across a leap agree when the reference applied it too; an
 * accepted one during the pause neither ends nor moves it. One from a
 * reference that ignored the leap disagrees (with an accuracy below 1 s). */
static void test_leap_observations(void **state)
{
    (void)state;
    leap_fx f;
    leap_start(&f, 1000, 1);
    int64_t L = f.L, acc = f.acc, off;
    /* before the leap, both agree */
    int64_t x = L - 50 * SEC;
    assert_int_equal(observe(&f.c, x, 1000, at(&f, x), &off), SELLO_OBS_ACCEPTED);
    assert_i64(off, 0);
    /* during the pause, after the step */
    x = L + SEC / 2;
    assert_int_equal(observe(&f.c, x - SEC, 1000, at(&f, x), &off),
                     SELLO_OBS_ACCEPTED);
    assert_i64(off, 0);
    assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_LEAP);
    assert_why(&f.c, at(&f, L + SEC + acc - 1), SELLO_CLOCK_WHY_LEAP);
    assert_why(&f.c, at(&f, L + SEC + acc + 1), SELLO_CLOCK_WHY_NONE);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L + SEC + acc + 1)), L + acc + 1);
    /* after it */
    x = L + 60 * SEC;
    assert_int_equal(observe(&f.c, x - SEC, 1000, at(&f, x), &off),
                     SELLO_OBS_ACCEPTED);
    assert_i64(off, 0);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x + 10 * SEC)), x + 9 * SEC);
    assert_why(&f.c, at(&f, x + 10 * SEC), SELLO_CLOCK_WHY_NONE);

    /* a reference that ignored the leap, with 500 ms accuracy */
    leap_start(&f, 500, 1);
    acc = f.acc;
    x = L + 10 * SEC;
    assert_int_equal(observe(&f.c, x, 1000, at(&f, x), &off),
                     SELLO_OBS_DISAGREES);
    assert_i64(off, SEC);
    assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_DISAGREE);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x - SEC);
    assert_int_equal(observe(&f.c, x - SEC, 1000, at(&f, x), &off),
                     SELLO_OBS_ACCEPTED);
    assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_NONE);

    /* a deleted leap: during the pause after the step, and after */
    leap_start(&f, 1000, -1);
    acc = f.acc;
    x = L - SEC + SEC / 2;
    assert_int_equal(observe(&f.c, x + SEC, 1000, at(&f, x), &off),
                     SELLO_OBS_ACCEPTED);
    assert_i64(off, 0);
    assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_LEAP);
    assert_why(&f.c, at(&f, L - SEC + acc + 1), SELLO_CLOCK_WHY_NONE);
    x = L + 30 * SEC;
    assert_int_equal(observe(&f.c, x + SEC, 1000, at(&f, x), &off),
                     SELLO_OBS_ACCEPTED);
    assert_i64(off, 0);
}

/* Announcing sign 0 cancels: no pause, no step. */
static void test_leap_cancel(void **state)
{
    (void)state;
    for (int sign = -1; sign <= 1; sign += 2) {
        leap_fx f;
        leap_start(&f, 1000, sign);
        sello_clock_announce_leap(&f.c, f.L, 0, A0);
        assert_int_equal(f.c.leap_sign, 0);
        int64_t L = f.L;
        for (int64_t x = L - 3 * SEC + 500; x < L + 3 * SEC; x += 1000) {
            assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x);
            assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_NONE);
        }
        assert_u64(now_ms(&f.c, at(&f, L)), (uint64_t)L / 1000);
    }
}

/* A quorum calibration with a leap pending keeps module time right: the
 * proposed time is UTC as it is, before or after the step. */
static void test_leap_calibrate_with_pending_leap(void **state)
{
    (void)state;
    leap_fx f;
    int64_t x;

    /* inserted, calibrated 10 s after the leap (UTC is then x - 1 s) */
    leap_start(&f, 1000, 1);
    int64_t L = f.L, acc = f.acc;
    x = L + 10 * SEC;
    sello_clock_calibrate(&f.c, x - SEC, 1000, at(&f, x));
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x - SEC);
    assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_NONE);
    assert_u64(now_ms(&f.c, at(&f, x + 90 * SEC)), trunc_ms(x + 89 * SEC, 100000));
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x + 1000 * SEC)), x + 999 * SEC);

    /* inserted, calibrated during the pause after the step */
    leap_start(&f, 1000, 1);
    x = L + 3 * SEC / 2;
    sello_clock_calibrate(&f.c, x - SEC, 1000, at(&f, x));
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x - SEC);
    assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_LEAP);
    assert_why(&f.c, at(&f, L + SEC + acc + 1), SELLO_CLOCK_WHY_NONE);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L + SEC + acc + 1)), L + acc + 1);

    /* inserted, calibrated before the leap: it still happens */
    leap_start(&f, 1000, 1);
    x = L - 50 * SEC;
    sello_clock_calibrate(&f.c, x, 1000, at(&f, x));
    assert_why(&f.c, at(&f, L - acc), SELLO_CLOCK_WHY_LEAP);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, L + 20 * SEC)), L + 19 * SEC);

    /* deleted, calibrated 10 s after (UTC is then x + 1 s) */
    leap_start(&f, 1000, -1);
    x = L + 10 * SEC;
    sello_clock_calibrate(&f.c, x + SEC, 1000, at(&f, x));
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x + SEC);
    assert_why(&f.c, at(&f, x), SELLO_CLOCK_WHY_NONE);
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x + 1000 * SEC)), x + 1001 * SEC);
}

/*
 * The next leap is announced while the last one has stepped but is not
 * yet folded into the calibration (nothing asked the clock since): the
 * step must not be lost. With 100 ms accuracy, an announcement landing in
 * the pause (0.5 s after an inserted leap) otherwise makes the clock
 * synchronised at once with module time 1 s ahead of UTC.
 */
static void test_leap_announce_after_unsettled_step(void **state)
{
    (void)state;
    const int64_t L2 = utc_of(2027, 7, 1, 0, 0, 0);
    int bad = 0;
    leap_fx f;
    /* ten days later */
    leap_start(&f, 1000, 1);
    int64_t x = f.L + 864000 * SEC;
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x - SEC);
    sello_clock_announce_leap(&f.c, L2, 1, at(&f, x));
    int64_t m = sello_clock_utc_us(&f.c, at(&f, x));
    if (m != x - SEC) {
        print_error("10 days after the leap: module time %lld us, UTC %lld "
                    "us (%+lld us)\n", (sll)m, (sll)(x - SEC),
                    (sll)(m - (x - SEC)));
        bad++;
    }

    /* during the pause */
    leap_start(&f, 100, 1);
    x = f.L + SEC / 2;
    assert_i64(sello_clock_utc_us(&f.c, at(&f, x)), x - SEC);
    sello_clock_announce_leap(&f.c, L2, 1, at(&f, x));
    m = sello_clock_utc_us(&f.c, at(&f, x));
    sello_clock_why why = sello_clock_why_not(&f.c, at(&f, x));
    if (m != x - SEC || why == SELLO_CLOCK_WHY_NONE) {
        uint64_t ms = 0;
        sello_status st = sello_clock_now(&f.c, at(&f, x), &ms);
        print_error("0.5 s after the leap: module time %lld us, UTC %lld us; "
                    "why_not %s, now() %d %llu ms (error bound %llu us, "
                    "accuracy %u us)\n",
                    (sll)m, (sll)(x - SEC), why_name(why), st, (ull)ms,
                    (ull)sello_clock_error_us(&f.c, at(&f, x)),
                    f.c.accuracy_us);
        bad++;
    }
    assert_int_equal(bad, 0);
}

/* ---- 100 ms accuracy ------------------------------------------------------------------- */

/* 100 ms accuracy (10 ms precision) with u = 5 ms and 50 ppm: synchronised
 * for (100 - 10 - 5 ms - 1 us) / 50 ppm = 1700 s (to the microsecond of
 * error), longer with observations. */
static void test_accuracy_100ms(void **state)
{
    (void)state;
    sello_clock c;
    const uint64_t acc = 100000, prec = 10000, u = 5000, drift = 50, tick = 1;
    const int64_t t0 = u0() + 987654;
    start_clock(&c, MHZ, (uint32_t)drift, 100, 100, 0, t0, (uint32_t)u, A0);
    assert_int_equal(c.precision_us, prec);
    uint64_t room = acc - prec - u - tick;
    uint64_t cross = room * 1000000 / drift + 1;
    assert_u64(cross, 1699980001ull);
    assert_why(&c, A0, SELLO_CLOCK_WHY_NONE);
    uint64_t ms = now_ms(&c, A0);
    assert_u64(ms, trunc_ms(t0, (uint32_t)prec));
    char out[SELLO_GENTIME_MAX];
    size_t len = sello_gentime_format(ms, out);
    assert_int_equal(len, strlen("20250102030405.98Z"));
    assert_memory_equal(out, "20250102030405.98Z", len);
    for (uint64_t s = 60; s < 1700; s += 60)
        assert_why(&c, A0 + s * SEC, SELLO_CLOCK_WHY_NONE);
    assert_why(&c, A0 + cross - 1000, SELLO_CLOCK_WHY_NONE);
    assert_u64(now_ms(&c, A0 + cross - 1000),
               trunc_ms(t0 + (int64_t)cross - 1000, (uint32_t)prec));
    assert_why(&c, A0 + cross + 1000, SELLO_CLOCK_WHY_ERROR);
    sll left = (sll)sello_clock_sync_left_s(&c, A0);
    assert_true(left >= 1699 && left <= 1700);

    /* with an observation every 10 minutes, synchronised for hours */
    start_clock(&c, MHZ, (uint32_t)drift, 100, 100, 0, t0, (uint32_t)u, A0);
    for (uint64_t s = 0; s <= 4 * 3600; s += 60) {
        uint64_t t = A0 + s * SEC;
        if (s % 600 == 0 && s)
            assert_int_equal(observe(&c, sello_clock_utc_us(&c, t), (uint32_t)u,
                                     t, NULL),
                             SELLO_OBS_ACCEPTED);
        assert_why(&c, t, SELLO_CLOCK_WHY_NONE);
        assert_u64(now_ms(&c, t), trunc_ms(t0 + (int64_t)s * SEC, (uint32_t)prec));
    }
}

/* ---- saturation -------------------------------------------------------------------- */

/* Enormous tick deltas do not wrap: the error bound grows (and saturates
 * when it must), the clock is unsynchronised, nothing overflows. */
static void test_saturation(void **state)
{
    (void)state;
    sello_clock c;
    const int64_t t0 = u0();

    /* 1 MHz, the whole counter */
    start_clock(&c, MHZ, 50, 1000, 100, 0, t0, 1000, 0);
    assert_u64(sello_ticks_to_us(UINT64_MAX, MHZ), UINT64_MAX);
    assert_u64(sello_clock_error_us(&c, UINT64_MAX),
               1000 + ref_ppm_up(UINT64_MAX, 50) + 1);
    assert_why(&c, UINT64_MAX, SELLO_CLOCK_WHY_ERROR);
    assert_now_fails(&c, UINT64_MAX);
    assert_int_equal(sello_clock_sync_left_s(&c, UINT64_MAX), 0);
    assert_true(sello_clock_utc_us(&c, UINT64_MAX) > t0);
    /* an observation then is far off */
    int64_t off;
    assert_int_equal(observe(&c, t0, 1000, UINT64_MAX, &off), SELLO_OBS_DISAGREES);
    assert_true(off < 0);

    /* ticks before the anchor (a counter that went back) */
    start_clock(&c, MHZ, 50, 1000, 100, 0, t0, 1000, 1000);
    assert_why(&c, 999, SELLO_CLOCK_WHY_ERROR);
    assert_now_fails(&c, 999);

    /* 1 Hz and an absurd drift: the bound saturates */
    start_clock(&c, 1, UINT32_MAX, 1000, 100, 0, t0, 1000, 0);
    assert_u64(sello_ticks_to_us(UINT64_MAX, 1), UINT64_MAX);
    assert_u64(sello_clock_error_us(&c, UINT64_MAX), UINT64_MAX);
    assert_why(&c, UINT64_MAX, SELLO_CLOCK_WHY_ERROR);
    assert_int_equal(sello_clock_sync_left_s(&c, UINT64_MAX), 0);
    start_clock(&c, MHZ, UINT32_MAX, 1000, 100, 0, t0, UINT32_MAX, 0);
    assert_u64(sello_clock_error_us(&c, UINT64_MAX), UINT64_MAX);
    assert_why(&c, UINT64_MAX, SELLO_CLOCK_WHY_ERROR);

    /* a pending correction, a pending leap, the last year, 1 GHz and
     * max_age at its largest: still no overflow */
    static const uint32_t rates[] = { 3, 32768, MHZ, 1000000000u };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        int64_t late = utc_of(9999, 12, 31, 23, 59, 59);
        start_clock(&c, rates[r], 50, 3600000, 100, UINT32_MAX, late, 1000, 0);
        int64_t m = sello_clock_utc_us(&c, 0);
        assert_int_equal(observe(&c, m - 3000 * SEC, 1000, 0, NULL),
                         SELLO_OBS_ACCEPTED);
        sello_clock_announce_leap(&c, utc_of(9999, 12, 1, 0, 0, 0), -1, 0);
        for (uint64_t t = UINT64_MAX; t > 1; t /= 7) {
            assert_true(sello_clock_utc_us(&c, t) >= late - 3000 * SEC);
            (void)sello_clock_error_us(&c, t);
            (void)sello_clock_why_not(&c, t);
            (void)sello_clock_sync_left_s(&c, t);
        }
        assert_why(&c, UINT64_MAX, SELLO_CLOCK_WHY_ERROR);
        assert_now_fails(&c, UINT64_MAX);
    }
}

/* A host may send any 64-bit reference: the offset to one at either end
 * of the range is computed without overflow (saturating), disagrees, and
 * moves nothing. (Last: under UBSan an overflow aborts the program.) */
static void test_observe_extreme_reference(void **state)
{
    (void)state;
    sello_clock c;
    start_clock(&c, MHZ, 50, 1000, 100, 0, u0(), 1000, A0);
    sello_clock before = c;
    int64_t off = 0;
    assert_int_equal(observe(&c, INT64_MAX, 1000, A0 + SEC, &off),
                     SELLO_OBS_DISAGREES);
    assert_true(off > 0);
    assert_int_equal(observe(&c, INT64_MIN, 1000, A0 + SEC, &off),
                     SELLO_OBS_DISAGREES);
    if (off >= 0) {
        print_error("reference INT64_MIN: offset %lld, want negative\n",
                    (sll)off);
        fail();
    }
    assert_i64(sello_clock_utc_us(&c, A0 + 2 * SEC),
               sello_clock_utc_us(&before, A0 + 2 * SEC));
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gentime_vectors),
        cmocka_unit_test(test_civil_vectors),
        cmocka_unit_test(test_every_day_round_trip),
        cmocka_unit_test(test_gentime_max_length),
        cmocka_unit_test(test_ticks_to_us_arithmetic),
        cmocka_unit_test(test_ticks_to_us_saturates),
        cmocka_unit_test(test_clock_ghz_years),
        cmocka_unit_test(test_precision_from_accuracy),
        cmocka_unit_test(test_now_truncates_to_precision),
        cmocka_unit_test(test_now_never_backwards),
        cmocka_unit_test(test_uncalibrated),
        cmocka_unit_test(test_calibration_synchronised_boundary),
        cmocka_unit_test(test_error_one_tick_at_every_rate),
        cmocka_unit_test(test_drift_beyond_accuracy_stops_issuing),
        cmocka_unit_test(test_error_bound_rounds_drift_up),
        cmocka_unit_test(test_sync_left_zero_drift),
        cmocka_unit_test(test_max_age_stale),
        cmocka_unit_test(test_observation_useless),
        cmocka_unit_test(test_observation_disagrees),
        cmocka_unit_test(test_observation_accepted_resets_error),
        cmocka_unit_test(test_slew_forward),
        cmocka_unit_test(test_slew_backward),
        cmocka_unit_test(test_hostile_host_forward),
        cmocka_unit_test(test_hostile_host_backward),
        cmocka_unit_test(test_recalibration_step_back),
        cmocka_unit_test(test_leap_inserted),
        cmocka_unit_test(test_leap_deleted),
        cmocka_unit_test(test_leap_observations),
        cmocka_unit_test(test_leap_cancel),
        cmocka_unit_test(test_leap_calibrate_with_pending_leap),
        cmocka_unit_test(test_leap_announce_after_unsettled_step),
        cmocka_unit_test(test_accuracy_100ms),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_observe_extreme_reference),
    };
    return TU_RUN("clock", tests, argc, argv);
}
