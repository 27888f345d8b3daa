/*
 * Admin subcommands: init, csr, cert-load, certs, status. Each sends one
 * ABI request through the relay's administrative socket and reads one
 * response frame (admin_client.h). Also the retired set-time, which only
 * explains what replaced it.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <sello/abi.h>
#include <sello/status.h>

#include "admin_client.h"
#include "cli.h"
#include "commands.h"
#include "custodian.h"
#include "der.h"
#include "derx.h"
#include "dn.h"
#include "hash.h"
#include "hashx.h"
#include "oidx.h"
#include "pem.h"
#include "share_file.h"
#include "unit_status.h"
#include "util.h"
#include "x509.h"

/* Long options every admin command takes. */
#define ADMIN_OPTION {"admin", required_argument, NULL, 'A'}
#define HELP_OPTION {"help", no_argument, NULL, 'h'}

/* One request on a fresh connection; non-OK statuses are reported. */
static bool run_op(const char *admin, const char *opname, uint8_t op,
                   const uint8_t *payload, size_t len, admin_reply *reply,
                   admin_progress_fn progress, void *ctx)
{
    return admin_run_op(admin_socket_path(admin), opname, op, payload, len,
                        reply, progress, ctx);
}

/* Writes DER, or PEM with `label` when `pem` is set. */
static bool write_der_or_pem(const char *path, const uint8_t *der, size_t len,
                             bool pem, const char *label)
{
    if (!pem)
        return util_write_file(path, der, len);
    char *text = pem_encode(der, len, label);
    if (!text) {
        util_err("out of memory");
        return false;
    }
    bool ok = util_write_file(path, text, strlen(text));
    free(text);
    return ok;
}

/* ---- names of ABI values ------------------------------------------------- */

static const struct {
    uint8_t id;
    const char *name;  /* on the command line and in status */
    const char *label; /* in sentences */
} key_types[] = {
    {SELLO_KEY_P256, "p256", "P-256"},
    {SELLO_KEY_P384, "p384", "P-384"},
    {SELLO_KEY_RSA2048, "rsa2048", "RSA-2048"},
    {SELLO_KEY_RSA3072, "rsa3072", "RSA-3072"},
    {SELLO_KEY_RSA4096, "rsa4096", "RSA-4096"},
};

static const char *key_type_name(unsigned id)
{
    for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
        if (key_types[i].id == id)
            return key_types[i].name;
    return "unknown";
}

static const char *key_type_label(unsigned id)
{
    for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
        if (key_types[i].id == id)
            return key_types[i].label;
    return "unknown";
}

static const struct {
    uint8_t id;
    const char *name;
} engines[] = {
    {SELLO_ENGINE_MODULE, "module"},
    {SELLO_ENGINE_TOKEN, "pkcs11"},
};

static const char *engine_name(unsigned id)
{
    for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
        if (engines[i].id == id)
            return engines[i].name;
    return "unknown";
}

/* "sha256,sha384" for a SELLO_HASH_BIT mask. */
static void hash_mask_names(uint32_t mask, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int id = 0; id < 32; id++) {
        if (!(mask & SELLO_HASH_BIT(id)))
            continue;
        const char *n = sello_hash_by_id(id) ? hashx_name(id) : NULL;
        int w = n ? snprintf(out + len, cap - len, "%s%s", len ? "," : "", n)
                  : snprintf(out + len, cap - len, "%shash%d", len ? "," : "",
                             id);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

/* ---- init ---------------------------------------------------------------- */

#define MAX_CUSTODIANS 16u

void usage_init(FILE *f)
{
    fprintf(f,
        "usage: sello init --key TYPE --subject DN --share-dir DIR [options]\n"
        "The key ceremony (state uninitialised only): generates the TSU key\n"
        "pair inside the module, splits its activation secret into one share\n"
        "per custodian, and writes each share, sealed to that custodian's\n"
        "passphrase, to DIR/share-<x>.sello. Any M custodians together\n"
        "activate, recalibrate or destroy the unit later.\n\n"
        "  --key TYPE          p256, p384, rsa2048, rsa3072 or rsa4096\n"
        "  --subject DN        e.g. \"CN=Demo TSU,O=Example,C=DE\" (CN, O, OU,\n"
        "                      C, L, ST, serialNumber, organizationIdentifier\n"
        "                      or dotted OIDs; written in the order given)\n"
        "  --custodians N      custodians, 2..16 (default 3)\n"
        "  --threshold M       shares needed, 2..N (default 2)\n"
        "  --share-dir DIR     where the share files go (required; existing\n"
        "                      share files are never overwritten)\n"
        "  --passphrase-file FILE\n"
        "                      custodian x's passphrase is the first line of\n"
        "                      the x-th such FILE; give it N times, or never\n"
        "                      to have each custodian type theirs at the\n"
        "                      terminal (at least 8 characters, all distinct)\n"
        "  --kdf COST          Argon2id cost of the passphrase keys:\n"
        "                      interactive, moderate (default) or sensitive\n"
        "  --engine ENGINE     module (default: the key in module storage) or\n"
        "                      pkcs11 (the key in the board's PKCS#11 token)\n"
        "  --lockout-failures N  failed share submissions before a lockout,\n"
        "                      1..100 (module default 5)\n"
        "  --lockout-seconds S lockout duration, 1..604800 (default 900)\n"
        "  --key-usage-days D  private-key usage period from the certificate's\n"
        "                      notBefore when it has none (default: the\n"
        "                      certificate's validity only)\n"
        "  --policy OID        TSA policy (module default 0.4.0.2023.1.1)\n"
        "  --accuracy-ms N     declared accuracy, 1..3600000 (default 1000)\n"
        "  --hashes LIST       accepted imprint hashes, e.g. sha256,sha384,sha512\n"
        "  --sig-hash HASH     sha256, sha384 or sha512 (RSA keys only)\n"
        "  --qualified         every token carries the EN 319 422 statement\n"
        "  --tsa-name          tokens carry the tsa field\n"
        "  --no-chain          certReq does not add the issuer certificate\n"
        "  --instance N        TSU instance number (serial high bits)\n"
        "  --test-unit         make a test unit, marked as one for the life of\n"
        "                      its key (status, audit log): required on a\n"
        "                      simulation board such as sello-sim, which\n"
        "                      makes no other units; allowed on any board\n"
        "  --out-pubkey FILE   write the SubjectPublicKeyInfo (DER)\n"
        "  --pem               write --out-pubkey as PEM instead\n"
        ADMIN_USAGE);
}

typedef struct {
    const char *what; /* "generating RSA-4096 key in the module" */
    bool tty;
    bool shown;
    struct timespec start;
} spinner;

static double elapsed_s(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) +
           (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/*
 * Progress while the module generates the key (RSA-4096 can take a
 * minute): a spinner with the elapsed seconds on a terminal, else one
 * line, so that logs stay readable. Called by admin_call every 200 ms of
 * waiting; a fast reply shows nothing at all.
 */
static void spin(void *ctx)
{
    spinner *s = ctx;
    static const char frames[] = "|/-\\";
    double t = elapsed_s(&s->start);
    if (!s->tty) {
        if (!s->shown)
            fprintf(stderr, "%s...\n", s->what);
        s->shown = true;
        return;
    }
    s->shown = true;
    fprintf(stderr, "\r%s... %c %u s ", s->what,
            frames[(unsigned)(t * 5) % 4], (unsigned)t);
    fflush(stderr);
}

static void spin_end(spinner *s, bool ok)
{
    if (!s->shown)
        return;
    double t = elapsed_s(&s->start);
    if (s->tty)
        fprintf(stderr, "\r%s... %s in %.0f s   \n", s->what,
                ok ? "done" : "failed", t);
    else
        fprintf(stderr, "... %s in %.0f s\n", ok ? "done" : "failed", t);
}

/* The parts of the INIT reply (SELLO_INITR_*). */
typedef struct {
    const uint8_t *spki;
    size_t spki_len;
    const uint8_t *unit_id;
    const uint8_t *share[MAX_CUSTODIANS];
    size_t n_shares;
} init_reply;

static const char *parse_init_reply(const admin_reply *r, size_t want_shares,
                                    init_reply *out)
{
    memset(out, 0, sizeof *out);
    sello_tlv_reader rd = {r->payload, r->payload + r->len};
    uint8_t type;
    const uint8_t *v;
    size_t n;
    int got;
    while ((got = sello_tlv_next(&rd, &type, &v, &n)) == 1) {
        switch (type) {
        case SELLO_INITR_SPKI:
            if (out->spki)
                return "SPKI given twice";
            out->spki = v;
            out->spki_len = n;
            break;
        case SELLO_INITR_UNIT_ID:
            if (out->unit_id || n != 32)
                return "bad unit id field";
            out->unit_id = v;
            break;
        case SELLO_INITR_SHARE:
            if (n != SELLO_SHARE_BOX_LEN)
                return "a share box has the wrong size";
            if (out->n_shares == MAX_CUSTODIANS)
                return "more share boxes than custodians";
            out->share[out->n_shares++] = v;
            break;
        default:
            /* Reply lists are extend-only: a newer module may say more. */
            break;
        }
    }
    if (got != 0)
        return "truncated TLV list";
    if (!out->spki || !out->unit_id)
        return "SPKI or unit id missing";
    if (out->n_shares != want_shares)
        return "not one share box per custodian";
    return NULL;
}

/* Share files reserved before INIT (share_file_create). */
typedef struct {
    char path[MAX_CUSTODIANS][4096];
    int fd[MAX_CUSTODIANS];
    size_t n;
} share_slots;

static void slots_abandon(share_slots *sl)
{
    for (size_t i = 0; i < sl->n; i++) {
        if (sl->fd[i] >= 0) {
            close(sl->fd[i]);
            unlink(sl->path[i]);
        }
        sl->fd[i] = -1;
    }
}

/*
 * The last resort when a share file cannot be written after the module
 * has made the share: without it the unit could never reach its quorum
 * again. The file's content is ciphertext sealed to the custodian's
 * passphrase, so it may go to the terminal; a copy of it restores the file.
 */
static void rescue_share(const char *path, const share_file *sf)
{
    uint8_t raw[SHARE_FILE_LEN];
    char hex[2 * SHARE_FILE_LEN + 1];
    share_file_encode(sf, raw);
    util_hex_encode(raw, sizeof raw, hex);
    printf("\nSHARE %u COULD NOT BE WRITTEN to %s. Save this hex now, it is "
           "that file's whole content\n(restore it with: xxd -r -p > "
           "share-%u.sello):\n%s\n\n",
           sf->x, path, sf->x, hex);
    fflush(stdout);
}

/* Opens every box with its custodian's key before anything is written:
 * proof that the module sealed each share to the key it was given. */
static bool check_shares(const init_reply *ir, const custodian_new *cust,
                         size_t n, unsigned m, share_file *files)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        share_file *sf = &files[i];
        memset(sf, 0, sizeof *sf);
        sf->x = (uint8_t)(i + 1);
        sf->n = (uint8_t)n;
        sf->m = (uint8_t)m;
        memcpy(sf->unit_id, ir->unit_id, 32);
        memcpy(sf->salt, cust[i].salt, sizeof sf->salt);
        memcpy(sf->pub, cust[i].key.pub, 32);
        memcpy(sf->box, ir->share[i], SELLO_SHARE_BOX_LEN);
        uint8_t plain[SELLO_SHARE_LEN];
        const char *why = share_file_unbox(sf, cust[i].key.priv, plain);
        sodium_memzero(plain, sizeof plain);
        if (why) {
            util_err("init: share %zu from the module: %s", i + 1, why);
            ok = false;
        }
    }
    return ok;
}

/*
 * A simulation board makes test units only, and its module refuses any
 * other ceremony: false, after saying so, when the module runs on one and
 * the ceremony is not a test unit's, so that nobody types a passphrase for
 * a ceremony bound to fail. Also false when the module cannot be asked.
 * (The module decides; this only asks earlier.)
 */
static bool board_makes_this_unit(const char *admin, bool test_unit)
{
    if (test_unit)
        return true; /* a test unit may be made on any board */
    admin_conn c;
    unit_status st;
    if (!admin_connect(admin_socket_path(admin), &c))
        return false;
    bool ok = unit_status_fetch(&c, "init", &st, NULL);
    admin_close(&c);
    if (!ok)
        return false;
    if (st.has[SELLO_ST_SIMULATION] && st.num[SELLO_ST_SIMULATION]) {
        util_err("init: the module runs on a simulation board (its entropy "
                 "or secret storage is only simulated), which makes test "
                 "units only: add --test-unit to make a test unit, marked "
                 "as one for the life of its key");
        return false;
    }
    return true;
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"subject", required_argument, NULL, 's'},
        {"custodians", required_argument, NULL, 'N'},
        {"threshold", required_argument, NULL, 'M'},
        {"share-dir", required_argument, NULL, 'D'},
        {"passphrase-file", required_argument, NULL, 'F'},
        {"kdf", required_argument, NULL, 'K'},
        {"engine", required_argument, NULL, 'e'},
        {"lockout-failures", required_argument, NULL, 'L'},
        {"lockout-seconds", required_argument, NULL, 'S'},
        {"key-usage-days", required_argument, NULL, 'U'},
        {"policy", required_argument, NULL, 'p'},
        {"accuracy-ms", required_argument, NULL, 'a'},
        {"hashes", required_argument, NULL, 'H'},
        {"sig-hash", required_argument, NULL, 'g'},
        {"qualified", no_argument, NULL, 'q'},
        {"tsa-name", no_argument, NULL, 't'},
        {"no-chain", no_argument, NULL, 'n'},
        {"instance", required_argument, NULL, 'i'},
        {"test-unit", no_argument, NULL, 'T'},
        {"out-pubkey", required_argument, NULL, 'o'},
        {"pem", no_argument, NULL, 'P'},
        ADMIN_OPTION,
        HELP_OPTION,
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL, *subject = NULL, *out = NULL, *share_dir = NULL;
    const char *passfiles[MAX_CUSTODIANS];
    size_t npass = 0;
    int key = -1, sig_hash = -1, engine = -1;
    bool has_policy = false, has_acc = false, has_hashes = false, pem = false;
    bool qualified = false, tsa_name = false, no_chain = false, has_inst = false;
    bool has_lock_n = false, has_lock_s = false, has_usage = false;
    bool test_unit = false;
    uint8_t policy[66];
    size_t policy_len = 0;
    uint32_t accuracy = 0, hashes = 0, instance = 0;
    uint32_t n_cust = 3, m_cust = 2, lock_n = 0, lock_s = 0, usage_days = 0;
    const custodian_kdf *kdf = custodian_kdf_default();
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
                if (strcmp(optarg, key_types[i].name) == 0)
                    key = key_types[i].id;
            if (key < 0)
                return cli_usage_error("init", usage_init,
                                       "unknown key type '%s'", optarg);
            break;
        case 's':
            subject = optarg;
            break;
        case 'N':
            if (!cli_parse_u32(optarg, 2, MAX_CUSTODIANS, &n_cust))
                return cli_usage_error("init", usage_init,
                                       "--custodians must be 2..%u",
                                       MAX_CUSTODIANS);
            break;
        case 'M':
            if (!cli_parse_u32(optarg, 2, MAX_CUSTODIANS, &m_cust))
                return cli_usage_error("init", usage_init,
                                       "--threshold must be 2..%u",
                                       MAX_CUSTODIANS);
            break;
        case 'D':
            share_dir = optarg;
            break;
        case 'F':
            if (npass == MAX_CUSTODIANS)
                return cli_usage_error("init", usage_init,
                                       "more --passphrase-file than the "
                                       "%u custodians possible",
                                       MAX_CUSTODIANS);
            passfiles[npass++] = optarg;
            break;
        case 'K':
            kdf = custodian_kdf_by_name(optarg);
            if (!kdf)
                return cli_usage_error("init", usage_init,
                                       "--kdf must be interactive, moderate "
                                       "or sensitive");
            break;
        case 'e':
            for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
                if (strcmp(optarg, engines[i].name) == 0)
                    engine = engines[i].id;
            if (engine < 0)
                return cli_usage_error("init", usage_init,
                                       "--engine must be module or pkcs11");
            break;
        case 'L':
            if (!cli_parse_u32(optarg, 1, 100, &lock_n))
                return cli_usage_error("init", usage_init,
                                       "--lockout-failures must be 1..100");
            has_lock_n = true;
            break;
        case 'S':
            if (!cli_parse_u32(optarg, 1, 604800, &lock_s))
                return cli_usage_error("init", usage_init,
                                       "--lockout-seconds must be 1..604800");
            has_lock_s = true;
            break;
        case 'U':
            if (!cli_parse_u32(optarg, 0, UINT32_MAX, &usage_days))
                return cli_usage_error("init", usage_init,
                                       "bad --key-usage-days");
            has_usage = true;
            break;
        case 'p': {
            /* A full DER OID element: the ABI takes it with its tag. */
            size_t n;
            if (!oidx_from_dotted(optarg, policy + 2, sizeof policy - 2, &n) ||
                n > 127)
                return cli_usage_error("init", usage_init,
                                       "bad policy OID '%s'", optarg);
            policy[0] = SELLO_DER_OID;
            policy[1] = (uint8_t)n;
            policy_len = n + 2;
            has_policy = true;
            break;
        }
        case 'a':
            if (!cli_parse_u32(optarg, 1, 3600000, &accuracy))
                return cli_usage_error("init", usage_init,
                                       "--accuracy-ms must be 1..3600000");
            has_acc = true;
            break;
        case 'H': {
            char *list = strdup(optarg), *save = NULL;
            if (!list)
                return EXIT_FAIL;
            hashes = 0;
            for (char *t = strtok_r(list, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                const sello_hash_info *h = hashx_by_name(t);
                if (!h) {
                    free(list);
                    return cli_usage_error("init", usage_init,
                                           "unknown hash '%s'", t);
                }
                hashes |= SELLO_HASH_BIT(h->id);
            }
            free(list);
            if (!hashes)
                return cli_usage_error("init", usage_init, "empty --hashes");
            has_hashes = true;
            break;
        }
        case 'g': {
            const sello_hash_info *h = hashx_by_name(optarg);
            if (!h || h->id < SELLO_HASH_SHA256)
                return cli_usage_error("init", usage_init,
                                       "--sig-hash must be sha256, sha384 "
                                       "or sha512");
            sig_hash = h->id;
            break;
        }
        case 'q':
            qualified = true;
            break;
        case 't':
            tsa_name = true;
            break;
        case 'n':
            no_chain = true;
            break;
        case 'i':
            if (!cli_parse_u32(optarg, 0, UINT32_MAX, &instance))
                return cli_usage_error("init", usage_init, "bad --instance");
            has_inst = true;
            break;
        case 'T':
            test_unit = true;
            break;
        case 'o':
            out = optarg;
            break;
        case 'P':
            pem = true;
            break;
        case 'A':
            admin = optarg;
            break;
        case 'h':
            usage_init(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("init", argv, ch, usage_init);
        }
    }
    if (optind != argc)
        return cli_usage_error("init", usage_init, "unexpected argument '%s'",
                               argv[optind]);
    if (key < 0 || !subject)
        return cli_usage_error("init", usage_init,
                               "--key and --subject are required");
    if (!share_dir)
        return cli_usage_error("init", usage_init,
                               "--share-dir DIR is required: the custodians' "
                               "share files are written there");
    if (m_cust > n_cust)
        return cli_usage_error("init", usage_init,
                               "--threshold %u is more than the %u "
                               "custodians", m_cust, n_cust);
    if (npass != 0 && npass != n_cust)
        return cli_usage_error("init", usage_init,
                               "%zu --passphrase-file for %u custodians: give "
                               "one per custodian, in order, or none to be "
                               "asked at the terminal", npass, n_cust);
    bool rsa = key >= SELLO_KEY_RSA2048;
    if (sig_hash >= 0 && !rsa)
        return cli_usage_error("init", usage_init,
                               "--sig-hash applies to RSA keys; ECDSA uses "
                               "its curve's hash");

    uint8_t name[1024];
    size_t name_len;
    const char *why = dn_encode(subject, name, sizeof name, &name_len);
    if (why)
        return cli_usage_error("init", usage_init, "--subject: %s", why);

    /* Everything that can be refused is refused before the custodians
     * type a word: the directory, and share files already in it. */
    struct stat dst;
    if (stat(share_dir, &dst) != 0 || !S_ISDIR(dst.st_mode)) {
        util_err("init: --share-dir %s is not a directory", share_dir);
        return EXIT_FAIL;
    }
    static share_slots slots;
    slots.n = n_cust;
    for (size_t i = 0; i < n_cust; i++) {
        slots.fd[i] = -1;
        int w = snprintf(slots.path[i], sizeof slots.path[i],
                         "%s/share-%zu.sello", share_dir, i + 1);
        if (w < 0 || (size_t)w >= sizeof slots.path[i]) {
            util_err("init: --share-dir path too long");
            return EXIT_FAIL;
        }
        if (access(slots.path[i], F_OK) == 0) {
            util_err("init: %s already exists; share files are never "
                     "overwritten (move the old ones away first)",
                     slots.path[i]);
            return EXIT_FAIL;
        }
    }
    if (!board_makes_this_unit(admin, test_unit))
        return EXIT_FAIL;

    static uint8_t buf[SELLO_PAYLOAD_MAX];
    sello_tlv_writer w = {buf, sizeof buf, 0, 0};
    sello_tlv_put_u8(&w, SELLO_INIT_KEY_TYPE, (uint8_t)key);
    sello_tlv_put(&w, SELLO_INIT_SUBJECT, name, name_len);
    if (has_policy)
        sello_tlv_put(&w, SELLO_INIT_POLICY, policy, policy_len);
    if (has_acc)
        sello_tlv_put_u32(&w, SELLO_INIT_ACCURACY_MS, accuracy);
    if (has_hashes)
        sello_tlv_put_u32(&w, SELLO_INIT_HASHES, hashes);
    if (sig_hash >= 0)
        sello_tlv_put_u8(&w, SELLO_INIT_SIG_HASH, (uint8_t)sig_hash);
    if (qualified)
        sello_tlv_put_u8(&w, SELLO_INIT_QUALIFIED, 1);
    if (tsa_name)
        sello_tlv_put_u8(&w, SELLO_INIT_TSA_NAME, 1);
    if (no_chain)
        sello_tlv_put_u8(&w, SELLO_INIT_CHAIN, 0);
    if (has_inst)
        sello_tlv_put_u32(&w, SELLO_INIT_INSTANCE, instance);
    sello_tlv_put_u8(&w, SELLO_INIT_THRESHOLD, (uint8_t)m_cust);
    if (engine >= 0)
        sello_tlv_put_u8(&w, SELLO_INIT_ENGINE, (uint8_t)engine);
    if (has_lock_n)
        sello_tlv_put_u8(&w, SELLO_INIT_LOCKOUT_FAILURES, (uint8_t)lock_n);
    if (has_lock_s)
        sello_tlv_put_u32(&w, SELLO_INIT_LOCKOUT_S, lock_s);
    if (has_usage)
        sello_tlv_put_u32(&w, SELLO_INIT_KEY_USAGE_DAYS, usage_days);
    if (test_unit)
        sello_tlv_put_u8(&w, SELLO_INIT_TEST_UNIT, 1);

    /* Locked and guarded: the custodians' private keys are held until the
     * module's share boxes have been opened with them. */
    if (sodium_init() < 0) {
        util_err("libsodium failed to initialise");
        return EXIT_FAIL;
    }
    custodian_new *cust = sodium_malloc(n_cust * sizeof *cust);
    share_file *files = calloc(n_cust, sizeof *files);
    int rc = EXIT_FAIL;
    if (!cust || !files) {
        util_err("out of memory");
        goto out;
    }
    if (!custodian_choose(n_cust, passfiles, npass, kdf, cust))
        goto out;
    for (size_t i = 0; i < n_cust; i++)
        sello_tlv_put(&w, SELLO_INIT_CUSTODIAN, cust[i].key.pub, 32);
    if (w.overflow) {
        util_err("init: parameters do not fit in one frame");
        goto out;
    }
    for (size_t i = 0; i < n_cust; i++) {
        slots.fd[i] = share_file_create(slots.path[i]);
        if (slots.fd[i] < 0) {
            slots_abandon(&slots);
            goto out;
        }
    }

    char what[64];
    snprintf(what, sizeof what, "generating %s key in the module",
             key_type_label((unsigned)key));
    spinner sp = {what, isatty(STDERR_FILENO) == 1, false, {0, 0}};
    clock_gettime(CLOCK_MONOTONIC, &sp.start);
    static admin_reply reply;
    bool ok = run_op(admin, "init", SELLO_OP_INIT, buf, w.len, &reply, spin,
                     &sp);
    spin_end(&sp, ok);
    if (!ok) {
        if (reply.status == SELLO_ERR_TEST_ONLY)
            util_err("init: this board makes test units only: add "
                     "--test-unit to make a test unit");
        slots_abandon(&slots);
        goto out;
    }

    /* From here the unit exists: every share that can be saved must be. */
    init_reply ir;
    why = parse_init_reply(&reply, n_cust, &ir);
    if (why) {
        util_err("init: the module's reply is unusable (%s); the unit may "
                 "have been initialised without usable shares", why);
        slots_abandon(&slots);
        goto out;
    }
    uint8_t fp[32];
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), ir.spki, ir.spki_len, fp);
    if (memcmp(fp, ir.unit_id, 32) != 0)
        util_err("init: the module's unit id is not the SHA-256 of its "
                 "public key");
    bool shares_ok = check_shares(&ir, cust, n_cust, m_cust, files) &&
                     memcmp(fp, ir.unit_id, 32) == 0;
    bool written = true;
    for (size_t i = 0; i < n_cust; i++) {
        files[i].kdf_ops = kdf->ops;
        files[i].kdf_mem = kdf->mem;
        if (!share_file_write(slots.fd[i], slots.path[i], &files[i])) {
            rescue_share(slots.path[i], &files[i]);
            written = false;
        }
        slots.fd[i] = -1;
    }

    /* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
     *                                     subjectPublicKey BIT STRING } */
    sello_der_cur in = sello_der_cur_init(ir.spki, ir.spki_len), spki, bits;
    derx_alg alg;
    if (sello_der_read(&in, SELLO_DER_SEQUENCE, &spki, NULL) != SELLO_OK ||
        !sello_der_at_end(&in) || derx_read_alg(&spki, &alg) != SELLO_OK ||
        derx_read_octet_bits(&spki, &bits) != SELLO_OK || !sello_der_at_end(&spki)) {
        util_err("init: the module's public key is not a DER "
                 "SubjectPublicKeyInfo");
        goto out;
    }
    char unit_hex[65], alg_dotted[OIDX_DOTTED_MAX];
    util_hex_encode(ir.unit_id, 32, unit_hex);
    oidx_to_dotted(alg.oid.p, sello_der_remaining(&alg.oid), alg_dotted);
    printf("initialised: key %s, subject \"%s\"\n", key_type_name((unsigned)key),
           subject);
    printf("public key algorithm %s, SPKI SHA-256 %s\n", alg_dotted, unit_hex);
    printf("unit id %s\n", unit_hex);
    printf("custody: %u of %u (any %u custodians activate, recalibrate or "
           "destroy the unit)\n", m_cust, n_cust, m_cust);
    if (test_unit)
        printf("test unit: yes (marked as one for the life of its key: not "
               "for production)\n");
    for (size_t i = 0; i < n_cust; i++)
        printf("share %zu of %u -> %s\n", i + 1, n_cust, slots.path[i]);
    if (out && !write_der_or_pem(out, ir.spki, ir.spki_len, pem, "PUBLIC KEY"))
        goto out;
    if (!written || !shares_ok)
        goto out;
    printf("\nHand each share file to its custodian, and move it off this "
           "machine:\nwhoever gathers %u share files can try their "
           "passphrases offline.\n", m_cust);
    printf("next: sello csr --out tsu.csr.der, have it certified, sello "
           "cert-load,\nthen %u custodians: sello activate --share FILE\n",
           m_cust);
    rc = EXIT_OK;
out:
    if (cust)
        sodium_free(cust); /* wipes the custodians' private keys */
    free(files);
    return rc;
}

/* ---- csr ------------------------------------------------------------------ */

void usage_csr(FILE *f)
{
    fprintf(f,
        "usage: sello csr --out FILE [--pem]\n"
        "Fetches the module's PKCS#10 certification request (signed by the\n"
        "TSU key).\n\n"
        "  --out FILE          where to write it (\"-\" for stdout)\n"
        "  --pem               write PEM instead of DER\n"
        ADMIN_USAGE);
}

int cmd_csr(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"pem", no_argument, NULL, 'P'},
        ADMIN_OPTION,
        HELP_OPTION,
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL, *out = NULL;
    bool pem = false;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            out = optarg;
            break;
        case 'P':
            pem = true;
            break;
        case 'A':
            admin = optarg;
            break;
        case 'h':
            usage_csr(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("csr", argv, ch, usage_csr);
        }
    }
    if (optind != argc || !out)
        return cli_usage_error("csr", usage_csr, "--out FILE is required");
    static admin_reply reply;
    if (!run_op(admin, "csr", SELLO_OP_GET_CSR, NULL, 0, &reply, NULL, NULL))
        return EXIT_FAIL;
    /* CertificationRequest ::= SEQUENCE { certificationRequestInfo
     *     SEQUENCE { version INTEGER, subject Name, ... }, ... } */
    sello_der_cur in = sello_der_cur_init(reply.payload, reply.len), req, info, subj_c,
            subject;
    uint32_t version;
    char dn[512];
    if (sello_der_read(&in, SELLO_DER_SEQUENCE, &req, NULL) != SELLO_OK ||
        !sello_der_at_end(&in) ||
        sello_der_read(&req, SELLO_DER_SEQUENCE, &info, NULL) != SELLO_OK ||
        sello_der_read_u32(&info, &version) != SELLO_OK || version != 0 ||
        sello_der_read(&info, SELLO_DER_SEQUENCE, &subj_c, &subject) != SELLO_OK ||
        !dn_format(&subject, dn, sizeof dn)) {
        util_err("csr: the module's reply is not a DER PKCS#10 request");
        return EXIT_FAIL;
    }
    if (!write_der_or_pem(out, reply.payload, reply.len, pem,
                          "CERTIFICATE REQUEST"))
        return EXIT_FAIL;
    if (strcmp(out, "-") != 0)
        printf("wrote %s (%zu octets DER), subject \"%s\"\n", out, reply.len,
               dn);
    return EXIT_OK;
}

/* ---- cert-load ---------------------------------------------------------- */

void usage_cert_load(FILE *f)
{
    fprintf(f,
        "usage: sello cert-load CERT [ISSUER]\n"
        "Loads the TSU certificate, and optionally its issuer's, into the\n"
        "module (PEM or DER files). The module refuses a certificate that\n"
        "does not hold its key or lacks a critical extendedKeyUsage of\n"
        "exactly id-kp-timeStamping.\n\n"
        ADMIN_USAGE);
}

int cmd_cert_load(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMIN_OPTION,
        HELP_OPTION,
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'A':
            admin = optarg;
            break;
        case 'h':
            usage_cert_load(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("cert-load", argv, ch, usage_cert_load);
        }
    }
    int nargs = argc - optind;
    if (nargs < 1 || nargs > 2)
        return cli_usage_error("cert-load", usage_cert_load,
                               "expected CERT [ISSUER]");
    pem_object obj[2] = {{NULL, 0}, {NULL, 0}};
    x509_cert cert[2];
    int rc = EXIT_FAIL;
    for (int i = 0; i < nargs; i++) {
        const char *path = argv[optind + i];
        if (!pem_load_one(path, "CERTIFICATE", &obj[i]))
            goto out;
        const char *why = x509_parse(obj[i].der, obj[i].len, &cert[i]);
        if (why) {
            util_err("%s: %s", path, why);
            goto out;
        }
    }
    /* Catch a wrong issuer file here, with a clearer message than the
     * module could give. */
    if (nargs == 2) {
        const char *why = x509_check_issued(&cert[0], &cert[1]);
        if (why) {
            util_err("cert-load: %s was not issued by %s: %s", argv[optind],
                     argv[optind + 1], why);
            goto out;
        }
    }
    size_t total = obj[0].len + obj[1].len;
    if (total > SELLO_PAYLOAD_MAX) {
        util_err("cert-load: certificates total %zu octets, more than one "
                 "frame carries (%u)", total, SELLO_PAYLOAD_MAX);
        goto out;
    }
    static uint8_t payload[SELLO_PAYLOAD_MAX];
    memcpy(payload, obj[0].der, obj[0].len);
    if (nargs == 2)
        memcpy(payload + obj[0].len, obj[1].der, obj[1].len);
    static admin_reply reply;
    if (!run_op(admin, "cert-load", SELLO_OP_LOAD_CERT, payload, total, &reply,
                NULL, NULL))
        goto out;
    char dn[512];
    dn_format(&cert[0].subject, dn, sizeof dn);
    printf("loaded TSU certificate \"%s\"%s\n", dn,
           nargs == 2 ? " and its issuer" : "");
    rc = EXIT_OK;
out:
    free(obj[0].der);
    free(obj[1].der);
    return rc;
}

/* ---- certs ---------------------------------------------------------------- */

void usage_certs(FILE *f)
{
    fprintf(f,
        "usage: sello certs [--out FILE]\n"
        "Fetches the loaded TSU certificate and its issuer (if loaded) as\n"
        "PEM, to stdout or FILE.\n\n"
        ADMIN_USAGE);
}

int cmd_certs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        ADMIN_OPTION,
        HELP_OPTION,
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL, *out = "-";
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            out = optarg;
            break;
        case 'A':
            admin = optarg;
            break;
        case 'h':
            usage_certs(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("certs", argv, ch, usage_certs);
        }
    }
    if (optind != argc)
        return cli_usage_error("certs", usage_certs, "unexpected argument");
    static admin_reply reply;
    if (!run_op(admin, "certs", SELLO_OP_GET_CERTS, NULL, 0, &reply, NULL,
                NULL))
        return EXIT_FAIL;
    /* The payload is certificates back to back, each one DER element. */
    size_t cap = 2 * reply.len + 1024, len = 0;
    char *text = malloc(cap);
    if (!text)
        return EXIT_FAIL;
    text[0] = '\0';
    sello_der_cur in = sello_der_cur_init(reply.payload, reply.len);
    while (!sello_der_at_end(&in)) {
        sello_der_cur content, whole;
        if (sello_der_read(&in, SELLO_DER_SEQUENCE, &content, &whole) != SELLO_OK) {
            util_err("certs: the module's reply is not a list of DER "
                     "certificates");
            free(text);
            return EXIT_FAIL;
        }
        char *one = pem_encode(whole.p, sello_der_remaining(&whole), "CERTIFICATE");
        if (!one || len + strlen(one) >= cap) {
            free(one);
            free(text);
            return EXIT_FAIL;
        }
        memcpy(text + len, one, strlen(one) + 1);
        len += strlen(one);
        free(one);
    }
    bool ok = util_write_file(out, text, len);
    free(text);
    return ok ? EXIT_OK : EXIT_FAIL;
}

/* ---- status -------------------------------------------------------------- */

void usage_status(FILE *f)
{
    fprintf(f,
        "usage: sello status [--json]\n"
        "Shows the module's state and configuration.\n\n"
        "  --json              one JSON object instead of text\n"
        ADMIN_USAGE);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* One "label        value" line of the text status. */
static void row(const char *label, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void row(const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-12s ", label);
    vprintf(fmt, ap);
    va_end(ap);
}

/* "1 h 23 min" for a duration in seconds. */
static void human_duration(uint64_t s, char *out, size_t cap)
{
    if (s >= 86400u)
        snprintf(out, cap, "%llu d %llu h", (unsigned long long)(s / 86400u),
                 (unsigned long long)(s % 86400u / 3600u));
    else if (s >= 3600u)
        snprintf(out, cap, "%llu h %llu min", (unsigned long long)(s / 3600u),
                 (unsigned long long)(s % 3600u / 60u));
    else if (s >= 60u)
        snprintf(out, cap, "%llu min %llu s", (unsigned long long)(s / 60u),
                 (unsigned long long)(s % 60u));
    else
        snprintf(out, cap, "%llu s", (unsigned long long)s);
}

/* The clock's rows of the text status. */
static void print_clock_text(const unit_status *st)
{
    char buf[256], more[64];
#define HAS(t) (st->has[SELLO_ST_##t])
#define NUM(t) (st->num[SELLO_ST_##t])
    if (HAS(CLOCK)) {
        unsigned clock = (unsigned)NUM(CLOCK);
        if (clock == SELLO_CLOCK_SYNCHRONISED || !HAS(CLOCK_WHY))
            row("clock", "%s\n", unit_clock_name(clock));
        else
            row("clock", "%s: %s\n", unit_clock_name(clock),
                sello_clock_why_str((int)NUM(CLOCK_WHY)));
    }
    if (HAS(UTC_MS)) {
        util_utc_iso(NUM(UTC_MS), buf, sizeof buf);
        row("utc", "%s (%llu ms)\n", buf, (unsigned long long)NUM(UTC_MS));
    }
    if (HAS(CLOCK_ERROR_US)) {
        row("clock-error", "%llu us (error bound", 
            (unsigned long long)NUM(CLOCK_ERROR_US));
        if (HAS(ACCURACY_MS))
            printf("; declared accuracy %llu ms",
                   (unsigned long long)NUM(ACCURACY_MS));
        printf(")\n");
    }
    if (HAS(SYNC_LEFT_S)) {
        if (NUM(SYNC_LEFT_S) == UINT32_MAX) {
            row("sync-left", "unlimited (no declared drift)\n");
        } else {
            human_duration(NUM(SYNC_LEFT_S), more, sizeof more);
            row("sync-left", "%llu s (%s) before drift alone makes the clock "
                "unsynchronised\n", (unsigned long long)NUM(SYNC_LEFT_S),
                more);
        }
    }
    if (HAS(OBS_OFFSET_US)) {
        row("last-offset", "%+lld us (reference minus module time)",
            (long long)st->obs_offset_us);
        if (HAS(OBS_AGE_MS))
            printf(", observed %llu.%03llu s ago",
                   (unsigned long long)(NUM(OBS_AGE_MS) / 1000u),
                   (unsigned long long)(NUM(OBS_AGE_MS) % 1000u));
        printf("\n");
    } else if (HAS(CLOCK_ERROR_US)) {
        row("last-offset", "none: no time observation since the "
            "calibration\n");
    }
    if (HAS(LEAP_US)) {
        util_utc_iso(st->leap_us / 1000u, buf, sizeof buf);
        row("leap", "%s before %s\n", st->leap_kind == 1
                                           ? "a second inserted"
                                           : "a second deleted",
            buf);
    } else if (HAS(CLOCK)) {
        row("leap", "none announced\n");
    }
    if (HAS(SLEW_PPM))
        row("slew", "%llu ppm (the fastest observations may move the "
            "clock)\n", (unsigned long long)NUM(SLEW_PPM));
    if (HAS(DRIFT_PPM))
        row("drift", "%llu ppm (the board's declared drift)\n",
            (unsigned long long)NUM(DRIFT_PPM));
#undef HAS
#undef NUM
}

static void print_status_text(const unit_status *st)
{
    char buf[256];
#define HAS(t) (st->has[SELLO_ST_##t])
#define NUM(t) (st->num[SELLO_ST_##t])
    if (HAS(STATE))
        row("state", "%s\n", unit_state_name((unsigned)NUM(STATE)));
    if (HAS(SIMULATION) && NUM(SIMULATION))
        row("simulation", "yes: a simulated board, not for production\n");
    if (HAS(TEST_UNIT) && NUM(TEST_UNIT))
        row("test-unit", "yes (marked at the key ceremony: not for "
            "production)\n");
    if (HAS(TIME_DOUBT) && NUM(TIME_DOUBT))
        row("time-doubt", "WARNING: the module's records were rolled back, "
                          "so the time already\n%-12s issued is unknown; no "
                          "time-stamps until a recalibrate quorum\n", "");
    if (HAS(UNIT_ID))
        row("unit-id", "%s\n", st->unit_id);
    if (HAS(THRESHOLD) && HAS(CUSTODIANS))
        row("custody", "%llu of %llu\n", (unsigned long long)NUM(THRESHOLD),
            (unsigned long long)NUM(CUSTODIANS));
    if (HAS(GENERATION))
        row("generation", "%llu\n", (unsigned long long)NUM(GENERATION));
    row("key", "%s\n", HAS(KEY_TYPE)
                           ? key_type_name((unsigned)NUM(KEY_TYPE))
                           : "(none)");
    if (HAS(ENGINE))
        row("engine", "%s\n", engine_name((unsigned)NUM(ENGINE)));
    if (HAS(UNLOCKED))
        row("key-unlocked", "%s\n", NUM(UNLOCKED) ? "yes" : "no");
    if (HAS(USAGE_NOT_AFTER)) {
        util_utc_iso(NUM(USAGE_NOT_AFTER) * 1000u, buf, sizeof buf);
        row("usable-until", "%s\n", buf);
    }
    if (HAS(FAILURES))
        row("failures", "%llu\n", (unsigned long long)NUM(FAILURES));
    if (HAS(LOCKED_S))
        row("lockout", "%llu s left\n", (unsigned long long)NUM(LOCKED_S));
    if (HAS(SESSION))
        row("session", "%s, %llu share%s accepted\n",
            unit_purpose_name((unsigned)NUM(SESSION)),
            (unsigned long long)NUM(SESSION_ACCEPTED),
            NUM(SESSION_ACCEPTED) == 1 ? "" : "s");
    if (HAS(SIG_HASH))
        row("sig-hash", "%s\n", hashx_name((int)NUM(SIG_HASH)));
    if (HAS(POLICY))
        row("policy", "%s\n", st->policy);
    if (HAS(ACCURACY_MS))
        row("accuracy", "%llu ms\n", (unsigned long long)NUM(ACCURACY_MS));
    if (HAS(HASHES)) {
        hash_mask_names((uint32_t)NUM(HASHES), buf, sizeof buf);
        row("hashes", "%s\n", buf);
    }
    if (HAS(QUALIFIED))
        row("qualified", "%s\n", NUM(QUALIFIED) ? "yes" : "no");
    if (HAS(INSTANCE))
        row("instance", "%llu\n", (unsigned long long)NUM(INSTANCE));
    if (HAS(NEXT_SERIAL))
        row("next-serial", "%llu\n", (unsigned long long)NUM(NEXT_SERIAL));
    if (HAS(TOKENS))
        row("tokens", "%llu\n", (unsigned long long)NUM(TOKENS));
    print_clock_text(st);
    if (HAS(AUDIT_SEQ))
        row("audit-seq", "%llu (last audit record)\n",
            (unsigned long long)NUM(AUDIT_SEQ));
    if (HAS(AUDIT_HEAD))
        row("audit-head", "%s\n", st->audit_head);
    if (HAS(AUDIT_PENDING))
        row("audit-queue", "%llu octets not yet acknowledged by the host\n",
            (unsigned long long)NUM(AUDIT_PENDING));
    if (HAS(AUDIT_KEY))
        row("audit-key", "SHA-256 of its SPKI %s\n", st->audit_key_sha256);
    if (HAS(FW_VERSION))
        row("firmware", "%s\n", st->fw);
    if (st->unknown[0])
        row("other", "%s\n", st->unknown);
#undef HAS
#undef NUM
}

static void print_status_json(const unit_status *st)
{
    char buf[256];
    const char *sep = "";
    printf("{");
#define FIELD(name) printf("%s\"%s\": ", sep, name), sep = ", "
    if (st->has[SELLO_ST_STATE]) {
        FIELD("state");
        json_string(stdout, unit_state_name((unsigned)st->num[SELLO_ST_STATE]));
        FIELD("state_code");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_STATE]);
    }
    if (st->has[SELLO_ST_KEY_TYPE]) {
        FIELD("key_type");
        json_string(stdout, key_type_name((unsigned)st->num[SELLO_ST_KEY_TYPE]));
    }
    if (st->has[SELLO_ST_SIG_HASH]) {
        FIELD("sig_hash");
        json_string(stdout, hashx_name((int)st->num[SELLO_ST_SIG_HASH]));
    }
    if (st->has[SELLO_ST_POLICY]) {
        FIELD("policy");
        json_string(stdout, st->policy);
    }
    if (st->has[SELLO_ST_ACCURACY_MS]) {
        FIELD("accuracy_ms");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_ACCURACY_MS]);
    }
    if (st->has[SELLO_ST_HASHES]) {
        FIELD("hashes");
        printf("[");
        int n = 0;
        for (int id = 0; id < 32; id++)
            if (st->num[SELLO_ST_HASHES] & SELLO_HASH_BIT(id)) {
                printf("%s", n++ ? ", " : "");
                json_string(stdout, hashx_name(id));
            }
        printf("]");
    }
    if (st->has[SELLO_ST_QUALIFIED]) {
        FIELD("qualified");
        printf("%s", st->num[SELLO_ST_QUALIFIED] ? "true" : "false");
    }
    static const struct {
        int type;
        const char *name;
    } nums[] = {{SELLO_ST_INSTANCE, "instance"},
                {SELLO_ST_NEXT_SERIAL, "next_serial"},
                {SELLO_ST_TOKENS, "tokens"},
                {SELLO_ST_THRESHOLD, "threshold"},
                {SELLO_ST_CUSTODIANS, "custodians"},
                {SELLO_ST_GENERATION, "generation"},
                {SELLO_ST_FAILURES, "failures"},
                {SELLO_ST_LOCKED_S, "lockout_s"},
                {SELLO_ST_SESSION_ACCEPTED, "session_accepted"},
                {SELLO_ST_USAGE_NOT_AFTER, "usage_not_after"}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (st->has[nums[i].type]) {
            FIELD(nums[i].name);
            printf("%llu", (unsigned long long)st->num[nums[i].type]);
        }
    static const struct {
        int type;
        const char *name;
    } flags[] = {{SELLO_ST_UNLOCKED, "unlocked"},
                 {SELLO_ST_TIME_DOUBT, "time_doubt"},
                 {SELLO_ST_SIMULATION, "simulation"},
                 {SELLO_ST_TEST_UNIT, "test_unit"}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (st->has[flags[i].type]) {
            FIELD(flags[i].name);
            printf("%s", st->num[flags[i].type] ? "true" : "false");
        }
    if (st->has[SELLO_ST_USAGE_NOT_AFTER]) {
        util_utc_iso(st->num[SELLO_ST_USAGE_NOT_AFTER] * 1000u, buf, sizeof buf);
        FIELD("usage_not_after_utc");
        json_string(stdout, buf);
    }
    if (st->has[SELLO_ST_UNIT_ID]) {
        FIELD("unit_id");
        json_string(stdout, st->unit_id);
    }
    if (st->has[SELLO_ST_ENGINE]) {
        FIELD("engine");
        json_string(stdout, engine_name((unsigned)st->num[SELLO_ST_ENGINE]));
    }
    if (st->has[SELLO_ST_SESSION]) {
        FIELD("session");
        json_string(stdout, unit_purpose_name((unsigned)st->num[SELLO_ST_SESSION]));
    }
    if (st->has[SELLO_ST_CLOCK]) {
        FIELD("clock");
        json_string(stdout, unit_clock_name((unsigned)st->num[SELLO_ST_CLOCK]));
        FIELD("clock_code");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_CLOCK]);
    }
    if (st->has[SELLO_ST_CLOCK_WHY]) {
        FIELD("clock_why");
        json_string(stdout,
                    sello_clock_why_name((int)st->num[SELLO_ST_CLOCK_WHY]));
        FIELD("clock_why_code");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_CLOCK_WHY]);
        FIELD("clock_why_text");
        json_string(stdout,
                    sello_clock_why_str((int)st->num[SELLO_ST_CLOCK_WHY]));
    }
    if (st->has[SELLO_ST_UTC_MS]) {
        FIELD("utc_ms");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_UTC_MS]);
        util_utc_iso(st->num[SELLO_ST_UTC_MS], buf, sizeof buf);
        FIELD("utc");
        json_string(stdout, buf);
    }
    static const struct {
        int type;
        const char *name;
    } clock_nums[] = {{SELLO_ST_CLOCK_ERROR_US, "clock_error_us"},
                      {SELLO_ST_SYNC_LEFT_S, "sync_left_s"},
                      {SELLO_ST_OBS_AGE_MS, "obs_age_ms"},
                      {SELLO_ST_SLEW_PPM, "slew_ppm"},
                      {SELLO_ST_DRIFT_PPM, "drift_ppm"}};
    for (size_t i = 0; i < sizeof clock_nums / sizeof clock_nums[0]; i++)
        if (st->has[clock_nums[i].type]) {
            FIELD(clock_nums[i].name);
            printf("%llu", (unsigned long long)st->num[clock_nums[i].type]);
        }
    if (st->has[SELLO_ST_OBS_OFFSET_US]) {
        FIELD("obs_offset_us");
        printf("%lld", (long long)st->obs_offset_us);
    }
    if (st->has[SELLO_ST_LEAP_US]) {
        FIELD("leap");
        json_string(stdout, unit_leap_kind_name(st->leap_kind));
        FIELD("leap_us");
        printf("%llu", (unsigned long long)st->leap_us);
        util_utc_iso(st->leap_us / 1000u, buf, sizeof buf);
        FIELD("leap_utc");
        json_string(stdout, buf);
    }
    if (st->has[SELLO_ST_AUDIT_SEQ]) {
        FIELD("audit_seq");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_AUDIT_SEQ]);
    }
    if (st->has[SELLO_ST_AUDIT_PENDING]) {
        FIELD("audit_pending");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_AUDIT_PENDING]);
    }
    if (st->has[SELLO_ST_AUDIT_HEAD]) {
        FIELD("audit_head");
        json_string(stdout, st->audit_head);
    }
    if (st->has[SELLO_ST_AUDIT_KEY]) {
        FIELD("audit_key_sha256");
        json_string(stdout, st->audit_key_sha256);
    }
    if (st->has[SELLO_ST_FW_VERSION]) {
        FIELD("firmware");
        json_string(stdout, st->fw);
    }
    if (st->unknown[0]) {
        FIELD("other");
        json_string(stdout, st->unknown);
    }
#undef FIELD
    printf("}\n");
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        ADMIN_OPTION,
        HELP_OPTION,
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL;
    bool json = false;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j':
            json = true;
            break;
        case 'A':
            admin = optarg;
            break;
        case 'h':
            usage_status(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("status", argv, ch, usage_status);
        }
    }
    if (optind != argc)
        return cli_usage_error("status", usage_status, "unexpected argument");
    static admin_reply reply;
    if (!run_op(admin, "status", SELLO_OP_STATUS, NULL, 0, &reply, NULL, NULL))
        return EXIT_FAIL;
    unit_status st;
    if (!unit_status_decode(&reply, &st)) {
        util_err("status: truncated TLV list in the module's reply");
        return EXIT_FAIL;
    }
    if (json)
        print_status_json(&st);
    else
        print_status_text(&st);
    if (st.malformed) {
        util_err("status: some fields in the reply had an unexpected size");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- set-time (retired) ------------------------------------------------- */

/* The module no longer takes a clock setting from the host (SET_TIME is
 * refused whatever it carries): the command stays only to say so, and
 * sends nothing. */
void usage_set_time(FILE *f)
{
    fprintf(f,
        "sello set-time is retired: the module's clock is calibrated only by\n"
        "the custodians' quorum, which approves the time proposed to it:\n"
        "  sello activate ...     proposes this host's time when the clock is\n"
        "                         uncalibrated (after every module start), or\n"
        "                         with --time\n"
        "  sello recalibrate ...  proposes a time to step the clock to\n"
        "The relay's time feed then keeps the clock synchronised, within\n"
        "bounds, by observations; `sello status` shows the clock.\n");
}

int cmd_set_time(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage_set_time(stderr);
    return EXIT_USAGE;
}
