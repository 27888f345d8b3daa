/*
 * The relay's one connection to the module, shared by every HTTP request
 * and every admin client.
 *
 * Frames are pipelined: each call gets a fresh tag, is appended to an
 * in-flight queue and written with one sendmsg(); a single link thread
 * reads response frames and completes the calls. The module answers
 * strictly in order, so a response must carry the tag at the head of the
 * queue; anything else means the byte stream can no longer be trusted and
 * the link is reset.
 *
 * The link thread connects, reconnects after any failure (failing the
 * calls that were in flight), and expires calls that wait longer than
 * their own timeout. An expired call stays in the queue without its
 * caller, so the module's late answer is read and dropped rather than
 * taken for the next call's. If even that answer does not come within a
 * further module timeout, the module is considered wedged and the link is
 * reset.
 *
 * Every completion runs on the link thread: callbacks must be short and
 * must not block (the HTTP side only resumes a suspended connection).
 */
#ifndef RELAY_MODULE_LINK_H
#define RELAY_MODULE_LINK_H

#include <stdint.h>

#include <sello/abi.h>

#include "net.h"

/* How a call ended, as far as the link can tell. The module's own verdict
 * is the response code (a sello_status). */
enum relay_call_result {
    RELAY_CALL_OK = 0,    /* a response frame arrived */
    RELAY_CALL_LINK_DOWN, /* not connected, stopping, or the link broke */
    RELAY_CALL_BUSY,      /* too many calls in flight */
    RELAY_CALL_TIMEOUT,   /* no answer within the call's timeout */
};

struct relay_call {
    /* Filled in by the caller before relay_link_submit(). */
    uint8_t op;        /* SELLO_OP_* (not checked: the module decides) */
    uint8_t req_flags; /* request frame flags, normally 0 */
    uint32_t req_len;  /* <= SELLO_PAYLOAD_MAX */
    const uint8_t *req;
    uint8_t *resp;       /* room for SELLO_PAYLOAD_MAX octets */
    unsigned timeout_ms; /* from submission to the response */
    /* Runs exactly once, on the link thread, if and only if
     * relay_link_submit() returned RELAY_CALL_OK. It may run before
     * relay_link_submit() has returned. */
    void (*done)(struct relay_call *call);

    /* Set by the link before done() runs. */
    enum relay_call_result result;
    uint8_t code;  /* response code: sello_status */
    uint8_t flags; /* SELLO_RESP_FLAG_* */
    uint32_t resp_len;

    /* Private to the link. */
    struct relay_call *link_next;
};

struct relay_link;

/*
 * Starts the link thread for the module at `module`. At most `max_calls`
 * calls may be outstanding (expired ones included); `send_timeout_ms`
 * bounds connect() and a blocked write, and is the grace after which an
 * unanswered expired call declares the module wedged. Returns NULL after
 * logging why. The first connection is made in the background: calls
 * submitted before it is up fail with RELAY_CALL_LINK_DOWN.
 */
struct relay_link *relay_link_start(const struct relay_addr *module,
                                    unsigned max_calls,
                                    unsigned send_timeout_ms);

/*
 * Sends `call` as one frame. Returns RELAY_CALL_OK when the frame is on
 * its way (done() will run), or why it was not sent (done() will not run).
 * Callable from any thread.
 */
enum relay_call_result relay_link_submit(struct relay_link *link,
                                         struct relay_call *call);

/* Refuses new calls and waits up to `timeout_ms` for those in flight. */
void relay_link_drain(struct relay_link *link, unsigned timeout_ms);

/* Refuses new calls, fails those still in flight with
 * RELAY_CALL_LINK_DOWN and joins the link thread. relay_link_submit()
 * stays callable (it fails) until relay_link_free(). */
void relay_link_stop(struct relay_link *link);

void relay_link_free(struct relay_link *link);

/* "STAMP", "GET_CERTS", ...; "0x7f" style for an opcode the ABI lacks.
 * Returns a static string, or `buf` (at least 8 octets). */
const char *relay_op_name(uint8_t op, char *buf);

const char *relay_call_result_str(enum relay_call_result r);

#endif
