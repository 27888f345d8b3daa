/*
 * The serial link: how module ABI frames (<sello/abi.h>) cross a byte link
 * that can lose, add or change octets, such as a bare-metal board's UART.
 * Both ends use this code: the board (freestanding) and the relay.
 *
 * On the wire every message is
 *
 *     0x00  COBS( message || CRC-32(message) )  0x00
 *
 * COBS (consistent overhead byte stuffing) removes every zero octet from
 * the encoded body, so 0x00 delimits messages and nothing else: a receiver
 * that joins mid-stream, or sees noise, is back in step at the next 0x00.
 * The CRC-32 (IEEE 802.3, as zlib's crc32(), four octets little-endian)
 * catches what the UART's framing does not. The leading delimiter ends
 * whatever half message (or noise) the receiver holds; an empty message
 * between two delimiters means nothing. The overhead is 2 delimiters,
 * 4 CRC octets and one COBS octet per 254 octets.
 *
 * A message is either one module ABI frame (first octet SELLO_FRAME_MAGIC)
 * or a link NAK: SELLO_LINK_NAK and one SELLO_LINK_BAD_* octet, which the
 * board sends when a damaged message reached it in place of a request.
 * Requests are answered in order, so a NAK stands where that request's
 * answer would have been; since the request it stands for cannot be
 * named with certainty (noise can look like a message too), a host drops
 * the link's in-flight requests and starts afresh (see host/module_link.c).
 */
#ifndef SELLO_SERIAL_LINK_H
#define SELLO_SERIAL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SELLO_LINK_DELIM 0x00u
#define SELLO_LINK_CRC_LEN 4u
/* First octet of a NAK message ("negative acknowledge" in ASCII). */
#define SELLO_LINK_NAK 0x15u
#define SELLO_LINK_NAK_LEN 2u

/* Why a message was refused (the decoder's SELLO_LINK_BAD result, and the
 * second octet of a NAK). */
#define SELLO_LINK_BAD_CRC 1u     /* the CRC does not match */
#define SELLO_LINK_BAD_COBS 2u    /* a COBS block ran into the delimiter */
#define SELLO_LINK_BAD_SHORT 3u   /* fewer octets than the CRC itself */
#define SELLO_LINK_BAD_LONG 4u    /* longer than the receiver's buffer */

/* Octets on the wire for a message of n octets, at most. */
#define SELLO_LINK_WIRE_MAX(n)                                                 \
    ((n) + SELLO_LINK_CRC_LEN + ((n) + SELLO_LINK_CRC_LEN) / 254u + 1u + 2u)

/* CRC-32/IEEE of p[0..n), continuing from `crc` (0 to start), the same
 * value zlib's crc32(crc, p, n) returns. */
uint32_t sello_crc32(uint32_t crc, const uint8_t *p, size_t n);

/*
 * Writes the wire form of msg[0..len) by calling put() with consecutive
 * pieces of it (pieces of the message itself are passed without copying).
 * Needs no buffer, so a board can send straight from the module's answer.
 */
void sello_link_encode(const uint8_t *msg, size_t len,
                       void (*put)(void *arg, const uint8_t *p, size_t n),
                       void *arg);

/* The decoder's results. */
enum {
    SELLO_LINK_MORE = 0,  /* nothing complete yet: feed more octets */
    SELLO_LINK_MESSAGE,   /* buf[0..len) holds a message whose CRC matched */
    SELLO_LINK_BAD,       /* a delimiter ended a damaged message; `why` */
};

/*
 * A receiver. Decodes into the caller's buffer, without room for the CRC:
 * the last four octets are held back here until the delimiter shows they
 * were the CRC. Starts out of step: everything up to the first delimiter
 * is dropped.
 */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;        /* message octets in buf */
    uint32_t crc;      /* CRC-32 of buf[0..len), running */
    uint8_t held[SELLO_LINK_CRC_LEN]; /* the newest decoded octets */
    uint8_t held_n;
    uint8_t block_left; /* octets still to come in the current COBS block */
    bool block_full;    /* current block is 254 octets: no implied zero */
    bool zero_pending;  /* a block ended; its zero is real unless the
                           message ends here */
    bool in_step;       /* a delimiter has been seen */
    bool started;       /* octets of the current message have arrived */
    bool delivered;     /* the message in buf was handed out */
    uint8_t bad;        /* a SELLO_LINK_BAD_* already known, or 0 */
    uint8_t why;        /* after SELLO_LINK_BAD: the reason */
} sello_link_rx;

void sello_link_rx_init(sello_link_rx *rx, uint8_t *buf, size_t cap);

/*
 * Feeds octets from p[0..n) up to and including the first one that
 * completes something. Returns how many it took and sets *result; after
 * SELLO_LINK_MESSAGE, rx->buf[0..rx->len) is the message until the next
 * call.
 */
size_t sello_link_rx_feed(sello_link_rx *rx, const uint8_t *p, size_t n,
                          int *result);

#endif
