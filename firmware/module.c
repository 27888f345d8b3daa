/*
 * The module: its one context, start-up, and the dispatch of ABI frames.
 * Entry points documented in <sello/module.h>; the ABI in <sello/abi.h>.
 */
#include <sello/abi.h>
#include <sello/board.h>
#include <sello/module.h>

#include "clock.h"
#include "csr.h"
#include "engine.h"
#include "hash.h"
#include "nv.h"
#include "runtime.h"
#include "serial.h"
#include "signer.h"
#include "token.h"
#include "tsp.h"
#include "unit.h"

#define SELLO_FW_VERSION "sello-fw 0.1.0"

/* Earliest and latest UTC the host may set: 2020-01-01, 9999-12-31. */
#define CLOCK_MIN_MS 1577836800000ull
#define CLOCK_MAX_MS 253402300799000ull

typedef struct {
    uint8_t state;
    bool simulation;
    sello_unit_config cfg;
    uint8_t spki[SELLO_SPKI_MAX];
    size_t spki_len;
    sello_key key;
    const sello_hash_info *sig_hash;
    sello_signer signer;
    br_hmac_drbg_context drbg;
    sello_clock clock;
    sello_serials serials;
    uint64_t tokens;
    union {
        uint8_t token[SELLO_TOKEN_SCRATCH_SIZE];
        uint8_t unit_record[SELLO_UNIT_RECORD_MAX];
        uint8_t certs[SELLO_CERTS_MAX];
        uint8_t csr[SELLO_CSR_SCRATCH];
        uint8_t spki[SELLO_SPKI_MAX];
    } work;
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

/*
 * The loaded key must be the one whose public half was stored beside it,
 * and must sign and verify: catches a damaged record or a faulty engine
 * before any token depends on it.
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

static sello_status start(module_ctx *c)
{
    sello_clock_init(&c->clock, sello_board_tick_hz());
    c->simulation = sello_board_is_simulation();
    if (!hash_self_test())
        return SELLO_ERR_SELFTEST;

    uint8_t seed[48];
    SELLO_TRY(sello_board_entropy(seed, sizeof seed));
    br_hmac_drbg_init(&c->drbg, &br_sha256_vtable, seed, sizeof seed);
    sello_wipe(seed, sizeof seed);

    sello_status serials = sello_serials_load(&c->serials);
    if (serials != SELLO_OK && serials != SELLO_ERR_NOT_FOUND)
        return serials;

    sello_status st = sello_unit_load(&c->cfg, &c->key, c->spki, &c->spki_len,
                                      c->work.unit_record);
    if (st == SELLO_ERR_NOT_FOUND) {
        c->state = SELLO_STATE_UNINITIALISED;
        return SELLO_OK;
    }
    SELLO_TRY(st);
    /* A unit with a key always has a serial record (op_init writes it
     * first): without one, counting from 1 again could repeat serials. */
    if (serials != SELLO_OK)
        return SELLO_ERR_STORAGE;
    c->sig_hash = sello_key_sig_hash(&c->key, c->cfg.sig_hash);
    if (!c->sig_hash)
        return SELLO_ERR_STORAGE;
    SELLO_TRY(key_self_test(c));
    c->state = SELLO_STATE_INITIALISED;

    const char *why;
    st = load_signer(c, &why);
    if (st == SELLO_ERR_NOT_FOUND)
        return SELLO_OK;
    SELLO_TRY(st);
    c->state = SELLO_STATE_ACTIVE;
    return SELLO_OK;
}

sello_status sello_module_start(sello_module_storage *m)
{
    module_ctx *c = ctx_of(m);
    sello_memset(c, 0, sizeof *c);
    sello_status st = start(c);
    if (st != SELLO_OK) {
        sello_key_wipe(&c->key);
        c->state = SELLO_STATE_ERROR;
    }
    return st;
}

/* ---- operations ---------------------------------------------------------- */

static sello_status op_status(module_ctx *c, reply *r)
{
    sello_tlv_writer w = { r->out, r->cap, 0, 0 };
    sello_tlv_put_u8(&w, SELLO_ST_STATE, c->state);
    sello_tlv_put(&w, SELLO_ST_FW_VERSION, SELLO_FW_VERSION,
                  sizeof SELLO_FW_VERSION - 1);
    if (c->state == SELLO_STATE_INITIALISED || c->state == SELLO_STATE_ACTIVE) {
        sello_tlv_put_u8(&w, SELLO_ST_KEY_TYPE, c->cfg.key_type);
        sello_tlv_put_u8(&w, SELLO_ST_SIG_HASH, (uint8_t)c->sig_hash->id);
        sello_tlv_put(&w, SELLO_ST_POLICY, c->cfg.policy, c->cfg.policy_len);
        sello_tlv_put_u32(&w, SELLO_ST_ACCURACY_MS, c->cfg.accuracy_ms);
        sello_tlv_put_u32(&w, SELLO_ST_HASHES, c->cfg.hashes);
        sello_tlv_put_u8(&w, SELLO_ST_QUALIFIED, c->cfg.qualified);
        sello_tlv_put_u32(&w, SELLO_ST_INSTANCE, c->cfg.instance);
    }
    sello_tlv_put_u64(&w, SELLO_ST_NEXT_SERIAL, c->serials.next);
    sello_tlv_put_u64(&w, SELLO_ST_TOKENS, c->tokens);
    sello_tlv_put_u8(&w, SELLO_ST_CLOCK,
                     c->clock.set ? SELLO_CLOCK_SET : SELLO_CLOCK_UNSET);
    uint64_t now;
    if (sello_clock_now(&c->clock, sello_board_ticks(), &now) == SELLO_OK)
        sello_tlv_put_u64(&w, SELLO_ST_UTC_MS, now);
    if (w.overflow)
        return SELLO_ERR_SPACE;
    r->len = w.len;
    return SELLO_OK;
}

static void stamp_reject(reply *r, sello_tsp_fail fail, const char *why)
{
    r->len = sello_token_write_rejection(fail, why, r->out, r->cap);
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
    if (c->state != SELLO_STATE_ACTIVE) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE, "unit is not active");
        return SELLO_OK;
    }
    if (!v.accepted) {
        stamp_reject(r, v.fail, v.why);
        return SELLO_OK;
    }
    uint64_t now;
    if (sello_clock_now(&c->clock, sello_board_ticks(), &now) != SELLO_OK) {
        stamp_reject(r, SELLO_TSP_FAIL_TIME_NOT_AVAILABLE, "clock is not set");
        return SELLO_OK;
    }
    /* RFC 5280: valid from notBefore through notAfter, inclusive. */
    if (now < c->signer.not_before * 1000 || now > c->signer.not_after * 1000) {
        stamp_reject(r, SELLO_TSP_FAIL_SYSTEM_FAILURE,
                     "TSU certificate is not valid at this time");
        return SELLO_OK;
    }
    uint64_t counter;
    sello_status st = sello_serials_take(&c->serials, now, &counter);
    if (st == SELLO_ERR_CLOCK) {
        stamp_reject(r, SELLO_TSP_FAIL_TIME_NOT_AVAILABLE,
                     "clock is behind time already issued; retry shortly");
        return SELLO_OK;
    }
    if (st != SELLO_OK) {
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
    c->tokens++;
    return SELLO_OK;
}

static sello_status op_get_certs(module_ctx *c, reply *r)
{
    if (c->state != SELLO_STATE_ACTIVE) {
        r->why = "no certificate loaded";
        return SELLO_ERR_STATE;
    }
    return sello_board_nv_read(SELLO_NV_CERTS, r->out, r->cap, &r->len);
}

static sello_status op_init(module_ctx *c, const uint8_t *in, size_t in_len,
                            reply *r)
{
    if (c->state != SELLO_STATE_UNINITIALISED) {
        r->why = "unit already initialised";
        return SELLO_ERR_STATE;
    }
    sello_unit_config cfg;
    SELLO_TRY(sello_unit_config_parse(&cfg, in, in_len, &r->why));
    const br_prng_class **rng = &c->drbg.vtable;
    sello_status st = sello_key_generate(&c->key, cfg.key_type, rng);
    if (st != SELLO_OK) {
        r->why = "key generation failed";
        goto fail;
    }
    sello_der_writer w;
    sello_derw_init(&w, c->spki, sizeof c->spki);
    sello_key_write_spki(&c->key, &w);
    if (!sello_derw_to_front(&w, &c->spki_len)) {
        st = SELLO_ERR_SPACE;
        goto fail;
    }
    c->cfg = cfg;
    c->sig_hash = sello_key_sig_hash(&c->key, cfg.sig_hash);
    st = key_self_test(c);
    if (st != SELLO_OK)
        goto fail;
    /* The serial record first: a crash before the unit record then leaves
     * an uninitialised unit, never a key without its serial record. */
    st = sello_serials_persist(&c->serials);
    if (st != SELLO_OK) {
        r->why = "storing the serial record failed";
        goto fail;
    }
    st = sello_unit_save(&c->cfg, &c->key, c->spki, c->spki_len, rng,
                         c->work.unit_record);
    if (st != SELLO_OK) {
        r->why = "storing the unit record failed";
        goto fail;
    }
    if (c->spki_len > r->cap) {
        st = SELLO_ERR_SPACE;
        goto fail;
    }
    sello_memcpy(r->out, c->spki, c->spki_len);
    r->len = c->spki_len;
    c->state = SELLO_STATE_INITIALISED;
    return SELLO_OK;
fail:
    sello_key_wipe(&c->key);
    return st;
}

static sello_status op_get_csr(module_ctx *c, reply *r)
{
    if (c->state != SELLO_STATE_INITIALISED && c->state != SELLO_STATE_ACTIVE) {
        r->why = "unit has no key";
        return SELLO_ERR_STATE;
    }
    return sello_csr_write(&c->cfg, &c->key, c->sig_hash, c->work.csr, r->out,
                           r->cap, &r->len);
}

static sello_status op_load_cert(module_ctx *c, const uint8_t *in,
                                 size_t in_len, reply *r)
{
    if (c->state != SELLO_STATE_INITIALISED && c->state != SELLO_STATE_ACTIVE) {
        r->why = "unit has no key";
        return SELLO_ERR_STATE;
    }
    sello_status st = sello_signer_prepare(&c->signer, &c->cfg, c->spki,
                                           c->spki_len, in, in_len, &r->why);
    if (st == SELLO_OK) {
        st = sello_board_nv_write(SELLO_NV_CERTS, in, in_len);
        if (st == SELLO_OK) {
            c->state = SELLO_STATE_ACTIVE;
            return SELLO_OK;
        }
        r->why = "storing the certificate failed";
    }
    /* Keep serving with the certificate that was there before, if any. */
    const char *ignored;
    if (c->state == SELLO_STATE_ACTIVE &&
        load_signer(c, &ignored) != SELLO_OK)
        c->state = SELLO_STATE_ERROR;
    return st;
}

static sello_status op_set_time(module_ctx *c, const uint8_t *in,
                                size_t in_len, reply *r)
{
    if (in_len != 8) {
        r->why = "expected 8 octets of UTC milliseconds";
        return SELLO_ERR_PARAM;
    }
    uint64_t utc_ms = sello_get_be64(in);
    if (utc_ms < CLOCK_MIN_MS || utc_ms > CLOCK_MAX_MS) {
        r->why = "time out of range";
        return SELLO_ERR_PARAM;
    }
    if (c->clock.set) {
        r->why = "clock already set since start";
        return SELLO_ERR_STATE;
    }
    sello_clock_set(&c->clock, utc_ms, sello_board_ticks());
    return SELLO_OK;
}

static sello_status dispatch(module_ctx *c, uint8_t op, const uint8_t *in,
                             size_t in_len, reply *r)
{
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
    case SELLO_OP_SET_TIME:
        return op_set_time(c, in, in_len, r);
    default:
        return SELLO_ERR_OPCODE;
    }
}

size_t sello_module_handle(sello_module_storage *m, const uint8_t *req,
                           size_t req_len, uint8_t *resp, size_t resp_cap)
{
    module_ctx *c = ctx_of(m);
    if (resp_cap < SELLO_FRAME_MAX)
        return 0;
    reply r = { resp + SELLO_FRAME_HEADER_LEN, SELLO_PAYLOAD_MAX, 0, 0, NULL };
    sello_frame_header h = { 0, 0, 0, 0 };
    sello_status st;
    if (req_len < SELLO_FRAME_HEADER_LEN) {
        st = SELLO_ERR_FRAME;
    } else {
        st = sello_frame_header_read(req, &h);
        if (st == SELLO_OK && h.length != req_len - SELLO_FRAME_HEADER_LEN)
            st = SELLO_ERR_FRAME;
        if (st == SELLO_OK)
            st = dispatch(c, h.code, req + SELLO_FRAME_HEADER_LEN, h.length,
                          &r);
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
