/* See module_link.h. */
#include "module_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sello/serial_link.h>
#include <sello/status.h>

#include "log.h"

/* Expiry passes are at least this far apart, so that calls timing out one
 * by one (a stuck module under load) cost ten passes and log lines a
 * second, not one per call: the granularity of every call timeout. */
#define RELAY_LINK_TICK_MS 100u
/* Reconnection back-off bounds. */
#define RELAY_LINK_BACKOFF_MIN_MS 50u
#define RELAY_LINK_BACKOFF_MAX_MS 1000u
/* How long start-up waits for the module's first answer. */
#define RELAY_LINK_START_WAIT_MS 1000u
/* Receive buffer: several pipelined responses per read(), and always room
 * for one whole frame. */
#define RELAY_LINK_RX_CAP (64u * 1024u)
_Static_assert(RELAY_LINK_RX_CAP >= SELLO_FRAME_MAX, "rx holds a frame");
/* Frames queued for the module and not yet taken by the kernel. Beyond
 * what the socket or pipe buffers, this fills only when the module stops
 * reading; further calls are then refused as busy rather than waited
 * for. */
#define RELAY_LINK_TX_CAP (256u * 1024u)
_Static_assert(RELAY_LINK_TX_CAP >= SELLO_LINK_WIRE_MAX(SELLO_FRAME_MAX) + 1u,
               "tx holds a frame, raw or serial-framed after the delimiter");

#define RELAY_NEVER UINT64_MAX

enum relay_link_state {
    RELAY_LINK_DOWN,       /* no socket; reconnect at reconnect_at */
    RELAY_LINK_CONNECTING, /* connect() in progress until connect_by */
    RELAY_LINK_HANDSHAKE,  /* pipes offered, until connect_by */
    RELAY_LINK_UP,
};

struct relay_link;

/* A descriptor of the link's, as registered with the loop. */
struct relay_chan {
    int fd;          /* -1: none */
    uint32_t events; /* registered for; 0: not in the loop */
    struct relay_watch watch;
    struct relay_link *link;
};

/* One frame sent and not yet answered. */
struct relay_inflight {
    uint32_t tag;
    uint64_t deadline_ns;
    struct relay_call *call; /* NULL once expired: the answer is dropped */
};

struct relay_link {
    struct relay_addr addr;
    uint64_t send_timeout_ns;
    struct relay_loop *loop;
    struct relay_link_sink sink; /* frame NULL: none */

    /* Guards everything down to the loop-only part: submitters on other
     * threads (admin clients, further HTTP loops) queue under it. Never
     * held while a completion runs. `state` changes only on the loop's
     * thread, which may read it without the lock. */
    pthread_mutex_t mu;
    enum relay_link_state state;
    bool accepting;
    uint32_t next_tag;
    struct relay_inflight *ring; /* in-flight queue, oldest at head */
    uint32_t mask;               /* ring size - 1 */
    uint32_t max_calls;
    uint32_t head;
    uint32_t count; /* entries in the ring, expired ones included */
    uint32_t live;  /* entries that still have a caller */
    uint64_t next_duty; /* relay_link_run() has work at this instant */
    size_t tx_len;      /* octets in tx, oldest first */
    uint8_t *tx;
    /* Serial link: a request frame in one piece for the encoder, which
     * writes it into tx. */
    uint8_t tx_frame[SELLO_FRAME_MAX];

    /* The loop's thread only. The connection is `sock`; over a UNIX socket
     * the frames then travel through two pipes, `ans` (answers, read here)
     * and `req` (requests, written here), when the module's side takes
     * them (see relay_link_offer_pipes()). */
    struct relay_chan sock, ans, req;
    bool piped;
    uint32_t hs_tag; /* the tag of the frame that offered the pipes */
    uint64_t reconnect_at;
    uint64_t connect_by;
    uint64_t stalled_since; /* tx waiting for room, or 0 */
    unsigned backoff_ms;
    bool complained; /* the current outage has been logged */
    size_t rx_have;
    char why[160];
    uint8_t rx[RELAY_LINK_RX_CAP];
    /* Serial link: what was read goes through the decoder, which gathers
     * each message in rx_frame; rx_have stays 0. */
    sello_link_rx serial_rx;
    uint8_t rx_frame[SELLO_FRAME_MAX];
};

const char *relay_op_name(uint8_t op, char *buf)
{
    const char *name = sello_op_name(op);
    if (name)
        return name;
    snprintf(buf, 8, "0x%02x", op);
    return buf;
}

const char *relay_call_result_str(enum relay_call_result r)
{
    switch (r) {
    case RELAY_CALL_OK:
        return "ok";
    case RELAY_CALL_LINK_DOWN:
        return "module link down";
    case RELAY_CALL_BUSY:
        return "too many module calls in flight";
    case RELAY_CALL_TIMEOUT:
        return "module did not answer in time";
    case RELAY_CALL_AUDIT_FAILED:
        return "the audit records of the answer could not be stored";
    }
    return "?";
}

/* Completes a list of calls (chained through link_next) with `r`. */
static void relay_link_fail_list(struct relay_call *list,
                                 enum relay_call_result r)
{
    while (list != NULL) {
        struct relay_call *next = list->link_next;
        list->result = r;
        list->resp_len = 0;
        list->done(list);
        list = next;
    }
}

/* The serial encoder's output, appended to tx (under mu). */
static void relay_link_put_tx(void *arg, const uint8_t *p, size_t n)
{
    struct relay_link *link = arg;
    memcpy(link->tx + link->tx_len, p, n);
    link->tx_len += n;
}

enum relay_call_result relay_link_submit(struct relay_link *link,
                                         struct relay_call *call)
{
    /* No module takes more, and the serial path's frame buffer holds no
     * more: refused like a full queue. */
    if (call->req_len > SELLO_PAYLOAD_MAX)
        return RELAY_CALL_BUSY;
    size_t frame_len = SELLO_FRAME_HEADER_LEN + call->req_len;
    size_t need =
        link->addr.serial ? SELLO_LINK_WIRE_MAX(frame_len) : frame_len;
    uint64_t deadline =
        relay_now_ns() + (uint64_t)call->timeout_ms * 1000000u;
    bool wake = !relay_loop_is_current(link->loop);

    pthread_mutex_lock(&link->mu);
    if (!link->accepting || link->state != RELAY_LINK_UP) {
        pthread_mutex_unlock(&link->mu);
        return RELAY_CALL_LINK_DOWN;
    }
    if (link->count == link->max_calls ||
        RELAY_LINK_TX_CAP - link->tx_len < need) {
        pthread_mutex_unlock(&link->mu);
        return RELAY_CALL_BUSY;
    }
    uint32_t tag = link->next_tag++;
    link->ring[(link->head + link->count) & link->mask] =
        (struct relay_inflight){
            .tag = tag, .deadline_ns = deadline, .call = call};
    link->count++;
    link->live++;
    if (deadline < link->next_duty)
        link->next_duty = deadline;
    /* The frame is copied: a call that expires before its frame is written
     * hands its buffers back to its caller at once. */
    uint8_t *p = link->addr.serial ? link->tx_frame : link->tx + link->tx_len;
    sello_frame_header_write(p, call->op, call->req_flags, tag,
                             call->req_len);
    if (call->req_len > 0)
        memcpy(p + SELLO_FRAME_HEADER_LEN, call->req, call->req_len);
    if (link->addr.serial)
        sello_link_encode(p, frame_len, relay_link_put_tx, link);
    else
        link->tx_len += frame_len;
    pthread_mutex_unlock(&link->mu);

    if (wake)
        relay_loop_wake(link->loop);
    return RELAY_CALL_OK;
}

/* Registers `c` for `events` (0: not at all). */
static void relay_chan_want(struct relay_chan *c, uint32_t events)
{
    if (events == c->events || c->fd < 0)
        return;
    bool ok = true;
    if (events == 0)
        relay_loop_del(c->link->loop, c->fd);
    else if (c->events == 0)
        ok = relay_loop_add(c->link->loop, c->fd, events, &c->watch);
    else
        ok = relay_loop_mod(c->link->loop, c->fd, events, &c->watch);
    if (!ok)
        relay_log(RELAY_LOG_ERROR, "epoll_ctl on the module link: %s",
                  strerror(errno));
    c->events = events;
}

static void relay_chan_close(struct relay_chan *c)
{
    relay_chan_want(c, 0);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Where answers are read and frames written. */
static struct relay_chan *relay_link_in(struct relay_link *link)
{
    return link->piped ? &link->ans : &link->sock;
}

static struct relay_chan *relay_link_out(struct relay_link *link)
{
    return link->piped ? &link->req : &link->sock;
}

/* Watches for answers, and for room to write while frames wait. */
static void relay_link_watch(struct relay_link *link, bool want_out)
{
    struct relay_chan *in = relay_link_in(link), *out = relay_link_out(link);
    if (in == out) {
        relay_chan_want(in, EPOLLIN | (want_out ? EPOLLOUT : 0u));
    } else {
        relay_chan_want(in, EPOLLIN);
        relay_chan_want(out, want_out ? EPOLLOUT : 0u);
    }
}

static void relay_link_close_fds(struct relay_link *link)
{
    relay_chan_close(&link->sock);
    relay_chan_close(&link->ans);
    relay_chan_close(&link->req);
    link->piped = false;
    link->rx_have = 0;
    link->stalled_since = 0;
}

/*
 * Detaches the connection from the link and fails every call it carried.
 * Logs `why`, unless the link is being stopped.
 */
static void relay_link_teardown(struct relay_link *link, const char *why,
                                bool stopping)
{
    struct relay_call *failed = NULL;
    unsigned n = 0;
    bool was_up = link->state == RELAY_LINK_UP;

    pthread_mutex_lock(&link->mu);
    for (uint32_t i = 0; i < link->count; i++) {
        struct relay_inflight *e =
            &link->ring[(link->head + i) & link->mask];
        if (e->call != NULL) {
            e->call->link_next = failed;
            failed = e->call;
            n++;
        }
    }
    link->head += link->count;
    link->count = 0;
    link->live = 0;
    link->tx_len = 0;
    link->state = RELAY_LINK_DOWN;
    pthread_mutex_unlock(&link->mu);
    relay_link_close_fds(link);

    if (stopping) {
        if (n > 0)
            relay_log(RELAY_LOG_WARN,
                      "module link closed; %u call(s) abandoned", n);
    } else if (was_up) {
        relay_log(RELAY_LOG_WARN, "module link down (%s); %u call(s) failed",
                  why, n);
        /* A module that accepts and drops at once must not spin us. */
        link->backoff_ms = RELAY_LINK_BACKOFF_MIN_MS;
    }
    link->reconnect_at = relay_now_ns() +
                         (uint64_t)link->backoff_ms * 1000000u;
    relay_link_fail_list(failed, RELAY_CALL_LINK_DOWN);
}

/* A connection attempt failed with `err`: log once per outage, back off. */
static void relay_link_connect_failed(struct relay_link *link, int err)
{
    relay_log(link->complained ? RELAY_LOG_DEBUG : RELAY_LOG_WARN,
              "cannot reach the module at %s: %s; retrying", link->addr.text,
              strerror(err));
    link->complained = true;
    relay_link_close_fds(link);
    pthread_mutex_lock(&link->mu);
    link->state = RELAY_LINK_DOWN;
    pthread_mutex_unlock(&link->mu);
    link->backoff_ms = link->backoff_ms == 0 ? RELAY_LINK_BACKOFF_MIN_MS
                                             : 2 * link->backoff_ms;
    if (link->backoff_ms > RELAY_LINK_BACKOFF_MAX_MS)
        link->backoff_ms = RELAY_LINK_BACKOFF_MAX_MS;
    link->reconnect_at = relay_now_ns() +
                         (uint64_t)link->backoff_ms * 1000000u;
}

static void relay_link_up(struct relay_link *link)
{
    pthread_mutex_lock(&link->mu);
    if (link->addr.serial) {
        /* A delimiter first (written with the next flush): it ends
         * whatever half message the board still holds from an earlier
         * connection. Nothing is queued yet: calls are refused until now.
         * The decoder starts out of step, dropping whatever precedes the
         * board's first delimiter. */
        link->tx[0] = SELLO_LINK_DELIM;
        link->tx_len = 1;
        sello_link_rx_init(&link->serial_rx, link->rx_frame,
                           sizeof link->rx_frame);
    }
    link->state = RELAY_LINK_UP;
    pthread_mutex_unlock(&link->mu);
    relay_link_watch(link, false);
    relay_log(RELAY_LOG_INFO, "module link up: %s%s", link->addr.text,
              link->piped ? " (frames over pipes)" : "");
    link->complained = false;
    if (link->sink.up != NULL)
        link->sink.up(link->sink.arg, link);
}

bool relay_link_is_up(const struct relay_link *link)
{
    return link->state == RELAY_LINK_UP;
}

/* Completes `call` (NULL: nobody waits) with the frame `h`, payload. */
static void relay_link_complete(struct relay_link *link,
                                struct relay_call *call,
                                const sello_frame_header *h,
                                const uint8_t *payload)
{
    if (link->sink.frame != NULL) {
        link->sink.frame(link->sink.arg, call, h, payload);
        return;
    }
    if (call == NULL)
        return;
    memcpy(call->resp, payload, h->length);
    call->resp_len = h->length;
    call->code = h->code;
    call->flags = h->flags;
    call->result = RELAY_CALL_OK;
    call->done(call);
}

/*
 * Over a UNIX socket, frames are cheaper through a pair of pipes than
 * through the socket itself (no socket buffer allocated and charged per
 * frame on either side): about 7 us less per token here, and 2-3 us less
 * in the simulator. The first frame on the connection, a harmless STATUS,
 * carries the module's ends of two fresh pipes (SCM_RIGHTS). A board that
 * takes them answers it, and everything after, through the pipes; one that
 * does not knows nothing of them and answers on the socket, which then
 * carries the link as before. Either way the answer's place settles it.
 * Returns false with errno set.
 */
static bool relay_link_offer_pipes(struct relay_link *link)
{
    int req[2] = {-1, -1}, ans[2] = {-1, -1};
    if (pipe2(req, O_CLOEXEC) != 0 || pipe2(ans, O_CLOEXEC) != 0 ||
        fcntl(req[1], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(ans[0], F_SETFL, O_NONBLOCK) != 0)
        goto fail;

    pthread_mutex_lock(&link->mu);
    link->hs_tag = link->next_tag++;
    pthread_mutex_unlock(&link->mu);
    uint8_t hdr[SELLO_FRAME_HEADER_LEN];
    sello_frame_header_write(hdr, SELLO_OP_STATUS, 0, link->hs_tag, 0);
    int theirs[2] = {req[0], ans[1]};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof theirs)];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = hdr, .iov_len = sizeof hdr};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.space,
                         .msg_controllen = sizeof ctl.space};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof theirs);
    memcpy(CMSG_DATA(cm), theirs, sizeof theirs);
    /* 12 octets into a fresh socket: all or nothing. */
    if (sendmsg(link->sock.fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof hdr)
        goto fail;
    close(req[0]);
    close(ans[1]);
    link->req.fd = req[1];
    link->ans.fd = ans[0];
    relay_chan_want(&link->sock, EPOLLIN);
    relay_chan_want(&link->ans, EPOLLIN);
    return true;
fail:;
    int saved = errno;
    for (int i = 0; i < 2; i++) {
        if (req[i] >= 0)
            close(req[i]);
        if (ans[i] >= 0)
            close(ans[i]);
    }
    errno = saved;
    return false;
}

/* The connection is established: offer the pipes, or go. A serial link
 * is a UART behind the socket: nothing there could take pipes. */
static void relay_link_established(struct relay_link *link, uint64_t now)
{
    if (link->addr.sa.ss_family != AF_UNIX || link->addr.serial) {
        relay_link_up(link);
        return;
    }
    if (!relay_link_offer_pipes(link)) {
        relay_link_connect_failed(link, errno);
        return;
    }
    pthread_mutex_lock(&link->mu);
    link->state = RELAY_LINK_HANDSHAKE;
    pthread_mutex_unlock(&link->mu);
    link->connect_by = now + link->send_timeout_ns;
}

static void relay_link_connect(struct relay_link *link, uint64_t now)
{
    int fd;
    int rc = relay_connect_start(&link->addr, &fd);
    if (rc < 0) {
        relay_link_connect_failed(link, errno);
        return;
    }
    link->sock.fd = fd;
    pthread_mutex_lock(&link->mu);
    link->state = RELAY_LINK_CONNECTING;
    pthread_mutex_unlock(&link->mu);
    if (rc == 0) {
        relay_link_established(link, now);
        return;
    }
    link->connect_by = now + link->send_timeout_ns;
    relay_chan_want(&link->sock, EPOLLOUT);
}

/*
 * HANDSHAKE: the answer to the STATUS frame that offered the pipes came
 * in on `c`, complete in rx. Settles where the link's frames go.
 */
static void relay_link_settle(struct relay_link *link, struct relay_chan *c)
{
    sello_frame_header h;
    if (sello_frame_header_read(link->rx, &h) != SELLO_OK ||
        h.tag != link->hs_tag) {
        relay_link_connect_failed(link, EPROTO);
        return;
    }
    /* Nobody waits for this STATUS, but its answer may carry audit
     * records all the same. */
    relay_link_complete(link, NULL, &h, link->rx + SELLO_FRAME_HEADER_LEN);
    link->rx_have = 0;
    if (c == &link->ans) {
        link->piped = true;
        relay_chan_want(&link->sock, 0); /* kept open, but idle */
    } else {
        relay_chan_close(&link->ans);
        relay_chan_close(&link->req);
    }
    relay_link_up(link);
}

/*
 * One whole response frame, frame[0..len): its header and exactly the
 * payload the header announces, answering the oldest request. Hands it to
 * its call; returns NULL, or why the stream cannot be trusted.
 */
static const char *relay_link_take_frame(struct relay_link *link,
                                         const uint8_t *frame, size_t len)
{
    sello_frame_header h;
    if (len < SELLO_FRAME_HEADER_LEN ||
        sello_frame_header_read(frame, &h) != SELLO_OK ||
        h.length != len - SELLO_FRAME_HEADER_LEN)
        return "malformed response frame";

    pthread_mutex_lock(&link->mu);
    struct relay_inflight *e = &link->ring[link->head & link->mask];
    if (link->count == 0 || e->tag != h.tag) {
        pthread_mutex_unlock(&link->mu);
        return "response does not match the oldest request's tag";
    }
    struct relay_call *call = e->call;
    link->head++;
    link->count--;
    if (call != NULL)
        link->live--;
    pthread_mutex_unlock(&link->mu);

    /* An expired call's late answer still goes to the sink: the audit
     * records it may carry are real. */
    relay_link_complete(link, call, &h, frame + SELLO_FRAME_HEADER_LEN);
    return NULL;
}

/*
 * Raw frames: hands every complete frame in rx to its call and keeps the
 * incomplete rest. Returns NULL, or why the stream cannot be trusted.
 */
static const char *relay_link_deliver(struct relay_link *link)
{
    size_t off = 0, have = link->rx_have;
    const uint8_t *buf = link->rx;
    const char *bad = NULL;
    while (have - off >= SELLO_FRAME_HEADER_LEN) {
        /* A header that does not parse is refused by take_frame(). */
        sello_frame_header h;
        size_t need = SELLO_FRAME_HEADER_LEN;
        if (sello_frame_header_read(buf + off, &h) == SELLO_OK)
            need += h.length;
        if (have - off < need)
            break;
        bad = relay_link_take_frame(link, buf + off, need);
        if (bad != NULL)
            break;
        off += need;
    }
    link->rx_have = have - off;
    if (link->rx_have > 0 && off > 0)
        memmove(link->rx, link->rx + off, link->rx_have);
    return bad;
}

/* A SELLO_LINK_BAD_* reason as log lines name it. */
static const char *relay_link_bad_name(uint8_t why)
{
    switch (why) {
    case SELLO_LINK_BAD_CRC:
        return "crc";
    case SELLO_LINK_BAD_COBS:
        return "cobs";
    case SELLO_LINK_BAD_SHORT:
        return "short";
    case SELLO_LINK_BAD_LONG:
        return "long";
    }
    return "unknown reason";
}

/*
 * Serial link: decodes the rx_have octets in rx, hands every frame to its
 * call and settles every NAK. Returns NULL, or why the link must be reset
 * (in link->why).
 *
 * A NAK stands where an answer would have been, for a request that reached
 * the board damaged; which one cannot be told (noise can look like a
 * message too), so while an answer is owed the link starts afresh. With
 * none owed, no request can have been damaged: the NAK answers noise, and
 * changes nothing. The same holds for a message that reached us damaged:
 * with an answer owed it may have been that answer, whose call would then
 * never complete; with none it was noise.
 */
static const char *relay_link_deliver_serial(struct relay_link *link)
{
    size_t off = 0, have = link->rx_have;
    link->rx_have = 0;
    /* The answers owed for what was read: the calls in flight now, less
     * those answered below. Calls that completions submit meanwhile (the
     * sink's) are not owed: only the loop's flush, later, writes them. */
    pthread_mutex_lock(&link->mu);
    uint32_t owed = link->count;
    pthread_mutex_unlock(&link->mu);
    while (off < have) {
        int result;
        off += sello_link_rx_feed(&link->serial_rx, link->rx + off,
                                  have - off, &result);
        if (result == SELLO_LINK_MORE)
            continue;
        const uint8_t *msg = link->serial_rx.buf;
        size_t len = link->serial_rx.len;
        if (result == SELLO_LINK_MESSAGE && len > 0 &&
            msg[0] == SELLO_FRAME_MAGIC) {
            const char *bad = relay_link_take_frame(link, msg, len);
            if (bad != NULL)
                return bad;
            if (owed > 0)
                owed--;
            continue;
        }
        if (result == SELLO_LINK_MESSAGE && len == SELLO_LINK_NAK_LEN &&
            msg[0] == SELLO_LINK_NAK) {
            const char *reason = relay_link_bad_name(msg[1]);
            if (owed == 0) {
                relay_log(RELAY_LOG_DEBUG,
                          "serial link: NAK (%s) from the board with no "
                          "request in flight: ignored",
                          reason);
                continue;
            }
            snprintf(link->why, sizeof link->why,
                     "NAK from the board: a request reached it damaged: %s",
                     reason);
            return link->why;
        }
        if (result == SELLO_LINK_MESSAGE) /* whole, but not ours */
            return "damaged response on the serial link: neither a frame "
                   "nor a NAK";
        const char *reason = relay_link_bad_name(link->serial_rx.why);
        if (owed == 0) {
            relay_log(RELAY_LOG_DEBUG,
                      "serial link: damaged message (%s) with no request in "
                      "flight: noise, ignored",
                      reason);
            continue;
        }
        snprintf(link->why, sizeof link->why,
                 "damaged response on the serial link: %s", reason);
        return link->why;
    }
    return NULL;
}

static void relay_link_readable(struct relay_link *link, struct relay_chan *c)
{
    ssize_t n = read(c->fd, link->rx + link->rx_have,
                     sizeof link->rx - link->rx_have);
    if (n > 0) {
        link->rx_have += (size_t)n;
        if (link->state == RELAY_LINK_HANDSHAKE) {
            sello_frame_header h;
            if (link->rx_have >= SELLO_FRAME_HEADER_LEN &&
                (sello_frame_header_read(link->rx, &h) != SELLO_OK ||
                 link->rx_have >= SELLO_FRAME_HEADER_LEN + h.length))
                relay_link_settle(link, c);
            return;
        }
        const char *bad = link->addr.serial ? relay_link_deliver_serial(link)
                                            : relay_link_deliver(link);
        if (bad != NULL)
            relay_link_teardown(link, bad, false);
    } else if (n == 0 && link->state == RELAY_LINK_HANDSHAKE) {
        relay_link_connect_failed(link, ECONNRESET);
    } else if (n == 0) {
        relay_link_teardown(link, "connection closed", false);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        int err = errno;
        if (link->state == RELAY_LINK_HANDSHAKE) {
            relay_link_connect_failed(link, err);
            return;
        }
        snprintf(link->why, sizeof link->why, "read: %s", strerror(err));
        relay_link_teardown(link, link->why, false);
    }
}

static void relay_link_ready(struct relay_watch *w, uint32_t events)
{
    struct relay_chan *c =
        (struct relay_chan *)((char *)w - offsetof(struct relay_chan, watch));
    struct relay_link *link = c->link;
    if (c->fd < 0)
        return; /* closed earlier in this turn */
    switch (link->state) {
    case RELAY_LINK_DOWN:
        return;
    case RELAY_LINK_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0)
            relay_link_connect_failed(link, err);
        else
            relay_link_established(link, relay_now_ns());
        return;
    }
    case RELAY_LINK_HANDSHAKE:
        relay_link_readable(link, c);
        return;
    case RELAY_LINK_UP:
        break;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c == relay_link_in(link))
        relay_link_readable(link, c);
    if (c->fd >= 0 && (events & (EPOLLOUT | EPOLLERR)) &&
        c == relay_link_out(link))
        relay_link_flush(link);
}

void relay_link_flush(struct relay_link *link)
{
    pthread_mutex_lock(&link->mu);
    if (link->tx_len == 0 || link->state != RELAY_LINK_UP) {
        pthread_mutex_unlock(&link->mu);
        return;
    }
    size_t len = link->tx_len;
    /* Non-blocking, and SIGPIPE is ignored: a vanished module is EPIPE. */
    ssize_t n = write(relay_link_out(link)->fd, link->tx, len);
    if (n > 0) {
        link->tx_len = len - (size_t)n;
        if (link->tx_len > 0)
            memmove(link->tx, link->tx + n, link->tx_len);
    }
    int err = errno;
    size_t left = link->tx_len;
    pthread_mutex_unlock(&link->mu);

    if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        /* A frame may be half written: the stream is lost. */
        relay_log(RELAY_LOG_WARN, "writing to the module failed: %s",
                  strerror(err));
        snprintf(link->why, sizeof link->why, "write: %s", strerror(err));
        relay_link_teardown(link, link->why, false);
        return;
    }
    if (left == 0) {
        if (link->stalled_since != 0)
            relay_link_watch(link, false);
        link->stalled_since = 0;
        return;
    }
    /* The module is not keeping up with our writes: wait for room, and
     * give up on it if none comes for a send timeout. */
    uint64_t now = relay_now_ns();
    if (n > 0 || link->stalled_since == 0) {
        link->stalled_since = now;
        pthread_mutex_lock(&link->mu);
        if (now + link->send_timeout_ns < link->next_duty)
            link->next_duty = now + link->send_timeout_ns;
        pthread_mutex_unlock(&link->mu);
    }
    relay_link_watch(link, true);
}

/*
 * Expires calls whose deadline has passed and works out the next instant
 * anything is due. Returns why the module must be considered wedged, or
 * NULL.
 */
static const char *relay_link_expire(struct relay_link *link, uint64_t now)
{
    struct relay_call *expired = NULL;
    unsigned n = 0;
    const char *wedged = NULL;
    uint64_t next = RELAY_NEVER;

    pthread_mutex_lock(&link->mu);
    for (uint32_t i = 0; i < link->count; i++) {
        struct relay_inflight *e =
            &link->ring[(link->head + i) & link->mask];
        if (e->call == NULL)
            continue;
        if (e->deadline_ns <= now) {
            e->call->link_next = expired;
            expired = e->call;
            e->call = NULL;
            link->live--;
            n++;
        } else if (e->deadline_ns < next) {
            next = e->deadline_ns;
        }
    }
    if (link->count > 0) {
        const struct relay_inflight *oldest =
            &link->ring[link->head & link->mask];
        if (oldest->call == NULL) {
            uint64_t limit = oldest->deadline_ns + link->send_timeout_ns;
            if (now > limit)
                wedged = "module wedged: no answer long past the timeout";
            else if (limit + 1 < next)
                next = limit + 1;
        }
    }
    if (link->stalled_since != 0) {
        uint64_t limit = link->stalled_since + link->send_timeout_ns;
        if (now >= limit)
            wedged = "module wedged: it takes no frames";
        else if (limit < next)
            next = limit;
    }
    uint64_t tick = now + (uint64_t)RELAY_LINK_TICK_MS * 1000000u;
    link->next_duty = next != RELAY_NEVER && next < tick ? tick : next;
    pthread_mutex_unlock(&link->mu);

    if (n > 0) {
        relay_log(RELAY_LOG_WARN, "%u module call(s) timed out", n);
        relay_link_fail_list(expired, RELAY_CALL_TIMEOUT);
    }
    return wedged;
}

int relay_link_timeout_ms(struct relay_link *link, uint64_t now)
{
    uint64_t t;
    switch (link->state) {
    case RELAY_LINK_DOWN:
        t = link->accepting ? link->reconnect_at : RELAY_NEVER;
        break;
    case RELAY_LINK_CONNECTING:
    case RELAY_LINK_HANDSHAKE:
        t = link->connect_by;
        break;
    default:
        pthread_mutex_lock(&link->mu);
        t = link->next_duty;
        pthread_mutex_unlock(&link->mu);
    }
    return t == RELAY_NEVER ? -1 : relay_timeout_until(now, t);
}

void relay_link_run(struct relay_link *link, uint64_t now)
{
    switch (link->state) {
    case RELAY_LINK_DOWN:
        if (link->accepting && now >= link->reconnect_at)
            relay_link_connect(link, now);
        return;
    case RELAY_LINK_CONNECTING:
    case RELAY_LINK_HANDSHAKE:
        if (now >= link->connect_by)
            relay_link_connect_failed(link, ETIMEDOUT);
        return;
    case RELAY_LINK_UP:
        break;
    }
    pthread_mutex_lock(&link->mu);
    bool due = now >= link->next_duty;
    pthread_mutex_unlock(&link->mu);
    if (!due)
        return;
    const char *wedged = relay_link_expire(link, now);
    if (wedged != NULL)
        relay_link_teardown(link, wedged, false);
}

/* Start-up only, before the loop runs: drives the connection's first
 * steps with poll() until it is up or down, or `until`. */
static void relay_link_wait_up(struct relay_link *link, uint64_t until)
{
    struct relay_chan *chans[] = {&link->sock, &link->ans};
    for (;;) {
        uint64_t now = relay_now_ns();
        if ((link->state != RELAY_LINK_CONNECTING &&
             link->state != RELAY_LINK_HANDSHAKE) ||
            now >= until)
            return;
        struct pollfd p[2];
        nfds_t n = 0;
        for (size_t i = 0; i < 2; i++) {
            if (chans[i]->fd < 0 || chans[i]->events == 0)
                continue;
            p[n].fd = chans[i]->fd;
            p[n].events = (short)((chans[i]->events & EPOLLIN ? POLLIN : 0) |
                                  (chans[i]->events & EPOLLOUT ? POLLOUT : 0));
            p[n++].revents = 0;
        }
        if (poll(p, n, relay_timeout_until(now, until)) < 0 && errno != EINTR)
            return;
        for (nfds_t k = 0; k < n; k++) {
            if (p[k].revents == 0)
                continue;
            struct relay_chan *c =
                p[k].fd == link->sock.fd ? &link->sock : &link->ans;
            uint32_t ev = (p[k].revents & POLLIN ? EPOLLIN : 0u) |
                          (p[k].revents & POLLOUT ? EPOLLOUT : 0u) |
                          (p[k].revents & POLLHUP ? EPOLLHUP : 0u) |
                          (p[k].revents & POLLERR ? EPOLLERR : 0u);
            relay_link_ready(&c->watch, ev);
            break; /* the channels may have changed */
        }
    }
}

struct relay_link *relay_link_start(struct relay_loop *loop,
                                    const struct relay_addr *module,
                                    unsigned max_calls,
                                    unsigned send_timeout_ms,
                                    const struct relay_link_sink *sink)
{
    uint32_t size = 1;
    while (size < max_calls)
        size <<= 1;

    struct relay_link *link = calloc(1, sizeof *link);
    struct relay_inflight *ring = calloc(size, sizeof *ring);
    uint8_t *tx = malloc(RELAY_LINK_TX_CAP);
    if (link == NULL || ring == NULL || tx == NULL) {
        relay_log(RELAY_LOG_ERROR, "out of memory for the module link");
        free(link);
        free(ring);
        free(tx);
        return NULL;
    }
    link->addr = *module;
    if (sink != NULL)
        link->sink = *sink;
    link->send_timeout_ns = (uint64_t)send_timeout_ms * 1000000u;
    link->loop = loop;
    struct relay_chan *chans[] = {&link->sock, &link->ans, &link->req};
    for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
        chans[i]->fd = -1;
        chans[i]->link = link;
        chans[i]->watch.ready = relay_link_ready;
    }
    link->state = RELAY_LINK_DOWN;
    link->accepting = true;
    link->ring = ring;
    link->mask = size - 1;
    link->max_calls = max_calls;
    link->next_duty = RELAY_NEVER;
    link->tx = tx;
    pthread_mutex_init(&link->mu, NULL);
    /* The first attempt now, and up to a second for the module's answer,
     * so that a module that is already up serves the first request (and
     * the first admin command) after start-up; failing that, the loop
     * goes on trying. */
    uint64_t now = relay_now_ns();
    relay_link_connect(link, now);
    relay_link_wait_up(link, now + RELAY_LINK_START_WAIT_MS * 1000000u);
    return link;
}

void relay_link_refuse(struct relay_link *link)
{
    pthread_mutex_lock(&link->mu);
    link->accepting = false;
    pthread_mutex_unlock(&link->mu);
}

unsigned relay_link_live(struct relay_link *link)
{
    pthread_mutex_lock(&link->mu);
    unsigned n = link->live;
    pthread_mutex_unlock(&link->mu);
    return n;
}

void relay_link_stop(struct relay_link *link)
{
    relay_link_refuse(link);
    relay_link_teardown(link, NULL, true);
}

void relay_link_free(struct relay_link *link)
{
    pthread_mutex_destroy(&link->mu);
    free(link->tx);
    free(link->ring);
    free(link);
}
