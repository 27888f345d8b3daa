"""The serial link framing of include/sello/serial_link.h, written here from
its description (0x00 COBS(message || CRC-32 LE) 0x00; a NAK is 0x15 and a
reason), with zlib.crc32, apart from the C codec that the relay and the
boards use, so that the tests check one against the other."""
import struct
import zlib

DELIM = 0x00
NAK = 0x15
NAK_REASONS = {1: "crc", 2: "cobs", 3: "short", 4: "long"}


def cobs_encode(data):
    """A code octet before each run of up to 254 non-zero octets; it stands
    for the run and the zero after it (none after a run of 254, nor at the
    end)."""
    out, i = bytearray(), 0
    while True:
        j = i
        while j < len(data) and j - i < 254 and data[j] != 0:
            j += 1
        out += bytes([j - i + 1]) + data[i:j]
        if j == len(data):
            return bytes(out)
        i = j if j - i == 254 else j + 1
        if i == len(data):  # it ended with the zero: an empty last run
            return bytes(out) + b"\x01"


def cobs_decode(body):
    """The message, or None when a run goes past the end."""
    out, i = bytearray(), 0
    while i < len(body):
        code = body[i]
        i += 1
        end = i + code - 1
        if end > len(body):
            return None
        out += body[i:end]
        i = end
        if code != 0xFF and i < len(body):
            out.append(0)
    return bytes(out)


def link_wire(msg):
    return (bytes([DELIM]) + cobs_encode(msg + struct.pack("<I", zlib.crc32(msg)))
            + bytes([DELIM]))


class LinkDecoder:
    """Out of step until the first delimiter; then each non-empty run of
    octets between delimiters is ("msg", message) or ("bad", reason)."""

    def __init__(self):
        self.in_step = False
        self.body = bytearray()

    def feed(self, data):
        out = []
        pieces = data.split(bytes([DELIM]))
        self.body += pieces[0]
        for piece in pieces[1:]:
            if self.in_step and self.body:
                out.append(self._message(bytes(self.body)))
            self.in_step = True
            self.body = bytearray(piece)
        return out

    @staticmethod
    def _message(body):
        plain = cobs_decode(body)
        if plain is None:
            return ("bad", 2)
        if len(plain) < 4:
            return ("bad", 3)
        msg, crc = plain[:-4], struct.unpack("<I", plain[-4:])[0]
        if zlib.crc32(msg) != crc:
            return ("bad", 1)
        return ("msg", msg)
