/* Block-reserved serial numbers; contracts in serial.h. */
#include "serial.h"

#include <sello/abi.h>
#include <sello/board.h>

#include <bearssl.h>

#include "nv.h"
#include "runtime.h"

/* Record: version (1), reserved_end (8), lease_ms (8), HMAC-SHA256 of the
 * preceding 17 octets (32). */
#define SERIAL_RECORD_VERSION 2u
#define SERIAL_BODY_LEN 17u
#define SERIAL_RECORD_LEN (SERIAL_BODY_LEN + 32u)

static const char mac_info[] = "sello serial record mac v1";

static void record_mac(const sello_serials *s, const uint8_t *body,
                       uint8_t out[32])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, s->mac_key, sizeof s->mac_key);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, body, SERIAL_BODY_LEN);
    br_hmac_out(&hc, out);
    sello_wipe(&kc, sizeof kc);
}

static sello_status derive_mac_key(sello_serials *s)
{
    uint8_t secret[32];
    SELLO_TRY(sello_board_device_secret(secret));
    br_hkdf_context hkdf;
    br_hkdf_init(&hkdf, &br_sha256_vtable, NULL, 0);
    br_hkdf_inject(&hkdf, secret, sizeof secret);
    br_hkdf_flip(&hkdf);
    br_hkdf_produce(&hkdf, mac_info, sizeof mac_info - 1, s->mac_key,
                    sizeof s->mac_key);
    sello_wipe(secret, sizeof secret);
    sello_wipe(&hkdf, sizeof hkdf);
    return SELLO_OK;
}

static sello_status write_record(sello_serials *s, uint64_t end,
                                 uint64_t lease)
{
    uint8_t rec[SERIAL_RECORD_LEN];
    rec[0] = SERIAL_RECORD_VERSION;
    sello_put_be64(rec + 1, end);
    sello_put_be64(rec + 9, lease);
    record_mac(s, rec, rec + SERIAL_BODY_LEN);
    return sello_board_nv_write(SELLO_NV_SERIAL, rec, sizeof rec);
}

sello_status sello_serials_load(sello_serials *s)
{
    uint8_t rec[SERIAL_RECORD_LEN], mac[32];
    size_t len = 0;
    s->next = 1;
    s->reserved_end = 1;
    s->lease_ms = 0;
    s->restart_floor_ms = 0;
    SELLO_TRY(derive_mac_key(s));
    sello_status st = sello_board_nv_read(SELLO_NV_SERIAL, rec, sizeof rec,
                                          &len);
    if (st != SELLO_OK)
        return st == SELLO_ERR_SPACE ? SELLO_ERR_STORAGE : st;
    if (len != SERIAL_RECORD_LEN || rec[0] != SERIAL_RECORD_VERSION)
        return SELLO_ERR_STORAGE;
    record_mac(s, rec, mac);
    /* Compared in constant time, though the MAC protects no secret. */
    uint8_t diff = 0;
    for (size_t i = 0; i < sizeof mac; i++)
        diff |= (uint8_t)(mac[i] ^ rec[SERIAL_BODY_LEN + i]);
    if (diff != 0)
        return SELLO_ERR_STORAGE;
    s->reserved_end = sello_get_be64(rec + 1);
    s->next = s->reserved_end;
    s->restart_floor_ms = sello_get_be64(rec + 9);
    s->lease_ms = s->restart_floor_ms;
    if (s->next == 0)
        return SELLO_ERR_STORAGE;
    return SELLO_OK;
}

sello_status sello_serials_take(sello_serials *s, uint64_t gen_ms,
                                uint64_t *counter)
{
    if (gen_ms < s->restart_floor_ms)
        return SELLO_ERR_CLOCK;
    if (s->next == s->reserved_end || gen_ms > s->lease_ms) {
        if (s->next > UINT64_MAX - SELLO_SERIAL_BLOCK)
            return SELLO_ERR_EXHAUSTED;
        uint64_t end = s->next + SELLO_SERIAL_BLOCK;
        uint64_t lease = gen_ms + SELLO_TIME_LEASE_MS;
        SELLO_TRY(write_record(s, end, lease));
        s->reserved_end = end;
        s->lease_ms = lease;
    }
    *counter = s->next++;
    return SELLO_OK;
}

sello_status sello_serials_persist(sello_serials *s)
{
    return write_record(s, s->reserved_end, s->lease_ms);
}

void sello_serial_magnitude(uint32_t instance, uint64_t counter,
                            uint8_t out[12])
{
    sello_put_be32(out, instance);
    sello_put_be64(out + 4, counter);
}
