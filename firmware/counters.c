/* The unit's counters record; contracts in counters.h. */
#include "counters.h"

#include <sello/abi.h>
#include <sello/board.h>

#include <bearssl.h>

#include "device_keys.h"
#include "nv.h"
#include "runtime.h"

/* Record: version (1), epoch (8), lease_ms (8), generation (4),
 * failures (1), flags (1), audit checkpoint seq (8), its previous hash
 * (32), its time (8), its signature length (1) and signature (72), the
 * audit seq end (8), HMAC-SHA256 of the preceding 152 octets (32). */
#define COUNTERS_RECORD_VERSION 5u
#define COUNTERS_BODY_LEN 152u
#define COUNTERS_RECORD_LEN (COUNTERS_BODY_LEN + 32u)
#define FLAG_LOCKED 0x01u
#define FLAG_TIME_DOUBT 0x02u

/* Writes the record for epoch c->epoch + 1 with `lease`, then raises the
 * board counter to that epoch; only then is the epoch c's. */
static sello_status write_record(sello_counters *c, uint64_t lease)
{
    if (c->epoch >= UINT64_MAX / SELLO_SERIAL_BLOCK)
        return SELLO_ERR_EXHAUSTED;
    uint64_t epoch = c->epoch + 1;
    uint8_t rec[COUNTERS_RECORD_LEN];
    rec[0] = COUNTERS_RECORD_VERSION;
    sello_put_be64(rec + 1, epoch);
    sello_put_be64(rec + 9, lease);
    sello_put_be32(rec + 17, c->generation);
    rec[21] = c->failures;
    rec[22] = (uint8_t)((c->locked ? FLAG_LOCKED : 0) |
                        (c->time_doubt ? FLAG_TIME_DOUBT : 0));
    sello_put_be64(rec + 23, c->audit.seq);
    sello_memcpy(rec + 31, c->audit.prev, 32);
    sello_put_be64(rec + 63, c->audit.utc_ms);
    rec[71] = c->audit.sig_len;
    sello_memcpy(rec + 72, c->audit.sig, 72);
    sello_put_be64(rec + 144, c->audit.seq_end);
    sello_hmac_sha256(c->mac_key, rec, COUNTERS_BODY_LEN, rec + COUNTERS_BODY_LEN);
    SELLO_TRY(sello_board_nv_write(SELLO_NV_COUNTERS, rec, sizeof rec));
    uint64_t board;
    SELLO_TRY(sello_board_counter_read(&board));
    if (board < epoch)
        SELLO_TRY(sello_board_counter_advance(epoch));
    c->epoch = epoch;
    c->lease_ms = lease;
    c->next = (epoch - 1) * SELLO_SERIAL_BLOCK + 1;
    c->reserved_end = epoch * SELLO_SERIAL_BLOCK + 1;
    return SELLO_OK;
}

sello_status sello_counters_load(sello_counters *c, bool *rolled_back)
{
    uint8_t rec[COUNTERS_RECORD_LEN], mac[32];
    size_t len = 0;
    uint64_t board;
    sello_memset(c, 0, sizeof *c);
    c->generation = 1;
    *rolled_back = false;
    SELLO_TRY(sello_device_key(NULL, 0, NULL, 0, SELLO_DK_COUNTERS_MAC,
                               c->mac_key));
    SELLO_TRY(sello_board_counter_read(&board));
    c->epoch = board;
    sello_status st = sello_board_nv_read(SELLO_NV_COUNTERS, rec, sizeof rec,
                                          &len);
    if (st != SELLO_OK)
        return st == SELLO_ERR_SPACE ? SELLO_ERR_STORAGE : st;
    if (len != COUNTERS_RECORD_LEN || rec[0] != COUNTERS_RECORD_VERSION)
        return SELLO_ERR_STORAGE;
    sello_hmac_sha256(c->mac_key, rec, COUNTERS_BODY_LEN, mac);
    uint64_t epoch = sello_get_be64(rec + 1);
    if (!sello_ct_equal(mac, rec + COUNTERS_BODY_LEN, sizeof mac) ||
        epoch == 0 || epoch > board + 1)
        return SELLO_ERR_STORAGE;
    c->restart_floor_ms = sello_get_be64(rec + 9);
    c->lease_ms = c->restart_floor_ms;
    c->generation = sello_get_be32(rec + 17);
    c->failures = rec[21];
    c->locked = (rec[22] & FLAG_LOCKED) != 0;
    c->time_doubt = (rec[22] & FLAG_TIME_DOUBT) != 0;
    c->audit.seq = sello_get_be64(rec + 23);
    sello_memcpy(c->audit.prev, rec + 31, 32);
    c->audit.utc_ms = sello_get_be64(rec + 63);
    c->audit.sig_len = rec[71];
    sello_memcpy(c->audit.sig, rec + 72, 72);
    c->audit.seq_end = sello_get_be64(rec + 144);
    if (c->audit.sig_len > sizeof c->audit.sig)
        return SELLO_ERR_STORAGE;
    if (epoch < board) {
        *rolled_back = true;
        c->time_doubt = true;
        c->rollback_steps = board - epoch;
    } else {
        c->epoch = epoch;
    }
    return SELLO_OK;
}

bool sello_counters_write_due(const sello_counters *c, uint64_t gen_ms)
{
    return c->next == c->reserved_end || gen_ms > c->lease_ms;
}

sello_status sello_counters_take_serial(sello_counters *c, uint64_t gen_ms,
                                        uint64_t *counter)
{
    if (gen_ms < c->restart_floor_ms)
        return SELLO_ERR_CLOCK;
    if (sello_counters_write_due(c, gen_ms))
        SELLO_TRY(write_record(c, gen_ms + SELLO_TIME_LEASE_MS));
    *counter = c->next++;
    return SELLO_OK;
}

sello_status sello_counters_persist(sello_counters *c)
{
    return write_record(c, c->lease_ms);
}

void sello_serial_magnitude(uint32_t instance, uint64_t counter,
                            uint8_t out[12])
{
    sello_put_be32(out, instance);
    sello_put_be64(out + 4, counter);
}
