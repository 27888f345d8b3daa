/*
 * Object identifiers Sello reads or writes: content octets only (no tag or
 * length), so they can be compared with a DER reader's OID content and
 * prefixed by sello_der_writer where needed. Generated from the dotted forms below;
 * test/unit checks a sample against an independent encoder.
 */
#ifndef SELLO_OID_H
#define SELLO_OID_H

#include <stdint.h>

/* 1.3.14.3.2.26: SHA-1 (RFC 3279) */
#define SELLO_OID_SHA1_LEN 5u
extern const uint8_t SELLO_OID_SHA1[SELLO_OID_SHA1_LEN];
/* 2.16.840.1.101.3.4.2.4: SHA-224 */
#define SELLO_OID_SHA224_LEN 9u
extern const uint8_t SELLO_OID_SHA224[SELLO_OID_SHA224_LEN];
/* 2.16.840.1.101.3.4.2.1: SHA-256 */
#define SELLO_OID_SHA256_LEN 9u
extern const uint8_t SELLO_OID_SHA256[SELLO_OID_SHA256_LEN];
/* 2.16.840.1.101.3.4.2.2: SHA-384 */
#define SELLO_OID_SHA384_LEN 9u
extern const uint8_t SELLO_OID_SHA384[SELLO_OID_SHA384_LEN];
/* 2.16.840.1.101.3.4.2.3: SHA-512 */
#define SELLO_OID_SHA512_LEN 9u
extern const uint8_t SELLO_OID_SHA512[SELLO_OID_SHA512_LEN];
/* 1.2.840.10045.4.3.2: ecdsa-with-SHA256 */
#define SELLO_OID_ECDSA_SHA256_LEN 8u
extern const uint8_t SELLO_OID_ECDSA_SHA256[SELLO_OID_ECDSA_SHA256_LEN];
/* 1.2.840.10045.4.3.3: ecdsa-with-SHA384 */
#define SELLO_OID_ECDSA_SHA384_LEN 8u
extern const uint8_t SELLO_OID_ECDSA_SHA384[SELLO_OID_ECDSA_SHA384_LEN];
/* 1.2.840.10045.4.3.4: ecdsa-with-SHA512 */
#define SELLO_OID_ECDSA_SHA512_LEN 8u
extern const uint8_t SELLO_OID_ECDSA_SHA512[SELLO_OID_ECDSA_SHA512_LEN];
/* 1.2.840.113549.1.1.11: sha256WithRSAEncryption */
#define SELLO_OID_RSA_SHA256_LEN 9u
extern const uint8_t SELLO_OID_RSA_SHA256[SELLO_OID_RSA_SHA256_LEN];
/* 1.2.840.113549.1.1.12: sha384WithRSAEncryption */
#define SELLO_OID_RSA_SHA384_LEN 9u
extern const uint8_t SELLO_OID_RSA_SHA384[SELLO_OID_RSA_SHA384_LEN];
/* 1.2.840.113549.1.1.13: sha512WithRSAEncryption */
#define SELLO_OID_RSA_SHA512_LEN 9u
extern const uint8_t SELLO_OID_RSA_SHA512[SELLO_OID_RSA_SHA512_LEN];
/* 1.2.840.113549.1.1.1: rsaEncryption */
#define SELLO_OID_RSA_LEN 9u
extern const uint8_t SELLO_OID_RSA[SELLO_OID_RSA_LEN];
/* 1.2.840.10045.2.1: id-ecPublicKey */
#define SELLO_OID_EC_PUBLIC_KEY_LEN 7u
extern const uint8_t SELLO_OID_EC_PUBLIC_KEY[SELLO_OID_EC_PUBLIC_KEY_LEN];
/* 1.2.840.10045.3.1.7: secp256r1 */
#define SELLO_OID_P256_LEN 8u
extern const uint8_t SELLO_OID_P256[SELLO_OID_P256_LEN];
/* 1.3.132.0.34: secp384r1 */
#define SELLO_OID_P384_LEN 5u
extern const uint8_t SELLO_OID_P384[SELLO_OID_P384_LEN];
/* 1.2.840.113549.1.7.2: id-signedData */
#define SELLO_OID_SIGNED_DATA_LEN 9u
extern const uint8_t SELLO_OID_SIGNED_DATA[SELLO_OID_SIGNED_DATA_LEN];
/* 1.2.840.113549.1.9.16.1.4: id-ct-TSTInfo */
#define SELLO_OID_CT_TSTINFO_LEN 11u
extern const uint8_t SELLO_OID_CT_TSTINFO[SELLO_OID_CT_TSTINFO_LEN];
/* 1.2.840.113549.1.9.3: id-contentType */
#define SELLO_OID_ATTR_CONTENT_TYPE_LEN 9u
extern const uint8_t SELLO_OID_ATTR_CONTENT_TYPE[SELLO_OID_ATTR_CONTENT_TYPE_LEN];
/* 1.2.840.113549.1.9.4: id-messageDigest */
#define SELLO_OID_ATTR_MESSAGE_DIGEST_LEN 9u
extern const uint8_t SELLO_OID_ATTR_MESSAGE_DIGEST[SELLO_OID_ATTR_MESSAGE_DIGEST_LEN];
/* 1.2.840.113549.1.9.16.2.47: id-aa-signingCertificateV2 */
#define SELLO_OID_ATTR_SIGNING_CERT_V2_LEN 11u
extern const uint8_t SELLO_OID_ATTR_SIGNING_CERT_V2[SELLO_OID_ATTR_SIGNING_CERT_V2_LEN];
/* 1.2.840.113549.1.9.16.2.12: id-aa-signingCertificate */
#define SELLO_OID_ATTR_SIGNING_CERT_LEN 11u
extern const uint8_t SELLO_OID_ATTR_SIGNING_CERT[SELLO_OID_ATTR_SIGNING_CERT_LEN];
/* 2.5.29.37: id-ce-extKeyUsage */
#define SELLO_OID_EXT_EKU_LEN 3u
extern const uint8_t SELLO_OID_EXT_EKU[SELLO_OID_EXT_EKU_LEN];
/* 1.3.6.1.5.5.7.3.8: id-kp-timeStamping */
#define SELLO_OID_KP_TIMESTAMPING_LEN 8u
extern const uint8_t SELLO_OID_KP_TIMESTAMPING[SELLO_OID_KP_TIMESTAMPING_LEN];
/* 1.3.6.1.5.5.7.1.3: id-pe-qcStatements */
#define SELLO_OID_PE_QCSTATEMENTS_LEN 8u
extern const uint8_t SELLO_OID_PE_QCSTATEMENTS[SELLO_OID_PE_QCSTATEMENTS_LEN];
/* 0.4.0.19422.1.1: esi4-qtstStatement-1 (EN 319 422) */
#define SELLO_OID_ETSI_QTST_STATEMENT_LEN 7u
extern const uint8_t SELLO_OID_ETSI_QTST_STATEMENT[SELLO_OID_ETSI_QTST_STATEMENT_LEN];
/* 0.4.0.2023.1.1: ETSI best practices policy for time-stamps (EN 319 421) */
#define SELLO_OID_ETSI_BEST_PRACTICE_POLICY_LEN 6u
extern const uint8_t SELLO_OID_ETSI_BEST_PRACTICE_POLICY[SELLO_OID_ETSI_BEST_PRACTICE_POLICY_LEN];
/* 2.5.29.16: id-ce-privateKeyUsagePeriod */
#define SELLO_OID_EXT_PRIVATE_KEY_USAGE_PERIOD_LEN 3u
extern const uint8_t SELLO_OID_EXT_PRIVATE_KEY_USAGE_PERIOD[SELLO_OID_EXT_PRIVATE_KEY_USAGE_PERIOD_LEN];

#endif
