"""The host is untrusted: a client speaking the raw module ABI tries what a
compromised relay could. Every attempt fails with a clear status and
changes nothing."""
import struct

import pytest

import sello_abi as abi
import tsp_util

KNOWN_OPS = abi.KNOWN_OPS


def test_no_opcode_signs_caller_data(unit):
    """Every opcode outside the documented set is refused, whatever it
    carries; none of them returns a signature over the payload."""
    m = unit.module()
    before = m.status()
    for op in range(256):
        if op in KNOWN_OPS:
            continue
        code, _, body = m.call_raw(op, b"\x30\x00" + bytes(32))
        assert code == 3, (op, code, body)  # SELLO_ERR_OPCODE
    assert m.status()["tokens"] == before["tokens"]


def test_stamp_before_activation_is_rejected(unit_factory, ca):
    u = unit_factory().start_sim()
    m = u.module()
    req, _ = tsp_util.request(b"x")
    _, body = m.stamp(req)
    st, fails, text = tsp_util.status_of(body)
    assert st == "rejection" and fails == {"system_failure"}
    u.ceremony(link=m)  # initialised, key unlocked, but no certificate
    _, body = m.stamp(req)
    assert tsp_util.status_of(body)[1] == {"system_failure"}


def test_no_time_means_time_not_available(unit_factory, ca):
    u = unit_factory().start_sim().provision(ca)
    u.restart_sim(activate=True)  # restarted and reactivated: clock unset
    m = u.module()
    _, body = m.stamp(tsp_util.request(b"x")[0])
    assert tsp_util.status_of(body)[1] == {"time_not_available"}


def test_clock_cannot_be_reset_by_the_host(unit):
    m = unit.module()
    with pytest.raises(abi.ModuleError) as e:
        m.set_time(0x17_0000_0000_00)
    assert e.value.status == 5  # SELLO_ERR_STATE


def test_second_init_is_refused(unit):
    m = unit.module()
    before = m.status()
    with pytest.raises(abi.ModuleError) as e:
        m.init([abi.new_x25519_key()[0] for _ in range(3)], 2,
               unit.init_params())
    assert e.value.status == 5
    after = m.status()
    assert after["unit_id"] == before["unit_id"] == unit.unit_id
    assert after["state"] == 3


@pytest.mark.parametrize("frame", [
    b"\x00" * 12,                                        # bad magic
    struct.pack(">BBBBII", 0x53, 9, 1, 0, 1, 0),         # bad version
    struct.pack(">BBBBII", 0x53, 1, 2, 0, 1, 1 << 20),   # oversized
])
def test_malformed_frames_get_error_and_close(unit, frame):
    m = unit.module()
    m.send_raw(frame)
    code, _, tag, _ = m.recv_frame()
    assert code in (1, 2, 4)
    # the module is still fine for everyone else
    assert unit.module().status()["state"] == 3


def test_certificate_for_another_key_is_refused(unit_factory, ca):
    a = unit_factory("a").start_sim().provision(ca)
    b = unit_factory("b").start_sim().ceremony()
    m = b.module()
    with pytest.raises(abi.ModuleError) as e:
        m.call(abi.OP_LOAD_CERT, a.cert_der)
    assert e.value.status == 10 and "public key" in e.value.reason
    assert m.status()["state"] == 1


def test_certificate_without_critical_timestamping_eku_is_refused(
        unit_factory, ca, tmp_path):
    u = unit_factory().start_sim().ceremony()
    m = u.module()
    csr = m.call(abi.OP_GET_CSR)
    for ext in ("extendedKeyUsage=timeStamping",
                "extendedKeyUsage=critical,timeStamping,codeSigning"):
        cert = ca.issue_with_extensions(csr, str(tmp_path / "bad.pem"), [ext])
        with pytest.raises(abi.ModuleError) as e:
            m.call(abi.OP_LOAD_CERT, cert)
        assert e.value.status == 10 and "extendedKeyUsage" in e.value.reason
    assert m.status()["state"] == 1
