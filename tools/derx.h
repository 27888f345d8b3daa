/*
 * DER reading the command line needs beyond the project's reader
 * (firmware/der.h): BIT STRINGs, named-bit lists, AlgorithmIdentifiers,
 * times, non-negative INTEGER magnitudes and the SET OF ordering rule.
 * Everything is built on sello_der_read*, so the same strictness applies:
 * definite minimal lengths, nothing read past the cursor, a failing read
 * leaves the cursor where it was.
 */
#ifndef SELLO_TOOLS_DERX_H
#define SELLO_TOOLS_DERX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "der.h"

/*
 * Reads a BIT STRING whose length is a whole number of octets (keys,
 * signatures). *bits covers the octets after the unused-bits count.
 */
SELLO_MUST_CHECK sello_status derx_read_octet_bits(sello_der_cur *c,
                                                   sello_der_cur *bits);

/*
 * Reads a BIT STRING that holds a NamedBitList (keyUsage, failInfo):
 * bit n (n < 32, counted from the first octet's most significant bit)
 * becomes (1u << n) in *mask. DER demands that trailing zero bits be
 * removed and unused bits be zero; both are checked. Bits above 31 are
 * refused (none of the lists Sello reads has them).
 */
SELLO_MUST_CHECK sello_status derx_read_named_bits(sello_der_cur *c,
                                                   uint32_t *mask);

/*
 * AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER,
 *                                    parameters ANY OPTIONAL }
 * *oid covers the OID content; *params the whole parameters element when
 * present (*has_params). `whole` (may be NULL) covers the whole element.
 */
typedef struct {
    sello_der_cur oid;
    sello_der_cur params;
    bool has_params;
    sello_der_cur whole;
} derx_alg;

SELLO_MUST_CHECK sello_status derx_read_alg(sello_der_cur *c, derx_alg *alg);

/* True when the parameters are absent or an explicit NULL, the two forms
 * that hash and RSA algorithm identifiers are met with. */
bool derx_alg_params_absent_or_null(const derx_alg *alg);

/*
 * Reads a non-negative INTEGER; *mag covers its magnitude without the
 * sign octet (a zero value gives one zero octet).
 */
SELLO_MUST_CHECK sello_status derx_read_uint_mag(sello_der_cur *c, sello_der_cur *mag);

/*
 * Reads a non-negative INTEGER below 2^32 that carries the IMPLICIT
 * context tag `tag` (for instance Accuracy's [0] millis).
 */
SELLO_MUST_CHECK sello_status derx_read_implicit_u32(sello_der_cur *c, uint8_t tag,
                                                     uint32_t *v);

/* A decoded UTC time. */
typedef struct {
    int64_t secs;     /* seconds since 1970-01-01T00:00:00Z */
    uint32_t nanos;   /* fraction, truncated to nanoseconds */
    bool frac_beyond_nanos; /* more fraction digits than nanoseconds hold */
    char text[40];    /* the encoded value as it appeared, NUL-terminated */
} derx_time;

/*
 * Reads a certificate Time: UTCTime YYMMDDHHMMSSZ (years 1950..2049) or
 * GeneralizedTime YYYYMMDDHHMMSSZ, as RFC 5280 profiles them.
 */
SELLO_MUST_CHECK sello_status derx_read_cert_time(sello_der_cur *c, derx_time *t);

/*
 * Reads a GeneralizedTime in the RFC 3161 genTime form
 * YYYYMMDDHHMMSS[.f*]Z: "Z" mandatory, a fraction only if non-zero, with
 * at least one digit and no trailing zero.
 */
SELLO_MUST_CHECK sello_status derx_read_gentime(sello_der_cur *c, derx_time *t);

/* Formats a time as ISO 8601 ("2025-03-01T12:00:00.123Z") into out. */
void derx_time_iso(const derx_time *t, char *out, size_t cap);

/* -1, 0 or 1 as a is before, equal to or after b. */
int derx_time_cmp(const derx_time *a, const derx_time *b);

/*
 * Checks that the elements of a SET OF (its content, `set`) appear in the
 * DER order: ascending encodings compared as octet strings, the shorter
 * padded with zero octets. Every element must also be well-formed.
 */
SELLO_MUST_CHECK sello_status derx_check_set_order(sello_der_cur set);

/* The same comparison for two encodings: <0, 0 or >0. */
int derx_set_cmp(const sello_der_cur *a, const sello_der_cur *b);

#endif
