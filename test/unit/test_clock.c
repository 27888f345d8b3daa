/*
 * The module clock: GeneralizedTime formatting and civil-date conversion
 * against test/data/clock/{gentime,civil}.txt (values from Python's
 * datetime), round trips over every day of four centuries, and
 * sello_clock_now's arithmetic against a 128-bit reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "fixture.h"

#include "clock.h"

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

/* ---- sello_clock_now ------------------------------------------------------------ */

static uint64_t reference_ms(uint64_t anchor_ms, uint64_t anchor_ticks,
                             uint64_t ticks, uint32_t hz)
{
    unsigned __int128 delta = ticks - anchor_ticks;
    return anchor_ms + (uint64_t)(delta * 1000u / hz);
}

static void test_clock_unset(void **state)
{
    (void)state;
    sello_clock c;
    uint64_t ms = 77;
    sello_clock_init(&c, 1000000);
    assert_int_equal(sello_clock_now(&c, 123, &ms), SELLO_ERR_CLOCK);
    assert_int_equal(ms, 77);
    /* a board without a tick rate never has a clock */
    sello_clock_init(&c, 0);
    sello_clock_set(&c, 1735787045000ull, 0);
    assert_int_equal(sello_clock_now(&c, 5, &ms), SELLO_ERR_CLOCK);
}

static void test_clock_basic(void **state)
{
    (void)state;
    sello_clock c;
    uint64_t ms;
    sello_clock_init(&c, 1000000);
    sello_clock_set(&c, 1735787045000ull, 5000000);
    assert_int_equal(sello_clock_now(&c, 5000000, &ms), SELLO_OK);
    assert_int_equal(ms, 1735787045000ull);
    assert_int_equal(sello_clock_now(&c, 5000999, &ms), SELLO_OK);
    assert_int_equal(ms, 1735787045000ull); /* 999 us is still the same ms */
    assert_int_equal(sello_clock_now(&c, 5001000, &ms), SELLO_OK);
    assert_int_equal(ms, 1735787045001ull);
    assert_int_equal(sello_clock_now(&c, 6500000, &ms), SELLO_OK);
    assert_int_equal(ms, 1735787046500ull);
}

/* Against a 128-bit reference at tick rates from a watch crystal to
 * 1 GHz, over tick values spread across the whole 64-bit range the rate
 * allows in ~500 years. */
static void test_clock_arithmetic(void **state)
{
    (void)state;
    static const uint32_t rates[] = { 1, 3, 1000, 32768, 1000000, 19200000,
                                      1000000000u, 4294967295u };
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        uint32_t hz = rates[r];
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint64_t anchor_ticks = x % (1ull << 40);
            uint64_t span = (uint64_t)hz * 500ull * 365 * 86400;
            if (span / 500 / 365 / 86400 != hz || span > UINT64_MAX - anchor_ticks)
                span = UINT64_MAX - anchor_ticks;
            uint64_t ticks = anchor_ticks + (x >> 3) % (span ? span : 1);
            sello_clock c;
            sello_clock_init(&c, hz);
            sello_clock_set(&c, 1577836800000ull, anchor_ticks);
            uint64_t ms;
            assert_int_equal(sello_clock_now(&c, ticks, &ms), SELLO_OK);
            uint64_t want = reference_ms(1577836800000ull, anchor_ticks, ticks,
                                         hz);
            if (ms != want) {
                print_error("hz %u anchor %llu ticks %llu: %llu, want %llu\n",
                            hz, (unsigned long long)anchor_ticks,
                            (unsigned long long)ticks, (unsigned long long)ms,
                            (unsigned long long)want);
                fail();
            }
        }
    }
}

/* A 1 GHz tick source for centuries: no overflow, exact milliseconds. */
static void test_clock_ghz_years(void **state)
{
    (void)state;
    sello_clock c;
    uint64_t ms;
    const uint64_t hz = 1000000000u;
    sello_clock_init(&c, (uint32_t)hz);
    sello_clock_set(&c, 1577836800000ull, 0);
    for (uint64_t years = 1; years <= 500; years *= 2) {
        uint64_t secs = years * 31556952u; /* mean Gregorian year */
        uint64_t ticks = secs * hz + 999999999u;
        assert_int_equal(sello_clock_now(&c, ticks, &ms), SELLO_OK);
        assert_int_equal(ms, 1577836800000ull + secs * 1000 + 999);
    }
    /* the very last tick value */
    sello_clock_init(&c, (uint32_t)hz);
    sello_clock_set(&c, 0, 0);
    assert_int_equal(sello_clock_now(&c, UINT64_MAX, &ms), SELLO_OK);
    assert_int_equal(ms, UINT64_MAX / hz * 1000 + UINT64_MAX % hz / 1000000);
}

/* Within a start the time handed out never goes backwards: not when the
 * calibration is moved back, and not for equal ticks. */
static void test_clock_never_backwards(void **state)
{
    (void)state;
    sello_clock c;
    uint64_t ms, last = 0;
    sello_clock_init(&c, 1000000);
    sello_clock_set(&c, 1735787045000ull, 0);
    uint64_t ticks = 0;
    for (int i = 0; i < 1000; i++) {
        ticks += (uint64_t)(i % 7) * 337;
        if (i == 500) /* a calibration 10 s earlier */
            sello_clock_set(&c, 1735787035000ull, ticks);
        assert_int_equal(sello_clock_now(&c, ticks, &ms), SELLO_OK);
        assert_true(ms >= last);
        last = ms;
    }
    /* after the calibration step back, time stands still until the new
     * calibration catches up, then moves again */
    assert_int_equal(sello_clock_now(&c, ticks + 5000000, &ms), SELLO_OK);
    assert_int_equal(ms, last);
    assert_int_equal(sello_clock_now(&c, ticks + 20000000, &ms), SELLO_OK);
    assert_true(ms > last);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gentime_vectors),
        cmocka_unit_test(test_civil_vectors),
        cmocka_unit_test(test_every_day_round_trip),
        cmocka_unit_test(test_gentime_max_length),
        cmocka_unit_test(test_clock_unset),
        cmocka_unit_test(test_clock_basic),
        cmocka_unit_test(test_clock_arithmetic),
        cmocka_unit_test(test_clock_ghz_years),
        cmocka_unit_test(test_clock_never_backwards),
    };
    return TU_RUN("clock", tests, argc, argv);
}
