/* See log.h. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum relay_log_level relay_log_threshold = RELAY_LOG_INFO;

static const char *const relay_log_names[] = {"error", "warn", "info",
                                              "debug"};

bool relay_log_parse_level(const char *name, enum relay_log_level *out)
{
    for (int i = 0; i <= RELAY_LOG_DEBUG; i++) {
        if (strcmp(name, relay_log_names[i]) == 0) {
            *out = (enum relay_log_level)i;
            return true;
        }
    }
    return false;
}

void relay_log_v(enum relay_log_level level, const char *fmt, va_list ap)
{
    if (!relay_log_enabled(level))
        return;

    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ sello-relayd[%ld] "
                     "%s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     (long)getpid(), relay_log_names[level]);
    if (n < 0)
        return;
    size_t len = (size_t)n;
    int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
    if (m < 0)
        return;
    len += (size_t)m;
    /* Keep one octet for the newline; a cut line is better than none. */
    if (len > sizeof line - 1)
        len = sizeof line - 1;
    while (len > 0 && line[len - 1] == '\n')
        len--;
    line[len++] = '\n';
    /* One write per line: the kernel keeps it whole against other
     * threads' lines. A failing stderr has nowhere to be reported. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void relay_log(enum relay_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    relay_log_v(level, fmt, ap);
    va_end(ap);
}
