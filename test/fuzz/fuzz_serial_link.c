/*
 * libFuzzer target: the serial link decoder (board/common/serial_link.c,
 * <sello/serial_link.h>) on any octets, as a relay or a board meets them.
 *
 * Octet 0 is the receiver's room (0..255 octets, in a heap block of exactly
 * that size, so that AddressSanitizer sees any overrun), octet 1 how many
 * octets each sello_link_rx_feed() call gets (0: all at once), the rest the
 * stream. Every result must be the one that a reference decoder written
 * here from the format's description gives at the same delimiter (split at
 * the delimiters, textbook COBS, bitwise CRC-32); every message must fit
 * the room, and must encode again to a wire image of the promised shape
 * and size that decodes to the same message. Any disagreement aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sello/serial_link.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STREAM 65536u
#define MAX_ROOM 255u

/* ---- reference -------------------------------------------------------------- */

/* What the reference decoder says about one delimiter. */
typedef struct {
    size_t at;   /* the delimiter's index in the stream */
    int result;  /* SELLO_LINK_MESSAGE or SELLO_LINK_BAD */
    uint8_t why; /* for SELLO_LINK_BAD */
    size_t off, len; /* the message, in ref_arena */
} ref_event;

static ref_event ref[MAX_STREAM];
static uint8_t ref_arena[MAX_STREAM];
static uint8_t segment[MAX_STREAM];

static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1u ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return ~c;
}

/* The events of stream s[0..n) for a receiver with `room` octets. */
static size_t reference(const uint8_t *s, size_t n, size_t room)
{
    size_t events = 0, arena = 0, start = 0;
    bool in_step = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != 0)
            continue;
        if (in_step && i > start) {
            /* Textbook COBS over s[start..i): each code octet c is followed
             * by c - 1 data octets and, unless c is 0xff or it is the last
             * block, a zero. */
            size_t k = start, out = 0;
            bool truncated = false;
            while (k < i) {
                size_t take = (size_t)s[k] - 1u;
                bool full = s[k] == 0xffu;
                k++;
                if (take > i - k) {
                    take = i - k;
                    truncated = true;
                }
                memcpy(segment + out, s + k, take);
                out += take;
                k += take;
                if (!full && k < i)
                    segment[out++] = 0;
            }
            ref_event *e = &ref[events++];
            e->at = i;
            e->result = SELLO_LINK_BAD;
            e->off = e->len = 0;
            if (out > room + SELLO_LINK_CRC_LEN) {
                e->why = SELLO_LINK_BAD_LONG;
            } else if (truncated) {
                e->why = SELLO_LINK_BAD_COBS;
            } else if (out < SELLO_LINK_CRC_LEN) {
                e->why = SELLO_LINK_BAD_SHORT;
            } else {
                size_t len = out - SELLO_LINK_CRC_LEN;
                uint32_t sent = (uint32_t)segment[len] |
                                (uint32_t)segment[len + 1] << 8 |
                                (uint32_t)segment[len + 2] << 16 |
                                (uint32_t)segment[len + 3] << 24;
                if (ref_crc32(segment, len) != sent) {
                    e->why = SELLO_LINK_BAD_CRC;
                } else {
                    e->result = SELLO_LINK_MESSAGE;
                    e->why = 0;
                    e->off = arena;
                    e->len = len;
                    memcpy(ref_arena + arena, segment, len);
                    arena += len;
                }
            }
        }
        in_step = true;
        start = i + 1;
    }
    return events;
}

/* ---- re-encoding ------------------------------------------------------------ */

typedef struct {
    uint8_t b[SELLO_LINK_WIRE_MAX(MAX_ROOM)];
    size_t len, limit;
} wire_buf;

static void wire_put(void *arg, const uint8_t *p, size_t n)
{
    wire_buf *w = arg;
    if (n > w->limit - w->len)
        abort(); /* more than SELLO_LINK_WIRE_MAX promises */
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

/* msg[0..len), just decoded, encodes to a well-formed wire image that
 * decodes to it again. */
static void check_reencodes(const uint8_t *msg, size_t len, size_t room)
{
    static wire_buf w;
    w.len = 0;
    w.limit = SELLO_LINK_WIRE_MAX(len);
    sello_link_encode(msg, len, wire_put, &w);
    if (w.len < 2 + 1 + SELLO_LINK_CRC_LEN + len || w.b[0] != 0 ||
        w.b[w.len - 1] != 0 || memchr(w.b + 1, 0, w.len - 2) != NULL)
        abort();

    uint8_t *again = malloc(room > 0 ? room : 1);
    if (again == NULL)
        abort();
    sello_link_rx rx;
    sello_link_rx_init(&rx, again, room);
    int result = -1;
    size_t took = sello_link_rx_feed(&rx, w.b, w.len, &result);
    if (took != w.len || result != SELLO_LINK_MESSAGE || rx.len != len ||
        memcmp(again, msg, len) != 0)
        abort();
    free(again);
}

/* ---- the target ------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t room = data[0];
    size_t chunk = data[1];
    const uint8_t *s = data + 2;
    size_t n = size - 2 < MAX_STREAM ? size - 2 : MAX_STREAM;
    size_t expected = reference(s, n, room);

    /* malloc(0) may return NULL, which the decoder need not accept. */
    uint8_t *buf = malloc(room > 0 ? room : 1);
    if (buf == NULL)
        abort();
    sello_link_rx rx;
    sello_link_rx_init(&rx, buf, room);
    size_t off = 0, seen = 0;
    while (off < n) {
        size_t piece = chunk == 0 || n - off < chunk ? n - off : chunk;
        int result = -1;
        size_t took = sello_link_rx_feed(&rx, s + off, piece, &result);
        if (took == 0 || took > piece || rx.len > rx.cap || rx.cap != room)
            abort();
        off += took;
        if (result == SELLO_LINK_MORE) {
            if (took != piece)
                abort();
            continue;
        }
        /* Something completed: the reference's next event, at the same
         * delimiter. */
        if (seen == expected)
            abort();
        const ref_event *e = &ref[seen++];
        if (e->at != off - 1 || e->result != result)
            abort();
        if (result == SELLO_LINK_BAD) {
            if (rx.why != e->why)
                abort();
            continue;
        }
        if (result != SELLO_LINK_MESSAGE || rx.why != 0 || rx.buf != buf ||
            rx.len != e->len ||
            memcmp(rx.buf, ref_arena + e->off, e->len) != 0)
            abort();
        check_reencodes(rx.buf, rx.len, room);
    }
    if (seen != expected)
        abort();
    free(buf);
    return 0;
}
