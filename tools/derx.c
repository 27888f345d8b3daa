/* DER reading beyond firmware/der.h; contracts in derx.h. */
#include "derx.h"

#include <stdio.h>
#include <string.h>

sello_status derx_read_octet_bits(sello_der_cur *c, sello_der_cur *bits)
{
    sello_der_cur save = *c, content;
    SELLO_TRY(sello_der_read(c, SELLO_DER_BIT_STRING, &content, NULL));
    if (sello_der_remaining(&content) < 1 || content.p[0] != 0) {
        *c = save;
        return SELLO_ERR_DER;
    }
    bits->p = content.p + 1;
    bits->end = content.end;
    return SELLO_OK;
}

sello_status derx_read_named_bits(sello_der_cur *c, uint32_t *mask)
{
    sello_der_cur save = *c, content;
    SELLO_TRY(sello_der_read(c, SELLO_DER_BIT_STRING, &content, NULL));
    size_t n = sello_der_remaining(&content);
    if (n < 1)
        goto bad;
    unsigned unused = content.p[0];
    const uint8_t *b = content.p + 1;
    size_t nb = n - 1;
    if (unused > 7 || (nb == 0 && unused != 0) || nb > 4)
        goto bad;
    if (nb > 0) {
        uint8_t last = b[nb - 1];
        /* Unused bits are zero, and the last used bit is set: a DER
         * NamedBitList carries no trailing zero bits. */
        if ((last & ((1u << unused) - 1)) != 0 || !(last & (1u << unused)))
            goto bad;
    }
    uint32_t m = 0;
    for (size_t i = 0; i < nb; i++)
        for (unsigned bit = 0; bit < 8; bit++)
            if (b[i] & (0x80u >> bit))
                m |= 1u << (i * 8 + bit);
    *mask = m;
    return SELLO_OK;
bad:
    *c = save;
    return SELLO_ERR_DER;
}

sello_status derx_read_alg(sello_der_cur *c, derx_alg *alg)
{
    sello_der_cur save = *c, seq;
    SELLO_TRY(sello_der_read(c, SELLO_DER_SEQUENCE, &seq, &alg->whole));
    if (sello_der_read_oid(&seq, &alg->oid) != SELLO_OK)
        goto bad;
    alg->has_params = !sello_der_at_end(&seq);
    if (alg->has_params) {
        uint8_t tag;
        sello_der_cur content;
        if (sello_der_read_any(&seq, &tag, &content, &alg->params) != SELLO_OK ||
            !sello_der_at_end(&seq))
            goto bad;
    }
    return SELLO_OK;
bad:
    *c = save;
    return SELLO_ERR_DER;
}

bool derx_alg_params_absent_or_null(const derx_alg *alg)
{
    return !alg->has_params ||
           (sello_der_remaining(&alg->params) == 2 && alg->params.p[0] == SELLO_DER_NULL &&
            alg->params.p[1] == 0);
}

sello_status derx_read_uint_mag(sello_der_cur *c, sello_der_cur *mag)
{
    sello_der_cur save = *c;
    SELLO_TRY(sello_der_read_integer(c, mag));
    if (mag->p[0] & 0x80) {
        *c = save;
        return SELLO_ERR_DER;
    }
    if (mag->p[0] == 0 && sello_der_remaining(mag) > 1)
        mag->p++;
    return SELLO_OK;
}

sello_status derx_read_implicit_u32(sello_der_cur *c, uint8_t tag, uint32_t *v)
{
    sello_der_cur save = *c, content, whole;
    SELLO_TRY(sello_der_read(c, tag, &content, &whole));
    /* Re-read a copy under the universal tag so that sello_der_read_u32's
     * minimal-encoding and sign checks apply unchanged. */
    uint8_t tmp[8];
    size_t n = sello_der_remaining(&whole);
    if (n > sizeof tmp)
        goto bad;
    memcpy(tmp, whole.p, n);
    tmp[0] = SELLO_DER_INTEGER;
    sello_der_cur ic = sello_der_cur_init(tmp, n);
    if (sello_der_read_u32(&ic, v) != SELLO_OK)
        goto bad;
    return SELLO_OK;
bad:
    *c = save;
    return SELLO_ERR_DER;
}

/* ---- times ----------------------------------------------------------- */

/* Days from 1970-01-01 to the given proleptic Gregorian date (Howard
 * Hinnant's days_from_civil, restated). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned mp = m > 2 ? m - 3 : m + 9; /* March-based month */
    unsigned doy = (153 * mp + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const uint8_t *p, size_t n, unsigned *v)
{
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *v = x;
    return true;
}

/* Parses MMDDHHMMSS at p with the given year and fills t->secs. */
static bool parse_date_time(const uint8_t *p, unsigned year, derx_time *t)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
    unsigned mo, d, h, mi, s;
    if (!digits(p, 2, &mo) || !digits(p + 2, 2, &d) ||
        !digits(p + 4, 2, &h) || !digits(p + 6, 2, &mi) ||
        !digits(p + 8, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    unsigned dim = mdays[mo - 1] + (mo == 2 && leap);
    if (d > dim)
        return false;
    t->secs = days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    t->nanos = 0;
    t->frac_beyond_nanos = false;
    return true;
}

static void keep_text(derx_time *t, const sello_der_cur *v)
{
    size_t n = sello_der_remaining(v);
    if (n >= sizeof t->text)
        n = sizeof t->text - 1;
    memcpy(t->text, v->p, n);
    t->text[n] = '\0';
}

sello_status derx_read_cert_time(sello_der_cur *c, derx_time *t)
{
    sello_der_cur save = *c, v;
    unsigned year;
    if (sello_der_peek_tag(c) == SELLO_DER_UTC_TIME) {
        SELLO_TRY(sello_der_read(c, SELLO_DER_UTC_TIME, &v, NULL));
        if (sello_der_remaining(&v) != 13 || v.p[12] != 'Z' ||
            !digits(v.p, 2, &year))
            goto bad;
        year += year < 50 ? 2000 : 1900;
        if (!parse_date_time(v.p + 2, year, t))
            goto bad;
    } else {
        SELLO_TRY(sello_der_read(c, SELLO_DER_GENERALIZED_TIME, &v, NULL));
        if (sello_der_remaining(&v) != 15 || v.p[14] != 'Z' ||
            !digits(v.p, 4, &year) || !parse_date_time(v.p + 4, year, t))
            goto bad;
    }
    keep_text(t, &v);
    return SELLO_OK;
bad:
    *c = save;
    return SELLO_ERR_DER;
}

sello_status derx_read_gentime(sello_der_cur *c, derx_time *t)
{
    sello_der_cur save = *c, v;
    unsigned year;
    SELLO_TRY(sello_der_read(c, SELLO_DER_GENERALIZED_TIME, &v, NULL));
    size_t n = sello_der_remaining(&v);
    if (n < 15 || v.p[n - 1] != 'Z' || !digits(v.p, 4, &year) ||
        !parse_date_time(v.p + 4, year, t))
        goto bad;
    if (n > 15) {
        /* ".f+Z": at least one digit, the last one not zero. */
        const uint8_t *f = v.p + 15, *fend = v.p + n - 1;
        if (v.p[14] != '.' || fend == f || fend[-1] == '0')
            goto bad;
        uint32_t scale = 100000000u;
        for (const uint8_t *q = f; q < fend; q++) {
            if (*q < '0' || *q > '9')
                goto bad;
            if (scale > 0) {
                t->nanos += (uint32_t)(*q - '0') * scale;
                scale /= 10;
            } else if (*q != '0') {
                t->frac_beyond_nanos = true;
            }
        }
    } else if (v.p[14] != 'Z') {
        goto bad;
    }
    keep_text(t, &v);
    return SELLO_OK;
bad:
    *c = save;
    return SELLO_ERR_DER;
}

void derx_time_iso(const derx_time *t, char *out, size_t cap)
{
    int64_t days = t->secs >= 0 ? t->secs / 86400 : -((-t->secs + 86399) / 86400);
    int64_t sod = t->secs - days * 86400;
    /* civil_from_days, the inverse of days_from_civil above. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char frac[16] = "";
    if (t->nanos) {
        snprintf(frac, sizeof frac, ".%09u", (unsigned)t->nanos);
        size_t fl = strlen(frac);
        while (frac[fl - 1] == '0')
            frac[--fl] = '\0';
    }
    snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02u%sZ", (long long)y, m,
             d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
             (unsigned)(sod % 60), frac);
}

int derx_time_cmp(const derx_time *a, const derx_time *b)
{
    if (a->secs != b->secs)
        return a->secs < b->secs ? -1 : 1;
    if (a->nanos != b->nanos)
        return a->nanos < b->nanos ? -1 : 1;
    if (a->frac_beyond_nanos != b->frac_beyond_nanos)
        return a->frac_beyond_nanos ? 1 : -1;
    return 0;
}

/* ---- SET OF ordering ---------------------------------------------------- */

int derx_set_cmp(const sello_der_cur *a, const sello_der_cur *b)
{
    size_t la = sello_der_remaining(a), lb = sello_der_remaining(b);
    size_t n = la < lb ? la : lb;
    int r = memcmp(a->p, b->p, n);
    if (r != 0)
        return r;
    /* The shorter is padded with zeros: it is smaller unless the longer
     * one's tail is all zeros. */
    const sello_der_cur *longer = la > lb ? a : b;
    for (const uint8_t *q = longer->p + n; q < longer->end; q++)
        if (*q != 0)
            return la > lb ? 1 : -1;
    return 0;
}

sello_status derx_check_set_order(sello_der_cur set)
{
    sello_der_cur prev = {NULL, NULL};
    while (!sello_der_at_end(&set)) {
        uint8_t tag;
        sello_der_cur content, whole;
        SELLO_TRY(sello_der_read_any(&set, &tag, &content, &whole));
        if (prev.p && derx_set_cmp(&prev, &whole) > 0)
            return SELLO_ERR_DER;
        prev = whole;
    }
    return SELLO_OK;
}
