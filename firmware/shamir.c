/* Shamir secret sharing over GF(2^8); contracts in shamir.h. */
#include "shamir.h"

#include "runtime.h"

uint8_t sello_gf256_mul(uint8_t a, uint8_t b)
{
    /* Shift-and-add: each bit of b selects (by mask, not by branch) whether
     * the current multiple of a is added; the multiple is doubled and
     * reduced by 0x11b when it overflows, again by mask. */
    uint32_t x = a, y = b, r = 0;
    for (unsigned i = 0; i < 8; i++) {
        r ^= x & (0u - (y & 1u));
        y >>= 1;
        x = (x << 1) ^ (0x11bu & (0u - (x >> 7)));
    }
    return (uint8_t)r;
}

uint8_t sello_gf256_inv(uint8_t a)
{
    /* The multiplicative group has order 255, so a^254 = a^-1, and 0^254 is
     * 0. The chain r = a^(2^k - 1), k = 1..7, then one squaring, is the same
     * 13 multiplications for every a. */
    uint8_t r = a;
    for (unsigned i = 0; i < 6; i++)
        r = sello_gf256_mul(sello_gf256_mul(r, r), a);
    return sello_gf256_mul(r, r);
}

/* One step of Horner's rule at every share: y <- y * x + c, octet-wise. */
static void horner_step(sello_shamir_share shares[], unsigned n,
                        const uint8_t c[SELLO_SHAMIR_SECRET_LEN])
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t x = shares[i].x;
        for (unsigned b = 0; b < SELLO_SHAMIR_SECRET_LEN; b++)
            shares[i].y[b] = (uint8_t)(sello_gf256_mul(shares[i].y[b], x) ^ c[b]);
    }
}

sello_status sello_shamir_split(const uint8_t secret[32], unsigned m,
                                unsigned n, const br_prng_class **rng,
                                sello_shamir_share shares[])
{
    if (m < SELLO_SHAMIR_MIN_M || m > n || n > SELLO_SHAMIR_MAX_N)
        return SELLO_ERR_PARAM;
    for (unsigned i = 0; i < n; i++) {
        shares[i].x = (uint8_t)(i + 1);
        sello_memset(shares[i].y, 0, sizeof shares[i].y);
    }
    /* The shares accumulate the evaluations in place, one coefficient block
     * at a time from the highest degree down, so only one block of 32
     * coefficients is ever held here. */
    uint8_t coef[SELLO_SHAMIR_SECRET_LEN];
    for (unsigned k = m - 1; k >= 1; k--) {
        (*rng)->generate(rng, coef, sizeof coef);
        horner_step(shares, n, coef);
    }
    horner_step(shares, n, secret);
    sello_wipe(coef, sizeof coef);
    return SELLO_OK;
}

sello_status sello_shamir_combine(const sello_shamir_share shares[],
                                  unsigned count, uint8_t secret_out[32])
{
    if (count < 1 || count > SELLO_SHAMIR_MAX_N)
        return SELLO_ERR_PARAM;
    /* The x coordinates are public: branching on them leaks nothing. */
    for (unsigned i = 0; i < count; i++) {
        if (shares[i].x == 0)
            return SELLO_ERR_PARAM;
        for (unsigned j = 0; j < i; j++)
            if (shares[i].x == shares[j].x)
                return SELLO_ERR_PARAM;
    }
    /* f(0) = sum_j y_j L_j(0), L_j(0) = prod_{k != j} x_k / (x_k - x_j);
     * in characteristic 2 subtraction is XOR. Accumulated in a local buffer
     * so that secret_out may alias a share. */
    uint8_t acc[SELLO_SHAMIR_SECRET_LEN];
    sello_memset(acc, 0, sizeof acc);
    for (unsigned j = 0; j < count; j++) {
        uint8_t xj = shares[j].x, num = 1, den = 1;
        for (unsigned k = 0; k < count; k++) {
            if (k == j)
                continue;
            num = sello_gf256_mul(num, shares[k].x);
            den = sello_gf256_mul(den, (uint8_t)(shares[k].x ^ xj));
        }
        uint8_t l = sello_gf256_mul(num, sello_gf256_inv(den));
        for (unsigned b = 0; b < SELLO_SHAMIR_SECRET_LEN; b++)
            acc[b] ^= sello_gf256_mul(l, shares[j].y[b]);
    }
    sello_memcpy(secret_out, acc, sizeof acc);
    sello_wipe(acc, sizeof acc);
    return SELLO_OK;
}
