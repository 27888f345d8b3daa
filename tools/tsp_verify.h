/*
 * Verification of RFC 3161 time-stamp responses and tokens: the library
 * behind `sello verify` and `sello stamp`, callable from tests.
 *
 * Everything is parsed with the project's strict DER reader. The checks,
 * in the order they are made (the first failure is reported):
 *
 *  1. TimeStampResp: PKIStatus granted (0) or grantedWithMods (1), with a
 *     token; any other status is reported by name with its failInfo bits
 *     and statusString (TSV_REJECTED).
 *  2. ContentInfo id-signedData; SignedData version 3, exactly one
 *     SignerInfo, encapContentInfo id-ct-TSTInfo with its eContent.
 *  3. TSTInfo: version 1, policy, messageImprint (hash params absent or
 *     NULL, digest length matching the algorithm), non-negative serial,
 *     genTime (UTC "Z", fraction without trailing zeros), accuracy
 *     (millis and micros 1..999), ordering, nonce, tsa, extensions
 *     (qcStatements with esi4-qtstStatement-1 recognised; an unknown
 *     critical extension fails).
 *  4. SignerInfo: digestAlgorithm listed in SignedData.digestAlgorithms;
 *     signedAttrs present and in DER SET OF order; content-type equal to
 *     id-ct-TSTInfo; message-digest equal to the hash of the eContent
 *     octets; signing-certificate-v2 (ESSCertIDv2, absent hashAlgorithm
 *     meaning SHA-256) or signing-certificate (ESSCertID, SHA-1) present,
 *     each at most once and single-valued.
 *  5. Signer certificate: `tsa_cert` if given, else the token's
 *     certificate matching the sid (issuerAndSerialNumber or
 *     subjectKeyIdentifier). Its hash equals the first ESSCertID(v2)
 *     certHash, and any issuerSerial there names it.
 *  6. The signature over the DER SET OF signed attributes (the [0] tag
 *     replaced by SET) verifies with the signer certificate's key (RSA
 *     PKCS#1 v1.5 or ECDSA); a hash named by the signature algorithm must
 *     be the digestAlgorithm.
 *  7. Signer certificate profile: a critical extendedKeyUsage of exactly
 *     id-kp-timeStamping; keyUsage, when present, with digitalSignature or
 *     nonRepudiation; no unknown critical extension; genTime inside its
 *     validity and inside privateKeyUsagePeriod when present; a tsa name,
 *     when present, is its subject or one of its subjectAltNames.
 *  8. The imprint equals the caller's digest or the hash of the caller's
 *     data under the token's imprint algorithm.
 *  9. Nonce and policy equal the caller's when given; the presence of
 *     certificates matches certReq when the caller says what it asked.
 * 10. Chain, when trust anchors are given: a path from the signer
 *     certificate through token certificates to an anchor, every
 *     signature checked, every CA valid at genTime (see x509.h).
 */
#ifndef SELLO_TOOLS_TSP_VERIFY_H
#define SELLO_TOOLS_TSP_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "derx.h"
#include "oidx.h"

/* A DER object owned by the caller. */
typedef struct {
    const uint8_t *der;
    size_t len;
} tsv_blob;

typedef struct {
    /* The TimeStampResp, or with `input_is_token` a bare ContentInfo. */
    const uint8_t *input;
    size_t input_len;
    bool input_is_token;

    /* What was stamped: a digest (compared as is, its length must match
     * the imprint's algorithm) or a file hashed with the imprint's
     * algorithm. Exactly one must be set. */
    const uint8_t *digest;
    size_t digest_len;
    const char *data_path;

    /* Trust anchors for the chain check; none: the chain is not checked
     * and the result says so. */
    const tsv_blob *anchors;
    size_t n_anchors;
    /* The TSU certificate, when the token does not carry it. */
    const tsv_blob *tsa_cert;

    /* Expected values, checked when set. */
    const uint8_t *nonce; /* magnitude, big-endian */
    size_t nonce_len;
    const uint8_t *policy; /* OID content octets */
    size_t policy_len;
    /* -1: no expectation; 1: certReq was TRUE, the token must carry the
     * signer certificate; 0: certReq was FALSE, the token must carry no
     * certificates (RFC 3161 2.4.1). */
    int cert_req;
} tsv_params;

typedef enum {
    TSV_OK = 0,
    TSV_REJECTED = 1, /* the TSA answered with a non-granting status */
    TSV_FAILED = 2,   /* the response or token does not verify */
} tsv_outcome;

#define TSV_TEXT_MAX 512

/* What verification found; fields are filled as far as parsing got. */
typedef struct {
    char reason[TSV_TEXT_MAX]; /* why it failed, or "" */

    /* PKIStatusInfo (absent for a bare token) */
    bool has_status;
    int status;
    bool has_fail_info;
    uint32_t fail_info; /* bit n = PKIFailureInfo bit n */
    char status_string[TSV_TEXT_MAX];

    /* TSTInfo */
    bool have_tst;
    char policy[OIDX_DOTTED_MAX];
    int imprint_hash_id;
    uint8_t imprint[64];
    size_t imprint_len;
    uint8_t serial[32]; /* magnitude */
    size_t serial_len;
    derx_time gen_time;
    bool has_accuracy;
    uint32_t acc_seconds, acc_millis, acc_micros;
    bool ordering;
    bool has_nonce;
    uint8_t nonce[64]; /* INTEGER content octets as encoded */
    size_t nonce_len;
    bool has_tsa;
    char tsa[TSV_TEXT_MAX];
    bool qualified; /* qcStatements with esi4-qtstStatement-1 */
    unsigned n_extensions;

    /* CMS */
    size_t n_certs;
    int digest_hash_id;    /* SignerInfo digestAlgorithm */
    int ess_version;       /* 2: ESSCertIDv2, 1: ESSCertID (v2 wins) */
    int ess_hash_id;
    char signer_subject[TSV_TEXT_MAX];
    char signer_issuer[TSV_TEXT_MAX];
    char signer_key[32];
    bool signer_from_token; /* false: the caller's tsa_cert */

    /* chain */
    bool chain_checked;
    char anchor_subject[TSV_TEXT_MAX];
} tsv_result;

/* Runs every check above. `r` is always filled. */
tsv_outcome tsv_verify(const tsv_params *p, tsv_result *r);

/* "granted", "rejection", ... or "unknown". */
const char *tsv_status_name(int status);

/* Comma-separated PKIFailureInfo names of `bits` into out. */
void tsv_fail_info_names(uint32_t bits, char *out, size_t cap);

/*
 * Prints the outcome as `sello verify` and `sello stamp` show it:
 * "Verification: OK" and the facts one per line, or
 * "Verification: FAILED: <reason>".
 */
void tsv_print(FILE *f, tsv_outcome o, const tsv_result *r);

#endif
