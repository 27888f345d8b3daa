"""Serial numbers never repeat and always increase, across clean stops,
kills at arbitrary moments, and many restarts."""
import signal
import time

import sello_abi as abi
import tsp_util


def stamp_serials(unit, n):
    m = unit.module()
    out = []
    try:
        for i in range(n):
            req, _ = tsp_util.request(str(i).encode())
            for _ in range(100):  # the time floor may hold stamping briefly
                flags, body = m.stamp(req)
                st, fails, _ = tsp_util.status_of(body)
                if st == "granted":
                    break
                assert fails == {"time_not_available"}, fails
                time.sleep(0.05)
            out.append(tsp_util.tst_info(body)["serial_number"].native)
    finally:
        m.close()
    return out


def test_serials_unique_across_restarts_and_kills(unit_factory, ca):
    u = unit_factory().start_sim().provision(ca)
    seen = []
    for round_ in range(12):
        seen += stamp_serials(u, 25)
        u.restart_sim(signal.SIGKILL if round_ % 2 else signal.SIGTERM,
                      activate=True, set_time=True)
    seen += stamp_serials(u, 5)
    assert len(seen) == len(set(seen)), "a serial was issued twice"
    assert seen == sorted(seen), "serials went backwards"


def test_instance_number_in_high_bits(unit_factory, ca):
    u = unit_factory().start_sim().provision(
        ca, params=[(abi.INIT_INSTANCE, (7).to_bytes(4, "big"))])
    s = stamp_serials(u, 2)
    assert s[0] >> 64 == 7 and s[1] == s[0] + 1
    assert s[0].bit_length() <= 160
