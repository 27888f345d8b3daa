/*
 * sello audit verify | tokens: checking the relay's audit log end to end
 * and listing the tokens of a time window (what an operator publishes
 * after a key compromise or a clock incident).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>

#include "admin_client.h"
#include "audit_log.h"
#include "cli.h"
#include "commands.h"
#include "unit_status.h"
#include "util.h"

void usage_audit(FILE *f)
{
    fprintf(f,
        "usage: sello audit verify --log FILE [--key SPKI.der] [--live]\n"
        "       sello audit tokens --log FILE [--from UTC] [--to UTC]\n"
        "verify checks the relay's audit log (sello-relayd --audit-log):\n"
        "every record's hash link and sequence number, every restart's\n"
        "link to the checkpoint it continues from, every checkpoint's\n"
        "signature by the module's audit key (--key, the DER SPKI `sello\n"
        "status` shows as audit-key; default: the key the log's first\n"
        "restart record carries), and names the first broken record.\n"
        "It counts the key ceremonies the log holds, and says how many of\n"
        "them made test units (sello init --test-unit).\n"
        "With --live it also asks the module (admin socket: --admin, else\n"
        "$SELLO_ADMIN) for its chain head and checks that the log holds\n"
        "that very record: records after the last signed checkpoint are\n"
        "covered only by this.\n"
        "tokens lists the tokens issued from --from to --to (genTime,\n"
        "inclusive; UTC as YYYY-MM-DDTHH:MM:SS[.fff]Z): sequence number,\n"
        "genTime, serial (hex) and the SHA-256 of the TimeStampResp.\n");
}

static bool load(const char *path, uint8_t **log, size_t *len)
{
    if (!util_read_file(path, log, len)) {
        util_err("cannot read the audit log %s", path);
        return false;
    }
    return true;
}

/* The module's live chain head must be the log's record of that number:
 * the only check of the records after the last signed checkpoint. */
typedef struct {
    uint64_t seq;
    char head[65];
    bool found, same;
} live_head;

static bool find_head(const audit_rec *r, void *arg)
{
    live_head *h = arg;
    if (r->seq != h->seq)
        return true;
    char hex[65];
    util_hex_encode(r->hash, sizeof r->hash, hex);
    h->found = true;
    h->same = strcmp(hex, h->head) == 0;
    return false;
}

static bool check_live(const uint8_t *log, size_t len, const char *admin)
{
    admin_conn c;
    unit_status st;
    if (!admin_connect(admin_socket_path(admin), &c))
        return false;
    bool ok = unit_status_fetch(&c, "audit", &st, NULL);
    admin_close(&c);
    if (!ok || !st.has[SELLO_ST_AUDIT_SEQ] || !st.audit_head[0]) {
        util_err("the module did not report its audit chain head");
        return false;
    }
    live_head h = { st.num[SELLO_ST_AUDIT_SEQ], "", false, false };
    snprintf(h.head, sizeof h.head, "%s", st.audit_head);
    audit_each(log, len, find_head, &h);
    if (!h.found)
        printf("LIVE: the module's head is record %llu, which the log does "
               "not hold (%s)\n", (unsigned long long)h.seq,
               "records not stored yet, or removed from the log");
    else if (!h.same)
        printf("LIVE: record %llu differs from the module's (the log was "
               "altered)\n", (unsigned long long)h.seq);
    else
        printf("live: the module's head, record %llu, is the log's\n",
               (unsigned long long)h.seq);
    return h.found && h.same;
}

static int verify(const char *path, const char *key_path, bool live,
                  const char *admin)
{
    uint8_t *log, *key = NULL;
    size_t len, key_len = 0;
    if (!load(path, &log, &len))
        return EXIT_FAIL;
    if (key_path && (!util_read_file(key_path, &key, &key_len) ||
                     key_len != AUDIT_SPKI_LEN)) {
        util_err("%s is not a P-256 SubjectPublicKeyInfo (DER)", key_path);
        free(log);
        free(key);
        return EXIT_FAIL;
    }
    audit_report r;
    bool ok = audit_verify(log, len, key, &r);
    printf("records      %zu (%llu..%llu)\n", r.records,
           (unsigned long long)r.first_seq, (unsigned long long)r.last_seq);
    printf("tokens       %zu\n", r.tokens);
    printf("checkpoints  %zu, the last signed one %llu, %zu records after "
           "it\n", r.checkpoints, (unsigned long long)r.last_signed_seq,
           r.unsigned_tail);
    printf("restarts     %zu%s\n", r.restarts,
           r.rolled_back ? " (a restore of old records was found)" : "");
    printf("ceremonies   %zu", r.ceremonies);
    if (r.test_units)
        printf(", %zu of them for test units (not for production)",
               r.test_units);
    printf("\n");
    char head[65];
    util_hex_encode(r.head, sizeof r.head, head);
    printf("head         %s\n", head);
    if (ok && live)
        ok = check_live(log, len, admin);
    if (ok) {
        printf("verified: the chain holds from %llu to %llu\n",
               (unsigned long long)r.first_seq,
               (unsigned long long)r.last_seq);
    } else {
        printf("BROKEN at record %llu (offset %zu): %s\n",
               (unsigned long long)r.bad_seq, r.bad_offset, r.why);
    }
    free(log);
    free(key);
    return ok ? EXIT_OK : EXIT_FAIL;
}

typedef struct {
    uint64_t from_ms, to_ms;
    size_t listed;
} token_window;

static bool list_token(const audit_rec *r, void *arg)
{
    token_window *w = arg;
    if (r->type != SELLO_AUDIT_TOKEN || r->body_len != 12 + 32 ||
        r->utc_ms < w->from_ms || r->utc_ms > w->to_ms)
        return true;
    char when[40], serial[25], hash[65];
    util_utc_iso(r->utc_ms, when, sizeof when);
    util_hex_encode(r->body, 12, serial);
    util_hex_encode(r->body + 12, 32, hash);
    printf("%llu %s %s %s\n", (unsigned long long)r->seq, when, serial,
           hash);
    w->listed++;
    return true;
}

static int tokens(const char *path, const char *from, const char *to)
{
    token_window w = { 0, UINT64_MAX, 0 };
    uint64_t us;
    if (from) {
        if (!util_parse_utc_iso_us(from, &us)) {
            util_err("--from: not a UTC time: %s", from);
            return EXIT_USAGE;
        }
        w.from_ms = us / 1000;
    }
    if (to) {
        if (!util_parse_utc_iso_us(to, &us)) {
            util_err("--to: not a UTC time: %s", to);
            return EXIT_USAGE;
        }
        w.to_ms = us / 1000;
    }
    uint8_t *log;
    size_t len;
    if (!load(path, &log, &len))
        return EXIT_FAIL;
    /* Listing is not verifying: say so when the log does not hold. */
    audit_report r;
    bool ok = audit_verify(log, len, NULL, &r);
    printf("# seq genTime serial sha256(TimeStampResp)\n");
    size_t used = audit_each(log, len, list_token, &w);
    fprintf(stderr, "%zu tokens in the window%s\n", w.listed,
            ok ? "" : "; WARNING: the log does not verify (sello audit "
                      "verify)");
    free(log);
    return used == len && ok ? EXIT_OK : EXIT_FAIL;
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"log", required_argument, NULL, 'l'},
        {"key", required_argument, NULL, 'k'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"live", no_argument, NULL, 'L'},
        {"admin", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            usage_audit(stdout);
            return EXIT_OK;
        }
        return cli_usage_error("audit", usage_audit,
                               "expected verify or tokens");
    }
    const char *what = argv[1];
    const char *log = NULL, *key = NULL, *from = NULL, *to = NULL;
    const char *admin = NULL;
    bool live = false;
    int ch;
    opterr = 0;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': log = optarg; break;
        case 'k': key = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'L': live = true; break;
        case 'A': admin = optarg; break;
        case 'h': usage_audit(stdout); return EXIT_OK;
        default: return cli_bad_option("audit", argv, ch, usage_audit);
        }
    }
    if (optind != argc)
        return cli_usage_error("audit", usage_audit,
                               "unexpected argument '%s'", argv[optind]);
    if (!log)
        return cli_usage_error("audit", usage_audit, "--log FILE is required");
    if (strcmp(what, "verify") == 0) {
        if (from || to)
            return cli_usage_error("audit", usage_audit,
                                   "--from/--to are for tokens");
        return verify(log, key, live, admin);
    }
    if (strcmp(what, "tokens") == 0) {
        if (key)
            return cli_usage_error("audit", usage_audit, "--key is for verify");
        return tokens(log, from, to);
    }
    return cli_usage_error("audit", usage_audit, "unknown: audit %s", what);
}
