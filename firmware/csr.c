/* PKCS#10 request; contract in csr.h. */
#include "csr.h"

#include "der.h"

/*
 * CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo CertificationRequestInfo,
 *     signatureAlgorithm       AlgorithmIdentifier,
 *     signature                BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE {
 *     version       INTEGER { v1(0) },
 *     subject       Name,
 *     subjectPKInfo SubjectPublicKeyInfo,
 *     attributes    [0] IMPLICIT SET OF Attribute }  -- empty
 */
sello_status sello_csr_write(const sello_unit_config *cfg,
                             const sello_key *key, const sello_hash_info *h,
                             uint8_t *scratch, uint8_t *out, size_t cap,
                             size_t *len)
{
    sello_der_writer iw;
    sello_derw_init(&iw, scratch, SELLO_CSR_SCRATCH);
    sello_derw_header(&iw, SELLO_DER_CONTEXT_CONS(0), 0);
    sello_key_write_spki(key, &iw);
    sello_derw_raw(&iw, cfg->subject, cfg->subject_len);
    sello_derw_u64(&iw, 0);
    sello_derw_wrap(&iw, iw.end, SELLO_DER_SEQUENCE);
    if (!sello_derw_ok(&iw))
        return SELLO_ERR_SPACE;

    uint8_t digest[SELLO_HASH_MAX_LEN], sig[SELLO_SIG_MAX];
    size_t sig_len;
    sello_hash(h, iw.p, sello_derw_len(&iw), digest);
    SELLO_TRY(sello_key_sign(key, h, digest, sig, sizeof sig, &sig_len));

    sello_der_writer w;
    sello_derw_init(&w, out, cap);
    sello_derw_bits(&w, sig, sig_len);
    sello_key_write_sig_alg(key, h, &w);
    sello_derw_raw(&w, iw.p, sello_derw_len(&iw));
    sello_derw_wrap(&w, w.end, SELLO_DER_SEQUENCE);
    return sello_derw_to_front(&w, len) ? SELLO_OK : SELLO_ERR_SPACE;
}
