/*
 * Sello status codes: the one list of everything that can go wrong at the
 * module ABI. Extend-only: a code, once shipped, keeps its number and its
 * meaning, because hosts and audit logs outlive firmware versions.
 *
 * Frame-level status is not the RFC 3161 status: a STAMP that the module
 * rejects (bad hash, wrong policy, clock not available) still completes
 * with SELLO_OK and carries a TimeStampResp whose PKIStatus says why.
 */
#ifndef SELLO_STATUS_H
#define SELLO_STATUS_H

/* X(name, number, description) */
#define SELLO_STATUS_LIST(X)                                                    \
    X(SELLO_OK,               0,  "ok")                                         \
    X(SELLO_ERR_FRAME,        1,  "malformed frame")                            \
    X(SELLO_ERR_VERSION,      2,  "unsupported ABI version")                    \
    X(SELLO_ERR_OPCODE,       3,  "unknown opcode")                             \
    X(SELLO_ERR_TOO_LARGE,    4,  "frame larger than the module accepts")       \
    X(SELLO_ERR_STATE,        5,  "operation not allowed in the current state")  \
    X(SELLO_ERR_PARAM,        6,  "invalid parameters")                         \
    X(SELLO_ERR_STORAGE,      7,  "non-volatile storage failure")               \
    X(SELLO_ERR_ENTROPY,      8,  "entropy source failure")                     \
    X(SELLO_ERR_CRYPTO,       9,  "cryptographic operation failed")             \
    X(SELLO_ERR_CERT,         10, "certificate refused")                        \
    X(SELLO_ERR_NOT_FOUND,    11, "record not found")                           \
    X(SELLO_ERR_SPACE,        12, "output does not fit")                        \
    X(SELLO_ERR_DER,          13, "malformed DER")                              \
    X(SELLO_ERR_SELFTEST,     14, "self-test failed")                           \
    X(SELLO_ERR_CLOCK,        15, "clock not available")                        \
    X(SELLO_ERR_EXHAUSTED,    16, "serial number space exhausted")          \
    X(SELLO_ERR_SESSION,      17, "no such session, or it has expired")     \
    X(SELLO_ERR_SHARE,        18, "share refused")                          \
    X(SELLO_ERR_LOCKED,       19, "locked out after repeated failures")     \
    X(SELLO_ERR_TEST_ONLY,    20, "this board makes test units only")

typedef enum {
#define SELLO_STATUS_ENUM(name, num, text) name = num,
    SELLO_STATUS_LIST(SELLO_STATUS_ENUM)
#undef SELLO_STATUS_ENUM
} sello_status;

/* Fallible functions return sello_status and the result must be looked at. */
#define SELLO_MUST_CHECK __attribute__((warn_unused_result))

/* Propagate any failure to the caller. */
#define SELLO_TRY(expr)                                                        \
    do {                                                                       \
        sello_status sello_try_status_ = (expr);                               \
        if (sello_try_status_ != SELLO_OK)                                     \
            return sello_try_status_;                                          \
    } while (0)

/*
 * The description of a status code, or "unknown status" for a number that
 * is not in the list. Usable on both sides of the ABI.
 */
static inline const char *sello_status_str(int status)
{
    switch (status) {
#define SELLO_STATUS_CASE(name, num, text) case num: return text;
        SELLO_STATUS_LIST(SELLO_STATUS_CASE)
#undef SELLO_STATUS_CASE
    default:
        return "unknown status";
    }
}

/* The symbolic name of a status code ("SELLO_ERR_STATE"), for logs. */
static inline const char *sello_status_name(int status)
{
    switch (status) {
#define SELLO_STATUS_NAME(name, num, text) case num: return #name;
        SELLO_STATUS_LIST(SELLO_STATUS_NAME)
#undef SELLO_STATUS_NAME
    default:
        return "SELLO_ERR_UNKNOWN";
    }
}

#endif
