/* See net.h. */
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <sello/abi.h>

#include "log.h"

bool relay_addr_parse_inet(const char *spec, bool passive,
                           struct relay_addr *out)
{
    char host[256];
    const char *hstart, *port;
    size_t hlen;

    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':') {
            relay_log(RELAY_LOG_ERROR, "bad address '%s': expected [v6]:port",
                      spec);
            return false;
        }
        hstart = spec + 1;
        hlen = (size_t)(close - hstart);
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec))) {
            relay_log(RELAY_LOG_ERROR,
                      "bad address '%s': expected host:port or [v6]:port",
                      spec);
            return false;
        }
        hstart = spec;
        hlen = (size_t)(colon - spec);
        port = colon + 1;
    }
    if (hlen == 0 || hlen >= sizeof host || port[0] == '\0') {
        relay_log(RELAY_LOG_ERROR, "bad address '%s'", spec);
        return false;
    }
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        relay_log(RELAY_LOG_ERROR, "cannot resolve '%s': %s", spec,
                  gai_strerror(rc));
        return false;
    }
    memset(out, 0, sizeof *out);
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    snprintf(out->text, sizeof out->text, "%s", spec);
    freeaddrinfo(res);
    return true;
}

/* The PATH of a module address "[serial:]unix:PATH" (`spec`). */
static bool relay_addr_parse_unix(const char *path, const char *spec,
                                  struct relay_addr *out)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->sa;
    size_t plen = strlen(path);
    if (plen == 0 || plen >= sizeof sun->sun_path) {
        relay_log(RELAY_LOG_ERROR,
                  "bad module address '%s': path empty or too long", spec);
        return false;
    }
    memset(out, 0, sizeof *out);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, plen + 1);
    out->len = (socklen_t)sizeof *sun;
    return true;
}

bool relay_addr_parse_module(const char *spec, struct relay_addr *out)
{
    bool serial = strncmp(spec, "serial:", 7) == 0;
    const char *socket_spec = serial ? spec + 7 : spec;
    bool ok;
    if (strncmp(socket_spec, "unix:", 5) == 0) {
        ok = relay_addr_parse_unix(socket_spec + 5, spec, out);
    } else if (strncmp(socket_spec, "tcp:", 4) == 0) {
        ok = relay_addr_parse_inet(socket_spec + 4, false, out);
    } else {
        relay_log(RELAY_LOG_ERROR,
                  "bad module address '%s': expected unix:PATH, "
                  "tcp:HOST:PORT, serial:unix:PATH or serial:tcp:HOST:PORT",
                  spec);
        return false;
    }
    if (!ok)
        return false;
    out->serial = serial;
    snprintf(out->text, sizeof out->text, "%s", spec);
    return true;
}

int relay_listen_inet(const struct relay_addr *a, int backlog)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        relay_log(RELAY_LOG_ERROR, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (a->sa.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)) {
        relay_log(RELAY_LOG_ERROR, "setsockopt on listener: %s",
                  strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) != 0 ||
        listen(fd, backlog) != 0) {
        relay_log(RELAY_LOG_ERROR, "cannot listen on %s: %s", a->text,
                  strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int relay_connect_start(const struct relay_addr *a, int *out)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    0);
    if (fd < 0)
        return -1;
    if (a->sa.ss_family != AF_UNIX) {
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            goto fail;
    }
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) != 0) {
        /* A UNIX socket whose listener's backlog is full says EAGAIN: a
         * failed attempt like any other, retried after the back-off. */
        if (errno != EINPROGRESS)
            goto fail;
        rc = 1;
    }
    *out = fd;
    return rc;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

bool relay_send_frame(int fd, const uint8_t *hdr, const uint8_t *payload,
                      size_t len)
{
    struct iovec iov[2] = {
        {.iov_base = (void *)hdr, .iov_len = SELLO_FRAME_HEADER_LEN},
        {.iov_base = (void *)payload, .iov_len = len},
    };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = len != 0 ? 2 : 1;
    while (msg.msg_iovlen > 0) {
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        size_t left = (size_t)n;
        while (msg.msg_iovlen > 0 && left >= msg.msg_iov[0].iov_len) {
            left -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (uint8_t *)msg.msg_iov[0].iov_base + left;
            msg.msg_iov[0].iov_len -= left;
        }
    }
    return true;
}
