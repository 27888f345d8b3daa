/*
 * Shamir secret sharing (firmware/shamir.c).
 *
 * - GF(2^8): every product against log/antilog tables built here from the
 *   generator 3, every inverse, and the FIPS-197 examples.
 * - Known answers: test/data/shamir/vectors.txt (written by make-vectors.py
 *   with carry-less multiplication and long division, one named test per
 *   vector: "shamir_split_<name>", "shamir_combine_<name>"), and splits with
 *   scripted coefficients checked against Horner's rule over the tables.
 * - Round trips for every 2 <= m <= n <= 16 from a fixed-seed HMAC-DRBG,
 *   every subset of the shares for n <= 8, and that fewer than m shares do
 *   not give the secret (and give uniformly distributed octets).
 * - Parameter checks: m/n out of range, x = 0, duplicate x, counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "testutil.h"

#include "shamir.h"

#define LEN SELLO_SHAMIR_SECRET_LEN
#define MAX_N SELLO_SHAMIR_MAX_N

/* ---- reference field: log/antilog tables of the generator 3 ------------------ */

static uint8_t ref_exp[510];
static uint8_t ref_log[256];

/* Builds the tables by repeated multiplication by 3 = x + 1, that is
 * e ^ 2e, with the reduction written out as a branch. */
static void ref_init(void)
{
    static bool done;
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
    done = true;
}

static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    if (a == 0 || b == 0)
        return 0;
    return ref_exp[ref_log[a] + ref_log[b]];
}

static uint8_t ref_inv(uint8_t a)
{
    return ref_exp[(255 - ref_log[a]) % 255];
}

/* ---- scripted rng: hands out given octets, and fails the test when asked
 * for more than it holds ------------------------------------------------------- */

typedef struct {
    const br_prng_class *vtable;
    const uint8_t *data;
    size_t len, pos;
    unsigned calls;
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
    if (len > r->len - r->pos) {
        print_error("rng asked for %zu octets at %zu of %zu\n", len, r->pos,
                    r->len);
        fail();
    }
    memcpy(out, r->data + r->pos, len);
    r->pos += len;
    r->calls++;
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

static void script_start(script_rng *r, const uint8_t *data, size_t len)
{
    r->vtable = &script_vtable;
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->calls = 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static void drbg_start(br_hmac_drbg_context *d, const char *seed)
{
    br_hmac_drbg_init(d, &br_sha256_vtable, seed, strlen(seed));
}

static unsigned drbg_below(br_hmac_drbg_context *d, unsigned bound)
{
    uint32_t v;
    br_hmac_drbg_generate(d, &v, sizeof v);
    return v % bound;
}

/* Puts a random permutation of shares[0..n) into out. */
static void shuffle(br_hmac_drbg_context *d, const sello_shamir_share *shares,
                    unsigned n, sello_shamir_share *out)
{
    memcpy(out, shares, n * sizeof *shares);
    for (unsigned i = n; i > 1; i--) {
        unsigned j = drbg_below(d, i);
        sello_shamir_share t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}

/* shares[i].y = f_b(shares[i].x) by Horner's rule over the reference
 * tables, f_b having constant term secret[b] and the coefficients in the
 * order sello_shamir_split draws them (highest degree first). */
static void ref_split(const uint8_t secret[LEN], unsigned m, unsigned n,
                      const uint8_t *coeffs, sello_shamir_share *shares)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t x = (uint8_t)(i + 1);
        shares[i].x = x;
        for (unsigned b = 0; b < LEN; b++) {
            uint8_t acc = 0;
            for (unsigned k = 0; k + 1 < m; k++)
                acc = ref_mul(acc, x) ^ coeffs[k * LEN + b];
            shares[i].y[b] = ref_mul(acc, x) ^ secret[b];
        }
    }
}

/* ---- vectors ----------------------------------------------------------------------- */

typedef struct {
    char test_name[96];
    bool split;
    unsigned m, n; /* split: parameters; combine: n is the share count */
    uint8_t secret[LEN];
    uint8_t coeffs[(MAX_N - 1) * LEN];
    sello_shamir_share shares[MAX_N];
} shamir_vector;

static shamir_vector *vectors;
static size_t nvectors;
static bool vectors_ok = true;

static char *field(char **s)
{
    char *bar = strchr(*s, '|');
    char *f = *s;
    if (bar) {
        *bar = 0;
        *s = bar + 1;
    } else {
        *s = f + strlen(f);
    }
    return td_trim(f);
}

static bool parse_shares(const char *hex, shamir_vector *v)
{
    uint8_t buf[MAX_N * (LEN + 1)];
    size_t len = td_hex(hex, buf, sizeof buf);
    if (len == (size_t)-1 || len == 0 || len % (LEN + 1) != 0)
        return false;
    unsigned count = (unsigned)(len / (LEN + 1));
    if (v->split ? count != v->n : false)
        return false;
    v->n = count;
    for (unsigned i = 0; i < count; i++) {
        v->shares[i].x = buf[i * (LEN + 1)];
        memcpy(v->shares[i].y, buf + i * (LEN + 1) + 1, LEN);
    }
    return true;
}

static bool parse_vector(char *s, shamir_vector *v)
{
    char kind[16], name[64];
    char *head = field(&s);
    if (sscanf(head, "%15s %63s", kind, name) != 2)
        return false;
    v->split = strcmp(kind, "split") == 0;
    if (!v->split && strcmp(kind, "combine") != 0)
        return false;
    snprintf(v->test_name, sizeof v->test_name, "shamir_%s_%s", kind, name);
    if (v->split) {
        v->m = (unsigned)strtoul(field(&s), NULL, 10);
        v->n = (unsigned)strtoul(field(&s), NULL, 10);
        if (v->m < 2 || v->m > v->n || v->n > MAX_N)
            return false;
    }
    if (td_hex(field(&s), v->secret, LEN) != LEN)
        return false;
    if (v->split && td_hex(field(&s), v->coeffs, sizeof v->coeffs) !=
                        (v->m - 1) * LEN)
        return false;
    return parse_shares(field(&s), v);
}

static void load_vectors(void)
{
    size_t n;
    td_line *lines = td_read_lines("shamir/vectors.txt", &n);
    if (!lines) {
        vectors_ok = false;
        return;
    }
    vectors = calloc(n ? n : 1, sizeof *vectors);
    for (size_t i = 0; i < n; i++) {
        if (!parse_vector(lines[i].text, &vectors[nvectors])) {
            fprintf(stderr, "shamir/vectors.txt:%u: bad line\n",
                    lines[i].lineno);
            vectors_ok = false;
            continue;
        }
        nvectors++;
    }
    td_free_lines(lines, n);
}

static void test_vectors_loaded(void **state)
{
    (void)state;
    assert_true(vectors_ok);
    assert_true(nvectors >= 15);
}

static void check_combine(const sello_shamir_share *shares, unsigned count,
                          const uint8_t secret[LEN])
{
    uint8_t out[LEN];
    assert_int_equal(sello_shamir_combine(shares, count, out), SELLO_OK);
    assert_bytes_equal(out, LEN, secret, LEN);
}

static void test_vector(void **state)
{
    const shamir_vector *v = *state;
    sello_shamir_share rev[MAX_N];
    for (unsigned i = 0; i < v->n; i++)
        rev[i] = v->shares[v->n - 1 - i];
    if (v->split) {
        sello_shamir_share got[MAX_N];
        memset(got, 0xa5, sizeof got);
        script_rng r;
        script_start(&r, v->coeffs, (v->m - 1) * LEN);
        assert_int_equal(sello_shamir_split(v->secret, v->m, v->n, &r.vtable,
                                            got),
                         SELLO_OK);
        assert_int_equal(r.pos, r.len);
        assert_int_equal(r.calls, v->m - 1);
        assert_bytes_equal(got, v->n * sizeof *got, v->shares,
                           v->n * sizeof *got);
        /* nothing written past the n shares */
        for (size_t i = v->n * sizeof *got; i < sizeof got; i++)
            assert_int_equal(((uint8_t *)got)[i], 0xa5);
        check_combine(v->shares, v->m, v->secret);
        check_combine(rev, v->m, v->secret);
        check_combine(v->shares, v->n, v->secret);
    } else {
        check_combine(v->shares, v->n, v->secret);
        check_combine(rev, v->n, v->secret);
        if (v->n >= 2) {
            uint8_t out[LEN];
            assert_int_equal(sello_shamir_combine(v->shares, v->n - 1, out),
                             SELLO_OK);
            assert_true(memcmp(out, v->secret, LEN) != 0);
        }
    }
}

/* ---- GF(2^8) ------------------------------------------------------------------------ */

static void test_gf256_known_values(void **state)
{
    (void)state;
    /* FIPS-197 section 4.2 and 4.2.1 */
    assert_int_equal(sello_gf256_mul(0x57, 0x83), 0xc1);
    assert_int_equal(sello_gf256_mul(0x57, 0x13), 0xfe);
    assert_int_equal(sello_gf256_mul(0x57, 0x02), 0xae);
    assert_int_equal(sello_gf256_mul(0x57, 0x10), 0x07);
    assert_int_equal(sello_gf256_inv(0x53), 0xca);
    assert_int_equal(sello_gf256_inv(0xca), 0x53);
    assert_int_equal(sello_gf256_inv(0x01), 0x01);
    assert_int_equal(sello_gf256_inv(0x00), 0x00);
}

/* The reference tables are themselves sound: 3 generates all 255
 * non-zero elements. */
static void test_reference_tables(void **state)
{
    (void)state;
    ref_init();
    bool seen[256] = { false };
    for (unsigned i = 0; i < 255; i++) {
        assert_false(seen[ref_exp[i]]);
        seen[ref_exp[i]] = true;
    }
    assert_false(seen[0]);
    assert_int_equal(ref_mul(0x57, 0x83), 0xc1);
}

static void test_gf256_mul_all(void **state)
{
    (void)state;
    ref_init();
    unsigned bad = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            uint8_t got = sello_gf256_mul((uint8_t)a, (uint8_t)b);
            uint8_t want = ref_mul((uint8_t)a, (uint8_t)b);
            if (got != want && bad++ < 10)
                print_error("%02x * %02x = %02x, want %02x\n", a, b, got, want);
        }
    assert_int_equal(bad, 0);
}

static void test_gf256_inv_all(void **state)
{
    (void)state;
    ref_init();
    for (unsigned a = 1; a < 256; a++) {
        uint8_t inv = sello_gf256_inv((uint8_t)a);
        assert_int_equal(inv, ref_inv((uint8_t)a));
        assert_int_equal(ref_mul((uint8_t)a, inv), 1);
    }
    assert_int_equal(sello_gf256_inv(0), 0);
}

/* ---- split against the reference ---------------------------------------------------- */

/* Scripted coefficients (random, and the edge patterns all-zero and
 * all-0xff) for every m with n = 16, checked octet by octet against
 * Horner's rule over the reference tables. */
static void test_split_reference_horner(void **state)
{
    (void)state;
    ref_init();
    br_hmac_drbg_context d;
    drbg_start(&d, "sello shamir horner");
    static uint8_t coeffs[(MAX_N - 1) * LEN];
    for (unsigned pattern = 0; pattern < 4; pattern++) {
        for (unsigned m = 2; m <= MAX_N; m++) {
            uint8_t secret[LEN];
            br_hmac_drbg_generate(&d, secret, sizeof secret);
            if (pattern == 0)
                memset(coeffs, 0, sizeof coeffs);
            else if (pattern == 1)
                memset(coeffs, 0xff, sizeof coeffs);
            else
                br_hmac_drbg_generate(&d, coeffs, sizeof coeffs);
            sello_shamir_share got[MAX_N], want[MAX_N];
            script_rng r;
            script_start(&r, coeffs, (m - 1) * LEN);
            assert_int_equal(sello_shamir_split(secret, m, MAX_N, &r.vtable,
                                                got),
                             SELLO_OK);
            assert_int_equal(r.pos, r.len);
            ref_split(secret, m, MAX_N, coeffs, want);
            assert_bytes_equal(got, sizeof got, want, sizeof want);
        }
    }
}

/* ---- round trips ----------------------------------------------------------------------- */

/* Every 2 <= m <= n <= 16, eight secrets each: the first m, the last m,
 * all n and a random m shares in random order give the secret back. */
static void test_round_trip_all_m_n(void **state)
{
    (void)state;
    br_hmac_drbg_context d, rng;
    drbg_start(&d, "sello shamir round trip");
    drbg_start(&rng, "sello shamir coefficients");
    unsigned trips = 0;
    for (unsigned n = 2; n <= MAX_N; n++) {
        for (unsigned m = 2; m <= n; m++) {
            for (unsigned t = 0; t < 8; t++) {
                uint8_t secret[LEN];
                br_hmac_drbg_generate(&d, secret, sizeof secret);
                if (t == 0)
                    memset(secret, 0, sizeof secret);
                else if (t == 1)
                    memset(secret, 0xff, sizeof secret);
                sello_shamir_share shares[MAX_N], mixed[MAX_N];
                assert_int_equal(sello_shamir_split(secret, m, n, &rng.vtable,
                                                    shares),
                                 SELLO_OK);
                for (unsigned i = 0; i < n; i++)
                    assert_int_equal(shares[i].x, i + 1);
                check_combine(shares, m, secret);
                check_combine(shares + (n - m), m, secret);
                check_combine(shares, n, secret);
                shuffle(&d, shares, n, mixed);
                check_combine(mixed, m, secret);
                trips += 4;
            }
        }
    }
    assert_int_equal(trips, 120 * 8 * 4);
}

/* For n <= 8 and every m: every subset of the shares, in index order and
 * reversed. Subsets of at least m give the secret; smaller ones do not. */
static void test_round_trip_every_subset(void **state)
{
    (void)state;
    br_hmac_drbg_context d, rng;
    drbg_start(&d, "sello shamir subsets");
    drbg_start(&rng, "sello shamir subset coefficients");
    unsigned good = 0, short_sets = 0;
    for (unsigned n = 2; n <= 8; n++) {
        for (unsigned m = 2; m <= n; m++) {
            uint8_t secret[LEN];
            br_hmac_drbg_generate(&d, secret, sizeof secret);
            sello_shamir_share shares[MAX_N];
            assert_int_equal(sello_shamir_split(secret, m, n, &rng.vtable,
                                                shares),
                             SELLO_OK);
            for (unsigned mask = 1; mask < (1u << n); mask++) {
                sello_shamir_share sub[MAX_N], rev[MAX_N];
                unsigned count = 0;
                for (unsigned i = 0; i < n; i++)
                    if (mask & (1u << i))
                        sub[count++] = shares[i];
                for (unsigned i = 0; i < count; i++)
                    rev[i] = sub[count - 1 - i];
                uint8_t out[LEN], out_rev[LEN];
                assert_int_equal(sello_shamir_combine(sub, count, out),
                                 SELLO_OK);
                assert_int_equal(sello_shamir_combine(rev, count, out_rev),
                                 SELLO_OK);
                assert_bytes_equal(out, LEN, out_rev, LEN);
                if (count >= m) {
                    assert_bytes_equal(out, LEN, secret, LEN);
                    good++;
                } else {
                    assert_true(memcmp(out, secret, LEN) != 0);
                    short_sets++;
                }
            }
        }
    }
    /* sum over n, m of the subsets with at least m, and with fewer */
    assert_int_equal(good, 1291);
    assert_int_equal(short_sets, 1757);
}

/*
 * m - 1 shares do not give the secret: over 200 splits for each m (n = m,
 * a random m - 1 of the shares), the interpolation never equals the secret,
 * and its octets minus the secret's are uniform, as the scheme promises:
 * about 1/256 of them match by chance, and a chi-squared test over the
 * 256 values (255 degrees of freedom) stays far from rejecting uniformity.
 * The seeds are fixed, so this is deterministic; a bias in the
 * coefficients (zeros, reuse across octets or degrees) would fail it.
 */
static void test_fewer_than_m_reveal_nothing(void **state)
{
    (void)state;
    br_hmac_drbg_context d, rng;
    drbg_start(&d, "sello shamir secrecy");
    drbg_start(&rng, "sello shamir secrecy coefficients");
    static unsigned hist[256];
    memset(hist, 0, sizeof hist);
    unsigned samples = 0;
    for (unsigned m = 2; m <= MAX_N; m++) {
        for (unsigned t = 0; t < 200; t++) {
            uint8_t secret[LEN], out[LEN];
            br_hmac_drbg_generate(&d, secret, sizeof secret);
            sello_shamir_share shares[MAX_N], mixed[MAX_N];
            assert_int_equal(sello_shamir_split(secret, m, m, &rng.vtable,
                                                shares),
                             SELLO_OK);
            shuffle(&d, shares, m, mixed);
            assert_int_equal(sello_shamir_combine(mixed, m - 1, out), SELLO_OK);
            assert_true(memcmp(out, secret, LEN) != 0);
            for (unsigned b = 0; b < LEN; b++)
                hist[out[b] ^ secret[b]]++;
            samples += LEN;
        }
    }
    double expect = samples / 256.0, chi2 = 0;
    for (unsigned v = 0; v < 256; v++)
        chi2 += (hist[v] - expect) * (hist[v] - expect) / expect;
    /* mean 255, standard deviation about 22.6 */
    if (chi2 > 400 || hist[0] < expect * 0.6 || hist[0] > expect * 1.4) {
        print_error("chi2 %.1f, %u of %u octets matched (expected %.0f)\n",
                    chi2, hist[0], samples, expect);
        fail();
    }
}

/* The rng is used: the same secret split twice gives different shares. */
static void test_split_fresh_coefficients(void **state)
{
    (void)state;
    br_hmac_drbg_context rng;
    drbg_start(&rng, "sello shamir fresh");
    uint8_t secret[LEN];
    memset(secret, 0x42, sizeof secret);
    sello_shamir_share a[3], b[3];
    assert_int_equal(sello_shamir_split(secret, 2, 3, &rng.vtable, a), SELLO_OK);
    assert_int_equal(sello_shamir_split(secret, 2, 3, &rng.vtable, b), SELLO_OK);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(memcmp(a[i].y, b[i].y, LEN) != 0);
        assert_true(memcmp(a[i].y, secret, LEN) != 0);
    }
}

/* secret_out may be one of the shares' y. */
static void test_combine_output_aliases_share(void **state)
{
    (void)state;
    br_hmac_drbg_context rng;
    drbg_start(&rng, "sello shamir alias");
    uint8_t secret[LEN];
    br_hmac_drbg_generate(&rng, secret, sizeof secret);
    sello_shamir_share shares[5];
    assert_int_equal(sello_shamir_split(secret, 3, 5, &rng.vtable, shares),
                     SELLO_OK);
    for (unsigned i = 0; i < 3; i++) {
        sello_shamir_share copy[3];
        memcpy(copy, shares, sizeof copy);
        assert_int_equal(sello_shamir_combine(copy, 3, copy[i].y), SELLO_OK);
        assert_bytes_equal(copy[i].y, LEN, secret, LEN);
    }
}

/* No integrity: a corrupted share still "combines", into a value that is
 * wrong exactly in the corrupted octet (L_j(0) is never zero). This is why
 * the caller must check the result. */
static void test_corrupted_share_goes_unnoticed(void **state)
{
    (void)state;
    br_hmac_drbg_context rng;
    drbg_start(&rng, "sello shamir corrupt");
    uint8_t secret[LEN], out[LEN];
    br_hmac_drbg_generate(&rng, secret, sizeof secret);
    sello_shamir_share shares[5];
    assert_int_equal(sello_shamir_split(secret, 3, 5, &rng.vtable, shares),
                     SELLO_OK);
    for (unsigned j = 0; j < 3; j++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            sello_shamir_share bad[3];
            memcpy(bad, shares, sizeof bad);
            bad[j].y[7] ^= (uint8_t)(1u << bit);
            assert_int_equal(sello_shamir_combine(bad, 3, out), SELLO_OK);
            for (unsigned b = 0; b < LEN; b++) {
                if (b == 7)
                    assert_int_not_equal(out[b], secret[b]);
                else
                    assert_int_equal(out[b], secret[b]);
            }
        }
    }
    /* a single share combines to its own y */
    assert_int_equal(sello_shamir_combine(shares + 2, 1, out), SELLO_OK);
    assert_bytes_equal(out, LEN, shares[2].y, LEN);
}

/* ---- parameters ------------------------------------------------------------------------- */

static void test_split_rejects_bad_m_n(void **state)
{
    (void)state;
    uint8_t secret[LEN];
    memset(secret, 0x33, sizeof secret);
    unsigned rejected = 0;
    for (unsigned m = 0; m <= 40; m++) {
        for (unsigned n = 0; n <= 40; n++) {
            bool valid = m >= 2 && m <= n && n <= MAX_N;
            if (valid)
                continue;
            sello_shamir_share shares[MAX_N + 1];
            memset(shares, 0xa5, sizeof shares);
            script_rng r;
            script_start(&r, NULL, 0); /* fails the test if drawn from */
            assert_int_equal(sello_shamir_split(secret, m, n, &r.vtable,
                                                shares),
                             SELLO_ERR_PARAM);
            assert_int_equal(r.calls, 0);
            for (size_t i = 0; i < sizeof shares; i++)
                assert_int_equal(((uint8_t *)shares)[i], 0xa5);
            rejected++;
        }
    }
    /* the huge values a careless caller could pass */
    sello_shamir_share one[1];
    script_rng r;
    script_start(&r, NULL, 0);
    assert_int_equal(sello_shamir_split(secret, 2, ~0u, &r.vtable, one),
                     SELLO_ERR_PARAM);
    assert_int_equal(sello_shamir_split(secret, ~0u, ~0u, &r.vtable, one),
                     SELLO_ERR_PARAM);
    assert_int_equal(sello_shamir_split(secret, 1, 1, &r.vtable, one),
                     SELLO_ERR_PARAM);
    assert_int_equal(rejected, 41 * 41 - 120);
}

/* The extremes that are allowed: 2-of-2 and 16-of-16 (and 2-of-16). */
static void test_split_accepts_bounds(void **state)
{
    (void)state;
    br_hmac_drbg_context rng;
    drbg_start(&rng, "sello shamir bounds");
    uint8_t secret[LEN];
    br_hmac_drbg_generate(&rng, secret, sizeof secret);
    sello_shamir_share shares[MAX_N];
    static const unsigned mn[][2] = { { 2, 2 }, { 16, 16 }, { 2, 16 } };
    for (size_t i = 0; i < sizeof mn / sizeof mn[0]; i++) {
        assert_int_equal(sello_shamir_split(secret, mn[i][0], mn[i][1],
                                            &rng.vtable, shares),
                         SELLO_OK);
        check_combine(shares, mn[i][0], secret);
    }
}

static sello_status combine_untouched(const sello_shamir_share *shares,
                                      unsigned count)
{
    uint8_t out[LEN];
    memset(out, 0x5a, sizeof out);
    sello_status st = sello_shamir_combine(shares, count, out);
    if (st != SELLO_OK)
        for (unsigned b = 0; b < LEN; b++)
            assert_int_equal(out[b], 0x5a);
    return st;
}

static void test_combine_rejects_bad_x(void **state)
{
    (void)state;
    br_hmac_drbg_context rng;
    drbg_start(&rng, "sello shamir bad x");
    uint8_t secret[LEN];
    br_hmac_drbg_generate(&rng, secret, sizeof secret);
    sello_shamir_share shares[MAX_N], bad[MAX_N];
    assert_int_equal(sello_shamir_split(secret, 4, MAX_N, &rng.vtable, shares),
                     SELLO_OK);
    unsigned cases = 0;
    for (unsigned count = 1; count <= MAX_N; count++) {
        for (unsigned i = 0; i < count; i++) {
            /* x = 0 anywhere */
            memcpy(bad, shares, sizeof bad);
            bad[i].x = 0;
            assert_int_equal(combine_untouched(bad, count), SELLO_ERR_PARAM);
            cases++;
            /* x equal to another share's anywhere (same or different y) */
            for (unsigned j = 0; j < count; j++) {
                if (j == i)
                    continue;
                memcpy(bad, shares, sizeof bad);
                bad[i].x = bad[j].x;
                assert_int_equal(combine_untouched(bad, count),
                                 SELLO_ERR_PARAM);
                memcpy(bad, shares, sizeof bad);
                bad[i] = bad[j];
                assert_int_equal(combine_untouched(bad, count),
                                 SELLO_ERR_PARAM);
                cases += 2;
            }
        }
    }
    assert_true(cases > 1000);
}

static void test_combine_rejects_bad_count(void **state)
{
    (void)state;
    sello_shamir_share shares[MAX_N + 2];
    for (unsigned i = 0; i < MAX_N + 2; i++) {
        shares[i].x = (uint8_t)(i + 1);
        memset(shares[i].y, (int)i, LEN);
    }
    assert_int_equal(combine_untouched(shares, 0), SELLO_ERR_PARAM);
    assert_int_equal(combine_untouched(shares, MAX_N + 1), SELLO_ERR_PARAM);
    assert_int_equal(combine_untouched(shares, MAX_N + 2), SELLO_ERR_PARAM);
    assert_int_equal(combine_untouched(shares, ~0u), SELLO_ERR_PARAM);
    assert_int_equal(combine_untouched(shares, MAX_N), SELLO_OK);
    assert_int_equal(combine_untouched(shares, 1), SELLO_OK);
}

int main(int argc, char **argv)
{
    load_vectors();
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_vectors_loaded),
        cmocka_unit_test(test_gf256_known_values),
        cmocka_unit_test(test_reference_tables),
        cmocka_unit_test(test_gf256_mul_all),
        cmocka_unit_test(test_gf256_inv_all),
        cmocka_unit_test(test_split_reference_horner),
        cmocka_unit_test(test_round_trip_all_m_n),
        cmocka_unit_test(test_round_trip_every_subset),
        cmocka_unit_test(test_fewer_than_m_reveal_nothing),
        cmocka_unit_test(test_split_fresh_coefficients),
        cmocka_unit_test(test_combine_output_aliases_share),
        cmocka_unit_test(test_corrupted_share_goes_unnoticed),
        cmocka_unit_test(test_split_rejects_bad_m_n),
        cmocka_unit_test(test_split_accepts_bounds),
        cmocka_unit_test(test_combine_rejects_bad_x),
        cmocka_unit_test(test_combine_rejects_bad_count),
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *tests = calloc(nfixed + nvectors, sizeof *tests);
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < nvectors; i++) {
        tests[nfixed + i].name = vectors[i].test_name;
        tests[nfixed + i].test_func = test_vector;
        tests[nfixed + i].initial_state = &vectors[i];
    }
    int rc = tu_run("shamir", tests, nfixed + nvectors, argc, argv);
    free(vectors);
    free(tests);
    return rc;
}
