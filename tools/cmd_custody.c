/*
 * Dual-control subcommands: activate, destroy and recalibrate (a quorum of
 * custodians submits shares to a module session, include/sello/abi.h "Dual
 * control"), and deactivate (which needs no quorum). The three quorum
 * commands differ only in the session's purpose and in what follows the
 * quorum, so they share run_quorum().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include <sello/abi.h>
#include <sello/status.h>

#include "admin_client.h"
#include "box.h"
#include "cli.h"
#include "commands.h"
#include "custodian.h"
#include "prompt.h"
#include "share_file.h"
#include "util.h"

/* More shares than custodians can exist is a mistake anyway. */
#define MAX_SHARES 16u
/* Tries at a mistyped passphrase: local (no module is asked), so cheap. */
#define PASS_TRIES 3

/* What one quorum command was asked to do. */
typedef struct {
    const char *cmd;
    uint8_t purpose;
    void (*usage)(FILE *);
    const char *admin;
    const char *shares[MAX_SHARES];
    size_t nshares;
    const char *passfiles[MAX_SHARES];
    size_t npass;
    bool new_session;
    bool yes;          /* destroy: no confirmation question */
    bool has_time;     /* recalibrate: --time given as a UTC value */
    uint64_t time_ms;
} quorum_args;

/* Which of the optional options a command takes. */
enum { OPT_YES = 1, OPT_TIME = 2 };

/* Parses the options of a quorum command into *a; returns -1 to go on,
 * else the exit status. */
static int parse_quorum_args(int argc, char **argv, unsigned allowed,
                             quorum_args *a)
{
    static const struct option opts[] = {
        {"share", required_argument, NULL, 's'},
        {"passphrase-file", required_argument, NULL, 'F'},
        {"new-session", no_argument, NULL, 'n'},
        {"yes", no_argument, NULL, 'y'},
        {"time", required_argument, NULL, 't'},
        {"admin", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (a->nshares == MAX_SHARES)
                return cli_usage_error(a->cmd, a->usage,
                                       "at most %u --share", MAX_SHARES);
            a->shares[a->nshares++] = optarg;
            break;
        case 'F':
            if (a->npass == MAX_SHARES)
                return cli_usage_error(a->cmd, a->usage,
                                       "at most %u --passphrase-file",
                                       MAX_SHARES);
            a->passfiles[a->npass++] = optarg;
            break;
        case 'n':
            a->new_session = true;
            break;
        case 'y':
            if (!(allowed & OPT_YES))
                return cli_usage_error(a->cmd, a->usage,
                                       "--yes is only for destroy");
            a->yes = true;
            break;
        case 't':
            if (!(allowed & OPT_TIME))
                return cli_usage_error(a->cmd, a->usage,
                                       "--time is only for recalibrate");
            if (strcmp(optarg, "now") == 0) {
                a->has_time = false;
            } else if (util_parse_utc_iso(optarg, &a->time_ms)) {
                a->has_time = true;
            } else {
                return cli_usage_error(a->cmd, a->usage,
                                       "--time must be now or UTC as "
                                       "YYYY-MM-DDTHH:MM:SS[.fff]Z");
            }
            break;
        case 'A':
            a->admin = optarg;
            break;
        case 'h':
            a->usage(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option(a->cmd, argv, ch, a->usage);
        }
    }
    if (optind != argc)
        return cli_usage_error(a->cmd, a->usage, "unexpected argument '%s'",
                               argv[optind]);
    if (a->nshares == 0)
        return cli_usage_error(a->cmd, a->usage,
                               "give at least one --share FILE");
    if (a->npass > a->nshares)
        return cli_usage_error(a->cmd, a->usage,
                               "more --passphrase-file than --share: the "
                               "i-th passphrase file is for the i-th share");
    return -1;
}

/* ---- module replies -------------------------------------------------------- */

/* A SESSION_OPEN or SESSION_SUBMIT reply (SELLO_SESS_*); -1 = absent. */
typedef struct {
    bool has_id, has_challenge, has_pub, has_unit;
    uint8_t id[SELLO_SESSION_ID_LEN];
    uint8_t challenge[32];
    uint8_t pub[32];
    uint8_t unit_id[32];
    long expires_s, purpose, threshold, custodians, accepted;
    bool done;
} session_info;

static bool parse_session(const admin_reply *r, session_info *s)
{
    memset(s, 0, sizeof *s);
    s->expires_s = s->purpose = s->threshold = s->custodians = s->accepted =
        -1;
    sello_tlv_reader rd = {r->payload, r->payload + r->len};
    uint8_t type;
    const uint8_t *v;
    size_t n;
    int got;
    while ((got = sello_tlv_next(&rd, &type, &v, &n)) == 1) {
        uint8_t *dst = NULL;
        bool *has = NULL;
        size_t want = 0;
        long *num = NULL;
        switch (type) {
        case SELLO_SESS_ID:
            dst = s->id, has = &s->has_id, want = SELLO_SESSION_ID_LEN;
            break;
        case SELLO_SESS_CHALLENGE:
            dst = s->challenge, has = &s->has_challenge, want = 32;
            break;
        case SELLO_SESS_PUBKEY:
            dst = s->pub, has = &s->has_pub, want = 32;
            break;
        case SELLO_SESS_UNIT_ID:
            dst = s->unit_id, has = &s->has_unit, want = 32;
            break;
        case SELLO_SESS_EXPIRES_S:
            if (n != 4)
                return false;
            s->expires_s = (long)sello_get_be32(v);
            continue;
        case SELLO_SESS_PURPOSE:
            num = &s->purpose;
            break;
        case SELLO_SESS_THRESHOLD:
            num = &s->threshold;
            break;
        case SELLO_SESS_CUSTODIANS:
            num = &s->custodians;
            break;
        case SELLO_SESS_ACCEPTED:
            num = &s->accepted;
            break;
        case SELLO_SESS_DONE:
            if (n != 1)
                return false;
            s->done = v[0] != 0;
            continue;
        default:
            /* Reply lists are extend-only: a newer module may say more. */
            continue;
        }
        if (num) {
            if (n != 1)
                return false;
            *num = v[0];
            continue;
        }
        if (n != want)
            return false;
        memcpy(dst, v, n);
        *has = true;
    }
    return got == 0;
}

/*
 * Explains a refusal from the session opcodes in the operator's terms,
 * always with the module's own reason, which names the precise check.
 */
static void report_refusal(const char *cmd, const char *what,
                           const admin_reply *r)
{
    int len = (int)r->len;
    const char *reason = (const char *)r->payload;
    switch (r->status) {
    case SELLO_ERR_SHARE:
        util_err("%s: %s refused by the module: %.*s (a share that fails "
                 "the module's checks counts towards its lockout)", cmd, what,
                 len, reason);
        break;
    case SELLO_ERR_SESSION:
        util_err("%s: the session is gone (expired, replaced or ended): "
                 "%.*s; start again, with --new-session if need be",
                 cmd, len, reason);
        break;
    case SELLO_ERR_LOCKED:
        util_err("%s: the module is locked out after repeated failed "
                 "submissions: %.*s; `sello status` shows how long is left",
                 cmd, len, reason);
        break;
    case SELLO_ERR_STATE:
        util_err("%s: not possible in the unit's current state: %.*s "
                 "(see `sello status`)", cmd, len, reason);
        break;
    default: {
        char where[96];
        snprintf(where, sizeof where, "%s: %s", cmd, what);
        admin_report(where, r);
        break;
    }
    }
}

/* ---- the shared quorum ------------------------------------------------------- */

/* Asks for the first characters of the unit id before a destruction, so
 * that the operator has looked at which unit the shares are for. */
static bool confirm_destroy(const char *cmd, const uint8_t unit_id[32])
{
    char hex[65], typed[80];
    size_t len;
    util_hex_encode(unit_id, 32, hex);
    if (!prompt_have_tty()) {
        util_err("%s: no terminal to confirm on; add --yes to destroy unit "
                 "%s without a question", cmd, hex);
        return false;
    }
    fprintf(stderr,
            "This destroys the TSU key of unit %s and the unit's records,\n"
            "for good: its share files become useless.\n", hex);
    if (!prompt_line("Type the first 8 characters of the unit id to "
                     "confirm: ", true, typed, sizeof typed, &len))
        return false;
    if (len < 8 || len > 64 || strncasecmp(typed, hex, len) != 0) {
        util_err("%s: that is not the start of unit id %s; nothing was done",
                 cmd, hex);
        return false;
    }
    return true;
}

/* Loads every share file and checks they can belong to one quorum. */
static bool load_shares(const quorum_args *a, share_file *sf)
{
    for (size_t i = 0; i < a->nshares; i++) {
        if (!share_file_load(a->shares[i], &sf[i]))
            return false;
        if (memcmp(sf[i].unit_id, sf[0].unit_id, 32) != 0) {
            util_err("%s: %s and %s belong to different units", a->cmd,
                     a->shares[0], a->shares[i]);
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (sf[j].x == sf[i].x) {
                util_err("%s: %s and %s are both share %u; each share counts "
                         "once", a->cmd, a->shares[j], a->shares[i], sf[i].x);
                return false;
            }
    }
    return true;
}

/* Opens every share (plain[i] = share i's plaintext). Done before the
 * module is contacted, so that a mistyped passphrase sends nothing. */
static bool unlock_shares(const quorum_args *a, const share_file *sf,
                          uint8_t (*plain)[SELLO_SHARE_LEN])
{
    if (a->npass < a->nshares && !prompt_have_tty()) {
        util_err("%s: no terminal to ask for the passphrase of %s: give "
                 "--passphrase-file for each --share", a->cmd,
                 a->shares[a->npass]);
        return false;
    }
    custodian_pass *pass = sodium_malloc(sizeof *pass);
    if (!pass) {
        util_err("out of memory");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < a->nshares; i++) {
        if (i < a->npass) {
            ok = custodian_pass_from_file(a->passfiles[i], pass) &&
                 share_file_open(&sf[i], a->shares[i], pass, plain[i]);
            continue;
        }
        char prompt[4200];
        snprintf(prompt, sizeof prompt,
                 "Custodian %u of %u, passphrase for %s:", sf[i].x, sf[i].n,
                 a->shares[i]);
        ok = false;
        for (int t = 0; t < PASS_TRIES && !ok; t++) {
            if (!custodian_pass_prompt(prompt, false, pass))
                break;
            ok = share_file_open(&sf[i], a->shares[i], pass, plain[i]);
        }
    }
    sodium_free(pass);
    return ok;
}

/* The SESSION_SUBMIT payload for one share: the session id, then the share
 * sealed to the session key and the module's ceremony key. */
static bool build_submission(const session_info *s, uint8_t purpose,
                             const uint8_t *plain, uint8_t *payload)
{
    uint8_t eph[32], recip[2][32], ctx[1 + SELLO_SESSION_ID_LEN];
    if (!util_random(eph, sizeof eph))
        return false;
    memcpy(recip[0], s->pub, 32);
    memcpy(recip[1], plain + SELLO_SHARE_MODULE_KEY, 32);
    ctx[0] = purpose;
    memcpy(ctx + 1, s->id, SELLO_SESSION_ID_LEN);
    memcpy(payload, s->id, SELLO_SESSION_ID_LEN);
    sello_status st = sello_box_seal(
        eph, (const uint8_t (*)[32])recip, 2, s->challenge,
        sizeof s->challenge, SELLO_BOX_LABEL_SUBMIT, ctx, sizeof ctx, plain,
        SELLO_SHARE_LEN, payload + SELLO_SESSION_ID_LEN);
    sodium_memzero(eph, sizeof eph);
    if (st != SELLO_OK) {
        util_err("cannot seal the share to the session: %s (a session key "
                 "of low order?)", sello_status_str(st));
        return false;
    }
    return true;
}

/* What the quorum did, once it is reached; false when a follow-up failed. */
static bool after_quorum(admin_conn *c, const quorum_args *a)
{
    static admin_reply r;
    switch (a->purpose) {
    case SELLO_PURPOSE_ACTIVATE: {
        /* Before a certificate is loaded the same quorum only unlocks the
         * key for GET_CSR; say which of the two happened. */
        unsigned state = SELLO_STATE_ACTIVE;
        if (admin_call_ok(c, "status", SELLO_OP_STATUS, NULL, 0, &r, NULL,
                          NULL)) {
            sello_tlv_reader rd = {r.payload, r.payload + r.len};
            uint8_t type;
            const uint8_t *v;
            size_t n;
            while (sello_tlv_next(&rd, &type, &v, &n) == 1)
                if (type == SELLO_ST_STATE && n == 1)
                    state = v[0];
        }
        if (state == SELLO_STATE_ACTIVE)
            printf("quorum reached: unit is active\n");
        else if (state == SELLO_STATE_INITIALISED)
            printf("quorum reached: key unlocked; no certificate is loaded "
                   "yet (sello csr, then sello cert-load)\n");
        else
            printf("quorum reached: key unlocked\n");
        return true;
    }
    case SELLO_PURPOSE_DESTROY:
        printf("quorum reached: the TSU key and the unit's records are "
               "destroyed; the unit is uninitialised and its share files are "
               "now useless\n");
        return true;
    case SELLO_PURPOSE_RECALIBRATE: {
        printf("quorum reached: the module accepts one clock setting\n");
        uint64_t ms = a->time_ms;
        /* "now" is read at the last moment: the quorum may have taken
         * minutes. */
        if (!a->has_time && !util_now_utc_ms(&ms))
            return false;
        uint8_t payload[8];
        sello_put_be64(payload, ms);
        if (!admin_call_ok(c, "recalibrate: set-time", SELLO_OP_SET_TIME,
                           payload, sizeof payload, &r, NULL, NULL))
            return false;
        char iso[48];
        util_utc_iso(ms, iso, sizeof iso);
        printf("module clock set to %s (%llu ms)\n", iso,
               (unsigned long long)ms);
        return true;
    }
    default:
        return true;
    }
}

/* Submits each share to the session and reports progress; the connection
 * is the caller's. */
static int submit_all(admin_conn *c, const quorum_args *a,
                      const share_file *sf,
                      const uint8_t (*plain)[SELLO_SHARE_LEN])
{
    static admin_reply r;
    session_info s;
    long accepted = 0, threshold = sf[0].m, expires = -1;
    bool done = false;
    for (size_t i = 0; i < a->nshares; i++) {
        if (done) {
            printf("share %u not needed: the quorum is complete\n", sf[i].x);
            continue;
        }
        /* Joining again before each share keeps the challenge and key
         * current even if the session was replaced meanwhile. */
        uint8_t open[2] = {a->purpose, SELLO_SESSION_OPEN_NEW};
        size_t open_len = a->new_session && i == 0 ? 2 : 1;
        if (!admin_call(c, SELLO_OP_SESSION_OPEN, open, open_len, &r, NULL,
                        NULL))
            return EXIT_FAIL;
        if (r.status != SELLO_OK) {
            report_refusal(a->cmd, "opening the session", &r);
            return EXIT_FAIL;
        }
        if (!parse_session(&r, &s) || !s.has_id || !s.has_challenge ||
            !s.has_pub || !s.has_unit) {
            util_err("%s: the module's session reply is malformed", a->cmd);
            return EXIT_FAIL;
        }
        if (s.purpose >= 0 && s.purpose != a->purpose) {
            util_err("%s: the module opened a session for another purpose",
                     a->cmd);
            return EXIT_FAIL;
        }
        if (memcmp(s.unit_id, sf[i].unit_id, 32) != 0) {
            char mine[65], theirs[65];
            util_hex_encode(sf[i].unit_id, 32, mine);
            util_hex_encode(s.unit_id, 32, theirs);
            util_err("%s: this share belongs to another unit: %s is for "
                     "unit %.16s..., the module is unit %.16s...; the "
                     "share was not sent", a->cmd, a->shares[i], mine, theirs);
            return EXIT_FAIL;
        }
        if (i == 0) {
            if (s.accepted > 0)
                printf("joined the open %s session: %ld of %ld shares "
                       "accepted so far\n", a->cmd, s.accepted,
                       s.threshold >= 0 ? s.threshold : threshold);
            else
                printf("%s session opened\n", a->cmd);
        }
        if (s.threshold >= 0)
            threshold = s.threshold;
        expires = s.expires_s;

        static uint8_t payload[SELLO_SUBMIT_LEN];
        if (!build_submission(&s, a->purpose, plain[i], payload))
            return EXIT_FAIL;
        if (!admin_call(c, SELLO_OP_SESSION_SUBMIT, payload, sizeof payload,
                        &r, NULL, NULL))
            return EXIT_FAIL;
        if (r.status != SELLO_OK) {
            char what[64];
            snprintf(what, sizeof what, "share %u", sf[i].x);
            report_refusal(a->cmd, what, &r);
            return EXIT_FAIL;
        }
        if (!parse_session(&r, &s)) {
            util_err("%s: the module's reply to share %u is malformed",
                     a->cmd, sf[i].x);
            return EXIT_FAIL;
        }
        if (s.threshold >= 0)
            threshold = s.threshold;
        accepted = s.accepted >= 0 ? s.accepted : accepted + 1;
        done = s.done;
        printf("share %u accepted (%ld of %ld)\n", sf[i].x, accepted,
               threshold);
        fflush(stdout);
    }
    if (!done) {
        printf("%ld of %ld shares accepted; the session stays open",
               accepted, threshold);
        if (expires >= 0)
            printf(" for %ld s", expires);
        printf(" for the other custodians:\n  sello %s --share FILE\n",
               a->cmd);
        return EXIT_OK;
    }
    return after_quorum(c, a) ? EXIT_OK : EXIT_FAIL;
}

/*
 * The three quorum commands: load the shares, confirm a destruction,
 * open every share with its custodian's passphrase, then submit them one
 * by one to the module's session for a->purpose.
 */
static int run_quorum(const quorum_args *a)
{
    if (sodium_init() < 0) {
        util_err("libsodium failed to initialise");
        return EXIT_FAIL;
    }
    share_file *sf = calloc(a->nshares, sizeof *sf);
    /* Locked, guarded memory for the plaintext shares; sodium_free wipes
     * it whichever way this ends. */
    uint8_t (*plain)[SELLO_SHARE_LEN] =
        sodium_malloc(a->nshares * SELLO_SHARE_LEN);
    int rc = EXIT_FAIL;
    if (!sf || !plain) {
        util_err("out of memory");
        goto out;
    }
    if (!load_shares(a, sf))
        goto out;
    if (a->purpose == SELLO_PURPOSE_DESTROY && !a->yes &&
        !confirm_destroy(a->cmd, sf[0].unit_id))
        goto out;
    if (!unlock_shares(a, sf, plain))
        goto out;
    admin_conn c;
    if (!admin_connect(admin_socket_path(a->admin), &c))
        goto out;
    rc = submit_all(&c, a, sf, (const uint8_t (*)[SELLO_SHARE_LEN])plain);
    admin_close(&c);
out:
    if (plain)
        sodium_free(plain);
    free(sf);
    return rc;
}

#define QUORUM_USAGE                                                           \
    "  --share FILE        a custodian's share file (repeatable: several\n"    \
    "                      custodians may submit in one run)\n"                \
    "  --passphrase-file FILE\n"                                               \
    "                      the passphrase of the share given in the same\n"    \
    "                      position (first line of FILE); shares without\n"    \
    "                      one are asked for at the terminal\n"                \
    "  --new-session       discard any open session and start a new one\n"     \
    "                      (default: join the open session of this kind,\n"    \
    "                      so custodians may also submit one run each)\n"

/* ---- activate / destroy / recalibrate --------------------------------------- */

void usage_activate(FILE *f)
{
    fprintf(f,
        "usage: sello activate --share FILE [--passphrase-file FILE] ...\n"
        "Unlocks the TSU key: when M custodians' shares are in, the unit\n"
        "goes from ready to active (or, before its certificate is loaded,\n"
        "can produce its CSR).\n\n"
        QUORUM_USAGE ADMIN_USAGE);
}

void usage_destroy(FILE *f)
{
    fprintf(f,
        "usage: sello destroy --share FILE [--passphrase-file FILE] ... "
        "[--yes]\n"
        "Zeroises the TSU key and the unit's records when M custodians'\n"
        "shares are in: the unit becomes uninitialised. Asks to type the\n"
        "start of the unit id first.\n\n"
        QUORUM_USAGE
        "  --yes               do not ask for confirmation\n"
        ADMIN_USAGE);
}

void usage_recalibrate(FILE *f)
{
    fprintf(f,
        "usage: sello recalibrate --share FILE [--passphrase-file FILE] ... "
        "[--time T]\n"
        "When M custodians' shares are in, sets the module clock once, by\n"
        "any step, and clears a time doubt after a records rollback.\n\n"
        QUORUM_USAGE
        "  --time T            now (default: this host's clock when the\n"
        "                      quorum is reached) or UTC as\n"
        "                      YYYY-MM-DDTHH:MM:SS[.fff]Z\n"
        ADMIN_USAGE);
}

static int quorum_command(int argc, char **argv, const char *cmd,
                          uint8_t purpose, unsigned allowed,
                          void (*usage)(FILE *))
{
    quorum_args a;
    memset(&a, 0, sizeof a);
    a.cmd = cmd;
    a.purpose = purpose;
    a.usage = usage;
    int rc = parse_quorum_args(argc, argv, allowed, &a);
    return rc >= 0 ? rc : run_quorum(&a);
}

int cmd_activate(int argc, char **argv)
{
    return quorum_command(argc, argv, "activate", SELLO_PURPOSE_ACTIVATE, 0,
                          usage_activate);
}

int cmd_destroy(int argc, char **argv)
{
    return quorum_command(argc, argv, "destroy", SELLO_PURPOSE_DESTROY,
                          OPT_YES, usage_destroy);
}

int cmd_recalibrate(int argc, char **argv)
{
    return quorum_command(argc, argv, "recalibrate",
                          SELLO_PURPOSE_RECALIBRATE, OPT_TIME,
                          usage_recalibrate);
}

/* ---- deactivate ---------------------------------------------------------- */

void usage_deactivate(FILE *f)
{
    fprintf(f,
        "usage: sello deactivate\n"
        "Wipes the unlocked TSU key from the module's memory (active ->\n"
        "ready) and ends any open session. Needs no shares: stopping never\n"
        "waits for a quorum.\n\n"
        ADMIN_USAGE);
}

int cmd_deactivate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"admin", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
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
            usage_deactivate(stdout);
            return EXIT_OK;
        default:
            return cli_bad_option("deactivate", argv, ch, usage_deactivate);
        }
    }
    if (optind != argc)
        return cli_usage_error("deactivate", usage_deactivate,
                               "unexpected argument '%s'", argv[optind]);
    static admin_reply r;
    if (!admin_run_op(admin_socket_path(admin), "deactivate",
                      SELLO_OP_DEACTIVATE, NULL, 0, &r, NULL, NULL))
        return EXIT_FAIL;
    printf("deactivated: the key is wiped from the module's memory; "
           "sello activate with a quorum of shares resumes service\n");
    return EXIT_OK;
}
