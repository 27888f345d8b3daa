/*
 * Simulator transport: module ABI frames over a UNIX stream socket. Several
 * host links may be open at once (the relay's pipelined link, a test
 * client); frames are taken from them in turn and each answer goes back on
 * the link its request came from. A link that sends a broken header gets
 * the module's error answer and is closed, because a byte stream cannot be
 * resynchronised after a bad length.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sello/abi.h>
#include <sello/board.h>

#include "sim.h"

#define MAX_LINKS 16

typedef struct {
    int fd;
    size_t have;         /* octets buffered */
    bool close_after;    /* close once the pending answer is sent */
    uint8_t buf[2 * SELLO_FRAME_MAX];
} link_state;

static int listen_fd = -1;
static link_state links[MAX_LINKS];
static int current = -1;   /* link of the last frame handed to the module */
static int next_scan;      /* round-robin start */

static void link_close(int i)
{
    close(links[i].fd);
    links[i].fd = -1;
    links[i].have = 0;
    links[i].close_after = false;
}

int sim_transport_listen(const char *path)
{
    for (int i = 0; i < MAX_LINKS; i++)
        links[i].fd = -1;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    strcpy(sa.sun_path, path);
    unlink(path);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) ||
        listen(listen_fd, 16))
        return -1;
    return 0;
}

void sim_transport_close(void)
{
    for (int i = 0; i < MAX_LINKS; i++)
        if (links[i].fd >= 0)
            link_close(i);
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
}

/*
 * If link i holds a complete frame (or a header that can never become one),
 * copies it out and consumes it.
 */
static bool take_frame(int i, uint8_t *out, size_t cap, size_t *len)
{
    link_state *l = &links[i];
    if (l->fd < 0 || l->have < SELLO_FRAME_HEADER_LEN)
        return false;
    sello_frame_header h;
    size_t n = SELLO_FRAME_HEADER_LEN;
    if (sello_frame_header_read(l->buf, &h) != 0) {
        l->close_after = true; /* the module answers the header alone */
    } else {
        n += h.length;
        if (l->have < n)
            return false;
    }
    if (n > cap)
        return false;
    memcpy(out, l->buf, n);
    memmove(l->buf, l->buf + n, l->have - n);
    l->have -= n;
    *len = n;
    current = i;
    return true;
}

static void accept_link(void)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_LINKS; i++)
        if (links[i].fd < 0) {
            links[i].fd = fd;
            links[i].have = 0;
            links[i].close_after = false;
            return;
        }
    close(fd); /* all links busy */
}

static void read_link(int i)
{
    link_state *l = &links[i];
    ssize_t n = read(l->fd, l->buf + l->have, sizeof l->buf - l->have);
    if (n > 0)
        l->have += (size_t)n;
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        link_close(i);
}

sello_status sello_board_frame_recv(uint8_t *buf, size_t cap, size_t *len)
{
    for (;;) {
        for (int k = 0; k < MAX_LINKS; k++) {
            int i = (next_scan + k) % MAX_LINKS;
            if (take_frame(i, buf, cap, len)) {
                next_scan = (i + 1) % MAX_LINKS;
                return SELLO_OK;
            }
        }
        if (sim_stopping)
            return SELLO_ERR_FRAME;
        struct pollfd fds[MAX_LINKS + 1];
        int map[MAX_LINKS + 1], n = 0;
        fds[n] = (struct pollfd){ listen_fd, POLLIN, 0 };
        map[n++] = -1;
        for (int i = 0; i < MAX_LINKS; i++)
            if (links[i].fd >= 0 && links[i].have < sizeof links[i].buf) {
                fds[n] = (struct pollfd){ links[i].fd, POLLIN, 0 };
                map[n++] = i;
            }
        if (poll(fds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return SELLO_ERR_FRAME;
        }
        for (int k = 0; k < n; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map[k] < 0)
                accept_link();
            else
                read_link(map[k]);
        }
    }
}

void sello_board_frame_send(const uint8_t *frame, size_t len)
{
    if (current < 0 || links[current].fd < 0)
        return;
    link_state *l = &links[current];
    while (len) {
        ssize_t n = send(l->fd, frame, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            link_close(current);
            return;
        }
        frame += n;
        len -= (size_t)n;
    }
    if (l->close_after)
        link_close(current);
}
