/*
 * The PKCS#11 token driver; contracts and the error mapping in p11_token.h.
 *
 * Built against the PKCS#11 header Debian ships with p11-kit
 * (<p11-kit/pkcs11.h>, `pkg-config --cflags p11-kit-1`), in its default
 * "compatibility" mode where the standard CK_ names are the ones in use.
 * The library itself is loaded at run time (dlopen), so sello-sim needs no
 * PKCS#11 library to link.
 */
#include "p11_token.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>
#include <p11-kit/pkcs11.h>
#include <sello/abi.h>

_Static_assert(sizeof(CK_ULONG) == sizeof(unsigned long),
               "PKCS#11 handles are kept as unsigned long");

#define KEY_LABEL "sello-tsu"

/* ---- errors -------------------------------------------------------------- */

#define CKR_NAMES(X)                                                           \
    X(CKR_OK) X(CKR_CANCEL) X(CKR_HOST_MEMORY) X(CKR_SLOT_ID_INVALID)          \
    X(CKR_GENERAL_ERROR) X(CKR_FUNCTION_FAILED) X(CKR_ARGUMENTS_BAD)           \
    X(CKR_CANT_LOCK) X(CKR_ATTRIBUTE_SENSITIVE) X(CKR_ATTRIBUTE_TYPE_INVALID)  \
    X(CKR_ATTRIBUTE_VALUE_INVALID) X(CKR_ACTION_PROHIBITED)                    \
    X(CKR_DATA_INVALID) X(CKR_DATA_LEN_RANGE) X(CKR_DEVICE_ERROR)              \
    X(CKR_DEVICE_MEMORY) X(CKR_DEVICE_REMOVED) X(CKR_FUNCTION_CANCELED)        \
    X(CKR_FUNCTION_NOT_SUPPORTED) X(CKR_KEY_HANDLE_INVALID)                    \
    X(CKR_KEY_SIZE_RANGE) X(CKR_KEY_TYPE_INCONSISTENT)                         \
    X(CKR_KEY_FUNCTION_NOT_PERMITTED) X(CKR_MECHANISM_INVALID)                 \
    X(CKR_MECHANISM_PARAM_INVALID) X(CKR_OBJECT_HANDLE_INVALID)                \
    X(CKR_OPERATION_ACTIVE) X(CKR_OPERATION_NOT_INITIALIZED)                   \
    X(CKR_PIN_INCORRECT) X(CKR_PIN_INVALID) X(CKR_PIN_LEN_RANGE)               \
    X(CKR_PIN_EXPIRED) X(CKR_PIN_LOCKED) X(CKR_SESSION_CLOSED)                 \
    X(CKR_SESSION_COUNT) X(CKR_SESSION_HANDLE_INVALID)                         \
    X(CKR_SESSION_READ_ONLY) X(CKR_SESSION_EXISTS)                             \
    X(CKR_SESSION_READ_ONLY_EXISTS) X(CKR_SESSION_READ_WRITE_SO_EXISTS)        \
    X(CKR_TEMPLATE_INCOMPLETE) X(CKR_TEMPLATE_INCONSISTENT)                    \
    X(CKR_TOKEN_NOT_PRESENT) X(CKR_TOKEN_NOT_RECOGNIZED)                       \
    X(CKR_TOKEN_WRITE_PROTECTED) X(CKR_USER_ALREADY_LOGGED_IN)                 \
    X(CKR_USER_NOT_LOGGED_IN) X(CKR_USER_PIN_NOT_INITIALIZED)                  \
    X(CKR_USER_TYPE_INVALID) X(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)             \
    X(CKR_USER_TOO_MANY_TYPES) X(CKR_DOMAIN_PARAMS_INVALID)                    \
    X(CKR_CURVE_NOT_SUPPORTED) X(CKR_BUFFER_TOO_SMALL)                         \
    X(CKR_RANDOM_SEED_NOT_SUPPORTED) X(CKR_RANDOM_NO_RNG)                      \
    X(CKR_CRYPTOKI_NOT_INITIALIZED) X(CKR_CRYPTOKI_ALREADY_INITIALIZED)

const char *sim_p11_rv_name(unsigned long rv)
{
    switch (rv) {
#define CKR_CASE(name) case name: return #name;
        CKR_NAMES(CKR_CASE)
#undef CKR_CASE
    default:
        return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED+" : "CKR_?";
    }
}

static sello_status map_rv(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return SELLO_OK;
    case CKR_ARGUMENTS_BAD:
    case CKR_SLOT_ID_INVALID:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_KEY_SIZE_RANGE:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_USER_TYPE_INVALID:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_CURVE_NOT_SUPPORTED:
        return SELLO_ERR_PARAM;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_EXPIRED:
        return SELLO_ERR_CRYPTO;
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_USER_ALREADY_LOGGED_IN:
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_USER_TOO_MANY_TYPES:
    case CKR_PIN_LOCKED:
    case CKR_OPERATION_ACTIVE:
    case CKR_OPERATION_NOT_INITIALIZED:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_READ_ONLY:
    case CKR_SESSION_READ_ONLY_EXISTS:
    case CKR_SESSION_READ_WRITE_SO_EXISTS:
    case CKR_SESSION_COUNT:
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_ACTION_PROHIBITED:
        return SELLO_ERR_STATE;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        return SELLO_ERR_NOT_FOUND;
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
        return SELLO_ERR_STORAGE;
    case CKR_BUFFER_TOO_SMALL:
        return SELLO_ERR_SPACE;
    case CKR_RANDOM_SEED_NOT_SUPPORTED:
    case CKR_RANDOM_NO_RNG:
        return SELLO_ERR_ENTROPY;
    default:
        return SELLO_ERR_CRYPTO;
    }
}

/* A PKCS#11 call failed. */
static sello_status fail(sim_p11 *t, const char *fn, CK_RV rv)
{
    t->last_fn = fn;
    t->last_rv = rv;
    return map_rv(rv);
}

/* A check of the driver's own failed. */
static sello_status refuse(sim_p11 *t, const char *what, sello_status st)
{
    t->last_fn = what;
    t->last_rv = CKR_OK;
    return st;
}

unsigned long sim_p11_last_rv(const sim_p11 *t)
{
    return t ? t->last_rv : CKR_OK;
}

const char *sim_p11_last_fn(const sim_p11 *t)
{
    return t && t->last_fn ? t->last_fn : "";
}

static CK_FUNCTION_LIST *fl(const sim_p11 *t)
{
    return (CK_FUNCTION_LIST *)t->fn;
}

/* ---- key types and hashes ------------------------------------------------ */

/* DER OIDs (with tag and length): namedCurve parameters, algorithms. */
static const uint8_t OID_P256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                    0x3d, 0x03, 0x01, 0x07 };
static const uint8_t OID_P384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t OID_EC_PUBLIC_KEY[] = { 0x06, 0x07, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x02, 0x01 };
static const uint8_t ALG_RSA[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                   0x0d, 0x01, 0x01, 0x01, 0x05, 0x00 };

typedef struct {
    uint8_t type;          /* SELLO_KEY_* */
    bool ec;
    CK_ULONG bits;         /* RSA modulus size; EC field size */
    const uint8_t *params; /* EC: CKA_EC_PARAMS */
    size_t params_len;
    int curve;             /* EC: BearSSL curve id */
} key_spec;

static const key_spec KEY_SPECS[] = {
    { SELLO_KEY_P256, true, 256, OID_P256, sizeof OID_P256, BR_EC_secp256r1 },
    { SELLO_KEY_P384, true, 384, OID_P384, sizeof OID_P384, BR_EC_secp384r1 },
    { SELLO_KEY_RSA2048, false, 2048, NULL, 0, 0 },
    { SELLO_KEY_RSA3072, false, 3072, NULL, 0, 0 },
    { SELLO_KEY_RSA4096, false, 4096, NULL, 0, 0 },
};

static const key_spec *spec_of(uint8_t type)
{
    for (size_t i = 0; i < sizeof KEY_SPECS / sizeof KEY_SPECS[0]; i++)
        if (KEY_SPECS[i].type == type)
            return &KEY_SPECS[i];
    return NULL;
}

/* Octets of one coordinate (EC) or of the modulus (RSA). */
static size_t spec_octets(const key_spec *s)
{
    return (size_t)(s->bits + 7) / 8;
}

/* DER DigestInfo up to the digest octets (RFC 8017, 9.2 note 1). */
typedef struct {
    int id;
    size_t len;
    uint8_t prefix[19];
} hash_spec;

static const hash_spec HASH_SPECS[] = {
    { SELLO_HASH_SHA256, 32,
      { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
        0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 } },
    { SELLO_HASH_SHA384, 48,
      { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
        0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 } },
    { SELLO_HASH_SHA512, 64,
      { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
        0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 } },
};

static const hash_spec *hash_of(int id)
{
    for (size_t i = 0; i < sizeof HASH_SPECS / sizeof HASH_SPECS[0]; i++)
        if (HASH_SPECS[i].id == id)
            return &HASH_SPECS[i];
    return NULL;
}

/* ---- DER output (written back to front) ---------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t pos; /* first written octet; output ends at the buffer's end */
    bool overflow;
} derw;

static void w_raw(derw *w, const void *p, size_t n)
{
    if (w->overflow || n > w->pos) {
        w->overflow = true;
        return;
    }
    w->pos -= n;
    memcpy(w->buf + w->pos, p, n);
}

static void w_byte(derw *w, uint8_t b)
{
    w_raw(w, &b, 1);
}

/* Prepends tag and length around the octets written since `mark`. */
static void w_wrap(derw *w, size_t mark, uint8_t tag)
{
    size_t len = mark - w->pos;
    if (len < 0x80) {
        w_byte(w, (uint8_t)len);
    } else {
        uint8_t n = 0;
        for (; len; len >>= 8, n++)
            w_byte(w, (uint8_t)len);
        w_byte(w, (uint8_t)(0x80 | n));
    }
    w_byte(w, tag);
}

/* An unsigned big-endian magnitude as a minimal INTEGER. */
static void w_uint(derw *w, const uint8_t *mag, size_t len)
{
    while (len > 1 && mag[0] == 0) {
        mag++;
        len--;
    }
    size_t mark = w->pos;
    w_raw(w, mag, len);
    if (len == 0 || mag[0] & 0x80)
        w_byte(w, 0);
    w_wrap(w, mark, 0x02);
}

/* ---- open and close ------------------------------------------------------ */

/* CK_TOKEN_INFO.label: blank padded (some tokens pad with NULs). */
static bool label_is(const CK_UTF8CHAR label[32], const char *want, size_t n)
{
    if (memcmp(label, want, n) != 0)
        return false;
    for (size_t i = n; i < 32; i++)
        if (label[i] != ' ' && label[i] != 0)
            return false;
    return true;
}

static sello_status find_slot(sim_p11 *t, const char *label, size_t label_len)
{
    CK_FUNCTION_LIST *f = fl(t);
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_RV rv;
    /* The list may grow between the two calls; try a few times. */
    for (int tries = 0; tries < 4; tries++) {
        rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
        if (rv != CKR_OK)
            break;
        free(slots);
        slots = calloc(n ? n : 1, sizeof *slots);
        if (!slots)
            return refuse(t, "calloc", SELLO_ERR_STORAGE);
        rv = f->C_GetSlotList(CK_TRUE, slots, &n);
        if (rv != CKR_BUFFER_TOO_SMALL)
            break;
    }
    if (rv != CKR_OK) {
        free(slots);
        return fail(t, "C_GetSlotList", rv);
    }
    size_t matches = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        rv = f->C_GetTokenInfo(slots[i], &info);
        if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED)
            continue;
        if (rv != CKR_OK) {
            free(slots);
            return fail(t, "C_GetTokenInfo", rv);
        }
        if (!(info.flags & CKF_TOKEN_INITIALIZED) ||
            !label_is(info.label, label, label_len))
            continue;
        if (info.flags & CKF_WRITE_PROTECTED) {
            free(slots);
            return refuse(t, "CKF_WRITE_PROTECTED", SELLO_ERR_STATE);
        }
        t->slot = slots[i];
        matches++;
    }
    free(slots);
    if (matches == 0)
        return refuse(t, "token label", SELLO_ERR_NOT_FOUND);
    if (matches > 1)
        return refuse(t, "token label not unique", SELLO_ERR_STATE);
    return SELLO_OK;
}

sello_status sim_p11_open(sim_p11 *t, const char *library_path,
                          const char *token_label)
{
    if (!t)
        return SELLO_ERR_PARAM;
    memset(t, 0, sizeof *t);
    t->last_fn = "";
    size_t label_len = token_label ? strlen(token_label) : 0;
    if (!library_path || !*library_path || label_len == 0 ||
        label_len > SIM_P11_LABEL_MAX)
        return refuse(t, "arguments", SELLO_ERR_PARAM);

    t->lib = dlopen(library_path, RTLD_NOW | RTLD_LOCAL);
    if (!t->lib)
        return refuse(t, "dlopen", SELLO_ERR_NOT_FOUND);
    CK_C_GetFunctionList get =
        (CK_C_GetFunctionList)dlsym(t->lib, "C_GetFunctionList");
    if (!get) {
        sim_p11_close(t);
        return refuse(t, "dlsym C_GetFunctionList", SELLO_ERR_NOT_FOUND);
    }
    CK_FUNCTION_LIST *f = NULL;
    CK_RV rv = get(&f);
    if (rv != CKR_OK || !f || f->version.major != 2) {
        sim_p11_close(t);
        return rv != CKR_OK ? fail(t, "C_GetFunctionList", rv)
                            : refuse(t, "PKCS#11 version", SELLO_ERR_NOT_FOUND);
    }
    t->fn = f;

    rv = f->C_Initialize(NULL);
    if (rv == CKR_OK) {
        t->finalize = true;
    } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        sello_status st = fail(t, "C_Initialize", rv);
        sim_p11_close(t);
        return st;
    }

    sello_status st = find_slot(t, token_label, label_len);
    if (st == SELLO_OK) {
        rv = f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                              NULL, NULL, &t->session);
        if (rv == CKR_OK)
            t->open = true;
        else
            st = fail(t, "C_OpenSession", rv);
    }
    if (st != SELLO_OK)
        sim_p11_close(t);
    return st;
}

void sim_p11_close(sim_p11 *t)
{
    if (!t)
        return;
    CK_FUNCTION_LIST *f = fl(t);
    unsigned long last_rv = t->last_rv;
    const char *last_fn = t->last_fn;
    CK_RV rv;
    if (f && t->open) {
        if (t->logged_in && (rv = f->C_Logout(t->session)) != CKR_OK) {
            last_rv = rv;
            last_fn = "C_Logout";
        }
        if ((rv = f->C_CloseSession(t->session)) != CKR_OK) {
            last_rv = rv;
            last_fn = "C_CloseSession";
        }
    }
    if (f && t->finalize && (rv = f->C_Finalize(NULL)) != CKR_OK) {
        last_rv = rv;
        last_fn = "C_Finalize";
    }
    if (t->lib)
        dlclose(t->lib);
    memset(t, 0, sizeof *t);
    t->last_rv = last_rv;
    t->last_fn = last_fn;
}

/* ---- PINs ---------------------------------------------------------------- */

/* The PKCS#11 PIN of module-chosen octets: lowercase hex (p11_token.h). */
static void pin_text(const uint8_t *pin, size_t len, CK_UTF8CHAR *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = (CK_UTF8CHAR)digits[pin[i] >> 4];
        out[2 * i + 1] = (CK_UTF8CHAR)digits[pin[i] & 15];
    }
}

static bool pin_args_ok(const uint8_t *pin, size_t len)
{
    return pin && len > 0 && len <= SIM_P11_PIN_MAX;
}

/* As SO: C_InitPIN (the user's) or C_SetPIN (the SO's own). */
static sello_status so_change(sim_p11 *t, const char *so_pin,
                              const uint8_t *pin, size_t len, bool set_so)
{
    if (!t)
        return SELLO_ERR_PARAM;
    if (!t->open)
        return refuse(t, "not open", SELLO_ERR_STATE);
    if (!so_pin || !*so_pin || !pin_args_ok(pin, len))
        return refuse(t, "arguments", SELLO_ERR_PARAM);
    if (t->logged_in)
        return refuse(t, "user logged in", SELLO_ERR_STATE);
    CK_FUNCTION_LIST *f = fl(t);
    CK_TOKEN_INFO info;
    CK_RV rv = f->C_GetTokenInfo(t->slot, &info);
    if (rv != CKR_OK)
        return fail(t, "C_GetTokenInfo", rv);
    if (2 * len < info.ulMinPinLen ||
        (info.ulMaxPinLen != 0 && 2 * len > info.ulMaxPinLen))
        return refuse(t, "token PIN length", SELLO_ERR_PARAM);

    CK_UTF8CHAR text[2 * SIM_P11_PIN_MAX];
    pin_text(pin, len, text);
    CK_UTF8CHAR *so = (CK_UTF8CHAR *)so_pin;
    CK_ULONG so_len = strlen(so_pin);
    rv = f->C_Login(t->session, CKU_SO, so, so_len);
    if (rv != CKR_OK) {
        explicit_bzero(text, sizeof text);
        return fail(t, "C_Login(SO)", rv);
    }
    const char *fn = set_so ? "C_SetPIN" : "C_InitPIN";
    rv = set_so ? f->C_SetPIN(t->session, so, so_len, text, 2 * len)
                : f->C_InitPIN(t->session, text, 2 * len);
    explicit_bzero(text, sizeof text);
    CK_RV out = f->C_Logout(t->session);
    if (rv != CKR_OK)
        return fail(t, fn, rv);
    if (out != CKR_OK)
        return fail(t, "C_Logout(SO)", out);
    return SELLO_OK;
}

sello_status sim_p11_set_user_pin(sim_p11 *t, const char *so_pin,
                                  const uint8_t *new_pin, size_t len)
{
    return so_change(t, so_pin, new_pin, len, false);
}

sello_status sim_p11_set_so_pin(sim_p11 *t, const char *so_pin,
                                const uint8_t *new_pin, size_t len)
{
    return so_change(t, so_pin, new_pin, len, true);
}

sello_status sim_p11_restore_so_pin(sim_p11 *t, const uint8_t *so_pin,
                                    size_t len, const char *new_so_pin)
{
    if (!t)
        return SELLO_ERR_PARAM;
    if (!t->open)
        return refuse(t, "not open", SELLO_ERR_STATE);
    if (!new_so_pin || !*new_so_pin || !pin_args_ok(so_pin, len))
        return refuse(t, "arguments", SELLO_ERR_PARAM);
    if (t->logged_in)
        return refuse(t, "user logged in", SELLO_ERR_STATE);
    CK_FUNCTION_LIST *f = fl(t);
    CK_UTF8CHAR text[2 * SIM_P11_PIN_MAX];
    pin_text(so_pin, len, text);
    CK_UTF8CHAR *next = (CK_UTF8CHAR *)new_so_pin;
    CK_ULONG next_len = strlen(new_so_pin);
    CK_RV rv = f->C_Login(t->session, CKU_SO, text, 2 * len);
    if (rv != CKR_OK) {
        explicit_bzero(text, sizeof text);
        return fail(t, "C_Login(SO)", rv);
    }
    rv = f->C_SetPIN(t->session, text, 2 * len, next, next_len);
    explicit_bzero(text, sizeof text);
    CK_RV out = f->C_Logout(t->session);
    if (rv != CKR_OK)
        return fail(t, "C_SetPIN", rv);
    if (out != CKR_OK)
        return fail(t, "C_Logout(SO)", out);
    return SELLO_OK;
}

static void forget_key(sim_p11 *t)
{
    t->key_cached = false;
    t->key = CK_INVALID_HANDLE;
    t->key_id_len = 0;
}

sello_status sim_p11_login(sim_p11 *t, const uint8_t *pin, size_t len)
{
    if (!t)
        return SELLO_ERR_PARAM;
    if (!t->open)
        return refuse(t, "not open", SELLO_ERR_STATE);
    if (!pin_args_ok(pin, len))
        return refuse(t, "arguments", SELLO_ERR_PARAM);
    if (t->logged_in)
        return refuse(t, "already logged in", SELLO_ERR_STATE);
    CK_UTF8CHAR text[2 * SIM_P11_PIN_MAX];
    pin_text(pin, len, text);
    CK_RV rv = fl(t)->C_Login(t->session, CKU_USER, text, 2 * len);
    explicit_bzero(text, sizeof text);
    /* CKR_USER_ALREADY_LOGGED_IN is a failure here: the PIN was not
     * checked, so it must not pass for a correct one. */
    if (rv != CKR_OK)
        return fail(t, "C_Login", rv);
    forget_key(t);
    t->logged_in = true;
    return SELLO_OK;
}

sello_status sim_p11_logout(sim_p11 *t)
{
    if (!t)
        return SELLO_ERR_PARAM;
    forget_key(t);
    if (!t->open)
        return SELLO_OK;
    t->logged_in = false;
    CK_RV rv = fl(t)->C_Logout(t->session);
    if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
        return fail(t, "C_Logout", rv);
    return SELLO_OK;
}

/* ---- objects ------------------------------------------------------------- */

/* Finds up to `cap` objects with CKA_ID = id and, if cls is not NULL, of
 * that class. */
static sello_status find_by_id(sim_p11 *t, const uint8_t *id, size_t id_len,
                               const CK_OBJECT_CLASS *cls,
                               CK_OBJECT_HANDLE *out, CK_ULONG cap,
                               CK_ULONG *n)
{
    CK_FUNCTION_LIST *f = fl(t);
    CK_ATTRIBUTE tmpl[] = {
        { CKA_ID, (void *)id, id_len },
        { CKA_CLASS, (void *)cls, sizeof *cls },
    };
    CK_RV rv = f->C_FindObjectsInit(t->session, tmpl, cls ? 2 : 1);
    if (rv != CKR_OK)
        return fail(t, "C_FindObjectsInit", rv);
    *n = 0;
    while (*n < cap) {
        CK_ULONG got = 0;
        rv = f->C_FindObjects(t->session, out + *n, cap - *n, &got);
        if (rv != CKR_OK || got == 0)
            break;
        *n += got;
    }
    CK_RV fin = f->C_FindObjectsFinal(t->session);
    if (rv != CKR_OK)
        return fail(t, "C_FindObjects", rv);
    if (fin != CKR_OK)
        return fail(t, "C_FindObjectsFinal", fin);
    return SELLO_OK;
}

static bool id_args_ok(const uint8_t *id, size_t id_len)
{
    return id && id_len > 0 && id_len <= SIM_P11_ID_MAX;
}

/* Destroys a pair made by sim_p11_generate that is being refused; the
 * reason already is in last_rv/last_fn and stays there. */
static void discard_pair(sim_p11 *t, CK_OBJECT_HANDLE pub,
                         CK_OBJECT_HANDLE priv)
{
    fl(t)->C_DestroyObject(t->session, priv);
    fl(t)->C_DestroyObject(t->session, pub);
}

/* Reads a boolean attribute set; true when every one has its value. */
typedef struct {
    CK_ATTRIBUTE_TYPE type;
    CK_BBOOL want;
    const char *name;
} bool_attr;

static const bool_attr PRIVATE_MUST[] = {
    { CKA_TOKEN, CK_TRUE, "CKA_TOKEN" },
    { CKA_PRIVATE, CK_TRUE, "CKA_PRIVATE" },
    { CKA_SENSITIVE, CK_TRUE, "CKA_SENSITIVE" },
    { CKA_ALWAYS_SENSITIVE, CK_TRUE, "CKA_ALWAYS_SENSITIVE" },
    { CKA_EXTRACTABLE, CK_FALSE, "CKA_EXTRACTABLE" },
    { CKA_NEVER_EXTRACTABLE, CK_TRUE, "CKA_NEVER_EXTRACTABLE" },
    { CKA_LOCAL, CK_TRUE, "CKA_LOCAL" },
    { CKA_SIGN, CK_TRUE, "CKA_SIGN" },
    { CKA_SIGN_RECOVER, CK_FALSE, "CKA_SIGN_RECOVER" },
    { CKA_DECRYPT, CK_FALSE, "CKA_DECRYPT" },
    { CKA_UNWRAP, CK_FALSE, "CKA_UNWRAP" },
    { CKA_DERIVE, CK_FALSE, "CKA_DERIVE" },
};
#define N_PRIVATE_MUST (sizeof PRIVATE_MUST / sizeof PRIVATE_MUST[0])

static sello_status check_private(sim_p11 *t, CK_OBJECT_HANDLE priv)
{
    CK_BBOOL got[N_PRIVATE_MUST];
    CK_ATTRIBUTE tmpl[N_PRIVATE_MUST];
    for (size_t i = 0; i < N_PRIVATE_MUST; i++) {
        got[i] = 0xff;
        tmpl[i] = (CK_ATTRIBUTE){ PRIVATE_MUST[i].type, &got[i], 1 };
    }
    CK_RV rv = fl(t)->C_GetAttributeValue(t->session, priv, tmpl,
                                          N_PRIVATE_MUST);
    if (rv != CKR_OK)
        return fail(t, "C_GetAttributeValue(private key)", rv);
    for (size_t i = 0; i < N_PRIVATE_MUST; i++) {
        /* CK_BBOOL: any non-zero octet is true. */
        bool value = got[i] != CK_FALSE;
        if (tmpl[i].ulValueLen != 1 || value != (PRIVATE_MUST[i].want != 0))
            return refuse(t, PRIVATE_MUST[i].name, SELLO_ERR_CRYPTO);
    }
    return SELLO_OK;
}

/* The uncompressed point out of CKA_EC_POINT: PKCS#11 says DER OCTET
 * STRING (SoftHSMv2 does that); some tokens give the bare point. */
static sello_status ec_point(sim_p11 *t, const key_spec *s,
                             CK_OBJECT_HANDLE pub, uint8_t *q, size_t *qlen)
{
    uint8_t v[2 + 1 + 2 * 66];
    CK_ATTRIBUTE a = { CKA_EC_POINT, v, sizeof v };
    CK_RV rv = fl(t)->C_GetAttributeValue(t->session, pub, &a, 1);
    if (rv != CKR_OK)
        return fail(t, "C_GetAttributeValue(CKA_EC_POINT)", rv);
    size_t want = 1 + 2 * spec_octets(s); /* < 128 for P-256 and P-384 */
    const uint8_t *p;
    if (a.ulValueLen == want + 2 && v[0] == 0x04 && v[1] == want)
        p = v + 2;
    else if (a.ulValueLen == want)
        p = v;
    else
        return refuse(t, "CKA_EC_POINT length", SELLO_ERR_CRYPTO);
    if (p[0] != 0x04)
        return refuse(t, "CKA_EC_POINT not uncompressed", SELLO_ERR_CRYPTO);
    /* On the curve: BearSSL refuses to multiply a point that is not. */
    uint8_t check[1 + 2 * 66];
    memcpy(check, p, want);
    static const uint8_t one[1] = { 1 };
    if (!br_ec_get_default()->mul(check, want, one, 1, s->curve) ||
        memcmp(check, p, want) != 0)
        return refuse(t, "CKA_EC_POINT not on the curve", SELLO_ERR_CRYPTO);
    memcpy(q, p, want);
    *qlen = want;
    return SELLO_OK;
}

static sello_status write_spki(sim_p11 *t, const key_spec *s,
                               CK_OBJECT_HANDLE pub, uint8_t *out, size_t cap,
                               size_t *out_len)
{
    uint8_t buf[SIM_P11_SPKI_MAX];
    derw w = { buf, sizeof buf, false };
    size_t spki = w.pos;
    if (s->ec) {
        uint8_t q[1 + 2 * 66];
        size_t qlen = 0;
        SELLO_TRY(ec_point(t, s, pub, q, &qlen));
        w_raw(&w, q, qlen);
        w_byte(&w, 0); /* no unused bits */
        w_wrap(&w, spki, 0x03);
        size_t alg = w.pos;
        w_raw(&w, s->params, s->params_len);
        w_raw(&w, OID_EC_PUBLIC_KEY, sizeof OID_EC_PUBLIC_KEY);
        w_wrap(&w, alg, 0x30);
    } else {
        uint8_t n[SIM_P11_SIG_MAX + 1], e[8];
        CK_ATTRIBUTE a[] = {
            { CKA_MODULUS, n, sizeof n },
            { CKA_PUBLIC_EXPONENT, e, sizeof e },
        };
        CK_RV rv = fl(t)->C_GetAttributeValue(t->session, pub, a, 2);
        if (rv != CKR_OK)
            return fail(t, "C_GetAttributeValue(CKA_MODULUS)", rv);
        const uint8_t *np = n, *ep = e;
        size_t nlen = a[0].ulValueLen, elen = a[1].ulValueLen;
        for (; nlen > 0 && np[0] == 0; np++, nlen--) {}
        for (; elen > 0 && ep[0] == 0; ep++, elen--) {}
        if (nlen != spec_octets(s) || !(np[0] & 0x80))
            return refuse(t, "CKA_MODULUS size", SELLO_ERR_CRYPTO);
        if (elen != 3 || ep[0] != 1 || ep[1] != 0 || ep[2] != 1)
            return refuse(t, "CKA_PUBLIC_EXPONENT", SELLO_ERR_CRYPTO);
        size_t key = w.pos;
        w_uint(&w, ep, elen);
        w_uint(&w, np, nlen);
        w_wrap(&w, key, 0x30);
        w_byte(&w, 0); /* no unused bits */
        w_wrap(&w, key, 0x03);
        size_t alg = w.pos;
        w_raw(&w, ALG_RSA, sizeof ALG_RSA);
        w_wrap(&w, alg, 0x30);
    }
    w_wrap(&w, spki, 0x30);
    if (w.overflow)
        return refuse(t, "SubjectPublicKeyInfo size", SELLO_ERR_SPACE);
    size_t len = sizeof buf - w.pos;
    if (len > cap)
        return refuse(t, "SubjectPublicKeyInfo output", SELLO_ERR_SPACE);
    memcpy(out, buf + w.pos, len);
    *out_len = len;
    return SELLO_OK;
}

sello_status sim_p11_generate(sim_p11 *t, uint8_t key_type,
                              const uint8_t *id, size_t id_len, uint8_t *spki,
                              size_t cap, size_t *spki_len)
{
    if (!t)
        return SELLO_ERR_PARAM;
    if (!t->open)
        return refuse(t, "not open", SELLO_ERR_STATE);
    const key_spec *s = spec_of(key_type);
    if (!s || !id_args_ok(id, id_len) || !spki || !spki_len)
        return refuse(t, "arguments", SELLO_ERR_PARAM);
    if (!t->logged_in)
        return refuse(t, "not logged in", SELLO_ERR_STATE);
    CK_OBJECT_HANDLE existing;
    CK_ULONG n = 0;
    SELLO_TRY(find_by_id(t, id, id_len, NULL, &existing, 1, &n));
    if (n != 0)
        return refuse(t, "CKA_ID in use", SELLO_ERR_STATE);

    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = s->ec ? CKK_EC : CKK_RSA;
    CK_ULONG bits = s->bits;
    CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
    CK_MECHANISM_TYPE allowed = s->ec ? CKM_ECDSA : CKM_RSA_PKCS;
    char label[] = KEY_LABEL;
    CK_ATTRIBUTE pub[14] = {
        { CKA_CLASS, &pub_class, sizeof pub_class },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &yes, 1 },
        { CKA_PRIVATE, &no, 1 },
        { CKA_VERIFY, &yes, 1 },
        { CKA_VERIFY_RECOVER, &no, 1 },
        { CKA_ENCRYPT, &no, 1 },
        { CKA_WRAP, &no, 1 },
        { CKA_DERIVE, &no, 1 },
        { CKA_ID, (void *)id, id_len },
        { CKA_LABEL, label, sizeof label - 1 },
    };
    CK_ULONG pub_n = 11;
    if (s->ec) {
        pub[pub_n++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)s->params,
                                       s->params_len };
    } else {
        pub[pub_n++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof bits };
        pub[pub_n++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, exponent,
                                       sizeof exponent };
    }
    CK_ATTRIBUTE priv[] = {
        { CKA_CLASS, &priv_class, sizeof priv_class },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &yes, 1 },
        { CKA_PRIVATE, &yes, 1 },
        { CKA_SENSITIVE, &yes, 1 },
        { CKA_EXTRACTABLE, &no, 1 },
        { CKA_SIGN, &yes, 1 },
        { CKA_SIGN_RECOVER, &no, 1 },
        { CKA_DECRYPT, &no, 1 },
        { CKA_UNWRAP, &no, 1 },
        { CKA_DERIVE, &no, 1 },
        { CKA_ID, (void *)id, id_len },
        { CKA_LABEL, label, sizeof label - 1 },
        /* Hardening, the last three: dropped for a token that does not
         * know them (CKR_ATTRIBUTE_TYPE_INVALID). */
        { CKA_ALLOWED_MECHANISMS, &allowed, sizeof allowed },
        { CKA_MODIFIABLE, &no, 1 },
        { CKA_COPYABLE, &no, 1 },
    };
    CK_ULONG priv_n = sizeof priv / sizeof priv[0];
    CK_MECHANISM mech = { s->ec ? CKM_EC_KEY_PAIR_GEN
                                : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    CK_FUNCTION_LIST *f = fl(t);
    t->hardened = true;
    CK_RV rv = f->C_GenerateKeyPair(t->session, &mech, pub, pub_n, priv,
                                    priv_n, &hpub, &hpriv);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
        t->hardened = false;
        rv = f->C_GenerateKeyPair(t->session, &mech, pub, pub_n, priv,
                                  priv_n - 3, &hpub, &hpriv);
    }
    if (rv != CKR_OK) {
        t->hardened = false;
        return fail(t, "C_GenerateKeyPair", rv);
    }
    sello_status st = check_private(t, hpriv);
    if (st == SELLO_OK)
        st = write_spki(t, s, hpub, spki, cap, spki_len);
    if (st != SELLO_OK)
        discard_pair(t, hpub, hpriv);
    return st;
}

/* The private key with this id, checked to be of key type s; cached. */
static sello_status private_key(sim_p11 *t, const key_spec *s,
                                const uint8_t *id, size_t id_len,
                                CK_OBJECT_HANDLE *out)
{
    if (t->key_cached && t->key_type == s->type && t->key_id_len == id_len &&
        memcmp(t->key_id, id, id_len) == 0) {
        *out = t->key;
        return SELLO_OK;
    }
    forget_key(t);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    SELLO_TRY(find_by_id(t, id, id_len, &cls, found, 2, &n));
    if (n == 0)
        return refuse(t, "no private key with that CKA_ID", SELLO_ERR_NOT_FOUND);
    if (n > 1)
        return refuse(t, "several private keys with that CKA_ID",
                      SELLO_ERR_STATE);
    CK_KEY_TYPE kt = CKK_VENDOR_DEFINED;
    CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof kt };
    CK_RV rv = fl(t)->C_GetAttributeValue(t->session, found[0], &a, 1);
    if (rv != CKR_OK)
        return fail(t, "C_GetAttributeValue(CKA_KEY_TYPE)", rv);
    if (kt != (s->ec ? CKK_EC : CKK_RSA))
        return refuse(t, "CKA_KEY_TYPE", SELLO_ERR_CRYPTO);
    /* EC: the curve. RSA: the modulus length (asked with a NULL buffer;
     * some tokens keep a leading zero octet). */
    uint8_t params[16];
    a = (CK_ATTRIBUTE){ s->ec ? CKA_EC_PARAMS : CKA_MODULUS,
                        s->ec ? params : NULL, s->ec ? sizeof params : 0 };
    rv = fl(t)->C_GetAttributeValue(t->session, found[0], &a, 1);
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
        return fail(t, s->ec ? "C_GetAttributeValue(CKA_EC_PARAMS)"
                             : "C_GetAttributeValue(CKA_MODULUS)", rv);
    if (s->ec ? rv != CKR_OK || a.ulValueLen != s->params_len ||
                    memcmp(params, s->params, s->params_len) != 0
              : a.ulValueLen != spec_octets(s) &&
                    a.ulValueLen != spec_octets(s) + 1)
        return refuse(t, s->ec ? "CKA_EC_PARAMS" : "CKA_MODULUS size",
                      SELLO_ERR_CRYPTO);
    t->key_cached = true;
    t->key_type = s->type;
    t->key = found[0];
    memcpy(t->key_id, id, id_len);
    t->key_id_len = id_len;
    *out = found[0];
    return SELLO_OK;
}

sello_status sim_p11_sign(sim_p11 *t, const uint8_t *id, size_t id_len,
                          uint8_t key_type, int hash_id, const uint8_t *digest,
                          size_t digest_len, uint8_t *sig, size_t cap,
                          size_t *sig_len)
{
    if (!t)
        return SELLO_ERR_PARAM;
    if (!t->open)
        return refuse(t, "not open", SELLO_ERR_STATE);
    const key_spec *s = spec_of(key_type);
    const hash_spec *h = hash_of(hash_id);
    if (!s || !h || !id_args_ok(id, id_len) || !digest ||
        digest_len != h->len || !sig || !sig_len)
        return refuse(t, "arguments", SELLO_ERR_PARAM);
    if (!t->logged_in)
        return refuse(t, "not logged in", SELLO_ERR_STATE);
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    SELLO_TRY(private_key(t, s, id, id_len, &key));

    uint8_t data[sizeof h->prefix + 64];
    size_t data_len = 0;
    if (!s->ec) {
        memcpy(data, h->prefix, sizeof h->prefix);
        data_len = sizeof h->prefix;
    }
    memcpy(data + data_len, digest, digest_len);
    data_len += digest_len;

    CK_FUNCTION_LIST *f = fl(t);
    CK_MECHANISM mech = { s->ec ? CKM_ECDSA : CKM_RSA_PKCS, NULL, 0 };
    CK_RV rv = f->C_SignInit(t->session, &mech, key);
    if (rv != CKR_OK) {
        forget_key(t); /* the handle may be stale: look it up next time */
        return fail(t, "C_SignInit", rv);
    }
    /* Always room for the largest signature, so C_Sign cannot stop at
     * CKR_BUFFER_TOO_SMALL and leave the operation active. */
    uint8_t out[SIM_P11_SIG_MAX + 16];
    CK_ULONG out_len = sizeof out;
    rv = f->C_Sign(t->session, data, data_len, out, &out_len);
    if (rv != CKR_OK)
        return fail(t, "C_Sign", rv);
    size_t n = out_len;
    if (s->ec) {
        /* r||s, each the size of the group order, to ECDSA-Sig-Value. */
        if (n != 2 * spec_octets(s))
            return refuse(t, "ECDSA signature length", SELLO_ERR_CRYPTO);
        n = br_ecdsa_raw_to_asn1(out, n);
        if (n == 0)
            return refuse(t, "ECDSA signature", SELLO_ERR_CRYPTO);
    } else if (n != spec_octets(s)) {
        return refuse(t, "RSA signature length", SELLO_ERR_CRYPTO);
    }
    if (n > cap)
        return refuse(t, "signature output", SELLO_ERR_SPACE);
    memcpy(sig, out, n);
    *sig_len = n;
    return SELLO_OK;
}

sello_status sim_p11_destroy(sim_p11 *t, const uint8_t *id, size_t id_len)
{
    if (!t)
        return SELLO_ERR_PARAM;
    if (!t->open)
        return refuse(t, "not open", SELLO_ERR_STATE);
    if (!id_args_ok(id, id_len))
        return refuse(t, "arguments", SELLO_ERR_PARAM);
    if (!t->logged_in)
        return refuse(t, "not logged in", SELLO_ERR_STATE);
    if (t->key_id_len == id_len && memcmp(t->key_id, id, id_len) == 0)
        forget_key(t);
    sello_status st = SELLO_OK;
    size_t destroyed = 0;
    /* In rounds: objects cannot be destroyed while a search is active. */
    for (int round = 0; round < 16 && st == SELLO_OK; round++) {
        CK_OBJECT_HANDLE found[16];
        CK_ULONG n = 0;
        SELLO_TRY(find_by_id(t, id, id_len, NULL, found, 16, &n));
        if (n == 0)
            break;
        for (CK_ULONG i = 0; i < n; i++) {
            CK_RV rv = fl(t)->C_DestroyObject(t->session, found[i]);
            if (rv == CKR_OK)
                destroyed++;
            else if (st == SELLO_OK)
                st = fail(t, "C_DestroyObject", rv);
        }
    }
    if (st == SELLO_OK && destroyed == 0)
        return refuse(t, "no object with that CKA_ID", SELLO_ERR_NOT_FOUND);
    return st;
}
