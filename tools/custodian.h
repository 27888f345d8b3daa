/*
 * The custodian's side of dual control (include/sello/abi.h, "Dual
 * control"): passphrases, and the X25519 key pair each custodian derives
 * from one.
 *
 *   private key = Argon2id v1.3 (libsodium crypto_pwhash) of the
 *                 passphrase with a random 16-octet salt, 32 octets
 *   public key  = sello_x25519_public(private key)
 *
 * The salt and the cost are kept in the custodian's share file, so the
 * same passphrase gives the same key whenever the share is opened.
 */
#ifndef SELLO_TOOLS_CUSTODIAN_H
#define SELLO_TOOLS_CUSTODIAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CUSTODIAN_SALT_LEN 16u
#define CUSTODIAN_PASS_MIN 8u       /* refused below this */
#define CUSTODIAN_PASS_SUGGESTED 10u
#define CUSTODIAN_PASS_MAX 1024u

/* An Argon2id cost: a named libsodium level, or what a share file holds. */
typedef struct {
    const char *name; /* "interactive", "moderate", "sensitive" */
    uint64_t ops;     /* crypto_pwhash opslimit */
    uint64_t mem;     /* crypto_pwhash memlimit, octets */
} custodian_kdf;

/* The named level, or NULL. */
const custodian_kdf *custodian_kdf_by_name(const char *name);

/* The level a new share gets when --kdf is not given. */
const custodian_kdf *custodian_kdf_default(void);

/*
 * Whether a share file's cost is one this tool would derive with: within
 * libsodium's bounds and no dearer than "sensitive", so that a damaged or
 * hostile file cannot make opening it take hours or all memory.
 */
bool custodian_kdf_acceptable(uint64_t ops, uint64_t mem);

/* A passphrase; wipe with custodian_pass_wipe. */
typedef struct {
    char s[CUSTODIAN_PASS_MAX + 1];
    size_t len;
} custodian_pass;

void custodian_pass_wipe(custodian_pass *p);

/*
 * Reads a passphrase from the first line of `path` (the line end is not
 * part of it; an empty passphrase is refused). False after printing why.
 */
bool custodian_pass_from_file(const char *path, custodian_pass *p);

/*
 * Asks at the terminal without echo. With `confirm` it is asked twice and
 * must match, and must be at least CUSTODIAN_PASS_MIN characters (asked
 * again otherwise): that is how a new passphrase is chosen. False after
 * printing why (no terminal, end of input).
 */
bool custodian_pass_prompt(const char *prompt, bool confirm,
                           custodian_pass *p);

/* A derived key pair; wipe with custodian_key_wipe. */
typedef struct {
    uint8_t priv[32];
    uint8_t pub[32];
} custodian_key;

void custodian_key_wipe(custodian_key *k);

/* Derives the key pair of passphrase `p` with `salt` at the given cost.
 * False after printing why (libsodium failure, typically no memory). */
bool custodian_derive(const custodian_pass *p,
                      const uint8_t salt[CUSTODIAN_SALT_LEN], uint64_t ops,
                      uint64_t mem, custodian_key *k);

/* A new custodian's key and the salt it was derived with. */
typedef struct {
    custodian_key key;
    uint8_t salt[CUSTODIAN_SALT_LEN];
} custodian_new;

/*
 * The key ceremony's first step: a passphrase for each of `n` custodians,
 * custodian x from passfiles[x - 1] when npass == n, else (npass == 0)
 * chosen at the terminal ("Custodian x of N, choose a passphrase:", typed
 * twice). Each must have CUSTODIAN_PASS_MIN characters and differ from
 * the others. Then out[x - 1] is derived with a fresh salt at cost `kdf`.
 * The passphrases are wiped before returning; out is wiped on failure.
 * False after printing why.
 */
bool custodian_choose(size_t n, const char *const *passfiles, size_t npass,
                      const custodian_kdf *kdf, custodian_new *out);

#endif
