/*
 * libFuzzer target: the module starting on an arbitrary unit record
 * (SELLO_NV_UNIT) through the test board, then answering STATUS and
 * GET_CSR.
 *
 * First input octet, low bit:
 *   0  the rest is the record as stored (mostly refused by the AEAD tag:
 *      this exercises the TLV walk and the checks before decryption);
 *   1  the rest is  u16 aad_len | aad | private key  and the harness seals
 *      it as the module would (HKDF-SHA256 of the board's device secret and
 *      the salt item in aad, AES-256-GCM, aad authenticated), so that
 *      arbitrary configurations and private keys reach key import and the
 *      key self-test behind the authentication.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>
#include <sello/abi.h>
#include <sello/module.h>

#include "board_mem.h"
#include "fixture.h"
#include "nv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sello_module_storage mod;
static uint8_t record[BOARD_MEM_RECORD_MAX];
static uint8_t resp[SELLO_FRAME_MAX];

static size_t seal(const uint8_t *in, size_t size)
{
    if (size < 2)
        return 0;
    size_t aad_len = sello_get_be16(in);
    in += 2;
    size -= 2;
    if (aad_len > size)
        aad_len = size;
    size_t plain_len = size - aad_len;
    if (aad_len + 3 + 12 + plain_len + 16 > sizeof record ||
        12 + plain_len + 16 > 0xffff)
        return 0;
    memcpy(record, in, aad_len);
    uint8_t salt[32] = { 0 };
    sello_tlv_reader r = { record, record + aad_len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&r, &type, &v, &n) == 1)
        if (type == 0x82 && n == 32)
            memcpy(salt, v, 32);
    uint8_t *item = record + aad_len;
    item[0] = 0x83;
    sello_put_be16(item + 1, (uint16_t)(12 + plain_len + 16));
    uint8_t *nonce = item + 3, *body = nonce + 12;
    memset(nonce, 0x4e, 12);
    memcpy(body, in + aad_len, plain_len);

    uint8_t secret[32], kek[32];
    board_mem_get_device_secret(secret);
    br_hkdf_context hkdf;
    br_hkdf_init(&hkdf, &br_sha256_vtable, salt, sizeof salt);
    br_hkdf_inject(&hkdf, secret, sizeof secret);
    br_hkdf_flip(&hkdf);
    static const char info[] = "sello unit key wrap v1";
    br_hkdf_produce(&hkdf, info, sizeof info - 1, kek, sizeof kek);
    br_aes_ct_ctr_keys aes;
    br_gcm_context gc;
    br_aes_ct_ctr_init(&aes, kek, sizeof kek);
    br_gcm_init(&gc, &aes.vtable, br_ghash_ctmul);
    br_gcm_reset(&gc, nonce, 12);
    br_gcm_aad_inject(&gc, record, aad_len);
    br_gcm_flip(&gc);
    br_gcm_run(&gc, 1, body, plain_len);
    br_gcm_get_tag(&gc, body + plain_len);
    return aad_len + 3 + 12 + plain_len + 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    board_mem_reset();
    size_t len;
    if (data[0] & 1) {
        len = seal(data + 1, size - 1);
        if (len == 0)
            return 0;
    } else {
        len = size - 1;
        if (len > sizeof record)
            return 0;
        memcpy(record, data + 1, len);
    }
    if (!board_mem_record_put(SELLO_NV_UNIT, record, len))
        abort();
    /* a unit with a key has a genuine serial record beside it */
    if (fx_put_serial_record(1, 0) != SELLO_OK)
        abort();
    sello_status st = sello_module_start(&mod);
    uint64_t state = 0xff;
    if (!fx_status_field(&mod, SELLO_ST_STATE, &state))
        abort();
    if ((st == SELLO_OK) != (state == SELLO_STATE_INITIALISED))
        abort();
    /* SELLO_FUZZ_EXPECT_START=1: checking that the seeds are accepted */
    const char *expect = getenv("SELLO_FUZZ_EXPECT_START");
    if (expect && *expect == '1' && st != SELLO_OK)
        abort();
    if (st != SELLO_OK && state != SELLO_STATE_ERROR)
        abort();
    uint8_t frame[SELLO_FRAME_HEADER_LEN];
    fx_frame(frame, SELLO_OP_GET_CSR, 1, NULL, 0);
    size_t n = sello_module_handle(&mod, frame, sizeof frame, resp, sizeof resp);
    if (n < SELLO_FRAME_HEADER_LEN)
        abort();
    if (st == SELLO_OK && resp[2] != SELLO_OK)
        abort();
    return 0;
}
