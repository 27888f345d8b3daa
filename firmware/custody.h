/*
 * Custody of the activation secret K: the shares the custodians hold and
 * the quorum sessions in which they hand them back (DESIGN.md section 6;
 * formats in <sello/abi.h>, "Dual control").
 *
 * A share is only ever outside the module inside a box: sealed to its
 * custodian's key at the ceremony, sealed to the session and the module at
 * submission. Inside, the module's MAC (under a key derived from the device
 * secret) binds x and y to the unit, the ceremony generation and M-of-N,
 * so a corrupted, foreign or stale share is refused by name before it
 * could spoil the interpolation, and nobody without the device can make
 * one.
 */
#ifndef SELLO_CUSTODY_H
#define SELLO_CUSTODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>
#include <sello/abi.h>
#include <sello/status.h>

#include "shamir.h"

/* What a share is bound to. */
typedef struct {
    uint8_t unit_id[32]; /* SHA-256 of the unit's SPKI */
    uint32_t generation;
    uint8_t m, n;
} sello_custody;

/* The module's custody keys, derived from the device secret. */
typedef struct {
    uint8_t share_mac[32];
    uint8_t ceremony_priv[32]; /* X25519: second recipient of submissions */
    uint8_t ceremony_pub[32];
} sello_custody_keys;

SELLO_MUST_CHECK sello_status sello_custody_keys_derive(sello_custody_keys *k);

/* Writes the SELLO_SHARE_LEN-octet plaintext of share `s`. */
void sello_share_encode(const sello_custody *u, const sello_custody_keys *k,
                        const sello_shamir_share *s,
                        uint8_t out[SELLO_SHARE_LEN]);

/*
 * Checks a share plaintext against the unit: NULL when it is genuine (and
 * *s holds it), else why not. Never trusts x or y before the MAC.
 */
const char *sello_share_check(const sello_custody *u,
                              const sello_custody_keys *k,
                              const uint8_t in[SELLO_SHARE_LEN],
                              sello_shamir_share *s);

/* The one quorum session. Secret fields are wiped on close. */
typedef struct {
    bool open;
    uint8_t purpose;
    uint8_t id[SELLO_SESSION_ID_LEN];
    uint8_t challenge[32];
    uint8_t priv[32];
    uint8_t pub[32];
    uint64_t opened;   /* board ticks */
    uint64_t expires;
    bool has_proposal;
    uint8_t proposal[SELLO_PROPOSAL_LEN];
    unsigned count;
    sello_shamir_share shares[SELLO_SHAMIR_MAX_N];
} sello_session;

/* Opens a fresh session of `purpose` with `proposal` (SELLO_PROPOSAL_LEN
 * octets, or NULL) at tick `now`, expiring at tick `expires`. */
void sello_session_open(sello_session *s, uint8_t purpose,
                        const uint8_t *proposal, const br_prng_class **rng,
                        uint64_t now, uint64_t expires);

/* Closes the session and wipes its keys and shares. */
void sello_session_close(sello_session *s);

/*
 * Takes one SESSION_SUBMIT payload. SELLO_OK: a new genuine share, now
 * s->shares[s->count - 1]. SELLO_ERR_PARAM with *why: not the length of a
 * submission. SELLO_ERR_SESSION: the payload names no open session
 * (another, a replaced or a closed one). SELLO_ERR_SHARE
 * with *why: the submission does not open for this session, or the share
 * is not this unit's current genuine share, or it was already given;
 * *counts says whether the failure counts towards the lockout (a repeat
 * of an accepted share does not: it proves nothing either way).
 */
SELLO_MUST_CHECK sello_status sello_session_submit(
    sello_session *s, const sello_custody *u, const sello_custody_keys *k,
    const uint8_t *payload, size_t len, const char **why, bool *counts);

#endif
