/*
 * X.509 certificates as the command line checks them: parsed with the
 * project DER reader, public keys taken out with BearSSL's br_x509_decoder,
 * signatures verified with BearSSL's RSA PKCS#1 v1.5 and ECDSA verifiers.
 *
 * This is deliberately not BearSSL's br_x509_minimal: that engine rejects
 * every critical extension it does not know, and a TSU certificate always
 * carries a critical extendedKeyUsage. The checks here are the ones a
 * time-stamp verifier needs: names, signatures, validity at a given time,
 * CA flags, key usage, EKU, and a refusal of unknown critical extensions.
 * Revocation is out of scope.
 */
#ifndef SELLO_TOOLS_X509_H
#define SELLO_TOOLS_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#include "der.h"
#include "derx.h"
#include "hash.h"
#include "oidx.h"

/* keyUsage bits (RFC 5280 4.2.1.3) as derx_read_named_bits numbers them. */
enum {
    X509_KU_DIGITAL_SIGNATURE = 1u << 0,
    X509_KU_NON_REPUDIATION = 1u << 1,
    X509_KU_KEY_CERT_SIGN = 1u << 5,
};

/*
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 *                            signatureValue BIT STRING }
 * All cursors point into the caller's buffer, which must outlive this.
 */
typedef struct {
    sello_der_cur whole;        /* the complete certificate */
    sello_der_cur tbs;          /* tbsCertificate, whole element */
    unsigned version;     /* 1..3 */
    sello_der_cur serial;       /* INTEGER content octets as encoded */
    derx_alg tbs_sig_alg; /* tbsCertificate.signature */
    sello_der_cur issuer;       /* Name, whole element */
    sello_der_cur subject;      /* Name, whole element */
    derx_time not_before, not_after;
    sello_der_cur spki;         /* SubjectPublicKeyInfo, whole element */
    derx_alg sig_alg;     /* Certificate.signatureAlgorithm */
    sello_der_cur signature;    /* signatureValue octets */

    /* Extensions the verifier interprets. */
    bool has_eku, eku_critical;
    bool eku_timestamping_only; /* exactly one purpose: id-kp-timeStamping */
    bool has_key_usage;
    uint32_t key_usage;         /* X509_KU_* */
    bool is_ca;                 /* basicConstraints cA TRUE */
    bool has_ski;
    sello_der_cur ski;                /* keyIdentifier octets */
    bool has_san;
    sello_der_cur san;                /* GeneralNames content */
    bool has_pkup;              /* privateKeyUsagePeriod */
    bool pkup_has_not_before, pkup_has_not_after;
    derx_time pkup_not_before, pkup_not_after;
    /* Dotted OID of the first critical extension not interpreted here, or
     * an empty string. */
    char unknown_critical[OIDX_DOTTED_MAX];
} x509_cert;

/*
 * Parses der[0..len), which must be exactly one certificate. Returns NULL
 * or a message naming the malformed part. Extension values the verifier
 * interprets are checked for DER too; duplicate extensions are refused.
 */
const char *x509_parse(const uint8_t *der, size_t len, x509_cert *c);

/* A public key copied out of br_x509_decoder. */
typedef struct {
    br_x509_pkey key; /* points into buf */
    unsigned char buf[BR_X509_BUFSIZE_KEY];
} x509_pubkey;

/* Extracts the certificate's public key (RSA or EC on a BearSSL curve). */
const char *x509_pubkey_get(const x509_cert *c, x509_pubkey *pk);

/* Short description such as "RSA-3072" or "EC P-256". */
void x509_pubkey_describe(const x509_pubkey *pk, char *out, size_t cap);

/*
 * A signature algorithm: the key type it needs and its hash. In CMS the
 * bare key algorithms (rsaEncryption, id-ecPublicKey) also appear as
 * signature algorithms; they carry no hash, and hash_id is then 0 (the
 * SignerInfo digestAlgorithm decides).
 */
typedef struct {
    int key_type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
    int hash_id;  /* SELLO_HASH_*, or 0 */
} x509_sigalg;

/*
 * Maps an AlgorithmIdentifier to a signature algorithm. RSA algorithms
 * take absent or NULL parameters, ECDSA ones none at all (RFC 5758).
 * `allow_bare` admits rsaEncryption / id-ecPublicKey (CMS only).
 */
const char *x509_sigalg_get(const derx_alg *alg, bool allow_bare,
                            x509_sigalg *out);

/*
 * Verifies `sig` over the message whose hash is digest[0..h->len) with key
 * `pk`, for the given key type: RSA PKCS#1 v1.5 with DigestInfo, or an
 * ECDSA-Sig-Value whose DER is checked with the project reader first.
 * Returns NULL when the signature is valid.
 */
const char *x509_verify_signature(const x509_pubkey *pk, int key_type,
                                  const sello_hash_info *h,
                                  const uint8_t *digest, const uint8_t *sig,
                                  size_t sig_len);

/*
 * Checks that `issuer` issued `child`: child.issuer equals issuer.subject
 * octet for octet, the two signature algorithm fields of `child` agree,
 * and child's signature over its tbsCertificate verifies under issuer's
 * key. Returns NULL when it did.
 */
const char *x509_check_issued(const x509_cert *child, const x509_cert *issuer);

/*
 * Builds and checks a path from `leaf` to one of `anchors`, taking
 * intermediate CA certificates from `pool` (at most X509_MAX_DEPTH of
 * them). Every certificate on the path, anchors included, must be valid
 * at `at` and be a CA (basicConstraints cA, keyCertSign when keyUsage is
 * present); intermediates must not carry unknown critical extensions.
 * On success returns NULL and sets *anchor_used (may be NULL); otherwise
 * writes why into why[0..why_cap) and returns why.
 */
#define X509_MAX_DEPTH 4
const char *x509_verify_path(const x509_cert *leaf, const x509_cert *anchors,
                             size_t n_anchors, const x509_cert *pool,
                             size_t n_pool, const derx_time *at, char *why,
                             size_t why_cap, const x509_cert **anchor_used);

/* True when the two certificates are the same octets. */
bool x509_same(const x509_cert *a, const x509_cert *b);

#endif
