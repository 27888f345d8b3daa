/*
 * libFuzzer target: sello_x509_parse on any bytes, then
 * sello_signer_prepare as LOAD_CERT would call it, for the unit key that
 * test/data/certs/ certifies (so that mutated real certificates get past
 * the key check into the extension and issuer-signature code).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>

#include "engine.h"
#include "fixture.h"
#include "signer.h"
#include "testdata.h"
#include "unit.h"
#include "x509.h"

/* INIT's custodian keys, which these tests do not need. */
static sello_custodian_keys custodian_keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static sello_unit_config cfg[2];
static uint8_t spki[SELLO_SPKI_MAX];
static size_t spki_len;
static sello_signer signer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < 2; i++) {
        fx_tlv t;
        fx_tlv_init_subject(&t);
        sello_tlv_put_u8(&t.w, SELLO_INIT_CHAIN, (uint8_t)i);
        const char *why;
        if (sello_unit_config_parse(&cfg[i], &custodian_keys, t.buf, t.w.len, &why) != SELLO_OK)
            abort();
    }
    size_t klen;
    uint8_t *priv = td_load("certs/unit-p256.priv", &klen);
    static sello_key key;
    if (!priv || sello_key_import_private(&key, SELLO_KEY_P256, priv, klen))
        abort();
    sello_der_writer w;
    sello_derw_init(&w, spki, sizeof spki);
    sello_key_write_spki(&key, &w);
    if (!sello_derw_to_front(&w, &spki_len))
        abort();
    free(priv);
    return 0;
}

static bool inside(const sello_der_cur *c, const uint8_t *data, size_t size)
{
    return c->p >= data && c->p <= c->end && c->end <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sello_der_cur c = sello_der_cur_init(data, size);
    sello_x509 x, y;
    if (sello_x509_parse(&c, &x) == SELLO_OK) {
        if (!inside(&x.whole, data, size) || !inside(&x.tbs, data, size) ||
            !inside(&x.serial, data, size) || !inside(&x.issuer, data, size) ||
            !inside(&x.subject, data, size) || !inside(&x.spki, data, size) ||
            !inside(&x.sig_alg, data, size) ||
            !inside(&x.signature, data, size) || x.version < 1 ||
            x.version > 3 || c.p != x.whole.end)
            abort();
        /* self-signed check, then against a second certificate if any */
        (void)sello_x509_signed_by(&x, &x);
        if (sello_x509_parse(&c, &y) == SELLO_OK) {
            (void)sello_x509_signed_by(&x, &y);
            (void)sello_x509_signed_by(&y, &x);
        }
    }
    for (int i = 0; i < 2; i++) {
        const char *why = NULL;
        sello_status st = sello_signer_prepare(&signer, &cfg[i], spki, spki_len,
                                               data, size, &why);
        if (st == SELLO_OK) {
            if (!signer.loaded || signer.certs_len > sizeof signer.certs ||
                signer.sid_len > sizeof signer.sid ||
                signer.ess_attr_len > sizeof signer.ess_attr ||
                signer.tsa_len > sizeof signer.tsa ||
                signer.not_after <= signer.not_before)
                abort();
        } else if (st != SELLO_ERR_CERT || !why || signer.loaded) {
            abort();
        }
    }
    return 0;
}
