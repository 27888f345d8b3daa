/* Certificate parsing and signature checks; contracts in x509.h. */
#include "x509.h"

#include <stdio.h>
#include <string.h>

#include <sello/abi.h>

#include "dn.h"
#include "oid.h"

#define IS_OID(cur, NAME) sello_der_equal((cur), NAME, NAME##_LEN)

/*
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER,
 *                          critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING }
 * Each interpreter reads the extnValue content; NULL when well-formed.
 */

/* ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId */
static const char *ext_eku(sello_der_cur v, x509_cert *c)
{
    sello_der_cur seq;
    if (sello_der_read(&v, SELLO_DER_SEQUENCE, &seq, NULL) != SELLO_OK || !sello_der_at_end(&v) ||
        sello_der_at_end(&seq))
        return "malformed extendedKeyUsage";
    size_t count = 0;
    bool ts = false;
    while (!sello_der_at_end(&seq)) {
        sello_der_cur oid;
        if (sello_der_read_oid(&seq, &oid) != SELLO_OK)
            return "malformed extendedKeyUsage";
        count++;
        ts |= IS_OID(&oid, SELLO_OID_KP_TIMESTAMPING);
    }
    c->eku_timestamping_only = ts && count == 1;
    return NULL;
}

/* KeyUsage ::= BIT STRING { digitalSignature (0), ... } */
static const char *ext_key_usage(sello_der_cur v, x509_cert *c)
{
    if (derx_read_named_bits(&v, &c->key_usage) != SELLO_OK ||
        !sello_der_at_end(&v) || c->key_usage == 0)
        return "malformed keyUsage";
    return NULL;
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 *                                 pathLenConstraint INTEGER (0..MAX) OPT } */
static const char *ext_basic_constraints(sello_der_cur v, x509_cert *c)
{
    sello_der_cur seq, len;
    bool ca = false;
    if (sello_der_read(&v, SELLO_DER_SEQUENCE, &seq, NULL) != SELLO_OK || !sello_der_at_end(&v))
        return "malformed basicConstraints";
    if (sello_der_peek_tag(&seq) == SELLO_DER_BOOLEAN) {
        /* DER omits a DEFAULT value, so an encoded cA is TRUE. */
        if (sello_der_read_bool(&seq, &ca) != SELLO_OK || !ca)
            return "malformed basicConstraints";
    }
    if (!sello_der_at_end(&seq) &&
        (derx_read_uint_mag(&seq, &len) != SELLO_OK || !sello_der_at_end(&seq)))
        return "malformed basicConstraints";
    c->is_ca = ca;
    return NULL;
}

/* SubjectKeyIdentifier ::= KeyIdentifier (OCTET STRING) */
static const char *ext_ski(sello_der_cur v, x509_cert *c)
{
    if (sello_der_read(&v, SELLO_DER_OCTET_STRING, &c->ski, NULL) != SELLO_OK ||
        !sello_der_at_end(&v))
        return "malformed subjectKeyIdentifier";
    c->has_ski = true;
    return NULL;
}

/* GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName */
static const char *ext_san(sello_der_cur v, x509_cert *c)
{
    sello_der_cur seq, probe;
    if (sello_der_read(&v, SELLO_DER_SEQUENCE, &seq, NULL) != SELLO_OK ||
        !sello_der_at_end(&v) || sello_der_at_end(&seq))
        return "malformed subjectAltName";
    probe = seq;
    while (!sello_der_at_end(&probe)) {
        uint8_t tag;
        sello_der_cur content;
        if (sello_der_read_any(&probe, &tag, &content, NULL) != SELLO_OK ||
            (tag & 0xc0) != 0x80)
            return "malformed subjectAltName";
    }
    c->has_san = true;
    c->san = seq;
    return NULL;
}

/* PrivateKeyUsagePeriod ::= SEQUENCE {
 *     notBefore [0] GeneralizedTime OPTIONAL,
 *     notAfter  [1] GeneralizedTime OPTIONAL } */
static const char *read_implicit_gentime(sello_der_cur *seq, uint8_t tag,
                                         derx_time *t, bool *present)
{
    *present = sello_der_peek_tag(seq) == tag;
    if (!*present)
        return NULL;
    /* Re-read the IMPLICIT element as a GeneralizedTime: copy it with
     * the universal tag so the one time parser applies. */
    sello_der_cur content, whole;
    if (sello_der_read(seq, tag, &content, &whole) != SELLO_OK ||
        sello_der_remaining(&whole) > 64)
        return "malformed privateKeyUsagePeriod";
    uint8_t tmp[64];
    memcpy(tmp, whole.p, sello_der_remaining(&whole));
    tmp[0] = SELLO_DER_GENERALIZED_TIME;
    sello_der_cur tc = sello_der_cur_init(tmp, sello_der_remaining(&whole));
    if (derx_read_cert_time(&tc, t) != SELLO_OK)
        return "malformed privateKeyUsagePeriod";
    return NULL;
}

static const char *ext_pkup(sello_der_cur v, x509_cert *c)
{
    sello_der_cur seq;
    const char *why;
    if (sello_der_read(&v, SELLO_DER_SEQUENCE, &seq, NULL) != SELLO_OK || !sello_der_at_end(&v))
        return "malformed privateKeyUsagePeriod";
    if ((why = read_implicit_gentime(&seq, SELLO_DER_CONTEXT(0), &c->pkup_not_before,
                                     &c->pkup_has_not_before)) ||
        (why = read_implicit_gentime(&seq, SELLO_DER_CONTEXT(1), &c->pkup_not_after,
                                     &c->pkup_has_not_after)))
        return why;
    if (!sello_der_at_end(&seq) || (!c->pkup_has_not_before && !c->pkup_has_not_after))
        return "malformed privateKeyUsagePeriod";
    c->has_pkup = true;
    return NULL;
}

/* Extensions that are understood without being interpreted: their content
 * constrains nothing a time-stamp verifier decides. nameConstraints and
 * certificatePolicies are deliberately absent: honouring them critically
 * would need processing that is not done here. */
static bool ext_harmless(const sello_der_cur *oid)
{
    return IS_OID(oid, OIDX_EXT_AKI) || IS_OID(oid, OIDX_EXT_CRL_DP) ||
           IS_OID(oid, OIDX_PE_AIA) || IS_OID(oid, SELLO_OID_PE_QCSTATEMENTS);
}

static const char *parse_extensions(sello_der_cur exts, x509_cert *c)
{
    sello_der_cur seq;
    if (sello_der_read(&exts, SELLO_DER_SEQUENCE, &seq, NULL) != SELLO_OK ||
        !sello_der_at_end(&exts) || sello_der_at_end(&seq))
        return "malformed extensions";
    sello_der_cur seen[64];
    size_t n_seen = 0;
    while (!sello_der_at_end(&seq)) {
        sello_der_cur ext, oid, value;
        bool critical = false, has_crit;
        sello_der_cur crit_content;
        if (sello_der_read(&seq, SELLO_DER_SEQUENCE, &ext, NULL) != SELLO_OK ||
            sello_der_read_oid(&ext, &oid) != SELLO_OK)
            return "malformed extension";
        if (sello_der_read_optional(&ext, SELLO_DER_BOOLEAN, &crit_content, NULL,
                              &has_crit) != SELLO_OK)
            return "malformed extension";
        if (has_crit) {
            /* DER omits the DEFAULT FALSE, so only 0xff may appear. */
            if (sello_der_remaining(&crit_content) != 1 || crit_content.p[0] != 0xff)
                return "extension with an encoded critical FALSE or a "
                       "non-DER BOOLEAN";
            critical = true;
        }
        if (sello_der_read(&ext, SELLO_DER_OCTET_STRING, &value, NULL) != SELLO_OK ||
            !sello_der_at_end(&ext))
            return "malformed extension";
        for (size_t i = 0; i < n_seen; i++)
            if (sello_der_equal(&seen[i], oid.p, sello_der_remaining(&oid)))
                return "duplicate extension";
        if (n_seen == sizeof seen / sizeof seen[0])
            return "too many extensions";
        seen[n_seen++] = oid;

        const char *why = NULL;
        if (IS_OID(&oid, SELLO_OID_EXT_EKU)) {
            c->has_eku = true;
            c->eku_critical = critical;
            why = ext_eku(value, c);
        } else if (IS_OID(&oid, OIDX_EXT_KEY_USAGE)) {
            c->has_key_usage = true;
            why = ext_key_usage(value, c);
        } else if (IS_OID(&oid, OIDX_EXT_BASIC_CONSTRAINTS)) {
            why = ext_basic_constraints(value, c);
        } else if (IS_OID(&oid, OIDX_EXT_SKI)) {
            why = ext_ski(value, c);
        } else if (IS_OID(&oid, OIDX_EXT_SAN)) {
            why = ext_san(value, c);
        } else if (IS_OID(&oid, SELLO_OID_EXT_PRIVATE_KEY_USAGE_PERIOD)) {
            why = ext_pkup(value, c);
        } else if (critical && !ext_harmless(&oid) && !c->unknown_critical[0]) {
            oidx_to_dotted(oid.p, sello_der_remaining(&oid), c->unknown_critical);
        }
        if (why)
            return why;
    }
    return NULL;
}

const char *x509_parse(const uint8_t *der, size_t len, x509_cert *c)
{
    memset(c, 0, sizeof *c);
    sello_der_cur in = sello_der_cur_init(der, len), cert, tbs, validity;
    if (sello_der_read(&in, SELLO_DER_SEQUENCE, &cert, &c->whole) != SELLO_OK ||
        !sello_der_at_end(&in))
        return "certificate is not one DER SEQUENCE";
    if (sello_der_read(&cert, SELLO_DER_SEQUENCE, &tbs, &c->tbs) != SELLO_OK)
        return "malformed tbsCertificate";

    /* version [0] EXPLICIT Version DEFAULT v1 */
    c->version = 1;
    bool has_version;
    sello_der_cur vwrap;
    if (sello_der_read_optional(&tbs, SELLO_DER_CONTEXT_CONS(0), &vwrap, NULL,
                          &has_version) != SELLO_OK)
        return "malformed certificate version";
    if (has_version) {
        uint32_t v;
        if (sello_der_read_u32(&vwrap, &v) != SELLO_OK || !sello_der_at_end(&vwrap) ||
            v < 1 || v > 2)
            return "malformed certificate version (or an encoded DEFAULT v1)";
        c->version = v + 1;
    }
    if (sello_der_read_integer(&tbs, &c->serial) != SELLO_OK)
        return "malformed certificate serialNumber";
    if (derx_read_alg(&tbs, &c->tbs_sig_alg) != SELLO_OK)
        return "malformed tbsCertificate.signature";
    sello_der_cur name_content;
    if (sello_der_read(&tbs, SELLO_DER_SEQUENCE, &name_content, &c->issuer) != SELLO_OK)
        return "malformed certificate issuer";
    if (sello_der_read(&tbs, SELLO_DER_SEQUENCE, &validity, NULL) != SELLO_OK ||
        derx_read_cert_time(&validity, &c->not_before) != SELLO_OK ||
        derx_read_cert_time(&validity, &c->not_after) != SELLO_OK ||
        !sello_der_at_end(&validity))
        return "malformed certificate validity";
    if (sello_der_read(&tbs, SELLO_DER_SEQUENCE, &name_content, &c->subject) != SELLO_OK)
        return "malformed certificate subject";
    char probe[8]; /* dn_format validates the Name's structure */
    if (!dn_format(&c->issuer, probe, sizeof probe))
        return "malformed certificate issuer name";
    if (!dn_format(&c->subject, probe, sizeof probe))
        return "malformed certificate subject name";
    sello_der_cur spki_content;
    if (sello_der_read(&tbs, SELLO_DER_SEQUENCE, &spki_content, &c->spki) != SELLO_OK)
        return "malformed subjectPublicKeyInfo";
    /* issuerUniqueID [1], subjectUniqueID [2]: tolerated, unused. */
    bool present;
    sello_der_cur skip;
    if (sello_der_read_optional(&tbs, SELLO_DER_CONTEXT(1), &skip, NULL, &present) !=
            SELLO_OK ||
        sello_der_read_optional(&tbs, SELLO_DER_CONTEXT(2), &skip, NULL, &present) !=
            SELLO_OK)
        return "malformed unique identifier";
    sello_der_cur exts;
    if (sello_der_read_optional(&tbs, SELLO_DER_CONTEXT_CONS(3), &exts, NULL, &present) !=
        SELLO_OK)
        return "malformed extensions";
    if (present) {
        if (c->version != 3)
            return "extensions in a certificate that is not v3";
        const char *why = parse_extensions(exts, c);
        if (why)
            return why;
    }
    if (!sello_der_at_end(&tbs))
        return "trailing data in tbsCertificate";
    if (derx_read_alg(&cert, &c->sig_alg) != SELLO_OK)
        return "malformed certificate signatureAlgorithm";
    if (derx_read_octet_bits(&cert, &c->signature) != SELLO_OK ||
        !sello_der_at_end(&cert))
        return "malformed certificate signatureValue";
    return NULL;
}

/* ---- keys ------------------------------------------------------------- */

const char *x509_pubkey_get(const x509_cert *c, x509_pubkey *pk)
{
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, c->whole.p, sello_der_remaining(&c->whole));
    const br_x509_pkey *k = br_x509_decoder_get_pkey(&dc);
    if (!k)
        return "certificate public key not supported (RSA or EC P-256, "
               "P-384, P-521 expected)";
    memset(pk, 0, sizeof *pk);
    pk->key.key_type = k->key_type;
    if (k->key_type == BR_KEYTYPE_RSA) {
        const br_rsa_public_key *r = &k->key.rsa;
        if (r->nlen + r->elen > sizeof pk->buf)
            return "RSA key too large";
        memcpy(pk->buf, r->n, r->nlen);
        memcpy(pk->buf + r->nlen, r->e, r->elen);
        pk->key.key.rsa.n = pk->buf;
        pk->key.key.rsa.nlen = r->nlen;
        pk->key.key.rsa.e = pk->buf + r->nlen;
        pk->key.key.rsa.elen = r->elen;
    } else if (k->key_type == BR_KEYTYPE_EC) {
        const br_ec_public_key *e = &k->key.ec;
        if (e->qlen > sizeof pk->buf)
            return "EC key too large";
        memcpy(pk->buf, e->q, e->qlen);
        pk->key.key.ec.curve = e->curve;
        pk->key.key.ec.q = pk->buf;
        pk->key.key.ec.qlen = e->qlen;
    } else {
        return "unknown public key type";
    }
    return NULL;
}

void x509_pubkey_describe(const x509_pubkey *pk, char *out, size_t cap)
{
    if (pk->key.key_type == BR_KEYTYPE_RSA) {
        const br_rsa_public_key *r = &pk->key.key.rsa;
        size_t i = 0, bits = 0;
        while (i < r->nlen && r->n[i] == 0)
            i++;
        if (i < r->nlen) {
            bits = (r->nlen - i) * 8;
            for (uint8_t top = r->n[i]; !(top & 0x80); top <<= 1)
                bits--;
        }
        snprintf(out, cap, "RSA-%zu", bits);
    } else {
        int curve = pk->key.key.ec.curve;
        snprintf(out, cap, "EC %s",
                 curve == BR_EC_secp256r1   ? "P-256"
                 : curve == BR_EC_secp384r1 ? "P-384"
                 : curve == BR_EC_secp521r1 ? "P-521"
                                            : "(other curve)");
    }
}

/* ---- signature algorithms --------------------------------------------- */

typedef struct {
    const uint8_t *oid;
    size_t oid_len;
    int key_type;
    int hash_id; /* 0: bare key algorithm */
} sigalg_entry;

static const sigalg_entry sigalgs[] = {
    {SELLO_OID_RSA_SHA256, SELLO_OID_RSA_SHA256_LEN, BR_KEYTYPE_RSA, SELLO_HASH_SHA256},
    {SELLO_OID_RSA_SHA384, SELLO_OID_RSA_SHA384_LEN, BR_KEYTYPE_RSA, SELLO_HASH_SHA384},
    {SELLO_OID_RSA_SHA512, SELLO_OID_RSA_SHA512_LEN, BR_KEYTYPE_RSA, SELLO_HASH_SHA512},
    {OIDX_SHA224_RSA, OIDX_SHA224_RSA_LEN, BR_KEYTYPE_RSA, SELLO_HASH_SHA224},
    {OIDX_SHA1_RSA, OIDX_SHA1_RSA_LEN, BR_KEYTYPE_RSA, SELLO_HASH_SHA1},
    {SELLO_OID_ECDSA_SHA256, SELLO_OID_ECDSA_SHA256_LEN, BR_KEYTYPE_EC, SELLO_HASH_SHA256},
    {SELLO_OID_ECDSA_SHA384, SELLO_OID_ECDSA_SHA384_LEN, BR_KEYTYPE_EC, SELLO_HASH_SHA384},
    {SELLO_OID_ECDSA_SHA512, SELLO_OID_ECDSA_SHA512_LEN, BR_KEYTYPE_EC, SELLO_HASH_SHA512},
    {OIDX_ECDSA_SHA224, OIDX_ECDSA_SHA224_LEN, BR_KEYTYPE_EC, SELLO_HASH_SHA224},
    {OIDX_ECDSA_SHA1, OIDX_ECDSA_SHA1_LEN, BR_KEYTYPE_EC, SELLO_HASH_SHA1},
    {SELLO_OID_RSA, SELLO_OID_RSA_LEN, BR_KEYTYPE_RSA, 0},
    {SELLO_OID_EC_PUBLIC_KEY, SELLO_OID_EC_PUBLIC_KEY_LEN, BR_KEYTYPE_EC, 0},
};

const char *x509_sigalg_get(const derx_alg *alg, bool allow_bare,
                            x509_sigalg *out)
{
    for (size_t i = 0; i < sizeof sigalgs / sizeof sigalgs[0]; i++) {
        const sigalg_entry *e = &sigalgs[i];
        if (!sello_der_equal(&alg->oid, e->oid, e->oid_len))
            continue;
        if (e->hash_id == 0 && !allow_bare)
            return "key algorithm used as a certificate signature algorithm";
        if (e->key_type == BR_KEYTYPE_RSA &&
            !derx_alg_params_absent_or_null(alg))
            return "RSA signature algorithm with parameters";
        /* id-ecPublicKey as a CMS signature algorithm may name a curve;
         * the ECDSA-with-hash identifiers take no parameters. */
        if (e->key_type == BR_KEYTYPE_EC && e->hash_id != 0 && alg->has_params)
            return "ECDSA signature algorithm with parameters";
        out->key_type = e->key_type;
        out->hash_id = e->hash_id;
        return NULL;
    }
    if (sello_der_equal(&alg->oid, OIDX_RSA_PSS, OIDX_RSA_PSS_LEN))
        return "RSASSA-PSS signatures are not supported";
    return "unknown signature algorithm";
}

/* ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, both positive. */
static bool ecdsa_sig_der_ok(const uint8_t *sig, size_t len)
{
    sello_der_cur c = sello_der_cur_init(sig, len), seq, r, s;
    return sello_der_read(&c, SELLO_DER_SEQUENCE, &seq, NULL) == SELLO_OK &&
           sello_der_at_end(&c) && derx_read_uint_mag(&seq, &r) == SELLO_OK &&
           derx_read_uint_mag(&seq, &s) == SELLO_OK && sello_der_at_end(&seq) &&
           !(sello_der_remaining(&r) == 1 && r.p[0] == 0) &&
           !(sello_der_remaining(&s) == 1 && s.p[0] == 0);
}

const char *x509_verify_signature(const x509_pubkey *pk, int key_type,
                                  const sello_hash_info *h,
                                  const uint8_t *digest, const uint8_t *sig,
                                  size_t sig_len)
{
    if (pk->key.key_type != key_type)
        return key_type == BR_KEYTYPE_RSA
                   ? "RSA signature algorithm but an EC key"
                   : "ECDSA signature algorithm but an RSA key";
    if (key_type == BR_KEYTYPE_RSA) {
        uint8_t recovered[SELLO_HASH_MAX_LEN];
        br_rsa_pkcs1_vrfy vrfy = br_rsa_pkcs1_vrfy_get_default();
        if (!vrfy(sig, sig_len, h->pkcs1_oid, h->len, &pk->key.key.rsa,
                  recovered))
            return "RSA signature does not verify (bad padding, DigestInfo "
                   "or length)";
        if (memcmp(recovered, digest, h->len) != 0)
            return "RSA signature does not verify (hash mismatch)";
        return NULL;
    }
    if (!ecdsa_sig_der_ok(sig, sig_len))
        return "ECDSA signature is not a DER ECDSA-Sig-Value";
    br_ecdsa_vrfy vrfy = br_ecdsa_vrfy_asn1_get_default();
    if (!vrfy(br_ec_get_default(), digest, h->len, &pk->key.key.ec, sig,
              sig_len))
        return "ECDSA signature does not verify";
    return NULL;
}

/* ---- paths -------------------------------------------------------------- */

bool x509_same(const x509_cert *a, const x509_cert *b)
{
    return sello_der_remaining(&a->whole) == sello_der_remaining(&b->whole) &&
           memcmp(a->whole.p, b->whole.p, sello_der_remaining(&a->whole)) == 0;
}

static bool names_equal(const sello_der_cur *a, const sello_der_cur *b)
{
    return sello_der_remaining(a) == sello_der_remaining(b) &&
           memcmp(a->p, b->p, sello_der_remaining(a)) == 0;
}

const char *x509_check_issued(const x509_cert *child, const x509_cert *issuer)
{
    if (!names_equal(&child->issuer, &issuer->subject))
        return "issuer name does not match the CA subject";
    if (!names_equal(&child->tbs_sig_alg.whole, &child->sig_alg.whole))
        return "signatureAlgorithm differs from tbsCertificate.signature";
    x509_sigalg alg;
    const char *why = x509_sigalg_get(&child->sig_alg, false, &alg);
    if (why)
        return why;
    const sello_hash_info *h = sello_hash_by_id(alg.hash_id);
    if (!h)
        return "unsupported certificate signature hash";
    x509_pubkey pk;
    if ((why = x509_pubkey_get(issuer, &pk)))
        return why;
    uint8_t digest[SELLO_HASH_MAX_LEN];
    sello_hash(h, child->tbs.p, sello_der_remaining(&child->tbs), digest);
    return x509_verify_signature(&pk, alg.key_type, h, digest,
                                 child->signature.p,
                                 sello_der_remaining(&child->signature));
}

/* The checks every CA certificate on a path must pass; NULL when it does. */
static const char *ca_usable(const x509_cert *ca, const derx_time *at)
{
    if (!ca->is_ca)
        return "is not a CA (basicConstraints cA is not TRUE)";
    if (ca->has_key_usage && !(ca->key_usage & X509_KU_KEY_CERT_SIGN))
        return "keyUsage lacks keyCertSign";
    if (derx_time_cmp(at, &ca->not_before) < 0 ||
        derx_time_cmp(at, &ca->not_after) > 0)
        return "is not valid at the time checked";
    return NULL;
}

const char *x509_verify_path(const x509_cert *leaf, const x509_cert *anchors,
                             size_t n_anchors, const x509_cert *pool,
                             size_t n_pool, const derx_time *at, char *why,
                             size_t why_cap, const x509_cert **anchor_used)
{
    const x509_cert *cur = leaf;
    char name[256];
    for (unsigned depth = 0; depth <= X509_MAX_DEPTH; depth++) {
        const char *last = NULL;
        /* A trust anchor that issued `cur` ends the path. */
        for (size_t i = 0; i < n_anchors; i++) {
            const x509_cert *a = &anchors[i];
            if (!names_equal(&cur->issuer, &a->subject))
                continue;
            const char *bad = ca_usable(a, at);
            if (!bad)
                bad = x509_check_issued(cur, a);
            if (!bad) {
                if (anchor_used)
                    *anchor_used = a;
                return NULL;
            }
            last = bad;
        }
        /* Otherwise an intermediate from the pool, never the same
         * certificate again (a loop). */
        const x509_cert *next = NULL;
        for (size_t i = 0; i < n_pool && !next && depth < X509_MAX_DEPTH;
             i++) {
            const x509_cert *p = &pool[i];
            if (x509_same(p, cur) || x509_same(p, leaf) ||
                !names_equal(&cur->issuer, &p->subject))
                continue;
            const char *bad = ca_usable(p, at);
            if (!bad && p->unknown_critical[0])
                bad = "carries an unknown critical extension";
            if (!bad)
                bad = x509_check_issued(cur, p);
            if (!bad)
                next = p;
            else if (!last)
                last = bad;
        }
        if (next) {
            cur = next;
            continue;
        }
        dn_format(&cur->issuer, name, sizeof name);
        if (last)
            snprintf(why, why_cap, "chain: issuer \"%s\": %s", name, last);
        else
            snprintf(why, why_cap,
                     "chain: no trusted CA certificate named \"%s\"", name);
        return why;
    }
    snprintf(why, why_cap, "chain: longer than %d certificates",
             X509_MAX_DEPTH + 1);
    return why;
}
