/* Shares and quorum sessions; contracts in custody.h. */
#include "custody.h"

#include "box.h"
#include "device_keys.h"
#include "runtime.h"

sello_status sello_custody_keys_derive(sello_custody_keys *k)
{
    SELLO_TRY(sello_device_key(NULL, 0, NULL, 0, SELLO_DK_SHARE_MAC,
                               k->share_mac));
    SELLO_TRY(sello_device_key(NULL, 0, NULL, 0, SELLO_DK_CEREMONY_X25519,
                               k->ceremony_priv));
    sello_x25519_public(k->ceremony_priv, k->ceremony_pub);
    return SELLO_OK;
}

void sello_share_encode(const sello_custody *u, const sello_custody_keys *k,
                        const sello_shamir_share *s,
                        uint8_t out[SELLO_SHARE_LEN])
{
    out[SELLO_SHARE_VERSION] = SELLO_SHARE_FORMAT;
    sello_memcpy(out + SELLO_SHARE_UNIT_ID, u->unit_id, 32);
    sello_put_be32(out + SELLO_SHARE_GENERATION, u->generation);
    out[SELLO_SHARE_M] = u->m;
    out[SELLO_SHARE_N] = u->n;
    out[SELLO_SHARE_X] = s->x;
    sello_memcpy(out + SELLO_SHARE_Y, s->y, SELLO_SHAMIR_SECRET_LEN);
    sello_memcpy(out + SELLO_SHARE_MODULE_KEY, k->ceremony_pub, 32);
    sello_hmac_sha256(k->share_mac, out, SELLO_SHARE_MAC,
                      out + SELLO_SHARE_MAC);
}

const char *sello_share_check(const sello_custody *u,
                              const sello_custody_keys *k,
                              const uint8_t in[SELLO_SHARE_LEN],
                              sello_shamir_share *s)
{
    uint8_t mac[32];
    sello_hmac_sha256(k->share_mac, in, SELLO_SHARE_MAC, mac);
    bool genuine = sello_ct_equal(mac, in + SELLO_SHARE_MAC, sizeof mac);
    /* A share made by this device for another unit or ceremony carries a
     * good MAC: name those cases, they are the likely mistakes. */
    if (in[SELLO_SHARE_VERSION] != SELLO_SHARE_FORMAT)
        return "unknown share format";
    if (sello_memcmp(in + SELLO_SHARE_UNIT_ID, u->unit_id, 32) != 0)
        return "share belongs to another unit";
    if (sello_get_be32(in + SELLO_SHARE_GENERATION) != u->generation)
        return "share is from another key ceremony";
    if (!genuine)
        return "share is corrupted (MAC does not verify)";
    if (in[SELLO_SHARE_M] != u->m || in[SELLO_SHARE_N] != u->n ||
        in[SELLO_SHARE_X] < 1 || in[SELLO_SHARE_X] > u->n)
        return "share does not match the unit's custody";
    s->x = in[SELLO_SHARE_X];
    sello_memcpy(s->y, in + SELLO_SHARE_Y, SELLO_SHAMIR_SECRET_LEN);
    return NULL;
}

void sello_session_open(sello_session *s, uint8_t purpose,
                        const uint8_t *proposal, const br_prng_class **rng,
                        uint64_t now, uint64_t expires)
{
    sello_session_close(s);
    if (proposal) {
        sello_memcpy(s->proposal, proposal, SELLO_PROPOSAL_LEN);
        s->has_proposal = true;
    }
    s->opened = now;
    (*rng)->generate(rng, s->id, sizeof s->id);
    (*rng)->generate(rng, s->challenge, sizeof s->challenge);
    (*rng)->generate(rng, s->priv, sizeof s->priv);
    sello_x25519_public(s->priv, s->pub);
    s->purpose = purpose;
    s->expires = expires;
    s->open = true;
}

void sello_session_close(sello_session *s)
{
    sello_wipe(s, sizeof *s);
}

sello_status sello_session_submit(sello_session *s, const sello_custody *u,
                                  const sello_custody_keys *k,
                                  const uint8_t *payload, size_t len,
                                  const char **why, bool *counts)
{
    *counts = false;
    if (len != SELLO_SUBMIT_LEN) {
        *why = "a submission is a session id and a share box";
        return SELLO_ERR_PARAM;
    }
    if (!s->open || !sello_ct_equal(payload, s->id, SELLO_SESSION_ID_LEN))
        return SELLO_ERR_SESSION;
    *counts = true;
    uint8_t keys[2][32];
    sello_memcpy(keys[0], s->priv, 32);
    sello_memcpy(keys[1], k->ceremony_priv, 32);
    /* The custodians approve the purpose and the proposal, in this
     * session only. */
    uint8_t context[1 + SELLO_SESSION_ID_LEN + SELLO_PROPOSAL_LEN];
    size_t context_len = 1 + SELLO_SESSION_ID_LEN;
    context[0] = s->purpose;
    sello_memcpy(context + 1, s->id, SELLO_SESSION_ID_LEN);
    if (s->has_proposal) {
        sello_memcpy(context + context_len, s->proposal, SELLO_PROPOSAL_LEN);
        context_len += SELLO_PROPOSAL_LEN;
    }
    uint8_t share[SELLO_SHARE_LEN];
    sello_status st = sello_box_open(
        (const uint8_t(*)[32])keys, 2, s->challenge, sizeof s->challenge,
        SELLO_BOX_LABEL_SUBMIT, context, context_len,
        payload + SELLO_SESSION_ID_LEN, len - SELLO_SESSION_ID_LEN, share);
    sello_wipe(keys, sizeof keys);
    if (st != SELLO_OK) {
        *why = "submission does not open for this session";
        return SELLO_ERR_SHARE;
    }
    sello_shamir_share got;
    *why = sello_share_check(u, k, share, &got);
    sello_wipe(share, sizeof share);
    if (*why) {
        sello_wipe(&got, sizeof got);
        return SELLO_ERR_SHARE;
    }
    for (unsigned i = 0; i < s->count; i++) {
        if (s->shares[i].x == got.x) {
            sello_wipe(&got, sizeof got);
            *why = "share already submitted in this session";
            *counts = false;
            return SELLO_ERR_SHARE;
        }
    }
    s->shares[s->count++] = got;
    sello_wipe(&got, sizeof got);
    return SELLO_OK;
}
