/*
 * The relay's log: one line per event on stderr, written with a single
 * write(2) so that lines from different threads never interleave.
 *
 * Line format: "2025-03-01T12:00:00.123Z sello-relayd[pid] level: text".
 * Nothing on the per-token path logs at info level or above: at tens of
 * thousands of tokens per second a line per token would cost more than the
 * relay itself. Per-request detail is debug only.
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum relay_log_level {
    RELAY_LOG_ERROR = 0,
    RELAY_LOG_WARN = 1,
    RELAY_LOG_INFO = 2,
    RELAY_LOG_DEBUG = 3,
};

/* Lines above this level are dropped. Set once at start-up, before any
 * thread exists; read without locking afterwards. */
extern enum relay_log_level relay_log_threshold;

/* Parses "error", "warn", "info" or "debug". Returns false otherwise. */
bool relay_log_parse_level(const char *name, enum relay_log_level *out);

static inline bool relay_log_enabled(enum relay_log_level level)
{
    return level <= relay_log_threshold;
}

/* Formats and writes one line if `level` is enabled. A trailing newline in
 * `fmt` is not needed (and is dropped if present). */
void relay_log(enum relay_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void relay_log_v(enum relay_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
