/*
 * The few facts Sello needs from an X.509 certificate, read with the strict
 * DER reader. Not a path validator: the module checks that a certificate is
 * fit to be the TSU certificate (its own key, the timeStamping-only
 * critical extendedKeyUsage, validity) and, given the issuer certificate,
 * that the issuer signed it.
 *
 * Certificate ::= SEQUENCE {
 *     tbsCertificate       TBSCertificate,
 *     signatureAlgorithm   AlgorithmIdentifier,
 *     signatureValue       BIT STRING }
 * TBSCertificate ::= SEQUENCE {
 *     version         [0] EXPLICIT Version DEFAULT v1,
 *     serialNumber         CertificateSerialNumber,
 *     signature            AlgorithmIdentifier,
 *     issuer               Name,
 *     validity             Validity,
 *     subject              Name,
 *     subjectPublicKeyInfo SubjectPublicKeyInfo,
 *     issuerUniqueID  [1] IMPLICIT UniqueIdentifier OPTIONAL,
 *     subjectUniqueID [2] IMPLICIT UniqueIdentifier OPTIONAL,
 *     extensions      [3] EXPLICIT Extensions OPTIONAL }
 */
#ifndef SELLO_X509_H
#define SELLO_X509_H

#include <stdbool.h>
#include <stdint.h>

#include <sello/status.h>

#include "der.h"

typedef struct {
    sello_der_cur whole;       /* the complete Certificate */
    sello_der_cur tbs;         /* the complete TBSCertificate element */
    sello_der_cur serial;      /* the complete serialNumber INTEGER element */
    sello_der_cur issuer;      /* the complete issuer Name element */
    sello_der_cur subject;     /* the complete subject Name element */
    sello_der_cur spki;        /* the complete SubjectPublicKeyInfo element */
    sello_der_cur sig_alg;     /* signatureAlgorithm OID content */
    sello_der_cur signature;   /* signature bits (without the unused-bits octet) */
    uint64_t not_before; /* seconds since 1970 */
    uint64_t not_after;
    unsigned version;    /* 1, 2 or 3 */
    bool eku_present;
    bool eku_critical;
    bool eku_timestamping_only;
    /* PrivateKeyUsagePeriod, when the extension is present. */
    bool usage_has_not_before;
    bool usage_has_not_after;
    uint64_t usage_not_before; /* seconds since 1970 */
    uint64_t usage_not_after;
} sello_x509;

/* The public key of a SubjectPublicKeyInfo, pointing into it. */
typedef struct {
    bool ec;
    int curve;         /* EC: BR_EC_secp256r1 or BR_EC_secp384r1 */
    sello_der_cur q;   /* EC: the encoded point */
    sello_der_cur n;   /* RSA: modulus magnitude (no leading zero) */
    sello_der_cur e;   /* RSA: exponent magnitude */
} sello_spki_key;

/*
 * Parses a complete SubjectPublicKeyInfo element: id-ecPublicKey on P-256
 * or P-384, or rsaEncryption. SELLO_ERR_DER for anything else.
 */
SELLO_MUST_CHECK sello_status sello_spki_parse(const sello_der_cur *spki,
                                               sello_spki_key *out);

/*
 * Parses one certificate at the cursor and moves past it. Fails with
 * SELLO_ERR_DER on any encoding error, including in extensions it reads.
 */
SELLO_MUST_CHECK sello_status sello_x509_parse(sello_der_cur *c, sello_x509 *out);

/*
 * True when `cert`'s signature verifies under the public key of `issuer`
 * (RSA PKCS#1 v1.5 or ECDSA with SHA-256/384/512).
 */
bool sello_x509_signed_by(const sello_x509 *cert, const sello_x509 *issuer);

#endif
