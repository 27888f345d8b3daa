/*
 * Shamir secret sharing of the 32-octet activation secret K (DESIGN.md
 * section 6, dual control).
 *
 * Arithmetic is in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1
 * (0x11b), octet by octet: for each octet s of the secret an independent
 * random polynomial f(x) = s + a_1 x + ... + a_(m-1) x^(m-1) is drawn, and
 * share i (x = i, 1 <= i <= n) holds f(i) for all 32 polynomials. Any m
 * shares determine the secret by Lagrange interpolation at 0; any m-1 or
 * fewer are uniformly distributed whatever the secret is.
 *
 * Constant time: multiplication is shift-and-add with masks (no tables, no
 * branches on data) and inversion is exponentiation (a^254) with the fixed
 * public exponent, so timing depends only on the public parameters (m, n,
 * count and the x coordinates), never on the secret, the coefficients or
 * the share values.
 *
 * Shamir's scheme gives no integrity: a wrong or corrupted share, or fewer
 * than the threshold, silently gives a wrong secret. Callers must check the
 * result (see sello_shamir_combine).
 */
#ifndef SELLO_SHAMIR_H
#define SELLO_SHAMIR_H

#include <stdint.h>

#include <bearssl.h>
#include <sello/status.h>

#define SELLO_SHAMIR_SECRET_LEN 32u
#define SELLO_SHAMIR_MIN_M 2u   /* threshold: at least two custodians */
#define SELLO_SHAMIR_MAX_N 16u  /* shares: at most sixteen */

/* One share: its x coordinate (1..SELLO_SHAMIR_MAX_N when made by
 * sello_shamir_split) and the 32 polynomial values at x. Secret material:
 * the owner wipes it (sello_wipe) when done. */
typedef struct {
    uint8_t x;
    uint8_t y[SELLO_SHAMIR_SECRET_LEN];
} sello_shamir_share;

/*
 * Splits `secret` into `n` shares with threshold `m`, written to
 * shares[0..n): shares[i].x = i + 1. Requires 2 <= m <= n <= 16, else
 * SELLO_ERR_PARAM and nothing is written or drawn.
 *
 * The coefficients come from `rng` (the module's HMAC-DRBG) as m - 1
 * blocks of 32 octets, highest degree first: block k (0 <= k < m - 1)
 * holds the coefficients of x^(m-1-k) for secret octets 0..31. (The order
 * is part of the contract so that known-answer tests can script the rng.)
 * Coefficients are uniform in GF(2^8), zero included, as the scheme's
 * secrecy requires. The coefficient buffer is wiped before returning.
 *
 * `secret` must not overlap `shares`.
 */
SELLO_MUST_CHECK sello_status sello_shamir_split(const uint8_t secret[32],
                                                 unsigned m, unsigned n,
                                                 const br_prng_class **rng,
                                                 sello_shamir_share shares[]);

/*
 * Interpolates at 0 the polynomial through exactly the `count` given
 * shares and writes it to secret_out. Requires 1 <= count <= 16 and x
 * coordinates that are non-zero and pairwise distinct, else
 * SELLO_ERR_PARAM and secret_out is not written. Intermediate values are
 * wiped; secret_out may overlap a share.
 *
 * The result is the secret only when the shares are genuine and the
 * polynomial's degree is below `count`, that is, when count >= m of the
 * split. This function cannot know m: with fewer shares, or with a
 * corrupted or foreign share, it returns SELLO_OK and a wrong value that
 * reveals nothing. The caller decides that it holds at least m shares and
 * must check the integrity of the result before trusting it, e.g. by the
 * authenticated unwrap of the key under K failing, or by a MAC on each
 * share checked before combining (which also says which share is bad).
 * Passing more than m genuine shares is fine.
 */
SELLO_MUST_CHECK sello_status sello_shamir_combine(
    const sello_shamir_share shares[], unsigned count, uint8_t secret_out[32]);

/*
 * a * b in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1; constant time.
 * Exposed for the tests; the module needs only split and combine.
 */
uint8_t sello_gf256_mul(uint8_t a, uint8_t b);

/* The inverse of a in GF(2^8) (a^254), and 0 for 0; constant time. */
uint8_t sello_gf256_inv(uint8_t a);

#endif
