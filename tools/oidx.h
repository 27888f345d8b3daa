/*
 * Object identifiers the command line needs beyond the module's own
 * (firmware/oid.h, which this extends and never repeats), and conversion
 * between dotted text and DER content octets.
 *
 * Like firmware/oid.h, each constant holds the content octets only.
 */
#ifndef SELLO_TOOLS_OIDX_H
#define SELLO_TOOLS_OIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1.2.840.113549.1.1.5: sha1WithRSAEncryption */
#define OIDX_SHA1_RSA_LEN 9u
extern const uint8_t OIDX_SHA1_RSA[OIDX_SHA1_RSA_LEN];
/* 1.2.840.113549.1.1.14: sha224WithRSAEncryption */
#define OIDX_SHA224_RSA_LEN 9u
extern const uint8_t OIDX_SHA224_RSA[OIDX_SHA224_RSA_LEN];
/* 1.2.840.10045.4.1: ecdsa-with-SHA1 */
#define OIDX_ECDSA_SHA1_LEN 7u
extern const uint8_t OIDX_ECDSA_SHA1[OIDX_ECDSA_SHA1_LEN];
/* 1.2.840.10045.4.3.1: ecdsa-with-SHA224 */
#define OIDX_ECDSA_SHA224_LEN 8u
extern const uint8_t OIDX_ECDSA_SHA224[OIDX_ECDSA_SHA224_LEN];
/* 1.2.840.113549.1.1.10: id-RSASSA-PSS */
#define OIDX_RSA_PSS_LEN 9u
extern const uint8_t OIDX_RSA_PSS[OIDX_RSA_PSS_LEN];
/* 2.5.29.14: id-ce-subjectKeyIdentifier */
#define OIDX_EXT_SKI_LEN 3u
extern const uint8_t OIDX_EXT_SKI[OIDX_EXT_SKI_LEN];
/* 2.5.29.15: id-ce-keyUsage */
#define OIDX_EXT_KEY_USAGE_LEN 3u
extern const uint8_t OIDX_EXT_KEY_USAGE[OIDX_EXT_KEY_USAGE_LEN];
/* 2.5.29.17: id-ce-subjectAltName */
#define OIDX_EXT_SAN_LEN 3u
extern const uint8_t OIDX_EXT_SAN[OIDX_EXT_SAN_LEN];
/* 2.5.29.19: id-ce-basicConstraints */
#define OIDX_EXT_BASIC_CONSTRAINTS_LEN 3u
extern const uint8_t OIDX_EXT_BASIC_CONSTRAINTS[OIDX_EXT_BASIC_CONSTRAINTS_LEN];
/* 2.5.29.31: id-ce-cRLDistributionPoints */
#define OIDX_EXT_CRL_DP_LEN 3u
extern const uint8_t OIDX_EXT_CRL_DP[OIDX_EXT_CRL_DP_LEN];
/* 2.5.29.35: id-ce-authorityKeyIdentifier */
#define OIDX_EXT_AKI_LEN 3u
extern const uint8_t OIDX_EXT_AKI[OIDX_EXT_AKI_LEN];
/* 1.3.6.1.5.5.7.1.1: id-pe-authorityInfoAccess */
#define OIDX_PE_AIA_LEN 8u
extern const uint8_t OIDX_PE_AIA[OIDX_PE_AIA_LEN];

/* Longest dotted rendering the tool produces (longer OIDs are cut with
 * "..."). */
#define OIDX_DOTTED_MAX 128u

/*
 * Encodes dotted text ("1.2.840.113549") as DER content octets into
 * out[0..cap). Returns false for malformed text (fewer than two arcs, a
 * first arc above 2, a second arc above 39 under arcs 0 and 1, empty or
 * non-decimal arcs, arcs beyond 64 bits) or when it does not fit.
 */
bool oidx_from_dotted(const char *text, uint8_t *out, size_t cap,
                      size_t *len);

/*
 * Renders DER content octets as dotted text into out[OIDX_DOTTED_MAX].
 * Content that is not a valid OID renders as "<bad OID>".
 */
void oidx_to_dotted(const uint8_t *oid, size_t len,
                    char out[OIDX_DOTTED_MAX]);

#endif
