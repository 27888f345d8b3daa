/* See time_feed.h. */
#include "time_feed.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <sello/abi.h>
#include <sello/status.h>

#include "log.h"
#include "loop.h"

/* Attempts at a quick reading per interval. */
#define RELAY_FEED_READ_TRIES 3
/* A source file is one short line: anything longer is refused. */
#define RELAY_FEED_SOURCE_MAX 64u

struct relay_feed {
    struct relay_link *link;
    unsigned interval_ms;
    unsigned timeout_ms;
    char *source; /* NULL: the kernel */

    /* The link's loop thread only. */
    bool stopped;
    bool out; /* the call is with the link */
    uint64_t next_ns;
    uint64_t sent_ns;
    uint32_t sent_uncertainty_us;
    struct relay_call call;
    uint8_t req[12];
    uint8_t resp[SELLO_PAYLOAD_MAX];
    /* What has been logged, so that only changes are logged at info. */
    enum relay_feed_host logged_host;
    bool logged_file;
    char logged_problem[160];
    bool logged_answer; /* logged_verdict.. describe a logged answer */
    uint8_t logged_verdict, logged_clock, logged_why;
    int logged_code; /* refusal code logged; -1: none */

    pthread_mutex_t mu; /* guards rep and answer_ns */
    struct relay_feed_report rep;
    uint64_t answer_ns;
};

/* ---- names -------------------------------------------------------------- */

const char *relay_obs_verdict_str(uint8_t verdict)
{
    switch (verdict) {
    case SELLO_OBS_ACCEPTED:
        return "accepted";
    case SELLO_OBS_DISAGREES:
        return "disagrees";
    case SELLO_OBS_USELESS:
        return "useless";
    default:
        return NULL;
    }
}

char *relay_fmt_us(char *buf, size_t n, int64_t us, bool sign)
{
    uint64_t mag = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    snprintf(buf, n, "%s%" PRIu64 ".%06" PRIu64 " s",
             us < 0 ? "-" : sign ? "+" : "", mag / 1000000u, mag % 1000000u);
    return buf;
}

/* ---- the source file ---------------------------------------------------- */

/* Decimal digits at *p (no leading zeros) up to `max`. */
static bool relay_feed_digits(const char **p, const char *end, uint64_t max,
                              uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s == end || *s < '0' || *s > '9')
        return false;
    if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')
        return false;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (d > max || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return true;
}

const char *relay_feed_parse_source(const char *text, size_t len,
                                    struct relay_feed_source *out)
{
    const char *p = text, *end = text + len;
    static const char *const grammar =
        "expected one line \"OFFSET_US UNCERTAINTY_US SYNC\" (decimal "
        "integers, single spaces, SYNC 0 or 1)";
    if (len > 0 && end[-1] == '\n')
        end--;
    if (memchr(text, '\0', len) != NULL)
        return grammar;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    uint64_t off, unc, sync;
    if (!relay_feed_digits(&p, end, UINT64_MAX / 10, &off) || p == end ||
        *p++ != ' ')
        return grammar;
    if (off > (uint64_t)RELAY_FEED_SOURCE_MAX_OFFSET_US)
        return "OFFSET_US is out of range";
    if (!relay_feed_digits(&p, end, UINT64_MAX / 10, &unc) || p == end ||
        *p++ != ' ')
        return grammar;
    if (unc > UINT32_MAX)
        return "UNCERTAINTY_US is out of range (at most 4294967295)";
    if (!relay_feed_digits(&p, end, 1, &sync) || p != end)
        return grammar;
    out->offset_us = neg ? -(int64_t)off : (int64_t)off;
    out->uncertainty_us = (uint32_t)unc;
    out->sync = sync == 1;
    return NULL;
}

/*
 * Reads the source file. Returns 1 with *src filled, 0 when there is no
 * such file (the kernel then rules), -1 with `why` when it cannot be used.
 */
static int relay_feed_read_source(const char *path,
                                  struct relay_feed_source *src, char *why,
                                  size_t why_n)
{
    /* Non-blocking: a FIFO put there must not stall the loop. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, why_n, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    char buf[RELAY_FEED_SOURCE_MAX + 1];
    ssize_t n = -1;
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_n, "cannot stat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_n, "%s is not a regular file", path);
    } else {
        n = read(fd, buf, sizeof buf);
        if (n < 0)
            snprintf(why, why_n, "cannot read %s: %s", path, strerror(errno));
        else if ((size_t)n > RELAY_FEED_SOURCE_MAX)
            snprintf(why, why_n, "%s: longer than %u octets", path,
                     RELAY_FEED_SOURCE_MAX);
    }
    close(fd);
    if (n < 0 || (size_t)n > RELAY_FEED_SOURCE_MAX)
        return -1;
    const char *bad = relay_feed_parse_source(buf, (size_t)n, src);
    if (bad != NULL) {
        snprintf(why, why_n, "%s: %s", path, bad);
        return -1;
    }
    return 1;
}

/* ---- reading the host's clock ------------------------------------------- */

/* One reading: what goes into a frame, or why none does. */
struct relay_feed_reading {
    enum relay_feed_host host;
    int64_t ref_us;
    uint32_t uncertainty_us;
    uint64_t maxerror_us; /* the bound before the read time was added */
    bool from_file;       /* the source file's, not the kernel's */
    char why[160];        /* UNSYNC and FAILED */
};

static uint64_t relay_sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * CLOCK_REALTIME, and with the kernel as the source its error bound and
 * verdict, read within RELAY_FEED_READ_MAX_US if possible: the quickest
 * of a few tries. The time between the two monotonic readings around it
 * bounds how stale the pair can be.
 */
static void relay_feed_read_clock(const struct relay_feed_source *src,
                                  struct relay_feed_reading *r)
{
    uint64_t best_ns = UINT64_MAX;
    struct timespec best_rt = {0, 0};
    struct timex best_tx;
    int best_rc = 0;
    memset(&best_tx, 0, sizeof best_tx);
    for (int i = 0; i < RELAY_FEED_READ_TRIES; i++) {
        struct timex tx;
        struct timespec rt;
        memset(&tx, 0, sizeof tx); /* modes 0: read only, no privilege */
        uint64_t t0 = relay_now_ns();
        int rc = src == NULL ? ntp_adjtime(&tx) : TIME_OK;
        int rt_rc = clock_gettime(CLOCK_REALTIME, &rt);
        uint64_t t1 = relay_now_ns();
        if (rc < 0 || rt_rc != 0) {
            r->host = RELAY_FEED_HOST_FAILED;
            snprintf(r->why, sizeof r->why, "%s: %s",
                     rc < 0 ? "ntp_adjtime" : "clock_gettime",
                     strerror(errno));
            return;
        }
        if (t1 - t0 < best_ns) {
            best_ns = t1 - t0;
            best_rt = rt;
            best_tx = tx;
            best_rc = rc;
        }
        if (best_ns <= (uint64_t)RELAY_FEED_READ_MAX_US * 1000u / 4)
            break;
    }
    uint64_t read_us = (best_ns + 999u) / 1000u;
    if (read_us > RELAY_FEED_READ_MAX_US) {
        r->host = RELAY_FEED_HOST_FAILED;
        /* The same words every time, so that it is logged once. */
        snprintf(r->why, sizeof r->why,
                 "reading the clock took more than %u us, %d times running",
                 RELAY_FEED_READ_MAX_US, RELAY_FEED_READ_TRIES);
        return;
    }
    int64_t now_us = (int64_t)best_rt.tv_sec * 1000000 +
                     (int64_t)(best_rt.tv_nsec / 1000);
    r->from_file = src != NULL;
    if (src != NULL) {
        r->maxerror_us = src->uncertainty_us;
        if (!src->sync) {
            r->host = RELAY_FEED_HOST_UNSYNC;
            snprintf(r->why, sizeof r->why, "time feed source says SYNC 0");
            return;
        }
        now_us += src->offset_us; /* both bounded: no overflow */
    } else {
        r->maxerror_us = best_tx.maxerror < 0 ? UINT64_MAX
                                              : (uint64_t)best_tx.maxerror;
        if (best_rc == TIME_ERROR || (best_tx.status & STA_UNSYNC) ||
            best_tx.maxerror < 0) {
            r->host = RELAY_FEED_HOST_UNSYNC;
            snprintf(r->why, sizeof r->why,
                     "kernel reports %s%s, maxerror %ld us",
                     best_rc == TIME_ERROR ? "TIME_ERROR" : "",
                     (best_tx.status & STA_UNSYNC)
                         ? (best_rc == TIME_ERROR ? " and STA_UNSYNC"
                                                  : "STA_UNSYNC")
                         : "",
                     (long)best_tx.maxerror);
            return;
        }
    }
    /* The bound, the time the reading took, and the microsecond the
     * truncation of tv_nsec may hide. */
    uint64_t u = relay_sat_add(relay_sat_add(r->maxerror_us, read_us), 1);
    r->host = RELAY_FEED_HOST_SYNC;
    r->ref_us = now_us;
    r->uncertainty_us = u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
}

/* ---- the module's answers ----------------------------------------------- */

static void relay_feed_log_host(struct relay_feed *f,
                                const struct relay_feed_reading *r)
{
    char err[32];
    bool changed = r->host != f->logged_host ||
                   (r->host != RELAY_FEED_HOST_FAILED &&
                    r->from_file != f->logged_file) ||
                   (r->host == RELAY_FEED_HOST_FAILED &&
                    strcmp(r->why, f->logged_problem) != 0);
    if (!changed) {
        if (r->host != RELAY_FEED_HOST_SYNC)
            relay_log(RELAY_LOG_DEBUG, "time feed: no observation (%s)",
                      r->why);
        return;
    }
    f->logged_host = r->host;
    f->logged_file = r->from_file;
    snprintf(f->logged_problem, sizeof f->logged_problem, "%s",
             r->host == RELAY_FEED_HOST_FAILED ? r->why : "");
    switch (r->host) {
    case RELAY_FEED_HOST_SYNC:
        relay_log(RELAY_LOG_INFO,
                  "time feed: host clock synchronised (%s %s): sending "
                  "observations every %u ms",
                  r->from_file ? "source file, uncertainty"
                               : "kernel maxerror",
                  relay_fmt_us(err, sizeof err, (int64_t)r->maxerror_us,
                               false),
                  f->interval_ms);
        break;
    case RELAY_FEED_HOST_UNSYNC:
        relay_log(RELAY_LOG_WARN,
                  "time feed: host clock not synchronised (%s): no "
                  "observations are sent until it is; the module stays "
                  "synchronised only while its own error bound allows",
                  r->why);
        break;
    case RELAY_FEED_HOST_FAILED:
        relay_log(RELAY_LOG_WARN, "time feed: no observation: %s", r->why);
        break;
    case RELAY_FEED_HOST_UNKNOWN:
        break;
    }
}

/* The module's answer to one observation, as far as it parses. */
struct relay_feed_answer {
    bool have_verdict, have_offset, have_clock;
    uint8_t verdict, clock, why;
    int64_t offset_us;
};

static bool relay_feed_parse_answer(const uint8_t *p, size_t len,
                                    struct relay_feed_answer *a)
{
    memset(a, 0, sizeof *a);
    sello_tlv_reader rd = {.p = p, .end = p + len};
    uint8_t type;
    const uint8_t *v;
    size_t n;
    int rc;
    while ((rc = sello_tlv_next(&rd, &type, &v, &n)) == 1) {
        /* Newer firmware may add items: those are skipped. */
        switch (type) {
        case SELLO_OBS_VERDICT:
            if (n != 1)
                return false;
            a->verdict = v[0];
            a->have_verdict = true;
            break;
        case SELLO_OBS_OFFSET_US:
            if (n != 8)
                return false;
            a->offset_us = (int64_t)sello_get_be64(v);
            a->have_offset = true;
            break;
        case SELLO_OBS_CLOCK:
            if (n != 1)
                return false;
            a->clock = v[0];
            a->have_clock = true;
            break;
        case SELLO_OBS_CLOCK_WHY:
            if (n != 1)
                return false;
            a->why = v[0];
            break;
        default:
            break;
        }
    }
    return rc == 0 && a->have_verdict && a->have_offset && a->have_clock;
}

/* "synchronised", "unsynchronised (why)", ... for a log line. */
static void relay_feed_clock_phrase(const struct relay_feed_answer *a,
                                    char *buf, size_t n)
{
    const char *state = sello_clock_state_name(a->clock);
    const char *why = sello_clock_why_str(a->why);
    char num[16];
    if (state == NULL) {
        snprintf(num, sizeof num, "state %u", a->clock);
        state = num;
    }
    /* A disagreeing observation says why already. */
    if (a->clock != SELLO_CLOCK_UNSYNCHRONISED ||
        (a->why == SELLO_CLOCK_WHY_DISAGREE &&
         a->verdict == SELLO_OBS_DISAGREES))
        snprintf(buf, n, "%s", state);
    else if (why != NULL)
        snprintf(buf, n, "%s (%s)", state, why);
    else
        snprintf(buf, n, "%s (reason %u)", state, a->why);
}

static void relay_feed_log_answer(struct relay_feed *f,
                                  const struct relay_feed_answer *a,
                                  uint64_t rtt_us)
{
    bool changed = !f->logged_answer || a->verdict != f->logged_verdict ||
                   a->clock != f->logged_clock || a->why != f->logged_why;
    enum relay_log_level level = changed ? RELAY_LOG_INFO : RELAY_LOG_DEBUG;
    f->logged_answer = true;
    f->logged_verdict = a->verdict;
    f->logged_clock = a->clock;
    f->logged_why = a->why;
    f->logged_code = -1;
    if (!relay_log_enabled(level))
        return;
    char clock[160], off[32], unc[32];
    relay_feed_clock_phrase(a, clock, sizeof clock);
    relay_fmt_us(off, sizeof off, a->offset_us, true);
    relay_fmt_us(unc, sizeof unc, (int64_t)f->sent_uncertainty_us, false);
    switch (a->verdict) {
    case SELLO_OBS_ACCEPTED:
        relay_log(level,
                  "module clock %s: observation accepted (offset %s, "
                  "uncertainty %s, round trip %" PRIu64 " us)",
                  clock, off, unc, rtt_us);
        break;
    case SELLO_OBS_DISAGREES:
        relay_log(level,
                  "module clock %s: observation disagrees by %s "
                  "(uncertainty %s)",
                  clock, off, unc);
        break;
    case SELLO_OBS_USELESS:
        relay_log(level,
                  "module clock %s: observation useless, its uncertainty %s "
                  "exceeds the module's accuracy (offset %s)",
                  clock, unc, off);
        break;
    default:
        relay_log(level, "module clock %s: observation verdict %u (offset %s)",
                  clock, a->verdict, off);
    }
}

/* logged_code for a malformed answer: no sello_status is that large. */
#define RELAY_FEED_LOGGED_MALFORMED 0x100

/* An answer that does not parse: said once until a good one comes. */
static void relay_feed_malformed(struct relay_feed *f,
                                 const struct relay_call *call)
{
    relay_log(f->logged_code == RELAY_FEED_LOGGED_MALFORMED ? RELAY_LOG_DEBUG
                                                            : RELAY_LOG_WARN,
              "time feed: malformed TIME_OBSERVE answer (%s, %u octets, "
              "flags 0x%02x)",
              sello_status_name(call->code), (unsigned)call->resp_len,
              call->flags);
    f->logged_code = RELAY_FEED_LOGGED_MALFORMED;
    f->logged_answer = false;
    pthread_mutex_lock(&f->mu);
    f->rep.failed++;
    pthread_mutex_unlock(&f->mu);
}

/* Link's loop: the module answered, or the link gave up. */
static void relay_feed_done(struct relay_call *call)
{
    struct relay_feed *f =
        (struct relay_feed *)((char *)call - offsetof(struct relay_feed, call));
    uint64_t now = relay_now_ns();
    uint64_t rtt_us = (now - f->sent_ns) / 1000u;
    f->out = false;

    if (call->result != RELAY_CALL_OK) {
        relay_log(RELAY_LOG_DEBUG, "time feed: observation lost: %s",
                  relay_call_result_str(call->result));
        pthread_mutex_lock(&f->mu);
        f->rep.failed++;
        pthread_mutex_unlock(&f->mu);
        return;
    }
    /* The audit records an observation makes traveled with its answer:
     * the audit store (audit_store.h) has stored them durably and taken
     * them off before this runs. */
    const uint8_t *payload = call->resp;
    uint32_t payload_len = call->resp_len;
    if (call->code != SELLO_OK) {
        int len = (int)(payload_len < 160 ? payload_len : 160);
        /* Uncalibrated (or no key yet, or the error state) is a state the
         * custodians end: said once, then tried quietly. */
        enum relay_log_level level =
            f->logged_code == call->code ? RELAY_LOG_DEBUG
            : call->code == SELLO_ERR_STATE ? RELAY_LOG_INFO
                                            : RELAY_LOG_WARN;
        relay_log(level,
                  "time feed: module takes no observation: %s (%.*s)%s",
                  sello_status_name(call->code), len,
                  (const char *)payload,
                  level != RELAY_LOG_DEBUG ? "; trying again every interval"
                                           : "");
        f->logged_code = call->code;
        f->logged_answer = false;
        pthread_mutex_lock(&f->mu);
        f->rep.refused++;
        f->rep.have_answer = true;
        f->rep.code = call->code;
        f->rep.verdict = 0;
        f->rep.rtt_us = rtt_us;
        f->answer_ns = now;
        pthread_mutex_unlock(&f->mu);
        return;
    }
    struct relay_feed_answer a;
    if (!relay_feed_parse_answer(payload, payload_len, &a)) {
        relay_feed_malformed(f, call);
        return;
    }
    relay_feed_log_answer(f, &a, rtt_us);
    pthread_mutex_lock(&f->mu);
    switch (a.verdict) {
    case SELLO_OBS_ACCEPTED:
        f->rep.accepted++;
        break;
    case SELLO_OBS_DISAGREES:
        f->rep.disagreed++;
        break;
    default:
        f->rep.useless++;
    }
    f->rep.have_answer = true;
    f->rep.code = SELLO_OK;
    f->rep.verdict = a.verdict;
    f->rep.offset_us = a.offset_us;
    f->rep.rtt_us = rtt_us;
    f->answer_ns = now;
    pthread_mutex_unlock(&f->mu);
}

/* ---- the schedule ------------------------------------------------------- */

struct relay_feed *relay_feed_start(struct relay_link *link,
                                    unsigned interval_ms, const char *source,
                                    unsigned timeout_ms)
{
    struct relay_feed *f = calloc(1, sizeof *f);
    if (f == NULL || (source != NULL && (f->source = strdup(source)) == NULL)) {
        relay_log(RELAY_LOG_ERROR, "out of memory for the time feed");
        free(f);
        return NULL;
    }
    f->link = link;
    f->interval_ms = interval_ms > 0 ? interval_ms : 1;
    f->timeout_ms = timeout_ms;
    f->next_ns = relay_now_ns();
    f->logged_code = -1;
    f->rep.interval_ms = f->interval_ms;
    f->rep.from_file = source != NULL;
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

int relay_feed_timeout_ms(struct relay_feed *f, uint64_t now_ns)
{
    if (f == NULL || f->stopped)
        return -1;
    return relay_timeout_until(now_ns, f->next_ns);
}

/* Counts an interval that sent nothing. */
static void relay_feed_skip(struct relay_feed *f)
{
    pthread_mutex_lock(&f->mu);
    f->rep.skipped++;
    pthread_mutex_unlock(&f->mu);
}

void relay_feed_run(struct relay_feed *f, uint64_t now_ns)
{
    if (f == NULL || f->stopped || now_ns < f->next_ns)
        return;
    uint64_t step = (uint64_t)f->interval_ms * 1000000u;
    f->next_ns += step;
    if (f->next_ns <= now_ns)
        f->next_ns = now_ns + step; /* fell behind: no catching up */
    if (f->out) {
        relay_log(RELAY_LOG_DEBUG,
                  "time feed: the previous observation is still out");
        relay_feed_skip(f);
        return;
    }

    struct relay_feed_source src;
    struct relay_feed_reading r;
    memset(&r, 0, sizeof r);
    int have_src = 0;
    if (f->source != NULL)
        have_src = relay_feed_read_source(f->source, &src, r.why,
                                          sizeof r.why);
    if (have_src < 0)
        r.host = RELAY_FEED_HOST_FAILED;
    else
        relay_feed_read_clock(have_src > 0 ? &src : NULL, &r);
    relay_feed_log_host(f, &r);
    pthread_mutex_lock(&f->mu);
    f->rep.host = r.host;
    f->rep.host_maxerror_us = r.maxerror_us;
    pthread_mutex_unlock(&f->mu);
    if (r.host != RELAY_FEED_HOST_SYNC) {
        relay_feed_skip(f);
        return;
    }

    sello_put_be64(f->req, (uint64_t)r.ref_us);
    sello_put_be32(f->req + 8, r.uncertainty_us);
    f->call = (struct relay_call){
        .op = SELLO_OP_TIME_OBSERVE,
        .req_len = sizeof f->req,
        .req = f->req,
        .resp = f->resp,
        .timeout_ms = f->timeout_ms,
        .done = relay_feed_done,
    };
    f->sent_ns = relay_now_ns();
    f->sent_uncertainty_us = r.uncertainty_us;
    enum relay_call_result rc = relay_link_submit(f->link, &f->call);
    if (rc != RELAY_CALL_OK) {
        relay_log(RELAY_LOG_DEBUG, "time feed: observation not sent: %s",
                  relay_call_result_str(rc));
        pthread_mutex_lock(&f->mu);
        f->rep.failed++;
        pthread_mutex_unlock(&f->mu);
        return;
    }
    f->out = true;
    pthread_mutex_lock(&f->mu);
    f->rep.sent++;
    f->rep.uncertainty_us = r.uncertainty_us;
    pthread_mutex_unlock(&f->mu);
}

void relay_feed_stop(struct relay_feed *f)
{
    if (f != NULL)
        f->stopped = true;
}

void relay_feed_snapshot(struct relay_feed *f, struct relay_feed_report *out)
{
    uint64_t now = relay_now_ns();
    pthread_mutex_lock(&f->mu);
    *out = f->rep;
    out->answer_age_ms =
        f->rep.have_answer && now > f->answer_ns
            ? (now - f->answer_ns) / 1000000u
            : 0;
    pthread_mutex_unlock(&f->mu);
}

void relay_feed_free(struct relay_feed *f)
{
    if (f == NULL)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f->source);
    free(f);
}
