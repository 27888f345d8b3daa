/*
 * Socket addresses as the relay's options spell them, and the few socket
 * set-up steps shared by the HTTP listener and the module link.
 */
#ifndef RELAY_NET_H
#define RELAY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A resolved stream-socket address plus its spelling for log lines. */
struct relay_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    /* Module addresses only: frames cross a serial link (a UART behind a
     * socket) in the framing of <sello/serial_link.h>, not raw. */
    bool serial;
    char text[128];
};

/*
 * Parses "host:port" or "[v6-address]:port" and resolves it (the first
 * address getaddrinfo gives). `passive` resolves for bind(). Returns false
 * after logging why.
 */
bool relay_addr_parse_inet(const char *spec, bool passive,
                           struct relay_addr *out);

/*
 * Parses a module address. Raw frames: "unix:/path/to/socket" (the
 * simulator) or "tcp:host:port" (a board behind a TCP bridge that carries
 * frames as they are). Serial-framed (sets `serial`): "serial:tcp:host:port"
 * or "serial:unix:/path", a board's UART behind a socket, such as QEMU's
 * socket chardev, which can lose, add or change octets. Returns false
 * after logging why.
 */
bool relay_addr_parse_module(const char *spec, struct relay_addr *out);

/*
 * A listening TCP socket on `a` (SO_REUSEADDR; IPv6 sockets are v6-only so
 * that "[::]:port" and "0.0.0.0:port" mean what they say). Returns the
 * descriptor, or -1 after logging why.
 */
int relay_listen_inet(const struct relay_addr *a, int backlog);

/*
 * Starts a non-blocking stream connection to `a` in *fd. Returns 0 when it
 * is established, 1 while it is in progress (the socket turns writable,
 * then SO_ERROR tells), or -1 with errno set and no socket. TCP gets
 * TCP_NODELAY because frames are complete messages that must not wait for
 * Nagle.
 */
int relay_connect_start(const struct relay_addr *a, int *fd);

/*
 * Sends a frame header (SELLO_FRAME_HEADER_LEN octets) and its payload with
 * one sendmsg() (MSG_NOSIGNAL), looping only if the socket takes part of
 * it. Returns false with errno set; the frame may then be half sent.
 */
bool relay_send_frame(int fd, const uint8_t *hdr, const uint8_t *payload,
                      size_t len);

#endif
