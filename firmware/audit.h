/*
 * The audit chain (DESIGN.md section 7): every security event and every
 * issued token becomes a record in a hash chain with consecutive sequence
 * numbers, and checkpoints of the chain head are signed with the module's
 * audit key, so that the host's log of the records can be checked end to
 * end by anyone with the audit public key (`sello audit verify`).
 *
 * Record (all integers big-endian; wire format in <sello/abi.h>):
 *
 *   0   1   SELLO_AUDIT_FORMAT
 *   1   1   type (SELLO_AUDIT_*)
 *   2   2   body length L
 *   4   8   sequence number
 *   12  8   module UTC in milliseconds when recorded (0: uncalibrated)
 *   20  32  SHA-256 of the previous record (all zeros for the very first)
 *   52  L   body
 *
 * The chain head is the SHA-256 of the last record. Records wait in a
 * fixed buffer until the host acknowledges that it stored them durably
 * (AUDIT_ACK); the response to the request that made them carries them
 * too, so a token's record reaches the host with the token. When the
 * buffer cannot take what an operation would record, the operation is
 * refused: nothing happens that the chain could not show.
 *
 * Persistence: each checkpoint is saved with the counters record (in full,
 * so it can be rebuilt), and sequence numbers are reserved in blocks like
 * serials: no number beyond the saved reservation is ever used. After a
 * restart the chain continues with a RESTART record numbered from the
 * reserved end, linked to the saved checkpoint and carrying a copy of it
 * (the host may never have received it, if power was lost right after it
 * was saved). Records made after that checkpoint and before the restart
 * stay in the host's log, linked to it, but no signature covers them. A
 * restore of old records is told by the board counter: the RESTART then
 * skips the sequence numbers the lost records could have used.
 */
#ifndef SELLO_AUDIT_H
#define SELLO_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>
#include <sello/abi.h>
#include <sello/status.h>

#define SELLO_AUDIT_BUFFER 4096u
/* Room every operation may count on: the records of one operation. */
#define SELLO_AUDIT_RESERVE 1024u
#define SELLO_AUDIT_SEQ_BLOCK 4096u

/* A checkpoint as the counters record keeps it. */
typedef struct {
    uint64_t seq;
    uint8_t prev[32];
    uint64_t utc_ms;
    uint8_t sig[72];
    uint8_t sig_len;
    uint64_t seq_end;           /* first sequence number it reserves not */
} sello_audit_saved;

typedef struct {
    uint64_t next_seq;          /* sequence number of the next record */
    uint8_t head[32];           /* hash of the last record */
    uint64_t seq_end;           /* first sequence number not reserved by a
                                   durable save */
    /* The audit key: P-256, derived from the device secret. */
    br_ec_private_key key;
    uint8_t key_x[32];
    uint8_t key_spki[91];
    /* Records not yet acknowledged, oldest first. */
    uint8_t buf[SELLO_AUDIT_BUFFER];
    size_t len;
    size_t mark;                /* where this request's records begin */
} sello_audit;

/* Derives the audit key from the device secret. */
SELLO_MUST_CHECK sello_status sello_audit_init(sello_audit *a);

/*
 * Resumes after a restart from the saved checkpoint (NULL: a device that
 * never saved one), numbering from its reservation's end plus `skip`, and
 * appends the RESTART record: saved sequence number (8), `flags` (1), the
 * audit key's SPKI, then the rebuilt checkpoint record.
 */
SELLO_MUST_CHECK sello_status sello_audit_resume(sello_audit *a,
                                                 const sello_audit_saved *saved,
                                                 uint64_t skip, uint8_t flags);

/* Free octets in the buffer. */
size_t sello_audit_room(const sello_audit *a);

/*
 * Appends a record of `type` with body[0..len) at module time utc_ms.
 * SELLO_ERR_SPACE when it does not fit (callers check the room first).
 */
SELLO_MUST_CHECK sello_status sello_audit_add(sello_audit *a, uint8_t type,
                                              uint64_t utc_ms,
                                              const void *body, size_t len);

/* A record whose body is given in two parts (e.g. fixed fields, then a
 * variable one). */
SELLO_MUST_CHECK sello_status sello_audit_add2(sello_audit *a, uint8_t type,
                                               uint64_t utc_ms,
                                               const void *b1, size_t l1,
                                               const void *b2, size_t l2);

/* True when the next record would pass the reserved sequence numbers:
 * the caller saves a checkpoint first. */
bool sello_audit_needs_save(const sello_audit *a);

/*
 * Appends a CHECKPOINT record signing the current head and describes it,
 * with a fresh block of sequence numbers, in *out for the caller to save
 * durably (counters record); sello_audit_commit once that succeeded.
 */
SELLO_MUST_CHECK sello_status sello_audit_checkpoint(sello_audit *a,
                                                     uint64_t utc_ms,
                                                     sello_audit_saved *out);

/* The save of `saved` is durable: its block of sequence numbers is ours. */
void sello_audit_commit(sello_audit *a, const sello_audit_saved *saved);

/* Writes the CHECKPOINT record `saved` describes to out (at least
 * SELLO_AUDIT_HEADER_LEN + 72 octets); returns its length. */
size_t sello_audit_rebuild(const sello_audit_saved *saved, uint8_t *out);

/* Drops the records up to and including `seq` (the host stored them). */
void sello_audit_ack(sello_audit *a, uint64_t seq);

/* Starts a request: records appended from now on are this request's. */
static inline void sello_audit_begin(sello_audit *a) { a->mark = a->len; }

/* This request's records. */
static inline const uint8_t *sello_audit_fresh(const sello_audit *a,
                                               size_t *len)
{
    *len = a->len - a->mark;
    return a->buf + a->mark;
}

/* Copies buffered records with sequence >= from_seq into out (whole
 * records, as many as fit). Returns the length. */
size_t sello_audit_read(const sello_audit *a, uint64_t from_seq, uint8_t *out,
                        size_t cap);

#endif
