#!/usr/bin/python3
"""Seals unit records (SELLO_NV_UNIT) independently of the firmware.

A second implementation of the record format that firmware/unit.h
documents (firmware/unit.c writes it, firmware/device_keys.c derives its
keys), written from the description rather than from the code. A TLV
list (1 octet type, 2 octets BE length, value) of, in this order:

    0x80 version (1 octet: 2)
    the configuration under the SELLO_INIT_* types, every item written,
    defaults included, as config_write in firmware/unit.c writes them:
         1 key type (u8)         2 subject (DER Name)
         3 policy (DER OID)      4 accuracy ms (u32)
         5 hashes mask (u32)     6 signature hash (u8)
         7 qualified (u8)        8 tsa name (u8)
         9 chain (u8)           10 instance (u32)
        12 threshold M (u8)     13 engine (u8)
        14 lockout failures (u8) 15 lockout seconds (u32)
        16 key usage days (u32)
    0x84 key ceremony generation (u32)
    0x85 custodians N (u8)
    (0x86 token key id: token engine only; not written here)
    0x81 SubjectPublicKeyInfo
    0x82 salt (32 octets)
    0x83 nonce (12) || AES-256-GCM(key secret) || tag (16)
    0x87 HMAC-SHA256 of everything before it (32 octets)   -- last

with
    wrapping key = HKDF-SHA256(salt = the record's salt,
                               ikm = device secret || K,
                               info = "sello unit key wrap v2"),
    additional data = everything before the 0x83 item,
    MAC key = HKDF-SHA256(salt = empty, ikm = device secret,
                          info = "sello unit record mac v1"),
where K is the 32-octet activation secret (here the fixture's fx_k,
test/unit/fixture.c) and the key secret is the private key in the module's
serialisation (test/data/pkitool.py sello_private).

Writes, for the test board's default device secret (test/unit/board_mem.c)
and the key of ../certs/unit-p256.key.pem (default configuration, custody
2 of 3, generation 1, module engine):
    record-p256.bin        the sealed record (test_module loads it)
    plain-p256.bin         u16 aad length | aad | key secret, the form
                           fuzz_unit_record's sealing mode takes (the
                           harness seals it under fx_k and adds the MAC)
and the same for ../golden/tsu-rsa2048.key.pem with RSA-2048 settings
(SHA-384 signatures, accuracy 250 ms, instance 7, qualified, tsa name).
A unit with a key also needs its authenticated counters record, which the
tests write with the module's own code (fx_put_counters_record), and its
custodians need shares of K for this unit: fx_make_shares (fixture.h)
makes them from the SPKI, the generation and M, N.
"""
import hashlib
import hmac
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
ACTIVATION_SECRET = b"sello fixture activation secret\0"  # fixture.c fx_k
SUBJECT = bytes.fromhex(
    "302f311730150603550403 0c0e 53656c6c6f2054657374205453553114301206035504"
    "0a 0c0b 53656c6c6f205465737473".replace(" ", ""))
RECORD_VERSION = 2
ENGINE_MODULE = 1
assert len(DEVICE_SECRET) == 32 and len(ACTIVATION_SECRET) == 32


def item(t, v):
    return struct.pack(">BH", t, len(v)) + v


def u8(t, v):
    return item(t, bytes([v]))


def u32(t, v):
    return item(t, struct.pack(">I", v))


def config(key_type, sig_hash=4, accuracy=1000, hashes_mask=0x70,
           qualified=0, tsa=0, chain=1, instance=0, policy="0.4.0.2023.1.1",
           m=2, n=3, engine=ENGINE_MODULE, lockout_failures=5,
           lockout_s=900, key_usage_days=0, slew_ppm=100, max_obs_age_s=0,
           generation=1):
    return (u8(1, key_type) + item(2, SUBJECT) + item(3, oid(policy)) +
            u32(4, accuracy) + u32(5, hashes_mask) + u8(6, sig_hash) +
            u8(7, qualified) + u8(8, tsa) + u8(9, chain) +
            u32(10, instance) + u8(12, m) + u8(13, engine) +
            u8(14, lockout_failures) + u32(15, lockout_s) +
            u32(16, key_usage_days) + u32(17, slew_ppm) +
            u32(18, max_obs_age_s) + u32(0x84, generation) + u8(0x85, n))


def hkdf(salt, ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=info).derive(ikm)


def plain_form(pem_path, cfg, salt):
    with open(pem_path, "rb") as f:
        pem = f.read()
    key = serialization.load_pem_private_key(pem, None)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    aad = (u8(0x80, RECORD_VERSION) + cfg + item(0x81, spki) +
           item(0x82, salt))
    return aad, sello_private(pem)


def seal(aad, secret, salt, nonce):
    kek = hkdf(salt, DEVICE_SECRET + ACTIVATION_SECRET,
               b"sello unit key wrap v2")
    body = aad + item(0x83, nonce + AESGCM(kek).encrypt(nonce, secret, aad))
    # An empty HKDF salt is HashLen zero octets (RFC 5869 2.2), which as
    # an HMAC key is the same as an empty one.
    mac_key = hkdf(None, DEVICE_SECRET, b"sello unit record mac v1")
    return body + item(0x87, hmac.new(mac_key, body, hashlib.sha256).digest())


def main():
    cases = [
        ("p256", os.path.join(here, "../certs/unit-p256.key.pem"), config(1)),
        ("rsa2048", os.path.join(here, "../golden/tsu-rsa2048.key.pem"),
         config(3, sig_hash=5, accuracy=250, qualified=1, tsa=1, instance=7)),
    ]
    for name, pem, cfg in cases:
        salt = bytes(range(32))
        nonce = bytes(range(100, 112))
        aad, secret = plain_form(pem, cfg, salt)
        with open(os.path.join(here, f"record-{name}.bin"), "wb") as f:
            f.write(seal(aad, secret, salt, nonce))
        with open(os.path.join(here, f"plain-{name}.bin"), "wb") as f:
            f.write(struct.pack(">H", len(aad)) + aad + secret)


if __name__ == "__main__":
    main()
