/*
 * A PKCS#11 "library" for tests that forwards everything to a real one
 * (SoftHSMv2 unless $SELLO_P11_WEAK_TARGET names another) and misbehaves
 * on purpose in one way, chosen by $SELLO_P11_WEAK_MODE when it is called:
 *
 *   extractable    C_GenerateKeyPair makes the private key CKA_EXTRACTABLE
 *                  whatever the template asked (a token ignoring it)
 *   not-sensitive  ... and CKA_SENSITIVE false instead
 *   raw-ec-point   C_GetAttributeValue returns CKA_EC_POINT as the bare
 *                  point, not the DER OCTET STRING (as some tokens do)
 *   no-hardening   C_GenerateKeyPair refuses CKA_ALLOWED_MECHANISMS with
 *                  CKR_ATTRIBUTE_TYPE_INVALID (a token that predates it)
 *   (unset)        forwards everything unchanged
 *
 * Built as $(BUILD)/test/libsello_p11_weak.so beside test_p11_token;
 * never part of a product.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#define DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"

static void *target;
static CK_FUNCTION_LIST real;
static CK_FUNCTION_LIST weak;

static int mode_is(const char *m)
{
    const char *v = getenv("SELLO_P11_WEAK_MODE");
    return v && strcmp(v, m) == 0;
}

static CK_RV weak_generate_key_pair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                                    CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                                    CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
                                    CK_OBJECT_HANDLE_PTR hpub,
                                    CK_OBJECT_HANDLE_PTR hpriv)
{
    CK_ATTRIBUTE copy[64];
    if (npriv > 64)
        return CKR_ARGUMENTS_BAD;
    static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    for (CK_ULONG i = 0; i < npriv; i++) {
        copy[i] = priv[i];
        if (mode_is("no-hardening") && priv[i].type == CKA_ALLOWED_MECHANISMS)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        if (mode_is("extractable") && priv[i].type == CKA_EXTRACTABLE)
            copy[i].pValue = &yes;
        if (mode_is("not-sensitive") && priv[i].type == CKA_SENSITIVE)
            copy[i].pValue = &no;
    }
    return real.C_GenerateKeyPair(s, m, pub, npub, copy, npriv, hpub, hpriv);
}

static CK_RV weak_get_attribute_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                      CK_ATTRIBUTE_PTR a, CK_ULONG n)
{
    CK_RV rv = real.C_GetAttributeValue(s, o, a, n);
    if (!mode_is("raw-ec-point") || rv != CKR_OK)
        return rv;
    for (CK_ULONG i = 0; i < n; i++) {
        if (a[i].type != CKA_EC_POINT || a[i].ulValueLen < 3 ||
            a[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
            continue;
        if (a[i].pValue) {
            unsigned char *v = a[i].pValue;
            memmove(v, v + 2, a[i].ulValueLen - 2);
        }
        a[i].ulValueLen -= 2;
    }
    return rv;
}

__attribute__((destructor)) static void unload(void)
{
    if (target)
        dlclose(target);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (!list)
        return CKR_ARGUMENTS_BAD;
    if (!target) {
        const char *path = getenv("SELLO_P11_WEAK_TARGET");
        target = dlopen(path && *path ? path : DEFAULT_TARGET,
                        RTLD_NOW | RTLD_LOCAL);
        if (!target)
            return CKR_GENERAL_ERROR;
        CK_C_GetFunctionList get =
            (CK_C_GetFunctionList)dlsym(target, "C_GetFunctionList");
        CK_FUNCTION_LIST_PTR p = NULL;
        if (!get || get(&p) != CKR_OK || !p)
            return CKR_GENERAL_ERROR;
        real = *p;
        weak = real;
        weak.C_GenerateKeyPair = weak_generate_key_pair;
        weak.C_GetAttributeValue = weak_get_attribute_value;
    }
    *list = &weak;
    return CKR_OK;
}
