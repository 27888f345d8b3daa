/*
 * The module's STATUS reply (SELLO_ST_*), decoded once for every command
 * that needs it (`sello status`, and the quorum commands, which look at
 * the clock before proposing a time), and the words for its values.
 */
#ifndef SELLO_TOOLS_UNIT_STATUS_H
#define SELLO_TOOLS_UNIT_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "admin_client.h"
#include "oidx.h"

/* The STATUS reply, decoded. */
typedef struct {
    bool has[256];
    uint64_t num[256];        /* integer-valued fields (unsigned) */
    int64_t obs_offset_us;    /* SELLO_ST_OBS_OFFSET_US, signed */
    uint64_t leap_us;         /* SELLO_ST_LEAP_US: the leap's instant */
    unsigned leap_kind;       /* and 1 inserted, 2 deleted */
    char policy[OIDX_DOTTED_MAX];
    char fw[256];
    char unit_id[65];         /* hex */
    char audit_head[65];      /* hex */
    char audit_key_sha256[65]; /* hex SHA-256 of the audit key's SPKI */
    bool malformed;           /* some field had the wrong size or form */
    char unknown[1024];       /* "type=hex" of fields this tool lacks */
} unit_status;

/* Decodes a STATUS reply payload; false when its TLV list is truncated
 * (fields of an unexpected size only set `malformed`). */
bool unit_status_decode(const admin_reply *r, unit_status *st);

/*
 * Asks the module for its STATUS on an open connection and decodes it.
 * *rtt_us (optional) is the round trip of the exchange in microseconds.
 * False after printing why, naming the command `cmd`.
 */
bool unit_status_fetch(admin_conn *c, const char *cmd, unit_status *st,
                       uint64_t *rtt_us);

const char *unit_state_name(unsigned state);   /* "ready" */
const char *unit_purpose_name(unsigned purpose); /* "activate" */
const char *unit_clock_name(unsigned clock);   /* "synchronised" */
const char *unit_leap_kind_name(unsigned kind); /* "inserted" */

#endif
