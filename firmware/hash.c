/* Hash table and one-shot hashing; contracts in hash.h. */
#include "hash.h"

#include <sello/abi.h>

#include "oid.h"
#include "runtime.h"


static const sello_hash_info hashes[] = {
    { SELLO_HASH_SHA1, 20, SELLO_OID_SHA1, SELLO_OID_SHA1_LEN, BR_HASH_OID_SHA1,
      &br_sha1_vtable },
    { SELLO_HASH_SHA224, 28, SELLO_OID_SHA224, SELLO_OID_SHA224_LEN, BR_HASH_OID_SHA224,
      &br_sha224_vtable },
    { SELLO_HASH_SHA256, 32, SELLO_OID_SHA256, SELLO_OID_SHA256_LEN, BR_HASH_OID_SHA256,
      &br_sha256_vtable },
    { SELLO_HASH_SHA384, 48, SELLO_OID_SHA384, SELLO_OID_SHA384_LEN, BR_HASH_OID_SHA384,
      &br_sha384_vtable },
    { SELLO_HASH_SHA512, 64, SELLO_OID_SHA512, SELLO_OID_SHA512_LEN, BR_HASH_OID_SHA512,
      &br_sha512_vtable },
};

const sello_hash_info *sello_hash_by_id(int id)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].id == id)
            return &hashes[i];
    return NULL;
}

const sello_hash_info *sello_hash_by_oid(const uint8_t *oid, size_t len)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].oid_len == len &&
            sello_memcmp(hashes[i].oid, oid, len) == 0)
            return &hashes[i];
    return NULL;
}

void sello_hash(const sello_hash_info *h, const void *data, size_t len,
                uint8_t *out)
{
    br_hash_compat_context ctx;
    h->vtable->init(&ctx.vtable);
    h->vtable->update(&ctx.vtable, data, len);
    h->vtable->out(&ctx.vtable, out);
}
