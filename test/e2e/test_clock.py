"""The module's clock over the raw ABI (abi.h, firmware/clock.h): the host
cannot set it (SET_TIME is retired); the quorum calibrates it to the time
proposed in SESSION_OPEN, which every submission box binds; host
observations (TIME_OBSERVE) keep it synchronised or stop it, but never
step it; and STAMP answers timeNotAvailable, with the reason, whenever it
is not synchronised, rather than issue a time it cannot vouch for.

These units have no relay, so no time feed moves their clock: each test
decides every observation the module sees."""
import datetime
import re
import time

import pytest

import sello_abi as abi
import tsp_util

# the module: "submission does not open for this session"
DECRYPT = r"does not open"


def expect(fn, status, pattern=None):
    with pytest.raises(abi.ModuleError) as e:
        fn()
    assert e.value.status == status, e.value
    if pattern:
        assert re.search(pattern, e.value.reason, re.I), e.value.reason
    return e.value


def stamp(m, data=b"clock"):
    """(PKIStatus, failInfo names, status text, TimeStampResp DER)."""
    req, _ = tsp_util.request(data)
    _, body = m.stamp(req)
    st, fails, text = tsp_util.status_of(body)
    return st, fails, " ".join(text), body


def gen_time(body):
    """genTime of a granted token: (datetime, the DER text)."""
    g = tsp_util.tst_info(body)["gen_time"]
    return g.native, g.contents.decode()


def assert_time_not_available(m, pattern):
    st, fails, text, body = stamp(m)
    assert (st, fails) == ("rejection", {"time_not_available"}), (st, fails,
                                                                 text)
    assert re.search(pattern, text, re.I), text
    assert tsp_util.parse_response(body)["time_stamp_token"].native is None
    return text


def clock(m):
    st = m.status()
    return st["clock"], st["clock_why"]


def first_of_month_us(months_ahead):
    now = datetime.datetime.now(datetime.timezone.utc)
    y, mo = now.year, now.month + months_ahead
    y, mo = y + (mo - 1) // 12, (mo - 1) % 12 + 1
    d = datetime.datetime(y, mo, 1, tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1_000_000


@pytest.fixture
def active(unit_factory, ca):
    """An active unit whose clock the activation calibrated."""
    return unit_factory().start_sim().provision(ca)


@pytest.fixture
def uncalibrated(unit_factory, ca):
    """A READY unit restarted since: its clock is uncalibrated."""
    u = unit_factory().start_sim().provision(ca, activate=False,
                                             set_time=False)
    u.restart_sim()
    return u


# ---- the host cannot set the clock ------------------------------------------

def test_set_time_is_refused(uncalibrated):
    with uncalibrated.module() as m:
        before = m.status()
        assert before["clock"] == abi.CLOCK_UNCALIBRATED
        assert before["clock_why"] == abi.WHY_UNCALIBRATED
        assert "utc_ms" not in before and "clock_error_us" not in before
        for payload in (abi.now_us().to_bytes(8, "big"),
                        (abi.now_us() // 1000).to_bytes(8, "big"), b"",
                        bytes(12)):
            expect(lambda: m.call(abi.OP_SET_TIME, payload), abi.ERR_STATE,
                   r"quorum")
        assert m.status()["clock"] == abi.CLOCK_UNCALIBRATED
        # and once the quorum calibrated it, no more than before
        m.recalibrate(uncalibrated.shares[:2])
        assert m.status()["clock"] == abi.CLOCK_SYNCHRONISED
        utc = m.status()["utc_ms"]
        expect(lambda: m.set_time(utc + 3_600_000), abi.ERR_STATE, r"quorum")
        assert abs(m.status()["utc_ms"] - utc) < 60_000


def test_uncalibrated_clock_refuses_stamps_and_observations(uncalibrated):
    with uncalibrated.module() as m:
        m.activate(uncalibrated.shares[:2])  # no proposal: no calibration
        st = m.status()
        assert st["state"] == abi.STATE_ACTIVE
        assert (st["clock"], st["clock_why"]) == (abi.CLOCK_UNCALIBRATED,
                                                  abi.WHY_UNCALIBRATED)
        assert_time_not_available(m, r"not calibrated.*custodians")
        expect(lambda: m.observe(abi.now_us(), 1000), abi.ERR_STATE,
               r"calibrat")
        # a leap second needs a calibrated clock to be placed against
        expect(lambda: m.session_open(
            abi.PURPOSE_LEAP, proposal=abi.leap_proposal(
                first_of_month_us(2), abi.LEAP_INSERTED)), abi.ERR_PARAM,
            r"calibrate")


# ---- calibration by the quorum ----------------------------------------------

def test_activation_with_a_proposed_time_calibrates(uncalibrated):
    """The proposal is UTC at the session's opening: the quorum sets the
    clock to it plus the time the custodians took."""
    u = uncalibrated
    with u.module() as m:
        sent = abi.time_proposal(uncertainty_us=7_000)
        s = m.session_open(abi.PURPOSE_ACTIVATE, new=True, proposal=sent)
        assert s["proposal"] == sent and s["age_ms"] < 1000
        m.submit(s, u.shares[0])
        time.sleep(1.0)
        assert m.status()["clock"] == abi.CLOCK_UNCALIBRATED
        j = m.session_open(abi.PURPOSE_ACTIVATE)  # a custodian joining
        assert j["id"] == s["id"] and j["proposal"] == sent
        assert j["age_ms"] >= 1000
        assert m.submit(j, u.shares[1])["done"] == 1
        st = m.status()
        assert st["state"] == abi.STATE_ACTIVE
        assert (st["clock"], st["clock_why"]) == (abi.CLOCK_SYNCHRONISED,
                                                  abi.WHY_NONE)
        # not the proposed value itself, a second ago, but now
        assert abs(st["utc_ms"] - abi.now_us() / 1000) < 200, st["utc_ms"]
        # the proposal's uncertainty, widened by the drift since
        assert 7_000 <= st["clock_error_us"] < 8_000
        assert st["drift_ppm"] == 100 and st["slew_ppm"] == 100
        # (1 s accuracy - 0.1 s precision - the error) / 100 ppm
        left = (1_000_000 - 100_000 - st["clock_error_us"]) // 100
        assert left - 60 <= st["sync_left_s"] <= left
        granted, _, _, body = stamp(m)
        assert granted == "granted"
        when, _ = gen_time(body)
        assert abs(when.timestamp() - time.time()) < 2


def test_proposal_is_bound_into_every_submission(uncalibrated):
    """A submission sealed with any proposal other than the session's own
    (another value, none at all, or the joiner's own) does not open."""
    u = uncalibrated
    with u.module() as m:
        mine = abi.time_proposal()
        s = m.session_open(abi.PURPOSE_ACTIVATE, new=True, proposal=mine)
        value, unc = abi.parse_proposal(mine)
        for other in (abi.proposal(value + 1, unc),
                      abi.proposal(value, unc + 1), None):
            sub = abi.seal_submission(s, u.shares[0], proposal=other)
            expect(lambda: m.submit_raw(sub), abi.ERR_SHARE, DECRYPT)
        st = m.status()
        assert st["failures"] == 3 and st["session_accepted"] == 0
        # joining without NEW: the session keeps its own proposal, whatever
        # the joiner proposes, and that is the one to seal to
        theirs = abi.time_proposal(abi.now_us() - 3_600_000_000)
        j = m.session_open(abi.PURPOSE_ACTIVATE, proposal=theirs)
        assert j["id"] == s["id"] and j["proposal"] == mine
        sub = abi.seal_submission(j, u.shares[0], proposal=theirs)
        expect(lambda: m.submit_raw(sub), abi.ERR_SHARE, DECRYPT)
        assert m.submit(j, u.shares[0])["accepted"] == 1
        assert m.submit(j, u.shares[1])["done"] == 1
        st = m.status()
        assert st["clock"] == abi.CLOCK_SYNCHRONISED and st["failures"] == 0
        assert abs(st["utc_ms"] - abi.now_us() / 1000) < 2000
        # a session without a proposal has none in its context either
        m.deactivate()
        s = m.session_open(abi.PURPOSE_ACTIVATE, new=True)
        assert "proposal" not in s
        sub = abi.seal_submission(s, u.shares[2], proposal=mine)
        expect(lambda: m.submit_raw(sub), abi.ERR_SHARE, DECRYPT)
        assert m.submit(s, u.shares[2])["accepted"] == 1


def test_recalibrate_back_in_time_holds_stamping(active):
    """A step back behind the latest time already issued stops STAMP
    ("behind") instead of issuing an earlier genTime; a calibration that
    is not behind it resumes issuing."""
    with active.module() as m:
        st, _, _, body = stamp(m)
        assert st == "granted"
        issued, _ = gen_time(body)
        assert m.recalibrate(active.shares[:2],
                             abi.now_us() - 3_600_000_000)["done"] == 1
        st = m.status()
        assert (st["clock"], st["clock_why"]) == (abi.CLOCK_UNSYNCHRONISED,
                                                  abi.WHY_BEHIND)
        assert st["utc_ms"] < issued.timestamp() * 1000 - 3_000_000
        for _ in range(3):
            assert_time_not_available(m, r"behind")
        assert m.recalibrate(active.shares[1:3])["done"] == 1
        assert clock(m) == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE)
        st, _, _, body = stamp(m)
        assert st == "granted" and gen_time(body)[0] >= issued


def test_recalibrate_forward_is_allowed(active):
    with active.module() as m:
        ahead = abi.now_us() + 86_400_000_000
        assert m.recalibrate(active.shares[:2], ahead)["done"] == 1
        st, _, _, body = stamp(m)
        assert st == "granted"
        assert abs(gen_time(body)[0].timestamp() - ahead / 1e6) < 60


# ---- observations -----------------------------------------------------------

def test_time_observe_verdicts(active):
    with active.module() as m:
        # agreeing: accepted, synchronised
        obs = m.observe(abi.now_us(), 1000)
        assert obs["verdict"] == abi.OBS_ACCEPTED, obs
        assert (obs["clock"], obs["clock_why"]) == (abi.CLOCK_SYNCHRONISED,
                                                    abi.WHY_NONE)
        assert abs(obs["offset_us"]) < 100_000, obs
        st = m.status()
        assert st["obs_offset_us"] == obs["offset_us"]
        assert st["obs_age_ms"] < 5_000
        # 300 ms off, within the 1 s accuracy: accepted, and only slewed
        # in (at most 100 ppm), never stepped
        obs = m.observe(abi.now_us() + 300_000, 1000)
        assert obs["verdict"] == abi.OBS_ACCEPTED, obs
        assert 250_000 < obs["offset_us"] < 350_000, obs
        again = m.observe(abi.now_us() + 300_000, 1000)
        assert abs(again["offset_us"] - obs["offset_us"]) < 50_000, again
        assert stamp(m)[0] == "granted"
        # beyond the accuracy: disagrees, and STAMP stops, saying why
        obs = m.observe(abi.now_us() + 5_000_000, 1000)
        assert obs["verdict"] == abi.OBS_DISAGREES, obs
        assert (obs["clock"], obs["clock_why"]) == (abi.CLOCK_UNSYNCHRONISED,
                                                    abi.WHY_DISAGREE)
        assert obs["offset_us"] > 4_000_000
        assert clock(m) == (abi.CLOCK_UNSYNCHRONISED, abi.WHY_DISAGREE)
        assert_time_not_available(m, r"disagrees")
        # too uncertain to tell: useless, nothing changes
        obs = m.observe(abi.now_us(), 2_000_000)
        assert obs["verdict"] == abi.OBS_USELESS, obs
        assert clock(m) == (abi.CLOCK_UNSYNCHRONISED, abi.WHY_DISAGREE)
        assert_time_not_available(m, r"disagrees")
        # a disagreement the other way round is one too
        obs = m.observe(abi.now_us() - 5_000_000, 1000)
        assert obs["verdict"] == abi.OBS_DISAGREES and obs["offset_us"] < 0
        # agreeing again: synchronised again
        obs = m.observe(abi.now_us() + 300_000, 1000)
        assert obs["verdict"] == abi.OBS_ACCEPTED, obs
        assert clock(m) == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE)
        assert stamp(m)[0] == "granted"


def test_malformed_time_observe(active):
    with active.module() as m:
        good = abi.now_us().to_bytes(8, "big") + (1000).to_bytes(4, "big")
        for payload in (b"", good[:11], good + b"\x00", good[:8]):
            expect(lambda: m.call(abi.OP_TIME_OBSERVE, payload),
                   abi.ERR_PARAM)
        assert clock(m) == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE)


def test_drift_alone_unsynchronises(unit_factory, ca):
    """With no observations the error bound grows with the declared drift
    until it exceeds the accuracy; an agreeing observation restores it.
    (1 % drift, 100 ms accuracy, 10 ms precision, 80 ms uncertainty: about
    a second of synchronised time.)"""
    u = unit_factory(sim_args=["--drift-ppm", "10000"]).start_sim()
    u.provision(ca, params=[(abi.INIT_ACCURACY_MS, (100).to_bytes(4, "big"))],
                uncertainty_us=80_000)
    with u.module() as m:
        st = m.status()
        assert st["drift_ppm"] == 10_000 and st["sync_left_s"] <= 1
        time.sleep(1.5)
        st = m.status()
        assert (st["clock"], st["clock_why"]) == (abi.CLOCK_UNSYNCHRONISED,
                                                  abi.WHY_ERROR)
        assert st["sync_left_s"] == 0 and st["clock_error_us"] > 90_000
        assert_time_not_available(m, r"error bound")
        obs = m.observe(abi.now_us(), 1000)
        assert obs["verdict"] == abi.OBS_ACCEPTED, obs
        assert clock(m) == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE)
        assert stamp(m)[0] == "granted"


def test_maximum_observation_age(unit_factory, ca):
    u = unit_factory().start_sim().provision(
        ca, params=[(abi.INIT_MAX_OBS_AGE_S, (1).to_bytes(4, "big"))])
    with u.module() as m:
        assert stamp(m)[0] == "granted"
        time.sleep(1.5)
        assert clock(m) == (abi.CLOCK_UNSYNCHRONISED, abi.WHY_STALE)
        assert_time_not_available(m, r"observation")
        assert m.observe(abi.now_us(), 1000)["verdict"] == abi.OBS_ACCEPTED
        assert clock(m) == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE)
        assert stamp(m)[0] == "granted"


# ---- leap seconds -----------------------------------------------------------

def test_leap_second_announced_and_cancelled(active):
    at = first_of_month_us(2)
    with active.module() as m:
        r = m.quorum(abi.PURPOSE_LEAP, active.shares[:2],
                     proposal=abi.leap_proposal(at, abi.LEAP_INSERTED))
        assert r["done"] == 1
        st = m.status()
        assert (st["leap_us"], st["leap_kind"]) == (at, abi.LEAP_INSERTED)
        # weeks ahead: issuing goes on
        assert clock(m) == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE)
        assert stamp(m)[0] == "granted"
        # replaced by a deletion, then cancelled
        m.quorum(abi.PURPOSE_LEAP, active.shares[1:3],
                 proposal=abi.leap_proposal(at, abi.LEAP_DELETED))
        st = m.status()
        assert (st["leap_us"], st["leap_kind"]) == (at, abi.LEAP_DELETED)
        m.quorum(abi.PURPOSE_LEAP, active.shares[:2],
                 proposal=abi.leap_proposal(0, abi.LEAP_CANCEL))
        assert "leap_us" not in m.status()


def test_clock_paused_across_a_leap_second(unit_factory, ca):
    """Calibrated to 5 s before an announced leap (1 s accuracy): issuing
    pauses from a second before it until a second after, then resumes
    with the second inserted."""
    u = unit_factory().start_sim().provision(ca)
    at = first_of_month_us(2)
    with u.module() as m:
        m.quorum(abi.PURPOSE_LEAP, u.shares[:2],
                 proposal=abi.leap_proposal(at, abi.LEAP_INSERTED))
        m.recalibrate(u.shares[:2], at - 5_000_000, 20_000)
        assert clock(m) == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE)
        st, _, _, body = stamp(m)
        assert st == "granted"
        deadline = time.monotonic() + 15
        paused = False
        while time.monotonic() < deadline:
            c = clock(m)
            if c == (abi.CLOCK_UNSYNCHRONISED, abi.WHY_LEAP):
                paused = True
                assert_time_not_available(m, r"leap")
            elif paused and c == (abi.CLOCK_SYNCHRONISED, abi.WHY_NONE):
                break
            time.sleep(0.1)
        assert paused, "issuing was not paused for the leap second"
        st, _, _, body = stamp(m)
        assert st == "granted"
        when, _ = gen_time(body)
        # after the leap, by UTC: the midnight of `at` has passed
        assert when.timestamp() >= at / 1e6, (when, at)


# ---- genTime precision ------------------------------------------------------

@pytest.mark.parametrize("accuracy_ms,digits", [(1000, 1), (100, 2),
                                                (10, 3)])
def test_gen_time_precision_follows_the_accuracy(unit_factory, ca,
                                                 accuracy_ms, digits):
    """1 s accuracy: genTime in tenths of a second (...01.2Z); 100 ms:
    hundredths; 10 ms: milliseconds. Never more digits than that, never a
    trailing zero."""
    u = unit_factory().start_sim().provision(
        ca, params=[(abi.INIT_ACCURACY_MS,
                     accuracy_ms.to_bytes(4, "big"))],
        uncertainty_us=min(abi.TEST_UNCERTAINTY_US,
                           accuracy_ms * 1000 // 5))
    with u.module() as m:
        for i in range(12):
            st, _, _, body = stamp(m, b"%d" % i)
            assert st == "granted"
            _, raw = gen_time(body)
            assert re.fullmatch(r"\d{14}(\.\d{1,%d})?Z" % digits, raw), raw
            if "." in raw:
                assert not raw[:-1].endswith("0"), raw
            time.sleep(0.013)
            info = tsp_util.tst_info(body)
            acc = info["accuracy"]
            if accuracy_ms >= 1000:
                assert acc["seconds"].native == accuracy_ms // 1000
            else:
                assert acc["millis"].native == accuracy_ms
