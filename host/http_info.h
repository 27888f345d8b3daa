/*
 * What a browser's GET receives: the service page rendered from the
 * module's STATUS reply, and the certificates from its GET_CERTS reply.
 * None of this is on the time-stamp path.
 */
#ifndef RELAY_HTTP_INFO_H
#define RELAY_HTTP_INFO_H

#include <stddef.h>
#include <stdint.h>

/* A view of octets inside a module response. */
struct relay_span {
    const uint8_t *p;
    size_t len;
};

struct relay_feed_report;
struct relay_audit_report;

/*
 * Renders the HTML service page from a STATUS reply (a TLV list of
 * SELLO_ST_*; unknown and malformed items are shown as such, never
 * trusted), the relay's time feed report (NULL: the feed is off) and its
 * audit store's report (NULL: none), compared with the module's audit
 * chain. Returns a malloc'd page of *len octets, or NULL when out of
 * memory.
 */
char *relay_info_page(const uint8_t *tlv, size_t tlv_len,
                      const struct relay_feed_report *feed,
                      const struct relay_audit_report *audit, size_t *len);

/*
 * Splits a GET_CERTS payload: the TSU certificate, then optionally its
 * issuer, each one DER SEQUENCE with a definite length. Returns how many
 * certificates were found (1 or 2), or 0 when the payload is not exactly
 * that.
 */
size_t relay_certs_split(const uint8_t *p, size_t len,
                         struct relay_span certs[2]);

/* PEM "CERTIFICATE" blocks for `n` certificates. Returns a malloc'd text
 * of *len octets, or NULL when out of memory. */
char *relay_certs_pem(const struct relay_span *certs, size_t n, size_t *len);

#endif
