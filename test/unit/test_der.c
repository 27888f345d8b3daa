/*
 * The strict DER reader against the vectors in test/data/der/vectors.txt
 * (one named test per vector: "sello_der_vec_L<line>_<func>_<verdict>: <why>"),
 * and the backward writer against hand-computed encodings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "der.h"

/* ---- vectors ---------------------------------------------------------------- */

typedef struct {
    unsigned lineno;
    char func[16];
    bool accept;
    uint8_t *der;      /* exactly `len` octets, malloc'd to that size */
    size_t len;
    bool has_value;
    unsigned long long value;
    char why[160];
    char name[256];
} sello_der_vector;

/* Expands "HEX HEX XX*N ..." into out; (size_t)-1 on error. */
static size_t expand_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    char tok[64];
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        size_t t = 0;
        while (*s && *s != ' ' && *s != '\t' && t < sizeof tok - 1)
            tok[t++] = *s++;
        tok[t] = 0;
        char *star = strchr(tok, '*');
        unsigned long rep = 1;
        if (star) {
            *star = 0;
            rep = strtoul(star + 1, NULL, 10);
        }
        uint8_t octets[32];
        size_t k = td_hex(tok, octets, sizeof octets);
        if (k == (size_t)-1 || (star && k != 1))
            return (size_t)-1;
        for (unsigned long r = 0; r < rep; r++) {
            if (cap - n < k)
                return (size_t)-1;
            memcpy(out + n, octets, k);
            n += k;
        }
    }
    return n;
}

static sello_der_vector *vectors;
static size_t nvectors;
static bool vectors_ok;

static void load_vectors(void)
{
    size_t n;
    td_line *lines = td_read_lines("der/vectors.txt", &n);
    if (!lines)
        return;
    vectors = calloc(n, sizeof *vectors);
    static uint8_t buf[70000];
    vectors_ok = true;
    for (size_t i = 0; i < n; i++) {
        sello_der_vector *v = &vectors[nvectors];
        char *text = lines[i].text;
        char *hash = strchr(text, '#');
        if (hash) {
            snprintf(v->why, sizeof v->why, "%s", td_trim(hash + 1));
            *hash = 0;
        }
        char verdict[16];
        int used = 0;
        if (sscanf(text, "%15s %15s %n", v->func, verdict, &used) < 2) {
            fprintf(stderr, "der/vectors.txt:%u: bad line\n", lines[i].lineno);
            vectors_ok = false;
            continue;
        }
        char *rest = text + used;
        char *eq = strchr(rest, '=');
        if (eq) {
            v->has_value = true;
            v->value = strtoull(eq + 1, NULL, 0);
            *eq = 0;
        }
        size_t len = expand_hex(rest, buf, sizeof buf);
        if (len == (size_t)-1 ||
            (strcmp(verdict, "accept") && strcmp(verdict, "reject"))) {
            fprintf(stderr, "der/vectors.txt:%u: bad line\n", lines[i].lineno);
            vectors_ok = false;
            continue;
        }
        v->accept = strcmp(verdict, "accept") == 0;
        v->lineno = lines[i].lineno;
        v->len = len;
        v->der = malloc(len ? len : 1);
        memcpy(v->der, buf, len);
        snprintf(v->name, sizeof v->name, "sello_der_vec_L%03u_%s_%s: %s", v->lineno,
                 v->func, verdict, v->why);
        nvectors++;
    }
    td_free_lines(lines, n);
}

/* Applies the vector's function to a cursor over p[0..len); true when it
 * succeeded in the vector's sense. On failure the cursor must not move. */
static bool apply(const sello_der_vector *v, const uint8_t *p, size_t len,
                  bool check_value)
{
    sello_der_cur c = sello_der_cur_init(p, len), before = c, content, whole;
    sello_status st;
    bool at_end_required = true;
    if (strcmp(v->func, "read") == 0) {
        uint8_t tag;
        st = sello_der_read_any(&c, &tag, &content, &whole);
        at_end_required = false;
        if (st == SELLO_OK) {
            /* whole covers tag, length and content, content lies inside */
            assert_ptr_equal(whole.p, p);
            assert_true(whole.end == content.end);
            assert_true(content.p > whole.p && content.p <= content.end);
            assert_int_equal(tag, p[0]);
            assert_ptr_equal(c.p, content.end);
        }
    } else if (strcmp(v->func, "single") == 0) {
        uint8_t tag;
        st = sello_der_read_any(&c, &tag, &content, &whole);
    } else if (strcmp(v->func, "integer") == 0) {
        st = sello_der_read_integer(&c, &content);
    } else if (strcmp(v->func, "u32") == 0) {
        uint32_t x = 0;
        st = sello_der_read_u32(&c, &x);
        if (st == SELLO_OK && check_value && v->has_value)
            assert_int_equal(x, v->value);
    } else if (strcmp(v->func, "bool") == 0) {
        bool x = false;
        st = sello_der_read_bool(&c, &x);
        if (st == SELLO_OK && check_value && v->has_value)
            assert_int_equal(x, v->value != 0);
    } else if (strcmp(v->func, "oid") == 0) {
        st = sello_der_read_oid(&c, &content);
    } else {
        print_error("unknown vector function %s\n", v->func);
        fail();
        return false;
    }
    if (st != SELLO_OK) {
        assert_int_equal(st, SELLO_ERR_DER);
        /* a failed read leaves the cursor unchanged */
        assert_ptr_equal(c.p, before.p);
        assert_ptr_equal(c.end, before.end);
        return false;
    }
    assert_true(c.p <= c.end);
    return !at_end_required || sello_der_at_end(&c);
}

static void test_vector(void **state)
{
    const sello_der_vector *v = *state;
    /* An exact-size heap copy: any over-read trips AddressSanitizer. */
    uint8_t *p = malloc(v->len ? v->len : 1);
    memcpy(p, v->der, v->len);
    bool ok = apply(v, p, v->len, true);
    if (ok != v->accept) {
        print_error("der/vectors.txt:%u: %s %s was %s\n", v->lineno, v->func,
                    v->why, ok ? "accepted" : "rejected");
        tu_dump("input", p, v->len);
        free(p);
        fail();
    }
    /* Every proper prefix of a complete accepted element is refused. */
    if (v->accept && strcmp(v->func, "read") != 0) {
        /* every cut for short vectors; for long ones every cut inside the
         * header and a spread of cuts through the content */
        size_t step = v->len > 512 ? v->len / 61 : 1;
        for (size_t cut = 0; cut < v->len;
             cut = (cut < 8 || cut + 1 == v->len) ? cut + 1
                   : (cut + step < v->len ? cut + step : v->len - 1)) {
            uint8_t *q = malloc(cut ? cut : 1);
            memcpy(q, v->der, cut);
            bool pref = apply(v, q, cut, false);
            free(q);
            if (pref) {
                print_error("der/vectors.txt:%u: prefix of %zu octets "
                            "accepted\n", v->lineno, cut);
                free(p);
                fail();
            }
        }
    }
    free(p);
}

static void test_vectors_loaded(void **state)
{
    (void)state;
    assert_true(vectors_ok);
    assert_true(nvectors >= 50);
}

/* ---- reader details ----------------------------------------------------------- */

static void test_peek_and_optional(void **state)
{
    (void)state;
    static const uint8_t in[] = { 0x02, 0x01, 0x05, 0xa0, 0x00 };
    sello_der_cur c = sello_der_cur_init(in, sizeof in), content, whole;
    bool present = true;
    assert_int_equal(sello_der_peek_tag(&c), 0x02);
    assert_int_equal(sello_der_read_optional(&c, SELLO_DER_BOOLEAN, &content, NULL,
                                       &present), SELLO_OK);
    assert_false(present);
    assert_ptr_equal(c.p, in);
    /* sello_der_read with the wrong tag fails and does not move */
    assert_int_equal(sello_der_read(&c, SELLO_DER_OCTET_STRING, &content, NULL),
                     SELLO_ERR_DER);
    assert_ptr_equal(c.p, in);
    assert_int_equal(sello_der_read_optional(&c, SELLO_DER_INTEGER, &content, &whole,
                                       &present), SELLO_OK);
    assert_true(present);
    assert_ptr_equal(whole.p, in);
    assert_ptr_equal(whole.end, in + 3);
    assert_int_equal(sello_der_remaining(&content), 1);
    assert_int_equal(content.p[0], 5);
    assert_int_equal(sello_der_read(&c, SELLO_DER_CONTEXT_CONS(0), &content, NULL),
                     SELLO_OK);
    assert_true(sello_der_at_end(&content));
    assert_true(sello_der_at_end(&c));
    assert_int_equal(sello_der_peek_tag(&c), -1);
    /* an optional element that is present but malformed is an error */
    static const uint8_t bad[] = { 0x01, 0x01, 0x01 };
    c = sello_der_cur_init(bad, sizeof bad);
    bool flag;
    assert_int_equal(sello_der_read_optional(&c, SELLO_DER_BOOLEAN, &content, NULL,
                                       &present), SELLO_OK);
    assert_int_equal(sello_der_read_bool(&c, &flag), SELLO_ERR_DER);
}

static void test_equal(void **state)
{
    (void)state;
    static const uint8_t oid[] = { 0x55, 0x1d, 0x25 };
    sello_der_cur c = sello_der_cur_init(oid, sizeof oid);
    assert_true(sello_der_equal(&c, oid, sizeof oid));
    assert_false(sello_der_equal(&c, oid, 2));
    static const uint8_t other[] = { 0x55, 0x1d, 0x26 };
    assert_false(sello_der_equal(&c, other, sizeof other));
}

/* Reading into a sub-cursor never escapes the parent: an inner element
 * that claims more than its parent holds is refused even though the
 * octets exist further on in the buffer. */
static void test_nested_bounds(void **state)
{
    (void)state;
    static const uint8_t in[] = { 0x30, 0x03, 0x04, 0x05, 0xaa, 0xbb, 0xcc,
                                  0xdd, 0xee };
    sello_der_cur c = sello_der_cur_init(in, sizeof in), seq, content;
    assert_int_equal(sello_der_read(&c, SELLO_DER_SEQUENCE, &seq, NULL), SELLO_OK);
    assert_int_equal(sello_der_read(&seq, SELLO_DER_OCTET_STRING, &content, NULL),
                     SELLO_ERR_DER);
}

/* ---- writer ------------------------------------------------------------------- */

static void check_header(size_t len, const uint8_t *expect, size_t expect_len)
{
    uint8_t buf[8];
    sello_der_writer w;
    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_header(&w, SELLO_DER_OCTET_STRING, len);
    assert_true(sello_derw_ok(&w));
    assert_bytes_equal(w.p, sello_derw_len(&w), expect, expect_len);
}

static void test_writer_header_forms(void **state)
{
    (void)state;
    check_header(0, (const uint8_t *)"\x04\x00", 2);
    check_header(0x7f, (const uint8_t *)"\x04\x7f", 2);
    check_header(0x80, (const uint8_t *)"\x04\x81\x80", 3);
    check_header(0xff, (const uint8_t *)"\x04\x81\xff", 3);
    check_header(0x100, (const uint8_t *)"\x04\x82\x01\x00", 4);
    check_header(0xffff, (const uint8_t *)"\x04\x82\xff\xff", 4);
    check_header(0x10000, (const uint8_t *)"\x04\x83\x01\x00\x00", 5);
    check_header(0xffffff, (const uint8_t *)"\x04\x83\xff\xff\xff", 5);
    /* 2^24 and beyond cannot be written (nor read) */
    uint8_t buf[8];
    sello_der_writer w;
    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_header(&w, SELLO_DER_OCTET_STRING, 0x1000000);
    assert_false(sello_derw_ok(&w));
}

/* What the writer emits, the strict reader accepts, for every length
 * form boundary. */
static void test_writer_reader_roundtrip(void **state)
{
    (void)state;
    static const size_t lens[] = { 0, 1, 0x7f, 0x80, 0xff, 0x100, 0x101,
                                   0xffff, 0x10000, 0x10001 };
    size_t cap = 0x10001 + 8;
    uint8_t *buf = malloc(cap), *content = malloc(0x10001);
    memset(content, 0x5a, 0x10001);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        sello_der_writer w;
        sello_derw_init(&w, buf, cap);
        sello_derw_prim(&w, SELLO_DER_OCTET_STRING, content, lens[i]);
        size_t len;
        assert_true(sello_derw_to_front(&w, &len));
        sello_der_cur c = sello_der_cur_init(buf, len), got;
        assert_int_equal(sello_der_read(&c, SELLO_DER_OCTET_STRING, &got, NULL), SELLO_OK);
        assert_true(sello_der_at_end(&c));
        assert_int_equal(sello_der_remaining(&got), lens[i]);
    }
    free(buf);
    free(content);
}

static void check_uint(const uint8_t *mag, size_t len, const char *expect_hex)
{
    uint8_t buf[32], expect[32];
    size_t n = tu_hex(expect_hex, expect, sizeof expect);
    sello_der_writer w;
    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_uint(&w, mag, len);
    assert_true(sello_derw_ok(&w));
    assert_bytes_equal(w.p, sello_derw_len(&w), expect, n);
    /* and the strict reader accepts it */
    sello_der_cur c = sello_der_cur_init(w.p, sello_derw_len(&w)), content;
    assert_int_equal(sello_der_read_integer(&c, &content), SELLO_OK);
    assert_true(sello_der_at_end(&c));
}

static void test_writer_uint(void **state)
{
    (void)state;
    check_uint((const uint8_t *)"\x01", 1, "02 01 01");
    check_uint((const uint8_t *)"\x00\x00\x01", 3, "02 01 01");
    check_uint((const uint8_t *)"\x7f", 1, "02 01 7f");
    check_uint((const uint8_t *)"\x80", 1, "02 02 00 80");
    check_uint((const uint8_t *)"\x00\x80", 2, "02 02 00 80");
    check_uint((const uint8_t *)"\x00\x00\x00\x80", 4, "02 02 00 80");
    check_uint((const uint8_t *)"\xff", 1, "02 02 00 ff");
    check_uint((const uint8_t *)"\x00\x00", 2, "02 01 00");
    check_uint((const uint8_t *)"\x00", 1, "02 01 00");
    check_uint(NULL, 0, "02 01 00");
    check_uint((const uint8_t *)"\x7f\xff", 2, "02 02 7f ff");
    check_uint((const uint8_t *)"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                                "\x00",
               12, "02 02 01 00");
}

static void check_u64(uint64_t v, const char *expect_hex)
{
    uint8_t buf[16], expect[16];
    size_t n = tu_hex(expect_hex, expect, sizeof expect);
    sello_der_writer w;
    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_u64(&w, v);
    assert_true(sello_derw_ok(&w));
    assert_bytes_equal(w.p, sello_derw_len(&w), expect, n);
}

static void test_writer_u64(void **state)
{
    (void)state;
    check_u64(0, "02 01 00");
    check_u64(1, "02 01 01");
    check_u64(127, "02 01 7f");
    check_u64(128, "02 02 00 80");
    check_u64(255, "02 02 00 ff");
    check_u64(256, "02 02 01 00");
    check_u64(0x7fffffffffffffffull, "02 08 7f ff ff ff ff ff ff ff");
    check_u64(UINT64_MAX, "02 09 00 ff ff ff ff ff ff ff ff");
}

static void test_writer_nested(void **state)
{
    (void)state;
    uint8_t buf[32];
    sello_der_writer w;
    sello_derw_init(&w, buf, sizeof buf);
    const uint8_t *seq = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_NULL, "", 0);
    sello_derw_u64(&w, 1);
    sello_derw_wrap(&w, seq, SELLO_DER_SEQUENCE);
    assert_bytes_equal(w.p, sello_derw_len(&w), "\x30\x05\x02\x01\x01\x05\x00", 7);

    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_bits(&w, "\xaa\xbb", 2);
    assert_bytes_equal(w.p, sello_derw_len(&w), "\x03\x03\x00\xaa\xbb", 5);

    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_u64(&w, 500);
    sello_derw_retag(&w, SELLO_DER_CONTEXT(0));
    assert_bytes_equal(w.p, sello_derw_len(&w), "\x80\x02\x01\xf4", 4);
}

/* Sticky overflow: after the first element that does not fit, nothing is
 * written any more, even elements that would fit, and the writer reports
 * the failure at the end. */
static void test_writer_sticky_overflow(void **state)
{
    (void)state;
    uint8_t buf[8];
    memset(buf, 0xee, sizeof buf);
    sello_der_writer w;
    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, "\x01\x02\x03", 3); /* 5 octets: fits */
    assert_true(sello_derw_ok(&w));
    const uint8_t *after_first = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, "\x01\x02\x03\x04", 4); /* needs 6 */
    assert_false(sello_derw_ok(&w));
    assert_ptr_equal(sello_derw_mark(&w), after_first);
    sello_derw_raw(&w, "\x01", 1); /* would fit, but the writer is dead */
    sello_derw_header(&w, SELLO_DER_SEQUENCE, 0);
    sello_derw_u64(&w, 0);
    sello_derw_retag(&w, 0x80);
    assert_ptr_equal(sello_derw_mark(&w), after_first);
    assert_false(sello_derw_ok(&w));
    /* the octets before the output were never touched */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(buf[i], 0xee);
    size_t len = 12345;
    assert_false(sello_derw_to_front(&w, &len));
    assert_int_equal(len, 12345);
    assert_int_equal(buf[0], 0xee);

    /* content that fits but a header that does not: still one failure */
    sello_derw_init(&w, buf, 4);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, "\x01\x02\x03", 3);
    assert_false(sello_derw_ok(&w));
    assert_false(sello_derw_to_front(&w, &len));
    /* a header alone can overflow too */
    sello_derw_init(&w, buf, 1);
    sello_derw_header(&w, SELLO_DER_SEQUENCE, 0);
    assert_false(sello_derw_ok(&w));
    /* and so can the sign octet of an INTEGER */
    sello_derw_init(&w, buf, 3);
    sello_derw_uint(&w, (const uint8_t *)"\x80", 1);
    assert_false(sello_derw_ok(&w));
}

static void test_writer_to_front(void **state)
{
    (void)state;
    uint8_t buf[16];
    memset(buf, 0xee, sizeof buf);
    sello_der_writer w;
    sello_derw_init(&w, buf, sizeof buf);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, "\x01\x02\x03", 3);
    size_t len = 0;
    assert_true(sello_derw_to_front(&w, &len));
    assert_int_equal(len, 5);
    assert_bytes_equal(buf, len, "\x04\x03\x01\x02\x03", 5);
    /* an empty writer moves nothing */
    sello_derw_init(&w, buf, sizeof buf);
    assert_true(sello_derw_to_front(&w, &len));
    assert_int_equal(len, 0);
    /* exactly full */
    sello_derw_init(&w, buf, 5);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, "\x09\x08\x07", 3);
    assert_true(sello_derw_to_front(&w, &len));
    assert_bytes_equal(buf, len, "\x04\x03\x09\x08\x07", 5);
}

static int order(const char *a_hex, const char *b_hex)
{
    uint8_t a[32], b[32];
    size_t an = tu_hex(a_hex, a, sizeof a), bn = tu_hex(b_hex, b, sizeof b);
    int r = sello_der_set_order(a, an, b, bn);
    int back = sello_der_set_order(b, bn, a, an);
    /* antisymmetric */
    assert_true((r < 0 && back > 0) || (r > 0 && back < 0) ||
                (r == 0 && back == 0));
    return r;
}

static void test_set_order(void **state)
{
    (void)state;
    assert_int_equal(order("31 01 00", "31 01 00"), 0);
    assert_true(order("31 01 00", "31 01 01") < 0);
    assert_true(order("02 01 05", "04 01 00") < 0);  /* tag decides first */
    assert_true(order("30 03 02 01 01", "30 02 05 00") > 0);
    /* the shorter is padded with zero octets: a prefix is smaller unless
     * the longer one's extra octets are zero */
    assert_true(order("01 02", "01 02 01") < 0);
    assert_int_equal(order("01 02", "01 02 00"), 0);
    assert_true(order("01 02", "01 02 00 00 01") < 0);
    assert_true(order("02", "01 ff") > 0);
    assert_int_equal(order("", ""), 0);
    assert_true(order("", "01") < 0);
    /* the three signed attributes in the order RFC 5652 DER demands:
     * content-type (30 18 ...) < message-digest (30 2f ...) <
     * signing-certificate-v2 (30 81 ...) by their second octets */
    assert_true(order("30 18 06 09", "30 2f 06 09") < 0);
    assert_true(order("30 2f 06 09", "30 81 9f 06") < 0);
}

int main(int argc, char **argv)
{
    load_vectors();
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_vectors_loaded),
        cmocka_unit_test(test_peek_and_optional),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_nested_bounds),
        cmocka_unit_test(test_writer_header_forms),
        cmocka_unit_test(test_writer_reader_roundtrip),
        cmocka_unit_test(test_writer_uint),
        cmocka_unit_test(test_writer_u64),
        cmocka_unit_test(test_writer_nested),
        cmocka_unit_test(test_writer_sticky_overflow),
        cmocka_unit_test(test_writer_to_front),
        cmocka_unit_test(test_set_order),
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *tests = calloc(nfixed + nvectors, sizeof *tests);
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < nvectors; i++) {
        tests[nfixed + i].name = vectors[i].name;
        tests[nfixed + i].test_func = test_vector;
        tests[nfixed + i].initial_state = &vectors[i];
    }
    int rc = tu_run("der", tests, nfixed + nvectors, argc, argv);
    for (size_t i = 0; i < nvectors; i++)
        free(vectors[i].der);
    free(vectors);
    free(tests);
    return rc;
}
