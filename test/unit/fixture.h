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
/* A configuration list with the subject (the only required item). */
void fx_tlv_init_subject(fx_tlv *t);

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
 * succeeded; the module is then INITIALISED or ACTIVE.
 */
sello_status fx_make_unit(sello_module_storage *m, const uint8_t *cfg_tlv,
                          size_t cfg_len, const char *certs);

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
typedef struct {
    size_t frame_len;    /* 0 when sello_module_handle returned nothing */
    bool header_ok;      /* magic and version are right, length agrees */
    uint8_t status;
    uint8_t flags;
    uint32_t tag;
    const uint8_t *payload;
    size_t len;
} fx_resp;

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
/* SET_TIME with utc_ms. */
fx_resp fx_set_time(sello_module_storage *m, uint64_t utc_ms);

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
 * Writes a genuine (authenticated) serial record holding `reserved_end` and
 * `lease_ms`, through the module's own serial code, as a module that had
 * reserved up to there would have.
 */
sello_status fx_put_serial_record(uint64_t reserved_end, uint64_t lease_ms);

#endif
