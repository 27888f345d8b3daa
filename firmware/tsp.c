/* TimeStampReq decoding and policy; contracts in tsp.h. */
#include "tsp.h"

#include <sello/abi.h>

#include "der.h"
#include "hash.h"

static sello_tsp_verdict reject(sello_tsp_fail fail, const char *why)
{
    sello_tsp_verdict v = { false, false, fail, why };
    return v;
}

static sello_tsp_verdict malformed(void)
{
    sello_tsp_verdict v = { false, true, SELLO_TSP_FAIL_BAD_DATA_FORMAT,
                      "request is not a DER TimeStampReq" };
    return v;
}

/*
 * Structure first, policy second: a request that does not decode is
 * "malformed" (HTTP 400 at the relay); one that decodes but is not
 * acceptable gets a rejection with the precise failInfo.
 */
sello_tsp_verdict sello_tsp_decode_request(const uint8_t *der, size_t len,
                               const sello_unit_config *cfg, sello_tsp_request *req)
{
    sello_der_cur in = sello_der_cur_init(der, len), body, alg_seq, alg, digest;
    sello_der_cur policy = { NULL, NULL }, ext;
    uint32_t version;
    bool has_policy, has_ext;

    if (sello_der_read(&in, SELLO_DER_SEQUENCE, &body, NULL) != SELLO_OK ||
        !sello_der_at_end(&in))
        return malformed();
    if (sello_der_read_u32(&body, &version) != SELLO_OK)
        return malformed();

    sello_der_cur imprint_body;
    if (sello_der_read(&body, SELLO_DER_SEQUENCE, &imprint_body, &req->imprint) !=
            SELLO_OK ||
        sello_der_read(&imprint_body, SELLO_DER_SEQUENCE, &alg_seq, NULL) != SELLO_OK ||
        sello_der_read_oid(&alg_seq, &alg) != SELLO_OK)
        return malformed();
    if (!sello_der_at_end(&alg_seq)) {
        sello_der_cur null_content;
        if (sello_der_read(&alg_seq, SELLO_DER_NULL, &null_content, NULL) != SELLO_OK ||
            !sello_der_at_end(&null_content) || !sello_der_at_end(&alg_seq))
            return malformed();
    }
    if (sello_der_read(&imprint_body, SELLO_DER_OCTET_STRING, &digest, NULL) != SELLO_OK ||
        !sello_der_at_end(&imprint_body))
        return malformed();

    has_policy = sello_der_peek_tag(&body) == SELLO_DER_OID;
    if (has_policy && sello_der_read_oid(&body, &policy) != SELLO_OK)
        return malformed();
    req->has_nonce = false;
    req->nonce.p = req->nonce.end = NULL;
    if (sello_der_peek_tag(&body) == SELLO_DER_INTEGER) {
        if (sello_der_read_integer(&body, &req->nonce) != SELLO_OK)
            return malformed();
        req->has_nonce = true;
    }
    req->cert_req = false;
    if (sello_der_peek_tag(&body) == SELLO_DER_BOOLEAN &&
        sello_der_read_bool(&body, &req->cert_req) != SELLO_OK)
        return malformed();
    if (sello_der_read_optional(&body, SELLO_DER_CONTEXT_CONS(0), &ext, NULL, &has_ext) !=
            SELLO_OK ||
        !sello_der_at_end(&body))
        return malformed();

    /* Policy checks, in the order a client can act on. */
    if (version != 1)
        return reject(SELLO_TSP_FAIL_BAD_DATA_FORMAT, "version must be 1");
    const sello_hash_info *h = sello_hash_by_oid(alg.p, sello_der_remaining(&alg));
    if (!h || !(cfg->hashes & SELLO_HASH_BIT(h->id)))
        return reject(SELLO_TSP_FAIL_BAD_ALG, "hash algorithm not accepted");
    if (sello_der_remaining(&digest) != h->len)
        return reject(SELLO_TSP_FAIL_BAD_DATA_FORMAT,
                      "imprint length does not match its algorithm");
    if (has_policy &&
        (cfg->policy_len < 2 ||
         !sello_der_equal(&policy, cfg->policy + 2, cfg->policy_len - 2)))
        return reject(SELLO_TSP_FAIL_UNACCEPTED_POLICY, "policy not supported");
    if (has_ext)
        return reject(SELLO_TSP_FAIL_UNACCEPTED_EXTENSION,
                      "request extensions not supported");
    if (req->has_nonce && sello_der_remaining(&req->nonce) > SELLO_TSP_NONCE_MAX)
        return reject(SELLO_TSP_FAIL_BAD_DATA_FORMAT, "nonce too long");

    sello_tsp_verdict ok = { true, false, SELLO_TSP_FAIL_BAD_REQUEST, NULL };
    return ok;
}
