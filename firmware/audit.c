/* The audit chain; contracts in audit.h, record format there too. */
#include "audit.h"

#include "device_keys.h"
#include "engine.h"
#include "hash.h"
#include "runtime.h"

#define HEADER_LEN 52u

sello_status sello_audit_init(sello_audit *a)
{
    sello_memset(a, 0, sizeof *a);
    uint8_t seed[32];
    SELLO_TRY(sello_device_key(NULL, 0, NULL, 0, SELLO_DK_AUDIT_KEY, seed));
    /* A valid P-256 scalar drawn deterministically from the seed: the same
     * key at every start, and nowhere stored. */
    br_hmac_drbg_context drbg;
    br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof seed);
    sello_wipe(seed, sizeof seed);
    sello_status st = SELLO_OK;
    if (br_ec_keygen(&drbg.vtable, br_ec_get_default(), &a->key, a->key_x,
                     BR_EC_secp256r1) != sizeof a->key_x)
        st = SELLO_ERR_CRYPTO;
    sello_wipe(&drbg, sizeof drbg);
    if (st != SELLO_OK)
        return st;
    sello_key k;
    st = sello_key_import_private(&k, SELLO_KEY_P256, a->key_x,
                                  sizeof a->key_x);
    if (st == SELLO_OK) {
        sello_der_writer w;
        sello_derw_init(&w, a->key_spki, sizeof a->key_spki);
        sello_key_write_spki(&k, &w);
        size_t n;
        if (!sello_derw_to_front(&w, &n) || n != sizeof a->key_spki)
            st = SELLO_ERR_CRYPTO;
    }
    sello_key_wipe(&k);
    return st;
}

size_t sello_audit_room(const sello_audit *a)
{
    return sizeof a->buf - a->len;
}

sello_status sello_audit_add2(sello_audit *a, uint8_t type, uint64_t utc_ms,
                              const void *b1, size_t l1, const void *b2,
                              size_t l2)
{
    size_t body = l1 + l2;
    if (body > 0xffffu || sello_audit_room(a) < HEADER_LEN + body)
        return SELLO_ERR_SPACE;
    uint8_t *r = a->buf + a->len;
    r[0] = SELLO_AUDIT_FORMAT;
    r[1] = type;
    sello_put_be16(r + 2, (uint16_t)body);
    sello_put_be64(r + 4, a->next_seq);
    sello_put_be64(r + 12, utc_ms);
    sello_memcpy(r + 20, a->head, 32);
    if (l1)
        sello_memcpy(r + HEADER_LEN, b1, l1);
    if (l2)
        sello_memcpy(r + HEADER_LEN + l1, b2, l2);
    sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), r, HEADER_LEN + body,
               a->head);
    a->len += HEADER_LEN + body;
    a->next_seq++;
    return SELLO_OK;
}

sello_status sello_audit_add(sello_audit *a, uint8_t type, uint64_t utc_ms,
                             const void *body, size_t len)
{
    return sello_audit_add2(a, type, utc_ms, body, len, NULL, 0);
}

size_t sello_audit_rebuild(const sello_audit_saved *saved, uint8_t *out)
{
    out[0] = SELLO_AUDIT_FORMAT;
    out[1] = SELLO_AUDIT_CHECKPOINT;
    sello_put_be16(out + 2, saved->sig_len);
    sello_put_be64(out + 4, saved->seq);
    sello_put_be64(out + 12, saved->utc_ms);
    sello_memcpy(out + 20, saved->prev, 32);
    sello_memcpy(out + HEADER_LEN, saved->sig, saved->sig_len);
    return HEADER_LEN + saved->sig_len;
}

sello_status sello_audit_resume(sello_audit *a, const sello_audit_saved *saved,
                                uint64_t skip, uint8_t flags)
{
    uint8_t body[8 + 1 + sizeof a->key_spki + HEADER_LEN + 72];
    size_t len = 8 + 1 + sizeof a->key_spki;
    a->len = 0;
    a->mark = 0;
    if (!saved) {
        a->next_seq = 1;
        sello_memset(a->head, 0, sizeof a->head);
        a->seq_end = 0;
        sello_put_be64(body, 0);
    } else {
        size_t n = sello_audit_rebuild(saved, body + len);
        sello_hash(sello_hash_by_id(SELLO_HASH_SHA256), body + len, n,
                   a->head);
        len += n;
        if (saved->seq_end > UINT64_MAX - skip)
            return SELLO_ERR_EXHAUSTED;
        a->next_seq = saved->seq_end + skip;
        /* Nothing is reserved until the next save. */
        a->seq_end = a->next_seq;
        sello_put_be64(body, saved->seq);
    }
    body[8] = flags;
    sello_memcpy(body + 9, a->key_spki, sizeof a->key_spki);
    /* The RESTART itself may pass the reservation: it is the one record
     * a start makes before it saves. */
    return sello_audit_add(a, SELLO_AUDIT_RESTART, 0, body, len);
}

bool sello_audit_needs_save(const sello_audit *a)
{
    /* Room is kept for the checkpoint itself inside the reservation. */
    return a->next_seq + 1 >= a->seq_end;
}

/* The message a checkpoint signs: its own sequence number and the head
 * it follows. */
static void checkpoint_digest(uint64_t seq, const uint8_t head[32],
                              uint8_t out[32])
{
    static const char label[] = "sello audit checkpoint v1";
    br_sha256_context h;
    uint8_t s[8];
    sello_put_be64(s, seq);
    br_sha256_init(&h);
    br_sha256_update(&h, label, sizeof label - 1);
    br_sha256_update(&h, s, sizeof s);
    br_sha256_update(&h, head, 32);
    br_sha256_out(&h, out);
}

sello_status sello_audit_checkpoint(sello_audit *a, uint64_t utc_ms,
                                    sello_audit_saved *out)
{
    uint8_t digest[32];
    out->seq = a->next_seq;
    out->utc_ms = utc_ms;
    sello_memcpy(out->prev, a->head, 32);
    checkpoint_digest(out->seq, out->prev, digest);
    size_t sig_len = br_ecdsa_sign_asn1_get_default()(
        br_ec_get_default(), &br_sha256_vtable, digest, &a->key, out->sig);
    if (sig_len == 0 || sig_len > sizeof out->sig)
        return SELLO_ERR_CRYPTO;
    out->sig_len = (uint8_t)sig_len;
    out->seq_end = out->seq + 2 + SELLO_AUDIT_SEQ_BLOCK;
    return sello_audit_add(a, SELLO_AUDIT_CHECKPOINT, utc_ms, out->sig,
                           sig_len);
}

void sello_audit_commit(sello_audit *a, const sello_audit_saved *saved)
{
    a->seq_end = saved->seq_end;
}

void sello_audit_ack(sello_audit *a, uint64_t seq)
{
    size_t off = 0;
    while (off + HEADER_LEN <= a->len) {
        uint8_t *r = a->buf + off;
        if (sello_get_be64(r + 4) > seq)
            break;
        off += HEADER_LEN + sello_get_be16(r + 2);
    }
    if (off == 0)
        return;
    sello_memmove(a->buf, a->buf + off, a->len - off);
    a->len -= off;
    a->mark = a->mark > off ? a->mark - off : 0;
}

size_t sello_audit_read(const sello_audit *a, uint64_t from_seq, uint8_t *out,
                        size_t cap)
{
    size_t off = 0, n = 0;
    while (off + HEADER_LEN <= a->len) {
        const uint8_t *r = a->buf + off;
        size_t rl = HEADER_LEN + sello_get_be16(r + 2);
        if (sello_get_be64(r + 4) >= from_seq) {
            if (cap - n < rl)
                break;
            sello_memcpy(out + n, r, rl);
            n += rl;
        }
        off += rl;
    }
    return n;
}
