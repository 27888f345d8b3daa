/*
 * The unit's counters: serial numbers, the time floor, the key ceremony
 * generation, the activation failure count and the audit chain's saved
 * position, in one authenticated record
 * (SELLO_NV_COUNTERS) that is bound to the board's monotonic counter.
 *
 * Serial numbers are strictly increasing for the life of the unit and never
 * reused across restarts, crashes, power loss, or a host restoring an old
 * copy of the records. They are allocated in blocks, and block numbers
 * ("epochs") come from the board's monotonic counter, which lives apart
 * from the records and cannot be set back: every write of the record takes
 * the next epoch, writing the record first and advancing the board counter
 * second, and no serial of an epoch is handed out before the board counter
 * has reached it. So every epoch ever used is <= the board counter, and a
 * new reservation always takes max(record epoch, board counter) + 1:
 * counter values (epoch - 1) * SELLO_SERIAL_BLOCK + 1 .. epoch *
 * SELLO_SERIAL_BLOCK. One record write per block of tokens, or per second
 * of issuing (below), not per token; gaps between blocks are normal.
 *
 * Rollback. A record whose epoch is below the board counter is an old copy
 * (a crash between the two writes leaves it exactly one above). Serials are
 * safe anyway; what is lost is the time floor, so the record is marked
 * `time_doubt` and the module refuses to issue until the quorum
 * re-calibrates the clock.
 *
 * The time floor: every token issued under a reservation has genTime <=
 * the reservation's lease, and a new reservation is written before a token
 * would exceed it. After a restart no token is issued before the clock has
 * passed the previous run's lease, so genTime never goes backwards either.
 *
 * The record is authenticated with HMAC-SHA256 under a key derived from the
 * board's device secret, so storage alone cannot forge one; it is written
 * when the key is generated, so a unit with a key but no counters record
 * refuses to start.
 *
 * A serial is the TSU instance number (32 bits) above the 64-bit counter:
 * at most 96 bits, well inside RFC 3161's 160, unique across the TSUs of
 * one TSA when each has its own instance number.
 */
#ifndef SELLO_COUNTERS_H
#define SELLO_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include <sello/status.h>

#include "audit.h"

#define SELLO_SERIAL_BLOCK 4096u
#define SELLO_TIME_LEASE_MS 1000u

typedef struct {
    uint8_t mac_key[32];       /* record authentication key */
    uint64_t epoch;            /* epoch of the last record written or read */
    uint64_t next;             /* next serial counter to hand out */
    uint64_t reserved_end;     /* first counter not covered (next == end:
                                  nothing reserved) */
    uint64_t lease_ms;         /* genTime covered by the reservation */
    uint64_t restart_floor_ms; /* the previous run's lease */
    uint32_t generation;       /* key ceremony generation, 1 at the first */
    uint8_t failures;          /* failed share submissions */
    bool locked;               /* locked out at the last write */
    bool time_doubt;           /* records were rolled back */
    /* The audit chain's saved position (audit.h): the last checkpoint
     * record, in full so that it can be rebuilt even if the host never
     * received it, and the first sequence number not reserved (seq_end
     * 0: never saved). */
    sello_audit_saved audit;
    /* Set by sello_counters_load when the record was rolled back: how
     * many board counter steps it is behind. */
    uint64_t rollback_steps;
} sello_counters;

/*
 * Resumes from the record and the board counter. Without a record it
 * starts afresh (generation 1) and returns SELLO_ERR_NOT_FOUND, which only
 * an uninitialised unit may accept; SELLO_ERR_STORAGE when the record is
 * damaged or forged. A rolled-back record is accepted with time_doubt set
 * (persisted by the next write, which the caller makes at once).
 * *rolled_back tells the caller that this start found one.
 */
SELLO_MUST_CHECK sello_status sello_counters_load(sello_counters *c,
                                                  bool *rolled_back);

/* Whether sello_counters_take_serial for genTime gen_ms would write the
 * record (a new reservation). */
bool sello_counters_write_due(const sello_counters *c, uint64_t gen_ms);

/* Writes the record with the current fields, taking a new epoch (and so
 * abandoning the rest of the current serial block). */
SELLO_MUST_CHECK sello_status sello_counters_persist(sello_counters *c);

/*
 * Takes the next serial counter for a token with genTime `gen_ms`, first
 * writing a new reservation when the block or the time lease is used up.
 * SELLO_ERR_CLOCK when gen_ms is before the previous run's floor,
 * SELLO_ERR_STORAGE when the reservation cannot be made durable (no serial
 * is handed out then), SELLO_ERR_EXHAUSTED at the end of the counter space.
 */
SELLO_MUST_CHECK sello_status sello_counters_take_serial(sello_counters *c,
                                                         uint64_t gen_ms,
                                                         uint64_t *counter);

/* Encodes (instance, counter) as the serial's 12-octet magnitude. */
void sello_serial_magnitude(uint32_t instance, uint64_t counter,
                            uint8_t out[12]);

#endif
