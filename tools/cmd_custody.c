/*
 * Dual-control subcommands: activate, recalibrate, leap and destroy (a
 * quorum of custodians submits shares to a module session, include/sello/
 * abi.h "Dual control"), and deactivate (which needs no quorum). The
 * quorum commands differ only in the session's purpose, in what the
 * session proposes (a time to calibrate the clock to, a leap second, or
 * nothing) and in what follows the quorum, so they share run_quorum().
 *
 * What a session proposes is what its custodians approve: the module
 * binds the proposal into every submission box, so the tool shows the
 * session's own proposal (which, when an open session is joined, may be
 * another custodian's) before any passphrase is asked for, and seals to
 * exactly that proposal.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
#include "unit_status.h"
#include "util.h"

/* More shares than custodians can exist is a mistake anyway. */
#define MAX_SHARES 16u
/* Tries at a mistyped passphrase: local (no module is asked), so cheap. */
#define PASS_TRIES 3
#define US_PER_S 1000000u
#define US_PER_DAY (86400ull * US_PER_S)

/* Leap second kinds: the LEAP proposal's parameter. */
enum { LEAP_UNSET = -1, LEAP_CANCEL = 0, LEAP_INSERT = 1, LEAP_DELETE = 2 };

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
    bool time_given;   /* --time, now or a value */
    bool time_now;     /* --time now: this host's clock at the opening */
    uint64_t time_us;  /* --time VALUE */
    bool has_unc;      /* --uncertainty-us */
    uint32_t unc_us;
    bool has_at;       /* leap: --at */
    uint64_t at_us;
    int leap;          /* LEAP_* */
} quorum_args;

/* Which of the optional options a command takes. */
enum { OPT_YES = 1, OPT_TIME = 2, OPT_LEAP = 4 };

/* The module's limit for a proposed uncertainty is the declared accuracy,
 * at most 3600 s: a larger value is a typing error anyway. */
#define UNC_MAX 3600000000u

/* True when `us` is 00:00:00 UTC on the first day of a month. */
static bool first_of_month(uint64_t us)
{
    if (us % US_PER_DAY != 0)
        return false;
    time_t t = (time_t)(us / US_PER_S);
    struct tm tm;
    return gmtime_r(&t, &tm) && tm.tm_mday == 1;
}

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
        {"uncertainty-us", required_argument, NULL, 'u'},
        {"at", required_argument, NULL, 'a'},
        {"insert", no_argument, NULL, 'I'},
        {"delete", no_argument, NULL, 'D'},
        {"cancel", no_argument, NULL, 'C'},
        {"admin", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    a->leap = LEAP_UNSET;
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
                                       "--time is only for activate and "
                                       "recalibrate");
            a->time_given = true;
            if (strcmp(optarg, "now") == 0) {
                a->time_now = true;
            } else if (util_parse_utc_iso_us(optarg, &a->time_us)) {
                a->time_now = false;
            } else {
                return cli_usage_error(a->cmd, a->usage,
                                       "--time must be now or UTC as "
                                       "YYYY-MM-DDTHH:MM:SS[.ffffff]Z");
            }
            break;
        case 'u':
            if (!(allowed & OPT_TIME))
                return cli_usage_error(a->cmd, a->usage,
                                       "--uncertainty-us is only for "
                                       "activate and recalibrate");
            if (!cli_parse_u32(optarg, 0, UNC_MAX, &a->unc_us))
                return cli_usage_error(a->cmd, a->usage,
                                       "--uncertainty-us must be 0..%u "
                                       "microseconds", UNC_MAX);
            a->has_unc = true;
            break;
        case 'a':
            if (!(allowed & OPT_LEAP))
                return cli_usage_error(a->cmd, a->usage,
                                       "--at is only for leap");
            if (!util_parse_utc_iso_us(optarg, &a->at_us))
                return cli_usage_error(a->cmd, a->usage,
                                       "--at must be UTC as "
                                       "YYYY-MM-DDT00:00:00Z");
            a->has_at = true;
            break;
        case 'I':
        case 'D':
        case 'C':
            if (!(allowed & OPT_LEAP))
                return cli_usage_error(a->cmd, a->usage,
                                       "--insert, --delete and --cancel are "
                                       "only for leap");
            if (a->leap != LEAP_UNSET)
                return cli_usage_error(a->cmd, a->usage,
                                       "give one of --insert, --delete and "
                                       "--cancel");
            a->leap = ch == 'I' ? LEAP_INSERT
                      : ch == 'D' ? LEAP_DELETE
                                  : LEAP_CANCEL;
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
    if (a->time_given && !a->time_now && !a->has_unc)
        return cli_usage_error(a->cmd, a->usage,
                               "--time with a UTC value needs "
                               "--uncertainty-us: how far that value may be "
                               "from true UTC when the session opens");
    if (allowed & OPT_LEAP) {
        if (a->leap == LEAP_UNSET)
            return cli_usage_error(a->cmd, a->usage,
                                   "give --insert, --delete or --cancel");
        if (a->leap == LEAP_CANCEL && a->has_at)
            return cli_usage_error(a->cmd, a->usage,
                                   "--cancel takes no --at: it cancels the "
                                   "announced leap second, whenever it is");
        if (a->leap != LEAP_CANCEL && !a->has_at)
            return cli_usage_error(a->cmd, a->usage,
                                   "give --at: the midnight (UTC) that "
                                   "begins the month after the leap second");
        if (a->has_at && !first_of_month(a->at_us))
            return cli_usage_error(a->cmd, a->usage,
                                   "--at must be 00:00:00Z on the first day "
                                   "of a month: a leap second happens at "
                                   "the end of the month before it");
    }
    return -1;
}

/* ---- module replies -------------------------------------------------------- */

/* A SESSION_OPEN or SESSION_SUBMIT reply (SELLO_SESS_*); -1 = absent. */
typedef struct {
    bool has_id, has_challenge, has_pub, has_unit, has_proposal;
    uint8_t id[SELLO_SESSION_ID_LEN];
    uint8_t challenge[32];
    uint8_t pub[32];
    uint8_t unit_id[32];
    uint8_t proposal[SELLO_PROPOSAL_LEN];
    long expires_s, purpose, threshold, custodians, accepted;
    long long age_ms;
    bool done;
} session_info;

static bool parse_session(const admin_reply *r, session_info *s)
{
    memset(s, 0, sizeof *s);
    s->expires_s = s->purpose = s->threshold = s->custodians = s->accepted =
        -1;
    s->age_ms = -1;
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
        case SELLO_SESS_PROPOSAL:
            dst = s->proposal, has = &s->has_proposal,
            want = SELLO_PROPOSAL_LEN;
            break;
        case SELLO_SESS_EXPIRES_S:
            if (n != 4)
                return false;
            s->expires_s = (long)sello_get_be32(v);
            continue;
        case SELLO_SESS_AGE_MS:
            if (n != 8 || sello_get_be64(v) > (uint64_t)INT64_MAX)
                return false;
            s->age_ms = (long long)sello_get_be64(v);
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
    case SELLO_ERR_PARAM:
        util_err("%s: %s refused by the module: %.*s", cmd, what, len,
                 reason);
        break;
    default: {
        char where[96];
        snprintf(where, sizeof where, "%s: %s", cmd, what);
        admin_report(where, r);
        break;
    }
    }
}

/* ---- the proposal ------------------------------------------------------------ */

/* What this run proposes when it opens a session. */
typedef struct {
    bool want;          /* a proposal at all */
    bool host_time;     /* value = this host's clock at each opening */
    uint64_t value;     /* otherwise, the fixed value */
    uint32_t param;     /* uncertainty in us, or LEAP_* */
    char source[256];   /* where the uncertainty came from */
} proposal_plan;

/* The genTime precision the module derives from its accuracy
 * (firmware/clock.h: the largest power of ten at most a tenth of it,
 * between 1 ms and 1 s), in microseconds. */
static uint64_t precision_us(uint64_t accuracy_ms)
{
    uint64_t p = 1000u;
    while (p < 1000000u && p * 10u <= accuracy_ms * 100u)
        p *= 10u;
    return p;
}

/*
 * The uncertainty of this host's clock: the kernel's error bound (struct
 * timex maxerror), never less than --uncertainty-us when that is given
 * too; only --uncertainty-us when the kernel has no bound to give (it
 * says its clock is unsynchronised, or cannot be asked). Plus `rtt_us`,
 * the admin link's round trip: the module anchors the proposal when it
 * receives it, up to that much after the clock was read.
 */
static bool host_uncertainty(const quorum_args *a, uint64_t rtt_us,
                             proposal_plan *p)
{
    util_kernel_clock_info k;
    util_kernel_clock(&k);
    uint64_t unc;
    if (!k.known || !k.synchronised) {
        const char *why = k.known ? "the kernel says this host's clock is "
                                    "not synchronised (TIME_ERROR/"
                                    "STA_UNSYNC)"
                                  : "the kernel's clock error bound cannot "
                                    "be read (ntp_adjtime failed)";
        if (!a->has_unc) {
            util_err("%s: %s, so there is no error bound to propose with "
                     "this host's time: synchronise it (NTP, PTP) or give "
                     "--uncertainty-us with a bound you have checked "
                     "yourself", a->cmd, why);
            return false;
        }
        unc = a->unc_us;
        snprintf(p->source, sizeof p->source,
                 "--uncertainty-us %u + admin round trip %llu us; %s",
                 a->unc_us, (unsigned long long)rtt_us, why);
    } else {
        unc = k.maxerror_us;
        if (a->has_unc && a->unc_us > unc)
            unc = a->unc_us;
        snprintf(p->source, sizeof p->source,
                 "kernel maxerror %llu us%s + admin round trip %llu us",
                 (unsigned long long)k.maxerror_us,
                 a->has_unc && a->unc_us > k.maxerror_us
                     ? ", raised to --uncertainty-us"
                     : "",
                 (unsigned long long)rtt_us);
    }
    unc += rtt_us;
    p->param = unc > UINT32_MAX ? UINT32_MAX : (uint32_t)unc;
    return true;
}

/*
 * Decides what the session proposes (read once, before the session is
 * opened; a host time is read again at each opening). ACTIVATE proposes a
 * time when the module's clock is uncalibrated or --time is given,
 * RECALIBRATE always, LEAP its leap second, DESTROY nothing.
 */
static bool plan_proposal(admin_conn *c, const quorum_args *a,
                          proposal_plan *p)
{
    memset(p, 0, sizeof *p);
    if (a->purpose == SELLO_PURPOSE_DESTROY)
        return true;
    if (a->purpose == SELLO_PURPOSE_LEAP) {
        p->want = true;
        p->value = a->leap == LEAP_CANCEL ? 0 : a->at_us;
        p->param = (uint32_t)a->leap;
        return true;
    }
    static unit_status st;
    uint64_t rtt = 0;
    if (!unit_status_fetch(c, a->cmd, &st, &rtt))
        return false;
    bool uncalibrated = st.has[SELLO_ST_CLOCK] &&
                        st.num[SELLO_ST_CLOCK] == SELLO_CLOCK_UNCALIBRATED;
    if (a->purpose == SELLO_PURPOSE_ACTIVATE && !a->time_given &&
        !uncalibrated)
        return true;
    if (a->purpose == SELLO_PURPOSE_ACTIVATE && uncalibrated &&
        !a->time_given)
        printf("the module clock is uncalibrated: this activation also "
               "calibrates it, to this host's time\n");
    p->want = true;
    if (a->time_given && !a->time_now) {
        p->value = a->time_us;
        p->param = a->unc_us;
        snprintf(p->source, sizeof p->source, "--uncertainty-us");
    } else {
        p->host_time = true;
        if (!host_uncertainty(a, rtt, p))
            return false;
    }
    if (st.has[SELLO_ST_ACCURACY_MS]) {
        uint64_t acc_ms = st.num[SELLO_ST_ACCURACY_MS];
        if (p->param > acc_ms * 1000u) {
            util_err("%s: the proposal's uncertainty of %u us (%s) exceeds "
                     "the unit's declared accuracy of %llu ms: the module "
                     "refuses a time it could not issue by; nothing was "
                     "proposed", a->cmd, p->param, p->source,
                     (unsigned long long)acc_ms);
            return false;
        }
        if (p->param + precision_us(acc_ms) > acc_ms * 1000u)
            printf("note: an uncertainty of %u us plus the genTime "
                   "precision of %llu us exceed the declared accuracy of "
                   "%llu ms: the clock will be calibrated but not "
                   "synchronised until time observations agree\n",
                   p->param, (unsigned long long)precision_us(acc_ms),
                   (unsigned long long)acc_ms);
    }
    return true;
}

/* The proposal bytes for an opening now (a host time is read here). */
static bool make_proposal(const proposal_plan *p,
                          uint8_t out[SELLO_PROPOSAL_LEN])
{
    uint64_t value = p->value;
    if (p->host_time && !util_now_utc_us(&value))
        return false;
    sello_put_be64(out, value);
    sello_put_be32(out + 8, p->param);
    return true;
}

/* Shows the custodians what the session proposes: what their
 * passphrases approve. `mine` is this run's own plan and `sent` the
 * proposal this run sent when opening (NULL: none). */
static void show_proposal(const quorum_args *a, const session_info *s,
                          const proposal_plan *mine, const uint8_t *sent)
{
    char iso[48], now_iso[48];
    if (!s->has_proposal) {
        if (a->purpose == SELLO_PURPOSE_ACTIVATE) {
            printf("the session proposes no time: the module clock is left "
                   "as it is\n");
            if (mine->want)
                printf("note: this is the open session's choice, made by "
                       "whoever opened it; --new-session opens one that "
                       "proposes the time\n");
        }
        return;
    }
    uint64_t value = sello_get_be64(s->proposal);
    uint32_t param = sello_get_be32(s->proposal + 8);
    if (a->purpose == SELLO_PURPOSE_LEAP) {
        if (param == LEAP_CANCEL) {
            printf("the session proposes: cancel the announced leap "
                   "second\n");
        } else {
            util_utc_iso(value / 1000u, iso, sizeof iso);
            util_utc_iso(value / 1000u - 1000u, now_iso, sizeof now_iso);
            if (param == LEAP_INSERT)
                printf("the session proposes: a leap second inserted "
                       "before %s (23:59:60 follows %s)\n", iso, now_iso);
            else
                printf("the session proposes: a leap second deleted before "
                       "%s (%s is skipped)\n", iso, now_iso);
        }
    } else {
        uint64_t age_us = s->age_ms >= 0 ? (uint64_t)s->age_ms * 1000u : 0;
        util_utc_iso_us(value, iso, sizeof iso);
        util_utc_iso_us(value + age_us, now_iso, sizeof now_iso);
        printf("the session proposes the time %s +- %u us\n"
               "  for its opening, %lld.%03lld s ago: by it, UTC now is "
               "%s\n", iso, param,
               s->age_ms >= 0 ? s->age_ms / 1000 : 0,
               s->age_ms >= 0 ? s->age_ms % 1000 : 0, now_iso);
    }
    bool is_mine = sent && memcmp(sent, s->proposal, SELLO_PROPOSAL_LEN) == 0;
    if (is_mine && mine->source[0])
        printf("  uncertainty: %s\n", mine->source);
    else if (!is_mine)
        printf("  this is the proposal of the session already open, not "
               "this run's%s\n",
               mine->want ? "; --new-session replaces it with this run's"
                          : "");
    if (a->purpose != SELLO_PURPOSE_LEAP)
        printf("Custodians: check this time against an independent clock "
               "before giving a passphrase.\n");
    else
        printf("Custodians: check this against the IERS announcement "
               "(Bulletin C) before giving a passphrase.\n");
    fflush(stdout);
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

/*
 * Opens the shares (plain[i] = share i's plaintext) whose passphrase
 * comes from a file (`typed` false), or those whose custodian types it
 * (`typed` true). Files are read before the module is contacted, so that
 * a wrong one sends nothing; typing waits until the custodian has seen
 * the session's proposal. A mistyped passphrase never sends anything.
 */
static bool unlock_shares(const quorum_args *a, const share_file *sf,
                          uint8_t (*plain)[SELLO_SHARE_LEN], bool typed)
{
    custodian_pass *pass = sodium_malloc(sizeof *pass);
    if (!pass) {
        util_err("out of memory");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < a->nshares; i++) {
        if (i < a->npass) {
            if (!typed)
                ok = custodian_pass_from_file(a->passfiles[i], pass) &&
                     share_file_open(&sf[i], a->shares[i], pass, plain[i]);
            continue;
        }
        if (!typed)
            continue;
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

/*
 * The one place a submission's box context is made: the purpose octet,
 * the session id and, when the session has one, its proposal exactly as
 * the module returned it (SELLO_SESS_PROPOSAL; a joined session's own,
 * not this run's). *len is the context's length.
 */
static void submission_context(const session_info *s, uint8_t purpose,
                               uint8_t ctx[1 + SELLO_SESSION_ID_LEN +
                                           SELLO_PROPOSAL_LEN],
                               size_t *len)
{
    ctx[0] = purpose;
    memcpy(ctx + 1, s->id, SELLO_SESSION_ID_LEN);
    *len = 1 + SELLO_SESSION_ID_LEN;
    if (s->has_proposal) {
        memcpy(ctx + *len, s->proposal, SELLO_PROPOSAL_LEN);
        *len += SELLO_PROPOSAL_LEN;
    }
}

/* The SESSION_SUBMIT payload for one share: the session id, then the share
 * sealed to the session key and the module's ceremony key. */
static bool build_submission(const session_info *s, uint8_t purpose,
                             const uint8_t *plain, uint8_t *payload)
{
    uint8_t eph[32], recip[2][32];
    uint8_t ctx[1 + SELLO_SESSION_ID_LEN + SELLO_PROPOSAL_LEN];
    size_t ctx_len;
    if (!util_random(eph, sizeof eph))
        return false;
    memcpy(recip[0], s->pub, 32);
    memcpy(recip[1], plain + SELLO_SHARE_MODULE_KEY, 32);
    submission_context(s, purpose, ctx, &ctx_len);
    memcpy(payload, s->id, SELLO_SESSION_ID_LEN);
    sello_status st = sello_box_seal(
        eph, (const uint8_t (*)[32])recip, 2, s->challenge,
        sizeof s->challenge, SELLO_BOX_LABEL_SUBMIT, ctx, ctx_len, plain,
        SELLO_SHARE_LEN, payload + SELLO_SESSION_ID_LEN);
    sodium_memzero(eph, sizeof eph);
    if (st != SELLO_OK) {
        util_err("cannot seal the share to the session: %s (a session key "
                 "of low order?)", sello_status_str(st));
        return false;
    }
    return true;
}

/*
 * SESSION_OPEN for a->purpose with this run's proposal (a host time read
 * now; copied to `sent` when not NULL): joins the open session of that
 * purpose, or opens a fresh one (always with `fresh`). The reply is
 * checked for shape and purpose.
 */
static bool open_session(admin_conn *c, const quorum_args *a,
                         const proposal_plan *p, bool fresh,
                         session_info *s, uint8_t *sent)
{
    static admin_reply r;
    uint8_t open[2 + SELLO_PROPOSAL_LEN];
    size_t len = 1;
    open[0] = a->purpose;
    open[1] = fresh ? SELLO_SESSION_OPEN_NEW : 0;
    if (fresh)
        len = 2;
    if (p->want) {
        if (!make_proposal(p, open + 2))
            return false;
        len = 2 + SELLO_PROPOSAL_LEN;
        if (sent)
            memcpy(sent, open + 2, SELLO_PROPOSAL_LEN);
    }
    if (!admin_call(c, SELLO_OP_SESSION_OPEN, open, len, &r, NULL, NULL))
        return false;
    if (r.status != SELLO_OK) {
        report_refusal(a->cmd, "opening the session", &r);
        return false;
    }
    if (!parse_session(&r, s) || !s->has_id || !s->has_challenge ||
        !s->has_pub || !s->has_unit) {
        util_err("%s: the module's session reply is malformed", a->cmd);
        return false;
    }
    if (s->purpose >= 0 && s->purpose != a->purpose) {
        util_err("%s: the module opened a session for another purpose",
                 a->cmd);
        return false;
    }
    return true;
}

/* One line on the module clock, from STATUS. */
static void print_clock_line(const unit_status *st)
{
    if (!st->has[SELLO_ST_CLOCK])
        return;
    unsigned clock = (unsigned)st->num[SELLO_ST_CLOCK];
    printf("module clock: %s", unit_clock_name(clock));
    if (clock != SELLO_CLOCK_SYNCHRONISED && st->has[SELLO_ST_CLOCK_WHY])
        printf(" (%s)",
               sello_clock_why_str((int)st->num[SELLO_ST_CLOCK_WHY]));
    if (st->has[SELLO_ST_UTC_MS]) {
        char iso[48];
        util_utc_iso(st->num[SELLO_ST_UTC_MS], iso, sizeof iso);
        printf(", %s", iso);
    }
    if (st->has[SELLO_ST_CLOCK_ERROR_US])
        printf(", error bound %llu us",
               (unsigned long long)st->num[SELLO_ST_CLOCK_ERROR_US]);
    if (clock == SELLO_CLOCK_SYNCHRONISED && st->has[SELLO_ST_SYNC_LEFT_S] &&
        st->num[SELLO_ST_SYNC_LEFT_S] != UINT32_MAX)
        printf(", synchronised for %llu s more without time observations",
               (unsigned long long)st->num[SELLO_ST_SYNC_LEFT_S]);
    printf("\n");
}

/* What the quorum did, once it is reached; `s` is the session that
 * reached it, as shown to the custodians. */
static bool after_quorum(admin_conn *c, const quorum_args *a,
                         const session_info *s)
{
    static unit_status st;
    bool have = a->purpose != SELLO_PURPOSE_DESTROY &&
                unit_status_fetch(c, a->cmd, &st, NULL);
    switch (a->purpose) {
    case SELLO_PURPOSE_ACTIVATE: {
        /* Before a certificate is loaded the same quorum only unlocks the
         * key for GET_CSR; say which of the two happened. */
        unsigned state = have && st.has[SELLO_ST_STATE]
                             ? (unsigned)st.num[SELLO_ST_STATE]
                             : SELLO_STATE_ACTIVE;
        if (state == SELLO_STATE_ACTIVE)
            printf("quorum reached: unit is active\n");
        else if (state == SELLO_STATE_INITIALISED)
            printf("quorum reached: key unlocked; no certificate is loaded "
                   "yet (sello csr, then sello cert-load)\n");
        else
            printf("quorum reached: key unlocked\n");
        if (s->has_proposal)
            printf("the module clock is calibrated to the proposed time\n");
        if (have) {
            print_clock_line(&st);
            if (st.has[SELLO_ST_CLOCK] &&
                st.num[SELLO_ST_CLOCK] == SELLO_CLOCK_UNCALIBRATED)
                printf("the unit cannot issue time-stamps until custodians "
                       "calibrate its clock: sello recalibrate\n");
        }
        return true;
    }
    case SELLO_PURPOSE_DESTROY:
        printf("quorum reached: the TSU key and the unit's records are "
               "destroyed; the unit is uninitialised and its share files are "
               "now useless\n");
        return true;
    case SELLO_PURPOSE_RECALIBRATE:
        printf("quorum reached: the module clock is calibrated to the "
               "proposed time\n");
        if (have)
            print_clock_line(&st);
        return have;
    case SELLO_PURPOSE_LEAP:
        if (have && st.has[SELLO_ST_LEAP_US]) {
            char iso[48];
            util_utc_iso(st.leap_us / 1000u, iso, sizeof iso);
            printf("quorum reached: leap second announced: a second %s "
                   "before %s\n", unit_leap_kind_name(st.leap_kind), iso);
        } else {
            printf("quorum reached: no leap second is announced\n");
        }
        return have;
    default:
        return true;
    }
}

/* Submits each share to the session and reports progress; the connection
 * is the caller's. `shown` is the session the custodians were shown:
 * every submission must approve that proposal and no other. */
static int submit_all(admin_conn *c, const quorum_args *a,
                      const proposal_plan *plan, const session_info *shown,
                      const share_file *sf,
                      const uint8_t (*plain)[SELLO_SHARE_LEN])
{
    static admin_reply r;
    session_info s, joined;
    long accepted = 0, threshold = sf[0].m, expires = -1;
    bool done = false;
    for (size_t i = 0; i < a->nshares; i++) {
        if (done) {
            printf("share %u not needed: the quorum is complete\n", sf[i].x);
            continue;
        }
        /* Joining again before each share keeps the challenge and key
         * current even if the session was replaced meanwhile, as long as
         * what it proposes is still what was shown. */
        if (!open_session(c, a, plan, false, &joined, NULL))
            return EXIT_FAIL;
        if (joined.has_proposal != shown->has_proposal ||
            (joined.has_proposal &&
             memcmp(joined.proposal, shown->proposal,
                    SELLO_PROPOSAL_LEN) != 0)) {
            util_err("%s: the module's session was replaced meanwhile and "
                     "proposes something else than what was shown; share "
                     "%u was not sent: run the command again to see the new "
                     "proposal", a->cmd, sf[i].x);
            return EXIT_FAIL;
        }
        if (joined.threshold >= 0)
            threshold = joined.threshold;
        expires = joined.expires_s;

        static uint8_t payload[SELLO_SUBMIT_LEN];
        if (!build_submission(&joined, a->purpose, plain[i], payload))
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
    return after_quorum(c, a, shown) ? EXIT_OK : EXIT_FAIL;
}

/*
 * Opens (or joins) the session, shows what it proposes, checks the shares
 * are for this unit, asks the custodians who type their passphrase, and
 * submits every share.
 */
static int session_and_submit(admin_conn *c, const quorum_args *a,
                              const share_file *sf,
                              uint8_t (*plain)[SELLO_SHARE_LEN])
{
    proposal_plan plan;
    session_info shown;
    uint8_t sent[SELLO_PROPOSAL_LEN];
    if (!plan_proposal(c, a, &plan))
        return EXIT_FAIL;
    if (!open_session(c, a, &plan, a->new_session, &shown, sent))
        return EXIT_FAIL;
    for (size_t i = 0; i < a->nshares; i++)
        if (memcmp(shown.unit_id, sf[i].unit_id, 32) != 0) {
            char mine[65], theirs[65];
            util_hex_encode(sf[i].unit_id, 32, mine);
            util_hex_encode(shown.unit_id, 32, theirs);
            util_err("%s: this share belongs to another unit: %s is for "
                     "unit %.16s..., the module is unit %.16s...; the "
                     "share was not sent", a->cmd, a->shares[i], mine,
                     theirs);
            return EXIT_FAIL;
        }
    if (shown.accepted > 0)
        printf("joined the open %s session: %ld of %ld shares accepted so "
               "far\n", a->cmd, shown.accepted,
               shown.threshold >= 0 ? shown.threshold : (long)sf[0].m);
    else
        printf("%s session opened\n", a->cmd);
    show_proposal(a, &shown, &plan, plan.want ? sent : NULL);
    if (!unlock_shares(a, sf, plain, true))
        return EXIT_FAIL;
    return submit_all(c, a, &plan, &shown, sf,
                      (const uint8_t (*)[SELLO_SHARE_LEN])plain);
}

/*
 * The quorum commands: load the shares, confirm a destruction, open the
 * shares whose passphrases are in files, then the session (showing its
 * proposal), the shares whose custodians type their passphrase, and
 * submit them one by one to the module's session for a->purpose.
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
    if (a->npass < a->nshares && !prompt_have_tty()) {
        util_err("%s: no terminal to ask for the passphrase of %s: give "
                 "--passphrase-file for each --share", a->cmd,
                 a->shares[a->npass]);
        goto out;
    }
    if (!unlock_shares(a, sf, plain, false))
        goto out;
    admin_conn c;
    if (!admin_connect(admin_socket_path(a->admin), &c))
        goto out;
    rc = session_and_submit(&c, a, sf, plain);
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
    "                      one are asked for at the terminal, after the\n"     \
    "                      session's proposal is shown\n"                      \
    "  --new-session       discard any open session and start a new one\n"     \
    "                      (default: join the open session of this kind,\n"    \
    "                      and approve what it proposes, so custodians may\n"  \
    "                      also submit one run each)\n"

#define TIME_USAGE                                                             \
    "  --uncertainty-us N  the proposed time's uncertainty in microseconds\n"  \
    "                      when the kernel gives none (its clock is not\n"     \
    "                      NTP-synchronised), or a floor under the\n"          \
    "                      kernel's maxerror; required with --time VALUE.\n"   \
    "                      A host time's uncertainty also includes the admin\n"\
    "                      link's round trip. Must not exceed the unit's\n"    \
    "                      declared accuracy.\n"

/* ---- activate / destroy / recalibrate / leap --------------------------------- */

void usage_activate(FILE *f)
{
    fprintf(f,
        "usage: sello activate --share FILE [--passphrase-file FILE] ... "
        "[--time T]\n"
        "                      [--uncertainty-us N]\n"
        "Unlocks the TSU key: when M custodians' shares are in, the unit\n"
        "goes from ready to active (or, before its certificate is loaded,\n"
        "can produce its CSR). When the module clock is uncalibrated (after\n"
        "every start of the module) or --time is given, the session also\n"
        "proposes a time, which the same quorum calibrates the clock to;\n"
        "the custodians see it before giving their passphrases.\n\n"
        QUORUM_USAGE
        "  --time T            propose now (this host's CLOCK_REALTIME when\n"
        "                      the session opens) or UTC as\n"
        "                      YYYY-MM-DDTHH:MM:SS[.ffffff]Z, even when the\n"
        "                      clock is calibrated\n"
        TIME_USAGE ADMIN_USAGE);
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
        "                         [--uncertainty-us N]\n"
        "Proposes a time for the module clock when the session opens; when\n"
        "M custodians' shares are in, the clock is calibrated to it (plus\n"
        "the time the quorum took), by any step, and a time doubt after a\n"
        "records rollback is cleared. The custodians see the proposal\n"
        "before giving their passphrases. A step back in time does not make\n"
        "the module issue earlier times: it waits until its clock passes\n"
        "the latest time it issued.\n\n"
        QUORUM_USAGE
        "  --time T            now (default: this host's CLOCK_REALTIME when\n"
        "                      the session opens) or UTC as\n"
        "                      YYYY-MM-DDTHH:MM:SS[.ffffff]Z\n"
        TIME_USAGE ADMIN_USAGE);
}

void usage_leap(FILE *f)
{
    fprintf(f,
        "usage: sello leap --share FILE [--passphrase-file FILE] ...\n"
        "                  (--at YYYY-MM-01T00:00:00Z (--insert | --delete) "
        "| --cancel)\n"
        "Announces a leap second, as the IERS did, when M custodians' shares\n"
        "are in. The module pauses issuing from the declared accuracy before\n"
        "the leap until that long after it, and steps its clock by the\n"
        "second itself, so that no token carries a time the leap made\n"
        "wrong.\n\n"
        QUORUM_USAGE
        "  --at UTC            the midnight that begins the month after the\n"
        "                      leap second, e.g. 2027-01-01T00:00:00Z for a\n"
        "                      leap second at the end of 2026-12-31; in the\n"
        "                      future, within 400 days\n"
        "  --insert            23:59:60 is inserted before --at\n"
        "  --delete            23:59:59 is skipped before --at\n"
        "  --cancel            withdraw the announced leap second\n"
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
    return quorum_command(argc, argv, "activate", SELLO_PURPOSE_ACTIVATE,
                          OPT_TIME, usage_activate);
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

int cmd_leap(int argc, char **argv)
{
    return quorum_command(argc, argv, "leap", SELLO_PURPOSE_LEAP, OPT_LEAP,
                          usage_leap);
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
