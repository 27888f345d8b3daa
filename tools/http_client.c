/* Minimal HTTP/1.1 POST; contracts in http_client.h. */
#include "http_client.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    char host[256];
    char port[8];
    char path[1024];
} url_parts;

static const char *parse_url(const char *url, url_parts *u)
{
    static const char scheme[] = "http://";
    if (strncasecmp(url, "https://", 8) == 0)
        return "https is not supported by this client; use http:// (or a "
               "TLS-terminating proxy)";
    if (strncasecmp(url, scheme, sizeof scheme - 1) != 0)
        return "URL must start with http://";
    const char *p = url + sizeof scheme - 1;
    const char *host_end;
    const char *host = p;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return "unterminated [IPv6] address in URL";
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        p = host_end;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof u->host)
        return "bad host in URL";
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    snprintf(u->port, sizeof u->port, "80");
    if (*p == ':') {
        p++;
        size_t pl = strspn(p, "0123456789");
        if (pl == 0 || pl >= sizeof u->port)
            return "bad port in URL";
        memcpy(u->port, p, pl);
        u->port[pl] = '\0';
        long port = strtol(u->port, NULL, 10);
        if (port < 1 || port > 65535)
            return "bad port in URL";
        p += pl;
    }
    if (*p == '\0') {
        snprintf(u->path, sizeof u->path, "/");
    } else if (*p == '/' || *p == '?') {
        if (strlen(p) + 2 > sizeof u->path)
            return "URL path too long";
        snprintf(u->path, sizeof u->path, "%s%s", *p == '?' ? "/" : "", p);
        char *frag = strchr(u->path, '#');
        if (frag)
            *frag = '\0';
    } else {
        return "bad URL";
    }
    for (const char *q = u->path; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return "URL path contains spaces or control characters";
    return NULL;
}

/* Waits until fd is ready for `events`; false on timeout or error. */
static bool wait_fd(int fd, short events, int timeout_s)
{
    struct pollfd pfd = {fd, events, 0};
    for (;;) {
        int r = poll(&pfd, 1, timeout_s * 1000);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0;
    }
}

static int connect_to(const url_parts *u, int timeout_s, const char **why)
{
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    *why = "no address";
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
                                       SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            *why = strerror(errno);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, timeout_s)) {
            int err = 0;
            socklen_t el = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
                err == 0)
                break;
            *why = strerror(err ? err : errno);
        } else {
            *why = errno == EINPROGRESS ? "connection timed out"
                                        : strerror(errno);
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        *why = NULL;
    return fd;
}

static const char *send_all(int fd, const uint8_t *p, size_t n, int timeout_s)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && wait_fd(fd, POLLOUT, timeout_s))
                continue;
            return errno == EAGAIN ? "timed out sending" : strerror(errno);
        }
        p += w;
        n -= (size_t)w;
    }
    return NULL;
}

static const char *recv_all(int fd, int timeout_s, uint8_t **out, size_t *len)
{
    size_t cap = 16384, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return "out of memory";
    for (;;) {
        if (n == cap) {
            if (cap >= HTTP_REPLY_MAX) {
                free(buf);
                return "reply larger than the client accepts";
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return "out of memory";
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && wait_fd(fd, POLLIN, timeout_s))
                continue;
            free(buf);
            return errno == EAGAIN ? "timed out waiting for the reply"
                                   : strerror(errno);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return NULL;
}

/* Takes one line (ending in LF, an optional CR before it is dropped) from
 * p[*pos..n); NULL when no full line is left. */
static char *take_line(uint8_t *p, size_t n, size_t *pos)
{
    uint8_t *start = p + *pos;
    uint8_t *lf = memchr(start, '\n', n - *pos);
    if (!lf || memchr(start, '\0', (size_t)(lf - start)))
        return NULL; /* no full line, or an embedded NUL */
    *pos = (size_t)(lf - p) + 1;
    *lf = '\0';
    if (lf > start && lf[-1] == '\r')
        lf[-1] = '\0';
    return (char *)start;
}

static bool parse_size(const char *s, int base, size_t *v)
{
    char *end;
    errno = 0;
    if (!isxdigit((unsigned char)*s))
        return false;
    unsigned long long x = strtoull(s, &end, base);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || (*end && !(base == 16 && *end == ';')) ||
        x > HTTP_REPLY_MAX)
        return false;
    *v = (size_t)x;
    return true;
}

/* Decodes a chunked body in place: buf[0..*len). */
static const char *dechunk(uint8_t *buf, size_t *len)
{
    size_t pos = 0, out = 0, n = *len;
    for (;;) {
        char *line = take_line(buf, n, &pos);
        size_t sz;
        if (!line || !parse_size(line, 16, &sz))
            return "malformed chunked body";
        if (sz == 0)
            break; /* trailers, if any, are ignored */
        if (n - pos < sz + 1)
            return "truncated chunked body";
        memmove(buf + out, buf + pos, sz);
        out += sz;
        pos += sz;
        if (buf[pos] == '\r')
            pos++;
        if (pos >= n || buf[pos] != '\n')
            return "malformed chunked body";
        pos++;
    }
    *len = out;
    return NULL;
}

static const char *parse_reply(uint8_t *buf, size_t n, http_response *resp)
{
    size_t pos = 0;
    char *line = take_line(buf, n, &pos);
    int minor, got = 0;
    char sp = ' ';
    if (line)
        got = sscanf(line, "HTTP/1.%1d %3d%c", &minor, &resp->status, &sp);
    if (got < 2 || (got == 2 && strlen(line) != 12) || sp != ' ' ||
        resp->status < 100 || resp->status > 599)
        return "not an HTTP/1.x reply";
    const char *reason = line + strlen("HTTP/1.x 123");
    while (*reason == ' ')
        reason++;
    snprintf(resp->reason, sizeof resp->reason, "%s", reason);

    bool chunked = false, has_length = false;
    size_t length = 0;
    for (;;) {
        line = take_line(buf, n, &pos);
        if (!line)
            return "truncated HTTP headers";
        if (*line == '\0')
            break;
        char *colon = strchr(line, ':');
        if (!colon)
            return "malformed HTTP header";
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        size_t vl = strlen(value);
        while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            value[--vl] = '\0';
        if (strcasecmp(line, "Content-Type") == 0) {
            size_t tl = strcspn(value, "; \t");
            if (tl >= sizeof resp->content_type)
                tl = sizeof resp->content_type - 1;
            for (size_t i = 0; i < tl; i++)
                resp->content_type[i] = (char)tolower((unsigned char)value[i]);
            resp->content_type[tl] = '\0';
        } else if (strcasecmp(line, "Content-Length") == 0) {
            size_t l;
            if (!parse_size(value, 10, &l) || (has_length && l != length))
                return "bad Content-Length";
            has_length = true;
            length = l;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            if (strcasecmp(value, "chunked") != 0)
                return "unsupported Transfer-Encoding";
            chunked = true;
        }
    }
    uint8_t *body = buf + pos;
    size_t body_len = n - pos;
    if (chunked) {
        const char *why = dechunk(body, &body_len);
        if (why)
            return why;
    } else if (has_length) {
        if (body_len < length)
            return "reply shorter than its Content-Length";
        if (body_len > length)
            return "reply longer than its Content-Length";
    }
    resp->body = malloc(body_len ? body_len : 1);
    if (!resp->body)
        return "out of memory";
    memcpy(resp->body, body, body_len);
    resp->body_len = body_len;
    return NULL;
}

const char *http_post(const char *url, const char *content_type,
                      const uint8_t *body, size_t len, int timeout_s,
                      http_response *resp)
{
    static char why_buf[512];
    memset(resp, 0, sizeof *resp);
    url_parts u;
    const char *why = parse_url(url, &u);
    if (why)
        return why;
    int fd = connect_to(&u, timeout_s, &why);
    if (fd < 0) {
        snprintf(why_buf, sizeof why_buf, "cannot connect to %s port %s: %s",
                 u.host, u.port, why);
        return why_buf;
    }
    char head[1600];
    bool v6 = strchr(u.host, ':') != NULL;
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\n"
                      "Host: %s%s%s%s%s\r\n"
                      "User-Agent: sello\r\n"
                      "Content-Type: %s\r\n"
                      "Content-Length: %zu\r\n"
                      "Connection: close\r\n"
                      "\r\n",
                      u.path, v6 ? "[" : "", u.host, v6 ? "]" : "",
                      strcmp(u.port, "80") ? ":" : "",
                      strcmp(u.port, "80") ? u.port : "", content_type, len);
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    if (hn < 0 || (size_t)hn >= sizeof head)
        why = "request header too long";
    if (!why)
        why = send_all(fd, (const uint8_t *)head, (size_t)hn, timeout_s);
    if (!why)
        why = send_all(fd, body, len, timeout_s);
    if (!why)
        why = recv_all(fd, timeout_s, &reply, &reply_len);
    close(fd);
    if (why)
        return why;
    why = parse_reply(reply, reply_len, resp);
    free(reply);
    if (why)
        http_response_free(resp);
    return why;
}

void http_response_free(http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}
