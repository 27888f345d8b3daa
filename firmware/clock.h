/*
 * The module's notion of UTC (DESIGN.md section 4): a calibration plus the
 * board's monotonic ticks, an error bound that grows with the board's
 * declared drift, and host observations that may only slew it, slowly.
 * The module never reads a wall clock and never trusts one without bounds.
 *
 *   utc(t) = anchor_utc + elapsed(t) + applied(t)
 *
 * elapsed(t) is the tick time since the anchor; applied(t) moves towards
 * `target` (the offset the last accepted observation found) at no more
 * than slew_ppm of elapsed time, so utc() is strictly increasing and a
 * lying host can move it by at most slew_ppm per unit of time.
 *
 *   error(t) = base_error + |target - applied(t)| + drift_ppm * elapsed(t)
 *              + one tick
 *
 * base_error is the uncertainty of the reference at the anchor (the
 * quorum's proposal, or the last accepted observation). The clock is
 * synchronised while error(t) plus the genTime precision stays within the
 * declared accuracy, no observation disagreed since, the optional maximum
 * observation age has not passed, no announced leap second is near, and
 * utc(t) has caught up with the latest time already handed out. So the
 * observation deadline follows from the numbers: without observations the
 * clock stops being synchronised by itself when drift could have eaten the
 * accuracy.
 *
 * Observations (reference UTC and its uncertainty, from the host's time
 * service):
 *   - uncertainty above the accuracy: useless, ignored;
 *   - |offset| above the accuracy: the clock disagrees with the reference
 *     and is unsynchronised until an observation agrees again; it is not
 *     moved (a step is the quorum's business);
 *   - otherwise accepted: re-anchored at the current utc() (no jump) with
 *     the new offset as the slew target.
 *
 * Calibration (from nothing, or a step) comes only from the quorum. A leap
 * second is announced by the quorum too: the clock pauses (unsynchronised)
 * from `accuracy` before it until `accuracy` after it, and steps by the
 * second itself at the leap, so no token carries a time the leap made
 * wrong and issuing resumes without anyone.
 *
 * Times are microseconds since 1970 (POSIX: a leap second repeats a
 * second). All arithmetic is in integers and saturates rather than wraps.
 */
#ifndef SELLO_CLOCK_H
#define SELLO_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/abi.h>
#include <sello/status.h>

/* Why the clock is not synchronised, and observation verdicts: the
 * SELLO_CLOCK_WHY_* and SELLO_OBS_* values of <sello/abi.h>. */
typedef uint8_t sello_clock_why;
typedef uint8_t sello_obs_verdict;

typedef struct {
    /* configuration */
    uint32_t hz;
    uint32_t drift_ppm;
    uint32_t accuracy_us;
    uint32_t precision_us;   /* genTime resolution, from the accuracy */
    uint32_t slew_ppm;
    uint32_t max_age_s;      /* 0: no age limit beyond the error bound */
    /* calibration */
    bool calibrated;
    uint64_t anchor_ticks;
    int64_t anchor_utc_us;
    int64_t target_us;       /* correction to apply from the anchor */
    uint64_t base_error_us;
    /* observations */
    bool disagree;
    bool observed;           /* any observation since calibration */
    uint64_t good_ticks;     /* last calibration or accepted observation */
    int64_t last_offset_us;  /* of the last observation, accepted or not */
    uint64_t last_obs_ticks;
    /* an announced leap second: at leap_us UTC jumps by -leap_sign s */
    int64_t leap_us;
    int8_t leap_sign;        /* +1 inserted, -1 deleted, 0 none */
    uint64_t last_us;        /* the latest time handed out */
} sello_clock;

/*
 * Starts uncalibrated. accuracy_ms is the declared accuracy; the genTime
 * precision is derived from it (the largest power of ten at most a tenth
 * of it, between 1 ms and 1 s).
 */
void sello_clock_init(sello_clock *c, uint32_t hz, uint32_t drift_ppm,
                      uint32_t accuracy_ms, uint32_t slew_ppm,
                      uint32_t max_age_s);

/* The quorum's calibration: UTC was utc_us +- uncertainty_us at `ticks`. */
void sello_clock_calibrate(sello_clock *c, int64_t utc_us,
                           uint32_t uncertainty_us, uint64_t ticks);

/* A host observation: reference UTC ref_us +- uncertainty_us at `ticks`.
 * *offset_us is reference minus module time. SELLO_ERR_CLOCK when
 * uncalibrated. */
SELLO_MUST_CHECK sello_status sello_clock_observe(sello_clock *c,
                                                  int64_t ref_us,
                                                  uint32_t uncertainty_us,
                                                  uint64_t ticks,
                                                  sello_obs_verdict *verdict,
                                                  int64_t *offset_us);

/* The quorum's announcement, at `ticks`, of a leap second at UTC leap_us
 * (a midnight at the end of a month), inserted (+1) or deleted (-1); 0
 * cancels. Ignored while an announced leap's pause is under way. */
void sello_clock_announce_leap(sello_clock *c, int64_t leap_us, int sign,
                               uint64_t ticks);

/* Module time at `ticks` (calibrated clocks only; not guarded). */
int64_t sello_clock_utc_us(const sello_clock *c, uint64_t ticks);

/* The current error bound, in microseconds (saturating). */
uint64_t sello_clock_error_us(const sello_clock *c, uint64_t ticks);

/* SELLO_CLOCK_WHY_NONE when synchronised at `ticks`, else why not. */
sello_clock_why sello_clock_why_not(sello_clock *c, uint64_t ticks);

/*
 * The time for a token issued at `ticks`, truncated to the precision, in
 * milliseconds: SELLO_ERR_CLOCK unless synchronised. Never earlier than a
 * time returned before.
 */
SELLO_MUST_CHECK sello_status sello_clock_now(sello_clock *c, uint64_t ticks,
                                              uint64_t *utc_ms);

/* Seconds from `ticks` until the error bound, growing with drift, exceeds
 * the accuracy (0 when it already does or the clock is uncalibrated). */
uint32_t sello_clock_sync_left_s(const sello_clock *c, uint64_t ticks);

/* Elapsed microseconds of `delta` ticks at hz (saturating). */
uint64_t sello_ticks_to_us(uint64_t delta, uint32_t hz);

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
