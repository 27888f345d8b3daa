/* Command-line helpers; contracts in util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "derx.h"

void util_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sello: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool util_read_file(const char *path, uint8_t **data, size_t *len)
{
    bool use_stdin = strcmp(path, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_err("%s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        util_err("out of memory");
        goto fail;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= UTIL_FILE_MAX) {
                util_err("%s: larger than %u octets", path, UTIL_FILE_MAX);
                goto fail;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                util_err("out of memory");
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            util_err("%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (!use_stdin)
        close(fd);
    *data = buf;
    *len = n;
    return true;
fail:
    free(buf);
    if (!use_stdin)
        close(fd);
    return false;
}

bool util_write_file(const char *path, const void *data, size_t len)
{
    bool use_stdout = strcmp(path, "-") == 0;
    int fd = use_stdout ? STDOUT_FILENO
                        : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                               0644);
    if (fd < 0) {
        util_err("%s: %s", path, strerror(errno));
        return false;
    }
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            util_err("%s: %s", path, strerror(errno));
            if (!use_stdout)
                close(fd);
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    if (!use_stdout && close(fd) != 0) {
        util_err("%s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long util_hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
        hex += 2;
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

void util_hex_encode(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

bool util_uint_to_dec(const uint8_t *mag, size_t len, char *out, size_t cap)
{
    /* Schoolbook division by 10 of a copy; serial numbers are at most 160
     * bits, so quadratic time is irrelevant. */
    uint8_t work[64];
    if (len > sizeof work || cap < 2)
        return false;
    memcpy(work, mag, len);
    char rev[160];
    size_t nd = 0;
    for (;;) {
        unsigned rem = 0;
        bool nonzero = false;
        for (size_t i = 0; i < len; i++) {
            unsigned cur = rem << 8 | work[i];
            work[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            nonzero |= work[i] != 0;
        }
        rev[nd++] = (char)('0' + rem);
        if (!nonzero || nd == sizeof rev)
            break;
    }
    if (nd + 1 > cap)
        return false;
    for (size_t i = 0; i < nd; i++)
        out[i] = rev[nd - 1 - i];
    out[nd] = '\0';
    return true;
}

bool util_parse_u64(const char *s, uint64_t *v)
{
    if (*s < '0' || *s > '9')
        return false;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

bool util_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t r = getrandom(p, len, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            util_err("getrandom: %s", strerror(errno));
            return false;
        }
        p += r;
        len -= (size_t)r;
    }
    return true;
}

bool util_now_utc_us(uint64_t *us)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
        util_err("cannot read CLOCK_REALTIME");
        return false;
    }
    *us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    return true;
}

void util_kernel_clock(util_kernel_clock_info *k)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx); /* modes 0: read only */
    memset(k, 0, sizeof *k);
    int rc = ntp_adjtime(&tx);
    if (rc == -1) {
        k->err = errno;
        return;
    }
    k->known = true;
    k->synchronised = rc != TIME_ERROR && !(tx.status & STA_UNSYNC);
    k->maxerror_us = tx.maxerror < 0 ? 0 : (uint64_t)tx.maxerror;
    k->esterror_us = tx.esterror < 0 ? 0 : (uint64_t)tx.esterror;
}

/* Reads exactly `n` decimal digits at *s and advances past them. */
static bool fixed_digits(const char **s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *s += n;
    *v = x;
    return true;
}

bool util_parse_utc_iso_us(const char *s, uint64_t *us)
{
    int year, mon, day, hour, min, sec;
    long frac = 0;
    if (!fixed_digits(&s, 4, &year) || *s++ != '-' ||
        !fixed_digits(&s, 2, &mon) || *s++ != '-' ||
        !fixed_digits(&s, 2, &day) || (*s != 'T' && *s != 't' && *s != ' '))
        return false;
    s++;
    if (!fixed_digits(&s, 2, &hour) || *s++ != ':' ||
        !fixed_digits(&s, 2, &min) || *s++ != ':' ||
        !fixed_digits(&s, 2, &sec))
        return false;
    if (*s == '.') {
        s++;
        int nd = 0;
        for (; *s >= '0' && *s <= '9'; s++, nd++)
            if (nd < 6)
                frac = frac * 10 + (*s - '0');
        if (nd == 0 || nd > 9)
            return false;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    /* Only UTC: a local time or an offset would be one more way for an
     * operator to set the TSA clock wrongly by hours. */
    if ((*s != 'Z' && *s != 'z') || s[1] != '\0')
        return false;
    if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 ||
        hour > 23 || min > 59 || sec > 59)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    /* timegm normalises 31 April to 1 May; a changed day means the date
     * does not exist. */
    if (t == (time_t)-1 || t < 0 || tm.tm_mday != day || tm.tm_mon != mon - 1)
        return false;
    *us = (uint64_t)t * 1000000u + (uint64_t)frac;
    return true;
}

void util_utc_iso(uint64_t ms, char *out, size_t cap)
{
    derx_time t;
    memset(&t, 0, sizeof t);
    t.secs = (int64_t)(ms / 1000);
    t.nanos = (uint32_t)(ms % 1000) * 1000000u;
    derx_time_iso(&t, out, cap);
}

void util_utc_iso_us(uint64_t us, char *out, size_t cap)
{
    char whole[48];
    util_utc_iso(us / 1000000u * 1000u, whole, sizeof whole);
    /* whole ends in "Z" and has no fraction: the seconds are exact. */
    size_t n = strlen(whole);
    snprintf(out, cap, "%.*s.%06uZ", (int)(n - 1), whole,
             (unsigned)(us % 1000000u));
}
