/* Distinguished names; contracts in dn.h. */
#include "dn.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "oidx.h"
#include "util.h"

/* Upper bound 0 means none. */
typedef struct {
    const char *name;
    uint8_t oid[3];
    uint8_t string_tag; /* SELLO_DER_UTF8_STRING or SELLO_DER_PRINTABLE_STRING */
    unsigned max_chars; /* RFC 5280 Appendix A upper bound */
} dn_attr;

/* Every DN attribute type both directions know; 2.5.4.x are three
 * content octets 55 04 x. */
static const dn_attr attrs[] = {
    {"CN", {0x55, 0x04, 0x03}, SELLO_DER_UTF8_STRING, 64},
    {"serialNumber", {0x55, 0x04, 0x05}, SELLO_DER_PRINTABLE_STRING, 64},
    {"C", {0x55, 0x04, 0x06}, SELLO_DER_PRINTABLE_STRING, 2},
    {"L", {0x55, 0x04, 0x07}, SELLO_DER_UTF8_STRING, 128},
    {"ST", {0x55, 0x04, 0x08}, SELLO_DER_UTF8_STRING, 128},
    {"O", {0x55, 0x04, 0x0a}, SELLO_DER_UTF8_STRING, 64},
    {"OU", {0x55, 0x04, 0x0b}, SELLO_DER_UTF8_STRING, 64},
    {"organizationIdentifier", {0x55, 0x04, 0x61}, SELLO_DER_UTF8_STRING, 0},
};
#define N_ATTRS (sizeof attrs / sizeof attrs[0])

#define DN_MAX_ATTRS 32
#define DN_MAX_VALUE 256

typedef struct {
    uint8_t oid[32];
    size_t oid_len;
    uint8_t tag;
    char value[DN_MAX_VALUE];
    size_t value_len;
} dn_item;

/* X.680 PrintableString repertoire. */
static bool printable_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || strchr(" '()+,-./:=?", ch) != NULL;
}

/* Counts UTF-8 code points; -1 for malformed UTF-8 or control chars. */
static long utf8_chars(const char *s, size_t n)
{
    long count = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        size_t k;
        uint32_t cp;
        if (ch < 0x80) {
            k = 1;
            cp = ch;
        } else if ((ch & 0xe0) == 0xc0) {
            k = 2;
            cp = ch & 0x1f;
        } else if ((ch & 0xf0) == 0xe0) {
            k = 3;
            cp = ch & 0x0f;
        } else if ((ch & 0xf8) == 0xf0) {
            k = 4;
            cp = ch & 0x07;
        } else {
            return -1;
        }
        if (n - i < k)
            return -1;
        for (size_t j = 1; j < k; j++) {
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return -1;
            cp = cp << 6 | ((unsigned char)s[i + j] & 0x3f);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            cp < 0x20 || cp == 0x7f)
            return -1;
        i += k;
        count++;
    }
    return count;
}

/* Copies s[0..n) without surrounding spaces, resolving backslashes. */
static const char *unescape(const char *s, size_t n, char *out, size_t cap,
                            size_t *len)
{
    while (n > 0 && *s == ' ')
        s++, n--;
    size_t o = 0;
    size_t last_literal_end = 0; /* escaped spaces are kept */
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool escaped = false;
        if (ch == '\\') {
            if (++i == n)
                return "trailing backslash";
            ch = s[i];
            escaped = true;
        }
        if (o == cap)
            return "value too long";
        out[o++] = ch;
        if (escaped || ch != ' ')
            last_literal_end = o;
    }
    *len = last_literal_end;
    return NULL;
}

static const char *parse_item(const char *s, size_t n, dn_item *it)
{
    /* Find the first unescaped '='. */
    size_t eq = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == '=') {
            eq = i;
            break;
        }
    }
    if (eq == n)
        return "attribute without '='";
    char type[64];
    size_t tl;
    if (eq >= sizeof type)
        return "attribute type too long";
    const char *why = unescape(s, eq, type, sizeof type - 1, &tl);
    if (why)
        return why;
    type[tl] = '\0';
    if (tl == 0)
        return "empty attribute type";
    const dn_attr *a = NULL;
    for (size_t i = 0; i < N_ATTRS; i++)
        if (strcasecmp(type, attrs[i].name) == 0)
            a = &attrs[i];
    unsigned max_chars = 0;
    if (a) {
        memcpy(it->oid, a->oid, 3);
        it->oid_len = 3;
        it->tag = a->string_tag;
        max_chars = a->max_chars;
    } else if (oidx_from_dotted(type, it->oid, sizeof it->oid,
                                &it->oid_len)) {
        it->tag = SELLO_DER_UTF8_STRING;
    } else {
        return "unknown attribute type (use CN, O, OU, C, L, ST, "
               "serialNumber, organizationIdentifier or a dotted OID)";
    }
    why = unescape(s + eq + 1, n - eq - 1, it->value, sizeof it->value,
                   &it->value_len);
    if (why)
        return why;
    if (it->value_len == 0)
        return "empty attribute value";
    long chars = utf8_chars(it->value, it->value_len);
    if (chars < 0)
        return "attribute value is not printable UTF-8";
    if (max_chars && (unsigned long)chars > max_chars)
        return "attribute value longer than RFC 5280 allows";
    if (it->tag == SELLO_DER_PRINTABLE_STRING) {
        for (size_t i = 0; i < it->value_len; i++)
            if (!printable_char((unsigned char)it->value[i]))
                return "character not allowed in a PrintableString "
                       "(C, serialNumber)";
    }
    if (a && a->oid[2] == 0x06) { /* C: ISO 3166 alpha-2 */
        if (it->value_len != 2 || !(it->value[0] >= 'A' && it->value[0] <= 'Z') ||
            !(it->value[1] >= 'A' && it->value[1] <= 'Z'))
            return "C must be two upper-case letters (ISO 3166)";
    }
    return NULL;
}

const char *dn_encode(const char *text, uint8_t *out, size_t cap,
                      size_t *len)
{
    dn_item items[DN_MAX_ATTRS];
    size_t count = 0;
    const char *p = text;
    for (;;) {
        /* One item runs to the next unescaped ','. */
        size_t n = 0;
        while (p[n] && p[n] != ',') {
            if (p[n] == '\\' && p[n + 1])
                n++;
            n++;
        }
        if (count == DN_MAX_ATTRS)
            return "too many attributes";
        const char *why = parse_item(p, n, &items[count]);
        if (why)
            return why;
        count++;
        if (!p[n])
            break;
        p += n + 1;
    }

    /* Name ::= SEQUENCE OF RelativeDistinguishedName
     * RelativeDistinguishedName ::= SET SIZE (1..MAX) OF
     *     AttributeTypeAndValue
     * AttributeTypeAndValue ::= SEQUENCE { type OID, value ANY } */
    sello_der_writer w;
    sello_derw_init(&w, out, cap);
    const uint8_t *name_mark = sello_derw_mark(&w);
    for (size_t i = count; i-- > 0;) {
        const uint8_t *rdn_mark = sello_derw_mark(&w);
        sello_derw_prim(&w, items[i].tag, items[i].value, items[i].value_len);
        sello_derw_prim(&w, SELLO_DER_OID, items[i].oid, items[i].oid_len);
        sello_derw_wrap(&w, rdn_mark, SELLO_DER_SEQUENCE);
        sello_derw_wrap(&w, rdn_mark, SELLO_DER_SET);
    }
    sello_derw_wrap(&w, name_mark, SELLO_DER_SEQUENCE);
    if (!sello_derw_ok(&w))
        return "name too long";
    *len = sello_derw_since(&w, out + cap);
    memmove(out, w.p, *len);
    return NULL;
}

/* ---- formatting ---------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap, len;
    bool full;
} text_out;

static void put(text_out *t, const char *s, size_t n)
{
    if (t->full || t->cap - t->len <= n) {
        t->full = true;
        return;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void put_str(text_out *t, const char *s) { put(t, s, strlen(s)); }

static void put_value_char(text_out *t, uint32_t cp)
{
    char tmp[8];
    if (cp < 0x20 || cp == 0x7f) {
        snprintf(tmp, sizeof tmp, "\\%02X", (unsigned)cp);
        put_str(t, tmp);
        return;
    }
    if (cp == ',' || cp == '+' || cp == '\\' || cp == '=') {
        tmp[0] = '\\';
        tmp[1] = (char)cp;
        put(t, tmp, 2);
        return;
    }
    /* Encode as UTF-8. */
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xc0 | cp >> 6);
        tmp[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xe0 | cp >> 12);
        tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        tmp[0] = (char)(0xf0 | cp >> 18);
        tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    put(t, tmp, n);
}

static void put_hex_element(text_out *t, const sello_der_cur *whole)
{
    put_str(t, "#");
    char hx[3];
    for (const uint8_t *q = whole->p; q < whole->end; q++) {
        util_hex_encode(q, 1, hx);
        put(t, hx, 2);
    }
}

static void put_value(text_out *t, uint8_t tag, const sello_der_cur *v,
                      const sello_der_cur *whole)
{
    size_t n = sello_der_remaining(v);
    bool utf8 = tag == SELLO_DER_UTF8_STRING &&
                utf8_chars((const char *)v->p, n) >= 0;
    /* PrintableString, IA5String and TeletexString are shown octet by
     * octet; valid UTF-8 keeps its multi-octet sequences. */
    if (utf8 || tag == SELLO_DER_PRINTABLE_STRING || tag == 0x16 || tag == 0x14) {
        for (size_t i = 0; i < n; i++) {
            if (utf8 && v->p[i] >= 0x80)
                put(t, (const char *)v->p + i, 1);
            else
                put_value_char(t, v->p[i]);
        }
        return;
    }
    if (tag == 0x1e && n % 2 == 0) { /* BMPString: UCS-2 big-endian */
        for (size_t i = 0; i < n; i += 2)
            put_value_char(t, (uint32_t)v->p[i] << 8 | v->p[i + 1]);
        return;
    }
    put_hex_element(t, whole);
}

bool dn_format(const sello_der_cur *name, char *out, size_t cap)
{
    text_out t = {out, cap, 0, false};
    if (cap)
        out[0] = '\0';
    sello_der_cur c = *name, seq;
    if (sello_der_read(&c, SELLO_DER_SEQUENCE, &seq, NULL) != SELLO_OK || !sello_der_at_end(&c))
        goto bad;
    bool first_rdn = true;
    while (!sello_der_at_end(&seq)) {
        sello_der_cur set;
        if (sello_der_read(&seq, SELLO_DER_SET, &set, NULL) != SELLO_OK ||
            sello_der_at_end(&set))
            goto bad;
        if (!first_rdn)
            put_str(&t, ",");
        first_rdn = false;
        bool first_atv = true;
        while (!sello_der_at_end(&set)) {
            sello_der_cur atv, oid, value, vwhole;
            uint8_t vtag;
            if (sello_der_read(&set, SELLO_DER_SEQUENCE, &atv, NULL) != SELLO_OK ||
                sello_der_read_oid(&atv, &oid) != SELLO_OK ||
                sello_der_read_any(&atv, &vtag, &value, &vwhole) != SELLO_OK ||
                !sello_der_at_end(&atv))
                goto bad;
            if (!first_atv)
                put_str(&t, "+");
            first_atv = false;
            const char *tname = NULL;
            for (size_t i = 0; i < N_ATTRS; i++)
                if (sello_der_equal(&oid, attrs[i].oid, 3))
                    tname = attrs[i].name;
            if (tname) {
                put_str(&t, tname);
            } else {
                char dotted[OIDX_DOTTED_MAX];
                oidx_to_dotted(oid.p, sello_der_remaining(&oid), dotted);
                put_str(&t, dotted);
            }
            put_str(&t, "=");
            put_value(&t, vtag, &value, &vwhole);
        }
    }
    return true;
bad:
    if (cap)
        snprintf(out, cap, "<malformed name>");
    return false;
}
