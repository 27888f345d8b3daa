/*
 * Shared cmocka plumbing for the unit tests.
 *
 * Selecting tests: every test program takes an optional pattern (cmocka's
 * glob: '*' and '?') as its first argument, or from $SELLO_TEST_FILTER, and
 * runs only the tests whose names match:
 *     build/test/test_module 'load_cert_*'
 *     SELLO_TEST_FILTER='*nonce*' build/test/test_tsp
 * `--list` prints the test names and exits.
 */
#ifndef SELLO_TEST_TESTUTIL_H
#define SELLO_TEST_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testdata.h"

/* Runs `tests` as the group `group` after applying the selection above. */
int tu_run(const char *group, const struct CMUnitTest *tests, size_t n,
           int argc, char **argv);

#define TU_RUN(group, tests, argc, argv)                                       \
    tu_run(group, tests, sizeof(tests) / sizeof((tests)[0]), argc, argv)

/* Fails the test with a hex dump of both sides when a != b. */
#define assert_bytes_equal(a, alen, b, blen)                                   \
    tu_assert_bytes_equal(a, alen, b, blen, #a, __FILE__, __LINE__)
void tu_assert_bytes_equal(const void *a, size_t alen, const void *b,
                           size_t blen, const char *what, const char *file,
                           int line);

/* Loads test/data/<rel>, failing the test when it is missing. Freed by
 * the caller (free()). */
uint8_t *tu_load(const char *rel, size_t *len);

/* Decodes a hex string, failing the test on bad hex. */
size_t tu_hex(const char *hex, uint8_t *out, size_t cap);

/* Prints bytes as hex on stderr with a label (diagnostics only). */
void tu_dump(const char *label, const uint8_t *p, size_t n);

#endif
