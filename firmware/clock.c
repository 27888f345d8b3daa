/* Calibrated UTC from monotonic ticks; contracts in clock.h. */
#include "clock.h"

#define US_PER_S 1000000
#define PPM 1000000u

uint64_t sello_ticks_to_us(uint64_t delta, uint32_t hz)
{
    if (hz == 0)
        return UINT64_MAX;
    /* Split to avoid overflowing delta * 10^6 for fast tick sources. */
    uint64_t whole = delta / hz, part = delta % hz;
    if (whole > UINT64_MAX / US_PER_S)
        return UINT64_MAX;
    uint64_t us = whole * US_PER_S, rest = (part * US_PER_S) / hz;
    return us > UINT64_MAX - rest ? UINT64_MAX : us + rest;
}

/* x * ppm / 10^6, saturating, without overflow for any x; rounded up
 * when `up` (error bounds), down otherwise (corrections). */
static uint64_t ppm_of(uint64_t x, uint32_t ppm, bool up)
{
    uint64_t whole = (x / PPM) * ppm;
    uint64_t part = ((x % PPM) * ppm + (up ? PPM - 1 : 0)) / PPM;
    if (ppm && whole / ppm != x / PPM)
        return UINT64_MAX;
    return whole > UINT64_MAX - part ? UINT64_MAX : whole + part;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t abs64(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

void sello_clock_init(sello_clock *c, uint32_t hz, uint32_t drift_ppm,
                      uint32_t accuracy_ms, uint32_t slew_ppm,
                      uint32_t max_age_s)
{
    *c = (sello_clock){ 0 };
    c->hz = hz;
    c->drift_ppm = drift_ppm;
    c->accuracy_us = accuracy_ms * 1000u;
    uint32_t p = 1000u;
    while (p < 1000000u && p * 10u <= accuracy_ms * 100u)
        p *= 10u;
    c->precision_us = p;
    c->slew_ppm = slew_ppm < PPM ? slew_ppm : PPM - 1;
    c->max_age_s = max_age_s;
}

/* The correction applied `elapsed` microseconds after the anchor. */
static int64_t applied_us(const sello_clock *c, uint64_t elapsed)
{
    uint64_t room = ppm_of(elapsed, c->slew_ppm, false);
    uint64_t want = abs64(c->target_us);
    uint64_t got = room < want ? room : want;
    return c->target_us < 0 ? -(int64_t)got : (int64_t)got;
}

/* When an announced leap changes UTC: inserted, at the leap; deleted, a
 * second before it. */
static int64_t leap_step_at(const sello_clock *c)
{
    return c->leap_sign > 0 ? c->leap_us : c->leap_us - US_PER_S;
}

/* Module time without the leap step. */
static int64_t raw_utc_us(const sello_clock *c, uint64_t ticks)
{
    uint64_t elapsed = sello_ticks_to_us(ticks - c->anchor_ticks, c->hz);
    if (elapsed > (uint64_t)INT64_MAX / 2)
        elapsed = (uint64_t)INT64_MAX / 2;
    return c->anchor_utc_us + (int64_t)elapsed + applied_us(c, elapsed);
}

int64_t sello_clock_utc_us(const sello_clock *c, uint64_t ticks)
{
    int64_t raw = raw_utc_us(c, ticks);
    if (c->leap_sign && raw >= leap_step_at(c))
        raw -= c->leap_sign * (int64_t)US_PER_S;
    return raw;
}

/* Once a leap is well behind, it becomes part of the calibration. */
static void settle_leap(sello_clock *c, uint64_t ticks)
{
    if (!c->leap_sign)
        return;
    int64_t raw = raw_utc_us(c, ticks);
    if (raw < leap_step_at(c) + US_PER_S + (int64_t)c->accuracy_us)
        return;
    c->anchor_utc_us -= c->leap_sign * (int64_t)US_PER_S;
    c->leap_sign = 0;
    c->leap_us = 0;
}

/* Re-anchors at the current time: from here the new target applies. */
static void reanchor(sello_clock *c, uint64_t ticks, int64_t utc_us,
                     int64_t target_us, uint64_t base_error_us)
{
    c->anchor_ticks = ticks;
    c->anchor_utc_us = utc_us;
    c->target_us = target_us;
    c->base_error_us = base_error_us;
    c->good_ticks = ticks;
}

void sello_clock_calibrate(sello_clock *c, int64_t utc_us,
                           uint32_t uncertainty_us, uint64_t ticks)
{
    /* A pending leap is kept; its step is folded into the new anchor if
     * it already happened. */
    if (c->leap_sign && utc_us >= leap_step_at(c))
        utc_us += c->leap_sign * (int64_t)US_PER_S;
    reanchor(c, ticks, utc_us, 0, uncertainty_us);
    c->calibrated = true;
    c->disagree = false;
    c->observed = false;
}

sello_status sello_clock_observe(sello_clock *c, int64_t ref_us,
                                 uint32_t uncertainty_us, uint64_t ticks,
                                 sello_obs_verdict *verdict,
                                 int64_t *offset_us)
{
    if (!c->calibrated || c->hz == 0)
        return SELLO_ERR_CLOCK;
    settle_leap(c, ticks);
    int64_t now = sello_clock_utc_us(c, ticks);
    int64_t offset;
    /* A reference no clock could be near saturates, and disagrees. */
    if (__builtin_sub_overflow(ref_us, now, &offset))
        offset = ref_us < now ? INT64_MIN + 1 : INT64_MAX;
    *offset_us = offset;
    c->last_offset_us = offset;
    c->last_obs_ticks = ticks;
    c->observed = true;
    if (uncertainty_us > c->accuracy_us) {
        *verdict = SELLO_OBS_USELESS;
        return SELLO_OK;
    }
    if (abs64(offset) > c->accuracy_us) {
        c->disagree = true;
        *verdict = SELLO_OBS_DISAGREES;
        return SELLO_OK;
    }
    /* The anchor holds the time without the leap step: keep it so. */
    int64_t raw = raw_utc_us(c, ticks);
    reanchor(c, ticks, raw, offset, uncertainty_us);
    c->disagree = false;
    *verdict = SELLO_OBS_ACCEPTED;
    return SELLO_OK;
}

void sello_clock_announce_leap(sello_clock *c, int64_t leap_us, int sign,
                               uint64_t ticks)
{
    /* A leap that already happened stays in the calibration; one whose
     * pause has begun is not replaced. */
    settle_leap(c, ticks);
    if (c->leap_sign &&
        raw_utc_us(c, ticks) >= leap_step_at(c) - (int64_t)c->accuracy_us)
        return;
    c->leap_us = sign ? leap_us : 0;
    c->leap_sign = (int8_t)(sign > 0 ? 1 : sign < 0 ? -1 : 0);
}

uint64_t sello_clock_error_us(const sello_clock *c, uint64_t ticks)
{
    uint64_t elapsed = sello_ticks_to_us(ticks - c->anchor_ticks, c->hz);
    uint64_t pending = abs64(c->target_us - applied_us(c, elapsed));
    uint64_t drift = ppm_of(sello_ticks_to_us(ticks - c->good_ticks, c->hz),
                            c->drift_ppm, true);
    uint64_t tick = c->hz ? (US_PER_S + (uint64_t)c->hz - 1) / c->hz
                          : UINT64_MAX;
    return sat_add(sat_add(c->base_error_us, pending), sat_add(drift, tick));
}

sello_clock_why sello_clock_why_not(sello_clock *c, uint64_t ticks)
{
    if (!c->calibrated || c->hz == 0)
        return SELLO_CLOCK_WHY_UNCALIBRATED;
    settle_leap(c, ticks);
    if (c->disagree)
        return SELLO_CLOCK_WHY_DISAGREE;
    if (sat_add(sello_clock_error_us(c, ticks), c->precision_us) >
        c->accuracy_us)
        return SELLO_CLOCK_WHY_ERROR;
    if (c->max_age_s &&
        sello_ticks_to_us(ticks - c->good_ticks, c->hz) >
            (uint64_t)c->max_age_s * US_PER_S)
        return SELLO_CLOCK_WHY_STALE;
    int64_t raw = raw_utc_us(c, ticks);
    if (c->leap_sign) {
        int64_t from = leap_step_at(c) - (int64_t)c->accuracy_us;
        int64_t to = leap_step_at(c) + (c->leap_sign > 0 ? US_PER_S : 0) +
                     (int64_t)c->accuracy_us;
        if (raw >= from && raw <= to)
            return SELLO_CLOCK_WHY_LEAP;
    }
    if ((uint64_t)sello_clock_utc_us(c, ticks) < c->last_us)
        return SELLO_CLOCK_WHY_BEHIND;
    return SELLO_CLOCK_WHY_NONE;
}

sello_status sello_clock_now(sello_clock *c, uint64_t ticks, uint64_t *utc_ms)
{
    if (sello_clock_why_not(c, ticks) != SELLO_CLOCK_WHY_NONE)
        return SELLO_ERR_CLOCK;
    int64_t now = sello_clock_utc_us(c, ticks);
    if (now < 0)
        return SELLO_ERR_CLOCK;
    uint64_t us = (uint64_t)now - (uint64_t)now % c->precision_us;
    if (us < c->last_us)
        us = c->last_us;
    c->last_us = us;
    *utc_ms = us / 1000u;
    return SELLO_OK;
}

uint32_t sello_clock_sync_left_s(const sello_clock *c, uint64_t ticks)
{
    if (!c->calibrated)
        return 0;
    uint64_t used = sat_add(sello_clock_error_us(c, ticks), c->precision_us);
    if (used >= c->accuracy_us)
        return 0;
    if (c->drift_ppm == 0)
        return UINT32_MAX;
    /* drift_ppm microseconds of error per second of ticks */
    uint64_t s = (c->accuracy_us - used) / c->drift_ppm;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian), after the
 * era-based method: exact for every date, no tables, no loops. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

size_t sello_gentime_format(uint64_t utc_ms, char out[SELLO_GENTIME_MAX])
{
    uint64_t secs = utc_ms / 1000;
    unsigned ms = (unsigned)(utc_ms % 1000);
    int64_t y;
    unsigned mo, d;
    civil_from_days((int64_t)(secs / 86400), &y, &mo, &d);
    unsigned sod = (unsigned)(secs % 86400);
    char *p = out;
    p = put_digits(p, (unsigned)y, 4);
    p = put_digits(p, mo, 2);
    p = put_digits(p, d, 2);
    p = put_digits(p, sod / 3600, 2);
    p = put_digits(p, sod / 60 % 60, 2);
    p = put_digits(p, sod % 60, 2);
    if (ms != 0) {
        *p++ = '.';
        int digits = 3;
        while (ms % 10 == 0) {
            ms /= 10;
            digits--;
        }
        p = put_digits(p, ms, digits);
    }
    *p++ = 'Z';
    return (size_t)(p - out);
}

bool sello_utc_from_civil(int64_t year, unsigned month, unsigned day,
                          unsigned hour, unsigned min, unsigned sec,
                          uint64_t *secs)
{
    static const uint8_t mdays[12] = { 31, 29, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31 };
    if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 ||
        day > mdays[month - 1] || hour > 23 || min > 59 || sec > 59)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return false;
    /* Days from civil, inverse of civil_from_days. */
    int64_t y = year - (month <= 2);
    int64_t era = y / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + (int64_t)doe - 719468;
    *secs = (uint64_t)days * 86400u + hour * 3600u + min * 60u + sec;
    return true;
}
