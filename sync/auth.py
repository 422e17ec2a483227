"""Request signing between a terminal and the server (shared by both ends).

Every terminal request carries four headers:

    X-Floreyn-Terminal   the enrolled terminal id
    X-Floreyn-Time       the terminal's estimate of the *server's* clock, in ms
    X-Floreyn-Nonce      32 hex chars (16 random bytes), never reused
    X-Floreyn-Signature  128 hex chars: Ed25519 over request_message(...)

request_message = b"floreyn/request/v1\\0" + method, path (with query), terminal
id, time, nonce and SHA-256 of the body, joined by newlines. The path is the
one the application sees (without any proxy prefix).

Replay protection that survives a terminal without a real-time clock: the
server accepts a request when its time is within MAX_SKEW_MS of the server's
clock and its nonce was not seen from that terminal within the window (nonces
are remembered for twice the window, so a request is refused either as stale
or as replayed, never accepted twice). Every response tells the server time
(X-Floreyn-Server-Time); a terminal whose clock is wrong is refused once with
`auth_clock_skew`, adopts the server's time from that answer and retries at
once: a wrong clock costs one round trip, never a lockout. The client keeps
the offset against its monotonic clock, so a later wall-clock jump (NTP
arriving after boot) changes nothing.

Responses to terminal requests are signed by the server's key over the
request's nonce, the status, the server time and the body hash
(X-Floreyn-Response-Signature), so an old or forged answer ("approved",
"acknowledged up to 900") cannot be passed off as the answer to this request.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Final, Mapping

from floreyn import keys
from floreyn.codec import check_ident, DecodeError
from floreyn.errors import FloreynError
from floreyn.keys import PrivateKey, PublicKey

REQUEST_DOMAIN: Final = b"floreyn/request/v1\x00"
RESPONSE_DOMAIN: Final = b"floreyn/response/v1\x00"
H_TERMINAL: Final = "X-Floreyn-Terminal"
H_TIME: Final = "X-Floreyn-Time"
H_NONCE: Final = "X-Floreyn-Nonce"
H_SIGNATURE: Final = "X-Floreyn-Signature"
H_SERVER_TIME: Final = "X-Floreyn-Server-Time"
H_RESPONSE_SIGNATURE: Final = "X-Floreyn-Response-Signature"
MAX_SKEW_MS: Final = 5 * 60 * 1000
NONCE_TTL_MS: Final = 2 * MAX_SKEW_MS
_NONCE_RE = re.compile(r"[0-9a-f]{32}")
_SIG_RE = re.compile(r"[0-9a-f]{128}")
_TIME_RE = re.compile(r"-?[0-9]{1,19}")


class AuthError(FloreynError):
    """A terminal request the server cannot attribute to an enrolled, live terminal."""

    code = "auth_failed"
    msgid = "The terminal could not authenticate to the server."


class AuthMissing(AuthError):
    code = "auth_missing"
    msgid = "Authentication headers missing or malformed: {detail}."


class AuthBadSignature(AuthError):
    code = "auth_bad_signature"
    msgid = "The request signature does not verify."


class AuthClockSkew(AuthError):
    code = "auth_clock_skew"
    msgid = "The terminal clock differs from the server's; the terminal adopts the server time and retries."


class AuthReplayed(AuthError):
    code = "auth_replayed"
    msgid = "This request was already received (replay)."


class AuthUnknownTerminal(AuthError):
    code = "auth_unknown_terminal"
    msgid = "Terminal {terminal_id} is not enrolled."


@dataclass(frozen=True, slots=True)
class AuthHeaders:
    terminal_id: str
    time_ms: int
    nonce: str
    signature: bytes


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def request_message(method: str, path: str, terminal_id: str, time_ms: int, nonce: str, body: bytes) -> bytes:
    parts = (method.upper(), path, terminal_id, str(time_ms), nonce, body_hash(body))
    # UTF-8, not ASCII: a hostile non-ASCII path must fail the signature check (401), not the encoder (500).
    # For every path a till sends (ASCII) the bytes are the same.
    return REQUEST_DOMAIN + "\n".join(parts).encode("utf-8", "surrogateescape")


def new_nonce() -> str:
    return os.urandom(16).hex()


def sign_request(
    key: PrivateKey, method: str, path: str, terminal_id: str, body: bytes, time_ms: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate one request."""
    nonce = nonce or new_nonce()
    sig = key.sign(request_message(method, path, terminal_id, time_ms, nonce, body))
    return {H_TERMINAL: terminal_id, H_TIME: str(time_ms), H_NONCE: nonce, H_SIGNATURE: sig.hex()}


def parse_headers(headers: Mapping[str, str]) -> AuthHeaders:
    """Read the auth headers (case-insensitive mapping); typed refusal if any is missing or malformed."""
    values = {}
    for name in (H_TERMINAL, H_TIME, H_NONCE, H_SIGNATURE):
        value = headers.get(name)
        if value is None:
            raise AuthMissing(detail=f"{name} missing")
        values[name] = value
    try:
        check_ident(values[H_TERMINAL], "terminal_id")
    except DecodeError:
        raise AuthMissing(detail=f"{H_TERMINAL} is not a terminal id") from None
    if not values[H_TERMINAL]:
        raise AuthMissing(detail=f"{H_TERMINAL} is empty")
    if not _TIME_RE.fullmatch(values[H_TIME]) or not -(2**63) <= int(values[H_TIME]) < 2**63:
        raise AuthMissing(detail=f"{H_TIME} must be whole milliseconds")
    if not _NONCE_RE.fullmatch(values[H_NONCE]):
        raise AuthMissing(detail=f"{H_NONCE} must be 32 lowercase hex characters")
    if not _SIG_RE.fullmatch(values[H_SIGNATURE]):
        raise AuthMissing(detail=f"{H_SIGNATURE} must be 128 lowercase hex characters")
    return AuthHeaders(values[H_TERMINAL], int(values[H_TIME]), values[H_NONCE], bytes.fromhex(values[H_SIGNATURE]))


def verify_request(public: PublicKey, auth: AuthHeaders, method: str, path: str, body: bytes) -> None:
    message = request_message(method, path, auth.terminal_id, auth.time_ms, auth.nonce, body)
    if not keys.verify(public, auth.signature, message):
        raise AuthBadSignature()


def check_time(auth: AuthHeaders, server_now_ms: int) -> None:
    if abs(auth.time_ms - server_now_ms) > MAX_SKEW_MS:
        raise AuthClockSkew(server_time_ms=server_now_ms)


def response_message(nonce: str, status: int, server_time_ms: int, body: bytes) -> bytes:
    return RESPONSE_DOMAIN + "\n".join((nonce, str(status), str(server_time_ms), body_hash(body))).encode("ascii")


def sign_response(key: PrivateKey, nonce: str, status: int, server_time_ms: int, body: bytes) -> str:
    return key.sign(response_message(nonce, status, server_time_ms, body)).hex()


def verify_response(
    public: PublicKey, signature_hex: str | None, nonce: str, status: int, server_time_ms: int, body: bytes
) -> bool:
    if not signature_hex or not _SIG_RE.fullmatch(signature_hex):
        return False
    return keys.verify(public, bytes.fromhex(signature_hex), response_message(nonce, status, server_time_ms, body))


class ServerClock:
    """The terminal's estimate of server time: local monotonic clock plus the last offset the server told.

    Before the first answer it falls back on the wall clock, which may be
    anything on a Pi without a real-time clock; the first refusal for skew
    carries the server's time and fixes it.
    """

    def __init__(self, wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 mono_ms: Callable[[], int] = lambda: int(time.monotonic() * 1000)) -> None:
        self._wall_ms = wall_ms
        self._mono_ms = mono_ms
        self._offset_ms: int | None = None
        self._lock = threading.Lock()

    @property
    def synced(self) -> bool:
        return self._offset_ms is not None

    def now_ms(self) -> int:
        with self._lock:
            if self._offset_ms is None:
                return self._wall_ms()
            return self._mono_ms() + self._offset_ms

    def observe(self, server_time_ms: int) -> None:
        """Adopt the server's time as told in a response (latency of one trip is well inside the window)."""
        with self._lock:
            self._offset_ms = server_time_ms - self._mono_ms()
