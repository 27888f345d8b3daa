/*
 * Serial numbers: strictly increasing for the life of the unit, never
 * reused across restarts, crashes or power loss.
 *
 * The module reserves serials in blocks: before handing out the first serial
 * of a block it durably records the block's end, and on start it resumes at
 * the recorded end (abandoning the unused rest of the last block). One
 * storage write per SELLO_SERIAL_BLOCK tokens, not per token.
 *
 * The same record carries a time floor: every token issued under a
 * reservation has genTime <= floor, and a new reservation is written before
 * a token would exceed it. After a restart no token is issued before the
 * clock has passed the previous run's floor, so genTime never goes
 * backwards across restarts either. The lease bounds that wait to a
 * second and the write rate to one per second (or per block) of issuing.
 *
 * The record is authenticated with HMAC-SHA256 under a key derived from the
 * board's device secret, so storage alone cannot forge a reservation that
 * moves the counter back; it is written when the key is generated, so a
 * unit with a key but no serial record refuses to start. (Replaying an
 * older genuine record is the anti-rollback problem dual control solves by
 * tying the counter to the sealed key record.)
 *
 * A serial is the TSU instance number (32 bits) above the 64-bit counter:
 * at most 96 bits, well inside RFC 3161's 160, unique across the TSUs of
 * one TSA when each has its own instance number.
 */
#ifndef SELLO_SERIAL_H
#define SELLO_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

#include <sello/status.h>

#define SELLO_SERIAL_BLOCK 4096u
#define SELLO_TIME_LEASE_MS 1000u

typedef struct {
    uint8_t mac_key[32];     /* record authentication key */
    uint64_t next;           /* next counter to hand out */
    uint64_t reserved_end;   /* first counter not covered by the record */
    uint64_t lease_ms;       /* genTime covered by the record */
    uint64_t restart_floor_ms; /* the previous run's lease */
} sello_serials;

/*
 * Resumes from the SELLO_NV_SERIAL record. Without one it starts at 1 and
 * returns SELLO_ERR_NOT_FOUND, which only an uninitialised unit may accept;
 * SELLO_ERR_STORAGE when the record is damaged or forged.
 */
SELLO_MUST_CHECK sello_status sello_serials_load(sello_serials *s);

/* Writes the current reservation durably (at key generation, so that the
 * record exists from then on). */
SELLO_MUST_CHECK sello_status sello_serials_persist(sello_serials *s);

/*
 * Takes the next counter for a token with genTime `gen_ms`, first writing
 * a new reservation when the block or the time lease is used up.
 * SELLO_ERR_CLOCK when gen_ms is before the previous run's floor,
 * SELLO_ERR_STORAGE when the reservation cannot be made durable (no serial
 * is handed out then), SELLO_ERR_EXHAUSTED at the end of the counter space.
 */
SELLO_MUST_CHECK sello_status sello_serials_take(sello_serials *s,
                                                 uint64_t gen_ms,
                                                 uint64_t *counter);

/* Encodes (instance, counter) as the serial's 12-octet magnitude. */
void sello_serial_magnitude(uint32_t instance, uint64_t counter,
                            uint8_t out[12]);

#endif
