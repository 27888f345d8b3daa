/* See http.h. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sello/status.h>

#include "http_info.h"
#include "log.h"
#include "time_feed.h"

#define RELAY_QUERY_TYPE "application/timestamp-query"
/* MHD's per-connection memory, which it clears for every request on a
 * kept-alive connection: its 32 KiB default made that memset a visible
 * share of the relay's CPU. 16 KiB still holds generous request headers;
 * bodies are handed over in pieces, and replies are sent from the slot. */
#define RELAY_HTTP_CONNECTION_MEMORY (16u * 1024u)
#define RELAY_REPLY_TYPE "application/timestamp-reply"

/* Fixed answers, built once and queued as often as needed (MHD counts
 * references), so refusals cost no allocation. */
enum relay_canned {
    RELAY_CANNED_EMPTY,
    RELAY_CANNED_BAD_LENGTH,
    RELAY_CANNED_NOT_FOUND,
    RELAY_CANNED_NO_CERT,
    RELAY_CANNED_METHOD,
    RELAY_CANNED_NO_LENGTH,
    RELAY_CANNED_TOO_LARGE,
    RELAY_CANNED_MEDIA_TYPE,
    RELAY_CANNED_UNAVAILABLE,
    RELAY_CANNED_COUNT
};

static const struct {
    unsigned status;
    const char *body;
} relay_canned_spec[RELAY_CANNED_COUNT] = {
    [RELAY_CANNED_EMPTY] = {MHD_HTTP_BAD_REQUEST,
                            "The request body is empty; send a DER "
                            "TimeStampReq.\n"},
    [RELAY_CANNED_BAD_LENGTH] = {MHD_HTTP_BAD_REQUEST,
                                 "The Content-Length is not a number.\n"},
    [RELAY_CANNED_NOT_FOUND] = {MHD_HTTP_NOT_FOUND,
                                "Nothing here. See / for this service.\n"},
    [RELAY_CANNED_NO_CERT] = {MHD_HTTP_NOT_FOUND,
                              "The time-stamping unit has no certificate "
                              "loaded.\n"},
    [RELAY_CANNED_METHOD] = {MHD_HTTP_METHOD_NOT_ALLOWED,
                             "Use POST for time-stamp requests, GET for "
                             "information.\n"},
    [RELAY_CANNED_NO_LENGTH] = {MHD_HTTP_LENGTH_REQUIRED,
                                "A Content-Length is required (no chunked "
                                "bodies).\n"},
    [RELAY_CANNED_TOO_LARGE] = {MHD_HTTP_CONTENT_TOO_LARGE,
                                "The request body is too large for a "
                                "TimeStampReq.\n"},
    [RELAY_CANNED_MEDIA_TYPE] = {MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 "Content-Type must be " RELAY_QUERY_TYPE
                                 ".\n"},
    [RELAY_CANNED_UNAVAILABLE] = {MHD_HTTP_INTERNAL_SERVER_ERROR,
                                  "The time-stamping unit is not available; "
                                  "try again later.\n"},
};

/* What a request wants from the module. */
enum relay_route {
    RELAY_ROUTE_STAMP,
    RELAY_ROUTE_PAGE,
    RELAY_ROUTE_CERT,
    RELAY_ROUTE_CHAIN,
};

/*
 * Who owns a slot. BODY belongs to its HTTP loop. PENDING and SUSPENDED
 * mean the call is with the link; the link's loop moves them to DONE
 * (resuming the connection if it was SUSPENDED). ORPHANED means MHD gave
 * up on the request while the call was out: the link's loop frees it.
 * With one HTTP loop (the default) the link's loop is the same thread and
 * these hand-overs never race; with --threads they may, hence atomics.
 */
enum relay_slot_state {
    RELAY_SLOT_BODY,
    RELAY_SLOT_PENDING,
    RELAY_SLOT_SUSPENDED,
    RELAY_SLOT_DONE,
    RELAY_SLOT_ORPHANED,
};

struct relay_http;
struct relay_http_worker;

struct relay_slot {
    struct relay_call call;
    _Atomic int state; /* enum relay_slot_state */
    enum relay_route route;
    struct relay_http *http;
    struct relay_http_worker *worker; /* the loop serving the connection */
    struct MHD_Connection *conn;
    struct relay_slot *next_free;
    uint32_t body_len;
    uint32_t body_expected;
    uint8_t body[SELLO_PAYLOAD_MAX];
    uint8_t resp[SELLO_PAYLOAD_MAX];
};

/* One MHD daemon in external-event-loop mode, run by one loop. */
struct relay_http_worker {
    struct relay_http *http;
    struct MHD_Daemon *daemon;
    struct relay_loop *loop;
    struct relay_watch watch; /* MHD's epoll set, nested in the loop's */
    /* MHD must run at the loop's next turn: its epoll set was ready, or a
     * connection was resumed. Set from the link's loop, which may be
     * another thread. */
    atomic_bool pending;
    atomic_uint calls_out; /* this loop's calls with the module */
    uint64_t deadline_ns;  /* MHD's own timeout (idle connections) */
    /* HTTP events do not wake the loop (see relay_http_prepare()); MHD
     * runs by defer_until_ns at the latest. */
    bool deferring;
    uint64_t defer_until_ns;
};

struct relay_http {
    struct relay_link *link;
    struct relay_feed *feed; /* NULL: no time feed */
    struct relay_audit *audit;
    unsigned n_workers;
    struct relay_http_worker *workers;
    uint32_t max_body;
    unsigned module_timeout_ms;
    struct MHD_Response *canned[RELAY_CANNED_COUNT];

    pthread_mutex_t pool_mu;
    struct relay_slot *free_slots;
    struct relay_slot *slots;

    /* For the shutdown summary; relaxed, they order nothing. */
    atomic_ulong n_tokens;    /* 200 to a POST */
    atomic_ulong n_malformed; /* 400 from the module's verdict */
    atomic_ulong n_refused;   /* 4xx decided by the relay */
    atomic_ulong n_failed;    /* 500 */
};

/* ---- slot pool ---------------------------------------------------------- */

static struct relay_slot *relay_slot_get(struct relay_http *h)
{
    pthread_mutex_lock(&h->pool_mu);
    struct relay_slot *s = h->free_slots;
    if (s != NULL)
        h->free_slots = s->next_free;
    pthread_mutex_unlock(&h->pool_mu);
    return s;
}

static void relay_slot_put(struct relay_http *h, struct relay_slot *s)
{
    pthread_mutex_lock(&h->pool_mu);
    s->next_free = h->free_slots;
    h->free_slots = s;
    pthread_mutex_unlock(&h->pool_mu);
}

/* ---- helpers ------------------------------------------------------------ */

static void relay_count(atomic_ulong *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static enum MHD_Result relay_queue_canned(struct relay_http *h,
                                          struct MHD_Connection *conn,
                                          enum relay_canned which)
{
    relay_count(relay_canned_spec[which].status >= 500 ? &h->n_failed
                                                        : &h->n_refused);
    return MHD_queue_response(conn, relay_canned_spec[which].status,
                              h->canned[which]);
}

/* Queues `len` octets at `body` as `type`. `mode` tells MHD whether the
 * buffer outlives the response (a slot's) or must be freed (a page). */
static enum MHD_Result relay_queue_body(struct MHD_Connection *conn,
                                        unsigned status, const char *type,
                                        void *body, size_t len,
                                        enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
        MHD_YES)
        ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* True when a Content-Type names application/timestamp-query: the media
 * type compared without regard to case, parameters ignored. */
static bool relay_is_query_type(const char *v)
{
    static const size_t n = sizeof RELAY_QUERY_TYPE - 1;
    if (v == NULL)
        return false;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, RELAY_QUERY_TYPE, n) != 0)
        return false;
    v += n;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0' || *v == ';';
}

/* Parses a Content-Length value: decimal digits only. */
static bool relay_parse_length(const char *v, uint64_t *out)
{
    uint64_t n = 0;
    if (*v == '\0')
        return false;
    for (; *v != '\0'; v++) {
        if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return true;
}

/* ---- replies ------------------------------------------------------------ */

static enum MHD_Result relay_reply_stamp(struct relay_http *h,
                                         struct relay_slot *s)
{
    const struct relay_call *c = &s->call;
    if (c->code != SELLO_OK) {
        /* The ABI promises a TimeStampResp for every well-formed frame,
         * so this is a fault worth a line, not a client error. */
        relay_log(RELAY_LOG_WARN, "module refused a STAMP frame: %s (%.*s)",
                  sello_status_name(c->code),
                  (int)(c->resp_len < 120 ? c->resp_len : 120),
                  (const char *)c->resp);
        return relay_queue_canned(h, s->conn, RELAY_CANNED_UNAVAILABLE);
    }
    unsigned status = MHD_HTTP_OK;
    if (c->flags & SELLO_RESP_FLAG_MALFORMED_REQUEST) {
        status = MHD_HTTP_BAD_REQUEST;
        relay_count(&h->n_malformed);
    } else {
        relay_count(&h->n_tokens);
    }
    /* The slot's buffer stays ours until MHD reports the request
     * completed, so MHD may send straight from it. */
    return relay_queue_body(s->conn, status, RELAY_REPLY_TYPE, s->resp,
                            c->resp_len, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result relay_reply_page(struct relay_http *h,
                                        struct relay_slot *s)
{
    const struct relay_call *c = &s->call;
    if (c->code != SELLO_OK) {
        relay_log(RELAY_LOG_WARN, "module refused STATUS: %s",
                  sello_status_name(c->code));
        return relay_queue_canned(h, s->conn, RELAY_CANNED_UNAVAILABLE);
    }
    size_t len;
    struct relay_feed_report feed;
    struct relay_audit_report audit;
    if (h->feed != NULL)
        relay_feed_snapshot(h->feed, &feed);
    if (h->audit != NULL)
        relay_audit_snapshot(h->audit, &audit);
    char *page = relay_info_page(s->resp, c->resp_len,
                                 h->feed != NULL ? &feed : NULL,
                                 h->audit != NULL ? &audit : NULL, &len);
    if (page == NULL)
        return relay_queue_canned(h, s->conn, RELAY_CANNED_UNAVAILABLE);
    return relay_queue_body(s->conn, MHD_HTTP_OK, "text/html; charset=utf-8",
                            page, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result relay_reply_certs(struct relay_http *h,
                                         struct relay_slot *s)
{
    const struct relay_call *c = &s->call;
    if (c->code == SELLO_ERR_STATE || c->code == SELLO_ERR_NOT_FOUND)
        return relay_queue_canned(h, s->conn, RELAY_CANNED_NO_CERT);
    struct relay_span certs[2];
    size_t n = 0;
    if (c->code == SELLO_OK)
        n = relay_certs_split(s->resp, c->resp_len, certs);
    if (n == 0) {
        relay_log(RELAY_LOG_WARN,
                  "module answered GET_CERTS with %s and %u octets that are "
                  "not one or two certificates",
                  sello_status_name(c->code), (unsigned)c->resp_len);
        return relay_queue_canned(h, s->conn, RELAY_CANNED_UNAVAILABLE);
    }
    if (s->route == RELAY_ROUTE_CERT)
        return relay_queue_body(s->conn, MHD_HTTP_OK, "application/pkix-cert",
                                (void *)certs[0].p, certs[0].len,
                                MHD_RESPMEM_PERSISTENT);
    size_t len;
    char *pem = relay_certs_pem(certs, n, &len);
    if (pem == NULL)
        return relay_queue_canned(h, s->conn, RELAY_CANNED_UNAVAILABLE);
    return relay_queue_body(s->conn, MHD_HTTP_OK, "application/x-pem-file",
                            pem, len, MHD_RESPMEM_MUST_FREE);
}

/* The call is DONE: answer the client. */
static enum MHD_Result relay_reply(struct relay_http *h, struct relay_slot *s)
{
    if (s->call.result != RELAY_CALL_OK) {
        /* Link trouble is logged once by the link, audit trouble by the
         * audit store, not per request. */
        relay_log(RELAY_LOG_DEBUG, "request failed: %s",
                  relay_call_result_str(s->call.result));
        return relay_queue_canned(h, s->conn, RELAY_CANNED_UNAVAILABLE);
    }
    switch (s->route) {
    case RELAY_ROUTE_STAMP:
        return relay_reply_stamp(h, s);
    case RELAY_ROUTE_PAGE:
        return relay_reply_page(h, s);
    case RELAY_ROUTE_CERT:
    case RELAY_ROUTE_CHAIN:
        return relay_reply_certs(h, s);
    }
    return MHD_NO;
}

/* ---- the call to the module --------------------------------------------- */

/* Makes the worker's loop run MHD at its next turn. */
static void relay_worker_poke(struct relay_http_worker *w)
{
    atomic_store_explicit(&w->pending, true, memory_order_relaxed);
    if (!relay_loop_is_current(w->loop))
        relay_loop_wake(w->loop);
}

/* Link's loop: the answer (or the failure) is in. */
static void relay_call_done(struct relay_call *call)
{
    struct relay_slot *s =
        (struct relay_slot *)((char *)call - offsetof(struct relay_slot, call));
    struct relay_http_worker *w = s->worker;
    atomic_fetch_sub_explicit(&w->calls_out, 1, memory_order_relaxed);
    int prev = atomic_exchange(&s->state, RELAY_SLOT_DONE);
    if (prev == RELAY_SLOT_SUSPENDED) {
        /* No wake-up of MHD's own: in external-loop mode MHD has no
         * inter-thread channel, the loop runs it after this turn. */
        MHD_resume_connection(s->conn);
        relay_worker_poke(w);
    } else if (prev == RELAY_SLOT_ORPHANED) {
        relay_slot_put(s->http, s);
    }
    /* PENDING: the connection's loop is between submit and suspend (only
     * possible with --threads) and will see DONE itself. */
}

/* The request is complete: send its frame and park the connection. */
static enum MHD_Result relay_dispatch(struct relay_http *h,
                                      struct relay_slot *s)
{
    static const uint8_t relay_op_of_route[] = {
        [RELAY_ROUTE_STAMP] = SELLO_OP_STAMP,
        [RELAY_ROUTE_PAGE] = SELLO_OP_STATUS,
        [RELAY_ROUTE_CERT] = SELLO_OP_GET_CERTS,
        [RELAY_ROUTE_CHAIN] = SELLO_OP_GET_CERTS,
    };
    struct relay_call *c = &s->call;

    if (s->body_len != s->body_expected) /* MHD enforces it; be sure */
        return relay_queue_canned(h, s->conn, RELAY_CANNED_BAD_LENGTH);
    c->op = relay_op_of_route[s->route];
    c->req_flags = 0;
    c->req = s->body;
    c->req_len = s->body_len;
    c->resp = s->resp;
    c->timeout_ms = h->module_timeout_ms;
    c->done = relay_call_done;
    atomic_store(&s->state, RELAY_SLOT_PENDING);

    /* Counted before the submission: done() may run at once elsewhere. */
    atomic_fetch_add_explicit(&s->worker->calls_out, 1, memory_order_relaxed);
    enum relay_call_result r = relay_link_submit(h->link, c);
    if (r != RELAY_CALL_OK) {
        atomic_fetch_sub_explicit(&s->worker->calls_out, 1,
                                  memory_order_relaxed);
        c->result = r;
        atomic_store(&s->state, RELAY_SLOT_DONE);
        return relay_reply(h, s);
    }
    if (atomic_load(&s->state) == RELAY_SLOT_DONE)
        return relay_reply(h, s); /* answered already (--threads) */

    /* Suspend before publishing SUSPENDED, so the link's loop can never
     * resume a connection that is not yet suspended. */
    MHD_suspend_connection(s->conn);
    int expected = RELAY_SLOT_PENDING;
    if (!atomic_compare_exchange_strong(&s->state, &expected,
                                        RELAY_SLOT_SUSPENDED)) {
        /* The answer came in between: the link's loop saw PENDING and left
         * the resumption to us. MHD calls us again with the slot DONE. */
        MHD_resume_connection(s->conn);
        atomic_store_explicit(&s->worker->pending, true,
                              memory_order_relaxed);
    }
    return MHD_YES;
}

/* ---- MHD callbacks ------------------------------------------------------ */

/* First call for a request: headers only. Refuses early or takes a slot. */
static enum MHD_Result relay_begin(struct relay_http_worker *w,
                                   struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   void **req_cls)
{
    struct relay_http *h = w->http;
    enum relay_route route;
    uint64_t len = 0;

    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        const char *te = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        const char *cl = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (te != NULL || cl == NULL)
            return relay_queue_canned(h, conn, RELAY_CANNED_NO_LENGTH);
        if (!relay_parse_length(cl, &len))
            return relay_queue_canned(h, conn, RELAY_CANNED_BAD_LENGTH);
        if (len > h->max_body)
            return relay_queue_canned(h, conn, RELAY_CANNED_TOO_LARGE);
        if (!relay_is_query_type(MHD_lookup_connection_value(
                conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
            return relay_queue_canned(h, conn, RELAY_CANNED_MEDIA_TYPE);
        if (len == 0)
            return relay_queue_canned(h, conn, RELAY_CANNED_EMPTY);
        route = RELAY_ROUTE_STAMP;
    } else if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
               strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
        if (strcmp(url, "/") == 0)
            route = RELAY_ROUTE_PAGE;
        else if (strcmp(url, "/tsa.crt") == 0)
            route = RELAY_ROUTE_CERT;
        else if (strcmp(url, "/chain.pem") == 0)
            route = RELAY_ROUTE_CHAIN;
        else
            return relay_queue_canned(h, conn, RELAY_CANNED_NOT_FOUND);
    } else {
        return relay_queue_canned(h, conn, RELAY_CANNED_METHOD);
    }

    /* Slots number as many as connections, and a connection has one
     * request at a time, so this fails only if MHD's limit is off. */
    struct relay_slot *s = relay_slot_get(h);
    if (s == NULL) {
        relay_log(RELAY_LOG_WARN, "out of request slots");
        return relay_queue_canned(h, conn, RELAY_CANNED_UNAVAILABLE);
    }
    s->route = route;
    s->worker = w;
    s->conn = conn;
    s->body_len = 0;
    s->body_expected = (uint32_t)len;
    atomic_store(&s->state, RELAY_SLOT_BODY);
    *req_cls = s;
    return MHD_YES;
}

static enum MHD_Result relay_access(void *cls, struct MHD_Connection *conn,
                                    const char *url, const char *method,
                                    const char *version,
                                    const char *upload_data,
                                    size_t *upload_data_size, void **req_cls)
{
    struct relay_http_worker *w = cls;
    struct relay_http *h = w->http;
    struct relay_slot *s = *req_cls;
    (void)version;

    if (s == NULL)
        return relay_begin(w, conn, url, method, req_cls);

    switch (atomic_load(&s->state)) {
    case RELAY_SLOT_BODY:
        if (*upload_data_size == 0)
            return relay_dispatch(h, s);
        if (*upload_data_size > s->body_expected - s->body_len)
            return relay_queue_canned(h, conn, RELAY_CANNED_TOO_LARGE);
        memcpy(s->body + s->body_len, upload_data, *upload_data_size);
        s->body_len += (uint32_t)*upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    case RELAY_SLOT_DONE:
        return relay_reply(h, s);
    default:
        return MHD_YES; /* not reached: MHD does not call while suspended */
    }
}

static void relay_completed(void *cls, struct MHD_Connection *conn,
                            void **req_cls,
                            enum MHD_RequestTerminationCode toe)
{
    struct relay_http_worker *w = cls;
    struct relay_http *h = w->http;
    struct relay_slot *s = *req_cls;
    (void)conn;
    (void)toe;
    if (s == NULL)
        return;
    *req_cls = NULL;
    int st = atomic_load(&s->state);
    while (st == RELAY_SLOT_PENDING || st == RELAY_SLOT_SUSPENDED) {
        /* The link still writes into this slot: it frees it when done. */
        if (atomic_compare_exchange_weak(&s->state, &st, RELAY_SLOT_ORPHANED))
            return;
    }
    relay_slot_put(h, s);
}

/* Replies are complete messages: Nagle would only hold them back. One
 * setsockopt per connection, none per request. */
static void relay_connection(void *cls, struct MHD_Connection *conn,
                             void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)socket_context;
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int one = 1;
    if (ci != NULL && setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY,
                                 &one, sizeof one) != 0)
        relay_log(RELAY_LOG_DEBUG, "TCP_NODELAY: %s", strerror(errno));
}

static void relay_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    relay_log_v(RELAY_LOG_WARN, fmt, ap);
}

/* ---- life cycle --------------------------------------------------------- */

static void relay_http_stop_daemons(struct relay_http *h)
{
    for (unsigned i = 0; i < h->n_workers; i++) {
        struct relay_http_worker *w = &h->workers[i];
        if (w->daemon != NULL)
            MHD_stop_daemon(w->daemon);
        w->daemon = NULL;
    }
}

static void relay_http_free(struct relay_http *h)
{
    relay_http_stop_daemons(h);
    for (int i = 0; i < RELAY_CANNED_COUNT; i++)
        if (h->canned[i] != NULL)
            MHD_destroy_response(h->canned[i]);
    pthread_mutex_destroy(&h->pool_mu);
    free(h->workers);
    free(h->slots);
    free(h);
}

static bool relay_canned_init(struct relay_http *h)
{
    for (int i = 0; i < RELAY_CANNED_COUNT; i++) {
        const char *body = relay_canned_spec[i].body;
        struct MHD_Response *r = MHD_create_response_from_buffer(
            strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return false;
        h->canned[i] = r;
        if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    "text/plain; charset=utf-8") != MHD_YES)
            return false;
        if (i == RELAY_CANNED_METHOD &&
            MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                    "GET, HEAD, POST") != MHD_YES)
            return false;
    }
    return true;
}

/* MHD's epoll set has events: run MHD after this turn. */
static void relay_worker_ready(struct relay_watch *watch, uint32_t events)
{
    struct relay_http_worker *w =
        (struct relay_http_worker *)((char *)watch -
                                     offsetof(struct relay_http_worker,
                                              watch));
    (void)events;
    atomic_store_explicit(&w->pending, true, memory_order_relaxed);
}

/* Starts worker i's daemon on `listen_fd` (which MHD takes over) with
 * `limit` connections, and nests its epoll set in the worker's loop. */
static bool relay_worker_start(struct relay_http *h, unsigned i,
                               const struct relay_http_config *cfg,
                               int listen_fd, unsigned limit)
{
    struct relay_http_worker *w = &h->workers[i];
    w->http = h;
    w->loop = cfg->loops[i];
    w->watch.ready = relay_worker_ready;
    w->deadline_ns = UINT64_MAX;
    atomic_init(&w->pending, true);
    atomic_init(&w->calls_out, 0);

    /* External event loop with epoll: no thread of MHD's, and so no
     * inter-thread channel either (MHD drops MHD_USE_ITC in this mode),
     * which makes suspend and resume plain bookkeeping. The logger goes
     * first so that MHD's messages about the other options reach it. */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    w->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, relay_access, w, MHD_OPTION_EXTERNAL_LOGGER,
        relay_mhd_log, h, MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)RELAY_HTTP_CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, relay_completed, w,
        MHD_OPTION_NOTIFY_CONNECTION, relay_connection, w, MHD_OPTION_END);
    if (w->daemon == NULL) {
        relay_log(RELAY_LOG_ERROR, "cannot start the HTTP server");
        return false;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL ||
        !relay_loop_add(w->loop, info->epoll_fd, EPOLLIN, &w->watch)) {
        relay_log(RELAY_LOG_ERROR, "cannot watch the HTTP server's events");
        return false;
    }
    return true;
}

struct relay_http *relay_http_start(const struct relay_http_config *cfg)
{
    struct relay_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        goto oom;
    h->link = cfg->link;
    h->feed = cfg->feed;
    h->audit = cfg->audit;
    h->max_body = cfg->max_body;
    h->module_timeout_ms = cfg->module_timeout_ms;
    pthread_mutex_init(&h->pool_mu, NULL);
    /* Pages are touched only when a slot is first used, so a generous
     * connection limit costs address space, not memory. Every loop takes
     * at least one connection. */
    unsigned n_slots = cfg->max_connections > cfg->threads
                           ? cfg->max_connections
                           : cfg->threads;
    h->slots = calloc(n_slots, sizeof *h->slots);
    h->workers = calloc(cfg->threads, sizeof *h->workers);
    if (h->slots == NULL || h->workers == NULL || !relay_canned_init(h))
        goto oom;
    for (unsigned i = n_slots; i-- > 0;) {
        h->slots[i].http = h;
        relay_slot_put(h, &h->slots[i]);
    }

    /* Each loop runs a daemon of its own on a duplicate of the listening
     * socket, with its share of the connection limit, as MHD's own thread
     * pool would divide it. */
    h->n_workers = cfg->threads;
    for (unsigned i = 0; i < cfg->threads; i++) {
        unsigned limit = cfg->max_connections / cfg->threads +
                         (i < cfg->max_connections % cfg->threads);
        int fd = i == 0 ? cfg->listen_fd
                        : fcntl(cfg->listen_fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            relay_log(RELAY_LOG_ERROR, "dup of the listening socket: %s",
                      strerror(errno));
            relay_http_free(h);
            return NULL;
        }
        if (!relay_worker_start(h, i, cfg, fd, limit > 0 ? limit : 1)) {
            relay_http_free(h);
            return NULL;
        }
    }
    return h;
oom:
    relay_log(RELAY_LOG_ERROR, "out of memory for the HTTP server");
    if (h != NULL)
        relay_http_free(h);
    return NULL;
}

/*
 * Deferred intake. While the module holds two of this loop's calls, one
 * being signed and one queued behind it, a new request can only join that
 * queue, and the module will not run dry before it answers one of them;
 * that answer wakes the loop anyway, and MHD then reads every request that
 * arrived meanwhile. So the loop stops waking for HTTP events, which
 * halves its wake-ups per token under load without delaying any token.
 * What needs no module (refusals, new connections) waits at most
 * RELAY_HTTP_DEFER_MS, also when the module hangs.
 */
#define RELAY_HTTP_DEFER_DEPTH 2u
#define RELAY_HTTP_DEFER_MS 20u

static void relay_worker_defer(struct relay_http_worker *w, bool defer,
                               uint64_t now_ns)
{
    if (defer == w->deferring)
        return;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL ||
        !relay_loop_mod(w->loop, info->epoll_fd, defer ? 0 : EPOLLIN,
                        &w->watch)) {
        relay_log(RELAY_LOG_WARN, "cannot %s the HTTP server's events: %s",
                  defer ? "defer" : "resume", strerror(errno));
        return;
    }
    w->deferring = defer;
    w->defer_until_ns = now_ns + (uint64_t)RELAY_HTTP_DEFER_MS * 1000000u;
}

int relay_http_prepare(struct relay_http *h, unsigned i, uint64_t now_ns)
{
    struct relay_http_worker *w = &h->workers[i];
    relay_worker_defer(w,
                       atomic_load_explicit(&w->calls_out,
                                            memory_order_relaxed) >=
                           RELAY_HTTP_DEFER_DEPTH,
                       now_ns);
    if (atomic_load_explicit(&w->pending, memory_order_relaxed))
        return 0;
    int t = w->deadline_ns == UINT64_MAX
                ? -1
                : relay_timeout_until(now_ns, w->deadline_ns);
    if (w->deferring)
        t = relay_timeout_min(t,
                              relay_timeout_until(now_ns, w->defer_until_ns));
    return t;
}

/* MHD passes per loop turn at most. MHD asks for another pass at once
 * while a connection can make progress without waiting (a resumed one
 * replies and sends, then tries to read its next request); beyond this
 * many, the rest waits for the next turn, which does not block. */
#define RELAY_HTTP_RUNS 8

void relay_http_run(struct relay_http *h, unsigned i, uint64_t now_ns)
{
    struct relay_http_worker *w = &h->workers[i];
    if (!atomic_exchange_explicit(&w->pending, false, memory_order_relaxed) &&
        now_ns < w->deadline_ns &&
        !(w->deferring && now_ns >= w->defer_until_ns))
        return;
    w->defer_until_ns = now_ns + (uint64_t)RELAY_HTTP_DEFER_MS * 1000000u;
    for (int n = 0; n < RELAY_HTTP_RUNS; n++) {
        MHD_run(w->daemon);
        MHD_UNSIGNED_LONG_LONG ms;
        if (MHD_get_timeout(w->daemon, &ms) != MHD_YES) {
            w->deadline_ns = UINT64_MAX;
            return;
        }
        if (ms > 0) {
            w->deadline_ns = now_ns + (uint64_t)ms * 1000000u;
            return;
        }
    }
    atomic_store_explicit(&w->pending, true, memory_order_relaxed);
}

void relay_http_quiesce(struct relay_http *h, unsigned i)
{
    MHD_socket fd = MHD_quiesce_daemon(h->workers[i].daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void relay_http_stop(struct relay_http *h)
{
    relay_http_stop_daemons(h);
    relay_log(RELAY_LOG_INFO,
              "HTTP totals: %lu tokens, %lu malformed requests (400), %lu "
              "refused by the relay (4xx), %lu failed (500)",
              atomic_load(&h->n_tokens), atomic_load(&h->n_malformed),
              atomic_load(&h->n_refused), atomic_load(&h->n_failed));
    relay_http_free(h);
}
