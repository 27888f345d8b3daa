/*
 * The signer identity: everything a token needs from the TSU certificate,
 * encoded once when the certificate is loaded so that issuing a token only
 * copies bytes.
 */
#ifndef SELLO_SIGNER_H
#define SELLO_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

#include "unit.h"

/* Both certificates together, as LOAD_CERT carries them. */
#define SELLO_CERTS_MAX 6144u

typedef struct {
    bool loaded;
    /* certificates [0] IMPLICIT CertificateSet: the TSU certificate and,
     * when configured and loaded, its issuer's (DER-sorted). */
    uint8_t certs[SELLO_CERTS_MAX + 8];
    size_t certs_len;
    /* SignerIdentifier: IssuerAndSerialNumber of the TSU certificate. */
    uint8_t sid[SELLO_NAME_MAX + 40];
    size_t sid_len;
    /* The signingCertificateV2 Attribute (ESSCertIDv2 with SHA-256). */
    uint8_t ess_attr[SELLO_NAME_MAX + 120];
    size_t ess_attr_len;
    /* tsa [0] GeneralName: directoryName of the certificate subject. */
    uint8_t tsa[SELLO_NAME_MAX + 12];
    size_t tsa_len;
    uint64_t not_before; /* certificate validity, seconds since 1970 */
    uint64_t not_after;
    /* The private-key usage period (inclusive, seconds since 1970): the
     * certificate's PrivateKeyUsagePeriod, or the configured number of
     * days from notBefore when it has none, or else the validity. */
    uint64_t usage_not_before;
    uint64_t usage_not_after;
} sello_signer;

/*
 * Checks `certs` (the TSU certificate DER, optionally followed by its
 * issuer's) against the unit and prepares the signer. Refused with
 * SELLO_ERR_CERT and *why when the certificate is not v3, does not hold the
 * unit's public key `spki`, lacks a critical extendedKeyUsage of exactly
 * id-kp-timeStamping, or (when an issuer is given) was not signed by it.
 * The signer is left unloaded on any failure.
 */
SELLO_MUST_CHECK sello_status sello_signer_prepare(sello_signer *s,
                                                   const sello_unit_config *cfg,
                                                   const uint8_t *spki,
                                                   size_t spki_len,
                                                   const uint8_t *certs,
                                                   size_t len,
                                                   const char **why);

#endif
