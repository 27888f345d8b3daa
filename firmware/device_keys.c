/* Device-secret-derived keys; contracts in device_keys.h. */
#include "device_keys.h"

#include <sello/board.h>

#include <bearssl.h>

#include "runtime.h"

sello_status sello_device_key(const uint8_t *salt, size_t salt_len,
                              const uint8_t *extra, size_t extra_len,
                              const char *label, uint8_t out[32])
{
    uint8_t secret[32];
    SELLO_TRY(sello_board_device_secret(secret));
    size_t label_len = 0;
    while (label[label_len])
        label_len++;
    br_hkdf_context hkdf;
    br_hkdf_init(&hkdf, &br_sha256_vtable, salt, salt_len);
    br_hkdf_inject(&hkdf, secret, sizeof secret);
    if (extra_len)
        br_hkdf_inject(&hkdf, extra, extra_len);
    br_hkdf_flip(&hkdf);
    br_hkdf_produce(&hkdf, label, label_len, out, 32);
    sello_wipe(secret, sizeof secret);
    sello_wipe(&hkdf, sizeof hkdf);
    return SELLO_OK;
}

void sello_hmac_sha256(const uint8_t key[32], const void *data, size_t len,
                       uint8_t out[32])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, key, 32);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, data, len);
    br_hmac_out(&hc, out);
    sello_wipe(&kc, sizeof kc);
    sello_wipe(&hc, sizeof hc);
}
