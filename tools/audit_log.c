/* Audit logs; contracts in audit_log.h. */
#include "audit_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>
#include <sello/abi.h>

#define HDR SELLO_AUDIT_HEADER_LEN

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, p, n);
    br_sha256_out(&h, out);
}

/* Parses the record at p (at most `room` octets); false when it is not
 * a whole record. */
static bool parse(const uint8_t *p, size_t room, audit_rec *r)
{
    if (room < HDR || p[0] != SELLO_AUDIT_FORMAT)
        return false;
    size_t body = sello_get_be16(p + 2);
    if (room - HDR < body)
        return false;
    r->p = p;
    r->len = HDR + body;
    r->type = p[1];
    r->seq = sello_get_be64(p + 4);
    r->utc_ms = sello_get_be64(p + 12);
    r->body = p + HDR;
    r->body_len = body;
    sha256(p, r->len, r->hash);
    return true;
}

size_t audit_each(const uint8_t *log, size_t len,
                  bool (*each)(const audit_rec *r, void *arg), void *arg)
{
    size_t off = 0;
    audit_rec r;
    while (off < len && parse(log + off, len - off, &r)) {
        if (!each(&r, arg))
            break;
        off += r.len;
    }
    return off;
}

/* Whether `sig` (DER ECDSA P-256) signs checkpoint `seq` after `prev`
 * under the P-256 SPKI `key` (whose last 65 octets are the point). */
static bool checkpoint_ok(const uint8_t *key, uint64_t seq,
                          const uint8_t prev[32], const uint8_t *sig,
                          size_t sig_len)
{
    static const char label[] = "sello audit checkpoint v1";
    uint8_t s[8], digest[32];
    sello_put_be64(s, seq);
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, label, sizeof label - 1);
    br_sha256_update(&h, s, sizeof s);
    br_sha256_update(&h, prev, 32);
    br_sha256_out(&h, digest);
    br_ec_public_key pk = { BR_EC_secp256r1,
                            (unsigned char *)key + AUDIT_SPKI_LEN - 65, 65 };
    return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), digest,
                                            sizeof digest, &pk, sig,
                                            sig_len) == 1;
}

typedef struct {
    audit_report *rep;
    audit_rec *recs; /* every good record so far */
    size_t n, cap;
    bool failed;
} verify_state;

#define FAIL(st, rec, ...)                                                     \
    do {                                                                       \
        snprintf((st)->rep->why, sizeof (st)->rep->why, __VA_ARGS__);          \
        (st)->rep->bad_seq = (rec)->seq;                                       \
        (st)->failed = true;                                                   \
        return false;                                                          \
    } while (0)

static bool check_restart(verify_state *st, const audit_rec *r)
{
    audit_report *rep = st->rep;
    if (r->body_len < 8 + 1 + AUDIT_SPKI_LEN)
        FAIL(st, r, "RESTART %llu: too short", (unsigned long long)r->seq);
    uint64_t from = sello_get_be64(r->body);
    const uint8_t *key = r->body + 9;
    if (!rep->have_key) {
        memcpy(rep->key, key, AUDIT_SPKI_LEN);
        rep->have_key = true;
    }
    if (memcmp(key, rep->key, AUDIT_SPKI_LEN) != 0)
        FAIL(st, r, "RESTART %llu: another audit key",
             (unsigned long long)r->seq);
    if (r->body[8] & 1)
        rep->rolled_back++;
    size_t rest = r->body_len - (8 + 1 + AUDIT_SPKI_LEN);
    /* The first record: a log may begin at a later RESTART (an older part
     * archived elsewhere); it is checked from there on. */
    if (st->n == 0)
        return true;
    if (r->seq <= rep->last_seq)
        FAIL(st, r, "RESTART %llu is not above %llu",
             (unsigned long long)r->seq, (unsigned long long)rep->last_seq);
    if (from == 0 || rest == 0)
        FAIL(st, r, "RESTART %llu continues from no checkpoint",
             (unsigned long long)r->seq);
    audit_rec cp;
    if (!parse(r->body + 9 + AUDIT_SPKI_LEN, rest, &cp) || cp.len != rest ||
        cp.type != SELLO_AUDIT_CHECKPOINT || cp.seq != from ||
        memcmp(r->p + 20, cp.hash, 32) != 0 ||
        !checkpoint_ok(rep->key, cp.seq, cp.p + 20, cp.body, cp.body_len))
        FAIL(st, r, "RESTART %llu: its checkpoint %llu is not genuine",
             (unsigned long long)r->seq, (unsigned long long)from);
    for (size_t i = st->n; i-- > 0;) {
        if (st->recs[i].seq == from) {
            if (st->recs[i].len != cp.len ||
                memcmp(st->recs[i].p, cp.p, cp.len) != 0)
                FAIL(st, r, "RESTART %llu: checkpoint %llu differs from the "
                     "log's", (unsigned long long)r->seq,
                     (unsigned long long)from);
            return true;
        }
    }
    for (size_t i = st->n; i-- > 0;)
        if (memcmp(cp.p + 20, st->recs[i].hash, 32) == 0)
            return true; /* the host lost only the checkpoint itself */
    FAIL(st, r, "RESTART %llu: checkpoint %llu follows no record of the log "
         "(records before it are missing)", (unsigned long long)r->seq,
         (unsigned long long)from);
}

static bool verify_one(const audit_rec *r, void *arg)
{
    verify_state *st = arg;
    audit_report *rep = st->rep;
    if (r->type == SELLO_AUDIT_RESTART) {
        if (!check_restart(st, r))
            return false;
        rep->restarts++;
    } else {
        if (st->n == 0)
            FAIL(st, r, "the log does not begin with a RESTART record");
        const audit_rec *prev = &st->recs[st->n - 1];
        if (memcmp(r->p + 20, prev->hash, 32) != 0)
            FAIL(st, r, "record %llu does not follow record %llu (altered, "
                 "missing or reordered records)", (unsigned long long)r->seq,
                 (unsigned long long)prev->seq);
        if (r->seq != prev->seq + 1)
            FAIL(st, r, "record %llu after %llu: not consecutive",
                 (unsigned long long)r->seq, (unsigned long long)prev->seq);
        if (r->type == SELLO_AUDIT_CHECKPOINT) {
            if (!checkpoint_ok(rep->key, r->seq, r->p + 20, r->body,
                               r->body_len))
                FAIL(st, r, "checkpoint %llu: bad signature",
                     (unsigned long long)r->seq);
            rep->checkpoints++;
            rep->last_signed_seq = r->seq;
            rep->unsigned_tail = 0;
        } else {
            rep->unsigned_tail++;
        }
        if (r->type == SELLO_AUDIT_TOKEN) {
            if (r->body_len != 12 + 32)
                FAIL(st, r, "TOKEN %llu: malformed", (unsigned long long)r->seq);
            rep->tokens++;
        }
        if (r->type == SELLO_AUDIT_INIT) {
            /* ..., unit id (32), test unit (1: 0/1) */
            if (r->body_len != 8 + 32 + 1 || r->body[40] > 1)
                FAIL(st, r, "INIT %llu: malformed", (unsigned long long)r->seq);
            rep->ceremonies++;
            if (r->body[40])
                rep->test_units++;
        }
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 1024;
        audit_rec *more = realloc(st->recs, cap * sizeof *more);
        if (!more)
            FAIL(st, r, "out of memory");
        st->recs = more;
        st->cap = cap;
    }
    st->recs[st->n++] = *r;
    if (rep->records == 0)
        rep->first_seq = r->seq;
    rep->records++;
    rep->last_seq = r->seq;
    memcpy(rep->head, r->hash, 32);
    return true;
}

bool audit_verify(const uint8_t *log, size_t len, const uint8_t *key,
                  audit_report *r)
{
    memset(r, 0, sizeof *r);
    if (key) {
        memcpy(r->key, key, AUDIT_SPKI_LEN);
        r->have_key = true;
    }
    verify_state st = { r, NULL, 0, 0, false };
    size_t used = audit_each(log, len, verify_one, &st);
    free(st.recs);
    if (st.failed) {
        r->bad_offset = used;
        return false;
    }
    if (used != len) {
        snprintf(r->why, sizeof r->why,
                 "octets %zu..%zu are not a record (a record after %llu is "
                 "truncated or malformed)", used, len,
                 (unsigned long long)r->last_seq);
        r->bad_seq = r->last_seq + 1;
        r->bad_offset = used;
        return false;
    }
    return true;
}
