"""The same firmware on bare metal: the Sello image for the MPS2 AN385 board
(Cortex-M3) booted in QEMU (`qemu-system-arm -M mps2-an385`), served by the
relay over its UART (QEMU's socket chardev, the serial link framing of
<sello/serial_link.h>), set up with the operator's tools exactly as on the
simulator: `sello init` (a test unit: this board's entropy and device
secret are simulations), CSR, certificate, activation by a quorum, tokens
verified by `openssl ts -verify`; then QEMU restarts on the same state and
the serial numbers continue.

The images are build/mps2-an385/sello-mps2.elf and, with the test hooks
(--fault-test), sello-mps2-test.elf: `make BOARD=mps2-an385 all
test-programs` builds both (test/run-all does)."""
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

import tsp_util
from conftest import RELAY, ROOT, Unit, free_port, wait_for
from serial_link import NAK, LinkDecoder, link_wire
from test_ceremony_cli import Ceremony, sello, status

BUILD = os.path.join(ROOT, os.environ.get("SELLO_BUILD", "build"))
IMAGE = os.path.join(BUILD, "mps2-an385", "sello-mps2.elf")
TEST_IMAGE = os.path.join(BUILD, "mps2-an385", "sello-mps2-test.elf")
QEMU = "qemu-system-arm"
STACK_BUDGET = 16 * 1024


class Mps2Unit:
    """QEMU running the image on a state directory, and the relay in front
    of its UART0: QEMU serves the UART on a UNIX socket (serial:unix:
    module address) or, with link="tcp", on a 127.0.0.1 TCP port
    (serial:tcp:). Shaped like conftest.Unit where the CLI helpers need it
    (dir, admin_sock, url, post)."""

    def __init__(self, directory, image=IMAGE, link="unix"):
        self.dir = directory
        self.image = image
        self.link = link
        self.uart_port = free_port() if link == "tcp" else None
        self.state = os.path.join(directory, "state")
        os.makedirs(self.state, exist_ok=True)
        self.uart = os.path.join(directory, "uart0.sock")
        self.console = os.path.join(directory, "console.log")
        self.admin_sock = os.path.join(directory, "admin.sock")
        self.qemu = None
        self.relay = None
        self.port = None

    def qemu_command(self, *board_args):
        args = ",".join(f"arg={a}" for a in
                        ("sello-mps2", "--state", self.state, *board_args))
        where = (f"host=127.0.0.1,port={self.uart_port}" if self.uart_port
                 else f"path={self.uart}")
        return [QEMU, "-M", "mps2-an385", "-display", "none",
                "-monitor", "none", "-nodefaults",
                "-chardev", f"socket,id=link,{where},server=on,wait=off",
                "-serial", "chardev:link",
                "-chardev", f"file,id=console,path={self.console},append=on",
                "-serial", "chardev:console",
                "-semihosting-config", f"enable=on,target=native,{args}",
                "-kernel", self.image]

    def start_qemu(self, *board_args):
        if os.path.exists(self.uart):
            os.unlink(self.uart)
        seen = len(self.console_text())  # the console log is appended to
        self.qemu = subprocess.Popen(
            self.qemu_command(*board_args), stdin=subprocess.DEVNULL,
            stdout=open(os.path.join(self.dir, "qemu.log"), "ab"),
            stderr=subprocess.STDOUT)

        def up():
            if self.qemu.poll() is not None:
                raise RuntimeError(f"QEMU exited with {self.qemu.returncode}:"
                                   f" {self.console_text()[-2000:]}")
            return "serving on UART0" in self.console_text()[seen:]
        wait_for(up, timeout=60, what="the module on QEMU")
        return self

    def console_text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop_qemu(self):
        if self.qemu:
            self.qemu.send_signal(signal.SIGTERM)
            self.qemu.wait(timeout=20)
            self.qemu = None

    def start_relay(self):
        seen = len(self.relay_log())  # appended to as well
        self.port = free_port()
        self.relay = subprocess.Popen(
            [RELAY, "--listen", f"127.0.0.1:{self.port}",
             "--module", self.module_address(),
             "--admin", self.admin_sock,
             "--audit-log", os.path.join(self.dir, "audit.log"),
             "--time-feed-interval-ms", "0"],
            stderr=open(os.path.join(self.dir, "relay.log"), "ab"))

        def up():
            if self.relay.poll() is not None:
                raise RuntimeError("sello-relayd exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return True
            except OSError:
                return False
        wait_for(up, what="sello-relayd")
        wait_for(lambda: "module link up" in self.relay_log()[seen:]
                 and os.path.exists(self.admin_sock), timeout=20,
                 what="the relay's link to QEMU's UART")
        return self

    def module_address(self):
        if self.uart_port:
            return f"serial:tcp:127.0.0.1:{self.uart_port}"
        return f"serial:unix:{self.uart}"

    def relay_log(self):
        try:
            with open(os.path.join(self.dir, "relay.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    stop_relay = Unit.stop_relay

    def stop(self):
        self.stop_relay()
        self.stop_qemu()

    # The relay's side is the simulator's: the same HTTP client and stop.
    url = Unit.url
    post = Unit.post

    def stack_high_water(self):
        marks = [int(m) for m in re.findall(r"stack high-water (\d+) of",
                                            self.console_text())]
        return max(marks) if marks else None


@pytest.fixture
def mps2_factory(tmp_path):
    for path in (IMAGE, TEST_IMAGE):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: run "
                        "`make BOARD=mps2-an385 all test-programs`")
    units = []

    def make(name="mps2", image=IMAGE, link="unix"):
        d = tmp_path / name
        d.mkdir()
        u = Mps2Unit(str(d), image, link)
        units.append(u)
        return u
    yield make
    for u in units:
        u.stop()


def stamp_and_verify(unit, ca, tmp_path, name):
    """An openssl-made request posted to the relay; the token verified by
    `openssl ts -verify` against the request and the test CA. Returns its
    serial number."""
    data, tsq, tsr = (tmp_path / f"{name}.txt", tmp_path / f"{name}.tsq",
                      tmp_path / f"{name}.tsr")
    data.write_bytes(f"stamped on a Cortex-M3: {name}\n".encode())
    subprocess.run(["openssl", "ts", "-query", "-data", str(data), "-sha256",
                    "-cert", "-out", str(tsq)], check=True,
                   capture_output=True)
    code, headers, body = unit.post(tsq.read_bytes())
    assert code == 200, (code, body[:200])
    assert headers["Content-Type"] == "application/timestamp-reply"
    assert tsp_util.status_of(body)[0] == "granted", tsp_util.status_of(body)
    tsr.write_bytes(body)
    r = subprocess.run(["openssl", "ts", "-verify", "-in", str(tsr),
                        "-queryfile", str(tsq), "-CAfile", ca.pem],
                       capture_output=True, text=True)
    assert "Verification: OK" in r.stdout, r.stdout + r.stderr
    return int(tsp_util.tst_info(body)["serial_number"].native)


# The UART behind a UNIX socket for one key, behind TCP for the other.
def wait_until_issuing(unit, timeout=10.0):
    """Posts probe requests until one is granted; only the post-restart
    time floor may refuse meanwhile."""
    end = time.monotonic() + timeout
    while True:
        req, _ = tsp_util.request(b"probe")
        code, _, body = unit.post(req)
        assert code == 200, code
        status_, _, texts = tsp_util.status_of(body)
        if status_ == "granted":
            return
        assert any("behind" in t for t in texts), texts
        assert time.monotonic() < end, texts
        time.sleep(0.1)


@pytest.mark.parametrize("key,link", [("p256", "unix"), ("rsa2048", "tcp")])
def test_ceremony_tokens_and_restart_on_qemu(mps2_factory, ca, tmp_path, key,
                                             link):
    u = mps2_factory(key, link=link).start_qemu().start_relay()
    c = Ceremony(u, tmp_path / "ceremony")

    # This board's entropy and device secret are the emulator host's: the
    # module refuses a production key on it.
    r = c.init("--key", key, check=False)
    assert r.returncode != 0 and "--test-unit" in r.stderr, r.stderr
    assert status(u)["state"] == "uninitialised"

    c.init("--key", key, "--test-unit")
    st = status(u)
    assert st["state"] == "initialised" and st["simulation"] is True
    assert st["test_unit"] is True
    c.certify(ca)
    c.quorum("activate", [1, 3])
    st = status(u)
    assert st["state"] == "active" and st["clock"] == "synchronised", st
    assert st["key_type"] == key

    first = [stamp_and_verify(u, ca, tmp_path, f"{key}-{i}") for i in range(3)]
    assert first == sorted(set(first)), first

    # Power off: QEMU and the relay stop; the state files stay.
    u.stop()
    u.start_qemu().start_relay()
    st = status(u)
    assert st["state"] == "ready", st  # restarts lock the key
    c.quorum("activate", [2, 3])
    # A quick restart: the module first lets its clock pass the time the
    # previous run may have issued up to (its lease, at most a second
    # ahead), answering timeNotAvailable "behind ... retry shortly" until
    # then.
    wait_until_issuing(u)
    after = [stamp_and_verify(u, ca, tmp_path, f"{key}-after-{i}")
             for i in range(3)]
    assert min(after) > max(first), (first, after)
    assert after == sorted(set(after)), after

    # Every token is in the audit chain the relay stored, which verifies
    # up to the module's current head.
    out = sello(u, "audit", "verify", "--live", "--log",
                os.path.join(u.dir, "audit.log")).stdout
    # 3 + 3 tokens, and the probe that found the unit issuing again.
    assert re.search(r"^tokens +7$", out, re.M), out
    assert "live: the module's head" in out and "verified:" in out, out

    used = u.stack_high_water()
    assert used is not None and used < STACK_BUDGET, used


# ---- the link itself ---------------------------------------------------------

def link_read(sock, decoder, pending):
    """The next message or damage report from the link: ("msg", message)
    or ("bad", reason), by the independent decoder of serial_link.py."""
    while not pending:
        data = sock.recv(65536)
        assert data, "link closed"
        pending.extend(decoder.feed(data))
    return pending.pop(0)


def status_frame(tag):
    return struct.pack(">BBBBII", 0x53, 1, 0x01, 0, tag, 0)


def test_uart_link_resynchronises_after_noise_and_naks_damage(mps2_factory):
    """Straight on QEMU's UART socket, without the relay: noise is dropped
    at the next delimiter, a damaged message is answered by a NAK in its
    place, and the next good frame is answered as if nothing happened."""
    u = mps2_factory().start_qemu()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(u.uart)
        decoder, pending = LinkDecoder(), []

        def answer_tag():
            kind, msg = link_read(s, decoder, pending)
            assert kind == "msg" and msg[0] == 0x53, (kind, msg)
            return struct.unpack(">I", msg[4:8])[0]

        s.sendall(b"\x13\x37noise before any delimiter" +
                  link_wire(status_frame(1)))
        assert answer_tag() == 1

        wire = bytearray(link_wire(status_frame(2)))
        wire[2] ^= 0x40  # the magic, one bit off: the CRC no longer matches
        s.sendall(bytes(wire) + link_wire(status_frame(3)))
        assert link_read(s, decoder, pending) == ("msg", bytes([NAK, 1]))
        assert answer_tag() == 3

        s.sendall(b"\0garbage between frames\0" + link_wire(status_frame(4)))
        kind, msg = link_read(s, decoder, pending)
        assert kind == "msg" and msg[0] == NAK  # the garbage, NAKed
        assert answer_tag() == 4


def test_fault_handler_reports_and_halts(mps2_factory):
    """The test image executes an undefined instruction at start
    (--fault-test): the fault handler names the fault and its registers on
    the console and stops the machine (under emulation: QEMU exits with
    status 70)."""
    u = mps2_factory("fault", TEST_IMAGE)
    u.qemu = subprocess.Popen(u.qemu_command("--fault-test"),
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    assert u.qemu.wait(timeout=60) == 70
    u.qemu = None
    text = u.console_text()
    assert "FAULT: UsageFault" in text, text
    # CFSR.UNDEFINSTR (bit 16), and the faulting pc in the stacked frame.
    m = re.search(r"CFSR 0x([0-9a-f]{8})", text)
    assert m and int(m.group(1), 16) & (1 << 16), text
    pc = re.search(r" pc 0x([0-9a-f]{8})", text)
    assert pc, text
    # The stacked pc is the udf instruction itself, inside main().
    nm = subprocess.run(["arm-none-eabi-nm", TEST_IMAGE], capture_output=True,
                        text=True, check=True).stdout
    main_at = int(next(l.split()[0] for l in nm.splitlines()
                       if l.split()[-1] == "main"), 16)
    assert main_at <= int(pc.group(1), 16) < main_at + 1024, (main_at, text)
    assert "halted" in text, text
