/*
 * Distinguished names: text -> DER Name for `sello init --subject`, and
 * DER Name -> text for printing certificates and TSA names.
 *
 * Text form: "CN=Demo TSU,O=Example,C=DE". Attributes are separated by
 * commas and encoded in the order written, one AttributeTypeAndValue per
 * RelativeDistinguishedName (a SET of one). A backslash takes the next
 * character literally ("O=Example\, Inc."); spaces around types and
 * values are dropped. Types, case-insensitive:
 *
 *   CN 2.5.4.3, O 2.5.4.10, OU 2.5.4.11, L 2.5.4.7, ST 2.5.4.8,
 *   organizationIdentifier 2.5.4.97        -> UTF8String
 *   C 2.5.4.6 (two letters), serialNumber 2.5.4.5 -> PrintableString
 *   any dotted OID ("2.5.4.42=...")        -> UTF8String
 *
 * serialNumber is a PrintableString because X.520 defines it so (and
 * EN 319 412 profiles rely on it); C is one by RFC 5280. Values are
 * checked against the RFC 5280 upper bounds where it sets one.
 */
#ifndef SELLO_TOOLS_DN_H
#define SELLO_TOOLS_DN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "der.h"

/*
 * Encodes `text` as a DER Name into out[0..cap) and sets *len. Returns
 * NULL on success or a message that says what is wrong with the text.
 */
const char *dn_encode(const char *text, uint8_t *out, size_t cap,
                      size_t *len);

/*
 * Renders a DER Name (the whole element, tag included) as text in
 * out[0..cap), in encoding order, multi-valued RDNs joined by '+'.
 * Values that are not character strings appear as "#<hex of the DER
 * element>". Returns false when the input is not a well-formed Name
 * (out then holds "<malformed name>").
 */
bool dn_format(const sello_der_cur *name, char *out, size_t cap);

#endif
