/*
 * Time-stamp subcommands: `stamp` (RFC 3161 over HTTP, then the same
 * verification as `verify`) and `verify` (tsp_verify.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>

#include "cli.h"
#include "commands.h"
#include "hashx.h"
#include "http_client.h"
#include "oidx.h"
#include "pem.h"
#include "tsp_request.h"
#include "tsp_verify.h"
#include "util.h"

#define DEFAULT_URL "http://127.0.0.1:3161/"

/* Certificates named on the command line, as verification inputs. */
typedef struct {
    pem_list ca;
    tsv_blob *anchors;
    pem_object tsa;
    tsv_blob tsa_blob;
} cert_inputs;

static bool load_cert_inputs(const char *ca_path, const char *cert_path,
                             cert_inputs *in, tsv_params *p)
{
    memset(in, 0, sizeof *in);
    if (ca_path) {
        if (!pem_load(ca_path, "CERTIFICATE", &in->ca))
            return false;
        in->anchors = calloc(in->ca.count, sizeof *in->anchors);
        if (!in->anchors)
            return false;
        for (size_t i = 0; i < in->ca.count; i++) {
            in->anchors[i].der = in->ca.items[i].der;
            in->anchors[i].len = in->ca.items[i].len;
        }
        p->anchors = in->anchors;
        p->n_anchors = in->ca.count;
    }
    if (cert_path) {
        if (!pem_load_one(cert_path, "CERTIFICATE", &in->tsa))
            return false;
        in->tsa_blob.der = in->tsa.der;
        in->tsa_blob.len = in->tsa.len;
        p->tsa_cert = &in->tsa_blob;
    }
    return true;
}

static void free_cert_inputs(cert_inputs *in)
{
    pem_list_free(&in->ca);
    free(in->anchors);
    free(in->tsa.der);
}

/* ---- stamp ----------------------------------------------------------------- */

void usage_stamp(FILE *f)
{
    fprintf(f,
        "usage: sello stamp FILE [options]\n"
        "Hashes FILE, sends an RFC 3161 request over HTTP, verifies the reply\n"
        "as `sello verify` does and prints its serial number and time.\n\n"
        "  --url URL           time-stamping service (default " DEFAULT_URL ")\n"
        "  --hash HASH         sha256 (default), sha384 or sha512\n"
        "  --no-nonce          send no nonce (default: a random 64-bit one)\n"
        "  --no-cert-req       do not ask for the TSA certificate\n"
        "  --policy OID        request this TSA policy\n"
        "  --out FILE.tsr      write the TimeStampResp (DER) once verified\n"
        "  --ca CA.pem         trusted CA certificate(s) for the chain check\n"
        "                      (without it only the signature is checked)\n"
        "  --cert TSA.pem      the TSA certificate, needed with --no-cert-req\n"
        "  --timeout SECONDS   per network operation (default 60)\n");
}

int cmd_stamp(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"hash", required_argument, NULL, 'H'},
        {"no-nonce", no_argument, NULL, 'N'},
        {"no-cert-req", no_argument, NULL, 'C'},
        {"policy", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"ca", required_argument, NULL, 'c'},
        {"cert", required_argument, NULL, 'T'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = DEFAULT_URL, *out = NULL, *ca = NULL, *cert = NULL;
    const sello_hash_info *h = sello_hash_by_id(SELLO_HASH_SHA256);
    bool nonce_on = true, cert_req = true;
    uint8_t policy[64];
    size_t policy_len = 0;
    uint32_t timeout = 60;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case 'H':
            h = hashx_by_name(optarg);
            if (!h || h->id < SELLO_HASH_SHA256)
                return cli_usage_error("stamp", usage_stamp,
                                       "--hash must be sha256, sha384 or "
                                       "sha512");
            break;
        case 'N':
            nonce_on = false;
            break;
        case 'C':
            cert_req = false;
            break;
        case 'p':
            if (!oidx_from_dotted(optarg, policy, sizeof policy, &policy_len))
                return cli_usage_error("stamp", usage_stamp,
                                       "bad policy OID '%s'", optarg);
            break;
        case 'o':
            out = optarg;
            break;
        case 'c':
            ca = optarg;
            break;
        case 'T':
            cert = optarg;
            break;
        case 't':
            if (!cli_parse_u32(optarg, 1, 3600, &timeout))
                return cli_usage_error("stamp", usage_stamp,
                                       "--timeout must be 1..3600");
            break;
        case 'h':
            usage_stamp(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("stamp", argv, ch, usage_stamp);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("stamp", usage_stamp, "expected one FILE");
    const char *path = argv[optind];

    uint8_t digest[SELLO_HASH_MAX_LEN], nonce[8];
    if (!hashx_file(h, path, digest))
        return EXIT_FAIL;
    if (nonce_on && !tsq_random_nonce(nonce))
        return EXIT_FAIL;
    tsq_request q = {
        .hash = h,
        .digest = digest,
        .policy = policy_len ? policy : NULL,
        .policy_len = policy_len,
        .nonce = nonce_on ? nonce : NULL,
        .nonce_len = sizeof nonce,
        .cert_req = cert_req,
    };
    uint8_t req[TSQ_MAX];
    size_t req_len = tsq_encode(&q, req, sizeof req);
    if (!req_len) {
        util_err("stamp: request does not fit");
        return EXIT_FAIL;
    }

    http_response resp;
    const char *why = http_post(url, "application/timestamp-query", req,
                                req_len, (int)timeout, &resp);
    if (why) {
        util_err("stamp: %s: %s", url, why);
        return EXIT_FAIL;
    }
    int rc = EXIT_FAIL;
    if (resp.status != 200) {
        /* Show the start of a textual error body, which relays use to say
         * why (quota, content type...). */
        size_t n = 0;
        while (n < resp.body_len && n < 200 && resp.body[n] >= 0x20 &&
               resp.body[n] < 0x7f)
            n++;
        util_err("stamp: %s: HTTP %d %s%s%.*s", url, resp.status, resp.reason,
                 n ? ": " : "", (int)n, (const char *)resp.body);
        goto out;
    }
    if (strcmp(resp.content_type, "application/timestamp-reply") != 0) {
        util_err("stamp: %s: reply Content-Type is \"%s\", not "
                 "application/timestamp-reply", url, resp.content_type);
        goto out;
    }

    cert_inputs certs;
    tsv_params p = {
        .input = resp.body,
        .input_len = resp.body_len,
        .digest = digest,
        .digest_len = h->len,
        .nonce = nonce_on ? nonce : NULL,
        .nonce_len = sizeof nonce,
        .policy = policy_len ? policy : NULL,
        .policy_len = policy_len,
        .cert_req = cert_req ? 1 : 0,
    };
    if (!load_cert_inputs(ca, cert, &certs, &p)) {
        free_cert_inputs(&certs);
        goto out;
    }
    tsv_result *r = malloc(sizeof *r);
    if (!r) {
        free_cert_inputs(&certs);
        goto out;
    }
    tsv_outcome o = tsv_verify(&p, r);
    /* The imprint must be the one requested: tsv_verify compared it with
     * `digest`; the hash algorithm must also be the one asked for. */
    if (o == TSV_OK && r->imprint_hash_id != h->id) {
        snprintf(r->reason, sizeof r->reason,
                 "reply imprint uses %s, the request %s",
                 hashx_name(r->imprint_hash_id), hashx_name(h->id));
        o = TSV_FAILED;
    }
    tsv_print(stdout, o, r);
    if (o == TSV_OK) {
        rc = EXIT_OK;
        if (out) {
            if (util_write_file(out, resp.body, resp.body_len))
                printf("wrote %s\n", out);
            else
                rc = EXIT_FAIL;
        }
    } else if (out) {
        util_err("stamp: %s not written: the reply did not verify", out);
    }
    free(r);
    free_cert_inputs(&certs);
out:
    http_response_free(&resp);
    return rc;
}

/* ---- verify -------------------------------------------------------------- */

void usage_verify(FILE *f)
{
    fprintf(f,
        "usage: sello verify (--in RESP.tsr | --token TOKEN.der)\n"
        "                    (--data FILE | --digest HEX) [options]\n"
        "Verifies an RFC 3161 time-stamp response (or a bare token, the\n"
        "ContentInfo) against the data it stamps. Prints \"Verification: OK\"\n"
        "and the token's facts, or \"Verification: FAILED: <reason>\" and\n"
        "exits 1.\n\n"
        "  --in FILE           TimeStampResp (DER)\n"
        "  --token FILE        TimeStampToken, a CMS ContentInfo (DER)\n"
        "  --data FILE         the stamped data (hashed with the token's\n"
        "                      imprint algorithm)\n"
        "  --digest HEX        the stamped digest instead of the data\n"
        "  --ca CA.pem         trusted CA certificate(s): check the chain\n"
        "                      (without it only the signature is checked)\n"
        "  --cert TSA.pem      the TSA certificate when the token lacks it\n"
        "  --nonce HEX         the nonce that was sent\n"
        "  --policy OID        the policy required\n");
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"in", required_argument, NULL, 'i'},
        {"token", required_argument, NULL, 'k'},
        {"data", required_argument, NULL, 'd'},
        {"digest", required_argument, NULL, 'D'},
        {"ca", required_argument, NULL, 'c'},
        {"cert", required_argument, NULL, 'T'},
        {"nonce", required_argument, NULL, 'n'},
        {"policy", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *in = NULL, *token = NULL, *data = NULL, *digest_hex = NULL;
    const char *ca = NULL, *cert = NULL;
    uint8_t digest[SELLO_HASH_MAX_LEN], nonce[64], policy[64];
    long digest_len = 0, nonce_len = -1;
    size_t policy_len = 0;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            in = optarg;
            break;
        case 'k':
            token = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'D':
            digest_hex = optarg;
            digest_len = util_hex_decode(optarg, digest, sizeof digest);
            if (digest_len <= 0)
                return cli_usage_error("verify", usage_verify,
                                       "--digest must be hex");
            break;
        case 'c':
            ca = optarg;
            break;
        case 'T':
            cert = optarg;
            break;
        case 'n':
            nonce_len = util_hex_decode(optarg, nonce, sizeof nonce);
            if (nonce_len <= 0)
                return cli_usage_error("verify", usage_verify,
                                       "--nonce must be hex");
            break;
        case 'p':
            if (!oidx_from_dotted(optarg, policy, sizeof policy, &policy_len))
                return cli_usage_error("verify", usage_verify,
                                       "bad policy OID '%s'", optarg);
            break;
        case 'h':
            usage_verify(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("verify", argv, ch, usage_verify);
        }
    }
    if (optind != argc)
        return cli_usage_error("verify", usage_verify,
                               "unexpected argument '%s'", argv[optind]);
    if (!in == !token)
        return cli_usage_error("verify", usage_verify,
                               "give exactly one of --in and --token");
    if (!data == !digest_hex)
        return cli_usage_error("verify", usage_verify,
                               "give exactly one of --data and --digest");

    uint8_t *input;
    size_t input_len;
    if (!util_read_file(in ? in : token, &input, &input_len))
        return EXIT_FAIL;
    tsv_params p = {
        .input = input,
        .input_len = input_len,
        .input_is_token = token != NULL,
        .digest = digest_hex ? digest : NULL,
        .digest_len = (size_t)digest_len,
        .data_path = data,
        .nonce = nonce_len > 0 ? nonce : NULL,
        .nonce_len = nonce_len > 0 ? (size_t)nonce_len : 0,
        .policy = policy_len ? policy : NULL,
        .policy_len = policy_len,
        .cert_req = -1,
    };
    cert_inputs certs;
    int rc = EXIT_FAIL;
    if (load_cert_inputs(ca, cert, &certs, &p)) {
        tsv_result *r = malloc(sizeof *r);
        if (r) {
            tsv_outcome o = tsv_verify(&p, r);
            tsv_print(stdout, o, r);
            rc = o == TSV_OK ? EXIT_OK : EXIT_FAIL;
            free(r);
        }
    }
    free_cert_inputs(&certs);
    free(input);
    return rc;
}
