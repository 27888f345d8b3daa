"""A fresh SoftHSMv2 token per test, for sello-sim's --pkcs11-* options.

    if not softhsm.available():
        pytest.skip("SoftHSMv2 or pkcs11-tool missing")
    tok = softhsm.SoftHSMToken(str(tmp_path / "hsm"))
    sim = subprocess.Popen([SIM, ..., *tok.sim_args()], env=tok.env)

Every token lives in its own directory with its own softhsm2.conf, named by
$SOFTHSM2_CONF in `env`: sello-sim (through the library's C_Initialize) and
the witnesses below only see that token when run with `env`. Made the way
test/unit/test_p11_token.c makes its tokens, and like it honours
$SELLO_P11_LIB for another SoftHSM library.

PINs the module sets are its random octets as lowercase hex text (see
board/sim/p11_token.h): that text is what list_objects/login_works take.
"""
import os
import shutil
import subprocess

DEFAULT_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"


def _library():
    """The SoftHSMv2 PKCS#11 library, or None."""
    override = os.environ.get("SELLO_P11_LIB")
    if override:
        return override if os.path.exists(override) else None
    if os.path.exists(DEFAULT_LIBRARY):
        return DEFAULT_LIBRARY
    # Debian moved the library into libsofthsm2 (the multiarch path); ask
    # dpkg rather than guess the architecture triplet.
    for package in ("libsofthsm2", "softhsm2"):
        try:
            listing = subprocess.run(["dpkg", "-L", package],
                                     capture_output=True, text=True,
                                     check=False).stdout
        except OSError:
            return None
        for path in listing.splitlines():
            if path.endswith("/libsofthsm2.so") and os.path.exists(path):
                return path
    return None


def available():
    """True when softhsm2-util, pkcs11-tool and the library are there."""
    return (shutil.which("softhsm2-util") is not None
            and shutil.which("pkcs11-tool") is not None
            and _library() is not None)


class SoftHSMToken:
    """One freshly initialised SoftHSMv2 token in `directory`."""

    def __init__(self, directory, label="sello-test", so_pin="0123456789",
                 user_pin="98765432"):
        module_path = _library()
        if module_path is None:
            raise RuntimeError("SoftHSMv2 library not found "
                               "(`tools/install-deps test` installs it)")
        self.directory = os.path.abspath(directory)
        self.module_path = module_path
        self.label = label
        self.so_pin = so_pin
        self.user_pin = user_pin
        tokens = os.path.join(self.directory, "tokens")
        os.makedirs(tokens, mode=0o700, exist_ok=True)
        self.conf = os.path.join(self.directory, "softhsm2.conf")
        with open(self.conf, "w") as f:
            # slots.removable = false as in test_p11_token.c: the token
            # must not count as removable media to the driver.
            f.write(f"directories.tokendir = {tokens}\n"
                    "objectstore.backend = file\n"
                    "log.level = ERROR\n"
                    "slots.removable = false\n")
        self.env = dict(os.environ, SOFTHSM2_CONF=self.conf)
        self._run(["softhsm2-util", "--init-token", "--free", "--label", label,
                   "--so-pin", so_pin, "--pin", user_pin])
        self.so_pin_file = os.path.join(self.directory, "so.pin")
        fd = os.open(self.so_pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        try:
            os.fchmod(fd, 0o600)  # also when the file was there before
            os.write(fd, (so_pin + "\n").encode())
        finally:
            os.close(fd)

    def _run(self, args, check=True):
        r = subprocess.run(args, env=self.env, capture_output=True, text=True,
                           check=False)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed "
                               f"({r.returncode}): {r.stdout}{r.stderr}")
        return r

    def _tool(self, *args):
        return ["pkcs11-tool", "--module", self.module_path, "--token-label",
                self.label, *args]

    def sim_args(self):
        """sello-sim's options for this token (run it with `env`)."""
        return ["--pkcs11-module", self.module_path, "--pkcs11-token",
                self.label, "--pkcs11-so-pin-file", self.so_pin_file]

    def list_objects(self, pin_hex=None):
        """pkcs11-tool's --list-objects output: the public objects, or with
        a user PIN (the hex text of the module's octets) the private ones
        too. Raises RuntimeError when pkcs11-tool fails."""
        args = ["--list-objects"]
        if pin_hex is not None:
            args += ["--login", "--pin", pin_hex]
        return self._run(self._tool(*args)).stdout

    def login_works(self, pin):
        """Whether pkcs11-tool can log in as the user with PIN text `pin`."""
        r = self._run(self._tool("--login", "--login-type", "user", "--pin",
                                 pin, "--list-objects"), check=False)
        return r.returncode == 0
