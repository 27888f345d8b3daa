/*
 * A minimal HTTP/1.1 client for RFC 3161 over HTTP: one POST per
 * connection ("Connection: close"), plain TCP only. It reads the whole
 * reply, then parses the status line, Content-Type and the body framed by
 * Content-Length, chunked transfer coding, or the end of the connection.
 */
#ifndef SELLO_TOOLS_HTTP_CLIENT_H
#define SELLO_TOOLS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest reply accepted, headers included. */
#define HTTP_REPLY_MAX (1024u * 1024u)

typedef struct {
    int status;              /* e.g. 200 */
    char reason[128];        /* reason phrase */
    char content_type[128];  /* media type without parameters, lower-case;
                                "" when absent */
    uint8_t *body;           /* malloc'd; free with http_response_free */
    size_t body_len;
} http_response;

/*
 * POSTs body[0..len) with the given Content-Type to `url`
 * ("http://host[:port][/path]", host a name, IPv4 or [IPv6] address) and
 * fills *resp. Each socket operation waits at most `timeout_s` seconds.
 * Returns NULL on success, or a message saying why no usable HTTP reply
 * was received.
 */
const char *http_post(const char *url, const char *content_type,
                      const uint8_t *body, size_t len, int timeout_s,
                      http_response *resp);

void http_response_free(http_response *resp);

#endif
