/*
 * The relay's one connection to the module, shared by every HTTP request
 * and every admin client.
 *
 * Frames are pipelined: each call gets a fresh tag, is appended to an
 * in-flight queue and its frame to an output buffer, which the link's
 * event loop writes once per turn, so the frames of every request that
 * completed in one turn leave in one write(). Responses are read in bulk
 * (one read() takes every answer the module has sent) and complete their
 * calls on the loop's thread. The module answers strictly in order, so a
 * response must carry the tag at the head of the queue; anything else
 * means the byte stream can no longer be trusted and the link is reset.
 *
 * Over a UNIX socket (the simulator) the frames themselves travel through
 * a pair of pipes handed to the module's side on connecting, which costs
 * both sides less per frame than the socket; a board that does not take
 * them keeps the socket (see relay_link_offer_pipes() in module_link.c).
 *
 * Over a serial link (a "serial:" module address: a board's UART behind a
 * socket, net.h) no pipes are offered; each frame crosses in the framing
 * of <sello/serial_link.h>, and every connection opens with a lone
 * delimiter that ends whatever half message the board still holds. A
 * message that reaches the relay damaged, or the board's NAK for a request
 * that reached it damaged, resets the link while an answer is owed (which
 * call it stood for cannot be told); with none owed it was noise and is
 * ignored.
 *
 * The loop connects (without blocking), reconnects after any failure
 * (failing the calls that were in flight), and expires calls that wait
 * longer than their own timeout. An expired call stays in the queue without
 * its caller, so the module's late answer is read and dropped rather than
 * taken for the next call's. If even that answer does not come within a
 * further module timeout, or the module stops taking frames for that long,
 * the module is considered wedged and the link is reset.
 *
 * Every completion runs on the loop's thread: callbacks must be short and
 * must not block (the HTTP side only resumes a suspended connection).
 *
 * Every response frame passes through the link's sink, when it has one
 * (the audit store, audit_store.h), which completes the call: the module's
 * audit records are split off and stored durably before any caller sees
 * the rest, so a completed call holds the operation's own payload only,
 * never SELLO_RESP_FLAG_AUDIT.
 */
#ifndef RELAY_MODULE_LINK_H
#define RELAY_MODULE_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include <sello/abi.h>

#include "loop.h"
#include "net.h"

/* How a call ended, as far as the link can tell. The module's own verdict
 * is the response code (a sello_status). */
enum relay_call_result {
    RELAY_CALL_OK = 0,    /* a response frame arrived */
    RELAY_CALL_LINK_DOWN, /* not connected, stopping, or the link broke */
    RELAY_CALL_BUSY,      /* too many calls in flight */
    RELAY_CALL_TIMEOUT,   /* no answer within the call's timeout */
    RELAY_CALL_AUDIT_FAILED, /* answered, but the audit records it
                                carried could not be stored: withheld */
};

struct relay_call {
    /* Filled in by the caller before relay_link_submit(). */
    uint8_t op;        /* SELLO_OP_* (not checked: the module decides) */
    uint8_t req_flags; /* request frame flags, normally 0 */
    uint32_t req_len;  /* <= SELLO_PAYLOAD_MAX */
    const uint8_t *req;
    uint8_t *resp;       /* room for SELLO_PAYLOAD_MAX octets */
    unsigned timeout_ms; /* from submission to the response */
    /* Runs exactly once, on the link's loop thread, if and only if
     * relay_link_submit() returned RELAY_CALL_OK; never inside
     * relay_link_submit() itself, but on another thread it may run before
     * relay_link_submit() has returned there. */
    void (*done)(struct relay_call *call);

    /* Set by the link before done() runs. */
    enum relay_call_result result;
    uint8_t code;  /* response code: sello_status */
    uint8_t flags; /* SELLO_RESP_FLAG_* */
    uint32_t resp_len;

    /* Private to the link, and to its sink once it has the call. */
    struct relay_call *link_next;
};

struct relay_link;

/*
 * Where response frames go (audit_store.h). Both run on the link's loop
 * thread and may submit calls.
 */
struct relay_link_sink {
    /*
     * Every response frame, in the order the module sent them. `call` is
     * its call, or NULL when nobody waits for the answer (an expired
     * call's late answer, the link's own handshake STATUS); payload[0..
     * h->length) is valid during this call only. The sink completes a
     * non-NULL call - sets result, code, flags, resp and resp_len and
     * runs done() - at once or later, but on this thread and exactly
     * once.
     */
    void (*frame)(void *arg, struct relay_call *call,
                  const sello_frame_header *h, const uint8_t *payload);
    /* The link is up on a new connection; nothing has been sent on it
     * yet, so a call submitted now is the module's first. */
    void (*up)(void *arg, struct relay_link *link);
    void *arg;
};

/*
 * Creates the link for the module at `module`, served by `loop`. At most
 * `max_calls` calls may be outstanding (expired ones included);
 * `send_timeout_ms` bounds connect() and a stalled write, and is the grace
 * after which an unanswered expired call declares the module wedged.
 * Returns NULL after logging why. The first connection is made by the
 * loop: calls submitted before it is up fail with RELAY_CALL_LINK_DOWN.
 * `sink` (copied; NULL: none) sees every response frame; without one,
 * calls complete with the frame's payload as it is.
 */
struct relay_link *relay_link_start(struct relay_loop *loop,
                                    const struct relay_addr *module,
                                    unsigned max_calls,
                                    unsigned send_timeout_ms,
                                    const struct relay_link_sink *sink);

/* True while the link is connected and takes calls. The loop's thread. */
bool relay_link_is_up(const struct relay_link *link);

/*
 * Queues `call` as one frame. Returns RELAY_CALL_OK when the frame is on
 * its way (done() will run), or why it was not sent (done() will not run).
 * Callable from any thread; from another thread than the loop's it wakes
 * the loop, which writes the frame.
 */
enum relay_call_result relay_link_submit(struct relay_link *link,
                                         struct relay_call *call);

/*
 * The loop's side, on its thread, once per turn in this order: the
 * milliseconds until the link next has something timed to do (-1: none)
 * for the turn's wait; after the turn, the timed duties (connecting,
 * expiring calls, declaring the module wedged); and last, after everything
 * else that may have submitted calls, writing the queued frames.
 */
int relay_link_timeout_ms(struct relay_link *link, uint64_t now_ns);
void relay_link_run(struct relay_link *link, uint64_t now_ns);
void relay_link_flush(struct relay_link *link);

/* Shutdown, on the loop's thread: refuse new calls; count the calls that
 * still wait for an answer; then fail those with RELAY_CALL_LINK_DOWN and
 * close the connection (relay_link_submit() keeps failing until
 * relay_link_free()). */
void relay_link_refuse(struct relay_link *link);
unsigned relay_link_live(struct relay_link *link);
void relay_link_stop(struct relay_link *link);

void relay_link_free(struct relay_link *link);

/* "STAMP", "GET_CERTS", ...; "0x7f" style for an opcode the ABI lacks.
 * Returns a static string, or `buf` (at least 8 octets). */
const char *relay_op_name(uint8_t op, char *buf);

const char *relay_call_result_str(enum relay_call_result r);

#endif
