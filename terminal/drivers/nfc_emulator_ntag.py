"""An NXP NTAG21x (the real member card) emulated over nfcpy's udp radio.

nfcpy can emulate only Type 3 tags itself, so this answers the NFC-A
anticollision and the Type 2 commands nfcpy's NTAG21x driver sends: READ,
WRITE, GET_VERSION, PWD_AUTH and READ_SIG; anything else gets a NAK and
the tag goes mute until it is selected again, as a real NTAG does. Password
protection follows the datasheet: pages from AUTH0 up need PWD_AUTH before
WRITE (and before READ when ACCESS.PROT is set); PWD and PACK read back as
zeros.

Timing note: nfcpy gives a Type 2 READ only 5 ms. On loopback that is ample,
but a heavily loaded machine can miss it; the reader retries once, tests
using this tag should allow for a second read. `EmulatedType3Tag` has no such
limit.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Final

from floreyn.terminal.drivers.nfc_emulator import EmulatedCard

# model: (GET_VERSION response, total pages, first config page CFG0)
NTAG_MODELS: Final = {
    "NTAG213": (bytes.fromhex("0004040201000F03"), 45, 41),
    "NTAG215": (bytes.fromhex("0004040201001103"), 135, 131),
    "NTAG216": (bytes.fromhex("0004040201001303"), 231, 227),
}
_ACK: Final = b"\x0a"
_NAK: Final = b"\x00"


def _bcc(data: bytes) -> int:
    return reduce(operator.xor, data, 0)


class EmulatedNtag(EmulatedCard):
    """An NTAG213/215/216 as shipped (NDEF formatted, empty) or holding `ndef_octets`.

    `sak=0x08` with a 4-byte uid makes a MIFARE Classic look-alike instead
    (see `mifare_classic`): it answers anticollision only.
    """

    def __init__(
        self,
        ndef_octets: bytes | None = b"",
        *,
        model: str = "NTAG215",
        uid: bytes = bytes.fromhex("04A1B2C3D4E5F6"),
        sak: int = 0x00,
        port: int | None = None,
        mute_after_commands: int | None = None,
    ) -> None:
        super().__init__(port, mute_after_commands)
        assert len(uid) in (4, 7)
        self.model = model
        self._version, self.pages, self.cfg_page = NTAG_MODELS[model]
        self._uid, self.sak = uid, sak
        self._memory = bytearray(4 * self.pages)
        self._write_factory_data(ndef_octets)
        self._anticollision_table = self._anticollision()
        self._authenticated = False
        self._halted = False
        self._latched: tuple[int, bool, bytes, bytes] = (0xFF, False, b"", b"")
        self._latch_config()

    @classmethod
    def mifare_classic(cls, port: int | None = None) -> EmulatedNtag:
        return cls(None, uid=bytes.fromhex("1A2B3C4D"), sak=0x08, port=port)

    @property
    def uid(self) -> bytes:
        return self._uid

    # -- memory views for tests ------------------------------------------------------------

    @property
    def ndef_octets(self) -> bytes | None:
        """The NDEF message TLV's value, or None when the tag is not NDEF formatted."""
        with self._lock:
            mem = bytes(self._memory)
        if mem[12] != 0xE1:
            return None
        offset = 16
        while offset < len(mem) - 2:
            tlv_type = mem[offset]
            if tlv_type == 0x00:
                offset += 1
                continue
            length, start = mem[offset + 1], offset + 2
            if length == 0xFF:
                length, start = int.from_bytes(mem[offset + 2 : offset + 4], "big"), offset + 4
            if tlv_type == 0x03:
                return mem[start : start + length]
            if tlv_type == 0xFE:
                return None
            offset = start + length
        return None

    @property
    def password(self) -> tuple[bytes, bytes]:
        """(PWD, PACK) as stored; factory default FFFFFFFF / 0000."""
        with self._lock:
            base = 4 * (self.cfg_page + 2)
            return bytes(self._memory[base : base + 4]), bytes(self._memory[base + 4 : base + 6])

    @property
    def auth0(self) -> int:
        with self._lock:
            return self._memory[4 * self.cfg_page + 3]

    # -- emulation -----------------------------------------------------------------------

    def _write_factory_data(self, ndef_octets: bytes | None) -> None:
        uid, mem = self._uid, self._memory
        if len(uid) == 7:
            mem[0:3], mem[3] = uid[0:3], _bcc(b"\x88" + uid[0:3])
            mem[4:8], mem[8] = uid[3:7], _bcc(uid[3:7])
        else:
            mem[0:4], mem[4] = uid, _bcc(uid)
        if ndef_octets is not None:
            user_bytes = 4 * (self.cfg_page - 1 - 4)  # pages 4 .. dynamic-lock page - 1
            mem[12:16] = bytes([0xE1, 0x10, user_bytes // 8, 0x00])
            assert len(ndef_octets) + 3 <= user_bytes
            tlv = bytes([0x03, len(ndef_octets)]) + ndef_octets + b"\xfe"
            mem[16 : 16 + len(tlv)] = tlv
        cfg = 4 * self.cfg_page
        mem[cfg : cfg + 4] = b"\x04\x00\x00\xff"  # CFG0: AUTH0 = FF, nothing protected
        mem[cfg + 8 : cfg + 12] = b"\xff\xff\xff\xff"  # PWD factory default

    def _anticollision(self) -> dict[bytes, bytes]:
        sens_res = b"\x44\x00" if len(self._uid) == 7 else b"\x04\x00"
        table = {b"\x26": sens_res, b"\x52": sens_res}
        if len(self._uid) == 7:
            cl1 = b"\x88" + self._uid[0:3]
            cl2 = self._uid[3:7]
            table[b"\x93\x20"] = cl1 + bytes([_bcc(cl1)])
            table[b"\x93\x70" + cl1 + bytes([_bcc(cl1)])] = b"\x04"  # cascade bit: uid not complete
            table[b"\x95\x20"] = cl2 + bytes([_bcc(cl2)])
            table[b"\x95\x70" + cl2 + bytes([_bcc(cl2)])] = bytes([self.sak])
        else:
            cl1 = self._uid
            table[b"\x93\x20"] = cl1 + bytes([_bcc(cl1)])
            table[b"\x93\x70" + cl1 + bytes([_bcc(cl1)])] = bytes([self.sak])
        return table

    BITRATES = ("106A",)

    def _counted(self, frame: bytes) -> bool:
        return frame not in self._anticollision_table

    def _field_off(self) -> None:
        self._authenticated, self._halted = False, True

    def _respond(self, cmd: bytes) -> bytes | None:
        anticollision = self._anticollision_table
        if cmd in anticollision:
            if cmd in (b"\x26", b"\x52"):
                self._authenticated, self._halted = False, False
                self._latch_config()
            return anticollision[cmd]
        if self._halted or self.sak & 0x08:  # mute after a NAK; a Classic look-alike speaks no Type 2
            return None
        with self._lock:
            response = self._command(cmd)
        if response == _NAK:
            self._halted = True
        return response

    def _command(self, cmd: bytes) -> bytes | None:
        op = cmd[0]
        if op == 0x60 and len(cmd) == 1:
            return self._version
        if op == 0x30 and len(cmd) == 2:
            return self._read(cmd[1])
        if op == 0xA2 and len(cmd) == 6:
            return self._write(cmd[1], cmd[2:6])
        if op == 0x1B and len(cmd) == 5:
            auth0, prot_read, pwd, pack = self._latched
            if cmd[1:5] == pwd:
                self._authenticated = True
                return pack
            return _NAK
        if op == 0x3C and len(cmd) == 2:
            return bytes(32)  # originality signature: all zeros, as on an unsigned sample
        return _NAK  # includes MIFARE Ultralight C AUTHENTICATE (1A), which an NTAG does not know

    def _latch_config(self) -> None:
        """Protection settings take effect when the tag is activated, as nfcpy's protect() expects."""
        with self._lock:
            cfg = 4 * self.cfg_page
            mem = self._memory
            auth0, prot_read = mem[cfg + 3], bool(mem[cfg + 4] & 0x80)
            self._latched = (auth0, prot_read, bytes(mem[cfg + 8 : cfg + 12]), bytes(mem[cfg + 12 : cfg + 14]))

    def _protected(self, page: int) -> bool:
        return page >= self._latched[0] and not self._authenticated

    def _read(self, page: int) -> bytes:
        if page >= self.pages:
            return _NAK
        prot_read = self._latched[1]
        out = bytearray()
        for p in range(page, page + 4):
            p %= self.pages  # READ rolls over at the end of memory
            if prot_read and self._protected(p):
                return _NAK
            chunk = bytes(self._memory[4 * p : 4 * p + 4])
            if p in (self.cfg_page + 2, self.cfg_page + 3):
                chunk = bytes(4)  # PWD and PACK always read as zeros
            out += chunk
        return bytes(out)

    def _write(self, page: int, data: bytes) -> bytes:
        if page < 2 or page >= self.pages or self._protected(page):
            return _NAK
        if page == 3:  # capability container is one-time programmable: bits can only be set
            data = bytes(a | b for a, b in zip(self._memory[12:16], data, strict=True))
        self._memory[4 * page : 4 * page + 4] = data
        return _ACK
