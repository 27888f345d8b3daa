/*
 * Admin subcommands: init, csr, cert-load, certs, status, set-time. Each
 * sends one ABI request through the relay's administrative socket and
 * reads one response frame (admin_client.h).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sello/abi.h>
#include <sello/status.h>

#include "admin_client.h"
#include "cli.h"
#include "commands.h"
#include "der.h"
#include "derx.h"
#include "dn.h"
#include "hash.h"
#include "hashx.h"
#include "oidx.h"
#include "pem.h"
#include "util.h"
#include "x509.h"

/* Long options every admin command takes. */
#define ADMIN_OPTION {"admin", required_argument, NULL, 'A'}
#define HELP_OPTION {"help", no_argument, NULL, 'h'}
#define ADMIN_USAGE "  --admin PATH        admin socket (default $SELLO_ADMIN, " \
                    "else " ADMIN_DEFAULT_PATH ")\n"

/*
 * Connects, performs one operation and reports a non-OK status as
 * "sello: <op>: <status text> (<reason>)". Returns true only for SELLO_OK.
 */
static bool run_op(const char *admin, const char *opname, uint8_t op,
                   const uint8_t *payload, size_t len, admin_reply *reply,
                   admin_progress_fn progress, void *ctx)
{
    admin_conn c;
    if (!admin_connect(admin_socket_path(admin), &c))
        return false;
    bool ok = admin_call(&c, op, payload, len, reply, progress, ctx);
    admin_close(&c);
    if (!ok)
        return false;
    if (reply->status != SELLO_OK) {
        fprintf(stderr, "sello: %s: %s (%.*s)\n", opname,
                sello_status_str(reply->status), (int)reply->len,
                (const char *)reply->payload);
        return false;
    }
    return true;
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
    const char *name;
} key_types[] = {
    {SELLO_KEY_P256, "p256"},       {SELLO_KEY_P384, "p384"},
    {SELLO_KEY_RSA2048, "rsa2048"}, {SELLO_KEY_RSA3072, "rsa3072"},
    {SELLO_KEY_RSA4096, "rsa4096"},
};

static const char *key_type_name(unsigned id)
{
    for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
        if (key_types[i].id == id)
            return key_types[i].name;
    return "unknown";
}

static const char *state_name(unsigned s)
{
    switch (s) {
    case SELLO_STATE_UNINITIALISED:
        return "uninitialised";
    case SELLO_STATE_INITIALISED:
        return "initialised";
    case SELLO_STATE_ACTIVE:
        return "active";
    case SELLO_STATE_ERROR:
        return "error";
    default:
        return "unknown";
    }
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

void usage_init(FILE *f)
{
    fprintf(f,
        "usage: sello init --key TYPE --subject DN [options]\n"
        "Generates the TSU key pair inside the module (state uninitialised\n"
        "only) and prints its public key.\n\n"
        "  --key TYPE          p256, p384, rsa2048, rsa3072 or rsa4096\n"
        "  --subject DN        e.g. \"CN=Demo TSU,O=Example,C=DE\" (CN, O, OU,\n"
        "                      C, L, ST, serialNumber, organizationIdentifier\n"
        "                      or dotted OIDs; written in the order given)\n"
        "  --policy OID        TSA policy (module default 0.4.0.2023.1.1)\n"
        "  --accuracy-ms N     declared accuracy, 1..3600000 (default 1000)\n"
        "  --hashes LIST       accepted imprint hashes, e.g. sha256,sha384,sha512\n"
        "  --sig-hash HASH     sha256, sha384 or sha512 (RSA keys only)\n"
        "  --qualified         every token carries the EN 319 422 statement\n"
        "  --tsa-name          tokens carry the tsa field\n"
        "  --no-chain          certReq does not add the issuer certificate\n"
        "  --instance N        TSU instance number (serial high bits)\n"
        "  --out-pubkey FILE   write the SubjectPublicKeyInfo (DER)\n"
        "  --pem               write --out-pubkey as PEM instead\n"
        ADMIN_USAGE);
}

typedef struct {
    bool tty;
    unsigned ticks;
} spinner;

/*
 * Progress while the module generates the key (RSA-4096 takes seconds):
 * a spinner on a terminal, else one line. It first shows after the first
 * 200 ms of waiting, so a connection error is never preceded by it.
 */
static void spin(void *ctx)
{
    spinner *s = ctx;
    static const char frames[] = "|/-\\";
    if (!s->tty) {
        if (s->ticks++ == 0)
            fprintf(stderr, "generating key...\n");
        return;
    }
    s->ticks++;
    fprintf(stderr, "\rgenerating key... %c %us", frames[s->ticks % 4],
            s->ticks / 5);
    fflush(stderr);
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"subject", required_argument, NULL, 's'},
        {"policy", required_argument, NULL, 'p'},
        {"accuracy-ms", required_argument, NULL, 'a'},
        {"hashes", required_argument, NULL, 'H'},
        {"sig-hash", required_argument, NULL, 'g'},
        {"qualified", no_argument, NULL, 'q'},
        {"tsa-name", no_argument, NULL, 't'},
        {"no-chain", no_argument, NULL, 'n'},
        {"instance", required_argument, NULL, 'i'},
        {"out-pubkey", required_argument, NULL, 'o'},
        {"pem", no_argument, NULL, 'P'},
        ADMIN_OPTION,
        HELP_OPTION,
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL, *subject = NULL, *out = NULL;
    int key = -1, sig_hash = -1;
    bool has_policy = false, has_acc = false, has_hashes = false, pem = false;
    bool qualified = false, tsa_name = false, no_chain = false, has_inst = false;
    uint8_t policy[66];
    size_t policy_len = 0;
    uint32_t accuracy = 0, hashes = 0, instance = 0;
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

    uint8_t buf[SELLO_PAYLOAD_MAX];
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
    if (w.overflow) {
        util_err("init: parameters do not fit in one frame");
        return EXIT_FAIL;
    }

    spinner sp = {isatty(STDERR_FILENO) == 1, 0};
    static admin_reply reply;
    bool ok = run_op(admin, "init", SELLO_OP_INIT, buf, w.len, &reply, spin,
                     &sp);
    if (sp.tty && sp.ticks)
        fprintf(stderr, "\rgenerating key... %s          \n",
                ok ? "done" : "failed");
    if (!ok)
        return EXIT_FAIL;

    /* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
     *                                     subjectPublicKey BIT STRING } */
    sello_der_cur in = sello_der_cur_init(reply.payload, reply.len), spki, bits;
    derx_alg alg;
    if (sello_der_read(&in, SELLO_DER_SEQUENCE, &spki, NULL) != SELLO_OK ||
        !sello_der_at_end(&in) || derx_read_alg(&spki, &alg) != SELLO_OK ||
        derx_read_octet_bits(&spki, &bits) != SELLO_OK || !sello_der_at_end(&spki)) {
        util_err("init: the module's reply is not a DER SubjectPublicKeyInfo");
        return EXIT_FAIL;
    }
    uint8_t fp[32];
    char fp_hex[65], alg_dotted[OIDX_DOTTED_MAX];
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), reply.payload, reply.len,
               fp);
    util_hex_encode(fp, sizeof fp, fp_hex);
    oidx_to_dotted(alg.oid.p, sello_der_remaining(&alg.oid), alg_dotted);
    printf("initialised: key %s, subject \"%s\"\n", key_type_name((unsigned)key),
           subject);
    printf("public key algorithm %s, SPKI SHA-256 %s\n", alg_dotted, fp_hex);
    if (out && !write_der_or_pem(out, reply.payload, reply.len, pem,
                                 "PUBLIC KEY"))
        return EXIT_FAIL;
    printf("next: sello csr --out tsu.csr.der, have it certified, then "
           "sello cert-load\n");
    return EXIT_OK;
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

/* The STATUS reply, decoded. */
typedef struct {
    bool has[32];
    uint64_t num[32];         /* integer-valued fields */
    char policy[OIDX_DOTTED_MAX];
    char fw[256];
    bool malformed;           /* some field had the wrong size or form */
    char unknown[1024];       /* "type=hex" of fields this tool lacks */
} status_info;

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

static bool decode_status(const admin_reply *r, status_info *st)
{
    memset(st, 0, sizeof *st);
    sello_tlv_reader rd = {r->payload, r->payload + r->len};
    uint8_t type;
    const uint8_t *v;
    size_t n;
    int got;
    while ((got = sello_tlv_next(&rd, &type, &v, &n)) == 1) {
        size_t want = 0;
        switch (type) {
        case SELLO_ST_STATE:
        case SELLO_ST_KEY_TYPE:
        case SELLO_ST_QUALIFIED:
        case SELLO_ST_CLOCK:
        case SELLO_ST_SIG_HASH:
            want = 1;
            break;
        case SELLO_ST_ACCURACY_MS:
        case SELLO_ST_HASHES:
        case SELLO_ST_INSTANCE:
            want = 4;
            break;
        case SELLO_ST_NEXT_SERIAL:
        case SELLO_ST_TOKENS:
        case SELLO_ST_UTC_MS:
            want = 8;
            break;
        case SELLO_ST_POLICY: {
            sello_der_cur c = sello_der_cur_init(v, n), oid;
            if (sello_der_read_oid(&c, &oid) != SELLO_OK || !sello_der_at_end(&c)) {
                st->malformed = true;
                continue;
            }
            oidx_to_dotted(oid.p, sello_der_remaining(&oid), st->policy);
            st->has[type] = true;
            continue;
        }
        case SELLO_ST_FW_VERSION:
            snprintf(st->fw, sizeof st->fw, "%.*s", (int)n, (const char *)v);
            st->has[type] = true;
            continue;
        default: {
            size_t l = strlen(st->unknown);
            char hex[2 * 64 + 1];
            util_hex_encode(v, n > 64 ? 64 : n, hex);
            snprintf(st->unknown + l, sizeof st->unknown - l, "%s%u=%s",
                     l ? "," : "", type, hex);
            continue;
        }
        }
        if (n != want) {
            st->malformed = true;
            continue;
        }
        st->num[type] = want == 1   ? v[0]
                        : want == 4 ? sello_get_be32(v)
                                    : sello_get_be64(v);
        st->has[type] = true;
    }
    return got == 0;
}

static void utc_iso(uint64_t ms, char *out, size_t cap)
{
    derx_time t;
    memset(&t, 0, sizeof t);
    t.secs = (int64_t)(ms / 1000);
    t.nanos = (uint32_t)(ms % 1000) * 1000000u;
    derx_time_iso(&t, out, cap);
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

static void print_status_text(const status_info *st)
{
    char buf[256];
    if (st->has[SELLO_ST_STATE])
        row("state", "%s\n", state_name((unsigned)st->num[SELLO_ST_STATE]));
    row("key", "%s\n", st->has[SELLO_ST_KEY_TYPE]
                           ? key_type_name((unsigned)st->num[SELLO_ST_KEY_TYPE])
                           : "(none)");
    if (st->has[SELLO_ST_SIG_HASH])
        row("sig-hash", "%s\n", hashx_name((int)st->num[SELLO_ST_SIG_HASH]));
    if (st->has[SELLO_ST_POLICY])
        row("policy", "%s\n", st->policy);
    if (st->has[SELLO_ST_ACCURACY_MS])
        row("accuracy", "%llu ms\n",
            (unsigned long long)st->num[SELLO_ST_ACCURACY_MS]);
    if (st->has[SELLO_ST_HASHES]) {
        hash_mask_names((uint32_t)st->num[SELLO_ST_HASHES], buf, sizeof buf);
        row("hashes", "%s\n", buf);
    }
    if (st->has[SELLO_ST_QUALIFIED])
        row("qualified", "%s\n", st->num[SELLO_ST_QUALIFIED] ? "yes" : "no");
    if (st->has[SELLO_ST_INSTANCE])
        row("instance", "%llu\n",
            (unsigned long long)st->num[SELLO_ST_INSTANCE]);
    if (st->has[SELLO_ST_NEXT_SERIAL])
        row("next-serial", "%llu\n",
            (unsigned long long)st->num[SELLO_ST_NEXT_SERIAL]);
    if (st->has[SELLO_ST_TOKENS])
        row("tokens", "%llu\n", (unsigned long long)st->num[SELLO_ST_TOKENS]);
    if (st->has[SELLO_ST_CLOCK])
        row("clock", "%s\n",
            st->num[SELLO_ST_CLOCK] == SELLO_CLOCK_SET     ? "set"
            : st->num[SELLO_ST_CLOCK] == SELLO_CLOCK_UNSET ? "unset"
                                                           : "unknown");
    if (st->has[SELLO_ST_UTC_MS]) {
        utc_iso(st->num[SELLO_ST_UTC_MS], buf, sizeof buf);
        row("utc", "%s (%llu ms)\n", buf,
            (unsigned long long)st->num[SELLO_ST_UTC_MS]);
    }
    if (st->has[SELLO_ST_FW_VERSION])
        row("firmware", "%s\n", st->fw);
    if (st->unknown[0])
        row("other", "%s\n", st->unknown);
}

static void print_status_json(const status_info *st)
{
    char buf[256];
    const char *sep = "";
    printf("{");
#define FIELD(name) printf("%s\"%s\": ", sep, name), sep = ", "
    if (st->has[SELLO_ST_STATE]) {
        FIELD("state");
        json_string(stdout, state_name((unsigned)st->num[SELLO_ST_STATE]));
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
                {SELLO_ST_TOKENS, "tokens"}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (st->has[nums[i].type]) {
            FIELD(nums[i].name);
            printf("%llu", (unsigned long long)st->num[nums[i].type]);
        }
    if (st->has[SELLO_ST_CLOCK]) {
        FIELD("clock");
        json_string(stdout, st->num[SELLO_ST_CLOCK] == SELLO_CLOCK_SET ? "set"
                            : st->num[SELLO_ST_CLOCK] == SELLO_CLOCK_UNSET
                                ? "unset"
                                : "unknown");
    }
    if (st->has[SELLO_ST_UTC_MS]) {
        FIELD("utc_ms");
        printf("%llu", (unsigned long long)st->num[SELLO_ST_UTC_MS]);
        utc_iso(st->num[SELLO_ST_UTC_MS], buf, sizeof buf);
        FIELD("utc");
        json_string(stdout, buf);
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
    status_info st;
    if (!decode_status(&reply, &st)) {
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

/* ---- set-time ------------------------------------------------------------ */

void usage_set_time(FILE *f)
{
    fprintf(f,
        "usage: sello set-time [--utc-ms N]\n"
        "Sets the module clock calibration (only when it has none since its\n"
        "start).\n\n"
        "  --utc-ms N          UTC in milliseconds since 1970 (default: this\n"
        "                      host's CLOCK_REALTIME)\n"
        ADMIN_USAGE);
}

int cmd_set_time(int argc, char **argv)
{
    static const struct option opts[] = {
        {"utc-ms", required_argument, NULL, 'u'},
        ADMIN_OPTION,
        HELP_OPTION,
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL;
    bool has_ms = false;
    uint64_t ms = 0;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            if (!util_parse_u64(optarg, &ms))
                return cli_usage_error("set-time", usage_set_time,
                                       "bad --utc-ms");
            has_ms = true;
            break;
        case 'A':
            admin = optarg;
            break;
        case 'h':
            usage_set_time(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("set-time", argv, ch, usage_set_time);
        }
    }
    if (optind != argc)
        return cli_usage_error("set-time", usage_set_time,
                               "unexpected argument");
    if (!has_ms) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
            util_err("set-time: cannot read CLOCK_REALTIME");
            return EXIT_FAIL;
        }
        ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    }
    uint8_t payload[8];
    sello_put_be64(payload, ms);
    static admin_reply reply;
    if (!run_op(admin, "set-time", SELLO_OP_SET_TIME, payload, sizeof payload,
                &reply, NULL, NULL))
        return EXIT_FAIL;
    char iso[48];
    utc_iso(ms, iso, sizeof iso);
    printf("module clock set to %s (%llu ms)\n", iso, (unsigned long long)ms);
    return EXIT_OK;
}
