/*
 * The module: its one context, start-up, and the dispatch of ABI frames.
 * Entry points documented in <sello/module.h>; the ABI in <sello/abi.h>.
 */
#include <sello/abi.h>
#include <sello/board.h>
#include <sello/module.h>

#include "audit.h"
#include "box.h"
#include "clock.h"
#include "counters.h"
#include "csr.h"
#include "custody.h"
#include "engine.h"
#include "hash.h"
#include "nv.h"
#include "runtime.h"
#include "signer.h"
#include "token.h"
#include "tsp.h"
#include "unit.h"

#define SELLO_FW_VERSION "sello-fw 0.2.0"

/* Earliest and latest UTC the host may set: 2020-01-01, 9999-12-31. */
#define CLOCK_MIN_MS 1577836800000ull
#define CLOCK_MAX_MS 253402300799000ull

/*
 * Life cycle (the ABI state is derived, see state_of): a unit record makes
 * the unit initialised, a loaded certificate makes it certified, and the
 * quorum (or the ceremony itself, until the certificate is loaded) unlocks
 * the key. `failed` is the error state: a start-up or storage failure
 * after which the module answers only STATUS and refuses everything else.
 */
typedef struct {
    bool failed;
    bool initialised;
    bool unlocked;
    bool simulation;
    sello_unit_config cfg;
    uint8_t spki[SELLO_SPKI_MAX];
    size_t spki_len;
    sello_custody custody;
    sello_custody_keys custody_keys;
    sello_key key;
    const sello_hash_info *sig_hash;
    sello_signer signer;
    br_hmac_drbg_context drbg;
    sello_clock clock;
    sello_counters counters;
    sello_session session;
    sello_audit audit;
    uint8_t clock_noted;        /* SELLO_CLOCK_WHY_* last recorded, +1 */
    uint64_t locked_until;      /* ticks; meaningful while counters.locked */
    uint64_t tokens;
    union {
        uint8_t token[SELLO_TOKEN_SCRATCH_SIZE];
        uint8_t unit_record[SELLO_UNIT_RECORD_MAX];
        uint8_t certs[SELLO_CERTS_MAX];
        uint8_t csr[SELLO_CSR_SCRATCH];
        uint8_t spki[SELLO_SPKI_MAX];
    } work;
    /* INIT's custodian keys: apart from `work`, which the ceremony uses
     * for other things while it still needs them. */
    sello_custodian_keys custodians;
    /* The unwrapped key secret, only between unwrapping and use. */
    uint8_t key_secret[SELLO_KEY_SECRET_MAX];
    uint8_t req_frame[SELLO_FRAME_MAX];
    uint8_t resp_frame[SELLO_FRAME_MAX];
} module_ctx;

_Static_assert(sizeof(module_ctx) <= SELLO_MODULE_CONTEXT_SIZE,
               "SELLO_MODULE_CONTEXT_SIZE is too small for the module");
_Static_assert(_Alignof(module_ctx) <= 16, "module context alignment");

static module_ctx *ctx_of(sello_module_storage *m)
{
    return (module_ctx *)(void *)m->opaque;
}

/* One answer under construction. */
typedef struct {
    uint8_t *out;     /* payload area */
    size_t cap;
    size_t len;
    uint8_t flags;
    const char *why;  /* reason for a non-OK status */
} reply;

/* ---- start-up ------------------------------------------------------------ */

/* SHA-256("abc") from FIPS 180-2, so a broken hash never signs anything. */
static bool hash_self_test(void)
{
    static const uint8_t expect[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
    };
    uint8_t got[32];
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), "abc", 3, got);
    return sello_memcmp(got, expect, sizeof got) == 0;
}

static uint8_t state_of(const module_ctx *c)
{
    if (c->failed)
        return SELLO_STATE_ERROR;
    if (!c->initialised)
        return SELLO_STATE_UNINITIALISED;
    if (!c->signer.loaded)
        return SELLO_STATE_INITIALISED;
    return c->unlocked ? SELLO_STATE_ACTIVE : SELLO_STATE_READY;
}

static uint64_t ticks_after_s(uint64_t now, uint32_t seconds)
{
    return now + (uint64_t)seconds * sello_board_tick_hz();
}

/* ---- audit -------------------------------------------------------------- */

/* Module time for a record: 0 while uncalibrated. */
static uint64_t audit_time(module_ctx *c)
{
    if (!c->clock.calibrated)
        return 0;
    int64_t us = sello_clock_utc_us(&c->clock, sello_board_ticks());
    return us > 0 ? (uint64_t)us / 1000u : 0;
}

/* Signs a checkpoint of the chain and hands it to the counters record,
 * whose next write saves it (*out: to commit once that succeeded). */
static sello_status audit_checkpoint(module_ctx *c, sello_audit_saved *out)
{
    SELLO_TRY(sello_audit_checkpoint(&c->audit, audit_time(c), out));
    c->counters.audit = *out;
    return SELLO_OK;
}

/* Writes the counters record, with a fresh checkpoint of the chain. */
static sello_status save_counters(module_ctx *c)
{
    sello_audit_saved saved;
    SELLO_TRY(audit_checkpoint(c, &saved));
    SELLO_TRY(sello_counters_persist(&c->counters));
    sello_audit_commit(&c->audit, &saved);
    return SELLO_OK;
}

/* Records an event (body in two parts), saving a checkpoint first when
 * the reserved sequence numbers run out. */
static sello_status record2(module_ctx *c, uint8_t type, const void *b1,
                            size_t l1, const void *b2, size_t l2)
{
    /* A module in the error state adds nothing it could not save. */
    if (c->failed)
        return SELLO_ERR_STATE;
    if (sello_audit_needs_save(&c->audit))
        SELLO_TRY(save_counters(c));
    return sello_audit_add2(&c->audit, type, audit_time(c), b1, l1, b2, l2);
}

static sello_status record(module_ctx *c, uint8_t type, const void *body,
                           size_t len)
{
    return record2(c, type, body, len, NULL, 0);
}

/* Records a failure worth an auditor's eye (self-tests, storage): the
 * status and why. Best effort: the failure itself is what is reported. */
static void record_error(module_ctx *c, sello_status st, const char *why)
{
    uint8_t code = (uint8_t)st;
    size_t n = 0;
    while (why[n] && n < 120)
        n++;
    (void)(record2(c, SELLO_AUDIT_ERROR, &code, 1, why, n) == SELLO_OK);
}

/* Records the clock's state when it changed since last recorded; state
 * changes also happen by themselves (drift), so every path that looks at
 * the clock calls this. */
static sello_status note_clock(module_ctx *c, sello_clock_why why)
{
    if (c->clock_noted == why + 1u || c->failed)
        return SELLO_OK;
    uint8_t body[2] = { why == SELLO_CLOCK_WHY_NONE
                            ? SELLO_CLOCK_SYNCHRONISED
                        : why == SELLO_CLOCK_WHY_UNCALIBRATED
                            ? SELLO_CLOCK_UNCALIBRATED
                            : SELLO_CLOCK_UNSYNCHRONISED,
                        why };
    SELLO_TRY(record(c, SELLO_AUDIT_CLOCK, body, sizeof body));
    c->clock_noted = (uint8_t)(why + 1u);
    return SELLO_OK;
}

/*
 * The loaded key must be the one whose public half was stored beside it,
 * and must sign and verify: catches a damaged record, a wrong quorum or a
 * faulty engine or token before any token depends on it.
 */
static sello_status key_self_test(module_ctx *c)
{
    sello_der_writer w;
    sello_derw_init(&w, c->work.spki, sizeof c->work.spki);
    sello_key_write_spki(&c->key, &w);
    if (!sello_derw_ok(&w) || sello_derw_len(&w) != c->spki_len ||
        sello_memcmp(w.p, c->spki, c->spki_len) != 0)
        return SELLO_ERR_SELFTEST;
    static const char probe[] = "sello pairwise consistency test";
    uint8_t digest[SELLO_HASH_MAX_LEN], sig[SELLO_SIG_MAX];
    size_t sig_len;
    sello_hash(c->sig_hash, probe, sizeof probe - 1, digest);
    SELLO_TRY(sello_key_sign(&c->key, c->sig_hash, digest, sig, sizeof sig,
                             &sig_len));
    return sello_key_verify(&c->key, c->sig_hash, digest, sig, sig_len)
               ? SELLO_OK
               : SELLO_ERR_SELFTEST;
}

/* Forgets the unlocked key: wiped from memory, token logged out. */
static void lock_key(module_ctx *c)
{
    if (c->unlocked && c->cfg.engine == SELLO_ENGINE_TOKEN) {
        /* Nothing better to do if the token refuses: the key is forgotten
         * here either way, and the next login needs the quorum again. */
        sello_status ignored = sello_board_token_logout();
        (void)ignored;
    }
    sello_key_wipe(&c->key);
    c->unlocked = false;
}

/*
 * Unlocks the key from its unwrapped secret (the private key, or the
 * token's user PIN followed by its SO PIN) and tests it.
 */
static sello_status unlock_key(module_ctx *c, const uint8_t *secret,
                               size_t len)
{
    sello_status st;
    if (c->cfg.engine == SELLO_ENGINE_TOKEN) {
        if (len != 2 * SELLO_TOKEN_PIN_LEN)
            return SELLO_ERR_STORAGE;
        st = sello_board_token_login(secret, SELLO_TOKEN_PIN_LEN);
        if (st == SELLO_OK) {
            c->unlocked = true; /* logged in: lock_key must log out */
            st = sello_key_use_token(&c->key, c->cfg.key_type,
                                     c->cfg.token_id, c->spki, c->spki_len);
        }
    } else {
        st = sello_key_import_private(&c->key, c->cfg.key_type, secret, len);
        c->unlocked = st == SELLO_OK;
    }
    if (st == SELLO_OK)
        st = key_self_test(c);
    if (st != SELLO_OK)
        lock_key(c);
    return st;
}

static sello_status load_signer(module_ctx *c, const char **why)
{
    size_t len;
    sello_status st = sello_board_nv_read(SELLO_NV_CERTS, c->work.certs,
                                          sizeof c->work.certs, &len);
    if (st != SELLO_OK)
        return st;
    return sello_signer_prepare(&c->signer, &c->cfg, c->spki, c->spki_len,
                                c->work.certs, len, why);
}

/* The binding of shares to this unit: its key, ceremony and custody. */
static void set_custody(module_ctx *c)
{
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), c->spki, c->spki_len,
               c->custody.unit_id);
    c->custody.generation = c->cfg.generation;
    c->custody.m = c->cfg.threshold;
    c->custody.n = c->cfg.custodians;
}

/* Forgets the unit (after DESTROY, or a record of a destroyed ceremony
 * found at start): its records go, its counters stay. */
static sello_status erase_unit(module_ctx *c)
{
    lock_key(c);
    sello_session_close(&c->session);
    SELLO_TRY(sello_board_nv_erase(SELLO_NV_CERTS));
    SELLO_TRY(sello_board_nv_erase(SELLO_NV_UNIT));
    sello_memset(&c->signer, 0, sizeof c->signer);
    sello_memset(&c->cfg, 0, sizeof c->cfg);
    sello_memset(&c->custody, 0, sizeof c->custody);
    c->spki_len = 0;
    c->initialised = false;
    return SELLO_OK;
}

/* The clock model with the unit's configuration (defaults before INIT). */
static void clock_init(module_ctx *c)
{
    sello_clock_init(&c->clock, sello_board_tick_hz(),
                     sello_board_tick_drift_ppm(),
                     c->cfg.accuracy_ms ? c->cfg.accuracy_ms : 1000u,
                     c->cfg.slew_ppm ? c->cfg.slew_ppm : 100u,
                     c->cfg.max_obs_age_s);
}

static sello_status start(module_ctx *c)
{
    c->simulation = sello_board_is_simulation();
    if (!hash_self_test())
        return SELLO_ERR_SELFTEST;

    uint8_t seed[48];
    SELLO_TRY(sello_board_entropy(seed, sizeof seed));
    br_hmac_drbg_init(&c->drbg, &br_sha256_vtable, seed, sizeof seed);
    sello_wipe(seed, sizeof seed);
    SELLO_TRY(sello_custody_keys_derive(&c->custody_keys));

    bool rolled_back;
    sello_status counters = sello_counters_load(&c->counters, &rolled_back);
    if (counters != SELLO_OK && counters != SELLO_ERR_NOT_FOUND)
        return counters;
    if (rolled_back)
        /* Whoever restored old records may also have reset the failure
         * count: start locked out, as after too many failures. */
        c->counters.locked = true;

    sello_status st = sello_unit_load(&c->cfg, c->spki, &c->spki_len,
                                      c->work.unit_record);
    if (st == SELLO_OK) {
        /* A unit with a key always has a counters record (INIT writes it
         * first): without one, counting from 1 again could repeat serials. */
        if (counters != SELLO_OK)
            return SELLO_ERR_STORAGE;
        if (c->cfg.generation < c->counters.generation) {
            /* A destroyed ceremony's record: finish destroying it. */
            SELLO_TRY(erase_unit(c));
        } else if (c->cfg.generation > c->counters.generation) {
            if (!rolled_back)
                return SELLO_ERR_STORAGE;
            c->counters.generation = c->cfg.generation;
            c->initialised = true;
        } else {
            c->initialised = true;
        }
    } else if (st != SELLO_ERR_NOT_FOUND) {
        return st;
    }
    /* The chain goes on from the saved checkpoint; the restart record says
     * whether the records were found rolled back, and carries the audit
     * key so the log describes itself. */
    SELLO_TRY(sello_audit_init(&c->audit));
    /* After a restore, skip every number the lost records could have
     * used: at most a reservation per board counter step. */
    uint64_t skip = c->counters.rollback_steps * (SELLO_AUDIT_SEQ_BLOCK + 2);
    SELLO_TRY(sello_audit_resume(&c->audit,
                                 c->counters.audit.seq_end ? &c->counters.audit
                                                           : NULL,
                                 skip, rolled_back ? 1 : 0));
    /* A fresh block of sequence numbers (and the doubt of a rollback, the
     * lockout it brings, and the generation, saved at once). */
    SELLO_TRY(save_counters(c));
    if (c->counters.locked)
        c->locked_until = ticks_after_s(sello_board_ticks(),
                                        c->cfg.lockout_s ? c->cfg.lockout_s
                                                         : 900u);
    clock_init(c);
    if (!c->initialised)
        return SELLO_OK;

    c->sig_hash = sello_sig_hash_for(c->cfg.key_type, c->cfg.sig_hash);
    if (!c->sig_hash)
        return SELLO_ERR_STORAGE;
    set_custody(c);
    const char *why;
    st = load_signer(c, &why);
    return st == SELLO_ERR_NOT_FOUND ? SELLO_OK : st;
}

sello_status sello_module_start(sello_module_storage *m)
{
    module_ctx *c = ctx_of(m);
    sello_memset(c, 0, sizeof *c);
    sello_status st = start(c);
    if (st != SELLO_OK) {
        lock_key(c);
        c->failed = true;
    }
    return st;
}

/* ---- operations ---------------------------------------------------------- */

/* Seconds of lockout left, clearing an expired lockout (durably). */
static sello_status lockout_left(module_ctx *c, uint32_t *left)
{
    *left = 0;
    if (!c->counters.locked)
        return SELLO_OK;
    uint64_t now = sello_board_ticks();
    if (now >= c->locked_until) {
        c->counters.locked = false;
        c->counters.failures = 0;
        return save_counters(c);
    }
    uint64_t hz = sello_board_tick_hz();
    *left = (uint32_t)((c->locked_until - now + hz - 1) / hz);
    if (*left == 0)
        *left = 1;
    return SELLO_OK;
}

static uint8_t clock_state(sello_clock_why why)
{
    return why == SELLO_CLOCK_WHY_NONE           ? SELLO_CLOCK_SYNCHRONISED
           : why == SELLO_CLOCK_WHY_UNCALIBRATED ? SELLO_CLOCK_UNCALIBRATED
                                                 : SELLO_CLOCK_UNSYNCHRONISED;
}

static void put_clock_status(module_ctx *c, sello_tlv_writer *w)
{
    uint64_t ticks = sello_board_ticks(), hz = sello_board_tick_hz();
    sello_clock *k = &c->clock;
    sello_clock_why why = sello_clock_why_not(k, ticks);
    /* (STATUS still answers when the buffer is full) */
    sello_status noted = note_clock(c, why);
    (void)noted;
    sello_tlv_put_u8(w, SELLO_ST_CLOCK, clock_state(why));
    sello_tlv_put_u8(w, SELLO_ST_CLOCK_WHY, (uint8_t)why);
    sello_tlv_put_u32(w, SELLO_ST_SLEW_PPM, k->slew_ppm);
    sello_tlv_put_u32(w, SELLO_ST_DRIFT_PPM, k->drift_ppm);
    if (!k->calibrated)
        return;
    int64_t utc = sello_clock_utc_us(k, ticks);
    if (utc >= 0)
        sello_tlv_put_u64(w, SELLO_ST_UTC_MS, (uint64_t)utc / 1000u);
    sello_tlv_put_u64(w, SELLO_ST_CLOCK_ERROR_US,
                      sello_clock_error_us(k, ticks));
    sello_tlv_put_u32(w, SELLO_ST_SYNC_LEFT_S,
                      sello_clock_sync_left_s(k, ticks));
    if (k->observed) {
        sello_tlv_put_u64(w, SELLO_ST_OBS_OFFSET_US,
                          (uint64_t)k->last_offset_us);
        sello_tlv_put_u64(w, SELLO_ST_OBS_AGE_MS,
                          (ticks - k->last_obs_ticks) / (hz / 1000u ? hz / 1000u : 1u));
    }
    if (k->leap_sign) {
        uint8_t leap[9];
        sello_put_be64(leap, (uint64_t)k->leap_us);
        leap[8] = k->leap_sign > 0 ? 1 : 2;
        sello_tlv_put(w, SELLO_ST_LEAP_US, leap, sizeof leap);
    }
}

static sello_status op_status(module_ctx *c, reply *r)
{
    uint8_t state = state_of(c);
    sello_tlv_writer w = { r->out, r->cap, 0, 0 };
    sello_tlv_put_u8(&w, SELLO_ST_STATE, state);
    sello_tlv_put(&w, SELLO_ST_FW_VERSION, SELLO_FW_VERSION,
                  sizeof SELLO_FW_VERSION - 1);
    sello_tlv_put_u8(&w, SELLO_ST_SIMULATION, c->simulation);
    if (c->initialised) {
        sello_tlv_put_u8(&w, SELLO_ST_KEY_TYPE, c->cfg.key_type);
        if (c->sig_hash)
            sello_tlv_put_u8(&w, SELLO_ST_SIG_HASH, (uint8_t)c->sig_hash->id);
        sello_tlv_put(&w, SELLO_ST_POLICY, c->cfg.policy, c->cfg.policy_len);
        sello_tlv_put_u32(&w, SELLO_ST_ACCURACY_MS, c->cfg.accuracy_ms);
        sello_tlv_put_u32(&w, SELLO_ST_HASHES, c->cfg.hashes);
        sello_tlv_put_u8(&w, SELLO_ST_QUALIFIED, c->cfg.qualified);
        sello_tlv_put_u32(&w, SELLO_ST_INSTANCE, c->cfg.instance);
        sello_tlv_put_u8(&w, SELLO_ST_THRESHOLD, c->cfg.threshold);
        sello_tlv_put_u8(&w, SELLO_ST_CUSTODIANS, c->cfg.custodians);
        sello_tlv_put(&w, SELLO_ST_UNIT_ID, c->custody.unit_id,
                      sizeof c->custody.unit_id);
        sello_tlv_put_u8(&w, SELLO_ST_ENGINE, c->cfg.engine);
        sello_tlv_put_u32(&w, SELLO_ST_GENERATION, c->cfg.generation);
        sello_tlv_put_u8(&w, SELLO_ST_UNLOCKED, c->unlocked);
        sello_tlv_put_u8(&w, SELLO_ST_TEST_UNIT, c->cfg.test_unit);
    }
    if (c->signer.loaded) {
        uint64_t end = c->signer.usage_not_after < c->signer.not_after
                           ? c->signer.usage_not_after
                           : c->signer.not_after;
        sello_tlv_put_u64(&w, SELLO_ST_USAGE_NOT_AFTER, end);
    }
    sello_tlv_put_u8(&w, SELLO_ST_FAILURES, c->counters.failures);
    uint32_t left;
    if (lockout_left(c, &left) == SELLO_OK && left)
        sello_tlv_put_u32(&w, SELLO_ST_LOCKED_S, left);
    if (c->session.open && sello_board_ticks() < c->session.expires) {
        sello_tlv_put_u8(&w, SELLO_ST_SESSION, c->session.purpose);
        sello_tlv_put_u8(&w, SELLO_ST_SESSION_ACCEPTED,
                         (uint8_t)c->session.count);
    }
    sello_tlv_put_u8(&w, SELLO_ST_TIME_DOUBT, c->counters.time_doubt);
    sello_tlv_put_u64(&w, SELLO_ST_NEXT_SERIAL, c->counters.next);
    sello_tlv_put_u64(&w, SELLO_ST_TOKENS, c->tokens);
    put_clock_status(c, &w);
    sello_tlv_put_u64(&w, SELLO_ST_AUDIT_SEQ, c->audit.next_seq - 1);
    sello_tlv_put(&w, SELLO_ST_AUDIT_HEAD, c->audit.head, 32);
    sello_tlv_put_u32(&w, SELLO_ST_AUDIT_PENDING, (uint32_t)c->audit.len);
    sello_tlv_put(&w, SELLO_ST_AUDIT_KEY, c->audit.key_spki,
                  sizeof c->audit.key_spki);
    if (w.overflow)
        return SELLO_ERR_SPACE;
    r->len = w.len;
    return SELLO_OK;
}

static void stamp_reject(reply *r, sello_tsp_fail fail, const char *why)
{
    r->len = sello_token_write_rejection(fail, why, r->out, r->cap);
}

/* Why the key may not sign at UTC `now_ms`, or NULL when it may. The
 * certificate's validity and the key's usage period are both inclusive
 * (RFC 5280). */
static const char *key_life_refusal(const sello_signer *s, uint64_t now_ms)
{
    if (now_ms < s->not_before * 1000)
        return "TSU certificate is not yet valid";
    if (now_ms > s->not_after * 1000)
        return "TSU certificate has expired";
    if (now_ms < s->usage_not_before * 1000)
        return "private key usage period has not begun";
    if (now_ms > s->usage_not_after * 1000)
        return "private key usage period has ended";
    return NULL;
}

/* The status string of a timeNotAvailable rejection. */
static const char *clock_refusal(sello_clock_why why)
{
    switch (why) {
    case SELLO_CLOCK_WHY_UNCALIBRATED:
        return "clock is not calibrated: custodians must calibrate it";
    case SELLO_CLOCK_WHY_ERROR:
        return "clock error bound exceeds the declared accuracy: no recent "
               "agreeing time observation";
    case SELLO_CLOCK_WHY_DISAGREE:
        return "clock disagrees with the time reference beyond the declared "
               "accuracy";
    case SELLO_CLOCK_WHY_STALE:
        return "no time observation within the maximum age";
    case SELLO_CLOCK_WHY_LEAP:
        return "paused across a leap second";
    case SELLO_CLOCK_WHY_BEHIND:
        return "clock is behind time already issued";
    default:
        return "clock is not available";
    }
}

/* Always answers with a TimeStampResp; only the frame status is OK. */
static sello_status op_stamp(module_ctx *c, const uint8_t *in, size_t in_len,
                             reply *r)
{
    /* Garbage is garbage in every state; policy only means something once
     * the unit is configured and active. */
    sello_tsp_request req;
    sello_tsp_verdict v = sello_tsp_decode_request(in, in_len, &c->cfg, &req);
    if (v.malformed) {
        r->flags |= SELLO_RESP_FLAG_MALFORMED_REQUEST;
        stamp_reject(r, v.fail, v.why);
        return SELLO_OK;
    }
    if (state_of(c) != SELLO_STATE_ACTIVE) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE,
                     state_of(c) == SELLO_STATE_READY
                         ? "unit is not active: custodians must activate it"
                         : "unit is not active");
        return SELLO_OK;
    }
    if (c->counters.time_doubt) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE,
                     "module records were rolled back: custodians must "
                     "recalibrate the clock");
        return SELLO_OK;
    }
    if (!v.accepted) {
        stamp_reject(r, v.fail, v.why);
        return SELLO_OK;
    }
    uint64_t now, ticks = sello_board_ticks();
    sello_clock_why why = SELLO_CLOCK_WHY_NONE;
    /* A refusal stands whether or not the clock's change can be recorded
     * now; an unrecorded change is recorded at the next look. */
    if (sello_clock_now(&c->clock, ticks, &now) != SELLO_OK) {
        why = sello_clock_why_not(&c->clock, ticks);
        (void)(note_clock(c, why) == SELLO_OK);
        stamp_reject(r, SELLO_TSP_FAIL_TIME_NOT_AVAILABLE, clock_refusal(why));
        return SELLO_OK;
    }
    const char *refusal = key_life_refusal(&c->signer, now);
    if (refusal) {
        (void)(note_clock(c, why) == SELLO_OK);
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, refusal);
        return SELLO_OK;
    }
    /* A new reservation saves the chain's position with it; so does a
     * chain that ran out of reserved sequence numbers. The checkpoint
     * comes before this request's other records: a power cut after the
     * save must not lose records the saved checkpoint depends on. */
    if (sello_audit_needs_save(&c->audit) && save_counters(c) != SELLO_OK) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, "audit checkpoint failed");
        return SELLO_OK;
    }
    sello_audit_saved saved;
    bool saving = sello_counters_write_due(&c->counters, now);
    if (saving && audit_checkpoint(c, &saved) != SELLO_OK) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, "audit checkpoint failed");
        return SELLO_OK;
    }
    if (note_clock(c, why) != SELLO_OK) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, "audit record failed");
        return SELLO_OK;
    }
    uint64_t counter;
    sello_status st = sello_counters_take_serial(&c->counters, now, &counter);
    if (saving && st == SELLO_OK)
        sello_audit_commit(&c->audit, &saved);
    if (st == SELLO_ERR_CLOCK) {
        stamp_reject(r, SELLO_TSP_FAIL_TIME_NOT_AVAILABLE,
                     "clock is behind time already issued; retry shortly");
        return SELLO_OK;
    }
    if (st != SELLO_OK) {
        record_error(c, st, "serial reservation failed");
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, "serial reservation failed");
        return SELLO_OK;
    }
    uint8_t serial[12];
    sello_serial_magnitude(c->cfg.instance, counter, serial);
    sello_token_issuer t = { &c->cfg, &c->signer, &c->key, c->sig_hash,
                       c->work.token };
    if (sello_token_write_granted(&t, &req, serial, now, r->out, r->cap, &r->len) !=
        SELLO_OK) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, "token encoding failed");
        return SELLO_OK;
    }
    /* No token leaves without its record in the chain. */
    uint8_t body[12 + 32];
    sello_memcpy(body, serial, 12);
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), r->out, r->len, body + 12);
    if (sello_audit_needs_save(&c->audit) ||
        sello_audit_add(&c->audit, SELLO_AUDIT_TOKEN, now, body,
                        sizeof body) != SELLO_OK) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, "audit record failed");
        return SELLO_OK;
    }
    c->tokens++;
    return SELLO_OK;
}

static sello_status op_get_certs(module_ctx *c, reply *r)
{
    if (!c->signer.loaded) {
        r->why = "no certificate loaded";
        return SELLO_ERR_STATE;
    }
    return sello_board_nv_read(SELLO_NV_CERTS, r->out, r->cap, &r->len);
}

/* Each custodian key must be a usable X25519 key: sealing to a low-order
 * point would give every observer the share. Checked before anything of
 * the ceremony happens. */
static sello_status check_custodian_keys(module_ctx *c,
                                         const sello_custodian_keys *keys)
{
    const br_prng_class **rng = &c->drbg.vtable;
    for (unsigned i = 0; i < keys->count; i++) {
        uint8_t eph[32], probe[SELLO_BOX_OVERHEAD];
        (*rng)->generate(rng, eph, sizeof eph);
        sello_status st = sello_box_seal(eph, &keys->key[i], 1, NULL, 0,
                                         SELLO_BOX_LABEL_SHARE, NULL, 0,
                                         NULL, 0, probe);
        sello_wipe(eph, sizeof eph);
        if (st != SELLO_OK)
            return st;
    }
    return SELLO_OK;
}

/* Generates the key per the configuration and leaves its secret (private
 * key, or token PINs) in c->key_secret. */
static sello_status generate_key(module_ctx *c, size_t *secret_len,
                                 const char **why)
{
    const br_prng_class **rng = &c->drbg.vtable;
    sello_status st;
    if (c->cfg.engine == SELLO_ENGINE_TOKEN) {
        uint8_t *user_pin = c->key_secret;
        uint8_t *so_pin = c->key_secret + SELLO_TOKEN_PIN_LEN;
        (*rng)->generate(rng, c->key_secret, 2 * SELLO_TOKEN_PIN_LEN);
        (*rng)->generate(rng, c->cfg.token_id, sizeof c->cfg.token_id);
        *secret_len = 2 * SELLO_TOKEN_PIN_LEN;
        st = sello_board_token_take_over(user_pin, SELLO_TOKEN_PIN_LEN, so_pin,
                                         SELLO_TOKEN_PIN_LEN);
        if (st != SELLO_OK) {
            *why = "taking over the key token failed";
            return st;
        }
        st = sello_board_token_login(user_pin, SELLO_TOKEN_PIN_LEN);
        if (st != SELLO_OK) {
            *why = "logging in to the key token failed";
            return st;
        }
        c->unlocked = true;
        st = sello_board_token_generate(c->cfg.key_type, c->cfg.token_id,
                                        sizeof c->cfg.token_id, c->spki,
                                        sizeof c->spki, &c->spki_len);
        if (st == SELLO_OK)
            st = sello_key_use_token(&c->key, c->cfg.key_type,
                                     c->cfg.token_id, c->spki, c->spki_len);
        if (st != SELLO_OK)
            *why = "key generation in the token failed";
        return st;
    }
    st = sello_key_generate(&c->key, c->cfg.key_type, rng);
    if (st != SELLO_OK) {
        *why = "key generation failed";
        return st;
    }
    c->unlocked = true;
    sello_der_writer w;
    sello_derw_init(&w, c->spki, sizeof c->spki);
    sello_key_write_spki(&c->key, &w);
    if (!sello_derw_to_front(&w, &c->spki_len))
        return SELLO_ERR_SPACE;
    return sello_key_export_private(&c->key, c->key_secret,
                                    sizeof c->key_secret, secret_len);
}

/*
 * Splits k and writes the INIT reply: SPKI, unit id, one share box per
 * custodian.
 */
static sello_status write_ceremony_reply(module_ctx *c,
                                         const sello_custodian_keys *keys,
                                         const uint8_t k[32], reply *r)
{
    const br_prng_class **rng = &c->drbg.vtable;
    sello_shamir_share shares[SELLO_SHAMIR_MAX_N];
    SELLO_TRY(sello_shamir_split(k, c->cfg.threshold, c->cfg.custodians, rng,
                                 shares));
    sello_tlv_writer w = { r->out, r->cap, 0, 0 };
    sello_tlv_put(&w, SELLO_INITR_SPKI, c->spki, c->spki_len);
    sello_tlv_put(&w, SELLO_INITR_UNIT_ID, c->custody.unit_id,
                  sizeof c->custody.unit_id);
    sello_status st = SELLO_OK;
    for (unsigned i = 0; i < c->cfg.custodians && st == SELLO_OK; i++) {
        uint8_t plain[SELLO_SHARE_LEN], box[SELLO_SHARE_BOX_LEN], eph[32];
        sello_share_encode(&c->custody, &c->custody_keys, &shares[i], plain);
        (*rng)->generate(rng, eph, sizeof eph);
        st = sello_box_seal(eph, &keys->key[i], 1, NULL, 0,
                            SELLO_BOX_LABEL_SHARE, NULL, 0, plain,
                            sizeof plain, box);
        sello_tlv_put(&w, SELLO_INITR_SHARE, box, sizeof box);
        sello_wipe(plain, sizeof plain);
        sello_wipe(eph, sizeof eph);
    }
    sello_wipe(shares, sizeof shares);
    if (st == SELLO_OK && w.overflow)
        st = SELLO_ERR_SPACE;
    r->len = st == SELLO_OK ? w.len : 0;
    return st;
}

static sello_status op_init(module_ctx *c, const uint8_t *in, size_t in_len,
                            reply *r)
{
    if (c->initialised) {
        r->why = "unit already initialised";
        return SELLO_ERR_STATE;
    }
    sello_custodian_keys *keys = &c->custodians;
    sello_status st = sello_unit_config_parse(&c->cfg, keys, in, in_len,
                                              &r->why);
    if (st != SELLO_OK)
        goto fail;
    /* Before anything of the ceremony happens (no key, no record, no
     * audit record): a board whose entropy or secret storage is only
     * simulated must not make a unit anyone could take for production. */
    if (c->simulation && !c->cfg.test_unit) {
        r->why = "this board's entropy or secret storage is only simulated: "
                 "it makes test units only, so INIT must mark the unit as "
                 "one (SELLO_INIT_TEST_UNIT)";
        st = SELLO_ERR_TEST_ONLY;
        goto fail;
    }
    c->cfg.generation = c->counters.generation;
    st = check_custodian_keys(c, keys);
    if (st != SELLO_OK) {
        r->why = "a custodian key is not a usable X25519 public key";
        goto fail;
    }
    if (c->cfg.engine == SELLO_ENGINE_TOKEN && !sello_board_token_present()) {
        r->why = "this board has no key token";
        st = SELLO_ERR_PARAM;
        goto fail;
    }
    size_t secret_len = 0;
    st = generate_key(c, &secret_len, &r->why);
    if (st != SELLO_OK)
        goto fail;
    c->sig_hash = sello_sig_hash_for(c->cfg.key_type, c->cfg.sig_hash);
    st = key_self_test(c);
    if (st != SELLO_OK) {
        r->why = "the new key failed its self-test";
        goto fail;
    }
    set_custody(c);

    uint8_t k[SELLO_ACTIVATION_SECRET_LEN];
    const br_prng_class **rng = &c->drbg.vtable;
    (*rng)->generate(rng, k, sizeof k);
    st = write_ceremony_reply(c, keys, k, r);
    /* The counters record first: a crash before the unit record then
     * leaves an uninitialised unit, never a key without its counters. */
    if (st == SELLO_OK) {
        st = save_counters(c);
        if (st != SELLO_OK)
            r->why = "storing the counters record failed";
    }
    if (st == SELLO_OK) {
        st = sello_unit_save(&c->cfg, c->spki, c->spki_len, c->key_secret,
                             secret_len, k, rng, c->work.unit_record);
        if (st != SELLO_OK)
            r->why = "storing the unit record failed";
    }
    sello_wipe(k, sizeof k);
    sello_wipe(c->key_secret, sizeof c->key_secret);
    if (st != SELLO_OK)
        goto fail;
    c->initialised = true;
    clock_init(c);
    uint8_t body[8 + 32 + 1] = { c->cfg.key_type, c->cfg.engine,
                                 c->cfg.threshold, c->cfg.custodians };
    sello_put_be32(body + 4, c->cfg.generation);
    sello_memcpy(body + 8, c->custody.unit_id, 32);
    body[40] = c->cfg.test_unit;
    return record(c, SELLO_AUDIT_INIT, body, sizeof body);
fail:
    if (c->cfg.engine == SELLO_ENGINE_TOKEN && c->unlocked) {
        sello_status ignored = sello_board_token_destroy(
            c->cfg.token_id, sizeof c->cfg.token_id);
        (void)ignored;
    }
    lock_key(c);
    sello_wipe(c->key_secret, sizeof c->key_secret);
    sello_memset(&c->cfg, 0, sizeof c->cfg);
    c->spki_len = 0;
    r->len = 0;
    return st;
}

static sello_status op_get_csr(module_ctx *c, reply *r)
{
    if (!c->unlocked) {
        r->why = c->initialised ? "key is locked: activate it first"
                                : "unit has no key";
        return SELLO_ERR_STATE;
    }
    return sello_csr_write(&c->cfg, &c->key, c->sig_hash, c->work.csr, r->out,
                           r->cap, &r->len);
}

static sello_status op_load_cert(module_ctx *c, const uint8_t *in,
                                 size_t in_len, reply *r)
{
    if (!c->initialised || c->failed) {
        r->why = "unit has no key";
        return SELLO_ERR_STATE;
    }
    bool was_certified = c->signer.loaded;
    sello_status st = sello_signer_prepare(&c->signer, &c->cfg, c->spki,
                                           c->spki_len, in, in_len, &r->why);
    if (st == SELLO_OK) {
        st = sello_board_nv_write(SELLO_NV_CERTS, in, in_len);
        if (st == SELLO_OK) {
            /* Only the quorum makes a unit ACTIVE: the key the ceremony
             * left unlocked for the CSR is locked now. */
            if (!was_certified)
                lock_key(c);
            uint8_t digest[32];
            sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), in, in_len, digest);
            return record(c, SELLO_AUDIT_CERT, digest, sizeof digest);
        }
        r->why = "storing the certificate failed";
        record_error(c, st, r->why);
    }
    /* Keep serving with the certificate that was there before, if any. */
    const char *ignored;
    if (!was_certified) {
        sello_memset(&c->signer, 0, sizeof c->signer);
    } else if (load_signer(c, &ignored) != SELLO_OK) {
        lock_key(c);
        c->failed = true;
    }
    return st;
}

static sello_status op_deactivate(module_ctx *c, reply *r)
{
    if (!c->initialised) {
        r->why = "unit has no key";
        return SELLO_ERR_STATE;
    }
    lock_key(c);
    sello_session_close(&c->session);
    return record(c, SELLO_AUDIT_DEACTIVATE, NULL, 0);
}

static sello_status op_set_time(module_ctx *c, reply *r)
{
    (void)c;
    r->why = "the clock is calibrated only by the quorum: propose the time "
             "with SESSION_OPEN (ACTIVATE or RECALIBRATE)";
    return SELLO_ERR_STATE;
}

static sello_status op_time_observe(module_ctx *c, const uint8_t *in,
                                    size_t in_len, reply *r)
{
    if (in_len != 12) {
        r->why = "expected 8 octets of UTC microseconds and 4 of uncertainty";
        return SELLO_ERR_PARAM;
    }
    int64_t ref = (int64_t)sello_get_be64(in);
    uint32_t uncertainty = sello_get_be32(in + 8);
    if (ref < (int64_t)(CLOCK_MIN_MS * 1000u) ||
        ref > (int64_t)(CLOCK_MAX_MS * 1000u)) {
        r->why = "reference time out of range";
        return SELLO_ERR_PARAM;
    }
    uint64_t ticks = sello_board_ticks();
    sello_obs_verdict verdict;
    int64_t offset;
    if (sello_clock_observe(&c->clock, ref, uncertainty, ticks, &verdict,
                            &offset) != SELLO_OK) {
        r->why = "clock is not calibrated: custodians must calibrate it";
        return SELLO_ERR_STATE;
    }
    uint8_t body[13];
    body[0] = verdict;
    sello_put_be64(body + 1, (uint64_t)offset);
    sello_put_be32(body + 9, uncertainty);
    SELLO_TRY(record(c, SELLO_AUDIT_OBSERVE, body, sizeof body));
    sello_clock_why why = sello_clock_why_not(&c->clock, ticks);
    SELLO_TRY(note_clock(c, why));
    sello_tlv_writer w = { r->out, r->cap, 0, 0 };
    sello_tlv_put_u8(&w, SELLO_OBS_VERDICT, (uint8_t)verdict);
    sello_tlv_put_u64(&w, SELLO_OBS_OFFSET_US, (uint64_t)offset);
    sello_tlv_put_u8(&w, SELLO_OBS_CLOCK, clock_state(why));
    sello_tlv_put_u8(&w, SELLO_OBS_CLOCK_WHY, (uint8_t)why);
    r->len = w.len;
    return w.overflow ? SELLO_ERR_SPACE : SELLO_OK;
}

static void put_session(const module_ctx *c, sello_tlv_writer *w)
{
    const sello_session *s = &c->session;
    uint64_t now = sello_board_ticks(), hz = sello_board_tick_hz();
    sello_tlv_put(w, SELLO_SESS_ID, s->id, sizeof s->id);
    sello_tlv_put(w, SELLO_SESS_CHALLENGE, s->challenge, sizeof s->challenge);
    sello_tlv_put(w, SELLO_SESS_PUBKEY, s->pub, sizeof s->pub);
    sello_tlv_put_u32(w, SELLO_SESS_EXPIRES_S,
                      (uint32_t)((s->expires - now) / hz));
    sello_tlv_put_u8(w, SELLO_SESS_PURPOSE, s->purpose);
    sello_tlv_put_u8(w, SELLO_SESS_THRESHOLD, c->custody.m);
    sello_tlv_put_u8(w, SELLO_SESS_CUSTODIANS, c->custody.n);
    sello_tlv_put(w, SELLO_SESS_UNIT_ID, c->custody.unit_id,
                  sizeof c->custody.unit_id);
    sello_tlv_put_u8(w, SELLO_SESS_ACCEPTED, (uint8_t)s->count);
    if (s->has_proposal)
        sello_tlv_put(w, SELLO_SESS_PROPOSAL, s->proposal,
                      sizeof s->proposal);
    sello_tlv_put_u64(w, SELLO_SESS_AGE_MS,
                      (now - s->opened) / (hz / 1000u ? hz / 1000u : 1u));
}

/*
 * Why a proposal for `purpose` is unacceptable, or NULL. RECALIBRATE and
 * LEAP need one, DESTROY takes none, ACTIVATE may calibrate the clock in
 * the same quorum.
 */
static const char *proposal_refusal(module_ctx *c, uint8_t purpose,
                                    const uint8_t *p)
{
    if (purpose == SELLO_PURPOSE_DESTROY)
        return p ? "DESTROY takes no proposal" : NULL;
    if (!p)
        return purpose == SELLO_PURPOSE_ACTIVATE ? NULL
                                                 : "a proposal is required";
    uint64_t value = sello_get_be64(p);
    uint32_t param = sello_get_be32(p + 8);
    if (purpose != SELLO_PURPOSE_LEAP) {
        if (value < CLOCK_MIN_MS * 1000u || value > CLOCK_MAX_MS * 1000u)
            return "proposed time out of range";
        if (param > c->clock.accuracy_us)
            return "proposed time's uncertainty exceeds the declared accuracy";
        return NULL;
    }
    if (param == 0)
        return value == 0 ? NULL : "a cancellation proposes no instant";
    if (param > 2)
        return "leap second: 1 inserted or 2 deleted";
    if (!c->clock.calibrated)
        return "calibrate the clock before announcing a leap second";
    if (sello_clock_why_not(&c->clock, sello_board_ticks()) ==
        SELLO_CLOCK_WHY_LEAP)
        return "a leap second is under way";
    /* The first of a month at midnight, ahead, within 400 days. */
    int64_t now = sello_clock_utc_us(&c->clock, sello_board_ticks());
    if (value % (86400ull * 1000000u) != 0 || (int64_t)value <= now ||
        (int64_t)value - now > 400ll * 86400 * 1000000)
        return "a leap second is announced for a midnight ahead, within "
               "400 days";
    char day[SELLO_GENTIME_MAX];
    sello_gentime_format(value / 1000u, day);
    if (day[6] != '0' || day[7] != '1')
        return "a leap second happens at the end of a month";
    return NULL;
}

/* Refuses quorum work while locked out, saying for how long. */
static sello_status check_lockout(module_ctx *c, reply *r)
{
    uint32_t left;
    sello_status st = lockout_left(c, &left);
    if (st != SELLO_OK) {
        r->why = "storing the counters record failed";
        return st;
    }
    if (left) {
        r->why = "locked out after repeated failed submissions; "
                 "see STATUS for the time left";
        return SELLO_ERR_LOCKED;
    }
    return SELLO_OK;
}

static sello_status op_session_open(module_ctx *c, const uint8_t *in,
                                    size_t in_len, reply *r)
{
    if ((in_len != 1 && in_len != 2 && in_len != 2 + SELLO_PROPOSAL_LEN) ||
        in[0] < SELLO_PURPOSE_ACTIVATE || in[0] > SELLO_PURPOSE_LEAP ||
        (in_len >= 2 && (in[1] & ~SELLO_SESSION_OPEN_NEW))) {
        r->why = "expected a purpose, optional flags and an optional proposal";
        return SELLO_ERR_PARAM;
    }
    uint8_t purpose = in[0];
    bool fresh = in_len >= 2 && (in[1] & SELLO_SESSION_OPEN_NEW);
    const uint8_t *proposal = in_len > 2 ? in + 2 : NULL;
    if (!c->initialised || c->failed) {
        r->why = "unit has no key";
        return SELLO_ERR_STATE;
    }
    if (purpose == SELLO_PURPOSE_ACTIVATE && c->unlocked) {
        r->why = "key is already unlocked";
        return SELLO_ERR_STATE;
    }
    r->why = proposal_refusal(c, purpose, proposal);
    if (r->why)
        return SELLO_ERR_PARAM;
    SELLO_TRY(check_lockout(c, r));
    uint64_t now = sello_board_ticks();
    bool join = c->session.open && c->session.purpose == purpose &&
                now < c->session.expires && !fresh;
    if (!join) {
        SELLO_TRY(record2(c, SELLO_AUDIT_SESSION, &purpose, 1, proposal,
                          proposal ? SELLO_PROPOSAL_LEN : 0));
        sello_session_open(&c->session, purpose, proposal, &c->drbg.vtable,
                           now, ticks_after_s(now, SELLO_SESSION_LIFETIME_S));
    }
    sello_tlv_writer w = { r->out, r->cap, 0, 0 };
    put_session(c, &w);
    r->len = w.len;
    return w.overflow ? SELLO_ERR_SPACE : SELLO_OK;
}

/* The quorum's calibration: the proposed time plus the ticks since the
 * session opened, whose drift widens the uncertainty. A calibration by
 * the custodians also settles any doubt a restore of the records left. */
static sello_status calibrate_from(module_ctx *c, const sello_session *s)
{
    uint64_t now = sello_board_ticks();
    uint64_t elapsed = sello_ticks_to_us(now - s->opened,
                                         sello_board_tick_hz());
    uint64_t widen = elapsed / 1000000u * c->clock.drift_ppm +
                     (elapsed % 1000000u) * c->clock.drift_ppm / 1000000u;
    uint64_t uncertainty = sello_get_be32(s->proposal + 8) + widen;
    uint64_t utc = sello_get_be64(s->proposal) + elapsed;
    uint32_t unc = uncertainty > UINT32_MAX ? UINT32_MAX
                                            : (uint32_t)uncertainty;
    sello_clock_calibrate(&c->clock, (int64_t)utc, unc, now);
    uint8_t body[12];
    sello_put_be64(body, utc);
    sello_put_be32(body + 8, unc);
    SELLO_TRY(record(c, SELLO_AUDIT_CALIBRATE, body, sizeof body));
    if (!c->counters.time_doubt)
        return SELLO_OK;
    c->counters.time_doubt = false;
    return save_counters(c);
}

/* A counted failure: durable before the answer, so that crashing the
 * module after each try gains nothing. */
static sello_status count_failure(module_ctx *c)
{
    if (c->counters.failures < 0xff)
        c->counters.failures++;
    bool locks = c->counters.failures >= c->cfg.lockout_failures;
    if (locks) {
        c->counters.locked = true;
        c->locked_until = ticks_after_s(sello_board_ticks(),
                                        c->cfg.lockout_s);
        sello_session_close(&c->session);
    }
    /* Saved before its record is made: see op_stamp. */
    SELLO_TRY(save_counters(c));
    if (!locks)
        return SELLO_OK;
    uint8_t seconds[4];
    sello_put_be32(seconds, c->cfg.lockout_s);
    return record(c, SELLO_AUDIT_LOCKOUT, seconds, sizeof seconds);
}

/* The quorum is met: K is rebuilt, the key secret unwrapped, and the
 * session's purpose performed. */
static sello_status perform_quorum(module_ctx *c, reply *r)
{
    uint8_t k[SELLO_ACTIVATION_SECRET_LEN];
    size_t secret_len = 0;
    uint8_t purpose = c->session.purpose;
    sello_session done = c->session; /* its proposal and opening tick */
    sello_status st = sello_shamir_combine(c->session.shares,
                                           c->session.count, k);
    sello_session_close(&c->session);
    sello_wipe(done.shares, sizeof done.shares);
    sello_wipe(done.priv, sizeof done.priv);
    if (st == SELLO_OK)
        st = sello_unit_unseal(k, c->key_secret, &secret_len,
                               c->work.unit_record);
    sello_wipe(k, sizeof k);
    if (st != SELLO_OK) {
        r->why = "the shares did not unwrap the key";
        goto out;
    }
    switch (purpose) {
    case SELLO_PURPOSE_ACTIVATE:
        st = unlock_key(c, c->key_secret, secret_len);
        if (st != SELLO_OK) {
            r->why = "the unwrapped key failed its self-test";
            record_error(c, st, r->why);
        } else if (done.has_proposal) {
            st = calibrate_from(c, &done);
        }
        break;
    case SELLO_PURPOSE_DESTROY:
        if (c->cfg.engine == SELLO_ENGINE_TOKEN) {
            /* The token destroys its key only for a logged-in user. */
            if (!c->unlocked)
                st = unlock_key(c, c->key_secret, secret_len);
            if (st == SELLO_OK)
                st = sello_board_token_destroy(c->cfg.token_id,
                                               sizeof c->cfg.token_id);
            if (st == SELLO_OK) {
                /* Back to the operator, so a new ceremony can take the
                 * token over again. */
                lock_key(c);
                st = sello_board_token_hand_back(
                    c->key_secret + SELLO_TOKEN_PIN_LEN, SELLO_TOKEN_PIN_LEN);
            }
            if (st != SELLO_OK) {
                r->why = "destroying the key in the token failed";
                break;
            }
        }
        /* The generation first: from then on the unit record is a dead
         * ceremony's, whatever happens to the erasure. */
        c->counters.generation++;
        c->counters.failures = 0;
        uint8_t generation[4];
        sello_put_be32(generation, c->counters.generation);
        st = record(c, SELLO_AUDIT_DESTROY, generation, sizeof generation);
        if (st == SELLO_OK)
            st = save_counters(c);
        if (st == SELLO_OK)
            st = erase_unit(c);
        if (st != SELLO_OK)
            r->why = "erasing the unit failed";
        break;
    case SELLO_PURPOSE_RECALIBRATE:
        st = calibrate_from(c, &done);
        break;
    case SELLO_PURPOSE_LEAP: {
        uint32_t kind = sello_get_be32(done.proposal + 8);
        sello_clock_announce_leap(&c->clock,
                                  (int64_t)sello_get_be64(done.proposal),
                                  kind == 1 ? 1 : kind == 2 ? -1 : 0,
                                  sello_board_ticks());
        uint8_t body[9];
        sello_memcpy(body, done.proposal, 8);
        body[8] = (uint8_t)kind;
        st = record(c, SELLO_AUDIT_LEAP, body, sizeof body);
        break;
    }
    default:
        st = SELLO_ERR_STATE;
        break;
    }
    if (st == SELLO_OK && c->counters.failures) {
        c->counters.failures = 0;
        st = save_counters(c);
    }
out:
    sello_wipe(c->key_secret, sizeof c->key_secret);
    return st;
}

static sello_status op_session_submit(module_ctx *c, const uint8_t *in,
                                      size_t in_len, reply *r)
{
    SELLO_TRY(check_lockout(c, r));
    if (c->session.open && sello_board_ticks() >= c->session.expires)
        sello_session_close(&c->session);
    bool counts;
    sello_status st = sello_session_submit(&c->session, &c->custody,
                                           &c->custody_keys, in, in_len,
                                           &r->why, &counts);
    /* A counted failure is saved (with a checkpoint) before its record
     * is made: see op_stamp. */
    if (st != SELLO_OK && st != SELLO_ERR_PARAM && st != SELLO_ERR_SESSION &&
        counts && count_failure(c) != SELLO_OK) {
        r->why = "storing the failure count failed";
        return SELLO_ERR_STORAGE;
    }
    uint8_t share_event[2] = { (uint8_t)st, counts };
    SELLO_TRY(record(c, SELLO_AUDIT_SHARE, share_event, sizeof share_event));
    if (st == SELLO_ERR_PARAM)
        return st;
    if (st == SELLO_ERR_SESSION) {
        r->why = "no such session: it was never opened, was replaced, "
                 "or has expired";
        return st;
    }
    if (st != SELLO_OK)
        return st;
    uint8_t accepted = (uint8_t)c->session.count;
    bool done = accepted >= c->custody.m;
    if (done) {
        uint8_t purpose = c->session.purpose;
        sello_status outcome = perform_quorum(c, r);
        uint8_t quorum_event[2] = { purpose, (uint8_t)outcome };
        SELLO_TRY(record(c, SELLO_AUDIT_QUORUM, quorum_event,
                         sizeof quorum_event));
        SELLO_TRY(outcome);
    }
    sello_tlv_writer w = { r->out, r->cap, 0, 0 };
    sello_tlv_put_u8(&w, SELLO_SESS_ACCEPTED, accepted);
    sello_tlv_put_u8(&w, SELLO_SESS_THRESHOLD, c->custody.m);
    sello_tlv_put_u8(&w, SELLO_SESS_DONE, done);
    r->len = w.len;
    return SELLO_OK;
}

static sello_status op_audit_ack(module_ctx *c, const uint8_t *in,
                                 size_t in_len, reply *r)
{
    if (in_len != 8) {
        r->why = "expected 8 octets: the last sequence number stored";
        return SELLO_ERR_PARAM;
    }
    sello_audit_ack(&c->audit, sello_get_be64(in));
    return SELLO_OK;
}

static sello_status op_audit_read(module_ctx *c, const uint8_t *in,
                                  size_t in_len, reply *r)
{
    if (in_len != 8) {
        r->why = "expected 8 octets: the first sequence number wanted";
        return SELLO_ERR_PARAM;
    }
    r->len = sello_audit_read(&c->audit, sello_get_be64(in), r->out, r->cap);
    return SELLO_OK;
}

static sello_status dispatch(module_ctx *c, uint8_t op, const uint8_t *in,
                             size_t in_len, reply *r)
{
    if (c->failed && op != SELLO_OP_STATUS && op != SELLO_OP_STAMP) {
        r->why = "module is in the error state";
        return SELLO_ERR_STATE;
    }
    switch (op) {
    case SELLO_OP_STATUS:
        return op_status(c, r);
    case SELLO_OP_STAMP:
        return op_stamp(c, in, in_len, r);
    case SELLO_OP_GET_CERTS:
        return op_get_certs(c, r);
    case SELLO_OP_INIT:
        return op_init(c, in, in_len, r);
    case SELLO_OP_GET_CSR:
        return op_get_csr(c, r);
    case SELLO_OP_LOAD_CERT:
        return op_load_cert(c, in, in_len, r);
    case SELLO_OP_DEACTIVATE:
        return op_deactivate(c, r);
    case SELLO_OP_SET_TIME:
        return op_set_time(c, r);
    case SELLO_OP_TIME_OBSERVE:
        return op_time_observe(c, in, in_len, r);
    case SELLO_OP_SESSION_OPEN:
        return op_session_open(c, in, in_len, r);
    case SELLO_OP_AUDIT_ACK:
        return op_audit_ack(c, in, in_len, r);
    case SELLO_OP_AUDIT_READ:
        return op_audit_read(c, in, in_len, r);
    case SELLO_OP_SESSION_SUBMIT:
        return op_session_submit(c, in, in_len, r);
    default:
        return SELLO_ERR_OPCODE;
    }
}

/* Operations that may run when the audit buffer is full: the ones that
 * let the host see the state and drain it. */
static bool needs_audit_room(uint8_t op)
{
    return op != SELLO_OP_STATUS && op != SELLO_OP_AUDIT_ACK &&
           op != SELLO_OP_AUDIT_READ;
}

/* Prefixes this request's audit records to the payload (see
 * SELLO_RESP_FLAG_AUDIT); the payload area left room for them. */
static void attach_audit(module_ctx *c, reply *r)
{
    size_t n;
    const uint8_t *rec = sello_audit_fresh(&c->audit, &n);
    if (n == 0)
        return;
    sello_memmove(r->out + 2 + n, r->out, r->len);
    sello_put_be16(r->out, (uint16_t)n);
    sello_memcpy(r->out + 2, rec, n);
    r->len += 2 + n;
    r->flags |= SELLO_RESP_FLAG_AUDIT;
}

size_t sello_module_handle(sello_module_storage *m, const uint8_t *req,
                           size_t req_len, uint8_t *resp, size_t resp_cap)
{
    module_ctx *c = ctx_of(m);
    if (resp_cap < SELLO_FRAME_MAX)
        return 0;
    _Static_assert(SELLO_AUDIT_RESERVE + 2 < SELLO_PAYLOAD_MAX,
                   "no room for an operation's audit records");
    reply r = { resp + SELLO_FRAME_HEADER_LEN,
                SELLO_PAYLOAD_MAX - SELLO_AUDIT_RESERVE - 2, 0, 0, NULL };
    sello_frame_header h = { 0, 0, 0, 0 };
    sello_status st;
    sello_audit_begin(&c->audit);
    if (req_len < SELLO_FRAME_HEADER_LEN) {
        st = SELLO_ERR_FRAME;
    } else {
        st = sello_frame_header_read(req, &h);
        if (st == SELLO_OK && h.length != req_len - SELLO_FRAME_HEADER_LEN)
            st = SELLO_ERR_FRAME;
        if (st == SELLO_OK && needs_audit_room(h.code) &&
            sello_audit_room(&c->audit) < SELLO_AUDIT_RESERVE) {
            /* Nothing may happen that the chain could not show. */
            if (h.code == SELLO_OP_STAMP) {
                stamp_reject(&r, SELLO_TSP_FAIL_SYSTEM_FAILURE,
                             "audit records are not being stored: issuing "
                             "stopped");
            } else {
                r.why = "audit buffer full: the host must store and "
                        "acknowledge the audit records";
                st = SELLO_ERR_SPACE;
            }
        } else if (st == SELLO_OK) {
            st = dispatch(c, h.code, req + SELLO_FRAME_HEADER_LEN, h.length,
                          &r);
        }
    }
    if (st != SELLO_OK) {
        /* The reason replaces whatever partial payload was written. */
        const char *why = r.why ? r.why : sello_status_str(st);
        r.len = 0;
        r.flags = 0;
        while (why[r.len] && r.len < r.cap) {
            r.out[r.len] = (uint8_t)why[r.len];
            r.len++;
        }
    }
    attach_audit(c, &r);
    sello_frame_header_write(resp, (uint8_t)st, r.flags, h.tag,
                             (uint32_t)r.len);
    return SELLO_FRAME_HEADER_LEN + r.len;
}

sello_status sello_module_serve(sello_module_storage *m)
{
    module_ctx *c = ctx_of(m);
    for (;;) {
        size_t len;
        sello_status st = sello_board_frame_recv(c->req_frame,
                                                 sizeof c->req_frame, &len);
        if (st != SELLO_OK)
            return st;
        size_t out = sello_module_handle(m, c->req_frame, len, c->resp_frame,
                                         sizeof c->resp_frame);
        sello_board_frame_send(c->resp_frame, out);
    }
}
