"""End-to-end fixtures: a real sello-sim, a real sello-relayd, a throwaway
CA made with the openssl CLI, all on 127.0.0.1 and stopped afterwards."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


class Unit:
    """A simulated module and, optionally, the relay in front of it."""

    def __init__(self, directory):
        self.dir = directory
        self.state = os.path.join(directory, "state")
        self.sim_sock = os.path.join(directory, "sim.sock")
        self.admin_sock = os.path.join(directory, "admin.sock")
        self.sim = None
        self.relay = None
        self.port = None

    # -- processes -------------------------------------------------------
    def start_sim(self):
        self.sim = subprocess.Popen(
            [SIM, "--socket", self.sim_sock, "--state", self.state],
            stderr=open(os.path.join(self.dir, "sim.log"), "ab"))
        wait_for(lambda: os.path.exists(self.sim_sock), what="sello-sim")
        return self

    def stop_sim(self, sig=signal.SIGTERM):
        if self.sim:
            self.sim.send_signal(sig)
            self.sim.wait(timeout=10)
            self.sim = None
            if os.path.exists(self.sim_sock):
                os.unlink(self.sim_sock)

    def start_relay(self, *extra):
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
    def module(self):
        return abi.Module(self.sim_sock)

    def provision(self, ca, key="p256", params=(), chain=True):
        """Key generated in the module, certificate issued by `ca`, loaded,
        clock set: the unit is active."""
        m = self.module()
        try:
            items = [(abi.INIT_KEY_TYPE, bytes([abi.KEY_TYPES[key]])),
                     (abi.INIT_SUBJECT, subject_der())] + list(params)
            m.call(abi.OP_INIT, abi.tlv(items))
            csr = m.call(abi.OP_GET_CSR)
            self.cert_pem = os.path.join(self.dir, "tsa.pem")
            self.cert_der = ca.issue(csr, self.cert_pem)
            m.call(abi.OP_LOAD_CERT,
                   self.cert_der + (ca.der if chain else b""))
            m.set_time(int(time.time() * 1000))
        finally:
            m.close()
        return self

    def set_time_now(self):
        m = self.module()
        try:
            m.set_time(int(time.time() * 1000))
        finally:
            m.close()

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


@pytest.fixture(scope="session")
def ca(tmp_path_factory):
    return CA(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture
def unit_factory(tmp_path):
    units = []

    def make(name="unit"):
        d = tmp_path / name
        d.mkdir()
        u = Unit(str(d))
        units.append(u)
        return u
    yield make
    for u in units:
        u.stop()


@pytest.fixture
def unit(unit_factory, ca):
    """An active P-256 unit behind a relay."""
    return unit_factory().start_sim().provision(ca).start_relay()
