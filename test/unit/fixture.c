/* Test fixtures; contracts in fixture.h. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "testdata.h"

#include "box.h"
#include "counters.h"
#include "custody.h"
#include "engine.h"
#include "unit.h"

/* SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "Sello Test TSU" } },
 *            SET { SEQUENCE { OID 2.5.4.10, UTF8String "Sello Tests" } } } */
const uint8_t fx_subject[] = {
    0x30, 0x2f, 0x31, 0x17, 0x30, 0x15, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c,
    0x0e, 'S',  'e',  'l',  'l',  'o',  ' ',  'T',  'e',  's',  't',  ' ',
    'T',  'S',  'U',  0x31, 0x14, 0x30, 0x12, 0x06, 0x03, 0x55, 0x04, 0x0a,
    0x0c, 0x0b, 'S',  'e',  'l',  'l',  'o',  ' ',  'T',  'e',  's',  't',
    's',
};
const size_t fx_subject_len = sizeof fx_subject;

void fx_tlv_init(fx_tlv *t)
{
    t->w.buf = t->buf;
    t->w.cap = sizeof t->buf;
    t->w.len = 0;
    t->w.overflow = 0;
}

void fx_custodian_priv(unsigned i, uint8_t out[32])
{
    for (unsigned j = 0; j < 32; j++)
        out[j] = (uint8_t)(0x40 + 7 * i + j);
}

void fx_tlv_put_custody(fx_tlv *t, unsigned n, unsigned m)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t priv[32], pub[32];
        fx_custodian_priv(i, priv);
        sello_x25519_public(priv, pub);
        sello_tlv_put(&t->w, SELLO_INIT_CUSTODIAN, pub, sizeof pub);
    }
    sello_tlv_put_u8(&t->w, SELLO_INIT_THRESHOLD, (uint8_t)m);
}

void fx_tlv_put_test_unit(fx_tlv *t)
{
    sello_tlv_put_u8(&t->w, SELLO_INIT_TEST_UNIT, 1);
}

void fx_tlv_init_subject(fx_tlv *t)
{
    fx_tlv_init(t);
    sello_tlv_put(&t->w, SELLO_INIT_SUBJECT, fx_subject, fx_subject_len);
    fx_tlv_put_custody(t, FX_CUSTODIANS, FX_THRESHOLD);
    fx_tlv_put_test_unit(t);
}

uint8_t fx_shares[SELLO_SHAMIR_MAX_N][SELLO_SHARE_LEN];
unsigned fx_share_count;

/* The activation secret fx_provision seals under. */
static const uint8_t fx_k[32] = "sello fixture activation secret";

sello_status fx_provision(const uint8_t *cfg_tlv, size_t cfg_len,
                          uint8_t key_type, const uint8_t *priv,
                          size_t priv_len, uint8_t *spki, size_t *spki_len)
{
    static sello_unit_config cfg;
    static sello_custodian_keys keys;
    static sello_key key;
    static uint8_t work[SELLO_UNIT_RECORD_MAX];
    static uint8_t pub[SELLO_SPKI_MAX];
    const char *why;
    SELLO_TRY(sello_unit_config_parse(&cfg, &keys, cfg_tlv, cfg_len, &why));
    SELLO_TRY(sello_key_import_private(&key, key_type, priv, priv_len));
    cfg.key_type = key_type;
    sello_der_writer w;
    sello_derw_init(&w, pub, sizeof pub);
    sello_key_write_spki(&key, &w);
    size_t n;
    sello_key_wipe(&key);
    if (!sello_derw_to_front(&w, &n))
        return SELLO_ERR_SPACE;
    br_hmac_drbg_context drbg;
    br_hmac_drbg_init(&drbg, &br_sha256_vtable, "sello fixture", 13);
    /* As SELLO_OP_INIT does: the counters record before the unit record. */
    sello_counters counters;
    bool rolled_back;
    sello_status st = sello_counters_load(&counters, &rolled_back);
    if (st != SELLO_OK && st != SELLO_ERR_NOT_FOUND)
        return st;
    SELLO_TRY(sello_counters_persist(&counters));
    cfg.generation = counters.generation;
    SELLO_TRY(sello_unit_save(&cfg, pub, n, priv, priv_len, fx_k,
                              &drbg.vtable, work));

    /* The shares of fx_k, as the ceremony would have handed them out. */
    SELLO_TRY(fx_make_shares(pub, n, cfg.generation, cfg.threshold,
                             cfg.custodians));
    if (spki) {
        memcpy(spki, pub, n);
        *spki_len = n;
    }
    return SELLO_OK;
}

int fx_take_init_reply(const uint8_t *p, size_t len, uint8_t *spki,
                       size_t *spki_len)
{
    sello_tlv_reader r = { p, p + len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    unsigned count = 0;
    while (sello_tlv_next(&r, &type, &v, &n) == 1) {
        if (type == SELLO_INITR_SPKI && spki) {
            memcpy(spki, v, n);
            *spki_len = n;
        } else if (type == SELLO_INITR_SHARE) {
            uint8_t priv[32];
            fx_custodian_priv(count, priv);
            if (count >= SELLO_SHAMIR_MAX_N ||
                sello_box_open((const uint8_t(*)[32])priv, 1, NULL, 0,
                               SELLO_BOX_LABEL_SHARE, NULL, 0, v, n,
                               fx_shares[count]) != SELLO_OK)
                return -1;
            count++;
        }
    }
    fx_share_count = count;
    return (int)count;
}

/* The last session fx_session_open saw. */
static struct {
    uint8_t id[SELLO_SESSION_ID_LEN];
    uint8_t challenge[32];
    uint8_t pub[32];
    uint8_t purpose;
    bool has_proposal;
    uint8_t proposal[SELLO_PROPOSAL_LEN];
} fx_session;

fx_resp fx_session_open(sello_module_storage *m, uint8_t purpose,
                        uint8_t flags)
{
    return fx_session_open_with(m, purpose, flags, NULL);
}

fx_resp fx_session_open_with(sello_module_storage *m, uint8_t purpose,
                             uint8_t flags, const uint8_t *proposal)
{
    uint8_t in[2 + SELLO_PROPOSAL_LEN] = { purpose, flags };
    size_t len = flags ? 2 : 1;
    if (proposal) {
        memcpy(in + 2, proposal, SELLO_PROPOSAL_LEN);
        len = sizeof in;
    }
    fx_resp r = fx_call(m, SELLO_OP_SESSION_OPEN, in, len);
    if (r.header_ok && r.status == SELLO_OK)
        fx_session_note(r.payload, r.len);
    return r;
}

void fx_seal_submission(const uint8_t share[SELLO_SHARE_LEN],
                        uint8_t out[SELLO_SUBMIT_LEN])
{
    static unsigned eph_counter;
    uint8_t recip[2][32], eph[32];
    uint8_t context[1 + SELLO_SESSION_ID_LEN + SELLO_PROPOSAL_LEN];
    size_t context_len = 1 + SELLO_SESSION_ID_LEN;
    memcpy(recip[0], fx_session.pub, 32);
    memcpy(recip[1], share + SELLO_SHARE_MODULE_KEY, 32);
    for (unsigned j = 0; j < 32; j++)
        eph[j] = (uint8_t)(0x11 * j + eph_counter);
    eph_counter++;
    context[0] = fx_session.purpose;
    memcpy(context + 1, fx_session.id, SELLO_SESSION_ID_LEN);
    if (fx_session.has_proposal) {
        memcpy(context + context_len, fx_session.proposal,
               SELLO_PROPOSAL_LEN);
        context_len += SELLO_PROPOSAL_LEN;
    }
    memcpy(out, fx_session.id, SELLO_SESSION_ID_LEN);
    if (sello_box_seal(eph, (const uint8_t(*)[32])recip, 2,
                       fx_session.challenge, 32, SELLO_BOX_LABEL_SUBMIT,
                       context, context_len, share, SELLO_SHARE_LEN,
                       out + SELLO_SESSION_ID_LEN) != SELLO_OK)
        memset(out, 0, SELLO_SUBMIT_LEN);
}

fx_resp fx_submit_share(sello_module_storage *m, unsigned i)
{
    uint8_t sub[SELLO_SUBMIT_LEN];
    fx_seal_submission(fx_shares[i], sub);
    return fx_call(m, SELLO_OP_SESSION_SUBMIT, sub, sizeof sub);
}

sello_status fx_quorum(sello_module_storage *m, uint8_t purpose,
                       unsigned count)
{
    fx_resp r = fx_session_open(m, purpose, SELLO_SESSION_OPEN_NEW);
    if (!r.header_ok)
        return SELLO_ERR_FRAME;
    if (r.status != SELLO_OK)
        return (sello_status)r.status;
    for (unsigned i = 0; i < count; i++) {
        r = fx_submit_share(m, i);
        if (!r.header_ok)
            return SELLO_ERR_FRAME;
        if (r.status != SELLO_OK)
            return (sello_status)r.status;
    }
    return SELLO_OK;
}

sello_status fx_put_counters_record(uint64_t epoch, uint64_t lease_ms)
{
    sello_counters counters;
    bool rolled_back;
    sello_status st = sello_counters_load(&counters, &rolled_back);
    if (st != SELLO_OK && st != SELLO_ERR_NOT_FOUND)
        return st;
    counters.epoch = epoch - 1;
    counters.lease_ms = lease_ms;
    /* The board counter may be ahead of what is written; a genuine module
     * never writes below it, so raise the record's epoch rather than
     * lower the board's. */
    return sello_counters_persist(&counters);
}

size_t fx_load_certs(const char *names, uint8_t *out, size_t cap)
{
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", names);
    size_t total = 0;
    for (char *n = strtok_r(buf, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
        char rel[300];
        snprintf(rel, sizeof rel, "certs/%s", n);
        size_t len;
        uint8_t *p = td_load(rel, &len);
        if (!p || cap - total < len) {
            free(p);
            return 0;
        }
        memcpy(out + total, p, len);
        total += len;
        free(p);
    }
    return total;
}

sello_status fx_make_unit(sello_module_storage *m, const uint8_t *cfg_tlv,
                          size_t cfg_len, const char *certs)
{
    fx_tlv t;
    if (!cfg_tlv) {
        fx_tlv_init_subject(&t);
        cfg_tlv = t.buf;
        cfg_len = t.w.len;
    }
    size_t klen;
    uint8_t *key = td_load("certs/unit-p256.priv", &klen);
    if (!key)
        return SELLO_ERR_NOT_FOUND;
    sello_status st = fx_provision(cfg_tlv, cfg_len, SELLO_KEY_P256, key,
                                   klen, NULL, NULL);
    free(key);
    SELLO_TRY(st);
    SELLO_TRY(sello_module_start(m));
    if (!certs)
        return SELLO_OK;
    static uint8_t buf[SELLO_PAYLOAD_MAX];
    size_t len = fx_load_certs(certs, buf, sizeof buf);
    if (len == 0)
        return SELLO_ERR_NOT_FOUND;
    fx_resp r = fx_call(m, SELLO_OP_LOAD_CERT, buf, len);
    if (!r.header_ok)
        return SELLO_ERR_FRAME;
    if (r.status != SELLO_OK)
        return (sello_status)r.status;
    return fx_quorum(m, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD);
}

/* ---- frames ------------------------------------------------------------- */

size_t fx_frame(uint8_t *out, uint8_t op, uint32_t tag, const void *payload,
                size_t len)
{
    sello_frame_header_write(out, op, 0, tag, (uint32_t)len);
    if (len)
        memcpy(out + SELLO_FRAME_HEADER_LEN, payload, len);
    return SELLO_FRAME_HEADER_LEN + len;
}

static uint8_t resp_buf[SELLO_FRAME_MAX];
static uint8_t req_buf[SELLO_FRAME_MAX + 64];
static uint32_t next_tag = 0x1000;

/* ---- the host's side of the audit chain ----------------------------------- */

uint8_t fx_audit_log[FX_AUDIT_LOG_MAX];
size_t fx_audit_log_len;
bool fx_audit_log_full;
bool fx_audit_no_ack;

void fx_audit_reset(void)
{
    fx_audit_log_len = 0;
    fx_audit_log_full = false;
    fx_audit_no_ack = false;
}

/* Splits the audit records off a response, keeps them in the log as the
 * relay would, and acknowledges them (unless a test holds that back). */
static void take_audit(sello_module_storage *m, fx_resp *r)
{
    if (r->len < 2 || sello_get_be16(r->payload) > r->len - 2) {
        r->header_ok = false;
        return;
    }
    size_t n = sello_get_be16(r->payload);
    const uint8_t *rec = r->payload + 2;
    r->audit = rec;
    r->audit_len = n;
    r->payload += 2 + n;
    r->len -= 2 + n;
    if (FX_AUDIT_LOG_MAX - fx_audit_log_len >= n) {
        memcpy(fx_audit_log + fx_audit_log_len, rec, n);
        fx_audit_log_len += n;
    } else {
        fx_audit_log_full = true;
    }
    uint64_t last = 0;
    for (size_t off = 0; off + SELLO_AUDIT_HEADER_LEN <= n;
         off += SELLO_AUDIT_HEADER_LEN + sello_get_be16(rec + off + 2))
        last = sello_get_be64(rec + off + 4);
    if (fx_audit_no_ack || n == 0)
        return;
    static uint8_t ack[SELLO_FRAME_HEADER_LEN + 8], out[SELLO_FRAME_MAX];
    sello_frame_header_write(ack, SELLO_OP_AUDIT_ACK, 0, 0, 8);
    sello_put_be64(ack + SELLO_FRAME_HEADER_LEN, last);
    (void)sello_module_handle(m, ack, sizeof ack, out, sizeof out);
}

fx_resp fx_send(sello_module_storage *m, const uint8_t *frame, size_t len)
{
    fx_resp r;
    memset(&r, 0, sizeof r);
    memset(resp_buf, 0xa5, sizeof resp_buf);
    r.frame_len = sello_module_handle(m, frame, len, resp_buf, sizeof resp_buf);
    if (r.frame_len < SELLO_FRAME_HEADER_LEN)
        return r;
    r.status = resp_buf[2];
    r.flags = resp_buf[3];
    r.tag = sello_get_be32(resp_buf + 4);
    r.len = sello_get_be32(resp_buf + 8);
    r.payload = resp_buf + SELLO_FRAME_HEADER_LEN;
    r.header_ok = resp_buf[0] == SELLO_FRAME_MAGIC &&
                  resp_buf[1] == SELLO_ABI_VERSION &&
                  r.len == r.frame_len - SELLO_FRAME_HEADER_LEN &&
                  r.len <= SELLO_PAYLOAD_MAX;
    if (r.header_ok && (r.flags & SELLO_RESP_FLAG_AUDIT))
        take_audit(m, &r);
    return r;
}

fx_resp fx_call_tag(sello_module_storage *m, uint8_t op, uint32_t tag,
                    const void *payload, size_t len)
{
    size_t n = fx_frame(req_buf, op, tag, payload, len);
    return fx_send(m, req_buf, n);
}

fx_resp fx_call(sello_module_storage *m, uint8_t op, const void *payload,
                size_t len)
{
    return fx_call_tag(m, op, next_tag++, payload, len);
}

fx_resp fx_calibrate(sello_module_storage *m, uint64_t utc_ms)
{
    uint8_t proposal[SELLO_PROPOSAL_LEN];
    sello_put_be64(proposal, utc_ms * 1000u);
    sello_put_be32(proposal + 8, 0);
    fx_resp r = fx_session_open_with(m, SELLO_PURPOSE_RECALIBRATE,
                                     SELLO_SESSION_OPEN_NEW, proposal);
    for (unsigned i = 0; i < FX_THRESHOLD && r.header_ok &&
                         r.status == SELLO_OK;
         i++)
        r = fx_submit_share(m, i);
    return r;
}

bool fx_status_field(sello_module_storage *m, uint8_t type, uint64_t *value)
{
    fx_resp r = fx_call(m, SELLO_OP_STATUS, NULL, 0);
    if (!r.header_ok || r.status != SELLO_OK)
        return false;
    sello_tlv_reader rd = { r.payload, r.payload + r.len };
    uint8_t t;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&rd, &t, &v, &n) == 1) {
        if (t != type)
            continue;
        uint64_t x = 0;
        for (size_t i = 0; i < n && i < 8; i++)
            x = x << 8 | v[i];
        *value = x;
        return true;
    }
    return false;
}

/* ---- an independent, lenient DER walker for responses --------------------- */

typedef fx_cur cur;

/* Reads tag and definite length (up to 4 length octets); false on any
 * inconsistency. */
static bool get(cur *c, uint8_t *tag, cur *content, cur *whole)
{
    const uint8_t *p = c->p;
    if (c->end - p < 2)
        return false;
    *tag = *p++;
    size_t len = *p++;
    if (len & 0x80) {
        size_t k = len & 0x7f;
        if (k == 0 || k > 4 || (size_t)(c->end - p) < k)
            return false;
        len = 0;
        while (k--)
            len = len << 8 | *p++;
    }
    if ((size_t)(c->end - p) < len)
        return false;
    if (whole) {
        whole->p = c->p;
        whole->end = p + len;
    }
    content->p = p;
    content->end = p + len;
    c->p = p + len;
    return true;
}

static bool expect(cur *c, uint8_t want, cur *content, cur *whole)
{
    uint8_t tag;
    cur save = *c;
    if (!get(c, &tag, content, whole) || tag != want) {
        *c = save;
        return false;
    }
    return true;
}

bool fx_der_next(fx_cur *c, uint8_t tag, fx_cur *content, fx_cur *whole)
{
    fx_cur dummy;
    return expect(c, tag, content ? content : &dummy, whole);
}

static int peek(const cur *c) { return c->p < c->end ? c->p[0] : -1; }

static bool small_int(const cur *v, int *out)
{
    size_t n = (size_t)(v->end - v->p);
    if (n == 0 || n > 4)
        return false;
    int x = (v->p[0] & 0x80) ? -1 : 0;
    for (size_t i = 0; i < n; i++)
        x = (int)((unsigned)x << 8 | v->p[i]);
    *out = x;
    return true;
}

static bool parse_tstinfo(cur tst_der, fx_tsr *t)
{
    cur tst, x, whole;
    if (!expect(&tst_der, 0x30, &tst, &whole) || tst_der.p != tst_der.end)
        return false;
    t->tstinfo = whole.p;
    t->tstinfo_len = (size_t)(whole.end - whole.p);
    if (!expect(&tst, 0x02, &x, NULL) || !expect(&tst, 0x06, &x, &whole))
        return false;
    t->policy = whole.p;
    t->policy_len = (size_t)(whole.end - whole.p);
    if (!expect(&tst, 0x30, &x, &whole))
        return false;
    t->imprint = whole.p;
    t->imprint_len = (size_t)(whole.end - whole.p);
    if (!expect(&tst, 0x02, &x, NULL))
        return false;
    t->serial = x.p;
    t->serial_len = (size_t)(x.end - x.p);
    if (!expect(&tst, 0x18, &x, NULL) || (size_t)(x.end - x.p) >= sizeof t->gen_time)
        return false;
    memcpy(t->gen_time, x.p, (size_t)(x.end - x.p));
    t->gen_time[x.end - x.p] = 0;
    if (peek(&tst) == 0x30) {
        if (!expect(&tst, 0x30, &x, &whole))
            return false;
        t->accuracy = whole.p;
        t->accuracy_len = (size_t)(whole.end - whole.p);
    }
    if (peek(&tst) == 0x01 && !expect(&tst, 0x01, &x, NULL))
        return false;
    if (peek(&tst) == 0x02) {
        if (!expect(&tst, 0x02, &x, NULL))
            return false;
        t->nonce = x.p;
        t->nonce_len = (size_t)(x.end - x.p);
    }
    if (peek(&tst) == 0xa0) {
        if (!expect(&tst, 0xa0, &x, NULL))
            return false;
        t->has_tsa = true;
    }
    if (peek(&tst) == 0xa1) {
        if (!expect(&tst, 0xa1, &x, NULL))
            return false;
        t->has_extensions = true;
    }
    return tst.p == tst.end;
}

fx_tsr fx_parse_tsr(const uint8_t *der, size_t len)
{
    fx_tsr t;
    memset(&t, 0, sizeof t);
    t.fail_bit = -1;
    cur in = { der, der + len }, resp, info, x;
    if (!expect(&in, 0x30, &resp, NULL) || in.p != in.end)
        return t;
    if (!expect(&resp, 0x30, &info, NULL) || !expect(&info, 0x02, &x, NULL) ||
        !small_int(&x, &t.status))
        return t;
    if (peek(&info) == 0x30 && !expect(&info, 0x30, &x, NULL))
        return t;
    if (peek(&info) == 0x03) {
        if (!expect(&info, 0x03, &x, NULL) || x.p == x.end)
            return t;
        unsigned unused = x.p[0];
        size_t nbits = (size_t)(x.end - x.p - 1) * 8 - unused;
        for (size_t i = 0; i < nbits; i++)
            if (x.p[1 + i / 8] & (0x80u >> (i % 8))) {
                if (t.fail_bit < 0)
                    t.fail_bit = (int)i;
                t.fail_bits++;
            }
    }
    if (info.p != info.end)
        return t;
    if (resp.p == resp.end) {
        t.ok = true;
        return t;
    }
    /* ContentInfo { signedData, [0] SignedData } */
    cur ci, sd_wrap, sd, encap, tst_wrap, tst;
    if (!expect(&resp, 0x30, &ci, NULL) || resp.p != resp.end ||
        !expect(&ci, 0x06, &x, NULL) || !expect(&ci, 0xa0, &sd_wrap, NULL) ||
        !expect(&sd_wrap, 0x30, &sd, NULL) || !expect(&sd, 0x02, &x, NULL) ||
        !expect(&sd, 0x31, &x, NULL) || !expect(&sd, 0x30, &encap, NULL) ||
        !expect(&encap, 0x06, &x, NULL) ||
        !expect(&encap, 0xa0, &tst_wrap, NULL) ||
        !expect(&tst_wrap, 0x04, &tst, NULL))
        return t;
    t.has_token = true;
    if (peek(&sd) == 0xa0) {
        if (!expect(&sd, 0xa0, &t.certs, NULL))
            return t;
        t.has_certs = true;
    }
    cur infos, si;
    if (!expect(&sd, 0x31, &infos, NULL) || sd.p != sd.end ||
        !expect(&infos, 0x30, &si, NULL) || infos.p != infos.end ||
        !expect(&si, 0x02, &x, NULL) || !expect(&si, 0x30, &x, NULL) ||
        !expect(&si, 0x30, &x, NULL) ||
        !expect(&si, 0xa0, &x, &t.signed_attrs) ||
        !expect(&si, 0x30, &x, NULL) || !expect(&x, 0x06, &t.sig_alg, NULL) ||
        !expect(&si, 0x04, &t.signature, NULL) || si.p != si.end)
        return t;
    t.ok = parse_tstinfo(tst, &t);
    return t;
}

uint64_t fx_serial_u64(const fx_tsr *t)
{
    const uint8_t *p = t->serial;
    size_t n = t->serial_len;
    while (n > 1 && p[0] == 0) {
        p++;
        n--;
    }
    if (n > 8)
        return UINT64_MAX;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static bool num(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

uint64_t fx_gentime_ms(const char *s)
{
    unsigned y, mo, d, h, mi, sec;
    if (strlen(s) < 15 || !num(s, 4, &y) || !num(s + 4, 2, &mo) ||
        !num(s + 6, 2, &d) || !num(s + 8, 2, &h) || !num(s + 10, 2, &mi) ||
        !num(s + 12, 2, &sec) || mo < 1 || mo > 12)
        return 0;
    /* days by plain counting: independent of the firmware's arithmetic */
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31 };
    uint64_t days = 0;
    for (unsigned yy = 1970; yy < y; yy++)
        days += (yy % 4 == 0 && (yy % 100 != 0 || yy % 400 == 0)) ? 366 : 365;
    for (unsigned m = 1; m < mo; m++)
        days += mdays[m - 1] +
                (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    days += d - 1;
    uint64_t ms = ((days * 24 + h) * 60 + mi) * 60 + sec;
    ms *= 1000;
    const char *p = s + 14;
    if (*p == '.') {
        unsigned scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            ms += (uint64_t)(*p - '0') * scale;
            scale /= 10;
        }
    }
    return *p == 'Z' && p[1] == 0 ? ms : 0;
}

/* ---- shares of fx_k for a given unit --------------------------------------- */

const uint8_t *fx_activation_secret(void)
{
    return fx_k;
}

sello_status fx_make_shares(const uint8_t *spki, size_t spki_len,
                            uint32_t generation, unsigned m, unsigned n)
{
    if (m < SELLO_SHAMIR_MIN_M || m > n || n > SELLO_SHAMIR_MAX_N)
        return SELLO_ERR_PARAM;
    sello_custody u;
    sello_custody_keys ck;
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), spki, spki_len,
               u.unit_id);
    u.generation = generation;
    u.m = (uint8_t)m;
    u.n = (uint8_t)n;
    SELLO_TRY(sello_custody_keys_derive(&ck));
    br_hmac_drbg_context drbg;
    br_hmac_drbg_init(&drbg, &br_sha256_vtable, "sello fixture shares", 20);
    sello_shamir_share shares[SELLO_SHAMIR_MAX_N];
    SELLO_TRY(sello_shamir_split(fx_k, m, n, &drbg.vtable, shares));
    for (unsigned i = 0; i < n; i++)
        sello_share_encode(&u, &ck, &shares[i], fx_shares[i]);
    fx_share_count = n;
    memset(shares, 0, sizeof shares);
    memset(&ck, 0, sizeof ck);
    return SELLO_OK;
}

bool fx_record_spki(const uint8_t *rec, size_t len, uint8_t *spki,
                    size_t cap, size_t *spki_len)
{
    /* Item by item: type (1), BE length (2), value; 0x81 is the SPKI. */
    size_t off = 0;
    while (len - off >= 3) {
        size_t n = (size_t)rec[off + 1] << 8 | rec[off + 2];
        if (len - off - 3 < n)
            return false;
        if (rec[off] == 0x81) {
            if (n > cap)
                return false;
            memcpy(spki, rec + off + 3, n);
            *spki_len = n;
            return true;
        }
        off += 3 + n;
    }
    return false;
}

void fx_session_note(const uint8_t *p, size_t len)
{
    sello_tlv_reader t = { p, p + len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    fx_session.has_proposal = false;
    while (sello_tlv_next(&t, &type, &v, &n) == 1) {
        if (type == SELLO_SESS_PROPOSAL && n == SELLO_PROPOSAL_LEN) {
            memcpy(fx_session.proposal, v, n);
            fx_session.has_proposal = true;
        }
        if (type == SELLO_SESS_ID && n == sizeof fx_session.id)
            memcpy(fx_session.id, v, n);
        else if (type == SELLO_SESS_CHALLENGE && n == 32)
            memcpy(fx_session.challenge, v, n);
        else if (type == SELLO_SESS_PUBKEY && n == 32)
            memcpy(fx_session.pub, v, n);
        else if (type == SELLO_SESS_PURPOSE && n == 1)
            fx_session.purpose = v[0];
    }
}
