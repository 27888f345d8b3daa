"""A client of the raw Sello module ABI (include/sello/abi.h).

Tests use it to play the host, including a compromised one: it can send
any frame, well-formed or not, straight to the module's socket.
"""
import socket
import struct

MAGIC = 0x53
VERSION = 1
HEADER = struct.Struct(">BBBBII")
PAYLOAD_MAX = 8192

OP_STATUS, OP_STAMP, OP_GET_CERTS = 0x01, 0x02, 0x03
OP_INIT, OP_GET_CSR, OP_LOAD_CERT = 0x10, 0x11, 0x12
OP_SET_TIME = 0x20

FLAG_MALFORMED_REQUEST = 0x01

STATUS_NAMES = {
    0: "OK", 1: "ERR_FRAME", 2: "ERR_VERSION", 3: "ERR_OPCODE",
    4: "ERR_TOO_LARGE", 5: "ERR_STATE", 6: "ERR_PARAM", 7: "ERR_STORAGE",
    8: "ERR_ENTROPY", 9: "ERR_CRYPTO", 10: "ERR_CERT", 11: "ERR_NOT_FOUND",
    12: "ERR_SPACE", 13: "ERR_DER", 14: "ERR_SELFTEST", 15: "ERR_CLOCK",
    16: "ERR_EXHAUSTED",
}

KEY_TYPES = {"p256": 1, "p384": 2, "rsa2048": 3, "rsa3072": 4, "rsa4096": 5}
HASH_IDS = {"sha1": 2, "sha224": 3, "sha256": 4, "sha384": 5, "sha512": 6}

INIT_KEY_TYPE, INIT_SUBJECT, INIT_POLICY, INIT_ACCURACY_MS = 1, 2, 3, 4
INIT_HASHES, INIT_SIG_HASH, INIT_QUALIFIED, INIT_TSA_NAME = 5, 6, 7, 8
INIT_CHAIN, INIT_INSTANCE = 9, 10

ST = {1: "state", 2: "key_type", 3: "policy", 4: "accuracy_ms", 5: "hashes",
      6: "qualified", 7: "instance", 8: "next_serial", 9: "tokens",
      10: "clock", 11: "utc_ms", 12: "fw_version", 13: "sig_hash"}


class ModuleError(Exception):
    def __init__(self, status, reason):
        super().__init__(f"{STATUS_NAMES.get(status, status)}: {reason}")
        self.status = status
        self.reason = reason


def tlv(items):
    out = b""
    for t, v in items:
        out += struct.pack(">BH", t, len(v)) + v
    return out


def parse_tlv(data):
    out, i = {}, 0
    while i < len(data):
        t, n = struct.unpack_from(">BH", data, i)
        out[t] = data[i + 3:i + 3 + n]
        i += 3 + n
    return out


class Module:
    """One link to the module; frames are sent and answered in order."""

    def __init__(self, path, timeout=120):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.tag = 0

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        hdr = self._recv_exact(HEADER.size)
        magic, version, code, flags, tag, length = HEADER.unpack(hdr)
        assert magic == MAGIC and version == VERSION, hdr
        return code, flags, tag, self._recv_exact(length)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("module closed the link")
            buf += chunk
        return buf

    def call_raw(self, op, payload=b""):
        """Sends one frame; returns (status, flags, payload)."""
        self.tag += 1
        self.send_raw(HEADER.pack(MAGIC, VERSION, op, 0, self.tag,
                                  len(payload)) + payload)
        code, flags, tag, body = self.recv_frame()
        assert tag == self.tag, (tag, self.tag)
        return code, flags, body

    def call(self, op, payload=b""):
        code, flags, body = self.call_raw(op, payload)
        if code != 0:
            raise ModuleError(code, body.decode(errors="replace"))
        return body

    def status(self):
        st = parse_tlv(self.call(OP_STATUS))
        out = {}
        for t, v in st.items():
            name = ST.get(t, str(t))
            if name in ("policy", "fw_version"):
                out[name] = v
            else:
                out[name] = int.from_bytes(v, "big")
        return out

    def stamp(self, der):
        """Returns (flags, TimeStampResp DER)."""
        code, flags, body = self.call_raw(OP_STAMP, der)
        if code != 0:
            raise ModuleError(code, body.decode(errors="replace"))
        return flags, body

    def set_time(self, utc_ms):
        return self.call(OP_SET_TIME, struct.pack(">Q", utc_ms))
