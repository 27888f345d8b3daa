/*
 * Small helpers shared by the `sello` command line: diagnostics, whole-file
 * I/O, hex and decimal rendering of big-endian integers.
 *
 * The command line is an ordinary POSIX program: it may allocate, and it
 * reports problems on stderr prefixed with "sello: ".
 */
#ifndef SELLO_TOOLS_UTIL_H
#define SELLO_TOOLS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest file the tool reads (certificates, tokens, CSRs); data files to
 * be time-stamped are hashed in a stream and have no limit. */
#define UTIL_FILE_MAX (16u * 1024u * 1024u)

/* Prints "sello: <message>\n" on stderr. */
void util_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reads the whole file at `path` ("-" is stdin) into a fresh malloc'd
 * buffer. Returns false after printing why (missing, unreadable, larger
 * than UTIL_FILE_MAX).
 */
bool util_read_file(const char *path, uint8_t **data, size_t *len);

/*
 * Writes data[0..len) to `path` ("-" is stdout), replacing the file.
 * Returns false after printing why.
 */
bool util_write_file(const char *path, const void *data, size_t len);

/*
 * Parses hex digits (upper or lower case, optional "0x" prefix, no
 * separators) into out[0..cap). Returns the number of octets, or -1 for an
 * odd count, a non-hex character or more than `cap` octets.
 */
long util_hex_decode(const char *hex, uint8_t *out, size_t cap);

/* Writes data as lower-case hex into out (2*len+1 octets). */
void util_hex_encode(const uint8_t *data, size_t len, char *out);

/*
 * Renders the unsigned big-endian integer mag[0..len) in decimal into
 * out[0..cap). Returns false when it does not fit.
 */
bool util_uint_to_dec(const uint8_t *mag, size_t len, char *out, size_t cap);

/* Parses a decimal unsigned 64-bit number; false on junk or overflow. */
bool util_parse_u64(const char *s, uint64_t *v);

/* Fills buf[0..len) from the system CSPRNG (getrandom); false after
 * printing why. */
bool util_random(void *buf, size_t len);

/* This host's CLOCK_REALTIME in microseconds since 1970; false after
 * printing why. */
bool util_now_utc_us(uint64_t *us);

/* What the kernel says about its clock (ntp_adjtime, read only). */
typedef struct {
    bool known;        /* ntp_adjtime answered (else err is its errno) */
    bool synchronised; /* neither TIME_ERROR nor STA_UNSYNC */
    uint64_t maxerror_us; /* struct timex .maxerror: the error bound */
    uint64_t esterror_us;
    int err;
} util_kernel_clock_info;

void util_kernel_clock(util_kernel_clock_info *k);

/*
 * Parses UTC in ISO 8601 as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (a space for
 * the T, and up to 9 fraction digits, truncated to microseconds) into
 * microseconds since 1970. False on anything else, including a date that
 * does not exist or a year before 1970.
 */
bool util_parse_utc_iso_us(const char *s, uint64_t *us);

/* Formats milliseconds since 1970 as "2025-03-01T12:00:00.123Z" (no
 * fraction when it is zero, trailing zeros removed). */
void util_utc_iso(uint64_t ms, char *out, size_t cap);

/* Formats microseconds since 1970 with all six fraction digits:
 * "2025-03-01T12:00:00.123000Z". */
void util_utc_iso_us(uint64_t us, char *out, size_t cap);

#endif
