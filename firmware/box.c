/* Sealed boxes; contracts in box.h, construction in <sello/abi.h>. */
#include "box.h"

#include <stdbool.h>

#include <bearssl.h>

#include "runtime.h"

/* m15: constant time even where 32x32->64 multiplication is not (the
 * Cortex-M3), and fast enough for a ceremony. */
#define X25519 br_ec_c25519_m15

#define LABEL_MAX 40u
#define INFO_MAX                                                               \
    (LABEL_MAX + 32u * (1u + SELLO_BOX_MAX_RECIPIENTS) + SELLO_BOX_CONTEXT_MAX)

static const uint8_t x25519_base[32] = { 9 };

void sello_x25519_public(const uint8_t priv[32], uint8_t pub[32])
{
    sello_memcpy(pub, x25519_base, 32);
    X25519.mul(pub, 32, priv, 32, BR_EC_curve25519);
}

/* out = X25519(priv, pub); false when the result is all zeros (pub of low
 * order), checked without branching on the secret octets. */
static bool x25519_shared(const uint8_t priv[32], const uint8_t pub[32],
                          uint8_t out[32])
{
    sello_memcpy(out, pub, 32);
    X25519.mul(out, 32, priv, 32, BR_EC_curve25519);
    uint8_t any = 0;
    for (size_t i = 0; i < 32; i++)
        any |= out[i];
    return any != 0;
}

static size_t label_len(const char *label)
{
    size_t n = 0;
    while (label[n] && n <= LABEL_MAX)
        n++;
    return n;
}

/*
 * Derives the AES key and GCM nonce from the shared secrets ikm[0..ikm_len)
 * and the public inputs, and sets up `gcm` for the box.
 */
static void box_keys(br_gcm_context *gcm, br_aes_ct_ctr_keys *aes,
                     const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
                     size_t salt_len, const char *label, const uint8_t eph[32],
                     const uint8_t (*recip)[32], size_t nrecip,
                     const uint8_t *context, size_t context_len)
{
    uint8_t info[INFO_MAX], okm[44];
    size_t n = label_len(label);
    sello_memcpy(info, label, n);
    sello_memcpy(info + n, eph, 32);
    n += 32;
    for (size_t i = 0; i < nrecip; i++, n += 32)
        sello_memcpy(info + n, recip[i], 32);
    if (context_len) {
        sello_memcpy(info + n, context, context_len);
        n += context_len;
    }
    br_hkdf_context hkdf;
    br_hkdf_init(&hkdf, &br_sha256_vtable, salt, salt_len);
    br_hkdf_inject(&hkdf, ikm, ikm_len);
    br_hkdf_flip(&hkdf);
    br_hkdf_produce(&hkdf, info, n, okm, sizeof okm);
    br_aes_ct_ctr_init(aes, okm, 32);
    br_gcm_init(gcm, &aes->vtable, br_ghash_ctmul);
    br_gcm_reset(gcm, okm + 32, 12);
    br_gcm_flip(gcm);
    sello_wipe(okm, sizeof okm);
    sello_wipe(&hkdf, sizeof hkdf);
}

static bool args_ok(size_t nrecip, const char *label, size_t context_len)
{
    return nrecip >= 1 && nrecip <= SELLO_BOX_MAX_RECIPIENTS &&
           context_len <= SELLO_BOX_CONTEXT_MAX && label_len(label) <= LABEL_MAX;
}

sello_status sello_box_seal(const uint8_t eph[32], const uint8_t (*recip)[32],
                            size_t nrecip, const uint8_t *salt,
                            size_t salt_len, const char *label,
                            const uint8_t *context, size_t context_len,
                            const uint8_t *plain, size_t len, uint8_t *out)
{
    if (!args_ok(nrecip, label, context_len))
        return SELLO_ERR_PARAM;
    uint8_t ikm[32 * SELLO_BOX_MAX_RECIPIENTS];
    sello_status st = SELLO_OK;
    for (size_t i = 0; i < nrecip; i++)
        if (!x25519_shared(eph, recip[i], ikm + 32 * i))
            st = SELLO_ERR_PARAM;
    if (st == SELLO_OK) {
        br_gcm_context gcm;
        br_aes_ct_ctr_keys aes;
        sello_x25519_public(eph, out);
        box_keys(&gcm, &aes, ikm, 32 * nrecip, salt, salt_len, label, out,
                 recip, nrecip, context, context_len);
        if (len)
            sello_memmove(out + 32, plain, len);
        br_gcm_run(&gcm, 1, out + 32, len);
        br_gcm_get_tag(&gcm, out + 32 + len);
        sello_wipe(&gcm, sizeof gcm);
        sello_wipe(&aes, sizeof aes);
    }
    sello_wipe(ikm, sizeof ikm);
    return st;
}

sello_status sello_box_open(const uint8_t (*priv)[32], size_t npriv,
                            const uint8_t *salt, size_t salt_len,
                            const char *label, const uint8_t *context,
                            size_t context_len, const uint8_t *box,
                            size_t box_len, uint8_t *plain)
{
    if (!args_ok(npriv, label, context_len) || box_len < SELLO_BOX_OVERHEAD)
        return SELLO_ERR_PARAM;
    size_t len = box_len - SELLO_BOX_OVERHEAD;
    uint8_t ikm[32 * SELLO_BOX_MAX_RECIPIENTS];
    uint8_t pubs[SELLO_BOX_MAX_RECIPIENTS][32];
    sello_status st = SELLO_OK;
    for (size_t i = 0; i < npriv; i++) {
        sello_x25519_public(priv[i], pubs[i]);
        if (!x25519_shared(priv[i], box, ikm + 32 * i))
            st = SELLO_ERR_CRYPTO;
    }
    if (st == SELLO_OK) {
        br_gcm_context gcm;
        br_aes_ct_ctr_keys aes;
        box_keys(&gcm, &aes, ikm, 32 * npriv, salt, salt_len, label, box,
                 (const uint8_t (*)[32])pubs, npriv, context, context_len);
        if (len)
            sello_memcpy(plain, box + 32, len);
        br_gcm_run(&gcm, 0, plain, len);
        if (!br_gcm_check_tag(&gcm, box + 32 + len))
            st = SELLO_ERR_CRYPTO;
        sello_wipe(&gcm, sizeof gcm);
        sello_wipe(&aes, sizeof aes);
    }
    if (st != SELLO_OK)
        sello_wipe(plain, len);
    sello_wipe(ikm, sizeof ikm);
    return st;
}
