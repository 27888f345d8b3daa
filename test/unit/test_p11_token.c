/*
 * The simulator board's PKCS#11 token driver (board/sim/p11_token.c)
 * against SoftHSMv2.
 *
 * Every test gets a fresh token: a temporary directory with its own
 * softhsm2.conf (directories.tokendir inside it), $SOFTHSM2_CONF pointing
 * at it before the driver's C_Initialize, and
 *   softhsm2-util --init-token --free --label sello-test --so-pin ... --pin ...
 * The directory is removed afterwards. Independent witnesses: pkcs11-tool
 * (opensc) run through popen for the key's attributes and its public key,
 * BearSSL for signature verification, and the firmware's own
 * sello_key_write_spki for the SubjectPublicKeyInfo encoding.
 *
 * Needs softhsm2 (and opensc); when SoftHSM is not installed every test is
 * skipped with a message. $SELLO_P11_LIB names another SoftHSM library.
 * $SELLO_P11_BENCH=N makes the bench_* tests sign N times and print the
 * latency (they sign a few times silently otherwise). $SELLO_P11_SHOW
 * prints pkcs11-tool's listing in key_attributes_pkcs11_tool.
 */
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>
#include <p11-kit/pkcs11.h>
#include <sello/abi.h>

#include "../../board/sim/p11_token.h"
#include "der.h"
#include "engine.h"
#include "testutil.h"

#define DEFAULT_LIB "/usr/lib/softhsm/libsofthsm2.so"
#define LABEL "sello-test"
#define SO_PIN "so-pin-4711"
/* The user PIN softhsm2-util sets: the hex text of INIT_PIN. */
#define INIT_PIN_TEXT "12345678"
static const uint8_t INIT_PIN[] = { 0x12, 0x34, 0x56, 0x78 };
/* What the module would choose at the ceremony. */
static const uint8_t MODULE_PIN[32] = {
    0x9e, 0x01, 0x7c, 0xa5, 0x33, 0x00, 0xff, 0x10, 0x42, 0x8b, 0xd3,
    0x6e, 0x20, 0x5a, 0x77, 0xc1, 0x08, 0xe4, 0x91, 0x3f, 0x66, 0x0d,
    0xba, 0x2c, 0x55, 0x81, 0xf0, 0x1e, 0x07, 0xcd, 0x49, 0xa2,
};
static const uint8_t MODULE_SO_PIN[16] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};
static const uint8_t KEY_ID[] = { 'S', 'E', 'L', 'L', 'O', 0x01 };
#define KEY_ID_HEX "53454c4c4f01"

/* ---- environment --------------------------------------------------------- */

static const char *lib_path(void)
{
    const char *p = getenv("SELLO_P11_LIB");
    return p && *p ? p : DEFAULT_LIB;
}

static bool have_softhsm(void)
{
    static int cached = -1;
    if (cached < 0) {
        cached = access(lib_path(), R_OK) == 0 &&
                 system("command -v softhsm2-util >/dev/null 2>&1") == 0;
        if (!cached)
            fprintf(stderr,
                    "test_p11_token: SoftHSMv2 is not installed (%s or "
                    "softhsm2-util missing): skipping every test; "
                    "`tools/install-deps test` installs it\n",
                    lib_path());
    }
    return cached;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
}

/* The path of a file beside this executable. */
static void beside_exe(const char *name, char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    assert_non_null(slash);
    *slash = 0;
    int w = snprintf(out, cap, "%s/%s", exe, name);
    assert_true(w > 0 && (size_t)w < cap);
}

/* ---- fixture: a fresh token per test ------------------------------------- */

typedef struct {
    char dir[64];
    const void *param;
    sim_p11 t;
} fx;

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Runs a shell command with its output in dir/cmd.log; 0 on success, the
 * log is printed on failure. */
static int run(fx *f, const char *fmt, ...)
{
    char cmd[1024], full[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s >%s/cmd.log 2>&1", cmd, f->dir);
    int rc = system(full);
    if (rc != 0) {
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
        snprintf(full, sizeof full, "cat %s/cmd.log >&2", f->dir);
        if (system(full) != 0)
            fprintf(stderr, "(no log)\n");
    }
    return rc;
}

/* Runs a command and returns its output (stdout and stderr), malloc'd;
 * *rc gets its exit status. */
static char *capture(int *rc, const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t got;
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[n] = 0;
    *rc = pclose(p);
    return out;
}

static int fx_setup(void **state)
{
    const void *param = *state;
    *state = NULL;
    if (!have_softhsm())
        return 0;
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->param = param;
    strcpy(f->dir, "/tmp/sello-p11-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/tokens", f->dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/softhsm2.conf", f->dir);
    FILE *c = fopen(path, "w");
    if (!c)
        return -1;
    fprintf(c,
            "directories.tokendir = %s/tokens\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n",
            f->dir);
    fclose(c);
    /* Read by SoftHSM at C_Initialize, and by the tools run below. */
    setenv("SOFTHSM2_CONF", path, 1);
    if (run(f, "softhsm2-util --init-token --free --label %s --so-pin %s "
               "--pin %s", LABEL, SO_PIN, INIT_PIN_TEXT) != 0)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    sim_p11_close(&f->t);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    unsetenv("SOFTHSM2_CONF");
    unsetenv("SELLO_P11_WEAK_MODE");
    free(f);
    return 0;
}

/* The fixture, or the test is skipped (no SoftHSM). */
static fx *token(void **state)
{
    if (!*state)
        skip();
    return *state;
}

static void expect(sim_p11 *t, sello_status got, sello_status want)
{
    if (got != want)
        print_error("status %s, want %s; last %s: %s (0x%lx)\n",
                    sello_status_name(got), sello_status_name(want),
                    sim_p11_last_fn(t), sim_p11_rv_name(sim_p11_last_rv(t)),
                    sim_p11_last_rv(t));
    assert_int_equal(got, want);
}

static void open_token(fx *f)
{
    expect(&f->t, sim_p11_open(&f->t, lib_path(), LABEL), SELLO_OK);
}

/* Open, take over with MODULE_PIN, log in with it. */
static void open_as_module(fx *f)
{
    open_token(f);
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN,
                                       sizeof MODULE_PIN), SELLO_OK);
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, sizeof MODULE_PIN),
           SELLO_OK);
}

/* pkcs11-tool with the module's PIN (its hex text). */
static char *pkcs11_tool(int *rc, const char *args)
{
    char pin[2 * sizeof MODULE_PIN + 1];
    hex(MODULE_PIN, sizeof MODULE_PIN, pin);
    return capture(rc, "pkcs11-tool --module %s --token-label %s --login "
                       "--pin %s %s", lib_path(), LABEL, pin, args);
}

/* ---- key types ----------------------------------------------------------- */

typedef struct {
    uint8_t type;
    const char *name;
    int hash; /* the hash a TSU signature of this key uses by default */
} key_param;

static const key_param KEYS[] = {
    { SELLO_KEY_P256, "p256", SELLO_HASH_SHA256 },
    { SELLO_KEY_P384, "p384", SELLO_HASH_SHA384 },
    { SELLO_KEY_RSA2048, "rsa2048", SELLO_HASH_SHA256 },
    { SELLO_KEY_RSA3072, "rsa3072", SELLO_HASH_SHA384 },
    { SELLO_KEY_RSA4096, "rsa4096", SELLO_HASH_SHA512 },
};

static bool is_ec(uint8_t type)
{
    return type == SELLO_KEY_P256 || type == SELLO_KEY_P384;
}

/* The public key of an SPKI, parsed with the firmware's strict DER reader
 * into a sello_key (public parts only). */
typedef struct {
    sello_key k;
    uint8_t n[SELLO_SIG_MAX];
    uint8_t e[8];
} pub_key;

static void parse_spki(const uint8_t *spki, size_t len, uint8_t type,
                       pub_key *pk)
{
    memset(pk, 0, sizeof *pk);
    sello_der_cur c = sello_der_cur_init(spki, len), seq, alg, bits, oid;
    assert_int_equal(sello_der_read(&c, SELLO_DER_SEQUENCE, &seq, NULL),
                     SELLO_OK);
    assert_true(sello_der_at_end(&c));
    assert_int_equal(sello_der_read(&seq, SELLO_DER_SEQUENCE, &alg, NULL),
                     SELLO_OK);
    assert_int_equal(sello_der_read_oid(&alg, &oid), SELLO_OK);
    assert_int_equal(sello_der_read(&seq, SELLO_DER_BIT_STRING, &bits, NULL),
                     SELLO_OK);
    assert_true(sello_der_at_end(&seq));
    assert_true(sello_der_remaining(&bits) > 1);
    assert_int_equal(bits.p[0], 0); /* no unused bits */
    bits.p++;
    pk->k.type = type;
    if (is_ec(type)) {
        pk->k.u.ec.pk.curve =
            type == SELLO_KEY_P384 ? BR_EC_secp384r1 : BR_EC_secp256r1;
        size_t qlen = sello_der_remaining(&bits);
        assert_true(qlen <= sizeof pk->k.u.ec.q);
        memcpy(pk->k.u.ec.q, bits.p, qlen);
        pk->k.u.ec.pk.q = pk->k.u.ec.q;
        pk->k.u.ec.pk.qlen = qlen;
        return;
    }
    sello_der_cur rsa, n, e;
    assert_int_equal(sello_der_read(&bits, SELLO_DER_SEQUENCE, &rsa, NULL),
                     SELLO_OK);
    assert_int_equal(sello_der_read_integer(&rsa, &n), SELLO_OK);
    assert_int_equal(sello_der_read_integer(&rsa, &e), SELLO_OK);
    assert_true(sello_der_at_end(&rsa));
    /* Magnitudes: drop the sign octet. */
    if (sello_der_remaining(&n) > 1 && n.p[0] == 0)
        n.p++;
    assert_true(sello_der_remaining(&n) <= sizeof pk->n);
    assert_true(sello_der_remaining(&e) <= sizeof pk->e);
    memcpy(pk->n, n.p, sello_der_remaining(&n));
    memcpy(pk->e, e.p, sello_der_remaining(&e));
    pk->k.u.rsa.pk.n = pk->n;
    pk->k.u.rsa.pk.nlen = sello_der_remaining(&n);
    pk->k.u.rsa.pk.e = pk->e;
    pk->k.u.rsa.pk.elen = sello_der_remaining(&e);
}

static size_t hash_len(int hash)
{
    return hash == SELLO_HASH_SHA512 ? 64 : hash == SELLO_HASH_SHA384 ? 48 : 32;
}

static const br_hash_class *hash_class(int hash)
{
    return hash == SELLO_HASH_SHA512   ? &br_sha512_vtable
           : hash == SELLO_HASH_SHA384 ? &br_sha384_vtable
                                       : &br_sha256_vtable;
}

static const unsigned char *hash_oid(int hash)
{
    return hash == SELLO_HASH_SHA512   ? BR_HASH_OID_SHA512
           : hash == SELLO_HASH_SHA384 ? BR_HASH_OID_SHA384
                                       : BR_HASH_OID_SHA256;
}

static void digest_of(const char *msg, int hash, uint8_t *out)
{
    br_hash_compat_context ctx;
    const br_hash_class *h = hash_class(hash);
    h->init(&ctx.vtable);
    h->update(&ctx.vtable, msg, strlen(msg));
    h->out(&ctx.vtable, out);
}

/* BearSSL's verdict on a signature made by the driver. */
static bool verify(const pub_key *pk, int hash, const uint8_t *digest,
                   const uint8_t *sig, size_t sig_len)
{
    size_t hl = hash_len(hash);
    if (is_ec(pk->k.type))
        return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), digest,
                                                hl, &pk->k.u.ec.pk, sig,
                                                sig_len) == 1;
    uint8_t recovered[64];
    if (!br_rsa_pkcs1_vrfy_get_default()(sig, sig_len, hash_oid(hash), hl,
                                         &pk->k.u.rsa.pk, recovered))
        return false;
    return memcmp(recovered, digest, hl) == 0;
}

/* The SPKI pkcs11-tool exports for KEY_ID (through OpenSSL's i2d_PUBKEY),
 * or 0 when it cannot: opensc 0.23 fails with "cannot create EVP_PKEY" on
 * P-384 public keys. */
static size_t exported_spki(fx *f, uint8_t type, uint8_t *out, size_t cap)
{
    int rc;
    char *text = capture(&rc, "pkcs11-tool --module %s --token-label %s "
                              "--read-object --type pubkey --id %s "
                              "-o %s/pub.der", lib_path(), LABEL, KEY_ID_HEX,
                         f->dir);
    if (rc != 0 && type != SELLO_KEY_P384)
        fprintf(stderr, "pkcs11-tool --read-object: %s", text);
    free(text);
    if (rc != 0)
        return 0;
    char path[128];
    snprintf(path, sizeof path, "%s/pub.der", f->dir);
    FILE *p = fopen(path, "rb");
    assert_non_null(p);
    size_t n = fread(out, 1, cap, p);
    fclose(p);
    return n;
}

/* The EC point of KEY_ID's public key as pkcs11-tool lists it (the
 * CKA_EC_POINT octets, a DER OCTET STRING around the point). */
static size_t listed_ec_point(uint8_t *out, size_t cap)
{
    int rc;
    char *text = capture(&rc, "pkcs11-tool --module %s --token-label %s "
                              "--list-objects --type pubkey --id %s",
                         lib_path(), LABEL, KEY_ID_HEX);
    assert_int_equal(rc, 0);
    char *line = strstr(text, "EC_POINT:");
    if (!line)
        fail_msg("no EC_POINT listed:\n%s", text);
    line += strlen("EC_POINT:");
    line += strspn(line, " ");
    line[strspn(line, "0123456789abcdef")] = 0;
    uint8_t der[256];
    size_t n = tu_hex(line, der, sizeof der);
    free(text);
    assert_true(n > 2 && der[0] == 0x04 && der[1] == n - 2);
    assert_true(n - 2 <= cap);
    memcpy(out, der + 2, n - 2);
    return n - 2;
}

/* The driver's SPKI against what the token shows to pkcs11-tool. */
static void check_spki_with_tool(fx *f, uint8_t type, const uint8_t *spki,
                                 size_t spki_len, const pub_key *pk)
{
    uint8_t exported[SIM_P11_SPKI_MAX + 64];
    size_t exported_len = exported_spki(f, type, exported, sizeof exported);
    if (type != SELLO_KEY_P384)
        assert_true(exported_len > 0);
    if (exported_len)
        assert_bytes_equal(spki, spki_len, exported, exported_len);
    if (is_ec(type)) {
        uint8_t q[200];
        size_t qlen = listed_ec_point(q, sizeof q);
        assert_bytes_equal(pk->k.u.ec.pk.q, pk->k.u.ec.pk.qlen, q, qlen);
    }
}

/* ---- tests: open, close, PINs -------------------------------------------- */

static void test_open_close(void **state)
{
    fx *f = token(state);
    open_token(f);
    assert_true(f->t.open);
    sim_p11_close(&f->t);
    assert_false(f->t.open);
    sim_p11_close(&f->t); /* idempotent */
    /* Again, after C_Finalize: the library can be initialised anew. */
    open_token(f);
    sim_p11_close(&f->t);
}

static void test_open_wrong_library(void **state)
{
    fx *f = token(state);
    expect(&f->t, sim_p11_open(&f->t, "/nonexistent/libnothing.so", LABEL),
           SELLO_ERR_NOT_FOUND);
    assert_string_equal(sim_p11_last_fn(&f->t), "dlopen");
    assert_null(f->t.lib);
    /* A library that loads but is no PKCS#11 module. */
    expect(&f->t, sim_p11_open(&f->t, "libc.so.6", LABEL), SELLO_ERR_NOT_FOUND);
    assert_string_equal(sim_p11_last_fn(&f->t), "dlsym C_GetFunctionList");
    assert_null(f->t.lib);
    expect(&f->t, sim_p11_open(&f->t, "", LABEL), SELLO_ERR_PARAM);
    expect(&f->t, sim_p11_open(&f->t, NULL, LABEL), SELLO_ERR_PARAM);
    sim_p11_close(&f->t);
}

static void test_open_unknown_label(void **state)
{
    fx *f = token(state);
    expect(&f->t, sim_p11_open(&f->t, lib_path(), "no-such-token"),
           SELLO_ERR_NOT_FOUND);
    assert_string_equal(sim_p11_last_fn(&f->t), "token label");
    assert_false(f->t.open);
    /* A prefix of the label is not the label. */
    expect(&f->t, sim_p11_open(&f->t, lib_path(), "sello"),
           SELLO_ERR_NOT_FOUND);
    expect(&f->t, sim_p11_open(&f->t, lib_path(), ""), SELLO_ERR_PARAM);
    expect(&f->t,
           sim_p11_open(&f->t, lib_path(),
                        "a-label-of-thirty-three-octets-xx"),
           SELLO_ERR_PARAM);
    /* The handle still works after all that. */
    open_token(f);
}

static void test_set_user_pin(void **state)
{
    fx *f = token(state);
    open_token(f);
    /* The PIN softhsm2-util set works, as hex text of INIT_PIN. */
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN), SELLO_OK);
    /* No SO take-over while the user is logged in. */
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN,
                                       sizeof MODULE_PIN), SELLO_ERR_STATE);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    /* A wrong SO PIN changes nothing. */
    expect(&f->t, sim_p11_set_user_pin(&f->t, "wrong-so-pin", MODULE_PIN,
                                       sizeof MODULE_PIN), SELLO_ERR_CRYPTO);
    assert_int_equal(sim_p11_last_rv(&f->t), 0xa0 /* CKR_PIN_INCORRECT */);
    assert_string_equal(sim_p11_rv_name(sim_p11_last_rv(&f->t)),
                        "CKR_PIN_INCORRECT");
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN), SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);

    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN,
                                       sizeof MODULE_PIN), SELLO_OK);
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN),
           SELLO_ERR_CRYPTO);
    assert_string_equal(sim_p11_last_fn(&f->t), "C_Login");
    assert_string_equal(sim_p11_rv_name(sim_p11_last_rv(&f->t)),
                        "CKR_PIN_INCORRECT");
    /* One octet off. */
    uint8_t near[sizeof MODULE_PIN];
    memcpy(near, MODULE_PIN, sizeof near);
    near[31] ^= 1;
    expect(&f->t, sim_p11_login(&f->t, near, sizeof near), SELLO_ERR_CRYPTO);
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, sizeof MODULE_PIN),
           SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);

    /* The PKCS#11 PIN is the lowercase hex text: another tool logs in
     * with it (and not with the old one). */
    int rc;
    char *out = pkcs11_tool(&rc, "--list-objects");
    if (rc != 0)
        fprintf(stderr, "%s", out);
    assert_int_equal(rc, 0);
    free(out);
    out = capture(&rc, "pkcs11-tool --module %s --token-label %s --login "
                       "--pin %s --list-objects", lib_path(), LABEL,
                  INIT_PIN_TEXT);
    assert_int_not_equal(rc, 0);
    free(out);
}

static void test_set_user_pin_bad_arguments(void **state)
{
    fx *f = token(state);
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN, 16),
           SELLO_ERR_STATE); /* not open */
    open_token(f);
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN, 0),
           SELLO_ERR_PARAM);
    expect(&f->t, sim_p11_set_user_pin(&f->t, NULL, MODULE_PIN, 16),
           SELLO_ERR_PARAM);
    uint8_t big[SIM_P11_PIN_MAX + 1] = { 0 };
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, big, sizeof big),
           SELLO_ERR_PARAM);
    /* One octet is two characters: below SoftHSM's minimum of 4. */
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN, 1),
           SELLO_ERR_PARAM);
    assert_string_equal(sim_p11_last_fn(&f->t), "token PIN length");
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, 0), SELLO_ERR_PARAM);
    expect(&f->t, sim_p11_login(&f->t, big, sizeof big), SELLO_ERR_PARAM);
    /* The longest PIN works. */
    uint8_t longest[SIM_P11_PIN_MAX];
    memset(longest, 0xa5, sizeof longest);
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, longest, sizeof longest),
           SELLO_OK);
    expect(&f->t, sim_p11_login(&f->t, longest, sizeof longest), SELLO_OK);
}

static void test_set_so_pin(void **state)
{
    fx *f = token(state);
    open_token(f);
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN,
                                       sizeof MODULE_PIN), SELLO_OK);
    expect(&f->t, sim_p11_set_so_pin(&f->t, SO_PIN, MODULE_SO_PIN,
                                     sizeof MODULE_SO_PIN), SELLO_OK);
    /* The operator's SO PIN no longer resets the user PIN. */
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, INIT_PIN,
                                       sizeof INIT_PIN), SELLO_ERR_CRYPTO);
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN),
           SELLO_ERR_CRYPTO);
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, sizeof MODULE_PIN),
           SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    /* The new SO PIN is the hex text of the module's octets. */
    char so_text[2 * sizeof MODULE_SO_PIN + 1];
    hex(MODULE_SO_PIN, sizeof MODULE_SO_PIN, so_text);
    expect(&f->t, sim_p11_set_user_pin(&f->t, so_text, INIT_PIN,
                                       sizeof INIT_PIN), SELLO_OK);
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN), SELLO_OK);
}

/* Why sim_p11_set_so_pin exists: whoever knows the SO PIN can reset the
 * user PIN (C_InitPIN works on an initialised PIN in SoftHSMv2, as the
 * standard allows) and then sign with the module's key. */
static void test_so_pin_holder_can_use_key(void **state)
{
    fx *f = token(state);
    open_as_module(f);
    uint8_t spki[SIM_P11_SPKI_MAX], digest[32], sig[SIM_P11_SIG_MAX];
    size_t spki_len, sig_len;
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    digest_of("x", SELLO_HASH_SHA256, digest);
    /* The operator's SO PIN still works: the key is usable without the
     * module's PIN. */
    static const uint8_t thief[] = { 0xde, 0xad, 0xbe, 0xef };
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, thief, sizeof thief),
           SELLO_OK);
    expect(&f->t, sim_p11_login(&f->t, thief, sizeof thief), SELLO_OK);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    /* Once the module has replaced the SO PIN, it does not. */
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN,
                                       sizeof MODULE_PIN), SELLO_OK);
    expect(&f->t, sim_p11_set_so_pin(&f->t, SO_PIN, MODULE_SO_PIN,
                                     sizeof MODULE_SO_PIN), SELLO_OK);
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, thief, sizeof thief),
           SELLO_ERR_CRYPTO);
    expect(&f->t, sim_p11_login(&f->t, thief, sizeof thief), SELLO_ERR_CRYPTO);
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, sizeof MODULE_PIN),
           SELLO_OK);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_OK);
}

static void test_login_states(void **state)
{
    fx *f = token(state);
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN),
           SELLO_ERR_STATE); /* not open */
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    open_token(f);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK); /* nobody logged in */
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN), SELLO_OK);
    /* A second login does not pass for a PIN check, right or wrong. */
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN),
           SELLO_ERR_STATE);
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, sizeof MODULE_PIN),
           SELLO_ERR_STATE);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    /* close logs out. */
    expect(&f->t, sim_p11_login(&f->t, INIT_PIN, sizeof INIT_PIN), SELLO_OK);
    sim_p11_close(&f->t);
    open_token(f);
    assert_false(f->t.logged_in);
}

/* ---- tests: keys --------------------------------------------------------- */

/* Generates, checks the SPKI against pkcs11-tool's export and against the
 * firmware's encoder, signs and verifies with every hash. */
static void test_generate_sign(void **state)
{
    fx *f = token(state);
    const key_param *kp = f->param;
    open_as_module(f);

    uint8_t spki[SIM_P11_SPKI_MAX];
    size_t spki_len = 0;
    expect(&f->t, sim_p11_generate(&f->t, kp->type, KEY_ID, sizeof KEY_ID,
                                   spki, sizeof spki, &spki_len), SELLO_OK);
    assert_true(f->t.hardened);

    /* 1. The firmware's own encoder, from the components parsed with the
     * firmware's strict DER reader. */
    static pub_key pk;
    parse_spki(spki, spki_len, kp->type, &pk);
    uint8_t fw[SIM_P11_SPKI_MAX];
    sello_der_writer w;
    sello_derw_init(&w, fw, sizeof fw);
    sello_key_write_spki(&pk.k, &w);
    size_t fw_len = 0;
    assert_true(sello_derw_to_front(&w, &fw_len));
    assert_bytes_equal(spki, spki_len, fw, fw_len);

    /* 2. The token's public key as pkcs11-tool shows it. */
    check_spki_with_tool(f, kp->type, spki, spki_len, &pk);
    if (!is_ec(kp->type)) {
        size_t bits = kp->type == SELLO_KEY_RSA4096   ? 4096
                      : kp->type == SELLO_KEY_RSA3072 ? 3072
                                                      : 2048;
        assert_int_equal(pk.k.u.rsa.pk.nlen, bits / 8);
        assert_bytes_equal(pk.k.u.rsa.pk.e, pk.k.u.rsa.pk.elen,
                           "\x01\x00\x01", 3);
    }

    /* 3. Signatures verify with BearSSL against the returned SPKI. */
    static const int hashes[] = { SELLO_HASH_SHA256, SELLO_HASH_SHA384,
                                  SELLO_HASH_SHA512 };
    for (size_t i = 0; i < 3; i++) {
        uint8_t digest[64], sig[SIM_P11_SIG_MAX];
        size_t sig_len = 0;
        digest_of("a TSTInfo's signed attributes", hashes[i], digest);
        expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, kp->type,
                                   hashes[i], digest, hash_len(hashes[i]),
                                   sig, sizeof sig, &sig_len), SELLO_OK);
        if (!verify(&pk, hashes[i], digest, sig, sig_len)) {
            tu_dump("signature", sig, sig_len);
            fail_msg("%s signature with hash %d does not verify", kp->name,
                     hashes[i]);
        }
        if (is_ec(kp->type)) {
            /* Strict DER: what the bearssl engine writes. */
            sello_der_cur c = sello_der_cur_init(sig, sig_len), seq, r, s;
            assert_int_equal(sello_der_read(&c, SELLO_DER_SEQUENCE, &seq, NULL),
                             SELLO_OK);
            assert_true(sello_der_at_end(&c));
            assert_int_equal(sello_der_read_integer(&seq, &r), SELLO_OK);
            assert_int_equal(sello_der_read_integer(&seq, &s), SELLO_OK);
            assert_true(sello_der_at_end(&seq));
        } else {
            assert_int_equal(sig_len, pk.k.u.rsa.pk.nlen);
        }
        /* A different digest does not verify. */
        digest[0] ^= 1;
        assert_false(verify(&pk, hashes[i], digest, sig, sig_len));
    }
}

static void test_key_attributes(void **state)
{
    fx *f = token(state);
    open_as_module(f);
    uint8_t spki[SIM_P11_SPKI_MAX];
    size_t spki_len;
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_OK);
    /* pkcs11-tool logs in by itself; the driver's login would be shared
     * only within this process, so no conflict. */
    int rc;
    char *out = pkcs11_tool(&rc, "--list-objects");
    if (rc != 0)
        fprintf(stderr, "%s", out);
    assert_int_equal(rc, 0);
    if (getenv("SELLO_P11_SHOW"))
        fprintf(stderr, "%s", out);
    char *priv = strstr(out, "Private Key Object");
    if (!priv)
        fail_msg("no private key listed:\n%s", out);
    char *body = strchr(priv, '\n');
    assert_non_null(body);
    char *next = strstr(body, "Object;"); /* the next object's header */
    if (next)
        *next = 0;
    assert_non_null(strstr(priv, "label:      sello-tsu\n"));
    assert_non_null(strstr(priv, "ID:         " KEY_ID_HEX "\n"));
    /* CKA_ALLOWED_MECHANISMS: the one mechanism the driver signs with. */
    assert_true(f->t.hardened);
    assert_non_null(strstr(priv, "Allowed mechanisms: ECDSA\n"));
    /* Access: sensitive, always sensitive, never extractable, local */
    char *access = strstr(priv, "Access:");
    char *usage = strstr(priv, "Usage:");
    if (!access || !usage)
        fail_msg("no Access or Usage line:\n%s", priv);
    access += strlen("Access:");
    usage += strlen("Usage:");
    access[strcspn(access, "\n")] = 0;
    usage[strcspn(usage, "\n")] = 0;
    bool sensitive = false, always = false, never = false, local = false;
    for (char *save = NULL, *w = strtok_r(access, ",", &save); w;
         w = strtok_r(NULL, ",", &save)) {
        w += strspn(w, " ");
        if (strcmp(w, "sensitive") == 0)
            sensitive = true;
        else if (strcmp(w, "always sensitive") == 0)
            always = true;
        else if (strcmp(w, "never extractable") == 0)
            never = true;
        else if (strcmp(w, "local") == 0)
            local = true;
        else if (strcmp(w, "extractable") == 0)
            fail_msg("the private key is extractable");
    }
    assert_true(sensitive && always && never && local);
    /* Sign only: no decrypt, unwrap or derive. */
    usage += strspn(usage, " ");
    assert_string_equal(usage, "sign");
    free(out);
}

/* The key pair seen through the raw PKCS#11 interface, with the driver's
 * session: the token itself refuses everything but CKM_ECDSA/CKM_RSA_PKCS
 * signing (what a second application with the PIN could try). */
static void test_key_refuses_all_but_sign(void **state)
{
    fx *f = token(state);
    const key_param *kp = f->param;
    bool ec = is_ec(kp->type);
    open_as_module(f);
    uint8_t spki[SIM_P11_SPKI_MAX], digest[32], sig[SIM_P11_SIG_MAX];
    size_t spki_len, sig_len;
    expect(&f->t, sim_p11_generate(&f->t, kp->type, KEY_ID, sizeof KEY_ID,
                                   spki, sizeof spki, &spki_len), SELLO_OK);
    digest_of("x", SELLO_HASH_SHA256, digest);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, kp->type,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_OK);
    assert_true(f->t.key_cached);
    CK_FUNCTION_LIST *fl = (CK_FUNCTION_LIST *)f->t.fn;
    CK_SESSION_HANDLE s = f->t.session;
    CK_OBJECT_HANDLE key = f->t.key;

    /* The secret value does not come out. */
    uint8_t value[1024];
    CK_ATTRIBUTE a = { ec ? CKA_VALUE : CKA_PRIVATE_EXPONENT, value,
                       sizeof value };
    assert_int_equal(fl->C_GetAttributeValue(s, key, &a, 1),
                     CKR_ATTRIBUTE_SENSITIVE);
    /* No other mechanism, not even another signing one. */
    CK_MECHANISM other = { ec ? CKM_ECDSA_SHA256 : CKM_RSA_X_509, NULL, 0 };
    assert_int_not_equal(fl->C_SignInit(s, &other, key), CKR_OK);
    CK_MECHANISM dec = { CKM_RSA_PKCS, NULL, 0 };
    if (!ec)
        assert_int_not_equal(fl->C_DecryptInit(s, &dec, key), CKR_OK);
    /* No attribute changes, no copies. */
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE make[] = {
        { CKA_EXTRACTABLE, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
        { CKA_DERIVE, &yes, 1 },
    };
    for (size_t i = 0; i < 3; i++)
        assert_int_not_equal(fl->C_SetAttributeValue(s, key, &make[i], 1),
                             CKR_OK);
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    assert_int_not_equal(fl->C_CopyObject(s, key, make, 1, &copy), CKR_OK);
    assert_int_not_equal(fl->C_CopyObject(s, key, NULL, 0, &copy), CKR_OK);
    /* ... and the driver still signs with it. */
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, kp->type,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_OK);
}

static void test_sign_without_login(void **state)
{
    fx *f = token(state);
    open_as_module(f);
    uint8_t spki[SIM_P11_SPKI_MAX], digest[32], sig[SIM_P11_SIG_MAX];
    size_t spki_len, sig_len;
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_OK);
    digest_of("x", SELLO_HASH_SHA256, digest);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_ERR_STATE);
    assert_string_equal(sim_p11_last_fn(&f->t), "not logged in");
    /* The token itself refuses too: with the driver's own check defeated,
     * the private key is simply not there for an anonymous session. */
    f->t.logged_in = true;
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_ERR_NOT_FOUND);
    f->t.logged_in = false;
    /* Nor can it be made without login. */
    static const uint8_t other[] = { 9 };
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, other, 1, spki,
                                   sizeof spki, &spki_len), SELLO_ERR_STATE);
    f->t.logged_in = true;
    sello_status st = sim_p11_generate(&f->t, SELLO_KEY_P256, other, 1, spki,
                                       sizeof spki, &spki_len);
    f->t.logged_in = false;
    assert_int_equal(st, SELLO_ERR_STATE);
    assert_string_equal(sim_p11_rv_name(sim_p11_last_rv(&f->t)),
                        "CKR_USER_NOT_LOGGED_IN");
}

static void test_sign_bad_arguments(void **state)
{
    fx *f = token(state);
    open_as_module(f);
    uint8_t spki[SIM_P11_SPKI_MAX], digest[64], sig[SIM_P11_SIG_MAX];
    size_t spki_len, sig_len;
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_OK);
    digest_of("x", SELLO_HASH_SHA512, digest);
#define SIGN(type, hash, dlen, cap)                                           \
    sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, type, hash, digest, dlen, sig, \
                 cap, &sig_len)
    expect(&f->t, SIGN(SELLO_KEY_P256, SELLO_HASH_SHA256, 31, sizeof sig),
           SELLO_ERR_PARAM);
    expect(&f->t, SIGN(SELLO_KEY_P256, SELLO_HASH_SHA256, 64, sizeof sig),
           SELLO_ERR_PARAM);
    expect(&f->t, SIGN(SELLO_KEY_P256, SELLO_HASH_SHA1, 20, sizeof sig),
           SELLO_ERR_PARAM);
    expect(&f->t, SIGN(SELLO_KEY_P256, 99, 32, sizeof sig), SELLO_ERR_PARAM);
    expect(&f->t, SIGN(0, SELLO_HASH_SHA256, 32, sizeof sig), SELLO_ERR_PARAM);
    /* The key is P-256: not P-384, not RSA. */
    expect(&f->t, SIGN(SELLO_KEY_P384, SELLO_HASH_SHA256, 32, sizeof sig),
           SELLO_ERR_CRYPTO);
    assert_string_equal(sim_p11_last_fn(&f->t), "CKA_EC_PARAMS");
    expect(&f->t, SIGN(SELLO_KEY_RSA2048, SELLO_HASH_SHA256, 32, sizeof sig),
           SELLO_ERR_CRYPTO);
    assert_string_equal(sim_p11_last_fn(&f->t), "CKA_KEY_TYPE");
    /* Output too small (a DER P-256 signature is at least 8 octets). */
    expect(&f->t, SIGN(SELLO_KEY_P256, SELLO_HASH_SHA256, 32, 8),
           SELLO_ERR_SPACE);
    expect(&f->t, SIGN(SELLO_KEY_P256, SELLO_HASH_SHA256, 32, sizeof sig),
           SELLO_OK);
#undef SIGN
    /* Unknown and oversized ids. */
    static const uint8_t unknown[] = { 1, 2, 3 };
    expect(&f->t, sim_p11_sign(&f->t, unknown, sizeof unknown, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_ERR_NOT_FOUND);
    uint8_t long_id[SIM_P11_ID_MAX + 1] = { 0 };
    expect(&f->t, sim_p11_sign(&f->t, long_id, sizeof long_id, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_ERR_PARAM);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, 0, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_ERR_PARAM);
    /* Generate refuses bad types, an id in use, and a small output (and
     * leaves nothing behind then). */
    static const uint8_t id2[] = { 2 };
    expect(&f->t, sim_p11_generate(&f->t, 0, id2, 1, spki, sizeof spki,
                                   &spki_len), SELLO_ERR_PARAM);
    expect(&f->t, sim_p11_generate(&f->t, 6, id2, 1, spki, sizeof spki,
                                   &spki_len), SELLO_ERR_PARAM);
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_ERR_STATE);
    assert_string_equal(sim_p11_last_fn(&f->t), "CKA_ID in use");
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, id2, 1, spki, 90,
                                   &spki_len), SELLO_ERR_SPACE);
    expect(&f->t, sim_p11_destroy(&f->t, id2, 1), SELLO_ERR_NOT_FOUND);
}

static void test_destroy(void **state)
{
    fx *f = token(state);
    open_as_module(f);
    uint8_t spki[SIM_P11_SPKI_MAX], digest[32], sig[SIM_P11_SIG_MAX];
    size_t spki_len, sig_len;
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_OK);
    static const uint8_t other[] = { 'k', '2' };
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_RSA2048, other,
                                   sizeof other, spki, sizeof spki,
                                   &spki_len), SELLO_OK);
    digest_of("x", SELLO_HASH_SHA256, digest);
    /* Sign first, so the handle is cached when the key goes. */
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_OK);
    expect(&f->t, sim_p11_logout(&f->t), SELLO_OK);
    expect(&f->t, sim_p11_destroy(&f->t, KEY_ID, sizeof KEY_ID),
           SELLO_ERR_STATE);
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, sizeof MODULE_PIN),
           SELLO_OK);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_OK);
    expect(&f->t, sim_p11_destroy(&f->t, KEY_ID, sizeof KEY_ID), SELLO_OK);
    expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, SELLO_KEY_P256,
                               SELLO_HASH_SHA256, digest, 32, sig, sizeof sig,
                               &sig_len), SELLO_ERR_NOT_FOUND);
    expect(&f->t, sim_p11_destroy(&f->t, KEY_ID, sizeof KEY_ID),
           SELLO_ERR_NOT_FOUND);

    /* Seen from outside: both objects of KEY_ID are gone, the other pair
     * is still there. */
    int rc;
    char *out = pkcs11_tool(&rc, "--list-objects");
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "ID:         " KEY_ID_HEX));
    assert_non_null(strstr(out, "ID:         6b32"));
    free(out);
    expect(&f->t, sim_p11_destroy(&f->t, other, sizeof other), SELLO_OK);
    out = pkcs11_tool(&rc, "--list-objects");
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "Object;"));
    free(out);
}

/* ---- tests: tokens that do not do as told (test/p11/weak_token.c) -------- */

static void open_weak(fx *f, const char *mode)
{
    char shim[PATH_MAX];
    beside_exe("libsello_p11_weak.so", shim, sizeof shim);
    setenv("SELLO_P11_WEAK_MODE", mode, 1);
    setenv("SELLO_P11_WEAK_TARGET", lib_path(), 1);
    expect(&f->t, sim_p11_open(&f->t, shim, LABEL), SELLO_OK);
    expect(&f->t, sim_p11_set_user_pin(&f->t, SO_PIN, MODULE_PIN,
                                       sizeof MODULE_PIN), SELLO_OK);
    expect(&f->t, sim_p11_login(&f->t, MODULE_PIN, sizeof MODULE_PIN),
           SELLO_OK);
}

static void no_objects_left(void)
{
    int rc;
    char *out = pkcs11_tool(&rc, "--list-objects");
    assert_int_equal(rc, 0);
    if (strstr(out, "Object;"))
        fail_msg("objects left behind:\n%s", out);
    free(out);
}

static void test_weak_token_refused(void **state)
{
    fx *f = token(state);
    const char *mode = f->param;
    open_weak(f, mode);
    uint8_t spki[SIM_P11_SPKI_MAX];
    size_t spki_len;
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_ERR_CRYPTO);
    assert_string_equal(sim_p11_last_fn(&f->t),
                        strcmp(mode, "extractable") == 0 ? "CKA_EXTRACTABLE"
                                                         : "CKA_SENSITIVE");
    no_objects_left();
}

static void test_weak_token_raw_ec_point(void **state)
{
    fx *f = token(state);
    open_weak(f, "raw-ec-point");
    static const uint8_t types[] = { SELLO_KEY_P256, SELLO_KEY_P384 };
    for (size_t i = 0; i < 2; i++) {
        uint8_t spki[SIM_P11_SPKI_MAX];
        size_t spki_len;
        expect(&f->t, sim_p11_generate(&f->t, types[i], KEY_ID,
                                       sizeof KEY_ID, spki, sizeof spki,
                                       &spki_len), SELLO_OK);
        static pub_key pk;
        parse_spki(spki, spki_len, types[i], &pk);
        check_spki_with_tool(f, types[i], spki, spki_len, &pk);
        expect(&f->t, sim_p11_destroy(&f->t, KEY_ID, sizeof KEY_ID),
               SELLO_OK);
    }
}

static void test_weak_token_no_hardening(void **state)
{
    fx *f = token(state);
    open_weak(f, "no-hardening");
    uint8_t spki[SIM_P11_SPKI_MAX];
    size_t spki_len;
    expect(&f->t, sim_p11_generate(&f->t, SELLO_KEY_P256, KEY_ID,
                                   sizeof KEY_ID, spki, sizeof spki,
                                   &spki_len), SELLO_OK);
    assert_false(f->t.hardened);
}

/* ---- latency ------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_bench_sign(void **state)
{
    fx *f = token(state);
    const key_param *kp = f->param;
    const char *env = getenv("SELLO_P11_BENCH");
    long n = env ? strtol(env, NULL, 10) : 0;
    bool report = n > 0;
    if (!report)
        n = 5;
    open_as_module(f);
    uint8_t spki[SIM_P11_SPKI_MAX], digest[64], sig[SIM_P11_SIG_MAX];
    size_t spki_len, sig_len;
    expect(&f->t, sim_p11_generate(&f->t, kp->type, KEY_ID, sizeof KEY_ID,
                                   spki, sizeof spki, &spki_len), SELLO_OK);
    static pub_key pk;
    parse_spki(spki, spki_len, kp->type, &pk);
    digest_of("bench", kp->hash, digest);
    size_t dl = hash_len(kp->hash);
    double best = 1e9, total = 0;
    for (long i = 0; i < n; i++) {
        digest[0] = (uint8_t)i;
        double t0 = now_s();
        expect(&f->t, sim_p11_sign(&f->t, KEY_ID, sizeof KEY_ID, kp->type,
                                   kp->hash, digest, dl, sig, sizeof sig,
                                   &sig_len), SELLO_OK);
        double dt = now_s() - t0;
        total += dt;
        if (dt < best)
            best = dt;
        assert_true(verify(&pk, kp->hash, digest, sig, sig_len));
    }
    if (report)
        printf("p11 sign %-8s %ld signatures: mean %.3f ms, best %.3f ms "
               "(%.0f/s)\n",
               kp->name, n, 1e3 * total / (double)n, 1e3 * best,
               (double)n / total);
}

static void test_rv_names(void **state)
{
    (void)state;
    assert_string_equal(sim_p11_rv_name(0), "CKR_OK");
    assert_string_equal(sim_p11_rv_name(0x101), "CKR_USER_NOT_LOGGED_IN");
    assert_string_equal(sim_p11_rv_name(0x80000001UL), "CKR_VENDOR_DEFINED+");
    assert_string_equal(sim_p11_rv_name(0x7777), "CKR_?");
    assert_string_equal(sim_p11_last_fn(NULL), "");
}

#define T(name, fn, param)                                                     \
    { name, fn, fx_setup, fx_teardown, (void *)(param) }

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rv_names),
        T("open_close", test_open_close, NULL),
        T("open_wrong_library", test_open_wrong_library, NULL),
        T("open_unknown_label", test_open_unknown_label, NULL),
        T("set_user_pin", test_set_user_pin, NULL),
        T("set_user_pin_bad_arguments", test_set_user_pin_bad_arguments, NULL),
        T("set_so_pin", test_set_so_pin, NULL),
        T("so_pin_holder_can_use_key", test_so_pin_holder_can_use_key, NULL),
        T("login_states", test_login_states, NULL),
        T("generate_sign_p256", test_generate_sign, &KEYS[0]),
        T("generate_sign_p384", test_generate_sign, &KEYS[1]),
        T("generate_sign_rsa2048", test_generate_sign, &KEYS[2]),
        T("generate_sign_rsa3072", test_generate_sign, &KEYS[3]),
        T("generate_sign_rsa4096", test_generate_sign, &KEYS[4]),
        T("key_attributes_pkcs11_tool", test_key_attributes, NULL),
        T("key_refuses_all_but_sign_p256", test_key_refuses_all_but_sign,
          &KEYS[0]),
        T("key_refuses_all_but_sign_rsa2048", test_key_refuses_all_but_sign,
          &KEYS[2]),
        T("sign_without_login", test_sign_without_login, NULL),
        T("sign_bad_arguments", test_sign_bad_arguments, NULL),
        T("destroy", test_destroy, NULL),
        T("weak_token_extractable", test_weak_token_refused, "extractable"),
        T("weak_token_not_sensitive", test_weak_token_refused,
          "not-sensitive"),
        T("weak_token_raw_ec_point", test_weak_token_raw_ec_point, NULL),
        T("weak_token_no_hardening", test_weak_token_no_hardening, NULL),
        T("bench_sign_p256", test_bench_sign, &KEYS[0]),
        T("bench_sign_rsa2048", test_bench_sign, &KEYS[2]),
    };
    return TU_RUN("p11_token", tests, argc, argv);
}
