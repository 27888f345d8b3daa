"""The operator's path: the `sello` CLI over the relay's admin socket for
the ceremony, `sello stamp` and `sello verify` over HTTP."""
import os
import re
import stat
import subprocess

from conftest import CLI, DEV_CA


def sello(unit, *args, check=True):
    env = dict(os.environ, SELLO_ADMIN=unit.admin_sock)
    r = subprocess.run([CLI, *args], capture_output=True, text=True, env=env)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_ceremony_through_admin_socket_then_stamp_and_verify(unit_factory, tmp_path):
    """The key ceremony's INIT and the activation quorum go through the
    admin socket as raw frames (the custodians' side of the CLI is
    test_ceremony_cli.py's: here the activation proposes the time that
    calibrates the clock); csr, cert-load, status, stamp and verify are the
    CLI's."""
    import sello_abi as abi
    u = unit_factory().start_sim().start_relay(time_feed=False)
    assert stat.S_IMODE(os.stat(u.admin_sock).st_mode) == 0o600
    assert "uninitialised" in sello(u, "status").stdout

    with abi.Module(u.admin_sock) as admin:
        u.ceremony(key="p384", params=[(abi.INIT_TSA_NAME, b"\x01")],
                   link=admin)
    csr = tmp_path / "tsu.csr"
    sello(u, "csr", "--out", str(csr))
    ca_dir = tmp_path / "ca"
    subprocess.run([DEV_CA, "init", str(ca_dir)], check=True, capture_output=True)
    subprocess.run([DEV_CA, "issue", str(ca_dir), str(csr), str(tmp_path / "tsu.pem")],
                   check=True, capture_output=True)
    ca_pem = str(ca_dir / "ca.pem")
    sello(u, "cert-load", str(tmp_path / "tsu.pem"), ca_pem)
    assert "ready" in sello(u, "status").stdout
    assert "uncalibrated" in sello(u, "status").stdout
    with abi.Module(u.admin_sock) as admin:
        assert admin.activate(u.shares[:u.threshold],
                              abi.time_proposal())["done"] == 1
    out = sello(u, "status").stdout
    assert "active" in out and "p384" in out
    assert re.search(r"^clock +synchronised$", out, re.M), out

    data = tmp_path / "doc.txt"
    data.write_bytes(b"contract text\n")
    tsr = tmp_path / "doc.tsr"
    out = sello(u, "stamp", str(data), "--url", u.url, "--ca", ca_pem,
                "--out", str(tsr)).stdout
    assert "Verification: OK" in out
    out = sello(u, "verify", "--in", str(tsr), "--data", str(data),
                "--ca", ca_pem).stdout
    assert "Verification: OK" in out

    # the same token against other data, or another CA, fails
    data.write_bytes(b"contract text, altered\n")
    r = sello(u, "verify", "--in", str(tsr), "--data", str(data), "--ca",
              ca_pem, check=False)
    assert r.returncode == 1 and "FAILED" in r.stdout
    other = tmp_path / "other-ca"
    subprocess.run([DEV_CA, "init", str(other)], check=True, capture_output=True)
    data.write_bytes(b"contract text\n")
    r = sello(u, "verify", "--in", str(tsr), "--data", str(data), "--ca",
              str(other / "ca.pem"), check=False)
    assert r.returncode == 1 and "FAILED" in r.stdout

    # and openssl agrees with sello
    r = subprocess.run(["openssl", "ts", "-verify", "-in", str(tsr), "-data",
                        str(data), "-CAfile", ca_pem], capture_output=True,
                       text=True)
    assert "Verification: OK" in r.stdout


def test_admin_errors_are_reported_clearly(unit):
    # a deactivated unit's key is locked: no CSR without the quorum
    sello(unit, "deactivate")
    r = sello(unit, "csr", "--out", os.path.join(unit.dir, "x.csr"),
              check=False)
    assert r.returncode == 1
    assert "sello: csr: operation not allowed in the current state" \
        in r.stderr, r.stderr
    log = open(os.path.join(unit.dir, "relay.log")).read()
    assert "op=GET_CSR" in log and "SELLO_ERR_STATE" in log and "uid=" in log


def test_stamp_is_not_possible_on_the_admin_port_only(unit, tmp_path):
    """The HTTP port carries no administrative operation: a frame-shaped
    body is just an undecodable time-stamp request."""
    import sello_abi as abi
    frame = abi.HEADER.pack(abi.MAGIC, abi.VERSION, abi.OP_INIT, 0, 1, 0)
    status, _, _ = unit.post(frame)
    assert status == 400
