/* Block-reserved serial numbers; contracts in serial.h. */
#include "serial.h"

#include <sello/abi.h>
#include <sello/board.h>

#include "nv.h"

/* Record: version (1), reserved_end (8), lease_ms (8). */
#define SERIAL_RECORD_VERSION 1u
#define SERIAL_RECORD_LEN 17u

sello_status sello_serials_load(sello_serials *s)
{
    uint8_t rec[SERIAL_RECORD_LEN];
    size_t len = 0;
    sello_status st = sello_board_nv_read(SELLO_NV_SERIAL, rec, sizeof rec,
                                          &len);
    s->next = 1;
    s->reserved_end = 1;
    s->lease_ms = 0;
    s->restart_floor_ms = 0;
    if (st == SELLO_ERR_NOT_FOUND)
        return SELLO_OK;
    if (st != SELLO_OK)
        return st;
    if (len != SERIAL_RECORD_LEN || rec[0] != SERIAL_RECORD_VERSION)
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
        uint8_t rec[SERIAL_RECORD_LEN];
        uint64_t end = s->next + SELLO_SERIAL_BLOCK;
        uint64_t lease = gen_ms + SELLO_TIME_LEASE_MS;
        rec[0] = SERIAL_RECORD_VERSION;
        sello_put_be64(rec + 1, end);
        sello_put_be64(rec + 9, lease);
        SELLO_TRY(sello_board_nv_write(SELLO_NV_SERIAL, rec, sizeof rec));
        s->reserved_end = end;
        s->lease_ms = lease;
    }
    *counter = s->next++;
    return SELLO_OK;
}

void sello_serial_magnitude(uint32_t instance, uint64_t counter,
                            uint8_t out[12])
{
    sello_put_be32(out, instance);
    sello_put_be64(out + 4, counter);
}
