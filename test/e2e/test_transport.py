"""The relay's HTTP surface: status codes for transport failures, the
informative GET page, certificate downloads, HTTP/1.0, keep-alive."""
import http.client
import re
import socket
import subprocess

import tsp_util


def raw_http(port, data, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def status_line(resp):
    return int(resp.split(b" ", 2)[1])


def test_missing_content_length_is_411(unit):
    req = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/timestamp-query\r\n"
           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n")
    assert status_line(raw_http(unit.port, req)) == 411


def test_body_over_limit_is_413(unit):
    status, _, _ = unit.post(b"\x30" * 20000)
    assert status == 413


def test_wrong_content_type_is_415(unit):
    req, _ = tsp_util.request(b"x")
    assert unit.post(req, "application/octet-stream")[0] == 415
    assert unit.post(req, "text/plain")[0] == 415


def test_content_type_parameters_and_case_tolerated(unit):
    req, _ = tsp_util.request(b"x")
    status, headers, _ = unit.post(req, "Application/TimeStamp-Query; x=1")
    assert status == 200
    assert headers["Content-Type"] == "application/timestamp-reply"


def test_empty_body_is_400(unit):
    assert unit.post(b"")[0] == 400


def test_module_unreachable_is_500(unit):
    unit.stop_sim()
    req, _ = tsp_util.request(b"x")
    assert unit.post(req)[0] == 500


def test_get_describes_the_service(unit):
    conn = http.client.HTTPConnection("127.0.0.1", unit.port, timeout=10)
    conn.request("GET", "/")
    r = conn.getresponse()
    page = r.read().decode()
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/html")
    assert "0.4.0.2023.1.1" in page
    assert "sha256" in page.lower().replace("-", "")
    # A relying party sees that this unit is not for production.
    assert re.search(r"Test unit: not for production</t[hd]>\s*<td>yes", page), page
    assert re.search(r"Simulated board[^<]*</t[hd]>\s*<td>yes", page), page


def test_certificate_downloads(unit, ca):
    conn = http.client.HTTPConnection("127.0.0.1", unit.port, timeout=10)
    conn.request("GET", "/tsa.crt")
    r = conn.getresponse()
    assert r.status == 200
    assert r.read() == unit.cert_der
    conn.request("GET", "/chain.pem")
    r = conn.getresponse()
    chain = r.read().decode()
    assert r.status == 200
    assert chain.count("BEGIN CERTIFICATE") == 2
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"],
                         input=chain, capture_output=True, text=True)
    assert "Sello Test TSU" in out.stdout


def test_http10_and_host_without_port(unit):
    req, _ = tsp_util.request(b"x")
    raw = (b"POST / HTTP/1.0\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/timestamp-query\r\n"
           b"Content-Length: " + str(len(req)).encode() + b"\r\n\r\n" + req)
    resp = raw_http(unit.port, raw)
    assert status_line(resp) == 200
    head, body = resp.split(b"\r\n\r\n", 1)
    assert b"application/timestamp-reply" in head.lower()
    assert tsp_util.status_of(body)[0] == "granted"


def test_keep_alive_serves_many_requests_on_one_connection(unit):
    conn = http.client.HTTPConnection("127.0.0.1", unit.port, timeout=10)
    serials = []
    for i in range(20):
        req, _ = tsp_util.request(bytes([i]))
        conn.request("POST", "/", body=req,
                     headers={"Content-Type": "application/timestamp-query"})
        r = conn.getresponse()
        assert r.status == 200
        serials.append(tsp_util.tst_info(r.read())["serial_number"].native)
    assert serials == sorted(set(serials))
    assert conn.sock is not None  # still the same connection


def test_other_methods_are_405_with_allow(unit):
    for method in ("PUT", "DELETE", "PATCH"):
        conn = http.client.HTTPConnection("127.0.0.1", unit.port, timeout=10)
        conn.request(method, "/", body=b"x")
        r = conn.getresponse()
        r.read()
        assert r.status == 405
        assert set(r.getheader("Allow").replace(" ", "").split(",")) == {
            "GET", "HEAD", "POST"}
