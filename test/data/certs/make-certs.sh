#!/usr/bin/env bash
# Makes the certificates test/unit/test_module.c offers to LOAD_CERT, and
# the fixed unit key the tests provision the module with (the module cannot
# export its own key, so the tests write a unit record for a known key and
# certify that key here). Run once; the outputs are committed. Re-running
# replaces every key and certificate.
#
#   unit-p256.key.pem / unit-p256.priv   the unit's key (PEM, and the
#                                        module's raw serialisation)
#   other-p256.key.pem                   some other key
#   ca.der          CN=Sello Test CA, P-256, self-signed, 2020..2099
#   ca-twin.der     the same name as ca.der with another key
#   ca-other.der    CN=Sello Other CA with ca.der's key
#   ca-rsa.der      CN=Sello Test RSA CA, RSA-2048
#   tsu.der             the unit key, critical EKU timeStamping, by ca
#   tsu-rsa-ca.der      the same, issued by ca-rsa (RSA signature)
#   tsu-other-key.der   like tsu.der but for other-p256
#   tsu-eku-noncritical.der, tsu-eku-multi.der (timeStamping+codeSigning),
#   tsu-no-eku.der, tsu-v1.der (no extensions, version 1)
#   tsu-expired.der     valid 2020-01-01..2021-01-01 only
#   garbage.bin         not DER at all
set -euo pipefail
cd "$(dirname "$0")"
PKI_WORK=$(mktemp -d)
trap 'rm -rf "$PKI_WORK"' EXIT
. ../pki.sh
pki_init
tool=../pkitool.py

pki_key unit-p256.key.pem ec
pki_key other-p256.key.pem ec
pki_key ca.key.pem ec
pki_key ca-twin.key.pem ec
pki_key ca-rsa.key.pem rsa2048
/usr/bin/python3 $tool priv unit-p256.key.pem unit-p256.priv

O="/O=Sello Tests"
pki_issue ca.der ca.key.pem "/CN=Sello Test CA$O" self ca.key.pem ext_ca \
  01 20200101000000Z 20991231235959Z
pki_issue ca-twin.der ca-twin.key.pem "/CN=Sello Test CA$O" self \
  ca-twin.key.pem ext_ca 02 20200101000000Z 20991231235959Z
pki_issue ca-other.der ca.key.pem "/CN=Sello Other CA$O" self ca.key.pem \
  ext_ca 03 20200101000000Z 20991231235959Z
pki_issue ca-rsa.der ca-rsa.key.pem "/CN=Sello Test RSA CA$O" self \
  ca-rsa.key.pem ext_ca 04 20200101000000Z 20991231235959Z
pki_pem ca.der "$PKI_WORK/ca.pem"
pki_pem ca-rsa.der "$PKI_WORK/ca-rsa.pem"

TSU="/CN=Sello Test TSU$O"
issue() { # out key ext serial [start end] [ca]
  local ca=${7:-ca}
  pki_issue "$1" "$2" "$TSU" "$PKI_WORK/$ca.pem" "$ca.key.pem" "$3" "$4" \
    "${5:-20240101000000Z}" "${6:-20991231235959Z}"
}
issue tsu.der unit-p256.key.pem ext_tsu 1001
issue tsu-rsa-ca.der unit-p256.key.pem ext_tsu 1002 20240101000000Z \
  20991231235959Z ca-rsa
issue tsu-other-key.der other-p256.key.pem ext_tsu 1003
issue tsu-eku-noncritical.der unit-p256.key.pem ext_eku_noncritical 1004
issue tsu-eku-multi.der unit-p256.key.pem ext_eku_multi 1005
issue tsu-no-eku.der unit-p256.key.pem ext_no_eku 1006
issue tsu-v1.der unit-p256.key.pem none 1007
issue tsu-expired.der unit-p256.key.pem ext_tsu 1008 20200101000000Z \
  20210101000000Z
printf 'this is not a certificate\n' >garbage.bin

# Sanity: the good ones verify with openssl, the v1 one is v1.
openssl verify -CAfile "$PKI_WORK/ca.pem" <(openssl x509 -inform DER -in tsu.der)
openssl verify -CAfile "$PKI_WORK/ca-rsa.pem" \
  <(openssl x509 -inform DER -in tsu-rsa-ca.der)
openssl x509 -inform DER -in tsu-v1.der -noout -text | grep -q 'Version: 1 '
echo "certificates written to $(pwd)"
