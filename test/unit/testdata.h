/*
 * Test data files (test/data/...), shared by the unit tests and the fuzz
 * targets; no cmocka here.
 *
 * The data directory is $SELLO_TEST_DATA when set, else test/data under the
 * current directory, else test/data found by walking up from the running
 * executable (build/test/test_x, build/asan/test/test_x, build/fuzz/...).
 */
#ifndef SELLO_TEST_TESTDATA_H
#define SELLO_TEST_TESTDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The data directory, or NULL when none was found. */
const char *td_dir(void);

/* Reads test/data/<rel> whole into a malloc'd buffer (NUL-terminated beyond
 * *len for text use); NULL when it cannot be read. */
uint8_t *td_load(const char *rel, size_t *len);

/* Writes data to <dir>/<name>; false on failure. */
bool td_save(const char *dir, const char *name, const uint8_t *data,
             size_t len);

/*
 * Decodes hex digits, ignoring spaces, tabs, ':' and '.'; stops at the end
 * of the string or at '#'. Returns the octet count, or (size_t)-1 for a
 * non-hex character, an odd digit count or more than cap octets.
 */
size_t td_hex(const char *s, uint8_t *out, size_t cap);

/* Splits a text file into its lines that are not empty and do not start
 * with '#' (after leading blanks). *n receives the count; the array and the
 * strings live until td_free_lines. Each line keeps its 1-based number. */
typedef struct {
    unsigned lineno;
    char *text;
} td_line;
td_line *td_read_lines(const char *rel, size_t *n);
void td_free_lines(td_line *lines, size_t n);

/* Trims blanks at both ends in place. */
char *td_trim(char *s);

#endif
