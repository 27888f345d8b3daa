/* Shared cmocka plumbing; contracts in testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tu_run(const char *group, const struct CMUnitTest *tests, size_t n,
           int argc, char **argv)
{
    const char *filter = getenv("SELLO_TEST_FILTER");
    if (argc > 1) {
        if (strcmp(argv[1], "--list") == 0) {
            for (size_t i = 0; i < n; i++)
                printf("%s\n", tests[i].name);
            return 0;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            printf("usage: %s [--list | PATTERN]\n"
                   "  PATTERN (or $SELLO_TEST_FILTER) selects tests by name "
                   "with '*' and '?'\n", argv[0]);
            return 0;
        }
        filter = argv[1];
    }
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

void tu_dump(const char *label, const uint8_t *p, size_t n)
{
    fprintf(stderr, "%s (%zu):", label, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", p[i]);
    fprintf(stderr, "\n");
}

void tu_assert_bytes_equal(const void *a, size_t alen, const void *b,
                           size_t blen, const char *what, const char *file,
                           int line)
{
    if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
        return;
    size_t i = 0;
    while (i < alen && i < blen && ((const uint8_t *)a)[i] == ((const uint8_t *)b)[i])
        i++;
    print_error("%s:%d: %s differs: lengths %zu vs %zu, first difference at "
                "offset %zu\n", file, line, what, alen, blen, i);
    tu_dump("got", a, alen);
    tu_dump("expected", b, blen);
    _fail(file, line);
}

uint8_t *tu_load(const char *rel, size_t *len)
{
    uint8_t *p = td_load(rel, len);
    if (!p) {
        print_error("cannot read test data %s (data dir: %s)\n", rel,
                    td_dir() ? td_dir() : "not found");
        fail();
    }
    return p;
}

size_t tu_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = td_hex(hex, out, cap);
    if (n == (size_t)-1) {
        print_error("bad hex: %s\n", hex);
        fail();
    }
    return n;
}
