/*
 * libFuzzer target: the module starting on an arbitrary unit record
 * (SELLO_NV_UNIT) through the test board, then, when it started with a
 * key, an activation quorum of the fixture's shares and GET_CSR.
 *
 * First input octet, low bit:
 *   0  the rest is the record as stored. Its MAC (HMAC-SHA256 under a key
 *      derived from the board's device secret) cannot be forged, so this
 *      exercises the MAC check: the harness checks the MAC itself, with
 *      its own code, and a record whose MAC does not verify must never
 *      load (the module ends in the error state). The committed records
 *      (test/data/unit/record-*.bin) do verify and go all the way.
 *   1  the rest is  u16 aad_len | aad | key secret  and the harness seals
 *      it as the module would: the key secret under AES-256-GCM with the
 *      key HKDF-SHA256(salt item of aad, device secret || K,
 *      "sello unit key wrap v2"), K the fixture's activation secret, aad
 *      authenticated; then the MAC item over all of it. So arbitrary
 *      configurations reach the record parser behind the MAC, and, when
 *      the record loads, a quorum of genuine shares of K for the unit the
 *      record names (fx_make_shares) reaches the AEAD, key import and the
 *      key self-test.
 *
 * Invariants (abort on violation): the module starts OK only on a record
 * with a good MAC, and then is INITIALISED (or UNINITIALISED, when the
 * record's generation is below the counters' and it was erased as a
 * destroyed ceremony's); a failed start is the error state; STATUS
 * always answers; GET_CSR is refused before the quorum and answered after
 * a quorum that succeeded; a loaded unit is a test unit unless its record
 * says 0 in the test-unit item (a record without the item, from before
 * it existed, is never a production unit). With SELLO_FUZZ_EXPECT_START=1 (checking that
 * the seeds go all the way) start and quorum must both succeed.
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
#include "unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sello_module_storage mod;
static uint8_t record[BOARD_MEM_RECORD_MAX];
static uint8_t resp[SELLO_FRAME_MAX];

#define MAC_ITEM_LEN (3u + 32u)

/* HKDF-SHA256(salt, device secret || extra, label), written here rather
 * than taken from firmware/device_keys.c. */
static void derive(const uint8_t *salt, size_t salt_len, const uint8_t *extra,
                   size_t extra_len, const char *label, uint8_t out[32])
{
    uint8_t secret[32];
    board_mem_get_device_secret(secret);
    br_hkdf_context hkdf;
    br_hkdf_init(&hkdf, &br_sha256_vtable, salt, salt_len);
    br_hkdf_inject(&hkdf, secret, sizeof secret);
    if (extra_len)
        br_hkdf_inject(&hkdf, extra, extra_len);
    br_hkdf_flip(&hkdf);
    br_hkdf_produce(&hkdf, label, strlen(label), out, 32);
}

static void record_mac(const uint8_t *p, size_t len, uint8_t out[32])
{
    uint8_t key[32];
    derive(NULL, 0, NULL, 0, "sello unit record mac v1", key);
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, key, sizeof key);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, p, len);
    br_hmac_out(&hc, out);
}

/* Whether rec[0..len) ends in a MAC item that verifies. */
static bool mac_ok(const uint8_t *rec, size_t len)
{
    if (len < MAC_ITEM_LEN)
        return false;
    const uint8_t *item = rec + len - MAC_ITEM_LEN;
    if (item[0] != 0x87 || item[1] != 0 || item[2] != 32)
        return false;
    uint8_t mac[32];
    record_mac(rec, len - MAC_ITEM_LEN, mac);
    return memcmp(mac, item + 3, 32) == 0;
}

/* Sealing mode: builds the record from  u16 aad_len | aad | secret. */
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
    if (aad_len + 3 + 12 + plain_len + 16 + MAC_ITEM_LEN > sizeof record ||
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

    uint8_t kek[32];
    derive(salt, sizeof salt, fx_activation_secret(), 32,
           "sello unit key wrap v2", kek);
    br_aes_ct_ctr_keys aes;
    br_gcm_context gc;
    br_aes_ct_ctr_init(&aes, kek, sizeof kek);
    br_gcm_init(&gc, &aes.vtable, br_ghash_ctmul);
    br_gcm_reset(&gc, nonce, 12);
    br_gcm_aad_inject(&gc, record, aad_len);
    br_gcm_flip(&gc);
    br_gcm_run(&gc, 1, body, plain_len);
    br_gcm_get_tag(&gc, body + plain_len);
    size_t len = aad_len + 3 + 12 + plain_len + 16;
    record[len] = 0x87;
    sello_put_be16(record + len + 1, 32);
    record_mac(record, len, record + len + 3);
    return len + MAC_ITEM_LEN;
}

/* What STATUS must say of a loaded record: the last test-unit item's
 * value (the last one is what a parser that applies items in order
 * keeps), or 1 when the record has none. */
static uint64_t expected_test_unit(const uint8_t *rec, size_t len)
{
    sello_tlv_reader r = { rec, rec + len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    uint64_t mark = 1;
    while (sello_tlv_next(&r, &type, &v, &n) == 1)
        if (type == SELLO_INIT_TEST_UNIT && n == 1)
            mark = v[0];
    return mark;
}

static uint8_t get_csr_status(void)
{
    uint8_t frame[SELLO_FRAME_HEADER_LEN];
    fx_frame(frame, SELLO_OP_GET_CSR, 1, NULL, 0);
    size_t n = sello_module_handle(&mod, frame, sizeof frame, resp, sizeof resp);
    sello_frame_header h;
    if (n < SELLO_FRAME_HEADER_LEN || sello_frame_header_read(resp, &h) != 0 ||
        h.length != n - SELLO_FRAME_HEADER_LEN)
        abort();
    return h.code;
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
    bool genuine = mac_ok(record, len);
    if (!board_mem_record_put(SELLO_NV_UNIT, record, len))
        abort();
    /* a unit with a key has a genuine counters record beside it
     * (generation 1) */
    if (fx_put_counters_record(1, 0) != SELLO_OK)
        abort();
    sello_status st = sello_module_start(&mod);
    uint64_t state = 0xff;
    if (!fx_status_field(&mod, SELLO_ST_STATE, &state))
        abort();
    if (st == SELLO_OK && !genuine)
        abort(); /* loaded a record whose MAC does not verify */
    if (st == SELLO_OK && state != SELLO_STATE_INITIALISED &&
        state != SELLO_STATE_UNINITIALISED)
        abort();
    if (st != SELLO_OK && state != SELLO_STATE_ERROR)
        abort();
    /* SELLO_FUZZ_EXPECT_START=1: checking that the seeds are accepted */
    const char *expect = getenv("SELLO_FUZZ_EXPECT_START");
    bool expect_ok = expect && *expect == '1';
    if (expect_ok && (st != SELLO_OK || state != SELLO_STATE_INITIALISED))
        abort();
    /* The key stays locked until the quorum. */
    uint8_t csr = get_csr_status();
    if (csr == SELLO_OK)
        abort();
    if (st != SELLO_OK || state != SELLO_STATE_INITIALISED)
        return 0;
    uint64_t test_unit;
    if (!fx_status_field(&mod, SELLO_ST_TEST_UNIT, &test_unit) ||
        test_unit != expected_test_unit(record, len))
        abort();

    /* The custodians' shares of K for the unit the module loaded. */
    static sello_unit_config cfg;
    static uint8_t spki[SELLO_SPKI_MAX], work[SELLO_UNIT_RECORD_MAX];
    size_t spki_len;
    if (sello_unit_load(&cfg, spki, &spki_len, work) != SELLO_OK)
        abort(); /* the module loaded it a moment ago */
    if (fx_make_shares(spki, spki_len, cfg.generation, cfg.threshold,
                       cfg.custodians) != SELLO_OK)
        abort(); /* the module accepted an impossible custody */
    sello_status q = fx_quorum(&mod, SELLO_PURPOSE_ACTIVATE, cfg.threshold);
    if (expect_ok && q != SELLO_OK)
        abort();
    csr = get_csr_status();
    if (q == SELLO_OK && csr != SELLO_OK)
        abort();
    if (q != SELLO_OK && csr == SELLO_OK)
        abort();
    return 0;
}
