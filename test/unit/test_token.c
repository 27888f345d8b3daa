/*
 * TimeStampResp encodings: granted tokens against committed golden files
 * (test/data/golden/, made and checked by make-golden.sh, which verifies
 * each with `openssl ts -verify` and an independent asn1crypto reading),
 * and rejections against hand-made DER (test/data/token/rejections.txt).
 *
 * SELLO_WRITE_GOLDEN=DIR makes the golden tests write the current encoding
 * to DIR instead of comparing: the deliberate way to regenerate them
 * (make-golden.sh responses).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "fixture.h"

#include "der.h"
#include "engine.h"
#include "counters.h"
#include "signer.h"
#include "token.h"
#include "tsp.h"
#include "unit.h"

/* INIT's custodian keys, which these tests do not need. */
static sello_custodian_keys custodian_keys;

/* ---- a fixed unit --------------------------------------------------------- */

typedef struct {
    sello_unit_config cfg;
    sello_key key;
    uint8_t spki[SELLO_SPKI_MAX];
    size_t spki_len;
    sello_signer signer;
    uint8_t scratch[SELLO_TOKEN_SCRATCH_SIZE];
    sello_token_issuer issuer;
} fixed_unit;

static fixed_unit unit;

/* Builds the unit from a configuration list, a key file (module
 * serialisation) and certificate files (TSU first, then optionally the
 * issuer). */
static void unit_build(const fx_tlv *cfg, uint8_t key_type,
                       const char *key_file, const char *cert_file,
                       const char *issuer_file)
{
    const char *why = NULL;
    memset(&unit, 0, sizeof unit);
    assert_int_equal(sello_unit_config_parse(&unit.cfg, &custodian_keys, cfg->buf, cfg->w.len,
                                             &why), SELLO_OK);
    unit.cfg.key_type = key_type;
    size_t len;
    uint8_t *priv = tu_load(key_file, &len);
    assert_int_equal(sello_key_import_private(&unit.key, key_type, priv, len),
                     SELLO_OK);
    free(priv);
    sello_der_writer w;
    sello_derw_init(&w, unit.spki, sizeof unit.spki);
    sello_key_write_spki(&unit.key, &w);
    assert_true(sello_derw_to_front(&w, &unit.spki_len));

    size_t clen, ilen = 0;
    uint8_t *cert = tu_load(cert_file, &clen), *iss = NULL;
    if (issuer_file)
        iss = tu_load(issuer_file, &ilen);
    uint8_t *both = malloc(clen + ilen);
    memcpy(both, cert, clen);
    if (iss)
        memcpy(both + clen, iss, ilen);
    sello_status st = sello_signer_prepare(&unit.signer, &unit.cfg, unit.spki,
                                           unit.spki_len, both, clen + ilen,
                                           &why);
    if (st != SELLO_OK)
        print_error("signer refused %s: %s\n", cert_file, why);
    assert_int_equal(st, SELLO_OK);
    free(both);
    free(cert);
    free(iss);
    unit.issuer.cfg = &unit.cfg;
    unit.issuer.signer = &unit.signer;
    unit.issuer.key = &unit.key;
    unit.issuer.sig_hash = sello_key_sig_hash(&unit.key, unit.cfg.sig_hash);
    assert_non_null(unit.issuer.sig_hash);
    unit.issuer.scratch = unit.scratch;
}

/* Decodes a request that must be accepted; *der stays owned by caller. */
static void decode_ok(const uint8_t *der, size_t len, sello_tsp_request *req)
{
    sello_tsp_verdict v = sello_tsp_decode_request(der, len, &unit.cfg, req);
    if (!v.accepted)
        print_error("request refused: %s\n", v.why);
    assert_true(v.accepted);
}

static size_t issue(const sello_tsp_request *req, uint32_t instance,
                    uint64_t counter, uint64_t gen_ms, uint8_t *out,
                    size_t cap)
{
    uint8_t serial[12];
    sello_serial_magnitude(instance, counter, serial);
    size_t len = 0;
    assert_int_equal(sello_token_write_granted(&unit.issuer, req, serial, gen_ms,
                                         out, cap, &len), SELLO_OK);
    return len;
}

/* ---- golden tokens ---------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *resp_file;  /* under golden/ */
    uint8_t key_type;
    const char *key_file;
    const char *cert_file;
    const char *issuer_file; /* or NULL */
    const char *req_file;
    uint32_t accuracy_ms;    /* 0: default */
    int qualified, tsa_name, chain, sig_hash; /* -1: default */
    uint32_t instance;
    uint64_t counter;
    uint64_t gen_ms;
    const char *expect_gentime;
} golden_case;

/* genTime base 2025-01-02T03:04:05Z = 1735787045 s */
static const golden_case golden_cases[] = {
    { "p256", "resp-p256.der", SELLO_KEY_P256, "golden/tsu-p256.priv",
      "golden/tsu-p256.der", "golden/ca.der", "golden/req-nonce-cert.der",
      0, -1, -1, -1, -1, 0, 1, 1735787045678ull, "20250102030405.678Z" },
    { "p256_qualified", "resp-p256-qualified.der", SELLO_KEY_P256,
      "golden/tsu-p256.priv", "golden/tsu-p256.der", "golden/ca.der",
      "golden/req-plain.der", 1500, 1, 1, 0, -1, 7, 4096, 1735787045500ull,
      "20250102030405.5Z" },
    { "rsa2048", "resp-rsa2048.der", SELLO_KEY_RSA2048,
      "golden/tsu-rsa2048.priv", "golden/tsu-rsa2048.der", "golden/ca.der",
      "golden/req-nonce-cert.der", 0, -1, -1, -1, -1, 0,
      0x0102030405060708ull, 1735787045000ull, "20250102030405Z" },
    { "rsa2048_sha512", "resp-rsa2048-sha512.der", SELLO_KEY_RSA2048,
      "golden/tsu-rsa2048.priv", "golden/tsu-rsa2048.der", NULL,
      "golden/req-plain.der", 250, -1, 1, -1, SELLO_HASH_SHA512, 0xffffffffu,
      0x8000000000000000ull, 1735787045050ull, "20250102030405.05Z" },
};

static void golden_cfg(const golden_case *g, fx_tlv *t)
{
    fx_tlv_init_subject(t);
    sello_tlv_put_u8(&t->w, SELLO_INIT_KEY_TYPE, g->key_type);
    if (g->accuracy_ms)
        sello_tlv_put_u32(&t->w, SELLO_INIT_ACCURACY_MS, g->accuracy_ms);
    if (g->qualified >= 0)
        sello_tlv_put_u8(&t->w, SELLO_INIT_QUALIFIED, (uint8_t)g->qualified);
    if (g->tsa_name >= 0)
        sello_tlv_put_u8(&t->w, SELLO_INIT_TSA_NAME, (uint8_t)g->tsa_name);
    if (g->chain >= 0)
        sello_tlv_put_u8(&t->w, SELLO_INIT_CHAIN, (uint8_t)g->chain);
    if (g->sig_hash >= 0)
        sello_tlv_put_u8(&t->w, SELLO_INIT_SIG_HASH, (uint8_t)g->sig_hash);
    if (g->instance)
        sello_tlv_put_u32(&t->w, SELLO_INIT_INSTANCE, g->instance);
    assert_false(t->w.overflow);
}

static void test_golden(void **state)
{
    const golden_case *g = *state;
    static fx_tlv cfg;
    golden_cfg(g, &cfg);
    unit_build(&cfg, g->key_type, g->key_file, g->cert_file, g->issuer_file);

    size_t req_len;
    uint8_t *req_der = tu_load(g->req_file, &req_len);
    sello_tsp_request req;
    decode_ok(req_der, req_len, &req);
    static uint8_t out[SELLO_PAYLOAD_MAX];
    size_t len = issue(&req, g->instance, g->counter, g->gen_ms, out,
                       sizeof out);

    /* What the test itself can see without the golden. */
    fx_tsr t = fx_parse_tsr(out, len);
    assert_true(t.ok);
    assert_int_equal(t.status, 0);
    assert_true(t.has_token);
    assert_string_equal(t.gen_time, g->expect_gentime);
    assert_bytes_equal(t.imprint, t.imprint_len, req.imprint.p,
                       sello_der_remaining(&req.imprint));
    assert_int_equal(t.has_certs, req.cert_req);
    assert_int_equal(t.has_tsa, unit.cfg.tsa_name);
    assert_int_equal(t.has_extensions, unit.cfg.qualified);

    const char *dir = getenv("SELLO_WRITE_GOLDEN");
    if (dir && *dir) {
        assert_true(td_save(dir, g->resp_file, out, len));
        fprintf(stderr, "wrote %s/%s (%zu octets)\n", dir, g->resp_file, len);
    } else {
        char rel[128];
        snprintf(rel, sizeof rel, "golden/%s", g->resp_file);
        size_t glen;
        uint8_t *golden = tu_load(rel, &glen);
        assert_bytes_equal(out, len, golden, glen);
        free(golden);
    }
    /* Deterministic: the same inputs give the same octets again. */
    static uint8_t again[SELLO_PAYLOAD_MAX];
    size_t len2 = issue(&req, g->instance, g->counter, g->gen_ms, again,
                        sizeof again);
    assert_bytes_equal(again, len2, out, len);
    free(req_der);
    sello_key_wipe(&unit.key);
}

/* ---- other granted-token properties ------------------------------------------ */

static void p256_unit(fx_tlv *cfg)
{
    unit_build(cfg, SELLO_KEY_P256, "golden/tsu-p256.priv",
               "golden/tsu-p256.der", "golden/ca.der");
}

static void simple_request(uint8_t *buf, size_t *len)
{
    /* SHA-256 imprint of zeros, certReq TRUE, no nonce */
    uint8_t *p = buf;
    static const uint8_t head[] = { 0x30, 0x39, 0x02, 0x01, 0x01, 0x30, 0x31,
                                    0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
                                    0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
                                    0x00, 0x04, 0x20 };
    memcpy(p, head, sizeof head);
    p += sizeof head;
    memset(p, 0, 32);
    p += 32;
    *p++ = 0x01;
    *p++ = 0x01;
    *p++ = 0xff;
    *len = (size_t)(p - buf);
}

/* Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL,
 *                         millis [0] INTEGER (1..999) OPTIONAL, ... } */
static void test_accuracy_forms(void **state)
{
    (void)state;
    static const struct {
        uint32_t ms;
        const char *hex;
    } cases[] = {
        { 1, "30 03 80 01 01" },
        { 250, "30 04 80 02 00 fa" },
        { 999, "30 04 80 02 03 e7" },
        { 1000, "30 03 02 01 01" },
        { 1001, "30 06 02 01 01 80 01 01" },
        { 1500, "30 07 02 01 01 80 02 01 f4" },
        { 60000, "30 03 02 01 3c" },
        { 3600000, "30 04 02 02 0e 10" },
    };
    uint8_t req_der[64];
    size_t req_len;
    simple_request(req_der, &req_len);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static fx_tlv cfg;
        fx_tlv_init_subject(&cfg);
        sello_tlv_put_u32(&cfg.w, SELLO_INIT_ACCURACY_MS, cases[i].ms);
        p256_unit(&cfg);
        sello_tsp_request req;
        decode_ok(req_der, req_len, &req);
        static uint8_t out[SELLO_PAYLOAD_MAX];
        size_t len = issue(&req, 0, 1, 1735787045000ull, out, sizeof out);
        fx_tsr t = fx_parse_tsr(out, len);
        assert_true(t.ok);
        assert_non_null(t.accuracy);
        uint8_t expect[16];
        size_t n = tu_hex(cases[i].hex, expect, sizeof expect);
        assert_bytes_equal(t.accuracy, t.accuracy_len, expect, n);
    }
}

/* The serial INTEGER is the instance above the 64-bit counter, minimal and
 * positive. */
static void test_serial_forms(void **state)
{
    (void)state;
    static const struct {
        uint32_t instance;
        uint64_t counter;
        const char *content;
    } cases[] = {
        { 0, 1, "01" },
        { 0, 0x7f, "7f" },
        { 0, 0x80, "00 80" },
        { 0, 0x100, "01 00" },
        { 0, UINT64_MAX, "00 ff ff ff ff ff ff ff ff" },
        { 1, 0, "01 00 00 00 00 00 00 00 00" },
        { 0x80, 5, "00 80 00 00 00 00 00 00 00 05" },
        { 0xffffffffu, UINT64_MAX,
          "00 ff ff ff ff ff ff ff ff ff ff ff ff" },
    };
    static fx_tlv cfg;
    fx_tlv_init_subject(&cfg);
    p256_unit(&cfg);
    uint8_t req_der[64];
    size_t req_len;
    simple_request(req_der, &req_len);
    sello_tsp_request req;
    decode_ok(req_der, req_len, &req);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static uint8_t out[SELLO_PAYLOAD_MAX];
        size_t len = issue(&req, cases[i].instance, cases[i].counter,
                           1735787045000ull, out, sizeof out);
        fx_tsr t = fx_parse_tsr(out, len);
        assert_true(t.ok);
        uint8_t expect[16];
        size_t n = tu_hex(cases[i].content, expect, sizeof expect);
        assert_bytes_equal(t.serial, t.serial_len, expect, n);
    }
}

/* certReq decides whether certificates go in; `chain` whether the issuer
 * goes with the TSU certificate. */
static void test_certificates_field(void **state)
{
    (void)state;
    uint8_t req_der[64];
    size_t req_len;
    simple_request(req_der, &req_len);
    static fx_tlv cfg;
    size_t tsu_len, ca_len;
    uint8_t *tsu = tu_load("golden/tsu-p256.der", &tsu_len);
    uint8_t *ca = tu_load("golden/ca.der", &ca_len);
    for (int chain = 0; chain <= 1; chain++) {
        fx_tlv_init_subject(&cfg);
        sello_tlv_put_u8(&cfg.w, SELLO_INIT_CHAIN, (uint8_t)chain);
        p256_unit(&cfg);
        /* certificates [0] IMPLICIT SET OF: a0 <len> then the certificates */
        size_t body = tsu_len + (chain ? ca_len : 0);
        assert_int_equal(unit.signer.certs_len,
                         body + (body < 0x100 ? 3 : 4));
        const uint8_t *p = unit.signer.certs + (body < 0x100 ? 3 : 4);
        /* DER order of a SET OF: compare the two encodings */
        bool tsu_first = !chain ||
            sello_der_set_order(tsu, tsu_len, ca, ca_len) < 0;
        if (tsu_first) {
            assert_memory_equal(p, tsu, tsu_len);
        } else {
            assert_memory_equal(p, ca, ca_len);
            assert_memory_equal(p + ca_len, tsu, tsu_len);
        }
        sello_tsp_request req;
        decode_ok(req_der, req_len, &req);
        static uint8_t out[SELLO_PAYLOAD_MAX];
        size_t len = issue(&req, 0, 1, 1735787045000ull, out, sizeof out);
        assert_true(fx_parse_tsr(out, len).has_certs);
        req.cert_req = false;
        len = issue(&req, 0, 1, 1735787045000ull, out, sizeof out);
        fx_tsr t = fx_parse_tsr(out, len);
        assert_true(t.ok);
        assert_false(t.has_certs);
    }
    free(tsu);
    free(ca);
}

/* A buffer too small for the token is an error, never a cut token; the
 * exact size is enough. */
static void test_granted_space(void **state)
{
    (void)state;
    static fx_tlv cfg;
    fx_tlv_init_subject(&cfg);
    p256_unit(&cfg);
    uint8_t req_der[64];
    size_t req_len;
    simple_request(req_der, &req_len);
    sello_tsp_request req;
    decode_ok(req_der, req_len, &req);
    static uint8_t out[SELLO_PAYLOAD_MAX];
    size_t full = issue(&req, 0, 1, 1735787045000ull, out, sizeof out);
    uint8_t serial[12];
    sello_serial_magnitude(0, 1, serial);
    size_t len;
    uint8_t *exact = malloc(full);
    assert_int_equal(sello_token_write_granted(&unit.issuer, &req, serial,
                                         1735787045000ull, exact, full, &len),
                     SELLO_OK);
    assert_int_equal(len, full);
    assert_memory_equal(exact, out, full);
    free(exact);
    for (size_t cap = 0; cap < full; cap += (cap < 16 ? 1 : 97)) {
        uint8_t *small = malloc(cap ? cap : 1);
        assert_int_equal(sello_token_write_granted(&unit.issuer, &req, serial,
                                             1735787045000ull, small, cap,
                                             &len),
                         SELLO_ERR_SPACE);
        free(small);
    }
}

/* The nonce is echoed octet for octet, including the sign octet of a
 * nonce whose high bit is set and a negative nonce. */
static void test_nonce_echo(void **state)
{
    (void)state;
    static fx_tlv cfg;
    fx_tlv_init_subject(&cfg);
    p256_unit(&cfg);
    static const char *nonces[] = {
        "00", "7f", "00 80", "00 ff ff", "ff", "80", "01 02 03 04 05 06 07 08",
        ("00 f1 e2 d3 c4 b5 a6 97 88 f1 e2 d3 c4 b5 a6 97 88 f1 e2 d3 c4 b5 "
         "a6 97 88 f1 e2 d3 c4 b5 a6 97 88"),
    };
    for (size_t i = 0; i < sizeof nonces / sizeof nonces[0]; i++) {
        uint8_t nonce[40], der[128];
        size_t nlen = tu_hex(nonces[i], nonce, sizeof nonce);
        /* SEQUENCE { 1, imprint(sha256), INTEGER nonce } */
        uint8_t body[120];
        size_t b = 0;
        static const uint8_t head[] = { 0x02, 0x01, 0x01, 0x30, 0x31, 0x30,
                                        0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
                                        0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
                                        0x05, 0x00, 0x04, 0x20 };
        memcpy(body, head, sizeof head);
        b = sizeof head;
        memset(body + b, 0x11, 32);
        b += 32;
        body[b++] = 0x02;
        body[b++] = (uint8_t)nlen;
        memcpy(body + b, nonce, nlen);
        b += nlen;
        der[0] = 0x30;
        der[1] = (uint8_t)b;
        memcpy(der + 2, body, b);
        sello_tsp_request req;
        decode_ok(der, b + 2, &req);
        static uint8_t out[SELLO_PAYLOAD_MAX];
        size_t len = issue(&req, 0, 1, 1735787045000ull, out, sizeof out);
        fx_tsr t = fx_parse_tsr(out, len);
        assert_true(t.ok);
        assert_non_null(t.nonce);
        assert_bytes_equal(t.nonce, t.nonce_len, nonce, nlen);
    }
}

/* ---- rejections --------------------------------------------------------------- */

typedef struct {
    unsigned bit;
    char why[64];
    uint8_t der[128];
    size_t len;
    char name[128];
} rejection_case;

static rejection_case *rejections;
static size_t nrejections;

static void load_rejections(void)
{
    size_t n;
    td_line *lines = td_read_lines("token/rejections.txt", &n);
    if (!lines)
        return;
    rejections = calloc(n, sizeof *rejections);
    for (size_t i = 0; i < n; i++) {
        char *f1 = strchr(lines[i].text, '|');
        char *f2 = f1 ? strchr(f1 + 1, '|') : NULL;
        if (!f2)
            continue;
        *f1 = *f2 = 0;
        rejection_case *r = &rejections[nrejections];
        r->bit = (unsigned)strtoul(lines[i].text, NULL, 10);
        snprintf(r->why, sizeof r->why, "%s", td_trim(f1 + 1));
        char *hash = strchr(f2 + 1, '#');
        char label[40] = "";
        if (hash)
            snprintf(label, sizeof label, "%s", td_trim(hash + 1));
        r->len = td_hex(f2 + 1, r->der, sizeof r->der);
        if (r->len == (size_t)-1)
            continue;
        snprintf(r->name, sizeof r->name, "rejection_L%03u_bit%u_%s",
                 lines[i].lineno, r->bit, label);
        nrejections++;
    }
    td_free_lines(lines, n);
}

static void test_rejection(void **state)
{
    const rejection_case *r = *state;
    uint8_t out[256];
    size_t len = sello_token_write_rejection((sello_tsp_fail)r->bit, r->why, out,
                                       sizeof out);
    assert_bytes_equal(out, len, r->der, r->len);
    fx_tsr t = fx_parse_tsr(out, len);
    assert_true(t.ok);
    assert_int_equal(t.status, 2);
    assert_int_equal(t.fail_bit, r->bit);
    assert_int_equal(t.fail_bits, 1);
    assert_false(t.has_token);
}

static void test_rejections_loaded(void **state)
{
    (void)state;
    assert_int_equal(nrejections, 24);
}

/* Too small a buffer gives 0, the exact size is enough, and a reason of
 * 128 octets or more takes the long length form. */
static void test_rejection_sizes(void **state)
{
    (void)state;
    uint8_t out[512];
    size_t full = sello_token_write_rejection(SELLO_TSP_FAIL_SYSTEM_FAILURE, "abc", out,
                                        sizeof out);
    assert_true(full > 0);
    for (size_t cap = 0; cap < full; cap++) {
        uint8_t *p = malloc(cap ? cap : 1);
        assert_int_equal(sello_token_write_rejection(SELLO_TSP_FAIL_SYSTEM_FAILURE, "abc",
                                               p, cap), 0);
        free(p);
    }
    uint8_t *p = malloc(full);
    assert_int_equal(sello_token_write_rejection(SELLO_TSP_FAIL_SYSTEM_FAILURE, "abc", p,
                                           full), full);
    assert_memory_equal(p, out, full);
    free(p);

    char why[201];
    memset(why, 'w', 200);
    why[200] = 0;
    size_t len = sello_token_write_rejection(SELLO_TSP_FAIL_BAD_ALG, why, out, sizeof out);
    /* 30 81 d8 { 30 81 d5 { 02 01 02, 30 81 cb { 0c 81 c8 w*200 },
     *                       03 02 07 80 } } */
    assert_int_equal(len, 3 + 3 + 3 + 3 + 3 + 200 + 4);
    assert_memory_equal(out, "\x30\x81\xd8\x30\x81\xd5\x02\x01\x02\x30\x81"
                             "\xcb\x0c\x81\xc8", 15);
    assert_memory_equal(out + len - 4, "\x03\x02\x07\x80", 4);
}

int main(int argc, char **argv)
{
    load_rejections();
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_accuracy_forms),
        cmocka_unit_test(test_serial_forms),
        cmocka_unit_test(test_certificates_field),
        cmocka_unit_test(test_granted_space),
        cmocka_unit_test(test_nonce_echo),
        cmocka_unit_test(test_rejections_loaded),
        cmocka_unit_test(test_rejection_sizes),
    };
    size_t ng = sizeof golden_cases / sizeof golden_cases[0];
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    size_t total = nfixed + ng + nrejections;
    struct CMUnitTest *tests = calloc(total, sizeof *tests);
    char (*names)[64] = calloc(ng, sizeof *names);
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < ng; i++) {
        snprintf(names[i], sizeof names[i], "golden_%s", golden_cases[i].name);
        tests[nfixed + i].name = names[i];
        tests[nfixed + i].test_func = test_golden;
        tests[nfixed + i].initial_state = (void *)&golden_cases[i];
    }
    for (size_t i = 0; i < nrejections; i++) {
        tests[nfixed + ng + i].name = rejections[i].name;
        tests[nfixed + ng + i].test_func = test_rejection;
        tests[nfixed + ng + i].initial_state = &rejections[i];
    }
    int rc = tu_run("token", tests, total, argc, argv);
    free(tests);
    free(names);
    free(rejections);
    return rc;
}
