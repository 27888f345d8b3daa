/* See loop.h. */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Ready descriptors taken per epoll_wait(): a loop has a handful. */
#define RELAY_LOOP_EVENTS 16

struct relay_loop {
    int epfd;
    int wakefd;
    struct relay_watch wake_watch;
};

static _Thread_local const struct relay_loop *relay_loop_current;

uint64_t relay_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int relay_timeout_min(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int relay_timeout_until(uint64_t now, uint64_t deadline)
{
    if (deadline <= now)
        return 0;
    uint64_t ms = (deadline - now + 999999u) / 1000000u;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void relay_loop_woken(struct relay_watch *w, uint32_t events)
{
    struct relay_loop *loop =
        (struct relay_loop *)((char *)w - offsetof(struct relay_loop,
                                                   wake_watch));
    uint64_t v;
    (void)events;
    /* Non-blocking: several wakes may share one read. */
    ssize_t n = read(loop->wakefd, &v, sizeof v);
    (void)n;
}

struct relay_loop *relay_loop_new(void)
{
    struct relay_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL) {
        relay_log(RELAY_LOG_ERROR, "out of memory for an event loop");
        return NULL;
    }
    loop->wakefd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd >= 0)
        loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    loop->wake_watch.ready = relay_loop_woken;
    if (loop->epfd < 0 || loop->wakefd < 0 ||
        !relay_loop_add(loop, loop->wakefd, EPOLLIN, &loop->wake_watch)) {
        relay_log(RELAY_LOG_ERROR, "cannot set up an event loop: %s",
                  strerror(errno));
        relay_loop_free(loop);
        return NULL;
    }
    return loop;
}

void relay_loop_free(struct relay_loop *loop)
{
    if (loop == NULL)
        return;
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop);
}

static bool relay_loop_ctl(struct relay_loop *loop, int op, int fd,
                           uint32_t events, struct relay_watch *w)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(loop->epfd, op, fd, &ev) == 0;
}

bool relay_loop_add(struct relay_loop *loop, int fd, uint32_t events,
                    struct relay_watch *w)
{
    return relay_loop_ctl(loop, EPOLL_CTL_ADD, fd, events, w);
}

bool relay_loop_mod(struct relay_loop *loop, int fd, uint32_t events,
                    struct relay_watch *w)
{
    return relay_loop_ctl(loop, EPOLL_CTL_MOD, fd, events, w);
}

void relay_loop_del(struct relay_loop *loop, int fd)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void relay_loop_turn(struct relay_loop *loop, int timeout_ms)
{
    struct epoll_event ev[RELAY_LOOP_EVENTS];
    relay_loop_current = loop;
    int n = epoll_wait(loop->epfd, ev, RELAY_LOOP_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno != EINTR)
            relay_log(RELAY_LOG_ERROR, "epoll_wait: %s", strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        struct relay_watch *w = ev[i].data.ptr;
        w->ready(w, ev[i].events);
    }
}

void relay_loop_wake(struct relay_loop *loop)
{
    uint64_t one = 1;
    ssize_t n = write(loop->wakefd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is full, so a wake is pending anyway */
}

bool relay_loop_is_current(const struct relay_loop *loop)
{
    return relay_loop_current == loop;
}
