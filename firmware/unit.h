/*
 * The unit: its configuration, fixed at the key ceremony, and the durable
 * record that binds that configuration to the TSU public key and the
 * wrapped key secret.
 *
 * The record (SELLO_NV_UNIT) is a TLV list in the ABI's TLV format: the
 * configuration under the SELLO_INIT_* types, the ceremony facts (custody
 * M and N, generation, token key id), the SubjectPublicKeyInfo, a salt, the
 * key secret sealed with AES-256-GCM, and last an HMAC-SHA256 of all the
 * rest.
 *
 * Two keys, for two questions:
 *   - the MAC key is derived from the device secret alone, so the module
 *     can check at start, before any quorum, that the configuration and
 *     public key are its own and unaltered;
 *   - the wrapping key is HKDF(salt, device secret || K), K being the
 *     activation secret that only M custodians together can rebuild, so
 *     neither the records plus the device nor the shares alone unwrap the
 *     key secret. Everything before the sealed item is its associated data.
 * The key secret is the serialised private key (module engine) or the
 * token's user and SO PINs (token engine).
 *
 * The test-unit mark (SELLO_INIT_TEST_UNIT) is configuration like the
 * rest, and every record written carries it, 0 or 1. A record without it
 * was written before the mark existed, when every unit was made on a
 * simulator (there are no deployed units), so it loads as a test unit:
 * leaving the item out can never make a production unit. That default is
 * why the record version did not change: records of version 2 with and
 * without the item both mean what they say, and firmware that does not
 * know the item refuses a record carrying it (an unknown type), so an
 * older module never ignores the mark.
 */
#ifndef SELLO_UNIT_H
#define SELLO_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>
#include <sello/status.h>

#include "engine.h"

#define SELLO_POLICY_MAX 66u  /* DER OID element */
#define SELLO_NAME_MAX 512u   /* DER Name element */
#define SELLO_SPKI_MAX 600u   /* RSA-4096 SubjectPublicKeyInfo */
#define SELLO_TOKEN_PIN_LEN 32u /* each of the module's token PINs */
#define SELLO_ACTIVATION_SECRET_LEN 32u
/* The largest key secret: a module private key, or two token PINs. */
#define SELLO_KEY_SECRET_MAX SELLO_PRIVATE_MAX
/* Unit record: configuration and ceremony facts, SPKI, token id, salt,
 * nonce, sealed secret, tag, MAC. */
#define SELLO_UNIT_RECORD_MAX                                                  \
    (128u + SELLO_POLICY_MAX + SELLO_NAME_MAX + SELLO_SPKI_MAX + 64u +         \
     SELLO_KEY_SECRET_MAX + 64u + 48u)

typedef struct {
    uint8_t key_type;
    uint8_t sig_hash;     /* SELLO_HASH_* of RSA signatures */
    bool qualified;
    bool tsa_name;
    bool chain;
    uint32_t accuracy_ms;
    uint32_t hashes;      /* SELLO_HASH_BIT mask accepted in requests */
    uint32_t instance;
    uint8_t policy[SELLO_POLICY_MAX];
    size_t policy_len;
    uint8_t subject[SELLO_NAME_MAX];
    size_t subject_len;
    uint8_t engine;          /* SELLO_ENGINE_* */
    uint8_t threshold;       /* M */
    uint8_t custodians;      /* N */
    uint8_t lockout_failures;
    uint32_t lockout_s;
    uint32_t key_usage_days; /* 0: the certificate's period only */
    uint32_t slew_ppm;
    uint32_t max_obs_age_s;  /* 0: the error bound decides alone */
    bool test_unit;          /* a test unit, never for production */
    /* Facts of the ceremony rather than choices of the operator. */
    uint32_t generation;
    uint8_t token_id[SELLO_TOKEN_ID_LEN]; /* token engine only */
} sello_unit_config;

/* The custodians' X25519 public keys from an INIT request, in share order. */
typedef struct {
    uint8_t key[16][32];
    unsigned count;
} sello_custodian_keys;

/*
 * Builds a configuration from an INIT request's TLV list: defaults for
 * absent items, SELLO_ERR_PARAM for an unknown type, a repeated type (but
 * SELLO_INIT_CUSTODIAN, which is one per custodian) or an invalid value
 * (with *why naming it). Custodian keys go to *keys; their number becomes
 * cfg->custodians. Requires the subject, 2..16 distinct custodian keys
 * and 2 <= threshold <= custodians.
 */
SELLO_MUST_CHECK sello_status sello_unit_config_parse(sello_unit_config *cfg,
                                                      sello_custodian_keys *keys,
                                                      const uint8_t *tlv,
                                                      size_t len,
                                                      const char **why);

/*
 * Writes the unit record for `cfg`, `spki` and the key secret
 * secret[0..secret_len), sealed under the activation secret `k` and a fresh
 * salt and nonce from `rng`. `work` is scratch space of
 * SELLO_UNIT_RECORD_MAX octets; it is wiped before returning.
 */
SELLO_MUST_CHECK sello_status sello_unit_save(
    const sello_unit_config *cfg, const uint8_t *spki, size_t spki_len,
    const uint8_t *secret, size_t secret_len,
    const uint8_t k[SELLO_ACTIVATION_SECRET_LEN], const br_prng_class **rng,
    uint8_t *work);

/*
 * Reads the unit record's public parts and checks its MAC. SELLO_ERR_NOT_
 * FOUND when the unit was never initialised; SELLO_ERR_STORAGE when the
 * record is damaged, altered, or was written on another device. `work` as
 * for sello_unit_save.
 */
SELLO_MUST_CHECK sello_status sello_unit_load(sello_unit_config *cfg,
                                              uint8_t *spki, size_t *spki_len,
                                              uint8_t *work);

/*
 * Unwraps the key secret with the activation secret `k` into
 * secret[0..*secret_len) (cap SELLO_KEY_SECRET_MAX). SELLO_ERR_CRYPTO when
 * `k` is not the unit's (the record itself checks out); other errors as
 * sello_unit_load. The caller wipes the secret.
 */
SELLO_MUST_CHECK sello_status sello_unit_unseal(
    const uint8_t k[SELLO_ACTIVATION_SECRET_LEN], uint8_t *secret,
    size_t *secret_len, uint8_t *work);

#endif
