/*
 * The serial link codec (board/common/serial_link.c, <sello/serial_link.h>),
 * which the board and the relay share.
 *
 * - CRC-32/IEEE known answers (no zlib here: the values are the published
 *   check value and vectors computed elsewhere), and continuation.
 * - Wire images of a few messages, computed with an independent COBS
 *   encoder (Python, zlib.crc32).
 * - Round trips for every length 0..600, around the COBS block edges and
 *   up to SELLO_FRAME_MAX, with all-zero, zero-free and random content;
 *   every wire image starts and ends with the delimiter, has no zero in
 *   between and fits SELLO_LINK_WIRE_MAX.
 * - The decoder: noise before the first delimiter is dropped, noise
 *   between delimiters is one BAD; every single-octet corruption of a
 *   small message is refused; truncation, short and long messages give
 *   their reasons and the next message decodes; empty messages are
 *   nothing; the result never depends on how the octets are split up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>
#include <sello/serial_link.h>

#include "testutil.h"

#define WIRE_CAP (SELLO_LINK_WIRE_MAX(SELLO_FRAME_MAX) + 64u)

/* ---- helpers ---------------------------------------------------------------- */

/* An encoder's output. */
typedef struct {
    uint8_t b[WIRE_CAP];
    size_t len;
} wire_buf;

static void wire_put(void *arg, const uint8_t *p, size_t n)
{
    wire_buf *w = arg;
    assert_true(n <= sizeof w->b - w->len);
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

static void encode(const uint8_t *msg, size_t len, wire_buf *w)
{
    w->len = 0;
    sello_link_encode(msg, len, wire_put, w);
}

/* What a decoder made of a stream: its results other than MORE, with a
 * copy of each message. */
#define MAX_EVENTS 64
typedef struct {
    size_t n;
    struct {
        int result;
        uint8_t why;
        size_t len;
        size_t at; /* the message's octets in arena */
    } ev[MAX_EVENTS];
    uint8_t arena[4 * SELLO_FRAME_MAX];
    size_t arena_len;
} events;

/* Feeds p[0..n) in pieces of at most `chunk` octets (0: all at once),
 * recording every result, and checks what feed() reports taking. */
static void feed(sello_link_rx *rx, const uint8_t *p, size_t n, size_t chunk,
                 events *out)
{
    size_t off = 0;
    while (off < n) {
        size_t piece = chunk == 0 || n - off < chunk ? n - off : chunk;
        int result = -1;
        size_t took = sello_link_rx_feed(rx, p + off, piece, &result);
        assert_true(took >= 1 && took <= piece);
        if (result == SELLO_LINK_MORE) {
            assert_int_equal(took, piece);
        } else {
            /* It stops at the delimiter that completed something. */
            assert_int_equal(p[off + took - 1], SELLO_LINK_DELIM);
            assert_true(out->n < MAX_EVENTS);
            assert_true(result == SELLO_LINK_MESSAGE ||
                        result == SELLO_LINK_BAD);
            out->ev[out->n].result = result;
            out->ev[out->n].why = rx->why;
            out->ev[out->n].len = 0;
            out->ev[out->n].at = out->arena_len;
            if (result == SELLO_LINK_MESSAGE) {
                assert_true(rx->len <= rx->cap);
                assert_true(rx->len <= sizeof out->arena - out->arena_len);
                memcpy(out->arena + out->arena_len, rx->buf, rx->len);
                out->arena_len += rx->len;
                out->ev[out->n].len = rx->len;
                assert_int_equal(rx->why, 0);
            } else {
                assert_true(rx->why >= SELLO_LINK_BAD_CRC &&
                            rx->why <= SELLO_LINK_BAD_LONG);
            }
            out->n++;
        }
        off += took;
    }
}

static const uint8_t delim[1] = {SELLO_LINK_DELIM};

static void assert_message(const events *e, size_t i, const uint8_t *msg,
                           size_t len)
{
    assert_true(i < e->n);
    assert_int_equal(e->ev[i].result, SELLO_LINK_MESSAGE);
    assert_bytes_equal(e->arena + e->ev[i].at, e->ev[i].len, msg, len);
}

static void assert_bad(const events *e, size_t i, uint8_t why)
{
    assert_true(i < e->n);
    assert_int_equal(e->ev[i].result, SELLO_LINK_BAD);
    assert_int_equal(e->ev[i].why, why);
}

static uint32_t rng_state = 0x2545f491u;

static uint8_t rng_octet(void)
{
    uint32_t x = rng_state; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return (uint8_t)(x >> 24);
}

enum fill { FILL_ZERO, FILL_NO_ZERO, FILL_RANDOM, FILL_ZERO_AT_EDGES };

static void fill(uint8_t *p, size_t n, enum fill how)
{
    for (size_t i = 0; i < n; i++) {
        switch (how) {
        case FILL_ZERO:
            p[i] = 0;
            break;
        case FILL_NO_ZERO:
            p[i] = (uint8_t)(1u + i % 255u);
            break;
        case FILL_RANDOM:
            p[i] = rng_octet();
            break;
        case FILL_ZERO_AT_EDGES: /* zeros where COBS blocks end */
            p[i] = i % 254u == 253u || i % 254u == 0 ? 0 : 0xa5;
            break;
        }
    }
}

static uint8_t frame_buf[SELLO_FRAME_MAX];
static uint8_t msg_buf[SELLO_FRAME_MAX];
static wire_buf wire, wire2;
static events ev;

/* Encodes msg[0..len), checks the wire image's shape, and decodes it
 * (after another message, so the decoder is in step) all at once. */
static void round_trip(const uint8_t *msg, size_t len)
{
    encode(msg, len, &wire);
    assert_true(wire.len >= 2 + 1 + SELLO_LINK_CRC_LEN + len);
    assert_true(wire.len <= SELLO_LINK_WIRE_MAX(len));
    assert_int_equal(wire.b[0], SELLO_LINK_DELIM);
    assert_int_equal(wire.b[wire.len - 1], SELLO_LINK_DELIM);
    assert_null(memchr(wire.b + 1, 0, wire.len - 2));

    sello_link_rx rx;
    sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
    ev.n = 0;
    ev.arena_len = 0;
    static const uint8_t first[] = {0x03, 0x01, 0x02}; /* 2 octets */
    feed(&rx, delim, 1, 0, &ev);
    feed(&rx, first, sizeof first, 0, &ev);
    feed(&rx, wire.b, wire.len, 0, &ev);
    assert_int_equal(ev.n, 2);
    assert_bad(&ev, 0, SELLO_LINK_BAD_SHORT);
    assert_message(&ev, 1, msg, len);
}

/* ---- CRC-32 ----------------------------------------------------------------- */

static void test_crc32_known_answers(void **state)
{
    (void)state;
    /* The catalogue's check value of CRC-32/ISO-HDLC, and vectors of the
     * same CRC from other implementations. */
    static const struct {
        const char *text;
        uint32_t crc;
    } v[] = {
        {"123456789", 0xcbf43926u},
        {"", 0x00000000u},
        {"a", 0xe8b7be43u},
        {"The quick brown fox jumps over the lazy dog", 0x414fa339u},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(sello_crc32(0, (const uint8_t *)v[i].text,
                                     strlen(v[i].text)),
                         v[i].crc);
    uint8_t zeros[32], ones[32];
    memset(zeros, 0, sizeof zeros);
    memset(ones, 0xff, sizeof ones);
    assert_int_equal(sello_crc32(0, zeros, sizeof zeros), 0x190a55adu);
    assert_int_equal(sello_crc32(0, ones, sizeof ones), 0xff6cab0bu);
}

static void test_crc32_continues(void **state)
{
    (void)state;
    const uint8_t *p = (const uint8_t *)"123456789";
    for (size_t cut = 0; cut <= 9; cut++)
        assert_int_equal(sello_crc32(sello_crc32(0, p, cut), p + cut, 9 - cut),
                         0xcbf43926u);
}

/* ---- encoder ---------------------------------------------------------------- */

static void test_encode_known_wire_images(void **state)
{
    (void)state;
    /* From an independent encoder: Python, zlib.crc32 and textbook COBS. */
    static const struct {
        const char *msg, *wire;
    } v[] = {
        {"", "00010101010100"},
        {"110022", "0002110622b151c53700"},
        {"530100000000000700000000", "0003530101010101020701010105434d9e4300"},
        {"1501", "000715017dc46b0100"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t msg[32], want[64];
        size_t mlen = strlen(v[i].msg) / 2, wlen = strlen(v[i].wire) / 2;
        for (size_t k = 0; k < mlen; k++)
            assert_int_equal(sscanf(v[i].msg + 2 * k, "%2hhx", &msg[k]), 1);
        for (size_t k = 0; k < wlen; k++)
            assert_int_equal(sscanf(v[i].wire + 2 * k, "%2hhx", &want[k]), 1);
        encode(msg, mlen, &wire);
        assert_bytes_equal(wire.b, wire.len, want, wlen);
        round_trip(msg, mlen);
    }
}

static void test_round_trip_lengths_0_to_600(void **state)
{
    (void)state;
    static const enum fill how[] = {FILL_ZERO, FILL_NO_ZERO, FILL_RANDOM};
    for (size_t h = 0; h < sizeof how / sizeof how[0]; h++) {
        for (size_t len = 0; len <= 600; len++) {
            fill(msg_buf, len, how[h]);
            round_trip(msg_buf, len);
        }
    }
}

static void test_round_trip_block_edges(void **state)
{
    (void)state;
    /* The CRC makes the encoded sequence 4 octets longer than the
     * message, so both the message's and the sequence's block edges. */
    static const size_t lens[] = {
        246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258,
        500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 510, 511, 512,
        762, 763, 764, 1016, 1017, 4096, SELLO_FRAME_MAX - 1, SELLO_FRAME_MAX,
    };
    static const enum fill how[] = {FILL_ZERO, FILL_NO_ZERO, FILL_RANDOM,
                                    FILL_ZERO_AT_EDGES};
    for (size_t h = 0; h < sizeof how / sizeof how[0]; h++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            fill(msg_buf, lens[i], how[h]);
            round_trip(msg_buf, lens[i]);
        }
    }
}

static void test_wire_max_is_reached(void **state)
{
    (void)state;
    /* Zero-free and one octet past a whole number of 254-octet blocks: the
     * most COBS octets a sequence of that length can need. The message is
     * tuned until its CRC has no zero octet either. */
    size_t len = 2 * 254 + 1 - SELLO_LINK_CRC_LEN;
    bool found = false;
    for (unsigned t = 1; t < 256 && !found; t++) {
        fill(msg_buf, len, FILL_NO_ZERO);
        msg_buf[0] = (uint8_t)t;
        uint32_t crc = sello_crc32(0, msg_buf, len);
        found = (crc & 0xffu) && (crc & 0xff00u) && (crc & 0xff0000u) &&
                (crc & 0xff000000u);
    }
    assert_true(found);
    encode(msg_buf, len, &wire);
    assert_int_equal(wire.len, SELLO_LINK_WIRE_MAX(len));
    round_trip(msg_buf, len);
}

/* ---- decoder ---------------------------------------------------------------- */

static void test_noise_before_and_between_messages(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x53, 0x01, 0x00, 0x7f, 0x00, 0x00, 0x42};
    static const uint8_t noise_out_of_step[] = {0x01, 0x02, 0x03, 0xff, 0x80};
    static const uint8_t noise[] = {0x03, 0x10, 0x20}; /* 2 octets */
    encode(msg, sizeof msg, &wire);

    sello_link_rx rx;
    sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
    ev.n = 0;
    ev.arena_len = 0;
    /* Joining mid-stream: dropped up to the first delimiter. */
    feed(&rx, noise_out_of_step, sizeof noise_out_of_step, 0, &ev);
    feed(&rx, delim, 1, 0, &ev);
    assert_int_equal(ev.n, 0);
    /* In step now: noise up to the message's own delimiter is one BAD,
     * then the message. */
    feed(&rx, noise, sizeof noise, 0, &ev);
    feed(&rx, wire.b, wire.len, 0, &ev);
    assert_int_equal(ev.n, 2);
    assert_bad(&ev, 0, SELLO_LINK_BAD_SHORT);
    assert_message(&ev, 1, msg, sizeof msg);

    /* A fresh decoder fed noise and then the message: the message's
     * leading delimiter puts it in step, and only the message comes. */
    sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
    ev.n = 0;
    feed(&rx, noise_out_of_step, sizeof noise_out_of_step, 0, &ev);
    feed(&rx, wire.b, wire.len, 0, &ev);
    assert_int_equal(ev.n, 1);
    assert_message(&ev, 0, msg, sizeof msg);
}

static void test_every_single_octet_corruption_rejected(void **state)
{
    (void)state;
    /* A small frame-like message with zeros, a NAK, and the empty one. */
    static const uint8_t frame[] = {0x53, 0x01, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x07, 0x00, 0x00, 0x00, 0x03,
                                    0x30, 0x01, 0xff};
    static const uint8_t nak[] = {SELLO_LINK_NAK, SELLO_LINK_BAD_CRC};
    static const struct {
        const uint8_t *msg;
        size_t len;
    } msgs[] = {{frame, sizeof frame}, {nak, sizeof nak}, {NULL, 0}};
    unsigned trials = 0;
    for (size_t m = 0; m < sizeof msgs / sizeof msgs[0]; m++) {
        encode(msgs[m].msg, msgs[m].len, &wire);
        for (size_t pos = 0; pos < wire.len; pos++) {
            for (unsigned x = 1; x < 256; x++) {
                memcpy(wire2.b, wire.b, wire.len);
                wire2.len = wire.len;
                wire2.b[pos] ^= (uint8_t)x;
                sello_link_rx rx;
                sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
                ev.n = 0;
                ev.arena_len = 0;
                /* In step before, and a delimiter after, so that nothing
                 * is left undecided. */
                feed(&rx, delim, 1, 0, &ev);
                feed(&rx, wire2.b, wire2.len, 0, &ev);
                feed(&rx, delim, 1, 0, &ev);
                assert_true(ev.n >= 1);
                for (size_t i = 0; i < ev.n; i++) {
                    if (ev.ev[i].result == SELLO_LINK_MESSAGE)
                        fail_msg("corruption ^%02x at %zu of message %zu "
                                 "decoded as a %zu-octet message",
                                 x, pos, m, ev.ev[i].len);
                }
                trials++;
            }
        }
    }
    assert_true(trials > 255u * 20u);
}

static void test_truncated_mid_block_is_bad_cobs(void **state)
{
    (void)state;
    uint8_t msg[40];
    fill(msg, sizeof msg, FILL_NO_ZERO); /* one block of 40+ octets */
    encode(msg, sizeof msg, &wire);
    assert_true(wire.b[1] >= 1 + sizeof msg);
    sello_link_rx rx;
    sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
    /* Cut anywhere inside the block: the delimiter comes too early. */
    for (size_t cut = 2; cut < 2 + sizeof msg; cut++) {
        ev.n = 0;
        ev.arena_len = 0;
        feed(&rx, wire.b, cut, 0, &ev);
        feed(&rx, delim, 1, 0, &ev);
        assert_int_equal(ev.n, 1);
        assert_bad(&ev, 0, SELLO_LINK_BAD_COBS);
    }
    /* Cut at a block edge: COBS cannot tell, the CRC does. */
    static const uint8_t zeros_msg[] = {0x11, 0x00, 0x22, 0x00, 0x33,
                                        0x00, 0x44, 0x55, 0x66, 0x77};
    encode(zeros_msg, sizeof zeros_msg, &wire);
    ev.n = 0;
    feed(&rx, wire.b, 1 + 2 + 2 + 2, 0, &ev); /* 3 of the blocks */
    feed(&rx, delim, 1, 0, &ev);
    assert_int_equal(ev.n, 1);
    assert_bad(&ev, 0, SELLO_LINK_BAD_CRC);
    /* And the whole message decodes after all of that. */
    ev.n = 0;
    feed(&rx, wire.b, wire.len, 0, &ev);
    assert_int_equal(ev.n, 1);
    assert_message(&ev, 0, zeros_msg, sizeof zeros_msg);
}

static void test_short_and_crc_mismatch(void **state)
{
    (void)state;
    sello_link_rx rx;
    sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
    ev.n = 0;
    ev.arena_len = 0;
    /* Three decoded octets: fewer than a CRC. */
    static const uint8_t short3[] = {0x00, 0x04, 0x01, 0x02, 0x03, 0x00};
    feed(&rx, short3, sizeof short3, 0, &ev);
    /* Four octets that are not the CRC of the empty message. */
    static const uint8_t bad_crc[] = {0x05, 0x01, 0x02, 0x03, 0x04, 0x00};
    feed(&rx, bad_crc, sizeof bad_crc, 0, &ev);
    /* One data bit flipped in a whole message. */
    static const uint8_t msg[] = {0x53, 0x01, 0x02, 0x03};
    encode(msg, sizeof msg, &wire);
    wire.b[2] ^= 0x01;
    feed(&rx, wire.b, wire.len, 0, &ev);
    assert_int_equal(ev.n, 3);
    assert_bad(&ev, 0, SELLO_LINK_BAD_SHORT);
    assert_bad(&ev, 1, SELLO_LINK_BAD_CRC);
    assert_bad(&ev, 2, SELLO_LINK_BAD_CRC);
}

static void test_too_long_is_bad_long_then_next_decodes(void **state)
{
    (void)state;
    uint8_t small[16];
    sello_link_rx rx;
    sello_link_rx_init(&rx, small, sizeof small);
    static const size_t too_long[] = {17, 18, 20, 21, 300, SELLO_FRAME_MAX};
    for (size_t i = 0; i < sizeof too_long / sizeof too_long[0]; i++) {
        fill(msg_buf, too_long[i], FILL_RANDOM);
        encode(msg_buf, too_long[i], &wire);
        ev.n = 0;
        ev.arena_len = 0;
        feed(&rx, wire.b, wire.len, 0, &ev);
        assert_int_equal(ev.n, 1);
        assert_bad(&ev, 0, SELLO_LINK_BAD_LONG);
        assert_true(rx.len <= rx.cap);
        /* The next message that fits decodes. */
        fill(msg_buf, sizeof small, FILL_RANDOM);
        encode(msg_buf, sizeof small, &wire);
        ev.n = 0;
        ev.arena_len = 0;
        feed(&rx, wire.b, wire.len, 0, &ev);
        assert_int_equal(ev.n, 1);
        assert_message(&ev, 0, msg_buf, sizeof small);
    }
    /* A receiver without room takes the empty message only. */
    sello_link_rx_init(&rx, small, 0);
    ev.n = 0;
    ev.arena_len = 0;
    encode(msg_buf, 1, &wire);
    feed(&rx, wire.b, wire.len, 0, &ev);
    encode(msg_buf, 0, &wire);
    feed(&rx, wire.b, wire.len, 0, &ev);
    assert_int_equal(ev.n, 2);
    assert_bad(&ev, 0, SELLO_LINK_BAD_LONG);
    assert_message(&ev, 1, msg_buf, 0);
}

static void test_empty_messages_produce_nothing(void **state)
{
    (void)state;
    sello_link_rx rx;
    sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
    static const uint8_t delims[8] = {0};
    int result = -1;
    assert_int_equal(sello_link_rx_feed(&rx, delims, sizeof delims, &result),
                     sizeof delims);
    assert_int_equal(result, SELLO_LINK_MORE);

    /* Runs of delimiters between and around two messages. */
    static const uint8_t m1[] = {0x53, 0x00, 0x01};
    static const uint8_t m2[] = {SELLO_LINK_NAK, SELLO_LINK_BAD_COBS};
    ev.n = 0;
    ev.arena_len = 0;
    encode(m1, sizeof m1, &wire);
    feed(&rx, wire.b, wire.len, 0, &ev);
    feed(&rx, delims, sizeof delims, 0, &ev);
    encode(m2, sizeof m2, &wire);
    feed(&rx, wire.b, wire.len, 0, &ev);
    feed(&rx, delims, 3, 0, &ev);
    assert_int_equal(ev.n, 2);
    assert_message(&ev, 0, m1, sizeof m1);
    assert_message(&ev, 1, m2, sizeof m2);
}

static void test_feed_stops_after_each_message(void **state)
{
    (void)state;
    static const uint8_t m1[] = {0x01, 0x02, 0x03};
    static const uint8_t m2[] = {0x04, 0x00, 0x06, 0x07};
    encode(m1, sizeof m1, &wire);
    encode(m2, sizeof m2, &wire2);
    uint8_t both[64];
    memcpy(both, wire.b, wire.len);
    memcpy(both + wire.len, wire2.b, wire2.len);

    sello_link_rx rx;
    sello_link_rx_init(&rx, frame_buf, sizeof frame_buf);
    int result = -1;
    size_t took = sello_link_rx_feed(&rx, both, wire.len + wire2.len, &result);
    assert_int_equal(result, SELLO_LINK_MESSAGE);
    assert_int_equal(took, wire.len);
    assert_bytes_equal(rx.buf, rx.len, m1, sizeof m1);
    took += sello_link_rx_feed(&rx, both + took, wire.len + wire2.len - took,
                               &result);
    assert_int_equal(result, SELLO_LINK_MESSAGE);
    assert_int_equal(took, wire.len + wire2.len);
    assert_bytes_equal(rx.buf, rx.len, m2, sizeof m2);
    /* Nothing more, and the next call forgets the message. */
    assert_int_equal(sello_link_rx_feed(&rx, both, 0, &result), 0);
    assert_int_equal(result, SELLO_LINK_MORE);
    assert_int_equal(rx.len, 0);
}

/* A stream with a bit of everything for a receiver of rx_cap octets:
 * out-of-step noise, messages of many lengths, noise between them, a
 * damaged and an overlong message. */
static size_t mixed_stream(uint8_t *out, size_t cap, size_t rx_cap)
{
    size_t n = 0;
#define APPEND(p, len)                                                         \
    do {                                                                       \
        assert_true((len) <= cap - n);                                         \
        memcpy(out + n, (p), (len));                                           \
        n += (len);                                                            \
    } while (0)
    /* Two segments: "07 99" ends at its delimiter, "42 42" at the next
     * message's. */
    static const uint8_t noise[] = {0x07, 0x99, 0x00, 0x42, 0x42};
    APPEND(noise + 3, 2); /* before the first delimiter */
    /* The last exactly the receiver's room. */
    const size_t lens[] = {0, 1, 2, 12, 253, 254, 255, 600, rx_cap};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        fill(msg_buf, lens[i], i % 2 ? FILL_RANDOM : FILL_ZERO_AT_EDGES);
        encode(msg_buf, lens[i], &wire);
        if (i == 4)
            wire.b[7] ^= 0x20; /* damaged */
        APPEND(wire.b, wire.len);
        if (i % 3 == 0)
            APPEND(noise, sizeof noise);
    }
    fill(msg_buf, rx_cap + 1, FILL_RANDOM);
    encode(msg_buf, rx_cap + 1, &wire);
    APPEND(wire.b, wire.len);
    encode(msg_buf, 5, &wire);
    APPEND(wire.b, wire.len);
#undef APPEND
    return n;
}

static bool events_equal(const events *a, const events *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (a->ev[i].result != b->ev[i].result || a->ev[i].why != b->ev[i].why ||
            a->ev[i].len != b->ev[i].len ||
            memcmp(a->arena + a->ev[i].at, b->arena + b->ev[i].at,
                   a->ev[i].len) != 0)
            return false;
    }
    return true;
}

static void test_octet_at_a_time_equals_all_at_once(void **state)
{
    (void)state;
    static uint8_t stream[16384];
    static events whole, piecewise;
    const size_t rx_cap = 700;
    size_t n = mixed_stream(stream, sizeof stream, rx_cap);

    sello_link_rx rx;
    sello_link_rx_init(&rx, frame_buf, rx_cap);
    whole.n = 0;
    whole.arena_len = 0;
    feed(&rx, stream, n, 0, &whole);
    /* What the stream holds: every message but the damaged and the
     * overlong one, and a BAD for each of those and for each of the
     * three noise runs' two segments. */
    size_t messages = 0, bad = 0;
    for (size_t i = 0; i < whole.n; i++) {
        if (whole.ev[i].result == SELLO_LINK_MESSAGE)
            messages++;
        else
            bad++;
    }
    assert_int_equal(messages, 9);
    assert_int_equal(bad, 1 + 3 * 2 + 1);
    assert_bad(&whole, whole.n - 2, SELLO_LINK_BAD_LONG);

    static const size_t chunks[] = {1, 2, 3, 7, 254, 255, 1000};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        sello_link_rx_init(&rx, frame_buf, rx_cap);
        piecewise.n = 0;
        piecewise.arena_len = 0;
        feed(&rx, stream, n, chunks[c], &piecewise);
        if (!events_equal(&whole, &piecewise))
            fail_msg("fed %zu octet(s) at a time: different results",
                     chunks[c]);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_known_answers),
        cmocka_unit_test(test_crc32_continues),
        cmocka_unit_test(test_encode_known_wire_images),
        cmocka_unit_test(test_round_trip_lengths_0_to_600),
        cmocka_unit_test(test_round_trip_block_edges),
        cmocka_unit_test(test_wire_max_is_reached),
        cmocka_unit_test(test_noise_before_and_between_messages),
        cmocka_unit_test(test_every_single_octet_corruption_rejected),
        cmocka_unit_test(test_truncated_mid_block_is_bad_cobs),
        cmocka_unit_test(test_short_and_crc_mismatch),
        cmocka_unit_test(test_too_long_is_bad_long_then_next_decodes),
        cmocka_unit_test(test_empty_messages_produce_nothing),
        cmocka_unit_test(test_feed_stops_after_each_message),
        cmocka_unit_test(test_octet_at_a_time_equals_all_at_once),
    };
    return TU_RUN("serial_link", tests, argc, argv);
}
