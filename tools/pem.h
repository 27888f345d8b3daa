/*
 * PEM <-> DER for the command line: certificates and requests arrive as
 * either, the module only speaks DER. Decoding uses BearSSL's
 * br_pem_decoder; encoding br_pem_encode.
 */
#ifndef SELLO_TOOLS_PEM_H
#define SELLO_TOOLS_PEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One DER object taken from a file. */
typedef struct {
    uint8_t *der;
    size_t len;
} pem_object;

/* A list of objects; free with pem_list_free. */
typedef struct {
    pem_object *items;
    size_t count;
} pem_list;

/*
 * Loads every object labelled `label` ("CERTIFICATE") from the file at
 * `path`. A file whose first octet is 0x30 is taken as one DER object
 * instead, which must be a single well-formed DER element with nothing
 * after it. Returns false after printing why, including when no object
 * was found or a PEM object is damaged.
 */
bool pem_load(const char *path, const char *label, pem_list *out);

/* Like pem_load, but exactly one object must be found. */
bool pem_load_one(const char *path, const char *label, pem_object *out);

void pem_list_free(pem_list *l);

/*
 * Returns a malloc'd, NUL-terminated PEM rendering of der[0..len) with
 * the given label (64-column lines), or NULL when out of memory.
 */
char *pem_encode(const uint8_t *der, size_t len, const char *label);

#endif
