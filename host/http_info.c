/* See http_info.h. */
#include "http_info.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>
#include <sello/abi.h>

#include "audit_store.h"
#include "oidx.h"
#include "time_feed.h"

/* ---- a growing text buffer with a sticky failure ----------------------- */

struct relay_text {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
};

static bool relay_text_reserve(struct relay_text *t, size_t more)
{
    if (t->failed)
        return false;
    if (t->cap - t->len > more)
        return true;
    size_t cap = t->cap != 0 ? t->cap : 4096;
    while (cap - t->len <= more)
        cap *= 2;
    char *p = realloc(t->buf, cap);
    if (p == NULL) {
        t->failed = true;
        return false;
    }
    t->buf = p;
    t->cap = cap;
    return true;
}

static void relay_text_printf(struct relay_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void relay_text_printf(struct relay_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !relay_text_reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* Appends module-supplied text, escaped for HTML. */
static void relay_text_html(struct relay_text *t, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            relay_text_printf(t, "&amp;");
            break;
        case '<':
            relay_text_printf(t, "&lt;");
            break;
        case '>':
            relay_text_printf(t, "&gt;");
            break;
        case '"':
            relay_text_printf(t, "&quot;");
            break;
        default:
            relay_text_printf(t, "%c", s[i] < 0x20 ? '?' : (char)s[i]);
        }
    }
}

/* ---- the STATUS reply --------------------------------------------------- */

/* The highest STATUS item type this page knows. */
#define RELAY_ST_MAX SELLO_ST_TEST_UNIT

/* The STATUS items by type; the last occurrence wins. */
struct relay_status_items {
    const uint8_t *v[RELAY_ST_MAX + 1];
    size_t len[RELAY_ST_MAX + 1];
    bool truncated;
};

static void relay_status_collect(const uint8_t *tlv, size_t tlv_len,
                                 struct relay_status_items *it)
{
    memset(it, 0, sizeof *it);
    sello_tlv_reader r = {.p = tlv, .end = tlv + tlv_len};
    uint8_t type;
    const uint8_t *v;
    size_t len;
    int rc;
    while ((rc = sello_tlv_next(&r, &type, &v, &len)) == 1) {
        /* Newer firmware may add items; this page shows those it knows. */
        if (type <= RELAY_ST_MAX) {
            it->v[type] = v;
            it->len[type] = len;
        }
    }
    it->truncated = rc < 0;
}

static bool relay_item_u8(const struct relay_status_items *it, int type,
                          uint8_t *out)
{
    if (it->v[type] == NULL || it->len[type] != 1)
        return false;
    *out = it->v[type][0];
    return true;
}

static bool relay_item_u32(const struct relay_status_items *it, int type,
                           uint32_t *out)
{
    if (it->v[type] == NULL || it->len[type] != 4)
        return false;
    *out = sello_get_be32(it->v[type]);
    return true;
}

static bool relay_item_u64(const struct relay_status_items *it, int type,
                           uint64_t *out)
{
    if (it->v[type] == NULL || it->len[type] != 8)
        return false;
    *out = sello_get_be64(it->v[type]);
    return true;
}

/* Placeholder for an item the module did not send or sent malformed. */
static const char *relay_item_missing(const struct relay_status_items *it,
                                      int type)
{
    return it->v[type] == NULL ? "not reported" : "(malformed)";
}

static const char *relay_state_name(uint8_t s)
{
    switch (s) {
    case SELLO_STATE_UNINITIALISED:
        return "uninitialised: no key yet";
    case SELLO_STATE_INITIALISED:
        return "initialised: key generated, no certificate loaded";
    case SELLO_STATE_READY:
        return "ready: certificate loaded, waiting for the custodians to "
               "activate the key; not issuing time stamps";
    case SELLO_STATE_ACTIVE:
        return "active: issuing time stamps";
    case SELLO_STATE_ERROR:
        return "error: not issuing time stamps";
    default:
        return NULL;
    }
}

static const char *relay_key_name(uint8_t k)
{
    switch (k) {
    case SELLO_KEY_P256:
        return "ECDSA P-256";
    case SELLO_KEY_P384:
        return "ECDSA P-384";
    case SELLO_KEY_RSA2048:
        return "RSA 2048";
    case SELLO_KEY_RSA3072:
        return "RSA 3072";
    case SELLO_KEY_RSA4096:
        return "RSA 4096";
    default:
        return NULL;
    }
}

static const char *relay_hash_name(unsigned id)
{
    switch (id) {
    case SELLO_HASH_SHA1:
        return "SHA-1";
    case SELLO_HASH_SHA224:
        return "SHA-224";
    case SELLO_HASH_SHA256:
        return "SHA-256";
    case SELLO_HASH_SHA384:
        return "SHA-384";
    case SELLO_HASH_SHA512:
        return "SHA-512";
    default:
        return NULL;
    }
}

static void relay_row_begin(struct relay_text *t, const char *label)
{
    relay_text_printf(t, "<tr><th>%s</th><td>", label);
}

static void relay_row_end(struct relay_text *t)
{
    relay_text_printf(t, "</td></tr>\n");
}

static void relay_row_state(struct relay_text *t,
                            const struct relay_status_items *it)
{
    uint8_t v;
    relay_row_begin(t, "Unit state");
    if (!relay_item_u8(it, SELLO_ST_STATE, &v))
        relay_text_printf(t, "%s", relay_item_missing(it, SELLO_ST_STATE));
    else if (relay_state_name(v) != NULL)
        relay_text_printf(t, "%s", relay_state_name(v));
    else
        relay_text_printf(t, "state %u", v);
    relay_row_end(t);
}

/* "2025-03-01T12:00:00.123Z" */
static void relay_text_utc_ms(struct relay_text *t, uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000u);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        relay_text_printf(t, "(%llu ms)", (unsigned long long)ms);
        return;
    }
    relay_text_printf(t, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec,
                      (unsigned)(ms % 1000u));
}

/* "3 h 02 min 05 s" */
static void relay_text_duration_s(struct relay_text *t, uint64_t s)
{
    if (s >= 86400u)
        relay_text_printf(t, "%llu d %02u h %02u min",
                          (unsigned long long)(s / 86400u),
                          (unsigned)(s % 86400u / 3600u),
                          (unsigned)(s % 3600u / 60u));
    else if (s >= 3600u)
        relay_text_printf(t, "%u h %02u min %02u s", (unsigned)(s / 3600u),
                          (unsigned)(s % 3600u / 60u), (unsigned)(s % 60u));
    else if (s >= 60u)
        relay_text_printf(t, "%u min %02u s", (unsigned)(s / 60u),
                          (unsigned)(s % 60u));
    else
        relay_text_printf(t, "%u s", (unsigned)s);
}

static void relay_text_us(struct relay_text *t, int64_t us, bool sign)
{
    char buf[40];
    relay_text_printf(t, "%s", relay_fmt_us(buf, sizeof buf, us, sign));
}

static void relay_row_clock(struct relay_text *t,
                            const struct relay_status_items *it)
{
    uint8_t v, why;
    uint64_t ms;
    relay_row_begin(t, "Clock");
    if (!relay_item_u8(it, SELLO_ST_CLOCK, &v)) {
        relay_text_printf(t, "%s", relay_item_missing(it, SELLO_ST_CLOCK));
        relay_row_end(t);
        return;
    }
    bool have_why = relay_item_u8(it, SELLO_ST_CLOCK_WHY, &why);
    const char *why_text = have_why ? sello_clock_why_str(why) : NULL;
    switch (v) {
    case SELLO_CLOCK_SYNCHRONISED:
        relay_text_printf(t, "synchronised");
        break;
    case SELLO_CLOCK_UNSYNCHRONISED:
        relay_text_printf(t, "unsynchronised");
        if (why_text != NULL)
            relay_text_printf(t, ": %s", why_text);
        else if (have_why)
            relay_text_printf(t, " (reason %u)", why);
        relay_text_printf(t, "; no time stamps are issued until it is "
                             "synchronised again");
        break;
    case SELLO_CLOCK_UNCALIBRATED:
        relay_text_printf(t, "not calibrated: no time stamps can be issued "
                             "until the custodians calibrate it");
        break;
    default:
        relay_text_printf(t, "clock state %u", v);
    }
    if (relay_item_u64(it, SELLO_ST_UTC_MS, &ms)) {
        relay_text_printf(t, "; module time ");
        relay_text_utc_ms(t, ms);
    }
    relay_row_end(t);
}

/* The clock model's numbers (firmware/clock.h), when calibrated. */
static void relay_rows_clock_model(struct relay_text *t,
                                   const struct relay_status_items *it)
{
    uint64_t u64, age;
    uint32_t u32, slew;
    if (it->v[SELLO_ST_CLOCK_ERROR_US] != NULL) {
        relay_row_begin(t, "Clock error bound");
        if (relay_item_u64(it, SELLO_ST_CLOCK_ERROR_US, &u64)) {
            relay_text_printf(t, "&plusmn; ");
            relay_text_us(t, u64 > INT64_MAX ? INT64_MAX : (int64_t)u64,
                          false);
        } else {
            relay_text_printf(t, "(malformed)");
        }
        relay_row_end(t);
    }
    if (it->v[SELLO_ST_CLOCK_ERROR_US] != NULL ||
        it->v[SELLO_ST_OBS_AGE_MS] != NULL) {
        relay_row_begin(t, "Last time observation");
        if (it->v[SELLO_ST_OBS_AGE_MS] == NULL) {
            relay_text_printf(t, "none since the clock was calibrated");
        } else if (relay_item_u64(it, SELLO_ST_OBS_AGE_MS, &age)) {
            relay_text_printf(t, "%llu.%03u s ago",
                              (unsigned long long)(age / 1000u),
                              (unsigned)(age % 1000u));
            if (relay_item_u64(it, SELLO_ST_OBS_OFFSET_US, &u64)) {
                relay_text_printf(t, "; reference minus module time ");
                relay_text_us(t, (int64_t)u64, true);
            }
        } else {
            relay_text_printf(t, "(malformed)");
        }
        relay_row_end(t);
    }
    if (it->v[SELLO_ST_SYNC_LEFT_S] != NULL) {
        relay_row_begin(t, "Synchronised without observations for");
        if (relay_item_u32(it, SELLO_ST_SYNC_LEFT_S, &u32)) {
            if (u32 == 0)
                relay_text_printf(t, "no time: drift alone already exceeds "
                                     "the accuracy");
            else
                relay_text_duration_s(t, u32);
        } else {
            relay_text_printf(t, "(malformed)");
        }
        relay_row_end(t);
    }
    const uint8_t *leap = it->v[SELLO_ST_LEAP_US];
    if (leap != NULL) {
        relay_row_begin(t, "Leap second announced");
        if (it->len[SELLO_ST_LEAP_US] == 9 && (leap[8] == 1 || leap[8] == 2)) {
            int64_t at = (int64_t)sello_get_be64(leap);
            relay_text_printf(t, "%s before ",
                              leap[8] == 1 ? "inserted" : "deleted");
            relay_text_utc_ms(t, at < 0 ? 0 : (uint64_t)at / 1000u);
            relay_text_printf(t, "; the clock pauses for the declared "
                                 "accuracy either side of it");
        } else {
            relay_text_printf(t, "(malformed)");
        }
        relay_row_end(t);
    }
    if (relay_item_u32(it, SELLO_ST_DRIFT_PPM, &u32) &&
        relay_item_u32(it, SELLO_ST_SLEW_PPM, &slew)) {
        relay_row_begin(t, "Clock drift and slew");
        relay_text_printf(t,
                          "declared drift %u ppm; observations may move the "
                          "clock by at most %u ppm",
                          u32, slew);
        relay_row_end(t);
    }
}

/* This relay's time feed (time_feed.h). */
static void relay_rows_feed(struct relay_text *t,
                            const struct relay_feed_report *f)
{
    relay_row_begin(t, "Time feed (this relay)");
    if (f == NULL) {
        relay_text_printf(t, "off (--time-feed-interval-ms 0)");
        relay_row_end(t);
        return;
    }
    relay_text_printf(t, "an observation every %u.%03u s from %s",
                      f->interval_ms / 1000u, f->interval_ms % 1000u,
                      f->from_file
                          ? "the test source file (--time-feed-source), "
                            "or the kernel clock while it is absent"
                          : "the kernel clock (CLOCK_REALTIME and its "
                            "maxerror)");
    relay_row_end(t);

    relay_row_begin(t, "Host clock");
    switch (f->host) {
    case RELAY_FEED_HOST_SYNC:
        relay_text_printf(t, "synchronised, error bound ");
        relay_text_us(t, (int64_t)f->host_maxerror_us, false);
        break;
    case RELAY_FEED_HOST_UNSYNC:
        relay_text_printf(t, "not synchronised: no observations are sent");
        break;
    case RELAY_FEED_HOST_FAILED:
        relay_text_printf(t, "unreadable: no observations are sent (see the "
                             "relay's log)");
        break;
    case RELAY_FEED_HOST_UNKNOWN:
        relay_text_printf(t, "not read yet");
        break;
    }
    relay_row_end(t);

    relay_row_begin(t, "Last observation answer");
    if (!f->have_answer) {
        relay_text_printf(t, "none yet");
    } else if (f->code != SELLO_OK) {
        relay_text_printf(t, "refused: %s", sello_status_name(f->code));
    } else {
        const char *v = relay_obs_verdict_str(f->verdict);
        if (v != NULL)
            relay_text_printf(t, "%s", v);
        else
            relay_text_printf(t, "verdict %u", f->verdict);
        relay_text_printf(t, ", offset ");
        relay_text_us(t, f->offset_us, true);
        relay_text_printf(t, ", uncertainty ");
        relay_text_us(t, f->uncertainty_us, false);
    }
    if (f->have_answer)
        relay_text_printf(t, "; %llu.%03u s ago, round trip %llu us",
                          (unsigned long long)(f->answer_age_ms / 1000u),
                          (unsigned)(f->answer_age_ms % 1000u),
                          (unsigned long long)f->rtt_us);
    relay_row_end(t);

    relay_row_begin(t, "Observations");
    relay_text_printf(t,
                      "<span class=\"metrics\">sent %llu: accepted %llu, "
                      "disagreed %llu, useless %llu, refused %llu; lost "
                      "%llu; intervals without one %llu</span>",
                      (unsigned long long)f->sent,
                      (unsigned long long)f->accepted,
                      (unsigned long long)f->disagreed,
                      (unsigned long long)f->useless,
                      (unsigned long long)f->refused,
                      (unsigned long long)f->failed,
                      (unsigned long long)f->skipped);
    relay_row_end(t);
}

static void relay_row_policy(struct relay_text *t,
                             const struct relay_status_items *it)
{
    const uint8_t *v = it->v[SELLO_ST_POLICY];
    size_t n = it->len[SELLO_ST_POLICY];
    relay_row_begin(t, "Policy");
    /* A whole DER OBJECT IDENTIFIER; policy OIDs are far shorter than the
     * 127 content octets a one-octet length allows. */
    if (v != NULL && n >= 3 && v[0] == 0x06 && v[1] == n - 2) {
        char dotted[OIDX_DOTTED_MAX];
        oidx_to_dotted(v + 2, n - 2, dotted);
        relay_text_printf(t, "%s", dotted);
    } else {
        relay_text_printf(t, "%s", relay_item_missing(it, SELLO_ST_POLICY));
    }
    relay_row_end(t);
}

static void relay_row_hashes(struct relay_text *t,
                             const struct relay_status_items *it)
{
    uint32_t mask;
    relay_row_begin(t, "Accepted hash algorithms");
    if (!relay_item_u32(it, SELLO_ST_HASHES, &mask)) {
        relay_text_printf(t, "%s", relay_item_missing(it, SELLO_ST_HASHES));
    } else {
        const char *sep = "";
        for (unsigned id = 0; id < 32; id++) {
            if (!(mask & (1u << id)))
                continue;
            if (relay_hash_name(id) != NULL)
                relay_text_printf(t, "%s%s", sep, relay_hash_name(id));
            else
                relay_text_printf(t, "%shash %u", sep, id);
            sep = ", ";
        }
        if (*sep == '\0')
            relay_text_printf(t, "none");
    }
    relay_row_end(t);
}

static void relay_row_accuracy(struct relay_text *t,
                               const struct relay_status_items *it)
{
    uint32_t ms;
    relay_row_begin(t, "Accuracy");
    if (relay_item_u32(it, SELLO_ST_ACCURACY_MS, &ms))
        relay_text_printf(t, "&plusmn; %u.%03u s", ms / 1000u, ms % 1000u);
    else
        relay_text_printf(t, "%s",
                          relay_item_missing(it, SELLO_ST_ACCURACY_MS));
    relay_row_end(t);
}

static void relay_row_key(struct relay_text *t,
                          const struct relay_status_items *it)
{
    uint8_t k, h;
    relay_row_begin(t, "Signing key");
    if (!relay_item_u8(it, SELLO_ST_KEY_TYPE, &k))
        relay_text_printf(t, "%s",
                          it->v[SELLO_ST_KEY_TYPE] == NULL
                              ? "none yet"
                              : "(malformed)");
    else if (relay_key_name(k) != NULL)
        relay_text_printf(t, "%s", relay_key_name(k));
    else
        relay_text_printf(t, "key type %u", k);
    if (relay_item_u8(it, SELLO_ST_SIG_HASH, &h) && relay_hash_name(h))
        relay_text_printf(t, " with %s", relay_hash_name(h));
    relay_row_end(t);
}

static void relay_row_flag(struct relay_text *t,
                           const struct relay_status_items *it,
                           const char *label, int type)
{
    uint8_t v;
    relay_row_begin(t, label);
    if (relay_item_u8(it, type, &v))
        relay_text_printf(t, "%s", v ? "yes" : "no");
    else
        relay_text_printf(t, "%s", relay_item_missing(it, type));
    relay_row_end(t);
}

static void relay_row_u64(struct relay_text *t,
                          const struct relay_status_items *it,
                          const char *label, int type)
{
    uint64_t v;
    relay_row_begin(t, label);
    if (relay_item_u64(it, type, &v))
        relay_text_printf(t, "%llu", (unsigned long long)v);
    else
        relay_text_printf(t, "%s", relay_item_missing(it, type));
    relay_row_end(t);
}

static void relay_text_hex(struct relay_text *t, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        relay_text_printf(t, "%02x", p[i]);
}

/* This relay's audit log (audit_store.h) and the module's side of it. The
 * numbers are in spans with ids, for scripts. */
static void relay_rows_audit(struct relay_text *t,
                             const struct relay_status_items *it,
                             const struct relay_audit_report *a)
{
    if (a == NULL)
        return;
    relay_row_begin(t, "Audit log (this relay)");
    relay_text_html(t, (const uint8_t *)a->path, strlen(a->path));
    if (a->any) {
        relay_text_printf(t,
                          ": %llu record(s); the last stored is record "
                          "<span id=\"audit-log-seq\">%llu</span>, SHA-256 "
                          "<span id=\"audit-log-hash\">",
                          (unsigned long long)a->log_records,
                          (unsigned long long)a->last_seq);
        relay_text_hex(t, a->last_hash, 32);
        relay_text_printf(t, "</span>");
    } else {
        relay_text_printf(t, ": empty");
    }
    relay_text_printf(t,
                      "; <span id=\"audit-log-stored\">%llu</span> "
                      "record(s) stored since the relay started",
                      (unsigned long long)a->stored);
    if (a->acked_seq > 0)
        relay_text_printf(t,
                          "; acknowledged to the module up to record "
                          "<span id=\"audit-acked-seq\">%llu</span>",
                          (unsigned long long)a->acked_seq);
    if (a->catching_up)
        relay_text_printf(t, "; catching up with the module (AUDIT_READ)");
    if (a->failing)
        relay_text_printf(t,
                          "; <strong>storing records fails</strong> (%llu "
                          "failed batch(es)): tokens are withheld and the "
                          "module stops issuing when its buffer is full; "
                          "see the relay's log",
                          (unsigned long long)a->failures);
    else if (a->failures > 0)
        relay_text_printf(t, "; %llu failed batch(es) earlier",
                          (unsigned long long)a->failures);
    relay_row_end(t);

    uint64_t seq;
    uint32_t pending;
    relay_row_begin(t, "Module audit chain");
    if (!relay_item_u64(it, SELLO_ST_AUDIT_SEQ, &seq)) {
        relay_text_printf(t, "%s", relay_item_missing(it, SELLO_ST_AUDIT_SEQ));
        relay_row_end(t);
        return;
    }
    relay_text_printf(t,
                      "last record <span id=\"audit-module-seq\">%llu"
                      "</span>",
                      (unsigned long long)seq);
    if (relay_item_u32(it, SELLO_ST_AUDIT_PENDING, &pending))
        relay_text_printf(t,
                          "; <span id=\"audit-module-pending\">%u</span> "
                          "octets of records not yet acknowledged",
                          pending);
    const uint8_t *head = it->v[SELLO_ST_AUDIT_HEAD];
    bool head_ok = head != NULL && it->len[SELLO_ST_AUDIT_HEAD] == 32;
    relay_text_printf(t, "; <span id=\"audit-agree\">");
    if (!a->any) {
        relay_text_printf(t, "the log is empty");
    } else if (a->last_seq == seq &&
               (!head_ok || memcmp(head, a->last_hash, 32) == 0)) {
        relay_text_printf(t, "the log agrees: it ends at the module's last "
                             "record");
    } else if (a->last_seq == seq) {
        relay_text_printf(t, "the log disagrees: its last record is not "
                             "the module's (reset, or rolled back)");
    } else if (a->last_seq < seq) {
        relay_text_printf(t, "the log disagrees: %llu record(s) behind",
                          (unsigned long long)(seq - a->last_seq));
    } else {
        relay_text_printf(t,
                          "the log disagrees: %llu record(s) ahead of this "
                          "STATUS answer (made since, or the module was "
                          "reset)",
                          (unsigned long long)(a->last_seq - seq));
    }
    relay_text_printf(t, "</span>");
    relay_row_end(t);
}

static void relay_row_firmware(struct relay_text *t,
                               const struct relay_status_items *it)
{
    relay_row_begin(t, "Module firmware");
    if (it->v[SELLO_ST_FW_VERSION] != NULL)
        relay_text_html(t, it->v[SELLO_ST_FW_VERSION],
                        it->len[SELLO_ST_FW_VERSION]);
    else
        relay_text_printf(t, "not reported");
    relay_row_end(t);
}

char *relay_info_page(const uint8_t *tlv, size_t tlv_len,
                      const struct relay_feed_report *feed,
                      const struct relay_audit_report *audit, size_t *len)
{
    struct relay_status_items it;
    struct relay_text t = {0};
    relay_status_collect(tlv, tlv_len, &it);

    relay_text_printf(
        &t,
        "<!DOCTYPE html>\n"
        "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<title>Sello time-stamping service</title></head>\n"
        "<body>\n<h1>Sello time-stamping service</h1>\n"
        "<p>This address issues RFC&nbsp;3161 time-stamp tokens. POST a "
        "DER-encoded <code>TimeStampReq</code> to <code>/</code> with "
        "<code>Content-Type: application/timestamp-query</code>; the reply "
        "is a DER <code>TimeStampResp</code> with <code>Content-Type: "
        "application/timestamp-reply</code>.</p>\n"
        "<pre>openssl ts -query -data FILE -sha256 -cert -out req.tsq\n"
        "curl -H 'Content-Type: application/timestamp-query' "
        "--data-binary @req.tsq -o resp.tsr URL</pre>\n"
        "<table>\n");
    relay_row_state(&t, &it);
    relay_row_clock(&t, &it);
    relay_rows_clock_model(&t, &it);
    relay_rows_feed(&t, feed);
    relay_row_policy(&t, &it);
    relay_row_hashes(&t, &it);
    relay_row_accuracy(&t, &it);
    relay_row_key(&t, &it);
    relay_row_flag(&t, &it, "Qualified (EN 319 422) tokens",
                   SELLO_ST_QUALIFIED);
    relay_row_flag(&t, &it, "Simulated board (entropy, device secret)",
                   SELLO_ST_SIMULATION);
    relay_row_flag(&t, &it, "Test unit: not for production",
                   SELLO_ST_TEST_UNIT);
    relay_row_u64(&t, &it, "Tokens issued since start", SELLO_ST_TOKENS);
    relay_rows_audit(&t, &it, audit);
    relay_row_firmware(&t, &it);
    relay_text_printf(
        &t,
        "</table>\n%s"
        "<p>Certificates: <a href=\"/tsa.crt\">TSU certificate (DER)</a>, "
        "<a href=\"/chain.pem\">certificate chain (PEM)</a>.</p>\n"
        "</body></html>\n",
        it.truncated ? "<p>(The module's status list was truncated.)</p>\n"
                     : "");
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}

/* ---- certificates ------------------------------------------------------- */

/* The size, header included, of the DER SEQUENCE at p[0..len), or 0 when
 * there is none that fits. */
static size_t relay_der_sequence_size(const uint8_t *p, size_t len)
{
    if (len < 2 || p[0] != 0x30)
        return 0;
    size_t hdr = 2, body = p[1];
    if (body & 0x80) {
        size_t n = body & 0x7f;
        /* Indefinite (n == 0) is not DER; 3 length octets already exceed
         * any frame. */
        if (n == 0 || n > 3 || len < 2 + n)
            return 0;
        body = 0;
        for (size_t i = 0; i < n; i++)
            body = body << 8 | p[2 + i];
        hdr += n;
    }
    if (body > len - hdr)
        return 0;
    return hdr + body;
}

size_t relay_certs_split(const uint8_t *p, size_t len,
                         struct relay_span certs[2])
{
    size_t n = 0, off = 0;
    while (off < len && n < 2) {
        size_t size = relay_der_sequence_size(p + off, len - off);
        if (size == 0)
            return 0;
        certs[n++] = (struct relay_span){.p = p + off, .len = size};
        off += size;
    }
    return off == len ? n : 0;
}

char *relay_certs_pem(const struct relay_span *certs, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += br_pem_encode(NULL, certs[i].p, certs[i].len, "CERTIFICATE",
                               BR_PEM_LINE64);
    /* br_pem_encode() writes a terminating zero after each block. */
    char *pem = malloc(total + 1);
    if (pem == NULL)
        return NULL;
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += br_pem_encode(pem + off, certs[i].p, certs[i].len,
                             "CERTIFICATE", BR_PEM_LINE64);
    *len = off;
    return pem;
}
