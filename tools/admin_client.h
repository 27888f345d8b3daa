/*
 * Client side of the relay's administrative UNIX socket. The relay
 * forwards raw module ABI frames (include/sello/abi.h) both ways, so this
 * is the ABI spoken from a host process: one request frame out, one
 * response frame in, the tag checked on the way back.
 */
#ifndef SELLO_TOOLS_ADMIN_CLIENT_H
#define SELLO_TOOLS_ADMIN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/abi.h>

/* The socket used when neither --admin nor SELLO_ADMIN names one. */
#define ADMIN_DEFAULT_PATH "build/demo/admin.sock"

/* The --admin line of every admin command's usage. */
#define ADMIN_USAGE "  --admin PATH        admin socket (default $SELLO_ADMIN, " \
                    "else " ADMIN_DEFAULT_PATH ")\n"

typedef struct {
    int fd;
    uint32_t next_tag;
} admin_conn;

/* A response frame. The payload is the reply, or for a status other than
 * SELLO_OK a short UTF-8 reason: without the audit records a response may
 * begin with (SELLO_RESP_FLAG_AUDIT), which admin_call takes off (flags
 * then lacks that bit, and audit_len says how many octets there were). */
typedef struct {
    uint8_t status; /* sello_status */
    uint8_t flags;
    uint8_t payload[SELLO_PAYLOAD_MAX];
    size_t len;
    size_t audit_len;
} admin_reply;

/*
 * The socket path to use: `option` when set, else $SELLO_ADMIN when set
 * and non-empty, else ADMIN_DEFAULT_PATH.
 */
const char *admin_socket_path(const char *option);

/* Connects; false after printing why. */
bool admin_connect(const char *path, admin_conn *c);

void admin_close(admin_conn *c);

/*
 * Called about every 200 ms while a reply is awaited (key generation may
 * take many seconds); `ctx` is passed through. There is no timeout.
 */
typedef void (*admin_progress_fn)(void *ctx);

/*
 * Sends one request frame with opcode `op` and payload[0..len) and reads
 * the reply frame into *reply. Returns false after printing why when the
 * exchange itself fails (closed socket, bad frame, mismatched tag); a
 * module status other than SELLO_OK is a successful exchange.
 */
bool admin_call(admin_conn *c, uint8_t op, const uint8_t *payload,
                size_t len, admin_reply *reply, admin_progress_fn progress,
                void *ctx);

/* Prints "sello: <what>: <status text> (<module's reason>)" for a reply
 * whose status is not SELLO_OK. */
void admin_report(const char *what, const admin_reply *reply);

/*
 * admin_call, then admin_report for a status other than SELLO_OK, naming
 * the operation `what`. True only for SELLO_OK.
 */
bool admin_call_ok(admin_conn *c, const char *what, uint8_t op,
                   const uint8_t *payload, size_t len, admin_reply *reply,
                   admin_progress_fn progress, void *ctx);

/*
 * Connects to `path`, performs one admin_call_ok and disconnects: the
 * shape of every single-request command.
 */
bool admin_run_op(const char *path, const char *what, uint8_t op,
                  const uint8_t *payload, size_t len, admin_reply *reply,
                  admin_progress_fn progress, void *ctx);

#endif
