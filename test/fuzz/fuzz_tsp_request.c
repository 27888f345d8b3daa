/*
 * libFuzzer target: sello_tsp_decode_request over any bytes, under four unit
 * configurations. Accepted requests must point inside the input and are
 * issued as tokens (P-256 golden unit), which must parse and echo the
 * request; refused ones must carry a known failInfo and encode as a
 * rejection.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>

#include "engine.h"
#include "fixture.h"
#include "counters.h"
#include "signer.h"
#include "testdata.h"
#include "token.h"
#include "tsp.h"
#include "unit.h"

/* INIT's custodian keys, which these tests do not need. */
static sello_custodian_keys custodian_keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static sello_unit_config cfgs[4];
static sello_key key;
static uint8_t spki[SELLO_SPKI_MAX];
static size_t spki_len;
static sello_signer signers[4];
static uint8_t scratch[SELLO_TOKEN_SCRATCH_SIZE];
static uint8_t out[SELLO_PAYLOAD_MAX];
static bool have_signer;

static void must(bool ok, const char *what)
{
    if (!ok) {
        __builtin_printf("fuzz_tsp_request: setup failed: %s\n", what);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < 4; i++) {
        fx_tlv t;
        fx_tlv_init_subject(&t);
        if (i == 1)
            sello_tlv_put_u32(&t.w, SELLO_INIT_HASHES, 0x7c); /* all */
        if (i == 2) {
            sello_tlv_put_u8(&t.w, SELLO_INIT_QUALIFIED, 1);
            sello_tlv_put_u8(&t.w, SELLO_INIT_TSA_NAME, 1);
            sello_tlv_put_u32(&t.w, SELLO_INIT_ACCURACY_MS, 1500);
        }
        if (i == 3) {
            static const uint8_t pol[] = { 0x06, 0x03, 0x2a, 0x03, 0x04 };
            sello_tlv_put(&t.w, SELLO_INIT_POLICY, pol, sizeof pol);
            sello_tlv_put_u8(&t.w, SELLO_INIT_CHAIN, 0);
        }
        const char *why;
        must(sello_unit_config_parse(&cfgs[i], &custodian_keys, t.buf, t.w.len, &why) == SELLO_OK,
             "config");
    }
    size_t klen, clen, alen;
    uint8_t *priv = td_load("golden/tsu-p256.priv", &klen);
    uint8_t *cert = td_load("golden/tsu-p256.der", &clen);
    uint8_t *ca = td_load("golden/ca.der", &alen);
    must(priv && cert && ca, "test data (golden/)");
    must(sello_key_import_private(&key, SELLO_KEY_P256, priv, klen) == SELLO_OK,
         "key");
    sello_der_writer w;
    sello_derw_init(&w, spki, sizeof spki);
    sello_key_write_spki(&key, &w);
    must(sello_derw_to_front(&w, &spki_len), "spki");
    uint8_t *both = malloc(clen + alen);
    memcpy(both, cert, clen);
    memcpy(both + clen, ca, alen);
    for (int i = 0; i < 4; i++) {
        const char *why;
        must(sello_signer_prepare(&signers[i], &cfgs[i], spki, spki_len, both,
                                  clen + alen, &why) == SELLO_OK, "signer");
    }
    free(both);
    free(priv);
    free(cert);
    free(ca);
    have_signer = true;
    return 0;
}

static bool inside(const sello_der_cur *c, const uint8_t *data, size_t size)
{
    return c->p >= data && c->p <= c->end && c->end <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int i = 0; i < 4; i++) {
        sello_tsp_request req;
        sello_tsp_verdict v = sello_tsp_decode_request(data, size, &cfgs[i], &req);
        if (!v.accepted) {
            if (!v.why || (v.malformed && v.fail != SELLO_TSP_FAIL_BAD_DATA_FORMAT))
                abort();
            if (v.fail != SELLO_TSP_FAIL_BAD_ALG && v.fail != SELLO_TSP_FAIL_BAD_DATA_FORMAT &&
                v.fail != SELLO_TSP_FAIL_UNACCEPTED_POLICY &&
                v.fail != SELLO_TSP_FAIL_UNACCEPTED_EXTENSION)
                abort();
            size_t n = sello_token_write_rejection(v.fail, v.why, out, 256);
            fx_tsr t = fx_parse_tsr(out, n);
            if (!t.ok || t.status != 2 || t.fail_bit != (int)v.fail)
                abort();
            continue;
        }
        if (v.malformed || !inside(&req.imprint, data, size) ||
            (req.has_nonce && (!inside(&req.nonce, data, size) ||
                               sello_der_remaining(&req.nonce) > SELLO_TSP_NONCE_MAX ||
                               sello_der_remaining(&req.nonce) == 0)))
            abort();
        if (!have_signer)
            continue;
        sello_token_issuer t = { &cfgs[i], &signers[i], &key,
                           sello_key_sig_hash(&key, cfgs[i].sig_hash), scratch };
        uint8_t serial[12];
        sello_serial_magnitude((uint32_t)size, size * 977u, serial);
        size_t len;
        if (sello_token_write_granted(&t, &req, serial, 1735787045123ull, out,
                                sizeof out, &len) != SELLO_OK)
            abort();
        fx_tsr tsr = fx_parse_tsr(out, len);
        if (!tsr.ok || tsr.status != 0 || !tsr.has_token ||
            tsr.imprint_len != sello_der_remaining(&req.imprint) ||
            memcmp(tsr.imprint, req.imprint.p, tsr.imprint_len) != 0 ||
            tsr.has_certs != req.cert_req || (tsr.nonce != NULL) != req.has_nonce ||
            (req.has_nonce &&
             (tsr.nonce_len != sello_der_remaining(&req.nonce) ||
              memcmp(tsr.nonce, req.nonce.p, tsr.nonce_len) != 0)))
            abort();
    }
    return 0;
}
