/*
 * The host time feed: every --time-feed-interval-ms the relay reads the
 * host's disciplined clock and sends the module one TIME_OBSERVE frame
 * (include/sello/abi.h) over the module link, so that the module's clock
 * model (firmware/clock.h) stays synchronised while the host's time service
 * agrees with it, and stops being synchronised when it does not.
 *
 * The reference is the kernel's: CLOCK_REALTIME, with the bound the kernel
 * keeps on its error (ntp_adjtime(): struct timex maxerror, microseconds),
 * which chrony, ntpd or a PTP daemon maintain. The uncertainty sent is that
 * bound plus the time the reading itself took; a reading that took longer
 * than RELAY_FEED_READ_MAX_US (preempted, say) is retried, and the
 * interval skipped if no quick one is had.
 *
 * When the kernel says it is not synchronised (STA_UNSYNC, or TIME_ERROR
 * from ntp_adjtime()), the feed sends nothing: the host has no reference
 * to offer, and a frame with a made-up uncertainty would only refresh the
 * module's observation age (SELLO_ST_OBS_AGE_MS) and hide the outage. The
 * module keeps its own time meanwhile and becomes unsynchronised by itself
 * once its drift could exceed the declared accuracy (SELLO_ST_SYNC_LEFT_S
 * counts that down).
 *
 * Nothing here is trusted by the module: it checks every observation
 * against its own clock, its declared accuracy and its slew limit. A
 * compromised host can send any observation anyway; the feed only makes
 * an honest host's clock count.
 *
 * For tests and diagnostics, a source file (--time-feed-source) replaces
 * the kernel's verdict: see relay_feed_parse_source().
 *
 * Threads: everything runs on the module link's loop, except
 * relay_feed_snapshot(), which any thread may call.
 */
#ifndef RELAY_TIME_FEED_H
#define RELAY_TIME_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module_link.h"

#define RELAY_FEED_INTERVAL_DEFAULT_MS 4000u
/* A reading of the clock and its error bound that took longer than this
 * is not used: the bound would have to widen by as much. */
#define RELAY_FEED_READ_MAX_US 1000u
/* --time-feed-source: the largest offset accepted, in microseconds
 * (about 31 years either way). */
#define RELAY_FEED_SOURCE_MAX_OFFSET_US 1000000000000000LL

struct relay_feed;

/* How the last reading of the host's clock went. */
enum relay_feed_host {
    RELAY_FEED_HOST_UNKNOWN = 0, /* not read yet */
    RELAY_FEED_HOST_SYNC,        /* synchronised: observations are sent */
    RELAY_FEED_HOST_UNSYNC,      /* not synchronised: nothing is sent */
    RELAY_FEED_HOST_FAILED,      /* unreadable (source file, slow read) */
};

/* What the feed has done, for the service page. */
struct relay_feed_report {
    unsigned interval_ms;
    bool from_file;           /* --time-feed-source given */
    enum relay_feed_host host;
    uint64_t host_maxerror_us; /* of the last reading */
    uint64_t sent;      /* TIME_OBSERVE frames submitted */
    uint64_t accepted;  /* SELLO_OBS_ACCEPTED */
    uint64_t disagreed; /* SELLO_OBS_DISAGREES */
    uint64_t useless;   /* SELLO_OBS_USELESS */
    uint64_t refused;   /* answered with an error code (uncalibrated...) */
    uint64_t failed;    /* link down, timed out, malformed answer */
    uint64_t skipped;   /* intervals without a frame: host unsynchronised,
                           unreadable, or the previous one still out */
    bool have_answer;   /* the fields below describe a module answer */
    uint8_t verdict;    /* SELLO_OBS_* (0 when refused) */
    uint8_t code;       /* sello_status of the last answer */
    int64_t offset_us;
    uint32_t uncertainty_us; /* what the last frame sent */
    uint64_t answer_age_ms;
    uint64_t rtt_us;    /* submission to answer, last frame */
};

/*
 * The parsed contents of a --time-feed-source file: exactly one line
 * "OFFSET_US UNCERTAINTY_US SYNC" (single spaces, an optional final
 * newline, nothing else), OFFSET_US a decimal integer with an optional
 * sign and |OFFSET_US| <= RELAY_FEED_SOURCE_MAX_OFFSET_US, UNCERTAINTY_US
 * decimal 0..4294967295, SYNC 0 or 1; no leading zeros. Observations then
 * carry CLOCK_REALTIME + OFFSET_US with UNCERTAINTY_US, or none at all for
 * SYNC 0 (as if the kernel were unsynchronised).
 */
struct relay_feed_source {
    int64_t offset_us;
    uint32_t uncertainty_us;
    bool sync;
};

/* Parses `len` octets of a source file. Returns NULL, or why they are
 * refused (a static string). */
const char *relay_feed_parse_source(const char *text, size_t len,
                                    struct relay_feed_source *out);

/*
 * Starts the feed on `link` (whose loop runs relay_feed_run()). Its first
 * observation is due at once. `source` is the --time-feed-source path or
 * NULL; `timeout_ms` bounds each frame's answer. Returns NULL after
 * logging why. interval_ms must be at least 1.
 */
struct relay_feed *relay_feed_start(struct relay_link *link,
                                    unsigned interval_ms, const char *source,
                                    unsigned timeout_ms);

/*
 * The loop's side, on the link's thread: the milliseconds until the next
 * observation is due (-1: never), and, after the turn and before the
 * link's frames are flushed, sending it when due. relay_feed_stop()
 * ends the sending; the frame out, if any, is completed by the link.
 */
int relay_feed_timeout_ms(struct relay_feed *feed, uint64_t now_ns);
void relay_feed_run(struct relay_feed *feed, uint64_t now_ns);
void relay_feed_stop(struct relay_feed *feed);

/* A copy of the feed's report. Any thread. */
void relay_feed_snapshot(struct relay_feed *feed,
                         struct relay_feed_report *out);

/* After relay_link_stop(), which completes the feed's call. */
void relay_feed_free(struct relay_feed *feed);

/* Words for SELLO_OBS_* verdicts; NULL for a value the ABI lacks (clock
 * states and reasons: sello_clock_state_name, sello_clock_why_str). */
const char *relay_obs_verdict_str(uint8_t verdict);

/* "+1.234567 s" (the sign only when negative unless `sign`) into buf. */
char *relay_fmt_us(char *buf, size_t n, int64_t us, bool sign);

#endif
