/*
 * RFC 3161 TimeStampReq encoding for `sello stamp`.
 *
 * TimeStampReq ::= SEQUENCE {
 *     version        INTEGER { v1(1) },
 *     messageImprint MessageImprint,
 *     reqPolicy      TSAPolicyId OPTIONAL,
 *     nonce          INTEGER OPTIONAL,
 *     certReq        BOOLEAN DEFAULT FALSE,
 *     extensions     [0] IMPLICIT Extensions OPTIONAL }
 * MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
 *                               hashedMessage OCTET STRING }
 */
#ifndef SELLO_TOOLS_TSP_REQUEST_H
#define SELLO_TOOLS_TSP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

typedef struct {
    const sello_hash_info *hash;
    const uint8_t *digest;  /* hash->len octets */
    const uint8_t *policy;  /* OID content octets, or NULL */
    size_t policy_len;
    const uint8_t *nonce;   /* unsigned magnitude, or NULL */
    size_t nonce_len;
    bool cert_req;
} tsq_request;

/* Enough for any request this tool builds. */
#define TSQ_MAX 512u

/*
 * Encodes the request in DER into out[0..cap) and returns its length, or
 * 0 when it does not fit. The hash AlgorithmIdentifier has its parameters
 * absent (RFC 5754), and certReq FALSE is omitted as DER requires.
 */
size_t tsq_encode(const tsq_request *q, uint8_t *out, size_t cap);

/* Fills nonce[0..8) from the system CSPRNG; false after printing why. */
bool tsq_random_nonce(uint8_t nonce[8]);

#endif
