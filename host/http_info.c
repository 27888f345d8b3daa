/* See http_info.h. */
#include "http_info.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>
#include <sello/abi.h>

#include "oidx.h"

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

/* The STATUS items by type; the last occurrence wins. */
struct relay_status_items {
    const uint8_t *v[SELLO_ST_SIG_HASH + 1];
    size_t len[SELLO_ST_SIG_HASH + 1];
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
        if (type <= SELLO_ST_SIG_HASH) {
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

static void relay_row_clock(struct relay_text *t,
                            const struct relay_status_items *it)
{
    uint8_t v;
    uint64_t ms;
    relay_row_begin(t, "Clock");
    if (!relay_item_u8(it, SELLO_ST_CLOCK, &v)) {
        relay_text_printf(t, "%s", relay_item_missing(it, SELLO_ST_CLOCK));
    } else if (v != SELLO_CLOCK_SET) {
        relay_text_printf(t, "not set: no time stamps can be issued");
    } else if (relay_item_u64(it, SELLO_ST_UTC_MS, &ms)) {
        time_t secs = (time_t)(ms / 1000u);
        struct tm tm;
        gmtime_r(&secs, &tm);
        relay_text_printf(t,
                          "set; module time %04d-%02d-%02dT%02d:%02d:%02d."
                          "%03uZ",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                          tm.tm_hour, tm.tm_min, tm.tm_sec,
                          (unsigned)(ms % 1000u));
    } else {
        relay_text_printf(t, "set");
    }
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

char *relay_info_page(const uint8_t *tlv, size_t tlv_len, size_t *len)
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
    relay_row_policy(&t, &it);
    relay_row_hashes(&t, &it);
    relay_row_accuracy(&t, &it);
    relay_row_key(&t, &it);
    relay_row_flag(&t, &it, "Qualified (EN 319 422) tokens",
                   SELLO_ST_QUALIFIED);
    relay_row_u64(&t, &it, "Tokens issued since start", SELLO_ST_TOKENS);
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
