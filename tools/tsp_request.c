/* TimeStampReq encoding; contracts in tsp_request.h. */
#include "tsp_request.h"

#include <string.h>

#include "der.h"
#include "util.h"

size_t tsq_encode(const tsq_request *q, uint8_t *out, size_t cap)
{
    /* The writer fills from the end: fields are prepended last first. */
    sello_der_writer w;
    sello_derw_init(&w, out, cap);
    const uint8_t *req = sello_derw_mark(&w);
    if (q->cert_req)
        sello_derw_prim(&w, SELLO_DER_BOOLEAN, "\xff", 1);
    if (q->nonce)
        sello_derw_uint(&w, q->nonce, q->nonce_len);
    if (q->policy)
        sello_derw_prim(&w, SELLO_DER_OID, q->policy, q->policy_len);
    const uint8_t *imprint = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, q->digest, q->hash->len);
    const uint8_t *alg = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_OID, q->hash->oid, q->hash->oid_len);
    sello_derw_wrap(&w, alg, SELLO_DER_SEQUENCE);
    sello_derw_wrap(&w, imprint, SELLO_DER_SEQUENCE);
    sello_derw_u64(&w, 1);
    sello_derw_wrap(&w, req, SELLO_DER_SEQUENCE);
    if (!sello_derw_ok(&w))
        return 0;
    size_t len = sello_derw_since(&w, out + cap);
    memmove(out, w.p, len);
    return len;
}

bool tsq_random_nonce(uint8_t nonce[8])
{
    return util_random(nonce, 8);
}
