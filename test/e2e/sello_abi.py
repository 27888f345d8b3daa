"""A client of the raw Sello module ABI (include/sello/abi.h).

Tests use it to play the host, including a compromised one: it can send
any frame, well-formed or not, straight to the module's socket.

It also carries a second, independent implementation of the dual-control
boxes (abi.h, "Dual control"), written from the header's description with
python3-cryptography rather than from firmware/box.c, so that the module's
construction is checked against the specification and not against itself
(test_box_interop.py runs both against each other).
"""
import os
import socket
import struct
import time

MAGIC = 0x53
VERSION = 1
HEADER = struct.Struct(">BBBBII")
PAYLOAD_MAX = 8192

OP_STATUS, OP_STAMP, OP_GET_CERTS = 0x01, 0x02, 0x03
OP_INIT, OP_GET_CSR, OP_LOAD_CERT, OP_DEACTIVATE = 0x10, 0x11, 0x12, 0x13
OP_SET_TIME, OP_TIME_OBSERVE = 0x20, 0x21  # SET_TIME: retired, refused
OP_SESSION_OPEN, OP_SESSION_SUBMIT = 0x30, 0x31
OP_AUDIT_ACK, OP_AUDIT_READ = 0x40, 0x41
KNOWN_OPS = frozenset({OP_STATUS, OP_STAMP, OP_GET_CERTS, OP_INIT,
                       OP_GET_CSR, OP_LOAD_CERT, OP_DEACTIVATE, OP_SET_TIME,
                       OP_TIME_OBSERVE, OP_SESSION_OPEN, OP_SESSION_SUBMIT,
                       OP_AUDIT_ACK, OP_AUDIT_READ})

FLAG_MALFORMED_REQUEST = 0x01
# The payload begins with 2 octets of length and that many octets of audit
# records (abi.h); Module takes them off, keeps them and acknowledges them.
FLAG_AUDIT = 0x02
AUDIT_HEADER_LEN = 52

# sello_status (include/sello/status.h)
OK, ERR_FRAME, ERR_VERSION, ERR_OPCODE, ERR_TOO_LARGE = 0, 1, 2, 3, 4
ERR_STATE, ERR_PARAM, ERR_STORAGE, ERR_ENTROPY, ERR_CRYPTO = 5, 6, 7, 8, 9
ERR_CERT, ERR_NOT_FOUND, ERR_SPACE, ERR_DER, ERR_SELFTEST = 10, 11, 12, 13, 14
ERR_CLOCK, ERR_EXHAUSTED, ERR_SESSION, ERR_SHARE, ERR_LOCKED = 15, 16, 17, 18, 19
ERR_TEST_ONLY = 20

STATUS_NAMES = {
    0: "OK", 1: "ERR_FRAME", 2: "ERR_VERSION", 3: "ERR_OPCODE",
    4: "ERR_TOO_LARGE", 5: "ERR_STATE", 6: "ERR_PARAM", 7: "ERR_STORAGE",
    8: "ERR_ENTROPY", 9: "ERR_CRYPTO", 10: "ERR_CERT", 11: "ERR_NOT_FOUND",
    12: "ERR_SPACE", 13: "ERR_DER", 14: "ERR_SELFTEST", 15: "ERR_CLOCK",
    16: "ERR_EXHAUSTED", 17: "ERR_SESSION", 18: "ERR_SHARE",
    19: "ERR_LOCKED", 20: "ERR_TEST_ONLY",
}

# Module states (SELLO_ST_STATE)
STATE_UNINITIALISED, STATE_INITIALISED, STATE_READY = 0, 1, 2
STATE_ACTIVE, STATE_ERROR = 3, 4

KEY_TYPES = {"p256": 1, "p384": 2, "rsa2048": 3, "rsa3072": 4, "rsa4096": 5}
HASH_IDS = {"sha1": 2, "sha224": 3, "sha256": 4, "sha384": 5, "sha512": 6}

INIT_KEY_TYPE, INIT_SUBJECT, INIT_POLICY, INIT_ACCURACY_MS = 1, 2, 3, 4
INIT_HASHES, INIT_SIG_HASH, INIT_QUALIFIED, INIT_TSA_NAME = 5, 6, 7, 8
INIT_CHAIN, INIT_INSTANCE = 9, 10
INIT_CUSTODIAN, INIT_THRESHOLD, INIT_ENGINE = 11, 12, 13
INIT_LOCKOUT_FAILURES, INIT_LOCKOUT_S, INIT_KEY_USAGE_DAYS = 14, 15, 16
INIT_SLEW_PPM, INIT_MAX_OBS_AGE_S = 17, 18
# u8 0/1; required (1) on a simulation board such as sello-sim
INIT_TEST_UNIT = 19

ENGINE_MODULE, ENGINE_TOKEN = 1, 2
ENGINES = {"module": ENGINE_MODULE, "token": ENGINE_TOKEN}

INITR_SPKI, INITR_UNIT_ID, INITR_SHARE = 1, 2, 3

ST = {1: "state", 2: "key_type", 3: "policy", 4: "accuracy_ms", 5: "hashes",
      6: "qualified", 7: "instance", 8: "next_serial", 9: "tokens",
      10: "clock", 11: "utc_ms", 12: "fw_version", 13: "sig_hash",
      14: "threshold", 15: "custodians", 16: "unit_id", 17: "engine",
      18: "unlocked", 19: "failures", 20: "locked_s", 21: "session",
      22: "session_accepted", 23: "time_doubt", 24: "usage_not_after",
      25: "simulation", 26: "generation", 27: "clock_why",
      28: "clock_error_us", 29: "obs_offset_us", 30: "obs_age_ms",
      31: "sync_left_s", 32: "leap", 33: "slew_ppm", 34: "drift_ppm",
      35: "audit_seq", 36: "audit_head", 37: "audit_pending",
      38: "audit_key", 39: "test_unit"}
# Kept as bytes by _fields; status() turns obs_offset_us (two's
# complement) and leap (instant, kind) into numbers.
ST_BYTES = ("policy", "fw_version", "unit_id", "obs_offset_us", "leap",
            "audit_head", "audit_key")
# What moves by itself or with every audited request, whatever the request
# did: tests comparing STATUS before and after leave these out.
ST_VOLATILE = ("utc_ms", "locked_s", "clock_error_us", "sync_left_s",
               "obs_age_ms", "audit_seq", "audit_head", "audit_pending")

# Dual control: boxes and shares
BOX_LABEL_SHARE = b"sello share for custodian v1"
BOX_LABEL_SUBMIT = b"sello share submission v1"
BOX_OVERHEAD = 32 + 16

SHARE_VERSION, SHARE_UNIT_ID, SHARE_GENERATION = 0, 1, 33
SHARE_M, SHARE_N, SHARE_X, SHARE_Y = 37, 38, 39, 40
SHARE_MODULE_KEY, SHARE_MAC, SHARE_LEN = 72, 104, 136
SHARE_FORMAT = 1
SHARE_BOX_LEN = SHARE_LEN + BOX_OVERHEAD

SESSION_ID_LEN = 16
SUBMIT_LEN = SESSION_ID_LEN + SHARE_BOX_LEN

PURPOSE_ACTIVATE, PURPOSE_DESTROY, PURPOSE_RECALIBRATE = 1, 2, 3
PURPOSE_LEAP = 4
SESSION_OPEN_NEW = 0x01
PROPOSAL_LEN = 12
LEAP_CANCEL, LEAP_INSERTED, LEAP_DELETED = 0, 1, 2

SESS_ID, SESS_CHALLENGE, SESS_PUBKEY, SESS_EXPIRES_S = 1, 2, 3, 4
SESS_PURPOSE, SESS_THRESHOLD, SESS_CUSTODIANS, SESS_UNIT_ID = 5, 6, 7, 8
SESS_ACCEPTED, SESS_DONE, SESS_PROPOSAL, SESS_AGE_MS = 9, 10, 11, 12
SESS = {1: "id", 2: "challenge", 3: "pubkey", 4: "expires_s", 5: "purpose",
        6: "threshold", 7: "custodians", 8: "unit_id", 9: "accepted",
        10: "done", 11: "proposal", 12: "age_ms"}
SESS_BYTES = ("id", "challenge", "pubkey", "unit_id", "proposal")
SESSION_LIFETIME_S = 600

# Clock states (SELLO_ST_CLOCK, SELLO_OBS_CLOCK) and why not synchronised
CLOCK_UNCALIBRATED, CLOCK_SYNCHRONISED, CLOCK_UNSYNCHRONISED = 0, 1, 2
WHY_NONE, WHY_UNCALIBRATED, WHY_ERROR, WHY_DISAGREE = 0, 1, 2, 3
WHY_STALE, WHY_LEAP, WHY_BEHIND = 4, 5, 6

# TIME_OBSERVE
OBS_ACCEPTED, OBS_DISAGREES, OBS_USELESS = 1, 2, 3
OBS = {1: "verdict", 2: "offset_us", 3: "clock", 4: "clock_why"}

# The uncertainty the tests propose with the host's time (this process
# reads the clock and sends the frame within it on a loaded CI machine).
TEST_UNCERTAINTY_US = 20_000


def signed64(b):
    return int.from_bytes(b, "big", signed=True)


def proposal(value, param):
    """A session proposal (abi.h): u64 value, u32 parameter."""
    return struct.pack(">QI", value, param)


def now_us():
    return time.time_ns() // 1000


def time_proposal(utc_us=None, uncertainty_us=TEST_UNCERTAINTY_US):
    """ACTIVATE/RECALIBRATE: UTC now (or utc_us) +- uncertainty_us."""
    return proposal(now_us() if utc_us is None else utc_us, uncertainty_us)


def leap_proposal(at_us, kind):
    """LEAP: the instant (a midnight on the 1st of a month), 1 inserted,
    2 deleted; leap_proposal(0, LEAP_CANCEL) cancels."""
    return proposal(at_us, kind)


def parse_proposal(p):
    """(value, param) of a proposal."""
    return struct.unpack(">QI", p)


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
    """{type: value}; the last of repeated types wins (see parse_tlv_list)."""
    return dict(parse_tlv_list(data))


def parse_tlv_list(data):
    """[(type, value), ...] in order; ValueError when truncated."""
    out, i = [], 0
    while i < len(data):
        if len(data) - i < 3:
            raise ValueError("truncated TLV header")
        t, n = struct.unpack_from(">BH", data, i)
        if len(data) - i - 3 < n:
            raise ValueError("truncated TLV value")
        out.append((t, data[i + 3:i + 3 + n]))
        i += 3 + n
    return out


def split_audit_records(data):
    """The records of an audit prefix, each as bytes; ValueError when they
    do not add up."""
    out, i = [], 0
    while i < len(data):
        if len(data) - i < AUDIT_HEADER_LEN:
            raise ValueError("truncated audit record header")
        n = struct.unpack_from(">H", data, i + 2)[0]
        if len(data) - i - AUDIT_HEADER_LEN < n:
            raise ValueError("truncated audit record")
        out.append(data[i:i + AUDIT_HEADER_LEN + n])
        i += AUDIT_HEADER_LEN + n
    return out


def audit_seq(record):
    return struct.unpack_from(">Q", record, 4)[0]


def _fields(data, names, as_bytes):
    out = {}
    for t, v in parse_tlv_list(data):
        name = names.get(t, str(t))
        out[name] = v if name in as_bytes else int.from_bytes(v, "big")
    return out


# ---- X25519 / boxes (independent of firmware/box.c) ----------------------

def _x25519():
    from cryptography.hazmat.primitives.asymmetric import x25519
    return x25519


def x25519_public(priv):
    """The X25519 public key (32 octets) of a 32-octet private scalar."""
    from cryptography.hazmat.primitives import serialization
    k = _x25519().X25519PrivateKey.from_private_bytes(priv)
    return k.public_key().public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw)


def x25519_shared(priv, pub):
    """X25519(priv, pub); ValueError when the result is all zeros (a public
    key of low order)."""
    x = _x25519()
    k = x.X25519PrivateKey.from_private_bytes(priv)
    try:
        out = k.exchange(x.X25519PublicKey.from_public_bytes(pub))
    except ValueError as e:  # OpenSSL refuses the all-zero secret itself
        raise ValueError("low-order X25519 key") from e
    if out == bytes(32):
        raise ValueError("low-order X25519 key")
    return out


def new_x25519_key():
    """(private scalar, public key)."""
    priv = os.urandom(32)
    return priv, x25519_public(priv)


def _box_key(shared, salt, label, eph_pub, recipients, context):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    info = label + eph_pub + b"".join(recipients) + context
    # An empty salt is HMAC's empty key, which RFC 5869 and HMAC both make
    # equal to HashLen zero octets: pass it as it is either way.
    okm = HKDF(algorithm=hashes.SHA256(), length=44, salt=salt or None,
               info=info).derive(b"".join(shared))
    return okm[:32], okm[32:]


def box_seal(recipients, plaintext, salt=b"", label=BOX_LABEL_SHARE,
             context=b"", eph=None):
    """E || AES-256-GCM(plaintext) || tag, for the recipients' public keys
    (in order). `eph` is the ephemeral scalar (random unless given)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    if not 1 <= len(recipients) <= 2:
        raise ValueError("one or two recipients")
    eph = os.urandom(32) if eph is None else eph
    eph_pub = x25519_public(eph)
    shared = [x25519_shared(eph, r) for r in recipients]
    key, nonce = _box_key(shared, salt, label, eph_pub, recipients, context)
    return eph_pub + AESGCM(key).encrypt(nonce, plaintext, None)


def box_open(privs, box, salt=b"", label=BOX_LABEL_SHARE, context=b""):
    """Opens a box for the recipients' private scalars (same order as when
    sealed). ValueError when it is not authentic for them."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    if len(box) < BOX_OVERHEAD:
        raise ValueError("box too short")
    eph_pub = box[:32]
    shared = [x25519_shared(p, eph_pub) for p in privs]
    recipients = [x25519_public(p) for p in privs]
    key, nonce = _box_key(shared, salt, label, eph_pub, recipients, context)
    try:
        return AESGCM(key).decrypt(nonce, box[32:], None)
    except InvalidTag as e:
        raise ValueError("box does not open (wrong key or tampered)") from e


def open_share(priv, box):
    """A custodian opens its share box from the INIT reply: the share
    plaintext (SELLO_SHARE_LEN octets)."""
    share = box_open([priv], box, label=BOX_LABEL_SHARE)
    if len(share) != SHARE_LEN:
        raise ValueError(f"share of {len(share)} octets")
    return share


def parse_share(share):
    """The fields of a share plaintext (abi.h, SELLO_SHARE_*)."""
    if len(share) != SHARE_LEN:
        raise ValueError(f"share of {len(share)} octets")
    return {
        "version": share[SHARE_VERSION],
        "unit_id": share[SHARE_UNIT_ID:SHARE_GENERATION],
        "generation": int.from_bytes(share[SHARE_GENERATION:SHARE_M], "big"),
        "m": share[SHARE_M], "n": share[SHARE_N], "x": share[SHARE_X],
        "y": share[SHARE_Y:SHARE_MODULE_KEY],
        "module_key": share[SHARE_MODULE_KEY:SHARE_MAC],
        "mac": share[SHARE_MAC:SHARE_LEN],
    }


def flip(data, offset, mask=0x01):
    """`data` with one bit (or the bits of mask) flipped at offset."""
    b = bytearray(data)
    b[offset] ^= mask
    return bytes(b)


_SESSION_OWN = object()


def submission_context(purpose, session_id, proposal=b""):
    """A submission box's context (abi.h, "Dual control"): the purpose
    octet, the session id, then the session's proposal when it has one."""
    return bytes([purpose]) + session_id + (proposal or b"")


def seal_submission(session, share, purpose=None, session_id=None, eph=None,
                    proposal=_SESSION_OWN):
    """The SESSION_SUBMIT payload for `share` in `session` (a session_open
    dict): the session id, then the share sealed to the session key and the
    module's ceremony key (read from the share). `purpose`, `session_id`
    and `proposal` default to the session's own (its SESS_PROPOSAL, or none
    when it has none); a test passes others to lie."""
    purpose = session["purpose"] if purpose is None else purpose
    sid = session["id"] if session_id is None else session_id
    if proposal is _SESSION_OWN:
        proposal = session.get("proposal", b"")
    module_key = share[SHARE_MODULE_KEY:SHARE_MAC]
    box = box_seal([session["pubkey"], module_key], share,
                   salt=session["challenge"], label=BOX_LABEL_SUBMIT,
                   context=submission_context(purpose, sid, proposal),
                   eph=eph)
    return sid + box


# ---- Shamir over GF(2^8) (0x11b), for checking what the module split ----

def gf_mul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11b
        b >>= 1
    return r


def gf_inv(a):
    r = 1
    for _ in range(254):
        r = gf_mul(r, a)
    return r


def shamir_combine(points):
    """Lagrange interpolation at 0 of [(x, y bytes), ...], octet-wise."""
    out = bytearray(len(points[0][1]))
    for i, (xi, yi) in enumerate(points):
        num, den = 1, 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                num = gf_mul(num, xj)
                den = gf_mul(den, xi ^ xj)
        coef = gf_mul(num, gf_inv(den))
        for k, v in enumerate(yi):
            out[k] ^= gf_mul(coef, v)
    return bytes(out)


# ---- the link -------------------------------------------------------------

class Module:
    """One link to the module; frames are sent and answered in order.

    Playing the host, it takes the audit records off every response that
    carries them (FLAG_AUDIT), keeps them in `audit_log` and, with
    `audit_ack` (default), acknowledges them at once, as a host does once
    they are stored, so that the module's record buffer never fills."""

    def __init__(self, path, timeout=120, audit_ack=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.tag = 0
        self.audit_ack = audit_ack
        self.audit_log = []

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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
        """Sends one frame; returns (status, flags, payload), the payload
        without its audit records (see the class)."""
        self.tag += 1
        self.send_raw(HEADER.pack(MAGIC, VERSION, op, 0, self.tag,
                                  len(payload)) + payload)
        code, flags, tag, body = self.recv_frame()
        assert tag == self.tag, (tag, self.tag)
        if flags & FLAG_AUDIT:
            assert len(body) >= 2, body
            n = struct.unpack_from(">H", body)[0]
            assert len(body) >= 2 + n, (n, len(body))
            records = split_audit_records(body[2:2 + n])
            body = body[2 + n:]
            self.audit_log += records
            if records and self.audit_ack:
                self.ack_audit(audit_seq(records[-1]))
        return code, flags, body

    def ack_audit(self, seq):
        """AUDIT_ACK: the host stored every record up to `seq`."""
        code, _, body = self.call_raw(OP_AUDIT_ACK, struct.pack(">Q", seq))
        if code != 0:
            raise ModuleError(code, body.decode(errors="replace"))

    def call(self, op, payload=b""):
        code, flags, body = self.call_raw(op, payload)
        if code != 0:
            raise ModuleError(code, body.decode(errors="replace"))
        return body

    def status(self):
        st = _fields(self.call(OP_STATUS), ST, ST_BYTES)
        if "obs_offset_us" in st:
            st["obs_offset_us"] = signed64(st["obs_offset_us"])
        if "leap" in st:
            leap = st.pop("leap")
            assert len(leap) == 9, leap.hex()
            st["leap_us"] = int.from_bytes(leap[:8], "big")
            st["leap_kind"] = leap[8]
        return st

    def stamp(self, der):
        """Returns (flags, TimeStampResp DER)."""
        code, flags, body = self.call_raw(OP_STAMP, der)
        if code != 0:
            raise ModuleError(code, body.decode(errors="replace"))
        return flags, body

    def set_time(self, utc_ms):
        """The retired SET_TIME: the module refuses it (ERR_STATE)."""
        return self.call(OP_SET_TIME, struct.pack(">Q", utc_ms))

    def observe(self, ref_us, uncertainty_us):
        """TIME_OBSERVE: {verdict, offset_us (signed), clock, clock_why}."""
        body = self.call(OP_TIME_OBSERVE,
                         struct.pack(">qI", ref_us, uncertainty_us))
        out = {}
        for t, v in parse_tlv_list(body):
            name = OBS.get(t, str(t))
            out[name] = (signed64(v) if name == "offset_us"
                         else int.from_bytes(v, "big"))
        return out

    # -- dual control ----------------------------------------------------
    def init(self, custodian_privs, m, params=()):
        """The key ceremony: INIT with the custodians' public keys (derived
        from custodian_privs, in order) and threshold m, plus `params`
        ((type, value) items). Returns (spki, unit_id, share boxes)."""
        items = list(params)
        items += [(INIT_CUSTODIAN, x25519_public(p)) for p in custodian_privs]
        items.append((INIT_THRESHOLD, bytes([m])))
        return self.init_raw(tlv(items))

    def init_raw(self, payload):
        reply = parse_tlv_list(self.call(OP_INIT, payload))
        spki = [v for t, v in reply if t == INITR_SPKI]
        uid = [v for t, v in reply if t == INITR_UNIT_ID]
        boxes = [v for t, v in reply if t == INITR_SHARE]
        assert len(spki) == 1 and len(uid) == 1, reply
        return spki[0], uid[0], boxes

    def session_open(self, purpose, new=False, proposal=None):
        """SESSION_OPEN; the flags octet is sent when `new` or with a
        proposal (12 octets, see proposal())."""
        payload = bytes([purpose])
        if new or proposal is not None:
            payload += bytes([SESSION_OPEN_NEW if new else 0])
        if proposal is not None:
            payload += proposal
        return _fields(self.call(OP_SESSION_OPEN, payload), SESS, SESS_BYTES)

    def submit_raw(self, payload):
        """SESSION_SUBMIT of exactly `payload`: the reply's fields."""
        return _fields(self.call(OP_SESSION_SUBMIT, payload), SESS,
                       SESS_BYTES)

    def submit(self, session, share, purpose=None):
        return self.submit_raw(seal_submission(session, share, purpose))

    def quorum(self, purpose, shares, new=True, proposal=None):
        """Opens a session of `purpose` (with `proposal`) and submits
        `shares`; the last reply."""
        s = self.session_open(purpose, new=new, proposal=proposal)
        reply = None
        for sh in shares:
            reply = self.submit(s, sh)
        return reply

    def activate(self, shares, proposal=None):
        """ACTIVATE; with a proposal (time_proposal()) the same quorum
        calibrates the clock."""
        return self.quorum(PURPOSE_ACTIVATE, shares, proposal=proposal)

    def recalibrate(self, shares, utc_us=None,
                    uncertainty_us=TEST_UNCERTAINTY_US):
        """A RECALIBRATE quorum to UTC now (or utc_us)."""
        return self.quorum(PURPOSE_RECALIBRATE, shares,
                           proposal=time_proposal(utc_us, uncertainty_us))

    def deactivate(self):
        return self.call(OP_DEACTIVATE)
