/*
 * The local administrative socket: ceremonies, status and everything else
 * that must never be reachable over HTTP.
 *
 * A UNIX stream socket, created with mode 0600; each connecting process is
 * also checked with SO_PEERCRED and must be root or the relay's own user.
 * The protocol is the module ABI itself: the client writes request frames
 * exactly as <sello/abi.h> defines them, the relay forwards each over the
 * shared module link (with a tag of its own) and writes the module's
 * response frame back with the client's tag restored and without the
 * audit records the module put at its head: the relay stores those
 * durably first (audit_store.h), then forwards the rest with
 * SELLO_RESP_FLAG_AUDIT cleared, so the client never sees records.
 * The relay adds no operation and refuses none: the module decides.
 *
 * A frame whose header the relay cannot accept (magic, version, length) is
 * answered with the matching sello_status and the connection is closed,
 * since its framing is lost. If the module cannot be reached, or the
 * audit records of its answer cannot be stored, the connection is closed
 * without an answer: no module status would be true, and an answer whose
 * records are not stored is not released.
 * Every forwarded operation is logged with the peer's uid and pid, the
 * opcode and the module's status.
 *
 * Clients are served concurrently, one thread each, up to a small limit.
 */
#ifndef RELAY_ADMIN_H
#define RELAY_ADMIN_H

#include "module_link.h"

struct relay_admin;

/* Most admin clients served at once; further ones are turned away. */
#define RELAY_ADMIN_MAX_CLIENTS 8u

/*
 * Creates the socket at `path` (replacing a stale socket left by a dead
 * relay, refusing anything else) and starts accepting. Calls time out
 * after `timeout_ms` (key generation is slow). Returns NULL after logging
 * why.
 */
struct relay_admin *relay_admin_start(const char *path,
                                      struct relay_link *link,
                                      unsigned timeout_ms);

/*
 * Stops accepting, ends every client connection, waits for the client
 * threads and removes the socket file. A client waiting for the module
 * keeps waiting until its call completes, so stop the link first.
 */
void relay_admin_stop(struct relay_admin *admin);

#endif
