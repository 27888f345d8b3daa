/* The hash functions a request may name and a signature may use. */
#ifndef SELLO_HASH_H
#define SELLO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#define SELLO_HASH_MAX_LEN 64u

typedef struct {
    int id;                     /* SELLO_HASH_* */
    size_t len;                 /* digest length in octets */
    const uint8_t *oid;         /* OID content octets */
    size_t oid_len;
    const unsigned char *pkcs1_oid; /* BearSSL's length-prefixed OID for
                                       PKCS#1 v1.5 DigestInfo */
    const br_hash_class *vtable;
} sello_hash_info;

/* The entry for a SELLO_HASH_* id, or NULL. */
const sello_hash_info *sello_hash_by_id(int id);

/* The entry whose OID content equals oid[0..len), or NULL. */
const sello_hash_info *sello_hash_by_oid(const uint8_t *oid, size_t len);

/* out[0..h->len) = H(data[0..len)). */
void sello_hash(const sello_hash_info *h, const void *data, size_t len,
                uint8_t *out);

#endif
