/* TimeStampResp encoding; contracts in token.h. */
#include "token.h"

#include <sello/abi.h>

#include "clock.h"
#include "der.h"
#include "oid.h"
#include "runtime.h"

/*
 * TSTInfo ::= SEQUENCE {
 *     version         INTEGER { v1(1) },
 *     policy          TSAPolicyId,
 *     messageImprint  MessageImprint,         -- as the client sent it
 *     serialNumber    INTEGER,
 *     genTime         GeneralizedTime,
 *     accuracy        Accuracy OPTIONAL,      -- always present here
 *     ordering        BOOLEAN DEFAULT FALSE,  -- absent
 *     nonce           INTEGER OPTIONAL,
 *     tsa             [0] GeneralName OPTIONAL,
 *     extensions      [1] IMPLICIT Extensions OPTIONAL }
 * Accuracy ::= SEQUENCE {
 *     seconds INTEGER OPTIONAL,
 *     millis  [0] INTEGER (1..999) OPTIONAL,
 *     micros  [1] INTEGER (1..999) OPTIONAL }
 * The qualified extension (EN 319 422, 9.1):
 *     Extension { id-pe-qcStatements, non-critical,
 *                 QCStatements ::= SEQUENCE OF QCStatement { esi4-qtstStatement-1 } }
 */
static void write_tstinfo(sello_der_writer *w, const sello_token_issuer *t,
                          const sello_tsp_request *req, const uint8_t serial[12],
                          uint64_t gen_ms)
{
    const sello_unit_config *cfg = t->cfg;
    const uint8_t *tst = sello_derw_mark(w);

    if (cfg->qualified) {
        const uint8_t *exts = sello_derw_mark(w);
        const uint8_t *value = sello_derw_mark(w);
        sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_ETSI_QTST_STATEMENT,
                  SELLO_OID_ETSI_QTST_STATEMENT_LEN);
        sello_derw_wrap(w, value, SELLO_DER_SEQUENCE); /* QCStatement */
        sello_derw_wrap(w, value, SELLO_DER_SEQUENCE); /* QCStatements */
        sello_derw_wrap(w, value, SELLO_DER_OCTET_STRING);
        sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_PE_QCSTATEMENTS, SELLO_OID_PE_QCSTATEMENTS_LEN);
        sello_derw_wrap(w, value, SELLO_DER_SEQUENCE); /* Extension */
        sello_derw_wrap(w, exts, SELLO_DER_CONTEXT_CONS(1));
    }
    if (cfg->tsa_name)
        sello_derw_raw(w, t->signer->tsa, t->signer->tsa_len);
    if (req->has_nonce)
        sello_derw_prim(w, SELLO_DER_INTEGER, req->nonce.p, sello_der_remaining(&req->nonce));

    const uint8_t *acc = sello_derw_mark(w);
    uint32_t millis = cfg->accuracy_ms % 1000, seconds = cfg->accuracy_ms / 1000;
    if (millis) {
        sello_derw_u64(w, millis);
        sello_derw_retag(w, SELLO_DER_CONTEXT(0));
    }
    if (seconds)
        sello_derw_u64(w, seconds);
    sello_derw_wrap(w, acc, SELLO_DER_SEQUENCE);

    char when[SELLO_GENTIME_MAX];
    sello_derw_prim(w, SELLO_DER_GENERALIZED_TIME, when, sello_gentime_format(gen_ms, when));
    sello_derw_uint(w, serial, 12);
    sello_derw_raw(w, req->imprint.p, sello_der_remaining(&req->imprint));
    sello_derw_raw(w, cfg->policy, cfg->policy_len);
    sello_derw_u64(w, 1);
    sello_derw_wrap(w, tst, SELLO_DER_SEQUENCE);
}

/* Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }
 * with a single value already encoded in w's output. */
static void wrap_attribute(sello_der_writer *w, const uint8_t *mark,
                           const uint8_t *oid, size_t oid_len)
{
    sello_derw_wrap(w, mark, SELLO_DER_SET);
    sello_derw_prim(w, SELLO_DER_OID, oid, oid_len);
    sello_derw_wrap(w, mark, SELLO_DER_SEQUENCE);
}

typedef struct {
    const uint8_t *p;
    size_t len;
} span;

/*
 * SignedAttributes ::= SET SIZE (1..MAX) OF Attribute, DER-sorted:
 * content-type (id-ct-TSTInfo), message-digest, signing-certificate-v2.
 * Written as a SET (0x31) because that is what is signed (RFC 5652 5.4).
 */
static void write_signed_attrs(sello_der_writer *w, const sello_token_issuer *t,
                               const uint8_t *content_digest)
{
    uint8_t ct_buf[32], md_buf[96];
    sello_der_writer a;
    sello_derw_init(&a, ct_buf, sizeof ct_buf);
    sello_derw_prim(&a, SELLO_DER_OID, SELLO_OID_CT_TSTINFO, SELLO_OID_CT_TSTINFO_LEN);
    wrap_attribute(&a, a.end, SELLO_OID_ATTR_CONTENT_TYPE, SELLO_OID_ATTR_CONTENT_TYPE_LEN);
    span ct = { a.p, sello_derw_len(&a) };
    sello_derw_init(&a, md_buf, sizeof md_buf);
    sello_derw_prim(&a, SELLO_DER_OCTET_STRING, content_digest, t->sig_hash->len);
    wrap_attribute(&a, a.end, SELLO_OID_ATTR_MESSAGE_DIGEST,
                   SELLO_OID_ATTR_MESSAGE_DIGEST_LEN);
    span md = { a.p, sello_derw_len(&a) };

    span attrs[3] = { ct, md, { t->signer->ess_attr, t->signer->ess_attr_len } };
    for (int i = 1; i < 3; i++) /* insertion sort of three */
        for (int j = i; j > 0 && sello_der_set_order(attrs[j - 1].p, attrs[j - 1].len,
                                               attrs[j].p, attrs[j].len) > 0;
             j--) {
            span tmp = attrs[j];
            attrs[j] = attrs[j - 1];
            attrs[j - 1] = tmp;
        }
    const uint8_t *set = sello_derw_mark(w);
    for (int i = 2; i >= 0; i--)
        sello_derw_raw(w, attrs[i].p, attrs[i].len);
    sello_derw_wrap(w, set, SELLO_DER_SET);
}

/* AlgorithmIdentifier of a SHA-2 digest: parameters absent (RFC 5754). */
static void write_digest_alg(sello_der_writer *w, const sello_hash_info *h)
{
    const uint8_t *mark = sello_derw_mark(w);
    sello_derw_prim(w, SELLO_DER_OID, h->oid, h->oid_len);
    sello_derw_wrap(w, mark, SELLO_DER_SEQUENCE);
}

/*
 * TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken }
 * ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT }
 * SignedData ::= SEQUENCE {
 *     version 3, digestAlgorithms SET OF, encapContentInfo,
 *     certificates [0] IMPLICIT OPTIONAL, signerInfos SET OF SignerInfo }
 * EncapsulatedContentInfo ::= SEQUENCE {
 *     eContentType id-ct-TSTInfo, eContent [0] EXPLICIT OCTET STRING }
 * SignerInfo ::= SEQUENCE {
 *     version 1, sid IssuerAndSerialNumber, digestAlgorithm,
 *     signedAttrs [0] IMPLICIT, signatureAlgorithm, signature OCTET STRING }
 */
sello_status sello_token_write_granted(const sello_token_issuer *t, const sello_tsp_request *req,
                                 const uint8_t serial[12], uint64_t gen_ms,
                                 uint8_t *out, size_t cap, size_t *len)
{
    const sello_hash_info *h = t->sig_hash;
    uint8_t *tst_buf = t->scratch;
    uint8_t *attr_buf = tst_buf + SELLO_TOKEN_TSTINFO_MAX;
    uint8_t *sig = attr_buf + SELLO_TOKEN_ATTRS_MAX;
    uint8_t digest[SELLO_HASH_MAX_LEN];

    sello_der_writer tw;
    sello_derw_init(&tw, tst_buf, SELLO_TOKEN_TSTINFO_MAX);
    write_tstinfo(&tw, t, req, serial, gen_ms);
    if (!sello_derw_ok(&tw))
        return SELLO_ERR_SPACE;
    sello_hash(h, tw.p, sello_derw_len(&tw), digest);

    sello_der_writer aw;
    sello_derw_init(&aw, attr_buf, SELLO_TOKEN_ATTRS_MAX);
    write_signed_attrs(&aw, t, digest);
    if (!sello_derw_ok(&aw))
        return SELLO_ERR_SPACE;
    sello_hash(h, aw.p, sello_derw_len(&aw), digest);
    size_t sig_len;
    SELLO_TRY(sello_key_sign(t->key, h, digest, sig, SELLO_SIG_MAX, &sig_len));

    sello_der_writer w;
    sello_derw_init(&w, out, cap);
    const uint8_t *resp = sello_derw_mark(&w);
    const uint8_t *signed_data = sello_derw_mark(&w);
    const uint8_t *mark = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, sig, sig_len);
    sello_key_write_sig_alg(t->key, h, &w);
    /* the SET's content under the [0] IMPLICIT tag: skip the SET header */
    sello_der_cur set = sello_der_cur_init(aw.p, sello_derw_len(&aw)), attrs;
    if (sello_der_read(&set, SELLO_DER_SET, &attrs, NULL) != SELLO_OK)
        return SELLO_ERR_SPACE;
    sello_derw_prim(&w, SELLO_DER_CONTEXT_CONS(0), attrs.p, sello_der_remaining(&attrs));
    write_digest_alg(&w, h);
    sello_derw_raw(&w, t->signer->sid, t->signer->sid_len);
    sello_derw_u64(&w, 1);
    sello_derw_wrap(&w, mark, SELLO_DER_SEQUENCE); /* SignerInfo */
    sello_derw_wrap(&w, mark, SELLO_DER_SET);      /* signerInfos */
    if (req->cert_req)
        sello_derw_raw(&w, t->signer->certs, t->signer->certs_len);
    mark = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_OCTET_STRING, tw.p, sello_derw_len(&tw));
    sello_derw_wrap(&w, mark, SELLO_DER_CONTEXT_CONS(0));
    sello_derw_prim(&w, SELLO_DER_OID, SELLO_OID_CT_TSTINFO, SELLO_OID_CT_TSTINFO_LEN);
    sello_derw_wrap(&w, mark, SELLO_DER_SEQUENCE); /* encapContentInfo */
    mark = sello_derw_mark(&w);
    write_digest_alg(&w, h);
    sello_derw_wrap(&w, mark, SELLO_DER_SET);      /* digestAlgorithms */
    sello_derw_u64(&w, 3);
    sello_derw_wrap(&w, signed_data, SELLO_DER_SEQUENCE);
    sello_derw_wrap(&w, signed_data, SELLO_DER_CONTEXT_CONS(0));
    sello_derw_prim(&w, SELLO_DER_OID, SELLO_OID_SIGNED_DATA, SELLO_OID_SIGNED_DATA_LEN);
    sello_derw_wrap(&w, signed_data, SELLO_DER_SEQUENCE); /* ContentInfo */
    mark = sello_derw_mark(&w);
    sello_derw_u64(&w, 0);                   /* granted */
    sello_derw_wrap(&w, mark, SELLO_DER_SEQUENCE); /* PKIStatusInfo */
    sello_derw_wrap(&w, resp, SELLO_DER_SEQUENCE);
    return sello_derw_to_front(&w, len) ? SELLO_OK : SELLO_ERR_SPACE;
}

/*
 * PKIStatusInfo ::= SEQUENCE {
 *     status        PKIStatus,               -- rejection (2)
 *     statusString  PKIFreeText OPTIONAL,    -- SEQUENCE OF UTF8String
 *     failInfo      PKIFailureInfo OPTIONAL } -- named BIT STRING
 * A named bit list drops trailing zero bits, so the string ends at `fail`.
 */
size_t sello_token_write_rejection(sello_tsp_fail fail, const char *why, uint8_t *out,
                             size_t cap)
{
    unsigned bit = (unsigned)fail;
    uint8_t bits[5] = { 0 };
    size_t nbytes = bit / 8 + 1;
    bits[0] = (uint8_t)(7 - bit % 8); /* unused bits in the last octet */
    bits[nbytes] = (uint8_t)(0x80u >> (bit % 8));
    size_t why_len = 0;
    while (why[why_len])
        why_len++;

    sello_der_writer w;
    sello_derw_init(&w, out, cap);
    const uint8_t *resp = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_BIT_STRING, bits, nbytes + 1);
    const uint8_t *text = sello_derw_mark(&w);
    sello_derw_prim(&w, SELLO_DER_UTF8_STRING, why, why_len);
    sello_derw_wrap(&w, text, SELLO_DER_SEQUENCE);
    sello_derw_u64(&w, 2);
    sello_derw_wrap(&w, resp, SELLO_DER_SEQUENCE);
    sello_derw_wrap(&w, resp, SELLO_DER_SEQUENCE);
    size_t len;
    return sello_derw_to_front(&w, &len) ? len : 0;
}
