#!/usr/bin/python3
"""Seals unit records (SELLO_NV_UNIT) independently of the firmware.

The format, as firmware/unit.h documents it: a TLV list (1 octet type,
2 octets BE length, value) of
    0x80 version (1)
    the configuration under the SELLO_INIT_* types, in order 1..10
    0x81 SubjectPublicKeyInfo
    0x82 salt (32 octets)
    0x83 nonce (12) || AES-256-GCM(private key) || tag (16)   -- last
with the key-wrapping key HKDF-SHA256(salt, device secret,
"sello unit key wrap v1") and everything before the 0x83 item as the
additional authenticated data.

Writes, for the test board's default device secret (test/unit/board_mem.c)
and the key of ../certs/unit-p256.key.pem (default configuration):
    record-p256.bin        the sealed record (test_module loads it)
    plain-p256.bin         u16 aad length | aad | private key, the form
                           fuzz_unit_record's sealing mode takes
and the same for ../golden/tsu-rsa2048.key.pem with RSA-2048 settings.
(A unit with a key also needs its authenticated serial record, which the
tests write with the module's own code: fx_put_serial_record.)
"""
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
from pkitool import oid, sello_private  # noqa: E402

DEVICE_SECRET = b"Sello test device secret 0123456"
SUBJECT = bytes.fromhex(
    "302f311730150603550403 0c0e 53656c6c6f2054657374205453553114301206035504"
    "0a 0c0b 53656c6c6f205465737473".replace(" ", ""))


def item(t, v):
    return struct.pack(">BH", t, len(v)) + v


def config(key_type, sig_hash=4, accuracy=1000, hashes=0x70, qualified=0,
           tsa=0, chain=1, instance=0, policy="0.4.0.2023.1.1"):
    return (item(1, bytes([key_type])) + item(2, SUBJECT) + item(3, oid(policy)) +
            item(4, struct.pack(">I", accuracy)) + item(5, struct.pack(">I", hashes)) +
            item(6, bytes([sig_hash])) + item(7, bytes([qualified])) +
            item(8, bytes([tsa])) + item(9, bytes([chain])) +
            item(10, struct.pack(">I", instance)))


def plain_form(pem_path, cfg, salt):
    with open(pem_path, "rb") as f:
        pem = f.read()
    key = serialization.load_pem_private_key(pem, None)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    aad = item(0x80, b"\x01") + cfg + item(0x81, spki) + item(0x82, salt)
    return aad, sello_private(pem)


def seal(aad, priv, salt, nonce):
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
               info=b"sello unit key wrap v1").derive(DEVICE_SECRET)
    sealed = nonce + AESGCM(kek).encrypt(nonce, priv, aad)
    return aad + item(0x83, sealed)


def main():
    cases = [
        ("p256", os.path.join(here, "../certs/unit-p256.key.pem"), config(1)),
        ("rsa2048", os.path.join(here, "../golden/tsu-rsa2048.key.pem"),
         config(3, sig_hash=5, accuracy=250, qualified=1, tsa=1, instance=7)),
    ]
    for name, pem, cfg in cases:
        salt = bytes(range(32))
        nonce = bytes(range(100, 112))
        aad, priv = plain_form(pem, cfg, salt)
        with open(os.path.join(here, f"record-{name}.bin"), "wb") as f:
            f.write(seal(aad, priv, salt, nonce))
        with open(os.path.join(here, f"plain-{name}.bin"), "wb") as f:
            f.write(struct.pack(">H", len(aad)) + aad + priv)


if __name__ == "__main__":
    main()
