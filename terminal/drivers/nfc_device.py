"""Opening an nfcpy reader, and saying in Dutch what to do when that fails.

Readers this code is written for (nfcpy device paths):

- `usb` or `usb:054c:06c3`: Sony RC-S380 (the reader nfcpy is developed on),
  and PN533 USB readers (SCM SCL3711, NXP demo board). ACS ACR122U works
  in nfcpy but is not recommended (its firmware polls on its own).
- `tty:AMA0:pn532`: a PN532 board on a Raspberry Pi's UART (HSU mode);
  `tty:USB0:pn532` the same board behind a USB-serial adapter.
- `udp:HOST:PORT`: nfcpy's simulated radio, used by the tests and the demo.

None of the hardware paths is exercised by the test suite (no readers here);
they run nfcpy's own drivers unchanged.
"""

from __future__ import annotations

import errno
import re
from typing import Callable, Final, Iterator, Literal, Protocol

from floreyn.terminal.drivers.base import DeviceConfigError

DEFAULT_TARGETS: Final = ("106A", "212F")  # NTAG21x cards (Type 2) and FeliCa / Type 3 tags
ALLOWED_TARGETS: Final = frozenset({"106A", "106B", "212F", "424F"})

_PATH_RES: Final = (
    re.compile(r"^usb$"),
    re.compile(r"^usb:[0-9a-fA-F]{4}(:[0-9a-fA-F]{4})?$"),
    re.compile(r"^usb:\d{3}(:\d{3})?$"),
    re.compile(r"^tty:(AMA|USB|ACM|S)\d+:(pn532|arygon)$"),
    re.compile(r"^udp:[A-Za-z0-9.\-]+:\d{1,5}$"),
)



# -- what the drivers use of nfcpy, which ships no types ------------------------------------------


class NdefArea(Protocol):
    """nfcpy's `tag.ndef`: the NDEF message area of a formatted tag."""

    octets: bytes
    capacity: int
    is_writeable: bool


class NfcTag(Protocol):
    """An nfcpy tag (nfc.tag.Tag; our cards are its Type 2 NTAG21x subclass), as the reader and writer use it.

    `_ndef`, `_cfgpage`, `_target` and `_clf` are nfcpy internals the drivers reach on purpose (each place says
    why).
    """

    identifier: bytes
    product: str
    ndef: NdefArea | None
    is_present: bool
    target: object
    clf: Frontend
    _ndef: object
    _cfgpage: int
    _target: object
    _clf: object

    def read(self, page: int) -> bytes: ...

    def write(self, page: int, data: bytes) -> object: ...

    def authenticate(self, password: bytes) -> object: ...  # True when the tag accepted the password

    def format(self) -> object: ...  # True when the tag was formatted


class Frontend(Protocol):
    """An opened nfc.ContactlessFrontend."""

    def connect(self, *, rdwr: dict[str, object], terminate: Callable[[], bool]) -> NfcTag | Literal[False] | None:
        """The tag when on-connect handed it back, False when the device failed, None when nothing came."""
        ...

    def sense(self, *targets: object) -> object: ...

    def close(self) -> None: ...


OpenFrontend = Callable[[str], Frontend]


def check_device_path(path: object) -> str:
    """Refuse a device path nfcpy would misread (it silently searches on partial paths)."""
    if not isinstance(path, str) or not any(r.match(path) for r in _PATH_RES):
        raise DeviceConfigError(
            device="kaartlezer",
            detail=f"apparaat {path!r}; gebruik 'usb', 'usb:054c:06c3', 'tty:AMA0:pn532', "
            "'tty:USB0:pn532' of 'udp:127.0.0.1:54321'",
        )
    if path.startswith("udp:") and not 0 < int(path.rsplit(":", 1)[1]) < 65536:
        raise DeviceConfigError(device="kaartlezer", detail=f"poort in {path!r}")
    return path


def check_targets(targets: object) -> tuple[str, ...]:
    if not isinstance(targets, (list, tuple)) or not targets or not set(targets) <= ALLOWED_TARGETS:
        raise DeviceConfigError(device="kaartlezer", detail=f"targets {targets!r}; kies uit {sorted(ALLOWED_TARGETS)}")
    return tuple(targets)


def open_frontend(path: str) -> Frontend:
    """Open the reader at `path`; raises ImportError or OSError like nfcpy does."""
    import nfc  # imported here: a missing libusb must become a status message, not an import crash

    return nfc.ContactlessFrontend(path)


def describe_open_error(path: str, exc: BaseException) -> str:
    """The Dutch hint the status screen shows: what to install, plug in or stop."""
    text = str(exc)
    if isinstance(exc, ImportError):
        if "usb1" in text:
            return "Installeer libusb1: pip install libusb1"
        if "serial" in text:
            return "Installeer pyserial: pip install pyserial"
        return f"Installeer nfcpy: pip install nfcpy ({text})"
    if "libusb" in text:  # usb1 raises OSError(ENOENT, 'cannot find a suitable libusb-1.0')
        return "Installeer libusb: sudo apt install libusb-1.0-0"
    code = getattr(exc, "errno", None)
    if code == errno.EACCES:
        return "Geen toegang tot de kaartlezer. Voeg de udev-regel van nfcpy toe (python -m nfc) of start opnieuw."
    if code == errno.EBUSY:
        return (
            "De kaartlezer is bezet door een ander programma of de kernel-driver "
            "(pcscd, port100, pn533_usb). Stop pcscd of blokkeer die modules."
        )
    if path.startswith("usb"):
        return "Kaartlezer niet gevonden. Sluit de USB-lezer aan."
    if path.startswith("tty:"):
        port = path.split(":")[1]
        return (
            f"Kaartlezer niet gevonden op /dev/tty{port}. "
            "Controleer de aansluiting van de PN532 en of UART aan staat."
        )
    if path.startswith("udp:"):
        return f"Virtuele kaartlezer {path} niet bereikbaar ({text})."
    return f"Kaartlezer niet gevonden ({text})."


def is_mifare_classic(target: object) -> bool:
    """SAK bit 0x08 marks MIFARE Classic (and Plus in its Classic mode): Crypto1 is broken, never our card."""
    sel_res: bytes | None = getattr(target, "sel_res", None)
    return bool(sel_res and sel_res[0] & 0x08)


def is_peer_to_peer(target: object) -> bool:
    """nfcpy's own rule: a phone offering NFC-DEP is not a tag."""
    sel_res = getattr(target, "sel_res", None)
    sensf_res = getattr(target, "sensf_res", None)
    return bool(sel_res and sel_res[0] & 0x40) or bool(sensf_res and sensf_res[1:3] == b"\x01\xfe")


def backoff_delays(initial_s: float, max_s: float) -> Iterator[float]:
    """0.5, 1, 2, 4, 8, 10, 10, ... : quick to recover from a hiccup, quiet when the reader is gone for good."""
    assert 0 < initial_s <= max_s
    delay = initial_s
    while True:
        yield delay
        delay = min(delay * 2, max_s)
