/*
 * TimeStampResp encoding: granted tokens and rejections.
 *
 * Everything is written with backward DER writers into fixed buffers; the
 * parts that depend only on the certificate come prepared (signer.h), so a
 * token costs one TSTInfo, two hashes, one signature and some copying.
 */
#ifndef SELLO_TOKEN_H
#define SELLO_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

#include "engine.h"
#include "signer.h"
#include "tsp.h"
#include "unit.h"

/* Scratch space a token needs: TSTInfo, signed attributes, signature. */
#define SELLO_TOKEN_TSTINFO_MAX 1024u
#define SELLO_TOKEN_ATTRS_MAX (SELLO_NAME_MAX + 320u)
#define SELLO_TOKEN_SCRATCH_SIZE (SELLO_TOKEN_TSTINFO_MAX + SELLO_TOKEN_ATTRS_MAX + SELLO_SIG_MAX)

typedef struct {
    const sello_unit_config *cfg;
    const sello_signer *signer;
    const sello_key *key;
    const sello_hash_info *sig_hash; /* digest of content and attributes */
    uint8_t *scratch;                /* SELLO_TOKEN_SCRATCH_SIZE octets */
} sello_token_issuer;

/*
 * Writes a granted TimeStampResp for `req` with the given serial magnitude
 * and genTime into out[0..cap) and sets *len.
 */
SELLO_MUST_CHECK sello_status sello_token_write_granted(const sello_token_issuer *t,
                                                  const sello_tsp_request *req,
                                                  const uint8_t serial[12],
                                                  uint64_t gen_ms,
                                                  uint8_t *out, size_t cap,
                                                  size_t *len);

/*
 * Writes a rejection TimeStampResp (status rejection, statusString `why`,
 * failInfo with the one bit `fail`) into out[0..cap). Returns its length,
 * or 0 when cap is too small (never for cap >= 256 and a short `why`).
 */
size_t sello_token_write_rejection(sello_tsp_fail fail, const char *why, uint8_t *out,
                             size_t cap);

#endif
