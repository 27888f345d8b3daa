/* PEM <-> DER; contracts in pem.h. */
#include "pem.h"

#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "der.h"
#include "util.h"

/* Growable sink for br_pem_decoder output. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    bool oom;
} sink;

static void sink_put(void *ctx, const void *src, size_t len)
{
    sink *s = ctx;
    if (s->oom)
        return;
    if (s->cap - s->len < len) {
        size_t ncap = s->cap ? s->cap : 1024;
        while (ncap - s->len < len)
            ncap *= 2;
        uint8_t *nb = realloc(s->buf, ncap);
        if (!nb) {
            s->oom = true;
            return;
        }
        s->buf = nb;
        s->cap = ncap;
    }
    memcpy(s->buf + s->len, src, len);
    s->len += len;
}

static bool list_add(pem_list *l, uint8_t *der, size_t len)
{
    pem_object *n = realloc(l->items, (l->count + 1) * sizeof *n);
    if (!n)
        return false;
    l->items = n;
    l->items[l->count].der = der;
    l->items[l->count].len = len;
    l->count++;
    return true;
}

/* True when data[0..len) is exactly one well-formed DER element. */
static bool single_der(const uint8_t *data, size_t len)
{
    sello_der_cur c = sello_der_cur_init(data, len), content;
    uint8_t tag;
    return sello_der_read_any(&c, &tag, &content, NULL) == SELLO_OK &&
           sello_der_at_end(&c);
}

static bool decode_pem(const char *path, const uint8_t *data, size_t len,
                       const char *label, pem_list *out)
{
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    sink s = {NULL, 0, 0, false};
    bool inside = false, wanted = false;
    /* A final newline lets the decoder see an END line that the file
     * did not terminate. */
    const uint8_t *p = data;
    size_t rem = len;
    bool fed_newline = false;
    while (rem > 0 || !fed_newline) {
        if (rem == 0) {
            p = (const uint8_t *)"\n";
            rem = 1;
            fed_newline = true;
        }
        size_t used = br_pem_decoder_push(&pc, p, rem);
        p += used;
        rem -= used;
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ:
            inside = true;
            wanted = strcmp(br_pem_decoder_name(&pc), label) == 0;
            s.len = 0;
            br_pem_decoder_setdest(&pc, wanted ? sink_put : NULL, &s);
            break;
        case BR_PEM_END_OBJ:
            inside = false;
            if (!wanted)
                break;
            if (s.oom)
                goto oom;
            if (!single_der(s.buf, s.len)) {
                util_err("%s: PEM object %s is not a single DER element",
                         path, label);
                goto fail;
            }
            uint8_t *copy = malloc(s.len ? s.len : 1);
            if (!copy || !list_add(out, copy, s.len)) {
                free(copy);
                goto oom;
            }
            memcpy(copy, s.buf, s.len);
            break;
        case BR_PEM_ERROR:
            util_err("%s: damaged PEM", path);
            goto fail;
        default:
            break;
        }
    }
    if (inside) {
        util_err("%s: PEM object without END line", path);
        goto fail;
    }
    free(s.buf);
    return true;
oom:
    util_err("out of memory");
fail:
    free(s.buf);
    return false;
}

bool pem_load(const char *path, const char *label, pem_list *out)
{
    out->items = NULL;
    out->count = 0;
    uint8_t *data;
    size_t len;
    if (!util_read_file(path, &data, &len))
        return false;
    bool ok;
    if (len > 0 && data[0] == SELLO_DER_SEQUENCE) {
        ok = single_der(data, len);
        if (!ok)
            util_err("%s: not a single well-formed DER element", path);
        else
            ok = list_add(out, data, len);
        if (ok)
            return true;
        free(data);
        return false;
    }
    /* br_pem_decoder reads CR as part of the BEGIN line's label, so files
     * with CRLF line ends are normalised to LF first. */
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] != '\r')
            data[n++] = data[i];
    ok = decode_pem(path, data, n, label, out);
    free(data);
    if (ok && out->count == 0) {
        util_err("%s: no PEM \"%s\" object (nor DER)", path, label);
        ok = false;
    }
    if (!ok)
        pem_list_free(out);
    return ok;
}

bool pem_load_one(const char *path, const char *label, pem_object *out)
{
    pem_list l;
    if (!pem_load(path, label, &l))
        return false;
    if (l.count != 1) {
        util_err("%s: %zu \"%s\" objects, expected one", path, l.count,
                 label);
        pem_list_free(&l);
        return false;
    }
    *out = l.items[0];
    free(l.items);
    return true;
}

void pem_list_free(pem_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].der);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

char *pem_encode(const uint8_t *der, size_t len, const char *label)
{
    size_t n = br_pem_encode(NULL, der, len, label, BR_PEM_LINE64);
    char *out = malloc(n + 1);
    if (out)
        br_pem_encode(out, der, len, label, BR_PEM_LINE64);
    return out;
}
