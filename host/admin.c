/* See admin.h. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sello/status.h>

#include "log.h"

enum relay_client_state {
    RELAY_CLIENT_FREE,
    RELAY_CLIENT_RUNNING,
    RELAY_CLIENT_FINISHED, /* thread ended, not yet joined */
};

struct relay_admin;

struct relay_admin_client {
    struct relay_admin *admin;
    pthread_t thread;
    enum relay_client_state state; /* guarded by admin->mu */
    int fd;                        /* guarded by admin->mu */
    struct ucred peer;

    /* The one call this client has out, and its completion. */
    struct relay_call call;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    uint8_t req[SELLO_PAYLOAD_MAX];
    uint8_t resp[SELLO_PAYLOAD_MAX];
};

struct relay_admin {
    struct sockaddr_un addr;
    int listen_fd;
    int wake[2]; /* written once to stop the acceptor */
    pthread_t acceptor;
    struct relay_link *link;
    unsigned timeout_ms;
    pthread_mutex_t mu;
    struct relay_admin_client clients[RELAY_ADMIN_MAX_CLIENTS];
};

/* Reads up to n octets, stopping early only at end of stream or on an
 * error. Returns how many were read. */
static size_t relay_read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    return got;
}

/* The link's loop: the client's call completed. */
static void relay_admin_done(struct relay_call *call)
{
    struct relay_admin_client *cl =
        (struct relay_admin_client *)((char *)call -
                                      offsetof(struct relay_admin_client,
                                               call));
    pthread_mutex_lock(&cl->mu);
    cl->done = true;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}

/* Forwards the frame in cl->req and waits for its answer. */
static enum relay_call_result relay_admin_call(struct relay_admin_client *cl,
                                               const sello_frame_header *h)
{
    struct relay_call *c = &cl->call;
    c->op = h->code;
    c->req_flags = h->flags;
    c->req = cl->req;
    c->req_len = h->length;
    c->resp = cl->resp;
    c->timeout_ms = cl->admin->timeout_ms;
    c->done = relay_admin_done;
    cl->done = false;

    enum relay_call_result r = relay_link_submit(cl->admin->link, c);
    if (r != RELAY_CALL_OK)
        return r;
    pthread_mutex_lock(&cl->mu);
    while (!cl->done)
        pthread_cond_wait(&cl->cv, &cl->mu);
    pthread_mutex_unlock(&cl->mu);
    return c->result;
}

static void *relay_admin_client_thread(void *arg)
{
    struct relay_admin_client *cl = arg;
    const unsigned uid = (unsigned)cl->peer.uid;
    const long pid = (long)cl->peer.pid;
    int fd = cl->fd; /* only this thread closes it */
    char opbuf[8];

    relay_log(RELAY_LOG_DEBUG, "admin uid=%u pid=%ld connected", uid, pid);
    for (;;) {
        uint8_t hdr[SELLO_FRAME_HEADER_LEN];
        size_t got = relay_read_full(fd, hdr, sizeof hdr);
        if (got < sizeof hdr) {
            if (got > 0)
                relay_log(RELAY_LOG_WARN,
                          "admin uid=%u pid=%ld: truncated frame header",
                          uid, pid);
            break;
        }
        sello_frame_header h;
        sello_status bad = sello_frame_header_read(hdr, &h);
        if (bad != SELLO_OK) {
            /* The module would say the same; after this the stream has
             * no trustworthy frame boundary, so the connection ends. */
            const char *why = sello_status_str(bad);
            relay_log(RELAY_LOG_WARN, "admin uid=%u pid=%ld: bad frame: %s",
                      uid, pid, sello_status_name(bad));
            sello_frame_header_write(hdr, (uint8_t)bad, 0, h.tag,
                                     (uint32_t)strlen(why));
            relay_send_frame(fd, hdr, (const uint8_t *)why, strlen(why));
            break;
        }
        if (relay_read_full(fd, cl->req, h.length) != h.length) {
            relay_log(RELAY_LOG_WARN,
                      "admin uid=%u pid=%ld: truncated frame payload", uid,
                      pid);
            break;
        }

        const char *op = relay_op_name(h.code, opbuf);
        enum relay_call_result r = relay_admin_call(cl, &h);
        if (r != RELAY_CALL_OK) {
            relay_log(RELAY_LOG_WARN,
                      "admin uid=%u pid=%ld op=%s: %s; closing the "
                      "connection",
                      uid, pid, op, relay_call_result_str(r));
            break;
        }
        relay_log(RELAY_LOG_INFO, "admin uid=%u pid=%ld op=%s status=%s",
                  uid, pid, op, sello_status_name(cl->call.code));

        /* The module's frame, with the client's own tag put back (and
         * without its audit records, which the audit store took). */
        sello_frame_header_write(hdr, cl->call.code, cl->call.flags, h.tag,
                                 cl->call.resp_len);
        if (!relay_send_frame(fd, hdr, cl->resp, cl->call.resp_len)) {
            relay_log(RELAY_LOG_WARN,
                      "admin uid=%u pid=%ld: writing the answer: %s", uid,
                      pid, strerror(errno));
            break;
        }
    }

    pthread_mutex_lock(&cl->admin->mu);
    close(fd);
    cl->fd = -1;
    cl->state = RELAY_CLIENT_FINISHED;
    pthread_mutex_unlock(&cl->admin->mu);
    relay_log(RELAY_LOG_DEBUG, "admin uid=%u pid=%ld disconnected", uid, pid);
    return NULL;
}

/* Hands an accepted, authorised connection to a client thread. */
static void relay_admin_spawn(struct relay_admin *adm, int fd,
                              const struct ucred *peer)
{
    struct relay_admin_client *cl = NULL;

    pthread_mutex_lock(&adm->mu);
    for (unsigned i = 0; i < RELAY_ADMIN_MAX_CLIENTS; i++) {
        struct relay_admin_client *c = &adm->clients[i];
        if (c->state == RELAY_CLIENT_FINISHED) {
            pthread_join(c->thread, NULL);
            c->state = RELAY_CLIENT_FREE;
        }
        if (c->state == RELAY_CLIENT_FREE && cl == NULL)
            cl = c;
    }
    if (cl != NULL) {
        cl->fd = fd;
        cl->peer = *peer;
        cl->state = RELAY_CLIENT_RUNNING;
        int rc = pthread_create(&cl->thread, NULL, relay_admin_client_thread,
                                cl);
        if (rc != 0) {
            relay_log(RELAY_LOG_ERROR, "admin: cannot start a thread: %s",
                      strerror(rc));
            cl->state = RELAY_CLIENT_FREE;
            cl->fd = -1;
            cl = NULL;
        }
    } else {
        relay_log(RELAY_LOG_WARN,
                  "admin: %u clients already connected; turning pid %ld "
                  "away",
                  RELAY_ADMIN_MAX_CLIENTS, (long)peer->pid);
    }
    pthread_mutex_unlock(&adm->mu);
    if (cl == NULL)
        close(fd);
}

static void *relay_admin_acceptor(void *arg)
{
    struct relay_admin *adm = arg;
    const uid_t self = geteuid();

    for (;;) {
        struct pollfd p[2] = {
            {.fd = adm->listen_fd, .events = POLLIN},
            {.fd = adm->wake[0], .events = POLLIN},
        };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            relay_log(RELAY_LOG_ERROR, "admin: poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents != 0)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(adm->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue; /* the peer gave up, or out of descriptors for now */

        /* The socket file's mode is the first gate; the peer's kernel
         * credentials are the second, for when the directory or the mode
         * was loosened by hand. */
        struct ucred peer;
        socklen_t len = sizeof peer;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
            relay_log(RELAY_LOG_WARN, "admin: SO_PEERCRED: %s",
                      strerror(errno));
            close(fd);
            continue;
        }
        if (peer.uid != 0 && peer.uid != self) {
            relay_log(RELAY_LOG_WARN,
                      "admin: refused uid=%u pid=%ld (only root and uid %u "
                      "may administer)",
                      (unsigned)peer.uid, (long)peer.pid, (unsigned)self);
            close(fd);
            continue;
        }
        relay_admin_spawn(adm, fd, &peer);
    }
    return NULL;
}

/* Binds the socket file with mode 0600, replacing only a stale socket. */
static int relay_admin_listen(struct sockaddr_un *addr, const char *path)
{
    if (strlen(path) >= sizeof addr->sun_path) {
        relay_log(RELAY_LOG_ERROR, "admin socket path too long: %s", path);
        return -1;
    }
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    strcpy(addr->sun_path, path);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            relay_log(RELAY_LOG_ERROR, "%s exists and is not a socket", path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive = probe >= 0 && connect(probe, (struct sockaddr *)addr,
                                           sizeof *addr) == 0;
        if (probe >= 0)
            close(probe);
        if (alive) {
            relay_log(RELAY_LOG_ERROR,
                      "%s is in use: is another relay running?", path);
            return -1;
        }
        if (unlink(path) != 0) {
            relay_log(RELAY_LOG_ERROR, "cannot remove stale %s: %s", path,
                      strerror(errno));
            return -1;
        }
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        relay_log(RELAY_LOG_ERROR, "admin socket: %s", strerror(errno));
        return -1;
    }
    /* The mode must be right from the moment the file exists; a chmod()
     * after bind() would leave a window. umask is process-wide, which is
     * fine here: this runs during start-up, before any thread creates
     * files. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)addr, sizeof *addr);
    umask(old);
    if (rc != 0 || listen(fd, (int)RELAY_ADMIN_MAX_CLIENTS) != 0) {
        relay_log(RELAY_LOG_ERROR, "cannot listen on %s: %s", path,
                  strerror(errno));
        close(fd);
        if (rc == 0)
            unlink(path);
        return -1;
    }
    return fd;
}

struct relay_admin *relay_admin_start(const char *path,
                                      struct relay_link *link,
                                      unsigned timeout_ms)
{
    struct relay_admin *adm = calloc(1, sizeof *adm);
    if (adm == NULL) {
        relay_log(RELAY_LOG_ERROR, "out of memory for the admin socket");
        return NULL;
    }
    adm->link = link;
    adm->timeout_ms = timeout_ms;
    adm->listen_fd = relay_admin_listen(&adm->addr, path);
    if (adm->listen_fd < 0) {
        free(adm);
        return NULL;
    }
    if (pipe2(adm->wake, O_CLOEXEC) != 0) {
        relay_log(RELAY_LOG_ERROR, "admin: pipe: %s", strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&adm->mu, NULL);
    for (unsigned i = 0; i < RELAY_ADMIN_MAX_CLIENTS; i++) {
        struct relay_admin_client *cl = &adm->clients[i];
        cl->admin = adm;
        cl->fd = -1;
        pthread_mutex_init(&cl->mu, NULL);
        pthread_cond_init(&cl->cv, NULL);
    }
    int rc = pthread_create(&adm->acceptor, NULL, relay_admin_acceptor, adm);
    if (rc != 0) {
        relay_log(RELAY_LOG_ERROR, "admin: cannot start a thread: %s",
                  strerror(rc));
        close(adm->wake[0]);
        close(adm->wake[1]);
        goto fail;
    }
    return adm;
fail:
    close(adm->listen_fd);
    unlink(path);
    free(adm);
    return NULL;
}

void relay_admin_stop(struct relay_admin *adm)
{
    /* The acceptor first, so that no client starts after the sweep. */
    ssize_t w = write(adm->wake[1], "x", 1);
    (void)w;
    pthread_join(adm->acceptor, NULL);

    bool started[RELAY_ADMIN_MAX_CLIENTS];
    pthread_mutex_lock(&adm->mu);
    for (unsigned i = 0; i < RELAY_ADMIN_MAX_CLIENTS; i++) {
        struct relay_admin_client *cl = &adm->clients[i];
        started[i] = cl->state != RELAY_CLIENT_FREE;
        if (cl->fd >= 0)
            shutdown(cl->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&adm->mu);
    for (unsigned i = 0; i < RELAY_ADMIN_MAX_CLIENTS; i++) {
        struct relay_admin_client *cl = &adm->clients[i];
        if (started[i])
            pthread_join(cl->thread, NULL);
        pthread_mutex_destroy(&cl->mu);
        pthread_cond_destroy(&cl->cv);
    }

    close(adm->listen_fd);
    close(adm->wake[0]);
    close(adm->wake[1]);
    unlink(adm->addr.sun_path);
    pthread_mutex_destroy(&adm->mu);
    free(adm);
}
