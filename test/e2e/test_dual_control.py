"""Dual control (M-of-N activation), attacked by a compromised host.

Every test plays the host through the raw module ABI (sello_abi.Module): it
sees only what a relay sees (frames, share boxes, submissions in transit)
plus, where a test says so, what a careless or compromised custodian could
hand it (opened shares). Custodian keys are X25519 keys made here; the boxes
are sealed and opened by sello_abi's own implementation of abi.h. Each test
runs against both key engines (module storage and a SoftHSMv2 token) unless
it says why not.
"""
import datetime
import hashlib
import os
import re
import shutil
import time

import pytest
from asn1crypto import x509

import sello_abi as abi
import tsp_util
from conftest import wait_for

# Reasons the module gives with SELLO_ERR_SHARE (the specification's words).
DECRYPT = r"decrypt|does not open"
OTHER_UNIT = r"another unit"
EARLIER = r"earlier ceremony|another (key )?ceremony"
MAC = r"\bMAC\b|corrupt"
DUPLICATE = r"already submitted"

EKU = "extendedKeyUsage = critical, timeStamping"


# ---- helpers ---------------------------------------------------------------

def expect(fn, status, pattern=None):
    """fn() must fail with `status` (and a reason matching `pattern`)."""
    with pytest.raises(abi.ModuleError) as e:
        fn()
    err = e.value
    assert err.status == status, (
        f"expected {abi.STATUS_NAMES[status]}, got {err}")
    if pattern:
        assert re.search(pattern, err.reason, re.I), (
            f"{abi.STATUS_NAMES[status]} reason {err.reason!r} does not "
            f"match {pattern!r}")
    return err


def stable(st):
    """STATUS without what moves by itself (the clock reading and error
    bound, a lockout's remaining seconds) or with every audited request
    (the audit chain's position)."""
    return {k: v for k, v in st.items() if k not in abi.ST_VOLATILE}


def stamp(m, data=b"dual control"):
    """(PKIStatus, failInfo names, status strings, TimeStampResp DER)."""
    req, _ = tsp_util.request(data)
    _, body = m.stamp(req)
    st, fails, text = tsp_util.status_of(body)
    return st, fails, " ".join(text), body


def assert_refused(m, pattern=None):
    """STAMP answered with a rejection, failInfo systemFailure only, and a
    status string (matching `pattern`)."""
    st, fails, text, body = stamp(m)
    assert st == "rejection" and fails == {"system_failure"}, (st, fails, text)
    assert text, "a refusal must say why"
    if pattern:
        assert re.search(pattern, text, re.I), text
    assert tsp_util.parse_response(body)["time_stamp_token"].native is None
    return text


def stamp_serial(m, data=b"x"):
    """A granted token's serial (the time floor may hold stamping briefly
    after a restart)."""
    for _ in range(200):
        st, fails, text, body = stamp(m, data)
        if st == "granted":
            return tsp_util.tst_info(body)["serial_number"].native
        assert fails == {"time_not_available"}, (st, fails, text)
        time.sleep(0.05)
    raise AssertionError("stamping stayed unavailable")


def u8(v):
    return bytes([v])


def first_of_month_us(year, month):
    """UTC microseconds of 00:00:00 on the first of year-month."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    d = datetime.datetime(year, month, 1, tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1_000_000


def next_month_us(months=2):
    """The first of the month `months` after this one, at midnight: far
    enough ahead that no leap pause is near while a test runs."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return first_of_month_us(now.year, now.month + months)


def u32(v):
    return v.to_bytes(4, "big")


@pytest.fixture
def ready(unit_factory, ca, engine):
    """A unit after the ceremony, certificate loaded and clock set, but not
    activated: READY (3 custodians, threshold 2)."""
    return unit_factory(engine=engine).start_sim().provision(ca,
                                                             activate=False)


# ---- the ceremony ----------------------------------------------------------

def test_ceremony_outputs(unit_factory, ca, engine):
    """INIT returns the SPKI, its SHA-256 as unit id and one box per
    custodian, each opening only with its custodian's key to a well-formed
    share; the shares are points of one polynomial; STATUS agrees."""
    u = unit_factory(engine=engine).start_sim()
    u.ceremony(n=4, m=3)
    assert u.unit_id == hashlib.sha256(u.spki).digest()
    assert [len(b) for b in u.share_boxes] == [abi.SHARE_BOX_LEN] * 4
    for i, box in enumerate(u.share_boxes):
        other = u.custodians[(i + 1) % 4]
        with pytest.raises(ValueError):
            abi.open_share(other, box)
    fields = [abi.parse_share(s) for s in u.shares]
    for x, f in enumerate(fields, 1):
        assert f["version"] == abi.SHARE_FORMAT
        assert f["unit_id"] == u.unit_id
        assert (f["m"], f["n"], f["x"]) == (3, 4, x)
        assert f["module_key"] == fields[0]["module_key"]
        assert f["generation"] == fields[0]["generation"]
    assert len({f["y"] for f in fields}) == 4
    assert len({f["mac"] for f in fields}) == 4
    # any three shares give one secret, two give another
    pts = [(f["x"], f["y"]) for f in fields]
    k = abi.shamir_combine(pts[:3])
    assert abi.shamir_combine(pts[1:]) == k
    assert abi.shamir_combine([pts[0], pts[1], pts[3]]) == k
    assert abi.shamir_combine(pts[:2]) != k
    # the host saw nothing but ciphertext
    for f in fields:
        assert all(f["y"] not in b for b in u.share_boxes)
    with u.module() as m:
        st = m.status()
        assert st["state"] == abi.STATE_INITIALISED
        assert st["unlocked"] == 1
        assert (st["threshold"], st["custodians"]) == (3, 4)
        assert st["unit_id"] == u.unit_id
        assert st["engine"] == abi.ENGINES[engine]
        assert st["generation"] == fields[0]["generation"]
        assert st["simulation"] == 1
        assert st["test_unit"] == 1  # what sello-sim makes, and only that
        assert "session" not in st and st.get("failures", 0) == 0


@pytest.mark.parametrize("engine_name,key,n", [
    ("module", "p256", 16), ("token", "p256", 16), ("module", "p384", 16),
    ("module", "rsa2048", 16), ("module", "rsa4096", 3)])
def test_every_share_box_opens(unit_factory, ca, engine_name, key, n):
    """Every custodian can open its box, whatever the key type and up to
    sixteen custodians, and the last custodian's share activates as well
    as the first's."""
    u = unit_factory(engine=engine_name).start_sim()
    u.custodians = [abi.new_x25519_key()[0] for _ in range(n)]
    with u.module() as m:
        u.spki, u.unit_id, u.share_boxes = m.init(u.custodians, 2,
                                                  u.init_params(key))
    unopened = []
    for x, (priv, box) in enumerate(zip(u.custodians, u.share_boxes), 1):
        try:
            abi.open_share(priv, box)
        except ValueError:
            unopened.append(x)
    assert not unopened, (f"{key}, N={n}: the boxes of custodians "
                          f"{unopened} do not open with their keys")
    u.shares = [abi.open_share(p, b)
                for p, b in zip(u.custodians, u.share_boxes)]
    u.threshold = 2
    with u.module() as m:
        csr = m.call(abi.OP_GET_CSR)
        cert = ca.issue(csr, os.path.join(u.dir, "tsa.pem"))
        m.call(abi.OP_LOAD_CERT, cert + ca.der)
        assert m.activate([u.shares[-1], u.shares[0]])["done"] == 1
        assert m.status()["state"] == abi.STATE_ACTIVE


def test_load_cert_locks_the_key(unit_factory, ca, engine):
    u = unit_factory(engine=engine).start_sim().provision(ca, activate=False)
    with u.module() as m:
        st = m.status()
        assert st["state"] == abi.STATE_READY and st["unlocked"] == 0
        expect(lambda: m.call(abi.OP_GET_CSR), abi.ERR_STATE)


def test_m_minus_one_shares_do_not_activate(ready):
    with ready.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        assert len(s["id"]) == abi.SESSION_ID_LEN
        assert len(s["challenge"]) == 32 and len(s["pubkey"]) == 32
        assert s["purpose"] == abi.PURPOSE_ACTIVATE
        assert (s["threshold"], s["custodians"]) == (2, 3)
        assert s["unit_id"] == ready.unit_id
        assert s["accepted"] == 0
        assert 0 < s["expires_s"] <= abi.SESSION_LIFETIME_S
        r = m.submit(s, ready.shares[0])
        assert r["accepted"] == 1 and r.get("done", 0) == 0
        st = m.status()
        assert st["state"] == abi.STATE_READY and st["unlocked"] == 0
        assert st["session"] == abi.PURPOSE_ACTIVATE
        assert st["session_accepted"] == 1
        assert_refused(m, r"activ")
        expect(lambda: m.call(abi.OP_GET_CSR), abi.ERR_STATE)
        # the M-th share completes it
        r = m.submit(s, ready.shares[2])
        assert r["accepted"] == 2 and r["done"] == 1
        st = m.status()
        assert st["state"] == abi.STATE_ACTIVE and st["unlocked"] == 1
        assert "session" not in st
        assert stamp(m)[0] == "granted"


def test_any_m_of_n_activate(unit_factory, ca, engine):
    """3 of 5, the shares not the first ones and not in order."""
    u = unit_factory(engine=engine).start_sim().provision(
        ca, n=5, m=3, activate=False)
    with u.module() as m:
        r = m.activate([u.shares[4], u.shares[1], u.shares[3]])
        assert r["done"] == 1 and r["accepted"] == 3
        assert m.status()["state"] == abi.STATE_ACTIVE
        assert stamp(m)[0] == "granted"


def test_same_share_twice_in_one_session(ready):
    with ready.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        first = abi.seal_submission(s, ready.shares[1])
        assert m.submit_raw(first)["accepted"] == 1
        before = m.status()
        # sealed afresh, and the very same bytes again
        expect(lambda: m.submit(s, ready.shares[1]), abi.ERR_SHARE, DUPLICATE)
        expect(lambda: m.submit_raw(first), abi.ERR_SHARE, DUPLICATE)
        after = m.status()
        assert after["session_accepted"] == 1
        assert after["failures"] == before["failures"] == 0
        assert after["state"] == abi.STATE_READY
        r = m.submit(s, ready.shares[0])
        assert r["done"] == 1
        assert m.status()["state"] == abi.STATE_ACTIVE


def test_share_of_another_unit_is_refused(ready, unit_factory, ca):
    other = unit_factory("other").start_sim().provision(ca, activate=False)
    with ready.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        # as the other unit's custodian would seal it (to that unit's
        # ceremony key): unreadable here
        expect(lambda: m.submit(s, other.shares[0]), abi.ERR_SHARE, DECRYPT)
        assert m.status()["failures"] == 1
        # re-addressed to this unit's ceremony key: readable, still refused
        mine = abi.parse_share(ready.shares[0])["module_key"]
        forged = (other.shares[0][:abi.SHARE_MODULE_KEY] + mine
                  + other.shares[0][abi.SHARE_MAC:])
        expect(lambda: m.submit(s, forged), abi.ERR_SHARE,
               OTHER_UNIT + "|" + MAC)
        st = m.status()
        assert st["failures"] == 2 and st["session_accepted"] == 0
        assert st["state"] == abi.STATE_READY
        # together with one good share it is no quorum either
        assert m.submit(s, ready.shares[0])["accepted"] == 1
        expect(lambda: m.submit(s, forged), abi.ERR_SHARE,
               OTHER_UNIT + "|" + MAC)
        assert m.status()["state"] == abi.STATE_READY
    with other.module() as m:
        assert m.status()["state"] == abi.STATE_READY


def test_replayed_submissions_are_refused(ready):
    with ready.module() as m:
        s1 = m.session_open(abi.PURPOSE_ACTIVATE, new=True)
        early = abi.seal_submission(s1, ready.shares[0])
        s2 = m.session_open(abi.PURPOSE_ACTIVATE, new=True)
        assert s2["id"] != s1["id"]
        assert s2["challenge"] != s1["challenge"]
        assert s2["pubkey"] != s1["pubkey"]
        # made for session 1, sent after session 2 replaced it
        expect(lambda: m.submit_raw(early), abi.ERR_SESSION)
        st = m.status()
        assert st["failures"] == 0 and st["session_accepted"] == 0
        # captured in session 2, re-sent into session 3 as if made for it
        captured = abi.seal_submission(s2, ready.shares[0])
        assert m.submit_raw(captured)["accepted"] == 1
        s3 = m.session_open(abi.PURPOSE_ACTIVATE, new=True)
        assert s3["accepted"] == 0
        rewritten = s3["id"] + captured[abi.SESSION_ID_LEN:]
        expect(lambda: m.submit_raw(rewritten), abi.ERR_SHARE, DECRYPT)
        expect(lambda: m.submit_raw(captured), abi.ERR_SESSION)
        st = m.status()
        assert st["failures"] == 1 and st["session_accepted"] == 0
        assert st["state"] == abi.STATE_READY
        # sealed for another purpose: the purpose is bound in
        lying = abi.seal_submission(s3, ready.shares[1],
                                    purpose=abi.PURPOSE_DESTROY)
        expect(lambda: m.submit_raw(lying), abi.ERR_SHARE, DECRYPT)
        assert m.status()["failures"] == 2
        # honest custodians still can
        m.submit(s3, ready.shares[0])
        assert m.submit(s3, ready.shares[1])["done"] == 1
        st = m.status()
        assert st["state"] == abi.STATE_ACTIVE and st["failures"] == 0


def test_join_and_replace(ready):
    """SESSION_OPEN joins an open session of the same purpose (custodians
    submit from separate invocations); another purpose, or NEW, replaces
    it and its progress."""
    with ready.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        m.submit(s, ready.shares[0])
    with ready.module() as m:
        j = m.session_open(abi.PURPOSE_ACTIVATE)
        assert (j["id"], j["challenge"], j["pubkey"]) == (
            s["id"], s["challenge"], s["pubkey"])
        assert j["accepted"] == 1
        r = m.session_open(abi.PURPOSE_RECALIBRATE,
                           proposal=abi.time_proposal())
        assert r["id"] != s["id"] and r["accepted"] == 0
        assert m.status()["session"] == abi.PURPOSE_RECALIBRATE
        a = m.session_open(abi.PURPOSE_ACTIVATE)
        assert a["id"] not in (s["id"], r["id"]) and a["accepted"] == 0
        m.submit(a, ready.shares[0])
        n = m.session_open(abi.PURPOSE_ACTIVATE, new=True)
        assert n["id"] != a["id"] and n["accepted"] == 0
        expect(lambda: m.submit(a, ready.shares[1]), abi.ERR_SESSION)
        assert m.status()["state"] == abi.STATE_READY


@pytest.mark.parametrize("where", ["y", "mac", "unit_id", "generation",
                                   "x", "box_ephemeral", "box_ciphertext",
                                   "box_tag"])
def test_corrupted_share_is_refused(ready, where):
    good = ready.shares[0]
    with ready.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        before = m.status()
        if where.startswith("box_"):
            sub = abi.seal_submission(s, good)
            off = abi.SESSION_ID_LEN + {
                "box_ephemeral": 7, "box_ciphertext": 32 + abi.SHARE_Y + 3,
                "box_tag": 32 + abi.SHARE_LEN + 15}[where]
            call, reason = (lambda: m.submit_raw(abi.flip(sub, off))), DECRYPT
        else:
            off, reason = {
                "y": (abi.SHARE_Y + 31, MAC),
                "mac": (abi.SHARE_MAC, MAC),
                "unit_id": (abi.SHARE_UNIT_ID + 5, OTHER_UNIT + "|" + MAC),
                "generation": (abi.SHARE_GENERATION + 3,
                               EARLIER + "|" + MAC),
                "x": (abi.SHARE_X, MAC),
            }[where]
            bad = abi.flip(good, off)
            call = lambda: m.submit(s, bad)  # noqa: E731
        expect(call, abi.ERR_SHARE, reason)
        after = m.status()
        assert after["failures"] == before["failures"] + 1
        assert after["session_accepted"] == 0
        # the durable failure count may move the serial counter on (gaps
        # are allowed); nothing else changes
        assert dict(stable(after), next_serial=0) == dict(
            stable(before), failures=before["failures"] + 1, next_serial=0)
        assert after["next_serial"] >= before["next_serial"]
        # the good share is still accepted afterwards, in the same session
        assert m.submit(s, good)["accepted"] == 1
        assert m.submit(s, ready.shares[1])["done"] == 1
        assert m.status()["state"] == abi.STATE_ACTIVE


def test_not_active_means_no_tokens(unit_factory, ca, engine):
    """Before activation, after DEACTIVATE and after a restart: STAMP is
    answered with systemFailure and a reason, never a token."""
    u = unit_factory(engine=engine).start_sim().provision(ca, activate=False)
    with u.module() as m:
        assert_refused(m, r"activ")
        m.activate(u.shares[:2])
        assert stamp(m)[0] == "granted"
        # a session in progress ends with DEACTIVATE
        s = m.session_open(abi.PURPOSE_RECALIBRATE,
                           proposal=abi.time_proposal())
        m.submit(s, u.shares[0])
        assert m.deactivate() == b""
        st = m.status()
        assert st["state"] == abi.STATE_READY and st["unlocked"] == 0
        assert "session" not in st
        expect(lambda: m.submit(s, u.shares[1]), abi.ERR_SESSION)
        assert_refused(m, r"activ")
        expect(lambda: m.call(abi.OP_GET_CSR), abi.ERR_STATE)
        m.activate(u.shares[1:3])
        assert stamp(m)[0] == "granted"
    u.restart_sim(set_time=True)
    with u.module() as m:
        st = m.status()
        assert st["state"] == abi.STATE_READY and st["unlocked"] == 0
        assert st["clock"] == abi.CLOCK_SYNCHRONISED
        assert_refused(m, r"activ")
        m.activate(u.shares[:2])
        assert stamp_serial(m) > 0


def test_ready_unit_over_http_is_a_system_failure_reply(unit_factory, ca,
                                                        engine):
    u = unit_factory(engine=engine).start_sim().provision(
        ca, activate=False).start_relay(time_feed=False)
    req, _ = tsp_util.request(b"over http")
    status, headers, body = u.post(req)
    assert status == 200
    assert headers["Content-Type"] == "application/timestamp-reply"
    st, fails, text = tsp_util.status_of(body)
    assert st == "rejection" and fails == {"system_failure"}
    assert text and re.search(r"activ", " ".join(text), re.I), text


def test_http_port_carries_no_ceremony_operation(unit_factory, ca, engine):
    """Frames for DEACTIVATE and the session opcodes posted to the HTTP
    port are undecodable requests (400), and the module is untouched: a
    remote client cannot stop the unit or open sessions."""
    u = unit_factory(engine=engine).start_sim().provision(ca).start_relay(
        time_feed=False)
    before = stable(u.status())
    for op, payload in [(abi.OP_DEACTIVATE, b""),
                        (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_DESTROY)),
                        (abi.OP_SESSION_SUBMIT, bytes(abi.SUBMIT_LEN))]:
        frame = abi.HEADER.pack(abi.MAGIC, abi.VERSION, op, 0, 1,
                                len(payload)) + payload
        status, _, body = u.post(frame)
        assert status == 400, (op, status)
        assert tsp_util.status_of(body)[1] == {"bad_data_format"}
    after = stable(u.status())
    assert after["state"] == abi.STATE_ACTIVE
    assert after == before


# ---- malformed frames for the new opcodes ------------------------------------

def test_unknown_opcodes_change_nothing(ready):
    with ready.module() as m:
        m.submit(m.session_open(abi.PURPOSE_ACTIVATE), ready.shares[0])
        before = stable(m.status())
        for op in range(256):
            if op in abi.KNOWN_OPS:
                continue
            code, _, body = m.call_raw(op, u8(abi.PURPOSE_ACTIVATE)
                                       + bytes(abi.SUBMIT_LEN))
            assert code == abi.ERR_OPCODE, (op, code, body)
        assert stable(m.status()) == before


def test_malformed_session_frames(ready):
    with ready.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        m.submit(s, ready.shares[0])
        before = stable(m.status())
        assert before["session_accepted"] == 1
        good = abi.seal_submission(s, ready.shares[1])
        cases = [
            (abi.OP_SESSION_OPEN, b"", abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(0), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(5), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(0xff), abi.ERR_PARAM),
            # proposals: required, refused, or malformed
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_RECALIBRATE), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_LEAP), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_DESTROY) + u8(0)
             + abi.time_proposal(), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_ACTIVATE) + u8(0)
             + abi.time_proposal()[:-1], abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_ACTIVATE) + u8(0)
             + abi.time_proposal() + u8(0), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_ACTIVATE)
             + abi.time_proposal(), abi.ERR_PARAM),  # no flags octet
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_ACTIVATE) + u8(0)
             + abi.time_proposal(uncertainty_us=1_000_001), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_RECALIBRATE) + u8(0)
             + abi.time_proposal(utc_us=0), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_LEAP) + u8(0)
             + abi.leap_proposal(next_month_us(2) + 1, abi.LEAP_INSERTED),
             abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_LEAP) + u8(0)
             + abi.leap_proposal(next_month_us(2) + 86_400_000_000,
                                 abi.LEAP_INSERTED), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_LEAP) + u8(0)
             + abi.leap_proposal(next_month_us(2), 3), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_LEAP) + u8(0)
             + abi.leap_proposal(next_month_us(2), abi.LEAP_CANCEL),
             abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_LEAP) + u8(0)
             + abi.leap_proposal(first_of_month_us(1990, 1),
                                 abi.LEAP_INSERTED), abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_LEAP) + u8(0)
             + abi.leap_proposal(next_month_us(15), abi.LEAP_INSERTED),
             abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(0) + u8(abi.SESSION_OPEN_NEW),
             abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_ACTIVATE) + u8(0x02),
             abi.ERR_PARAM),
            (abi.OP_SESSION_OPEN, u8(abi.PURPOSE_ACTIVATE)
             + u8(abi.SESSION_OPEN_NEW) + u8(0), abi.ERR_PARAM),
            (abi.OP_SESSION_SUBMIT, b"", abi.ERR_PARAM),
            (abi.OP_SESSION_SUBMIT, s["id"], abi.ERR_PARAM),
            (abi.OP_SESSION_SUBMIT, good[:-1], abi.ERR_PARAM),
            (abi.OP_SESSION_SUBMIT, good + b"\x00", abi.ERR_PARAM),
            (abi.OP_SESSION_SUBMIT, good + good, abi.ERR_PARAM),
        ]
        wrong = []
        for op, payload, want in cases:
            code, _, body = m.call_raw(op, payload)
            if code != want:
                wrong.append(f"{abi.STATUS_NAMES.get(code)} ({body.decode()})"
                             f" for op {op:#x} with {len(payload)} octets")
            assert code != abi.OK and body, (op, payload[:24].hex())
            assert stable(m.status()) == before, (op, payload[:24].hex())
        assert not wrong, "expected ERR_PARAM:\n" + "\n".join(wrong)
        # and the session is intact: the good submission completes it
        assert m.submit_raw(good)["done"] == 1


def init_items(u, custodians=None, m=2, extra=(), test_unit=True):
    """A valid INIT item list for unit u, for malforming (test_unit=False
    leaves out the test-unit mark, which sello-sim requires)."""
    keys = custodians if custodians is not None else [
        abi.new_x25519_key()[1] for _ in range(3)]
    return (u.init_params(test_unit=test_unit)
            + [(abi.INIT_CUSTODIAN, k) for k in keys]
            + [(abi.INIT_THRESHOLD, u8(m))] + list(extra))


def test_malformed_init(unit_factory, engine):
    u = unit_factory(engine=engine).start_sim()
    k = [abi.new_x25519_key()[1] for _ in range(17)]
    low_order = [bytes(32), (1).to_bytes(32, "little"),
                 bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46a"
                               "da098deb9c32b1fd866205165f49b800")]
    valid = abi.tlv(init_items(u, k[:3]))
    cases = {
        "truncated header": valid + b"\x0b\x00",
        "truncated value": valid[:-1],
        "truncated custodian": valid
        + abi.tlv([(abi.INIT_CUSTODIAN, k[3])])[:20],
        "no custodians": abi.tlv(init_items(u, [])),
        "one custodian": abi.tlv(init_items(u, k[:1], m=2)),
        "N=17": abi.tlv(init_items(u, k[:17], m=2)),
        "M>N": abi.tlv(init_items(u, k[:3], m=4)),
        "M=1": abi.tlv(init_items(u, k[:3], m=1)),
        "M=0": abi.tlv(init_items(u, k[:3], m=0)),
        "no threshold": abi.tlv(init_items(u, k[:3])[:-1]),
        "threshold twice": abi.tlv(init_items(
            u, k[:3], extra=[(abi.INIT_THRESHOLD, u8(3))])),
        "threshold u16": abi.tlv(init_items(u, k[:3])[:-1]
                                 + [(abi.INIT_THRESHOLD, b"\x00\x02")]),
        "duplicate custodian": abi.tlv(init_items(u, [k[0], k[1], k[0]])),
        "custodian 31 octets": abi.tlv(init_items(u, [k[0], k[1], k[2][:31]])),
        "custodian 33 octets": abi.tlv(init_items(u, [k[0], k[1],
                                                      k[2] + b"\x00"])),
        "zero key": abi.tlv(init_items(u, [k[0], low_order[0], k[1]])),
        "key u=1": abi.tlv(init_items(u, [k[0], k[1], low_order[1]])),
        "order-8 key": abi.tlv(init_items(u, [low_order[2], k[0], k[1]])),
        "engine 0": abi.tlv(init_items(u, k[:3], extra=[
            (abi.INIT_ENGINE, u8(0))])),
        "engine 3": abi.tlv(init_items(u, k[:3], extra=[
            (abi.INIT_ENGINE, u8(3))])),
        "lockout failures 0": abi.tlv(init_items(u, k[:3], extra=[
            (abi.INIT_LOCKOUT_FAILURES, u8(0))])),
        "lockout failures 101": abi.tlv(init_items(u, k[:3], extra=[
            (abi.INIT_LOCKOUT_FAILURES, u8(101))])),
        "lockout 0 s": abi.tlv(init_items(u, k[:3], extra=[
            (abi.INIT_LOCKOUT_S, u32(0))])),
        "lockout 604801 s": abi.tlv(init_items(u, k[:3], extra=[
            (abi.INIT_LOCKOUT_S, u32(604801))])),
        "unknown type": abi.tlv(init_items(u, k[:3], extra=[(99, b"\x01")])),
        "test unit 2": abi.tlv(init_items(u, k[:3], test_unit=False, extra=[
            (abi.INIT_TEST_UNIT, u8(2))])),
        "test unit u16": abi.tlv(init_items(u, k[:3], test_unit=False, extra=[
            (abi.INIT_TEST_UNIT, b"\x00\x01")])),
        "test unit empty": abi.tlv(init_items(u, k[:3], test_unit=False,
                                              extra=[(abi.INIT_TEST_UNIT,
                                                      b"")])),
        "test unit twice": abi.tlv(init_items(u, k[:3], extra=[
            (abi.INIT_TEST_UNIT, u8(1))])),
    }
    if engine == "token":  # the engine item is already there once
        del cases["engine 0"], cases["engine 3"]
    with u.module() as m:
        before = stable(m.status())
        assert before["state"] == abi.STATE_UNINITIALISED
        for name, payload in cases.items():
            code, _, body = m.call_raw(abi.OP_INIT, payload)
            assert code == abi.ERR_PARAM, (name, abi.STATUS_NAMES.get(code),
                                           body)
            assert body, f"{name}: a refusal must carry a reason"
            assert stable(m.status()) == before, name
        # the valid list it was all made from works, with the edge values
        spki, uid, boxes = m.init_raw(abi.tlv(init_items(u, k[:16], m=16)))
        assert len(boxes) == 16 and uid == hashlib.sha256(spki).digest()
        st = m.status()
        assert (st["threshold"], st["custodians"]) == (16, 16)


def test_simulation_makes_test_units_only(unit_factory, engine):
    """sello-sim is a simulation board: INIT without the test-unit mark,
    or with it 0, is refused with ERR_TEST_ONLY and a reason before
    anything happens (no audit record, the same STATUS, the token not
    taken over: the marked ceremony after it works). Marked, the unit is a
    test unit, also after a restart."""
    u = unit_factory(engine=engine).start_sim()
    with u.module() as m:
        before = stable(m.status())
        assert before["simulation"] == 1 and "test_unit" not in before
        logged = len(m.audit_log)
        for items in (init_items(u, test_unit=False),
                      init_items(u, test_unit=False, extra=[
                          (abi.INIT_TEST_UNIT, u8(0))])):
            code, flags, body = m.call_raw(abi.OP_INIT, abi.tlv(items))
            assert code == abi.ERR_TEST_ONLY, (abi.STATUS_NAMES.get(code),
                                               body)
            assert b"test unit" in body, body
            assert not flags & abi.FLAG_AUDIT
            assert len(m.audit_log) == logged
            assert stable(m.status()) == before
        assert m.call_raw(abi.OP_GET_CSR)[0] == abi.ERR_STATE
    u.ceremony()
    assert u.status()["test_unit"] == 1
    u.restart_sim()
    st = u.status()
    assert st["state"] == abi.STATE_INITIALISED and st["test_unit"] == 1


def test_token_engine_needs_a_token(unit_factory):
    """A sim started without --pkcs11-* has no token: INIT with the token
    engine is refused and nothing is created."""
    u = unit_factory().start_sim()
    with u.module() as m:
        before = stable(m.status())
        items = init_items(u, extra=[(abi.INIT_ENGINE, u8(abi.ENGINE_TOKEN))])
        code, _, body = m.call_raw(abi.OP_INIT, abi.tlv(items))
        assert code in (abi.ERR_PARAM, abi.ERR_NOT_FOUND), (
            abi.STATUS_NAMES.get(code), body)
        assert stable(m.status()) == before


# ---- lockout -----------------------------------------------------------------

LOCKOUT = [(abi.INIT_LOCKOUT_FAILURES, u8(3)), (abi.INIT_LOCKOUT_S, u32(2))]


def bad_submission(s, share):
    """A submission whose box does not open (one ciphertext bit flipped)."""
    return abi.flip(abi.seal_submission(s, share),
                    abi.SESSION_ID_LEN + 40)


def test_lockout_persists_and_expires(unit_factory, ca, engine):
    u = unit_factory(engine=engine).start_sim().provision(
        ca, params=LOCKOUT, activate=False)
    with u.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        for i in range(2):
            expect(lambda: m.submit_raw(bad_submission(s, u.shares[0])),
                   abi.ERR_SHARE, DECRYPT)
            assert m.status()["failures"] == i + 1
        assert "locked_s" not in m.status()
        expect(lambda: m.submit_raw(bad_submission(s, u.shares[0])),
               abi.ERR_SHARE, DECRYPT)
        locked_at = time.monotonic()
        st = m.status()
        assert st["failures"] == 3
        assert 1 <= st["locked_s"] <= 2, st
        # now even good shares are turned away
        expect(lambda: m.submit(s, u.shares[0]), abi.ERR_LOCKED)
        try:
            s = m.session_open(abi.PURPOSE_ACTIVATE, new=True)
        except abi.ModuleError as e:
            assert e.status == abi.ERR_LOCKED, e
        else:
            expect(lambda: m.submit(s, u.shares[0]), abi.ERR_LOCKED)
        assert m.status()["state"] == abi.STATE_READY
    u.restart_sim()
    with u.module() as m:
        st = m.status()
        assert st["failures"] == 3 and st.get("locked_s", 0) >= 1, st
        try:
            s = m.session_open(abi.PURPOSE_ACTIVATE)
        except abi.ModuleError as e:
            assert e.status == abi.ERR_LOCKED, e
        else:
            expect(lambda: m.submit(s, u.shares[0]), abi.ERR_LOCKED)
        wait_for(lambda: "locked_s" not in m.status(), timeout=6,
                 what="the lockout to expire")
        assert time.monotonic() - locked_at >= 1.5, "lockout ended early"
        r = m.activate(u.shares[1:3])
        assert r["done"] == 1
        st = m.status()
        assert st["state"] == abi.STATE_ACTIVE and st["failures"] == 0


def test_quorum_resets_failure_count(unit_factory, ca, engine):
    u = unit_factory(engine=engine).start_sim().provision(
        ca, params=[(abi.INIT_LOCKOUT_FAILURES, u8(3)),
                    (abi.INIT_LOCKOUT_S, u32(600))], activate=False)
    with u.module() as m:
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        for _ in range(2):
            expect(lambda: m.submit_raw(bad_submission(s, u.shares[2])),
                   abi.ERR_SHARE)
        assert m.status()["failures"] == 2
        m.submit(s, u.shares[0])
        assert m.submit(s, u.shares[2])["done"] == 1
        assert m.status()["failures"] == 0
        m.deactivate()
        # two more failures do not reach the limit of three
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        for _ in range(2):
            expect(lambda: m.submit_raw(bad_submission(s, u.shares[1])),
                   abi.ERR_SHARE)
        st = m.status()
        assert st["failures"] == 2 and "locked_s" not in st
        assert m.activate(u.shares[:2])["done"] == 1


# ---- destroy and recalibrate ---------------------------------------------------

@pytest.mark.parametrize("from_state", ["ready", "active"])
def test_destroy(unit_factory, ca, engine, from_state):
    u = unit_factory(engine=engine).start_sim().provision(
        ca, activate=from_state == "active")
    state = abi.STATE_ACTIVE if from_state == "active" else abi.STATE_READY
    with u.module() as m:
        before = m.status()
        gen = before["generation"]
        s = m.session_open(abi.PURPOSE_DESTROY)
        assert s["purpose"] == abi.PURPOSE_DESTROY
        r = m.submit(s, u.shares[1])
        assert r["accepted"] == 1 and r.get("done", 0) == 0
        st = m.status()
        assert st["state"] == state and st["unit_id"] == u.unit_id
        assert st["session"] == abi.PURPOSE_DESTROY
        if state == abi.STATE_ACTIVE:
            assert stamp(m)[0] == "granted"
        assert m.call(abi.OP_GET_CERTS)
        r = m.submit(s, u.shares[2])
        assert r["done"] == 1
        st = m.status()
        assert st["state"] == abi.STATE_UNINITIALISED, st
        assert "unit_id" not in st and st.get("unlocked", 0) == 0
        assert_refused(m)
        expect(lambda: m.call(abi.OP_GET_CSR), abi.ERR_STATE)
    if u.token:
        assert "sello-tsu" not in u.token.list_objects()
    old_shares = u.shares
    u.restart_sim()  # the erasure is durable
    with u.module() as m:
        assert m.status()["state"] == abi.STATE_UNINITIALISED
        expect(lambda: m.session_open(abi.PURPOSE_ACTIVATE), abi.ERR_STATE)
    old_id = u.unit_id
    u.provision(ca, activate=False)
    assert u.unit_id != old_id
    assert abi.parse_share(u.shares[0])["generation"] == gen + 1
    with u.module() as m:
        st = m.status()
        assert st["generation"] == gen + 1 and st["unit_id"] == u.unit_id
        s = m.session_open(abi.PURPOSE_ACTIVATE)
        for sh in old_shares:
            expect(lambda: m.submit(s, sh), abi.ERR_SHARE,
                   "|".join([DECRYPT, EARLIER, OTHER_UNIT]))
        # even re-addressed to the new ceremony key
        key = abi.parse_share(u.shares[0])["module_key"]
        moved = (old_shares[0][:abi.SHARE_MODULE_KEY] + key
                 + old_shares[0][abi.SHARE_MAC:])
        expect(lambda: m.submit(s, moved), abi.ERR_SHARE,
               "|".join([EARLIER, OTHER_UNIT, MAC]))
        assert m.status()["state"] == abi.STATE_READY
        assert m.activate(u.shares[:2])["done"] == 1
        assert stamp_serial(m) > 0


def test_recalibrate_calibrates_to_the_proposal(unit_factory, ca, engine):
    """RECALIBRATE needs a proposal; the quorum steps the clock to it (plus
    the time since the session opened), by any step, and SET_TIME stays
    refused before, during and after."""
    u = unit_factory(engine=engine).start_sim().provision(ca)
    with u.module() as m:
        later = abi.now_us() + 3_600_000_000
        expect(lambda: m.set_time(later // 1000), abi.ERR_STATE)
        s = m.session_open(abi.PURPOSE_RECALIBRATE,
                           proposal=abi.time_proposal(later, 5_000))
        assert abi.parse_proposal(s["proposal"]) == (later, 5_000)
        m.submit(s, u.shares[0])
        expect(lambda: m.set_time(later // 1000), abi.ERR_STATE)
        time.sleep(0.3)  # the quorum adds the time since the opening
        assert m.submit(s, u.shares[2])["done"] == 1
        st = m.status()
        assert st["state"] == abi.STATE_ACTIVE and st.get("time_doubt", 0) == 0
        assert st["clock"] == abi.CLOCK_SYNCHRONISED, st
        assert later // 1000 + 300 <= st["utc_ms"] < later // 1000 + 60_000
        # the opening's uncertainty, widened by drift since, at least
        assert st["clock_error_us"] >= 5_000
        expect(lambda: m.set_time(later // 1000 + 1000), abi.ERR_STATE)
        info = tsp_util.tst_info(stamp(m)[3])
        gen = info["gen_time"].native.timestamp()
        assert abs(gen - later / 1e6) < 60


# ---- anti-rollback -------------------------------------------------------------

def test_restored_state_is_detected(unit_factory, ca, engine):
    u = unit_factory(engine=engine).start_sim().provision(
        ca, params=[(abi.INIT_LOCKOUT_S, u32(2))])
    with u.module() as m:
        first = [stamp_serial(m, b"a%d" % i) for i in range(3)]
    u.stop_sim()
    copy = u.state + ".copy"
    shutil.copytree(u.state, copy)
    u.start_sim()
    u.activate()
    u.set_time_now()
    with u.module() as m:
        issued = [stamp_serial(m, b"b%d" % i) for i in range(5)]
    assert issued == sorted(set(issued)) and issued[0] > first[-1]
    u.stop_sim()
    shutil.rmtree(u.state)
    shutil.copytree(copy, u.state)
    u.start_sim()
    with u.module() as m:
        st = m.status()
        assert st["time_doubt"] == 1, st
        assert st["state"] == abi.STATE_READY
        assert st.get("locked_s", 0) >= 1, st  # and locked out for a while
        assert_refused(m)
        wait_for(lambda: "locked_s" not in m.status(), timeout=6,
                 what="the start-up lockout to expire")
        # activation alone (without a time to calibrate to) does not clear
        # the doubt
        assert m.activate(u.shares[:2])["done"] == 1
        assert m.status()["time_doubt"] == 1
        assert_refused(m, r"roll|recalibrat")
        # a calibration by the quorum does
        assert m.recalibrate(u.shares[1:3])["done"] == 1
        assert m.status().get("time_doubt", 0) == 0
        after = [stamp_serial(m, b"c%d" % i) for i in range(5)]
    assert after == sorted(set(after))
    assert min(after) > max(first + issued), (first, issued, after)


# ---- the token engine ------------------------------------------------------------

def test_token_is_taken_over(unit_factory, ca):
    """After the ceremony on the token engine the key lives in the token
    (its public half is there, matching the unit's SPKI), the private half
    is a private object, and neither of the operator's PINs logs in any
    more: only the module, under the quorum, can use the key."""
    import softhsm
    if not softhsm.available():
        pytest.skip("SoftHSMv2 is not installed")
    u = unit_factory(engine="token").start_sim()
    tok = u.token
    assert tok.login_works(tok.user_pin)  # the witness itself works
    u.provision(ca)
    with u.module() as m:
        assert m.status()["engine"] == abi.ENGINE_TOKEN
        assert stamp(m)[0] == "granted"
    public = tok.list_objects()
    assert "Public Key Object" in public and "sello-tsu" in public, public
    assert "Private Key Object" not in public, public
    assert tok.user_pin == "98765432"
    assert not tok.login_works("98765432")
    r = tok._run(tok._tool("--login", "--login-type", "so", "--so-pin",
                           tok.so_pin, "--list-objects"), check=False)
    assert r.returncode != 0, "the operator's SO PIN still works"
    # the token's public key is the unit's
    pub = os.path.join(u.dir, "token-pub.der")
    tok._run(tok._tool("--read-object", "--type", "pubkey", "--label",
                       "sello-tsu", "--output-file", pub))
    with open(pub, "rb") as f:
        der = f.read()
    assert der == u.spki, (der.hex(), u.spki.hex())


def test_token_signatures_verify(unit_factory, ca, tmp_path):
    """ECDSA from the token is randomised; openssl verifies each token."""
    import subprocess
    import softhsm
    if not softhsm.available():
        pytest.skip("SoftHSMv2 is not installed")
    u = unit_factory(engine="token").start_sim().provision(ca).start_relay(
        time_feed=False)
    data = tmp_path / "d"
    data.write_bytes(b"token engine")
    bodies = []
    for i in range(2):
        req, _ = tsp_util.request(b"token engine")
        status, _, body = u.post(req)
        assert status == 200 and tsp_util.status_of(body)[0] == "granted"
        tsr = tmp_path / f"r{i}.tsr"
        tsr.write_bytes(body)
        r = subprocess.run(["openssl", "ts", "-verify", "-in", str(tsr),
                            "-data", str(data), "-CAfile", ca.pem],
                           capture_output=True, text=True)
        assert "Verification: OK" in r.stdout, r.stdout + r.stderr
        bodies.append(body)


# ---- key life ----------------------------------------------------------------------

def utc(days=0):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now + datetime.timedelta(days=days)


def pkup(not_before, not_after):
    der = x509.PrivateKeyUsagePeriod({"not_before": not_before,
                                      "not_after": not_after}).dump()
    return "2.5.29.16 = DER:" + der.hex()


USAGE = r"usage.period|PrivateKeyUsagePeriod"


@pytest.mark.parametrize("period,granted", [
    ((-10, -1), False),   # ended yesterday
    ((1, 10), False),     # starts tomorrow
    ((-1, 1), True),      # now is inside
])
def test_private_key_usage_period(unit_factory, ca, engine, period, granted):
    nb, na = utc(period[0]), utc(period[1])
    u = unit_factory(engine=engine).start_sim().provision(
        ca, issue=lambda csr, out: ca.issue_with_extensions(
            csr, out, [EKU, pkup(nb, na)]))
    with u.module() as m:
        st = m.status()
        assert st["usage_not_after"] == int(na.timestamp()), (
            st["usage_not_after"], na)
        if granted:
            assert stamp(m)[0] == "granted"
        else:
            assert_refused(m, USAGE)


@pytest.mark.parametrize("days,granted", [(1, False), (10, True)])
def test_key_usage_days(unit_factory, ca, engine, days, granted):
    nb = utc(-3)
    u = unit_factory(engine=engine).start_sim().provision(
        ca, params=[(abi.INIT_KEY_USAGE_DAYS, u32(days))],
        issue=lambda csr, out: ca.issue_custom(csr, out, not_before=nb))
    cert = x509.Certificate.load(u.cert_der)
    assert cert.not_valid_before == nb
    with u.module() as m:
        st = m.status()
        end = int(nb.timestamp()) + days * 86400
        assert abs(st["usage_not_after"] - end) <= 1, (st["usage_not_after"],
                                                       end)
        if granted:
            assert stamp(m)[0] == "granted"
        else:
            assert_refused(m, USAGE)


def test_expired_certificate(unit_factory, ca, engine):
    u = unit_factory(engine=engine).start_sim()
    nb, na = utc(-10), utc(-1)
    u.provision(ca, issue=lambda csr, out: ca.issue_custom(
        csr, out, not_before=nb, not_after=na))
    with u.module() as m:
        assert m.status()["usage_not_after"] == int(na.timestamp())
        assert_refused(m, r"certificate|validity|expired")
