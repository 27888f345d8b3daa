/*
 * The relay's event loops: one thread around one epoll set each.
 *
 * The data path of a token runs in one loop and one thread: libmicrohttpd
 * in its external-event-loop mode (its own epoll set nested in the loop's)
 * and the module link's socket side by side. A module answer therefore
 * resumes its HTTP connection without waking another thread, and every
 * frame a loop turn produced goes to the module in one write.
 *
 * Other threads (admin clients, further HTTP loops with --threads) reach a
 * loop only through relay_loop_wake(), which makes its next turn return.
 */
#ifndef RELAY_LOOP_H
#define RELAY_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct relay_loop;

/* What a loop runs when a registered descriptor is ready. Embed it in the
 * owner's state and recover the owner with offsetof. */
struct relay_watch {
    void (*ready)(struct relay_watch *w, uint32_t events);
};

/* Returns NULL after logging why. */
struct relay_loop *relay_loop_new(void);
void relay_loop_free(struct relay_loop *loop);

/* epoll_ctl() ADD, MOD and DEL for `fd` (level-triggered unless `events`
 * says EPOLLET). Return false with errno set. */
bool relay_loop_add(struct relay_loop *loop, int fd, uint32_t events,
                    struct relay_watch *w);
bool relay_loop_mod(struct relay_loop *loop, int fd, uint32_t events,
                    struct relay_watch *w);
void relay_loop_del(struct relay_loop *loop, int fd);

/* Waits up to `timeout_ms` (-1: no limit) for ready descriptors or a wake
 * and runs their watches. Marks the calling thread as the loop's own. */
void relay_loop_turn(struct relay_loop *loop, int timeout_ms);

/* Makes the loop's current or next turn return. Any thread. */
void relay_loop_wake(struct relay_loop *loop);

/* True on the thread that runs `loop`'s turns. */
bool relay_loop_is_current(const struct relay_loop *loop);

/* Monotonic clock, nanoseconds. */
uint64_t relay_now_ns(void);

/* The smaller of two timeouts in relay_loop_turn()'s sense (-1 = none). */
int relay_timeout_min(int a, int b);

/* Milliseconds from `now` until `deadline` (both relay_now_ns()), rounded
 * up so that a turn never wakes just before it; 0 if past. */
int relay_timeout_until(uint64_t now, uint64_t deadline);

#endif
