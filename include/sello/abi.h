/*
 * The Sello module ABI: the only way in or out of the trusted module.
 *
 * One request frame in, one response frame out. The same bytes travel over
 * the simulator's UNIX socket, a bare-metal board's UART (inside that
 * board's link framing) or a vendor HSM's job interface.
 *
 * Frame (all integers big-endian):
 *
 *   offset size  field
 *   0      1     magic        SELLO_FRAME_MAGIC
 *   1      1     version      SELLO_ABI_VERSION
 *   2      1     code         request: opcode; response: sello_status
 *   3      1     flags        request: 0; response: SELLO_RESP_FLAG_*
 *   4      4     tag          chosen by the host, echoed unchanged, so a
 *                             host can pipeline requests on one link
 *   8      4     length       payload length, <= SELLO_PAYLOAD_MAX
 *   12     len   payload
 *
 * A response whose code is not SELLO_OK carries a short UTF-8 reason (no
 * terminator) as its payload. Requests are answered strictly in order.
 *
 * What the ABI deliberately lacks: an operation that signs bytes supplied by
 * the caller, and any way to import or export a private key. Every signature
 * the module makes is over a structure it built itself (a TSTInfo's signed
 * attributes, its own PKCS#10 request).
 *
 * Parameter payloads (INIT, STATUS replies) are TLV lists: 1 octet type,
 * 2 octets big-endian length, value. Unknown types in a request are refused,
 * so a host cannot believe a setting took effect when it did not.
 */
#ifndef SELLO_ABI_H
#define SELLO_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

#define SELLO_FRAME_MAGIC 0x53u /* 'S' */
#define SELLO_ABI_VERSION 1u
#define SELLO_FRAME_HEADER_LEN 12u
/* Large enough for an RSA-4096 token carrying a two-certificate chain. */
#define SELLO_PAYLOAD_MAX 8192u
#define SELLO_FRAME_MAX (SELLO_FRAME_HEADER_LEN + SELLO_PAYLOAD_MAX)

/*
 * Opcodes. X(name, number, log name):
 *
 * STATUS     -> TLV list of SELLO_ST_* describing the unit. Any state.
 * STAMP      DER TimeStampReq -> DER TimeStampResp. Always answered with a
 *            TimeStampResp once the frame itself is well-formed; rejections
 *            are expressed in its PKIStatusInfo.
 * GET_CERTS  -> the TSU certificate, then (if loaded) its issuer, each DER.
 * INIT       TLV list of SELLO_INIT_* -> DER SubjectPublicKeyInfo of the key
 *            the module generated. Only in state UNINITIALISED.
 * GET_CSR    -> DER PKCS#10 CertificationRequest signed by the TSU key.
 * LOAD_CERT  DER TSU certificate, optionally followed by its issuer's DER
 *            certificate -> nothing. Refused unless the certificate holds
 *            the module's public key and a critical extendedKeyUsage of
 *            exactly id-kp-timeStamping.
 * SET_TIME   8 octets: UTC in milliseconds since 1970 -> nothing. Sets the
 *            clock calibration when the module has none since its start.
 *
 * Extend-only, like the status list.
 */
#define SELLO_OPCODE_LIST(X)                                                   \
    X(SELLO_OP_STATUS, 0x01, "STATUS")                                         \
    X(SELLO_OP_STAMP, 0x02, "STAMP")                                           \
    X(SELLO_OP_GET_CERTS, 0x03, "GET_CERTS")                                   \
    X(SELLO_OP_INIT, 0x10, "INIT")                                             \
    X(SELLO_OP_GET_CSR, 0x11, "GET_CSR")                                       \
    X(SELLO_OP_LOAD_CERT, 0x12, "LOAD_CERT")                                   \
    X(SELLO_OP_SET_TIME, 0x20, "SET_TIME")

enum {
#define SELLO_OPCODE_ENUM(name, num, text) name = num,
    SELLO_OPCODE_LIST(SELLO_OPCODE_ENUM)
#undef SELLO_OPCODE_ENUM
};

/* The log name of an opcode ("STAMP"), or NULL for a number not in the
 * list. */
static inline const char *sello_op_name(int op)
{
    switch (op) {
#define SELLO_OPCODE_CASE(name, num, text) case num: return text;
        SELLO_OPCODE_LIST(SELLO_OPCODE_CASE)
#undef SELLO_OPCODE_CASE
    default:
        return NULL;
    }
}

/* Response flags. */
enum {
    /* STAMP: the payload was not a decodable TimeStampReq at all; the
     * TimeStampResp carries badDataFormat. Lets an HTTP front end answer
     * 400 without parsing anything itself. */
    SELLO_RESP_FLAG_MALFORMED_REQUEST = 0x01,
};

/* Module life-cycle states (SELLO_ST_STATE). */
enum {
    SELLO_STATE_UNINITIALISED = 0,
    SELLO_STATE_INITIALISED = 1, /* key generated, no certificate */
    /* 2 is reserved for READY (certificate loaded, awaiting the M-of-N
     * activation that dual control adds); until then a loaded certificate
     * makes the unit ACTIVE directly. */
    SELLO_STATE_ACTIVE = 3,      /* certificate loaded, issuing */
    SELLO_STATE_ERROR = 4,
};

/* Key types (SELLO_INIT_KEY_TYPE, SELLO_ST_KEY_TYPE). */
enum {
    SELLO_KEY_P256 = 1,
    SELLO_KEY_P384 = 2,
    SELLO_KEY_RSA2048 = 3,
    SELLO_KEY_RSA3072 = 4,
    SELLO_KEY_RSA4096 = 5,
};

/* Hash identifiers (BearSSL's numbering) and the allow-list bit of each. */
enum {
    SELLO_HASH_SHA1 = 2,
    SELLO_HASH_SHA224 = 3,
    SELLO_HASH_SHA256 = 4,
    SELLO_HASH_SHA384 = 5,
    SELLO_HASH_SHA512 = 6,
};
#define SELLO_HASH_BIT(id) (1u << (id))
#define SELLO_HASHES_DEFAULT                                                   \
    (SELLO_HASH_BIT(SELLO_HASH_SHA256) | SELLO_HASH_BIT(SELLO_HASH_SHA384) |   \
     SELLO_HASH_BIT(SELLO_HASH_SHA512))

/* INIT parameters. Absent ones take the default named here. */
enum {
    SELLO_INIT_KEY_TYPE = 1,   /* u8 SELLO_KEY_*; default P-256 */
    SELLO_INIT_SUBJECT = 2,    /* DER Name for the CSR; required */
    SELLO_INIT_POLICY = 3,     /* DER OBJECT IDENTIFIER (with tag);
                                  default 0.4.0.2023.1.1 */
    SELLO_INIT_ACCURACY_MS = 4, /* u32, 1..3600000; default 1000 */
    SELLO_INIT_HASHES = 5,     /* u32 mask of SELLO_HASH_BIT(); default
                                  SELLO_HASHES_DEFAULT */
    SELLO_INIT_SIG_HASH = 6,   /* u8 SELLO_HASH_* for RSA keys (256/384/512);
                                  ECDSA uses its curve's hash; default 256 */
    SELLO_INIT_QUALIFIED = 7,  /* u8 0/1: every token carries the EN 319 422
                                  qcStatements extension; default 0 */
    SELLO_INIT_TSA_NAME = 8,   /* u8 0/1: tokens carry the tsa field (the
                                  certificate subject); default 0 */
    SELLO_INIT_CHAIN = 9,      /* u8 0/1: certReq also includes the issuer
                                  certificate when loaded; default 1 */
    SELLO_INIT_INSTANCE = 10,  /* u32 TSU instance number, placed in the
                                  serial number's high bits; default 0 */
};

/* STATUS reply fields. */
enum {
    SELLO_ST_STATE = 1,        /* u8 SELLO_STATE_* */
    SELLO_ST_KEY_TYPE = 2,     /* u8 SELLO_KEY_* (absent before INIT) */
    SELLO_ST_POLICY = 3,       /* DER OBJECT IDENTIFIER */
    SELLO_ST_ACCURACY_MS = 4,  /* u32 */
    SELLO_ST_HASHES = 5,       /* u32 mask */
    SELLO_ST_QUALIFIED = 6,    /* u8 */
    SELLO_ST_INSTANCE = 7,     /* u32 */
    SELLO_ST_NEXT_SERIAL = 8,  /* u64 counter part of the next serial */
    SELLO_ST_TOKENS = 9,       /* u64 tokens issued since start */
    SELLO_ST_CLOCK = 10,       /* u8 SELLO_CLOCK_* */
    SELLO_ST_UTC_MS = 11,      /* u64, present when the clock is set */
    SELLO_ST_FW_VERSION = 12,  /* UTF-8 */
    SELLO_ST_SIG_HASH = 13,    /* u8 SELLO_HASH_* */
};

/* Clock states (SELLO_ST_CLOCK). */
enum {
    SELLO_CLOCK_UNSET = 0,
    SELLO_CLOCK_SET = 1,
};

/* ---- helpers shared by both sides of the ABI ---------------------------- */

static inline void sello_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void sello_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void sello_put_be64(uint8_t *p, uint64_t v)
{
    sello_put_be32(p, (uint32_t)(v >> 32));
    sello_put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t sello_get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t sello_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t sello_get_be64(const uint8_t *p)
{
    return ((uint64_t)sello_get_be32(p) << 32) | sello_get_be32(p + 4);
}

/* A parsed frame header. */
typedef struct {
    uint8_t code;
    uint8_t flags;
    uint32_t tag;
    uint32_t length;
} sello_frame_header;

/* Writes a frame header into hdr[SELLO_FRAME_HEADER_LEN]. */
static inline void sello_frame_header_write(uint8_t *hdr, uint8_t code,
                                            uint8_t flags, uint32_t tag,
                                            uint32_t length)
{
    hdr[0] = SELLO_FRAME_MAGIC;
    hdr[1] = SELLO_ABI_VERSION;
    hdr[2] = code;
    hdr[3] = flags;
    sello_put_be32(hdr + 4, tag);
    sello_put_be32(hdr + 8, length);
}

/*
 * Parses hdr[SELLO_FRAME_HEADER_LEN]. Returns SELLO_OK, or why the header
 * is unacceptable: SELLO_ERR_FRAME (magic), SELLO_ERR_VERSION, or
 * SELLO_ERR_TOO_LARGE (length above SELLO_PAYLOAD_MAX).
 */
static inline sello_status sello_frame_header_read(const uint8_t *hdr,
                                                   sello_frame_header *out)
{
    out->code = hdr[2];
    out->flags = hdr[3];
    out->tag = sello_get_be32(hdr + 4);
    out->length = sello_get_be32(hdr + 8);
    if (hdr[0] != SELLO_FRAME_MAGIC)
        return SELLO_ERR_FRAME;
    if (hdr[1] != SELLO_ABI_VERSION)
        return SELLO_ERR_VERSION;
    if (out->length > SELLO_PAYLOAD_MAX)
        return SELLO_ERR_TOO_LARGE;
    return SELLO_OK;
}

/* A cursor over a TLV list. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} sello_tlv_reader;

/*
 * Takes the next TLV item. Returns 1 and sets *type, *value, *len when an
 * item was read, 0 at the clean end of the list, -1 when the list is
 * truncated.
 */
static inline int sello_tlv_next(sello_tlv_reader *r, uint8_t *type,
                                 const uint8_t **value, size_t *len)
{
    if (r->p == r->end)
        return 0;
    if ((size_t)(r->end - r->p) < 3)
        return -1;
    size_t n = sello_get_be16(r->p + 1);
    if ((size_t)(r->end - r->p) - 3 < n)
        return -1;
    *type = r->p[0];
    *value = r->p + 3;
    *len = n;
    r->p += 3 + n;
    return 1;
}

/* A bounded TLV list writer; `overflow` is sticky. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int overflow;
} sello_tlv_writer;

static inline void sello_tlv_put(sello_tlv_writer *w, uint8_t type,
                                 const void *value, size_t len)
{
    if (w->overflow || len > 0xffffu || w->cap - w->len < 3 + len) {
        w->overflow = 1;
        return;
    }
    uint8_t *p = w->buf + w->len;
    p[0] = type;
    sello_put_be16(p + 1, (uint16_t)len);
    const uint8_t *v = (const uint8_t *)value;
    for (size_t i = 0; i < len; i++)
        p[3 + i] = v[i];
    w->len += 3 + len;
}

static inline void sello_tlv_put_u8(sello_tlv_writer *w, uint8_t type,
                                    uint8_t v)
{
    sello_tlv_put(w, type, &v, 1);
}

static inline void sello_tlv_put_u32(sello_tlv_writer *w, uint8_t type,
                                     uint32_t v)
{
    uint8_t b[4];
    sello_put_be32(b, v);
    sello_tlv_put(w, type, b, 4);
}

static inline void sello_tlv_put_u64(sello_tlv_writer *w, uint8_t type,
                                     uint64_t v)
{
    uint8_t b[8];
    sello_put_be64(b, v);
    sello_tlv_put(w, type, b, 8);
}

#endif
