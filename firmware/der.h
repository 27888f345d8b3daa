/*
 * Strict DER reading and backward DER writing.
 *
 * Reader: a cursor {p, end} over bytes that came from an untrusted party.
 * Every element is opened against its parent's remaining length; indefinite
 * lengths, non-minimal lengths, lengths over 2^24, high tag numbers and
 * non-minimal INTEGERs are refused. Nothing is ever read past `end`.
 * Nesting depth is bounded by the code structure: no function here recurses
 * and the callers open a fixed, known shape.
 *
 * Writer: fills a caller buffer from its end towards its start, so that each
 * constructed element's length is known when its header is written and
 * nothing is measured twice. Errors are sticky: once the buffer is exhausted
 * every further call is a no-op and sello_derw_ok() reports failure once.
 */
#ifndef SELLO_DER_H
#define SELLO_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

/* Universal tags used by Sello. */
enum {
    SELLO_DER_BOOLEAN = 0x01,
    SELLO_DER_INTEGER = 0x02,
    SELLO_DER_BIT_STRING = 0x03,
    SELLO_DER_OCTET_STRING = 0x04,
    SELLO_DER_NULL = 0x05,
    SELLO_DER_OID = 0x06,
    SELLO_DER_UTF8_STRING = 0x0c,
    SELLO_DER_PRINTABLE_STRING = 0x13,
    SELLO_DER_UTC_TIME = 0x17,
    SELLO_DER_GENERALIZED_TIME = 0x18,
    SELLO_DER_SEQUENCE = 0x30,
    SELLO_DER_SET = 0x31,
};
#define SELLO_DER_CONTEXT(n) (0x80u | (n))             /* [n] IMPLICIT primitive */
#define SELLO_DER_CONTEXT_CONS(n) (0xa0u | (n))        /* [n] constructed */

/* ---- reader -------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} sello_der_cur;

static inline sello_der_cur sello_der_cur_init(const uint8_t *buf, size_t len)
{
    sello_der_cur c = { buf, buf + len };
    return c;
}

static inline bool sello_der_at_end(const sello_der_cur *c) { return c->p == c->end; }

static inline size_t sello_der_remaining(const sello_der_cur *c)
{
    return (size_t)(c->end - c->p);
}

/*
 * The tag of the next element, or -1 at the end of the cursor. Does not
 * validate the element.
 */
int sello_der_peek_tag(const sello_der_cur *c);

/*
 * Reads the element at the cursor, which must have tag `tag`. On success
 * *content covers its content octets, and, if `whole` is not NULL, *whole
 * covers the full encoding (tag, length and content); the cursor moves past
 * the element. On failure the cursor is unchanged.
 */
SELLO_MUST_CHECK sello_status sello_der_read(sello_der_cur *c, uint8_t tag,
                                       sello_der_cur *content, sello_der_cur *whole);

/* Like sello_der_read, but accepts any single-octet tag and returns it. */
SELLO_MUST_CHECK sello_status sello_der_read_any(sello_der_cur *c, uint8_t *tag,
                                           sello_der_cur *content, sello_der_cur *whole);

/* Reads an element with `tag` only if it is next; *present says whether. */
SELLO_MUST_CHECK sello_status sello_der_read_optional(sello_der_cur *c, uint8_t tag,
                                                sello_der_cur *content,
                                                sello_der_cur *whole, bool *present);

/*
 * Reads an INTEGER and checks that its encoding is minimal. *content covers
 * the two's-complement content octets.
 */
SELLO_MUST_CHECK sello_status sello_der_read_integer(sello_der_cur *c, sello_der_cur *content);

/* Reads a non-negative INTEGER that fits in 32 bits. */
SELLO_MUST_CHECK sello_status sello_der_read_u32(sello_der_cur *c, uint32_t *v);

/* Reads a BOOLEAN (content must be 0x00 or 0xff). */
SELLO_MUST_CHECK sello_status sello_der_read_bool(sello_der_cur *c, bool *v);

/* Reads an OBJECT IDENTIFIER and checks its sub-identifiers are minimal. */
SELLO_MUST_CHECK sello_status sello_der_read_oid(sello_der_cur *c, sello_der_cur *content);

/* True when `content` equals the given OID content octets. */
bool sello_der_equal(const sello_der_cur *content, const uint8_t *bytes, size_t len);

/*
 * The DER order of two SET OF elements: their encodings compared as octet
 * strings, the shorter one padded with zeros. Negative, zero or positive.
 */
int sello_der_set_order(const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen);

/* ---- writer -------------------------------------------------------------- */

typedef struct {
    uint8_t *start; /* buffer start */
    uint8_t *end;   /* buffer end: the output ends here */
    uint8_t *p;     /* first written octet; writing moves it down */
    bool overflow;
} sello_der_writer;

static inline void sello_derw_init(sello_der_writer *w, uint8_t *buf, size_t cap)
{
    w->start = buf;
    w->end = buf + cap;
    w->p = w->end;
    w->overflow = false;
}

/* Octets written in all. */
static inline size_t sello_derw_len(const sello_der_writer *w)
{
    return (size_t)(w->end - w->p);
}

/* Octets written so far, measured from `mark` (a previous sello_derw_mark). */
static inline size_t sello_derw_since(const sello_der_writer *w, const uint8_t *mark)
{
    return (size_t)(mark - w->p);
}

static inline const uint8_t *sello_derw_mark(const sello_der_writer *w) { return w->p; }

static inline bool sello_derw_ok(const sello_der_writer *w) { return !w->overflow; }

/*
 * Moves the output to the start of the buffer and sets *len; false (and
 * nothing moved) when the writer overflowed.
 */
bool sello_derw_to_front(sello_der_writer *w, size_t *len);

/* Prepends raw octets. */
void sello_derw_raw(sello_der_writer *w, const void *data, size_t len);

/* Prepends a tag and length for content of `len` octets. */
void sello_derw_header(sello_der_writer *w, uint8_t tag, size_t len);

/* Prepends tag and length around everything written since `mark`. */
static inline void sello_derw_wrap(sello_der_writer *w, const uint8_t *mark, uint8_t tag)
{
    sello_derw_header(w, tag, sello_derw_since(w, mark));
}

/* Prepends a complete primitive element. */
void sello_derw_prim(sello_der_writer *w, uint8_t tag, const void *data, size_t len);

/* Prepends an INTEGER holding the unsigned big-endian magnitude `mag`
 * (leading zeros are stripped and a zero octet added where the high bit is
 * set). */
void sello_derw_uint(sello_der_writer *w, const uint8_t *mag, size_t len);

/* Prepends an INTEGER holding v. */
void sello_derw_u64(sello_der_writer *w, uint64_t v);

/* Replaces the tag of the element written last (for IMPLICIT tagging of a
 * primitive written by a typed helper). */
static inline void sello_derw_retag(sello_der_writer *w, uint8_t tag)
{
    if (!w->overflow && w->p < w->end)
        w->p[0] = tag;
}

/* Prepends a BIT STRING with no unused bits. */
void sello_derw_bits(sello_der_writer *w, const void *data, size_t len);

#endif
