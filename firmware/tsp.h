/*
 * TimeStampReq decoding and the unit's acceptance policy (RFC 3161 2.4.1,
 * REQUIREMENTS.md "The token").
 *
 * TimeStampReq ::= SEQUENCE {
 *     version          INTEGER { v1(1) },
 *     messageImprint   MessageImprint,
 *     reqPolicy        TSAPolicyId OPTIONAL,
 *     nonce            INTEGER OPTIONAL,
 *     certReq          BOOLEAN DEFAULT FALSE,
 *     extensions       [0] IMPLICIT Extensions OPTIONAL }
 * MessageImprint ::= SEQUENCE {
 *     hashAlgorithm    AlgorithmIdentifier,
 *     hashedMessage    OCTET STRING }
 */
#ifndef SELLO_TSP_H
#define SELLO_TSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unit.h"

/* PKIFailureInfo bit numbers (RFC 3161 2.4.2). */
typedef enum {
    SELLO_TSP_FAIL_BAD_ALG = 0,
    SELLO_TSP_FAIL_BAD_REQUEST = 2,
    SELLO_TSP_FAIL_BAD_DATA_FORMAT = 5,
    SELLO_TSP_FAIL_TIME_NOT_AVAILABLE = 14,
    SELLO_TSP_FAIL_UNACCEPTED_POLICY = 15,
    SELLO_TSP_FAIL_UNACCEPTED_EXTENSION = 16,
    SELLO_TSP_FAIL_ADD_INFO_NOT_AVAILABLE = 17,
    SELLO_TSP_FAIL_SYSTEM_FAILURE = 25,
} sello_tsp_fail;

/* Nonces longer than this are refused: 256 bits plus a sign octet. */
#define SELLO_TSP_NONCE_MAX 33u

typedef struct {
    sello_der_cur imprint;     /* the complete MessageImprint, echoed verbatim */
    sello_der_cur nonce;       /* nonce INTEGER content, empty when absent */
    bool has_nonce;
    bool cert_req;
} sello_tsp_request;

/* The verdict on a request. */
typedef struct {
    bool accepted;
    bool malformed;      /* not a TimeStampReq at all */
    sello_tsp_fail fail;       /* when not accepted */
    const char *why;     /* statusString when not accepted */
} sello_tsp_verdict;

/*
 * Decodes `der` strictly and applies the unit's policy. On acceptance *req
 * points into `der`. Explicitly encoded certReq FALSE, which DER forbids but
 * deployed clients send, is tolerated; nothing else non-canonical is.
 */
sello_tsp_verdict sello_tsp_decode_request(const uint8_t *der, size_t len,
                               const sello_unit_config *cfg,
                               sello_tsp_request *req);

#endif
