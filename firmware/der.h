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
    DER_BOOLEAN = 0x01,
    DER_INTEGER = 0x02,
    DER_BIT_STRING = 0x03,
    DER_OCTET_STRING = 0x04,
    DER_NULL = 0x05,
    DER_OID = 0x06,
    DER_UTF8_STRING = 0x0c,
    DER_PRINTABLE_STRING = 0x13,
    DER_UTC_TIME = 0x17,
    DER_GENERALIZED_TIME = 0x18,
    DER_SEQUENCE = 0x30,
    DER_SET = 0x31,
};
#define DER_CONTEXT(n) (0x80u | (n))             /* [n] IMPLICIT primitive */
#define DER_CONTEXT_CONS(n) (0xa0u | (n))        /* [n] constructed */

/* ---- reader -------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} der_cur;

static inline der_cur der_cur_init(const uint8_t *buf, size_t len)
{
    der_cur c = { buf, buf + len };
    return c;
}

static inline bool der_at_end(const der_cur *c) { return c->p == c->end; }

static inline size_t der_remaining(const der_cur *c)
{
    return (size_t)(c->end - c->p);
}

/*
 * The tag of the next element, or -1 at the end of the cursor. Does not
 * validate the element.
 */
int der_peek_tag(const der_cur *c);

/*
 * Reads the element at the cursor, which must have tag `tag`. On success
 * *content covers its content octets, and, if `whole` is not NULL, *whole
 * covers the full encoding (tag, length and content); the cursor moves past
 * the element. On failure the cursor is unchanged.
 */
SELLO_MUST_CHECK sello_status der_read(der_cur *c, uint8_t tag,
                                       der_cur *content, der_cur *whole);

/* Like der_read, but accepts any single-octet tag and returns it. */
SELLO_MUST_CHECK sello_status der_read_any(der_cur *c, uint8_t *tag,
                                           der_cur *content, der_cur *whole);

/* Reads an element with `tag` only if it is next; *present says whether. */
SELLO_MUST_CHECK sello_status der_read_optional(der_cur *c, uint8_t tag,
                                                der_cur *content,
                                                der_cur *whole, bool *present);

/*
 * Reads an INTEGER and checks that its encoding is minimal. *content covers
 * the two's-complement content octets.
 */
SELLO_MUST_CHECK sello_status der_read_integer(der_cur *c, der_cur *content);

/* Reads a non-negative INTEGER that fits in 32 bits. */
SELLO_MUST_CHECK sello_status der_read_u32(der_cur *c, uint32_t *v);

/* Reads a BOOLEAN (content must be 0x00 or 0xff). */
SELLO_MUST_CHECK sello_status der_read_bool(der_cur *c, bool *v);

/* Reads an OBJECT IDENTIFIER and checks its sub-identifiers are minimal. */
SELLO_MUST_CHECK sello_status der_read_oid(der_cur *c, der_cur *content);

/* True when `content` equals the given OID content octets. */
bool der_equal(const der_cur *content, const uint8_t *bytes, size_t len);

/*
 * The DER order of two SET OF elements: their encodings compared as octet
 * strings, the shorter one padded with zeros. Negative, zero or positive.
 */
int der_set_order(const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen);

/* ---- writer -------------------------------------------------------------- */

typedef struct {
    uint8_t *start; /* buffer start */
    uint8_t *end;   /* buffer end: the output ends here */
    uint8_t *p;     /* first written octet; writing moves it down */
    bool overflow;
} der_writer;

static inline void derw_init(der_writer *w, uint8_t *buf, size_t cap)
{
    w->start = buf;
    w->end = buf + cap;
    w->p = w->end;
    w->overflow = false;
}

/* Octets written in all. */
static inline size_t derw_len(const der_writer *w)
{
    return (size_t)(w->end - w->p);
}

/* Octets written so far, measured from `mark` (a previous derw_mark). */
static inline size_t derw_since(const der_writer *w, const uint8_t *mark)
{
    return (size_t)(mark - w->p);
}

static inline const uint8_t *derw_mark(const der_writer *w) { return w->p; }

static inline bool derw_ok(const der_writer *w) { return !w->overflow; }

/*
 * Moves the output to the start of the buffer and sets *len; false (and
 * nothing moved) when the writer overflowed.
 */
bool derw_to_front(der_writer *w, size_t *len);

/* Prepends raw octets. */
void derw_raw(der_writer *w, const void *data, size_t len);

/* Prepends a tag and length for content of `len` octets. */
void derw_header(der_writer *w, uint8_t tag, size_t len);

/* Prepends tag and length around everything written since `mark`. */
static inline void derw_wrap(der_writer *w, const uint8_t *mark, uint8_t tag)
{
    derw_header(w, tag, derw_since(w, mark));
}

/* Prepends a complete primitive element. */
void derw_prim(der_writer *w, uint8_t tag, const void *data, size_t len);

/* Prepends an INTEGER holding the unsigned big-endian magnitude `mag`
 * (leading zeros are stripped and a zero octet added where the high bit is
 * set). */
void derw_uint(der_writer *w, const uint8_t *mag, size_t len);

/* Prepends an INTEGER holding v. */
void derw_u64(der_writer *w, uint64_t v);

/* Replaces the tag of the element written last (for IMPLICIT tagging of a
 * primitive written by a typed helper). */
static inline void derw_retag(der_writer *w, uint8_t tag)
{
    if (!w->overflow && w->p < w->end)
        w->p[0] = tag;
}

/* Prepends a BIT STRING with no unused bits. */
void derw_bits(der_writer *w, const void *data, size_t len);

#endif
