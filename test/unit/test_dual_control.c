/*
 * Dual control through the module ABI, the test playing a hostile host
 * (DESIGN.md section 1, item 4: no use of the key before M distinct
 * custodians): activation with too few, repeated, foreign, stale,
 * corrupted or replayed shares; the lockout; deactivation and restarts;
 * the quorum operations DESTROY and RECALIBRATE; and restored (rolled
 * back) records. Custodian-side crypto is the fixture's (fixture.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "board_mem.h"
#include "fixture.h"

#include "counters.h"
#include "custody.h"
#include "nv.h"

/* 2026-01-01T00:00:00Z: inside tsu.der's validity (2024..2099). */
#define T0 1767225600000ull

static sello_module_storage mod;

static int setup(void **state)
{
    (void)state;
    board_mem_reset();
    fx_audit_reset();
    memset(&mod, 0xee, sizeof mod);
    return 0;
}

#define TEST(f) cmocka_unit_test_setup(f, setup)

/* ---- helpers ------------------------------------------------------------- */

static uint64_t status_field(uint8_t type)
{
    uint64_t v = 0xdead;
    assert_true(fx_status_field(&mod, type, &v));
    return v;
}

static bool has_status_field(uint8_t type)
{
    uint64_t v;
    return fx_status_field(&mod, type, &v);
}

static uint8_t state_now(void) { return (uint8_t)status_field(SELLO_ST_STATE); }

/* A unit with tsu.der loaded, READY: certified, key locked. */
static void make_ready(const uint8_t *cfg, size_t cfg_len)
{
    assert_int_equal(fx_make_unit(&mod, cfg, cfg_len, "tsu.der"), SELLO_OK);
    /* fx_make_unit activated it; a restart locks it again */
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_READY);
    fx_resp r = fx_calibrate(&mod, T0);
    assert_int_equal(r.status, SELLO_OK);
}

typedef struct {
    bool granted;
    int fail_bit;
    uint64_t serial;
    char reason[128];
} stamp_out;

static stamp_out stamp(void)
{
    /* TimeStampReq { v1, { sha256 }, 32 octets of 0x42 } */
    static uint8_t req256[24 + 32];
    static const uint8_t head[] = { 0x30, 0x36, 0x02, 0x01, 0x01, 0x30,
                                    0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
                                    0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
    memcpy(req256, head, sizeof head);
    memset(req256 + sizeof head, 0x42, 32);
    fx_resp r = fx_call(&mod, SELLO_OP_STAMP, req256, sizeof head + 32);
    assert_true(r.header_ok);
    assert_int_equal(r.status, SELLO_OK);
    fx_tsr t = fx_parse_tsr(r.payload, r.len);
    assert_true(t.ok);
    stamp_out s = { t.status == 0 && t.has_token, t.fail_bit, 0, "" };
    if (s.granted)
        s.serial = fx_serial_u64(&t);
    /* The statusString's text, found as printable run in the answer. */
    for (size_t i = 0; i + 8 < r.len; i++) {
        if (r.payload[i] == 0x0c && r.payload[i + 1] < sizeof s.reason &&
            i + 2 + r.payload[i + 1] <= r.len) {
            memcpy(s.reason, r.payload + i + 2, r.payload[i + 1]);
            s.reason[r.payload[i + 1]] = 0;
            break;
        }
    }
    return s;
}

static void expect_stamp_refused(const char *reason_part)
{
    stamp_out s = stamp();
    if (s.granted || !strstr(s.reason, reason_part))
        print_error("stamp: granted %d, reason \"%s\", expected \"%s\"\n",
                    s.granted, s.reason, reason_part);
    assert_false(s.granted);
    assert_int_equal(s.fail_bit, 25); /* systemFailure */
    assert_non_null(strstr(s.reason, reason_part));
}

/* An error answer whose reason contains `part`. */
static void expect_error(fx_resp r, uint8_t status, const char *part)
{
    assert_true(r.header_ok);
    if (r.status != status || !memmem(r.payload, r.len, part, strlen(part)))
        print_error("got %s \"%.*s\", expected %s \"%s\"\n",
                    sello_status_name(r.status), (int)r.len, r.payload,
                    sello_status_name(status), part);
    assert_int_equal(r.status, status);
    assert_non_null(memmem(r.payload, r.len, part, strlen(part)));
}

static uint8_t submit_accepted(fx_resp r)
{
    assert_true(r.header_ok);
    if (r.status != SELLO_OK)
        print_error("submission refused: %s \"%.*s\"\n",
                    sello_status_name(r.status), (int)r.len, r.payload);
    assert_int_equal(r.status, SELLO_OK);
    sello_tlv_reader t = { r.payload, r.payload + r.len };
    uint8_t type, accepted = 0xff;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&t, &type, &v, &n) == 1)
        if (type == SELLO_SESS_ACCEPTED && n == 1)
            accepted = v[0];
    return accepted;
}

/* A genuine share of this device with its fields changed and its MAC made
 * again, as only someone with the device secret could. */
static void forge_share(unsigned i, const uint8_t *unit_id, uint32_t generation,
                        uint8_t out[SELLO_SHARE_LEN])
{
    sello_custody u;
    sello_custody_keys k;
    memcpy(u.unit_id, unit_id, 32);
    u.generation = generation;
    u.m = fx_shares[i][SELLO_SHARE_M];
    u.n = fx_shares[i][SELLO_SHARE_N];
    assert_int_equal(sello_custody_keys_derive(&k), SELLO_OK);
    sello_shamir_share s;
    s.x = fx_shares[i][SELLO_SHARE_X];
    memcpy(s.y, fx_shares[i] + SELLO_SHARE_Y, 32);
    sello_share_encode(&u, &k, &s, out);
}

static fx_resp submit_plain(const uint8_t share[SELLO_SHARE_LEN])
{
    uint8_t sub[SELLO_SUBMIT_LEN];
    fx_seal_submission(share, sub);
    return fx_call(&mod, SELLO_OP_SESSION_SUBMIT, sub, sizeof sub);
}

/* A proposal: value and parameter (SELLO_PROPOSAL_LEN octets). */
static const uint8_t *proposal(uint64_t value, uint32_t param)
{
    static uint8_t p[SELLO_PROPOSAL_LEN];
    sello_put_be64(p, value);
    sello_put_be32(p + 8, param);
    return p;
}

/* TIME_OBSERVE with the reference ref_us +- unc_us: the verdict. */
static uint8_t observe(int64_t ref_us, uint32_t unc_us)
{
    uint8_t in[12];
    sello_put_be64(in, (uint64_t)ref_us);
    sello_put_be32(in + 8, unc_us);
    fx_resp r = fx_call(&mod, SELLO_OP_TIME_OBSERVE, in, sizeof in);
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

/* ---- activation ------------------------------------------------------------ */

/* The quorum unlocks a key without a certificate for its CSR; loading the
 * certificate then locks it: only an activation session makes a unit
 * ACTIVE. */
static void test_cert_load_locks_key(void **state)
{
    (void)state;
    assert_int_equal(fx_make_unit(&mod, NULL, 0, NULL), SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_INITIALISED);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 1);
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0).status, SELLO_OK);
    static uint8_t certs[4096];
    size_t len = fx_load_certs("tsu.der", certs, sizeof certs);
    assert_int_equal(fx_call(&mod, SELLO_OP_LOAD_CERT, certs, len).status,
                     SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_READY);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 0);
    assert_int_equal(fx_calibrate(&mod, T0).status, SELLO_OK);
    expect_stamp_refused("custodians must activate");
    /* replacing the certificate of an ACTIVE unit keeps it ACTIVE */
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(fx_call(&mod, SELLO_OP_LOAD_CERT, certs, len).status,
                     SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_ACTIVE);
    assert_true(stamp().granted);
}

static void test_ready_after_cert_and_restart(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 0);
    expect_stamp_refused("custodians must activate");
    /* the locked key makes no CSR either */
    expect_error(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0), SELLO_ERR_STATE,
                 "locked");
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_ACTIVE);
    assert_true(stamp().granted);
    /* a restart forgets the key */
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_READY);
    assert_int_equal(fx_calibrate(&mod, T0).status, SELLO_OK);
    expect_stamp_refused("custodians must activate");
}

static void test_threshold_minus_one(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    fx_resp r = fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0);
    assert_int_equal(r.status, SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 2)), 1);
    assert_int_equal(state_now(), SELLO_STATE_READY);
    assert_int_equal(status_field(SELLO_ST_SESSION), SELLO_PURPOSE_ACTIVATE);
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 1);
    expect_stamp_refused("not active");
    /* any second distinct share completes it */
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 2);
    assert_int_equal(state_now(), SELLO_STATE_ACTIVE);
    assert_false(has_status_field(SELLO_ST_SESSION));
    assert_true(stamp().granted);
}

static void test_same_share_twice(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 1)), 1);
    /* resent as it was, and sealed afresh: both refused, neither counts */
    expect_error(fx_submit_share(&mod, 1), SELLO_ERR_SHARE, "already submitted");
    expect_error(fx_submit_share(&mod, 1), SELLO_ERR_SHARE, "already submitted");
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 1);
    assert_int_equal(status_field(SELLO_ST_FAILURES), 0);
    assert_int_equal(state_now(), SELLO_STATE_READY);
}

static void test_foreign_and_stale_shares(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    uint8_t share[SELLO_SHARE_LEN], other_unit[32];
    memset(other_unit, 0x77, sizeof other_unit);
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    forge_share(0, other_unit, 1, share);
    expect_error(submit_plain(share), SELLO_ERR_SHARE, "another unit");
    forge_share(0, fx_shares[0] + SELLO_SHARE_UNIT_ID, 2, share);
    expect_error(submit_plain(share), SELLO_ERR_SHARE, "another key ceremony");
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 0);
    assert_int_equal(status_field(SELLO_ST_FAILURES), 2);
    assert_int_equal(state_now(), SELLO_STATE_READY);
}

static void test_corrupted_shares(void **state)
{
    (void)state;
    static const size_t offsets[] = { SELLO_SHARE_Y, SELLO_SHARE_Y + 31,
                                      SELLO_SHARE_X, SELLO_SHARE_MAC,
                                      SELLO_SHARE_MAC + 31, SELLO_SHARE_M };
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u8(&t.w, SELLO_INIT_LOCKOUT_FAILURES, 100);
    make_ready(t.buf, t.w.len);
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    unsigned failures = 0;
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        uint8_t share[SELLO_SHARE_LEN];
        memcpy(share, fx_shares[0], sizeof share);
        share[offsets[i]] ^= 0x01;
        expect_error(submit_plain(share), SELLO_ERR_SHARE, "corrupted");
        assert_int_equal(status_field(SELLO_ST_FAILURES), ++failures);
    }
    /* the box itself: any flipped octet of the ciphertext or tag */
    uint8_t sub[SELLO_SUBMIT_LEN];
    for (size_t off = SELLO_SESSION_ID_LEN; off < sizeof sub; off += 37) {
        fx_seal_submission(fx_shares[0], sub);
        sub[off] ^= 0x80;
        expect_error(fx_call(&mod, SELLO_OP_SESSION_SUBMIT, sub, sizeof sub),
                     SELLO_ERR_SHARE, "does not open");
        assert_int_equal(status_field(SELLO_ST_FAILURES), ++failures);
    }
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 0);
    assert_int_equal(state_now(), SELLO_STATE_READY);
    /* the genuine ones still work, and success clears the count */
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 1)), 2);
    assert_int_equal(state_now(), SELLO_STATE_ACTIVE);
    assert_int_equal(status_field(SELLO_ST_FAILURES), 0);
}

static void test_replayed_sessions(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    uint8_t old[SELLO_SUBMIT_LEN];
    fx_seal_submission(fx_shares[0], old);
    assert_int_equal(submit_accepted(fx_call(&mod, SELLO_OP_SESSION_SUBMIT,
                                             old, sizeof old)),
                     1);
    /* a new session replaces the first; its captured submission is dead */
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE,
                                     SELLO_SESSION_OPEN_NEW).status,
                     SELLO_OK);
    expect_error(fx_call(&mod, SELLO_OP_SESSION_SUBMIT, old, sizeof old),
                 SELLO_ERR_SESSION, "no such session");
    assert_int_equal(status_field(SELLO_ST_FAILURES), 0);
    /* ...also with the new session's id put in front of it */
    fx_resp open = fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0);
    sello_tlv_reader rd = { open.payload, open.payload + open.len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&rd, &type, &v, &n) == 1)
        if (type == SELLO_SESS_ID)
            memcpy(old, v, SELLO_SESSION_ID_LEN);
    expect_error(fx_call(&mod, SELLO_OP_SESSION_SUBMIT, old, sizeof old),
                 SELLO_ERR_SHARE, "does not open");
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 0);
    assert_int_equal(state_now(), SELLO_STATE_READY);
}

static void test_session_join_and_expiry(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    fx_resp r = fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0);
    uint8_t id1[64];
    memcpy(id1, r.payload, r.len < sizeof id1 ? r.len : sizeof id1);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    /* joining returns the same session and its progress */
    r = fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0);
    assert_memory_equal(r.payload + 3, id1 + 3, SELLO_SESSION_ID_LEN);
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 1);
    /* expired: the next submission finds no session */
    board_mem_advance_ms(SELLO_SESSION_LIFETIME_S * 1000ull);
    expect_error(fx_submit_share(&mod, 1), SELLO_ERR_SESSION, "no such session");
    assert_false(has_status_field(SELLO_ST_SESSION));
    assert_int_equal(state_now(), SELLO_STATE_READY);
    /* a session of another purpose replaces one that is open */
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    assert_int_equal(fx_session_open_with(&mod, SELLO_PURPOSE_RECALIBRATE, 0,
                                          proposal(T0 * 1000, 0))
                         .status,
                     SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_SESSION), SELLO_PURPOSE_RECALIBRATE);
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 0);
}

static void test_bad_session_frames(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    static const struct {
        const char *hex;
    } opens[] = { { "" }, { "00" }, { "05" }, { "ff" }, { "01 02" },
                  { "01 01 00" }, { "01 80" },
                  { "03 00 0000019b7a8ec000 000000" },
                  { "03 00 0000019b7a8ec000 0000000000" } };
    for (size_t i = 0; i < sizeof opens / sizeof opens[0]; i++) {
        uint8_t in[32];
        size_t n = tu_hex(opens[i].hex, in, sizeof in);
        expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, in, n),
                     SELLO_ERR_PARAM, "purpose");
    }
    /* proposals: required, refused, or out of range */
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x03", 1),
                 SELLO_ERR_PARAM, "proposal is required");
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x04\x00", 2),
                 SELLO_ERR_PARAM, "proposal is required");
    expect_error(fx_session_open_with(&mod, SELLO_PURPOSE_DESTROY, 0,
                                      proposal(T0 * 1000, 0)),
                 SELLO_ERR_PARAM, "no proposal");
    expect_error(fx_session_open_with(&mod, SELLO_PURPOSE_RECALIBRATE, 0,
                                      proposal(T0 * 1000, 1000001)),
                 SELLO_ERR_PARAM, "uncertainty");
    expect_error(fx_session_open_with(&mod, SELLO_PURPOSE_RECALIBRATE, 0,
                                      proposal(1000, 0)),
                 SELLO_ERR_PARAM, "out of range");
    assert_false(has_status_field(SELLO_ST_SESSION));
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    uint8_t sub[SELLO_SUBMIT_LEN + 1];
    fx_seal_submission(fx_shares[0], sub);
    sub[SELLO_SUBMIT_LEN] = 0;
    static const size_t lens[] = { 0, 1, SELLO_SESSION_ID_LEN,
                                   SELLO_SUBMIT_LEN - 1, SELLO_SUBMIT_LEN + 1 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        expect_error(fx_call(&mod, SELLO_OP_SESSION_SUBMIT, sub, lens[i]),
                     SELLO_ERR_PARAM, "session id and a share box");
    assert_int_equal(status_field(SELLO_ST_FAILURES), 0);
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 0);
    /* no session on an uninitialised unit */
    board_mem_reset();
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x01", 1),
                 SELLO_ERR_STATE, "no key");
    expect_error(fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0), SELLO_ERR_STATE,
                 "no key");
}

static void test_already_active(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x01", 1),
                 SELLO_ERR_STATE, "already unlocked");
}

/* Every custodian's box opens, for the largest custody and keys (the
 * ceremony must not reuse memory it still needs). */
static void test_every_share_box_opens(void **state)
{
    (void)state;
    static const uint8_t types[] = { SELLO_KEY_P256, SELLO_KEY_RSA2048 };
    for (size_t k = 0; k < sizeof types; k++) {
        board_mem_reset();
        assert_int_equal(sello_module_start(&mod), SELLO_OK);
        fx_tlv t;
        fx_tlv_init(&t);
        sello_tlv_put(&t.w, SELLO_INIT_SUBJECT, fx_subject, fx_subject_len);
        fx_tlv_put_custody(&t, 16, 9);
        fx_tlv_put_test_unit(&t);
        sello_tlv_put_u8(&t.w, SELLO_INIT_KEY_TYPE, types[k]);
        fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
        assert_int_equal(r.status, SELLO_OK);
        assert_int_equal(fx_take_init_reply(r.payload, r.len, NULL, NULL), 16);
        for (unsigned i = 0; i < 16; i++)
            assert_int_equal(fx_shares[i][SELLO_SHARE_X], i + 1);
        /* and any nine of them activate */
        assert_int_equal(fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0).status,
                         SELLO_OK);
        assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                         SELLO_OK);
        for (unsigned i = 0; i < 9; i++)
            assert_int_equal(submit_accepted(fx_submit_share(&mod, 15 - i)),
                             i + 1);
        assert_int_equal(status_field(SELLO_ST_UNLOCKED), 1);
    }
}

/* The largest key comes back from its wrapped form: RSA-4096 rebuilds its
 * modulus from the factors (where BearSSL 0.6's default code cannot). */
static void test_rsa4096_unlocks(void **state)
{
    (void)state;
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u8(&t.w, SELLO_INIT_KEY_TYPE, SELLO_KEY_RSA4096);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    assert_int_equal(fx_take_init_reply(r.payload, r.len, NULL, NULL),
                     FX_CUSTODIANS);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 1);
    assert_int_equal(fx_call(&mod, SELLO_OP_GET_CSR, NULL, 0).status, SELLO_OK);
}

/* ---- lockout --------------------------------------------------------------- */

static void test_lockout(void **state)
{
    (void)state;
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u8(&t.w, SELLO_INIT_LOCKOUT_FAILURES, 3);
    sello_tlv_put_u32(&t.w, SELLO_INIT_LOCKOUT_S, 60);
    make_ready(t.buf, t.w.len);
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    uint8_t bad[SELLO_SHARE_LEN];
    memcpy(bad, fx_shares[0], sizeof bad);
    bad[SELLO_SHARE_Y] ^= 1;
    for (int i = 0; i < 2; i++)
        expect_error(submit_plain(bad), SELLO_ERR_SHARE, "corrupted");
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    expect_error(submit_plain(bad), SELLO_ERR_SHARE, "corrupted");
    /* the third failure locked it and closed the session */
    assert_int_equal(status_field(SELLO_ST_FAILURES), 3);
    assert_true(status_field(SELLO_ST_LOCKED_S) > 0);
    expect_error(fx_submit_share(&mod, 1), SELLO_ERR_LOCKED, "locked out");
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x01", 1),
                 SELLO_ERR_LOCKED, "locked out");
    /* a restart does not end it */
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_true(status_field(SELLO_ST_LOCKED_S) > 0);
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x01", 1),
                 SELLO_ERR_LOCKED, "locked out");
    board_mem_advance_ms(59000);
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x01", 1),
                 SELLO_ERR_LOCKED, "locked out");
    /* after the configured time it is over, and the count starts again */
    board_mem_advance_ms(1000);
    assert_false(has_status_field(SELLO_ST_LOCKED_S));
    assert_int_equal(status_field(SELLO_ST_FAILURES), 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_ACTIVE);
}

/* Restoring an older counters record does not reset the failure count
 * (see test_rollback for the rest of what a restore does). */
static void test_lockout_survives_restore(void **state)
{
    (void)state;
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u8(&t.w, SELLO_INIT_LOCKOUT_FAILURES, 2);
    sello_tlv_put_u32(&t.w, SELLO_INIT_LOCKOUT_S, 30);
    make_ready(t.buf, t.w.len);
    static board_mem_records before;
    board_mem_snapshot(&before);
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    uint8_t bad[SELLO_SHARE_LEN];
    memcpy(bad, fx_shares[1], sizeof bad);
    bad[SELLO_SHARE_MAC] ^= 1;
    expect_error(submit_plain(bad), SELLO_ERR_SHARE, "corrupted");
    board_mem_restore(&before);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_true(status_field(SELLO_ST_LOCKED_S) > 0);
    expect_error(fx_call(&mod, SELLO_OP_SESSION_OPEN, "\x01", 1),
                 SELLO_ERR_LOCKED, "locked out");
}

/* ---- deactivation ------------------------------------------------------------ */

static void test_deactivate(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_true(stamp().granted);
    assert_int_equal(fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0).status,
                     SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_READY);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 0);
    expect_stamp_refused("custodians must activate");
    /* deactivating again is harmless; so is it with a session open, which
     * it ends */
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    assert_int_equal(fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0).status,
                     SELLO_OK);
    assert_false(has_status_field(SELLO_ST_SESSION));
    expect_error(fx_submit_share(&mod, 1), SELLO_ERR_SESSION, "no such session");
    assert_int_equal(state_now(), SELLO_STATE_READY);
}

/* ---- destroy ----------------------------------------------------------------- */

static void test_destroy(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    uint64_t last = stamp().serial;
    assert_true(last > 0);
    static uint8_t old_shares[FX_CUSTODIANS][SELLO_SHARE_LEN];
    memcpy(old_shares, fx_shares, sizeof old_shares);
    /* M-1 shares: nothing happens */
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_DESTROY, FX_THRESHOLD - 1),
                     SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_ACTIVE);
    const uint8_t *rec;
    size_t len;
    assert_true(board_mem_record_get(SELLO_NV_UNIT, &rec, &len));
    /* M: the key and the unit's records are gone */
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 1)), 2);
    assert_int_equal(state_now(), SELLO_STATE_UNINITIALISED);
    assert_false(board_mem_record_get(SELLO_NV_UNIT, &rec, &len));
    assert_false(board_mem_record_get(SELLO_NV_CERTS, &rec, &len));
    expect_stamp_refused("not active");
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_UNINITIALISED);
    /* a new ceremony: generation 2, and the old shares are worthless */
    fx_tlv t;
    fx_tlv_init_subject(&t);
    fx_resp r = fx_call(&mod, SELLO_OP_INIT, t.buf, t.w.len);
    assert_int_equal(r.status, SELLO_OK);
    assert_int_equal(fx_take_init_reply(r.payload, r.len, NULL, NULL),
                     FX_CUSTODIANS);
    assert_int_equal(status_field(SELLO_ST_GENERATION), 2);
    assert_int_equal(fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0).status,
                     SELLO_OK);
    assert_int_equal(fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE, 0).status,
                     SELLO_OK);
    expect_error(submit_plain(old_shares[0]), SELLO_ERR_SHARE, "another unit");
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 2)), 2);
    assert_int_equal(status_field(SELLO_ST_UNLOCKED), 1);
}

/* A record of a destroyed ceremony put back into storage stays dead. */
static void test_destroyed_record_restored(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    const uint8_t *rec;
    size_t len;
    assert_true(board_mem_record_get(SELLO_NV_UNIT, &rec, &len));
    static uint8_t unit[8192];
    memcpy(unit, rec, len);
    size_t unit_len = len;
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_DESTROY, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_UNINITIALISED);
    assert_true(board_mem_record_put(SELLO_NV_UNIT, unit, unit_len));
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(state_now(), SELLO_STATE_UNINITIALISED);
    assert_false(board_mem_record_get(SELLO_NV_UNIT, &rec, &len));
}

/* ---- recalibration ------------------------------------------------------------- */

static void test_recalibrate(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    board_mem_advance_ms(2000);
    /* SET_TIME is retired */
    uint8_t t[8];
    sello_put_be64(t, T0 + 86400000);
    expect_error(fx_call(&mod, SELLO_OP_SET_TIME, t, sizeof t),
                 SELLO_ERR_STATE, "quorum");
    assert_int_equal(status_field(SELLO_ST_UTC_MS), T0 + 2000);
    /* M-1 is not enough */
    assert_int_equal(fx_session_open_with(&mod, SELLO_PURPOSE_RECALIBRATE,
                                          SELLO_SESSION_OPEN_NEW,
                                          proposal((T0 + 86400000) * 1000, 0))
                         .status,
                     SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 2)), 1);
    assert_int_equal(status_field(SELLO_ST_UTC_MS), T0 + 2000);
    /* the M-th sets the proposed time, plus what passed since the opening */
    board_mem_advance_ms(3000);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 2);
    assert_int_equal(status_field(SELLO_ST_UTC_MS), T0 + 86400000 + 3000);
    assert_int_equal(status_field(SELLO_ST_CLOCK), SELLO_CLOCK_SYNCHRONISED);
}

/* The custodians approve the proposal itself: a submission sealed for
 * another proposal does not open, whatever session it is sent to. */
static void test_proposal_bound(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    fx_resp r = fx_session_open_with(&mod, SELLO_PURPOSE_RECALIBRATE,
                                     SELLO_SESSION_OPEN_NEW,
                                     proposal((T0 + 5000) * 1000, 0));
    assert_int_equal(r.status, SELLO_OK);
    /* the host shows the custodian another time than the session holds */
    static uint8_t lie[1024];
    memcpy(lie, r.payload, r.len);
    sello_tlv_reader rd = { lie, lie + r.len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&rd, &type, &v, &n) == 1)
        if (type == SELLO_SESS_PROPOSAL)
            sello_put_be64((uint8_t *)v, (T0 - 3600000) * 1000);
    fx_session_note(lie, r.len);
    expect_error(fx_submit_share(&mod, 0), SELLO_ERR_SHARE, "does not open");
    assert_int_equal(status_field(SELLO_ST_SESSION_ACCEPTED), 0);
}

/* ACTIVATE may calibrate in the same quorum (the usual restart). */
static void test_activate_calibrates(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_CLOCK), SELLO_CLOCK_UNCALIBRATED);
    assert_int_equal(fx_session_open_with(&mod, SELLO_PURPOSE_ACTIVATE,
                                          SELLO_SESSION_OPEN_NEW,
                                          proposal((T0 + 7000) * 1000, 20000))
                         .status,
                     SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 1)), 2);
    assert_int_equal(state_now(), SELLO_STATE_ACTIVE);
    assert_int_equal(status_field(SELLO_ST_CLOCK), SELLO_CLOCK_SYNCHRONISED);
    assert_true(status_field(SELLO_ST_CLOCK_ERROR_US) >= 20000);
    stamp_out s = stamp();
    assert_true(s.granted);
}

/* Observations keep the clock synchronised; without them it stops by
 * itself when drift could have used up the accuracy; a disagreeing one
 * stops it at once; agreement brings it back. */
static void test_observations(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    uint64_t drift = status_field(SELLO_ST_DRIFT_PPM);
    assert_true(drift > 0);
    /* 1 s accuracy, 100 ms precision: 900 ms of drift at `drift` ppm */
    uint64_t left = status_field(SELLO_ST_SYNC_LEFT_S);
    assert_true(left <= 900000ull / drift);
    assert_true(left + 2 >= 900000ull / drift);
    board_mem_advance_ms((left - 1) * 1000);
    assert_true(stamp().granted);
    board_mem_advance_ms(3000);
    stamp_out s = stamp();
    assert_false(s.granted);
    assert_int_equal(s.fail_bit, 14); /* timeNotAvailable */
    assert_non_null(strstr(s.reason, "error bound"));
    /* an agreeing observation brings it back */
    int64_t module_us = (int64_t)status_field(SELLO_ST_UTC_MS) * 1000;
    assert_int_equal(observe(module_us + 300000, 1000), SELLO_OBS_ACCEPTED);
    assert_int_equal(status_field(SELLO_ST_CLOCK), SELLO_CLOCK_SYNCHRONISED);
    assert_true(stamp().granted);
    /* one beyond the accuracy: unsynchronised at once, clock not moved */
    module_us = (int64_t)status_field(SELLO_ST_UTC_MS) * 1000;
    assert_int_equal(observe(module_us + 5000000, 1000), SELLO_OBS_DISAGREES);
    assert_int_equal(status_field(SELLO_ST_CLOCK_WHY), 3);
    s = stamp();
    assert_false(s.granted);
    assert_non_null(strstr(s.reason, "disagrees"));
    /* useless ones change nothing */
    assert_int_equal(observe(module_us, 2000000), SELLO_OBS_USELESS);
    assert_int_equal(status_field(SELLO_ST_CLOCK_WHY), 3);
    assert_int_equal(observe(module_us, 1000), SELLO_OBS_ACCEPTED);
    assert_true(stamp().granted);
    /* malformed observations */
    expect_error(fx_call(&mod, SELLO_OP_TIME_OBSERVE, "\0\0\0", 3),
                 SELLO_ERR_PARAM, "microseconds");
}

/* A leap second the quorum announced: no token from `accuracy` before it
 * to `accuracy` after it, POSIX time after it, and issuing resumes by
 * itself. */
static void test_leap_second(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    const uint64_t leap = 1782864000ull * 1000000; /* 2026-07-01T00:00Z */
    /* not a month's end, in the past, too far, or of no kind */
    static const struct {
        uint64_t at;
        uint32_t kind;
    } bad[] = { { leap + 86400000000ull, 1 }, { leap + 1000000, 1 },
                { T0 * 1000 - 86400000000ull, 1 },
                { 1924992000ull * 1000000, 1 }, { leap, 3 }, { leap, 0 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fx_session_open_with(&mod, SELLO_PURPOSE_LEAP,
                                              SELLO_SESSION_OPEN_NEW,
                                              proposal(bad[i].at, bad[i].kind))
                             .status,
                         SELLO_ERR_PARAM);
    assert_int_equal(fx_session_open_with(&mod, SELLO_PURPOSE_LEAP,
                                          SELLO_SESSION_OPEN_NEW,
                                          proposal(leap, 1))
                         .status,
                     SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 1)), 2);
    assert_true(has_status_field(SELLO_ST_LEAP_US));
    /* to 2 s before the leap, observed and synchronised */
    uint64_t now_ms = status_field(SELLO_ST_UTC_MS);
    board_mem_advance_ms(leap / 1000 - 2000 - now_ms);
    assert_int_equal(observe((int64_t)(leap - 2000000), 0), SELLO_OBS_ACCEPTED);
    assert_true(stamp().granted);
    /* inside accuracy of it: paused */
    board_mem_advance_ms(1500);
    stamp_out s = stamp();
    assert_false(s.granted);
    assert_non_null(strstr(s.reason, "leap second"));
    /* the leap second itself, and accuracy after it: still paused */
    board_mem_advance_ms(2000);
    assert_false(stamp().granted);
    /* then on by itself, one second behind the ticks */
    board_mem_advance_ms(1000);
    s = stamp();
    assert_true(s.granted);
    fx_resp r = fx_call(&mod, SELLO_OP_STATUS, NULL, 0);
    (void)r;
    uint64_t utc = status_field(SELLO_ST_UTC_MS);
    assert_int_equal(utc, leap / 1000 + 2500 - 1000);
    assert_false(has_status_field(SELLO_ST_LEAP_US));
}

/* ---- rollback ------------------------------------------------------------------- */

/*
 * The host keeps a copy of the records, lets the unit issue, restores the
 * copy and restarts: serials never repeat (they come from the board
 * counter), and the unit refuses to issue until the quorum re-calibrates
 * the clock, because the time floor it had is lost.
 */
static void test_rollback(void **state)
{
    (void)state;
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u32(&t.w, SELLO_INIT_LOCKOUT_S, 5);
    make_ready(t.buf, t.w.len);
    static board_mem_records copy;
    board_mem_snapshot(&copy);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        board_mem_advance_ms(700);
        stamp_out s = stamp();
        assert_true(s.granted);
        assert_true(s.serial > last);
        last = s.serial;
    }
    assert_int_equal(status_field(SELLO_ST_TIME_DOUBT), 0);
    board_mem_restore(&copy);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_TIME_DOUBT), 1);
    /* found out: locked out first, like after repeated failures */
    assert_true(status_field(SELLO_ST_LOCKED_S) > 0);
    board_mem_advance_ms(5000);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    expect_stamp_refused("rolled back");
    /* the doubt survives a restart */
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_TIME_DOUBT), 1);
    /* the custodians' calibration settles it */
    assert_int_equal(fx_session_open_with(&mod, SELLO_PURPOSE_ACTIVATE,
                                          SELLO_SESSION_OPEN_NEW,
                                          proposal((T0 + 60000) * 1000, 0))
                         .status,
                     SELLO_OK);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 0)), 1);
    assert_int_equal(submit_accepted(fx_submit_share(&mod, 1)), 2);
    assert_int_equal(status_field(SELLO_ST_TIME_DOUBT), 0);
    stamp_out s = stamp();
    assert_true(s.granted);
    if (s.serial <= last)
        print_error("serial %llu after %llu issued before the restore\n",
                    (unsigned long long)s.serial, (unsigned long long)last);
    assert_true(s.serial > last);
}

/* Power lost between the counters record write and the board counter's
 * advance: the record is one epoch ahead, and that is no rollback. */
static void test_counter_advance_lost(void **state)
{
    (void)state;
    make_ready(NULL, 0);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    uint64_t first = stamp().serial;
    board_mem_fail_counter(true);
    board_mem_advance_ms(1500); /* past the lease: a new reservation */
    expect_stamp_refused("serial reservation failed");
    board_mem_fail_counter(false);
    assert_int_equal(sello_module_start(&mod), SELLO_OK);
    assert_int_equal(status_field(SELLO_ST_TIME_DOUBT), 0);
    assert_false(has_status_field(SELLO_ST_LOCKED_S));
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    assert_int_equal(fx_calibrate(&mod, T0 + 3000).status, SELLO_OK);
    stamp_out s = stamp();
    assert_true(s.granted);
    assert_true(s.serial > first);
}

/* ---- key life ------------------------------------------------------------------- */

static void test_key_usage_days(void **state)
{
    (void)state;
    /* tsu.der: notBefore 2024-01-01; a year of use ends 2024-12-31 */
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_tlv_put_u32(&t.w, SELLO_INIT_KEY_USAGE_DAYS, 366);
    make_ready(t.buf, t.w.len);
    assert_int_equal(fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD),
                     SELLO_OK);
    expect_stamp_refused("private key usage period has ended");
    assert_int_equal(status_field(SELLO_ST_USAGE_NOT_AFTER),
                     1704067200ull + 366 * 86400ull - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_cert_load_locks_key),
        TEST(test_ready_after_cert_and_restart),
        TEST(test_threshold_minus_one),
        TEST(test_same_share_twice),
        TEST(test_foreign_and_stale_shares),
        TEST(test_corrupted_shares),
        TEST(test_replayed_sessions),
        TEST(test_session_join_and_expiry),
        TEST(test_bad_session_frames),
        TEST(test_already_active),
        TEST(test_every_share_box_opens),
        TEST(test_rsa4096_unlocks),
        TEST(test_lockout),
        TEST(test_lockout_survives_restore),
        TEST(test_deactivate),
        TEST(test_destroy),
        TEST(test_destroyed_record_restored),
        TEST(test_recalibrate),
        TEST(test_proposal_bound),
        TEST(test_activate_calibrates),
        TEST(test_observations),
        TEST(test_leap_second),
        TEST(test_rollback),
        TEST(test_counter_advance_lost),
        TEST(test_key_usage_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
