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
/* Large enough for an RSA-4096 token carrying a two-certificate chain,
 * and the audit records that travel with it (SELLO_RESP_FLAG_AUDIT). */
#define SELLO_PAYLOAD_MAX 9216u
#define SELLO_FRAME_MAX (SELLO_FRAME_HEADER_LEN + SELLO_PAYLOAD_MAX)

/*
 * Opcodes. X(name, number, log name):
 *
 * STATUS     -> TLV list of SELLO_ST_* describing the unit. Any state.
 * STAMP      DER TimeStampReq -> DER TimeStampResp. Always answered with a
 *            TimeStampResp once the frame itself is well-formed; rejections
 *            are expressed in its PKIStatusInfo.
 * GET_CERTS  -> the TSU certificate, then (if loaded) its issuer, each DER.
 * INIT       TLV list of SELLO_INIT_* -> TLV list of SELLO_INITR_*: the key
 *            ceremony (see "Dual control" below). Only in state
 *            UNINITIALISED. Leaves the new key unlocked, so that GET_CSR
 *            works in the same sitting, until LOAD_CERT or DEACTIVATE.
 *            On a simulation board (SELLO_ST_SIMULATION) only for a test
 *            unit (SELLO_INIT_TEST_UNIT): otherwise SELLO_ERR_TEST_ONLY,
 *            and nothing happens.
 * GET_CSR    -> DER PKCS#10 CertificationRequest signed by the TSU key.
 *            Needs the key unlocked (just initialised, or activated).
 * LOAD_CERT  DER TSU certificate, optionally followed by its issuer's DER
 *            certificate -> nothing. Refused unless the certificate holds
 *            the module's public key and a critical extendedKeyUsage of
 *            exactly id-kp-timeStamping. Locks a key that is unlocked but
 *            not yet ACTIVE: only an activation session makes a unit ACTIVE.
 * DEACTIVATE -> nothing. Wipes the unlocked key from memory (ACTIVE ->
 *            READY) and ends any open session. Needs no shares: stopping
 *            must never wait for a quorum, and a host can always refuse
 *            service anyway.
 * SET_TIME   retired: always refused (SELLO_ERR_STATE). The clock is
 *            calibrated only by the quorum, with the time proposed in
 *            SESSION_OPEN (ACTIVATE or RECALIBRATE).
 * AUDIT_ACK  8 octets: a sequence number -> nothing. The host has stored
 *            every audit record up to it durably; the module may forget
 *            them.
 * AUDIT_READ 8 octets: a sequence number -> the module's unacknowledged
 *            audit records from it on (whole records, as many as fit):
 *            how a host that lost some catches up.
 * TIME_OBSERVE  8 octets: reference UTC in microseconds since 1970 (two's
 *            complement), 4 octets: its uncertainty in microseconds -> TLV
 *            list of SELLO_OBS_*. The host's time service feeding the
 *            module's clock model (firmware/clock.h): agreeing observations
 *            keep the clock synchronised and slew it, boundedly; others make
 *            it unsynchronised. Never steps the clock.
 * SESSION_OPEN    1 octet SELLO_PURPOSE_*, optionally 1 octet of
 *            SELLO_SESSION_OPEN_* flags and then a SELLO_PROPOSAL_LEN-octet
 *            proposal -> TLV list of SELLO_SESS_*. There is one quorum
 *            session at a time: an open, unexpired session of the same
 *            purpose is joined (its id, challenge, key, proposal and
 *            progress are returned, so custodians can submit one by one
 *            from separate invocations); otherwise, or with the NEW flag,
 *            a fresh session with the given proposal replaces it. The
 *            proposal is what the custodians approve: it is part of every
 *            submission box's context.
 * SESSION_SUBMIT  one share submission (SELLO_SUBMIT_LEN octets) -> TLV
 *            list of SELLO_SESS_* (ACCEPTED, THRESHOLD, DONE). The
 *            submission that completes the quorum performs the session's
 *            purpose. A failed submission that could be an attack (it does
 *            not open, or its share is not this unit's current genuine
 *            one) counts towards the lockout; the count is stored at once
 *            (which starts a new serial block, a harmless gap).
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
    X(SELLO_OP_DEACTIVATE, 0x13, "DEACTIVATE")                                 \
    X(SELLO_OP_SET_TIME, 0x20, "SET_TIME")                                     \
    X(SELLO_OP_TIME_OBSERVE, 0x21, "TIME_OBSERVE")                             \
    X(SELLO_OP_SESSION_OPEN, 0x30, "SESSION_OPEN")                             \
    X(SELLO_OP_SESSION_SUBMIT, 0x31, "SESSION_SUBMIT")                         \
    X(SELLO_OP_AUDIT_ACK, 0x40, "AUDIT_ACK")                                   \
    X(SELLO_OP_AUDIT_READ, 0x41, "AUDIT_READ")

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
    /* Any response: the payload begins with 2 octets of length and that
     * many octets of audit records (the records this request made), then
     * the operation's own payload (or reason). A host stores the records
     * durably before it acts on the rest - before a client gets a token -
     * and then acknowledges them (AUDIT_ACK). */
    SELLO_RESP_FLAG_AUDIT = 0x02,
};

/* Module life-cycle states (SELLO_ST_STATE). */
enum {
    SELLO_STATE_UNINITIALISED = 0,
    SELLO_STATE_INITIALISED = 1, /* key generated, no certificate */
    SELLO_STATE_READY = 2,       /* certificate loaded, key locked */
    SELLO_STATE_ACTIVE = 3,      /* certificate loaded, key unlocked by the
                                    quorum: issuing */
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
    SELLO_INIT_CUSTODIAN = 11, /* 32 octets: a custodian's X25519 public
                                  key. Repeated, once per custodian, in
                                  share order (x = 1, 2, ...); 2..16 of them
                                  are required */
    SELLO_INIT_THRESHOLD = 12, /* u8 M, 2 <= M <= N; required */
    SELLO_INIT_ENGINE = 13,    /* u8 SELLO_ENGINE_*; default MODULE */
    SELLO_INIT_LOCKOUT_FAILURES = 14, /* u8 1..100: failed submissions that
                                  lock sessions out; default 5 */
    SELLO_INIT_LOCKOUT_S = 15, /* u32 1..604800: lockout duration in
                                  seconds; default 900 */
    SELLO_INIT_KEY_USAGE_DAYS = 16, /* u32: the private-key usage period,
                                  counted from the certificate's notBefore,
                                  when the certificate has no
                                  PrivateKeyUsagePeriod; 0 (default) = the
                                  certificate's validity only */
    SELLO_INIT_SLEW_PPM = 17,  /* u32 1..10000: the fastest observations may
                                  move the clock, in ppm; default 100 */
    SELLO_INIT_MAX_OBS_AGE_S = 18, /* u32 0..86400: unsynchronised when no
                                  observation was accepted for this long;
                                  0 (default) = only when the error bound
                                  says so */
    SELLO_INIT_TEST_UNIT = 19, /* u8 0/1: the unit is a test unit: required
                                  on a simulation board, where INIT is
                                  otherwise refused (SELLO_ERR_TEST_ONLY);
                                  recorded in the unit record, STATUS and
                                  the INIT audit record, for the life of
                                  the key; default 0 */
};

/* Where the TSU key lives (SELLO_INIT_ENGINE, SELLO_ST_ENGINE). */
enum {
    SELLO_ENGINE_MODULE = 1, /* module storage, wrapped (bearssl engine) */
    SELLO_ENGINE_TOKEN = 2,  /* the board's key token (PKCS#11), its PIN
                                wrapped like a module key */
};

/* INIT reply fields. */
enum {
    SELLO_INITR_SPKI = 1,    /* DER SubjectPublicKeyInfo of the new key */
    SELLO_INITR_UNIT_ID = 2, /* 32 octets: SHA-256 of that SPKI */
    SELLO_INITR_SHARE = 3,   /* a custodian's sealed share (SELLO_SHARE_BOX_
                                LEN octets), repeated in SELLO_INIT_CUSTODIAN
                                order */
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
    SELLO_ST_THRESHOLD = 14,   /* u8 M */
    SELLO_ST_CUSTODIANS = 15,  /* u8 N */
    SELLO_ST_UNIT_ID = 16,     /* 32 octets: SHA-256 of the SPKI */
    SELLO_ST_ENGINE = 17,      /* u8 SELLO_ENGINE_* */
    SELLO_ST_UNLOCKED = 18,    /* u8: the key is in use (ACTIVE, or just
                                  initialised) */
    SELLO_ST_FAILURES = 19,    /* u8 failed submissions since the last
                                  quorum */
    SELLO_ST_LOCKED_S = 20,    /* u32 seconds of lockout left (present
                                  when locked out) */
    SELLO_ST_SESSION = 21,     /* u8 SELLO_PURPOSE_* of the open session
                                  (present when one is open) */
    SELLO_ST_SESSION_ACCEPTED = 22, /* u8 shares accepted in it */
    SELLO_ST_TIME_DOUBT = 23,  /* u8 1: the module's records were rolled
                                  back, so time already issued is unknown;
                                  no STAMP before a RECALIBRATE quorum */
    SELLO_ST_USAGE_NOT_AFTER = 24, /* u64 UTC seconds: the last second the
                                  key may sign (certificate validity and
                                  private-key usage period) */
    SELLO_ST_SIMULATION = 25,  /* u8 1 on a simulated board (which makes
                                  test units only) */
    SELLO_ST_GENERATION = 26,  /* u32 key ceremony generation */
    SELLO_ST_CLOCK_WHY = 27,   /* u8 SELLO_CLOCK_WHY_* */
    SELLO_ST_CLOCK_ERROR_US = 28, /* u64 current error bound (calibrated) */
    SELLO_ST_OBS_OFFSET_US = 29, /* 8 octets, two's complement: reference
                                  minus module time at the last
                                  observation */
    SELLO_ST_OBS_AGE_MS = 30,  /* u64 since the last observation */
    SELLO_ST_SYNC_LEFT_S = 31, /* u32 seconds until drift alone would make
                                  the clock unsynchronised */
    SELLO_ST_LEAP_US = 32,     /* 8 octets: an announced leap second's
                                  instant (UTC us), then 1 octet: 1
                                  inserted, 2 deleted */
    SELLO_ST_SLEW_PPM = 33,    /* u32 */
    SELLO_ST_DRIFT_PPM = 34,   /* u32 the board's declared drift */
    SELLO_ST_AUDIT_SEQ = 35,   /* u64 sequence number of the last record */
    SELLO_ST_AUDIT_HEAD = 36,  /* 32 octets: SHA-256 of the last record */
    SELLO_ST_AUDIT_PENDING = 37, /* u32 octets of records not acknowledged */
    SELLO_ST_AUDIT_KEY = 38,   /* DER SubjectPublicKeyInfo of the audit key
                                  (P-256, ecdsa-with-SHA256) */
    SELLO_ST_TEST_UNIT = 39,   /* u8 1: a test unit, not for production
                                  (SELLO_INIT_TEST_UNIT, fixed at the key
                                  ceremony); 0: not (absent before INIT) */
};

/*
 * ---- Audit records ----------------------------------------------------------
 *
 * A hash chain (firmware/audit.h). Each record, big-endian:
 *   0  1  SELLO_AUDIT_FORMAT      12  8  module UTC ms when recorded (0:
 *   1  1  type (below)                   uncalibrated; a TOKEN's genTime)
 *   2  2  body length L           20 32  SHA-256 of the previous record
 *   4  8  sequence number         52  L  body
 * Sequence numbers are consecutive, except that a RESTART record continues
 * from the last saved checkpoint with a higher number: its body names the
 * checkpoint's sequence number and carries a copy of that record (the
 * host may not have it if power was lost right after it was saved), and
 * its previous-hash is that record's hash. A CHECKPOINT's body
 * is a DER ECDSA P-256 signature by the audit key over
 *   SHA-256("sello audit checkpoint v1" || its sequence number (8) ||
 *           its previous-hash (32)).
 */
#define SELLO_AUDIT_FORMAT 1u
#define SELLO_AUDIT_HEADER_LEN 52u
enum {
    SELLO_AUDIT_RESTART = 1,    /* a start that passed the power-on
                                   self-tests: saved checkpoint seq (8, 0:
                                   none),
                                   flags (1: bit 0 records were rolled
                                   back), audit key SPKI (91), the saved
                                   CHECKPOINT record (when there is one) */
    SELLO_AUDIT_INIT = 2,       /* key type, engine, M, N (1 each),
                                   generation (4), unit id (32), test
                                   unit (1: 0/1, SELLO_INIT_TEST_UNIT) */
    SELLO_AUDIT_CERT = 3,       /* SHA-256 of the TSU certificate */
    SELLO_AUDIT_SESSION = 4,    /* purpose (1), proposal (12, if any) */
    SELLO_AUDIT_SHARE = 5,      /* status (1: 0 accepted), counted (1) */
    SELLO_AUDIT_QUORUM = 6,     /* purpose (1), status (1) */
    SELLO_AUDIT_LOCKOUT = 7,    /* seconds (4) */
    SELLO_AUDIT_DEACTIVATE = 8, /* empty */
    SELLO_AUDIT_CALIBRATE = 9,  /* UTC us (8), uncertainty us (4) */
    SELLO_AUDIT_OBSERVE = 10,   /* verdict (1), offset us (8), uncertainty
                                   us (4) */
    SELLO_AUDIT_CLOCK = 11,     /* SELLO_CLOCK_* (1), SELLO_CLOCK_WHY_* (1) */
    SELLO_AUDIT_LEAP = 12,      /* instant us (8), kind (1) */
    SELLO_AUDIT_DESTROY = 13,   /* the new ceremony generation (4) */
    SELLO_AUDIT_TOKEN = 14,     /* serial magnitude (12), SHA-256 of the
                                   TimeStampResp (32) */
    SELLO_AUDIT_CHECKPOINT = 15, /* signature */
    SELLO_AUDIT_ERROR = 16,     /* status (1), then a UTF-8 reason: a
                                   failed key self-test (the QUORUM record
                                   of an activation says pass or fail), a
                                   storage failure */
};

/*
 * Why the clock is not synchronised (SELLO_ST_CLOCK_WHY,
 * SELLO_OBS_CLOCK_WHY). X(name, number, short name, description);
 * extend-only.
 */
#define SELLO_CLOCK_WHY_LIST(X)                                                \
    X(SELLO_CLOCK_WHY_NONE, 0, "none", "synchronised")                         \
    X(SELLO_CLOCK_WHY_UNCALIBRATED, 1, "uncalibrated",                         \
      "custodians calibrate it with sello activate or sello recalibrate")      \
    X(SELLO_CLOCK_WHY_ERROR, 2, "error",                                       \
      "its error bound exceeds the declared accuracy (no recent agreeing "     \
      "time observation)")                                                     \
    X(SELLO_CLOCK_WHY_DISAGREE, 3, "disagree",                                 \
      "an observation disagreed beyond the declared accuracy")                 \
    X(SELLO_CLOCK_WHY_STALE, 4, "stale",                                       \
      "no time observation accepted within the maximum age")                   \
    X(SELLO_CLOCK_WHY_LEAP, 5, "leap",                                         \
      "paused across an announced leap second")                                \
    X(SELLO_CLOCK_WHY_BEHIND, 6, "behind",                                     \
      "behind time already issued (it resumes when it has caught up)")

enum {
#define SELLO_CLOCK_WHY_ENUM(name, num, word, text) name = num,
    SELLO_CLOCK_WHY_LIST(SELLO_CLOCK_WHY_ENUM)
#undef SELLO_CLOCK_WHY_ENUM
};

/* The short name ("disagree") of a clock reason, or "unknown". */
static inline const char *sello_clock_why_name(int why)
{
    switch (why) {
#define SELLO_CLOCK_WHY_CASE(name, num, word, text) case num: return word;
        SELLO_CLOCK_WHY_LIST(SELLO_CLOCK_WHY_CASE)
#undef SELLO_CLOCK_WHY_CASE
    default:
        return "unknown";
    }
}

/* Its description, or "unknown reason". */
static inline const char *sello_clock_why_str(int why)
{
    switch (why) {
#define SELLO_CLOCK_WHY_TEXT(name, num, word, text) case num: return text;
        SELLO_CLOCK_WHY_LIST(SELLO_CLOCK_WHY_TEXT)
#undef SELLO_CLOCK_WHY_TEXT
    default:
        return "unknown reason";
    }
}

/* Observation verdicts (SELLO_OBS_VERDICT). */
enum {
    SELLO_OBS_ACCEPTED = 1,  /* agrees within the accuracy: slewed in */
    SELLO_OBS_DISAGREES = 2, /* beyond the accuracy: unsynchronised */
    SELLO_OBS_USELESS = 3,   /* its uncertainty exceeds the accuracy */
};

/* TIME_OBSERVE reply fields. */
enum {
    SELLO_OBS_VERDICT = 1,     /* u8 SELLO_OBS_ACCEPTED... */
    SELLO_OBS_OFFSET_US = 2,   /* 8 octets two's complement: reference
                                  minus module time */
    SELLO_OBS_CLOCK = 3,       /* u8 SELLO_CLOCK_* afterwards */
    SELLO_OBS_CLOCK_WHY = 4,   /* u8 why not synchronised, 0 when it is */
};

/*
 * ---- Dual control ---------------------------------------------------------
 *
 * Key ceremony (INIT). The host sends the custodians' X25519 public keys
 * (each custodian's tool derives its key pair from a passphrase) and the
 * threshold M. The module generates the TSU key and a random 32-octet
 * activation secret K, wraps the private key (or, for the token engine,
 * the token PINs) under HKDF(device secret || K), splits K into N Shamir
 * shares over GF(2^8), and returns each share sealed to its custodian's
 * key (a "share box"), so that the host only ever sees ciphertext. K
 * itself never leaves the module and is wiped after the ceremony; the
 * module keeps no copy of any share.
 *
 * Activation and the other quorum operations (SELLO_PURPOSE_*) are
 * sessions: SESSION_OPEN returns a fresh session id, challenge and
 * ephemeral X25519 key; each custodian's tool opens its share box with
 * its passphrase and submits the share sealed to the session key and the
 * module's static ceremony key (carried inside every share), so that a
 * submission is readable only by this module and only within this session.
 * The module checks each share's MAC, unit and ceremony generation,
 * rejects duplicates, and at M distinct good shares combines K, unwraps
 * the key, checks it against the stored public key and performs the
 * purpose; K and the shares are wiped whatever the outcome. Failed
 * submissions count towards a lockout.
 *
 * Boxes (firmware/box.h has the one implementation, shared by the tools):
 * X25519 from an ephemeral key e to recipients R1..Rk, then
 *   key || nonce = HKDF-SHA256(salt, X25519(e,R1) || ... || X25519(e,Rk),
 *                              label || E || R1 || ... || Rk || context)
 * (32 + 12 octets), and AES-256-GCM without additional data. A box is
 *   E (32) || ciphertext || tag (16).
 *
 *   share box (INIT reply):      recipient the custodian's key C,
 *       salt empty, label SELLO_BOX_LABEL_SHARE, no context.
 *   submission (SESSION_SUBMIT): recipients the session key S, then the
 *       module's ceremony key (share offset SELLO_SHARE_MODULE_KEY), salt
 *       the session challenge, label SELLO_BOX_LABEL_SUBMIT, context the
 *       purpose octet, the session id, and the session's proposal
 *       (SELLO_SESS_PROPOSAL, when it has one).
 */
#define SELLO_BOX_LABEL_SHARE "sello share for custodian v1"
#define SELLO_BOX_LABEL_SUBMIT "sello share submission v1"
#define SELLO_BOX_OVERHEAD (32u + 16u)

/* The plaintext of a share (inside both kinds of box). */
enum {
    SELLO_SHARE_VERSION = 0,     /* 1 octet: SELLO_SHARE_FORMAT */
    SELLO_SHARE_UNIT_ID = 1,     /* 32: SHA-256 of the unit's SPKI */
    SELLO_SHARE_GENERATION = 33, /* 4: key ceremony generation */
    SELLO_SHARE_M = 37,          /* 1: threshold */
    SELLO_SHARE_N = 38,          /* 1: custodians */
    SELLO_SHARE_X = 39,          /* 1: this share's index, 1..N */
    SELLO_SHARE_Y = 40,          /* 32: the share's values */
    SELLO_SHARE_MODULE_KEY = 72, /* 32: the module's ceremony X25519 key */
    SELLO_SHARE_MAC = 104,       /* 32: HMAC-SHA256 by the module over all
                                    of the above, under a key only the
                                    device holds */
    SELLO_SHARE_LEN = 136,
};
#define SELLO_SHARE_FORMAT 1u
#define SELLO_SHARE_BOX_LEN (SELLO_SHARE_LEN + SELLO_BOX_OVERHEAD)

/* SESSION_SUBMIT payload: the session id, then the submission box. */
#define SELLO_SESSION_ID_LEN 16u
#define SELLO_SUBMIT_LEN (SELLO_SESSION_ID_LEN + SELLO_SHARE_BOX_LEN)

/* Session purposes (SESSION_OPEN, SELLO_SESS_PURPOSE). */
enum {
    SELLO_PURPOSE_ACTIVATE = 1,    /* unlock the key: READY -> ACTIVE (or,
                                      before a certificate, allow GET_CSR) */
    SELLO_PURPOSE_DESTROY = 2,     /* zeroise the key and the unit's
                                      records -> UNINITIALISED */
    SELLO_PURPOSE_RECALIBRATE = 3, /* calibrate the clock to the
                                      proposal (required); clears
                                      SELLO_ST_TIME_DOUBT */
    SELLO_PURPOSE_LEAP = 4,        /* announce the leap second of the
                                      proposal (required) */
};

/*
 * A session's proposal: 8 octets of value, 4 of parameter, big-endian.
 *   ACTIVATE (optional), RECALIBRATE: value = UTC in microseconds since
 *     1970 at the session's opening, parameter = its uncertainty in
 *     microseconds. At the quorum the clock is calibrated to it plus the
 *     ticks elapsed since the opening (and the board's drift over them
 *     added to the uncertainty).
 *   LEAP: value = the leap's instant (UTC microseconds of a midnight
 *     00:00:00 on the first day of a month, in the future, within 400
 *     days), parameter = 1 inserted, 2 deleted, 0 cancels an announcement.
 */
#define SELLO_PROPOSAL_LEN 12u

/* SESSION_OPEN flags. */
enum {
    SELLO_SESSION_OPEN_NEW = 0x01, /* discard any open session first */
};

/* Session fields (SESSION_OPEN and SESSION_SUBMIT replies). */
enum {
    SELLO_SESS_ID = 1,         /* SELLO_SESSION_ID_LEN octets */
    SELLO_SESS_CHALLENGE = 2,  /* 32 octets: the submission boxes' salt */
    SELLO_SESS_PUBKEY = 3,     /* 32 octets: the session's X25519 key */
    SELLO_SESS_EXPIRES_S = 4,  /* u32 seconds until the session expires */
    SELLO_SESS_PURPOSE = 5,    /* u8 SELLO_PURPOSE_* */
    SELLO_SESS_THRESHOLD = 6,  /* u8 M */
    SELLO_SESS_CUSTODIANS = 7, /* u8 N */
    SELLO_SESS_UNIT_ID = 8,    /* 32 octets */
    SELLO_SESS_ACCEPTED = 9,   /* u8 distinct shares accepted so far */
    SELLO_SESS_DONE = 10,      /* u8 1: quorum met, purpose performed, the
                                  session is closed */
    SELLO_SESS_PROPOSAL = 11,  /* SELLO_PROPOSAL_LEN octets, when the
                                  session has one */
    SELLO_SESS_AGE_MS = 12,    /* u64 since the session was opened (to
                                  show custodians how old a proposed time
                                  is) */
};
#define SELLO_SESSION_LIFETIME_S 600u

/* Clock states (SELLO_ST_CLOCK). */
enum {
    SELLO_CLOCK_UNCALIBRATED = 0,
    SELLO_CLOCK_SYNCHRONISED = 1,
    SELLO_CLOCK_UNSYNCHRONISED = 2,
};

/* The name of a clock state ("synchronised"), or NULL for a number the
 * ABI lacks. */
static inline const char *sello_clock_state_name(int clock)
{
    switch (clock) {
    case SELLO_CLOCK_UNCALIBRATED:
        return "uncalibrated";
    case SELLO_CLOCK_SYNCHRONISED:
        return "synchronised";
    case SELLO_CLOCK_UNSYNCHRONISED:
        return "unsynchronised";
    default:
        return NULL;
    }
}

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
