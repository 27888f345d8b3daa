"""The relay's host time feed (host/time_feed.h), end to end.

A real sello-sim and a real sello-relayd. The relay reads its reference
from a --time-feed-source file, never from the machine's kernel, so these
tests behave the same whether or not this machine runs an NTP daemon (CI
machines often do not: the kernel then reports STA_UNSYNC and a 16 s
maxerror). Only test_missing_source_file_falls_back_to_the_kernel looks at
the kernel, and it accepts either verdict.

The module's clock is calibrated here through the quorum with the raw ABI
(an ACTIVATE or RECALIBRATE session carrying a proposal, abi.h), so the
tests do not depend on how conftest's Unit.provision() sets the clock.
"""
import os
import re
import struct
import subprocess
import time
import urllib.request

import pytest

import sello_abi as abi
import tsp_util
from conftest import RELAY, wait_for

OP_TIME_OBSERVE = 0x21
PURPOSE_ACTIVATE, PURPOSE_RECALIBRATE = 1, 3
SESS_ID, SESS_CHALLENGE, SESS_PUBKEY, SESS_PURPOSE = 1, 2, 3, 5
SESS_DONE = 10

# STATUS items (abi.h SELLO_ST_*), read by number here.
ST_STATE, ST_ACCURACY_MS, ST_CLOCK = 1, 4, 10
ST_CLOCK_WHY, ST_CLOCK_ERROR_US, ST_OBS_OFFSET_US = 27, 28, 29
ST_OBS_AGE_MS, ST_SYNC_LEFT_S = 30, 31
CLOCK_UNCALIBRATED, CLOCK_SYNCHRONISED, CLOCK_UNSYNCHRONISED = 0, 1, 2
WHY_NONE, WHY_DISAGREE = 0, 3

INTERVAL_MS = 200
# Scheduling slack on a loaded CI machine, on top of one interval.
SLACK_S = 1.5


# ---- helpers ---------------------------------------------------------------

def status(unit):
    """STATUS as {item number: value} (ints, big-endian; the offset as a
    signed integer)."""
    with unit.module() as m:
        items = abi.parse_tlv(m.call(abi.OP_STATUS))
    out = {}
    for t, v in items.items():
        out[t] = int.from_bytes(v, "big", signed=(t == ST_OBS_OFFSET_US))
    return out


def proposal_now(uncertainty_us=1000):
    return struct.pack(">QI", int(time.time() * 1_000_000), uncertainty_us)


def quorum_with_proposal(unit, purpose, proposal):
    """Opens a fresh session of `purpose` with `proposal` and submits the
    first M shares, sealed with the proposal in the box context (abi.h,
    "Dual control"). Returns the last reply's fields."""
    with unit.module() as m:
        opened = abi.parse_tlv(m.call(
            abi.OP_SESSION_OPEN,
            bytes([purpose, abi.SESSION_OPEN_NEW]) + proposal))
        sid = opened[SESS_ID]
        reply = None
        for share in unit.shares[:unit.threshold]:
            module_key = share[abi.SHARE_MODULE_KEY:abi.SHARE_MAC]
            box = abi.box_seal([opened[SESS_PUBKEY], module_key], share,
                               salt=opened[SESS_CHALLENGE],
                               label=abi.BOX_LABEL_SUBMIT,
                               context=bytes([purpose]) + sid + proposal)
            reply = abi.parse_tlv(m.call(abi.OP_SESSION_SUBMIT, sid + box))
    assert reply.get(SESS_DONE) == b"\x01", reply
    return reply


def make_unit(unit_factory, ca, calibrate=True):
    """A P-256 unit with its certificate loaded and its key activated by
    the first M shares; with `calibrate` the same quorum calibrates the
    clock to this machine's time. No relay yet."""
    unit = unit_factory().start_sim().ceremony()
    with unit.module() as m:
        csr = m.call(abi.OP_GET_CSR)
        unit.cert_pem = os.path.join(unit.dir, "tsa.pem")
        unit.cert_der = ca.issue(csr, unit.cert_pem)
        m.call(abi.OP_LOAD_CERT, unit.cert_der + ca.der)
    if calibrate:
        quorum_with_proposal(unit, PURPOSE_ACTIVATE, proposal_now())
    else:
        with unit.module() as m:
            assert m.activate(unit.shares[:unit.threshold]).get("done") == 1
    st = status(unit)
    assert st[ST_STATE] == abi.STATE_ACTIVE, st
    if calibrate:
        assert st[ST_CLOCK] == CLOCK_SYNCHRONISED, st
    return unit


class Source:
    """The --time-feed-source file. Written by rename, so the relay never
    reads half a line."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "time-feed-source")

    def set(self, text):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)

    def remove(self):
        if os.path.exists(self.path):
            os.unlink(self.path)


def start_feed(unit, source, interval_ms=INTERVAL_MS, *extra):
    return unit.start_relay("--time-feed-interval-ms", str(interval_ms),
                            "--time-feed-source", source.path,
                            "--log-level", "info", *extra)


def relay_log(unit):
    with open(os.path.join(unit.dir, "relay.log"), errors="replace") as f:
        return f.read()


def log_count(unit, pattern):
    return len(re.findall(pattern, relay_log(unit)))


def wait_log(unit, pattern, count=1, timeout=10.0):
    wait_for(lambda: log_count(unit, pattern) >= count, timeout,
             f"{pattern!r} in the relay's log:\n{relay_log(unit)[-3000:]}")


def http_stamp(unit, data=b"time feed"):
    """(PKIStatus, failInfo names, status text) of a STAMP over HTTP."""
    req, _ = tsp_util.request(data)
    code, _, body = unit.post(req)
    assert code == 200, (code, body[:200])
    st, fails, text = tsp_util.status_of(body)
    return st, fails, " ".join(text)


def page(unit):
    with urllib.request.urlopen(unit.url, timeout=30) as r:
        assert r.status == 200
        return r.read().decode()


def wait_observed(unit, timeout=10.0):
    """Until the module has had an observation within two intervals."""
    def fresh():
        st = status(unit)
        return st.get(ST_OBS_AGE_MS, 1 << 62) < 2 * INTERVAL_MS
    wait_for(fresh, timeout, "a recent observation in STATUS")


def until(pred, timeout):
    """Seconds until pred() held; fails after `timeout`."""
    t0 = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)


# ---- tests ----------------------------------------------------------------

def test_help_documents_the_feed():
    out = subprocess.run([RELAY, "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "--time-feed-interval-ms" in out
    assert "default 4000" in out
    assert "--time-feed-source FILE" in out
    assert "test and diagnostic option" in out
    assert "compromised" in out


@pytest.mark.parametrize("args, why", [
    (["--time-feed-interval-ms", "-1"], "time-feed-interval-ms"),
    (["--time-feed-interval-ms", "4s"], "time-feed-interval-ms"),
    (["--time-feed-interval-ms", "0", "--time-feed-source", "/x"],
     "needs the time feed"),
    (["--time-feed-source", ""], "wants a file name"),
])
def test_bad_feed_options_are_refused(args, why):
    r = subprocess.run([RELAY, "--module", "unix:/nonexistent", *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert why in r.stderr, r.stderr


def test_synchronised_source_keeps_the_module_observed(unit_factory, ca):
    unit = make_unit(unit_factory, ca)
    source = Source(unit.dir)
    source.set("0 2000 1\n")
    start_feed(unit, source)
    wait_observed(unit)
    st = status(unit)
    assert st[ST_CLOCK] == CLOCK_SYNCHRONISED, st
    assert st[ST_CLOCK_WHY] == WHY_NONE, st
    assert abs(st[ST_OBS_OFFSET_US]) < 100_000, st  # the same machine
    # Observations keep coming: the age stays below two intervals.
    time.sleep(3 * INTERVAL_MS / 1000)
    assert status(unit)[ST_OBS_AGE_MS] < 2 * INTERVAL_MS
    # The relay saw the verdicts, said so once at info, and serves.
    wait_log(unit, r"info: module clock synchronised: observation accepted")
    assert log_count(unit, r"info: module clock synchronised: "
                           r"observation accepted") == 1
    assert re.search(r"time feed every 200 ms from test source",
                     relay_log(unit))
    assert http_stamp(unit)[0] == "granted"
    html = page(unit)
    assert "Clock</th><td>synchronised" in html
    assert "Clock error bound" in html
    assert "Last time observation" in html
    assert "Synchronised without observations for" in html
    assert "an observation every 0.200 s" in html
    assert re.search(r"Last observation answer</th><td>accepted", html), html
    m = re.search(r"sent (\d+): accepted (\d+)", html)
    assert m and int(m.group(1)) >= 3 and int(m.group(2)) >= 3, html


def test_skewed_source_unsynchronises_and_recovers(unit_factory, ca):
    unit = make_unit(unit_factory, ca)
    source = Source(unit.dir)
    source.set("0 2000 1\n")
    start_feed(unit, source)
    wait_observed(unit)
    assert http_stamp(unit)[0] == "granted"

    # 3 s ahead: beyond the default accuracy of 1 s.
    source.set("3000000 2000 1\n")

    def refused():
        st, fails, text = http_stamp(unit)
        if st == "granted":
            return False
        assert st == "rejection", (st, fails, text)
        assert fails == {"time_not_available"}, (st, fails, text)
        assert re.search(r"disagrees", text), text
        return True
    took = until(refused, INTERVAL_MS / 1000 + SLACK_S)
    st = status(unit)
    assert st[ST_CLOCK] == CLOCK_UNSYNCHRONISED, st
    assert st[ST_CLOCK_WHY] == WHY_DISAGREE, st
    assert 2_900_000 < st[ST_OBS_OFFSET_US] < 3_100_000, st
    wait_log(unit, r"info: module clock unsynchronised: observation "
                   r"disagrees by \+(2\.9|3\.0)\d+ s")
    html = page(unit)
    assert "unsynchronised: an observation disagreed" in html, html
    assert "Last observation answer</th><td>disagrees" in html, html

    # Back to the truth: issuing resumes with the next observation.
    source.set("0 2000 1\n")
    took_back = until(lambda: http_stamp(unit)[0] == "granted",
                      INTERVAL_MS / 1000 + SLACK_S)
    st = status(unit)
    assert st[ST_CLOCK] == CLOCK_SYNCHRONISED, st
    wait_log(unit, r"info: module clock synchronised: observation accepted",
             count=2)
    print(f"unsynchronised after {took:.3f} s, synchronised again after "
          f"{took_back:.3f} s (interval {INTERVAL_MS} ms)")


def test_unsynchronised_source_sends_nothing(unit_factory, ca):
    unit = make_unit(unit_factory, ca)
    source = Source(unit.dir)
    source.set("0 2000 1\n")
    start_feed(unit, source)
    wait_observed(unit)
    source.set("0 2000 0\n")
    wait_log(unit, r"warn: time feed: host clock not synchronised "
                   r"\(time feed source says SYNC 0\)")
    age0 = status(unit)[ST_OBS_AGE_MS]
    time.sleep(5 * INTERVAL_MS / 1000)
    st = status(unit)
    # No observation since: the age grew by the whole wait.
    assert st[ST_OBS_AGE_MS] >= age0 + 4 * INTERVAL_MS, (age0, st)
    assert st[ST_OBS_AGE_MS] >= 5 * INTERVAL_MS, st
    # The module keeps its own time meanwhile, for as long as its drift
    # allows (SYNC_LEFT_S counts that down).
    assert st[ST_CLOCK] == CLOCK_SYNCHRONISED, st
    assert st[ST_SYNC_LEFT_S] > 0, st
    assert http_stamp(unit)[0] == "granted"
    html = page(unit)
    assert "Host clock</th><td>not synchronised" in html, html
    assert re.search(r"intervals without one [1-9]", html), html
    # Synchronised again: observations resume, said once at info.
    source.set("0 2000 1\n")
    wait_log(unit, r"info: time feed: host clock synchronised \(source "
                   r"file, uncertainty 0\.002000 s\)", count=2)
    wait_observed(unit)


def test_uncertain_source_is_useless(unit_factory, ca):
    unit = make_unit(unit_factory, ca)
    source = Source(unit.dir)
    source.set("0 5000000 1\n")  # 5 s: more than the accuracy
    start_feed(unit, source)
    wait_log(unit, r"info: module clock synchronised: observation useless, "
                   r"its uncertainty 5\.0000\d\d s exceeds")
    html = page(unit)
    assert "Last observation answer</th><td>useless" in html, html
    st = status(unit)
    assert st[ST_CLOCK] == CLOCK_SYNCHRONISED, st
    # A useless observation moves nothing.
    assert http_stamp(unit)[0] == "granted"


@pytest.mark.parametrize("text, why", [
    ("1.5 2000 1\n", "expected one line"),
    ("1500000 2000\n", "expected one line"),
    ("1500000 2000 2\n", "expected one line"),
    ("1500000  2000 1\n", "expected one line"),
    ("1500000 2000 1\n\n", "expected one line"),
    ("1500000 2000 1 x\n", "expected one line"),
    ("01500000 2000 1\n", "expected one line"),
    ("1500000 -2000 1\n", "expected one line"),
    ("", "expected one line"),
    ("1500000 4294967296 1\n", "UNCERTAINTY_US is out of range"),
    ("99999999999999999999 2000 1\n", "expected one line"),
    ("1000000000000001 2000 1\n", "OFFSET_US is out of range"),
    ("0 2000 1" + " " * 80 + "\n", "longer than 64 octets"),
])
def test_invalid_source_sends_nothing(unit_factory, ca, text, why):
    unit = make_unit(unit_factory, ca)
    source = Source(unit.dir)
    source.set(text)
    start_feed(unit, source)
    wait_log(unit, r"warn: time feed: no observation: .*" + re.escape(why))
    time.sleep(3 * INTERVAL_MS / 1000)
    st = status(unit)
    assert ST_OBS_AGE_MS not in st, st  # never observed since calibration
    # Said once, not per interval.
    assert log_count(unit, r"time feed: no observation") == 1
    assert "Host clock</th><td>unreadable" in page(unit)
    # A valid line is taken at the next interval.
    source.set("-1500 2000 1")
    wait_observed(unit)
    assert -100_000 < status(unit)[ST_OBS_OFFSET_US] < 100_000


def test_missing_source_file_falls_back_to_the_kernel(unit_factory, ca):
    """Whatever this machine's kernel says: synchronised (an NTP daemon
    runs) means observations with its maxerror; unsynchronised (the usual
    CI machine) means none. Either way the relay says which."""
    unit = make_unit(unit_factory, ca)
    source = Source(unit.dir)
    source.remove()
    start_feed(unit, source)
    pattern = (r"time feed: host clock synchronised \(kernel maxerror"
               r"|time feed: host clock not synchronised \(kernel reports")
    wait_log(unit, pattern)
    log = relay_log(unit)
    if "host clock not synchronised (kernel reports" in log:
        time.sleep(3 * INTERVAL_MS / 1000)
        assert ST_OBS_AGE_MS not in status(unit)
    # Then a source file appears, and rules from the next interval on.
    source.set("0 2000 1\n")
    wait_observed(unit)


def test_uncalibrated_module_is_reported_once(unit_factory, ca):
    unit = make_unit(unit_factory, ca, calibrate=False)
    assert status(unit)[ST_CLOCK] == CLOCK_UNCALIBRATED
    source = Source(unit.dir)
    source.set("0 2000 1\n")
    start_feed(unit, source)
    wait_log(unit, r"info: time feed: module takes no observation: "
                   r"SELLO_ERR_STATE")
    time.sleep(5 * INTERVAL_MS / 1000)
    assert log_count(unit, r"module takes no observation") == 1
    assert "refused: SELLO_ERR_STATE" in page(unit)
    st, fails, _ = http_stamp(unit)
    assert (st, fails) == ("rejection", {"time_not_available"})
    # The custodians calibrate: the feed's next observation is accepted.
    quorum_with_proposal(unit, PURPOSE_RECALIBRATE, proposal_now())
    wait_log(unit, r"info: module clock synchronised: observation accepted")
    wait_observed(unit)
    assert http_stamp(unit)[0] == "granted"


def test_feed_off(unit_factory, ca):
    unit = make_unit(unit_factory, ca)
    unit.start_relay("--time-feed-interval-ms", "0")
    wait_log(unit, r"time feed off")
    time.sleep(0.5)
    assert ST_OBS_AGE_MS not in status(unit)
    assert "Time feed (this relay)</th><td>off" in page(unit)
    assert http_stamp(unit)[0] == "granted"


def test_default_interval_is_logged(unit_factory, ca):
    unit = make_unit(unit_factory, ca)
    unit.start_relay()
    wait_log(unit, r"time feed every 4000 ms from the kernel")


def test_feed_does_not_hold_up_stamps(unit_factory, ca):
    """A short interval and a burst of requests: every token granted, and
    the observations keep being accepted among them."""
    unit = make_unit(unit_factory, ca)
    source = Source(unit.dir)
    source.set("0 2000 1\n")
    start_feed(unit, source, 20)
    wait_observed(unit)
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 1.0:
        assert http_stamp(unit, b"%d" % n)[0] == "granted"
        n += 1
    html = page(unit)
    m = re.search(r"sent (\d+): accepted (\d+), disagreed (\d+)", html)
    assert m and int(m.group(2)) >= 10 and int(m.group(3)) == 0, html
