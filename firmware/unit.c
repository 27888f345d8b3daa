/* Unit configuration and its sealed record; contracts in unit.h. */
#include "unit.h"

#include <sello/abi.h>
#include <sello/board.h>

#include "der.h"
#include "nv.h"
#include "oid.h"
#include "runtime.h"

/* Record-only TLV types, above the SELLO_INIT_* range. */
enum {
    UNIT_TLV_VERSION = 0x80,
    UNIT_TLV_SPKI = 0x81,
    UNIT_TLV_SALT = 0x82,
    UNIT_TLV_SEALED = 0x83, /* nonce (12) || ciphertext || tag (16); last */
};
#define UNIT_RECORD_VERSION 1u
#define UNIT_SALT_LEN 32u
#define UNIT_NONCE_LEN 12u
#define UNIT_TAG_LEN 16u

static const char wrap_info[] = "sello unit key wrap v1";

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
    default:
        *known = false;
        return false;
    }
}

sello_status sello_unit_config_parse(sello_unit_config *cfg,
                                     const uint8_t *tlv, size_t len,
                                     const char **why)
{
    config_defaults(cfg);
    sello_tlv_reader r = { tlv, tlv + len };
    uint32_t seen = 0;
    uint8_t type;
    const uint8_t *v;
    size_t n;
    int more;
    while ((more = sello_tlv_next(&r, &type, &v, &n)) == 1) {
        bool known;
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
}

/* Prepares AES-256-GCM under the key derived from the device secret and
 * `salt`, with `nonce` and the additional data `aad`. */
static sello_status seal_begin(br_gcm_context *gc, br_aes_ct_ctr_keys *aes,
                               const uint8_t *salt, const uint8_t *nonce,
                               const uint8_t *aad, size_t aad_len)
{
    uint8_t secret[32], kek[32];
    br_hkdf_context hkdf;
    sello_status st = sello_board_device_secret(secret);
    if (st != SELLO_OK)
        return st;
    br_hkdf_init(&hkdf, &br_sha256_vtable, salt, UNIT_SALT_LEN);
    br_hkdf_inject(&hkdf, secret, sizeof secret);
    br_hkdf_flip(&hkdf);
    br_hkdf_produce(&hkdf, wrap_info, sizeof wrap_info - 1, kek, sizeof kek);
    br_aes_ct_ctr_init(aes, kek, sizeof kek);
    br_gcm_init(gc, &aes->vtable, br_ghash_ctmul);
    br_gcm_reset(gc, nonce, UNIT_NONCE_LEN);
    br_gcm_aad_inject(gc, aad, aad_len);
    br_gcm_flip(gc);
    sello_wipe(secret, sizeof secret);
    sello_wipe(kek, sizeof kek);
    sello_wipe(&hkdf, sizeof hkdf);
    return SELLO_OK;
}

sello_status sello_unit_save(const sello_unit_config *cfg,
                             const sello_key *key, const uint8_t *spki,
                             size_t spki_len, const br_prng_class **rng,
                             uint8_t *work)
{
    sello_tlv_writer w = { work, SELLO_UNIT_RECORD_MAX, 0, 0 };
    uint8_t salt[UNIT_SALT_LEN];
    (*rng)->generate(rng, salt, sizeof salt);
    sello_tlv_put_u8(&w, UNIT_TLV_VERSION, UNIT_RECORD_VERSION);
    config_write(cfg, &w);
    sello_tlv_put(&w, UNIT_TLV_SPKI, spki, spki_len);
    sello_tlv_put(&w, UNIT_TLV_SALT, salt, sizeof salt);
    if (w.overflow)
        return SELLO_ERR_SPACE;

    /* The sealed item's header and nonce, then the key in place. */
    size_t aad_len = w.len;
    uint8_t *item = work + w.len;
    uint8_t *nonce = item + 3;
    uint8_t *body = nonce + UNIT_NONCE_LEN;
    size_t room = SELLO_UNIT_RECORD_MAX - aad_len - 3 - UNIT_NONCE_LEN -
                  UNIT_TAG_LEN;
    size_t plain_len;
    sello_status st = sello_key_export_private(key, body, room, &plain_len);
    if (st != SELLO_OK)
        goto out;
    (*rng)->generate(rng, nonce, UNIT_NONCE_LEN);
    item[0] = UNIT_TLV_SEALED;
    sello_put_be16(item + 1,
                   (uint16_t)(UNIT_NONCE_LEN + plain_len + UNIT_TAG_LEN));

    br_gcm_context gc;
    br_aes_ct_ctr_keys aes;
    st = seal_begin(&gc, &aes, salt, nonce, work, aad_len);
    if (st != SELLO_OK)
        goto out;
    br_gcm_run(&gc, 1, body, plain_len);
    br_gcm_get_tag(&gc, body + plain_len);
    sello_wipe(&gc, sizeof gc);
    sello_wipe(&aes, sizeof aes);
    st = sello_board_nv_write(SELLO_NV_UNIT, work,
                              aad_len + 3 + UNIT_NONCE_LEN + plain_len +
                                  UNIT_TAG_LEN);
out:
    sello_wipe(work, SELLO_UNIT_RECORD_MAX);
    return st;
}

sello_status sello_unit_load(sello_unit_config *cfg, sello_key *key,
                             uint8_t *spki, size_t *spki_len, uint8_t *work)
{
    size_t len;
    sello_status st = sello_board_nv_read(SELLO_NV_UNIT, work,
                                          SELLO_UNIT_RECORD_MAX, &len);
    if (st != SELLO_OK)
        return st;
    config_defaults(cfg);
    sello_tlv_reader r = { work, work + len };
    const uint8_t *salt = NULL, *sealed = NULL, *v;
    size_t sealed_len = 0, aad_len = 0, n;
    uint8_t type;
    bool version_ok = false;
    *spki_len = 0;
    int more;
    st = SELLO_ERR_STORAGE;
    while ((more = sello_tlv_next(&r, &type, &v, &n)) == 1) {
        bool known;
        if (sealed)
            goto out; /* nothing may follow the sealed key */
        if (type == UNIT_TLV_VERSION) {
            version_ok = n == 1 && v[0] == UNIT_RECORD_VERSION;
        } else if (type == UNIT_TLV_SPKI) {
            if (n > SELLO_SPKI_MAX)
                goto out;
            sello_memcpy(spki, v, n);
            *spki_len = n;
        } else if (type == UNIT_TLV_SALT) {
            if (n != UNIT_SALT_LEN)
                goto out;
            salt = v;
        } else if (type == UNIT_TLV_SEALED) {
            if (n < UNIT_NONCE_LEN + UNIT_TAG_LEN)
                goto out;
            sealed = v;
            sealed_len = n;
            aad_len = (size_t)(v - 3 - work);
        } else if (!config_apply(cfg, type, v, n, &known)) {
            goto out;
        }
    }
    if (more < 0 || !version_ok || !salt || !sealed || *spki_len == 0)
        goto out;

    br_gcm_context gc;
    br_aes_ct_ctr_keys aes;
    uint8_t *body = (uint8_t *)sealed + UNIT_NONCE_LEN;
    size_t body_len = sealed_len - UNIT_NONCE_LEN - UNIT_TAG_LEN;
    st = seal_begin(&gc, &aes, salt, sealed, work, aad_len);
    if (st != SELLO_OK)
        goto out;
    br_gcm_run(&gc, 0, body, body_len);
    uint32_t tag_ok = br_gcm_check_tag(&gc, body + body_len);
    sello_wipe(&gc, sizeof gc);
    sello_wipe(&aes, sizeof aes);
    if (!tag_ok) {
        st = SELLO_ERR_STORAGE;
        goto out;
    }
    st = sello_key_import_private(key, cfg->key_type, body, body_len);
out:
    sello_wipe(work, SELLO_UNIT_RECORD_MAX);
    return st;
}
