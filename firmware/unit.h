/*
 * The unit: its configuration, fixed at initialisation, and the durable
 * record that binds that configuration to the TSU public key and the
 * wrapped private key.
 *
 * The record (SELLO_NV_UNIT) is a TLV list in the ABI's TLV format: the
 * configuration under the SELLO_INIT_* types, then the SubjectPublicKeyInfo,
 * a salt, and last the private key sealed with AES-256-GCM. The key-wrapping
 * key is HKDF-SHA256 of the board's device secret and the salt; everything
 * before the sealed key is its additional authenticated data, so the
 * configuration (policy, accuracy, qualified flag...) cannot be altered in
 * storage without the unit refusing to start.
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
/* Unit record: configuration, SPKI, salt, nonce, sealed key, tag. */
#define SELLO_UNIT_RECORD_MAX                                                  \
    (64u + SELLO_POLICY_MAX + SELLO_NAME_MAX + SELLO_SPKI_MAX + 64u +          \
     SELLO_PRIVATE_MAX + 64u)

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
} sello_unit_config;

/*
 * Builds a configuration from an INIT request's TLV list: defaults for
 * absent items, SELLO_ERR_PARAM for an unknown type, a repeated type or an
 * invalid value (with *why naming it).
 */
SELLO_MUST_CHECK sello_status sello_unit_config_parse(sello_unit_config *cfg,
                                                      const uint8_t *tlv,
                                                      size_t len,
                                                      const char **why);

/*
 * Writes the unit record for `cfg`, `spki` and the private key of `key`,
 * sealed under a fresh salt and nonce from `rng`. `work` is scratch space of
 * SELLO_UNIT_RECORD_MAX octets; it is wiped before returning.
 */
SELLO_MUST_CHECK sello_status sello_unit_save(const sello_unit_config *cfg,
                                              const sello_key *key,
                                              const uint8_t *spki,
                                              size_t spki_len,
                                              const br_prng_class **rng,
                                              uint8_t *work);

/*
 * Reads and opens the unit record. SELLO_ERR_NOT_FOUND when the unit was
 * never initialised; SELLO_ERR_STORAGE when the record is damaged or was
 * sealed on another device. On success the key is loaded and *spki holds
 * the stored public key. `work` as for sello_unit_save.
 */
SELLO_MUST_CHECK sello_status sello_unit_load(sello_unit_config *cfg,
                                              sello_key *key, uint8_t *spki,
                                              size_t *spki_len, uint8_t *work);

#endif
