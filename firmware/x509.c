/* X.509 facts for the TSU certificate; contracts in x509.h. */
#include "x509.h"

#include <bearssl.h>
#include <sello/abi.h>

#include "clock.h"
#include "hash.h"
#include "oid.h"
#include "runtime.h"

/* Reads `n` decimal digits. */
static bool digits(const uint8_t *p, int n, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *v = x;
    return true;
}

/*
 * Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }
 * RFC 5280 fixes the forms: YYMMDDHHMMSSZ (YY < 50 is 20YY) and
 * YYYYMMDDHHMMSSZ, no fractions, always Zulu.
 */
/* The seconds since 1970 of a UTCTime or GeneralizedTime whose content
 * is t (tag says which). */
static sello_status time_value(uint8_t tag, sello_der_cur t, uint64_t *secs)
{
    size_t n = sello_der_remaining(&t);
    const uint8_t *p = t.p;
    unsigned y2, y4, mo, d, h, mi, s;
    int64_t year;
    if (tag == SELLO_DER_UTC_TIME && n == 13 && digits(p, 2, &y2)) {
        year = y2 < 50 ? 2000 + y2 : 1900 + y2;
        p += 2;
    } else if (tag == SELLO_DER_GENERALIZED_TIME && n == 15 && digits(p, 4, &y4)) {
        year = y4;
        p += 4;
    } else {
        return SELLO_ERR_DER;
    }
    if (!digits(p, 2, &mo) || !digits(p + 2, 2, &d) || !digits(p + 4, 2, &h) ||
        !digits(p + 6, 2, &mi) || !digits(p + 8, 2, &s) || p[10] != 'Z')
        return SELLO_ERR_DER;
    if (year < 1970) { /* before the epoch: treat as the epoch */
        *secs = 0;
        return SELLO_OK;
    }
    return sello_utc_from_civil(year, mo, d, h, mi, s, secs) ? SELLO_OK
                                                            : SELLO_ERR_DER;
}

static sello_status read_time(sello_der_cur *c, uint64_t *secs)
{
    sello_der_cur t;
    uint8_t tag;
    SELLO_TRY(sello_der_read_any(c, &tag, &t, NULL));
    return time_value(tag, t, secs);
}

/*
 * PrivateKeyUsagePeriod ::= SEQUENCE {
 *     notBefore [0] IMPLICIT GeneralizedTime OPTIONAL,
 *     notAfter  [1] IMPLICIT GeneralizedTime OPTIONAL }
 * (RFC 3280 4.2.1.4; at least one of the two is present.)
 */
static sello_status read_pkup(const sello_der_cur *value, sello_x509 *out)
{
    sello_der_cur v = *value, seq, t;
    bool present;
    SELLO_TRY(sello_der_read(&v, SELLO_DER_SEQUENCE, &seq, NULL));
    if (!sello_der_at_end(&v))
        return SELLO_ERR_DER;
    SELLO_TRY(sello_der_read_optional(&seq, SELLO_DER_CONTEXT(0), &t, NULL,
                                      &present));
    if (present) {
        SELLO_TRY(time_value(SELLO_DER_GENERALIZED_TIME, t,
                             &out->usage_not_before));
        out->usage_has_not_before = true;
    }
    SELLO_TRY(sello_der_read_optional(&seq, SELLO_DER_CONTEXT(1), &t, NULL,
                                      &present));
    if (present) {
        SELLO_TRY(time_value(SELLO_DER_GENERALIZED_TIME, t,
                             &out->usage_not_after));
        out->usage_has_not_after = true;
    }
    if (!sello_der_at_end(&seq) ||
        (!out->usage_has_not_before && !out->usage_has_not_after))
        return SELLO_ERR_DER;
    return SELLO_OK;
}

/*
 * ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId
 * Sets eku_timestamping_only when the list is exactly { id-kp-timeStamping }.
 */
static sello_status read_eku(const sello_der_cur *value, sello_x509 *out)
{
    sello_der_cur v = *value, seq, oid;
    SELLO_TRY(sello_der_read(&v, SELLO_DER_SEQUENCE, &seq, NULL));
    if (!sello_der_at_end(&v))
        return SELLO_ERR_DER;
    size_t count = 0;
    bool ts = false;
    while (!sello_der_at_end(&seq)) {
        SELLO_TRY(sello_der_read_oid(&seq, &oid));
        count++;
        if (sello_der_equal(&oid, SELLO_OID_KP_TIMESTAMPING, SELLO_OID_KP_TIMESTAMPING_LEN))
            ts = true;
    }
    out->eku_timestamping_only = count == 1 && ts;
    return SELLO_OK;
}

/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING } */
static sello_status read_extensions(sello_der_cur *tbs, sello_x509 *out)
{
    sello_der_cur wrapper, list, ext, oid, value;
    bool present;
    SELLO_TRY(sello_der_read_optional(tbs, SELLO_DER_CONTEXT_CONS(3), &wrapper, NULL,
                                &present));
    if (!present)
        return SELLO_OK;
    SELLO_TRY(sello_der_read(&wrapper, SELLO_DER_SEQUENCE, &list, NULL));
    if (!sello_der_at_end(&wrapper) || sello_der_at_end(&list))
        return SELLO_ERR_DER;
    while (!sello_der_at_end(&list)) {
        SELLO_TRY(sello_der_read(&list, SELLO_DER_SEQUENCE, &ext, NULL));
        SELLO_TRY(sello_der_read_oid(&ext, &oid));
        bool critical = false;
        if (sello_der_peek_tag(&ext) == SELLO_DER_BOOLEAN) {
            SELLO_TRY(sello_der_read_bool(&ext, &critical));
            if (!critical) /* DEFAULT FALSE must be omitted in DER */
                return SELLO_ERR_DER;
        }
        SELLO_TRY(sello_der_read(&ext, SELLO_DER_OCTET_STRING, &value, NULL));
        if (!sello_der_at_end(&ext))
            return SELLO_ERR_DER;
        if (sello_der_equal(&oid, SELLO_OID_EXT_EKU, SELLO_OID_EXT_EKU_LEN)) {
            if (out->eku_present)
                return SELLO_ERR_DER; /* an extension may appear once */
            out->eku_present = true;
            out->eku_critical = critical;
            SELLO_TRY(read_eku(&value, out));
        } else if (sello_der_equal(&oid, SELLO_OID_EXT_PRIVATE_KEY_USAGE_PERIOD,
                                   SELLO_OID_EXT_PRIVATE_KEY_USAGE_PERIOD_LEN)) {
            if (out->usage_has_not_before || out->usage_has_not_after)
                return SELLO_ERR_DER;
            SELLO_TRY(read_pkup(&value, out));
        }
    }
    return SELLO_OK;
}

sello_status sello_x509_parse(sello_der_cur *c, sello_x509 *out)
{
    sello_der_cur cert, tbs, x, alg, validity;
    sello_memset(out, 0, sizeof *out);
    SELLO_TRY(sello_der_read(c, SELLO_DER_SEQUENCE, &cert, &out->whole));
    SELLO_TRY(sello_der_read(&cert, SELLO_DER_SEQUENCE, &tbs, &out->tbs));

    out->version = 1;
    bool present;
    SELLO_TRY(sello_der_read_optional(&tbs, SELLO_DER_CONTEXT_CONS(0), &x, NULL,
                                &present));
    if (present) {
        uint32_t v;
        SELLO_TRY(sello_der_read_u32(&x, &v));
        if (!sello_der_at_end(&x) || v > 2)
            return SELLO_ERR_DER;
        out->version = v + 1;
    }
    sello_der_cur serial_content;
    out->serial = tbs;
    SELLO_TRY(sello_der_read_integer(&tbs, &serial_content));
    out->serial.end = tbs.p;
    SELLO_TRY(sello_der_read(&tbs, SELLO_DER_SEQUENCE, &alg, NULL));
    SELLO_TRY(sello_der_read(&tbs, SELLO_DER_SEQUENCE, &x, &out->issuer));
    SELLO_TRY(sello_der_read(&tbs, SELLO_DER_SEQUENCE, &validity, NULL));
    SELLO_TRY(read_time(&validity, &out->not_before));
    SELLO_TRY(read_time(&validity, &out->not_after));
    if (!sello_der_at_end(&validity))
        return SELLO_ERR_DER;
    SELLO_TRY(sello_der_read(&tbs, SELLO_DER_SEQUENCE, &x, &out->subject));
    SELLO_TRY(sello_der_read(&tbs, SELLO_DER_SEQUENCE, &x, &out->spki));
    SELLO_TRY(sello_der_read_optional(&tbs, SELLO_DER_CONTEXT(1), &x, NULL, &present));
    SELLO_TRY(sello_der_read_optional(&tbs, SELLO_DER_CONTEXT(2), &x, NULL, &present));
    SELLO_TRY(read_extensions(&tbs, out));
    if (!sello_der_at_end(&tbs))
        return SELLO_ERR_DER;

    SELLO_TRY(sello_der_read(&cert, SELLO_DER_SEQUENCE, &alg, NULL));
    SELLO_TRY(sello_der_read_oid(&alg, &out->sig_alg));
    SELLO_TRY(sello_der_read(&cert, SELLO_DER_BIT_STRING, &out->signature, NULL));
    if (sello_der_at_end(&out->signature) || out->signature.p[0] != 0)
        return SELLO_ERR_DER;
    out->signature.p++;
    if (!sello_der_at_end(&cert))
        return SELLO_ERR_DER;
    return SELLO_OK;
}

/* The hash and key family a signature algorithm OID names. */
static const sello_hash_info *sig_alg_hash(const sello_der_cur *oid, bool *ecdsa)
{
    static const struct {
        const uint8_t *oid;
        size_t len;
        int hash;
        bool ecdsa;
    } algs[] = {
        { SELLO_OID_RSA_SHA256, SELLO_OID_RSA_SHA256_LEN, SELLO_HASH_SHA256, false },
        { SELLO_OID_RSA_SHA384, SELLO_OID_RSA_SHA384_LEN, SELLO_HASH_SHA384, false },
        { SELLO_OID_RSA_SHA512, SELLO_OID_RSA_SHA512_LEN, SELLO_HASH_SHA512, false },
        { SELLO_OID_ECDSA_SHA256, SELLO_OID_ECDSA_SHA256_LEN, SELLO_HASH_SHA256, true },
        { SELLO_OID_ECDSA_SHA384, SELLO_OID_ECDSA_SHA384_LEN, SELLO_HASH_SHA384, true },
        { SELLO_OID_ECDSA_SHA512, SELLO_OID_ECDSA_SHA512_LEN, SELLO_HASH_SHA512, true },
    };
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (sello_der_equal(oid, algs[i].oid, algs[i].len)) {
            *ecdsa = algs[i].ecdsa;
            return sello_hash_by_id(algs[i].hash);
        }
    return NULL;
}

/* Strips the sign octet of a positive INTEGER's content. */
static void unsigned_content(sello_der_cur *v)
{
    if (sello_der_remaining(v) > 1 && v->p[0] == 0)
        v->p++;
}

sello_status sello_spki_parse(const sello_der_cur *spki, sello_spki_key *out)
{
    sello_der_cur c = *spki, body, alg, key_oid, bits;
    sello_memset(out, 0, sizeof *out);
    SELLO_TRY(sello_der_read(&c, SELLO_DER_SEQUENCE, &body, NULL));
    SELLO_TRY(sello_der_read(&body, SELLO_DER_SEQUENCE, &alg, NULL));
    SELLO_TRY(sello_der_read_oid(&alg, &key_oid));
    SELLO_TRY(sello_der_read(&body, SELLO_DER_BIT_STRING, &bits, NULL));
    if (!sello_der_at_end(&c) || !sello_der_at_end(&body) ||
        sello_der_at_end(&bits) || bits.p[0] != 0)
        return SELLO_ERR_DER;
    bits.p++;
    if (sello_der_equal(&key_oid, SELLO_OID_EC_PUBLIC_KEY,
                        SELLO_OID_EC_PUBLIC_KEY_LEN)) {
        sello_der_cur curve;
        SELLO_TRY(sello_der_read_oid(&alg, &curve));
        if (!sello_der_at_end(&alg))
            return SELLO_ERR_DER;
        if (sello_der_equal(&curve, SELLO_OID_P256, SELLO_OID_P256_LEN))
            out->curve = BR_EC_secp256r1;
        else if (sello_der_equal(&curve, SELLO_OID_P384, SELLO_OID_P384_LEN))
            out->curve = BR_EC_secp384r1;
        else
            return SELLO_ERR_DER;
        out->ec = true;
        out->q = bits;
        return SELLO_OK;
    }
    sello_der_cur rsa_key;
    if (!sello_der_equal(&key_oid, SELLO_OID_RSA, SELLO_OID_RSA_LEN))
        return SELLO_ERR_DER;
    SELLO_TRY(sello_der_read(&bits, SELLO_DER_SEQUENCE, &rsa_key, NULL));
    SELLO_TRY(sello_der_read_integer(&rsa_key, &out->n));
    SELLO_TRY(sello_der_read_integer(&rsa_key, &out->e));
    if (!sello_der_at_end(&bits) || !sello_der_at_end(&rsa_key))
        return SELLO_ERR_DER;
    unsigned_content(&out->n);
    unsigned_content(&out->e);
    return SELLO_OK;
}

bool sello_x509_signed_by(const sello_x509 *cert, const sello_x509 *issuer)
{
    bool ecdsa;
    const sello_hash_info *h = sig_alg_hash(&cert->sig_alg, &ecdsa);
    if (!h)
        return false;
    uint8_t digest[SELLO_HASH_MAX_LEN];
    sello_hash(h, cert->tbs.p, sello_der_remaining(&cert->tbs), digest);

    sello_spki_key key;
    if (sello_spki_parse(&issuer->spki, &key) != SELLO_OK || key.ec != ecdsa)
        return false;
    const uint8_t *sig = cert->signature.p;
    size_t sig_len = sello_der_remaining(&cert->signature);
    if (ecdsa) {
        br_ec_public_key pk = { key.curve, (unsigned char *)key.q.p,
                                sello_der_remaining(&key.q) };
        return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), digest,
                                                h->len, &pk, sig,
                                                sig_len) == 1;
    }
    br_rsa_public_key pk = { (unsigned char *)key.n.p,
                             sello_der_remaining(&key.n),
                             (unsigned char *)key.e.p,
                             sello_der_remaining(&key.e) };
    uint8_t recovered[SELLO_HASH_MAX_LEN];
    if (!br_rsa_pkcs1_vrfy_get_default()(sig, sig_len, h->pkcs1_oid, h->len,
                                         &pk, recovered))
        return false;
    return sello_memcmp(recovered, digest, h->len) == 0;
}
