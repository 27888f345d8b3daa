/* See module_link.h. */
#include "module_link.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sello/status.h>

#include "log.h"

/* How often the link thread wakes up with nothing to read, to expire
 * calls: the granularity of every timeout. */
#define RELAY_LINK_TICK_MS 100u
/* Reconnection back-off bounds. */
#define RELAY_LINK_BACKOFF_MIN_MS 50u
#define RELAY_LINK_BACKOFF_MAX_MS 1000u
/* Receive buffer: several pipelined responses per read(), and always room
 * for one whole frame. */
#define RELAY_LINK_RX_CAP (64u * 1024u)
_Static_assert(RELAY_LINK_RX_CAP >= SELLO_FRAME_MAX, "rx holds a frame");

/* One frame sent and not yet answered. */
struct relay_inflight {
    uint32_t tag;
    uint64_t deadline_ns;
    struct relay_call *call; /* NULL once expired: the answer is dropped */
};

struct relay_link {
    struct relay_addr addr;
    unsigned send_timeout_ms;
    pthread_t thread;

    /* Held across tag assignment and the write, so that frames reach the
     * socket in tag order. Never taken by the link thread while it waits
     * for data, so a writer blocked on a full socket cannot stall the
     * reads that would unblock it. */
    pthread_mutex_t write_mu;

    /* Guards everything below. Taken inside write_mu, never around it. */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* drain waiters, back-off sleep */
    int fd;            /* -1 while not connected */
    bool accepting;
    bool stopping;
    uint32_t next_tag;
    struct relay_inflight *ring; /* in-flight queue, oldest at head */
    uint32_t mask;               /* ring size - 1 */
    uint32_t max_calls;
    uint32_t head;
    uint32_t count; /* entries in the ring, expired ones included */
    uint32_t live;  /* entries that still have a caller */

    /* Link thread only. */
    char why[160];
    uint8_t rx[RELAY_LINK_RX_CAP];
};

static uint64_t relay_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The CLOCK_MONOTONIC instant `ms` from now, for timed waits on cv. */
static struct timespec relay_deadline_ts(unsigned ms)
{
    uint64_t t = relay_now_ns() + (uint64_t)ms * 1000000u;
    return (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
                             .tv_nsec = (long)(t % 1000000000u)};
}

const char *relay_op_name(uint8_t op, char *buf)
{
    switch (op) {
    case SELLO_OP_STATUS:
        return "STATUS";
    case SELLO_OP_STAMP:
        return "STAMP";
    case SELLO_OP_GET_CERTS:
        return "GET_CERTS";
    case SELLO_OP_INIT:
        return "INIT";
    case SELLO_OP_GET_CSR:
        return "GET_CSR";
    case SELLO_OP_LOAD_CERT:
        return "LOAD_CERT";
    case SELLO_OP_SET_TIME:
        return "SET_TIME";
    default:
        snprintf(buf, 8, "0x%02x", op);
        return buf;
    }
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

enum relay_call_result relay_link_submit(struct relay_link *link,
                                         struct relay_call *call)
{
    uint64_t deadline =
        relay_now_ns() + (uint64_t)call->timeout_ms * 1000000u;

    pthread_mutex_lock(&link->write_mu);
    pthread_mutex_lock(&link->mu);
    if (!link->accepting || link->fd < 0) {
        pthread_mutex_unlock(&link->mu);
        pthread_mutex_unlock(&link->write_mu);
        return RELAY_CALL_LINK_DOWN;
    }
    if (link->count == link->max_calls) {
        pthread_mutex_unlock(&link->mu);
        pthread_mutex_unlock(&link->write_mu);
        return RELAY_CALL_BUSY;
    }
    uint32_t tag = link->next_tag++;
    link->ring[(link->head + link->count) & link->mask] =
        (struct relay_inflight){
            .tag = tag, .deadline_ns = deadline, .call = call};
    link->count++;
    link->live++;
    /* The descriptor stays valid while we hold write_mu: the link thread
     * takes write_mu before it closes a connection. */
    int fd = link->fd;
    pthread_mutex_unlock(&link->mu);

    uint8_t hdr[SELLO_FRAME_HEADER_LEN];
    sello_frame_header_write(hdr, call->op, call->req_flags, tag,
                             call->req_len);
    if (!relay_send_frame(fd, hdr, call->req, call->req_len)) {
        /* A frame may be half written: the stream is lost. Shutting the
         * socket makes the link thread reset it and fail every call in
         * flight, this one included, so the caller still gets done(). */
        relay_log(RELAY_LOG_WARN, "writing to the module failed: %s",
                  strerror(errno));
        shutdown(fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&link->write_mu);
    return RELAY_CALL_OK;
}

/*
 * Hands every complete frame in buf[0..have) to its call. Sets *used to the
 * octets consumed. Returns NULL, or why the stream cannot be trusted.
 */
static const char *relay_link_deliver(struct relay_link *link,
                                      const uint8_t *buf, size_t have,
                                      size_t *used)
{
    size_t off = 0;
    while (have - off >= SELLO_FRAME_HEADER_LEN) {
        sello_frame_header h;
        if (sello_frame_header_read(buf + off, &h) != SELLO_OK)
            return "malformed response frame";
        size_t need = SELLO_FRAME_HEADER_LEN + h.length;
        if (have - off < need)
            break;

        pthread_mutex_lock(&link->mu);
        struct relay_inflight *e = &link->ring[link->head & link->mask];
        if (link->count == 0 || e->tag != h.tag) {
            pthread_mutex_unlock(&link->mu);
            return "response does not match the oldest request's tag";
        }
        struct relay_call *call = e->call;
        link->head++;
        link->count--;
        if (call != NULL && --link->live == 0 && !link->accepting)
            pthread_cond_broadcast(&link->cv); /* relay_link_drain() */
        pthread_mutex_unlock(&link->mu);

        if (call != NULL) {
            memcpy(call->resp, buf + off + SELLO_FRAME_HEADER_LEN, h.length);
            call->resp_len = h.length;
            call->code = h.code;
            call->flags = h.flags;
            call->result = RELAY_CALL_OK;
            call->done(call);
        }
        off += need;
    }
    *used = off;
    return NULL;
}

/*
 * Expires calls whose deadline has passed. Returns true when the oldest
 * frame has gone unanswered so long past its own deadline that the module
 * must be considered wedged.
 */
static bool relay_link_expire(struct relay_link *link, uint64_t now)
{
    struct relay_call *expired = NULL;
    unsigned n = 0;
    bool wedged = false;

    pthread_mutex_lock(&link->mu);
    for (uint32_t i = 0; i < link->count; i++) {
        struct relay_inflight *e =
            &link->ring[(link->head + i) & link->mask];
        if (e->call != NULL && e->deadline_ns <= now) {
            e->call->link_next = expired;
            expired = e->call;
            e->call = NULL;
            link->live--;
            n++;
        }
    }
    if (link->count > 0) {
        const struct relay_inflight *oldest =
            &link->ring[link->head & link->mask];
        wedged = oldest->call == NULL &&
                 now - oldest->deadline_ns >
                     (uint64_t)link->send_timeout_ms * 1000000u;
    }
    if (n > 0 && link->live == 0 && !link->accepting)
        pthread_cond_broadcast(&link->cv);
    pthread_mutex_unlock(&link->mu);

    if (n > 0) {
        relay_log(RELAY_LOG_WARN, "%u module call(s) timed out", n);
        relay_link_fail_list(expired, RELAY_CALL_TIMEOUT);
    }
    return wedged;
}

/* Reads and delivers responses until the connection must end. Returns
 * why. */
static const char *relay_link_serve(struct relay_link *link, int fd)
{
    size_t have = 0;
    uint64_t next_expiry = relay_now_ns();

    for (;;) {
        ssize_t n = read(fd, link->rx + have, sizeof link->rx - have);
        if (n > 0) {
            size_t used;
            const char *bad =
                relay_link_deliver(link, link->rx, have + (size_t)n, &used);
            if (bad != NULL)
                return bad;
            have = have + (size_t)n - used;
            if (have > 0 && used > 0)
                memmove(link->rx, link->rx + used, have);
        } else if (n == 0) {
            return "connection closed";
        } else if (errno != EAGAIN && errno != EWOULDBLOCK &&
                   errno != EINTR) {
            snprintf(link->why, sizeof link->why, "read: %s",
                     strerror(errno));
            return link->why;
        }
        /* EAGAIN is the SO_RCVTIMEO tick. */
        uint64_t now = relay_now_ns();
        if (now >= next_expiry) {
            if (relay_link_expire(link, now))
                return "module wedged: no answer long past the timeout";
            next_expiry = now + RELAY_LINK_TICK_MS * 1000000u;
        }
    }
}

/* Detaches `fd` from the link and fails every call it carried. Returns
 * how many calls failed. */
static unsigned relay_link_teardown(struct relay_link *link, int fd)
{
    struct relay_call *failed = NULL;
    unsigned n = 0;

    /* Unblocks a writer stuck in sendmsg() before we wait for write_mu. */
    shutdown(fd, SHUT_RDWR);
    pthread_mutex_lock(&link->write_mu);
    pthread_mutex_lock(&link->mu);
    link->fd = -1;
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
    pthread_cond_broadcast(&link->cv);
    pthread_mutex_unlock(&link->mu);
    pthread_mutex_unlock(&link->write_mu);
    close(fd);

    relay_link_fail_list(failed, RELAY_CALL_LINK_DOWN);
    return n;
}

/* Sleeps `ms` unless the link is stopped meanwhile. Returns whether it is
 * stopping. */
static bool relay_link_pause(struct relay_link *link, unsigned ms)
{
    struct timespec until = relay_deadline_ts(ms);
    pthread_mutex_lock(&link->mu);
    while (!link->stopping &&
           pthread_cond_timedwait(&link->cv, &link->mu, &until) == 0)
        ;
    bool stopping = link->stopping;
    pthread_mutex_unlock(&link->mu);
    return stopping;
}

static void *relay_link_thread(void *arg)
{
    struct relay_link *link = arg;
    unsigned backoff_ms = 0;
    bool complained = false;

    for (;;) {
        if (backoff_ms > 0 && relay_link_pause(link, backoff_ms))
            break;
        int fd = relay_connect(&link->addr, link->send_timeout_ms);
        if (fd < 0) {
            /* One warning per outage, not one per retry. */
            relay_log(complained ? RELAY_LOG_DEBUG : RELAY_LOG_WARN,
                      "cannot reach the module at %s: %s; retrying",
                      link->addr.text, strerror(errno));
            complained = true;
            backoff_ms = backoff_ms == 0 ? RELAY_LINK_BACKOFF_MIN_MS
                                         : 2 * backoff_ms;
            if (backoff_ms > RELAY_LINK_BACKOFF_MAX_MS)
                backoff_ms = RELAY_LINK_BACKOFF_MAX_MS;
            continue;
        }
        /* The receive timeout is the expiry tick of relay_link_serve(). */
        if (!relay_set_timeout(fd, SO_RCVTIMEO, RELAY_LINK_TICK_MS)) {
            relay_log(RELAY_LOG_ERROR, "setsockopt(SO_RCVTIMEO): %s",
                      strerror(errno));
            close(fd);
            backoff_ms = RELAY_LINK_BACKOFF_MAX_MS;
            continue;
        }

        pthread_mutex_lock(&link->mu);
        bool stopping = link->stopping;
        if (!stopping)
            link->fd = fd;
        pthread_mutex_unlock(&link->mu);
        if (stopping) {
            close(fd);
            break;
        }
        relay_log(RELAY_LOG_INFO, "module link up: %s", link->addr.text);
        complained = false;

        const char *why = relay_link_serve(link, fd);
        unsigned failed = relay_link_teardown(link, fd);
        pthread_mutex_lock(&link->mu);
        stopping = link->stopping;
        pthread_mutex_unlock(&link->mu);
        if (stopping) {
            if (failed > 0)
                relay_log(RELAY_LOG_WARN,
                          "module link closed; %u call(s) abandoned",
                          failed);
            break;
        }
        relay_log(RELAY_LOG_WARN, "module link down (%s); %u call(s) failed",
                  why, failed);
        /* A module that accepts and drops at once must not spin us. */
        backoff_ms = RELAY_LINK_BACKOFF_MIN_MS;
    }
    return NULL;
}

struct relay_link *relay_link_start(const struct relay_addr *module,
                                    unsigned max_calls,
                                    unsigned send_timeout_ms)
{
    uint32_t size = 1;
    while (size < max_calls)
        size <<= 1;

    struct relay_link *link = calloc(1, sizeof *link);
    struct relay_inflight *ring = calloc(size, sizeof *ring);
    if (link == NULL || ring == NULL) {
        relay_log(RELAY_LOG_ERROR, "out of memory for the module link");
        free(link);
        free(ring);
        return NULL;
    }
    link->addr = *module;
    link->send_timeout_ms = send_timeout_ms;
    link->fd = -1;
    link->accepting = true;
    link->ring = ring;
    link->mask = size - 1;
    link->max_calls = max_calls;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&link->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&link->mu, NULL);
    pthread_mutex_init(&link->write_mu, NULL);

    int rc = pthread_create(&link->thread, NULL, relay_link_thread, link);
    if (rc != 0) {
        relay_log(RELAY_LOG_ERROR, "cannot start the module link thread: %s",
                  strerror(rc));
        relay_link_free(link);
        return NULL;
    }
    return link;
}

void relay_link_drain(struct relay_link *link, unsigned timeout_ms)
{
    struct timespec until = relay_deadline_ts(timeout_ms);
    pthread_mutex_lock(&link->mu);
    link->accepting = false;
    while (link->live > 0 &&
           pthread_cond_timedwait(&link->cv, &link->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&link->mu);
}

void relay_link_stop(struct relay_link *link)
{
    pthread_mutex_lock(&link->mu);
    link->accepting = false;
    link->stopping = true;
    if (link->fd >= 0)
        shutdown(link->fd, SHUT_RDWR); /* wakes the blocked read() */
    pthread_cond_broadcast(&link->cv);
    pthread_mutex_unlock(&link->mu);
    pthread_join(link->thread, NULL);
}

void relay_link_free(struct relay_link *link)
{
    pthread_cond_destroy(&link->cv);
    pthread_mutex_destroy(&link->mu);
    pthread_mutex_destroy(&link->write_mu);
    free(link->ring);
    free(link);
}
