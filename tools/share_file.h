/*
 * A custodian's share file: the module's share box (SELLO_INITR_SHARE)
 * with what is needed to open it again from the custodian's passphrase.
 * `sello init` writes one per custodian; the quorum commands (activate,
 * destroy, recalibrate) read them.
 *
 * Format version 1, SHARE_FILE_LEN = 292 octets, integers big-endian:
 *
 *   offset size  field
 *   0      8     magic "SELLOSHR"
 *   8      1     format version, 1 (the key derivation is Argon2id v1.3,
 *                custodian.h)
 *   9      1     x: this custodian's share index, 1..N
 *   10     1     N: custodians
 *   11     1     M: threshold
 *   12     32    unit id (SHA-256 of the TSU SubjectPublicKeyInfo)
 *   44     8     Argon2id opslimit
 *   52     8     Argon2id memlimit, octets
 *   60     16    Argon2id salt
 *   76     32    the custodian's X25519 public key
 *   108    184   the share box (SELLO_SHARE_BOX_LEN), exactly as the
 *                module returned it
 *
 * Only the box is secret-bearing, and it is sealed to the custodian's key;
 * the header is a copy of facts inside it (checked on opening), kept in
 * the clear so a file can be identified without its passphrase. The file
 * is still written mode 0600: anyone holding it can try passphrases
 * offline, at Argon2id's cost.
 */
#ifndef SELLO_TOOLS_SHARE_FILE_H
#define SELLO_TOOLS_SHARE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/abi.h>

#include "custodian.h"

#define SHARE_FILE_MAGIC "SELLOSHR"
#define SHARE_FILE_MAGIC_LEN 8u
#define SHARE_FILE_VERSION 1u
#define SHARE_FILE_LEN (108u + SELLO_SHARE_BOX_LEN)

typedef struct {
    uint8_t x, n, m;
    uint8_t unit_id[32];
    uint64_t kdf_ops, kdf_mem;
    uint8_t salt[CUSTODIAN_SALT_LEN];
    uint8_t pub[32];
    uint8_t box[SELLO_SHARE_BOX_LEN];
} share_file;

/* Serialises to out[0..SHARE_FILE_LEN). */
void share_file_encode(const share_file *s, uint8_t *out);

/* Parses and checks the header's own consistency; NULL, or why not. */
const char *share_file_decode(const uint8_t *data, size_t len,
                              share_file *s);

/* Reads and decodes `path`; false after printing why. */
bool share_file_load(const char *path, share_file *s);

/*
 * Creates `path` empty, mode 0600, refusing to replace an existing file.
 * Returns the descriptor, or -1 after printing why. Done before the
 * module is asked for anything, so that a share can never be left with
 * nowhere to go.
 */
int share_file_create(const char *path);

/* Writes the file to the descriptor from share_file_create, makes it
 * durable and closes it. False after printing why. */
bool share_file_write(int fd, const char *path, const share_file *s);

/*
 * Opens the box with the custodian's private key into
 * plain[0..SELLO_SHARE_LEN) and checks that the share inside agrees with
 * the header (format, unit, x, M, N). NULL, or why not; plain is wiped on
 * failure.
 */
const char *share_file_unbox(const share_file *s, const uint8_t priv[32],
                             uint8_t *plain);

/*
 * The custodian's whole path: derives the key from `pass`, checks that it
 * is the file's key ("wrong passphrase" otherwise, before anything else is
 * attempted), and unboxes. False after printing why, naming `path`.
 */
bool share_file_open(const share_file *s, const char *path,
                     const custodian_pass *pass, uint8_t *plain);

#endif
