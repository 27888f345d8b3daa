/* See <sello/serial_link.h>. Freestanding: the board and the relay share it. */
#include <sello/serial_link.h>

/* CRC-32/IEEE (reflected, polynomial 0xEDB88320), four bits at a time:
 * 64 octets of table instead of 1 KiB, fast enough for any UART. */
static const uint32_t crc32_nibble[16] = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
    0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
    0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
    0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
};

static uint32_t crc32_octet(uint32_t c, uint8_t b)
{
    c ^= b;
    c = (c >> 4) ^ crc32_nibble[c & 15u];
    return (c >> 4) ^ crc32_nibble[c & 15u];
}

uint32_t sello_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;
    while (n--)
        c = crc32_octet(c, *p++);
    return ~c;
}

/* ---- encoder ---------------------------------------------------------------- */

/* The encoder's input: the message and then its CRC, as one sequence. */
typedef struct {
    const uint8_t *msg;
    size_t len;
    uint8_t crc[SELLO_LINK_CRC_LEN];
} link_source;

static uint8_t source_at(const link_source *s, size_t i)
{
    return i < s->len ? s->msg[i] : s->crc[i - s->len];
}

/* Hands source[from..to) to put(), in at most two pieces. */
static void put_range(const link_source *s, size_t from, size_t to,
                      void (*put)(void *, const uint8_t *, size_t), void *arg)
{
    if (from < s->len) {
        size_t end = to < s->len ? to : s->len;
        put(arg, s->msg + from, end - from);
        from = end;
    }
    if (from < to)
        put(arg, s->crc + (from - s->len), to - from);
}

void sello_link_encode(const uint8_t *msg, size_t len,
                       void (*put)(void *arg, const uint8_t *p, size_t n),
                       void *arg)
{
    link_source s = {.msg = msg, .len = len};
    uint32_t crc = sello_crc32(0, msg, len);
    for (unsigned k = 0; k < SELLO_LINK_CRC_LEN; k++)
        s.crc[k] = (uint8_t)(crc >> (8u * k));
    size_t total = len + SELLO_LINK_CRC_LEN;

    static const uint8_t delim = SELLO_LINK_DELIM;
    put(arg, &delim, 1);
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < total && j - i < 254u && source_at(&s, j) != 0)
            j++;
        uint8_t code = (uint8_t)(j - i + 1u);
        put(arg, &code, 1);
        put_range(&s, i, j, put, arg);
        if (j == total)
            break;
        if (code == 0xffu) {
            i = j; /* a full block implies no zero */
            continue;
        }
        i = j + 1; /* source[j] is the zero this block implies */
        if (i == total) {
            static const uint8_t empty_block = 1;
            put(arg, &empty_block, 1);
            break;
        }
    }
    put(arg, &delim, 1);
}

/* ---- decoder ---------------------------------------------------------------- */

static void rx_reset_message(sello_link_rx *rx)
{
    rx->len = 0;
    rx->crc = 0xffffffffu; /* the running register, not yet inverted */
    rx->held_n = 0;
    rx->block_left = 0;
    rx->block_full = false;
    rx->zero_pending = false;
    rx->started = false;
    rx->bad = 0;
}

void sello_link_rx_init(sello_link_rx *rx, uint8_t *buf, size_t cap)
{
    rx->buf = buf;
    rx->cap = cap;
    rx->in_step = false;
    rx->delivered = false;
    rx->why = 0;
    rx_reset_message(rx);
}

/* One decoded octet: it enters the hold-back, and the oldest held octet,
 * now certainly not part of the CRC, goes to the buffer. */
static void rx_push(sello_link_rx *rx, uint8_t b)
{
    if (rx->held_n < SELLO_LINK_CRC_LEN) {
        rx->held[rx->held_n++] = b;
        return;
    }
    uint8_t out = rx->held[0];
    for (unsigned k = 0; k + 1 < SELLO_LINK_CRC_LEN; k++)
        rx->held[k] = rx->held[k + 1];
    rx->held[SELLO_LINK_CRC_LEN - 1] = b;
    if (rx->len == rx->cap) {
        rx->bad = SELLO_LINK_BAD_LONG;
        return;
    }
    rx->buf[rx->len++] = out;
    rx->crc = crc32_octet(rx->crc, out);
}

/* A delimiter: what did the octets since the last one amount to? */
static int rx_end_message(sello_link_rx *rx)
{
    uint8_t why = 0;
    if (!rx->in_step || !rx->started)
        why = 0; /* getting in step, or an empty message: nothing */
    else if (rx->bad != 0)
        why = rx->bad;
    else if (rx->block_left != 0)
        why = SELLO_LINK_BAD_COBS;
    else if (rx->held_n < SELLO_LINK_CRC_LEN)
        why = SELLO_LINK_BAD_SHORT;
    else {
        uint32_t sent = (uint32_t)rx->held[0] | (uint32_t)rx->held[1] << 8 |
                        (uint32_t)rx->held[2] << 16 |
                        (uint32_t)rx->held[3] << 24;
        why = ~rx->crc == sent ? 0 : SELLO_LINK_BAD_CRC;
        if (why == 0) {
            rx->why = 0;
            rx->delivered = true; /* buf and len stay for the caller */
            return SELLO_LINK_MESSAGE;
        }
    }
    bool counts = rx->in_step && rx->started;
    rx->in_step = true;
    rx_reset_message(rx);
    rx->why = why;
    return counts ? SELLO_LINK_BAD : SELLO_LINK_MORE;
}

size_t sello_link_rx_feed(sello_link_rx *rx, const uint8_t *p, size_t n,
                          int *result)
{
    /* A message handed out by the previous call is gone now. */
    if (rx->delivered) {
        rx_reset_message(rx);
        rx->delivered = false;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (b == SELLO_LINK_DELIM) {
            *result = rx_end_message(rx);
            if (*result != SELLO_LINK_MORE)
                return i + 1;
            continue;
        }
        if (!rx->in_step || rx->bad != 0)
            continue; /* wait for the next delimiter */
        rx->started = true;
        if (rx->block_left == 0) { /* b is a block's code */
            if (rx->zero_pending)
                rx_push(rx, 0);
            rx->zero_pending = false;
            rx->block_full = b == 0xffu;
            rx->block_left = (uint8_t)(b - 1u);
        } else {
            rx_push(rx, b);
            rx->block_left--;
        }
        if (rx->block_left == 0 && !rx->block_full)
            rx->zero_pending = true;
    }
    *result = SELLO_LINK_MORE;
    return n;
}
