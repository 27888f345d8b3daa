/* Time-stamp verification; the checks and their order are in
 * tsp_verify.h. */
#include "tsp_verify.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sello/abi.h>

#include "der.h"
#include "dn.h"
#include "hash.h"
#include "hashx.h"
#include "oid.h"
#include "util.h"
#include "x509.h"

#define IS_OID(cur, NAME) sello_der_equal((cur), NAME, NAME##_LEN)

/* Most certificates a token may carry that are looked at. */
#define TSV_MAX_CERTS 8

/* Working state of one verification. */
typedef struct {
    const tsv_params *p;
    tsv_result *r;

    /* SignedData */
    sello_der_cur digest_algs;       /* SET content */
    sello_der_cur econtent;          /* TSTInfo octets */
    sello_der_cur certs_set;         /* [0] content, if present */
    bool has_certs;
    x509_cert certs[TSV_MAX_CERTS];
    size_t n_certs;

    /* SignerInfo */
    bool sid_is_ski;
    sello_der_cur sid_issuer, sid_serial, sid_ski;
    const sello_hash_info *digest_hash;
    sello_der_cur signed_attrs;      /* whole [0] element */
    derx_alg sig_alg;
    sello_der_cur signature;

    /* signed attributes */
    sello_der_cur attr_message_digest;
    bool has_ess_v2, has_ess_v1;
    sello_der_cur ess_v2, ess_v1;    /* the first ESSCertID(v2), whole */

    /* TSTInfo pieces kept for later checks */
    sello_der_cur tsa_general_name;  /* whole GeneralName */

    x509_cert tsa_cert_storage;
    const x509_cert *signer;
} tsv_ctx;

static tsv_outcome fail(tsv_ctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static tsv_outcome fail(tsv_ctx *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->r->reason, sizeof v->r->reason, fmt, ap);
    va_end(ap);
    return TSV_FAILED;
}

#define TRY(expr)                                                              \
    do {                                                                       \
        tsv_outcome o_ = (expr);                                               \
        if (o_ != TSV_OK)                                                      \
            return o_;                                                         \
    } while (0)

/* ---- names for PKIStatusInfo ----------------------------------------- */

const char *tsv_status_name(int status)
{
    static const char *const names[] = {
        "granted", "grantedWithMods", "rejection", "waiting",
        "revocationWarning", "revocationNotification"};
    if (status >= 0 && status < (int)(sizeof names / sizeof names[0]))
        return names[status];
    return "unknown";
}

void tsv_fail_info_names(uint32_t bits, char *out, size_t cap)
{
    /* PKIFailureInfo as RFC 3161 2.4.2 lists it. */
    static const struct {
        unsigned bit;
        const char *name;
    } info[] = {
        {0, "badAlg"},
        {2, "badRequest"},
        {5, "badDataFormat"},
        {14, "timeNotAvailable"},
        {15, "unacceptedPolicy"},
        {16, "unacceptedExtension"},
        {17, "addInfoNotAvailable"},
        {25, "systemFailure"},
    };
    size_t len = 0;
    out[0] = '\0';
    for (unsigned bit = 0; bit < 32; bit++) {
        if (!(bits & (1u << bit)))
            continue;
        const char *name = NULL;
        for (size_t i = 0; i < sizeof info / sizeof info[0]; i++)
            if (info[i].bit == bit)
                name = info[i].name;
        int n = name ? snprintf(out + len, cap - len, "%s%s",
                                len ? "," : "", name)
                     : snprintf(out + len, cap - len, "%sbit%u",
                                len ? "," : "", bit);
        if (n < 0 || (size_t)n >= cap - len)
            return;
        len += (size_t)n;
    }
}

/* ---- TimeStampResp ------------------------------------------------------- */

/*
 * TimeStampResp ::= SEQUENCE { status PKIStatusInfo,
 *                              timeStampToken TimeStampToken OPTIONAL }
 * PKIStatusInfo ::= SEQUENCE { status PKIStatus,
 *                              statusString PKIFreeText OPTIONAL,
 *                              failInfo PKIFailureInfo OPTIONAL }
 * PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String
 */
static tsv_outcome read_response(tsv_ctx *v, sello_der_cur *token)
{
    tsv_result *r = v->r;
    sello_der_cur in = sello_der_cur_init(v->p->input, v->p->input_len), resp, si;
    if (sello_der_read(&in, SELLO_DER_SEQUENCE, &resp, NULL) != SELLO_OK ||
        !sello_der_at_end(&in))
        return fail(v, "TimeStampResp is not one DER SEQUENCE");
    if (sello_der_read(&resp, SELLO_DER_SEQUENCE, &si, NULL) != SELLO_OK)
        return fail(v, "malformed PKIStatusInfo");
    uint32_t status;
    if (sello_der_read_u32(&si, &status) != SELLO_OK || status > 0xffff)
        return fail(v, "malformed PKIStatus");
    r->has_status = true;
    r->status = (int)status;
    sello_der_cur text;
    bool present;
    if (sello_der_read_optional(&si, SELLO_DER_SEQUENCE, &text, NULL, &present) !=
        SELLO_OK)
        return fail(v, "malformed statusString");
    if (present) {
        if (sello_der_at_end(&text))
            return fail(v, "empty statusString");
        size_t len = 0;
        while (!sello_der_at_end(&text)) {
            sello_der_cur s;
            if (sello_der_read(&text, SELLO_DER_UTF8_STRING, &s, NULL) != SELLO_OK)
                return fail(v, "malformed statusString");
            /* Joined with "; ", cut to fit. */
            size_t room = sizeof r->status_string - 1 - len;
            size_t sep = len ? 2 : 0;
            if (room <= sep)
                continue;
            size_t n = sello_der_remaining(&s);
            if (n > room - sep)
                n = room - sep;
            memcpy(r->status_string + len, "; ", sep);
            memcpy(r->status_string + len + sep, s.p, n);
            len += sep + n;
            r->status_string[len] = '\0';
        }
    }
    if (sello_der_peek_tag(&si) == SELLO_DER_BIT_STRING) {
        if (derx_read_named_bits(&si, &r->fail_info) != SELLO_OK)
            return fail(v, "malformed failInfo");
        r->has_fail_info = true;
    }
    if (!sello_der_at_end(&si))
        return fail(v, "trailing data in PKIStatusInfo");

    bool has_token = !sello_der_at_end(&resp);
    if (has_token) {
        sello_der_cur content;
        if (sello_der_read(&resp, SELLO_DER_SEQUENCE, &content, token) != SELLO_OK ||
            !sello_der_at_end(&resp))
            return fail(v, "malformed timeStampToken");
    }
    if (status > 1) {
        char bits[256] = "";
        if (r->has_fail_info)
            tsv_fail_info_names(r->fail_info, bits, sizeof bits);
        snprintf(r->reason, sizeof r->reason,
                 "TSA answered %s%s%.200s%s%.200s%s", tsv_status_name(r->status),
                 r->has_fail_info ? ", failInfo " : "", bits,
                 r->status_string[0] ? ", statusString \"" : "",
                 r->status_string, r->status_string[0] ? "\"" : "");
        return TSV_REJECTED;
    }
    if (!has_token)
        return fail(v, "status %s but no timeStampToken",
                    tsv_status_name(r->status));
    return TSV_OK;
}

/* ---- ContentInfo and SignedData --------------------------------------- */

static tsv_outcome read_certificates(tsv_ctx *v)
{
    /* CertificateSet ::= SET OF CertificateChoices; only the plain
     * Certificate choice (a SEQUENCE) is used, others are skipped. */
    sello_der_cur set = v->certs_set;
    while (!sello_der_at_end(&set)) {
        uint8_t tag;
        sello_der_cur content, whole;
        if (sello_der_read_any(&set, &tag, &content, &whole) != SELLO_OK)
            return fail(v, "malformed SignedData.certificates");
        v->r->n_certs++;
        if (tag != SELLO_DER_SEQUENCE)
            continue;
        if (v->n_certs == TSV_MAX_CERTS)
            return fail(v, "more than %d certificates in the token",
                        TSV_MAX_CERTS);
        const char *why = x509_parse(whole.p, sello_der_remaining(&whole),
                                     &v->certs[v->n_certs]);
        if (why)
            return fail(v, "token certificate %zu: %s", v->n_certs + 1, why);
        v->n_certs++;
    }
    return TSV_OK;
}

/*
 * SignerInfo ::= SEQUENCE {
 *     version CMSVersion, sid SignerIdentifier,
 *     digestAlgorithm DigestAlgorithmIdentifier,
 *     signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
 *     signatureAlgorithm SignatureAlgorithmIdentifier,
 *     signature SignatureValue,
 *     unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
 * SignerIdentifier ::= CHOICE {
 *     issuerAndSerialNumber IssuerAndSerialNumber,
 *     subjectKeyIdentifier [0] SubjectKeyIdentifier }
 */
static tsv_outcome read_signer_info(tsv_ctx *v, sello_der_cur si)
{
    uint32_t version;
    if (sello_der_read_u32(&si, &version) != SELLO_OK)
        return fail(v, "malformed SignerInfo.version");
    if (sello_der_peek_tag(&si) == SELLO_DER_SEQUENCE) {
        sello_der_cur ias, content;
        if (version != 1)
            return fail(v, "SignerInfo version %u with issuerAndSerialNumber "
                        "(must be 1)", (unsigned)version);
        if (sello_der_read(&si, SELLO_DER_SEQUENCE, &ias, NULL) != SELLO_OK ||
            sello_der_read(&ias, SELLO_DER_SEQUENCE, &content, &v->sid_issuer) !=
                SELLO_OK ||
            sello_der_read_integer(&ias, &v->sid_serial) != SELLO_OK ||
            !sello_der_at_end(&ias))
            return fail(v, "malformed SignerInfo.sid");
    } else {
        if (version != 3)
            return fail(v, "SignerInfo version %u with subjectKeyIdentifier "
                        "(must be 3)", (unsigned)version);
        if (sello_der_read(&si, SELLO_DER_CONTEXT(0), &v->sid_ski, NULL) != SELLO_OK)
            return fail(v, "malformed SignerInfo.sid");
        v->sid_is_ski = true;
    }
    derx_alg dalg;
    if (derx_read_alg(&si, &dalg) != SELLO_OK)
        return fail(v, "malformed SignerInfo.digestAlgorithm");
    v->digest_hash = sello_hash_by_oid(dalg.oid.p, sello_der_remaining(&dalg.oid));
    if (!v->digest_hash || !derx_alg_params_absent_or_null(&dalg))
        return fail(v, "unsupported SignerInfo.digestAlgorithm");
    v->r->digest_hash_id = v->digest_hash->id;

    /* The digest algorithm must be announced in digestAlgorithms. */
    sello_der_cur algs = v->digest_algs;
    bool listed = false;
    while (!sello_der_at_end(&algs)) {
        derx_alg a;
        if (derx_read_alg(&algs, &a) != SELLO_OK ||
            !derx_alg_params_absent_or_null(&a))
            return fail(v, "malformed SignedData.digestAlgorithms");
        listed |= sello_der_remaining(&a.oid) == sello_der_remaining(&dalg.oid) &&
                  memcmp(a.oid.p, dalg.oid.p, sello_der_remaining(&a.oid)) == 0;
    }
    if (!listed)
        return fail(v, "SignerInfo.digestAlgorithm is not listed in "
                       "SignedData.digestAlgorithms");

    sello_der_cur attrs_content;
    if (sello_der_read(&si, SELLO_DER_CONTEXT_CONS(0), &attrs_content,
                 &v->signed_attrs) != SELLO_OK)
        return fail(v, "SignerInfo has no signedAttrs");
    if (derx_read_alg(&si, &v->sig_alg) != SELLO_OK)
        return fail(v, "malformed SignerInfo.signatureAlgorithm");
    if (sello_der_read(&si, SELLO_DER_OCTET_STRING, &v->signature, NULL) != SELLO_OK)
        return fail(v, "malformed SignerInfo.signature");
    sello_der_cur unsigned_attrs;
    bool present;
    if (sello_der_read_optional(&si, SELLO_DER_CONTEXT_CONS(1), &unsigned_attrs, NULL,
                          &present) != SELLO_OK ||
        !sello_der_at_end(&si))
        return fail(v, "trailing data in SignerInfo");
    return TSV_OK;
}

/*
 * ContentInfo ::= SEQUENCE { contentType ContentType,
 *                            content [0] EXPLICIT ANY }
 * SignedData ::= SEQUENCE {
 *     version CMSVersion, digestAlgorithms DigestAlgorithmIdentifiers,
 *     encapContentInfo EncapsulatedContentInfo,
 *     certificates [0] IMPLICIT CertificateSet OPTIONAL,
 *     crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
 *     signerInfos SignerInfos }
 * EncapsulatedContentInfo ::= SEQUENCE {
 *     eContentType ContentType,
 *     eContent [0] EXPLICIT OCTET STRING OPTIONAL }
 */
static tsv_outcome read_signed_data(tsv_ctx *v, sello_der_cur token)
{
    sello_der_cur ci, oid, wrap, sd, eci, ectype, ewrap, signers, si;
    if (sello_der_read(&token, SELLO_DER_SEQUENCE, &ci, NULL) != SELLO_OK ||
        !sello_der_at_end(&token))
        return fail(v, "token is not one DER SEQUENCE");
    if (sello_der_read_oid(&ci, &oid) != SELLO_OK)
        return fail(v, "malformed ContentInfo");
    if (!IS_OID(&oid, SELLO_OID_SIGNED_DATA))
        return fail(v, "ContentInfo is not id-signedData");
    if (sello_der_read(&ci, SELLO_DER_CONTEXT_CONS(0), &wrap, NULL) != SELLO_OK ||
        !sello_der_at_end(&ci) ||
        sello_der_read(&wrap, SELLO_DER_SEQUENCE, &sd, NULL) != SELLO_OK ||
        !sello_der_at_end(&wrap))
        return fail(v, "malformed ContentInfo.content");
    uint32_t version;
    if (sello_der_read_u32(&sd, &version) != SELLO_OK)
        return fail(v, "malformed SignedData.version");
    if (version != 3)
        return fail(v, "SignedData version %u (must be 3)", (unsigned)version);
    if (sello_der_read(&sd, SELLO_DER_SET, &v->digest_algs, NULL) != SELLO_OK)
        return fail(v, "malformed SignedData.digestAlgorithms");
    if (sello_der_read(&sd, SELLO_DER_SEQUENCE, &eci, NULL) != SELLO_OK ||
        sello_der_read_oid(&eci, &ectype) != SELLO_OK)
        return fail(v, "malformed encapContentInfo");
    if (!IS_OID(&ectype, SELLO_OID_CT_TSTINFO))
        return fail(v, "eContentType is not id-ct-TSTInfo");
    if (sello_der_read(&eci, SELLO_DER_CONTEXT_CONS(0), &ewrap, NULL) != SELLO_OK ||
        !sello_der_at_end(&eci) ||
        sello_der_read(&ewrap, SELLO_DER_OCTET_STRING, &v->econtent, NULL) != SELLO_OK ||
        !sello_der_at_end(&ewrap))
        return fail(v, "encapContentInfo without a primitive eContent");
    bool present;
    if (sello_der_read_optional(&sd, SELLO_DER_CONTEXT_CONS(0), &v->certs_set, NULL,
                          &v->has_certs) != SELLO_OK)
        return fail(v, "malformed SignedData.certificates");
    sello_der_cur crls;
    if (sello_der_read_optional(&sd, SELLO_DER_CONTEXT_CONS(1), &crls, NULL, &present) !=
        SELLO_OK)
        return fail(v, "malformed SignedData.crls");
    if (sello_der_read(&sd, SELLO_DER_SET, &signers, NULL) != SELLO_OK ||
        !sello_der_at_end(&sd))
        return fail(v, "malformed SignedData.signerInfos");
    if (sello_der_read(&signers, SELLO_DER_SEQUENCE, &si, NULL) != SELLO_OK)
        return fail(v, "SignedData has no SignerInfo");
    if (!sello_der_at_end(&signers))
        return fail(v, "SignedData has more than one SignerInfo");
    if (v->has_certs)
        TRY(read_certificates(v));
    return read_signer_info(v, si);
}

/* ---- TSTInfo -------------------------------------------------------------- */

/*
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
 * QCStatements ::= SEQUENCE OF QCStatement
 * QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER,
 *                            statementInfo ANY OPTIONAL }
 */
static tsv_outcome read_tst_extensions(tsv_ctx *v, sello_der_cur exts)
{
    if (sello_der_at_end(&exts))
        return fail(v, "empty TSTInfo.extensions");
    sello_der_cur seen[16];
    unsigned n = 0;
    while (!sello_der_at_end(&exts)) {
        sello_der_cur ext, oid, crit, value;
        bool critical = false;
        if (sello_der_read(&exts, SELLO_DER_SEQUENCE, &ext, NULL) != SELLO_OK ||
            sello_der_read_oid(&ext, &oid) != SELLO_OK ||
            sello_der_read_optional(&ext, SELLO_DER_BOOLEAN, &crit, NULL, &critical) !=
                SELLO_OK)
            return fail(v, "malformed TSTInfo extension");
        if (critical && (sello_der_remaining(&crit) != 1 || crit.p[0] != 0xff))
            return fail(v, "TSTInfo extension with an encoded critical "
                           "FALSE or non-DER BOOLEAN");
        if (sello_der_read(&ext, SELLO_DER_OCTET_STRING, &value, NULL) != SELLO_OK ||
            !sello_der_at_end(&ext))
            return fail(v, "malformed TSTInfo extension");
        for (unsigned i = 0; i < n; i++)
            if (sello_der_equal(&seen[i], oid.p, sello_der_remaining(&oid)))
                return fail(v, "duplicate TSTInfo extension");
        if (n == sizeof seen / sizeof seen[0])
            return fail(v, "too many TSTInfo extensions");
        seen[n++] = oid;
        if (IS_OID(&oid, SELLO_OID_PE_QCSTATEMENTS)) {
            sello_der_cur list;
            if (sello_der_read(&value, SELLO_DER_SEQUENCE, &list, NULL) != SELLO_OK ||
                !sello_der_at_end(&value))
                return fail(v, "malformed qcStatements");
            while (!sello_der_at_end(&list)) {
                sello_der_cur st, sid;
                if (sello_der_read(&list, SELLO_DER_SEQUENCE, &st, NULL) != SELLO_OK ||
                    sello_der_read_oid(&st, &sid) != SELLO_OK)
                    return fail(v, "malformed QCStatement");
                if (!sello_der_at_end(&st)) {
                    uint8_t tag;
                    sello_der_cur info;
                    if (sello_der_read_any(&st, &tag, &info, NULL) != SELLO_OK ||
                        !sello_der_at_end(&st))
                        return fail(v, "malformed QCStatement");
                }
                if (IS_OID(&sid, SELLO_OID_ETSI_QTST_STATEMENT))
                    v->r->qualified = true;
            }
        } else if (critical) {
            char dotted[OIDX_DOTTED_MAX];
            oidx_to_dotted(oid.p, sello_der_remaining(&oid), dotted);
            return fail(v, "unknown critical TSTInfo extension %s", dotted);
        }
    }
    v->r->n_extensions = n;
    return TSV_OK;
}

/*
 * TSTInfo ::= SEQUENCE {
 *     version INTEGER { v1(1) }, policy TSAPolicyId,
 *     messageImprint MessageImprint, serialNumber INTEGER,
 *     genTime GeneralizedTime, accuracy Accuracy OPTIONAL,
 *     ordering BOOLEAN DEFAULT FALSE, nonce INTEGER OPTIONAL,
 *     tsa [0] GeneralName OPTIONAL,
 *     extensions [1] IMPLICIT Extensions OPTIONAL }
 * MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
 *                               hashedMessage OCTET STRING }
 * Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL,
 *                         millis [0] INTEGER (1..999) OPTIONAL,
 *                         micros [1] INTEGER (1..999) OPTIONAL }
 */
static tsv_outcome read_tst_info(tsv_ctx *v)
{
    tsv_result *r = v->r;
    sello_der_cur in = v->econtent, tst, oid, mi, digest, serial;
    if (sello_der_read(&in, SELLO_DER_SEQUENCE, &tst, NULL) != SELLO_OK ||
        !sello_der_at_end(&in))
        return fail(v, "eContent is not one DER TSTInfo");
    uint32_t version;
    if (sello_der_read_u32(&tst, &version) != SELLO_OK)
        return fail(v, "malformed TSTInfo.version");
    if (version != 1)
        return fail(v, "TSTInfo version %u (must be 1)", (unsigned)version);
    if (sello_der_read_oid(&tst, &oid) != SELLO_OK)
        return fail(v, "malformed TSTInfo.policy");
    oidx_to_dotted(oid.p, sello_der_remaining(&oid), r->policy);
    if (v->p->policy &&
        !sello_der_equal(&oid, v->p->policy, v->p->policy_len))
        return fail(v, "policy %s is not the expected one", r->policy);

    derx_alg halg;
    if (sello_der_read(&tst, SELLO_DER_SEQUENCE, &mi, NULL) != SELLO_OK ||
        derx_read_alg(&mi, &halg) != SELLO_OK ||
        sello_der_read(&mi, SELLO_DER_OCTET_STRING, &digest, NULL) != SELLO_OK ||
        !sello_der_at_end(&mi))
        return fail(v, "malformed TSTInfo.messageImprint");
    const sello_hash_info *h =
        sello_hash_by_oid(halg.oid.p, sello_der_remaining(&halg.oid));
    if (!h || !derx_alg_params_absent_or_null(&halg))
        return fail(v, "unsupported messageImprint hash algorithm");
    if (sello_der_remaining(&digest) != h->len)
        return fail(v, "messageImprint digest length %zu does not match %s",
                    sello_der_remaining(&digest), hashx_name(h->id));
    r->imprint_hash_id = h->id;
    r->imprint_len = h->len;
    memcpy(r->imprint, digest.p, h->len);

    sello_der_cur probe = tst;
    if (sello_der_read_integer(&probe, &serial) == SELLO_OK && (serial.p[0] & 0x80))
        return fail(v, "negative TSTInfo.serialNumber");
    if (derx_read_uint_mag(&tst, &serial) != SELLO_OK)
        return fail(v, "malformed TSTInfo.serialNumber");
    if (sello_der_remaining(&serial) > sizeof r->serial)
        return fail(v, "TSTInfo.serialNumber longer than %zu octets",
                    sizeof r->serial);
    r->serial_len = sello_der_remaining(&serial);
    memcpy(r->serial, serial.p, r->serial_len);

    if (derx_read_gentime(&tst, &r->gen_time) != SELLO_OK)
        return fail(v, "malformed genTime (DER GeneralizedTime YYYYMMDDHHMMSS"
                       "[.f]Z expected)");

    sello_der_cur acc;
    if (sello_der_read_optional(&tst, SELLO_DER_SEQUENCE, &acc, NULL, &r->has_accuracy) !=
        SELLO_OK)
        return fail(v, "malformed TSTInfo.accuracy");
    if (r->has_accuracy) {
        if (sello_der_peek_tag(&acc) == SELLO_DER_INTEGER &&
            sello_der_read_u32(&acc, &r->acc_seconds) != SELLO_OK)
            return fail(v, "malformed accuracy.seconds");
        if (sello_der_peek_tag(&acc) == SELLO_DER_CONTEXT(0) &&
            (derx_read_implicit_u32(&acc, SELLO_DER_CONTEXT(0), &r->acc_millis) !=
                 SELLO_OK ||
             r->acc_millis < 1 || r->acc_millis > 999))
            return fail(v, "malformed accuracy.millis (1..999)");
        if (sello_der_peek_tag(&acc) == SELLO_DER_CONTEXT(1) &&
            (derx_read_implicit_u32(&acc, SELLO_DER_CONTEXT(1), &r->acc_micros) !=
                 SELLO_OK ||
             r->acc_micros < 1 || r->acc_micros > 999))
            return fail(v, "malformed accuracy.micros (1..999)");
        if (!sello_der_at_end(&acc))
            return fail(v, "malformed TSTInfo.accuracy");
    }
    if (sello_der_peek_tag(&tst) == SELLO_DER_BOOLEAN) {
        if (sello_der_read_bool(&tst, &r->ordering) != SELLO_OK || !r->ordering)
            return fail(v, "TSTInfo.ordering encodes its DEFAULT FALSE");
    }
    if (sello_der_peek_tag(&tst) == SELLO_DER_INTEGER) {
        sello_der_cur nonce;
        if (sello_der_read_integer(&tst, &nonce) != SELLO_OK ||
            sello_der_remaining(&nonce) > sizeof r->nonce)
            return fail(v, "malformed TSTInfo.nonce");
        r->has_nonce = true;
        r->nonce_len = sello_der_remaining(&nonce);
        memcpy(r->nonce, nonce.p, r->nonce_len);
    }
    if (sello_der_peek_tag(&tst) == SELLO_DER_CONTEXT_CONS(0)) {
        sello_der_cur wrap, gn;
        uint8_t tag;
        if (sello_der_read(&tst, SELLO_DER_CONTEXT_CONS(0), &wrap, NULL) != SELLO_OK ||
            sello_der_read_any(&wrap, &tag, &gn, &v->tsa_general_name) !=
                SELLO_OK ||
            !sello_der_at_end(&wrap) || (tag & 0xc0) != 0x80)
            return fail(v, "malformed TSTInfo.tsa");
        r->has_tsa = true;
        if (tag == SELLO_DER_CONTEXT_CONS(4)) {
            if (!dn_format(&gn, r->tsa, sizeof r->tsa))
                return fail(v, "malformed TSTInfo.tsa directoryName");
        } else {
            snprintf(r->tsa, sizeof r->tsa, "(GeneralName [%u])",
                     (unsigned)(tag & 0x1f));
        }
    }
    if (sello_der_peek_tag(&tst) == SELLO_DER_CONTEXT_CONS(1)) {
        sello_der_cur exts;
        if (sello_der_read(&tst, SELLO_DER_CONTEXT_CONS(1), &exts, NULL) != SELLO_OK)
            return fail(v, "malformed TSTInfo.extensions");
        TRY(read_tst_extensions(v, exts));
    }
    if (!sello_der_at_end(&tst))
        return fail(v, "unexpected or misordered TSTInfo field");
    r->have_tst = true;
    return TSV_OK;
}

/* ---- signed attributes ----------------------------------------------------- */

/*
 * Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER,
 *                          attrValues SET OF AttributeValue }
 * Returns the single value of an attribute that must have exactly one.
 */
static tsv_outcome single_value(tsv_ctx *v, sello_der_cur values, const char *name,
                                sello_der_cur *value)
{
    uint8_t tag;
    sello_der_cur content;
    if (sello_der_read_any(&values, &tag, &content, value) != SELLO_OK ||
        !sello_der_at_end(&values))
        return fail(v, "%s attribute must have exactly one value", name);
    return TSV_OK;
}

static tsv_outcome read_signed_attrs(tsv_ctx *v)
{
    sello_der_cur all = v->signed_attrs, set;
    uint8_t tag;
    if (sello_der_read_any(&all, &tag, &set, NULL) != SELLO_OK)
        return fail(v, "malformed signedAttrs");
    if (derx_check_set_order(set) != SELLO_OK)
        return fail(v, "signedAttrs are not in DER SET OF order");
    bool has_ct = false, has_md = false;
    while (!sello_der_at_end(&set)) {
        sello_der_cur attr, type, values, value;
        if (sello_der_read(&set, SELLO_DER_SEQUENCE, &attr, NULL) != SELLO_OK ||
            sello_der_read_oid(&attr, &type) != SELLO_OK ||
            sello_der_read(&attr, SELLO_DER_SET, &values, NULL) != SELLO_OK ||
            !sello_der_at_end(&attr))
            return fail(v, "malformed signed attribute");
        if (IS_OID(&type, SELLO_OID_ATTR_CONTENT_TYPE)) {
            if (has_ct)
                return fail(v, "content-type attribute appears twice");
            has_ct = true;
            TRY(single_value(v, values, "content-type", &value));
            sello_der_cur oid;
            if (sello_der_read_oid(&value, &oid) != SELLO_OK || !sello_der_at_end(&value))
                return fail(v, "malformed content-type attribute");
            if (!IS_OID(&oid, SELLO_OID_CT_TSTINFO))
                return fail(v, "content-type attribute is not id-ct-TSTInfo");
        } else if (IS_OID(&type, SELLO_OID_ATTR_MESSAGE_DIGEST)) {
            if (has_md)
                return fail(v, "message-digest attribute appears twice");
            has_md = true;
            TRY(single_value(v, values, "message-digest", &value));
            if (sello_der_read(&value, SELLO_DER_OCTET_STRING, &v->attr_message_digest,
                         NULL) != SELLO_OK ||
                !sello_der_at_end(&value))
                return fail(v, "malformed message-digest attribute");
        } else if (IS_OID(&type, SELLO_OID_ATTR_SIGNING_CERT_V2) ||
                   IS_OID(&type, SELLO_OID_ATTR_SIGNING_CERT)) {
            bool v2 = IS_OID(&type, SELLO_OID_ATTR_SIGNING_CERT_V2);
            if (v2 ? v->has_ess_v2 : v->has_ess_v1)
                return fail(v, "signing-certificate%s attribute appears twice",
                            v2 ? "-v2" : "");
            TRY(single_value(v, values, "signing-certificate", &value));
            /* SigningCertificate(V2) ::= SEQUENCE {
             *     certs SEQUENCE OF ESSCertID(v2),
             *     policies SEQUENCE OF PolicyInformation OPTIONAL } */
            sello_der_cur sc, certs, first, content;
            if (sello_der_read(&value, SELLO_DER_SEQUENCE, &sc, NULL) != SELLO_OK ||
                !sello_der_at_end(&value) ||
                sello_der_read(&sc, SELLO_DER_SEQUENCE, &certs, NULL) != SELLO_OK ||
                sello_der_read(&certs, SELLO_DER_SEQUENCE, &content, &first) != SELLO_OK)
                return fail(v, "malformed signing-certificate%s attribute",
                            v2 ? "-v2" : "");
            if (v2) {
                v->has_ess_v2 = true;
                v->ess_v2 = first;
            } else {
                v->has_ess_v1 = true;
                v->ess_v1 = first;
            }
        }
    }
    if (!has_ct)
        return fail(v, "signedAttrs lack content-type");
    if (!has_md)
        return fail(v, "signedAttrs lack message-digest");
    if (!v->has_ess_v2 && !v->has_ess_v1)
        return fail(v, "signedAttrs lack signing-certificate(-v2)");

    /* message-digest covers the eContent octets, not their DER wrapper. */
    uint8_t md[SELLO_HASH_MAX_LEN];
    sello_hash(v->digest_hash, v->econtent.p, sello_der_remaining(&v->econtent), md);
    if (!sello_der_equal(&v->attr_message_digest, md, v->digest_hash->len))
        return fail(v, "message-digest attribute does not match the "
                       "TSTInfo (%s)", hashx_name(v->digest_hash->id));
    return TSV_OK;
}

/* ---- the signer certificate -------------------------------------------- */

static bool cert_matches_sid(const tsv_ctx *v, const x509_cert *c)
{
    if (v->sid_is_ski)
        return c->has_ski &&
               sello_der_equal(&v->sid_ski, c->ski.p, sello_der_remaining(&c->ski));
    return sello_der_equal(&v->sid_issuer, c->issuer.p, sello_der_remaining(&c->issuer)) &&
           sello_der_equal(&v->sid_serial, c->serial.p, sello_der_remaining(&c->serial));
}

static tsv_outcome find_signer(tsv_ctx *v)
{
    if (v->p->tsa_cert) {
        const char *why = x509_parse(v->p->tsa_cert->der, v->p->tsa_cert->len,
                                     &v->tsa_cert_storage);
        if (why)
            return fail(v, "--cert: %s", why);
        if (!cert_matches_sid(v, &v->tsa_cert_storage))
            return fail(v, "the given TSA certificate does not match the "
                           "SignerInfo sid");
        v->signer = &v->tsa_cert_storage;
    } else {
        for (size_t i = 0; i < v->n_certs && !v->signer; i++)
            if (cert_matches_sid(v, &v->certs[i]))
                v->signer = &v->certs[i];
        if (!v->signer)
            return fail(v, v->n_certs
                               ? "no certificate in the token matches the "
                                 "SignerInfo sid"
                               : "the token carries no certificate; give the "
                                 "TSA certificate with --cert");
        v->r->signer_from_token = true;
    }
    dn_format(&v->signer->subject, v->r->signer_subject,
              sizeof v->r->signer_subject);
    dn_format(&v->signer->issuer, v->r->signer_issuer,
              sizeof v->r->signer_issuer);
    return TSV_OK;
}

/*
 * IssuerSerial ::= SEQUENCE { issuer GeneralNames,
 *                             serialNumber CertificateSerialNumber }
 * The issuer must hold the signer's issuer as a directoryName.
 */
static tsv_outcome check_issuer_serial(tsv_ctx *v, sello_der_cur is)
{
    sello_der_cur names, serial;
    if (sello_der_read(&is, SELLO_DER_SEQUENCE, &names, NULL) != SELLO_OK ||
        sello_der_read_integer(&is, &serial) != SELLO_OK || !sello_der_at_end(&is))
        return fail(v, "malformed ESSCertID issuerSerial");
    bool issuer_ok = false;
    while (!sello_der_at_end(&names)) {
        uint8_t tag;
        sello_der_cur gn;
        if (sello_der_read_any(&names, &tag, &gn, NULL) != SELLO_OK)
            return fail(v, "malformed ESSCertID issuerSerial");
        if (tag == SELLO_DER_CONTEXT_CONS(4) &&
            sello_der_equal(&gn, v->signer->issuer.p,
                      sello_der_remaining(&v->signer->issuer)))
            issuer_ok = true;
    }
    if (!issuer_ok ||
        !sello_der_equal(&serial, v->signer->serial.p,
                   sello_der_remaining(&v->signer->serial)))
        return fail(v, "ESSCertID issuerSerial does not name the signer "
                       "certificate");
    return TSV_OK;
}

/*
 * ESSCertIDv2 ::= SEQUENCE {
 *     hashAlgorithm AlgorithmIdentifier DEFAULT {algorithm id-sha256},
 *     certHash Hash, issuerSerial IssuerSerial OPTIONAL }
 * ESSCertID ::= SEQUENCE { certHash Hash (SHA-1),
 *                          issuerSerial IssuerSerial OPTIONAL }
 */
static tsv_outcome check_ess(tsv_ctx *v, sello_der_cur whole, bool v2)
{
    sello_der_cur id, hash;
    uint8_t tag;
    if (sello_der_read_any(&whole, &tag, &id, NULL) != SELLO_OK)
        return fail(v, "malformed ESSCertID");
    const sello_hash_info *h = sello_hash_by_id(v2 ? SELLO_HASH_SHA256
                                                   : SELLO_HASH_SHA1);
    if (v2 && sello_der_peek_tag(&id) == SELLO_DER_SEQUENCE) {
        derx_alg alg;
        if (derx_read_alg(&id, &alg) != SELLO_OK)
            return fail(v, "malformed ESSCertIDv2.hashAlgorithm");
        h = sello_hash_by_oid(alg.oid.p, sello_der_remaining(&alg.oid));
        if (!h || !derx_alg_params_absent_or_null(&alg))
            return fail(v, "unsupported ESSCertIDv2.hashAlgorithm");
        if (h->id == SELLO_HASH_SHA256)
            return fail(v, "ESSCertIDv2 encodes its DEFAULT hashAlgorithm "
                           "sha256 (not DER)");
    }
    if (sello_der_read(&id, SELLO_DER_OCTET_STRING, &hash, NULL) != SELLO_OK)
        return fail(v, "malformed ESSCertID%s.certHash", v2 ? "v2" : "");
    uint8_t digest[SELLO_HASH_MAX_LEN];
    sello_hash(h, v->signer->whole.p, sello_der_remaining(&v->signer->whole),
               digest);
    if (!sello_der_equal(&hash, digest, h->len))
        return fail(v, "signing-certificate%s certHash (%s) is not the hash "
                       "of the signer certificate", v2 ? "-v2" : "",
                    hashx_name(h->id));
    if (!sello_der_at_end(&id)) {
        sello_der_cur is;
        if (sello_der_read(&id, SELLO_DER_SEQUENCE, &is, NULL) != SELLO_OK ||
            !sello_der_at_end(&id))
            return fail(v, "malformed ESSCertID%s", v2 ? "v2" : "");
        TRY(check_issuer_serial(v, is));
    }
    if (v2 || !v->has_ess_v2) {
        v->r->ess_version = v2 ? 2 : 1;
        v->r->ess_hash_id = h->id;
    }
    return TSV_OK;
}

static tsv_outcome check_signature(tsv_ctx *v)
{
    x509_sigalg alg;
    const char *why = x509_sigalg_get(&v->sig_alg, true, &alg);
    if (why)
        return fail(v, "SignerInfo.signatureAlgorithm: %s", why);
    if (alg.hash_id && alg.hash_id != v->digest_hash->id)
        return fail(v, "signatureAlgorithm hash %s differs from "
                       "digestAlgorithm %s",
                    hashx_name(alg.hash_id), hashx_name(v->digest_hash->id));
    x509_pubkey pk;
    if ((why = x509_pubkey_get(v->signer, &pk)))
        return fail(v, "signer certificate: %s", why);
    x509_pubkey_describe(&pk, v->r->signer_key, sizeof v->r->signer_key);

    /* The signature covers the DER SET OF Attribute: the same octets as
     * the [0] IMPLICIT field, with the SET tag in place of [0]. */
    const sello_hash_info *h = v->digest_hash;
    br_hash_compat_context ctx;
    uint8_t digest[SELLO_HASH_MAX_LEN];
    static const uint8_t set_tag = SELLO_DER_SET;
    h->vtable->init(&ctx.vtable);
    h->vtable->update(&ctx.vtable, &set_tag, 1);
    h->vtable->update(&ctx.vtable, v->signed_attrs.p + 1,
                      sello_der_remaining(&v->signed_attrs) - 1);
    h->vtable->out(&ctx.vtable, digest);
    why = x509_verify_signature(&pk, alg.key_type, h, digest, v->signature.p,
                                sello_der_remaining(&v->signature));
    if (why)
        return fail(v, "signature: %s", why);
    return TSV_OK;
}

/* The tsa name must be one of the signer certificate's names (RFC 3161
 * 2.4.2): its subject as a directoryName, or a subjectAltName entry. */
static bool tsa_name_ok(const tsv_ctx *v)
{
    const sello_der_cur *gn = &v->tsa_general_name;
    if (gn->p[0] == SELLO_DER_CONTEXT_CONS(4)) {
        sello_der_cur c = *gn, name;
        uint8_t tag;
        if (sello_der_read_any(&c, &tag, &name, NULL) == SELLO_OK &&
            sello_der_equal(&name, v->signer->subject.p,
                      sello_der_remaining(&v->signer->subject)))
            return true;
    }
    if (!v->signer->has_san)
        return false;
    sello_der_cur san = v->signer->san;
    while (!sello_der_at_end(&san)) {
        uint8_t tag;
        sello_der_cur content, whole;
        if (sello_der_read_any(&san, &tag, &content, &whole) != SELLO_OK)
            return false;
        if (sello_der_equal(&whole, gn->p, sello_der_remaining(gn)))
            return true;
    }
    return false;
}

static tsv_outcome check_signer_profile(tsv_ctx *v)
{
    const x509_cert *c = v->signer;
    const derx_time *t = &v->r->gen_time;
    if (!c->has_eku)
        return fail(v, "signer certificate has no extendedKeyUsage");
    if (!c->eku_critical)
        return fail(v, "signer certificate extendedKeyUsage is not critical");
    if (!c->eku_timestamping_only)
        return fail(v, "signer certificate extendedKeyUsage is not exactly "
                       "id-kp-timeStamping");
    if (c->has_key_usage &&
        !(c->key_usage & (X509_KU_DIGITAL_SIGNATURE | X509_KU_NON_REPUDIATION)))
        return fail(v, "signer certificate keyUsage allows neither "
                       "digitalSignature nor nonRepudiation");
    if (c->unknown_critical[0])
        return fail(v, "signer certificate has an unknown critical "
                       "extension %s", c->unknown_critical);
    char when[48], bound[48];
    derx_time_iso(t, when, sizeof when);
    if (derx_time_cmp(t, &c->not_before) < 0) {
        derx_time_iso(&c->not_before, bound, sizeof bound);
        return fail(v, "genTime %s is before the signer certificate's "
                       "notBefore %s", when, bound);
    }
    if (derx_time_cmp(t, &c->not_after) > 0) {
        derx_time_iso(&c->not_after, bound, sizeof bound);
        return fail(v, "genTime %s is after the signer certificate's "
                       "notAfter %s", when, bound);
    }
    if (c->has_pkup &&
        ((c->pkup_has_not_before &&
          derx_time_cmp(t, &c->pkup_not_before) < 0) ||
         (c->pkup_has_not_after && derx_time_cmp(t, &c->pkup_not_after) > 0)))
        return fail(v, "genTime %s is outside the signer certificate's "
                       "privateKeyUsagePeriod", when);
    if (v->r->has_tsa && !tsa_name_ok(v))
        return fail(v, "TSTInfo.tsa is not a name of the signer certificate");
    return TSV_OK;
}

static tsv_outcome check_imprint(tsv_ctx *v)
{
    const tsv_params *p = v->p;
    tsv_result *r = v->r;
    const sello_hash_info *h = sello_hash_by_id(r->imprint_hash_id);
    uint8_t digest[SELLO_HASH_MAX_LEN];
    const uint8_t *want;
    if (p->digest) {
        if (p->digest_len != h->len)
            return fail(v, "the given digest has %zu octets but the token's "
                           "imprint is %s (%zu)",
                        p->digest_len, hashx_name(h->id), h->len);
        want = p->digest;
    } else if (p->data_path) {
        if (!hashx_file(h, p->data_path, digest))
            return fail(v, "cannot hash %s", p->data_path);
        want = digest;
    } else {
        return fail(v, "no data or digest to compare the imprint with");
    }
    if (memcmp(want, r->imprint, h->len) != 0)
        return fail(v, "message imprint does not match the data (%s)",
                    hashx_name(h->id));
    return TSV_OK;
}

/* Compares INTEGER content octets with an unsigned magnitude. */
static bool nonce_equal(const tsv_result *r, const uint8_t *mag, size_t len)
{
    const uint8_t *a = r->nonce;
    size_t na = r->nonce_len;
    if (na > 0 && (a[0] & 0x80))
        return false; /* negative */
    while (na > 1 && a[0] == 0)
        a++, na--;
    while (len > 1 && mag[0] == 0)
        mag++, len--;
    return na == len && memcmp(a, mag, len) == 0;
}

static tsv_outcome check_chain(tsv_ctx *v)
{
    const tsv_params *p = v->p;
    if (p->n_anchors == 0)
        return TSV_OK;
    x509_cert *anchors = calloc(p->n_anchors, sizeof *anchors);
    if (!anchors)
        return fail(v, "out of memory");
    tsv_outcome o = TSV_OK;
    for (size_t i = 0; i < p->n_anchors; i++) {
        const char *why = x509_parse(p->anchors[i].der, p->anchors[i].len,
                                     &anchors[i]);
        if (why) {
            o = fail(v, "CA certificate %zu: %s", i + 1, why);
            goto out;
        }
    }
    char why[TSV_TEXT_MAX];
    const x509_cert *used = NULL;
    if (x509_verify_path(v->signer, anchors, p->n_anchors, v->certs,
                         v->n_certs, &v->r->gen_time, why, sizeof why,
                         &used)) {
        o = fail(v, "%s", why);
        goto out;
    }
    v->r->chain_checked = true;
    dn_format(&used->subject, v->r->anchor_subject,
              sizeof v->r->anchor_subject);
out:
    free(anchors);
    return o;
}

static tsv_outcome verify(tsv_ctx *v)
{
    const tsv_params *p = v->p;
    sello_der_cur token;
    if (p->input_is_token)
        token = sello_der_cur_init(p->input, p->input_len);
    else
        TRY(read_response(v, &token));
    TRY(read_signed_data(v, token));
    TRY(read_tst_info(v));
    TRY(read_signed_attrs(v));
    TRY(find_signer(v));
    if (v->has_ess_v2)
        TRY(check_ess(v, v->ess_v2, true));
    if (v->has_ess_v1)
        TRY(check_ess(v, v->ess_v1, false));
    TRY(check_signature(v));
    TRY(check_signer_profile(v));
    TRY(check_imprint(v));
    if (p->nonce) {
        if (!v->r->has_nonce)
            return fail(v, "the token carries no nonce");
        if (!nonce_equal(v->r, p->nonce, p->nonce_len))
            return fail(v, "nonce does not match");
    }
    if (p->cert_req == 1) {
        bool carried = false;
        for (size_t i = 0; i < v->n_certs; i++)
            carried |= cert_matches_sid(v, &v->certs[i]);
        if (!carried)
            return fail(v, "certReq was TRUE but the token does not carry "
                           "the TSA certificate");
    }
    if (p->cert_req == 0 && v->has_certs)
        return fail(v, "certReq was FALSE but the token carries "
                       "certificates");
    return check_chain(v);
}

tsv_outcome tsv_verify(const tsv_params *p, tsv_result *r)
{
    memset(r, 0, sizeof *r);
    tsv_ctx *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return TSV_FAILED;
    }
    v->p = p;
    v->r = r;
    tsv_outcome o = verify(v);
    free(v);
    return o;
}

/* ---- report -------------------------------------------------------------- */

/* One "label   [prefix ]hex" line; values are at most 64 octets. */
static void print_hex_line(FILE *f, const char *label, const char *prefix,
                           const uint8_t *b, size_t n)
{
    char hex[2 * 64 + 1];
    if (n > 64)
        n = 64;
    util_hex_encode(b, n, hex);
    fprintf(f, "%-10s %s%s%s\n", label, prefix, prefix[0] ? " " : "", hex);
}

void tsv_print(FILE *f, tsv_outcome o, const tsv_result *r)
{
    if (o == TSV_OK)
        fprintf(f, "Verification: OK\n");
    else
        fprintf(f, "Verification: FAILED: %s\n", r->reason);
    if (r->has_status)
        fprintf(f, "%-10s %s\n", "status", tsv_status_name(r->status));
    if (!r->have_tst)
        return;
    char hex[2 * sizeof r->serial + 1], dec[96], iso[48];
    util_hex_encode(r->serial, r->serial_len, hex);
    if (!util_uint_to_dec(r->serial, r->serial_len, dec, sizeof dec))
        snprintf(dec, sizeof dec, "?");
    fprintf(f, "%-10s 0x%s (%s)\n", "serial", hex, dec);
    derx_time_iso(&r->gen_time, iso, sizeof iso);
    fprintf(f, "%-10s %s (%s)\n", "time", r->gen_time.text, iso);
    fprintf(f, "%-10s %s\n", "policy", r->policy);
    if (r->has_accuracy) {
        /* Absent parts of Accuracy count as zero (RFC 3161 2.4.2). */
        fprintf(f, "%-10s", "accuracy");
        if (r->acc_seconds || (!r->acc_millis && !r->acc_micros))
            fprintf(f, " %us", (unsigned)r->acc_seconds);
        if (r->acc_millis)
            fprintf(f, " %ums", (unsigned)r->acc_millis);
        if (r->acc_micros)
            fprintf(f, " %uus", (unsigned)r->acc_micros);
        fprintf(f, "\n");
    } else
        fprintf(f, "%-10s (not stated)\n", "accuracy");
    fprintf(f, "%-10s %s\n", "ordering", r->ordering ? "true" : "false");
    print_hex_line(f, "imprint", hashx_name(r->imprint_hash_id), r->imprint,
                   r->imprint_len);
    if (r->has_nonce)
        print_hex_line(f, "nonce", "", r->nonce, r->nonce_len);
    if (r->has_tsa)
        fprintf(f, "%-10s %s\n", "tsa", r->tsa);
    if (r->qualified)
        fprintf(f, "%-10s yes (qcStatements esi4-qtstStatement-1)\n",
                "qualified");
    if (!r->signer_subject[0])
        return;
    fprintf(f, "%-10s %s (%s key, %s digest%s)\n", "signer",
            r->signer_subject, r->signer_key[0] ? r->signer_key : "?",
            hashx_name(r->digest_hash_id),
            r->signer_from_token ? "" : ", certificate given with --cert");
    fprintf(f, "%-10s %s\n", "issuer", r->signer_issuer);
    if (r->ess_version)
        fprintf(f, "%-10s %s (%s)\n", "ess-cert",
                r->ess_version == 2 ? "signing-certificate-v2"
                                    : "signing-certificate",
                hashx_name(r->ess_hash_id));
    if (o != TSV_OK)
        return;
    if (r->chain_checked)
        fprintf(f, "%-10s verified to CA \"%s\"\n", "chain", r->anchor_subject);
    else
        fprintf(f, "%-10s NOT checked (no --ca): the signature was verified "
                   "with the token's own certificate only\n", "chain");
}
