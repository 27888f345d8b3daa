/*
 * The MPS2 board's bare runtime (board/mps2-an385/runtime.c), on the host:
 * every length 0..80 at every alignment of source and destination against
 * byte-by-byte references, overlapping moves in both directions, memset's
 * value truncation, memcmp's sign. Under ASan an access outside the given
 * ranges fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

void *bare_memcpy(void *restrict dst, const void *restrict src, size_t n);
void *bare_memmove(void *dst, const void *src, size_t n);
void *bare_memset(void *dst, int c, size_t n);
int bare_memcmp(const void *a, const void *b, size_t n);

#define SPAN 96
#define MAX_LEN 80

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7u + (i >> 3));
}

static void test_memcpy_every_alignment(void **state)
{
    (void)state;
    uint8_t src[SPAN], dst[SPAN], want[SPAN];
    for (size_t so = 0; so < 8; so++)
        for (size_t d = 0; d < 8; d++)
            for (size_t n = 0; n <= MAX_LEN; n++) {
                fill(src, SPAN, (uint8_t)(so + n));
                fill(dst, SPAN, 0xa5);
                fill(want, SPAN, 0xa5);
                for (size_t i = 0; i < n; i++)
                    want[d + i] = src[so + i];
                assert_ptr_equal(bare_memcpy(dst + d, src + so, n), dst + d);
                assert_memory_equal(dst, want, SPAN);
            }
}

/* Both directions of overlap, every distance, both alignments. */
static void test_memmove_overlapping(void **state)
{
    (void)state;
    uint8_t buf[SPAN], want[SPAN], copy[SPAN];
    for (size_t from = 0; from < 12; from++)
        for (size_t to = 0; to < 12; to++)
            for (size_t n = 0; n + 12 <= SPAN && n <= MAX_LEN; n++) {
                fill(buf, SPAN, (uint8_t)(from * 13 + to + n));
                for (size_t i = 0; i < SPAN; i++)
                    want[i] = copy[i] = buf[i];
                for (size_t i = 0; i < n; i++)
                    want[to + i] = copy[from + i];
                assert_ptr_equal(bare_memmove(buf + to, buf + from, n),
                                 buf + to);
                assert_memory_equal(buf, want, SPAN);
            }
}

static void test_memset_values_and_alignment(void **state)
{
    (void)state;
    uint8_t buf[SPAN], want[SPAN];
    static const int values[] = {0, 0x5a, 0xff, 0x1ff, -1, 0x12345680};
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
        for (size_t d = 0; d < 8; d++)
            for (size_t n = 0; n <= MAX_LEN; n++) {
                fill(buf, SPAN, 0x3c);
                fill(want, SPAN, 0x3c);
                for (size_t i = 0; i < n; i++)
                    want[d + i] = (uint8_t)values[v];
                assert_ptr_equal(bare_memset(buf + d, values[v], n), buf + d);
                assert_memory_equal(buf, want, SPAN);
            }
}

/* The sign of the first differing octet, compared as unsigned char. */
static void test_memcmp_sign(void **state)
{
    (void)state;
    uint8_t a[SPAN], b[SPAN];
    fill(a, SPAN, 9);
    fill(b, SPAN, 9);
    assert_int_equal(bare_memcmp(a, b, SPAN), 0);
    assert_int_equal(bare_memcmp(a, b, 0), 0);
    for (size_t i = 0; i < SPAN; i++) {
        uint8_t saved = b[i];
        b[i] = 0x80;
        a[i] = 0x7f;
        assert_true(bare_memcmp(a, b, SPAN) < 0);
        assert_true(bare_memcmp(b, a, SPAN) > 0);
        assert_int_equal(bare_memcmp(a, b, i), 0);
        a[i] = b[i] = saved;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memcpy_every_alignment),
        cmocka_unit_test(test_memmove_overlapping),
        cmocka_unit_test(test_memset_values_and_alignment),
        cmocka_unit_test(test_memcmp_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
