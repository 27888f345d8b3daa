"""Every unacceptable request gets a TimeStampResp with status rejection
and the right failInfo, over HTTP, and leaves no trace: the next good
request gets the next serial."""
import hashlib

import pytest
from asn1crypto import tsp

import tsp_util


def serial_of(body):
    return tsp_util.tst_info(body)["serial_number"].native


def reject_case(name):
    if name == "bad_alg_unknown":  # MD5 is not a hash anyone may use
        return tsp_util.request(digest=hashlib.md5(b"x").digest(),
                                hash_name="md5")[0], "bad_alg"
    if name == "bad_alg_not_configured":
        return tsp_util.request(b"x", "sha1")[0], "bad_alg"
    if name == "imprint_length":
        return tsp_util.request(digest=b"\x01" * 31)[0], "bad_data_format"
    if name == "version":
        return tsp_util.request(b"x", version=2)[0], "bad_data_format"
    if name == "policy":
        return tsp_util.request(b"x", policy="1.2.3.4.5")[0], "unaccepted_policy"
    if name == "extension":
        ext = tsp.Extensions([{"extn_id": "1.2.3.4", "critical": False,
                                "extn_value": b"\x05\x00"}])
        # asn1crypto names bit 16 "unaccepted_extensions"
        return tsp_util.request(b"x", extensions=ext)[0], "unaccepted_extensions"
    if name == "nonce_too_long":
        return tsp_util.request(b"x", nonce=1 << 300)[0], "bad_data_format"
    raise KeyError(name)


CASES = ["bad_alg_unknown", "bad_alg_not_configured", "imprint_length",
         "version", "policy", "extension", "nonce_too_long"]


@pytest.mark.parametrize("case", CASES)
def test_rejection_has_precise_fail_info(unit, case):
    good, _ = tsp_util.request(b"before")
    _, _, body = unit.post(good)
    before = serial_of(body)

    req, fail = reject_case(case)
    status, headers, body = unit.post(req)
    assert status == 200
    assert headers["Content-Type"] == "application/timestamp-reply"
    st, fails, text = tsp_util.status_of(body)
    assert st == "rejection"
    assert fails == {fail}
    assert text and text[0]
    assert tsp_util.parse_response(body)["time_stamp_token"].native is None

    _, _, body = unit.post(tsp_util.request(b"after")[0])
    assert serial_of(body) == before + 1


def test_matching_policy_is_accepted(unit):
    req, _ = tsp_util.request(b"x", policy="0.4.0.2023.1.1")
    status, _, body = unit.post(req)
    assert status == 200
    assert tsp_util.status_of(body)[0] == "granted"


@pytest.mark.parametrize("body", [b"\x00", b"\x30\x80\x00\x00",
                                  b"\x30\x03\x02\x01\x01",
                                  b"not a request at all",
                                  tsp_util.request(b"x")[0] + b"\x00"])
def test_not_a_request_is_400_with_bad_data_format(unit, body):
    status, headers, reply = unit.post(body)
    assert status == 400
    assert headers["Content-Type"] == "application/timestamp-reply"
    st, fails, _ = tsp_util.status_of(reply)
    assert st == "rejection" and fails == {"bad_data_format"}


def test_sha1_accepted_when_configured(unit_factory, ca):
    import sello_abi as abi
    mask = sum(1 << abi.HASH_IDS[h] for h in ("sha1", "sha256"))
    u = unit_factory("sha1").start_sim().provision(
        ca, params=[(abi.INIT_HASHES, mask.to_bytes(4, "big"))]).start_relay(
            time_feed=False)
    _, _, body = u.post(tsp_util.request(b"x", "sha1")[0])
    assert tsp_util.status_of(body)[0] == "granted"
    _, _, body = u.post(tsp_util.request(b"x", "sha512")[0])
    assert tsp_util.status_of(body)[1] == {"bad_alg"}
