/*
 * The relay as the durable store of the module's audit records
 * (include/sello/abi.h, "Audit records"; firmware/audit.h).
 *
 * The module keeps the records it makes in a 4 KiB buffer until a host
 * acknowledges them (AUDIT_ACK), and refuses operations - STAMP with a
 * systemFailure rejection - once it cannot record any more: a relay that
 * does not store and acknowledge stops the unit, by design. This is the
 * relay's side of that bargain; there is no mode that serves tokens
 * without it (--audit-log is required).
 *
 * The log (--audit-log PATH) is an append-only file of the raw records,
 * exactly as the module sent them, back to back in sequence order, for
 * `sello audit verify`. It is opened with O_APPEND (created with mode
 * 0600) and locked against a second relay (flock). At start the relay
 * reads it through to learn the last record's sequence number and hash;
 * a truncated last record (a crash in the middle of an append) is cut off
 * with a warning saying how many octets; anything else that is not a
 * record refuses the start.
 *
 * Every response frame the module link delivers goes through here first
 * (module_link.h, struct relay_link_sink): HTTP STAMP answers, admin
 * frames, time feed answers, the late answers of expired calls, the link's
 * own handshake. Records travel at the head of a response flagged
 * SELLO_RESP_FLAG_AUDIT; they are split off, and the call completes with
 * the operation's own payload only and the flag cleared, so that no HTTP
 * client and no admin client ever sees them.
 *
 * Durability policy: group commit. All records that arrived in one turn
 * of the relay's event loop are appended with one write() and made
 * durable with one fdatasync(); then, and only then, are the responses of
 * that turn released: tokens sent to their HTTP clients, admin frames
 * forwarded, time feed answers handled. After that one AUDIT_ACK names
 * the highest sequence number stored (at most one per turn, and only one
 * outstanding). A response without records is released at once: it has
 * nothing to wait for. Under load many tokens share one fdatasync().
 * If the write or the fdatasync() fails, nothing of that turn is released
 * (HTTP clients get 500, admin clients lose their connection without an
 * answer), nothing is acknowledged, an error is logged and the file is
 * cut back to its last durable length: the records stay in the module,
 * which stops issuing when its buffer fills, and the next turn's records
 * fetch them again (AUDIT_READ) and retry.
 *
 * Continuity. The next record must be the last one stored plus one, or a
 * RESTART record (the module restarted, and numbers on from a reserved
 * block). On a gap - the relay was down while the module worked, another
 * host had the records, a failed write - the relay holds the records that
 * arrived and the responses that carry them, asks the module with
 * AUDIT_READ for what it still holds from the last stored record on,
 * appends that, and only then the held records. Whatever the module no
 * longer holds (acknowledged to another host, lost in a module restart)
 * is named in an error line and the later records are appended anyway:
 * `sello audit verify` reports the gap. Records the relay already has
 * (compared by hash) are not stored twice. At every (re)connection of the
 * link, the first frame is such an AUDIT_READ, so that what the module
 * made while the relay could not see it is collected before anything
 * else; at start-up the relay waits for it before serving.
 *
 * AUDIT_READ starts at the last stored record itself rather than after
 * it: when the module still holds that record its hash shows that the
 * module's chain is the one in the log, which is what allows the relay to
 * acknowledge a module that holds nothing new (a relay that stopped
 * between its fdatasync() and its AUDIT_ACK). A module whose numbers went
 * backwards (reset, or rolled-back records) is never acknowledged with a
 * number from the old chain: the relay logs the divergence, reads all the
 * module holds and goes on from the new chain.
 *
 * Threads: everything runs on the module link's loop thread, except
 * relay_audit_snapshot(), which any thread may call.
 */
#ifndef RELAY_AUDIT_STORE_H
#define RELAY_AUDIT_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "module_link.h"

struct relay_audit;

/* What the store has done, for the service page. */
struct relay_audit_report {
    const char *path;
    bool any;              /* the log holds at least one record */
    uint64_t last_seq;     /* of the last durable record */
    uint8_t last_hash[32]; /* its SHA-256 */
    uint64_t log_records;  /* records in the file (counted at start) */
    uint64_t stored;       /* records appended since start */
    uint64_t failures;     /* batches whose write or fdatasync failed */
    bool failing;          /* the last attempt failed */
    bool catching_up;      /* an AUDIT_READ is wanted or out */
    uint64_t acked_seq;    /* last AUDIT_ACK sent on this connection (0:
                              none) */
};

/*
 * Opens (creating, mode 0600) and locks the log at `path`, reads it
 * through, cuts off a truncated last record. `timeout_ms` bounds the
 * store's own module calls. Returns NULL after logging why.
 */
struct relay_audit *relay_audit_open(const char *path, unsigned timeout_ms);

/* The sink to give relay_link_start(): every response frame and every
 * (re)connection of the link. */
void relay_audit_sink(struct relay_audit *a, struct relay_link_sink *out);

/*
 * The loop's side, once per turn, after the turn's frames were delivered
 * and before HTTP answers are sent and the link's frames are flushed:
 * commits the turn's records (write, fdatasync), releases or fails the
 * responses that waited for them, sends AUDIT_ACK, and (re)sends an
 * AUDIT_READ that is wanted.
 */
void relay_audit_run(struct relay_audit *a);

/*
 * Start-up, before serving: drives `loop` (whose link is `link`) until the
 * catch-up AUDIT_READ of the link's first connection is answered and its
 * records are durable, or `timeout_ms`. Returns true when caught up;
 * false when the module is not reachable yet or did not answer (the
 * catch-up then happens when it does).
 */
bool relay_audit_catch_up(struct relay_audit *a, struct relay_loop *loop,
                          struct relay_link *link, unsigned timeout_ms);

/* True while responses wait here for their records to become durable. */
bool relay_audit_busy(struct relay_audit *a);

/* A copy of the report. Any thread. */
void relay_audit_snapshot(struct relay_audit *a,
                          struct relay_audit_report *out);

/*
 * Shutdown, after relay_link_stop() and before waiting for anything that
 * waits for a call (admin clients): stores what arrived if it can, and
 * fails the responses still held (their records were not stored; the
 * module keeps them). NULL is ignored.
 */
void relay_audit_stop(struct relay_audit *a);

/* Logs a summary, closes the log and frees the store. NULL is ignored. */
void relay_audit_close(struct relay_audit *a);

#endif
