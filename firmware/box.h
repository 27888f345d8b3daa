/*
 * Sealed boxes: how shares travel between the module and the custodians
 * (construction and labels in <sello/abi.h>, "Dual control"). X25519 from
 * an ephemeral key to one or two recipients, HKDF-SHA256, AES-256-GCM.
 *
 * A pure helper: no board calls, no module state. The `sello` tool links
 * the same file for the custodian's side of the ceremony, so the two ends
 * cannot drift apart.
 */
#ifndef SELLO_BOX_H
#define SELLO_BOX_H

#include <stddef.h>
#include <stdint.h>

#include <sello/abi.h>
#include <sello/status.h>

#define SELLO_BOX_MAX_RECIPIENTS 2u
#define SELLO_BOX_CONTEXT_MAX 32u
#define SELLO_X25519_LEN 32u

/* pub = X25519(priv, 9): the public key of a private scalar (clamped as
 * RFC 7748 says; any 32 octets are a valid private key). */
void sello_x25519_public(const uint8_t priv[32], uint8_t pub[32]);

/*
 * Seals plain[0..len) to the recipients' public keys recip[0..nrecip)
 * with the ephemeral scalar `eph` (32 fresh random octets, used once),
 * writing E || ciphertext || tag, len + SELLO_BOX_OVERHEAD octets, to out.
 * `salt` may be empty; `label` is a NUL-terminated SELLO_BOX_LABEL_*.
 * SELLO_ERR_PARAM for 0 or too many recipients, a context longer than
 * SELLO_BOX_CONTEXT_MAX, or a recipient key of low order (the shared
 * secret would be all zeros).
 */
SELLO_MUST_CHECK sello_status sello_box_seal(
    const uint8_t eph[32], const uint8_t (*recip)[32], size_t nrecip,
    const uint8_t *salt, size_t salt_len, const char *label,
    const uint8_t *context, size_t context_len, const uint8_t *plain,
    size_t len, uint8_t *out);

/*
 * Opens a box made by sello_box_seal for the recipients whose private
 * scalars are priv[0..npriv), in the same order, with the same salt, label
 * and context. Writes box_len - SELLO_BOX_OVERHEAD octets to plain (which
 * must not overlap the box) only when the box is authentic; otherwise
 * plain is zeroed and the result is SELLO_ERR_CRYPTO. SELLO_ERR_PARAM as
 * for sello_box_seal, or for a box shorter than the overhead.
 */
SELLO_MUST_CHECK sello_status sello_box_open(
    const uint8_t (*priv)[32], size_t npriv, const uint8_t *salt,
    size_t salt_len, const char *label, const uint8_t *context,
    size_t context_len, const uint8_t *box, size_t box_len, uint8_t *plain);

#endif
