#!/usr/bin/python3
"""Helpers for making and checking Sello's committed test data.

Used by test/data/certs/make-certs.sh, test/data/golden/make-golden.sh and
test/data/tsp/make-vectors.py; never by the tests themselves.

  pkitool.py priv KEY.pem OUT
      Writes the private key in the module's own serialisation
      (firmware/engine_bearssl.c, sello_key_export_private):
        EC:  the scalar, 32 (P-256) or 48 (P-384) octets;
        RSA: n bit length (4 octets BE), then p, q, dp, dq, iq each as a
             2-octet BE length and the BE value.
  pkitool.py rsa-3mod4 KEY.pem
      Exit status 0 when the RSA key's p and q are both 3 mod 4 (what
      BearSSL's br_rsa_compute_pubexp, used by the module to rebuild the
      public key from the sealed private parts, requires).
  pkitool.py tsreq OUT [--hash H] [--data TEXT] [--nonce HEX] [--cert]
                       [--policy OID] [--null-params]
      Writes a DER TimeStampReq built octet by octet.
  pkitool.py check-resp RESP REQ TSU_CERT CA_CERT
      Checks a granted TimeStampResp independently of the firmware: canonical
      DER (asn1crypto re-encoding is identical), status granted, TSTInfo
      echoes the request, signed attributes DER-sorted, message digest,
      ESSCertIDv2 hash, the signature under the TSU certificate's key, and
      the TSU certificate under the CA's key.
"""
import hashlib
import sys

# ---- DER building -----------------------------------------------------------


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def seq(*parts):
    return tlv(0x30, b"".join(parts))


def integer(v):
    if v == 0:
        return tlv(0x02, b"\x00")
    n = (v.bit_length() + 8) // 8 if v > 0 else ((-v - 1).bit_length() + 8) // 8
    return tlv(0x02, v.to_bytes(n, "big", signed=True))


def oid_content(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = b""
    first = [arcs[0] * 40 + arcs[1]] + arcs[2:]
    for a in first:
        enc = [a & 0x7F]
        a >>= 7
        while a:
            enc.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(enc))
    return out


def oid(dotted):
    return tlv(0x06, oid_content(dotted))


HASH_OIDS = {
    "sha1": "1.3.14.3.2.26",
    "sha224": "2.16.840.1.101.3.4.2.4",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}


def tsreq(hash_name="sha256", data=b"sello", nonce=None, cert=False,
          policy=None, null_params=False, version=1):
    alg = oid(HASH_OIDS[hash_name]) + (b"\x05\x00" if null_params else b"")
    imprint = seq(seq(alg), tlv(0x04, hashlib.new(hash_name, data).digest()))
    body = integer(version) + imprint
    if policy:
        body += oid(policy)
    if nonce is not None:
        body += tlv(0x02, nonce)
    if cert:
        body += b"\x01\x01\xff"
    return seq(body)


# ---- keys -------------------------------------------------------------------


def sello_private(pem):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return key.private_numbers().private_value.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        half = (key.key_size // 2 + 7) // 8
        out = key.key_size.to_bytes(4, "big")
        for v in (n.p, n.q, n.dmp1, n.dmq1, n.iqmp):
            b = v.to_bytes(half, "big")
            out += len(b).to_bytes(2, "big") + b
        return out
    raise SystemExit("unsupported key type")


# ---- response checking --------------------------------------------------------


def verify_sig(cert, sig_alg, signature, data):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    pub = x509.load_der_x509_certificate(cert).public_key()
    name = sig_alg["algorithm"].native
    hname = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
             "sha512": hashes.SHA512()}
    h = next(v for k, v in hname.items() if k in name)
    if "ecdsa" in name:
        pub.verify(signature, data, ec.ECDSA(h))
    else:
        pub.verify(signature, data, padding.PKCS1v15(), h)


def check_resp(resp_der, req_der, tsu_der, ca_der):
    from asn1crypto import cms, tsp, x509 as ax509

    resp = tsp.TimeStampResp.load(resp_der)
    assert resp.dump(force=True) == resp_der, "TimeStampResp is not canonical DER"
    assert resp["status"]["status"].native == "granted", resp["status"].native
    token = resp["time_stamp_token"]
    assert token["content_type"].native == "signed_data"
    sd = token["content"]
    assert sd["version"].native == "v3"
    encap = sd["encap_content_info"]
    assert encap["content_type"].native == "tst_info"
    tst_der = encap["content"].contents
    tst = tsp.TSTInfo.load(tst_der)
    assert tst.dump(force=True) == tst_der, "TSTInfo is not canonical DER"
    req = tsp.TimeStampReq.load(req_der)
    assert tst["version"].native == "v1"
    assert tst["message_imprint"].dump() == req["message_imprint"].dump()
    if req["nonce"].native is not None:
        assert tst["nonce"].native == req["nonce"].native
    else:
        assert tst["nonce"].native is None
    if req["req_policy"].native is not None:
        assert tst["policy"].native == req["req_policy"].native
    assert tst["serial_number"].native > 0
    gt = tst["gen_time"].contents.decode()
    assert gt.endswith("Z") and not gt.endswith(".Z") and \
        not ("." in gt and gt[-2] == "0"), "genTime fraction not canonical: " + gt

    tsu_cert = ax509.Certificate.load(tsu_der)
    if tst["tsa"].native is not None:
        assert tst["tsa"].name == "directory_name"
        assert tst["tsa"].chosen.untag().dump() == tsu_cert.subject.dump(), \
            "tsa is not the TSU certificate's subject"
    if tst["extensions"].native is not None:
        exts = tst["extensions"]
        assert len(exts) == 1
        e = exts[0]
        assert e["extn_id"].dotted == "1.3.6.1.5.5.7.1.3"
        assert not e["critical"].native
        from asn1crypto import core
        qcs = core.SequenceOf.load(e["extn_value"].native if isinstance(
            e["extn_value"].native, bytes) else e["extn_value"].contents)
        stmt = qcs[0]
        raw = stmt.dump() if hasattr(stmt, "dump") else bytes(stmt)
        # QCStatement ::= SEQUENCE { statementId OID } for esi4-qtstStatement-1
        assert raw == seq(oid("0.4.0.19422.1.1")), raw.hex()
    acc = tst["accuracy"]
    assert acc.native is not None, "accuracy missing"

    certs = sd["certificates"]
    if req["cert_req"].native:
        assert len(certs) >= 1
        encs = [c.dump() for c in certs]
        assert encs == sorted(encs, key=lambda e: e + b"\0" * (max(map(len, encs)) - len(e))), \
            "certificates not DER-sorted"
        assert tsu_der in encs
    else:
        assert not certs or len(certs) == 0, "certificates sent without certReq"

    assert len(sd["signer_infos"]) == 1
    si = sd["signer_infos"][0]
    assert si["version"].native == "v1"
    tsu = ax509.Certificate.load(tsu_der)
    sid = si["sid"].chosen
    assert sid["issuer"].dump() == tsu.issuer.dump()
    assert sid["serial_number"].native == tsu.serial_number
    digest_name = si["digest_algorithm"]["algorithm"].native
    assert [a["algorithm"].native for a in sd["digest_algorithms"]] == [digest_name]

    attrs = si["signed_attrs"]
    encs = [a.dump() for a in attrs]
    width = max(map(len, encs))
    assert encs == sorted(encs, key=lambda e: e + b"\0" * (width - len(e))), \
        "signedAttrs are not DER-sorted"
    by_type = {a["type"].native: a["values"][0] for a in attrs}
    assert set(by_type) == {"content_type", "message_digest",
                            "signing_certificate_v2"}, set(by_type)
    assert by_type["content_type"].native == "tst_info"
    assert by_type["message_digest"].native == hashlib.new(digest_name, tst_der).digest()
    ess = by_type["signing_certificate_v2"]["certs"][0]
    ess_alg = ess["hash_algorithm"]["algorithm"].native
    assert ess_alg == "sha256"
    assert ess["cert_hash"].native == hashlib.sha256(tsu_der).digest()
    iss = ess["issuer_serial"]
    assert iss["issuer"][0].name == "directory_name"
    assert iss["issuer"][0].chosen.untag().dump() == tsu.issuer.dump()
    assert iss["serial_number"].native == tsu.serial_number

    signed = b"\x31" + attrs.dump()[1:]
    verify_sig(tsu_der, si["signature_algorithm"], si["signature"].native, signed)
    verify_sig(ca_der, tsu["signature_algorithm"], tsu["signature_value"].native,
               tsu["tbs_certificate"].dump())
    ext = {e["extn_id"].native: e for e in tsu["tbs_certificate"]["extensions"]}
    eku = ext["extended_key_usage"]
    assert eku["critical"].native and eku["extn_value"].native == ["time_stamping"]
    return tst


def main(argv):
    if len(argv) >= 3 and argv[0] == "priv":
        with open(argv[1], "rb") as f:
            data = sello_private(f.read())
        with open(argv[2], "wb") as f:
            f.write(data)
        return 0
    if len(argv) == 2 and argv[0] == "rsa-3mod4":
        from cryptography.hazmat.primitives import serialization
        with open(argv[1], "rb") as f:
            n = serialization.load_pem_private_key(f.read(), None).private_numbers()
        return 0 if n.p % 4 == 3 and n.q % 4 == 3 else 1
    if len(argv) >= 2 and argv[0] == "tsreq":
        import argparse
        p = argparse.ArgumentParser(prog="pkitool.py tsreq")
        p.add_argument("out")
        p.add_argument("--hash", default="sha256")
        p.add_argument("--data", default="sello")
        p.add_argument("--nonce")
        p.add_argument("--cert", action="store_true")
        p.add_argument("--policy")
        p.add_argument("--null-params", action="store_true")
        a = p.parse_args(argv[1:])
        der = tsreq(a.hash, a.data.encode(), bytes.fromhex(a.nonce) if a.nonce else None,
                    a.cert, a.policy, a.null_params)
        with open(a.out, "wb") as f:
            f.write(der)
        return 0
    if len(argv) == 5 and argv[0] == "check-resp":
        blobs = []
        for path in argv[1:]:
            with open(path, "rb") as f:
                blobs.append(f.read())
        tst = check_resp(*blobs)
        print(f"{argv[1]}: ok (serial {tst['serial_number'].native}, "
              f"genTime {tst['gen_time'].contents.decode()})")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
