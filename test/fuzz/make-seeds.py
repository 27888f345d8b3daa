#!/usr/bin/python3
"""Writes the seed corpora test/fuzz/corpus/<target>/ from the committed
test data: a handful of small valid (and a few nearly valid) inputs per
target. Re-run after the test data changes; commit the output.
"""
import os
import shutil
import struct
import sys

# The serial link's wire image, from the e2e tests' independent codec.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
from serial_link import link_wire  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "data")


def read(rel):
    with open(os.path.join(data, rel), "rb") as f:
        return f.read()


def frame(op, payload=b"", tag=0x40, magic=0x53, version=1, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">BBBBII", magic, version, op, 0, tag, n) + payload


def custodian_pub(i):
    """The public key of the fixture's custodian i (fx_custodian_priv)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    priv = bytes((0x40 + 7 * i + j) & 0xff for j in range(32))
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def init_params(subject, n=3, m=2):
    """An INIT parameter list: subject, n fixture custodians, threshold m."""
    out = struct.pack(">BH", 2, len(subject)) + subject
    for i in range(n):
        out += struct.pack(">BH", 11, 32) + custodian_pub(i)
    return out + struct.pack(">BHB", 12, 1, m)


def write(target, seeds):
    d = os.path.join(here, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, blob in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(blob)


def tsp_vectors(names):
    out = {}
    with open(os.path.join(data, "tsp", "requests.txt")) as f:
        for line in f:
            if line.startswith("#") or "|" not in line:
                continue
            parts = [p.strip() for p in line.split("|")]
            if parts[0] in names:
                out[parts[0]] = bytes.fromhex(parts[3])
    return out


def main():
    reqs = tsp_vectors({"minimal_sha256", "alg_null_params_sha512_echoed",
                        "all_fields", "nonce_33_octets_leading_00",
                        "extensions", "policy_other", "version_2",
                        "hash_sha1_not_configured", "trailing_byte"})
    write("fuzz_tsp_request", sorted(reqs.items()))

    tsu, ca = read("certs/tsu.der"), read("certs/ca.der")
    write("fuzz_x509", [
        ("tsu", tsu),
        ("tsu-ca", tsu + ca),
        ("tsu-rsa-ca", read("certs/tsu-rsa-ca.der") + read("certs/ca-rsa.der")),
        ("tsu-twin", tsu + read("certs/ca-twin.der")),
        ("v1", read("certs/tsu-v1.der")),
        ("eku-multi", read("certs/tsu-eku-multi.der")),
        ("golden-rsa", read("golden/tsu-rsa2048.der") + read("golden/ca.der")),
    ])

    subj = bytes.fromhex(
        "302f311730150603550403 0c0e 53656c6c6f2054657374205453553114301206035504"
        "0a 0c0b 53656c6c6f205465737473".replace(" ", ""))
    init = init_params(subj) + struct.pack(">BHB", 1, 1, 1)
    write("fuzz_frame", [
        ("status", frame(0x01)),
        ("stamp", frame(0x02, reqs["all_fields"], tag=0x48)),
        ("stamp-minimal", frame(0x02, reqs["minimal_sha256"], tag=0x4c)),
        ("get-certs", frame(0x03, tag=0x50)),
        ("init", frame(0x10, init, tag=0x54)),
        ("get-csr", frame(0x11, tag=0x58)),
        ("load-cert", frame(0x12, tsu + ca, tag=0x5c)),
        ("set-time", frame(0x20, struct.pack(">Q", 1767225600000), tag=0x60)),
        ("unknown-op", frame(0x7f, b"\x00", tag=0x64)),
        ("bad-magic", frame(0x01, magic=0x52)),
        ("short", frame(0x01)[:7]),
        # tag % 4 == 1: an initialised unit; == 2: one in the error state
        ("init-state-load-cert", frame(0x12, tsu + ca, tag=0x11)),
        ("init-state-csr", frame(0x11, tag=0x21)),
        ("init-state-stamp", frame(0x02, reqs["minimal_sha256"], tag=0x31)),
        ("error-state-stamp", frame(0x02, reqs["minimal_sha256"], tag=0x12)),
        ("error-state-status", frame(0x01, tag=0x22)),
    ])

    write("fuzz_unit_record", [
        ("raw-p256", b"\x00" + read("unit/record-p256.bin")),
        ("raw-rsa2048", b"\x00" + read("unit/record-rsa2048.bin")),
        ("seal-p256", b"\x01" + read("unit/plain-p256.bin")),
        ("seal-rsa2048", b"\x01" + read("unit/plain-rsa2048.bin")),
    ])

    write("fuzz_shamir", shamir_seeds())

    write("fuzz_session", session_seeds(subj, reqs["minimal_sha256"], tsu + ca))

    write("fuzz_serial_link", serial_link_seeds(reqs["minimal_sha256"]))


def serial_link_seeds(tsq):
    """fuzz_serial_link: the receiver's room, the feed size (0: all at
    once), then the stream; see fuzz_serial_link.c."""
    status, stamp = frame(0x01, tag=7), frame(0x02, tsq, tag=8)
    nak = lambda why: bytes([0x15, why])  # noqa: E731
    answer = link_wire(stamp)
    flipped = bytearray(answer)
    flipped[9] ^= 0x04
    return [
        ("status", bytes([255, 0]) + link_wire(status)),
        ("stamp-octet-at-a-time", bytes([255, 1]) + answer),
        ("pipelined", bytes([255, 7]) + link_wire(status) + answer
         + link_wire(nak(1)) + link_wire(status)),
        ("nak", bytes([16, 0]) + link_wire(nak(2))),
        ("noise", bytes([64, 0]) + b"\x42\x17\xff" + b"\x00\x03\x10\x20"
         + link_wire(status) + b"\x99\x00\x00" + link_wire(status)),
        ("corrupted", bytes([255, 0]) + bytes(flipped) + link_wire(status)),
        ("truncated", bytes([255, 3]) + answer[:20] + link_wire(status)),
        ("too-long", bytes([8, 0]) + link_wire(bytes(range(1, 41)))
         + link_wire(b"\x05\x00\x05")),
        ("block-edges", bytes([255, 0])
         + link_wire(bytes((i % 255) + 1 for i in range(250)))
         + link_wire(bytes((i % 255) + 1 for i in range(251)))
         + link_wire(b"\x11" * 253 + b"\x00")),
        ("empty", bytes([0, 2]) + b"\x00\x00\x00" + link_wire(b"")),
    ]


def session_seeds(subj, tsq, certs):
    """fuzz_session: scripts of steps (sel | u16 len | payload, after a
    first octet 0) and mutations of a genuine submission (first octet
    odd); see fuzz_session.c."""
    def step(sel, payload=b""):
        return struct.pack(">BH", sel, len(payload)) + payload

    def open_(purpose=1, flags=None):
        return step(0, bytes([purpose]) + (bytes([flags]) if flags is not None else b""))

    def genuine(share):
        return step(6 | share << 3)

    def mutated(share, xor, cut=False):
        return step(4 | share << 3 | (0x20 if cut else 0), xor)

    def op(code, payload=b""):
        return step(7, bytes([code]) + payload)

    def advance(seconds):
        return step(5, struct.pack(">H", seconds))

    status, deactivate = step(2), step(3)
    flip = bytes(40) + b"\x01"  # one bit inside the box
    script = lambda *steps: b"\x00" + b"".join(steps)  # noqa: E731
    return [
        ("activate", script(open_(1, 1), genuine(0), genuine(1), status,
                            deactivate, status)),
        ("activate-join", script(open_(1), genuine(2), open_(1), genuine(0),
                                 status)),
        ("activate-new-discards", script(open_(1), genuine(0), open_(1, 1),
                                         genuine(1), status, genuine(0))),
        ("duplicate", script(open_(1), genuine(1), genuine(1), status)),
        ("mutated", script(open_(1), mutated(0, flip), genuine(1), status)),
        ("mutated-id", script(open_(1), mutated(0, b"\x80"), genuine(2))),
        ("mutated-cut", script(open_(1), mutated(0, bytes(100), cut=True))),
        ("raw-submit", script(open_(1), step(1, bytes(200)), step(1, bytes(5)),
                              status)),
        ("no-session", script(genuine(0), step(1, bytes(200)), status)),
        ("lockout", script(open_(1), *[mutated(0, flip)] * 5, status,
                           open_(1), advance(901), open_(1, 1), genuine(0),
                           genuine(1), status)),
        ("expiry", script(open_(1), genuine(0), advance(601), genuine(1),
                          status)),
        ("destroy", script(open_(2, 1), genuine(0), genuine(2), status,
                           open_(1), op(0x10, init_params(subj)), status)),
        ("recalibrate", script(open_(3), genuine(1), genuine(2),
                               op(0x20, struct.pack(">Q", 1767225600000)),
                               status)),
        ("other-ops", script(op(0x11), op(0x02, tsq), op(0x03),
                             op(0x12, certs),
                             op(0x20, struct.pack(">Q", 1767225600000)),
                             op(0x01), op(0x7f))),
        ("open-bad", script(step(0), open_(0), open_(4), open_(1, 2),
                            step(0, b"\x01\x01\x01"), status)),
        ("active-then-stamp", script(open_(1), genuine(0), genuine(1),
                                     op(0x20, struct.pack(">Q", 1767225600000)),
                                     op(0x02, tsq), open_(1), deactivate,
                                     open_(1))),
        ("mutation-identity", b"\x01"),
        ("mutation-flip", b"\x01" + flip),
        ("mutation-cut", b"\x03" + bytes(100)),
        ("mutation-extend", b"\x01" + bytes(200) + b"\x01"),
        ("mutation-tag", b"\x01" + bytes(199) + b"\x01"),
    ]


def shamir_seeds():
    """fuzz_shamir: the vectors of data/shamir/vectors.txt in the target's
    two input forms (see fuzz_shamir.c), and the refusals."""
    seeds = []
    with open(os.path.join(data, "shamir", "vectors.txt")) as f:
        for line in f:
            if line.startswith("#") or "|" not in line:
                continue
            parts = [p.strip() for p in line.split("|")]
            kind, name = parts[0].split()
            if kind == "split":
                m, n = int(parts[1]), int(parts[2])
                secret, coeffs = bytes.fromhex(parts[3]), bytes.fromhex(parts[4])
                # scripted coefficients: exactly the vector's
                seeds.append(("split-" + name, bytes([3, m, n]) + secret + coeffs))
                if name in ("m3_n5", "m16_n16"):
                    seeds.append(("split-drbg-" + name,
                                  bytes([1, m, n]) + secret + b"seed"))
            else:
                secret, shares = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
                seeds.append(("combine-" + name,
                              bytes([0, len(shares) // 33]) + shares))
    share = lambda x, fill: bytes([x]) + bytes([fill]) * 32  # noqa: E731
    seeds += [
        ("combine-duplicate-x", bytes([0, 3]) + share(1, 1) + share(2, 2) + share(1, 3)),
        ("combine-zero-x", bytes([0, 2]) + share(1, 1) + share(0, 2)),
        ("combine-count-0", bytes([0, 0]) + share(1, 1)),
        ("combine-count-17", bytes([0, 17]) + b"".join(share(i, i) for i in range(1, 18))),
        ("split-m1", bytes([1, 1, 3]) + bytes(32)),
        ("split-m-over-n", bytes([1, 5, 4]) + bytes(32)),
        ("split-n17", bytes([1, 2, 17]) + bytes(32)),
    ]
    return seeds


if __name__ == "__main__":
    main()
