"""The dual-control ceremony as an operator runs it: `sello init` with the
custodians' passphrases and share files, then `sello activate`,
`deactivate`, `recalibrate`, `leap` and `destroy`, all through the relay's
admin socket to a real sello-sim.

Every `sello` here runs without a controlling terminal (a new session,
stdin from /dev/null), as in CI: where the CLI would have to prompt, it
must fail clearly instead of waiting. --kdf interactive keeps the
custodians' Argon2id cheap.

The commands that propose this host's time take its uncertainty from the
kernel (ntp_adjtime maxerror), and refuse when the kernel says its clock is
unsynchronised (as on many CI machines) unless --uncertainty-us is given:
the quorum helper gives it, so that the tests behave the same on either
kind of machine; test_activate_refuses_an_unsynchronised_kernel_clock
looks at the kernel itself."""
import ctypes
import ctypes.util
import datetime
import json
import os
import re
import stat
import struct
import subprocess
import time

import pytest

import sello_abi as abi
import tsp_util
from conftest import CLI

N, M = 3, 2
SHARE_FILE_LEN = 292
SHARE_MAGIC = b"SELLOSHR"
# What the tests state as their host clock's uncertainty (--uncertainty-us).
UNCERTAINTY_US = 20_000
PROPOSAL_RE = re.compile(
    r"the session proposes the time (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)"
    r" \+- (\d+) us\n  for its opening, (\d+\.\d{3}) s ago")


def kernel_clock():
    """(synchronised, maxerror_us) as ntp_adjtime(2) reports them: what
    the CLI looks at before it proposes this host's time."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    buf = ctypes.create_string_buffer(512)  # struct timex, read only
    rc = libc.ntp_adjtime(buf)
    if rc < 0:
        return None, None
    status = struct.unpack_from("i", buf, 40)[0]   # x86-64/aarch64 layout
    maxerror = struct.unpack_from("l", buf, 24)[0]
    return rc != 5 and not status & 0x40, maxerror  # TIME_ERROR, STA_UNSYNC


def proposed(out):
    """(UTC datetime, uncertainty us, age s) of the proposal a quorum
    command showed."""
    m = PROPOSAL_RE.search(out)
    assert m, out
    when = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
    return (when.replace(tzinfo=datetime.timezone.utc), int(m.group(2)),
            float(m.group(3)))


def first_of_month_iso(months_ahead):
    now = datetime.datetime.now(datetime.timezone.utc)
    y, m = now.year, now.month + months_ahead
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return f"{y:04d}-{m:02d}-01T00:00:00Z"


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
    files (custodian x is index x - 1). With test_unit, init() passes
    --test-unit, which sello-sim (a simulation board) requires; without,
    a test passes it itself or sees the refusal."""

    def __init__(self, unit, directory, test_unit=False):
        self.unit = unit
        self.test_unit = test_unit
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

    def init(self, *extra, check=True, test_unit=None):
        """`sello init`; test_unit (default: the ceremony's) adds
        --test-unit."""
        args = ["init", "--key", "p256", "--subject", "CN=CLI TSU,O=Sello,C=DE",
                "--custodians", str(N), "--threshold", str(M),
                "--share-dir", self.share_dir, "--kdf", "interactive"]
        if self.test_unit if test_unit is None else test_unit:
            args.append("--test-unit")
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

    def quorum(self, cmd, custodians, *extra, check=True,
               uncertainty=UNCERTAINTY_US):
        """`sello CMD` with custodians' shares and passphrase files; the
        time-proposing commands get --uncertainty-us (None: not)."""
        args = [cmd]
        for x in custodians:
            args += ["--share", self.shares[x - 1],
                     "--passphrase-file", self.passes[x - 1]]
        if cmd in ("activate", "recalibrate") and uncertainty is not None:
            args += ["--uncertainty-us", str(uncertainty)]
        return sello(self.unit, *args, *extra, check=check)


@pytest.fixture
def fresh(unit_factory, tmp_path):
    """An uninitialised unit behind a relay (its time feed off: these tests
    set the clock where they want it), and its custodians, who make a test
    unit (sello-sim makes no other)."""
    u = unit_factory().start_sim().start_relay(time_feed=False)
    return Ceremony(u, tmp_path / "ceremony", test_unit=True)


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


def test_init_on_a_simulation_board_needs_test_unit(fresh):
    """sello-sim is a simulation board, which makes test units only:
    `sello init` without --test-unit fails, naming the flag, before any
    passphrase is used and without an INIT; the unit stays uninitialised.
    With the flag the unit is a test unit, which `sello status` and the
    audit log show."""
    r = fresh.init(check=False, test_unit=False)
    assert r.returncode != 0, r.stdout
    assert "--test-unit" in r.stderr and "simulation" in r.stderr, r.stderr
    assert "INIT" not in relay_ops(fresh.unit)
    assert status(fresh.unit)["state"] == "uninitialised"
    assert "test_unit" not in status(fresh.unit)
    assert os.listdir(fresh.share_dir) == []

    out = fresh.init().stdout
    assert "test unit: yes" in out, out
    st = status(fresh.unit)
    assert st["state"] == "initialised" and st["test_unit"] is True
    assert st["simulation"] is True
    text = sello(fresh.unit, "status").stdout
    assert re.search(r"^test-unit +yes \(", text, re.M), text
    log = os.path.join(fresh.unit.dir, "audit.log")
    if os.path.exists(log):  # a relay that stores the audit records
        out = sello(fresh.unit, "audit", "verify", "--log", log).stdout
        assert re.search(r"^ceremonies +1, 1 of them for test units", out,
                         re.M), out


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
              "--share-dir", fresh.share_dir, "--test-unit", check=False)
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
    """The module clock is uncalibrated after the ceremony: the activation
    session proposes this host's time, each custodian is shown it, and
    the quorum that activates the unit also calibrates its clock."""
    assert status(ready.unit)["clock"] == "uncalibrated"
    out = ready.quorum("activate", [3]).stdout
    assert "uncalibrated: this activation also calibrates it" in out
    first, unc, age = proposed(out)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - first).total_seconds()) < 5, (first, now)
    assert unc >= UNCERTAINTY_US and age < 5
    assert "check this time against an independent clock" in out
    assert "share 3 accepted (1 of 2)" in out
    st = status(ready.unit)
    assert st["state"] == "ready" and st["unlocked"] is False
    assert st["session"] == "activate" and st["session_accepted"] == 1
    assert st["clock"] == "uncalibrated"
    assert stamp_rejected(ready.unit, tmp_path)

    # The second custodian joins the open session from another run: it is
    # shown, and approves, the session's proposal, not its own time.
    time.sleep(1.1)
    out = ready.quorum("activate", [1]).stdout
    assert "joined" in out and "share 1 accepted (2 of 2)" in out
    again, unc2, age2 = proposed(out)
    assert (again, unc2) == (first, unc) and age2 >= 1.0
    assert "not this run's" in out
    assert "quorum reached: unit is active" in out
    assert "calibrated to the proposed time" in out
    assert "module clock: synchronised" in out
    st = status(ready.unit)
    assert st["state"] == "active" and st["unlocked"] is True
    assert "session" not in st
    assert st["clock"] == "synchronised" and st["clock_why"] == "none"
    assert abs(st["utc_ms"] / 1000 - time.time()) < 5
    assert st["clock_error_us"] >= unc

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
    # and the same custodians bring it back; the clock is calibrated, so
    # this session proposes no time
    out = ready.quorum("activate", [2, 3]).stdout
    assert "unit is active" in out
    assert "the session proposes no time" in out
    assert "module clock: synchronised" in out


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


def test_recalibrate_proposes_the_time(ready):
    ready.quorum("activate", [1, 2])
    target = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(hours=1)).replace(microsecond=250000)
    iso = target.strftime("%Y-%m-%dT%H:%M:%S.250000Z")
    # a typed time has no uncertainty of its own: the operator gives it
    ops = relay_ops(ready.unit)
    r = ready.quorum("recalibrate", [2, 3], "--time", iso, uncertainty=None,
                     check=False)
    assert r.returncode == 2 and "--uncertainty-us" in r.stderr
    assert relay_ops(ready.unit) == ops
    out = ready.quorum("recalibrate", [2, 3], "--time", iso,
                       uncertainty=5000).stdout
    when, unc, _ = proposed(out)
    assert when == target and unc == 5000
    assert "quorum reached: the module clock is calibrated" in out
    st = status(ready.unit)
    want_ms = int(target.timestamp() * 1000)
    assert want_ms <= st["utc_ms"] < want_ms + 10_000, (st["utc_ms"], want_ms)
    assert st["clock"] == "synchronised"
    # "now" (the default) is read when the session opens
    out = ready.quorum("recalibrate", [1, 3]).stdout
    when, unc, _ = proposed(out)
    assert abs(when.timestamp() - time.time()) < 5
    st = status(ready.unit)
    assert abs(st["utc_ms"] / 1000 - time.time()) < 5
    assert st["clock"] == "synchronised"


def test_set_time_is_retired(ready):
    """`sello set-time` explains the quorum calibration and exits 2
    without sending anything; `sello help` no longer lists it."""
    ops = relay_ops(ready.unit)
    r = sello(ready.unit, "set-time", check=False)
    assert r.returncode == 2
    assert "retired" in r.stderr and "quorum" in r.stderr
    assert "sello activate" in r.stderr and "sello recalibrate" in r.stderr
    assert relay_ops(ready.unit) == ops
    r = sello(ready.unit, "set-time", "--utc-ms", "1", check=False)
    assert r.returncode == 2 and relay_ops(ready.unit) == ops
    listing = sello(ready.unit, "help").stdout
    assert "set-time" not in listing and "leap" in listing


def test_activate_refuses_an_unsynchronised_kernel_clock(ready):
    """Without --uncertainty-us the CLI proposes this host's time only
    with the kernel's own error bound, and refuses when the kernel says
    its clock is unsynchronised (STA_UNSYNC), before opening a session."""
    synced, maxerror = kernel_clock()
    if synced is None:
        pytest.skip("ntp_adjtime is not available here")
    r = ready.quorum("activate", [1], uncertainty=None, check=False)
    if not synced:
        assert r.returncode == 1, r.stdout + r.stderr
        assert "not synchronised" in r.stderr
        assert "--uncertainty-us" in r.stderr
        assert "SESSION_OPEN" not in relay_ops(ready.unit)
        assert status(ready.unit)["clock"] == "uncalibrated"
        # an explicit bound is the operator's word for it
        out = ready.quorum("activate", [1], uncertainty=30_000).stdout
        _, unc, _ = proposed(out)
        assert unc >= 30_000 and "STA_UNSYNC" in out
    elif maxerror > 1_000_000:
        assert r.returncode == 1 and "exceeds" in r.stderr
    else:
        assert r.returncode == 0, r.stdout + r.stderr
        _, unc, _ = proposed(r.stdout)
        assert unc >= maxerror and "kernel maxerror" in r.stdout


def test_leap_second_announcement(ready):
    ready.quorum("activate", [1, 2])
    at = first_of_month_iso(2)
    # the CLI checks the instant itself
    for bad in (["--at", at], ["--insert"], ["--cancel", "--at", at],
                ["--at", at.replace("-01T", "-02T"), "--insert"],
                ["--at", at.replace("T00:", "T12:"), "--delete"],
                ["--insert", "--delete", "--at", at]):
        r = ready.quorum("leap", [1], *bad, check=False)
        assert r.returncode == 2, (bad, r.stdout + r.stderr)
    out = ready.quorum("leap", [1], "--at", at, "--insert").stdout
    assert "the session proposes: a leap second inserted before" in out
    assert "23:59:60 follows" in out and "share 1 accepted (1 of 2)" in out
    st = status(ready.unit)
    assert st["session"] == "leap" and "leap" not in st
    out = ready.quorum("leap", [3], "--at", at, "--insert").stdout
    assert "joined" in out
    assert "quorum reached: leap second announced: a second inserted" in out
    st = status(ready.unit)
    at_dt = datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert st["leap"] == "inserted"
    assert st["leap_us"] == int(at_dt.timestamp()) * 1_000_000
    assert st["leap_utc"] == at
    text = sello(ready.unit, "status").stdout
    assert re.search(r"^leap +a second inserted before " + re.escape(at),
                     text, re.M), text
    # far enough ahead: the clock is not paused for it
    assert st["clock"] == "synchronised"
    out = ready.quorum("leap", [2, 3], "--cancel").stdout
    assert "cancel the announced leap second" in out
    assert "no leap second is announced" in out
    assert "leap" not in status(ready.unit)
    assert re.search(r"^leap +none announced", sello(ready.unit,
                                                     "status").stdout, re.M)


def test_status_shows_the_clock(ready):
    st = status(ready.unit)
    assert st["clock"] == "uncalibrated" and st["clock_code"] == 0
    assert st["clock_why"] == "uncalibrated"
    assert "clock_error_us" not in st and "utc_ms" not in st
    assert st["slew_ppm"] == 100 and st["drift_ppm"] == 100
    text = sello(ready.unit, "status").stdout
    assert re.search(r"^clock +uncalibrated: custodians calibrate it",
                     text, re.M), text

    ready.quorum("activate", [1, 2])
    # an observation, as the relay's time feed makes them
    with abi.Module(ready.unit.admin_sock) as m:
        obs = m.observe(abi.now_us() + 1500, 1000)
        assert obs["verdict"] == abi.OBS_ACCEPTED, obs
    st = status(ready.unit)
    assert st["clock"] == "synchronised" and st["clock_code"] == 1
    assert st["clock_why"] == "none" and st["clock_why_code"] == 0
    for k in ("clock_error_us", "sync_left_s", "obs_offset_us", "obs_age_ms",
              "slew_ppm", "drift_ppm", "utc_ms", "utc"):
        assert k in st, (k, st)
    assert 0 < st["sync_left_s"] < 10_000
    assert abs(st["obs_offset_us"] - obs["offset_us"]) == 0
    assert st["obs_age_ms"] < 10_000
    text = sello(ready.unit, "status").stdout
    for row in ("clock +synchronised$", r"utc +\d{4}-",
                r"clock-error +\d+ us \(error bound; declared accuracy "
                r"1000 ms",
                r"sync-left +\d+ s \(.*\) before drift alone",
                r"last-offset +[+-]\d+ us \(reference minus module time\), "
                r"observed \d+\.\d{3} s ago",
                "leap +none announced", "slew +100 ppm", "drift +100 ppm"):
        assert re.search("^" + row, text, re.M), (row, text)

    # a disagreeing observation shows why the clock stopped
    with abi.Module(ready.unit.admin_sock) as m:
        assert m.observe(abi.now_us() + 5_000_000, 1000)["verdict"] == \
            abi.OBS_DISAGREES
    st = status(ready.unit)
    assert st["clock"] == "unsynchronised" and st["clock_why"] == "disagree"
    assert st["obs_offset_us"] > 4_000_000
    text = sello(ready.unit, "status").stdout
    assert re.search(r"^clock +unsynchronised: an observation disagreed "
                     r"beyond the declared accuracy", text, re.M), text


def test_a_share_of_another_unit_is_not_submitted(ready, unit_factory, ca,
                                                  tmp_path):
    relay = unit_factory("other").start_sim().start_relay(time_feed=False)
    other = Ceremony(relay, tmp_path / "other", test_unit=True)
    other.init()
    other.certify(ca)
    r = sello(other.unit, "activate", "--share", ready.shares[0],
              "--passphrase-file", ready.passes[0], "--uncertainty-us",
              str(UNCERTAINTY_US), check=False)
    assert r.returncode == 1
    assert "belongs to another unit" in r.stderr
    assert "SESSION_SUBMIT" not in relay_ops(other.unit)
    assert status(other.unit)["failures"] == 0


def test_token_engine_ceremony(unit_factory, ca, tmp_path):
    """--engine pkcs11: the key in a SoftHSMv2 token the module took over;
    the CLI ceremony is the same."""
    u = unit_factory(engine="token").start_sim().start_relay(time_feed=False)
    c = Ceremony(u, tmp_path / "token-ceremony", test_unit=True)
    c.init("--engine", "pkcs11")
    assert status(u)["engine"] == "pkcs11"
    c.certify(ca)
    assert "unit is active" in c.quorum("activate", [1, 3]).stdout
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"token engine\n")
    out = sello(u, "stamp", str(doc), "--url", u.url, "--ca", ca.pem,
                "--out", str(tmp_path / "doc.tsr")).stdout
    assert "Verification: OK" in out
