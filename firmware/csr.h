/* The unit's PKCS#10 certification request (RFC 2986). */
#ifndef SELLO_CSR_H
#define SELLO_CSR_H

#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

#include "engine.h"
#include "unit.h"

/*
 * Writes the CSR for the unit's subject and key, signed by the key, into
 * out[0..cap). `scratch` holds the CertificationRequestInfo while it is
 * signed: SELLO_NAME_MAX + SELLO_SPKI_MAX + 64 octets.
 */
#define SELLO_CSR_SCRATCH (SELLO_NAME_MAX + SELLO_SPKI_MAX + 64u)
SELLO_MUST_CHECK sello_status sello_csr_write(const sello_unit_config *cfg,
                                              const sello_key *key,
                                              const sello_hash_info *h,
                                              uint8_t *scratch, uint8_t *out,
                                              size_t cap, size_t *len);

#endif
