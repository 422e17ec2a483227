"""Cards emulated by nfcpy over its `udp` radio driver, for tests and the demo.

A reader opened on `udp:127.0.0.1:PORT` talks to whatever card is emulated on
that port, through nfcpy's whole reader stack (sense, activation, tag
commands, NDEF), exactly as it would talk to a card on an RC-S380. Two cards:

- `EmulatedType3Tag`: an NFC Forum Type 3 tag; its commands are answered by
  nfcpy's own `nfc.tag.tt3.Type3TagEmulation`. Its response timeouts are
  generous, so it is the robust choice for tests.
- `EmulatedNtag` (nfc_emulator_ntag.py): an NXP NTAG213/215/216 (the real
  member card) or a MIFARE Classic look-alike, answering Type 2 commands
  including password protection.

Both receive frames on one socket of nfcpy's udp device for their whole life
instead of going through `ContactlessFrontend.connect(card=...)`: its
`listen()` rebinds the socket on every call and forgets a poll that arrived
just before its timeout, so a reader's next command would be dropped now and
then (a flaky test). A real card in the field just keeps answering.

Usage::

    with EmulatedType3Tag(encode_card_message(card.payload())) as tag:
        reader = NfcCardReader(verify, tag.path, targets=("212F",))
        ...
        tag.remove()            # take the card away
        tag.present()           # lay it back
        tag.ndef_octets         # what a writer left on it

`mute_after_commands=N` makes the card vanish when the N-th command (polls
and anticollision not counted) arrives, unanswered: a card pulled away
mid-read. Each card runs on its own daemon thread; `stop()` (or leaving the
`with` block) ends it within milliseconds.
"""

from __future__ import annotations

import logging
import random
import socket
import struct
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

LISTEN_TIMEOUT_S: Final = 0.2  # how long one receive waits before checking for stop
FIRST_CHOSEN_PORT: Final = 1_024  # the card ports free_udp_port picks from: unprivileged ...
LAST_PORT: Final = 65_535  # ... to the last, minus the ephemeral range
FIRST_CHOSEN_PORT_COUNT: Final = LAST_PORT - FIRST_CHOSEN_PORT + 1
PORT_ATTEMPTS: Final = 50
EPHEMERAL_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_RANGE: Final = (32_768, 60_999)
_T3_SYSTEM_CODE: Final = b"\x12\xfc"  # NFC Forum NDEF system
# PMm: IC type 0xFE is no Sony product, so nfcpy treats the tag as a plain Type 3 tag. Bytes 5
# and 6 set the read/write response times nfcpy waits: 0xBF gives 77 ms for one block, 190 ms
# for four; a busy test machine cannot turn a slow answer into a lost card, and a card that did
# leave is noticed in well under a second (three tries).
_T3_PMM: Final = bytes.fromhex("03FEFFFFFFBFBFFF")
_T3_NBR: Final = 4  # blocks per read command
_T3_NBW: Final = 4  # blocks per write command


def free_udp_port() -> int:
    """A UDP port on loopback, free a moment ago, that the kernel never hands out by itself.

    A port from bind(port 0) comes from the ephemeral range, where nfcpy's reader side (an unbound
    socket) also gets its port when it first sends: between this call and the card's bind, a reader in
    another test process could take it ("udp port ... is taken", seen once under concurrent test runs).
    A port outside that range is taken only by an explicit bind: another caller of this function, one
    chance in some 30,000 at a random pick.
    """
    low, high = ephemeral_port_range()
    outside_count = FIRST_CHOSEN_PORT_COUNT - (high - low + 1)
    for _ in range(PORT_ATTEMPTS):
        port = FIRST_CHOSEN_PORT + random.randrange(outside_count)
        port += high - low + 1 if port >= low else 0  # skip over the ephemeral range
        if not _stays_a_number(port):
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("0.0.0.0", port))  # where the emulation binds (nfcpy's udp driver)
            except OSError:
                continue
            return port
    raise OSError(f"no free udp port outside the ephemeral range in {PORT_ATTEMPTS} tries")


def _stays_a_number(port: int) -> bool:
    """Whether nfcpy's udp driver keeps this port as a number: it passes the port through getnameinfo, which
    gives the service's name for a port /etc/services names (4031 became 'suucp', and int() of it failed)."""
    return socket.getnameinfo(("127.0.0.1", port), socket.NI_NUMERICHOST)[1].isdigit()


def ephemeral_port_range() -> tuple[int, int]:
    """The kernel's ephemeral ports (Linux); the usual default where /proc does not say."""
    try:
        low, high = (int(n) for n in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_RANGE
    return (low, high) if FIRST_CHOSEN_PORT <= low <= high <= LAST_PORT else DEFAULT_EPHEMERAL_RANGE


class EmulatedCard:
    """Answers frames on one udp port on a thread; subclasses implement `_respond(frame)`."""

    def __init__(self, port: int | None = None, mute_after_commands: int | None = None) -> None:
        self.port = port if port is not None else free_udp_port()
        self.mute_after_commands = mute_after_commands
        self.commands = 0  # counted commands since construction
        self.frames: deque[bytes] = deque(maxlen=4096)  # every frame received, for tests to inspect
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def path(self) -> str:
        """The nfcpy device path a reader opens to reach this card."""
        return f"udp:127.0.0.1:{self.port}"

    def start(self) -> EmulatedCard:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"emulated-card-{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait(2.0)  # set once the port is bound: a reader's first poll is not lost
        if self.gone:
            raise OSError(f"emulated card could not start on udp port {self.port}")
        return self

    present = start  # laying the card (back) on the reader

    def stop(self, timeout_s: float = 2.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        self._poke()
        thread.join(timeout_s)
        if thread.is_alive():
            raise RuntimeError(f"emulated card on udp port {self.port} did not stop")
        self._thread = None

    remove = stop  # taking the card away

    @property
    def gone(self) -> bool:
        """True once the emulation has ended (stopped, or muted after N commands)."""
        return self._thread is None or not self._thread.is_alive()

    def __enter__(self) -> EmulatedCard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        import nfc
        import nfc.clf

        clf = nfc.ContactlessFrontend(self.path)
        try:
            device = clf.device
            device._create_socket()
            if not device._bind_socket(time.time() + 1.0):
                raise OSError(f"udp port {self.port} is taken")
            self._ready.set()
            while not self._stop.is_set():
                try:
                    brty, frame, addr = device._recv_data(LISTEN_TIMEOUT_S, *self.BITRATES)
                except nfc.clf.BrokenLinkError:  # the reader switched its field off (or our stop poke)
                    self._field_off()
                    continue
                except nfc.clf.CommunicationError:  # timeout or a garbled frame: keep listening
                    continue
                frame = bytes(frame)
                self.frames.append(frame)
                if self._counted(frame) and not self._count_command():
                    break  # the card has left the field
                response = self._respond(frame)
                if response is not None:
                    device._send_data(brty, response, addr)
        except Exception:
            log.exception("card emulation on port %d failed", self.port)
        finally:
            clf.close()
            self._ready.set()

    BITRATES: tuple[str, ...] = ()

    def _respond(self, frame: bytes) -> bytes | None:
        """The card's answer to one frame, None to stay silent."""
        raise NotImplementedError

    def _counted(self, frame: bytes) -> bool:
        """Whether this frame counts toward mute_after_commands (polls and anticollision do not)."""
        return True

    def _field_off(self) -> None:
        """The reader's field went off: volatile state resets."""

    def _count_command(self) -> bool:
        """Count a command; False once the card should have left the field."""
        with self._lock:
            self.commands += 1
            limit = self.mute_after_commands
            return limit is None or self.commands < limit

    def _poke(self) -> None:
        """Wake the emulation now rather than at its next receive timeout."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"RFOFF", ("127.0.0.1", self.port))


def type3_attribute_block(nmaxb: int, length: int, writable: bool = True, writing: bool = False) -> bytes:
    """The NFC Forum Type 3 attribute information block (block 0 of the NDEF service)."""
    block = bytearray(16)
    block[0] = 0x10  # mapping version 1.0
    block[1], block[2] = _T3_NBR, _T3_NBW
    block[3:5] = struct.pack(">H", nmaxb)
    block[9] = 0x0F if writing else 0x00
    block[10] = 0x01 if writable else 0x00
    block[11:14] = struct.pack(">I", length)[1:]
    block[14:16] = struct.pack(">H", sum(block[:14]))
    return bytes(block)


class EmulatedType3Tag(EmulatedCard):
    """An NFC Forum Type 3 tag holding `ndef_octets` (b"" blank, None unformatted)."""

    def __init__(
        self,
        ndef_octets: bytes | None = b"",
        *,
        port: int | None = None,
        idm: bytes = bytes.fromhex("02FE00000000F10E"),
        capacity_blocks: int = 16,
        read_only: bool = False,
        mute_after_commands: int | None = None,
    ) -> None:
        super().__init__(port, mute_after_commands)
        assert len(idm) == 8 and 1 <= capacity_blocks <= 64
        self.idm = idm
        self.capacity_blocks = capacity_blocks
        self.read_only = read_only
        self._t3: Any = None
        self._memory = bytearray(16 * (1 + capacity_blocks))
        if ndef_octets is not None:
            assert len(ndef_octets) <= 16 * capacity_blocks, "message larger than the emulated tag"
            self._memory[:16] = type3_attribute_block(capacity_blocks, len(ndef_octets), writable=not read_only)
            self._memory[16 : 16 + len(ndef_octets)] = ndef_octets

    @property
    def uid(self) -> bytes:
        return self.idm

    @property
    def ndef_octets(self) -> bytes | None:
        """The NDEF message now on the tag; None if the attribute block is not valid."""
        with self._lock:
            attr = bytes(self._memory[:16])
            if attr[0] >> 4 != 1 or sum(attr[:14]) != struct.unpack(">H", attr[14:16])[0]:
                return None
            length = struct.unpack(">I", b"\x00" + attr[11:14])[0]
            return bytes(self._memory[16 : 16 + length])

    BITRATES = ("212F", "424F")

    def _emulation(self) -> Any:
        """nfcpy's Type 3 tag emulation with the NDEF services on our memory (built on first use)."""
        if self._t3 is None:
            import nfc.clf
            import nfc.tag.tt3

            target = nfc.clf.LocalTarget("212F")
            target.sensf_res = bytearray(b"\x01" + self.idm + _T3_PMM + _T3_SYSTEM_CODE)
            target.tt3_cmd = bytearray(b"\x00")  # nfcpy keeps the activating command; we feed frames ourselves
            self._t3 = nfc.tag.tt3.Type3TagEmulation(None, target)
            self._t3.add_service(0x0009, self._read_block, self._write_block)
            self._t3.add_service(0x000B, self._read_block, None)
        return self._t3

    def _respond(self, frame: bytes) -> bytes | None:
        if len(frame) < 2 or frame[0] != len(frame):
            return None
        response = self._emulation().process_command(bytearray(frame))
        return bytes(response) if response is not None else None

    def _counted(self, frame: bytes) -> bool:
        return len(frame) > 1 and frame[1] != 0x00  # polling (SENSF_REQ, presence checks) is not counted

    def _read_block(self, block: int, rb: bool, re: bool) -> bytes | None:
        with self._lock:
            if block > self.capacity_blocks:
                return None
            return bytes(self._memory[16 * block : 16 * block + 16])

    def _write_block(self, block: int, data: bytes, wb: bool, we: bool) -> bool:
        with self._lock:
            if block > self.capacity_blocks or len(data) != 16 or self.read_only:
                return False
            self._memory[16 * block : 16 * block + 16] = data
            return True
