#!/usr/bin/env bash
# How the golden token encodings in this directory were made and checked.
#
#   make-golden.sh pki        new keys and certificates (openssl) and the two
#                             fixed requests; only when they must change
#   make-golden.sh responses  rebuilds test_token and lets it write the
#                             current encodings here (SELLO_WRITE_GOLDEN)
#   make-golden.sh verify     checks every golden response with
#                             `openssl ts -verify` and with an independent
#                             asn1crypto/cryptography reading (pkitool.py)
#   make-golden.sh            responses, then verify
#
# A golden must be a token real verifiers accept, not whatever the code
# emits: never commit responses that `verify` did not pass. ECDSA signing in
# BearSSL is deterministic (RFC 6979) and RSA PKCS#1 v1.5 is too, so the
# same firmware writes the same octets every time.
#
# Files:
#   ca.key.pem, ca.der                 CN=Sello Golden CA (P-256), 2020..2099
#   tsu-p256.key.pem, .priv, .der      P-256 TSU key (raw scalar) and cert
#   tsu-rsa2048.key.pem, .priv, .der   RSA-2048 TSU key (module serialisation)
#   req-nonce-cert.der  SHA-256 imprint of "sello golden", nonce
#                       00f1e2d3c4b5a69788, certReq TRUE
#   req-plain.der       SHA-512 imprint with NULL parameters of "sello golden",
#                       reqPolicy 0.4.0.2023.1.1, no nonce, no certReq
#   resp-*.der          the golden TimeStampResp encodings; the unit
#                       configuration, serial and genTime of each are in
#                       test/unit/test_token.c (golden_cases)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tool="$here/../pkitool.py"
cd "$here"

pki() {
  PKI_WORK=$(mktemp -d)
  trap 'rm -rf "$PKI_WORK"' EXIT
  . ../pki.sh
  pki_init
  pki_key ca.key.pem ec
  pki_key tsu-p256.key.pem ec
  # The module rebuilds an RSA key's public exponent from p, dp and q, dq
  # (BearSSL's br_rsa_compute_pubexp), which needs p = q = 3 (mod 4), as
  # BearSSL's own key generator guarantees; openssl's keys are drawn until
  # one qualifies.
  until pki_key tsu-rsa2048.key.pem rsa2048 &&
        /usr/bin/python3 "$tool" rsa-3mod4 tsu-rsa2048.key.pem; do :; done
  /usr/bin/python3 "$tool" priv tsu-p256.key.pem tsu-p256.priv
  /usr/bin/python3 "$tool" priv tsu-rsa2048.key.pem tsu-rsa2048.priv
  pki_issue ca.der ca.key.pem "/CN=Sello Golden CA/O=Sello Tests" self \
    ca.key.pem ext_ca 01 20200101000000Z 20991231235959Z
  pki_pem ca.der "$PKI_WORK/ca.pem"
  pki_issue tsu-p256.der tsu-p256.key.pem "/CN=Sello Golden TSU P-256/O=Sello Tests" \
    "$PKI_WORK/ca.pem" ca.key.pem ext_tsu 2001 20240101000000Z 20491231235959Z
  pki_issue tsu-rsa2048.der tsu-rsa2048.key.pem \
    "/CN=Sello Golden TSU RSA/O=Sello Tests" "$PKI_WORK/ca.pem" ca.key.pem \
    ext_tsu 2002 20240101000000Z 20491231235959Z
  /usr/bin/python3 "$tool" tsreq req-nonce-cert.der --hash sha256 \
    --data "sello golden" --nonce 00f1e2d3c4b5a69788 --cert
  /usr/bin/python3 "$tool" tsreq req-plain.der --hash sha512 \
    --data "sello golden" --null-params --policy 0.4.0.2023.1.1
}

responses() {
  make -C "$root" -s build/test/test_token
  SELLO_WRITE_GOLDEN="$here" "$root/build/test/test_token" 'golden_*'
}

# verify_one RESP REQ TSU_CERT GENTIME_EPOCH
verify_one() {
  local tmp
  tmp=$(mktemp -d)
  openssl x509 -inform DER -in ca.der -out "$tmp/ca.pem"
  openssl x509 -inform DER -in "$3" -out "$tmp/tsu.pem"
  openssl ts -verify -in "$1" -queryfile "$2" -CAfile "$tmp/ca.pem" \
    -untrusted "$tmp/tsu.pem" -attime "$4"
  /usr/bin/python3 "$tool" check-resp "$1" "$2" "$3" ca.der
  rm -rf "$tmp"
}

verify() {
  # genTime of each case (see golden_cases in test_token.c), as epoch
  # seconds for -attime: 2025-01-02T03:04:05Z
  local t=1735787045
  verify_one resp-p256.der req-nonce-cert.der tsu-p256.der $t
  verify_one resp-p256-qualified.der req-plain.der tsu-p256.der $t
  verify_one resp-rsa2048.der req-nonce-cert.der tsu-rsa2048.der $t
  verify_one resp-rsa2048-sha512.der req-plain.der tsu-rsa2048.der $t
}

case "${1:-all}" in
  pki) pki ;;
  responses) responses ;;
  verify) verify ;;
  all) responses; verify ;;
  *) echo "usage: $0 [pki|responses|verify]" >&2; exit 2 ;;
esac
