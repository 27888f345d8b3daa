/*
 * libFuzzer target: the quorum sessions (SESSION_OPEN, SESSION_SUBMIT)
 * of a certified unit whose key is locked (READY), as a hostile host or a
 * custodian's broken tool would drive them.
 *
 * The unit is made once (fx_make_unit with tsu.der and ca.der: ACTIVE,
 * then DEACTIVATE: READY) and its records, board counter and clock are
 * kept; every input restarts the module from them (sello_module_start), so
 * each input meets the same READY unit. The fixture's custodians hold the
 * unit's genuine shares (fx_shares, FX_THRESHOLD = 2 of 3).
 *
 * First input octet, low bit:
 *   0  script: the rest is a sequence of steps, each
 *          sel (1) | len (2, BE) | payload (len; cut short at the end)
 *      with sel & 7 choosing:
 *          0  SESSION_OPEN with the payload (a successful answer is
 *             noted, so that later genuine submissions are sealed to it)
 *          1  SESSION_SUBMIT with the payload
 *          2  STATUS with the payload
 *          3  DEACTIVATE with the payload
 *          4  a genuine submission of share i = ((sel >> 3) & 3) % 3,
 *             sealed to the noted session, with the payload XORed over
 *             it (from octet 0; a longer payload is appended, and with
 *             sel & 0x20 the submission is cut to the payload's length)
 *          5  the clock advanced by the payload's first two octets (BE)
 *             in seconds: session expiry, lockout
 *          6  a genuine submission of share i, unmodified
 *          7  any other operation: opcode payload[0], payload the rest
 *      at most MAX_STEPS steps.
 *   1  mutation: a fresh ACTIVATE session, share 2 submitted unmodified
 *      (accepted: one short of the quorum), then the genuine submission of
 *      share 1 XORed with the rest of the input as in step 4 (cut to the
 *      rest's length when the first octet has bit 1 set) and submitted.
 *      Anything but the unmodified submission must be refused and leave
 *      the unit READY; the unmodified one must complete the quorum.
 *
 * Invariants (abort on violation):
 *   - every answer is one well-formed frame echoing the request's tag; an
 *     error carries no flags and a printable reason; OK answers of
 *     SESSION_OPEN, SESSION_SUBMIT and STATUS are complete TLV lists with
 *     their fields of the right sizes; DEACTIVATE answers nothing;
 *   - the unit never changes state except ACTIVE -> READY by DEACTIVATE,
 *     or on an unmodified genuine submission when at least FX_THRESHOLD
 *     distinct shares have been submitted unmodified to the current
 *     session; it is never in the error state. (The fuzzer cannot forge
 *     a share's MAC or a submission box: only the fixture's own
 *     unmodified submissions may count towards a quorum.)
 *   - a genuine submission answered DONE has performed its purpose:
 *     ACTIVATE leaves the unit ACTIVE, DESTROY UNINITIALISED.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>
#include <sello/module.h>

#include "board_mem.h"
#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_STEPS 24u

static sello_module_storage mod;
static board_mem_records pristine;
static uint64_t pristine_counter, pristine_ticks;
static uint32_t next_tag;
static bool trace; /* SELLO_FUZZ_TRACE=1: each request and answer on stderr */

static void must(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *t = getenv("SELLO_FUZZ_TRACE");
    trace = t && *t == '1';
    board_mem_reset();
    must(fx_make_unit(&mod, NULL, 0, "tsu.der ca.der") == SELLO_OK);
    must(fx_share_count == 3);
    uint64_t state = 0;
    must(fx_status_field(&mod, SELLO_ST_STATE, &state) &&
         state == SELLO_STATE_ACTIVE);
    fx_resp r = fx_call(&mod, SELLO_OP_DEACTIVATE, NULL, 0);
    must(r.header_ok && r.status == SELLO_OK);
    board_mem_snapshot(&pristine);
    pristine_counter = board_mem_get_counter();
    pristine_ticks = board_mem_get_ticks();
    return 0;
}

/* ---- answers ------------------------------------------------------------- */

/* Checks a TLV list: complete, and every item of a type in sizes[] (a
 * size, or 0 for any) of that size. Returns a bit mask of the types seen
 * (below 32). */
static uint32_t check_tlv(const uint8_t *p, size_t len, const size_t *sizes,
                          size_t nsizes)
{
    sello_tlv_reader t = { p, p + len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    uint32_t seen = 0;
    int more;
    while ((more = sello_tlv_next(&t, &type, &v, &n)) == 1) {
        if (type < nsizes && sizes[type] && n != sizes[type])
            abort();
        if (type < 32)
            seen |= 1u << type;
    }
    must(more == 0);
    return seen;
}

static const size_t sess_sizes[] = {
    [SELLO_SESS_ID] = SELLO_SESSION_ID_LEN, [SELLO_SESS_CHALLENGE] = 32,
    [SELLO_SESS_PUBKEY] = 32,              [SELLO_SESS_EXPIRES_S] = 4,
    [SELLO_SESS_PURPOSE] = 1,              [SELLO_SESS_THRESHOLD] = 1,
    [SELLO_SESS_CUSTODIANS] = 1,           [SELLO_SESS_UNIT_ID] = 32,
    [SELLO_SESS_ACCEPTED] = 1,             [SELLO_SESS_DONE] = 1,
};
static const size_t st_sizes[] = {
    [SELLO_ST_STATE] = 1,      [SELLO_ST_KEY_TYPE] = 1,
    [SELLO_ST_ACCURACY_MS] = 4, [SELLO_ST_HASHES] = 4,
    [SELLO_ST_QUALIFIED] = 1,  [SELLO_ST_INSTANCE] = 4,
    [SELLO_ST_NEXT_SERIAL] = 8, [SELLO_ST_TOKENS] = 8,
    [SELLO_ST_CLOCK] = 1,      [SELLO_ST_UTC_MS] = 8,
    [SELLO_ST_SIG_HASH] = 1,   [SELLO_ST_THRESHOLD] = 1,
    [SELLO_ST_CUSTODIANS] = 1, [SELLO_ST_UNIT_ID] = 32,
    [SELLO_ST_ENGINE] = 1,     [SELLO_ST_UNLOCKED] = 1,
    [SELLO_ST_FAILURES] = 1,   [SELLO_ST_LOCKED_S] = 4,
    [SELLO_ST_SESSION] = 1,    [SELLO_ST_SESSION_ACCEPTED] = 1,
    [SELLO_ST_TIME_DOUBT] = 1, [SELLO_ST_USAGE_NOT_AFTER] = 8,
    [SELLO_ST_SIMULATION] = 1, [SELLO_ST_GENERATION] = 4,
};
#define NSIZES(a) (sizeof(a) / sizeof(a)[0])

/* Sends one request and checks the answer's form. */
static fx_resp call(uint8_t op, const uint8_t *payload, size_t len)
{
    uint32_t tag = next_tag++;
    fx_resp r = fx_call_tag(&mod, op, tag, payload, len);
    must(r.frame_len >= SELLO_FRAME_HEADER_LEN && r.header_ok &&
         r.tag == tag);
    if (trace && op != SELLO_OP_STATUS)
        fprintf(stderr, "  %-14s %4zu octets -> %s%s%.*s\n",
                sello_op_name(op) ? sello_op_name(op) : "?", len,
                sello_status_str((sello_status)r.status),
                r.status == SELLO_OK ? "" : ": ",
                r.status == SELLO_OK ? 0 : (int)r.len,
                (const char *)r.payload);
    if (r.status != SELLO_OK) {
        /* (an error answer carries the audit records of its attempt) */
        must((r.flags & ~SELLO_RESP_FLAG_AUDIT) == 0 && r.len > 0);
        for (size_t i = 0; i < r.len; i++)
            must(r.payload[i] >= 0x20 && r.payload[i] < 0x7f);
        return r;
    }
    uint32_t seen;
    switch (op) {
    case SELLO_OP_SESSION_OPEN:
        seen = check_tlv(r.payload, r.len, sess_sizes, NSIZES(sess_sizes));
        must((seen & (1u << SELLO_SESS_ID)) &&
             (seen & (1u << SELLO_SESS_CHALLENGE)) &&
             (seen & (1u << SELLO_SESS_PUBKEY)) &&
             (seen & (1u << SELLO_SESS_PURPOSE)));
        break;
    case SELLO_OP_SESSION_SUBMIT:
        seen = check_tlv(r.payload, r.len, sess_sizes, NSIZES(sess_sizes));
        must((seen & (1u << SELLO_SESS_ACCEPTED)) &&
             (seen & (1u << SELLO_SESS_DONE)));
        break;
    case SELLO_OP_STATUS:
        seen = check_tlv(r.payload, r.len, st_sizes, NSIZES(st_sizes));
        must(seen & (1u << SELLO_ST_STATE));
        break;
    case SELLO_OP_DEACTIVATE:
        must(r.len == 0);
        break;
    default:
        break;
    }
    return r;
}

/* One field of a TLV answer, or -1. */
static int tlv_u8(const fx_resp *r, uint8_t want)
{
    sello_tlv_reader t = { r->payload, r->payload + r->len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&t, &type, &v, &n) == 1)
        if (type == want && n == 1)
            return v[0];
    return -1;
}

static int last_state = -1;

static uint8_t state_now(void)
{
    fx_resp r = call(SELLO_OP_STATUS, NULL, 0);
    must(r.status == SELLO_OK);
    int s = tlv_u8(&r, SELLO_ST_STATE);
    must(s >= 0 && s != SELLO_STATE_ERROR);
    if (trace && s != last_state)
        fprintf(stderr, "  state %d\n", s);
    last_state = s;
    return (uint8_t)s;
}

/* ---- the harness's view of the session ------------------------------------ */

static struct {
    uint8_t id[SELLO_SESSION_ID_LEN];
    bool known;         /* a session was noted */
    uint8_t purpose;
    unsigned genuine;   /* bit i: share i submitted unmodified to it */
    /* the unmodified submissions sealed in this input, to recognise a
     * replay of one among raw submissions */
    uint8_t sealed[MAX_STEPS][SELLO_SUBMIT_LEN];
    uint8_t sealed_share[MAX_STEPS];
    unsigned nsealed;
} view;

static void note_open(const fx_resp *r)
{
    sello_tlv_reader t = { r->payload, r->payload + r->len };
    uint8_t type;
    const uint8_t *v;
    size_t n;
    while (sello_tlv_next(&t, &type, &v, &n) == 1) {
        if (type == SELLO_SESS_ID && n == SELLO_SESSION_ID_LEN) {
            /* a joined session keeps its shares, a new one has none */
            if (!view.known || memcmp(view.id, v, n) != 0)
                view.genuine = 0;
            memcpy(view.id, v, n);
            view.known = true;
        } else if (type == SELLO_SESS_PURPOSE && n == 1) {
            view.purpose = v[0];
        }
    }
    fx_session_note(r->payload, r->len);
}

static void seal_genuine(unsigned share, uint8_t out[SELLO_SUBMIT_LEN])
{
    fx_seal_submission(fx_shares[share], out);
    if (view.nsealed < MAX_STEPS) {
        memcpy(view.sealed[view.nsealed], out, SELLO_SUBMIT_LEN);
        view.sealed_share[view.nsealed++] = (uint8_t)share;
    }
}

/* The share a raw submission genuinely is, or -1. */
static int genuine_share_of(const uint8_t *p, size_t len)
{
    if (len != SELLO_SUBMIT_LEN)
        return -1;
    for (unsigned i = 0; i < view.nsealed; i++)
        if (memcmp(view.sealed[i], p, len) == 0)
            return view.sealed_share[i];
    return -1;
}

static unsigned popcount(unsigned v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/*
 * Sends a submission (`share` >= 0: it is that share's genuine, unmodified
 * submission) and checks the state change it may make against `before`.
 */
static void submit(const uint8_t *p, size_t len, int share, uint8_t *state)
{
    if (share >= 0)
        view.genuine |= 1u << share;
    unsigned genuine = popcount(view.genuine);
    uint8_t purpose = view.purpose;
    fx_resp r = call(SELLO_OP_SESSION_SUBMIT, p, len);
    int done = r.status == SELLO_OK ? tlv_u8(&r, SELLO_SESS_DONE) : 0;
    if (r.status == SELLO_OK && share < 0)
        abort(); /* accepted something the fixture never sealed */
    if (done == 1)
        view.genuine = 0; /* the session is closed */
    uint8_t now = state_now();
    if (now != *state &&
        (share < 0 || done != 1 || genuine < FX_THRESHOLD))
        abort();
    if (done == 1 && purpose == SELLO_PURPOSE_ACTIVATE)
        must(now == SELLO_STATE_ACTIVE);
    if (done == 1 && purpose == SELLO_PURPOSE_DESTROY)
        must(now == SELLO_STATE_UNINITIALISED);
    *state = now;
}

/* ---- inputs -------------------------------------------------------------- */

static void restart(void)
{
    board_mem_restore(&pristine);
    board_mem_set_counter(pristine_counter);
    board_mem_set_ticks(pristine_ticks);
    board_mem_seed_entropy(0);
    must(sello_module_start(&mod) == SELLO_OK);
    memset(&view, 0, sizeof view);
    next_tag = 0x100;
    last_state = -1;
    must(state_now() == SELLO_STATE_READY);
}

/* genuine submission of `share` with `mut` XORed over it (see above) */
static size_t mutated(unsigned share, const uint8_t *mut, size_t mlen,
                      bool cut, uint8_t *out, size_t cap, bool *same)
{
    uint8_t sub[SELLO_SUBMIT_LEN];
    fx_seal_submission(fx_shares[share], sub);
    size_t len = cut ? (mlen < sizeof sub ? mlen : sizeof sub)
                     : (mlen > sizeof sub ? mlen : sizeof sub);
    if (len > cap)
        len = cap;
    *same = len == sizeof sub;
    for (size_t i = 0; i < len; i++) {
        uint8_t base = i < sizeof sub ? sub[i] : 0;
        uint8_t x = i < mlen ? mut[i] : 0;
        out[i] = base ^ x;
        if (x)
            *same = false;
    }
    if (*same) {
        /* exactly the genuine submission */
        if (view.nsealed < MAX_STEPS) {
            memcpy(view.sealed[view.nsealed], sub, sizeof sub);
            view.sealed_share[view.nsealed++] = (uint8_t)share;
        }
    }
    return len;
}

static uint8_t buf[SELLO_PAYLOAD_MAX];

/* One operation other than a fixture-sealed submission. */
static void operation(uint8_t op, const uint8_t *pl, size_t len,
                      uint8_t *state)
{
    uint8_t before = *state;
    if (op == SELLO_OP_SESSION_SUBMIT) {
        submit(pl, len, genuine_share_of(pl, len), state);
        return;
    }
    fx_resp r = call(op, pl, len);
    if (op == SELLO_OP_SESSION_OPEN && r.status == SELLO_OK)
        note_open(&r);
    if (op == SELLO_OP_DEACTIVATE && r.status == SELLO_OK)
        view.genuine = 0; /* the session is ended */
    *state = state_now();
    /* Only a quorum unlocks or destroys the key; DEACTIVATE locks it, and
     * INIT makes a new unit where there is none (after a DESTROY). */
    must(*state == before ||
         (op == SELLO_OP_DEACTIVATE && r.status == SELLO_OK &&
          before == SELLO_STATE_ACTIVE && *state == SELLO_STATE_READY) ||
         (op == SELLO_OP_INIT && r.status == SELLO_OK &&
          before == SELLO_STATE_UNINITIALISED &&
          *state == SELLO_STATE_INITIALISED));
}

static void script(const uint8_t *p, size_t size)
{
    uint8_t state = SELLO_STATE_READY;
    for (unsigned step = 0; step < MAX_STEPS && size >= 3; step++) {
        uint8_t sel = p[0];
        size_t len = sello_get_be16(p + 1);
        p += 3;
        size -= 3;
        if (len > size)
            len = size;
        const uint8_t *pl = p;
        p += len;
        size -= len;
        unsigned share = ((sel >> 3) & 3) % 3;
        switch (sel & 7) {
        case 0:
            operation(SELLO_OP_SESSION_OPEN, pl, len, &state);
            break;
        case 1:
            operation(SELLO_OP_SESSION_SUBMIT, pl, len, &state);
            break;
        case 2:
            operation(SELLO_OP_STATUS, pl, len, &state);
            break;
        case 3:
            operation(SELLO_OP_DEACTIVATE, pl, len, &state);
            break;
        case 4: {
            bool same;
            size_t n = mutated(share, pl, len, sel & 0x20, buf, sizeof buf,
                               &same);
            submit(buf, n, same ? (int)share : -1, &state);
            break;
        }
        case 5:
            board_mem_advance_ms(
                1000ull * (len >= 2 ? sello_get_be16(pl) : len ? pl[0] : 1));
            must(state_now() == state);
            break;
        case 6: {
            uint8_t sub[SELLO_SUBMIT_LEN];
            seal_genuine(share, sub);
            submit(sub, sizeof sub, (int)share, &state);
            break;
        }
        default:
            if (len)
                operation(pl[0], pl + 1, len - 1, &state);
            break;
        }
    }
}

static void mutation(const uint8_t *mut, size_t mlen, bool cut)
{
    fx_resp r = fx_session_open(&mod, SELLO_PURPOSE_ACTIVATE,
                                SELLO_SESSION_OPEN_NEW);
    must(r.header_ok && r.status == SELLO_OK);
    note_open(&r);
    uint8_t state = SELLO_STATE_READY;
    uint8_t sub[SELLO_SUBMIT_LEN];
    seal_genuine(2, sub);
    submit(sub, sizeof sub, 2, &state);
    must(state == SELLO_STATE_READY);
    bool same;
    size_t n = mutated(1, mut, mlen, cut, buf, sizeof buf, &same);
    submit(buf, n, same ? 1 : -1, &state);
    must(same ? state == SELLO_STATE_ACTIVE : state == SELLO_STATE_READY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    restart();
    if (data[0] & 1)
        mutation(data + 1, size - 1, data[0] & 2);
    else
        script(data + 1, size - 1);
    return 0;
}
