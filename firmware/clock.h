/*
 * The module's notion of UTC: a calibration (anchor UTC, anchor ticks) plus
 * the board's monotonic ticks. The module never reads a wall clock.
 *
 * This is the small first model: one calibration per start, set by the host
 * (SELLO_OP_SET_TIME). Two guarantees already hold: within a start genTime
 * never goes backwards, and across restarts a token is never issued with a
 * time earlier than a persisted floor (see serial.h, which persists it).
 */
#ifndef SELLO_CLOCK_H
#define SELLO_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

typedef struct {
    bool set;
    uint32_t hz;
    uint64_t anchor_utc_ms;
    uint64_t anchor_ticks;
    uint64_t last_ms; /* the latest time handed out */
} sello_clock;

/* Starts uncalibrated with the board's tick rate. */
void sello_clock_init(sello_clock *c, uint32_t hz);

/* Calibrates: `utc_ms` is UTC now. */
void sello_clock_set(sello_clock *c, uint64_t utc_ms, uint64_t ticks);

/*
 * UTC in milliseconds at `ticks`, never earlier than any value returned
 * before. SELLO_ERR_CLOCK when uncalibrated.
 */
SELLO_MUST_CHECK sello_status sello_clock_now(sello_clock *c, uint64_t ticks,
                                              uint64_t *utc_ms);

/* Longest GeneralizedTime Sello writes: YYYYMMDDHHMMSS.fffZ */
#define SELLO_GENTIME_MAX 19u

/*
 * Formats utc_ms as a DER GeneralizedTime value (UTC, "Z", fraction with
 * trailing zeros removed and no dot when zero). Returns its length.
 * Years beyond 9999 are clamped by the caller's plausibility checks.
 */
size_t sello_gentime_format(uint64_t utc_ms, char out[SELLO_GENTIME_MAX]);


/* Seconds since 1970 for a UTC civil date and time; false when a field is
 * out of range. */
bool sello_utc_from_civil(int64_t year, unsigned month, unsigned day,
                          unsigned hour, unsigned min, unsigned sec,
                          uint64_t *secs);

#endif
