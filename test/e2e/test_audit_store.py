"""The relay as the durable store of the module's audit records
(host/audit_store.h): --audit-log is an append-only file of the raw
records in sequence order; answers are released only once their records
are durable, and without them; continuity across relay and module
restarts; a log that cannot be written stops the unit and a good one
recovers it.

The real sello-sim and sello-relayd, provisioned through the raw ABI by
conftest's Unit. Every link this file opens to the module itself is made
with audit_ack=False: a test client that acknowledged records would take
them away from the relay (which the relay then reports as a gap)."""
import hashlib
import json
import os
import re
import struct
import subprocess
import time
import urllib.request

import pytest

import sello_abi as abi
import tsp_util
from conftest import CLI, RELAY, free_port, wait_for

AUDIT_RESTART, AUDIT_TOKEN, AUDIT_CHECKPOINT = 1, 14, 15
AUDIT_OBSERVE = 10
AUDIT_SESSION, AUDIT_QUORUM, AUDIT_CALIBRATE = 4, 6, 9
SYSTEM_FAILURE = "system_failure"


# ---- the log ---------------------------------------------------------------

class Record:
    def __init__(self, raw):
        self.raw = raw
        (self.format, self.type, self.body_len, self.seq, self.utc_ms) = \
            struct.unpack_from(">BBHQQ", raw)
        self.prev = raw[20:52]
        self.body = raw[52:]
        self.hash = hashlib.sha256(raw).digest()

    def __repr__(self):
        return f"<record {self.seq} type {self.type}>"


def read_log(path):
    with open(path, "rb") as f:
        data = f.read()
    recs = abi.split_audit_records(data)
    assert sum(len(r) for r in recs) == len(data), "trailing octets"
    return [Record(r) for r in recs]


def check_chain(recs):
    """Every record follows the one before it: the next number, and its
    previous-hash is that record's hash; a RESTART continues from a
    checkpoint the log holds, and links to it. Returns the RESTARTs."""
    by_seq = {}
    restarts = []
    for i, r in enumerate(recs):
        assert r.format == 1, r
        assert r.seq not in by_seq, f"record {r.seq} stored twice"
        if i > 0 and r.type != AUDIT_RESTART:
            assert r.seq == recs[i - 1].seq + 1, (recs[i - 1], r)
            assert r.prev == recs[i - 1].hash, f"record {r.seq} does not link"
        if r.type == AUDIT_RESTART and i > 0:
            assert r.seq > recs[i - 1].seq, (recs[i - 1], r)
            saved = struct.unpack_from(">Q", r.body)[0]
            assert saved in by_seq, f"checkpoint {saved} not in the log"
            assert by_seq[saved].type == AUDIT_CHECKPOINT, by_seq[saved]
            assert r.prev == by_seq[saved].hash, "RESTART does not link"
            restarts.append(r)
        by_seq[r.seq] = r
    return restarts


def token_records(recs):
    return [r for r in recs if r.type == AUDIT_TOKEN]


# ---- the relay -------------------------------------------------------------

def start_relay(unit, log, *extra, feed_off=True):
    args = ["--audit-log", str(log), *extra]
    if feed_off and not any(a.startswith("--time-feed") for a in extra):
        args += ["--time-feed-interval-ms", "0"]
    return unit.start_relay(*args)


def relay_log(unit):
    with open(os.path.join(unit.dir, "relay.log"), errors="replace") as f:
        return f.read()


def stamp(unit, data=None):
    data = data if data is not None else os.urandom(16)
    req, _ = tsp_util.request(data)
    status, headers, body = unit.post(req)
    return status, body


def stamp_granted(unit, timeout=10.0):
    """A granted token, waiting out a restarted module's time floor (its
    previous run's lease: no token before the clock has passed it)."""
    end = time.monotonic() + timeout
    while True:
        status, body = stamp(unit)
        assert status == 200
        st, fail, text = tsp_util.status_of(body)
        if st == "granted":
            return body
        assert fail == {"time_not_available"}, (st, fail, text)
        assert time.monotonic() < end, text
        time.sleep(0.2)


def admin_status(unit):
    """STATUS through the relay's admin socket: (flags, fields)."""
    with abi.Module(unit.admin_sock, audit_ack=False) as m:
        code, flags, body = m.call_raw(abi.OP_STATUS)
        assert code == abi.OK, body
        assert not m.audit_log, "the admin client saw audit records"
        return flags, abi._fields(body, abi.ST, abi.ST_BYTES)


def wait_link_up(unit):
    def ok():
        try:
            admin_status(unit)
            return True
        except (ConnectionError, OSError, AssertionError):
            return False
    wait_for(ok, timeout=15, what="the relay's module link")


def page_fields(unit):
    with urllib.request.urlopen(unit.url, timeout=30) as r:
        page = r.read().decode()
    return dict(re.findall(r'<span id="(audit-[a-z-]+)">([^<]*)</span>', page))


def openssl_verify(tsr, data, ca_pem):
    r = subprocess.run(["openssl", "ts", "-verify", "-in", str(tsr), "-data",
                        str(data), "-CAfile", ca_pem],
                       capture_output=True, text=True)
    ok = r.returncode == 0 and "Verification: OK" in r.stdout
    return ok, r.stdout + r.stderr


@pytest.fixture
def active(unit_factory, ca):
    """A provisioned, active unit; no relay yet."""
    return unit_factory().start_sim().provision(ca)


# ---- tests -----------------------------------------------------------------

def test_tokens_unchanged_and_each_has_its_record(active, ca, tmp_path):
    log = tmp_path / "audit.log"
    u = start_relay(active, log)
    assert log.stat().st_mode & 0o777 == 0o600
    bodies = []
    for i in range(8):
        data = tmp_path / f"doc{i}"
        data.write_bytes(os.urandom(64))
        status, body = stamp(u, data.read_bytes())
        assert status == 200
        # The body is the TimeStampResp itself: no audit prefix.
        assert body[0] == 0x30
        tsp_util.parse_response(body)
        assert tsp_util.status_of(body)[0] == "granted"
        tsr = tmp_path / f"doc{i}.tsr"
        tsr.write_bytes(body)
        ok, out = openssl_verify(tsr, data, ca.pem)
        assert ok, out
        bodies.append(body)

    recs = read_log(log)
    check_chain(recs)
    tokens = token_records(recs)
    assert len(tokens) == len(bodies)
    for rec, body in zip(tokens, bodies):
        assert rec.body_len == 44
        # The record's hash is of exactly the bytes the client received.
        assert rec.body[12:] == hashlib.sha256(body).digest()
        serial = tsp_util.tst_info(body)["serial_number"].native
        assert int.from_bytes(rec.body[:12], "big") == serial
    seqs = [r.seq for r in tokens]
    assert seqs == sorted(seqs)

    # The module's chain ends where the log does.
    flags, st = admin_status(u)
    assert not flags & abi.FLAG_AUDIT
    recs = read_log(log)
    assert st["audit_seq"] == recs[-1].seq
    assert st["audit_head"] == recs[-1].hash

    # The status page says so too.
    f = page_fields(u)
    recs = read_log(log)
    assert int(f["audit-log-seq"]) == recs[-1].seq
    assert f["audit-log-hash"] == recs[-1].hash.hex()
    assert int(f["audit-module-seq"]) == recs[-1].seq
    assert f["audit-agree"].startswith("the log agrees"), f
    assert int(f["audit-log-stored"]) == len(recs)

    # The admin CLI path still parses.
    env = dict(os.environ, SELLO_ADMIN=u.admin_sock)
    r = subprocess.run([CLI, "status", "--json"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    st = json.loads(r.stdout)
    assert st["audit_seq"] == read_log(log)[-1].seq
    r = subprocess.run([CLI, "status"], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0 and "active" in r.stdout, r.stdout + r.stderr
    # Records stay pending only until the relay's AUDIT_ACK.
    wait_for(lambda: admin_status(u)[1]["audit_pending"] == 0,
             what="the module's records acknowledged")


def test_relay_restart_loses_and_duplicates_nothing(active, tmp_path):
    log = tmp_path / "audit.log"
    u = start_relay(active, log)
    for _ in range(3):
        assert stamp(u)[0] == 200
    u.stop_relay()
    before = read_log(log)

    # The module keeps working without a relay; nobody acknowledges.
    direct = []
    with abi.Module(u.sim_sock, audit_ack=False) as m:
        for _ in range(4):
            req, _ = tsp_util.request(os.urandom(8))
            flags, body = m.stamp(req)
            direct.append(body)
        made = [Record(r) for r in m.audit_log]
    assert made and made[0].seq > before[-1].seq

    start_relay(u, log)
    # Caught up before serving: the records are in the log already.
    recs = read_log(log)
    assert [r.raw for r in recs[:len(before)]] == [r.raw for r in before]
    assert [r.raw for r in recs[len(before):]] == [r.raw for r in made]
    hashes = {r.body[12:] for r in token_records(recs)}
    assert all(hashlib.sha256(b).digest() in hashes for b in direct)

    # A gap in steady state: answers another client took while the relay
    # runs are read back when the relay's next answer skips them.
    with abi.Module(u.sim_sock, audit_ack=False) as m:
        for _ in range(2):
            req, _ = tsp_util.request(os.urandom(8))
            m.stamp(req)
    for _ in range(3):
        assert stamp(u)[0] == 200
    u.stop_relay()
    recs = read_log(log)
    check_chain(recs)
    assert len(token_records(recs)) == 3 + 4 + 2 + 3
    assert "missing from the log" not in relay_log(u)

    # A relay that stored records and stopped before its AUDIT_ACK: the
    # next one finds nothing new, sees by the last record's hash that the
    # module's chain is the log's, and acknowledges.
    with abi.Module(u.sim_sock, audit_ack=False) as m:
        req, _ = tsp_util.request(os.urandom(8))
        m.stamp(req)
        stored_not_acked = m.audit_log
        assert m.status()["audit_pending"] > 0
    with open(log, "ab") as f:
        f.write(b"".join(stored_not_acked))
    size = log.stat().st_size
    start_relay(u, log)
    wait_for(lambda: admin_status(u)[1]["audit_pending"] == 0,
             what="the module's records acknowledged")
    assert log.stat().st_size == size
    assert read_log(log)[-1].seq == admin_status(u)[1]["audit_seq"]
    check_chain(read_log(log))


def test_records_another_host_took_are_named_as_missing(active, tmp_path):
    log = tmp_path / "audit.log"
    u = start_relay(active, log)
    assert stamp(u)[0] == 200
    u.stop_relay()
    last = read_log(log)[-1].seq
    # Another host stores and acknowledges records: the module forgets
    # them, and no relay can have them.
    with abi.Module(u.sim_sock, audit_ack=True) as m:
        for _ in range(2):
            req, _ = tsp_util.request(os.urandom(8))
            m.stamp(req)
        taken = [abi.audit_seq(r) for r in m.audit_log]
    assert taken[0] == last + 1
    start_relay(u, log)
    body = stamp_granted(u)
    u.stop_relay()
    assert (f"records {taken[0]}..{taken[-1]} are missing from the log"
            in relay_log(u)), relay_log(u)
    recs = read_log(log)
    seqs = [r.seq for r in recs]
    assert not set(taken) & set(seqs)
    assert seqs[-1] > taken[-1]
    assert token_records(recs)[-1].body[12:] == hashlib.sha256(body).digest()
    check_chain([r for r in recs if r.seq > taken[-1]])


def test_module_restart_record_arrives_and_links(active, tmp_path):
    log = tmp_path / "audit.log"
    u = start_relay(active, log)
    for _ in range(3):
        assert stamp(u)[0] == 200
    last_before = read_log(log)[-1].seq

    u.stop_sim()
    u.start_sim()
    wait_link_up(u)
    # Activation and calibration through the relay, which stores their
    # records.
    with abi.Module(u.admin_sock, audit_ack=False) as m:
        reply = m.activate(u.shares[:u.threshold], abi.time_proposal())
        assert reply.get("done") == 1, reply
        # The admin client never sees records: the relay took them.
        assert m.audit_log == []
    bodies = [stamp_granted(u) for _ in range(3)]

    recs = read_log(log)
    restarts = check_chain(recs)
    assert len(restarts) == 1
    r = restarts[0]
    assert r.seq > last_before
    saved = struct.unpack_from(">Q", r.body)[0]
    assert saved <= last_before
    after = [x for x in recs if x.seq > r.seq]
    assert [t.body[12:] for t in token_records(after)] == [
        hashlib.sha256(b).digest() for b in bodies]
    # The activation's records came through the admin socket.
    types = [x.type for x in after]
    assert AUDIT_SESSION in types and AUDIT_QUORUM in types, types
    assert AUDIT_CALIBRATE in types, types
    assert admin_status(u)[1]["audit_seq"] == read_log(log)[-1].seq
    assert "missing from the log" not in relay_log(u)
    assert "does not link" not in relay_log(u)


def test_unwritable_log_withholds_tokens_and_stops_the_unit(active, tmp_path):
    good = tmp_path / "audit.log"
    u = start_relay(active, good)
    assert stamp(u)[0] == 200
    u.stop_relay()
    stored = read_log(good)

    # /dev/full: every write fails with ENOSPC.
    start_relay(u, "/dev/full")
    codes, rejection = [], None
    for _ in range(120):
        status, body = stamp(u)
        codes.append(status)
        if status == 200:
            st, fail, text = tsp_util.status_of(body)
            # Never a token whose record is not stored.
            assert st == "rejection", (st, fail, text)
            rejection = (fail, text)
            break
        assert status == 500
    assert codes[0] == 500
    assert rejection is not None, "the module never stopped issuing"
    fail, text = rejection
    assert fail == {SYSTEM_FAILURE}
    assert any("audit" in t for t in text), text
    assert codes.count(500) >= 5
    assert "No space left on device" in relay_log(u)
    _, st = admin_status(u)
    assert st["audit_pending"] > 0
    u.stop_relay()
    assert [r.raw for r in read_log(good)] == [r.raw for r in stored]

    # A relay with a good log takes over: it collects everything the
    # module held, acknowledges it, and the unit issues again.
    start_relay(u, good)
    status, body = stamp(u)
    assert status == 200
    assert tsp_util.status_of(body)[0] == "granted"
    recs = read_log(good)
    check_chain(recs)
    # Every token the module made while the log failed (withheld from its
    # client with 500) has its record, and the new one too.
    assert len(token_records(recs)) == 1 + codes.count(500) + 1
    assert token_records(recs)[-1].body[12:] == hashlib.sha256(body).digest()
    wait_for(lambda: admin_status(u)[1]["audit_pending"] == 0,
             what="the module's records acknowledged")


def test_time_feed_answers_pass_through_the_store(active, tmp_path):
    """TIME_OBSERVE answers carry OBSERVE records: stored, and the feed
    sees its own payload."""
    log = tmp_path / "audit.log"
    source = tmp_path / "feed"
    source.write_text("0 2000 1\n")
    u = start_relay(active, log, "--time-feed-interval-ms", "100",
                    "--time-feed-source", str(source), feed_off=False)
    wait_for(lambda: len([r for r in read_log(log)
                          if r.type == AUDIT_OBSERVE]) >= 3,
             what="observation records")
    assert "malformed TIME_OBSERVE answer" not in relay_log(u)
    assert "observation accepted" in relay_log(u)
    assert stamp(u)[0] == 200
    u.stop_relay()
    check_chain(read_log(log))


def test_truncated_tail_is_cut_off_at_start(active, tmp_path):
    log = tmp_path / "audit.log"
    u = start_relay(active, log)
    assert stamp(u)[0] == 200
    u.stop_relay()
    good = log.read_bytes()
    last = read_log(log)[-1]
    # A crash halfway through an append: the next record's first octets.
    with open(log, "ab") as f:
        f.write(last.raw[:70])
    start_relay(u, log)
    assert "cut off 70 octet(s)" in relay_log(u)
    assert log.read_bytes()[:len(good)] == good
    assert stamp(u)[0] == 200
    u.stop_relay()
    check_chain(read_log(log))


def run_relay(*args):
    return subprocess.run([RELAY, "--listen", f"127.0.0.1:{free_port()}",
                           *args], capture_output=True, text=True,
                          timeout=30)


def test_refuses_to_start_without_a_usable_log(active, tmp_path):
    module = f"unix:{active.sim_sock}"
    r = run_relay("--module", module)
    assert r.returncode == 2
    assert "--audit-log is required" in r.stderr

    junk = tmp_path / "junk.log"
    junk.write_bytes(b"this is not an audit log\n" * 4)
    r = run_relay("--module", module, "--audit-log", str(junk))
    assert r.returncode == 1
    assert "not an audit record" in r.stderr
    assert junk.read_bytes() == b"this is not an audit log\n" * 4

    # One relay per log.
    log = tmp_path / "audit.log"
    u = start_relay(active, log)
    r = run_relay("--module", module, "--audit-log", str(log))
    assert r.returncode == 1
    assert "locked" in r.stderr
    assert stamp(u)[0] == 200


def test_help_documents_the_audit_log():
    r = subprocess.run([RELAY, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    assert "--audit-log PATH" in r.stdout
    assert "fdatasync()" in r.stdout and "Group commit" in r.stdout
