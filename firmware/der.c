/* Strict DER reader and backward writer; contracts in der.h. */
#include "der.h"

#include "runtime.h"

int sello_der_peek_tag(const sello_der_cur *c)
{
    return c->p < c->end ? c->p[0] : -1;
}

/*
 * Reads one tag-length header at c->p. Refuses the high-tag-number form
 * (no Sello structure uses it), the end-of-contents tag, indefinite lengths, the long form for
 * lengths under 128, leading zero length octets, lengths that need more
 * than three octets, and any length beyond the cursor.
 */
static sello_status read_header(const sello_der_cur *c, uint8_t *tag,
                                const uint8_t **content, size_t *len)
{
    const uint8_t *p = c->p;
    if (c->end - p < 2)
        return SELLO_ERR_DER;
    /* 0x00 is BER's end-of-contents marker, never an element in DER. */
    if ((p[0] & 0x1f) == 0x1f || p[0] == 0x00)
        return SELLO_ERR_DER;
    *tag = p[0];
    uint8_t first = p[1];
    p += 2;
    size_t n;
    if (first < 0x80) {
        n = first;
    } else {
        size_t octets = first & 0x7fu;
        if (octets == 0 || octets > 3) /* indefinite, or absurdly long */
            return SELLO_ERR_DER;
        if ((size_t)(c->end - p) < octets || p[0] == 0)
            return SELLO_ERR_DER;
        n = 0;
        for (size_t i = 0; i < octets; i++)
            n = (n << 8) | p[i];
        p += octets;
        if (n < 0x80)
            return SELLO_ERR_DER;
    }
    if ((size_t)(c->end - p) < n)
        return SELLO_ERR_DER;
    *content = p;
    *len = n;
    return SELLO_OK;
}

sello_status sello_der_read_any(sello_der_cur *c, uint8_t *tag, sello_der_cur *content,
                          sello_der_cur *whole)
{
    const uint8_t *body;
    size_t len;
    SELLO_TRY(read_header(c, tag, &body, &len));
    if (whole) {
        whole->p = c->p;
        whole->end = body + len;
    }
    content->p = body;
    content->end = body + len;
    c->p = body + len;
    return SELLO_OK;
}

sello_status sello_der_read(sello_der_cur *c, uint8_t tag, sello_der_cur *content,
                      sello_der_cur *whole)
{
    if (sello_der_peek_tag(c) != tag)
        return SELLO_ERR_DER;
    uint8_t got;
    return sello_der_read_any(c, &got, content, whole);
}

sello_status sello_der_read_optional(sello_der_cur *c, uint8_t tag, sello_der_cur *content,
                               sello_der_cur *whole, bool *present)
{
    *present = sello_der_peek_tag(c) == tag;
    if (!*present)
        return SELLO_OK;
    return sello_der_read(c, tag, content, whole);
}

sello_status sello_der_read_integer(sello_der_cur *c, sello_der_cur *content)
{
    sello_der_cur save = *c;
    SELLO_TRY(sello_der_read(c, SELLO_DER_INTEGER, content, NULL));
    size_t n = sello_der_remaining(content);
    const uint8_t *v = content->p;
    /* Minimal two's complement: no empty content, and the first nine bits
     * are never all zeros or all ones. */
    if (n == 0 ||
        (n > 1 && ((v[0] == 0x00 && !(v[1] & 0x80)) ||
                   (v[0] == 0xff && (v[1] & 0x80))))) {
        *c = save;
        return SELLO_ERR_DER;
    }
    return SELLO_OK;
}

sello_status sello_der_read_u32(sello_der_cur *c, uint32_t *v)
{
    sello_der_cur save = *c, content;
    SELLO_TRY(sello_der_read_integer(c, &content));
    size_t n = sello_der_remaining(&content);
    const uint8_t *b = content.p;
    if (b[0] & 0x80)
        goto bad; /* negative */
    if (b[0] == 0 && n > 1) {
        b++;
        n--;
    }
    if (n > 4)
        goto bad;
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | b[i];
    *v = x;
    return SELLO_OK;
bad:
    *c = save;
    return SELLO_ERR_DER;
}

sello_status sello_der_read_bool(sello_der_cur *c, bool *v)
{
    sello_der_cur save = *c, content;
    SELLO_TRY(sello_der_read(c, SELLO_DER_BOOLEAN, &content, NULL));
    if (sello_der_remaining(&content) != 1 ||
        (content.p[0] != 0x00 && content.p[0] != 0xff)) {
        *c = save;
        return SELLO_ERR_DER;
    }
    *v = content.p[0] == 0xff;
    return SELLO_OK;
}

sello_status sello_der_read_oid(sello_der_cur *c, sello_der_cur *content)
{
    sello_der_cur save = *c;
    SELLO_TRY(sello_der_read(c, SELLO_DER_OID, content, NULL));
    const uint8_t *p = content->p, *end = content->end;
    /* Non-empty, each sub-identifier without a leading 0x80 octet, and the
     * last octet terminates a sub-identifier. */
    if (p == end || (end[-1] & 0x80))
        goto bad;
    bool at_start = true;
    for (; p < end; p++) {
        if (at_start && *p == 0x80)
            goto bad;
        at_start = !(*p & 0x80);
    }
    return SELLO_OK;
bad:
    *c = save;
    return SELLO_ERR_DER;
}

bool sello_der_equal(const sello_der_cur *content, const uint8_t *bytes, size_t len)
{
    return sello_der_remaining(content) == len &&
           sello_memcmp(content->p, bytes, len) == 0;
}

int sello_der_set_order(const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen)
{
    int r = sello_memcmp(a, b, alen < blen ? alen : blen);
    if (r != 0 || alen == blen)
        return r;
    /* The common prefix is equal: the longer one is greater unless its
     * extra octets are all zero (then both pad to the same string). */
    const uint8_t *rest = alen < blen ? b + alen : a + blen;
    size_t n = alen < blen ? blen - alen : alen - blen;
    for (size_t i = 0; i < n; i++)
        if (rest[i] != 0)
            return alen < blen ? -1 : 1;
    return 0;
}

/* ---- writer -------------------------------------------------------------- */

bool sello_derw_to_front(sello_der_writer *w, size_t *len)
{
    if (w->overflow)
        return false;
    *len = sello_derw_len(w);
    sello_memmove(w->start, w->p, *len);
    w->p = w->start;
    return true;
}

void sello_derw_raw(sello_der_writer *w, const void *data, size_t len)
{
    if (w->overflow || (size_t)(w->p - w->start) < len) {
        w->overflow = true;
        return;
    }
    w->p -= len;
    sello_memmove(w->p, data, len);
}

void sello_derw_header(sello_der_writer *w, uint8_t tag, size_t len)
{
    uint8_t h[5];
    size_t n;
    if (len < 0x80) {
        h[3] = tag;
        h[4] = (uint8_t)len;
        n = 2;
    } else if (len < 0x100) {
        h[2] = tag;
        h[3] = 0x81;
        h[4] = (uint8_t)len;
        n = 3;
    } else if (len < 0x10000) {
        h[1] = tag;
        h[2] = 0x82;
        h[3] = (uint8_t)(len >> 8);
        h[4] = (uint8_t)len;
        n = 4;
    } else if (len < 0x1000000) {
        h[0] = tag;
        h[1] = 0x83;
        h[2] = (uint8_t)(len >> 16);
        h[3] = (uint8_t)(len >> 8);
        h[4] = (uint8_t)len;
        n = 5;
    } else {
        w->overflow = true;
        return;
    }
    sello_derw_raw(w, h + 5 - n, n);
}

void sello_derw_prim(sello_der_writer *w, uint8_t tag, const void *data, size_t len)
{
    sello_derw_raw(w, data, len);
    sello_derw_header(w, tag, len);
}

void sello_derw_uint(sello_der_writer *w, const uint8_t *mag, size_t len)
{
    while (len > 1 && mag[0] == 0) {
        mag++;
        len--;
    }
    if (len == 0) {
        static const uint8_t zero = 0;
        mag = &zero;
        len = 1;
    }
    const uint8_t *mark = sello_derw_mark(w);
    sello_derw_raw(w, mag, len);
    if (mag[0] & 0x80)
        sello_derw_raw(w, "", 1);
    sello_derw_wrap(w, mark, SELLO_DER_INTEGER);
}

void sello_derw_u64(sello_der_writer *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
    sello_derw_uint(w, b, sizeof b);
}

void sello_derw_bits(sello_der_writer *w, const void *data, size_t len)
{
    const uint8_t *mark = sello_derw_mark(w);
    sello_derw_raw(w, data, len);
    sello_derw_raw(w, "", 1);
    sello_derw_wrap(w, mark, SELLO_DER_BIT_STRING);
}
