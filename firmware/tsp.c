/* TimeStampReq decoding and policy; contracts in tsp.h. */
#include "tsp.h"

#include <sello/abi.h>

#include "der.h"
#include "hash.h"

static tsp_verdict reject(tsp_fail fail, const char *why)
{
    tsp_verdict v = { false, false, fail, why };
    return v;
}

static tsp_verdict malformed(void)
{
    tsp_verdict v = { false, true, TSP_FAIL_BAD_DATA_FORMAT,
                      "request is not a DER TimeStampReq" };
    return v;
}

/*
 * Structure first, policy second: a request that does not decode is
 * "malformed" (HTTP 400 at the relay); one that decodes but is not
 * acceptable gets a rejection with the precise failInfo.
 */
tsp_verdict tsp_decode_request(const uint8_t *der, size_t len,
                               const sello_unit_config *cfg, tsp_request *req)
{
    der_cur in = der_cur_init(der, len), body, alg_seq, alg, digest;
    der_cur policy = { NULL, NULL }, ext;
    uint32_t version;
    bool has_policy, has_ext;

    if (der_read(&in, DER_SEQUENCE, &body, NULL) != SELLO_OK ||
        !der_at_end(&in))
        return malformed();
    if (der_read_u32(&body, &version) != SELLO_OK)
        return malformed();

    der_cur imprint_body;
    if (der_read(&body, DER_SEQUENCE, &imprint_body, &req->imprint) !=
            SELLO_OK ||
        der_read(&imprint_body, DER_SEQUENCE, &alg_seq, NULL) != SELLO_OK ||
        der_read_oid(&alg_seq, &alg) != SELLO_OK)
        return malformed();
    if (!der_at_end(&alg_seq)) {
        der_cur null_content;
        if (der_read(&alg_seq, DER_NULL, &null_content, NULL) != SELLO_OK ||
            !der_at_end(&null_content) || !der_at_end(&alg_seq))
            return malformed();
    }
    if (der_read(&imprint_body, DER_OCTET_STRING, &digest, NULL) != SELLO_OK ||
        !der_at_end(&imprint_body))
        return malformed();

    has_policy = der_peek_tag(&body) == DER_OID;
    if (has_policy && der_read_oid(&body, &policy) != SELLO_OK)
        return malformed();
    req->has_nonce = false;
    req->nonce.p = req->nonce.end = NULL;
    if (der_peek_tag(&body) == DER_INTEGER) {
        if (der_read_integer(&body, &req->nonce) != SELLO_OK)
            return malformed();
        req->has_nonce = true;
    }
    req->cert_req = false;
    if (der_peek_tag(&body) == DER_BOOLEAN &&
        der_read_bool(&body, &req->cert_req) != SELLO_OK)
        return malformed();
    if (der_read_optional(&body, DER_CONTEXT_CONS(0), &ext, NULL, &has_ext) !=
            SELLO_OK ||
        !der_at_end(&body))
        return malformed();

    /* Policy checks, in the order a client can act on. */
    if (version != 1)
        return reject(TSP_FAIL_BAD_DATA_FORMAT, "version must be 1");
    const sello_hash_info *h = sello_hash_by_oid(alg.p, der_remaining(&alg));
    if (!h || !(cfg->hashes & SELLO_HASH_BIT(h->id)))
        return reject(TSP_FAIL_BAD_ALG, "hash algorithm not accepted");
    if (der_remaining(&digest) != h->len)
        return reject(TSP_FAIL_BAD_DATA_FORMAT,
                      "imprint length does not match its algorithm");
    if (has_policy &&
        (cfg->policy_len < 2 ||
         !der_equal(&policy, cfg->policy + 2, cfg->policy_len - 2)))
        return reject(TSP_FAIL_UNACCEPTED_POLICY, "policy not supported");
    if (has_ext)
        return reject(TSP_FAIL_UNACCEPTED_EXTENSION,
                      "request extensions not supported");
    if (req->has_nonce && der_remaining(&req->nonce) > TSP_NONCE_MAX)
        return reject(TSP_FAIL_BAD_DATA_FORMAT, "nonce too long");

    tsp_verdict ok = { true, false, TSP_FAIL_BAD_REQUEST, NULL };
    return ok;
}
