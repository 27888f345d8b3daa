/*
 * TimeStampReq decoding and policy (sello_tsp_decode_request) against the
 * vectors in test/data/tsp/requests.txt, one named test per vector
 * ("tsp_<name>"); the vectors say which configuration, which verdict
 * (accepted, malformed, or the failInfo bit) and, for accepted requests,
 * what must be echoed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "fixture.h"

#include "oid.h"
#include "tsp.h"
#include "unit.h"

/* INIT's custodian keys, which these tests do not need. */
static sello_custodian_keys custodian_keys;

typedef struct {
    unsigned lineno;
    char name[96];
    char test_name[112];
    char cfg[16];
    char expect[32];
    uint8_t *der;
    size_t len;
    char *checks;
} tsp_vector;

static tsp_vector *vectors;
static size_t nvectors;
static bool vectors_ok = true;

static char *field(char **s)
{
    char *bar = strchr(*s, '|');
    char *f = *s;
    if (bar) {
        *bar = 0;
        *s = bar + 1;
    } else {
        *s = f + strlen(f);
    }
    return td_trim(f);
}

static void load_vectors(void)
{
    size_t n;
    td_line *lines = td_read_lines("tsp/requests.txt", &n);
    if (!lines) {
        vectors_ok = false;
        return;
    }
    vectors = calloc(n, sizeof *vectors);
    for (size_t i = 0; i < n; i++) {
        char *s = lines[i].text;
        tsp_vector *v = &vectors[nvectors];
        snprintf(v->name, sizeof v->name, "%s", field(&s));
        snprintf(v->cfg, sizeof v->cfg, "%s", field(&s));
        snprintf(v->expect, sizeof v->expect, "%s", field(&s));
        char *hex = field(&s);
        v->checks = strdup(field(&s));
        size_t cap = strlen(hex) / 2 + 1;
        v->der = malloc(cap);
        v->len = td_hex(hex, v->der, cap);
        if (v->len == (size_t)-1 || !v->name[0]) {
            fprintf(stderr, "tsp/requests.txt:%u: bad line\n", lines[i].lineno);
            vectors_ok = false;
            free(v->der);
            free(v->checks);
            continue;
        }
        v->lineno = lines[i].lineno;
        snprintf(v->test_name, sizeof v->test_name, "tsp_%s", v->name);
        nvectors++;
    }
    td_free_lines(lines, n);
}

/* The unit configurations the vectors name. */
static void make_config(const char *name, sello_unit_config *cfg)
{
    fx_tlv t;
    fx_tlv_init_subject(&t);
    if (strcmp(name, "sha1") == 0) {
        sello_tlv_put_u32(&t.w, SELLO_INIT_HASHES,
                          SELLO_HASHES_DEFAULT |
                              SELLO_HASH_BIT(SELLO_HASH_SHA1));
    } else if (strcmp(name, "sha224") == 0) {
        sello_tlv_put_u32(&t.w, SELLO_INIT_HASHES,
                          SELLO_HASH_BIT(SELLO_HASH_SHA224));
    } else if (strcmp(name, "policy") == 0) {
        /* 1.3.6.1.4.1.99999.1.2 */
        static const uint8_t pol[] = { 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
                                       0x01, 0x86, 0x8d, 0x1f, 0x01, 0x02 };
        sello_tlv_put(&t.w, SELLO_INIT_POLICY, pol, sizeof pol);
    } else if (strcmp(name, "default") != 0) {
        print_error("unknown configuration %s\n", name);
        fail();
    }
    const char *why = NULL;
    assert_int_equal(sello_unit_config_parse(cfg, &custodian_keys, t.buf, t.w.len, &why),
                     SELLO_OK);
}

static int fail_bit_of(const char *expect)
{
    static const struct {
        const char *name;
        int bit;
    } map[] = {
        { "malformed", SELLO_TSP_FAIL_BAD_DATA_FORMAT },
        { "badAlg", SELLO_TSP_FAIL_BAD_ALG },
        { "badDataFormat", SELLO_TSP_FAIL_BAD_DATA_FORMAT },
        { "unacceptedPolicy", SELLO_TSP_FAIL_UNACCEPTED_POLICY },
        { "unacceptedExtension", SELLO_TSP_FAIL_UNACCEPTED_EXTENSION },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(expect, map[i].name) == 0)
            return map[i].bit;
    return -1;
}

/* Value of "key=" in the checks, copied into out; false when absent. */
static bool check_value(const char *checks, const char *key, char *out,
                        size_t cap)
{
    size_t klen = strlen(key);
    for (const char *p = checks; (p = strstr(p, key)) != NULL; p += klen) {
        if ((p == checks || p[-1] == ' ') && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, " ");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return true;
        }
    }
    return false;
}

static void test_vector(void **state)
{
    const tsp_vector *v = *state;
    sello_unit_config cfg;
    make_config(v->cfg, &cfg);
    /* exact-size copy so that any over-read is caught */
    uint8_t *der = malloc(v->len ? v->len : 1);
    memcpy(der, v->der, v->len);
    sello_tsp_request req;
    memset(&req, 0xa5, sizeof req);
    sello_tsp_verdict verdict = sello_tsp_decode_request(der, v->len, &cfg, &req);

    if (strcmp(v->expect, "accept") == 0) {
        if (!verdict.accepted)
            print_error("refused with bit %d: %s\n", verdict.fail,
                        verdict.why ? verdict.why : "(no reason)");
        assert_true(verdict.accepted);
        assert_false(verdict.malformed);
        /* everything points into the request */
        assert_true(req.imprint.p >= der && req.imprint.end <= der + v->len);
        char buf[600];
        uint8_t want[300];
        assert_true(check_value(v->checks, "imprint", buf, sizeof buf));
        size_t n = tu_hex(buf, want, sizeof want);
        assert_bytes_equal(req.imprint.p, sello_der_remaining(&req.imprint), want, n);
        assert_true(check_value(v->checks, "certreq", buf, sizeof buf));
        assert_int_equal(req.cert_req, buf[0] == '1');
        assert_true(check_value(v->checks, "nonce", buf, sizeof buf));
        if (strcmp(buf, "none") == 0) {
            assert_false(req.has_nonce);
        } else {
            assert_true(req.has_nonce);
            assert_true(req.nonce.p >= der && req.nonce.end <= der + v->len);
            n = tu_hex(buf, want, sizeof want);
            assert_bytes_equal(req.nonce.p, sello_der_remaining(&req.nonce), want, n);
        }
    } else {
        int bit = fail_bit_of(v->expect);
        assert_true(bit >= 0);
        if (verdict.accepted)
            print_error("accepted, expected %s\n", v->expect);
        assert_false(verdict.accepted);
        assert_int_equal(verdict.malformed, strcmp(v->expect, "malformed") == 0);
        assert_int_equal(verdict.fail, bit);
        assert_non_null(verdict.why);
        assert_true(strlen(verdict.why) > 0);
    }
    free(der);
}

static void test_vectors_loaded(void **state)
{
    (void)state;
    assert_true(vectors_ok);
    assert_true(nvectors >= 80);
}

/* Every proper prefix of every accepted request is malformed: a request
 * cut anywhere never decodes, and never reads past its end. */
static void test_truncations_malformed(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < nvectors; i++) {
        const tsp_vector *v = &vectors[i];
        if (strcmp(v->expect, "accept") != 0)
            continue;
        sello_unit_config cfg;
        make_config(v->cfg, &cfg);
        for (size_t cut = 0; cut < v->len; cut++) {
            uint8_t *der = malloc(cut ? cut : 1);
            memcpy(der, v->der, cut);
            sello_tsp_request req;
            sello_tsp_verdict verdict = sello_tsp_decode_request(der, cut, &cfg, &req);
            free(der);
            if (verdict.accepted || !verdict.malformed) {
                print_error("%s cut to %zu octets: accepted=%d malformed=%d\n",
                            v->name, cut, verdict.accepted, verdict.malformed);
                fail();
            }
            checked++;
        }
    }
    assert_true(checked > 1000);
}

/* The refusal order a client can act on: structure, version, hash,
 * imprint length, policy, extensions, nonce. A request with several faults
 * is reported by the first. */
static void test_fault_precedence(void **state)
{
    (void)state;
    sello_unit_config cfg;
    make_config("default", &cfg);
    sello_tsp_request req;
    /* version 2, unknown hash, other policy, extensions: version wins */
    static const uint8_t v2_badalg[] = {
        0x30, 0x18, 0x02, 0x01, 0x02, 0x30, 0x0d, 0x30, 0x05, 0x06, 0x03,
        0x2a, 0x03, 0x04, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x02,
        0x2a, 0x03, 0xa0, 0x00,
    };
    sello_tsp_verdict v = sello_tsp_decode_request(v2_badalg, sizeof v2_badalg, &cfg, &req);
    assert_false(v.accepted);
    assert_false(v.malformed);
    assert_int_equal(v.fail, SELLO_TSP_FAIL_BAD_DATA_FORMAT);
    /* the same with version 1: the hash is next */
    uint8_t v1[sizeof v2_badalg];
    memcpy(v1, v2_badalg, sizeof v1);
    v1[4] = 1;
    v = sello_tsp_decode_request(v1, sizeof v1, &cfg, &req);
    assert_int_equal(v.fail, SELLO_TSP_FAIL_BAD_ALG);
}

/* A unit whose configuration came back from storage has the same policy
 * element; a unit that was never configured (all zero) accepts nothing. */
static void test_zero_config_refuses(void **state)
{
    (void)state;
    sello_unit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    for (size_t i = 0; i < nvectors; i++) {
        sello_tsp_request req;
        sello_tsp_verdict v = sello_tsp_decode_request(vectors[i].der, vectors[i].len,
                                           &cfg, &req);
        assert_false(v.accepted);
    }
}

int main(int argc, char **argv)
{
    load_vectors();
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_vectors_loaded),
        cmocka_unit_test(test_truncations_malformed),
        cmocka_unit_test(test_fault_precedence),
        cmocka_unit_test(test_zero_config_refuses),
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *tests = calloc(nfixed + nvectors, sizeof *tests);
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < nvectors; i++) {
        tests[nfixed + i].name = vectors[i].test_name;
        tests[nfixed + i].test_func = test_vector;
        tests[nfixed + i].initial_state = &vectors[i];
    }
    int rc = tu_run("tsp", tests, nfixed + nvectors, argc, argv);
    for (size_t i = 0; i < nvectors; i++) {
        free(vectors[i].der);
        free(vectors[i].checks);
    }
    free(vectors);
    free(tests);
    return rc;
}
