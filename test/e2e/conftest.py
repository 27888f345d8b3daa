"""End-to-end fixtures: a real sello-sim, a real sello-relayd, a throwaway
CA made with the openssl CLI, all on 127.0.0.1 and stopped afterwards."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import sello_abi as abi  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("SELLO_BUILD", "build"), "bin")
SIM = os.path.join(BIN, "sello-sim")
RELAY = os.path.join(BIN, "sello-relayd")
CLI = os.path.join(BIN, "sello")
DEV_CA = os.path.join(ROOT, "tools", "sello-dev-ca")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


def subject_der(cn="Sello Test TSU"):
    from asn1crypto import x509
    return x509.Name.build({"country_name": "DE", "organization_name": "Sello",
                            "common_name": cn}).dump()


class CA:
    """A throwaway CA (openssl CLI) that issues TSU certificates."""

    def __init__(self, directory, key="ec"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        subprocess.run([DEV_CA, "init", directory, "--key", key], check=True,
                       capture_output=True)
        self.pem = os.path.join(directory, "ca.pem")
        self.der = subprocess.run(
            ["openssl", "x509", "-in", self.pem, "-outform", "DER"],
            check=True, capture_output=True).stdout

    def issue(self, csr_der, out_pem, extra_args=()):
        csr = out_pem + ".csr"
        with open(csr, "wb") as f:
            f.write(csr_der)
        subprocess.run([DEV_CA, "issue", self.dir, csr, out_pem, *extra_args],
                       check=True, capture_output=True)
        return subprocess.run(["openssl", "x509", "-in", out_pem, "-outform",
                               "DER"], check=True, capture_output=True).stdout

    def issue_with_extensions(self, csr_der, out_pem, extensions):
        """Issues with exactly the given openssl extension lines, bypassing
        the dev CA's TSU profile: for certificates the module must refuse."""
        csr, ext = out_pem + ".csr", out_pem + ".ext"
        with open(csr, "wb") as f:
            f.write(csr_der)
        with open(ext, "w") as f:
            f.write("\n".join(extensions) + "\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-inform", "DER",
                        "-CA", self.pem, "-CAkey",
                        os.path.join(self.dir, "ca.key"), "-set_serial",
                        str(int.from_bytes(os.urandom(8), "big")), "-days",
                        "30", "-extfile", ext, "-out", out_pem],
                       check=True, capture_output=True)
        return subprocess.run(["openssl", "x509", "-in", out_pem, "-outform",
                               "DER"], check=True, capture_output=True).stdout

    def issue_custom(self, csr_der, out_pem, extensions=None,
                     not_before=None, not_after=None):
        """Issues with `openssl ca`, which (unlike `openssl x509 -req` in
        OpenSSL 3.0) can date a certificate in the past: not_before and
        not_after are datetimes (UTC), default now and now + 30 days.
        `extensions` are openssl extension lines (default: the dev CA's
        TSU profile)."""
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc)
        nb = not_before or now - datetime.timedelta(minutes=5)
        na = not_after or now + datetime.timedelta(days=30)
        if extensions is None:
            extensions = ["extendedKeyUsage = critical, timeStamping",
                          "keyUsage = critical, digitalSignature, nonRepudiation",
                          "subjectKeyIdentifier = hash",
                          "authorityKeyIdentifier = keyid:always"]
        work = out_pem + ".ca"
        os.makedirs(work, exist_ok=True)
        open(os.path.join(work, "index.txt"), "w").close()
        cfg, ext = os.path.join(work, "ca.cnf"), os.path.join(work, "ext.cnf")
        with open(cfg, "w") as f:
            f.write(f"""[ca]
default_ca = dev
[dev]
database = {work}/index.txt
new_certs_dir = {work}
serial = {work}/serial
certificate = {self.pem}
private_key = {os.path.join(self.dir, "ca.key")}
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
countryName = optional
organizationName = optional
commonName = optional
""")
        with open(ext, "w") as f:
            f.write("\n".join(extensions) + "\n")
        csr_pem = subprocess.run(
            ["openssl", "req", "-inform", "DER", "-outform", "PEM"],
            input=csr_der, check=True, capture_output=True).stdout
        csr = os.path.join(work, "req.pem")
        with open(csr, "wb") as f:
            f.write(csr_pem)
        fmt = "%Y%m%d%H%M%SZ"
        subprocess.run(
            ["openssl", "ca", "-batch", "-notext", "-preserveDN", "-config",
             cfg, "-in", csr, "-out", out_pem, "-extfile", ext,
             "-startdate", nb.strftime(fmt), "-enddate", na.strftime(fmt),
             "-create_serial"],
            check=True, capture_output=True)
        return subprocess.run(["openssl", "x509", "-in", out_pem, "-outform",
                               "DER"], check=True, capture_output=True).stdout


class Unit:
    """A simulated module and, optionally, the relay in front of it.

    engine "module" keeps the TSU key in module storage; "token" puts it in
    a SoftHSMv2 token (test/e2e/softhsm.py) made in the unit's directory,
    which sello-sim is pointed at. After provision() the unit remembers its
    ceremony: the custodians' X25519 private keys (`custodians`), the share
    boxes the module returned (`share_boxes`), the shares the custodians
    opened from them (`shares`, plaintext, so tests can replay or tamper
    with them), `threshold`, `spki` and `unit_id`."""

    def __init__(self, directory, engine="module", sim_args=()):
        if engine not in abi.ENGINES:
            raise ValueError(f"engine {engine!r}")
        self.dir = directory
        self.engine = engine
        self.sim_args = list(sim_args)  # e.g. ["--drift-ppm", "10000"]
        self.state = os.path.join(directory, "state")
        self.sim_sock = os.path.join(directory, "sim.sock")
        self.admin_sock = os.path.join(directory, "admin.sock")
        self.sim = None
        self.relay = None
        self.port = None
        self.token = None
        if engine == "token":
            self.token = make_token(os.path.join(directory, "token"))
        self.custodians = []
        self.share_boxes = []
        self.shares = []
        self.threshold = None
        self.spki = None
        self.unit_id = None

    # -- processes -------------------------------------------------------
    def sim_command(self):
        cmd = [SIM, "--socket", self.sim_sock, "--state", self.state,
               *self.sim_args]
        if self.token:
            cmd += list(self.token.sim_args())
        return cmd

    def start_sim(self):
        env = dict(os.environ)
        if self.token:
            env.update(self.token.env)
        self.sim = subprocess.Popen(
            self.sim_command(), env=env,
            stderr=open(os.path.join(self.dir, "sim.log"), "ab"))

        def up():
            if self.sim.poll() is not None:
                raise RuntimeError(
                    f"sello-sim exited with {self.sim.returncode}: "
                    + self.sim_log()[-2000:])
            return os.path.exists(self.sim_sock)
        wait_for(up, what="sello-sim")
        return self

    def sim_log(self):
        try:
            with open(os.path.join(self.dir, "sim.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop_sim(self, sig=signal.SIGTERM):
        if self.sim:
            self.sim.send_signal(sig)
            self.sim.wait(timeout=10)
            self.sim = None
            if os.path.exists(self.sim_sock):
                os.unlink(self.sim_sock)

    def restart_sim(self, sig=signal.SIGTERM, activate=False,
                    set_time=False):
        """Stops and starts sello-sim on the same state (the module comes
        back READY, its key locked, its clock uncalibrated); optionally
        reactivates it with the first M shares and, with set_time, has the
        same quorum calibrate the clock to this host's time (without
        activate, a RECALIBRATE quorum does)."""
        self.stop_sim(sig)
        self.start_sim()
        if activate:
            self.activate(calibrate=set_time)
        elif set_time:
            self.set_time_now()
        return self

    def start_relay(self, *extra, time_feed=None, audit_log=True):
        """sello-relayd in front of the module. time_feed=False turns the
        relay's host time feed off (where the relay has one): the module's
        clock then moves only as the test makes it, whether or not this
        machine's kernel clock is synchronised (the feed sends nothing
        when it is not). None leaves the relay's default. With audit_log,
        a relay that stores the module's audit records (--audit-log) keeps
        them in the unit's directory, unless `extra` names a log."""
        if time_feed is False and relay_has_option("--time-feed-interval-ms") \
                and not any(a.startswith("--time-feed") for a in extra):
            extra = extra + ("--time-feed-interval-ms", "0")
        if audit_log and relay_has_option("--audit-log") and not any(
                a.startswith("--audit-log") for a in extra):
            extra = extra + ("--audit-log",
                             os.path.join(self.dir, "audit.log"))
        self.port = free_port()
        self.relay = subprocess.Popen(
            [RELAY, "--listen", f"127.0.0.1:{self.port}",
             "--module", f"unix:{self.sim_sock}", "--admin", self.admin_sock,
             *extra],
            stderr=open(os.path.join(self.dir, "relay.log"), "ab"))

        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return True
            except OSError:
                return False
        wait_for(up, what="sello-relayd")
        return self

    def stop_relay(self):
        if self.relay:
            self.relay.send_signal(signal.SIGTERM)
            self.relay.wait(timeout=10)
            self.relay = None

    def stop(self):
        self.stop_relay()
        self.stop_sim()

    # -- module ---------------------------------------------------------
    def module(self, audit_ack=True):
        """A link straight to the module. It acknowledges the audit records
        its requests made (sello_abi.Module), so that tests driving the
        module directly never fill its record buffer; audit_ack=False
        leaves them to a relay that stores them (test_audit_store.py)."""
        return abi.Module(self.sim_sock, audit_ack=audit_ack)

    def status(self):
        with self.module() as m:
            return m.status()

    def init_params(self, key="p256", params=(), test_unit=True):
        """The INIT items other than the custodians and the threshold;
        with test_unit, the mark that sello-sim, a simulation board,
        requires (it makes test units only)."""
        items = [(abi.INIT_KEY_TYPE, bytes([abi.KEY_TYPES[key]])),
                 (abi.INIT_SUBJECT, subject_der())]
        if test_unit:
            items.append((abi.INIT_TEST_UNIT, b"\x01"))
        if self.engine == "token":
            items.append((abi.INIT_ENGINE, bytes([abi.ENGINE_TOKEN])))
        return items + list(params)

    def ceremony(self, key="p256", params=(), n=3, m=2, link=None):
        """INIT through the raw ABI with n fresh custodian keys and
        threshold m; each custodian opens its share box. Leaves the unit
        INITIALISED with its key unlocked."""
        self.custodians = [abi.new_x25519_key()[0] for _ in range(n)]
        own = link is None
        link = link or self.module()
        try:
            self.spki, self.unit_id, self.share_boxes = link.init(
                self.custodians, m, self.init_params(key, params))
        finally:
            if own:
                link.close()
        assert len(self.share_boxes) == n, len(self.share_boxes)
        self.shares, unopened = [], []
        for x, (p, b) in enumerate(zip(self.custodians, self.share_boxes), 1):
            try:
                self.shares.append(abi.open_share(p, b))
            except ValueError:
                unopened.append(x)
        assert not unopened, (
            f"INIT ({key}, N={n}): the share boxes of custodians {unopened} "
            "do not open with their keys")
        self.threshold = m
        return self

    def provision(self, ca, key="p256", params=(), chain=True, n=3, m=2,
                  activate=True, set_time=True, issue=None,
                  uncertainty_us=abi.TEST_UNCERTAINTY_US):
        """The key ceremony (n custodians, threshold m), the certificate
        issued by `ca` (or by issue(csr_der, out_pem) -> cert DER) and
        loaded, then activated with the first m shares. With set_time the
        clock is calibrated to this host's time by the quorum: by the
        activation's proposal, or, without activate, by a RECALIBRATE
        quorum (the unit stays READY), with uncertainty_us."""
        self.ceremony(key, params, n, m)
        with self.module() as link:
            csr = link.call(abi.OP_GET_CSR)
            self.cert_pem = os.path.join(self.dir, "tsa.pem")
            self.cert_der = (issue or ca.issue)(csr, self.cert_pem)
            link.call(abi.OP_LOAD_CERT,
                      self.cert_der + (ca.der if chain else b""))
            if activate:
                reply = link.activate(
                    self.shares[:m],
                    abi.time_proposal(uncertainty_us=uncertainty_us)
                    if set_time else None)
                assert reply.get("done") == 1, reply
            elif set_time:
                reply = link.recalibrate(self.shares[:m],
                                         uncertainty_us=uncertainty_us)
                assert reply.get("done") == 1, reply
            if set_time:
                st = link.status()
                assert st["clock"] == abi.CLOCK_SYNCHRONISED, st
        return self

    def activate(self, shares=None, calibrate=False):
        """An ACTIVATE session with `shares` (default: the first M); with
        calibrate, it proposes this host's time too."""
        with self.module() as m:
            return m.activate(self.shares[:self.threshold]
                              if shares is None else shares,
                              abi.time_proposal() if calibrate else None)

    def set_time_now(self):
        """Calibrates the clock to this host's time: a RECALIBRATE quorum
        of the first M shares (the host cannot set the clock alone)."""
        with self.module() as m:
            reply = m.recalibrate(self.shares[:self.threshold])
            assert reply.get("done") == 1, reply
            return reply

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def post(self, body, content_type="application/timestamp-query"):
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


_relay_help = None


def relay_has_option(option):
    """True when sello-relayd's --help lists `option` (e.g.
    --time-feed-interval-ms: the host time feed, TIME_OBSERVE frames from
    the host clock; --audit-log: the store of the module's audit
    records)."""
    global _relay_help
    if _relay_help is None:
        r = subprocess.run([RELAY, "--help"], capture_output=True, text=True)
        _relay_help = r.stdout + r.stderr
    return option in _relay_help


def relay_has_time_feed():
    return relay_has_option("--time-feed-interval-ms")


def make_token(directory):
    """A fresh SoftHSMv2 token for the token engine (softhsm.py)."""
    import softhsm
    if not softhsm.available():
        pytest.skip("SoftHSMv2 is not installed (softhsm.available())")
    os.makedirs(directory, exist_ok=True)
    return softhsm.SoftHSMToken(directory)


def token_available():
    try:
        import softhsm
    except ImportError:
        return True  # let make_token fail loudly: the helper is missing
    return softhsm.available()


@pytest.fixture(scope="session")
def ca(tmp_path_factory):
    return CA(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture
def unit_factory(tmp_path):
    units = []

    def make(name="unit", engine="module", sim_args=()):
        d = tmp_path / name
        d.mkdir()
        u = Unit(str(d), engine, sim_args)
        units.append(u)
        return u
    yield make
    for u in units:
        u.stop()


@pytest.fixture
def unit(unit_factory, ca):
    """An active P-256 unit behind a relay (its time feed off)."""
    return unit_factory().start_sim().provision(ca).start_relay(
        time_feed=False)


@pytest.fixture(params=["module", "token"])
def engine(request):
    """Both key engines; the token one skips only where SoftHSMv2 is not
    installed (it is in CI)."""
    if request.param == "token" and not token_available():
        pytest.skip("SoftHSMv2 is not installed")
    return request.param


# ---- the test-only simulator (board/sim/test_hooks.c) ----------------------

SIM_TEST = os.path.join(ROOT, os.environ.get("SELLO_BUILD", "build"), "test",
                        "sello-sim-test")


class SimTicks:
    """sello-sim-test's SELLO_SIM_TEST_TICKS file, "RATE_PPM JUMP_NS": from
    the first tick the simulator reads after a change, its ticks run at
    (1 + RATE_PPM / 10^6) of CLOCK_MONOTONIC, plus JUMP_NS (cumulative
    forward jumps). The simulator sees a change by the file's mtime, which
    the kernel keeps only to a jiffy: every version gets its own,
    strictly increasing mtime, and is written by rename."""

    def __init__(self, path):
        self.path = path
        self.rate_ppm = 0
        self.jump_ns = 0
        self._mtime_ns = 0
        self._write()

    def _write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{self.rate_ppm} {self.jump_ns}\n")
        ns = max(time.time_ns(), self._mtime_ns + 1_000_000)
        os.utime(tmp, ns=(ns, ns))
        os.replace(tmp, self.path)
        self._mtime_ns = ns

    def set_rate(self, ppm):
        assert -1_000_000 < ppm <= 1_000_000, ppm
        self.rate_ppm = ppm
        self._write()

    def jump(self, ns):
        """Jumps the ticks forward by ns (on top of earlier jumps)."""
        assert ns >= 0, ns
        self.jump_ns += ns
        self._write()


class HookedUnit(Unit):
    """A Unit whose module runs on sello-sim-test: the same firmware and
    board as sello-sim, plus the test hooks. `ticks` drives its tick
    source; `sim_env` holds the hooks' other variables
    (SELLO_SIM_TEST_CRASH_AT / _CRASH_WHEN / _PERSIST_LOG), read at each
    start of the simulator."""

    def __init__(self, directory, sim_args=()):
        super().__init__(directory, "module", sim_args)
        self.ticks = SimTicks(os.path.join(directory, "ticks"))
        self.sim_env = {}

    def sim_command(self):
        cmd = super().sim_command()
        cmd[0] = SIM_TEST
        env = {"SELLO_SIM_TEST_TICKS": self.ticks.path, **self.sim_env}
        # env(1) execs the simulator: the Popen's pid and exit code are its.
        return ["env", *[f"{k}={v}" for k, v in env.items()], *cmd]


@pytest.fixture
def hooked_unit_factory(tmp_path):
    """HookedUnit(s) in tmp_path, stopped afterwards; fails (not skips)
    when sello-sim-test was not built (`make test-programs`)."""
    if not os.access(SIM_TEST, os.X_OK):
        pytest.fail(f"{SIM_TEST} is missing: run `make test-programs`")
    units = []

    def make(name="unit", sim_args=()):
        d = tmp_path / name
        d.mkdir()
        u = HookedUnit(str(d), sim_args)
        units.append(u)
        return u
    yield make
    for u in units:
        u.stop()
