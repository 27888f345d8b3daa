#!/usr/bin/python3
"""Writes requests.txt: TimeStampReq vectors for test/unit/test_tsp.c.

Every request is built octet by octet here (../pkitool.py helpers), not by
the firmware, so the vectors are an independent statement of RFC 3161 and
of the unit's acceptance policy. Re-run after editing; commit both files.

Line format:  NAME | CONFIG | EXPECT | REQUEST HEX | CHECKS
  CONFIG  default   subject only: SHA-256/384/512, policy 0.4.0.2023.1.1
          sha1      default hashes plus SHA-1
          sha224    SHA-224 only
          policy    policy 1.3.6.1.4.1.99999.1.2 instead of the default
  EXPECT  accept, malformed (flagged as not a TimeStampReq at all, failInfo
          badDataFormat), or the failInfo of a decodable but refused
          request: badAlg, badDataFormat, unacceptedPolicy,
          unacceptedExtension
  CHECKS  for accepted requests: certreq=0|1, nonce=HEX (content octets
          echoed exactly) or nonce=none, imprint=HEX (the complete
          MessageImprint, byte for byte)
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pkitool import HASH_OIDS, integer, oid, oid_content, seq, tlv  # noqa: E402

DEFAULT_POLICY = "0.4.0.2023.1.1"
CUSTOM_POLICY = "1.3.6.1.4.1.99999.1.2"
DATA = b"sello test vector"


def alg_id(name, params=b""):
    return seq(oid(HASH_OIDS[name]) + params)


def imprint(name="sha256", params=b"", digest=None):
    if digest is None:
        digest = hashlib.new(name, DATA).digest()
    return seq(alg_id(name, params), tlv(0x04, digest))


def req(*fields):
    return seq(b"".join(fields))


V1 = integer(1)
IMP = imprint()
TRUE = b"\x01\x01\xff"
FALSE = b"\x01\x01\x00"

vectors = []


def add(name, expect, der, cfg="default", **checks):
    vectors.append((name, cfg, expect, der, checks))


def ok(name, der, imp, cfg="default", nonce=None, certreq=0):
    add(name, "accept", der, cfg, certreq=certreq,
        nonce=nonce.hex() if nonce is not None else "none", imprint=imp.hex())


# ---- accepted shapes -------------------------------------------------------
ok("minimal_sha256", req(V1, IMP), IMP)
for h in ("sha384", "sha512"):
    i = imprint(h)
    ok("minimal_" + h, req(V1, i), i)
i = imprint("sha256", b"\x05\x00")
ok("alg_null_params_echoed", req(V1, i, TRUE), i, certreq=1)
i = imprint("sha512", b"\x05\x00")
ok("alg_null_params_sha512_echoed", req(V1, i), i)
ok("cert_req_true", req(V1, IMP, TRUE), IMP, certreq=1)
ok("cert_req_explicit_false", req(V1, IMP, FALSE), IMP, certreq=0)
ok("policy_same_as_unit", req(V1, IMP, oid(DEFAULT_POLICY)), IMP)
ok("policy_custom_unit", req(V1, IMP, oid(CUSTOM_POLICY)), IMP, cfg="policy")
ok("sha1_when_configured", req(V1, imprint("sha1")), imprint("sha1"), cfg="sha1")
ok("sha224_when_configured", req(V1, imprint("sha224")), imprint("sha224"),
   cfg="sha224")
for label, n in [("nonce_one_octet_zero", b"\x00"),
                 ("nonce_small", b"\x2a"),
                 ("nonce_high_bit_sign_octet", b"\x00\x80"),
                 ("nonce_high_bit_long", b"\x00\xf1\xe2\xd3\xc4\xb5\xa6\x97\x88"),
                 ("nonce_negative", b"\xff"),
                 ("nonce_negative_long", b"\x80" + b"\x01" * 15),
                 ("nonce_32_octets", b"\x7f" + b"\xab" * 31),
                 ("nonce_33_octets_leading_00", b"\x00\x80" + b"\xcd" * 31),
                 ("nonce_33_octets_positive", b"\x7f" + b"\xcd" * 32)]:
    ok(label, req(V1, IMP, tlv(0x02, n)), IMP, nonce=n)
n = b"\x00\x99" + b"\x11" * 20
ok("all_fields", req(V1, IMP, oid(DEFAULT_POLICY), tlv(0x02, n), TRUE), IMP,
   nonce=n, certreq=1)

# ---- malformed: not a TimeStampReq at all ---------------------------------------
good = req(V1, IMP)
add("empty_input", "malformed", b"")
add("lone_sequence_tag", "malformed", b"\x30")
add("not_a_sequence_set", "malformed", b"\x31" + good[1:])
add("not_a_sequence_octets", "malformed", tlv(0x04, good))
add("not_a_sequence_integer", "malformed", integer(1))
add("trailing_byte", "malformed", good + b"\x00")
add("trailing_element", "malformed", good + b"\x05\x00")
add("outer_length_too_long", "malformed", b"\x30" + bytes([good[1] + 1]) + good[2:])
add("outer_length_too_short", "malformed",
    b"\x30" + bytes([good[1] - 1]) + good[2:])
add("outer_indefinite_length", "malformed", b"\x30\x80" + good[2:] + b"\x00\x00")
add("outer_non_minimal_length", "malformed", b"\x30\x81" + good[1:])
add("imprint_length_overruns", "malformed",
    req(V1, b"\x30" + bytes([IMP[1] + 1]) + IMP[2:]))
add("missing_imprint", "malformed", req(V1))
add("missing_version", "malformed", req(IMP))
add("empty_sequence", "malformed", b"\x30\x00")
add("version_non_minimal", "malformed", req(b"\x02\x02\x00\x01", IMP))
add("version_negative", "malformed", req(b"\x02\x01\xff", IMP))
add("version_empty", "malformed", req(b"\x02\x00", IMP))
add("garbage", "malformed", bytes.fromhex("deadbeef0102030405060708090a0b0c"))
add("garbage_sequence_of_nulls", "malformed", seq(b"\x05\x00" * 4))
add("imprint_extra_element", "malformed",
    req(V1, seq(alg_id("sha256"), tlv(0x04, hashlib.sha256(DATA).digest()),
                b"\x05\x00")))
add("imprint_digest_not_octets", "malformed",
    req(V1, seq(alg_id("sha256"), tlv(0x03, b"\x00" + hashlib.sha256(DATA).digest()))))
add("imprint_missing_digest", "malformed", req(V1, seq(alg_id("sha256"))))
add("alg_params_not_null", "malformed", req(V1, imprint("sha256", b"\x04\x00")))
add("alg_null_with_content", "malformed", req(V1, imprint("sha256", b"\x05\x01\x00")))
add("alg_two_params", "malformed", req(V1, imprint("sha256", b"\x05\x00\x05\x00")))
add("alg_oid_empty", "malformed",
    req(V1, seq(seq(b"\x06\x00"), tlv(0x04, b"\x00" * 32))))
add("alg_oid_leading_80", "malformed",
    req(V1, seq(seq(b"\x06\x03\x60\x80\x48"), tlv(0x04, b"\x00" * 32))))
add("alg_not_sequence", "malformed",
    req(V1, seq(oid(HASH_OIDS["sha256"]), tlv(0x04, b"\x00" * 32))))
add("nonce_non_minimal", "malformed", req(V1, IMP, b"\x02\x02\x00\x7f"))
add("nonce_empty", "malformed", req(V1, IMP, b"\x02\x00"))
add("cert_req_not_der_boolean", "malformed", req(V1, IMP, b"\x01\x01\x01"))
add("nonce_after_cert_req", "malformed", req(V1, IMP, TRUE, integer(5)))
add("policy_after_nonce", "malformed", req(V1, IMP, integer(5), oid(DEFAULT_POLICY)))
add("cert_req_twice", "malformed", req(V1, IMP, TRUE, TRUE))
add("unknown_context_field", "malformed", req(V1, IMP, b"\xa1\x00"))
add("extensions_then_more", "malformed", req(V1, IMP, b"\xa0\x00", b"\x05\x00"))
add("policy_oid_bad", "malformed", req(V1, IMP, b"\x06\x02\x2b\x86"))
add("high_tag_field", "malformed", req(V1, IMP, b"\x1f\x22\x00"))

# ---- decodable, refused by policy -----------------------------------------------
add("version_2", "badDataFormat", req(integer(2), IMP))
add("version_0", "badDataFormat", req(integer(0), IMP))
add("hash_unknown_oid", "badAlg",
    req(V1, seq(seq(oid("1.2.3.4")), tlv(0x04, b"\x00" * 32))))
add("hash_md5", "badAlg",
    req(V1, seq(seq(oid("1.2.840.113549.2.5") + b"\x05\x00"), tlv(0x04, b"\x00" * 16))))
add("hash_sha1_not_configured", "badAlg", req(V1, imprint("sha1")))
add("hash_sha224_not_configured", "badAlg", req(V1, imprint("sha224")))
add("hash_sha256_not_in_sha224_unit", "badAlg", req(V1, IMP), cfg="sha224")
add("hash_sig_alg_oid_as_digest", "badAlg",
    req(V1, seq(seq(oid("1.2.840.10045.4.3.2")), tlv(0x04, b"\x00" * 32))))
add("imprint_short", "badDataFormat", req(V1, imprint("sha256", digest=b"\x00" * 31)))
add("imprint_long", "badDataFormat", req(V1, imprint("sha256", digest=b"\x00" * 33)))
add("imprint_empty", "badDataFormat", req(V1, imprint("sha256", digest=b"")))
add("imprint_sha1_length_for_sha256", "badDataFormat",
    req(V1, imprint("sha256", digest=b"\x00" * 20)))
add("imprint_sha256_length_for_sha1", "badDataFormat",
    req(V1, imprint("sha1", digest=b"\x00" * 32)), cfg="sha1")
add("imprint_sha512_length_for_sha384", "badDataFormat",
    req(V1, imprint("sha384", digest=b"\x00" * 64)))
add("policy_other", "unacceptedPolicy", req(V1, IMP, oid("1.2.3.4.5")))
add("policy_prefix_of_unit", "unacceptedPolicy", req(V1, IMP, oid("0.4.0.2023.1")))
add("policy_extends_unit", "unacceptedPolicy", req(V1, IMP, oid("0.4.0.2023.1.1.1")))
add("policy_default_on_custom_unit", "unacceptedPolicy",
    req(V1, IMP, oid(DEFAULT_POLICY)), cfg="policy")
ext = seq(seq(oid("1.2.3.4"), tlv(0x04, b"\x05\x00")))
add("extensions", "unacceptedExtension", req(V1, IMP, b"\xa0" + ext[1:]))
add("extensions_empty", "unacceptedExtension", req(V1, IMP, b"\xa0\x00"))
add("extensions_after_all_fields", "unacceptedExtension",
    req(V1, IMP, oid(DEFAULT_POLICY), integer(7), TRUE, b"\xa0" + ext[1:]))
add("nonce_34_octets", "badDataFormat",
    req(V1, IMP, tlv(0x02, b"\x00\x80" + b"\xcd" * 32)))
add("nonce_64_octets", "badDataFormat", req(V1, IMP, tlv(0x02, b"\x11" * 64)))
add("nonce_130_octets_long_form", "badDataFormat", req(V1, IMP, tlv(0x02, b"\x11" * 130)))

names = [v[0] for v in vectors]
assert len(names) == len(set(names)), "duplicate vector names"
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "requests.txt"), "w") as f:
    f.write("# Generated by make-vectors.py; see there for the format.\n")
    for name, cfg, expect, der, checks in vectors:
        c = " ".join(f"{k}={v}" for k, v in checks.items())
        f.write(f"{name} | {cfg} | {expect} | {der.hex()} | {c}\n".rstrip() + "\n")
print(f"{len(vectors)} vectors")
