"""Tokens from the module, verified by verifiers nobody here wrote:
OpenSSL's `ts -verify` for every key type and hash, python3-rfc3161ng for
RSA, and asn1crypto for the structure."""
import hashlib
import os
import re
import subprocess
import sys

import pytest

import sello_abi as abi
import tsp_util

KEYS = ["p256", "p384", "rsa2048", "rsa3072", "rsa4096"]


def openssl_verify(tsr_path, data_path, ca_pem, untrusted=None):
    cmd = ["openssl", "ts", "-verify", "-in", tsr_path, "-data", data_path,
           "-CAfile", ca_pem]
    if untrusted:
        cmd += ["-untrusted", untrusted]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode == 0 and "Verification: OK" in r.stdout, r.stdout + r.stderr


class _Units(dict):
    """One active unit per key type, made on first use, so that a key type
    the module cannot provision fails only its own tests."""

    def __init__(self, tmp_path_factory, ca):
        super().__init__()
        self.tmp, self.ca, self.failed, self.made = tmp_path_factory, ca, {}, []

    def __missing__(self, key):
        from conftest import Unit
        if key in self.failed:
            pytest.fail(f"provisioning the {key} unit failed: "
                        f"{self.failed[key]!r}")
        u = Unit(str(self.tmp.mktemp(key)))
        self.made.append(u)
        try:
            u.start_sim().provision(self.ca, key).start_relay(time_feed=False)
        except Exception as e:
            self.failed[key] = e
            raise
        self[key] = u
        return u


@pytest.fixture(scope="module")
def units(tmp_path_factory, ca):
    """One active unit per key type, shared by this module's tests."""
    made = _Units(tmp_path_factory, ca)
    yield made
    for u in made.made:
        u.stop()


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_openssl_verifies_every_key_and_hash(units, ca, tmp_path, key, hash_name):
    u = units[key]
    data = os.urandom(100)
    data_path = tmp_path / "data"
    data_path.write_bytes(data)
    req, nonce = tsp_util.request(data, hash_name)
    status, headers, body = u.post(req)
    assert status == 200
    assert headers["Content-Type"] == "application/timestamp-reply"
    tsr = tmp_path / "reply.tsr"
    tsr.write_bytes(body)
    ok, out = openssl_verify(str(tsr), str(data_path), ca.pem)
    assert ok, out
    info = tsp_util.tst_info(body)
    assert info["nonce"].native == nonce
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == hash_name
    assert info["policy"].native == "0.4.0.2023.1.1"
    assert info["accuracy"]["seconds"].native == 1
    assert info["ordering"].native is False


def test_openssl_query_and_reply_roundtrip(units, ca, tmp_path):
    """The README's path: a request made by `openssl ts -query`."""
    u = units["p256"]
    data = tmp_path / "doc.txt"
    data.write_bytes(b"a document")
    q = tmp_path / "q.tsq"
    subprocess.run(["openssl", "ts", "-query", "-data", str(data), "-sha256",
                    "-cert", "-out", str(q)], check=True, capture_output=True)
    status, _, body = u.post(q.read_bytes())
    assert status == 200
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(body)
    ok, out = openssl_verify(str(tsr), str(data), ca.pem)
    assert ok, out


def test_without_cert_req_certificates_are_absent(units, ca, tmp_path):
    u = units["p256"]
    data = tmp_path / "d"
    data.write_bytes(b"x")
    req, _ = tsp_util.request(b"x", cert_req=False)
    status, _, body = u.post(req)
    assert status == 200
    signed = tsp_util.parse_response(body)["time_stamp_token"]["content"]
    assert not signed["certificates"].native
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(body)
    ok, out = openssl_verify(str(tsr), str(data), ca.pem, untrusted=u.cert_pem)
    assert ok, out


def test_with_cert_req_chain_is_included(units):
    req, _ = tsp_util.request(b"x", cert_req=True)
    _, _, body = units["p384"].post(req)
    signed = tsp_util.parse_response(body)["time_stamp_token"]["content"]
    assert len(signed["certificates"]) == 2
    assert signed["version"].native == "v3"
    si = signed["signer_infos"][0]
    attrs = {a["type"].native for a in si["signed_attrs"]}
    assert attrs == {"content_type", "message_digest", "signing_certificate_v2"}


@pytest.mark.parametrize("key", ["rsa2048", "rsa3072", "rsa4096"])
def test_rfc3161ng_verifies_rsa(units, key):
    u = units[key]
    data = os.urandom(64)
    req, _ = tsp_util.request(data, "sha256")
    status, _, body = u.post(req)
    assert status == 200
    code = (
        "import sys, rfc3161ng\n"
        "tsr = open(sys.argv[1], 'rb').read()\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "cert = open(sys.argv[3], 'rb').read()\n"
        "tst = rfc3161ng.decode_timestamp_response(tsr).time_stamp_token\n"
        "assert rfc3161ng.check_timestamp(tst, certificate=cert, data=data,"
        " hashname='sha256')\n"
        "bad = bytes([data[0] ^ 1]) + data[1:]\n"
        "try:\n"
        "    rfc3161ng.check_timestamp(tst, certificate=cert, data=bad,"
        " hashname='sha256')\n"
        "    print('tampered data accepted'); sys.exit(1)\n"
        "except ValueError:  # rfc3161ng reports mismatches so\n"
        "    pass\n"
        "print(rfc3161ng.get_timestamp(tst))\n")
    d = os.path.dirname(u.cert_pem)
    tsr, dat = os.path.join(d, "ng.tsr"), os.path.join(d, "ng.dat")
    open(tsr, "wb").write(body)
    open(dat, "wb").write(data)
    # Debian's python3-rfc3161ng lives in the system interpreter.
    r = subprocess.run(["/usr/bin/python3", "-c", code, tsr, dat, u.cert_pem],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_imprint_echoed_byte_for_byte_with_null_params(units, ca, tmp_path):
    """A client that writes NULL hash parameters gets them back verbatim."""
    req, _ = tsp_util.request(b"null", "sha256", null_params=True)
    status, _, body = units["p256"].post(req)
    assert status == 200
    imprint = tsp_util.tst_info(body)["message_imprint"]
    assert imprint.dump() in req


def test_qualified_unit_marks_tokens_and_names_tsa(unit_factory, ca, tmp_path):
    u = unit_factory("qualified").start_sim().provision(
        ca, "p256", params=[(abi.INIT_QUALIFIED, b"\x01"),
                            (abi.INIT_TSA_NAME, b"\x01"),
                            (abi.INIT_ACCURACY_MS, (250).to_bytes(4, "big"))]
    ).start_relay(time_feed=False)
    data = tmp_path / "d"
    data.write_bytes(b"q")
    req, _ = tsp_util.request(b"q")
    status, _, body = u.post(req)
    assert status == 200
    info = tsp_util.tst_info(body)
    exts = info["extensions"]
    assert len(exts) == 1
    ext = exts[0]
    assert ext["extn_id"].dotted == "1.3.6.1.5.5.7.1.3"
    assert ext["critical"].native is False
    # QCStatements ::= SEQUENCE OF QCStatement { esi4-qtstStatement-1 }
    assert ext["extn_value"].contents == bytes.fromhex(
        "300b3009060704008197 5e0101".replace(" ", ""))
    assert info["tsa"].chosen.native["common_name"] == "Sello Test TSU"
    assert info["accuracy"]["millis"].native == 250
    assert info["accuracy"]["seconds"].native is None
    # 250 ms accuracy: genTime in hundredths of a second at most
    raw = info["gen_time"].contents.decode()
    assert re.fullmatch(r"\d{14}(\.\d{1,2})?Z", raw), raw
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(body)
    ok, out = openssl_verify(str(tsr), str(data), ca.pem)
    assert ok, out


def test_gen_time_has_no_trailing_zeros_and_is_utc(units):
    """The default accuracy is 1 s, so genTime is in tenths of a second
    (e.g. 20260101120001.2Z), without a trailing zero or a bare dot."""
    for _ in range(20):
        req, _ = tsp_util.request(os.urandom(8))
        _, _, body = units["p256"].post(req)
        info = tsp_util.tst_info(body)
        raw = info["gen_time"].contents.decode()
        assert raw.endswith("Z")
        if "." in raw:
            frac = raw[raw.index(".") + 1:-1]
            assert len(frac) == 1 and frac != "0", raw
