/*
 * Hash functions by name, and hashing of files, for the command line.
 * The table of algorithms itself is the module's (firmware/hash.h).
 */
#ifndef SELLO_TOOLS_HASHX_H
#define SELLO_TOOLS_HASHX_H

#include <stdbool.h>
#include <stdint.h>

#include "hash.h"

/* "sha256" etc. (case-insensitive, "sha-256" too), or NULL. */
const sello_hash_info *hashx_by_name(const char *name);

/* "sha256" for SELLO_HASH_SHA256, "?" for an unknown id. */
const char *hashx_name(int id);

/*
 * Hashes the file at `path` ("-" is stdin) in a stream into
 * out[0..h->len). Returns false after printing why.
 */
bool hashx_file(const sello_hash_info *h, const char *path, uint8_t *out);

#endif
