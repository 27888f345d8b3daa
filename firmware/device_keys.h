/*
 * Keys derived from the board's device secret: every key the module keeps
 * its records with comes from here, each under its own label, so that a
 * copy of the records alone (without the device) opens or forges nothing.
 */
#ifndef SELLO_DEVICE_KEYS_H
#define SELLO_DEVICE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

/* Labels: one per use, never reused for another. */
#define SELLO_DK_COUNTERS_MAC "sello counters record mac v1"
#define SELLO_DK_UNIT_MAC "sello unit record mac v1"
#define SELLO_DK_UNIT_WRAP "sello unit key wrap v2"
#define SELLO_DK_SHARE_MAC "sello share mac v1"
#define SELLO_DK_CEREMONY_X25519 "sello ceremony x25519 v1"
#define SELLO_DK_AUDIT_KEY "sello audit key v1"

/*
 * out = HKDF-SHA256(salt, device secret || extra, label): 32 octets.
 * `salt` and `extra` may be empty (NULL, 0). Fails only when the board
 * cannot produce its secret.
 */
SELLO_MUST_CHECK sello_status sello_device_key(const uint8_t *salt,
                                               size_t salt_len,
                                               const uint8_t *extra,
                                               size_t extra_len,
                                               const char *label,
                                               uint8_t out[32]);

/* out = HMAC-SHA256(key, data[0..len)). */
void sello_hmac_sha256(const uint8_t key[32], const void *data, size_t len,
                       uint8_t out[32]);

/* Whether a[0..n) == b[0..n), in time that depends on n only. */
static inline int sello_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

#endif
