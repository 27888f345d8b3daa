/*
 * The public HTTP front end (RFC 3161 section 3.4 transport).
 *
 *   POST /   Content-Type: application/timestamp-query, DER TimeStampReq
 *            -> 200 application/timestamp-reply, DER TimeStampResp
 *            -> 400 with the module's badDataFormat TimeStampResp when the
 *               module flags the body as no TimeStampReq at all
 *   GET /            service page (text/html) from the module's STATUS,
 *                    the time feed's report (time_feed.h) and the audit
 *                    store's (audit_store.h)
 *   GET /tsa.crt     TSU certificate, DER (application/pkix-cert)
 *   GET /chain.pem   TSU certificate and issuer, PEM
 *                    (application/x-pem-file)
 *
 * POST is accepted on any path. Transport refusals, decided before the
 * module is asked: no Content-Length (including chunked bodies) 411, a
 * declared length over the limit 413 (before any body is read), another
 * media type 415, an empty body 400. Module unreachable, slow or
 * answering with a failed frame: 500. An answer whose audit records could
 * not be stored durably is withheld: 500 (audit_store.h). Other methods:
 * 405 with Allow.
 *
 * The relay never looks inside the request or the token: the module alone
 * decides what a TimeStampResp says.
 *
 * Each request that needs the module holds a slot from a fixed pool (body,
 * response and the link call, no allocation per request). Once the request
 * is complete the frame is queued and the connection is suspended; the
 * module link resumes it when the answer is in, and MHD replies.
 *
 * MHD runs in its external-event-loop mode with epoll: one daemon per
 * relay loop (--threads), its epoll set nested in the loop's. With one
 * loop, the module link lives in the same loop, so a token costs no
 * thread switch inside the relay (see loop.h).
 */
#ifndef RELAY_HTTP_H
#define RELAY_HTTP_H

#include <stdint.h>

#include "audit_store.h"
#include "loop.h"
#include "module_link.h"
#include "time_feed.h"

struct relay_http_config {
    int listen_fd;            /* bound and listening; MHD takes it over */
    unsigned threads;         /* event loops serving HTTP */
    struct relay_loop **loops; /* [threads]: daemon i is run by loops[i] */
    unsigned max_connections; /* also the number of request slots */
    unsigned idle_timeout_s;  /* idle keep-alive connections are closed */
    uint32_t max_body;        /* <= SELLO_PAYLOAD_MAX */
    unsigned module_timeout_ms;
    struct relay_link *link;
    struct relay_feed *feed; /* shown on the service page; NULL: off */
    struct relay_audit *audit; /* shown on the service page */
};

struct relay_http;

/* Starts serving. Returns NULL after logging why. */
struct relay_http *relay_http_start(const struct relay_http_config *cfg);

/*
 * Loop i's side, on its thread. Before the turn: whether HTTP events wake
 * the loop at all (not while the module has a queue: see http.c), and the
 * milliseconds until MHD must run next (0: at once; -1: only on events),
 * for the turn's wait. After the turn: running MHD if its events, a
 * resumed connection or a timeout call for it (which may submit module
 * calls: flush the link after).
 */
int relay_http_prepare(struct relay_http *http, unsigned i, uint64_t now_ns);
void relay_http_run(struct relay_http *http, unsigned i, uint64_t now_ns);

/* Loop i stops accepting connections (and closes its listening socket);
 * open connections keep being served. On loop i's thread. */
void relay_http_quiesce(struct relay_http *http, unsigned i);

/* Stops serving and frees everything. No loop may be running, and no
 * connection suspended: call after relay_link_stop(), which completes every
 * call, and a last relay_http_run() of every loop. */
void relay_http_stop(struct relay_http *http);

#endif
