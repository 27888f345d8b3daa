"""The relay over a serial-framed module link (--module serial:tcp:...),
with the real module: a bridge here plays a board's UART behind QEMU's
socket chardev. It listens on 127.0.0.1 as the chardev does (and accepts
again after a disconnect), decodes the serial link framing the relay sends
(include/sello/serial_link.h: 0x00 COBS(message || CRC-32 LE) 0x00),
forwards each ABI frame to sello-sim's UNIX socket as a raw frame, and
sends sello-sim's answers back in the framing. Its COBS and CRC are written
here, with zlib.crc32, apart from the C codec that the relay uses, so the
two ends check each other. The bridge can also misbehave like a line: add
noise, damage an answer, or NAK a request as a board does when one reaches
it damaged."""
import os
import selectors
import socket
import struct
import subprocess
import threading
import time
import zlib

import pytest

import tsp_util
from conftest import wait_for
from serial_link import NAK, NAK_REASONS, LinkDecoder, cobs_encode, link_wire

FRAME_MAGIC = 0x53
OP_STAMP = 0x02
HEADER = struct.Struct(">BBBBII")  # magic, version, code, flags, tag, length


def test_framing_helpers_agree_with_the_published_vectors():
    """The bridge's own codec, before it is trusted to judge the relay's:
    the CRC check value, and a hand-worked COBS example."""
    assert zlib.crc32(b"123456789") == 0xCBF43926
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(bytes(range(1, 255))) == b"\xff" + bytes(range(1, 255))
    for msg in (b"", b"\x00" * 300, bytes(range(256)) * 3, b"\x15\x01"):
        d = LinkDecoder()
        assert d.feed(b"\x42" + link_wire(msg)) == [("msg", msg)]


# ---- the bridge ----------------------------------------------------------------

class SerialBridge:
    """A board's UART behind a socket chardev in server mode, its other side
    sello-sim: one relay connection at a time, each with a fresh link to
    the simulator (what the board answered while nobody was connected is
    lost, as QEMU loses it). Listens on 127.0.0.1 TCP (on `port`, or any),
    or with `unix_path` on that UNIX socket; `address` is the relay's
    --module."""

    def __init__(self, sim_sock, unix_path=None, port=0):
        self.sim_sock = sim_sock
        if unix_path is None:
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", port))
            port = self.listener.getsockname()[1]
            self.address = f"serial:tcp:127.0.0.1:{port}"
        else:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(unix_path)
            self.address = f"serial:unix:{unix_path}"
        self.listener.listen(1)
        self.listener.settimeout(0.2)  # so that close() is seen
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.relay = None
        self.stopping = False
        # what happened
        self.connections = 0
        self.openings = []        # the first octets of each connection
        self.requests = 0         # frames from the relay, forwarded or not
        self.outstanding = 0      # forwarded, not answered yet
        self.last_request = time.monotonic()
        self.damaged_from_relay = []
        self.naks_sent = 0
        self.corrupted = 0
        self.noise_sent = 0
        self.stamp_tags = set()   # forwarded STAMPs, until answered
        # how to misbehave
        self.banner = b""         # sent first on every connection
        self.noise = b""          # after each STAMP answer, when idle
        self.corrupt_next_stamp_answer = False
        self.nak_next_stamp = None  # a SELLO_LINK_BAD_* reason
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.listener.close()

    def drop(self):
        """Closes the relay's connection, as a chardev does when QEMU's
        side goes away; the listener stays."""
        with self.send_lock:
            if self.relay is not None:
                self.relay.shutdown(socket.SHUT_RDWR)

    def send_to_relay(self, data):
        with self.send_lock:
            if self.relay is not None:
                self.relay.sendall(data)

    def idle_for(self, seconds):
        with self.lock:
            return (self.outstanding == 0 and
                    time.monotonic() - self.last_request >= seconds)

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            sim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sim.connect(self.sim_sock)
            except OSError:
                conn.close()
                sim.close()
                continue
            with self.lock:
                self.connections += 1
                self.outstanding = 0
                self.relay = conn
            try:
                if self.banner:
                    self.send_to_relay(self.banner)
                self._pump(conn, sim)
            except OSError:
                pass
            finally:
                with self.lock:
                    self.relay = None
                conn.close()
                sim.close()

    def _pump(self, conn, sim):
        decoder, answers, opening = LinkDecoder(), bytearray(), b""
        sel = selectors.DefaultSelector()
        sel.register(conn, selectors.EVENT_READ, "relay")
        sel.register(sim, selectors.EVENT_READ, "sim")
        while not self.stopping:
            for key, _ in sel.select(timeout=0.2):
                data = key.fileobj.recv(65536)
                if not data:
                    return
                if key.data == "relay":
                    if len(opening) < 2:
                        opening += data[:2 - len(opening)]
                        if len(opening) == 2:
                            self.openings.append(opening)
                    for kind, value in decoder.feed(data):
                        self._from_relay(kind, value, sim)
                else:
                    answers += data
                    while len(answers) >= HEADER.size:
                        n = HEADER.size + HEADER.unpack_from(answers)[5]
                        if len(answers) < n:
                            break
                        frame = bytes(answers[:n])
                        del answers[:n]
                        self._to_relay(frame)

    def _from_relay(self, kind, value, sim):
        if kind == "bad" or len(value) < HEADER.size or \
                value[0] != FRAME_MAGIC:
            # What a board does with a damaged request.
            self.damaged_from_relay.append((kind, value))
            reason = value if kind == "bad" else 1
            self.send_to_relay(link_wire(bytes([NAK, reason])))
            return
        op, tag = value[2], HEADER.unpack_from(value)[4]
        with self.lock:
            self.requests += 1
            self.last_request = time.monotonic()
            nak = op == OP_STAMP and self.nak_next_stamp is not None
            if nak:
                reason, self.nak_next_stamp = self.nak_next_stamp, None
                self.naks_sent += 1
            else:
                self.outstanding += 1
                if op == OP_STAMP:
                    self.stamp_tags.add(tag)
        if nak:
            # As if the request had reached the board damaged: the module
            # never sees it, and a NAK stands where its answer would be.
            self.send_to_relay(link_wire(bytes([NAK, reason])))
        else:
            sim.sendall(value)

    def _to_relay(self, frame):
        wire = bytearray(link_wire(frame))
        tag = HEADER.unpack_from(frame)[4]
        with self.lock:
            self.outstanding -= 1
            stamp = tag in self.stamp_tags
            self.stamp_tags.discard(tag)
            corrupt = stamp and self.corrupt_next_stamp_answer
            if corrupt:
                self.corrupt_next_stamp_answer = False
                self.corrupted += 1
            # Noise only where the relay owes no answer: after a STAMP's
            # answer with nothing else forwarded (the relay's next frame,
            # an AUDIT_ACK or the next STAMP, follows this answer).
            noise = (self.noise if stamp and self.outstanding == 0
                     and not corrupt else b"")
            if noise:
                self.noise_sent += 1
        if corrupt:
            # wire[1] is the first COBS code and wire[2], wire[3] the
            # frame's magic and version, all non-zero: the version octet
            # turns into 0x03, which only the CRC can tell.
            assert wire[1] >= 3 and wire[3] == 0x01, wire[:4].hex()
            wire[3] ^= 0x02
        # One write: the answer and its noise reach the relay together.
        self.send_to_relay(bytes(wire) + noise)


# ---- the tests -----------------------------------------------------------------

def start_serial_relay(u, bridge):
    """u's relay, reaching the module through `bridge` (the relay takes the
    last --module it is given), with debug logging."""
    u.bridge = bridge
    u.start_relay("--module", bridge.address, "--log-level", "debug",
                  time_feed=False)
    wait_for(lambda: bridge.connections == 1 and bridge.requests > 0,
             what="the relay's first frame over the serial link")
    return u


@pytest.fixture(params=["tcp", "unix"])
def serial_unit(request, unit_factory, ca):
    """An active P-256 unit whose relay reaches the module through the
    bridge: --module serial:tcp:127.0.0.1:PORT, or serial:unix:PATH."""
    u = unit_factory().start_sim().provision(ca)
    bridge = SerialBridge(u.sim_sock, os.path.join(u.dir, "uart.sock")
                          if request.param == "unix" else None)
    try:
        yield start_serial_relay(u, bridge)
    finally:
        u.stop_relay()
        bridge.close()


def relay_log(unit):
    with open(os.path.join(unit.dir, "relay.log"), errors="replace") as f:
        return f.read()


def stamp_and_verify(unit, ca, tmp_path, data):
    """A token through the relay for `data`, checked by openssl against
    the request (imprint and nonce) and the CA."""
    req, _ = tsp_util.request(data)
    status, headers, body = unit.post(req)
    assert status == 200, (status, body[:200])
    assert headers["Content-Type"] == "application/timestamp-reply"
    assert tsp_util.status_of(body)[0] == "granted"
    tsq, tsr = tmp_path / "req.tsq", tmp_path / "resp.tsr"
    tsq.write_bytes(req)
    tsr.write_bytes(body)
    r = subprocess.run(["openssl", "ts", "-verify", "-in", str(tsr),
                        "-queryfile", str(tsq), "-CAfile", ca.pem],
                       capture_output=True, text=True)
    assert "Verification: OK" in r.stdout, r.stdout + r.stderr
    return tsp_util.tst_info(body)["serial_number"].native


def assert_link_never_dropped(unit):
    log = relay_log(unit)
    assert "module link down" not in log, log[-3000:]
    assert unit.bridge.connections == 1
    assert unit.bridge.damaged_from_relay == []


def test_tokens_over_the_serial_link(serial_unit, ca, tmp_path):
    u = serial_unit
    serials = [stamp_and_verify(u, ca, tmp_path, b"serial %d" % i)
               for i in range(5)]
    assert serials == sorted(set(serials))
    assert f"module link up: {u.bridge.address}\n" in relay_log(u)
    assert u.bridge.requests >= 5
    # the relay's lone delimiter, then its first message's own
    assert u.bridge.openings == [b"\x00\x00"]
    assert_link_never_dropped(u)
    # the relay acknowledged the module's audit records over the link
    def acknowledged():
        with u.module(audit_ack=False) as m:
            return m.status()["audit_pending"] == 0
    wait_for(acknowledged, what="the relay's AUDIT_ACK")


def test_noise_between_messages_changes_nothing(serial_unit, ca, tmp_path):
    u, bridge = serial_unit, serial_unit.bridge
    # Runs of delimiters, a damaged-looking run, a CRC-less one, and a run
    # longer than any frame, each ended by a delimiter, after every answer
    # the relay has nothing else to wait for.
    bridge.noise = (b"\x00\x00\x00" + b"\x42\x13\x37\xff\x00" +
                    b"\x02\x99\x00" + b"\x07" * 12000 + b"\x00\x00")
    serials = [stamp_and_verify(u, ca, tmp_path, b"noisy %d" % i)
               for i in range(5)]
    assert serials == sorted(set(serials))
    assert bridge.noise_sent >= 3
    # three damaged runs in each noise: cobs, short, long
    wait_for(lambda: relay_log(u).count("noise, ignored") ==
             3 * bridge.noise_sent, what="the relay's notes of the noise")
    log = relay_log(u)
    for reason in ("cobs", "short", "long"):
        assert f"damaged message ({reason}) with no request in flight" in log
    assert_link_never_dropped(u)


def test_noise_before_the_first_delimiter_is_dropped(unit_factory, ca,
                                                     tmp_path):
    """A board's boot banner on the UART before the relay's first frame:
    the relay's decoder is not in step yet and drops it silently."""
    u = unit_factory().start_sim().provision(ca)
    bridge = SerialBridge(u.sim_sock)
    bridge.banner = b"MPS2 AN385 sello board, booting...\r\n\xff\xfe"
    try:
        start_serial_relay(u, bridge)
        stamp_and_verify(u, ca, tmp_path, b"after the banner")
        assert "damaged" not in relay_log(u)
        assert_link_never_dropped(u)
    finally:
        u.stop_relay()
        bridge.close()


def test_damaged_answer_resets_the_link(serial_unit, ca, tmp_path):
    u, bridge = serial_unit, serial_unit.bridge
    stamp_and_verify(u, ca, tmp_path, b"before")
    bridge.corrupt_next_stamp_answer = True
    req, _ = tsp_util.request(b"damaged on the way back")
    status, _, _ = u.post(req)
    assert status >= 500, status
    assert bridge.corrupted == 1
    wait_for(lambda: bridge.connections == 2, what="the relay to reconnect")
    log = relay_log(u)
    assert "damaged response on the serial link: crc" in log, log[-3000:]
    assert "module link down" in log
    # service is back, and the token lost with the answer left no gap the
    # relay cannot explain: its audit log catches up with the module
    serials = [stamp_and_verify(u, ca, tmp_path, b"after %d" % i)
               for i in range(3)]
    assert serials == sorted(set(serials))
    assert bridge.connections == 2
    assert bridge.damaged_from_relay == []


def test_nak_for_a_request_in_flight_fails_it(serial_unit, ca, tmp_path):
    u, bridge = serial_unit, serial_unit.bridge
    stamp_and_verify(u, ca, tmp_path, b"before")
    bridge.nak_next_stamp = 1  # SELLO_LINK_BAD_CRC
    req, _ = tsp_util.request(b"refused by the board")
    status, _, _ = u.post(req)
    assert status >= 500, status
    assert bridge.naks_sent == 1
    wait_for(lambda: bridge.connections == 2, what="the relay to reconnect")
    log = relay_log(u)
    assert "NAK from the board: a request reached it damaged: crc" in log,         log[-3000:]
    stamp_and_verify(u, ca, tmp_path, b"after")
    assert bridge.connections == 2


def test_nak_with_nothing_in_flight_is_ignored(serial_unit, ca, tmp_path):
    u, bridge = serial_unit, serial_unit.bridge
    stamp_and_verify(u, ca, tmp_path, b"before")
    # once the relay has nothing more to say (its AUDIT_ACK answered)
    wait_for(lambda: bridge.idle_for(0.3), what="an idle link")
    for reason in NAK_REASONS:
        bridge.send_to_relay(link_wire(bytes([NAK, reason])))
    wait_for(lambda: all(
        f"NAK ({name}) from the board with no request in flight: ignored"
        in relay_log(u) for name in NAK_REASONS.values()),
        what="the relay's notes of the NAKs")
    stamp_and_verify(u, ca, tmp_path, b"after")
    assert_link_never_dropped(u)


def test_relay_started_before_the_board(unit_factory, ca, tmp_path):
    """Nothing listens at the module address yet (QEMU not started): the
    relay serves 500s, keeps trying, and serves tokens once it can."""
    from conftest import free_port
    u = unit_factory().start_sim().provision(ca)
    port = free_port()
    u.start_relay("--module", f"serial:tcp:127.0.0.1:{port}",
                  "--log-level", "debug", time_feed=False)
    bridge = None
    try:
        req, _ = tsp_util.request(b"too early")
        assert u.post(req)[0] == 500
        bridge = SerialBridge(u.sim_sock, port=port)
        u.bridge = bridge
        wait_for(lambda: bridge.connections == 1, what="the relay to connect")
        wait_for(lambda: f"module link up: {bridge.address}" in relay_log(u),
                 what="the link to come up")
        stamp_and_verify(u, ca, tmp_path, b"in time")
        assert f"cannot reach the module at {bridge.address}" in relay_log(u)
        assert bridge.openings == [b"\x00\x00"]
    finally:
        u.stop_relay()
        if bridge is not None:
            bridge.close()


def test_board_side_disconnect_is_survived(serial_unit, ca, tmp_path):
    """The chardev drops the connection (QEMU's side went away) and accepts
    again: the relay reconnects, and opens with a delimiter again."""
    u, bridge = serial_unit, serial_unit.bridge
    stamp_and_verify(u, ca, tmp_path, b"before")
    bridge.drop()
    wait_for(lambda: bridge.connections == 2 and bridge.relay is not None,
             what="the relay to reconnect")
    serials = [stamp_and_verify(u, ca, tmp_path, b"after %d" % i)
               for i in range(2)]
    assert serials == sorted(set(serials))
    assert "module link down (connection closed)" in relay_log(u)
    assert bridge.openings == [b"\x00\x00"] * 2
    assert bridge.damaged_from_relay == []


def test_serial_module_addresses_are_checked(tmp_path):
    """serial: takes tcp: or unix: after it, and nothing else."""
    from conftest import RELAY
    for bad in ("serial:", "serial:udp:1.2.3.4:5", "serial:serial:unix:/x",
                "serial:unix:", "serial:tcp:nohostport"):
        r = subprocess.run([RELAY, "--listen", "127.0.0.1:0", "--module", bad,
                            "--audit-log", str(tmp_path / "audit.log")],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0, bad
        assert "address" in r.stderr, (bad, r.stderr)
    r = subprocess.run([RELAY, "--help"], capture_output=True, text=True)
    assert "serial:tcp:HOST:PORT" in r.stdout + r.stderr
