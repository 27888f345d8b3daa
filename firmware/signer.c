/* Signer identity from the TSU certificate; contracts in signer.h. */
#include "signer.h"

#include <sello/abi.h>

#include "der.h"
#include "hash.h"
#include "oid.h"
#include "runtime.h"
#include "x509.h"

/*
 * Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }
 * SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }
 * ESSCertIDv2 ::= SEQUENCE {
 *     hashAlgorithm AlgorithmIdentifier DEFAULT {id-sha256},  -- omitted
 *     certHash      OCTET STRING,
 *     issuerSerial  IssuerSerial }
 * IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber INTEGER }
 * GeneralNames ::= SEQUENCE OF GeneralName;  directoryName [4] Name
 */
static void write_ess_attr(sello_der_writer *w, const sello_x509 *tsu)
{
    uint8_t hash[32];
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), tsu->whole.p,
               sello_der_remaining(&tsu->whole), hash);
    const uint8_t *attr = sello_derw_mark(w);
    const uint8_t *id = sello_derw_mark(w);
    const uint8_t *serial = sello_derw_mark(w);
    sello_derw_raw(w, tsu->serial.p, sello_der_remaining(&tsu->serial));
    const uint8_t *names = sello_derw_mark(w);
    sello_derw_raw(w, tsu->issuer.p, sello_der_remaining(&tsu->issuer));
    sello_derw_wrap(w, names, SELLO_DER_CONTEXT_CONS(4));
    sello_derw_wrap(w, names, SELLO_DER_SEQUENCE);
    sello_derw_wrap(w, serial, SELLO_DER_SEQUENCE);
    sello_derw_prim(w, SELLO_DER_OCTET_STRING, hash, sizeof hash);
    sello_derw_wrap(w, id, SELLO_DER_SEQUENCE);     /* ESSCertIDv2 */
    sello_derw_wrap(w, id, SELLO_DER_SEQUENCE);     /* SEQUENCE OF ESSCertIDv2 */
    sello_derw_wrap(w, id, SELLO_DER_SEQUENCE);     /* SigningCertificateV2 */
    sello_derw_wrap(w, id, SELLO_DER_SET);          /* attrValues */
    sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_ATTR_SIGNING_CERT_V2, SELLO_OID_ATTR_SIGNING_CERT_V2_LEN);
    sello_derw_wrap(w, attr, SELLO_DER_SEQUENCE);
}

static sello_status refuse(const char **why, const char *reason)
{
    *why = reason;
    return SELLO_ERR_CERT;
}

/* IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber INTEGER } */
static void write_sid(sello_der_writer *w, const sello_x509 *tsu)
{
    const uint8_t *mark = sello_derw_mark(w);
    sello_derw_raw(w, tsu->serial.p, sello_der_remaining(&tsu->serial));
    sello_derw_raw(w, tsu->issuer.p, sello_der_remaining(&tsu->issuer));
    sello_derw_wrap(w, mark, SELLO_DER_SEQUENCE);
}

/* tsa [0] EXPLICIT GeneralName, GeneralName being directoryName [4] Name
 * (explicit because Name is a CHOICE). */
static void write_tsa(sello_der_writer *w, const sello_x509 *tsu)
{
    const uint8_t *mark = sello_derw_mark(w);
    sello_derw_raw(w, tsu->subject.p, sello_der_remaining(&tsu->subject));
    sello_derw_wrap(w, mark, SELLO_DER_CONTEXT_CONS(4));
    sello_derw_wrap(w, mark, SELLO_DER_CONTEXT_CONS(0));
}

/* certificates [0] IMPLICIT CertificateSet (a SET OF, so sorted); issuer
 * NULL when only the TSU certificate goes in. */
static void write_certs(sello_der_writer *w, const sello_x509 *tsu,
                        const sello_x509 *issuer)
{
    const uint8_t *mark = sello_derw_mark(w);
    const sello_der_cur *first = &tsu->whole, *second = NULL;
    if (issuer) {
        second = &issuer->whole;
        if (sello_der_set_order(first->p, sello_der_remaining(first), second->p,
                          sello_der_remaining(second)) > 0) {
            const sello_der_cur *t = first;
            first = second;
            second = t;
        }
        sello_derw_raw(w, second->p, sello_der_remaining(second));
    }
    sello_derw_raw(w, first->p, sello_der_remaining(first));
    sello_derw_wrap(w, mark, SELLO_DER_CONTEXT_CONS(0));
}

sello_status sello_signer_prepare(sello_signer *s, const sello_unit_config *cfg,
                                  const uint8_t *spki, size_t spki_len,
                                  const uint8_t *certs, size_t len,
                                  const char **why)
{
    s->loaded = false;
    if (len > SELLO_CERTS_MAX)
        return refuse(why, "certificates too large");
    sello_der_cur c = sello_der_cur_init(certs, len);
    sello_x509 tsu, issuer;
    bool have_issuer = false;
    if (sello_x509_parse(&c, &tsu) != SELLO_OK)
        return refuse(why, "TSU certificate is not valid DER X.509");
    if (!sello_der_at_end(&c)) {
        if (sello_x509_parse(&c, &issuer) != SELLO_OK || !sello_der_at_end(&c))
            return refuse(why, "issuer certificate is not valid DER X.509");
        have_issuer = true;
    }
    if (tsu.version != 3)
        return refuse(why, "TSU certificate is not X.509 v3");
    if (!sello_der_equal(&tsu.spki, spki, spki_len))
        return refuse(why, "certificate does not hold this unit's public key");
    if (!tsu.eku_present || !tsu.eku_critical || !tsu.eku_timestamping_only)
        return refuse(why, "extendedKeyUsage must be critical and "
                           "id-kp-timeStamping only");
    if (tsu.not_after <= tsu.not_before)
        return refuse(why, "certificate validity is empty");
    if (have_issuer) {
        if (sello_der_remaining(&issuer.subject) != sello_der_remaining(&tsu.issuer) ||
            sello_memcmp(issuer.subject.p, tsu.issuer.p,
                         sello_der_remaining(&tsu.issuer)) != 0)
            return refuse(why, "issuer certificate subject does not match");
        if (!sello_x509_signed_by(&tsu, &issuer))
            return refuse(why, "issuer did not sign the TSU certificate");
    }

    sello_der_writer w;
    sello_derw_init(&w, s->certs, sizeof s->certs);
    write_certs(&w, &tsu, have_issuer && cfg->chain ? &issuer : NULL);
    bool fits = sello_derw_to_front(&w, &s->certs_len);
    sello_derw_init(&w, s->sid, sizeof s->sid);
    write_sid(&w, &tsu);
    fits = sello_derw_to_front(&w, &s->sid_len) && fits;
    sello_derw_init(&w, s->ess_attr, sizeof s->ess_attr);
    write_ess_attr(&w, &tsu);
    fits = sello_derw_to_front(&w, &s->ess_attr_len) && fits;
    sello_derw_init(&w, s->tsa, sizeof s->tsa);
    write_tsa(&w, &tsu);
    fits = sello_derw_to_front(&w, &s->tsa_len) && fits;
    if (!fits)
        return refuse(why, "certificate names too large");
    s->not_before = tsu.not_before;
    s->not_after = tsu.not_after;
    /* The private-key usage period: the certificate's own extension, else
     * the configured number of days from notBefore, else the validity. */
    s->usage_not_before = tsu.usage_has_not_before ? tsu.usage_not_before
                                                   : tsu.not_before;
    s->usage_not_after = tsu.not_after;
    if (tsu.usage_has_not_after)
        s->usage_not_after = tsu.usage_not_after;
    else if (!tsu.usage_has_not_before && cfg->key_usage_days)
        s->usage_not_after = tsu.not_before +
                             (uint64_t)cfg->key_usage_days * 86400u - 1;
    s->loaded = true;
    return SELLO_OK;
}
