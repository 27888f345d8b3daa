/* Calibrated UTC from monotonic ticks; contracts in clock.h. */
#include "clock.h"

void sello_clock_init(sello_clock *c, uint32_t hz)
{
    c->set = false;
    c->hz = hz;
    c->anchor_utc_ms = 0;
    c->anchor_ticks = 0;
    c->last_ms = 0;
}

void sello_clock_set(sello_clock *c, uint64_t utc_ms, uint64_t ticks)
{
    c->anchor_utc_ms = utc_ms;
    c->anchor_ticks = ticks;
    c->set = true;
}

sello_status sello_clock_now(sello_clock *c, uint64_t ticks, uint64_t *utc_ms)
{
    if (!c->set || c->hz == 0)
        return SELLO_ERR_CLOCK;
    uint64_t delta = ticks - c->anchor_ticks;
    /* Split to avoid overflowing delta * 1000 for fast tick sources. */
    uint64_t ms = c->anchor_utc_ms + (delta / c->hz) * 1000u +
                  ((delta % c->hz) * 1000u) / c->hz;
    if (ms < c->last_ms)
        ms = c->last_ms;
    c->last_ms = ms;
    *utc_ms = ms;
    return SELLO_OK;
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
