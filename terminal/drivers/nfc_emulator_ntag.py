"""An NXP NTAG21x (the real member card) emulated over nfcpy's udp radio.

nfcpy can emulate only Type 3 tags itself, so this answers the NFC-A
anticollision and the Type 2 commands of NXP's NTAG213/215/216 datasheet
(rev. 3.2): READ, FAST_READ, WRITE, GET_VERSION, PWD_AUTH, READ_SIG and
HLTA; anything else gets a NAK and the tag goes idle until REQA/WUPA, as a
real NTAG does. After HLTA only WUPA wakes it. As shipped: CC E1 10 12 00
(NTAG213, with its factory Lock Control TLV) / E1 10 3E 00 / E1 10 6D 00,
CFG0 04 00 00 FF, CFG1 00 05 00 00, PWD FFFFFFFF. Page 2 keeps BCC1 and the
internal byte (only lock bits can be set there), the CC and lock bits are
one-time programmable. Password protection: pages from AUTH0 up need
PWD_AUTH before WRITE (and before READ when ACCESS.PROT is set); PWD and
PACK read back as zeros; AUTHLIM wrong passwords block PWD_AUTH for good;
CFGLCK locks CFG0/CFG1 against writes (PWD and PACK stay writable). The
configuration takes effect when the tag is activated, as on silicon.

Timing note: nfcpy gives a Type 2 READ only 5 ms. On loopback that is ample,
but a heavily loaded machine can miss it; the reader retries once, tests
using this tag should allow for a second read. `EmulatedType3Tag` has no such
limit. `late_reads=N` makes that happen on purpose: the first N READs of the
data area (page 4 on) are answered too late for the reader, as on a loaded
machine or at the edge of the field, while the presence check (READ of page
0) is answered in time: the card stays there but its message is not read.
No late answer is sent at all: the udp socket would keep it and hand it to the
reader's next command, which no radio does.
"""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from functools import reduce
from typing import Final

from floreyn.terminal.drivers.nfc_emulator import EmulatedCard

# model: (GET_VERSION response, total pages, first config page CFG0)
NTAG_MODELS: Final = {
    "NTAG213": (bytes.fromhex("0004040201000F03"), 45, 41),
    "NTAG215": (bytes.fromhex("0004040201001103"), 135, 131),
    "NTAG216": (bytes.fromhex("0004040201001303"), 231, 227),
}
# As shipped (datasheet 8.5): CC, and pages 4.. (NTAG213 carries a Lock Control TLV for its
# dynamic lock bytes before the empty NDEF TLV).
FACTORY_CC: Final = {"NTAG213": bytes.fromhex("E1101200"), "NTAG215": bytes.fromhex("E1103E00"),
                     "NTAG216": bytes.fromhex("E1106D00")}
FACTORY_TLVS: Final = {"NTAG213": bytes.fromhex("0103A00C34"), "NTAG215": b"", "NTAG216": b""}
FACTORY_CFG: Final = bytes.fromhex("04000000" "00050000" "FFFFFFFF" "00000000")  # CFG0 (AUTH0 set below), CFG1, PWD, PACK
PROT: Final = 0x80  # ACCESS bits (CFG1 byte 0)
CFGLCK: Final = 0x40
AUTHLIM_MASK: Final = 0x07
_ACK: Final = b"\x0a"
_NAK: Final = b"\x00"
_REQA: Final = b"\x26"
_WUPA: Final = b"\x52"
_HLTA: Final = b"\x50\x00"


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
        late_reads: int = 0,
    ) -> None:
        super().__init__(port, mute_after_commands)
        assert len(uid) in (4, 7) and late_reads >= 0
        self.late_reads = late_reads
        self.model = model
        self._version, self.pages, self.cfg_page = NTAG_MODELS[model]
        self._uid, self.sak = uid, sak
        self._memory = bytearray(4 * self.pages)
        self._write_factory_data(ndef_octets)
        self._anticollision_table = self._anticollision()
        self._authenticated = False
        self._idle = False  # after a NAK or field off: silent until REQA or WUPA
        self._halted = False  # after HLTA: silent until WUPA
        self.failed_auths = 0  # the datasheet's non-volatile negative PWD_AUTH counter
        self._latched = _Config(0xFF, 0, b"", b"")
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

    @property
    def access(self) -> int:
        """CFG1 byte 0: PROT, CFGLCK, NFC counter bits and AUTHLIM."""
        with self._lock:
            return self._memory[4 * self.cfg_page + 4]

    def page(self, number: int) -> bytes:
        """One page as stored (PWD and PACK too), for tests."""
        with self._lock:
            return bytes(self._memory[4 * number : 4 * number + 4])

    # -- emulation -----------------------------------------------------------------------

    def _write_factory_data(self, ndef_octets: bytes | None) -> None:
        uid, mem = self._uid, self._memory
        if len(uid) == 7:
            mem[0:3], mem[3] = uid[0:3], _bcc(b"\x88" + uid[0:3])
            mem[4:8], mem[8] = uid[3:7], _bcc(uid[3:7])
        else:
            mem[0:4], mem[4] = uid, _bcc(uid)
        if ndef_octets is not None:
            mem[12:16] = FACTORY_CC[self.model]
            user_bytes = 8 * mem[14]
            prefix = FACTORY_TLVS[self.model]
            assert len(prefix) + len(ndef_octets) + 3 <= user_bytes
            tlv = prefix + bytes([0x03, len(ndef_octets)]) + ndef_octets + b"\xfe"
            mem[16 : 16 + len(tlv)] = tlv
        cfg = 4 * self.cfg_page
        mem[cfg : cfg + 16] = FACTORY_CFG
        mem[cfg + 3] = 0xFF  # AUTH0 = FF: nothing protected

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
        self._authenticated, self._idle, self._halted = False, True, False  # power lost: HALT is forgotten

    def _respond(self, cmd: bytes) -> bytes | None:
        if cmd == _WUPA or (cmd == _REQA and not self._halted):
            self._authenticated, self._idle, self._halted = False, False, False
            self._latch_config()
            return self._anticollision_table[cmd]
        if self._idle or self._halted:
            return None
        if cmd == _HLTA:  # no answer; from now on only WUPA wakes the tag
            self._authenticated, self._halted = False, True
            return None
        if cmd in self._anticollision_table:
            return self._anticollision_table[cmd]
        if self.sak & 0x08:  # a Classic look-alike speaks no Type 2
            return None
        with self._lock:
            response = self._command(cmd)
        if response == _NAK:
            self._authenticated, self._idle = False, True
        return response

    def _command(self, cmd: bytes) -> bytes | None:
        op = cmd[0]
        if op == 0x60 and len(cmd) == 1:
            return self._version
        if op == 0x30 and len(cmd) == 2:
            if cmd[1] >= 4 and self.late_reads:
                self.late_reads -= 1  # an answer after the reader stopped waiting is lost: none is sent
                return None
            return self._read(cmd[1])
        if op == 0x3A and len(cmd) == 3:
            return self._fast_read(cmd[1], cmd[2])
        if op == 0xA2 and len(cmd) == 6:
            return self._write(cmd[1], cmd[2:6])
        if op == 0x1B and len(cmd) == 5:
            return self._pwd_auth(cmd[1:5])
        if op == 0x3C and len(cmd) == 2 and cmd[1] == 0x00:
            return self.signature
        return _NAK  # includes MIFARE Ultralight C AUTHENTICATE (1A), which an NTAG does not know

    @property
    def signature(self) -> bytes:
        """READ_SIG: 32 bytes NXP programs at production (an ECC signature over the UID).

        NXP's key is secret, so this is a stand-in that is, like the real one, fixed per UID and not zero.
        """
        return hashlib.sha256(b"NXP originality " + self._uid).digest()

    def _pwd_auth(self, pwd: bytes) -> bytes:
        config = self._latched
        if config.authlim and self.failed_auths >= config.authlim:
            return _NAK  # the limit was reached: protected pages stay closed for good
        if pwd == config.pwd:
            self.failed_auths = 0
            self._authenticated = True
            return config.pack
        if config.authlim:
            self.failed_auths += 1
        return _NAK

    def _latch_config(self) -> None:
        """Protection settings take effect when the tag is activated, as nfcpy's protect() expects."""
        with self._lock:
            cfg = 4 * self.cfg_page
            mem = self._memory
            self._latched = _Config(mem[cfg + 3], mem[cfg + 4], bytes(mem[cfg + 8 : cfg + 12]),
                                    bytes(mem[cfg + 12 : cfg + 14]))

    def _protected(self, page: int) -> bool:
        return page >= self._latched.auth0 and not self._authenticated

    def _read(self, page: int) -> bytes:
        if page >= self.pages:
            return _NAK
        out = bytearray()
        for p in range(page, page + 4):
            p %= self.pages  # READ rolls over at the end of memory
            chunk = self._page_out(p)
            if chunk is None:
                return _NAK
            out += chunk
        return bytes(out)

    def _fast_read(self, start: int, end: int) -> bytes:
        if start > end or end >= self.pages:
            return _NAK
        out = bytearray()
        for p in range(start, end + 1):
            chunk = self._page_out(p)
            if chunk is None:
                return _NAK
            out += chunk
        return bytes(out)

    def _page_out(self, p: int) -> bytes | None:
        if self._latched.access & PROT and self._protected(p):
            return None
        if p in (self.cfg_page + 2, self.cfg_page + 3):
            return bytes(4)  # PWD and PACK always read as zeros
        return bytes(self._memory[4 * p : 4 * p + 4])

    def _write(self, page: int, data: bytes) -> bytes:
        if page < 2 or page >= self.pages or self._protected(page) or self._locked(page):
            return _NAK
        old = self._memory[4 * page : 4 * page + 4]
        if page == 2:  # BCC1 and the internal byte are read-only; lock bits can only be set
            data = bytes([old[0], old[1], old[2] | data[2], old[3] | data[3]])
        elif page in (3, self.cfg_page - 1):  # CC and dynamic lock bytes are one-time programmable
            data = bytes(a | b for a, b in zip(old, data, strict=True))
        self._memory[4 * page : 4 * page + 4] = data
        return _ACK

    def _locked(self, page: int) -> bool:
        """Static lock bits (page 2, bytes 2-3) and CFGLCK; dynamic lock bits are not enforced here."""
        lock0, lock1 = self._memory[10], self._memory[11]
        if page == 3:
            return bool(lock0 & 0x08)
        if 4 <= page <= 7:
            return bool(lock0 & (1 << page))
        if 8 <= page <= 15:
            return bool(lock1 & (1 << (page - 8)))
        return page in (self.cfg_page, self.cfg_page + 1) and bool(self._latched.access & CFGLCK)


@dataclass(frozen=True, slots=True)
class _Config:
    """The configuration as latched at activation."""

    auth0: int
    access: int  # PROT, CFGLCK, AUTHLIM
    pwd: bytes
    pack: bytes

    @property
    def authlim(self) -> int:
        return self.access & AUTHLIM_MASK
