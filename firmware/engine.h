/*
 * The signing engine: the TSU key and the only code that touches it.
 * Internal to the module; nothing outside firmware/ reaches it, and it
 * exposes no "sign these bytes" entry to the ABI: its callers sign digests
 * of structures the module built itself.
 *
 * Two kinds of key behind one interface:
 *   - module keys (the `bearssl` engine): the private key lives in module
 *     memory, unwrapped from the unit record (unit.h) at activation;
 *   - token keys (the `pkcs11` engine): the private key never leaves the
 *     board's token; the module holds its public half and an id, and signs
 *     through sello_board_token_sign while the token is logged in.
 */
#ifndef SELLO_ENGINE_H
#define SELLO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>
#include <sello/status.h>

#include "der.h"
#include "hash.h"

#define SELLO_RSA_MAX_BITS 4096u
/* Largest signature: RSA-4096. */
#define SELLO_SIG_MAX (SELLO_RSA_MAX_BITS / 8u)
/* Largest serialised private key (RSA-4096 CRT parts with length prefixes). */
#define SELLO_PRIVATE_MAX (4u + 5u * (2u + SELLO_RSA_MAX_BITS / 16u))

#define SELLO_TOKEN_ID_LEN 16u /* a token key's CKA_ID */

typedef struct {
    uint8_t type; /* SELLO_KEY_*, 0 when no key is loaded */
    bool in_token;
    uint8_t token_id[SELLO_TOKEN_ID_LEN];
    union {
        struct {
            br_ec_private_key sk;
            br_ec_public_key pk;
            uint8_t x[BR_EC_KBUF_PRIV_MAX_SIZE];
            uint8_t q[BR_EC_KBUF_PUB_MAX_SIZE];
        } ec;
        struct {
            br_rsa_private_key sk;
            br_rsa_public_key pk;
            uint8_t priv[BR_RSA_KBUF_PRIV_SIZE(SELLO_RSA_MAX_BITS)];
            uint8_t pub[BR_RSA_KBUF_PUB_SIZE(SELLO_RSA_MAX_BITS)];
        } rsa;
    } u;
} sello_key;

/* True for a SELLO_KEY_* value this engine can generate. */
bool sello_key_type_valid(uint32_t type);

/* Generates a key pair of `type` from the module's DRBG. */
SELLO_MUST_CHECK sello_status sello_key_generate(sello_key *k, uint8_t type,
                                                 const br_prng_class **rng);

/* Serialises the private key of a module key (SELLO_ERR_STATE for a token
 * key); the output is a secret to wrap and wipe. */
SELLO_MUST_CHECK sello_status sello_key_export_private(const sello_key *k,
                                                       uint8_t *out,
                                                       size_t cap,
                                                       size_t *len);

/* Rebuilds a key (private and public parts) from its serialised private
 * part. */
SELLO_MUST_CHECK sello_status sello_key_import_private(sello_key *k,
                                                       uint8_t type,
                                                       const uint8_t *in,
                                                       size_t len);

/*
 * Makes k the token key `id` of `type` whose public key is the DER
 * SubjectPublicKeyInfo spki[0..len). SELLO_ERR_CRYPTO when that is not a
 * public key of `type`.
 */
SELLO_MUST_CHECK sello_status sello_key_use_token(sello_key *k, uint8_t type,
                                                  const uint8_t *id,
                                                  const uint8_t *spki,
                                                  size_t len);

/* Prepends the DER SubjectPublicKeyInfo of the key. */
void sello_key_write_spki(const sello_key *k, sello_der_writer *w);

/* The hash a signature of this key uses: the curve's own for ECDSA, the
 * configured one (`rsa_hash`, a SELLO_HASH_*) for RSA. */
const sello_hash_info *sello_key_sig_hash(const sello_key *k, int rsa_hash);

/* The same for a key of SELLO_KEY_* `type` (NULL for an unknown type). */
const sello_hash_info *sello_sig_hash_for(uint8_t type, int rsa_hash);

/* Prepends the signature AlgorithmIdentifier for this key and hash. */
void sello_key_write_sig_alg(const sello_key *k, const sello_hash_info *h,
                             sello_der_writer *w);

/* Signs a digest made with `h` (ECDSA signatures are DER, RFC 6979
 * deterministic; RSA is PKCS#1 v1.5). */
SELLO_MUST_CHECK sello_status sello_key_sign(const sello_key *k,
                                             const sello_hash_info *h,
                                             const uint8_t *digest,
                                             uint8_t *sig, size_t cap,
                                             size_t *sig_len);

/* Verifies a signature with the key's public part (self-tests). */
bool sello_key_verify(const sello_key *k, const sello_hash_info *h,
                      const uint8_t *digest, const uint8_t *sig,
                      size_t sig_len);

/* Forgets the key, wiping its secret parts. */
void sello_key_wipe(sello_key *k);

#endif
