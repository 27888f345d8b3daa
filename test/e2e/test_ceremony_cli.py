"""The dual-control ceremony as an operator runs it: `sello init` with the
custodians' passphrases and share files, then `sello activate`,
`deactivate`, `recalibrate` and `destroy`, all through the relay's admin
socket to a real sello-sim.

Every `sello` here runs without a controlling terminal (a new session,
stdin from /dev/null), as in CI: where the CLI would have to prompt, it
must fail clearly instead of waiting. --kdf interactive keeps the
custodians' Argon2id cheap."""
import datetime
import json
import os
import stat
import subprocess
import time

import pytest

import tsp_util
from conftest import CLI

N, M = 3, 2
SHARE_FILE_LEN = 292
SHARE_MAGIC = b"SELLOSHR"


def sello(unit, *args, check=True):
    env = dict(os.environ, SELLO_ADMIN=unit.admin_sock)
    r = subprocess.run([CLI, *args], capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL, start_new_session=True,
                       timeout=300)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def status(unit):
    return json.loads(sello(unit, "status", "--json").stdout)


def relay_ops(unit):
    """The opcodes the relay forwarded from the admin socket, in order."""
    with open(os.path.join(unit.dir, "relay.log"), errors="replace") as f:
        return [w[3:] for line in f for w in line.split()
                if w.startswith("op=")]


class Ceremony:
    """A unit made with the CLI: its custodians' passphrase files and share
    files (custodian x is index x - 1)."""

    def __init__(self, unit, directory):
        self.unit = unit
        self.dir = str(directory)
        self.share_dir = os.path.join(self.dir, "shares")
        os.makedirs(self.share_dir, exist_ok=True)
        self.passes = []
        for x in range(1, N + 1):
            path = os.path.join(self.dir, f"custodian-{x}.pass")
            with open(path, "w") as f:
                f.write(f"test passphrase of custodian {x}\n")
            self.passes.append(path)
        self.shares = [os.path.join(self.share_dir, f"share-{x}.sello")
                       for x in range(1, N + 1)]

    def init(self, *extra, check=True):
        args = ["init", "--key", "p256", "--subject", "CN=CLI TSU,O=Sello,C=DE",
                "--custodians", str(N), "--threshold", str(M),
                "--share-dir", self.share_dir, "--kdf", "interactive"]
        for p in self.passes:
            args += ["--passphrase-file", p]
        return sello(self.unit, *args, *extra, check=check)

    def certify(self, ca):
        """CSR -> certificate from `ca` -> cert-load: the unit is READY."""
        csr = os.path.join(self.dir, "tsu.csr")
        sello(self.unit, "csr", "--out", csr)
        with open(csr, "rb") as f:
            ca.issue(f.read(), os.path.join(self.dir, "tsu.pem"))
        sello(self.unit, "cert-load", os.path.join(self.dir, "tsu.pem"),
              ca.pem)

    def quorum(self, cmd, custodians, *extra, check=True):
        args = [cmd]
        for x in custodians:
            args += ["--share", self.shares[x - 1],
                     "--passphrase-file", self.passes[x - 1]]
        return sello(self.unit, *args, *extra, check=check)


@pytest.fixture
def fresh(unit_factory, tmp_path):
    """An uninitialised unit behind a relay, and its custodians."""
    u = unit_factory().start_sim().start_relay()
    return Ceremony(u, tmp_path / "ceremony")


@pytest.fixture
def ready(fresh, ca):
    """A unit initialised and certified with the CLI: READY, key locked."""
    fresh.init()
    fresh.certify(ca)
    assert status(fresh.unit)["state"] == "ready"
    return fresh


def stamp_rejected(unit, tmp_path):
    """Posts an openssl-made request; True when the TimeStampResp is a
    rejection (what a unit that may not sign answers)."""
    data, tsq = tmp_path / "probe.txt", tmp_path / "probe.tsq"
    data.write_bytes(b"probe\n")
    subprocess.run(["openssl", "ts", "-query", "-data", str(data), "-sha256",
                    "-cert", "-out", str(tsq)], check=True,
                   capture_output=True)
    code, _, body = unit.post(tsq.read_bytes())
    assert code == 200, code
    return tsp_util.status_of(body)[0] == "rejection"


def test_init_writes_one_share_file_per_custodian_mode_0600(fresh):
    out = fresh.init().stdout
    st = status(fresh.unit)
    assert st["state"] == "initialised"
    assert (st["threshold"], st["custodians"]) == (M, N)
    assert st["unlocked"] is True
    for x, path in enumerate(fresh.shares, 1):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        raw = open(path, "rb").read()
        assert len(raw) == SHARE_FILE_LEN
        assert raw[:8] == SHARE_MAGIC and raw[8] == 1
        assert (raw[9], raw[10], raw[11]) == (x, N, M)
        assert raw[12:44].hex() == st["unit_id"]
        assert path in out
    assert st["unit_id"] in out
    assert "off this machine" in out

    # Share files are never replaced, and the refusal comes before any
    # passphrase or module work.
    before = [open(p, "rb").read() for p in fresh.shares]
    ops = relay_ops(fresh.unit)
    r = fresh.init(check=False)
    assert r.returncode == 1 and "already exists" in r.stderr
    assert [open(p, "rb").read() for p in fresh.shares] == before
    assert relay_ops(fresh.unit) == ops


def test_init_refuses_weak_or_shared_passphrases_before_the_module(fresh):
    with open(fresh.passes[1], "w") as f:
        f.write("short\n")
    r = fresh.init(check=False)
    assert r.returncode == 1 and "shorter than 8" in r.stderr
    with open(fresh.passes[1], "w") as f:
        f.write(open(fresh.passes[0]).read())
    r = fresh.init(check=False)
    assert r.returncode == 1 and "same passphrase" in r.stderr
    assert "INIT" not in relay_ops(fresh.unit)
    assert status(fresh.unit)["state"] == "uninitialised"
    assert os.listdir(fresh.share_dir) == []


def test_without_a_terminal_nothing_prompts(fresh, ca):
    """No --passphrase-file and no tty: a clear error, and nothing sent."""
    r = sello(fresh.unit, "init", "--key", "p256", "--subject", "CN=x",
              "--share-dir", fresh.share_dir, check=False)
    assert r.returncode == 1
    assert "no terminal" in r.stderr and "--passphrase-file" in r.stderr
    assert "INIT" not in relay_ops(fresh.unit)
    assert os.listdir(fresh.share_dir) == []

    fresh.init()
    fresh.certify(ca)
    r = sello(fresh.unit, "activate", "--share", fresh.shares[0], check=False)
    assert r.returncode == 1
    assert "no terminal" in r.stderr and "--passphrase-file" in r.stderr
    r = sello(fresh.unit, "destroy", "--share", fresh.shares[0],
              "--passphrase-file", fresh.passes[0], check=False)
    assert r.returncode == 1 and "--yes" in r.stderr
    assert "SESSION_OPEN" not in relay_ops(fresh.unit)
    assert status(fresh.unit)["state"] == "ready"


def test_wrong_passphrase_is_refused_before_anything_is_sent(ready):
    r = sello(ready.unit, "activate", "--share", ready.shares[0],
              "--passphrase-file", ready.passes[1], check=False)
    assert r.returncode == 1
    assert "wrong passphrase" in r.stderr
    assert "SESSION_OPEN" not in relay_ops(ready.unit)
    # ... also when it is the second custodian's that is wrong
    r = sello(ready.unit, "activate",
              "--share", ready.shares[0], "--passphrase-file", ready.passes[0],
              "--share", ready.shares[1], "--passphrase-file", ready.passes[2],
              check=False)
    assert r.returncode == 1 and "wrong passphrase for share 2" in r.stderr
    assert "SESSION_OPEN" not in relay_ops(ready.unit)
    st = status(ready.unit)
    assert st["state"] == "ready" and st["failures"] == 0


def test_activation_needs_the_quorum_then_tokens_verify(ready, ca, tmp_path):
    out = ready.quorum("activate", [3]).stdout
    assert "share 3 accepted (1 of 2)" in out
    st = status(ready.unit)
    assert st["state"] == "ready" and st["unlocked"] is False
    assert st["session"] == "activate" and st["session_accepted"] == 1
    sello(ready.unit, "set-time")
    assert stamp_rejected(ready.unit, tmp_path)

    # The second custodian joins the open session from another run.
    out = ready.quorum("activate", [1]).stdout
    assert "joined" in out and "share 1 accepted (2 of 2)" in out
    assert "quorum reached: unit is active" in out
    st = status(ready.unit)
    assert st["state"] == "active" and st["unlocked"] is True
    assert "session" not in st

    doc, tsr = tmp_path / "doc.txt", tmp_path / "doc.tsr"
    doc.write_bytes(b"signed under dual control\n")
    out = sello(ready.unit, "stamp", str(doc), "--url", ready.unit.url,
                "--ca", ca.pem, "--out", str(tsr)).stdout
    assert "Verification: OK" in out
    r = subprocess.run(["openssl", "ts", "-verify", "-in", str(tsr), "-data",
                        str(doc), "-CAfile", ca.pem], capture_output=True,
                       text=True)
    assert "Verification: OK" in r.stdout, r.stdout + r.stderr


def test_the_same_share_twice_is_refused(ready):
    # in one run the CLI refuses it itself
    r = ready.quorum("activate", [2, 2], check=False)
    assert r.returncode == 1 and "both share 2" in r.stderr
    assert "SESSION_OPEN" not in relay_ops(ready.unit)
    # across runs, joining one session, the module refuses it
    ready.quorum("activate", [2])
    r = ready.quorum("activate", [2], check=False)
    assert r.returncode == 1
    assert "share 2 refused by the module" in r.stderr
    st = status(ready.unit)
    assert st["state"] == "ready" and st["session_accepted"] == 1
    # and a different custodian still completes the quorum
    assert "unit is active" in ready.quorum("activate", [3]).stdout


def test_new_session_discards_the_open_one(ready):
    ready.quorum("activate", [1])
    out = ready.quorum("activate", [2], "--new-session").stdout
    assert "share 2 accepted (1 of 2)" in out
    assert status(ready.unit)["state"] == "ready"


def test_deactivate_returns_to_ready(ready):
    ready.quorum("activate", [1, 2])
    assert status(ready.unit)["state"] == "active"
    sello(ready.unit, "deactivate")
    st = status(ready.unit)
    assert st["state"] == "ready" and st["unlocked"] is False
    # and the same custodians bring it back
    out = ready.quorum("activate", [2, 3]).stdout
    assert "unit is active" in out


def test_destroy_with_the_quorum_makes_the_unit_uninitialised(ready):
    r = ready.quorum("destroy", [1], "--yes")
    assert "share 1 accepted (1 of 2)" in r.stdout
    assert status(ready.unit)["state"] == "ready"
    out = ready.quorum("destroy", [3], "--yes").stdout
    assert "quorum reached" in out
    st = status(ready.unit)
    assert st["state"] == "uninitialised"
    assert "unit_id" not in st
    # the shares of a destroyed unit open nothing any more
    r = ready.quorum("activate", [1, 2], check=False)
    assert r.returncode == 1


def test_recalibrate_sets_the_clock_once(ready):
    ready.quorum("activate", [1, 2])
    sello(ready.unit, "set-time")
    r = sello(ready.unit, "set-time", check=False)
    assert r.returncode == 1 and "quorum" in r.stderr

    target = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(hours=1)).replace(microsecond=250000)
    iso = target.strftime("%Y-%m-%dT%H:%M:%S.250Z")
    out = ready.quorum("recalibrate", [2, 3], "--time", iso).stdout
    assert "quorum reached" in out and "module clock set to" in out
    st = status(ready.unit)
    want_ms = int(target.timestamp() * 1000)
    assert want_ms <= st["utc_ms"] < want_ms + 10_000, (st["utc_ms"], want_ms)
    # the quorum allowed one setting, not more
    r = sello(ready.unit, "set-time", check=False)
    assert r.returncode == 1


def test_a_share_of_another_unit_is_not_submitted(ready, unit_factory, ca,
                                                  tmp_path):
    other = Ceremony(unit_factory("other").start_sim().start_relay(),
                     tmp_path / "other")
    other.init()
    other.certify(ca)
    r = sello(other.unit, "activate", "--share", ready.shares[0],
              "--passphrase-file", ready.passes[0], check=False)
    assert r.returncode == 1
    assert "belongs to another unit" in r.stderr
    assert "SESSION_SUBMIT" not in relay_ops(other.unit)
    assert status(other.unit)["failures"] == 0


def test_token_engine_ceremony(unit_factory, ca, tmp_path):
    """--engine pkcs11: the key in a SoftHSMv2 token the module took over;
    the CLI ceremony is the same."""
    u = unit_factory(engine="token").start_sim().start_relay()
    c = Ceremony(u, tmp_path / "token-ceremony")
    c.init("--engine", "pkcs11")
    assert status(u)["engine"] == "pkcs11"
    c.certify(ca)
    assert "unit is active" in c.quorum("activate", [1, 3]).stdout
    sello(u, "set-time")
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"token engine\n")
    out = sello(u, "stamp", str(doc), "--url", u.url, "--ca", ca.pem,
                "--out", str(tmp_path / "doc.tsr")).stdout
    assert "Verification: OK" in out
