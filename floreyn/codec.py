"""A tiny canonical binary codec: fixed field order, fixed widths, big-endian.

Used for the transaction record and the member card. Every value has
exactly one encoding, and the reader refuses anything else (trailing bytes,
out-of-range presence flags, non-ASCII identifiers), so decoding and
re-encoding always gives back the same bytes: what is signed is what is sent.
"""

from __future__ import annotations

import re
import struct
import uuid

from floreyn.errors import FloreynError

MAX_ID_LEN = 64
IDENT_RE = re.compile(rb"[A-Za-z0-9._:-]+")


class DecodeError(FloreynError):
    """Bytes that are not a well-formed value of the expected layout."""

    code = "malformed"
    msgid = "Malformed data: {detail}."


def check_ident(value: str, field: str) -> bytes:
    """An identifier as stored: 1 to 64 bytes of ASCII letters, digits and . _ : -"""
    try:
        raw = value.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise DecodeError(detail=f"{field} must be ASCII text") from None
    if len(raw) > MAX_ID_LEN or not IDENT_RE.fullmatch(raw):
        raise DecodeError(detail=f"{field} must be 1 to {MAX_ID_LEN} of A-Z a-z 0-9 . _ : -")
    return raw


class Writer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, v: int) -> Writer:
        self._parts.append(struct.pack(">B", v))
        return self

    def u16(self, v: int) -> Writer:
        self._parts.append(struct.pack(">H", v))
        return self

    def u64(self, v: int) -> Writer:
        self._parts.append(struct.pack(">Q", v))
        return self

    def i64(self, v: int) -> Writer:
        self._parts.append(struct.pack(">q", v))
        return self

    def raw(self, b: bytes, length: int) -> Writer:
        assert len(b) == length, (len(b), length)
        self._parts.append(b)
        return self

    def ident(self, value: str, field: str) -> Writer:
        raw = check_ident(value, field)
        return self.u8(len(raw)).raw(raw, len(raw))

    def opt_ident(self, value: str | None, field: str) -> Writer:
        if value is None:
            return self.u8(0)
        return self.u8(1).ident(value, field)

    def opt_uuid(self, value: uuid.UUID | None) -> Writer:
        if value is None:
            return self.u8(0)
        return self.u8(1).raw(value.bytes, 16)

    def bytes(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    def __init__(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError(detail="expected bytes")
        self._data = bytes(data)
        self._pos = 0

    def _take(self, n: int, field: str) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise DecodeError(detail=f"truncated at {field}")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u8(self, field: str) -> int:
        return self._take(1, field)[0]

    def u16(self, field: str) -> int:
        return int(struct.unpack(">H", self._take(2, field))[0])

    def u64(self, field: str) -> int:
        return int(struct.unpack(">Q", self._take(8, field))[0])

    def i64(self, field: str) -> int:
        return int(struct.unpack(">q", self._take(8, field))[0])

    def raw(self, n: int, field: str) -> bytes:
        return self._take(n, field)

    def flag(self, field: str) -> bool:
        v = self.u8(field)
        if v not in (0, 1):
            raise DecodeError(detail=f"{field} presence flag is {v}")
        return v == 1

    def ident(self, field: str) -> str:
        n = self.u8(field)
        raw = self._take(n, field)
        if n > MAX_ID_LEN or not IDENT_RE.fullmatch(raw):
            raise DecodeError(detail=f"{field} is not a valid identifier")
        return raw.decode("ascii")

    def opt_ident(self, field: str) -> str | None:
        return self.ident(field) if self.flag(field) else None

    def opt_uuid(self, field: str) -> uuid.UUID | None:
        return uuid.UUID(bytes=self._take(16, field)) if self.flag(field) else None

    def end(self) -> None:
        if self._pos != len(self._data):
            raise DecodeError(detail=f"{len(self._data) - self._pos} trailing bytes")

    @property
    def pos(self) -> int:
        return self._pos
