/*
 * libFuzzer target: any bytes as one request frame to a module on the test
 * board. The module is chosen by the frame's tag, which the module only
 * echoes: tag % 4 == 1 an initialised unit (certs/ unit key, no
 * certificate), == 2 a unit in the error state (its record tampered with),
 * otherwise an active one (tsu.der and ca.der loaded, clock set). Module
 * memory and records are put back before every input, so each input meets
 * the same module. Every
 * answer must be one well-formed frame; a STAMP answered OK must carry a
 * TimeStampResp. A frame whose header length disagrees with its size is
 * also tried with the length fixed, so the fuzzer reaches every operation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>
#include <sello/module.h>

#include "board_mem.h"
#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define T0 1767225600000ull

static sello_module_storage mod;
static struct {
    sello_module_storage mod;
    board_mem_records records;
    uint64_t ticks;
} pristine[3]; /* active, initialised, error */
static uint8_t resp[SELLO_FRAME_MAX];
static uint8_t fixed[SELLO_FRAME_MAX + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < 3; i++) {
        board_mem_reset();
        sello_status st = fx_make_unit(&mod, NULL, 0,
                                       i == 0 ? "tsu.der ca.der" : NULL);
        if (st != SELLO_OK)
            abort();
        if (i == 2) {
            size_t len;
            uint8_t *rec = board_mem_record_mut(1 /* SELLO_NV_UNIT */, &len);
            rec[len - 1] ^= 1;
            if (sello_module_start(&mod) == SELLO_OK)
                abort();
        }
        board_mem_advance_ms(1);
        if (i == 0 && fx_calibrate(&mod, T0).status != SELLO_OK)
            abort();
        board_mem_advance_ms(1500);
        memcpy(&pristine[i].mod, &mod, sizeof mod);
        board_mem_snapshot(&pristine[i].records);
        pristine[i].ticks = board_mem_get_ticks();
    }
    return 0;
}

static void one(const uint8_t *frame, size_t size)
{
    unsigned which = 0;
    if (size >= SELLO_FRAME_HEADER_LEN) {
        unsigned sel = frame[7] & 3;
        which = sel == 1 ? 1 : sel == 2 ? 2 : 0;
    }
    memcpy(&mod, &pristine[which].mod, sizeof mod);
    board_mem_restore(&pristine[which].records);
    board_mem_set_ticks(pristine[which].ticks);
    size_t n = sello_module_handle(&mod, frame, size, resp, sizeof resp);
    if (n < SELLO_FRAME_HEADER_LEN || n > sizeof resp)
        abort();
    sello_frame_header h;
    if (sello_frame_header_read(resp, &h) != 0 ||
        h.length != n - SELLO_FRAME_HEADER_LEN)
        abort();
    if (size >= SELLO_FRAME_HEADER_LEN && h.tag != sello_get_be32(frame + 4))
        abort();
    /* The audit records in front of the payload, well-formed and within
     * it (SELLO_RESP_FLAG_AUDIT). */
    const uint8_t *payload = resp + SELLO_FRAME_HEADER_LEN;
    size_t payload_len = h.length;
    if (h.flags & SELLO_RESP_FLAG_AUDIT) {
        if (payload_len < 2 || sello_get_be16(payload) > payload_len - 2)
            abort();
        size_t records = sello_get_be16(payload);
        for (size_t off = 0; off < records;) {
            if (records - off < SELLO_AUDIT_HEADER_LEN ||
                payload[2 + off] != SELLO_AUDIT_FORMAT ||
                sello_get_be16(payload + 2 + off + 2) >
                    records - off - SELLO_AUDIT_HEADER_LEN)
                abort();
            off += SELLO_AUDIT_HEADER_LEN + sello_get_be16(payload + 2 + off + 2);
        }
        payload += 2 + records;
        payload_len -= 2 + records;
    }
    if (size >= SELLO_FRAME_HEADER_LEN && frame[2] == SELLO_OP_STAMP &&
        h.code == SELLO_OK) {
        fx_tsr t = fx_parse_tsr(payload, payload_len);
        if (!t.ok)
            abort();
        if ((h.flags & SELLO_RESP_FLAG_MALFORMED_REQUEST) &&
            (t.status != 2 || t.fail_bit != 5))
            abort();
    }
    if (h.code != SELLO_OK && (h.flags & ~SELLO_RESP_FLAG_AUDIT) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    if (size >= SELLO_FRAME_HEADER_LEN && size <= sizeof fixed &&
        sello_get_be32(data + 8) != size - SELLO_FRAME_HEADER_LEN) {
        memcpy(fixed, data, size);
        sello_put_be32(fixed + 8, (uint32_t)(size - SELLO_FRAME_HEADER_LEN));
        one(fixed, size);
    }
    return 0;
}
