/*
 * libFuzzer target: Shamir secret sharing (firmware/shamir.c).
 *
 * First input octet, low bit:
 *   0  combine: octet 1 is the share count (mod 18, so 0 and 17 are
 *      reached), the rest the shares as x || y[32] each (zero-padded when
 *      short). sello_shamir_combine must refuse exactly the sets with a bad
 *      count, a zero x or a repeated x, and otherwise agree with Lagrange
 *      interpolation done here over log/antilog tables, in either order.
 *   1  split then combine: octets 1 and 2 are m and n (mod 18), octets
 *      3..34 the secret (zero-padded), the rest R. The coefficients are R
 *      itself, cycled (bit 1 of the first octet set: the fuzzer picks them,
 *      zeros included), or HMAC-DRBG output seeded with the whole input.
 *      Bad m/n must be refused; otherwise every share must match Horner's
 *      rule over the tables, and all n shares and a permutation (driven by
 *      R) of m of them must give the secret back. With DRBG coefficients
 *      m - 1 shares must not give it (failing that has probability 2^-256).
 * Any disagreement aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "shamir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LEN SELLO_SHAMIR_SECRET_LEN
#define MAX_N SELLO_SHAMIR_MAX_N

static uint8_t ref_exp[510], ref_log[256];

static void ref_init(void)
{
    static int done;
    if (done)
        return;
    unsigned e = 1;
    for (unsigned i = 0; i < 255; i++) {
        ref_exp[i] = ref_exp[i + 255] = (uint8_t)e;
        ref_log[e] = (uint8_t)i;
        unsigned twice = e << 1;
        if (twice & 0x100)
            twice ^= 0x11b;
        e ^= twice;
    }
    done = 1;
}

static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    return a && b ? ref_exp[ref_log[a] + ref_log[b]] : 0;
}

static uint8_t ref_div(uint8_t a, uint8_t b)
{
    return a ? ref_exp[ref_log[a] + 255 - ref_log[b]] : 0;
}

/* f(0) through the given points (distinct non-zero x). */
static void ref_interpolate(const sello_shamir_share *s, unsigned count,
                            uint8_t out[LEN])
{
    memset(out, 0, LEN);
    for (unsigned j = 0; j < count; j++) {
        uint8_t l = 1;
        for (unsigned k = 0; k < count; k++)
            if (k != j)
                l = ref_mul(l, ref_div(s[k].x, (uint8_t)(s[k].x ^ s[j].x)));
        for (unsigned b = 0; b < LEN; b++)
            out[b] ^= ref_mul(l, s[j].y[b]);
    }
}

/* An rng that hands out a given buffer once, in order. */
typedef struct {
    const br_prng_class *vtable;
    const uint8_t *data;
    size_t len, pos;
} script_rng;

static void script_init(const br_prng_class **ctx, const void *params,
                        const void *seed, size_t seed_len)
{
    (void)ctx;
    (void)params;
    (void)seed;
    (void)seed_len;
}

static void script_generate(const br_prng_class **ctx, void *out, size_t len)
{
    script_rng *r = (script_rng *)(void *)ctx;
    if (len > r->len - r->pos)
        abort();
    memcpy(out, r->data + r->pos, len);
    r->pos += len;
}

static void script_update(const br_prng_class **ctx, const void *seed,
                          size_t seed_len)
{
    (void)ctx;
    (void)seed;
    (void)seed_len;
}

static const br_prng_class script_vtable = {
    sizeof(script_rng), script_init, script_generate, script_update,
};

static void expect_combine(const sello_shamir_share *s, unsigned count,
                           const uint8_t want[LEN])
{
    uint8_t out[LEN];
    if (sello_shamir_combine(s, count, out) != SELLO_OK ||
        memcmp(out, want, LEN) != 0)
        abort();
}

static void fuzz_combine(const uint8_t *p, size_t size)
{
    sello_shamir_share shares[MAX_N + 1], rev[MAX_N + 1];
    unsigned count = size ? p[0] % (MAX_N + 2) : 0;
    if (size)
        p++, size--;
    uint8_t raw[(MAX_N + 1) * (LEN + 1)];
    memset(raw, 0, sizeof raw);
    memcpy(raw, p, size < sizeof raw ? size : sizeof raw);
    for (unsigned i = 0; i < MAX_N + 1; i++) {
        shares[i].x = raw[i * (LEN + 1)];
        memcpy(shares[i].y, raw + i * (LEN + 1) + 1, LEN);
    }
    bool valid = count >= 1 && count <= MAX_N;
    for (unsigned i = 0; valid && i < count; i++) {
        valid = shares[i].x != 0;
        for (unsigned j = 0; valid && j < i; j++)
            valid = shares[i].x != shares[j].x;
    }
    uint8_t out[LEN], want[LEN];
    memset(out, 0x5a, sizeof out);
    sello_status st = sello_shamir_combine(shares, count, out);
    if (!valid) {
        if (st != SELLO_ERR_PARAM)
            abort();
        for (unsigned b = 0; b < LEN; b++)
            if (out[b] != 0x5a)
                abort();
        return;
    }
    if (st != SELLO_OK)
        abort();
    ref_interpolate(shares, count, want);
    if (memcmp(out, want, LEN) != 0)
        abort();
    for (unsigned i = 0; i < count; i++)
        rev[i] = shares[count - 1 - i];
    expect_combine(rev, count, want);
}

static void fuzz_split(const uint8_t *data, size_t size, bool scripted)
{
    unsigned m = size > 1 ? data[1] % (MAX_N + 2) : 0;
    unsigned n = size > 2 ? data[2] % (MAX_N + 2) : 0;
    uint8_t secret[LEN];
    memset(secret, 0, sizeof secret);
    size_t off = 3;
    if (size > off)
        memcpy(secret, data + off, size - off < LEN ? size - off : LEN);
    off += LEN;
    const uint8_t *rest = size > off ? data + off : NULL;
    size_t rest_len = size > off ? size - off : 0;

    /* the coefficient stream sello_shamir_split will draw */
    static uint8_t coeffs[(MAX_N - 1) * LEN];
    if (scripted) {
        for (size_t i = 0; i < sizeof coeffs; i++)
            coeffs[i] = rest_len ? rest[i % rest_len] : 0;
    } else {
        br_hmac_drbg_context d;
        br_hmac_drbg_init(&d, &br_sha256_vtable, data, size);
        br_hmac_drbg_generate(&d, coeffs, sizeof coeffs);
    }
    bool valid = m >= 2 && m <= n && n <= MAX_N;
    script_rng r = { &script_vtable, coeffs, valid ? (m - 1) * LEN : 0, 0 };

    sello_shamir_share shares[MAX_N + 1], mixed[MAX_N];
    memset(shares, 0xa5, sizeof shares);
    sello_status st = sello_shamir_split(secret, m, n, &r.vtable, shares);
    if (!valid) {
        if (st != SELLO_ERR_PARAM || r.pos != 0)
            abort();
        for (size_t i = 0; i < sizeof shares; i++)
            if (((uint8_t *)shares)[i] != 0xa5)
                abort();
        return;
    }
    if (st != SELLO_OK || r.pos != r.len)
        abort();

    /* every share against Horner's rule over the tables */
    for (unsigned i = 0; i < n; i++) {
        uint8_t x = (uint8_t)(i + 1);
        if (shares[i].x != x)
            abort();
        for (unsigned b = 0; b < LEN; b++) {
            uint8_t acc = 0;
            for (unsigned k = 0; k + 1 < m; k++)
                acc = ref_mul(acc, x) ^ coeffs[k * LEN + b];
            if (shares[i].y[b] != (ref_mul(acc, x) ^ secret[b]))
                abort();
        }
    }
    for (size_t i = n * sizeof shares[0]; i < sizeof shares; i++)
        if (((uint8_t *)shares)[i] != 0xa5)
            abort();

    expect_combine(shares, n, secret);
    /* a permutation of the shares driven by R, then its first m */
    memcpy(mixed, shares, n * sizeof shares[0]);
    for (unsigned i = n; i > 1; i--) {
        unsigned j = rest_len ? rest[(n - i) % rest_len] % i : i - 1;
        sello_shamir_share t = mixed[i - 1];
        mixed[i - 1] = mixed[j];
        mixed[j] = t;
    }
    expect_combine(mixed, m, secret);
    if (!scripted) {
        uint8_t out[LEN];
        if (sello_shamir_combine(mixed, m - 1, out) != SELLO_OK ||
            memcmp(out, secret, LEN) == 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ref_init();
    if (data[0] & 1)
        fuzz_split(data, size, (data[0] & 2) != 0);
    else
        fuzz_combine(data + 1, size - 1);
    return 0;
}
