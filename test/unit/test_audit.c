/*
 * The audit chain (firmware/audit.h, the "Audit records" section of
 * <sello/abi.h>) through the module ABI, the test playing the host that
 * stores the records: an independent verifier of a stored log, a unit's
 * lifetime with every kind of event, the chain head STATUS reports, power
 * loss at every storage write, a host that stops storing records, and a
 * host that tampers with its log.
 *
 * The verifier (audit_verify) shares no code with the firmware: its own
 * walk, its own SHA-256 calls, BearSSL's i31 ECDSA verifier.
 *
 * The host's side: fx_send keeps the records every response carries
 * (fx_audit_log) and acknowledges them. The records a start makes (RESTART
 * and its checkpoint) travel with no response, so after every start the
 * host here catches up with AUDIT_READ before anything else
 * (host_after_start); fx_make_unit would have acknowledged them unseen, so
 * the tests provision units themselves (make_unit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "testutil.h"
#include "board_mem.h"
#include "fixture.h"

#include "audit.h"
#include "counters.h"
#include "unit.h"

/* 2026-01-01T00:00:00Z: inside tsu.der's validity (2024..2099). */
#define T0 1767225600000ull
#define HDR SELLO_AUDIT_HEADER_LEN
#define AV_MAX_TYPE SELLO_AUDIT_ERROR

static sello_module_storage mod;

/* ---- the verifier -------------------------------------------------------- */

typedef struct {
    uint64_t seq;
    uint64_t utc_ms;
    uint8_t serial[12];
    uint8_t resp_hash[32];
} av_token;

typedef struct {
    size_t records;
    uint64_t last_seq;
    uint8_t head[32];               /* SHA-256 of the last record */
    size_t count[AV_MAX_TYPE + 1];  /* records of each type */
    av_token *tokens;               /* malloc'd: av_free */
    size_t ntokens;
    char why[200];                  /* the first failure, for messages */
} av_result;

static void av_free(av_result *r)
{
    free(r->tokens);
    r->tokens = NULL;
    r->ntokens = 0;
}

/* The fixed part of a P-256 SubjectPublicKeyInfo (id-ecPublicKey,
 * prime256v1, BIT STRING of 66 octets), then 04 || X || Y. */
static const uint8_t p256_spki_prefix[26] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};
#define SPKI_LEN 91u

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, p, n);
    br_sha256_out(&h, out);
}

static bool der_int(const uint8_t **p, const uint8_t *end)
{
    if (end - *p < 2 || (*p)[0] != 0x02)
        return false;
    size_t n = (*p)[1];
    if (n < 1 || n > 33 || (size_t)(end - *p - 2) < n)
        return false;
    *p += 2 + n;
    return true;
}

/* SEQUENCE { INTEGER r, INTEGER s } filling the body exactly. */
static bool der_sig_shape(const uint8_t *b, size_t n)
{
    if (n < 8 || n > 72 || b[0] != 0x30 || b[1] != n - 2)
        return false;
    const uint8_t *p = b + 2, *end = b + n;
    return der_int(&p, end) && der_int(&p, end) && p == end;
}

/* The body of each type has the length and the values abi.h gives it. */
static bool body_shape_ok(uint8_t type, const uint8_t *b, size_t n)
{
    switch (type) {
    case SELLO_AUDIT_RESTART: {
        /* saved seq, flags, key, and the saved checkpoint when there is one */
        if (n < 8 + 1 + SPKI_LEN || b[8] > 1 ||
            memcmp(b + 9, p256_spki_prefix, sizeof p256_spki_prefix) != 0 ||
            b[9 + sizeof p256_spki_prefix] != 0x04)
            return false;
        size_t rest = n - (8 + 1 + SPKI_LEN);
        const uint8_t *cp = b + 8 + 1 + SPKI_LEN;
        if (be64(b) == 0)
            return rest == 0;
        return rest > HDR && cp[0] == SELLO_AUDIT_FORMAT &&
               cp[1] == SELLO_AUDIT_CHECKPOINT &&
               HDR + ((size_t)cp[2] << 8 | cp[3]) == rest &&
               be64(cp + 4) == be64(b) && der_sig_shape(cp + HDR, rest - HDR);
    }
    case SELLO_AUDIT_INIT:
        /* ..., unit id, and whether it is a test unit */
        return n == 8 + 32 + 1 && b[40] <= 1;
    case SELLO_AUDIT_CERT:
        return n == 32;
    case SELLO_AUDIT_SESSION:
        return (n == 1 || n == 1 + SELLO_PROPOSAL_LEN) &&
               b[0] >= SELLO_PURPOSE_ACTIVATE && b[0] <= SELLO_PURPOSE_LEAP;
    case SELLO_AUDIT_SHARE:
        return n == 2 && b[1] <= 1;
    case SELLO_AUDIT_QUORUM:
        return n == 2 && b[0] >= SELLO_PURPOSE_ACTIVATE &&
               b[0] <= SELLO_PURPOSE_LEAP;
    case SELLO_AUDIT_LOCKOUT:
        return n == 4;
    case SELLO_AUDIT_DEACTIVATE:
        return n == 0;
    case SELLO_AUDIT_CALIBRATE:
        return n == 12;
    case SELLO_AUDIT_OBSERVE:
        return n == 13 && b[0] >= SELLO_OBS_ACCEPTED &&
               b[0] <= SELLO_OBS_USELESS;
    case SELLO_AUDIT_CLOCK:
        return n == 2 && b[0] <= SELLO_CLOCK_UNSYNCHRONISED &&
               b[1] <= SELLO_CLOCK_WHY_BEHIND;
    case SELLO_AUDIT_LEAP:
        return n == 9 && b[8] <= 2;
    case SELLO_AUDIT_DESTROY:
        return n == 4;
    case SELLO_AUDIT_TOKEN:
        return n == 12 + 32;
    case SELLO_AUDIT_CHECKPOINT:
        return der_sig_shape(b, n);
    case SELLO_AUDIT_ERROR:
        return n >= 1;
    default:
        return false;
    }
}

/* The record at p (avail octets): its whole length, or 0. */
static size_t rec_shape(const uint8_t *p, size_t avail, const char **why)
{
    if (avail < HDR) {
        *why = "the log ends inside a record header";
        return 0;
    }
    if (p[0] != SELLO_AUDIT_FORMAT) {
        *why = "format octet";
        return 0;
    }
    if (p[1] < 1 || p[1] > AV_MAX_TYPE) {
        *why = "unknown record type";
        return 0;
    }
    size_t len = (size_t)p[2] << 8 | p[3];
    if (avail - HDR < len) {
        *why = "the log ends inside a record body";
        return 0;
    }
    if (!body_shape_ok(p[1], p + HDR, len)) {
        *why = "body length or contents impossible for its type";
        return 0;
    }
    return HDR + len;
}

typedef struct {
    const uint8_t *p;
    size_t off, len; /* offset in the log, header + body */
    uint8_t type;
    uint64_t seq;
    uint8_t hash[32];
} av_rec;

typedef struct {
    const av_rec *r;
    size_t n;
    bool have_key;
    uint8_t spki[SPKI_LEN];
} av_ctx;

/* What a checkpoint signs (abi.h). */
static void checkpoint_digest(uint64_t seq, const uint8_t prev[32],
                              uint8_t out[32])
{
    static const char label[] = "sello audit checkpoint v1";
    uint8_t s[8];
    for (int i = 0; i < 8; i++)
        s[i] = (uint8_t)(seq >> (56 - 8 * i));
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, label, sizeof label - 1);
    br_sha256_update(&h, s, sizeof s);
    br_sha256_update(&h, prev, 32);
    br_sha256_out(&h, out);
}

/* Checkpoints (with the key) whose signature verified already: the
 * tampering test verifies the same records thousands of times. Only
 * successes are kept, keyed by the exact octets. */
#define SIG_MEMO 512u
static uint8_t sig_memo[SIG_MEMO][32];
static size_t sig_memo_n, sig_memo_next;

static bool cp_sig_ok(const av_ctx *c, const av_rec *x)
{
    if (!c->have_key || x->type != SELLO_AUDIT_CHECKPOINT)
        return false;
    uint8_t id[32];
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, c->spki, SPKI_LEN);
    br_sha256_update(&h, x->p, x->len);
    br_sha256_out(&h, id);
    for (size_t i = 0; i < sig_memo_n; i++)
        if (memcmp(sig_memo[i], id, 32) == 0)
            return true;
    uint8_t d[32], q[65];
    checkpoint_digest(x->seq, x->p + 20, d);
    memcpy(q, c->spki + SPKI_LEN - 65, 65);
    br_ec_public_key pk = { BR_EC_secp256r1, q, sizeof q };
    if (br_ecdsa_i31_vrfy_asn1(&br_ec_prime_i31, d, sizeof d, &pk, x->p + HDR,
                               x->len - HDR) != 1)
        return false;
    memcpy(sig_memo[sig_memo_next], id, 32);
    sig_memo_next = (sig_memo_next + 1) % SIG_MEMO;
    if (sig_memo_n < SIG_MEMO)
        sig_memo_n++;
    return true;
}

/* b's previous-hash is a's hash. */
static bool links(const av_rec *a, const av_rec *b)
{
    return memcmp(b->p + 20, a->hash, 32) == 0;
}

/* Something vouches for record j as it stands: its own signature (a
 * checkpoint), or a successor in the same run whose previous-hash is its
 * hash. Used only to say which record broke, never to accept one. */
static bool vouched(const av_ctx *c, size_t j)
{
    if (c->r[j].type == SELLO_AUDIT_CHECKPOINT && cp_sig_ok(c, &c->r[j]))
        return true;
    return j + 1 < c->n && c->r[j + 1].type != SELLO_AUDIT_RESTART &&
           links(&c->r[j], &c->r[j + 1]);
}

/* A RESTART at j is wrong: its true number is the one before a vouched
 * successor's, else the one it shows. */
static uint64_t restart_culprit(const av_ctx *c, size_t j)
{
    if (j + 1 < c->n && c->r[j + 1].type != SELLO_AUDIT_RESTART &&
        vouched(c, j + 1))
        return c->r[j + 1].seq - 1;
    return c->r[j].seq;
}

/* (a broken record that shows number 0, which no record has, is reported
 * as UINT64_MAX: a bad log is never reported as 0) */
#define AV_FAIL(seq_, ...)                                                     \
    do {                                                                       \
        snprintf(out->why, sizeof out->why, __VA_ARGS__);                      \
        bad = (seq_) ? (seq_) : UINT64_MAX;                                    \
        goto done;                                                             \
    } while (0)

/*
 * Verifies a log (records back to back, as fx_audit_log holds them) from
 * the unit's very first record. key_spki: the audit key the log must be
 * signed with (STATUS SELLO_ST_AUDIT_KEY), or NULL to take the first
 * RESTART's. Returns 0 when every record checks out, else the sequence
 * number of the first broken record: the record that was altered, replayed
 * or is out of place, or the one missing where the chain breaks. Fills
 * *out (the records, the last sequence number and hash, the counts, the
 * TOKEN records of the good prefix).
 *
 * Rules: every record is well-formed for its type; the first is a RESTART
 * numbered 1 from saved position 0 with a zero previous-hash; every other
 * record is numbered one above its predecessor and carries its hash,
 * except a RESTART: numbered above every earlier record, continuing from a
 * saved position S != 0 that is an earlier CHECKPOINT, whose hash it
 * carries; every RESTART carries the same audit key; every CHECKPOINT's
 * signature verifies under it.
 */
static uint64_t audit_verify(const uint8_t *log, size_t len,
                             const uint8_t *key_spki, av_result *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = len / HDR + 1;
    av_rec *r = calloc(cap, sizeof *r);
    out->tokens = calloc(cap, sizeof *out->tokens);
    assert_non_null(r);
    assert_non_null(out->tokens);
    av_ctx c = { r, 0, false, { 0 } };
    if (key_spki) {
        memcpy(c.spki, key_spki, SPKI_LEN);
        c.have_key = true;
    }
    uint64_t bad = 0, maxseq = 0;
    /* The records' extents, up to the first that is malformed. */
    size_t off = 0, n = 0;
    const char *shape_why = NULL;
    while (off < len) {
        size_t rl = rec_shape(log + off, len - off, &shape_why);
        if (!rl)
            break;
        av_rec *x = &r[n++];
        x->p = log + off;
        x->off = off;
        x->len = rl;
        x->type = log[off + 1];
        x->seq = be64(log + off + 4);
        sha256(x->p, rl, x->hash);
        off += rl;
    }
    c.n = n;
    for (size_t j = 0; j < n; j++) {
        const av_rec *x = &r[j];
        const uint8_t *b = x->p + HDR;
        if (x->type == SELLO_AUDIT_RESTART) {
            uint64_t from = be64(b);
            if (!c.have_key) {
                memcpy(c.spki, b + 9, SPKI_LEN);
                c.have_key = true;
            }
            if (memcmp(b + 9, c.spki, SPKI_LEN) != 0)
                AV_FAIL(restart_culprit(&c, j),
                        "RESTART %llu: another audit key",
                        (unsigned long long)x->seq);
            if (j == 0) {
                static const uint8_t zero[32];
                if (x->seq != 1 || from != 0 || memcmp(x->p + 20, zero, 32))
                    AV_FAIL(restart_culprit(&c, j),
                            "the first record is not RESTART 1 from 0");
            } else {
                if (from == 0)
                    AV_FAIL(restart_culprit(&c, j),
                            "RESTART %llu from position 0 after the start",
                            (unsigned long long)x->seq);
                if (x->seq <= maxseq)
                    AV_FAIL(restart_culprit(&c, j),
                            "RESTART %llu is not above %llu",
                            (unsigned long long)x->seq,
                            (unsigned long long)maxseq);
                /* The saved checkpoint travels in the RESTART: it must be
                 * signed, be what the RESTART links to, and either be in
                 * the log as it is, or follow a record of the log (the
                 * host lost it to a power cut). */
                av_rec cp = { 0 };
                cp.p = b + 8 + 1 + SPKI_LEN;
                cp.len = (size_t)(x->len - HDR) - (8 + 1 + SPKI_LEN);
                cp.type = SELLO_AUDIT_CHECKPOINT;
                cp.seq = from;
                sha256(cp.p, cp.len, cp.hash);
                if (!cp_sig_ok(&c, &cp) || !links(&cp, x))
                    AV_FAIL(restart_culprit(&c, j),
                            "RESTART %llu: its checkpoint %llu is not genuine",
                            (unsigned long long)x->seq,
                            (unsigned long long)from);
                size_t i = j;
                while (i > 0 && r[i - 1].seq != from)
                    i--;
                if (i > 0 && (r[i - 1].len != cp.len ||
                              memcmp(r[i - 1].p, cp.p, cp.len) != 0))
                    AV_FAIL(restart_culprit(&c, j),
                            "RESTART %llu: checkpoint %llu differs from the "
                            "log's", (unsigned long long)x->seq,
                            (unsigned long long)from);
                if (i == 0) {
                    size_t k = j;
                    while (k > 0 && !links(&r[k - 1], &cp))
                        k--;
                    if (k == 0)
                        AV_FAIL(restart_culprit(&c, j),
                                "RESTART %llu: checkpoint %llu follows no "
                                "record of the log",
                                (unsigned long long)x->seq,
                                (unsigned long long)from);
                }
            }
        } else {
            if (j == 0)
                AV_FAIL(1, "the log does not begin with a RESTART");
            uint64_t expect = r[j - 1].seq + 1;
            if (!links(&r[j - 1], x)) {
                for (size_t i = 0; i < j; i++)
                    if (r[i].len == x->len && !memcmp(r[i].p, x->p, x->len))
                        AV_FAIL(x->seq, "record %llu replayed",
                                (unsigned long long)x->seq);
                if (vouched(&c, j))
                    AV_FAIL(x->seq - 1,
                            "chain broken before record %llu: record %llu "
                            "altered or missing",
                            (unsigned long long)x->seq,
                            (unsigned long long)(x->seq - 1));
                AV_FAIL(expect, "chain broken at record %llu",
                        (unsigned long long)expect);
            }
            if (x->seq != expect)
                AV_FAIL(expect, "record %llu numbered %llu",
                        (unsigned long long)expect,
                        (unsigned long long)x->seq);
            if (x->type == SELLO_AUDIT_CHECKPOINT && !cp_sig_ok(&c, x))
                AV_FAIL(x->seq, "checkpoint %llu: bad signature",
                        (unsigned long long)x->seq);
        }
        if (x->seq > maxseq)
            maxseq = x->seq;
        out->count[x->type]++;
        if (x->type == SELLO_AUDIT_TOKEN) {
            av_token *t = &out->tokens[out->ntokens++];
            t->seq = x->seq;
            t->utc_ms = be64(x->p + 12);
            memcpy(t->serial, b, 12);
            memcpy(t->resp_hash, b + 12, 32);
        }
    }
    if (off < len) {
        /* A record that is not one. If a header with the next number
         * starts inside the previous record, that record is shorter than
         * its length field says. */
        if (n > 0) {
            const av_rec *prev = &r[n - 1];
            for (size_t o = prev->off + HDR; o < off; o++)
                if (len - o >= 12 && log[o] == SELLO_AUDIT_FORMAT &&
                    log[o + 1] >= 1 && log[o + 1] <= AV_MAX_TYPE &&
                    be64(log + o + 4) == prev->seq + 1)
                    AV_FAIL(prev->seq, "record %llu is cut short",
                            (unsigned long long)prev->seq);
        }
        uint64_t seq = len - off >= 12 ? be64(log + off + 4)
                       : n            ? r[n - 1].seq + 1
                                      : 1;
        AV_FAIL(seq, "record at offset %zu (%llu): %s", off,
                (unsigned long long)seq, shape_why);
    }
    out->records = n;
    if (n) {
        out->last_seq = r[n - 1].seq;
        memcpy(out->head, r[n - 1].hash, 32);
    }
done:
    free(r);
    return bad;
}

/* The log verifies (printing why not). */
static void expect_log_ok(const uint8_t *log, size_t len, const uint8_t *key,
                          av_result *res)
{
    uint64_t bad = audit_verify(log, len, key, res);
    if (bad)
        print_error("log of %zu octets: bad at %llu: %s\n", len,
                    (unsigned long long)bad, res->why);
    assert_int_equal(bad, 0);
}

/* ---- the host and the unit ----------------------------------------------- */

/* The true UTC, which the test keeps in step with the board's ticks. */
static uint64_t now_ms;

static void advance(uint64_t ms)
{
    board_mem_advance_ms(ms);
    now_ms += ms;
}

/* Tokens the host received. */
typedef struct {
    uint8_t serial[12];
    uint8_t hash[32];
    uint64_t gen_ms;
} got_token;
#define GOT_MAX 4096u
static got_token got[GOT_MAX];
static size_t ngot;

static int setup(void **state)
{
    (void)state;
    board_mem_reset();
    fx_audit_reset();
    memset(&mod, 0xee, sizeof mod);
    ngot = 0;
    now_ms = T0;
    return 0;
}

#define TEST(f) cmocka_unit_test_setup(f, setup)

/* The number of records in a byte string of whole records. */
static size_t record_count(const uint8_t *p, size_t n)
{
    size_t count = 0;
    for (size_t off = 0; off + HDR <= n;
         off += HDR + sello_get_be16(p + off + 2))
        count++;
    return count;
}

static uint64_t last_seq_of(const uint8_t *p, size_t n)
{
    uint64_t last = 0;
    for (size_t off = 0; off + HDR <= n;
         off += HDR + sello_get_be16(p + off + 2))
        last = be64(p + off + 4);
    return last;
}

static void log_append(const uint8_t *p, size_t n)
{
    assert_true(FX_AUDIT_LOG_MAX - fx_audit_log_len >= n);
    memcpy(fx_audit_log + fx_audit_log_len, p, n);
    fx_audit_log_len += n;
}

static fx_resp audit_ack(uint64_t seq)
{
    uint8_t in[8];
    sello_put_be64(in, seq);
    return fx_call(&mod, SELLO_OP_AUDIT_ACK, in, sizeof in);
}

static fx_resp audit_read(uint64_t from)
{
    uint8_t in[8];
    sello_put_be64(in, from);
    return fx_call(&mod, SELLO_OP_AUDIT_READ, in, sizeof in);
}

/* After a start: the records it made (a RESTART and the checkpoint that
 * saved the new position) reach the host only through AUDIT_READ. */
static void host_after_start(void)
{
    fx_resp r = audit_read(0);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    assert_int_equal(r.flags, 0);
    assert_int_equal(record_count(r.payload, r.len), 2);
    assert_int_equal(r.payload[1], SELLO_AUDIT_RESTART);
    assert_int_equal(r.payload[HDR + sello_get_be16(r.payload + 2) + 1],
                     SELLO_AUDIT_CHECKPOINT);
    uint64_t last = last_seq_of(r.payload, r.len);
    log_append(r.payload, r.len);
    if (!fx_audit_no_ack)
        assert_int_equal(audit_ack(last).status, SELLO_OK);
}

static void start_logged(void)
{
    sello_status st = sello_module_start(&mod);
    if (st != SELLO_OK)
        print_error("start: %s\n", sello_status_name(st));
    assert_int_equal(st, SELLO_OK);
    host_after_start();
}

static bool status_tlv(uint8_t type, uint8_t *out, size_t cap, size_t *len)
{
    fx_resp r = fx_call(&mod, SELLO_OP_STATUS, NULL, 0);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    sello_tlv_reader rd = { r.payload, r.payload + r.len };
    uint8_t t;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&rd, &t, &v, &n) == 1) {
        if (t != type)
            continue;
        assert_true(n <= cap);
        memcpy(out, v, n);
        *len = n;
        return true;
    }
    return false;
}

static uint64_t status_u64(uint8_t type)
{
    uint64_t v = 0xdead;
    assert_true(fx_status_field(&mod, type, &v));
    return v;
}

/* The audit key as STATUS reports it. */
static void status_key(uint8_t key[SPKI_LEN])
{
    size_t n = 0;
    assert_true(status_tlv(SELLO_ST_AUDIT_KEY, key, SPKI_LEN, &n));
    assert_int_equal(n, SPKI_LEN);
}

static void activate(void)
{
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(status_u64(SELLO_ST_STATE), SELLO_STATE_ACTIVE);
}

static void calibrate(void)
{
    fx_resp r = fx_calibrate(&mod, now_ms);
    assert_true(r.header_ok);
    if (r.status != SELLO_OK)
        print_error("calibration refused: %.*s\n", (int)r.len, r.payload);
    assert_int_equal(r.status, SELLO_OK);
}

#define CERTS "tsu.der ca.der"

/* What fx_make_unit does, with the host catching up after the start: the
 * unit provisioned with the fixture's key, started, certified, activated
 * and calibrated to now_ms. */
static void make_unit(void)
{
    fx_tlv t;
    fx_tlv_init_subject(&t);
    size_t klen;
    uint8_t *key = tu_load("certs/unit-p256.priv", &klen);
    assert_int_equal(fx_provision(t.buf, t.w.len, SELLO_KEY_P256, key, klen,
                                  NULL, NULL),
                     SELLO_OK);
    free(key);
    start_logged();
    static uint8_t certs[SELLO_PAYLOAD_MAX];
    size_t len = fx_load_certs(CERTS, certs, sizeof certs);
    assert_true(len > 0);
    fx_resp r = fx_call(&mod, SELLO_OP_LOAD_CERT, certs, len);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    activate();
    calibrate();
}

/* A restart, the quorum's activation and calibration. */
static void restart_active(void)
{
    start_logged();
    assert_int_equal(status_u64(SELLO_ST_STATE), SELLO_STATE_READY);
    activate();
    calibrate();
}

typedef struct {
    bool granted;
    int fail_bit;
    char reason[128];
    uint8_t serial[12];
    uint64_t gen_ms;
    size_t audit_len; /* octets of records the response carried */
} stamp_out;

/* STAMP with a SHA-256 imprint; a granted token is remembered in got[]
 * with the SHA-256 of the TimeStampResp as received. */
static stamp_out stamp(void)
{
    static unsigned fill;
    static const uint8_t head[] = { 0x30, 0x36, 0x02, 0x01, 0x01, 0x30,
                                    0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
                                    0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
    uint8_t req[sizeof head + 32];
    memcpy(req, head, sizeof head);
    memset(req + sizeof head, (int)(fill++ & 0xff), 32);
    fx_resp r = fx_call(&mod, SELLO_OP_STAMP, req, sizeof req);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    fx_tsr t = fx_parse_tsr(r.payload, r.len);
    assert_true(t.ok);
    stamp_out s;
    memset(&s, 0, sizeof s);
    s.granted = t.status == 0 && t.has_token;
    s.fail_bit = t.fail_bit;
    s.audit_len = r.audit_len;
    for (size_t i = 0; i + 2 < r.len; i++) {
        if (r.payload[i] == 0x0c && r.payload[i + 1] < sizeof s.reason &&
            i + 2 + r.payload[i + 1] <= r.len) {
            memcpy(s.reason, r.payload + i + 2, r.payload[i + 1]);
            s.reason[r.payload[i + 1]] = 0;
            break;
        }
    }
    if (!s.granted)
        return s;
    const uint8_t *p = t.serial;
    size_t n = t.serial_len;
    while (n > 1 && p[0] == 0) {
        p++;
        n--;
    }
    assert_true(n <= 12);
    memcpy(s.serial + 12 - n, p, n);
    s.gen_ms = fx_gentime_ms(t.gen_time);
    assert_true(s.gen_ms != 0);
    assert_true(ngot < GOT_MAX);
    got_token *g = &got[ngot++];
    memcpy(g->serial, s.serial, 12);
    sha256(r.payload, r.len, g->hash);
    g->gen_ms = s.gen_ms;
    return s;
}

static void stamp_ok(void)
{
    stamp_out s = stamp();
    if (!s.granted)
        print_error("refused (bit %d): %s\n", s.fail_bit, s.reason);
    assert_true(s.granted);
}

/* Every token received appears exactly once as a TOKEN record, with its
 * serial, the hash of the response and genTime; no TOKEN record without a
 * token (when every response reached the host). */
static void expect_tokens_logged(const av_result *res, bool exact)
{
    for (size_t i = 0; i < ngot; i++) {
        unsigned found = 0;
        for (size_t j = 0; j < res->ntokens; j++) {
            const av_token *t = &res->tokens[j];
            if (memcmp(t->serial, got[i].serial, 12) != 0)
                continue;
            found++;
            assert_memory_equal(t->resp_hash, got[i].hash, 32);
            assert_int_equal(t->utc_ms, got[i].gen_ms);
        }
        if (found != 1)
            print_error("token %zu (serial %llu) logged %u times\n", i,
                        (unsigned long long)be64(got[i].serial + 4), found);
        assert_int_equal(found, 1);
    }
    if (exact)
        assert_int_equal(res->ntokens, ngot);
}

/* Serials strictly increase in the order received. */
static void expect_serials_increase(size_t from)
{
    for (size_t i = from + 1; i < ngot; i++)
        assert_true(memcmp(got[i - 1].serial, got[i].serial, 12) < 0);
}

static uint8_t observe(uint64_t ref_ms, int64_t off_us, uint32_t unc_us)
{
    uint8_t in[12];
    sello_put_be64(in, (uint64_t)((int64_t)(ref_ms * 1000) + off_us));
    sello_put_be32(in + 8, unc_us);
    fx_resp r = fx_call(&mod, SELLO_OP_TIME_OBSERVE, in, sizeof in);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    sello_tlv_reader t = { r.payload, r.payload + r.len };
    uint8_t type, verdict = 0;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&t, &type, &v, &n) == 1)
        if (type == SELLO_OBS_VERDICT && n == 1)
            verdict = v[0];
    return verdict;
}

/* A submission that does not open (to a RECALIBRATE session, which any
 * state with a key may open): counted as a failure. */
static void failed_submission(void)
{
    uint8_t proposal[SELLO_PROPOSAL_LEN];
    sello_put_be64(proposal, now_ms * 1000);
    sello_put_be32(proposal + 8, 0);
    fx_resp r = fx_session_open_with(&mod, SELLO_PURPOSE_RECALIBRATE,
                                     SELLO_SESSION_OPEN_NEW, proposal);
    assert_int_equal(r.status, SELLO_OK);
    uint8_t sub[SELLO_SUBMIT_LEN];
    fx_seal_submission(fx_shares[0], sub);
    sub[SELLO_SUBMIT_LEN - 1] ^= 0x01; /* the box's tag */
    r = fx_call(&mod, SELLO_OP_SESSION_SUBMIT, sub, sizeof sub);
    assert_true(r.header_ok);
    assert_true(r.status != SELLO_OK);
    assert_int_equal(status_u64(SELLO_ST_FAILURES), 1);
}

/* The records of a verified log, by index. */
typedef struct {
    size_t off, len;
    uint8_t type;
    uint64_t seq;
} rec_at;

static size_t index_records(const uint8_t *log, size_t len, rec_at **out)
{
    size_t n = record_count(log, len), i = 0;
    rec_at *r = calloc(n + 1, sizeof *r);
    assert_non_null(r);
    for (size_t off = 0; off + HDR <= len;
         off += HDR + sello_get_be16(log + off + 2), i++) {
        r[i].off = off;
        r[i].len = HDR + sello_get_be16(log + off + 2);
        r[i].type = log[off + 1];
        r[i].seq = be64(log + off + 4);
    }
    *out = r;
    return n;
}

/* ---- the verifier on its own --------------------------------------------- */

/* A checkpoint made with BearSSL for a key of the test's, so that the
 * verifier is known to accept exactly what abi.h describes before it is
 * trusted with the module's log. */
static void test_verifier_accepts_a_handmade_log(void **state)
{
    (void)state;
    br_hmac_drbg_context drbg;
    br_hmac_drbg_init(&drbg, &br_sha256_vtable, "audit test key", 14);
    br_ec_private_key sk;
    uint8_t kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
    assert_true(br_ec_keygen(&drbg.vtable, &br_ec_prime_i31, &sk, kbuf,
                             BR_EC_secp256r1) > 0);
    br_ec_public_key pk;
    assert_int_equal(br_ec_compute_pub(&br_ec_prime_i31, &pk, pbuf, &sk), 65);
    uint8_t log[1024];
    size_t len = 0;
    uint8_t prev[32] = { 0 };
    /* RESTART 1 from 0, CHECKPOINT 2, TOKEN 3 */
    for (uint64_t seq = 1; seq <= 3; seq++) {
        uint8_t *p = log + len, body[128];
        size_t bl;
        uint8_t type;
        if (seq == 1) {
            type = SELLO_AUDIT_RESTART;
            memset(body, 0, 9);
            memcpy(body + 9, p256_spki_prefix, sizeof p256_spki_prefix);
            memcpy(body + 9 + sizeof p256_spki_prefix, pk.q, 65);
            bl = 100;
        } else if (seq == 2) {
            type = SELLO_AUDIT_CHECKPOINT;
            uint8_t d[32];
            checkpoint_digest(seq, prev, d);
            bl = br_ecdsa_i31_sign_asn1(&br_ec_prime_i31, &br_sha256_vtable,
                                        d, &sk, body);
            assert_true(bl > 0);
        } else {
            type = SELLO_AUDIT_TOKEN;
            memset(body, 0x77, 44);
            bl = 44;
        }
        p[0] = SELLO_AUDIT_FORMAT;
        p[1] = type;
        sello_put_be16(p + 2, (uint16_t)bl);
        sello_put_be64(p + 4, seq);
        sello_put_be64(p + 12, T0);
        memcpy(p + 20, prev, 32);
        memcpy(p + HDR, body, bl);
        sha256(p, HDR + bl, prev);
        len += HDR + bl;
    }
    av_result res;
    expect_log_ok(log, len, NULL, &res);
    assert_int_equal(res.records, 3);
    assert_int_equal(res.last_seq, 3);
    assert_memory_equal(res.head, prev, 32);
    assert_int_equal(res.ntokens, 1);
    av_free(&res);
    /* the same log under another key: the checkpoint does not verify */
    uint8_t other[SPKI_LEN];
    memcpy(other, log + HDR + 9, SPKI_LEN);
    other[SPKI_LEN - 1] ^= 1;
    assert_int_equal(audit_verify(log, len, other, &res), 1);
    av_free(&res);
    /* an empty log: nothing in it is wrong */
    assert_int_equal(audit_verify(log, 0, NULL, &res), 0);
    assert_int_equal(res.records, 0);
    av_free(&res);
}

/* ---- a lifetime ---------------------------------------------------------- */

/* Every write of the counters record starts a new serial block and saves
 * the chain's position: between two tokens of different blocks there is a
 * checkpoint. */
static void expect_block_changes_checkpointed(const uint8_t *log, size_t len)
{
    uint64_t block = 0;
    bool checkpoint = false, any = false;
    for (size_t off = 0; off + HDR <= len;
         off += HDR + sello_get_be16(log + off + 2)) {
        if (log[off + 1] == SELLO_AUDIT_CHECKPOINT)
            checkpoint = true;
        if (log[off + 1] != SELLO_AUDIT_TOKEN)
            continue;
        uint64_t b = (be64(log + off + HDR + 4) - 1) / SELLO_SERIAL_BLOCK;
        if (any && b != block && !checkpoint)
            print_error("token %llu: a new serial block without a "
                        "checkpoint\n",
                        (unsigned long long)be64(log + off + 4));
        assert_true(!any || b == block || checkpoint);
        block = b;
        any = true;
        checkpoint = false;
    }
}

/* Records of `type` whose body begins with body[0..blen). */
static size_t count_body(const uint8_t *log, size_t len, uint8_t type,
                         const uint8_t *body, size_t blen)
{
    size_t n = 0;
    for (size_t off = 0; off + HDR <= len;
         off += HDR + sello_get_be16(log + off + 2))
        if (log[off + 1] == type && sello_get_be16(log + off + 2) >= blen &&
            memcmp(log + off + HDR, body, blen) == 0)
            n++;
    return n;
}

/*
 * Provisioning, certificate, activation, calibration, hundreds of tokens
 * with the clock moving (reservations, so checkpoints), observations
 * (accepted, useless, disagreeing), deactivation, a failed submission,
 * activation again, and restarts: the log verifies, every token is in it
 * exactly once, and every kind of event that happened is there.
 */
static void test_lifetime(void **state)
{
    (void)state;
    make_unit();
    for (int i = 0; i < 120; i++) {
        advance(150);
        stamp_ok();
    }
    assert_int_equal(observe(now_ms, 2000, 1000), SELLO_OBS_ACCEPTED);
    assert_int_equal(observe(now_ms, 0, 2000000), SELLO_OBS_USELESS);
    assert_int_equal(observe(now_ms, 5000000, 1000), SELLO_OBS_DISAGREES);
    stamp_out s = stamp();
    assert_false(s.granted);
    assert_int_equal(s.fail_bit, 14); /* timeNotAvailable */
    assert_int_equal(observe(now_ms, -3000, 1000), SELLO_OBS_ACCEPTED);
    for (int i = 0; i < 100; i++) {
        advance(170);
        stamp_ok();
    }
    fx_resp r = fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0);
    assert_int_equal(r.status, SELLO_OK);
    assert_false(stamp().granted);
    failed_submission();
    activate();
    for (int i = 0; i < 80; i++) {
        advance(130);
        stamp_ok();
    }
    advance(2000);
    restart_active();
    for (int i = 0; i < 100; i++) {
        advance(160);
        stamp_ok();
    }
    advance(2000);
    start_logged(); /* a restart with nothing after it but STATUS */
    uint8_t key[SPKI_LEN];
    status_key(key);

    av_result res;
    expect_log_ok(fx_audit_log, fx_audit_log_len, key, &res);
    assert_false(fx_audit_log_full);
    assert_int_equal(ngot, 400);
    expect_tokens_logged(&res, true);
    expect_serials_increase(0);
    const size_t *n = res.count;
    /* provisioned directly (fx_provision): no INIT, no ceremony */
    assert_int_equal(n[SELLO_AUDIT_INIT], 0);
    assert_int_equal(n[SELLO_AUDIT_RESTART], 3);
    assert_int_equal(n[SELLO_AUDIT_CERT], 1);
    assert_int_equal(n[SELLO_AUDIT_DEACTIVATE], 1);
    assert_int_equal(n[SELLO_AUDIT_TOKEN], 400);
    /* activations: 3, calibrations: 2, the failed submission's session */
    assert_int_equal(n[SELLO_AUDIT_SESSION], 3 + 1 + 2);
    assert_int_equal(n[SELLO_AUDIT_QUORUM], 3 + 2);
    assert_int_equal(n[SELLO_AUDIT_SHARE], 2 * 5 + 1);
    assert_int_equal(n[SELLO_AUDIT_CALIBRATE], 2);
    assert_int_equal(n[SELLO_AUDIT_OBSERVE], 4);
    assert_true(n[SELLO_AUDIT_CLOCK] >= 3);
    /* a checkpoint at every start, every reservation of serials (~1 per
     * second of issuing), the stored failure count and its reset */
    assert_true(n[SELLO_AUDIT_CHECKPOINT] > 3 + 2 + 50);
    expect_block_changes_checkpointed(fx_audit_log, fx_audit_log_len);
    assert_int_equal(n[SELLO_AUDIT_LOCKOUT], 0);
    assert_int_equal(n[SELLO_AUDIT_DESTROY], 0);
    assert_int_equal(n[SELLO_AUDIT_LEAP], 0);
    assert_int_equal(n[SELLO_AUDIT_ERROR], 0);

    /* the events say what happened */
    const uint8_t *log = fx_audit_log;
    size_t len = fx_audit_log_len;
    static uint8_t certs[SELLO_PAYLOAD_MAX];
    uint8_t digest[32];
    size_t clen = fx_load_certs(CERTS, certs, sizeof certs);
    sha256(certs, clen, digest);
    assert_int_equal(count_body(log, len, SELLO_AUDIT_CERT, digest, 32),
                     1);
    /* shares: ten accepted, one that did not open, counted */
    static const uint8_t share_ok[1] = { SELLO_OK };
    static const uint8_t share_bad[2] = { SELLO_ERR_SHARE, 1 };
    assert_int_equal(count_body(log, len, SELLO_AUDIT_SHARE, share_ok, 1), 10);
    assert_int_equal(count_body(log, len, SELLO_AUDIT_SHARE, share_bad, 2), 1);
    static const uint8_t activated[2] = { SELLO_PURPOSE_ACTIVATE, SELLO_OK };
    static const uint8_t calibrated[2] = { SELLO_PURPOSE_RECALIBRATE,
                                           SELLO_OK };
    assert_int_equal(count_body(log, len, SELLO_AUDIT_QUORUM, activated,
                                2),
                     3);
    assert_int_equal(count_body(log, len, SELLO_AUDIT_QUORUM,
                                calibrated, 2),
                     2);
    uint8_t cal[12];
    sello_put_be64(cal, T0 * 1000);
    sello_put_be32(cal + 8, 0);
    assert_int_equal(count_body(log, len, SELLO_AUDIT_CALIBRATE, cal,
                                12),
                     1);
    static const uint8_t verdicts[3] = { SELLO_OBS_ACCEPTED,
                                         SELLO_OBS_USELESS,
                                         SELLO_OBS_DISAGREES };
    assert_int_equal(count_body(log, len, SELLO_AUDIT_OBSERVE,
                                &verdicts[0], 1),
                     2);
    assert_int_equal(count_body(log, len, SELLO_AUDIT_OBSERVE,
                                &verdicts[1], 1),
                     1);
    uint8_t disagree[9] = { SELLO_OBS_DISAGREES };
    sello_put_be64(disagree + 1, 5000000);
    assert_int_equal(count_body(log, len, SELLO_AUDIT_OBSERVE, disagree,
                                9),
                     1);
    static const uint8_t unsync[2] = { SELLO_CLOCK_UNSYNCHRONISED,
                                       SELLO_CLOCK_WHY_DISAGREE };
    static const uint8_t sync[2] = { SELLO_CLOCK_SYNCHRONISED,
                                     SELLO_CLOCK_WHY_NONE };
    assert_int_equal(count_body(log, len, SELLO_AUDIT_CLOCK, unsync, 2),
                     1);
    assert_true(count_body(log, len, SELLO_AUDIT_CLOCK, sync, 2) >= 2);
    /* RESTART records: made before any calibration (time 0), not rolled
     * back, the first from position 0, the others from a checkpoint */
    size_t restarts = 0;
    for (size_t off = 0; off + HDR <= len;
         off += HDR + sello_get_be16(log + off + 2)) {
        if (log[off + 1] != SELLO_AUDIT_RESTART)
            continue;
        assert_int_equal(be64(log + off + 12), 0);
        assert_int_equal(log[off + HDR + 8], 0);
        assert_memory_equal(log + off + HDR + 9, key, SPKI_LEN);
        assert_int_equal(be64(log + off + HDR) == 0, restarts == 0);
        restarts++;
    }
    av_free(&res);
}

/* ---- the chain head and the audit key ------------------------------------ */

static void expect_head_matches_log(void)
{
    uint8_t head[32];
    size_t n = 0;
    assert_true(status_tlv(SELLO_ST_AUDIT_HEAD, head, sizeof head, &n));
    assert_int_equal(n, 32);
    /* (that STATUS may have recorded a clock change: it is in the log) */
    uint64_t seq = status_u64(SELLO_ST_AUDIT_SEQ);
    av_result res;
    expect_log_ok(fx_audit_log, fx_audit_log_len, NULL, &res);
    assert_int_equal(seq, res.last_seq);
    assert_memory_equal(head, res.head, 32);
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING), 0);
    av_free(&res);
}

/* STATUS's AUDIT_SEQ and AUDIT_HEAD are the last logged record's number
 * and hash after every kind of step; AUDIT_KEY is the key in the RESTART
 * records, the same at every start, derived from the device secret. */
static void test_chain_head_and_key(void **state)
{
    (void)state;
    /* a ceremony by the ABI: the INIT record */
    start_logged();
    expect_head_matches_log();
    fx_tlv t;
    fx_tlv_init_subject(&t);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    uint8_t spki[SELLO_SPKI_MAX];
    size_t spki_len = 0;
    assert_int_equal(fx_take_init_reply(r.payload, r.len, spki, &spki_len),
                     (int)FX_CUSTODIANS);
    expect_head_matches_log();
    uint8_t init[8 + 32 + 1] = { SELLO_KEY_P256, SELLO_ENGINE_MODULE,
                                 FX_THRESHOLD, FX_CUSTODIANS, 0, 0, 0, 1 };
    sha256(spki, spki_len, init + 8);
    init[40] = 1; /* a test unit: the test board is a simulation */
    av_result res;
    expect_log_ok(fx_audit_log, fx_audit_log_len, NULL, &res);
    assert_int_equal(res.count[SELLO_AUDIT_INIT], 1);
    assert_int_equal(count_body(fx_audit_log, fx_audit_log_len,
                                SELLO_AUDIT_INIT, init, sizeof init),
                     1);
    av_free(&res);

    /* the fixture's unit, stamping, observing, restarting */
    board_mem_reset();
    fx_audit_reset();
    make_unit();
    expect_head_matches_log();
    uint8_t key[SPKI_LEN];
    status_key(key);
    for (int i = 0; i < 10; i++) {
        advance(300);
        stamp_ok();
        expect_head_matches_log();
    }
    assert_int_equal(observe(now_ms, 0, 1000), SELLO_OBS_ACCEPTED);
    expect_head_matches_log();
    advance(2000);
    restart_active();
    expect_head_matches_log();
    uint8_t again[SPKI_LEN];
    status_key(again);
    assert_memory_equal(key, again, SPKI_LEN);
    /* the key in every RESTART record is the one STATUS reports */
    size_t restarts = 0;
    for (size_t off = 0; off + HDR <= fx_audit_log_len;
         off += HDR + sello_get_be16(fx_audit_log + off + 2))
        if (fx_audit_log[off + 1] == SELLO_AUDIT_RESTART) {
            assert_memory_equal(fx_audit_log + off + HDR + 9, key, SPKI_LEN);
            restarts++;
        }
    assert_int_equal(restarts, 2);
    expect_log_ok(fx_audit_log, fx_audit_log_len, key, &res);
    av_free(&res);
    /* a P-256 key */
    assert_memory_equal(key, p256_spki_prefix, sizeof p256_spki_prefix);

    /* another device: another key; the first device's again: its key */
    uint8_t secret[32], other_secret[32];
    board_mem_get_device_secret(secret);
    memcpy(other_secret, secret, 32);
    other_secret[0] ^= 0x5a;
    board_mem_reset_records();
    board_mem_set_device_secret(other_secret);
    fx_audit_reset();
    start_logged();
    uint8_t other[SPKI_LEN];
    status_key(other);
    assert_memory_not_equal(other, key, SPKI_LEN);
    expect_log_ok(fx_audit_log, fx_audit_log_len, other, &res);
    av_free(&res);
    /* the other device's log is not this one's */
    assert_int_not_equal(audit_verify(fx_audit_log, fx_audit_log_len, key,
                                      &res),
                         0);
    av_free(&res);
    board_mem_reset_records();
    board_mem_set_device_secret(secret);
    fx_audit_reset();
    start_logged();
    status_key(again);
    assert_memory_equal(again, key, SPKI_LEN);
}

/*
 * The INIT record says whether the ceremony made a test unit: on a
 * production board an unmarked ceremony makes none (0); on a simulation
 * board the unmarked ceremony is refused without a record and the marked
 * one is logged as a test unit (1).
 */
static void test_init_record_marks_test_unit(void **state)
{
    (void)state;
    for (int production = 0; production <= 1; production++) {
        board_mem_reset();
        fx_audit_reset();
        board_mem_set_simulation(!production);
        start_logged();
        fx_tlv t;
        fx_tlv_init(&t);
        sello_tlv_put(&t.w, SELLO_INIT_SUBJECT, fx_subject, fx_subject_len);
        fx_tlv_put_custody(&t, FX_CUSTODIANS, FX_THRESHOLD);
        size_t logged = fx_audit_log_len;
        fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
        if (!production) {
            assert_int_equal(r.status, SELLO_ERR_TEST_ONLY);
            assert_int_equal(r.flags & SELLO_RESP_FLAG_AUDIT, 0);
            assert_int_equal(fx_audit_log_len, logged);
            expect_head_matches_log();
            fx_tlv_put_test_unit(&t);
            r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
        }
        assert_int_equal(r.status, SELLO_OK);
        uint8_t spki[SELLO_SPKI_MAX];
        size_t spki_len = 0;
        assert_int_equal(fx_take_init_reply(r.payload, r.len, spki, &spki_len),
                         (int)FX_CUSTODIANS);
        uint8_t init[8 + 32 + 1] = { SELLO_KEY_P256, SELLO_ENGINE_MODULE,
                                     FX_THRESHOLD, FX_CUSTODIANS, 0, 0, 0, 1 };
        sha256(spki, spki_len, init + 8);
        init[40] = production ? 0 : 1;
        av_result res;
        expect_log_ok(fx_audit_log, fx_audit_log_len, NULL, &res);
        assert_int_equal(res.count[SELLO_AUDIT_INIT], 1);
        assert_int_equal(count_body(fx_audit_log, fx_audit_log_len,
                                    SELLO_AUDIT_INIT, init, sizeof init),
                         1);
        av_free(&res);
        expect_head_matches_log();
    }
}

/* ---- power loss at every write ------------------------------------------- */

/*
 * After MCUboot's simulator (as test_serial_power_loss_every_write): a
 * stamping loop with the clock moving and one planned restart is run once
 * per storage write it makes; in run k the k-th write is lost (the record
 * keeps its old contents) or completes and power is lost right after the
 * operation that made it. The module then restarts from its records (a
 * start whose own write was lost fails and is powered up again), the
 * host catches up, the quorum activates and calibrates it, and the loop
 * goes on. The host's log holds what the responses it received carried.
 */
static board_mem_records pl_pristine;
static uint64_t pl_counter;
static uint8_t *pl_prefix;
static size_t pl_prefix_len;
static uint64_t pl_ticks, pl_now;
static size_t pl_ngot;

/* The sequence numbers of the last two checkpoints in the log. */
static void last_checkpoints(uint64_t *last, uint64_t *before)
{
    *last = *before = 0;
    for (size_t off = 0; off + HDR <= fx_audit_log_len;
         off += HDR + sello_get_be16(fx_audit_log + off + 2))
        if (fx_audit_log[off + 1] == SELLO_AUDIT_CHECKPOINT) {
            *before = *last;
            *last = be64(fx_audit_log + off + 4);
        }
}

/* Powers up until a start succeeds (a start's own write may be the lost
 * one), then activation and calibration. The RESTART continues from the
 * last checkpoint saved: the last in the log, or the one before when the
 * last one's own write was lost. */
static void pl_restart(bool last_unsaved)
{
    uint64_t last, before;
    last_checkpoints(&last, &before);
    unsigned failed = 0;
    while (sello_module_start(&mod) != SELLO_OK) {
        /* the module is in its error state (and STATUS would crash it:
         * test_status_after_failed_start): power it up again */
        assert_true(++failed < 3);
    }
    size_t at = fx_audit_log_len;
    host_after_start();
    assert_int_equal(fx_audit_log[at + 1], SELLO_AUDIT_RESTART);
    assert_int_equal(be64(fx_audit_log + at + HDR),
                     last_unsaved ? before : last);
    activate();
    calibrate();
}

static unsigned pl_scenario(unsigned k, bool lose_write, unsigned *writes_seen)
{
    board_mem_restore(&pl_pristine);
    board_mem_set_counter(pl_counter);
    board_mem_fail_writes_after(0);
    board_mem_fail_all_writes(false);
    board_mem_set_ticks(pl_ticks);
    now_ms = pl_now;
    fx_audit_reset();
    memcpy(fx_audit_log, pl_prefix, pl_prefix_len);
    fx_audit_log_len = pl_prefix_len;
    ngot = pl_ngot; /* the tokens of the prefix */
    pl_restart(false);
    unsigned long w0 = board_mem_write_count();
    if (lose_write)
        board_mem_fail_writes_after(k);
    unsigned crashes = 0;
    const uint64_t step = SELLO_TIME_LEASE_MS * 9 / 20;
    for (int i = 0; i < 40; i++) {
        advance(step);
        unsigned long before = board_mem_write_count();
        bool stamped = i != 20;
        if (!stamped) {
            /* a planned restart: its writes are lost in some runs too */
            pl_restart(false);
        } else {
            stamp_out s = stamp();
            if (!s.granted) {
                /* only a lost write or the time floor after a crash */
                if (s.fail_bit != 25 && s.fail_bit != 14)
                    print_error("k=%u: refused (%d) %s\n", k, s.fail_bit,
                                s.reason);
                assert_true(s.fail_bit == 25 || s.fail_bit == 14);
            }
        }
        unsigned long after = board_mem_write_count();
        if (before - w0 < k && after - w0 >= k) {
            crashes++;
            /* a stamp's lost write is its reservation's, after the
             * checkpoint its response carried */
            pl_restart(lose_write && stamped);
        }
    }
    *writes_seen = (unsigned)(board_mem_write_count() - w0);
    uint8_t key[SPKI_LEN];
    status_key(key);
    av_result res;
    uint64_t bad = audit_verify(fx_audit_log, fx_audit_log_len, key, &res);
    if (bad)
        print_error("k=%u lose=%d: log bad at %llu: %s\n", k, lose_write,
                    (unsigned long long)bad, res.why);
    assert_int_equal(bad, 0);
    /* every token received is logged once; serials never repeat */
    expect_tokens_logged(&res, true);
    expect_serials_increase(0);
    assert_true(ngot >= 30);
    /* the log ends where the module's chain is */
    assert_int_equal(status_u64(SELLO_ST_AUDIT_SEQ), res.last_seq);
    /* one RESTART per start: the run's first, the planned one, the
     * crash's, and any start that failed left none the host saw */
    size_t prefix_restarts = 1;
    assert_int_equal(res.count[SELLO_AUDIT_RESTART],
                     prefix_restarts + 2 + crashes);
    av_free(&res);
    return crashes;
}

static void test_power_loss_every_write(void **state)
{
    (void)state;
    make_unit();
    for (int i = 0; i < 5; i++) {
        advance(400);
        stamp_ok();
    }
    advance(2000);
    board_mem_snapshot(&pl_pristine);
    pl_counter = board_mem_get_counter();
    pl_ticks = board_mem_get_ticks();
    pl_now = now_ms;
    pl_ngot = ngot;
    pl_prefix_len = fx_audit_log_len;
    pl_prefix = malloc(pl_prefix_len);
    assert_non_null(pl_prefix);
    memcpy(pl_prefix, fx_audit_log, pl_prefix_len);
    unsigned total = 0;
    assert_int_equal(pl_scenario(100000, false, &total), 0);
    assert_true(total >= 15);
    print_message("%u writes, %u runs\n", total, 2 * total);
    for (unsigned k = 1; k <= total; k++)
        for (int lose = 0; lose <= 1; lose++) {
            unsigned seen;
            assert_int_equal(pl_scenario(k, lose, &seen), 1);
        }
    free(pl_prefix);
    pl_prefix = NULL;
}

/* ---- a host that stops storing the records ------------------------------- */

static void expect_error(fx_resp r, uint8_t status, const char *part)
{
    assert_true(r.header_ok);
    if (r.status != status ||
        (part && !memmem(r.payload, r.len, part, strlen(part))))
        print_error("got %s \"%.*s\", expected %s \"%s\"\n",
                    sello_status_name(r.status), (int)r.len, r.payload,
                    sello_status_name(status), part ? part : "");
    assert_int_equal(r.status, status);
    if (part)
        assert_non_null(memmem(r.payload, r.len, part, strlen(part)));
}

/*
 * Without acknowledgements the records pile up in the module until it
 * refuses to issue (and to do anything else that could make records),
 * while STATUS, AUDIT_READ and AUDIT_ACK still answer; reading gives back
 * exactly what the responses carried, and acknowledging frees the room.
 */
static void test_undrained_records_stop_issuing(void **state)
{
    (void)state;
    make_unit();
    advance(100);
    stamp_ok(); /* the clock's state is recorded by now */
    uint64_t first = status_u64(SELLO_ST_AUDIT_SEQ) + 1;
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING), 0);
    size_t log_mark = fx_audit_log_len;
    fx_audit_no_ack = true;
    size_t granted = 0, carried = 0;
    stamp_out s;
    for (;;) {
        advance(120);
        s = stamp();
        if (!s.granted)
            break;
        /* admitted: there was room for an operation's records */
        assert_true(carried <= SELLO_AUDIT_BUFFER - SELLO_AUDIT_RESERVE);
        granted++;
        carried += s.audit_len;
        assert_true(granted < SELLO_AUDIT_BUFFER / HDR);
    }
    /* refused as soon as that room was gone, with systemFailure, saying
     * why, before anything was done (no serial taken, nothing recorded) */
    assert_true(carried > SELLO_AUDIT_BUFFER - SELLO_AUDIT_RESERVE);
    assert_int_equal(s.fail_bit, 25);
    assert_non_null(strstr(s.reason, "audit records are not being stored"));
    assert_int_equal(s.audit_len, 0);
    assert_int_equal(fx_audit_log_len - log_mark, carried);
    print_message("%zu tokens before the %u-octet buffer stopped issuing "
                  "(%zu octets pending)\n",
                  granted, SELLO_AUDIT_BUFFER, carried);
    assert_true(carried <= SELLO_AUDIT_BUFFER);
    uint64_t pending = status_u64(SELLO_ST_AUDIT_PENDING);
    assert_int_equal(pending, carried);
    uint64_t next_serial = status_u64(SELLO_ST_NEXT_SERIAL);
    s = stamp();
    assert_false(s.granted);
    assert_int_equal(status_u64(SELLO_ST_NEXT_SERIAL), next_serial);

    /* everything else that could record is refused */
    static const struct {
        uint8_t op;
        size_t len;
    } ops[] = {
        { SELLO_OP_GET_CERTS, 0 },     { SELLO_OP_INIT, 0 },
        { SELLO_OP_GET_CSR, 0 },       { SELLO_OP_LOAD_CERT, 10 },
        { SELLO_OP_DEACTIVATE, 0 },    { SELLO_OP_SET_TIME, 8 },
        { SELLO_OP_TIME_OBSERVE, 12 }, { SELLO_OP_SESSION_OPEN, 1 },
        { SELLO_OP_SESSION_SUBMIT, SELLO_SUBMIT_LEN },
    };
    static uint8_t junk[SELLO_SUBMIT_LEN];
    junk[0] = SELLO_PURPOSE_ACTIVATE;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        fx_resp r = fx_call(&mod, ops[i].op, junk, ops[i].len);
        expect_error(r, SELLO_ERR_SPACE, "audit buffer full");
        assert_int_equal(r.flags, 0);
    }
    assert_int_equal(status_u64(SELLO_ST_STATE), SELLO_STATE_ACTIVE);
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING), pending);
    assert_int_equal(fx_audit_log_len - log_mark, carried);

    /* wrong sizes */
    static const size_t sizes[] = { 0, 1, 7, 9, 16 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        expect_error(fx_call(&mod, SELLO_OP_AUDIT_ACK, junk, sizes[i]),
                     SELLO_ERR_PARAM, NULL);
        expect_error(fx_call(&mod, SELLO_OP_AUDIT_READ, junk, sizes[i]),
                     SELLO_ERR_PARAM, NULL);
    }
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING), pending);

    /* reading from the first record not acknowledged: exactly what the
     * responses carried; from 0 the same; from later a suffix */
    const uint8_t *carried_recs = fx_audit_log + log_mark;
    rec_at *idx;
    size_t nrec = index_records(carried_recs, carried, &idx);
    assert_int_equal(idx[0].seq, first);
    uint64_t last = idx[nrec - 1].seq;
    fx_resp r = audit_read(first);
    assert_int_equal(r.status, SELLO_OK);
    assert_bytes_equal(r.payload, r.len, carried_recs, carried);
    r = audit_read(0);
    assert_bytes_equal(r.payload, r.len, carried_recs, carried);
    r = audit_read(idx[3].seq);
    assert_bytes_equal(r.payload, r.len, carried_recs + idx[3].off,
                       carried - idx[3].off);
    r = audit_read(last);
    assert_bytes_equal(r.payload, r.len, carried_recs + idx[nrec - 1].off,
                       idx[nrec - 1].len);
    r = audit_read(last + 1);
    assert_int_equal(r.status, SELLO_OK);
    assert_int_equal(r.len, 0);

    /* a partial acknowledgement frees exactly those records */
    assert_int_equal(audit_ack(idx[4].seq).status, SELLO_OK);
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING),
                     carried - idx[5].off);
    r = audit_read(0);
    assert_bytes_equal(r.payload, r.len, carried_recs + idx[5].off,
                       carried - idx[5].off);
    /* acknowledging an older number again changes nothing */
    assert_int_equal(audit_ack(first).status, SELLO_OK);
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING),
                     carried - idx[5].off);
    /* the last one: the buffer is empty and issuing resumes */
    assert_int_equal(audit_ack(last).status, SELLO_OK);
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING), 0);
    r = audit_read(0);
    assert_int_equal(r.len, 0);
    free(idx);
    fx_audit_no_ack = false;
    for (int i = 0; i < 5; i++) {
        advance(120);
        stamp_ok();
    }
    assert_int_equal(status_u64(SELLO_ST_AUDIT_PENDING), 0);
    uint8_t key[SPKI_LEN];
    status_key(key);
    av_result res;
    expect_log_ok(fx_audit_log, fx_audit_log_len, key, &res);
    expect_tokens_logged(&res, true);
    av_free(&res);
}

/* ---- a host that tampers with its log ------------------------------------ */

/* A log with a bit of everything: two runs, tokens, checkpoints, an
 * observation, a failed submission, a deactivation. */
static void make_sample_log(uint8_t key[SPKI_LEN])
{
    make_unit();
    for (int i = 0; i < 12; i++) {
        advance(300);
        stamp_ok();
    }
    assert_int_equal(observe(now_ms, 1000, 1000), SELLO_OBS_ACCEPTED);
    failed_submission();
    for (int i = 0; i < 6; i++) {
        advance(300);
        stamp_ok();
    }
    advance(2000);
    restart_active();
    for (int i = 0; i < 12; i++) {
        advance(300);
        stamp_ok();
    }
    assert_int_equal(fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0).status,
                     SELLO_OK);
    assert_int_equal(observe(now_ms, 1000, 1000), SELLO_OBS_ACCEPTED);
    status_key(key);
}

static uint64_t verify_copy(const uint8_t *p, size_t n, const uint8_t *key,
                            char *why, size_t why_cap)
{
    av_result res;
    uint64_t bad = audit_verify(p, n, key, &res);
    snprintf(why, why_cap, "%s", res.why);
    av_free(&res);
    return bad;
}

/* A tampered copy: the verifier must name `expect`. */
static void expect_caught(const char *what, const uint8_t *p, size_t n,
                          const uint8_t *key, uint64_t expect)
{
    char why[200];
    uint64_t bad = verify_copy(p, n, key, why, sizeof why);
    if (bad != expect)
        print_error("%s: reported %llu (%s), expected %llu\n", what,
                    (unsigned long long)bad, why, (unsigned long long)expect);
    assert_int_equal(bad, expect);
}

/* Record j has a successor in its run that links to it and is itself
 * covered: tampering with it is detectable from the log alone. */
static bool covered(const rec_at *r, size_t n, size_t j)
{
    if (j + 1 >= n || r[j + 1].type == SELLO_AUDIT_RESTART)
        return false;
    return r[j + 1].type == SELLO_AUDIT_CHECKPOINT ||
           (j + 2 < n && r[j + 2].type != SELLO_AUDIT_RESTART);
}

static void test_tampering_caught(void **state)
{
    (void)state;
    uint8_t key[SPKI_LEN];
    make_sample_log(key);
    const size_t len = fx_audit_log_len;
    const uint8_t *log = fx_audit_log;
    av_result res;
    expect_log_ok(log, len, key, &res);
    av_free(&res);
    rec_at *r;
    size_t n = index_records(log, len, &r);
    uint8_t *t = malloc(len + 1024);
    assert_non_null(t);
    char what[160];

    /* The targets: of every type present, the first and the last covered
     * record (the first RESTART among them). */
    size_t targets[2 * (AV_MAX_TYPE + 1)], nt = 0;
    for (uint8_t type = 1; type <= AV_MAX_TYPE; type++) {
        size_t first = n, last = n;
        for (size_t j = 0; j < n; j++)
            if (r[j].type == type && covered(r, n, j)) {
                if (first == n)
                    first = j;
                last = j;
            }
        if (first < n)
            targets[nt++] = first;
        if (last < n && last != first)
            targets[nt++] = last;
    }
    assert_true(nt >= 14);

    /* 1. one octet flipped: header fields and body */
    unsigned flips = 0;
    for (size_t ti = 0; ti < nt; ti++) {
        const rec_at *x = &r[targets[ti]];
        size_t bl = x->len - HDR;
        size_t offs[] = { 0, 1, 2, 3, 4, 11, 12, 19, 20, 35, 51,
                          HDR, HDR + bl / 2, HDR + bl - 1, HDR + 9 + 30 };
        for (size_t oi = 0; oi < sizeof offs / sizeof offs[0]; oi++) {
            if (offs[oi] >= x->len)
                continue;
            static const uint8_t masks[] = { 0x01, 0x80, 0xff };
            for (size_t mi = 0; mi < sizeof masks; mi++) {
                memcpy(t, log, len);
                t[x->off + offs[oi]] ^= masks[mi];
                snprintf(what, sizeof what,
                         "record %llu (type %u) octet %zu ^ %02x",
                         (unsigned long long)x->seq, x->type, offs[oi],
                         masks[mi]);
                expect_caught(what, t, len, key, x->seq);
                flips++;
            }
        }
    }
    /* without a key given, the first RESTART's key is the anchor */
    memcpy(t, log, len);
    t[r[0].off + HDR + 9 + SPKI_LEN - 1] ^= 0x01;
    expect_caught("first RESTART's key, no key given", t, len, NULL, 1);
    memcpy(t, log, len);
    t[r[0].off + 4 + 7] ^= 0x02;
    expect_caught("first RESTART's number, no key given", t, len, NULL, 1);

    /* 2. a record deleted, 3. two adjacent records swapped, 4. a record
     * duplicated, 5. the log cut inside a record, 6. bytes cut out of a
     * record's body */
    for (size_t ti = 0; ti < nt; ti++) {
        size_t j = targets[ti];
        const rec_at *x = &r[j];
        /* deleted */
        memcpy(t, log, x->off);
        memcpy(t + x->off, log + x->off + x->len, len - x->off - x->len);
        snprintf(what, sizeof what, "record %llu (type %u) deleted",
                 (unsigned long long)x->seq, x->type);
        expect_caught(what, t, len - x->len, key, x->seq);
        /* duplicated */
        memcpy(t, log, x->off + x->len);
        memcpy(t + x->off + x->len, log + x->off, len - x->off);
        snprintf(what, sizeof what, "record %llu (type %u) duplicated",
                 (unsigned long long)x->seq, x->type);
        expect_caught(what, t, len + x->len, key, x->seq);
        /* swapped with the next (within a run) */
        if (r[j + 1].type != SELLO_AUDIT_RESTART) {
            const rec_at *y = &r[j + 1];
            memcpy(t, log, len);
            memcpy(t + x->off, log + y->off, y->len);
            memcpy(t + x->off + y->len, log + x->off, x->len);
            snprintf(what, sizeof what, "records %llu and %llu swapped",
                     (unsigned long long)x->seq, (unsigned long long)y->seq);
            expect_caught(what, t, len, key, x->seq);
        }
        /* the log cut inside it (a RESTART's number is not known before
         * its header has it: the report is the one after the last
         * record) */
        size_t cuts[] = { 1, 11, 12, HDR - 1, HDR, x->len - 1 };
        for (size_t ci = 0; ci < sizeof cuts / sizeof cuts[0]; ci++) {
            if (cuts[ci] >= x->len || cuts[ci] == 0)
                continue;
            uint64_t expect = x->seq;
            if (x->type == SELLO_AUDIT_RESTART && cuts[ci] < 12)
                expect = j ? r[j - 1].seq + 1 : 1;
            snprintf(what, sizeof what, "log cut %zu octets into %llu",
                     cuts[ci], (unsigned long long)x->seq);
            expect_caught(what, log, x->off + cuts[ci], key, expect);
        }
        /* octets cut out of the body, the rest kept */
        if (x->len - HDR >= 12) {
            size_t cut = 10, at = x->off + HDR + 1;
            memcpy(t, log, at);
            memcpy(t + at, log + at + cut, len - at - cut);
            snprintf(what, sizeof what, "10 octets cut out of %llu",
                     (unsigned long long)x->seq);
            expect_caught(what, t, len - cut, key, x->seq);
        }
    }

    /* 7. a checkpoint's signature replaced by another checkpoint's (the
     * length field made to fit) */
    size_t cps[64], ncp = 0;
    for (size_t j = 0; j < n && ncp < 64; j++)
        if (r[j].type == SELLO_AUDIT_CHECKPOINT)
            cps[ncp++] = j;
    assert_true(ncp >= 6);
    for (size_t a = 0; a < ncp; a++) {
        const rec_at *x = &r[cps[a]], *y = &r[cps[(a + 1) % ncp]];
        size_t ybl = y->len - HDR;
        memcpy(t, log, x->off + HDR);
        sello_put_be16(t + x->off + 2, (uint16_t)ybl);
        memcpy(t + x->off + HDR, log + y->off + HDR, ybl);
        memcpy(t + x->off + HDR + ybl, log + x->off + x->len,
               len - x->off - x->len);
        snprintf(what, sizeof what, "checkpoint %llu signed as %llu",
                 (unsigned long long)x->seq, (unsigned long long)y->seq);
        expect_caught(what, t, len - x->len + HDR + ybl, key, x->seq);
    }

    /* 8. a truncated tail passes the verifier, but no longer ends where
     * STATUS says the chain is */
    uint8_t head[32];
    size_t hl = 0;
    assert_true(status_tlv(SELLO_ST_AUDIT_HEAD, head, sizeof head, &hl));
    uint64_t seq = status_u64(SELLO_ST_AUDIT_SEQ);
    expect_log_ok(log, len, key, &res);
    assert_int_equal(res.last_seq, seq);
    assert_memory_equal(res.head, head, 32);
    av_free(&res);
    for (size_t drop = 1; drop <= 5; drop++) {
        size_t cut = r[n - drop].off;
        expect_log_ok(log, cut, key, &res);
        assert_int_not_equal(res.last_seq, seq);
        assert_memory_not_equal(res.head, head, 32);
        av_free(&res);
    }
    print_message("%u flipped octets, %zu records deleted, duplicated, "
                  "swapped and cut, %zu signatures swapped: all caught\n",
                  flips, nt, ncp);
    free(t);
    free(r);
}

/* ---- failures around saves and restarts ------------------------------------ */

/* A start whose own counters write fails leaves an initialised unit in
 * the error state without its signature hash: STATUS, which the error
 * state must answer, dereferences NULL (module.c op_status,
 * c->sig_hash->id). */
static void test_status_after_failed_start(void **state)
{
    (void)state;
    make_unit();
    board_mem_fail_writes_after(1);
    assert_int_equal(sello_module_start(&mod), SELLO_ERR_STORAGE);
    assert_int_equal(status_u64(SELLO_ST_STATE), SELLO_STATE_ERROR);
}

/* Records without writes (accepted observations) up to the last reserved
 * sequence number: the next record needs a checkpoint saved first. */
static void burn_to_boundary(void)
{
    uint64_t saved = 0;
    for (size_t off = 0; off + HDR <= fx_audit_log_len;
         off += HDR + sello_get_be16(fx_audit_log + off + 2))
        if (fx_audit_log[off + 1] == SELLO_AUDIT_CHECKPOINT)
            saved = be64(fx_audit_log + off + 4);
    uint64_t end = saved + 1 + SELLO_AUDIT_SEQ_BLOCK;
    while (status_u64(SELLO_ST_AUDIT_SEQ) < end - 1)
        assert_int_equal(observe(now_ms, 0, 1000), SELLO_OBS_ACCEPTED);
    assert_int_equal(status_u64(SELLO_ST_AUDIT_SEQ), end - 1);
}

/* The checkpoint that should save a new block of sequence numbers is
 * numbered with the first number not reserved; its write fails and the
 * module goes on (in memory the block counts as reserved). After a
 * restart the RESTART takes the saved end again: two records with one
 * number, and the chain's numbers go backwards. */
static void test_no_seq_reuse_after_failed_save(void **state)
{
    (void)state;
    make_unit();
    burn_to_boundary();
    board_mem_fail_writes_after(1);
    uint8_t in[12];
    sello_put_be64(in, now_ms * 1000);
    sello_put_be32(in + 8, 1000);
    fx_resp r = fx_call(&mod, SELLO_OP_TIME_OBSERVE, in, sizeof in);
    assert_int_equal(r.status, SELLO_ERR_STORAGE);
    /* the host has the unsaved checkpoint, and the module goes on */
    assert_int_equal(r.audit_len > 0, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(observe(now_ms, 0, 1000), SELLO_OBS_ACCEPTED);
    advance(2000);
    start_logged();
    uint8_t key[SPKI_LEN];
    status_key(key);
    av_result res;
    expect_log_ok(fx_audit_log, fx_audit_log_len, key, &res);
    av_free(&res);
}

/* The same after a host restores an old copy of the records: the start
 * notices (flag 1) but numbers its RESTART from the old saved end, which
 * the first start after the copy was taken used already. */
static void test_no_seq_reuse_after_rollback(void **state)
{
    (void)state;
    make_unit();
    static board_mem_records old;
    board_mem_snapshot(&old);
    advance(2000);
    restart_active();
    board_mem_restore(&old);
    advance(2000);
    start_logged();
    uint8_t key[SPKI_LEN];
    status_key(key);
    av_result res;
    expect_log_ok(fx_audit_log, fx_audit_log_len, key, &res);
    av_free(&res);
}

/* Power lost after a counters write but before the host got the records
 * of that operation (here: a start's, which travel only by AUDIT_READ;
 * the same for a STAMP whose reservation was written and whose response
 * never left): the next RESTART continues from a checkpoint the host
 * never saw, and the log cannot be verified past it. */
static void test_gap_undelivered_checkpoint(void **state)
{
    (void)state;
    make_unit();
    advance(2000);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    /* power lost before the host read the start's records */
    advance(2000);
    restart_active();
    uint8_t key[SPKI_LEN];
    status_key(key);
    av_result res;
    /* The records never delivered are missing from the log: the
     * verifier stops at the RESTART and says so (a gap it cannot tell
     * from a removal, which is why the relay stores before it
     * releases anything). */
    uint64_t bad = audit_verify(fx_audit_log, fx_audit_log_len, key, &res);
    assert_true(bad != 0);
    assert_non_null(strstr(res.why, "follows no record of the log"));
    av_free(&res);
}

static void test_gap_undelivered_stamp(void **state)
{
    (void)state;
    make_unit();
    advance(1500);
    size_t before = fx_audit_log_len, tokens = ngot;
    stamp_ok(); /* a reservation: checkpoint, counters written */
    /* power lost before the response left the module */
    fx_audit_log_len = before;
    ngot = tokens;
    advance(2000);
    restart_active();
    uint8_t key[SPKI_LEN];
    status_key(key);
    av_result res;
    /* The stamp's checkpoint came first among its records and travels
     * in the RESTART: the records lost with the response (the token's,
     * the clock's) came after it, so the log still verifies. */
    uint64_t bad = audit_verify(fx_audit_log, fx_audit_log_len, key, &res);
    if (bad)
        print_error("%s\n", res.why);
    assert_int_equal(bad, 0);
    av_free(&res);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        TEST(test_verifier_accepts_a_handmade_log),
        TEST(test_lifetime),
        TEST(test_chain_head_and_key),
        TEST(test_init_record_marks_test_unit),
        TEST(test_power_loss_every_write),
        TEST(test_undrained_records_stop_issuing),
        TEST(test_tampering_caught),
        TEST(test_status_after_failed_start),
        TEST(test_no_seq_reuse_after_failed_save),
        TEST(test_no_seq_reuse_after_rollback),
        TEST(test_gap_undelivered_checkpoint),
        TEST(test_gap_undelivered_stamp),
    };
    return TU_RUN("audit", tests, argc, argv);
}
