"""The dual-control boxes: firmware/box.c (the one the module and the
`sello` tool link) against the independent Python implementation in
sello_abi.py, written from abi.h. Both directions, both kinds of box, byte
for byte with a fixed ephemeral key, and the failures: wrong key, tampered
box, wrong salt/label/context, low-order recipient key."""
import os
import subprocess

import pytest

import sello_abi as abi
from conftest import ROOT

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "box.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s) / 2;
    if (n > cap) { fprintf(stderr, "too long\n"); exit(2); }
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) { fprintf(stderr, "hex\n"); exit(2); }
        out[i] = (uint8_t)v;
    }
    return n;
}

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

/* pub PRIV
 * seal EPH SALT LABEL CONTEXT PLAIN RECIP...
 * open SALT LABEL CONTEXT BOX PRIV...
 * (hex everywhere but LABEL; "-" is empty) */
int main(int argc, char **argv)
{
    static uint8_t salt[64], ctx[64], plain[4096], box[4096], eph[32];
    static uint8_t keys[SELLO_BOX_MAX_RECIPIENTS + 1][32];
    if (argc == 3 && !strcmp(argv[1], "pub")) {
        uint8_t pub[32];
        unhex(argv[2], eph, 32);
        sello_x25519_public(eph, pub);
        hex(pub, 32);
        return 0;
    }
    if (argc >= 8 && !strcmp(argv[1], "seal")) {
        unhex(argv[2], eph, 32);
        size_t sl = strcmp(argv[3], "-") ? unhex(argv[3], salt, sizeof salt) : 0;
        size_t cl = strcmp(argv[5], "-") ? unhex(argv[5], ctx, sizeof ctx) : 0;
        size_t pl = unhex(argv[6], plain, sizeof plain);
        size_t nr = (size_t)argc - 7;
        if (nr > SELLO_BOX_MAX_RECIPIENTS + 1) return 2;
        for (size_t i = 0; i < nr; i++)
            unhex(argv[7 + i], keys[i], 32);
        sello_status st = sello_box_seal(eph, (const uint8_t (*)[32])keys, nr,
                                         salt, sl, argv[4], ctx, cl, plain,
                                         pl, box);
        if (st != SELLO_OK) { printf("ERR %d\n", (int)st); return 1; }
        hex(box, pl + SELLO_BOX_OVERHEAD);
        return 0;
    }
    if (argc >= 7 && !strcmp(argv[1], "open")) {
        size_t sl = strcmp(argv[2], "-") ? unhex(argv[2], salt, sizeof salt) : 0;
        size_t cl = strcmp(argv[4], "-") ? unhex(argv[4], ctx, sizeof ctx) : 0;
        size_t bl = unhex(argv[5], box, sizeof box);
        size_t np = (size_t)argc - 6;
        if (np > SELLO_BOX_MAX_RECIPIENTS + 1) return 2;
        for (size_t i = 0; i < np; i++)
            unhex(argv[6 + i], keys[i], 32);
        memset(plain, 0xa5, sizeof plain);
        sello_status st = sello_box_open((const uint8_t (*)[32])keys, np, salt,
                                         sl, argv[3], ctx, cl, box, bl, plain);
        if (st != SELLO_OK) {
            /* box.h: plain is zeroed when the box is not authentic */
            size_t n = bl >= SELLO_BOX_OVERHEAD ? bl - SELLO_BOX_OVERHEAD : 0;
            for (size_t i = 0; i < n; i++)
                if (plain[i]) { printf("NOT WIPED\n"); return 3; }
            printf("ERR %d\n", (int)st);
            return 1;
        }
        hex(plain, bl - SELLO_BOX_OVERHEAD);
        return 0;
    }
    return 2;
}
"""


@pytest.fixture(scope="module")
def cbox(tmp_path_factory):
    d = tmp_path_factory.mktemp("box")
    src, exe = d / "harness.c", d / "harness"
    src.write_text(HARNESS)
    cc = os.environ.get("CC", "cc")
    r = subprocess.run(
        [cc, "-std=c11", "-O1", "-Wall", "-Werror",
         "-I" + os.path.join(ROOT, "include"),
         "-I" + os.path.join(ROOT, "firmware"), str(src),
         os.path.join(ROOT, "firmware", "box.c"), "-lbearssl", "-o", str(exe)],
        capture_output=True, text=True)
    assert r.returncode == 0, "building the box harness: " + r.stderr

    def run(*args):
        r = subprocess.run([str(exe), *[a.hex() if isinstance(a, bytes)
                                        else a for a in args]],
                           capture_output=True, text=True)
        out = r.stdout.strip()
        assert r.returncode in (0, 1), (r.returncode, out, r.stderr)
        if out.startswith("ERR "):
            return int(out[4:])
        return bytes.fromhex(out)
    return run


def opt(b):
    return b.hex() if b else "-"


def c_seal(cbox, eph, recips, plain, salt=b"", label=abi.BOX_LABEL_SHARE,
           context=b""):
    return cbox("seal", eph, opt(salt), label.decode(), opt(context), plain,
                *recips)


def c_open(cbox, privs, box, salt=b"", label=abi.BOX_LABEL_SHARE,
           context=b""):
    return cbox("open", opt(salt), label.decode(), opt(context), box, *privs)


# Both kinds of box as abi.h defines them: a share box (one recipient, no
# salt, no context) and a submission (session key then module key, the
# challenge as salt, purpose octet and session id as context).
KINDS = {
    "share": dict(n=1, salt=b"", label=abi.BOX_LABEL_SHARE, context=b""),
    "submission": dict(n=2, salt=bytes(range(32)),
                       label=abi.BOX_LABEL_SUBMIT,
                       context=bytes([abi.PURPOSE_ACTIVATE]) + bytes(range(100, 116))),
}


def keys(n):
    return [abi.new_x25519_key() for _ in range(n)]


def test_public_keys_agree(cbox):
    for _ in range(5):
        priv = os.urandom(32)
        assert cbox("pub", priv) == abi.x25519_public(priv)
    # RFC 7748 section 6.1, Alice's key pair
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    assert abi.x25519_public(alice).hex() == \
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert cbox("pub", alice) == abi.x25519_public(alice)


@pytest.mark.parametrize("kind", KINDS)
def test_same_box_byte_for_byte(cbox, kind):
    k = KINDS[kind]
    ks = keys(k["n"])
    eph = os.urandom(32)
    plain = os.urandom(abi.SHARE_LEN)
    c = c_seal(cbox, eph, [p for _, p in ks], plain, k["salt"], k["label"],
               k["context"])
    py = abi.box_seal([p for _, p in ks], plain, k["salt"], k["label"],
                      k["context"], eph=eph)
    assert len(c) == abi.SHARE_BOX_LEN
    assert c == py


@pytest.mark.parametrize("kind", KINDS)
def test_c_seals_python_opens(cbox, kind):
    k = KINDS[kind]
    ks = keys(k["n"])
    plain = os.urandom(abi.SHARE_LEN)
    box = c_seal(cbox, os.urandom(32), [p for _, p in ks], plain, k["salt"],
                 k["label"], k["context"])
    assert abi.box_open([s for s, _ in ks], box, k["salt"], k["label"],
                        k["context"]) == plain


@pytest.mark.parametrize("kind", KINDS)
def test_python_seals_c_opens(cbox, kind):
    k = KINDS[kind]
    ks = keys(k["n"])
    plain = os.urandom(abi.SHARE_LEN)
    box = abi.box_seal([p for _, p in ks], plain, k["salt"], k["label"],
                       k["context"])
    assert c_open(cbox, [s for s, _ in ks], box, k["salt"], k["label"],
                  k["context"]) == plain


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_key_fails_both_ways(cbox, kind):
    k = KINDS[kind]
    ks = keys(k["n"])
    plain = os.urandom(abi.SHARE_LEN)
    pubs = [p for _, p in ks]
    privs = [s for s, _ in ks]
    wrong = list(privs)
    wrong[-1] = os.urandom(32)
    box = abi.box_seal(pubs, plain, k["salt"], k["label"], k["context"])
    assert c_open(cbox, wrong, box, k["salt"], k["label"],
                  k["context"]) == abi.ERR_CRYPTO
    box = c_seal(cbox, os.urandom(32), pubs, plain, k["salt"], k["label"],
                 k["context"])
    with pytest.raises(ValueError):
        abi.box_open(wrong, box, k["salt"], k["label"], k["context"])
    if k["n"] == 2:  # the recipients' order is part of the box
        with pytest.raises(ValueError):
            abi.box_open(privs[::-1], box, k["salt"], k["label"], k["context"])
        assert c_open(cbox, privs[::-1], box, k["salt"], k["label"],
                      k["context"]) == abi.ERR_CRYPTO
    # and the right key still opens it: the failure was the key
    assert abi.box_open(privs, box, k["salt"], k["label"],
                        k["context"]) == plain


@pytest.mark.parametrize("where", ["ephemeral", "ciphertext", "tag"])
def test_tampered_box_fails_both_ways(cbox, where):
    k = KINDS["submission"]
    ks = keys(2)
    plain = os.urandom(abi.SHARE_LEN)
    offset = {"ephemeral": 5, "ciphertext": 32 + abi.SHARE_Y,
              "tag": 32 + abi.SHARE_LEN + 3}[where]
    for sealer in ("c", "py"):
        if sealer == "c":
            box = c_seal(cbox, os.urandom(32), [p for _, p in ks], plain,
                         k["salt"], k["label"], k["context"])
        else:
            box = abi.box_seal([p for _, p in ks], plain, k["salt"],
                               k["label"], k["context"])
        bad = abi.flip(box, offset)
        privs = [s for s, _ in ks]
        assert c_open(cbox, privs, bad, k["salt"], k["label"],
                      k["context"]) == abi.ERR_CRYPTO, sealer
        with pytest.raises(ValueError):
            abi.box_open(privs, bad, k["salt"], k["label"], k["context"])


@pytest.mark.parametrize("what", ["salt", "label", "context"])
def test_bound_inputs(cbox, what):
    """Salt, label and context are bound into the key: the challenge, the
    box kind, the purpose and the session id cannot be swapped."""
    k = dict(KINDS["submission"])
    ks = keys(2)
    plain = os.urandom(abi.SHARE_LEN)
    box = c_seal(cbox, os.urandom(32), [p for _, p in ks], plain, k["salt"],
                 k["label"], k["context"])
    if what == "salt":
        k["salt"] = abi.flip(k["salt"], 0)
    elif what == "label":
        k["label"] = abi.BOX_LABEL_SHARE
    else:
        k["context"] = bytes([abi.PURPOSE_DESTROY]) + k["context"][1:]
    privs = [s for s, _ in ks]
    assert c_open(cbox, privs, box, k["salt"], k["label"],
                  k["context"]) == abi.ERR_CRYPTO
    with pytest.raises(ValueError):
        abi.box_open(privs, box, k["salt"], k["label"], k["context"])


LOW_ORDER = [bytes(32), (1).to_bytes(32, "little"),
             # order 8 (RFC 7748 / libsodium's blocklist)
             bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]


@pytest.mark.parametrize("point", LOW_ORDER, ids=["zero", "one", "order8"])
def test_low_order_recipient_refused(cbox, point):
    good = abi.new_x25519_key()[1]
    for recips in ([point], [good, point]):
        assert c_seal(cbox, os.urandom(32), recips, b"x" * 8) == abi.ERR_PARAM
        with pytest.raises(ValueError):
            abi.box_seal(recips, b"x" * 8)


def test_short_box_refused(cbox):
    priv = os.urandom(32)
    assert c_open(cbox, [priv], bytes(abi.BOX_OVERHEAD - 1)) == abi.ERR_PARAM
    with pytest.raises(ValueError):
        abi.box_open([priv], bytes(abi.BOX_OVERHEAD - 1))


def test_shamir_reference():
    """The Python combine used by the ceremony tests, on a split done by
    hand: f(x) = s + a x over GF(2^8)."""
    s, a = os.urandom(32), os.urandom(32)
    pts = [(x, bytes(si ^ abi.gf_mul(ai, x) for si, ai in zip(s, a)))
           for x in (1, 2, 3)]
    for pair in ((0, 1), (0, 2), (1, 2)):
        assert abi.shamir_combine([pts[i] for i in pair]) == s
    assert abi.gf_mul(0x57, 0x83) == 0xc1  # FIPS 197 section 4.2
