/*
 * Test fixtures over the firmware's internals and the module ABI; shared by
 * the unit tests and the fuzz targets (no cmocka here).
 *
 * The module never exports its key, so tests that need a certificate for
 * the unit's key provision the unit themselves: they write the unit record
 * for a known private key (test/data/certs/unit-p256.priv) with the
 * firmware's own sello_unit_save, then start the module on those records.
 */
#ifndef SELLO_TEST_FIXTURE_H
#define SELLO_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/abi.h>
#include <sello/module.h>
#include <sello/status.h>

/* DER Name "CN=Sello Test TSU, O=Sello Tests", as INIT's subject. */
extern const uint8_t fx_subject[];
extern const size_t fx_subject_len;

/* A TLV list under construction (sello_tlv_writer over a static buffer). */
typedef struct {
    uint8_t buf[1024];
    sello_tlv_writer w;
} fx_tlv;
void fx_tlv_init(fx_tlv *t);
/* The fixture's custodians: FX_CUSTODIANS fixed X25519 keys, threshold
 * FX_THRESHOLD. */
#define FX_CUSTODIANS 3u
#define FX_THRESHOLD 2u
void fx_custodian_priv(unsigned i, uint8_t out[32]);
/* Adds n custodian keys (fx_custodian_priv 0..n-1) and threshold m. */
void fx_tlv_put_custody(fx_tlv *t, unsigned n, unsigned m);
/* Marks a list as a test unit's (SELLO_INIT_TEST_UNIT = 1): what every
 * INIT on a simulation board, such as the test board, needs. */
void fx_tlv_put_test_unit(fx_tlv *t);
/* A configuration list with the required items: the subject and the
 * fixture's custody, marked as a test unit (fx_tlv_put_test_unit). */
void fx_tlv_init_subject(fx_tlv *t);

/* The current unit's shares in plaintext (as a custodian's tool holds
 * them after opening its share box), set by fx_provision and
 * fx_take_init_reply. */
extern uint8_t fx_shares[16][SELLO_SHARE_LEN];
extern unsigned fx_share_count;

/*
 * Writes the SELLO_NV_UNIT record (through the board's nv_write) for a
 * configuration given as an INIT TLV list and a private key in the module's
 * serialisation. *spki (cap SELLO_SPKI_MAX octets) receives the public key
 * when not NULL.
 */
sello_status fx_provision(const uint8_t *cfg_tlv, size_t cfg_len,
                          uint8_t key_type, const uint8_t *priv,
                          size_t priv_len, uint8_t *spki, size_t *spki_len);

/*
 * Provisions the unit with the P-256 key of test/data/certs/unit-p256.priv
 * and configuration `cfg_tlv` (NULL: subject only), starts the module and,
 * when `certs` is not NULL, loads those certificate files (space-separated
 * names under test/data/certs/, TSU first). SELLO_OK when every step
 * succeeded; the module is then INITIALISED, or ACTIVE after a quorum of
 * FX_THRESHOLD fixture shares.
 */
sello_status fx_make_unit(sello_module_storage *m, const uint8_t *cfg_tlv,
                          size_t cfg_len, const char *certs);

/*
 * Takes an INIT reply: copies the SPKI (when spki is not NULL) and opens
 * the share boxes with the fixture's custodian keys into fx_shares.
 * Returns the number of shares, or -1 when a box does not open.
 */
int fx_take_init_reply(const uint8_t *p, size_t len, uint8_t *spki,
                       size_t *spki_len);

/* The ABI's quorum sessions, as a custodian's tool speaks them: open (and
 * remember the session), seal a share for it, submit share i of
 * fx_shares. */
typedef struct fx_resp fx_resp;
fx_resp fx_session_open(sello_module_storage *m, uint8_t purpose,
                        uint8_t flags);
/* The same with a proposal (SELLO_PROPOSAL_LEN octets; flags are sent
 * with it). */
fx_resp fx_session_open_with(sello_module_storage *m, uint8_t purpose,
                             uint8_t flags, const uint8_t *proposal);
void fx_seal_submission(const uint8_t share[SELLO_SHARE_LEN],
                        uint8_t out[SELLO_SUBMIT_LEN]);
fx_resp fx_submit_share(sello_module_storage *m, unsigned i);
/* A fresh session of `purpose` and shares 0..count-1: SELLO_OK when every
 * step was accepted. */
sello_status fx_quorum(sello_module_storage *m, uint8_t purpose,
                       unsigned count);

/* Concatenates test/data/certs/ files (space-separated names) into out;
 * returns the length, or 0 when a file is missing or out is too small. */
size_t fx_load_certs(const char *names, uint8_t *out, size_t cap);

/* A minimal DER cursor for reading the module's output independently of
 * the firmware's reader. */
typedef struct {
    const uint8_t *p, *end;
} fx_cur;
/* Takes the next element if its tag is `tag`; *content and *whole (either
 * may be NULL) cover its content and complete encoding. */
bool fx_der_next(fx_cur *c, uint8_t tag, fx_cur *content, fx_cur *whole);
static inline size_t fx_len(const fx_cur *c) { return (size_t)(c->end - c->p); }

/* A parsed response frame; `payload` points into a buffer owned by the
 * fixture that the next fx_call overwrites. */
struct fx_resp {
    size_t frame_len;    /* 0 when sello_module_handle returned nothing */
    bool header_ok;      /* magic and version are right, length agrees */
    uint8_t status;
    uint8_t flags;
    uint32_t tag;
    const uint8_t *payload; /* the operation's payload, after the audit
                               records (SELLO_RESP_FLAG_AUDIT) */
    size_t len;
    const uint8_t *audit;   /* this response's audit records */
    size_t audit_len;
};

/*
 * The host's side of the audit chain, as the relay does it: fx_send keeps
 * every response's audit records in fx_audit_log and acknowledges them to
 * the module (unless fx_audit_no_ack is set). fx_audit_reset empties the
 * log; tests call it with board_mem_reset.
 */
#define FX_AUDIT_LOG_MAX (4u << 20)
extern uint8_t fx_audit_log[FX_AUDIT_LOG_MAX];
extern size_t fx_audit_log_len;
extern bool fx_audit_log_full;
extern bool fx_audit_no_ack;
void fx_audit_reset(void);

/* Builds a request frame into out (cap >= 12 + len); returns its length. */
size_t fx_frame(uint8_t *out, uint8_t op, uint32_t tag, const void *payload,
                size_t len);
/* Sends a raw frame to the module and parses the answer. */
fx_resp fx_send(sello_module_storage *m, const uint8_t *frame, size_t len);
/* Sends {op, tag, payload} as a well-formed frame. */
fx_resp fx_call_tag(sello_module_storage *m, uint8_t op, uint32_t tag,
                    const void *payload, size_t len);
/* The same with a fresh tag each time. */
fx_resp fx_call(sello_module_storage *m, uint8_t op, const void *payload,
                size_t len);
/* Calibrates the clock to utc_ms (no uncertainty) as the custodians do:
 * a RECALIBRATE session proposing it and FX_THRESHOLD fixture shares.
 * Returns the last answer (status SELLO_OK when calibrated). */
fx_resp fx_calibrate(sello_module_storage *m, uint64_t utc_ms);

/* Looks up one STATUS field; false when absent. */
bool fx_status_field(sello_module_storage *m, uint8_t type, uint64_t *value);

/*
 * A parsed TimeStampResp, read with a small independent DER walker (not
 * the firmware's reader). For a granted response also the TSTInfo fields
 * that the tests compare.
 */
typedef struct {
    bool ok;             /* parsed */
    int status;          /* PKIStatus */
    int fail_bit;        /* the single failInfo bit, -1 when absent */
    size_t fail_bits;    /* how many bits are set */
    bool has_token;
    /* TSTInfo, granted only */
    const uint8_t *serial; /* INTEGER content */
    size_t serial_len;
    char gen_time[32];
    const uint8_t *nonce;  /* INTEGER content, NULL when absent */
    size_t nonce_len;
    const uint8_t *imprint; /* complete MessageImprint element */
    size_t imprint_len;
    const uint8_t *policy;  /* complete policy OID element */
    size_t policy_len;
    const uint8_t *accuracy; /* complete Accuracy element, NULL if absent */
    size_t accuracy_len;
    const uint8_t *tstinfo; /* complete TSTInfo element */
    size_t tstinfo_len;
    fx_cur certs;         /* content of certificates [0], empty if absent */
    fx_cur signed_attrs;  /* complete signedAttrs [0] element */
    fx_cur sig_alg;       /* signatureAlgorithm OID content */
    fx_cur signature;     /* signature OCTET STRING content */
    bool has_certs;
    bool has_tsa;
    bool has_extensions;
} fx_tsr;
fx_tsr fx_parse_tsr(const uint8_t *der, size_t len);

/* The serial's unsigned magnitude as a number (serials here fit in 64
 * bits when the instance is 0); UINT64_MAX when longer. */
uint64_t fx_serial_u64(const fx_tsr *t);

/* Milliseconds since 1970 of a GeneralizedTime "YYYYMMDDHHMMSS[.f*]Z"
 * (independent of the firmware's clock code); 0 when malformed. */
uint64_t fx_gentime_ms(const char *s);

/*
 * Writes a genuine (authenticated) counters record for serial epoch
 * `epoch` (or the next above the board counter's) with time lease
 * `lease_ms`, through the module's own code, as a module that had reserved
 * up to there would have.
 */
sello_status fx_put_counters_record(uint64_t epoch, uint64_t lease_ms);

/* The activation secret K that fx_provision seals unit records under (32
 * octets: "sello fixture activation secret" and a NUL); also the K of
 * test/data/unit/record-*.bin. */
const uint8_t *fx_activation_secret(void);

/*
 * Fills fx_shares[0..n) and fx_share_count with genuine shares of that K
 * for the unit whose SubjectPublicKeyInfo is spki[0..spki_len), of key
 * ceremony `generation` and custody m of n, MAC'd under the board's
 * current device secret: what the custodians of a unit sealed under K hold
 * (fx_provision calls it; a test that loads a record sealed elsewhere calls
 * it itself). SELLO_ERR_PARAM unless 2 <= m <= n <= 16.
 */
sello_status fx_make_shares(const uint8_t *spki, size_t spki_len,
                            uint32_t generation, unsigned m, unsigned n);

/* Copies the SubjectPublicKeyInfo item of a unit record (as stored in
 * SELLO_NV_UNIT, e.g. test/data/unit/record-*.bin) into spki[0..cap), read
 * with a walk of its own rather than the firmware's parser; false when the
 * record has none or it does not fit. */
bool fx_record_spki(const uint8_t *rec, size_t len, uint8_t *spki,
                    size_t cap, size_t *spki_len);

/* Takes the payload of a SESSION_OPEN reply that was sent some other way
 * than fx_session_open (a raw frame), so that fx_seal_submission seals for
 * that session. */
void fx_session_note(const uint8_t *p, size_t len);

#endif
