/* Extra OIDs and dotted text; contracts in oidx.h. */
#include "oidx.h"

#include <stdio.h>
#include <string.h>

const uint8_t OIDX_SHA1_RSA[OIDX_SHA1_RSA_LEN] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05};
const uint8_t OIDX_SHA224_RSA[OIDX_SHA224_RSA_LEN] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e};
const uint8_t OIDX_ECDSA_SHA1[OIDX_ECDSA_SHA1_LEN] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01};
const uint8_t OIDX_ECDSA_SHA224[OIDX_ECDSA_SHA224_LEN] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01};
const uint8_t OIDX_RSA_PSS[OIDX_RSA_PSS_LEN] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
const uint8_t OIDX_EXT_SKI[OIDX_EXT_SKI_LEN] = {0x55, 0x1d, 0x0e};
const uint8_t OIDX_EXT_KEY_USAGE[OIDX_EXT_KEY_USAGE_LEN] = {0x55, 0x1d, 0x0f};
const uint8_t OIDX_EXT_SAN[OIDX_EXT_SAN_LEN] = {0x55, 0x1d, 0x11};
const uint8_t OIDX_EXT_BASIC_CONSTRAINTS[OIDX_EXT_BASIC_CONSTRAINTS_LEN] = {0x55, 0x1d, 0x13};
const uint8_t OIDX_EXT_CRL_DP[OIDX_EXT_CRL_DP_LEN] = {0x55, 0x1d, 0x1f};
const uint8_t OIDX_EXT_AKI[OIDX_EXT_AKI_LEN] = {0x55, 0x1d, 0x23};
const uint8_t OIDX_PE_AIA[OIDX_PE_AIA_LEN] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01};

/* Appends arc `v` in base 128, most significant group first. */
static bool put_arc(uint64_t v, uint8_t *out, size_t cap, size_t *n)
{
    uint8_t tmp[10];
    size_t k = 0;
    do {
        tmp[k++] = (uint8_t)(v & 0x7f);
        v >>= 7;
    } while (v);
    if (cap - *n < k)
        return false;
    while (k > 0) {
        k--;
        out[(*n)++] = (uint8_t)(tmp[k] | (k ? 0x80 : 0));
    }
    return true;
}

/* Appends the first sub-identifier, which packs the first two arcs. */
static bool put_first(uint64_t a0, uint64_t a1, uint8_t *out, size_t cap,
                      size_t *n)
{
    if (a0 > 2 || (a0 < 2 && a1 > 39) || a1 > UINT64_MAX - 80)
        return false;
    return put_arc(a0 * 40 + a1, out, cap, n);
}

bool oidx_from_dotted(const char *text, uint8_t *out, size_t cap,
                      size_t *len)
{
    uint64_t a0 = 0;
    size_t n = 0, count = 0;
    const char *p = text;
    for (;;) {
        if (*p < '0' || *p > '9')
            return false;
        if (*p == '0' && p[1] >= '0' && p[1] <= '9')
            return false; /* leading zero: not the canonical text form */
        uint64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            uint64_t d = (uint64_t)(*p - '0');
            if (v > (UINT64_MAX - d) / 10)
                return false;
            v = v * 10 + d;
        }
        if (count == 0)
            a0 = v;
        else if (count == 1 ? !put_first(a0, v, out, cap, &n)
                            : !put_arc(v, out, cap, &n))
            return false;
        count++;
        if (*p == '\0')
            break;
        if (*p != '.')
            return false;
        p++;
    }
    if (count < 2)
        return false;
    *len = n;
    return true;
}

void oidx_to_dotted(const uint8_t *oid, size_t len,
                    char out[OIDX_DOTTED_MAX])
{
    size_t pos = 0;
    uint64_t v = 0;
    bool first = true, fresh = true;
    if (len == 0 || (oid[len - 1] & 0x80))
        goto bad;
    for (size_t i = 0; i < len; i++) {
        if (fresh && oid[i] == 0x80)
            goto bad; /* non-minimal arc */
        if (v > (UINT64_MAX >> 7))
            goto bad;
        v = v << 7 | (oid[i] & 0x7f);
        fresh = !(oid[i] & 0x80);
        if (!fresh)
            continue;
        char arc[48];
        if (first) {
            unsigned top = v < 40 ? 0 : v < 80 ? 1 : 2;
            snprintf(arc, sizeof arc, "%u.%llu", top,
                     (unsigned long long)(v - 40u * top));
            first = false;
        } else {
            snprintf(arc, sizeof arc, ".%llu", (unsigned long long)v);
        }
        size_t al = strlen(arc);
        if (pos + al + 4 > OIDX_DOTTED_MAX) {
            memcpy(out + pos, "...", 4);
            return;
        }
        memcpy(out + pos, arc, al + 1);
        pos += al;
        v = 0;
    }
    return;
bad:
    snprintf(out, OIDX_DOTTED_MAX, "<bad OID>");
}
