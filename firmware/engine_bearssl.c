/* The bearssl signing engine; contracts in engine.h. */
#include "engine.h"

#include <sello/abi.h>
#include <sello/board.h>

#include "oid.h"
#include "x509.h"
#include "runtime.h"

static bool is_ec(uint8_t type)
{
    return type == SELLO_KEY_P256 || type == SELLO_KEY_P384;
}

static int curve_of(uint8_t type)
{
    return type == SELLO_KEY_P384 ? BR_EC_secp384r1 : BR_EC_secp256r1;
}

static unsigned rsa_bits_of(uint8_t type)
{
    switch (type) {
    case SELLO_KEY_RSA2048: return 2048;
    case SELLO_KEY_RSA3072: return 3072;
    case SELLO_KEY_RSA4096: return 4096;
    default: return 0;
    }
}

bool sello_key_type_valid(uint32_t type)
{
    return type <= 0xff &&
           (is_ec((uint8_t)type) || rsa_bits_of((uint8_t)type) != 0);
}

/* Points the public key at the curve point derived from the private key. */
static sello_status ec_derive_public(sello_key *k)
{
    if (br_ec_compute_pub(br_ec_get_default(), &k->u.ec.pk, k->u.ec.q,
                          &k->u.ec.sk) == 0)
        return SELLO_ERR_CRYPTO;
    return SELLO_OK;
}

sello_status sello_key_generate(sello_key *k, uint8_t type,
                                const br_prng_class **rng)
{
    sello_key_wipe(k);
    if (is_ec(type)) {
        if (br_ec_keygen(rng, br_ec_get_default(), &k->u.ec.sk, k->u.ec.x,
                         curve_of(type)) == 0)
            return SELLO_ERR_CRYPTO;
        k->type = type;
        return ec_derive_public(k);
    }
    unsigned bits = rsa_bits_of(type);
    if (bits == 0)
        return SELLO_ERR_PARAM;
    if (!br_rsa_keygen_get_default()(rng, &k->u.rsa.sk, k->u.rsa.priv,
                                     &k->u.rsa.pk, k->u.rsa.pub, bits, 65537))
        return SELLO_ERR_CRYPTO;
    k->type = type;
    return SELLO_OK;
}

/* Private key serialisation:
 *   EC:  the scalar x.
 *   RSA: n_bitlen (4 octets), then p, q, dp, dq, iq each as a 2-octet
 *        length and the big-endian value. */
sello_status sello_key_export_private(const sello_key *k, uint8_t *out,
                                      size_t cap, size_t *len)
{
    if (k->in_token)
        return SELLO_ERR_STATE;
    if (is_ec(k->type)) {
        if (cap < k->u.ec.sk.xlen)
            return SELLO_ERR_SPACE;
        sello_memcpy(out, k->u.ec.sk.x, k->u.ec.sk.xlen);
        *len = k->u.ec.sk.xlen;
        return SELLO_OK;
    }
    if (rsa_bits_of(k->type) == 0)
        return SELLO_ERR_STATE;
    const br_rsa_private_key *sk = &k->u.rsa.sk;
    const unsigned char *parts[5] = { sk->p, sk->q, sk->dp, sk->dq, sk->iq };
    const size_t lens[5] = { sk->plen, sk->qlen, sk->dplen, sk->dqlen,
                             sk->iqlen };
    size_t n = 4;
    if (cap < n)
        return SELLO_ERR_SPACE;
    sello_put_be32(out, sk->n_bitlen);
    for (int i = 0; i < 5; i++) {
        if (cap - n < 2 + lens[i])
            return SELLO_ERR_SPACE;
        sello_put_be16(out + n, (uint16_t)lens[i]);
        sello_memcpy(out + n + 2, parts[i], lens[i]);
        n += 2 + lens[i];
    }
    *len = n;
    return SELLO_OK;
}

sello_status sello_key_import_private(sello_key *k, uint8_t type,
                                      const uint8_t *in, size_t len)
{
    sello_key_wipe(k);
    if (is_ec(type)) {
        size_t want = type == SELLO_KEY_P384 ? 48 : 32;
        if (len != want)
            return SELLO_ERR_CRYPTO;
        sello_memcpy(k->u.ec.x, in, len);
        k->u.ec.sk.curve = curve_of(type);
        k->u.ec.sk.x = k->u.ec.x;
        k->u.ec.sk.xlen = len;
        k->type = type;
        return ec_derive_public(k);
    }
    unsigned bits = rsa_bits_of(type);
    if (bits == 0 || len < 4 || sello_get_be32(in) != bits)
        return SELLO_ERR_CRYPTO;
    br_rsa_private_key *sk = &k->u.rsa.sk;
    sk->n_bitlen = bits;
    unsigned char **parts[5] = { &sk->p, &sk->q, &sk->dp, &sk->dq, &sk->iq };
    size_t *lens[5] = { &sk->plen, &sk->qlen, &sk->dplen, &sk->dqlen,
                        &sk->iqlen };
    size_t pos = 4, used = 0;
    for (int i = 0; i < 5; i++) {
        if (len - pos < 2)
            return SELLO_ERR_CRYPTO;
        size_t n = sello_get_be16(in + pos);
        pos += 2;
        if (len - pos < n || sizeof k->u.rsa.priv - used < n)
            return SELLO_ERR_CRYPTO;
        sello_memcpy(k->u.rsa.priv + used, in + pos, n);
        *parts[i] = k->u.rsa.priv + used;
        *lens[i] = n;
        used += n;
        pos += n;
    }
    if (pos != len)
        return SELLO_ERR_CRYPTO;
    /* Public part: modulus and exponent recomputed from the CRT factors. */
    /* i15, not the default: BearSSL 0.6's i31 version has too small a
     * scratch buffer for two 2048-bit factors and returns 0 for every
     * RSA-4096 key. */
    br_rsa_compute_modulus modulus = &br_rsa_i15_compute_modulus;
    size_t nlen = modulus(NULL, sk);
    uint32_t e = br_rsa_compute_pubexp_get_default()(sk);
    if (nlen == 0 || nlen + 4 > sizeof k->u.rsa.pub || e == 0)
        return SELLO_ERR_CRYPTO;
    modulus(k->u.rsa.pub, sk);
    uint8_t *eb = k->u.rsa.pub + nlen;
    sello_put_be32(eb, e);
    size_t elen = 4;
    while (elen > 1 && eb[0] == 0) {
        eb++;
        elen--;
    }
    k->u.rsa.pk.n = k->u.rsa.pub;
    k->u.rsa.pk.nlen = nlen;
    k->u.rsa.pk.e = eb;
    k->u.rsa.pk.elen = elen;
    k->type = type;
    return SELLO_OK;
}

sello_status sello_key_use_token(sello_key *k, uint8_t type,
                                 const uint8_t *id, const uint8_t *spki,
                                 size_t len)
{
    sello_key_wipe(k);
    sello_der_cur c = sello_der_cur_init(spki, len);
    sello_spki_key pub;
    if (!sello_key_type_valid(type) || sello_spki_parse(&c, &pub) != SELLO_OK ||
        pub.ec != is_ec(type))
        return SELLO_ERR_CRYPTO;
    if (pub.ec) {
        size_t qlen = sello_der_remaining(&pub.q);
        size_t want = type == SELLO_KEY_P384 ? 97 : 65;
        if (pub.curve != curve_of(type) || qlen != want ||
            qlen > sizeof k->u.ec.q)
            return SELLO_ERR_CRYPTO;
        sello_memcpy(k->u.ec.q, pub.q.p, qlen);
        k->u.ec.pk.curve = pub.curve;
        k->u.ec.pk.q = k->u.ec.q;
        k->u.ec.pk.qlen = qlen;
    } else {
        size_t nlen = sello_der_remaining(&pub.n);
        size_t elen = sello_der_remaining(&pub.e);
        if (nlen != rsa_bits_of(type) / 8 || elen == 0 || elen > 4 ||
            nlen + elen > sizeof k->u.rsa.pub)
            return SELLO_ERR_CRYPTO;
        sello_memcpy(k->u.rsa.pub, pub.n.p, nlen);
        sello_memcpy(k->u.rsa.pub + nlen, pub.e.p, elen);
        k->u.rsa.pk.n = k->u.rsa.pub;
        k->u.rsa.pk.nlen = nlen;
        k->u.rsa.pk.e = k->u.rsa.pub + nlen;
        k->u.rsa.pk.elen = elen;
    }
    sello_memcpy(k->token_id, id, SELLO_TOKEN_ID_LEN);
    k->in_token = true;
    k->type = type;
    return SELLO_OK;
}

/*
 * SubjectPublicKeyInfo ::= SEQUENCE {
 *     algorithm         AlgorithmIdentifier,
 *     subjectPublicKey  BIT STRING }
 * EC:  algorithm = { id-ecPublicKey, namedCurve OID }, key = the point.
 * RSA: algorithm = { rsaEncryption, NULL },
 *      key = RSAPublicKey ::= SEQUENCE { modulus INTEGER, exponent INTEGER }
 */
void sello_key_write_spki(const sello_key *k, sello_der_writer *w)
{
    const uint8_t *spki = sello_derw_mark(w);
    if (is_ec(k->type)) {
        sello_derw_bits(w, k->u.ec.pk.q, k->u.ec.pk.qlen);
        const uint8_t *alg = sello_derw_mark(w);
        if (k->type == SELLO_KEY_P384)
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_P384, SELLO_OID_P384_LEN);
        else
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_P256, SELLO_OID_P256_LEN);
        sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_EC_PUBLIC_KEY, SELLO_OID_EC_PUBLIC_KEY_LEN);
        sello_derw_wrap(w, alg, SELLO_DER_SEQUENCE);
    } else {
        const uint8_t *bits = sello_derw_mark(w);
        sello_derw_uint(w, k->u.rsa.pk.e, k->u.rsa.pk.elen);
        sello_derw_uint(w, k->u.rsa.pk.n, k->u.rsa.pk.nlen);
        sello_derw_wrap(w, bits, SELLO_DER_SEQUENCE);
        sello_derw_raw(w, "", 1); /* no unused bits */
        sello_derw_wrap(w, bits, SELLO_DER_BIT_STRING);
        const uint8_t *alg = sello_derw_mark(w);
        sello_derw_prim(w, SELLO_DER_NULL, "", 0);
        sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_RSA, SELLO_OID_RSA_LEN);
        sello_derw_wrap(w, alg, SELLO_DER_SEQUENCE);
    }
    sello_derw_wrap(w, spki, SELLO_DER_SEQUENCE);
}

const sello_hash_info *sello_sig_hash_for(uint8_t type, int rsa_hash)
{
    if (type == SELLO_KEY_P256)
        return sello_hash_by_id(SELLO_HASH_SHA256);
    if (type == SELLO_KEY_P384)
        return sello_hash_by_id(SELLO_HASH_SHA384);
    return rsa_bits_of(type) ? sello_hash_by_id(rsa_hash) : NULL;
}

const sello_hash_info *sello_key_sig_hash(const sello_key *k, int rsa_hash)
{
    return sello_sig_hash_for(k->type, rsa_hash);
}

void sello_key_write_sig_alg(const sello_key *k, const sello_hash_info *h,
                             sello_der_writer *w)
{
    const uint8_t *alg = sello_derw_mark(w);
    if (is_ec(k->type)) {
        /* ecdsa-with-SHA*: parameters absent (RFC 5758). */
        if (h->id == SELLO_HASH_SHA384)
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_ECDSA_SHA384, SELLO_OID_ECDSA_SHA384_LEN);
        else if (h->id == SELLO_HASH_SHA512)
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_ECDSA_SHA512, SELLO_OID_ECDSA_SHA512_LEN);
        else
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_ECDSA_SHA256, SELLO_OID_ECDSA_SHA256_LEN);
    } else {
        /* sha*WithRSAEncryption: parameters NULL (RFC 4055). */
        sello_derw_prim(w, SELLO_DER_NULL, "", 0);
        if (h->id == SELLO_HASH_SHA384)
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_RSA_SHA384, SELLO_OID_RSA_SHA384_LEN);
        else if (h->id == SELLO_HASH_SHA512)
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_RSA_SHA512, SELLO_OID_RSA_SHA512_LEN);
        else
            sello_derw_prim(w, SELLO_DER_OID, SELLO_OID_RSA_SHA256, SELLO_OID_RSA_SHA256_LEN);
    }
    sello_derw_wrap(w, alg, SELLO_DER_SEQUENCE);
}

sello_status sello_key_sign(const sello_key *k, const sello_hash_info *h,
                            const uint8_t *digest, uint8_t *sig, size_t cap,
                            size_t *sig_len)
{
    if (k->in_token)
        return sello_board_token_sign(k->type, k->token_id,
                                      SELLO_TOKEN_ID_LEN, h->id, digest,
                                      h->len, sig, cap, sig_len);
    if (is_ec(k->type)) {
        /* Room for the largest DER ECDSA signature of the curve. */
        if (cap < 2 * k->u.ec.sk.xlen + 9)
            return SELLO_ERR_SPACE;
        size_t n = br_ecdsa_sign_asn1_get_default()(
            br_ec_get_default(), h->vtable, digest, &k->u.ec.sk, sig);
        if (n == 0)
            return SELLO_ERR_CRYPTO;
        *sig_len = n;
        return SELLO_OK;
    }
    if (rsa_bits_of(k->type) == 0)
        return SELLO_ERR_STATE;
    size_t n = (k->u.rsa.sk.n_bitlen + 7) / 8;
    if (cap < n)
        return SELLO_ERR_SPACE;
    if (!br_rsa_pkcs1_sign_get_default()(h->pkcs1_oid, digest, h->len,
                                         &k->u.rsa.sk, sig))
        return SELLO_ERR_CRYPTO;
    *sig_len = n;
    return SELLO_OK;
}

bool sello_key_verify(const sello_key *k, const sello_hash_info *h,
                      const uint8_t *digest, const uint8_t *sig,
                      size_t sig_len)
{
    if (is_ec(k->type))
        return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), digest,
                                                h->len, &k->u.ec.pk, sig,
                                                sig_len) == 1;
    if (rsa_bits_of(k->type) == 0)
        return false;
    uint8_t recovered[SELLO_HASH_MAX_LEN];
    if (!br_rsa_pkcs1_vrfy_get_default()(sig, sig_len, h->pkcs1_oid, h->len,
                                         &k->u.rsa.pk, recovered))
        return false;
    return sello_memcmp(recovered, digest, h->len) == 0;
}

void sello_key_wipe(sello_key *k)
{
    sello_wipe(k, sizeof *k);
}
