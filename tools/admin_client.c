/* Administrative socket client; contracts in admin_client.h. */
#include "admin_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sello/status.h>

#include "util.h"

const char *admin_socket_path(const char *option)
{
    if (option)
        return option;
    const char *env = getenv("SELLO_ADMIN");
    return env && *env ? env : ADMIN_DEFAULT_PATH;
}

bool admin_connect(const char *path, admin_conn *c)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        util_err("%s: socket path too long", path);
        return false;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        util_err("socket: %s", strerror(errno));
        return false;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        util_err("cannot connect to the admin socket %s: %s (is sello-relayd "
                 "running? use --admin PATH or SELLO_ADMIN)",
                 path, strerror(errno));
        close(fd);
        return false;
    }
    c->fd = fd;
    /* Tags only have to be distinct per link; starting from the pid makes
     * frames of concurrent tools easy to tell apart in relay logs. */
    c->next_tag = (uint32_t)getpid() << 8;
    return true;
}

void admin_close(admin_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static bool send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            util_err("admin socket: send: %s", strerror(errno));
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads exactly n octets, calling `progress` while waiting. */
static bool recv_exact(int fd, uint8_t *p, size_t n,
                       admin_progress_fn progress, void *ctx)
{
    while (n > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, progress ? 200 : -1);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            util_err("admin socket: poll: %s", strerror(errno));
            return false;
        }
        if (pr == 0) {
            progress(ctx);
            continue;
        }
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            util_err("admin socket: recv: %s", strerror(errno));
            return false;
        }
        if (r == 0) {
            util_err("admin socket: closed by the relay before a complete "
                     "reply");
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

bool admin_call(admin_conn *c, uint8_t op, const uint8_t *payload,
                size_t len, admin_reply *reply, admin_progress_fn progress,
                void *ctx)
{
    if (len > SELLO_PAYLOAD_MAX) {
        util_err("request payload of %zu octets exceeds the ABI limit of %u",
                 len, SELLO_PAYLOAD_MAX);
        return false;
    }
    uint8_t hdr[SELLO_FRAME_HEADER_LEN];
    uint32_t tag = c->next_tag++;
    sello_frame_header_write(hdr, op, 0, tag, (uint32_t)len);
    if (!send_all(c->fd, hdr, sizeof hdr) ||
        (len && !send_all(c->fd, payload, len)))
        return false;
    if (!recv_exact(c->fd, hdr, sizeof hdr, progress, ctx))
        return false;
    sello_frame_header h;
    int bad = sello_frame_header_read(hdr, &h);
    if (bad) {
        util_err("admin socket: bad reply frame header: %s",
                 sello_status_str(bad));
        return false;
    }
    if (h.tag != tag) {
        util_err("admin socket: reply tag %08x does not match request tag "
                 "%08x", (unsigned)h.tag, (unsigned)tag);
        return false;
    }
    if (!recv_exact(c->fd, reply->payload, h.length, progress, ctx))
        return false;
    reply->status = h.code;
    reply->flags = h.flags;
    reply->len = h.length;
    reply->audit_len = 0;
    if (h.flags & SELLO_RESP_FLAG_AUDIT) {
        /* The module's audit records for this request come first. Storing
         * and acknowledging them is the relay's business (it is the host
         * whose log they belong in); the command line only takes them
         * off the operation's own payload. */
        size_t n = h.length >= 2 ? sello_get_be16(reply->payload) : 0;
        if (h.length < 2 || h.length - 2 < n) {
            util_err("admin socket: the reply's audit records overrun it");
            return false;
        }
        reply->audit_len = n;
        reply->len = h.length - 2 - n;
        memmove(reply->payload, reply->payload + 2 + n, reply->len);
        reply->flags = (uint8_t)(h.flags & ~SELLO_RESP_FLAG_AUDIT);
    }
    return true;
}

void admin_report(const char *what, const admin_reply *reply)
{
    fprintf(stderr, "sello: %s: %s (%.*s)\n", what,
            sello_status_str(reply->status), (int)reply->len,
            (const char *)reply->payload);
}

bool admin_call_ok(admin_conn *c, const char *what, uint8_t op,
                   const uint8_t *payload, size_t len, admin_reply *reply,
                   admin_progress_fn progress, void *ctx)
{
    if (!admin_call(c, op, payload, len, reply, progress, ctx))
        return false;
    if (reply->status != SELLO_OK) {
        admin_report(what, reply);
        return false;
    }
    return true;
}

bool admin_run_op(const char *path, const char *what, uint8_t op,
                  const uint8_t *payload, size_t len, admin_reply *reply,
                  admin_progress_fn progress, void *ctx)
{
    admin_conn c;
    if (!admin_connect(path, &c))
        return false;
    bool ok = admin_call_ok(&c, what, op, payload, len, reply, progress, ctx);
    admin_close(&c);
    return ok;
}
