/*
 * Reading and checking an audit log: the records the relay stored
 * (sello-relayd --audit-log), back to back, as the module made them (the
 * format and the chain rules are in <sello/abi.h>, "Audit records").
 */
#ifndef SELLO_TOOLS_AUDIT_LOG_H
#define SELLO_TOOLS_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_SPKI_LEN 91u

typedef struct {
    const uint8_t *p;   /* header and body */
    size_t len;
    uint8_t type;
    uint64_t seq;
    uint64_t utc_ms;
    const uint8_t *body;
    size_t body_len;
    uint8_t hash[32];   /* SHA-256 of the record */
} audit_rec;

typedef struct {
    size_t records;
    size_t tokens;
    size_t checkpoints;
    size_t restarts;
    size_t ceremonies;           /* INIT records */
    size_t test_units;           /* of them, ceremonies of test units */
    uint64_t first_seq, last_seq;
    uint8_t head[32];            /* hash of the last good record */
    uint64_t last_signed_seq;    /* the last checkpoint that verified */
    size_t unsigned_tail;        /* records after it */
    size_t rolled_back;          /* RESTARTs that found a restore */
    bool have_key;
    uint8_t key[AUDIT_SPKI_LEN]; /* the audit key's SPKI */
    /* On failure: the first broken record and why. */
    uint64_t bad_seq;
    size_t bad_offset;
    char why[200];
} audit_report;

/* Calls `each` for every whole record of log[0..len) until it returns
 * false; returns the octets consumed (len when the log is whole). */
size_t audit_each(const uint8_t *log, size_t len,
                  bool (*each)(const audit_rec *r, void *arg), void *arg);

/*
 * Checks the whole log: record shapes, consecutive sequence numbers, the
 * hash links, RESTARTs (numbered above everything before, carrying a
 * genuine copy of the checkpoint they continue from, which is either in
 * the log as it is or follows a record of it), and every checkpoint's
 * signature under the audit key (`key`, or when NULL the key of the
 * first RESTART). True when it all holds; else *r names the first broken
 * record.
 */
bool audit_verify(const uint8_t *log, size_t len, const uint8_t *key,
                  audit_report *r);

#endif
