/*
 * The module through its one entry point, sello_module_handle, on the
 * in-memory test board, with the test playing a hostile host: broken
 * frames, operations out of order, bad parameters, refused certificates,
 * storage faults at every write, restarts, a clock set behind time already
 * issued, and tampered records.
 *
 * Certificates come from test/data/certs/ (make-certs.sh); the unit is
 * provisioned with the key those certificates hold (see fixture.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "testutil.h"
#include "board_mem.h"
#include "fixture.h"

#include "nv.h"
#include "counters.h"

/* 2026-01-01T00:00:00Z: inside tsu.der's validity (2024..2099). */
#define T0 1767225600000ull
/* genTime precision of the default 1 s accuracy */
#define PRECISION_MS 100u
/* The bounds SET_TIME accepts (module.c): 2020-01-01, 9999-12-31. */
#define CLOCK_MIN_MS 1577836800000ull
#define CLOCK_MAX_MS 253402300799000ull

static sello_module_storage mod;

static int setup(void **state)
{
    (void)state;
    board_mem_reset();
    fx_audit_reset();
    memset(&mod, 0xee, sizeof mod); /* start must not rely on zeroed memory */
    return 0;
}

#define TEST(f) cmocka_unit_test_setup(f, setup)

/* ---- helpers ------------------------------------------------------------------ */

static uint8_t module_state(void)
{
    uint64_t v = 0xff;
    assert_true(fx_status_field(&mod, SELLO_ST_STATE, &v));
    return (uint8_t)v;
}

/* Restarts the module. A restart always locks the key; a certified unit
 * is activated again here by the fixture's quorum so that tests of other
 * things can go on issuing (the dual-control tests restart with
 * sello_module_start alone). */
static void start_ok(void)
{
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    if (module_state() == SELLO_STATE_READY)
        assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                         SELLO_OK);
}

/* Calibrates the clock to `ms` through the custodians' quorum. */
static void set_time_ok(uint64_t ms)
{
    fx_resp r = fx_calibrate(&mod, ms);
    assert_true(r.header_ok);
    if (r.status != SELLO_OK)
        print_error("calibration refused: %.*s\n", (int)r.len, r.payload);
    assert_int_equal(r.status, SELLO_OK);
}

/* A provisioned unit with tsu.der (and ca.der) loaded and the clock at T0. */
static void make_active(void)
{
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der ca.der"), SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
    set_time_ok(T0);
}

static void make_initialised(void)
{
    assert_int_equal(fx_make_unit(&mod, NULL, 0, NULL), SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
}

/* TimeStampReq { v1, SHA-256 imprint of `fill` octets, [nonce], [certReq] } */
static size_t make_request(uint8_t *out, uint8_t fill, const uint8_t *nonce,
                           size_t nonce_len, bool cert_req)
{
    uint8_t body[128];
    size_t n = 0;
    static const uint8_t head[] = { 0x02, 0x01, 0x01, 0x30, 0x2f, 0x30,
                                    0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
                                    0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
                                    0x04, 0x20 };
    memcpy(body, head, sizeof head);
    n = sizeof head;
    memset(body + n, fill, 32);
    n += 32;
    if (nonce) {
        body[n++] = 0x02;
        body[n++] = (uint8_t)nonce_len;
        memcpy(body + n, nonce, nonce_len);
        n += nonce_len;
    }
    if (cert_req) {
        body[n++] = 0x01;
        body[n++] = 0x01;
        body[n++] = 0xff;
    }
    out[0] = 0x30;
    out[1] = (uint8_t)n;
    memcpy(out + 2, body, n);
    return n + 2;
}

typedef struct {
    uint8_t frame_status;
    uint8_t flags;
    int status;       /* PKIStatus, -1 when unparsable */
    int fail_bit;
    bool granted;
    uint64_t serial;
    uint64_t gen_ms;
} stamp_result;

static stamp_result stamp_req(const uint8_t *req, size_t len)
{
    stamp_result s = { 0, 0, -1, -1, false, 0, 0 };
    fx_resp r = fx_call(&mod, SELLO_OP_STAMP, req, len);
    assert_true(r.header_ok);
    s.frame_status = r.status;
    s.flags = r.flags;
    /* STAMP is always answered with a TimeStampResp */
    assert_int_equal(r.status, SELLO_OK);
    fx_tsr t = fx_parse_tsr(r.payload, r.len);
    assert_true(t.ok);
    s.status = t.status;
    s.fail_bit = t.fail_bit;
    s.granted = t.status == 0 && t.has_token;
    if (s.granted) {
        assert_int_equal(t.fail_bit, -1);
        s.serial = fx_serial_u64(&t);
        s.gen_ms = fx_gentime_ms(t.gen_time);
        assert_true(s.gen_ms != 0);
    } else {
        assert_int_equal(t.status, 2);
        assert_false(t.has_token);
        assert_int_equal(t.fail_bits, 1);
    }
    return s;
}

static stamp_result stamp(void)
{
    uint8_t req[128];
    size_t len = make_request(req, 0x42, NULL, 0, false);
    return stamp_req(req, len);
}

static void expect_refused(stamp_result s, int bit)
{
    if (s.granted)
        print_error("granted (serial %llu), expected failInfo bit %d\n",
                    (unsigned long long)s.serial, bit);
    assert_false(s.granted);
    if (s.fail_bit != bit)
        print_error("failInfo bit %d, expected %d\n", s.fail_bit, bit);
    assert_int_equal(s.fail_bit, bit);
}

/* The public key of the unit, as tsu.der holds it. */
static size_t unit_spki(uint8_t *out, size_t cap)
{
    size_t len;
    uint8_t *der = tu_load("certs/tsu.der", &len);
    fx_cur c = { der, der + len }, cert, tbs, spki;
    assert_true(fx_der_next(&c, 0x30, &cert, NULL));
    assert_true(fx_der_next(&cert, 0x30, &tbs, NULL));
    assert_true(fx_der_next(&tbs, 0xa0, NULL, NULL));
    assert_true(fx_der_next(&tbs, 0x02, NULL, NULL));
    assert_true(fx_der_next(&tbs, 0x30, NULL, NULL));
    assert_true(fx_der_next(&tbs, 0x30, NULL, NULL));
    assert_true(fx_der_next(&tbs, 0x30, NULL, NULL));
    assert_true(fx_der_next(&tbs, 0x30, NULL, NULL));
    assert_true(fx_der_next(&tbs, 0x30, NULL, &spki));
    size_t n = fx_len(&spki);
    assert_true(n <= cap);
    memcpy(out, spki.p, n);
    free(der);
    return n;
}

/* The EC point of a P-256 SubjectPublicKeyInfo. */
static br_ec_public_key ec_key_of(const uint8_t *spki, size_t len)
{
    fx_cur c = { spki, spki + len }, body, bits;
    assert_true(fx_der_next(&c, 0x30, &body, NULL));
    assert_true(fx_der_next(&body, 0x30, NULL, NULL));
    assert_true(fx_der_next(&body, 0x03, &bits, NULL));
    assert_true(fx_len(&bits) == 66 && bits.p[0] == 0 && bits.p[1] == 4);
    br_ec_public_key pk = { BR_EC_secp256r1, (unsigned char *)bits.p + 1, 65 };
    return pk;
}

/* ---- frames: a hostile host ------------------------------------------------------ */

static void check_error_frame(fx_resp r, uint8_t status, uint32_t tag)
{
    assert_true(r.header_ok);
    if (r.status != status)
        print_error("status %d (%s), expected %d (%s)\n", r.status,
                    sello_status_name(r.status), status,
                    sello_status_name(status));
    assert_int_equal(r.status, status);
    assert_int_equal(r.tag, tag);
    assert_int_equal(r.flags, 0);
    /* a short UTF-8 reason, no terminator */
    assert_true(r.len > 0 && r.len < 200);
    for (size_t i = 0; i < r.len; i++)
        assert_true(r.payload[i] >= 0x20 && r.payload[i] < 0x7f);
}

static void test_frame_truncated_header(void **state)
{
    (void)state;
    make_active();
    uint8_t frame[SELLO_FRAME_HEADER_LEN];
    fx_frame(frame, SELLO_OP_STATUS, 0x01020304, NULL, 0);
    for (size_t n = 0; n < SELLO_FRAME_HEADER_LEN; n++) {
        uint8_t *p = malloc(n ? n : 1); /* exact size: no over-read */
        memcpy(p, frame, n);
        fx_resp r = fx_send(&mod, p, n);
        free(p);
        /* too short to hold a tag: the answer carries tag 0 */
        check_error_frame(r, SELLO_ERR_FRAME, 0);
    }
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
}

static void test_frame_bad_magic(void **state)
{
    (void)state;
    make_active();
    uint8_t frame[SELLO_FRAME_HEADER_LEN];
    fx_frame(frame, SELLO_OP_STATUS, 0xdeadbeef, NULL, 0);
    static const uint8_t magics[] = { 0x00, 0x52, 0x54, 0x73, 0xd3, 0xff };
    for (size_t i = 0; i < sizeof magics; i++) {
        frame[0] = magics[i];
        check_error_frame(fx_send(&mod, frame, sizeof frame), SELLO_ERR_FRAME,
                          0xdeadbeef);
    }
}

static void test_frame_bad_version(void **state)
{
    (void)state;
    make_active();
    uint8_t frame[SELLO_FRAME_HEADER_LEN];
    fx_frame(frame, SELLO_OP_STATUS, 0x0badcafe, NULL, 0);
    static const uint8_t versions[] = { 0x00, 0x02, 0x7f, 0x81, 0xff };
    for (size_t i = 0; i < sizeof versions; i++) {
        frame[1] = versions[i];
        check_error_frame(fx_send(&mod, frame, sizeof frame),
                          SELLO_ERR_VERSION, 0x0badcafe);
    }
}

static void test_frame_oversized_length(void **state)
{
    (void)state;
    make_active();
    static uint8_t frame[SELLO_FRAME_MAX + 64];
    static const uint32_t lens[] = { SELLO_PAYLOAD_MAX + 1, 0x10000,
                                     0x7fffffffu, 0xffffffffu };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        sello_frame_header_write(frame, SELLO_OP_STAMP, 0, 0x5151 + (uint32_t)i,
                                 lens[i]);
        /* with only the header, and with as much payload as fits */
        check_error_frame(fx_send(&mod, frame, SELLO_FRAME_HEADER_LEN),
                          SELLO_ERR_TOO_LARGE, 0x5151 + (uint32_t)i);
        check_error_frame(fx_send(&mod, frame, sizeof frame),
                          SELLO_ERR_TOO_LARGE, 0x5151 + (uint32_t)i);
    }
    /* exactly the maximum is a frame (here a malformed STAMP) */
    fx_frame(frame, SELLO_OP_STAMP, 7, NULL, 0);
    sello_put_be32(frame + 8, SELLO_PAYLOAD_MAX);
    memset(frame + SELLO_FRAME_HEADER_LEN, 0x30, SELLO_PAYLOAD_MAX);
    fx_resp r = fx_send(&mod, frame, SELLO_FRAME_MAX);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    assert_int_equal(r.flags, SELLO_RESP_FLAG_MALFORMED_REQUEST);
}

static void test_frame_length_mismatch(void **state)
{
    (void)state;
    make_active();
    uint8_t frame[64];
    size_t n = fx_frame(frame, SELLO_OP_SET_TIME, 0x77, "\0\0\0\0\0\0\0\0", 8);
    /* header says 8: 7 and 9 payload octets are both refused */
    check_error_frame(fx_send(&mod, frame, n - 1), SELLO_ERR_FRAME, 0x77);
    frame[n] = 0;
    check_error_frame(fx_send(&mod, frame, n + 1), SELLO_ERR_FRAME, 0x77);
    sello_put_be32(frame + 8, 0);
    check_error_frame(fx_send(&mod, frame, n), SELLO_ERR_FRAME, 0x77);
    /* a header that claims a payload that never came */
    sello_put_be32(frame + 8, 100);
    check_error_frame(fx_send(&mod, frame, SELLO_FRAME_HEADER_LEN),
                      SELLO_ERR_FRAME, 0x77);
    /* none of them touched the clock */
    uint64_t utc = 0;
    assert_true(fx_status_field(&mod, SELLO_ST_UTC_MS, &utc));
    assert_int_equal(utc, T0);
}

static void test_frame_unknown_opcodes(void **state)
{
    (void)state;
    static const uint8_t known[] = {
#define KNOWN_OP(name, num, text) num,
        SELLO_OPCODE_LIST(KNOWN_OP)
#undef KNOWN_OP
    };
    for (int phase = 0; phase < 2; phase++) {
        board_mem_reset();
        if (phase == 0)
            start_ok();
        else
            make_active();
        for (unsigned op = 0; op < 256; op++) {
            if (memchr(known, (int)op, sizeof known))
                continue;
            fx_resp r = fx_call_tag(&mod, (uint8_t)op, 0xa0000000u | op,
                                    "\x30\x00", 2);
            check_error_frame(r, SELLO_ERR_OPCODE, 0xa0000000u | op);
        }
        assert_int_equal(module_state(), phase ? SELLO_STATE_ACTIVE
                                               : SELLO_STATE_UNINITIALISED);
    }
}

/* Every answer echoes the request's tag, whatever the outcome. */
static void test_frame_tag_echoed(void **state)
{
    (void)state;
    make_active();
    static const uint32_t tags[] = { 0, 1, 0x80000000u, 0xffffffffu };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        assert_int_equal(fx_call_tag(&mod, SELLO_OP_STATUS, tags[i], NULL, 0).tag,
                         tags[i]);
        uint8_t req[128];
        size_t len = make_request(req, 1, NULL, 0, false);
        fx_resp r = fx_call_tag(&mod, SELLO_OP_STAMP, tags[i], req, len);
        assert_int_equal(r.status, SELLO_OK);
        assert_int_equal(r.tag, tags[i]);
        assert_int_equal(fx_call_tag(&mod, SELLO_OP_INIT, tags[i], NULL, 0).tag,
                         tags[i]);
    }
}

static void test_frame_small_response_buffer(void **state)
{
    (void)state;
    make_active();
    uint8_t frame[SELLO_FRAME_HEADER_LEN];
    fx_frame(frame, SELLO_OP_STATUS, 1, NULL, 0);
    static uint8_t resp[SELLO_FRAME_MAX];
    assert_int_equal(sello_module_handle(&mod, frame, sizeof frame, resp,
                                         SELLO_FRAME_MAX - 1), 0);
    assert_int_equal(sello_module_handle(&mod, frame, sizeof frame, resp,
                                         SELLO_FRAME_MAX) > 0, 1);
}

/* The serve loop takes frames from the board and answers each in order;
 * it returns when the link is gone. */
static void test_serve_loop(void **state)
{
    (void)state;
    make_active();
    uint8_t frame[160], req[128];
    size_t rl = make_request(req, 9, NULL, 0, false);
    assert_true(board_mem_frame_push(frame, fx_frame(frame, SELLO_OP_STATUS,
                                                     11, NULL, 0)));
    assert_true(board_mem_frame_push(frame, fx_frame(frame, SELLO_OP_STAMP,
                                                     12, req, rl)));
    assert_true(board_mem_frame_push(frame, 5)); /* garbage: answered too */
    assert_true(board_mem_frame_push(frame, fx_frame(frame, 0x99, 14, NULL, 0)));
    assert_int_equal(sello_module_serve(&mod), SELLO_ERR_FRAME);
    assert_int_equal(board_mem_frames_sent(), 4);
    const uint8_t *out;
    size_t len;
    static const struct {
        uint32_t tag;
        uint8_t status;
    } want[] = { { 11, SELLO_OK }, { 12, SELLO_OK }, { 0, SELLO_ERR_FRAME },
                 { 14, SELLO_ERR_OPCODE } };
    for (unsigned i = 0; i < 4; i++) {
        assert_true(board_mem_frame_sent(i, &out, &len));
        assert_true(len >= SELLO_FRAME_HEADER_LEN);
        assert_int_equal(out[0], SELLO_FRAME_MAGIC);
        assert_int_equal(out[2], want[i].status);
        assert_int_equal(sello_get_be32(out + 4), want[i].tag);
        assert_int_equal(sello_get_be32(out + 8), len - SELLO_FRAME_HEADER_LEN);
    }
}

/* ---- STAMP and the unit's state ----------------------------------------------------- */

static void test_stamp_before_init(void **state)
{
    (void)state;
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_UNINITIALISED);
    /* no custodians, no calibration either */
    assert_int_equal(fx_calibrate(&mod, T0).status, SELLO_ERR_STATE);
    /* a perfectly good request: the unit cannot serve it at all */
    expect_refused(stamp(), 25 /* systemFailure */);
}

static void test_stamp_before_cert(void **state)
{
    (void)state;
    make_initialised();
    set_time_ok(T0);
    expect_refused(stamp(), 25);
}

static void test_stamp_without_time(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    expect_refused(stamp(), 14 /* timeNotAvailable */);
    uint64_t tokens = 99;
    assert_true(fx_status_field(&mod, SELLO_ST_TOKENS, &tokens));
    assert_int_equal(tokens, 0);
}

static void test_stamp_outside_cert_validity(void **state)
{
    (void)state;
    /* tsu.der is valid from 2024-01-01; the clock may be set to 2020 */
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    set_time_ok(CLOCK_MIN_MS);
    expect_refused(stamp(), 25);
    /* tsu-expired.der ended 2021-01-01 */
    board_mem_reset();
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu-expired.der"), SELLO_OK);
    set_time_ok(T0);
    expect_refused(stamp(), 25);
}

/*
 * RFC 5280 4.1.2.5: a certificate is valid "from notBefore through
 * notAfter, inclusive". tsu-expired.der runs from 2020-01-01T00:00:00Z
 * through 2021-01-01T00:00:00Z; a token at either instant is within it,
 * one a millisecond before or after is not.
 */
static void test_stamp_cert_validity_bounds(void **state)
{
    (void)state;
    static const struct {
        uint64_t ms;
        bool granted;
    } cases[] = {
        { 1577836800000ull, true },   /* notBefore exactly */
        { 1609459199999ull, true },   /* the last ms before notAfter */
        { 1609459200000ull, true },   /* notAfter exactly: still valid */
        { 1609459200099ull, true },   /* genTime notAfter exactly */
        { 1609459200100ull, false },  /* past notAfter */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        board_mem_reset();
        assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu-expired.der"),
                         SELLO_OK);
        /* (genTime is truncated to the precision, 100 ms here) */
        set_time_ok(cases[i].ms);
        stamp_result s = stamp();
        if (s.granted != cases[i].granted)
            print_error("at %llu ms: %s\n", (unsigned long long)cases[i].ms,
                        s.granted ? "granted" : "refused");
        assert_int_equal(s.granted, cases[i].granted);
        if (!s.granted)
            assert_int_equal(s.fail_bit, 25);
    }
}

/* The granted token: genTime from the calibrated ticks, the unit's policy,
 * the request's imprint and nonce, the certificate on request, and a
 * signature by the unit key over the signed attributes, which carry the
 * TSTInfo's digest. */
static void test_stamp_granted_token(void **state)
{
    (void)state;
    make_active();
    board_mem_advance_ms(1234);
    uint8_t req[128];
    static const uint8_t nonce[] = { 0x00, 0x99, 0x88, 0x77 };
    size_t len = make_request(req, 0x5a, nonce, sizeof nonce, true);
    fx_resp r = fx_call(&mod, SELLO_OP_STAMP, req, len);
    assert_int_equal(r.status, SELLO_OK);
    /* the token travels with its audit record: serial and SHA-256 of the
     * TimeStampResp, genTime in the header */
    assert_int_equal(r.flags, SELLO_RESP_FLAG_AUDIT);
    const uint8_t *tok = NULL;
    for (size_t off = 0; off + SELLO_AUDIT_HEADER_LEN <= r.audit_len;
         off += SELLO_AUDIT_HEADER_LEN + sello_get_be16(r.audit + off + 2))
        if (r.audit[off + 1] == SELLO_AUDIT_TOKEN)
            tok = r.audit + off;
    assert_non_null(tok);
    assert_int_equal(sello_get_be16(tok + 2), 12 + 32);
    assert_int_equal(sello_get_be64(tok + 12), T0 + 1200);
    uint8_t resp_hash[32];
    br_sha256_context rh;
    br_sha256_init(&rh);
    br_sha256_update(&rh, r.payload, r.len);
    br_sha256_out(&rh, resp_hash);
    assert_memory_equal(tok + SELLO_AUDIT_HEADER_LEN + 12, resp_hash, 32);
    fx_tsr t = fx_parse_tsr(r.payload, r.len);
    assert_true(t.ok);
    assert_int_equal(t.status, 0);
    assert_memory_equal(tok + SELLO_AUDIT_HEADER_LEN + 12 - t.serial_len,
                        t.serial, t.serial_len);
    /* 1.234 s later, at the 100 ms precision of a 1 s accuracy */
    assert_string_equal(t.gen_time, "20260101000001.2Z");
    assert_bytes_equal(t.nonce, t.nonce_len, nonce, sizeof nonce);
    assert_bytes_equal(t.imprint, t.imprint_len, req + 5, 49);
    /* default policy 0.4.0.2023.1.1 */
    assert_bytes_equal(t.policy, t.policy_len,
                       "\x06\x06\x04\x00\x8f\x67\x01\x01", 8);
    /* the first serial of a block */
    assert_int_equal((fx_serial_u64(&t) - 1) % SELLO_SERIAL_BLOCK, 0);
    assert_true(t.has_certs);
    size_t tsu_len;
    uint8_t *tsu = tu_load("certs/tsu.der", &tsu_len);
    assert_non_null(memmem(t.certs.p, fx_len(&t.certs), tsu, tsu_len));
    free(tsu);

    /* message-digest attribute = SHA-256(TSTInfo) */
    uint8_t digest[32], md_attr[34] = { 0x04, 0x20 };
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, t.tstinfo, t.tstinfo_len);
    br_sha256_out(&h, md_attr + 2);
    assert_non_null(memmem(t.signed_attrs.p, fx_len(&t.signed_attrs), md_attr,
                           sizeof md_attr));
    /* the signature covers the attributes as a SET (RFC 5652 5.4) */
    static uint8_t attrs[2048];
    size_t alen = fx_len(&t.signed_attrs);
    memcpy(attrs, t.signed_attrs.p, alen);
    attrs[0] = 0x31;
    br_sha256_init(&h);
    br_sha256_update(&h, attrs, alen);
    br_sha256_out(&h, digest);
    uint8_t spki[200];
    size_t spki_len = unit_spki(spki, sizeof spki);
    br_ec_public_key pk = ec_key_of(spki, spki_len);
    assert_bytes_equal(t.sig_alg.p, fx_len(&t.sig_alg),
                       "\x2a\x86\x48\xce\x3d\x04\x03\x02", 8);
    assert_int_equal(br_ecdsa_vrfy_asn1_get_default()(
                         br_ec_get_default(), digest, 32, &pk, t.signature.p,
                         fx_len(&t.signature)), 1);
    /* and a changed attribute does not verify */
    digest[0] ^= 1;
    assert_int_equal(br_ecdsa_vrfy_asn1_get_default()(
                         br_ec_get_default(), digest, 32, &pk, t.signature.p,
                         fx_len(&t.signature)), 0);

    uint64_t tokens = 0;
    assert_true(fx_status_field(&mod, SELLO_ST_TOKENS, &tokens));
    assert_int_equal(tokens, 1);
}

/* Every TimeStampReq vector of test/data/tsp/requests.txt for the default
 * configuration, through an active module: accepted ones are granted,
 * the others refused with their failInfo, malformed ones flagged. */
static void test_stamp_request_vectors(void **state)
{
    (void)state;
    make_active();
    size_t n;
    td_line *lines = td_read_lines("tsp/requests.txt", &n);
    assert_non_null(lines);
    size_t used = 0;
    uint64_t last_serial = 0;
    for (size_t i = 0; i < n; i++) {
        char *f[5] = { 0 }, *s = lines[i].text;
        for (int k = 0; k < 5 && s; k++) {
            f[k] = s;
            s = strchr(s, '|');
            if (s)
                *s++ = 0;
        }
        if (!f[3] || strcmp(td_trim(f[1]), "default") != 0)
            continue;
        const char *expect = td_trim(f[2]);
        static uint8_t der[SELLO_PAYLOAD_MAX];
        size_t len = td_hex(f[3], der, sizeof der);
        assert_true(len != (size_t)-1);
        board_mem_advance_ms(7);
        stamp_result r = stamp_req(der, len);
        bool malformed = strcmp(expect, "malformed") == 0;
        assert_int_equal(r.flags & SELLO_RESP_FLAG_MALFORMED_REQUEST,
                         malformed ? SELLO_RESP_FLAG_MALFORMED_REQUEST : 0);
        if (strcmp(expect, "accept") == 0) {
            if (!r.granted)
                print_error("%s: refused, bit %d\n", td_trim(f[0]), r.fail_bit);
            assert_true(r.granted);
            assert_true(r.serial > last_serial);
            last_serial = r.serial;
        } else {
            int bit = malformed || strcmp(expect, "badDataFormat") == 0 ? 5
                    : strcmp(expect, "badAlg") == 0 ? 0
                    : strcmp(expect, "unacceptedPolicy") == 0 ? 15
                    : strcmp(expect, "unacceptedExtension") == 0 ? 16 : -2;
            if (r.granted || r.fail_bit != bit)
                print_error("%s: bit %d, expected %s\n", td_trim(f[0]),
                            r.fail_bit, expect);
            expect_refused(r, bit);
        }
        used++;
    }
    td_free_lines(lines, n);
    assert_true(used > 60);
}

/* ---- INIT ------------------------------------------------------------------------- */

static void test_init_ok(void **state)
{
    (void)state;
    start_ok();
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u32(&t.w, SELLO_INIT_ACCURACY_MS, 250);
    sello_tlv_put_u32(&t.w, SELLO_INIT_INSTANCE, 9);
    sello_tlv_put_u8(&t.w, SELLO_INIT_QUALIFIED, 1);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    uint8_t spki[600];
    size_t spki_len = 0;
    /* one share box per custodian, each opening with its key */
    assert_int_equal(fx_take_init_reply(r.payload, r.len, spki, &spki_len),
                     FX_CUSTODIANS);
    /* a P-256 SubjectPublicKeyInfo */
    assert_int_equal(spki_len, 91);
    assert_memory_equal(spki, "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce"
                              "\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d"
                              "\x03\x01\x07\x03\x42\x00\x04", 27);
    /* the shares name the unit by the SHA-256 of that key */
    uint8_t unit_id[32];
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, spki, spki_len);
    br_sha256_out(&h, unit_id);
    for (unsigned i = 0; i < FX_CUSTODIANS; i++) {
        assert_memory_equal(fx_shares[i] + SELLO_SHARE_UNIT_ID, unit_id, 32);
        assert_int_equal(fx_shares[i][SELLO_SHARE_X], i + 1);
        assert_int_equal(fx_shares[i][SELLO_SHARE_M], FX_THRESHOLD);
        assert_int_equal(fx_shares[i][SELLO_SHARE_N], FX_CUSTODIANS);
    }
    /* the key stays unlocked for the CSR in the same sitting */
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0).status, SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    uint64_t v;
    assert_true(fx_status_field(&mod, SELLO_ST_KEY_TYPE, &v));
    assert_int_equal(v, SELLO_KEY_P256);
    assert_true(fx_status_field(&mod, SELLO_ST_ACCURACY_MS, &v));
    assert_int_equal(v, 250);
    assert_true(fx_status_field(&mod, SELLO_ST_INSTANCE, &v));
    assert_int_equal(v, 9);
    assert_true(fx_status_field(&mod, SELLO_ST_QUALIFIED, &v));
    assert_int_equal(v, 1);
    assert_true(fx_status_field(&mod, SELLO_ST_HASHES, &v));
    assert_int_equal(v, SELLO_HASHES_DEFAULT);
    assert_true(fx_status_field(&mod, SELLO_ST_SIG_HASH, &v));
    assert_int_equal(v, SELLO_HASH_SHA256);
    /* the unit survives a restart with the same key, locked until the
     * quorum unlocks it */
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    check_error_frame(fx_call_tag(&mod, SELLO_OP_GET_CSR, 0x600d, NULL, 0),
                      SELLO_ERR_STATE, 0x600d);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    fx_resp csr2 = fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0);
    assert_int_equal(csr2.status, SELLO_OK);
    assert_non_null(memmem(csr2.payload, csr2.len, spki, spki_len));
}

typedef struct {
    const char *name;
    const char *tlv_hex; /* a complete INIT TLV list */
} bad_init;

/* S = the subject item: type 2, length 0x31, fx_subject */
#define SUBJ "02 0031 302f311730150603550403 0c0e 53656c6c6f2054657374205453553114301206035504" \
             "0a 0c0b 53656c6c6f205465737473"
/* Two or three custodian keys (any u-coordinate of large order will do)
 * and threshold 2: the custody every INIT needs. */
#define KEY1 " 0b 0020 11*32"
#define KEY2 " 0b 0020 22*32"
#define KEY3 " 0b 0020 33*32"
#define CUST KEY1 KEY2 KEY3 " 0c 0001 02"
/* The test-unit mark (SELLO_INIT_TEST_UNIT = 1), without which the test
 * board, a simulation board, refuses every INIT. */
#define MARK " 13 0001 01"
/* S = a complete valid list: subject, custody and the mark. */
#define S SUBJ CUST MARK

static const bad_init bad_inits[] = {
    { "empty list (no subject)", "" },
    { "no subject", "01 0001 01" },
    { "unknown type 0", S " 00 0001 00" },
    { "unknown type 17", S " 11 0001 00" },
    { "no custodians", SUBJ " 0c 0001 02" },
    { "one custodian", SUBJ KEY1 " 0c 0001 02" },
    { "no threshold", SUBJ KEY1 KEY2 KEY3 },
    { "threshold 1", SUBJ KEY1 KEY2 KEY3 " 0c 0001 01" },
    { "threshold 0", SUBJ KEY1 KEY2 KEY3 " 0c 0001 00" },
    { "threshold above the custodians", SUBJ KEY1 KEY2 " 0c 0001 03" },
    { "threshold 17", SUBJ KEY1 KEY2 " 0c 0001 11" },
    { "threshold twice", S " 0c 0001 02" },
    { "threshold two octets", SUBJ KEY1 KEY2 " 0c 0002 0002" },
    { "the same custodian key twice", SUBJ KEY1 KEY1 " 0c 0001 02" },
    { "custodian key of 31 octets", SUBJ KEY1 " 0b 001f 22*31 0c 0001 02" },
    { "custodian key of 33 octets", SUBJ KEY1 " 0b 0021 22*33 0c 0001 02" },
    { "custodian key 0 (low order)",
      SUBJ KEY1 " 0b 0020 00*32 0c 0001 02" MARK },
    { "custodian key 1 (low order)",
      SUBJ KEY1 " 0b 0020 01 00*31 0c 0001 02" MARK },
    { "17 custodians", SUBJ " 0b 0020 01*32 0b 0020 02*32 0b 0020 03*32"
                       " 0b 0020 04*32 0b 0020 05*32 0b 0020 06*32"
                       " 0b 0020 07*32 0b 0020 08*32 0b 0020 09*32"
                       " 0b 0020 0a*32 0b 0020 0b*32 0b 0020 0c*32"
                       " 0b 0020 0d*32 0b 0020 0e*32 0b 0020 0f*32"
                       " 0b 0020 10*32 0b 0020 11*32 0c 0001 02" },
    { "engine 0", S " 0d 0001 00" },
    { "engine 3", S " 0d 0001 03" },
    { "token engine on a board without a token", S " 0d 0001 02" },
    { "lockout after 0 failures", S " 0e 0001 00" },
    { "lockout after 101 failures", S " 0e 0001 65" },
    { "lockout of 0 s", S " 0f 0004 00000000" },
    { "lockout above a week", S " 0f 0004 00093a81" },
    { "key usage of 36601 days", S " 10 0004 00008ef9" },
    { "test unit 2", SUBJ CUST " 13 0001 02" },
    { "test unit ff", SUBJ CUST " 13 0001 ff" },
    { "test unit empty", SUBJ CUST " 13 0000" },
    { "test unit two octets", SUBJ CUST " 13 0002 0001" },
    { "test unit twice", S MARK },
    { "test unit 0 and 1", SUBJ CUST " 13 0001 00" MARK },
    { "unknown type 20", S " 14 0001 00" },
    { "unknown type 31", S " 1f 0000" },
    { "unknown type 32", S " 20 0000" },
    { "record-only type 0x80", S " 80 0001 01" },
    { "record-only type 0x81 (SPKI)", S " 81 0002 3000" },
    { "record-only type 0x83 (sealed key)", S " 83 0000" },
    { "unknown type 0xff", S " ff 0000" },
    { "subject twice", S " " S },
    { "key type twice", S " 01 0001 01 01 0001 01" },
    { "accuracy twice", S " 04 0004 000003e8 04 0004 000003e8" },
    { "key type 0", S " 01 0001 00" },
    { "key type 6", S " 01 0001 06" },
    { "key type 0xff", S " 01 0001 ff" },
    { "key type two octets", S " 01 0002 0001" },
    { "key type empty", S " 01 0000" },
    { "accuracy 0", S " 04 0004 00000000" },
    { "accuracy 3600001 ms", S " 04 0004 0036ee81" },
    { "accuracy max u32", S " 04 0004 ffffffff" },
    { "accuracy three octets", S " 04 0003 0003e8" },
    { "accuracy eight octets", S " 04 0008 00000000000003e8" },
    { "hashes 0", S " 05 0004 00000000" },
    { "hashes unknown bit 7", S " 05 0004 00000080" },
    { "hashes bit 0", S " 05 0004 00000001" },
    { "hashes bit 31", S " 05 0004 80000010" },
    { "hashes one octet", S " 05 0001 10" },
    { "sig hash sha1", S " 06 0001 02" },
    { "sig hash sha224", S " 06 0001 03" },
    { "sig hash 7", S " 06 0001 07" },
    { "qualified 2", S " 07 0001 02" },
    { "qualified empty", S " 07 0000" },
    { "tsa name ff", S " 08 0001 ff" },
    { "chain 2", S " 09 0001 02" },
    { "instance two octets", S " 0a 0002 0001" },
    { "policy not an OID", S " 03 0002 0400" },
    { "policy OID ends in continuation", S " 03 0004 06022b86" },
    { "policy OID with leading 80", S " 03 0004 0602 8001" },
    { "policy empty OID", S " 03 0002 0600" },
    { "policy trailing octet", S " 03 0004 06010000" },
    { "policy raw content without tag", S " 03 0006 04008f670101" },
    { "policy too long", S " 03 0044 0642 2a*66" },
    { "subject not a SEQUENCE", "02 0002 3100" CUST },
    { "subject trailing octet", "02 0003 300000" CUST },
    { "subject indefinite length", "02 0004 30800000" CUST },
    { "subject empty", "02 0000" CUST },
    { "subject too long", "02 0205 30820201 55*513" CUST },
    { "no subject, only custody", CUST },
    { "truncated item header", S " 04 00" },
    { "truncated item value", S " 04 0004 0000" },
    { "item length beyond list", S " 07 ffff 00" },
};

static size_t expand(const char *hex, uint8_t *out, size_t cap)
{
    /* hex with "XX*N" repetitions, as in test_der */
    size_t n = 0;
    char tok[64];
    while (*hex) {
        while (*hex == ' ')
            hex++;
        if (!*hex)
            break;
        size_t t = 0;
        while (*hex && *hex != ' ' && t < sizeof tok - 1)
            tok[t++] = *hex++;
        tok[t] = 0;
        char *star = strchr(tok, '*');
        unsigned long rep = 1;
        if (star) {
            *star = 0;
            rep = strtoul(star + 1, NULL, 10);
        }
        uint8_t oct[64];
        size_t k = tu_hex(tok, oct, sizeof oct);
        for (unsigned long r = 0; r < rep; r++) {
            assert_true(cap - n >= k);
            memcpy(out + n, oct, k);
            n += k;
        }
    }
    return n;
}

static void test_init_param_validation(void **state)
{
    (void)state;
    start_ok();
    for (size_t i = 0; i < sizeof bad_inits / sizeof bad_inits[0]; i++) {
        static uint8_t tlv[SELLO_PAYLOAD_MAX];
        size_t len = expand(bad_inits[i].tlv_hex, tlv, sizeof tlv);
        unsigned long writes = board_mem_write_count();
        fx_resp r = fx_call(&mod, SELLO_OP_INIT, tlv, len);
        if (r.status != SELLO_ERR_PARAM)
            print_error("INIT with %s: status %s\n", bad_inits[i].name,
                        sello_status_name(r.status));
        check_error_frame(r, SELLO_ERR_PARAM, r.tag);
        /* nothing changed: state, storage */
        assert_int_equal(module_state(), SELLO_STATE_UNINITIALISED);
        assert_int_equal(board_mem_write_count(), writes);
        const uint8_t *rec;
        size_t rlen;
        assert_false(board_mem_record_get(SELLO_NV_UNIT, &rec, &rlen));
    }
    /* the subject, the custody and (on this simulation board) the
     * test-unit mark alone are a valid list */
    static uint8_t tlv[512];
    size_t len = expand(S, tlv, sizeof tlv);
    assert_int_equal(len, 3 + fx_subject_len + 3 * 35 + 4 + 4);
    assert_int_equal(fx_call(&mod, SELLO_OP_INIT, tlv, len).status, SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
}

/* The boundary values that are valid. */
static void test_init_param_limits(void **state)
{
    (void)state;
    static const char *good[] = {
        S " 04 0004 00000001",            /* accuracy 1 ms */
        S " 04 0004 0036ee80",            /* accuracy 3600000 ms */
        S " 05 0004 0000007c",            /* every known hash */
        S " 05 0004 00000004",            /* SHA-1 only */
        S " 06 0001 06 07 0001 01 08 0001 01 09 0001 00 0a 0004 ffffffff",
        S " 03 0042 0640 2a*64",          /* a 66-octet policy */
        S " 03 0003 060100",                /* policy 0.0 */
        SUBJ KEY1 KEY2 " 0c 0001 02" MARK, /* 2 of 2 */
        SUBJ " 0b 0020 01*32 0b 0020 02*32 0b 0020 03*32 0b 0020 04*32"
        " 0b 0020 05*32 0b 0020 06*32 0b 0020 07*32 0b 0020 08*32"
        " 0b 0020 09*32 0b 0020 0a*32 0b 0020 0b*32 0b 0020 0c*32"
        " 0b 0020 0d*32 0b 0020 0e*32 0b 0020 0f*32 0b 0020 10*32"
        " 0c 0001 10" MARK,                 /* 16 of 16 */
        MARK SUBJ CUST,                     /* the mark anywhere */
        S " 0e 0001 01 0f 0004 00000001",   /* lockout: 1 failure, 1 s */
        S " 0e 0001 64 0f 0004 00093a80",   /* lockout: 100, a week */
        S " 10 0004 00008ef8",              /* key usage 36600 days */
        S " 0d 0001 01",                    /* the module engine */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        board_mem_reset();
        start_ok();
        static uint8_t tlv[1024];
        size_t len = expand(good[i], tlv, sizeof tlv);
        fx_resp r = fx_call(&mod, SELLO_OP_INIT, tlv, len);
        if (r.status != SELLO_OK)
            print_error("INIT list %zu refused: %.*s\n", i, (int)r.len,
                        r.payload);
        assert_int_equal(r.status, SELLO_OK);
    }
}

static void test_init_twice(void **state)
{
    (void)state;
    start_ok();
    fx_tlv t;
    fx_tlv_init_subject(&t);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    const uint8_t *rec;
    size_t rlen;
    assert_true(board_mem_record_get(SELLO_NV_UNIT, &rec, &rlen));
    uint8_t *before = malloc(rlen);
    memcpy(before, rec, rlen);
    size_t before_len = rlen;
    unsigned long writes = board_mem_write_count();
    check_error_frame(fx_call_tag(&mod, SELLO_OP_INIT, 0x1716, t.buf, t.w.len),
                      SELLO_ERR_STATE, 0x1716);
    assert_int_equal(board_mem_write_count(), writes);
    assert_true(board_mem_record_get(SELLO_NV_UNIT, &rec, &rlen));
    assert_bytes_equal(rec, rlen, before, before_len);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    free(before);
    /* and not after a restart either, nor once active */
    start_ok();
    check_error_frame(fx_call_tag(&mod, SELLO_OP_INIT, 0x1717, t.buf, t.w.len),
                      SELLO_ERR_STATE, 0x1717);
    board_mem_reset();
    make_active();
    check_error_frame(fx_call_tag(&mod, SELLO_OP_INIT, 0x1718, t.buf, t.w.len),
                      SELLO_ERR_STATE, 0x1718);
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
}

static void test_init_storage_failure(void **state)
{
    (void)state;
    start_ok();
    fx_tlv t;
    fx_tlv_init_subject(&t);
    board_mem_fail_writes_after(1);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_ERR_STORAGE);
    assert_int_equal(module_state(), SELLO_STATE_UNINITIALISED);
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0).status,
                     SELLO_ERR_STATE);
    /* the fault cleared: INIT works */
    assert_int_equal(fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len).status,
                     SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
}

/* The STATUS reply's payload, copied to out (SELLO_PAYLOAD_MAX). */
static size_t status_copy(uint8_t *out)
{
    fx_resp r = fx_call(&mod, SELLO_OP_STATUS, NULL, 0);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    memcpy(out, r.payload, r.len);
    return r.len;
}

/* The value of item `type` of the stored unit record (a TLV list, see
 * firmware/unit.h), walked here rather than by the firmware's parser;
 * false when the record or the item is absent. */
static bool unit_record_item(uint8_t type, const uint8_t **v, size_t *n)
{
    const uint8_t *rec;
    size_t len;
    if (!board_mem_record_get(SELLO_NV_UNIT, &rec, &len))
        return false;
    sello_tlv_reader r = { rec, rec + len };
    uint8_t t;
    while (sello_tlv_next(&r, &t, v, n) == 1)
        if (t == type)
            return true;
    return false;
}

/* Subject and custody, without the test-unit mark: a production
 * ceremony's list. */
static void unmarked_init_list(fx_tlv *t)
{
    fx_tlv_init(t);
    sello_tlv_put(&t->w, SELLO_INIT_SUBJECT, fx_subject, fx_subject_len);
    fx_tlv_put_custody(t, FX_CUSTODIANS, FX_THRESHOLD);
}

/*
 * A simulation board (the test board is one) makes test units only: INIT
 * without the test-unit mark is refused before anything of the ceremony
 * happens and leaves no trace (no record written, no audit record, the
 * same STATUS). Marked, the unit is a test unit for the life of its key.
 */
static void test_init_simulation_needs_test_unit(void **state)
{
    (void)state;
    start_ok();
    uint64_t v;
    assert_true(fx_status_field(&mod, SELLO_ST_SIMULATION, &v));
    assert_int_equal(v, 1);
    /* (the first STATUS after a start records the clock's state) */
    static uint8_t before[SELLO_PAYLOAD_MAX], after[SELLO_PAYLOAD_MAX];
    size_t before_len = status_copy(before);
    before_len = status_copy(before);
    unsigned long writes = board_mem_write_count();
    size_t logged = fx_audit_log_len;

    fx_tlv t;
    unmarked_init_list(&t);
    fx_resp r = fx_call_tag(&mod, SELLO_OP_INIT, 0x7e57, t.buf, t.w.len);
    check_error_frame(r, SELLO_ERR_TEST_ONLY, 0x7e57); /* no audit records */
    assert_non_null(memmem(r.payload, r.len, "test unit", 9));
    assert_int_equal(board_mem_write_count(), writes);
    const uint8_t *rec;
    size_t rlen;
    assert_false(board_mem_record_get(SELLO_NV_UNIT, &rec, &rlen));
    assert_int_equal(fx_audit_log_len, logged);
    size_t after_len = status_copy(after);
    assert_bytes_equal(after, after_len, before, before_len);
    /* a mark of 0, given explicitly, is the same */
    sello_tlv_put_u8(&t.w, SELLO_INIT_TEST_UNIT, 0);
    check_error_frame(fx_call_tag(&mod, SELLO_OP_INIT, 0x7e58, t.buf, t.w.len),
                      SELLO_ERR_TEST_ONLY, 0x7e58);
    assert_int_equal(board_mem_write_count(), writes);
    assert_int_equal(fx_audit_log_len, logged);
    after_len = status_copy(after);
    assert_bytes_equal(after, after_len, before, before_len);
    /* nothing of a ceremony lingers: no key for a CSR */
    check_error_frame(fx_call_tag(&mod, SELLO_OP_GET_CSR, 0x600d, NULL, 0),
                      SELLO_ERR_STATE, 0x600d);

    /* marked, the same ceremony makes a test unit */
    fx_tlv_init_subject(&t);
    r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    assert_int_equal(fx_take_init_reply(r.payload, r.len, NULL, NULL),
                     FX_CUSTODIANS);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 1);
    const uint8_t *item;
    size_t n;
    assert_true(unit_record_item(SELLO_INIT_TEST_UNIT, &item, &n));
    assert_int_equal(n, 1);
    assert_int_equal(item[0], 1);
    /* for its whole life: after a restart, and unlocked by the quorum */
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 1);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 1);
}

/*
 * A board that is no simulation needs no mark: its units are no test
 * units, and say so (STATUS 0, the record's item written as 0, not left
 * out). An operator may still mark a test unit there.
 */
static void test_init_production_board(void **state)
{
    (void)state;
    board_mem_set_simulation(false);
    start_ok();
    uint64_t v;
    assert_true(fx_status_field(&mod, SELLO_ST_SIMULATION, &v));
    assert_int_equal(v, 0);
    assert_false(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    fx_tlv t;
    unmarked_init_list(&t);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 0);
    const uint8_t *item;
    size_t n;
    assert_true(unit_record_item(SELLO_INIT_TEST_UNIT, &item, &n));
    assert_int_equal(n, 1);
    assert_int_equal(item[0], 0);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 0);

    board_mem_reset();
    board_mem_set_simulation(false);
    start_ok();
    fx_tlv_init_subject(&t);
    assert_int_equal(fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len).status,
                     SELLO_OK);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 1);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 1);
}

/* ---- CSR -------------------------------------------------------------------------- */

typedef struct {
    fx_cur cri;      /* complete CertificationRequestInfo */
    fx_cur subject;  /* complete Name */
    fx_cur spki;     /* complete SubjectPublicKeyInfo */
    fx_cur sig_alg;  /* OID content */
    fx_cur sig;      /* BIT STRING content without the unused-bits octet */
} csr_parts;

static csr_parts parse_csr(const uint8_t *der, size_t len)
{
    csr_parts c;
    fx_cur in = { der, der + len }, req, cri, x, alg, bits;
    assert_true(fx_der_next(&in, 0x30, &req, NULL));
    assert_true(in.p == in.end);
    assert_true(fx_der_next(&req, 0x30, &cri, &c.cri));
    assert_true(fx_der_next(&cri, 0x02, &x, NULL));
    assert_true(fx_len(&x) == 1 && x.p[0] == 0); /* version v1(0) */
    assert_true(fx_der_next(&cri, 0x30, NULL, &c.subject));
    assert_true(fx_der_next(&cri, 0x30, NULL, &c.spki));
    assert_true(fx_der_next(&cri, 0xa0, &x, NULL));
    assert_true(fx_len(&x) == 0); /* no attributes */
    assert_true(cri.p == cri.end);
    assert_true(fx_der_next(&req, 0x30, &alg, NULL));
    assert_true(fx_der_next(&alg, 0x06, &c.sig_alg, NULL));
    assert_true(fx_der_next(&req, 0x03, &bits, NULL));
    assert_true(req.p == req.end);
    assert_true(fx_len(&bits) > 1 && bits.p[0] == 0);
    c.sig.p = bits.p + 1;
    c.sig.end = bits.end;
    return c;
}

static void test_csr_verifies(void **state)
{
    (void)state;
    start_ok();
    fx_tlv t;
    fx_tlv_init_subject(&t);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    uint8_t spki[128];
    size_t spki_len = 0;
    assert_int_equal(fx_take_init_reply(r.payload, r.len, spki, &spki_len),
                     FX_CUSTODIANS);

    r = fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0);
    assert_int_equal(r.status, SELLO_OK);
    static uint8_t csr[4096];
    size_t csr_len = r.len;
    memcpy(csr, r.payload, csr_len);
    csr_parts c = parse_csr(csr, csr_len);
    assert_bytes_equal(c.subject.p, fx_len(&c.subject), fx_subject,
                       fx_subject_len);
    assert_bytes_equal(c.spki.p, fx_len(&c.spki), spki, spki_len);
    assert_bytes_equal(c.sig_alg.p, fx_len(&c.sig_alg),
                       "\x2a\x86\x48\xce\x3d\x04\x03\x02", 8);
    uint8_t digest[32];
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, c.cri.p, fx_len(&c.cri));
    br_sha256_out(&h, digest);
    br_ec_public_key pk = ec_key_of(spki, spki_len);
    assert_int_equal(br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(),
                                                      digest, 32, &pk, c.sig.p,
                                                      fx_len(&c.sig)), 1);
    /* tampering with the request info breaks it */
    csr[(size_t)(c.subject.p - csr) + 12] ^= 0x01;
    br_sha256_init(&h);
    br_sha256_update(&h, c.cri.p, fx_len(&c.cri));
    br_sha256_out(&h, digest);
    assert_int_equal(br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(),
                                                      digest, 32, &pk, c.sig.p,
                                                      fx_len(&c.sig)), 0);
}

/* P-384: ecdsa-with-SHA384 over the request info, verified with BearSSL. */
static void test_csr_p384_verifies(void **state)
{
    (void)state;
    start_ok();
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u8(&t.w, SELLO_INIT_KEY_TYPE, SELLO_KEY_P384);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    uint8_t spki[160];
    size_t spki_len = 0;
    assert_int_equal(fx_take_init_reply(r.payload, r.len, spki, &spki_len),
                     FX_CUSTODIANS);
    assert_int_equal(spki_len, 120);
    uint64_t v;
    assert_true(fx_status_field(&mod, SELLO_ST_SIG_HASH, &v));
    assert_int_equal(v, SELLO_HASH_SHA384);
    r = fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0);
    assert_int_equal(r.status, SELLO_OK);
    csr_parts c = parse_csr(r.payload, r.len);
    assert_bytes_equal(c.spki.p, fx_len(&c.spki), spki, spki_len);
    assert_bytes_equal(c.sig_alg.p, fx_len(&c.sig_alg),
                       "\x2a\x86\x48\xce\x3d\x04\x03\x03", 8);
    fx_cur in = { spki, spki + spki_len }, body, bits;
    assert_true(fx_der_next(&in, 0x30, &body, NULL));
    assert_true(fx_der_next(&body, 0x30, NULL, NULL));
    assert_true(fx_der_next(&body, 0x03, &bits, NULL));
    assert_true(fx_len(&bits) == 98 && bits.p[0] == 0 && bits.p[1] == 4);
    br_ec_public_key pk = { BR_EC_secp384r1, (unsigned char *)bits.p + 1, 97 };
    uint8_t digest[48];
    br_sha384_context h;
    br_sha384_init(&h);
    br_sha384_update(&h, c.cri.p, fx_len(&c.cri));
    br_sha384_out(&h, digest);
    assert_int_equal(br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(),
                                                      digest, 48, &pk, c.sig.p,
                                                      fx_len(&c.sig)), 1);
}

/* RSA: sha384WithRSAEncryption as configured, verified with BearSSL. */
static void test_csr_rsa2048_verifies(void **state)
{
    (void)state;
    start_ok();
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u8(&t.w, SELLO_INIT_KEY_TYPE, SELLO_KEY_RSA2048);
    sello_tlv_put_u8(&t.w, SELLO_INIT_SIG_HASH, SELLO_HASH_SHA384);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    static uint8_t spki[600];
    size_t spki_len = 0;
    assert_int_equal(fx_take_init_reply(r.payload, r.len, spki, &spki_len),
                     FX_CUSTODIANS);
    r = fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0);
    assert_int_equal(r.status, SELLO_OK);
    csr_parts c = parse_csr(r.payload, r.len);
    assert_bytes_equal(c.spki.p, fx_len(&c.spki), spki, spki_len);
    assert_bytes_equal(c.sig_alg.p, fx_len(&c.sig_alg),
                       "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c", 9);
    /* RSAPublicKey from the SPKI */
    fx_cur in = { spki, spki + spki_len }, body, bits, rsa, n, e;
    assert_true(fx_der_next(&in, 0x30, &body, NULL));
    assert_true(fx_der_next(&body, 0x30, NULL, NULL));
    assert_true(fx_der_next(&body, 0x03, &bits, NULL));
    bits.p++;
    assert_true(fx_der_next(&bits, 0x30, &rsa, NULL));
    assert_true(fx_der_next(&rsa, 0x02, &n, NULL));
    assert_true(fx_der_next(&rsa, 0x02, &e, NULL));
    if (n.p[0] == 0)
        n.p++;
    assert_int_equal(fx_len(&n), 256);
    br_rsa_public_key pk = { (unsigned char *)n.p, fx_len(&n),
                             (unsigned char *)e.p, fx_len(&e) };
    uint8_t digest[48], recovered[48];
    br_sha384_context h;
    br_sha384_init(&h);
    br_sha384_update(&h, c.cri.p, fx_len(&c.cri));
    br_sha384_out(&h, digest);
    assert_int_equal(fx_len(&c.sig), 256);
    assert_true(br_rsa_pkcs1_vrfy_get_default()(c.sig.p, fx_len(&c.sig),
                                                BR_HASH_OID_SHA384, 48, &pk,
                                                recovered));
    assert_memory_equal(recovered, digest, 48);
    /* after a restart (and the quorum) the unit still has the same RSA
     * key */
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    r = fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0);
    assert_int_equal(r.status, SELLO_OK);
    assert_non_null(memmem(r.payload, r.len, spki, spki_len));
}

static void test_ops_before_init(void **state)
{
    (void)state;
    start_ok();
    check_error_frame(fx_call_tag(&mod, SELLO_OP_GET_CSR, 1, NULL, 0),
                      SELLO_ERR_STATE, 1);
    check_error_frame(fx_call_tag(&mod, SELLO_OP_GET_CERTS, 2, NULL, 0),
                      SELLO_ERR_STATE, 2);
    static uint8_t certs[4096];
    size_t len = fx_load_certs("tsu.der", certs, sizeof certs);
    check_error_frame(fx_call_tag(&mod, SELLO_OP_LOAD_CERT, 3, certs, len),
                      SELLO_ERR_STATE, 3);
    assert_int_equal(module_state(), SELLO_STATE_UNINITIALISED);
}

/* ---- LOAD_CERT -------------------------------------------------------------------- */

static void test_load_cert_ok(void **state)
{
    (void)state;
    static const char *good[] = { "tsu.der", "tsu.der ca.der",
                                  "tsu-rsa-ca.der ca-rsa.der",
                                  "tsu-expired.der" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        board_mem_reset();
        make_initialised();
        static uint8_t certs[4096];
        size_t len = fx_load_certs(good[i], certs, sizeof certs);
        fx_resp r = fx_call(&mod, SELLO_OP_LOAD_CERT, certs, len);
        if (r.status != SELLO_OK)
            print_error("%s refused: %.*s\n", good[i], (int)r.len, r.payload);
        assert_int_equal(r.status, SELLO_OK);
        assert_int_equal(r.len, 0);
        /* certified, and still waiting for the custodians */
        assert_int_equal(module_state(), SELLO_STATE_READY);
        r = fx_call(&mod, SELLO_OP_GET_CERTS, NULL, 0);
        assert_int_equal(r.status, SELLO_OK);
        assert_bytes_equal(r.payload, r.len, certs, len);
        /* and after a restart, READY again */
        assert_int_equal(sello_module_start(&mod), SELLO_OK);
        assert_int_equal(module_state(), SELLO_STATE_READY);
        assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                         SELLO_OK);
        assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
    }
}

typedef struct {
    const char *name;
    const char *files;   /* under test/data/certs/ */
    int mutate;          /* 0 none, 1 drop last octet, 2 append 00,
                            3 flip a signature octet, 4 pad to 8192 */
} refusal;

static const refusal refusals[] = {
    { "another_key", "tsu-other-key.der", 0 },
    { "eku_not_critical", "tsu-eku-noncritical.der", 0 },
    { "eku_timestamping_plus_codesigning", "tsu-eku-multi.der", 0 },
    { "eku_absent", "tsu-no-eku.der", 0 },
    { "x509_v1", "tsu-v1.der", 0 },
    { "issuer_did_not_sign", "tsu.der ca-twin.der", 0 },
    { "issuer_name_differs", "tsu.der ca-other.der", 0 },
    { "issuer_rsa_name_differs", "tsu.der ca-rsa.der", 0 },
    { "issuer_before_tsu", "ca.der tsu.der", 0 },
    { "ca_certificate_only", "ca.der", 0 },
    { "three_certificates", "tsu.der ca.der ca.der", 0 },
    { "garbage", "garbage.bin", 0 },
    { "truncated", "tsu.der", 1 },
    { "trailing_octet", "tsu.der", 2 },
    { "signature_flipped_with_issuer", "tsu.der ca.der", 3 },
    { "oversized_payload", "tsu.der", 4 },
    { "empty_payload", "", 0 },
};

static size_t refusal_payload(const refusal *f, uint8_t *buf, size_t cap)
{
    size_t len = f->files[0] ? fx_load_certs(f->files, buf, cap) : 0;
    if (f->files[0])
        assert_true(len > 0);
    switch (f->mutate) {
    case 1:
        len--;
        break;
    case 2:
        buf[len++] = 0;
        break;
    case 3: {
        /* the TSU certificate's signature BIT STRING ends the first
         * certificate: flip its last octet */
        size_t first = (size_t)((buf[2] << 8 | buf[3]) + 4);
        buf[first - 1] ^= 0x01;
        break;
    }
    case 4:
        memset(buf + len, 0, SELLO_PAYLOAD_MAX - len);
        len = SELLO_PAYLOAD_MAX;
        break;
    }
    return len;
}

/* A refused certificate leaves the module exactly as it was: in
 * INITIALISED with nothing stored, and in ACTIVE still serving with the
 * certificate loaded before. */
static void test_load_cert_refused(void **state)
{
    const refusal *f = *state;
    static uint8_t buf[SELLO_PAYLOAD_MAX], before[SELLO_PAYLOAD_MAX];
    size_t len;

    /* INITIALISED */
    make_initialised();
    set_time_ok(T0);
    len = refusal_payload(f, buf, sizeof buf);
    fx_resp r = fx_call_tag(&mod, SELLO_OP_LOAD_CERT, 0x4c43, buf, len);
    check_error_frame(r, SELLO_ERR_CERT, 0x4c43);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    const uint8_t *rec;
    size_t rlen;
    assert_false(board_mem_record_get(SELLO_NV_CERTS, &rec, &rlen));
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CERTS, NULL, 0).status,
                     SELLO_ERR_STATE);
    expect_refused(stamp(), 25);
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);

    /* ACTIVE with tsu.der */
    board_mem_reset();
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    set_time_ok(T0);
    r = fx_call(&mod, SELLO_OP_GET_CERTS, NULL, 0);
    assert_int_equal(r.status, SELLO_OK);
    size_t before_len = r.len;
    memcpy(before, r.payload, r.len);
    stamp_result s1 = stamp();
    assert_true(s1.granted);
    len = refusal_payload(f, buf, sizeof buf);
    r = fx_call_tag(&mod, SELLO_OP_LOAD_CERT, 0x4c44, buf, len);
    check_error_frame(r, SELLO_ERR_CERT, 0x4c44);
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
    r = fx_call(&mod, SELLO_OP_GET_CERTS, NULL, 0);
    assert_bytes_equal(r.payload, r.len, before, before_len);
    assert_true(board_mem_record_get(SELLO_NV_CERTS, &rec, &rlen));
    assert_bytes_equal(rec, rlen, before, before_len);
    /* tokens still name the old certificate */
    uint8_t req[128];
    size_t rl = make_request(req, 3, NULL, 0, true);
    board_mem_advance_ms(10);
    r = fx_call(&mod, SELLO_OP_STAMP, req, rl);
    fx_tsr t = fx_parse_tsr(r.payload, r.len);
    assert_true(t.ok && t.status == 0 && t.has_certs);
    assert_bytes_equal(t.certs.p, fx_len(&t.certs), before, before_len);
    assert_true(fx_serial_u64(&t) > s1.serial);
}

static void test_load_cert_storage_failure(void **state)
{
    (void)state;
    static uint8_t certs[4096];
    size_t len = fx_load_certs("tsu.der ca.der", certs, sizeof certs);
    /* INITIALISED: the certificate is not stored, the unit stays put */
    make_initialised();
    board_mem_fail_writes_after(1);
    fx_resp r = fx_call(&mod, SELLO_OP_LOAD_CERT, certs, len);
    assert_int_equal(r.status, SELLO_ERR_STORAGE);
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    set_time_ok(T0);
    expect_refused(stamp(), 25);
    assert_int_equal(fx_call(&mod, SELLO_OP_LOAD_CERT, certs, len).status,
                     SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_READY);

    /* ACTIVE with tsu.der alone: replacing it fails, the old one stays */
    board_mem_reset();
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    set_time_ok(T0);
    board_mem_fail_writes_after(1);
    r = fx_call(&mod, SELLO_OP_LOAD_CERT, certs, len);
    assert_int_equal(r.status, SELLO_ERR_STORAGE);
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
    size_t tsu_len;
    uint8_t *tsu = tu_load("certs/tsu.der", &tsu_len);
    r = fx_call(&mod, SELLO_OP_GET_CERTS, NULL, 0);
    assert_bytes_equal(r.payload, r.len, tsu, tsu_len);
    free(tsu);
    assert_true(stamp().granted);
}

/* ---- SET_TIME --------------------------------------------------------------------- */

static void test_set_time_twice(void **state)
{
    (void)state;
    make_active();
    board_mem_advance_ms(5000);
    /* SET_TIME is retired: only the quorum calibrates */
    uint8_t later[8];
    sello_put_be64(later, T0 + 3600000);
    check_error_frame(fx_call_tag(&mod, SELLO_OP_SET_TIME, 0x5454, later, 8),
                      SELLO_ERR_STATE, 0x5454);
    uint64_t utc = 0;
    assert_true(fx_status_field(&mod, SELLO_ST_UTC_MS, &utc));
    assert_int_equal(utc, T0 + 5000);
    stamp_result s = stamp();
    assert_true(s.granted);
    assert_int_equal(s.gen_ms, T0 + 5000);
    /* the quorum steps it back an hour: nothing is issued before the clock
     * has passed the time already handed out */
    set_time_ok(T0 - 3600000);
    expect_refused(stamp(), 14);
}

static void test_set_time_range(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    static const uint64_t bad[] = { 0, 1, CLOCK_MIN_MS - 1, CLOCK_MAX_MS + 1,
                                    UINT64_MAX, 1ull << 63 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_resp r = fx_calibrate(&mod, bad[i]);
        assert_int_equal(r.status, SELLO_ERR_PARAM);
        uint64_t clock = 9;
        assert_true(fx_status_field(&mod, SELLO_ST_CLOCK, &clock));
        assert_int_equal(clock, SELLO_CLOCK_UNCALIBRATED);
    }
    /* wrong sizes */
    static const uint8_t bytes[16] = { 0 };
    static const size_t lens[] = { 0, 1, 7, 9, 16 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        assert_int_equal(fx_call(&mod, SELLO_OP_SET_TIME, bytes, lens[i]).status,
                         SELLO_ERR_STATE);
    expect_refused(stamp(), 14);
    /* both bounds are accepted */
    set_time_ok(CLOCK_MIN_MS);
    start_ok();
    set_time_ok(CLOCK_MAX_MS);
    uint64_t utc = 0;
    assert_true(fx_status_field(&mod, SELLO_ST_UTC_MS, &utc));
    assert_int_equal(utc, CLOCK_MAX_MS);
}

/* ---- serial numbers ------------------------------------------------------------------ */

static void test_serials_strictly_increasing(void **state)
{
    (void)state;
    make_active();
    uint64_t last_serial = 0, last_ms = 0;
    static const unsigned steps[] = { 0, 0, 1, 199, 200, 201, 0, 999, 3, 0 };
    for (int i = 0; i < 200; i++) {
        board_mem_advance_ms(steps[i % 10]);
        stamp_result s = stamp();
        assert_true(s.granted);
        assert_true(s.serial > last_serial);
        assert_true(s.gen_ms >= last_ms);
        /* consecutive, but where a new reservation starts a new block */
        if (s.serial != last_serial + 1)
            assert_int_equal((s.serial - 1) % SELLO_SERIAL_BLOCK, 0);
        last_serial = s.serial;
        last_ms = s.gen_ms;
    }
}

/* Restarts resume above every serial issued before, however many. */
static void test_serials_across_restarts(void **state)
{
    (void)state;
    make_active();
    uint64_t last_serial = 0, last_ms = 0, now = T0;
    for (int run = 0; run < 12; run++) {
        if (run) {
            start_ok();
            assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
            now += 1000;
            set_time_ok(now);
        }
        for (int i = 0; i < 3 + run % 4; i++) {
            board_mem_advance_ms(50);
            now += 50;
            stamp_result s = stamp();
            assert_true(s.granted);
            assert_true(s.serial > last_serial);
            assert_true(s.gen_ms >= last_ms);
            last_serial = s.serial;
            last_ms = s.gen_ms;
        }
    }
    uint64_t next = 0;
    assert_true(fx_status_field(&mod, SELLO_ST_NEXT_SERIAL, &next));
    assert_true(next > last_serial);
}

/* One storage write reserves a whole block of serials for a short time
 * lease; tokens within the lease cost no write. */
static void test_serial_writes_per_lease(void **state)
{
    (void)state;
    make_active();
    unsigned long w0 = board_mem_write_count();
    for (int i = 0; i < 50; i++)
        assert_true(stamp().granted); /* all at T0 */
    assert_int_equal(board_mem_write_count() - w0, 1);
    board_mem_advance_ms(SELLO_TIME_LEASE_MS);
    assert_true(stamp().granted); /* at the lease's end: still covered */
    assert_int_equal(board_mem_write_count() - w0, 1);
    board_mem_advance_ms(PRECISION_MS);
    assert_true(stamp().granted); /* past it: a new reservation */
    assert_int_equal(board_mem_write_count() - w0, 2);
}

/* A reservation that cannot be made durable gives no token; once storage
 * works again issuing goes on, and no serial is ever handed out twice,
 * in this run or after a restart. */
static void test_serial_reservation_write_failure(void **state)
{
    (void)state;
    make_active();
    stamp_result s1 = stamp();
    assert_true(s1.granted);
    /* next stamp must write */
    board_mem_advance_ms(SELLO_TIME_LEASE_MS + PRECISION_MS);
    unsigned long ok_writes = board_mem_write_ok_count();
    board_mem_fail_writes_after(1);
    size_t logged = fx_audit_log_len;
    stamp_result s2 = stamp();
    expect_refused(s2, 25);
    assert_int_equal(board_mem_write_ok_count(), ok_writes);
    /* and the audit chain says so */
    bool error_recorded = false;
    for (size_t off = logged; off + SELLO_AUDIT_HEADER_LEN <= fx_audit_log_len;
         off += SELLO_AUDIT_HEADER_LEN + sello_get_be16(fx_audit_log + off + 2))
        if (fx_audit_log[off + 1] == SELLO_AUDIT_ERROR &&
            fx_audit_log[off + SELLO_AUDIT_HEADER_LEN] == SELLO_ERR_STORAGE &&
            memmem(fx_audit_log + off, SELLO_AUDIT_HEADER_LEN +
                       sello_get_be16(fx_audit_log + off + 2),
                   "serial reservation failed", 25))
            error_recorded = true;
    assert_true(error_recorded);
    uint64_t tokens = 0;
    assert_true(fx_status_field(&mod, SELLO_ST_TOKENS, &tokens));
    assert_int_equal(tokens, 1);
    /* persistent fault: every attempt is refused, nothing issued */
    board_mem_fail_all_writes(true);
    for (int i = 0; i < 5; i++)
        expect_refused(stamp(), 25);
    board_mem_fail_all_writes(false);
    stamp_result s3 = stamp();
    assert_true(s3.granted);
    assert_true(s3.serial > s1.serial);
    start_ok();
    set_time_ok(T0 + 10000);
    stamp_result s4 = stamp();
    assert_true(s4.granted);
    assert_true(s4.serial > s3.serial);
}

/*
 * Power loss at every storage write (after MCUboot's simulator): a
 * scenario of stamps with the clock moving on is run once per write it
 * makes; in run k the k-th write is lost (the record keeps its old
 * contents, as an atomic write interrupted by power loss does) or
 * completes and power is lost right after it, and the module restarts
 * from its records with the host setting the true time. Across all of it
 * serial numbers strictly increase and genTime never goes backwards.
 */
static uint64_t pristine_counter;

static unsigned power_loss_scenario(unsigned k, bool lose_write,
                                    const board_mem_records *pristine,
                                    unsigned *writes_seen)
{
    /* The same device each run: its records and its board counter. */
    board_mem_restore(pristine);
    board_mem_set_counter(pristine_counter);
    board_mem_fail_writes_after(0);
    board_mem_fail_all_writes(false);
    uint64_t now = T0;
    board_mem_set_ticks(1000000);
    start_ok();
    set_time_ok(now);
    unsigned long w0 = board_mem_write_count();
    if (lose_write)
        board_mem_fail_writes_after(k);
    uint64_t last_serial = 0, last_ms = 0;
    unsigned granted = 0, restarts = 0;
    /* ~2.2 stamps per time lease: a reservation every two or three */
    const uint64_t step = SELLO_TIME_LEASE_MS * 9 / 20;
    for (int i = 0; i < 24; i++) {
        board_mem_advance_ms(step);
        now += step;
        unsigned long before = board_mem_write_count();
        stamp_result s = stamp();
        unsigned long after = board_mem_write_count();
        if (s.granted) {
            if (s.serial <= last_serial || s.gen_ms < last_ms)
                print_error("k=%u lose=%d step %d: serial %llu after %llu, "
                            "genTime %llu after %llu\n", k, lose_write, i,
                            (unsigned long long)s.serial,
                            (unsigned long long)last_serial,
                            (unsigned long long)s.gen_ms,
                            (unsigned long long)last_ms);
            assert_true(s.serial > last_serial);
            assert_true(s.gen_ms >= last_ms);
            last_serial = s.serial;
            last_ms = s.gen_ms;
            granted++;
        } else {
            /* only a lost write or the post-restart time floor refuse */
            assert_true(s.fail_bit == 25 || s.fail_bit == 14);
        }
        bool hit = before - w0 < k && after - w0 >= k;
        if (hit) {
            restarts++;
            start_ok();
            set_time_ok(now);
        }
    }
    assert_true(granted >= 18);
    assert_true(restarts <= 1);
    *writes_seen = (unsigned)(board_mem_write_count() - w0);
    return restarts;
}

static void test_serial_power_loss_every_write(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    static board_mem_records pristine;
    board_mem_snapshot(&pristine);
    pristine_counter = board_mem_get_counter();
    unsigned total = 0;
    /* a run without faults counts the writes */
    assert_int_equal(power_loss_scenario(1000, false, &pristine, &total), 0);
    assert_true(total >= 8);
    for (unsigned k = 1; k <= total; k++)
        for (int lose = 0; lose <= 1; lose++) {
            unsigned seen;
            /* the first k writes happen as in the run without faults, so
             * the k-th is always reached and power is always lost */
            assert_int_equal(power_loss_scenario(k, lose, &pristine, &seen), 1);
        }
}

/* The end of the counter space is refused, never wrapped. */
static void test_serial_exhausted(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    /* Every start saves the counters once (the audit chain's checkpoint),
     * taking an epoch: from one before the last, the start takes the last
     * and no block is left for a token. */
    const uint64_t last_epoch = UINT64_MAX / SELLO_SERIAL_BLOCK;
    assert_int_equal(fx_put_counters_record(last_epoch - 1, T0 - 1000),
                     SELLO_OK);
    start_ok();
    set_time_ok(T0);
    expect_refused(stamp(), 25);
    /* A device one epoch earlier (the board counter with it): one block
     * left, the last one. */
    board_mem_set_counter(0);
    assert_int_equal(sello_board_nv_erase(SELLO_NV_COUNTERS), SELLO_OK);
    assert_int_equal(fx_put_counters_record(last_epoch - 2, T0 - 1000),
                     SELLO_OK);
    start_ok();
    set_time_ok(T0);
    stamp_result s = stamp();
    assert_true(s.granted);
    assert_int_equal(s.serial, (last_epoch - 1) * SELLO_SERIAL_BLOCK + 1);
}

/* The TSU instance number sits above the 64-bit counter. */
static void test_serial_instance(void **state)
{
    (void)state;
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u32(&t.w, SELLO_INIT_INSTANCE, 0x80000001u);
    assert_int_equal(fx_make_unit(&mod, t.buf, t.w.len, "tsu.der"), SELLO_OK);
    set_time_ok(T0);
    uint8_t req[128];
    size_t len = make_request(req, 1, NULL, 0, false);
    fx_resp r = fx_call(&mod, SELLO_OP_STAMP, req, len);
    fx_tsr tsr = fx_parse_tsr(r.payload, r.len);
    assert_true(tsr.ok && tsr.status == 0);
    /* the instance in the high 32 bits, above the 64-bit counter */
    assert_int_equal(tsr.serial_len, 13);
    assert_memory_equal(tsr.serial, "\x00\x80\x00\x00\x01", 5);
    assert_int_equal((sello_get_be64(tsr.serial + 5) - 1) % SELLO_SERIAL_BLOCK,
                     0);
}

/* After a restart no token is issued before the clock has passed the
 * previous run's time floor, so genTime never goes backwards. */
static void test_restart_clock_behind_floor(void **state)
{
    (void)state;
    make_active();
    board_mem_advance_ms(500);
    stamp_result s1 = stamp();
    assert_true(s1.granted);
    assert_int_equal(s1.gen_ms, T0 + 500);

    start_ok();
    set_time_ok(T0 - 5000); /* the host sets a time 5.5 s in the past */
    expect_refused(stamp(), 14);
    board_mem_advance_ms(5500); /* now exactly at the last genTime */
    expect_refused(stamp(), 14);
    board_mem_advance_ms(SELLO_TIME_LEASE_MS - 1);
    expect_refused(stamp(), 14);
    board_mem_advance_ms(1); /* at the floor */
    stamp_result s2 = stamp();
    assert_true(s2.granted);
    assert_true(s2.gen_ms >= s1.gen_ms);
    assert_true(s2.serial > s1.serial);
}

/* ---- tampered records and secrets -------------------------------------------------- */

static void expect_error_state(void)
{
    assert_int_equal(module_state(), SELLO_STATE_ERROR);
    fx_resp r = fx_calibrate(&mod, T0);
    (void)r; /* the clock may or may not be settable; STAMP must refuse */
    expect_refused(stamp(), 25);
    fx_tlv t;
    fx_tlv_init_subject(&t);
    assert_int_equal(fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len).status,
                     SELLO_ERR_STATE);
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0).status,
                     SELLO_ERR_STATE);
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CERTS, NULL, 0).status,
                     SELLO_ERR_STATE);
}

static void test_records_tampered_unit(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    size_t len;
    uint8_t *rec = board_mem_record_mut(SELLO_NV_UNIT, &len);
    assert_non_null(rec);
    rec[len - 20] ^= 0x01; /* inside the sealed key */
    assert_int_equal(sello_module_start(&mod), SELLO_ERR_STORAGE);
    expect_error_state();
}

/* Any single changed octet anywhere in the unit record, and any
 * truncation, stops the unit from starting. */
static void test_records_tampered_unit_every_octet(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    const uint8_t *rec;
    size_t len;
    assert_true(board_mem_record_get(SELLO_NV_UNIT, &rec, &len));
    uint8_t *orig = malloc(len);
    memcpy(orig, rec, len);
    static const uint8_t flips[] = { 0x01, 0x80, 0xff };
    for (size_t i = 0; i < len; i++)
        for (size_t f = 0; f < sizeof flips; f++) {
            uint8_t *copy = malloc(len);
            memcpy(copy, orig, len);
            copy[i] ^= flips[f];
            assert_true(board_mem_record_put(SELLO_NV_UNIT, copy, len));
            free(copy);
            if (sello_module_start(&mod) == SELLO_OK) {
                print_error("started with octet %zu ^ %02x\n", i, flips[f]);
                fail();
            }
        }
    for (size_t cut = 0; cut < len; cut++) {
        assert_true(board_mem_record_put(SELLO_NV_UNIT, orig, cut));
        if (sello_module_start(&mod) == SELLO_OK) {
            print_error("started with the record cut to %zu octets\n", cut);
            fail();
        }
    }
    /* the original still works */
    assert_true(board_mem_record_put(SELLO_NV_UNIT, orig, len));
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
    free(orig);
}

static void test_records_garbage_certs(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    assert_true(board_mem_record_put(SELLO_NV_CERTS, (const uint8_t *)"junk", 4));
    assert_true(sello_module_start(&mod) != SELLO_OK);
    expect_error_state();
}

static void test_records_garbage_serial(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    static const char *bad[] = { "", "01", "02 0000000000001000 0000019b0b3b2800",
                                 "01 0000000000000000 0000019b0b3b2800",
                                 "01 0000000000001000 0000019b0b3b2800 00" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t rec[32];
        size_t n = tu_hex(bad[i], rec, sizeof rec);
        assert_true(board_mem_record_put(SELLO_NV_COUNTERS, rec, n));
        assert_true(sello_module_start(&mod) != SELLO_OK);
        expect_error_state();
    }
}

/*
 * The serial record is as much the module's as the unit record: one
 * rewritten behind its back (here: the reserved end moved back to the
 * start, as a host with access to the storage could do) must not make the
 * module hand out a serial again.
 */
static void test_records_forged_serial_record(void **state)
{
    (void)state;
    make_active();
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        stamp_result s = stamp();
        assert_true(s.granted);
        last = s.serial;
    }
    uint8_t rec[17] = { 1 };
    sello_put_be64(rec + 1, 1);        /* reserved end: serial 1 again */
    sello_put_be64(rec + 9, T0 - 60000); /* and a floor a minute back */
    assert_true(board_mem_record_put(SELLO_NV_COUNTERS, rec, sizeof rec));
    sello_status st = sello_module_start(&mod);
    if (st == SELLO_OK) {
        set_time_ok(T0 - 30000);
        stamp_result s = stamp();
        if (s.granted)
            print_error("serial %llu issued again (last was %llu) with genTime "
                        "%llu, 30 s before one already issued\n",
                        (unsigned long long)s.serial, (unsigned long long)last,
                        (unsigned long long)s.gen_ms);
        assert_false(s.granted && s.serial <= last);
    }
}

/* The same with the serial record removed: a unit that has a key must not
 * start counting from 1 again because its serial record went missing. */
static void test_records_deleted_serial_record(void **state)
{
    (void)state;
    make_active();
    uint64_t last = 0, last_ms = 0;
    for (int i = 0; i < 5; i++) {
        board_mem_advance_ms(10);
        stamp_result s = stamp();
        assert_true(s.granted);
        last = s.serial;
        last_ms = s.gen_ms;
    }
    assert_int_equal(sello_board_nv_erase(SELLO_NV_COUNTERS), SELLO_OK);
    sello_status st = sello_module_start(&mod);
    if (st == SELLO_OK) {
        set_time_ok(T0 - 30000);
        stamp_result s = stamp();
        if (s.granted)
            print_error("serial %llu issued again (last was %llu), genTime "
                        "%llu before %llu already issued\n",
                        (unsigned long long)s.serial, (unsigned long long)last,
                        (unsigned long long)s.gen_ms,
                        (unsigned long long)last_ms);
        assert_false(s.granted && (s.serial <= last || s.gen_ms < last_ms));
    }
}

static void test_device_secret_changed(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    uint8_t mine[32], other[32];
    board_mem_get_device_secret(mine);
    memcpy(other, mine, sizeof other);
    other[31] ^= 0x01;
    board_mem_set_device_secret(other);
    assert_int_equal(sello_module_start(&mod), SELLO_ERR_STORAGE);
    expect_error_state();
    /* back on the right device the same records work */
    board_mem_set_device_secret(mine);
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
}

/* Records sealed by an independent implementation of the documented
 * format (test/data/unit/make-records.py, Python cryptography) load:
 * the module and the documentation agree on the unit record. */
static void test_records_independent_seal(void **state)
{
    (void)state;
    size_t len, spki_len;
    static uint8_t spki[1024];
    uint8_t *rec = tu_load("unit/record-p256.bin", &len);
    assert_true(board_mem_record_put(SELLO_NV_UNIT, rec, len));
    assert_true(fx_record_spki(rec, len, spki, sizeof spki, &spki_len));
    free(rec);
    /* the custodians' shares of the fixture's K for this unit:
     * generation 1, 2 of 3 */
    assert_int_equal(fx_make_shares(spki, spki_len, 1, 2, 3), SELLO_OK);
    assert_int_equal(fx_put_counters_record(1, 0), SELLO_OK);
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    static uint8_t certs[4096];
    size_t clen = fx_load_certs("tsu.der ca.der", certs, sizeof certs);
    assert_int_equal(fx_call(&mod, SELLO_OP_LOAD_CERT, certs, clen).status,
                     SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_READY);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, 2), SELLO_OK);
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
    set_time_ok(T0);
    assert_true(stamp().granted);

    board_mem_reset();
    rec = tu_load("unit/record-rsa2048.bin", &len);
    assert_true(board_mem_record_put(SELLO_NV_UNIT, rec, len));
    assert_true(fx_record_spki(rec, len, spki, sizeof spki, &spki_len));
    free(rec);
    assert_int_equal(fx_make_shares(spki, spki_len, 1, 2, 3), SELLO_OK);
    assert_int_equal(fx_put_counters_record(1, 0), SELLO_OK);
    start_ok();
    uint64_t v;
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    assert_true(fx_status_field(&mod, SELLO_ST_KEY_TYPE, &v));
    assert_int_equal(v, SELLO_KEY_RSA2048);
    assert_true(fx_status_field(&mod, SELLO_ST_SIG_HASH, &v));
    assert_int_equal(v, SELLO_HASH_SHA384);
    assert_true(fx_status_field(&mod, SELLO_ST_ACCURACY_MS, &v));
    assert_int_equal(v, 250);
    assert_true(fx_status_field(&mod, SELLO_ST_INSTANCE, &v));
    assert_int_equal(v, 7);
    assert_true(fx_status_field(&mod, SELLO_ST_QUALIFIED, &v));
    assert_int_equal(v, 1);
    assert_true(fx_status_field(&mod, SELLO_ST_THRESHOLD, &v));
    assert_int_equal(v, 2);
    assert_true(fx_status_field(&mod, SELLO_ST_CUSTODIANS, &v));
    assert_int_equal(v, 3);
    assert_true(fx_status_field(&mod, SELLO_ST_GENERATION, &v));
    assert_int_equal(v, 1);
    /* these records carry no test-unit item (make-records.py writes the
     * format as it was before the item existed): such a record is a test
     * unit's, never silently a production one */
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 1);
    /* locked until the quorum */
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0).status,
                     SELLO_ERR_STATE);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, 2), SELLO_OK);
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0).status, SELLO_OK);

    /* on a production board too */
    board_mem_reset();
    board_mem_set_simulation(false);
    rec = tu_load("unit/record-p256.bin", &len);
    assert_true(board_mem_record_put(SELLO_NV_UNIT, rec, len));
    free(rec);
    assert_int_equal(fx_put_counters_record(1, 0), SELLO_OK);
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_INITIALISED);
    assert_true(fx_status_field(&mod, SELLO_ST_SIMULATION, &v));
    assert_int_equal(v, 0);
    assert_true(fx_status_field(&mod, SELLO_ST_TEST_UNIT, &v));
    assert_int_equal(v, 1);
}

static void test_board_failures_at_start(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, "tsu.der"), SELLO_OK);
    board_mem_fail_device_secret(true);
    assert_true(sello_module_start(&mod) != SELLO_OK);
    expect_error_state();
    board_mem_fail_device_secret(false);
    board_mem_fail_entropy(true);
    assert_int_equal(sello_module_start(&mod), SELLO_ERR_ENTROPY);
    assert_int_equal(module_state(), SELLO_STATE_ERROR);
    board_mem_fail_entropy(false);
    board_mem_fail_reads(true);
    assert_true(sello_module_start(&mod) != SELLO_OK);
    board_mem_fail_reads(false);
    assert_int_equal(module_state(), SELLO_STATE_ERROR);
    start_ok();
    assert_int_equal(module_state(), SELLO_STATE_ACTIVE);
}

/* ---- STATUS and the status list ------------------------------------------------------- */

static void test_status_reply(void **state)
{
    (void)state;
    start_ok();
    fx_resp r = fx_call(&mod, SELLO_OP_STATUS, NULL, 0);
    assert_int_equal(r.status, SELLO_OK);
    /* a well-formed TLV list holding the fields of an empty unit */
    sello_tlv_reader rd = { r.payload, r.payload + r.len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    uint64_t seen = 0;
    int more;
    while ((more = sello_tlv_next(&rd, &type, &v, &n)) == 1) {
        assert_true(type < 64);
        seen |= 1ull << type;
    }
    assert_int_equal(more, 0);
    uint64_t want = 1ull << SELLO_ST_STATE | 1ull << SELLO_ST_FW_VERSION |
                    1ull << SELLO_ST_NEXT_SERIAL | 1ull << SELLO_ST_TOKENS |
                    1ull << SELLO_ST_CLOCK | 1ull << SELLO_ST_SIMULATION |
                    1ull << SELLO_ST_FAILURES | 1ull << SELLO_ST_TIME_DOUBT |
                    1ull << SELLO_ST_CLOCK_WHY | 1ull << SELLO_ST_SLEW_PPM |
                    1ull << SELLO_ST_DRIFT_PPM | 1ull << SELLO_ST_AUDIT_SEQ |
                    1ull << SELLO_ST_AUDIT_HEAD |
                    1ull << SELLO_ST_AUDIT_PENDING | 1ull << SELLO_ST_AUDIT_KEY;
    assert_int_equal(seen, want);
    board_mem_reset();
    make_active();
    uint64_t x;
    assert_true(fx_status_field(&mod, SELLO_ST_CLOCK, &x));
    assert_int_equal(x, SELLO_CLOCK_SYNCHRONISED);
    board_mem_advance_ms(42);
    assert_true(fx_status_field(&mod, SELLO_ST_UTC_MS, &x));
    assert_int_equal(x, T0 + 42);
    assert_true(fx_status_field(&mod, SELLO_ST_POLICY, &x));
    uint64_t first = stamp().serial;
    for (int i = 0; i < 2; i++)
        assert_true(stamp().granted);
    assert_true(fx_status_field(&mod, SELLO_ST_TOKENS, &x));
    assert_int_equal(x, 3);
    assert_true(fx_status_field(&mod, SELLO_ST_NEXT_SERIAL, &x));
    assert_int_equal(x, first + 3);
    /* custody and key facts of an active unit */
    assert_true(fx_status_field(&mod, SELLO_ST_THRESHOLD, &x));
    assert_int_equal(x, FX_THRESHOLD);
    assert_true(fx_status_field(&mod, SELLO_ST_CUSTODIANS, &x));
    assert_int_equal(x, FX_CUSTODIANS);
    assert_true(fx_status_field(&mod, SELLO_ST_ENGINE, &x));
    assert_int_equal(x, SELLO_ENGINE_MODULE);
    assert_true(fx_status_field(&mod, SELLO_ST_UNLOCKED, &x));
    assert_int_equal(x, 1);
    assert_true(fx_status_field(&mod, SELLO_ST_GENERATION, &x));
    assert_int_equal(x, 1);
    /* tsu.der is valid until 2099-12-31T23:59:59Z */
    assert_true(fx_status_field(&mod, SELLO_ST_USAGE_NOT_AFTER, &x));
    assert_int_equal(x, 4102444799ull);
}

/* The opcode list: distinct numbers and names, each answered by the
 * module with something other than SELLO_ERR_OPCODE, and no name for a
 * number outside the list. */
static void test_opcodes_unique_and_served(void **state)
{
    (void)state;
#define ENTRY(name, num, text) { num, text },
    static const struct {
        int num;
        const char *text;
    } list[] = { SELLO_OPCODE_LIST(ENTRY) };
#undef ENTRY
    size_t n = sizeof list / sizeof list[0];
    assert_true(n >= 7);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(sello_op_name(list[i].num), list[i].text);
        assert_true(list[i].num > 0 && list[i].num < 256);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(list[i].num, list[j].num);
            assert_string_not_equal(list[i].text, list[j].text);
        }
        assert_int_equal(sello_module_start(&mod), SELLO_OK);
        fx_resp r = fx_call(&mod, (uint8_t)list[i].num, NULL, 0);
        assert_true(r.header_ok);
        assert_int_not_equal(r.status, SELLO_ERR_OPCODE);
    }
    for (int op = 0; op < 256; op++) {
        bool listed = false;
        for (size_t i = 0; i < n; i++)
            listed = listed || list[i].num == op;
        if (!listed)
            assert_null(sello_op_name(op));
    }
}

static void test_status_codes_unique(void **state)
{
    (void)state;
#define ENTRY(name, num, text) { #name, num, text },
    static const struct {
        const char *name;
        int num;
        const char *text;
    } list[] = { SELLO_STATUS_LIST(ENTRY) };
#undef ENTRY
    size_t n = sizeof list / sizeof list[0];
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(sello_status_str(list[i].num), "unknown status");
        assert_string_equal(sello_status_str(list[i].num), list[i].text);
        assert_string_equal(sello_status_name(list[i].num), list[i].name);
        assert_true(list[i].num >= 0 && list[i].num < 256); /* fits a frame */
        assert_true(strncmp(list[i].name, "SELLO_", 6) == 0);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(list[i].num, list[j].num);
            assert_string_not_equal(list[i].name, list[j].name);
            assert_string_not_equal(list[i].text, list[j].text);
        }
    }
    /* numbers are for ever: the last one added */
    assert_int_equal(SELLO_ERR_TEST_ONLY, 20);
    static const int unlisted[] = { -1, 21, 99, 255, 256, 1 << 30 };
    for (size_t i = 0; i < sizeof unlisted / sizeof unlisted[0]; i++)
        assert_string_equal(sello_status_str(unlisted[i]), "unknown status");
    /* abi.h returns these numbers without naming them */
    uint8_t hdr[SELLO_FRAME_HEADER_LEN];
    sello_frame_header h;
    sello_frame_header_write(hdr, 1, 0, 0, 0);
    hdr[0] = 0;
    assert_int_equal(sello_frame_header_read(hdr, &h), SELLO_ERR_FRAME);
    sello_frame_header_write(hdr, 1, 0, 0, 0);
    hdr[1] = 9;
    assert_int_equal(sello_frame_header_read(hdr, &h), SELLO_ERR_VERSION);
    sello_frame_header_write(hdr, 1, 0, 0, SELLO_PAYLOAD_MAX + 1);
    assert_int_equal(sello_frame_header_read(hdr, &h), SELLO_ERR_TOO_LARGE);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        TEST(test_frame_truncated_header),
        TEST(test_frame_bad_magic),
        TEST(test_frame_bad_version),
        TEST(test_frame_oversized_length),
        TEST(test_frame_length_mismatch),
        TEST(test_frame_unknown_opcodes),
        TEST(test_frame_tag_echoed),
        TEST(test_frame_small_response_buffer),
        TEST(test_serve_loop),
        TEST(test_stamp_before_init),
        TEST(test_stamp_before_cert),
        TEST(test_stamp_without_time),
        TEST(test_stamp_outside_cert_validity),
        TEST(test_stamp_cert_validity_bounds),
        TEST(test_stamp_granted_token),
        TEST(test_stamp_request_vectors),
        TEST(test_init_ok),
        TEST(test_init_param_validation),
        TEST(test_init_param_limits),
        TEST(test_init_twice),
        TEST(test_init_storage_failure),
        TEST(test_init_simulation_needs_test_unit),
        TEST(test_init_production_board),
        TEST(test_csr_verifies),
        TEST(test_csr_p384_verifies),
        TEST(test_csr_rsa2048_verifies),
        TEST(test_ops_before_init),
        TEST(test_load_cert_ok),
        TEST(test_load_cert_storage_failure),
        TEST(test_set_time_twice),
        TEST(test_set_time_range),
        TEST(test_serials_strictly_increasing),
        TEST(test_serials_across_restarts),
        TEST(test_serial_writes_per_lease),
        TEST(test_serial_reservation_write_failure),
        TEST(test_serial_power_loss_every_write),
        TEST(test_serial_exhausted),
        TEST(test_serial_instance),
        TEST(test_restart_clock_behind_floor),
        TEST(test_records_tampered_unit),
        TEST(test_records_tampered_unit_every_octet),
        TEST(test_records_garbage_certs),
        TEST(test_records_garbage_serial),
        TEST(test_records_forged_serial_record),
        TEST(test_records_deleted_serial_record),
        TEST(test_device_secret_changed),
        TEST(test_records_independent_seal),
        TEST(test_board_failures_at_start),
        TEST(test_status_reply),
        TEST(test_status_codes_unique),
        TEST(test_opcodes_unique_and_served),
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    size_t nref = sizeof refusals / sizeof refusals[0];
    struct CMUnitTest *tests = calloc(nfixed + nref, sizeof *tests);
    char (*names)[80] = calloc(nref, sizeof *names);
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < nref; i++) {
        snprintf(names[i], sizeof names[i], "test_load_cert_refused_%s",
                 refusals[i].name);
        tests[nfixed + i].name = names[i];
        tests[nfixed + i].test_func = test_load_cert_refused;
        tests[nfixed + i].setup_func = setup;
        tests[nfixed + i].initial_state = (void *)&refusals[i];
    }
    int rc = tu_run("module", tests, nfixed + nref, argc, argv);
    free(tests);
    free(names);
    return rc;
}
