/*
 * Simulator transport: module ABI frames over a UNIX stream socket. Several
 * host links may be open at once (the relay's pipelined link, a test
 * client); frames are taken from them in turn and each answer goes back on
 * the link its request came from. A link that sends a broken header gets
 * the module's error answer and is closed, because a byte stream cannot be
 * resynchronised after a bad length.
 *
 * Pipes. A host may attach to the bytes it sends (SCM_RIGHTS) two file
 * descriptors: the read end of a pipe that will carry its further frames
 * and the write end of one for the answers, starting with the answer to
 * the frame they came with. Frames through pipes cost both sides less
 * than through the socket (no socket buffer per frame), which is what the
 * relay does. The descriptors are taken only as the first thing on a
 * link, and only if they are exactly a pipe's read end and a pipe's write
 * end; anything else received is closed and the link stays on the socket.
 * The pipes carry nothing the socket would not: the host can send any
 * frame either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sello/abi.h>
#include <sello/board.h>

#include "sim.h"

#define MAX_LINKS 16

typedef struct {
    int fd;              /* the connection */
    int rfd, wfd;        /* frames in, answers out: fd, or the pipes */
    bool fresh;          /* nothing received yet: pipes may come */
    size_t have;         /* octets buffered */
    bool close_after;    /* close once the pending answer is sent */
    uint8_t buf[2 * SELLO_FRAME_MAX];
} link_state;

volatile sig_atomic_t sim_stats_requested;

static const char *stats_path;
static unsigned long long stats_seq, stats_frames, stats_module_ns;
static unsigned long long stats_mark_ns; /* when the module got the frame */

static int listen_fd = -1;
static link_state links[MAX_LINKS];
static int current = -1;   /* link of the last frame handed to the module */
static int next_scan;      /* round-robin start */

static void link_close(int i)
{
    link_state *l = &links[i];
    if (l->rfd != l->fd)
        close(l->rfd);
    if (l->wfd != l->fd)
        close(l->wfd);
    close(l->fd);
    l->fd = l->rfd = l->wfd = -1;
    l->have = 0;
    l->close_after = false;
}

static unsigned long long cpu_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

void sim_transport_stats(const char *path)
{
    stats_path = path;
}

/* Replaces the stats file, whole (write, rename). */
static void stats_write(void)
{
    char tmp[4200], line[160];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", stats_path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return;
    n = snprintf(line, sizeof line,
                 "seq %llu frames %llu module_ns %llu process_ns %llu\n",
                 ++stats_seq, stats_frames, stats_module_ns,
                 cpu_ns(CLOCK_PROCESS_CPUTIME_ID));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    bool ok = write(fd, line, (size_t)n) == n;
    if (close(fd) == 0 && ok)
        rename(tmp, stats_path);
}

int sim_transport_listen(const char *path)
{
    for (int i = 0; i < MAX_LINKS; i++)
        links[i].fd = links[i].rfd = links[i].wfd = -1;
    /* A host that goes away leaves a pipe without reader: EPIPE, not a
     * signal. */
    signal(SIGPIPE, SIG_IGN);
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
            links[i].fd = links[i].rfd = links[i].wfd = fd;
            links[i].fresh = true;
            links[i].have = 0;
            links[i].close_after = false;
            return;
        }
    close(fd); /* all links busy */
}

/* True if fd is a pipe end open for `mode` (O_RDONLY or O_WRONLY). */
static bool is_pipe_end(int fd, int mode)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fl >= 0 &&
           (fl & O_ACCMODE) == mode;
}

/*
 * Reads from a link's socket, taking any descriptors that come along:
 * the pipes if they are the first thing on the link, else closed.
 */
static ssize_t read_socket(link_state *l, void *buf, size_t cap)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(2 * sizeof(int))];
    } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = ctl.space,
                          .msg_controllen = sizeof ctl.space };
    ssize_t n = recvmsg(l->fd, &msg, MSG_CMSG_CLOEXEC);
    int fds[2], nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
         c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t j = 0; j < k; j++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof fd);
            if (nfds < 2)
                fds[nfds++] = fd;
            else
                close(fd);
        }
    }
    bool take = n > 0 && l->fresh && nfds == 2 &&
                !(msg.msg_flags & MSG_CTRUNC) &&
                is_pipe_end(fds[0], O_RDONLY) && is_pipe_end(fds[1], O_WRONLY);
    if (take) {
        l->rfd = fds[0];
        l->wfd = fds[1];
    } else {
        for (int j = 0; j < nfds; j++)
            close(fds[j]);
    }
    if (n > 0)
        l->fresh = false;
    return n;
}

static void read_link(int i)
{
    link_state *l = &links[i];
    void *p = l->buf + l->have;
    size_t cap = sizeof l->buf - l->have;
    ssize_t n = l->rfd == l->fd ? read_socket(l, p, cap) : read(l->rfd, p, cap);
    if (n > 0)
        l->have += (size_t)n;
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        link_close(i);
}

sello_status sello_board_frame_recv(uint8_t *buf, size_t cap, size_t *len)
{
    for (;;) {
        if (sim_stats_requested) {
            sim_stats_requested = 0;
            if (stats_path != NULL)
                stats_write();
        }
        for (int k = 0; k < MAX_LINKS; k++) {
            int i = (next_scan + k) % MAX_LINKS;
            if (take_frame(i, buf, cap, len)) {
                next_scan = (i + 1) % MAX_LINKS;
                if (stats_path != NULL)
                    stats_mark_ns = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
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
                fds[n] = (struct pollfd){ links[i].rfd, POLLIN, 0 };
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
    if (stats_path != NULL) {
        stats_module_ns += cpu_ns(CLOCK_THREAD_CPUTIME_ID) - stats_mark_ns;
        stats_frames++;
    }
    if (current < 0 || links[current].fd < 0)
        return;
    link_state *l = &links[current];
    while (len) {
        ssize_t n = l->wfd == l->fd ? send(l->fd, frame, len, MSG_NOSIGNAL)
                                    : write(l->wfd, frame, len);
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
