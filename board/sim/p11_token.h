/*
 * The PKCS#11 token driver of the simulator board (and of co-processor
 * deployments): the board half of the module's `pkcs11` engine. It keeps
 * the TSU key in a PKCS#11 token (SoftHSMv2 in tests, a vendor library in
 * production) and can do exactly this with it:
 *
 *   - take the token over at the key ceremony: log in as SO once and set a
 *     user PIN chosen by the module (sim_p11_set_user_pin), and replace
 *     the SO PIN by one chosen by the module too (sim_p11_set_so_pin);
 *   - log in and out as the user with that PIN;
 *   - generate the key pair inside the token, private key private,
 *     sensitive, non-extractable and sign-only, and hand back its public
 *     key as a DER SubjectPublicKeyInfo;
 *   - sign a digest with it through C_Sign (ECDSA, or RSA PKCS#1 v1.5 over
 *     a DigestInfo the driver builds);
 *   - destroy it.
 *
 * Nothing else: there is no encrypt, decrypt, wrap, unwrap, derive, export,
 * import, copy or attribute change in this file, and the key generated here
 * refuses all of them in the token as well.
 *
 * PINs. The module's PINs are binary random octets (1..SIM_P11_PIN_MAX of
 * them; 16 or more recommended). PKCS#11 PINs are character strings, so
 * the driver passes the octets as lowercase hexadecimal, two characters per
 * octet: the octets 12 ab are the PKCS#11 PIN "12ab". Whoever needs to log
 * in with another tool (pkcs11-tool --pin, for a test or a forensic look)
 * uses that same hex text. The hex text lives on the stack only during the
 * call and is wiped afterwards. The SO PIN handed to sim_p11_set_user_pin
 * is the operator's printable PIN, passed as it is.
 *
 * Errors. Every operation returns a sello_status; the PKCS#11 function that
 * failed and its CKR_ value are kept in the handle for logs
 * (sim_p11_last_rv, sim_p11_last_fn, sim_p11_rv_name). The mapping:
 *   CKR_ARGUMENTS_BAD, *_INVALID of arguments/attributes/mechanisms,
 *     CKR_TEMPLATE_*, CKR_PIN_LEN_RANGE, CKR_DATA_LEN_RANGE   -> SELLO_ERR_PARAM
 *   CKR_PIN_INCORRECT, CKR_PIN_EXPIRED                        -> SELLO_ERR_CRYPTO
 *   not logged in / already logged in / PIN locked / session
 *     or operation in the wrong state / read-only token       -> SELLO_ERR_STATE
 *   CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID         -> SELLO_ERR_NOT_FOUND
 *   CKR_DEVICE_*, CKR_TOKEN_NOT_PRESENT, CKR_HOST_MEMORY      -> SELLO_ERR_STORAGE
 *   CKR_BUFFER_TOO_SMALL                                      -> SELLO_ERR_SPACE
 *   CKR_RANDOM_*                                              -> SELLO_ERR_ENTROPY
 *   anything else                                             -> SELLO_ERR_CRYPTO
 * Failures found by the driver itself (no such token, key attributes the
 * token did not honour, malformed public key) leave last_rv at CKR_OK and
 * name the check in last_fn.
 *
 * Threads and processes. C_Initialize is process-wide: use one open handle
 * per library per process (the module has one). If the library was already
 * initialised by someone else in the process, sim_p11_open uses it and
 * sim_p11_close leaves it initialised.
 *
 * Key identity. The caller names a key by its CKA_ID (1..SIM_P11_ID_MAX
 * octets; the module keeps it in its records beside the wrapped PIN). Both
 * objects of the pair carry it, and the label "sello-tsu".
 */
#ifndef SELLO_SIM_P11_TOKEN_H
#define SELLO_SIM_P11_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

/* Limits of the arguments. */
#define SIM_P11_ID_MAX 64u     /* CKA_ID octets */
#define SIM_P11_PIN_MAX 64u    /* binary PIN octets (128 hex characters) */
#define SIM_P11_LABEL_MAX 32u  /* a token label: CK_TOKEN_INFO.label */
/* Largest SubjectPublicKeyInfo (RSA-4096: 550 octets) and signature
 * (RSA-4096: 512 octets; P-384 DER ECDSA: at most 104). */
#define SIM_P11_SPKI_MAX 560u
#define SIM_P11_SIG_MAX 512u

/*
 * One open token. Opaque to callers: the fields are public only so that it
 * can live in static storage. PKCS#11 handles are CK_ULONG, which is
 * unsigned long on every platform this builds for (checked in the .c).
 */
typedef struct {
    void *lib;              /* dlopen handle */
    const void *fn;         /* CK_FUNCTION_LIST of the library */
    unsigned long slot;     /* CK_SLOT_ID */
    unsigned long session;  /* CK_SESSION_HANDLE */
    bool open;              /* a session is open */
    bool finalize;          /* this handle called C_Initialize */
    bool logged_in;         /* as CKU_USER, through this handle */
    bool hardened;          /* the last generated key also carries
                               CKA_ALLOWED_MECHANISMS, CKA_MODIFIABLE and
                               CKA_COPYABLE false (see sim_p11_generate) */
    unsigned long last_rv;  /* CKR_ of the last PKCS#11 call that failed */
    const char *last_fn;    /* its name, or the driver check that failed */
    /* The private key handle found by the last sign, per CKA_ID. */
    bool key_cached;
    uint8_t key_type;
    unsigned long key;      /* CK_OBJECT_HANDLE */
    size_t key_id_len;
    uint8_t key_id[SIM_P11_ID_MAX];
} sim_p11;

/*
 * Loads the PKCS#11 library at `library_path` (dlopen), initialises it
 * (C_Initialize, without threads), finds the one slot whose initialised
 * token is labelled `token_label` (1..32 octets, compared with the label
 * padded with blanks) and opens a read/write session on it. Nobody is
 * logged in afterwards (unless another session of this process already
 * was, see PKCS#11's login state).
 * Errors: SELLO_ERR_PARAM for a NULL or empty argument or a label longer
 * than 32; SELLO_ERR_NOT_FOUND when the library cannot be loaded or has no
 * C_GetFunctionList, or no initialised token has that label;
 * SELLO_ERR_STATE when two tokens have it, or the token is write-protected;
 * otherwise the mapped CKR_ of the failed call. On any error nothing stays
 * open or loaded and *t is as after sim_p11_close.
 */
SELLO_MUST_CHECK sello_status sim_p11_open(sim_p11 *t,
                                           const char *library_path,
                                           const char *token_label);

/*
 * Logs out, closes the session, finalises the library if this handle
 * initialised it and unloads it. Safe on a zeroed, failed or closed
 * handle, and idempotent. Returns nothing because it is what error paths
 * call: it always releases everything; a PKCS#11 error on the way is kept
 * in last_rv/last_fn.
 */
void sim_p11_close(sim_p11 *t);

/*
 * The ceremony's take-over of the token: logs in as the security officer
 * with `so_pin` (printable, as set when the token was initialised), sets
 * the user PIN to the hex text of new_pin[0..len) with C_InitPIN, and logs
 * out again. Afterwards only whoever holds those octets (the module, which
 * keeps them wrapped under the quorum) can log in as the user. The token's
 * PIN length limits apply to the hex text (2 * len characters).
 * Errors: SELLO_ERR_PARAM for len 0 or above SIM_P11_PIN_MAX or outside the
 * token's limits; SELLO_ERR_CRYPTO for a wrong SO PIN; SELLO_ERR_STATE
 * when a user is logged in (log out first).
 */
SELLO_MUST_CHECK sello_status sim_p11_set_user_pin(sim_p11 *t,
                                                   const char *so_pin,
                                                   const uint8_t *new_pin,
                                                   size_t len);

/*
 * Closes the other door: as long as the operator knows the SO PIN, the SO
 * can C_InitPIN a user PIN of its own choice and then use the key without
 * the quorum. This logs in as SO with `so_pin`, replaces the SO PIN with
 * the hex text of new_pin[0..len) (C_SetPIN) and logs out. The module
 * chooses those octets at random and keeps them wrapped like the user PIN
 * (or forgets them, if re-initialising the token is never wanted).
 * Errors as sim_p11_set_user_pin.
 */
SELLO_MUST_CHECK sello_status sim_p11_set_so_pin(sim_p11 *t,
                                                 const char *so_pin,
                                                 const uint8_t *new_pin,
                                                 size_t len);

/*
 * The hand-back after the module's key was destroyed: logs in as SO with
 * the hex text of so_pin[0..len) (the module's SO PIN, set by
 * sim_p11_set_so_pin), sets the SO PIN to the printable `new_so_pin` (the
 * operator's) and logs out, so that a new ceremony can take the token over.
 * Errors as sim_p11_set_so_pin.
 */
SELLO_MUST_CHECK sello_status sim_p11_restore_so_pin(sim_p11 *t,
                                                     const uint8_t *so_pin,
                                                     size_t len,
                                                     const char *new_so_pin);

/*
 * Logs in as the user with the hex text of pin[0..len).
 * Errors: SELLO_ERR_PARAM for len 0 or above SIM_P11_PIN_MAX;
 * SELLO_ERR_CRYPTO for a wrong PIN; SELLO_ERR_STATE when already logged in
 * (as user or SO) or the PIN is locked or was never set.
 */
SELLO_MUST_CHECK sello_status sim_p11_login(sim_p11 *t, const uint8_t *pin,
                                            size_t len);

/* Logs the user out; succeeds when nobody was logged in. Forgets the
 * cached key handle. */
SELLO_MUST_CHECK sello_status sim_p11_logout(sim_p11 *t);

/*
 * Generates a key pair of `key_type` (SELLO_KEY_P256, _P384, _RSA2048,
 * _RSA3072, _RSA4096; RSA with public exponent 65537) in the token, both
 * objects token objects with CKA_ID id[0..id_len) and CKA_LABEL
 * "sello-tsu". Needs the user logged in.
 *
 * Private key: CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN true; CKA_EXTRACTABLE,
 * CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE, CKA_SIGN_RECOVER false; where the
 * token knows them (SoftHSMv2 does) also CKA_ALLOWED_MECHANISMS = the one
 * signing mechanism this driver uses, CKA_MODIFIABLE and CKA_COPYABLE
 * false (t->hardened tells whether they were accepted). Public key:
 * CKA_VERIFY true, CKA_ENCRYPT, CKA_WRAP false, not private.
 *
 * After generation the private key's attributes are read back; if the
 * token did not honour the template (in particular CKA_SENSITIVE and
 * CKA_ALWAYS_SENSITIVE true, CKA_EXTRACTABLE false, CKA_NEVER_EXTRACTABLE
 * true) both objects are destroyed and SELLO_ERR_CRYPTO is returned with
 * last_fn naming the attribute.
 *
 * On success spki[0..*spki_len) is the DER SubjectPublicKeyInfo, octet for
 * octet what firmware/engine_bearssl.c's sello_key_write_spki writes for the
 * same key: EC {id-ecPublicKey, namedCurve} and the uncompressed point; RSA
 * {rsaEncryption, NULL} and RSAPublicKey with minimal INTEGERs.
 * Errors: SELLO_ERR_PARAM for a bad type or id; SELLO_ERR_STATE when not
 * logged in or an object with that CKA_ID already exists; SELLO_ERR_SPACE
 * when cap is too small (the key is destroyed again; SIM_P11_SPKI_MAX is
 * always enough); SELLO_ERR_CRYPTO for a public key that is not what was
 * asked for (wrong size, point not on the curve); else the mapped CKR_.
 */
SELLO_MUST_CHECK sello_status sim_p11_generate(sim_p11 *t, uint8_t key_type,
                                               const uint8_t *id,
                                               size_t id_len, uint8_t *spki,
                                               size_t cap, size_t *spki_len);

/*
 * Signs digest[0..digest_len), made with hash `hash_id` (SELLO_HASH_SHA256,
 * _SHA384 or _SHA512; digest_len must be that hash's length), with the
 * private key whose CKA_ID is id[0..id_len) and whose type is `key_type`
 * (checked against the token's object: key type, curve or modulus size).
 * The key's handle is cached for the next call with the same id.
 *   EC:  CKM_ECDSA over the digest; the token's r||s is returned as the DER
 *        ECDSA-Sig-Value (what the bearssl engine returns).
 *   RSA: CKM_RSA_PKCS over the DER DigestInfo of the digest; the signature
 *        is returned as it is (modulus length).
 * Needs the user logged in.
 * Errors: SELLO_ERR_PARAM for a bad type, hash, digest length or id;
 * SELLO_ERR_STATE when not logged in; SELLO_ERR_NOT_FOUND when no private
 * key has that id (SELLO_ERR_STATE when several do, SELLO_ERR_CRYPTO when
 * it is not of key_type); SELLO_ERR_SPACE when cap is too small
 * (SIM_P11_SIG_MAX is always enough); else the mapped CKR_.
 */
SELLO_MUST_CHECK sello_status sim_p11_sign(sim_p11 *t, const uint8_t *id,
                                           size_t id_len, uint8_t key_type,
                                           int hash_id, const uint8_t *digest,
                                           size_t digest_len, uint8_t *sig,
                                           size_t cap, size_t *sig_len);

/*
 * Destroys every object whose CKA_ID is id[0..id_len) (the key pair, and
 * anything else filed under that id). Needs the user logged in, because a
 * private key is invisible otherwise and would survive unnoticed.
 * Errors: SELLO_ERR_STATE when not logged in; SELLO_ERR_NOT_FOUND when no
 * object had that id (a retried destruction may treat it as done); else the
 * mapped CKR_ of the first failed C_DestroyObject (the others are still
 * attempted).
 */
SELLO_MUST_CHECK sello_status sim_p11_destroy(sim_p11 *t, const uint8_t *id,
                                              size_t id_len);

/* For logs: the CKR_ value of the last failed PKCS#11 call (0, CKR_OK,
 * when a driver check failed or nothing has), the name of that function or
 * check ("C_Login", "CKA_EXTRACTABLE", ...; "" if none), and a CKR_ value's
 * symbolic name ("CKR_PIN_INCORRECT"; "CKR_VENDOR_DEFINED+" or "CKR_?" for
 * values it does not know: log the number too). */
unsigned long sim_p11_last_rv(const sim_p11 *t);
const char *sim_p11_last_fn(const sim_p11 *t);
const char *sim_p11_rv_name(unsigned long rv);

#endif
