"""Requests and responses built and read with asn1crypto: an ASN.1 library
nobody here wrote, so the tests do not share the module's encoder."""
import hashlib
import os

from asn1crypto import cms, core, tsp

FAIL_BITS = {"bad_alg": 0, "bad_request": 2, "bad_data_format": 5,
             "time_not_available": 14, "unaccepted_policy": 15,
             "unaccepted_extensions": 16, "add_info_not_available": 17,
             "system_failure": 25}


def request(data=b"sello", hash_name="sha256", nonce=True, cert_req=True,
            policy=None, version=1, extensions=None, digest=None,
            null_params=False):
    h = digest if digest is not None else hashlib.new(hash_name, data).digest()
    alg = {"algorithm": hash_name}
    if null_params:
        alg["parameters"] = core.Null()
    fields = {"version": version,
              "message_imprint": {"hash_algorithm": alg, "hashed_message": h},
              "cert_req": cert_req}
    if nonce is True:
        nonce = int.from_bytes(os.urandom(8), "big")
    if nonce is not None and nonce is not False:
        fields["nonce"] = nonce
    if policy:
        fields["req_policy"] = policy
    if extensions:
        fields["extensions"] = extensions
    return tsp.TimeStampReq(fields).dump(), fields.get("nonce")


class TimeStampResp(core.Sequence):
    """RFC 3161 2.4.2, with timeStampToken OPTIONAL as the RFC has it
    (asn1crypto's own definition makes it mandatory, so it cannot read a
    rejection)."""
    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def parse_response(der):
    resp = TimeStampResp.load(der, strict=True)
    return resp


def status_of(der):
    """(status name, set of failInfo names, status strings)."""
    resp = parse_response(der)
    st = resp["status"]
    fail = st["fail_info"]
    names = set(fail.native) if fail.native else set()
    text = [s for s in st["status_string"].native] if st["status_string"].native else []
    return st["status"].native, names, text


def tst_info(der):
    resp = parse_response(der)
    signed = resp["time_stamp_token"]["content"]
    return signed["encap_content_info"]["content"].parsed
