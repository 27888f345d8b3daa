/*
 * Entry points of the Sello module, called by a board.
 *
 * The board owns all module state: one sello_module_storage object, which it
 * allocates statically and passes to every call. The module keeps no other
 * writable state anywhere.
 */
#ifndef SELLO_MODULE_H
#define SELLO_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include <sello/abi.h>
#include <sello/status.h>

/* Size of the module context; firmware checks at compile time that its
 * real context fits. */
#define SELLO_MODULE_CONTEXT_SIZE 45056u

typedef struct {
    _Alignas(16) uint8_t opaque[SELLO_MODULE_CONTEXT_SIZE];
} sello_module_storage;

/*
 * Brings the module up from its non-volatile records: runs the power-on
 * self-tests, loads the key and certificate if present, and resumes the
 * serial counter after the last reserved block. A failure leaves the module
 * in SELLO_STATE_ERROR, where it still answers STATUS and refuses STAMP;
 * the return value says why.
 */
SELLO_MUST_CHECK sello_status sello_module_start(sello_module_storage *m);

/*
 * Handles one request frame and writes one response frame to
 * resp[0..resp_cap). resp_cap must be at least SELLO_FRAME_MAX. Returns the
 * response frame length; there is always a response, even to garbage.
 */
size_t sello_module_handle(sello_module_storage *m, const uint8_t *req,
                           size_t req_len, uint8_t *resp, size_t resp_cap);

/*
 * Serves frames from the board transport until the link is gone: the
 * loadable firmware's main loop. Returns the transport's final status.
 */
sello_status sello_module_serve(sello_module_storage *m);

#endif
