/* Unit configuration and its sealed record; contracts in unit.h. */
#include "unit.h"

#include <sello/abi.h>
#include <sello/board.h>

#include "der.h"
#include "device_keys.h"
#include "nv.h"
#include "oid.h"
#include "runtime.h"
#include "shamir.h"

/* Record-only TLV types, above the SELLO_INIT_* range. */
enum {
    UNIT_TLV_VERSION = 0x80,
    UNIT_TLV_SPKI = 0x81,
    UNIT_TLV_SALT = 0x82,
    UNIT_TLV_SEALED = 0x83, /* nonce (12) || ciphertext || tag (16) */
    UNIT_TLV_GENERATION = 0x84,
    UNIT_TLV_CUSTODIANS = 0x85, /* N; M is SELLO_INIT_THRESHOLD */
    UNIT_TLV_TOKEN_ID = 0x86,
    UNIT_TLV_MAC = 0x87,    /* HMAC-SHA256 of everything before it; last */
};
#define UNIT_RECORD_VERSION 2u
#define UNIT_SALT_LEN 32u
#define UNIT_NONCE_LEN 12u
#define UNIT_TAG_LEN 16u
#define UNIT_MAC_ITEM_LEN (3u + 32u)

static void config_defaults(sello_unit_config *cfg)
{
    sello_memset(cfg, 0, sizeof *cfg);
    cfg->key_type = SELLO_KEY_P256;
    cfg->sig_hash = SELLO_HASH_SHA256;
    cfg->chain = true;
    cfg->accuracy_ms = 1000;
    cfg->hashes = SELLO_HASHES_DEFAULT;
    cfg->policy[0] = SELLO_DER_OID;
    cfg->policy[1] = (uint8_t)SELLO_OID_ETSI_BEST_PRACTICE_POLICY_LEN;
    sello_memcpy(cfg->policy + 2, SELLO_OID_ETSI_BEST_PRACTICE_POLICY,
                 SELLO_OID_ETSI_BEST_PRACTICE_POLICY_LEN);
    cfg->policy_len = 2 + SELLO_OID_ETSI_BEST_PRACTICE_POLICY_LEN;
    cfg->engine = SELLO_ENGINE_MODULE;
    cfg->lockout_failures = 5;
    cfg->lockout_s = 900;
    cfg->slew_ppm = 100;
    cfg->generation = 1;
}

static bool get_u32(const uint8_t *v, size_t len, uint32_t *out)
{
    if (len != 4)
        return false;
    *out = sello_get_be32(v);
    return true;
}

static bool get_flag(const uint8_t *v, size_t len, bool *out)
{
    if (len != 1 || v[0] > 1)
        return false;
    *out = v[0] == 1;
    return true;
}

/* True when v[0..len) is exactly one DER element with `tag`, and (for an
 * OID) a well-formed one. */
static bool is_single_element(const uint8_t *v, size_t len, uint8_t tag)
{
    sello_der_cur c = sello_der_cur_init(v, len), content;
    sello_status st = tag == SELLO_DER_OID ? sello_der_read_oid(&c, &content)
                                     : sello_der_read(&c, tag, &content, NULL);
    return st == SELLO_OK && sello_der_at_end(&c);
}

/*
 * Applies one configuration item. Returns false for an invalid value; sets
 * *known to false for a type that is not configuration.
 */
static bool config_apply(sello_unit_config *cfg, uint8_t type,
                         const uint8_t *v, size_t len, bool *known)
{
    uint32_t u;
    *known = true;
    switch (type) {
    case SELLO_INIT_KEY_TYPE:
        if (len != 1 || !sello_key_type_valid(v[0]))
            return false;
        cfg->key_type = v[0];
        return true;
    case SELLO_INIT_SUBJECT:
        if (len > SELLO_NAME_MAX || !is_single_element(v, len, SELLO_DER_SEQUENCE))
            return false;
        sello_memcpy(cfg->subject, v, len);
        cfg->subject_len = len;
        return true;
    case SELLO_INIT_POLICY:
        if (len > SELLO_POLICY_MAX || !is_single_element(v, len, SELLO_DER_OID))
            return false;
        sello_memcpy(cfg->policy, v, len);
        cfg->policy_len = len;
        return true;
    case SELLO_INIT_ACCURACY_MS:
        if (!get_u32(v, len, &u) || u == 0 || u > 3600000u)
            return false;
        cfg->accuracy_ms = u;
        return true;
    case SELLO_INIT_HASHES: {
        const uint32_t known_bits =
            SELLO_HASH_BIT(SELLO_HASH_SHA1) | SELLO_HASH_BIT(SELLO_HASH_SHA224) |
            SELLO_HASHES_DEFAULT;
        if (!get_u32(v, len, &u) || u == 0 || (u & ~known_bits))
            return false;
        cfg->hashes = u;
        return true;
    }
    case SELLO_INIT_SIG_HASH:
        if (len != 1 || (v[0] != SELLO_HASH_SHA256 &&
                         v[0] != SELLO_HASH_SHA384 && v[0] != SELLO_HASH_SHA512))
            return false;
        cfg->sig_hash = v[0];
        return true;
    case SELLO_INIT_QUALIFIED:
        return get_flag(v, len, &cfg->qualified);
    case SELLO_INIT_TSA_NAME:
        return get_flag(v, len, &cfg->tsa_name);
    case SELLO_INIT_CHAIN:
        return get_flag(v, len, &cfg->chain);
    case SELLO_INIT_INSTANCE:
        return get_u32(v, len, &cfg->instance);
    case SELLO_INIT_THRESHOLD:
        if (len != 1 || v[0] < SELLO_SHAMIR_MIN_M || v[0] > SELLO_SHAMIR_MAX_N)
            return false;
        cfg->threshold = v[0];
        return true;
    case SELLO_INIT_ENGINE:
        if (len != 1 ||
            (v[0] != SELLO_ENGINE_MODULE && v[0] != SELLO_ENGINE_TOKEN))
            return false;
        cfg->engine = v[0];
        return true;
    case SELLO_INIT_LOCKOUT_FAILURES:
        if (len != 1 || v[0] < 1 || v[0] > 100)
            return false;
        cfg->lockout_failures = v[0];
        return true;
    case SELLO_INIT_LOCKOUT_S:
        if (!get_u32(v, len, &u) || u < 1 || u > 604800u)
            return false;
        cfg->lockout_s = u;
        return true;
    case SELLO_INIT_SLEW_PPM:
        if (!get_u32(v, len, &u) || u < 1 || u > 10000u)
            return false;
        cfg->slew_ppm = u;
        return true;
    case SELLO_INIT_MAX_OBS_AGE_S:
        if (!get_u32(v, len, &u) || u > 86400u)
            return false;
        cfg->max_obs_age_s = u;
        return true;
    case SELLO_INIT_KEY_USAGE_DAYS:
        if (!get_u32(v, len, &u) || u > 36600u)
            return false;
        cfg->key_usage_days = u;
        return true;
    case SELLO_INIT_TEST_UNIT:
        return get_flag(v, len, &cfg->test_unit);
    default:
        *known = false;
        return false;
    }
}

/* A custodian key: 32 octets, not one of the keys before it. (Low-order
 * points are caught when the share is sealed to it.) */
static bool add_custodian(sello_custodian_keys *keys, const uint8_t *v,
                          size_t len)
{
    if (len != 32 || keys->count >= SELLO_SHAMIR_MAX_N)
        return false;
    for (unsigned i = 0; i < keys->count; i++)
        if (sello_memcmp(keys->key[i], v, 32) == 0)
            return false;
    sello_memcpy(keys->key[keys->count++], v, 32);
    return true;
}

sello_status sello_unit_config_parse(sello_unit_config *cfg,
                                     sello_custodian_keys *keys,
                                     const uint8_t *tlv, size_t len,
                                     const char **why)
{
    config_defaults(cfg);
    keys->count = 0;
    sello_tlv_reader r = { tlv, tlv + len };
    uint32_t seen = 0;
    uint8_t type;
    const uint8_t *v;
    size_t n;
    int more;
    while ((more = sello_tlv_next(&r, &type, &v, &n)) == 1) {
        bool known;
        if (type == SELLO_INIT_CUSTODIAN) {
            if (!add_custodian(keys, v, n)) {
                *why = "invalid, repeated or too many custodian keys";
                return SELLO_ERR_PARAM;
            }
            continue;
        }
        if (type < 32 && (seen & (1u << type))) {
            *why = "parameter given twice";
            return SELLO_ERR_PARAM;
        }
        if (!config_apply(cfg, type, v, n, &known)) {
            *why = known ? "invalid parameter value" : "unknown parameter";
            return SELLO_ERR_PARAM;
        }
        seen |= 1u << type;
    }
    if (more < 0) {
        *why = "truncated parameter list";
        return SELLO_ERR_PARAM;
    }
    if (cfg->subject_len == 0) {
        *why = "subject name required";
        return SELLO_ERR_PARAM;
    }
    if (keys->count < SELLO_SHAMIR_MIN_M) {
        *why = "at least two custodian keys required";
        return SELLO_ERR_PARAM;
    }
    if (cfg->threshold == 0 || cfg->threshold > keys->count) {
        *why = "threshold required, between 2 and the number of custodians";
        return SELLO_ERR_PARAM;
    }
    cfg->custodians = (uint8_t)keys->count;
    return SELLO_OK;
}

static void config_write(const sello_unit_config *cfg, sello_tlv_writer *w)
{
    sello_tlv_put_u8(w, SELLO_INIT_KEY_TYPE, cfg->key_type);
    sello_tlv_put(w, SELLO_INIT_SUBJECT, cfg->subject, cfg->subject_len);
    sello_tlv_put(w, SELLO_INIT_POLICY, cfg->policy, cfg->policy_len);
    sello_tlv_put_u32(w, SELLO_INIT_ACCURACY_MS, cfg->accuracy_ms);
    sello_tlv_put_u32(w, SELLO_INIT_HASHES, cfg->hashes);
    sello_tlv_put_u8(w, SELLO_INIT_SIG_HASH, cfg->sig_hash);
    sello_tlv_put_u8(w, SELLO_INIT_QUALIFIED, cfg->qualified);
    sello_tlv_put_u8(w, SELLO_INIT_TSA_NAME, cfg->tsa_name);
    sello_tlv_put_u8(w, SELLO_INIT_CHAIN, cfg->chain);
    sello_tlv_put_u32(w, SELLO_INIT_INSTANCE, cfg->instance);
    sello_tlv_put_u8(w, SELLO_INIT_THRESHOLD, cfg->threshold);
    sello_tlv_put_u8(w, SELLO_INIT_ENGINE, cfg->engine);
    sello_tlv_put_u8(w, SELLO_INIT_LOCKOUT_FAILURES, cfg->lockout_failures);
    sello_tlv_put_u32(w, SELLO_INIT_LOCKOUT_S, cfg->lockout_s);
    sello_tlv_put_u32(w, SELLO_INIT_KEY_USAGE_DAYS, cfg->key_usage_days);
    sello_tlv_put_u32(w, SELLO_INIT_SLEW_PPM, cfg->slew_ppm);
    sello_tlv_put_u32(w, SELLO_INIT_MAX_OBS_AGE_S, cfg->max_obs_age_s);
    /* Written when 0 too: a record without it is a test unit's (unit.h). */
    sello_tlv_put_u8(w, SELLO_INIT_TEST_UNIT, cfg->test_unit);
    sello_tlv_put_u32(w, UNIT_TLV_GENERATION, cfg->generation);
    sello_tlv_put_u8(w, UNIT_TLV_CUSTODIANS, cfg->custodians);
    if (cfg->engine == SELLO_ENGINE_TOKEN)
        sello_tlv_put(w, UNIT_TLV_TOKEN_ID, cfg->token_id,
                      sizeof cfg->token_id);
}

/* Prepares AES-256-GCM under HKDF(salt, device secret || k), with `nonce`
 * and the additional data `aad`. */
static sello_status seal_begin(br_gcm_context *gc, br_aes_ct_ctr_keys *aes,
                               const uint8_t *k, const uint8_t *salt,
                               const uint8_t *nonce, const uint8_t *aad,
                               size_t aad_len)
{
    uint8_t kek[32];
    SELLO_TRY(sello_device_key(salt, UNIT_SALT_LEN, k,
                               SELLO_ACTIVATION_SECRET_LEN,
                               SELLO_DK_UNIT_WRAP, kek));
    br_aes_ct_ctr_init(aes, kek, sizeof kek);
    br_gcm_init(gc, &aes->vtable, br_ghash_ctmul);
    br_gcm_reset(gc, nonce, UNIT_NONCE_LEN);
    br_gcm_aad_inject(gc, aad, aad_len);
    br_gcm_flip(gc);
    sello_wipe(kek, sizeof kek);
    return SELLO_OK;
}

/* Appends the MAC item over work[0..len). */
static sello_status put_mac(uint8_t *work, size_t len)
{
    uint8_t key[32];
    SELLO_TRY(sello_device_key(NULL, 0, NULL, 0, SELLO_DK_UNIT_MAC, key));
    work[len] = UNIT_TLV_MAC;
    sello_put_be16(work + len + 1, 32);
    sello_hmac_sha256(key, work, len, work + len + 3);
    sello_wipe(key, sizeof key);
    return SELLO_OK;
}

sello_status sello_unit_save(const sello_unit_config *cfg,
                             const uint8_t *spki, size_t spki_len,
                             const uint8_t *secret, size_t secret_len,
                             const uint8_t k[SELLO_ACTIVATION_SECRET_LEN],
                             const br_prng_class **rng, uint8_t *work)
{
    sello_tlv_writer w = { work, SELLO_UNIT_RECORD_MAX, 0, 0 };
    uint8_t salt[UNIT_SALT_LEN];
    (*rng)->generate(rng, salt, sizeof salt);
    sello_tlv_put_u8(&w, UNIT_TLV_VERSION, UNIT_RECORD_VERSION);
    config_write(cfg, &w);
    sello_tlv_put(&w, UNIT_TLV_SPKI, spki, spki_len);
    sello_tlv_put(&w, UNIT_TLV_SALT, salt, sizeof salt);
    size_t aad_len = w.len;
    size_t sealed_len = 3 + UNIT_NONCE_LEN + secret_len + UNIT_TAG_LEN;
    if (w.overflow || secret_len > SELLO_KEY_SECRET_MAX ||
        SELLO_UNIT_RECORD_MAX - aad_len < sealed_len + UNIT_MAC_ITEM_LEN)
        return SELLO_ERR_SPACE;

    uint8_t *item = work + aad_len;
    uint8_t *nonce = item + 3;
    uint8_t *body = nonce + UNIT_NONCE_LEN;
    item[0] = UNIT_TLV_SEALED;
    sello_put_be16(item + 1,
                   (uint16_t)(UNIT_NONCE_LEN + secret_len + UNIT_TAG_LEN));
    (*rng)->generate(rng, nonce, UNIT_NONCE_LEN);
    sello_memcpy(body, secret, secret_len);

    br_gcm_context gc;
    br_aes_ct_ctr_keys aes;
    sello_status st = seal_begin(&gc, &aes, k, salt, nonce, work, aad_len);
    if (st == SELLO_OK) {
        br_gcm_run(&gc, 1, body, secret_len);
        br_gcm_get_tag(&gc, body + secret_len);
        st = put_mac(work, aad_len + sealed_len);
    }
    sello_wipe(&gc, sizeof gc);
    sello_wipe(&aes, sizeof aes);
    if (st == SELLO_OK)
        st = sello_board_nv_write(SELLO_NV_UNIT, work,
                                  aad_len + sealed_len + UNIT_MAC_ITEM_LEN);
    sello_wipe(work, SELLO_UNIT_RECORD_MAX);
    return st;
}

/* The parts of a record that has been read and its MAC checked. */
typedef struct {
    const uint8_t *salt;
    const uint8_t *sealed; /* nonce || ciphertext || tag */
    size_t sealed_len;
    size_t aad_len;        /* octets before the sealed item */
} unit_record_parts;

/* Reads the record into work, checks its MAC and parses it. */
static sello_status record_read(sello_unit_config *cfg, uint8_t *spki,
                                size_t *spki_len, uint8_t *work,
                                unit_record_parts *parts)
{
    size_t len;
    sello_status st = sello_board_nv_read(SELLO_NV_UNIT, work,
                                          SELLO_UNIT_RECORD_MAX, &len);
    if (st != SELLO_OK)
        return st == SELLO_ERR_SPACE ? SELLO_ERR_STORAGE : st;
    if (len < UNIT_MAC_ITEM_LEN)
        return SELLO_ERR_STORAGE;
    size_t body_len = len - UNIT_MAC_ITEM_LEN;
    const uint8_t *mac_item = work + body_len;
    uint8_t key[32], mac[32];
    SELLO_TRY(sello_device_key(NULL, 0, NULL, 0, SELLO_DK_UNIT_MAC, key));
    sello_hmac_sha256(key, work, body_len, mac);
    sello_wipe(key, sizeof key);
    if (mac_item[0] != UNIT_TLV_MAC || sello_get_be16(mac_item + 1) != 32 ||
        !sello_ct_equal(mac, mac_item + 3, sizeof mac))
        return SELLO_ERR_STORAGE;

    config_defaults(cfg);
    /* A record from before the test-unit item is a test unit's (unit.h);
     * every later record says which it is. */
    cfg->test_unit = true;
    sello_tlv_reader r = { work, work + body_len };
    const uint8_t *v;
    size_t n;
    uint8_t type;
    bool version_ok = false, have_id = false;
    *spki_len = 0;
    sello_memset(parts, 0, sizeof *parts);
    int more;
    while ((more = sello_tlv_next(&r, &type, &v, &n)) == 1) {
        bool known;
        if (parts->sealed)
            return SELLO_ERR_STORAGE; /* only the MAC follows the seal */
        if (type == UNIT_TLV_VERSION) {
            version_ok = n == 1 && v[0] == UNIT_RECORD_VERSION;
        } else if (type == UNIT_TLV_SPKI) {
            if (n > SELLO_SPKI_MAX)
                return SELLO_ERR_STORAGE;
            sello_memcpy(spki, v, n);
            *spki_len = n;
        } else if (type == UNIT_TLV_SALT) {
            if (n != UNIT_SALT_LEN)
                return SELLO_ERR_STORAGE;
            parts->salt = v;
        } else if (type == UNIT_TLV_GENERATION) {
            if (n != 4)
                return SELLO_ERR_STORAGE;
            cfg->generation = sello_get_be32(v);
        } else if (type == UNIT_TLV_CUSTODIANS) {
            if (n != 1)
                return SELLO_ERR_STORAGE;
            cfg->custodians = v[0];
        } else if (type == UNIT_TLV_TOKEN_ID) {
            if (n != SELLO_TOKEN_ID_LEN)
                return SELLO_ERR_STORAGE;
            sello_memcpy(cfg->token_id, v, n);
            have_id = true;
        } else if (type == UNIT_TLV_SEALED) {
            if (n < UNIT_NONCE_LEN + UNIT_TAG_LEN)
                return SELLO_ERR_STORAGE;
            parts->sealed = v;
            parts->sealed_len = n;
            parts->aad_len = (size_t)(v - 3 - work);
        } else if (!config_apply(cfg, type, v, n, &known)) {
            return SELLO_ERR_STORAGE;
        }
    }
    if (more < 0 || !version_ok || !parts->salt || !parts->sealed ||
        *spki_len == 0 || cfg->threshold < SELLO_SHAMIR_MIN_M ||
        cfg->custodians < cfg->threshold ||
        cfg->custodians > SELLO_SHAMIR_MAX_N ||
        have_id != (cfg->engine == SELLO_ENGINE_TOKEN))
        return SELLO_ERR_STORAGE;
    return SELLO_OK;
}

sello_status sello_unit_load(sello_unit_config *cfg, uint8_t *spki,
                             size_t *spki_len, uint8_t *work)
{
    unit_record_parts parts;
    sello_status st = record_read(cfg, spki, spki_len, work, &parts);
    sello_wipe(work, SELLO_UNIT_RECORD_MAX);
    return st;
}

sello_status sello_unit_unseal(const uint8_t k[SELLO_ACTIVATION_SECRET_LEN],
                               uint8_t *secret, size_t *secret_len,
                               uint8_t *work)
{
    /* The configuration and key are re-read rather than trusted from
     * memory: the seal covers what is in storage now. */
    sello_unit_config cfg;
    uint8_t spki[SELLO_SPKI_MAX];
    size_t spki_len;
    unit_record_parts parts;
    sello_status st = record_read(&cfg, spki, &spki_len, work, &parts);
    if (st == SELLO_OK) {
        size_t body_len = parts.sealed_len - UNIT_NONCE_LEN - UNIT_TAG_LEN;
        const uint8_t *body = parts.sealed + UNIT_NONCE_LEN;
        br_gcm_context gc;
        br_aes_ct_ctr_keys aes;
        st = seal_begin(&gc, &aes, k, parts.salt, parts.sealed, work,
                        parts.aad_len);
        if (st == SELLO_OK && body_len > SELLO_KEY_SECRET_MAX)
            st = SELLO_ERR_STORAGE;
        if (st == SELLO_OK) {
            sello_memcpy(secret, body, body_len);
            br_gcm_run(&gc, 0, secret, body_len);
            if (br_gcm_check_tag(&gc, body + body_len)) {
                *secret_len = body_len;
            } else {
                sello_wipe(secret, body_len);
                st = SELLO_ERR_CRYPTO;
            }
        }
        sello_wipe(&gc, sizeof gc);
        sello_wipe(&aes, sizeof aes);
    }
    sello_wipe(work, SELLO_UNIT_RECORD_MAX);
    return st;
}
