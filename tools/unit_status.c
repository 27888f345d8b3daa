/* The STATUS reply; contracts in unit_status.h. */
#include "unit_status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <sello/abi.h>
#include <sello/status.h>

#include "der.h"
#include "util.h"

bool unit_status_decode(const admin_reply *r, unit_status *st)
{
    memset(st, 0, sizeof *st);
    sello_tlv_reader rd = {r->payload, r->payload + r->len};
    uint8_t type;
    const uint8_t *v;
    size_t n;
    int got;
    while ((got = sello_tlv_next(&rd, &type, &v, &n)) == 1) {
        size_t want = 0;
        switch (type) {
        case SELLO_ST_STATE:
        case SELLO_ST_KEY_TYPE:
        case SELLO_ST_QUALIFIED:
        case SELLO_ST_CLOCK:
        case SELLO_ST_SIG_HASH:
        case SELLO_ST_THRESHOLD:
        case SELLO_ST_CUSTODIANS:
        case SELLO_ST_ENGINE:
        case SELLO_ST_UNLOCKED:
        case SELLO_ST_FAILURES:
        case SELLO_ST_SESSION:
        case SELLO_ST_SESSION_ACCEPTED:
        case SELLO_ST_TIME_DOUBT:
        case SELLO_ST_SIMULATION:
        case SELLO_ST_TEST_UNIT:
        case SELLO_ST_CLOCK_WHY:
            want = 1;
            break;
        case SELLO_ST_ACCURACY_MS:
        case SELLO_ST_HASHES:
        case SELLO_ST_INSTANCE:
        case SELLO_ST_LOCKED_S:
        case SELLO_ST_GENERATION:
        case SELLO_ST_SYNC_LEFT_S:
        case SELLO_ST_SLEW_PPM:
        case SELLO_ST_DRIFT_PPM:
            want = 4;
            break;
        case SELLO_ST_AUDIT_PENDING:
            want = 4;
            break;
        case SELLO_ST_NEXT_SERIAL:
        case SELLO_ST_AUDIT_SEQ:
        case SELLO_ST_TOKENS:
        case SELLO_ST_UTC_MS:
        case SELLO_ST_USAGE_NOT_AFTER:
        case SELLO_ST_CLOCK_ERROR_US:
        case SELLO_ST_OBS_AGE_MS:
        case SELLO_ST_OBS_OFFSET_US:
            want = 8;
            break;
        case SELLO_ST_LEAP_US:
            if (n != 9 || (v[8] != 1 && v[8] != 2)) {
                st->malformed = true;
                continue;
            }
            st->leap_us = sello_get_be64(v);
            st->leap_kind = v[8];
            st->has[type] = true;
            continue;
        case SELLO_ST_AUDIT_HEAD:
            if (n != 32) {
                st->malformed = true;
                continue;
            }
            util_hex_encode(v, n, st->audit_head);
            st->has[type] = true;
            continue;
        case SELLO_ST_AUDIT_KEY: {
            uint8_t h[crypto_hash_sha256_BYTES];
            crypto_hash_sha256(h, v, n);
            util_hex_encode(h, sizeof h, st->audit_key_sha256);
            st->has[type] = true;
            continue;
        }
        case SELLO_ST_UNIT_ID:
            if (n != 32) {
                st->malformed = true;
                continue;
            }
            util_hex_encode(v, n, st->unit_id);
            st->has[type] = true;
            continue;
        case SELLO_ST_POLICY: {
            sello_der_cur c = sello_der_cur_init(v, n), oid;
            if (sello_der_read_oid(&c, &oid) != SELLO_OK ||
                !sello_der_at_end(&c)) {
                st->malformed = true;
                continue;
            }
            oidx_to_dotted(oid.p, sello_der_remaining(&oid), st->policy);
            st->has[type] = true;
            continue;
        }
        case SELLO_ST_FW_VERSION:
            snprintf(st->fw, sizeof st->fw, "%.*s", (int)n, (const char *)v);
            st->has[type] = true;
            continue;
        default: {
            size_t l = strlen(st->unknown);
            char hex[2 * 64 + 1];
            util_hex_encode(v, n > 64 ? 64 : n, hex);
            snprintf(st->unknown + l, sizeof st->unknown - l, "%s%u=%s",
                     l ? "," : "", type, hex);
            continue;
        }
        }
        if (n != want) {
            st->malformed = true;
            continue;
        }
        st->num[type] = want == 1   ? v[0]
                        : want == 4 ? sello_get_be32(v)
                                    : sello_get_be64(v);
        if (type == SELLO_ST_OBS_OFFSET_US)
            st->obs_offset_us = (int64_t)st->num[type];
        st->has[type] = true;
    }
    return got == 0;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool unit_status_fetch(admin_conn *c, const char *cmd, unit_status *st,
                       uint64_t *rtt_us)
{
    static admin_reply r;
    char what[64];
    snprintf(what, sizeof what, "%s: status", cmd);
    uint64_t t0 = mono_us();
    if (!admin_call_ok(c, what, SELLO_OP_STATUS, NULL, 0, &r, NULL, NULL))
        return false;
    if (rtt_us)
        *rtt_us = mono_us() - t0 + 1;
    if (!unit_status_decode(&r, st) || st->malformed) {
        util_err("%s: the module's status reply is malformed", cmd);
        return false;
    }
    return true;
}

const char *unit_state_name(unsigned s)
{
    switch (s) {
    case SELLO_STATE_UNINITIALISED:
        return "uninitialised";
    case SELLO_STATE_INITIALISED:
        return "initialised";
    case SELLO_STATE_READY:
        return "ready";
    case SELLO_STATE_ACTIVE:
        return "active";
    case SELLO_STATE_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

const char *unit_purpose_name(unsigned p)
{
    switch (p) {
    case SELLO_PURPOSE_ACTIVATE:
        return "activate";
    case SELLO_PURPOSE_DESTROY:
        return "destroy";
    case SELLO_PURPOSE_RECALIBRATE:
        return "recalibrate";
    case SELLO_PURPOSE_LEAP:
        return "leap";
    default:
        return "unknown";
    }
}

const char *unit_leap_kind_name(unsigned kind)
{
    return kind == 1 ? "inserted" : kind == 2 ? "deleted" : "none";
}

const char *unit_clock_name(unsigned clock)
{
    const char *name = sello_clock_state_name((int)clock);
    return name ? name : "unknown";
}
