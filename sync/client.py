"""The terminal's side of the sync protocol: a signed HTTP client (the worker is in sync/worker.py).

SyncClient makes one signed request per call (sync/auth.py) and turns every
network or server failure into one small error family, here and nowhere else:

    SyncError            base (code "sync")
    ├─ SyncUnreachable   no connection (server down, no network, DNS)
    ├─ SyncTimeout       the server did not answer within timeout_s
    ├─ SyncRefused       the server answered with a refusal (.server_code, .status)
    ├─ SyncAuthFailed    the server does not accept this terminal's credentials
    ├─ SyncServerBehind  the server (restored from a backup) lacks records this terminal already pruned
    └─ SyncBadResponse   an answer that is unsigned, forged, too large or unreadable

server_key: the server's Ed25519 public key, given at enrollment. When None,
the client pins the key the server's /v1/health announces on first contact
(trust on first use) and verifies every answer with it from then on.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from floreyn import keys
from floreyn.errors import FloreynError, RemoteRefusal
from floreyn.keys import PrivateKey, PublicKey
from floreyn.sync import auth
from floreyn.sync.record import ChainHead
from floreyn.sync.snapshot import (
    MAX_SNAPSHOT_BYTES, Snapshot, SnapshotDeltaMismatch, SnapshotError, apply_delta, verify_delta, verify_snapshot,
)
from floreyn.sync.snapshot_pages import MemorySink, PageChain, SnapshotSink, verify_page

if TYPE_CHECKING:  # imported on first use (SyncClient.session): a till that has not talked to the server yet,
    import requests  # and its card prompt, do without requests, urllib3 and charset_normalizer (~5 MB RSS)

log = logging.getLogger("floreyn.sync")
MAX_UPLOAD_BATCH: Final = 500  # the server's limit per upload
MAX_RESPONSE_BYTES: Final = MAX_SNAPSHOT_BYTES + 64 * 1024
H_SNAPSHOT_KIND: Final = "X-Floreyn-Snapshot-Kind"
H_SNAPSHOT_SIGNATURE: Final = "X-Floreyn-Snapshot-Signature"
MAX_SNAPSHOT_PAGES: Final = 10_000  # x PAGE_CARDS: far beyond any city; a server that never ends is refused
SNAPSHOT_BASE_UNKNOWN: Final = "snapshot_base_unknown"  # the server's refusal of a delta from a version it lacks


# -- the error family ----------------------------------------------------------------


class SyncError(FloreynError):
    code = "sync"
    msgid = "Synchronising with the server failed."


class SyncUnreachable(SyncError):
    code = "sync_unreachable"
    msgid = "The server cannot be reached. The till keeps working offline."


class SyncTimeout(SyncError):
    code = "sync_timeout"
    msgid = "The server did not answer in time. The till keeps working offline."


class SyncRefused(RemoteRefusal, SyncError):
    code = "sync_refused"
    msgid = "The server refused: {message}"


class SyncAuthFailed(SyncRefused):
    code = "sync_auth_failed"
    msgid = "The server does not accept this terminal ({server_code}). Contact the cooperative."


class SyncServerBehind(SyncError):
    code = "sync_server_behind"
    msgid = ("The server lacks this terminal's records up to no. {first_missing}, which the terminal has already "
             "pruned. Contact the cooperative; the till keeps working offline.")


class SyncBadResponse(SyncError):
    code = "sync_bad_response"
    msgid = "Untrustworthy or unreadable answer from the server: {detail}."


class SyncBadSnapshot(SyncBadResponse):
    """A snapshot page refused: `reason` is the SnapshotError's code (snapshot_bad_signature,
    snapshot_page_mismatch, snapshot_page_order, snapshot_invalid). The till keeps the snapshot it had."""

    code = "sync_bad_snapshot"
    msgid = "Untrustworthy or unreadable snapshot page ({reason}): {detail}. The till keeps the one it had."


# -- results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadAck:
    acked_seq: int  # the server holds every record up to here; the outbox may mark them sent
    accepted: int = 0
    duplicates: int = 0
    waiting: int = 0


@dataclass(frozen=True, slots=True)
class Authorization:
    approved: bool
    reason: str | None  # None when approved; else card_unknown, card_blocked, card_flagged, insufficient_funds, ...
    auth_id: str
    result: str = "created"  # "exists" when the same request_id was answered before
    card_version: int = 0  # the card's server state version after this decision (its trail names it)


@dataclass(frozen=True, slots=True)
class HoldRelease:
    auth_id: str
    status: str  # the hold now: released, or declined / expired (it held nothing)
    result: str  # "released" by this call, "exists" (released before: a retry), or "nothing_held"


class Outbox(Protocol):
    """What the terminal's store offers the worker (called from the worker's thread); all of it is used."""

    def unsent(self, limit: int) -> list[bytes]: ...  # signed raw records not yet acknowledged, ascending seq

    def count_unsent(self) -> int: ...  # exactly how many are not yet acknowledged (the status screen's figure)

    def acknowledge(self, up_to_seq: int) -> None: ...

    def resend_after(self, server_seq: int) -> int: ...  # the server lost records above this: unsend them; how many

    @property
    def head(self) -> ChainHead | None: ...  # the last record signed here; None: not known to this outbox

    def store_snapshot(self, snapshot: Snapshot) -> None: ...

    def current_snapshot(self) -> Snapshot | None: ...


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    headers: Any
    content: bytes

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.content)
        except ValueError:
            raise SyncBadResponse(detail="not JSON") from None
        if not isinstance(data, dict):
            raise SyncBadResponse(detail="not a JSON object")
        return data


# -- the client ----------------------------------------------------------------------


def _session_for(base_url: str) -> requests.Session:
    """A session that reads the environment's proxy and CA bundle settings once, here, for `base_url`.

    requests reads them again for every request (trust_env): the whole environment scanned for *_proxy
    names and no_proxy matched, ~0.2 ms of the till's CPU per call, most of a balance read's client side
    (bench/server_balance.py). A till's environment does not change while it runs, so once is the same.
    """
    import requests

    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False  # after the look-ups above, which it governs; also ends netrc look-ups
    return session


class SyncClient:
    def __init__(self, base_url: str, terminal_id: str, key: PrivateKey,
                 server_key: PublicKey | None, session: requests.Session | None = None,
                 timeout_s: float = 5.0, clock: auth.ServerClock | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.terminal_id = terminal_id
        self.key = key
        self.server_key = server_key
        self._session = session
        self._session_lock = threading.Lock()  # the sync worker and the online gateway share this client
        self.timeout_s = timeout_s
        self.clock = clock or auth.ServerClock()
        self._last: Snapshot | None = None

    @property
    def session(self) -> requests.Session:
        """The HTTP session, made on first use (see the import above)."""
        with self._session_lock:
            if self._session is None:
                self._session = _session_for(self.base_url)
            return self._session

    def server_time_ms(self) -> int:
        """The server's time as this terminal best knows it (see auth.ServerClock)."""
        return self.clock.now_ms()

    # -- calls ---------------------------------------------------------------------

    def upload(self, raws: list[bytes], head_seq: int | None = None) -> UploadAck:
        """Send records; `head_seq` (the terminal's own head) feeds the server's metrics. An empty list
        only asks for acked_seq."""
        if len(raws) > MAX_UPLOAD_BATCH:
            raise ValueError(f"upload at most {MAX_UPLOAD_BATCH} records at a time")
        payload: dict[str, Any] = {"records": [base64.b64encode(r).decode("ascii") for r in raws]}
        if head_seq is not None:
            payload["head_seq"] = head_seq
        body = json.dumps(payload).encode()
        data = self._call("POST", "/v1/terminal/upload", body).json()
        try:
            return UploadAck(int(data["acked_seq"]), int(data["accepted"]), int(data["duplicates"]),
                             int(data["waiting"]))
        except (KeyError, TypeError, ValueError):
            raise SyncBadResponse(detail="upload answer lacks acked_seq") from None

    def snapshot(self, since_version: int | None = None, base: Snapshot | None = None) -> Snapshot:
        """The current snapshot, verified with the server key, held in memory (a till's store keeps its
        cards on disk instead: `fetch_snapshot`).

        With a base (or since_version matching the last snapshot this client
        returned), only the cards changed since are fetched and merged onto it.
        """
        base = base or (self._last if since_version is not None else None)
        if base is not None and since_version is not None and base.snapshot_version != since_version:
            base = None
        snap = self.fetch_snapshot(MemorySink(base))
        self._last = snap
        return snap

    def fetch_snapshot(self, sink: SnapshotSink) -> Snapshot:
        """Fetch the snapshot page by page into `sink`, which applies it whole once the last page checked out.

        A delta since the sink's version when it holds one; a full snapshot when it holds none or the
        server does not know that version (restored from a backup)."""
        base = sink.current_snapshot()
        since = base.snapshot_version if base is not None else None
        try:
            snap = self._fetch_pages(sink, since)
        except SyncRefused as exc:
            if since is None or exc.params.get("server_code") != SNAPSHOT_BASE_UNKNOWN:
                raise
            snap = self._fetch_pages(sink, None)
        if snap.terminal_id != self.terminal_id:
            raise SyncBadResponse(detail=f"snapshot is for terminal {snap.terminal_id}")
        return snap

    def _fetch_pages(self, sink: SnapshotSink, since: int | None) -> Snapshot:
        fetch = secrets.token_hex(16)
        chain = PageChain(self.terminal_id, fetch, since)
        server_key = self._server_key()
        for page_no in range(MAX_SNAPSHOT_PAGES):
            query = f"fetch={fetch}" + (f"&since={since}" if since is not None else "")
            query += f"&after={chain.after}" if chain.after else ""
            reply = self._call("GET", f"/v1/terminal/snapshot/page?{query}")
            try:
                signature = bytes.fromhex(reply.headers.get(H_SNAPSHOT_SIGNATURE, ""))
                pairs = chain.check(verify_page(reply.content, signature, server_key))
            except ValueError:
                raise SyncBadSnapshot(reason="snapshot_bad_signature", detail="signature is not hex") from None
            except SnapshotError as exc:
                raise SyncBadSnapshot(reason=exc.code, detail=exc.message("en")) from None
            sink.stage_snapshot_cards(fetch, pairs, first=page_no == 0)
            if chain.done:
                return sink.apply_staged_snapshot(fetch, chain.snapshot(), full=since is None)
        raise SyncBadSnapshot(reason="snapshot_page_order", detail=f"more than {MAX_SNAPSHOT_PAGES} pages")

    def snapshot_json(self, since_version: int | None = None, base: Snapshot | None = None) -> Snapshot:
        """The one-document JSON snapshot (GET /v1/terminal/snapshot) tills before issue 19 fetch; kept so
        the server's answer to them stays tested. Limited to MAX_SNAPSHOT_BYTES: use `snapshot`."""
        base = base or (self._last if since_version is not None else None)
        if base is not None and since_version is None:
            since_version = base.snapshot_version
        if base is not None and base.snapshot_version != since_version:
            base = None
        if base is None:
            since_version = None
        try:
            snap = self._fetch_snapshot(since_version, base)
        except SnapshotDeltaMismatch:
            snap = self._fetch_snapshot(None, None)
        if snap.terminal_id != self.terminal_id:
            raise SyncBadResponse(detail=f"snapshot is for terminal {snap.terminal_id}")
        return snap

    def _fetch_snapshot(self, since: int | None, base: Snapshot | None) -> Snapshot:
        path = "/v1/terminal/snapshot" + (f"?since={since}" if since is not None else "")
        reply = self._call("GET", path)
        kind = reply.headers.get(H_SNAPSHOT_KIND)
        try:
            signature = bytes.fromhex(reply.headers.get(H_SNAPSHOT_SIGNATURE, ""))
        except ValueError:
            raise SyncBadResponse(detail="snapshot signature is not hex") from None
        server_key = self._server_key()
        try:
            if kind == "full":
                return verify_snapshot(reply.content, signature, server_key)
            if kind == "delta" and base is not None:
                return apply_delta(base, verify_delta(reply.content, signature, server_key))
        except SnapshotDeltaMismatch:
            raise
        except SnapshotError as exc:
            raise SyncBadResponse(detail=exc.message("en")) from None
        raise SyncBadResponse(detail=f"unexpected snapshot kind {kind!r}")

    def authorize_spend(self, card_hex: str, amount_cents: int, request_id: str,
                        budget_id: str | None = None, confirm_card_hex: str | None = None) -> Authorization:
        body = {"card_id": card_hex, "amount_cents": amount_cents, "request_id": request_id}
        if budget_id is not None:
            body["budget_id"] = budget_id
        if confirm_card_hex is not None:  # a second group member's card (server/budget_rules.py)
            body["confirm_card_id"] = confirm_card_hex
        data = self._call("POST", "/v1/terminal/authorize", json.dumps(body).encode()).json()
        try:
            version = data.get("card_version", 0)
            return Authorization(bool(data["approved"]), data.get("reason"), str(data["auth_id"]),
                                 str(data.get("result", "created")), version if type(version) is int else 0)
        except (KeyError, TypeError):
            raise SyncBadResponse(detail="authorization answer incomplete") from None

    def release_hold(self, request_id: str) -> HoldRelease:
        """Give back the hold authorized under `request_id` (the till dropped that quote unconfirmed).

        Idempotent. SyncRefused "hold_consumed" (409) when its spend was already
        posted, "not_found" (404) when the server never authorized it.
        """
        body = json.dumps({"request_id": request_id}).encode()
        data = self._call("POST", "/v1/terminal/release", body).json()
        try:
            return HoldRelease(str(data["auth_id"]), str(data["status"]), str(data["result"]))
        except (KeyError, TypeError):
            raise SyncBadResponse(detail="release answer incomplete") from None

    def card_summary(self, card_hex: str) -> dict[str, Any]:
        """{card_id, alias, balance_cents, budgets, blocked, flagged}."""
        return self._call("GET", f"/v1/terminal/cards/{card_hex}").json()

    # -- transport: the one place network errors are translated ----------------------

    def _server_key(self) -> PublicKey:
        if self.server_key is None:  # trust on first use, then pinned for this client's life
            reply = self._send("GET", "/v1/health", b"", {})
            try:
                self.server_key = keys.public_from_raw(bytes.fromhex(reply.json()["server_key"]))
            except (KeyError, ValueError, TypeError):
                raise SyncBadResponse(detail="health answer has no server key") from None
        return self.server_key

    def _call(self, method: str, path: str, body: bytes = b"") -> _Reply:
        server_key = self._server_key()
        for attempt in (1, 2):
            headers = auth.sign_request(self.key, method, path, self.terminal_id, body, self.clock.now_ms())
            if body:
                headers["Content-Type"] = "application/json"
            reply = self._send(method, path, body, headers)
            server_time = self._server_time(reply)
            if not auth.verify_response(server_key, reply.headers.get(auth.H_RESPONSE_SIGNATURE),
                                        headers[auth.H_NONCE], reply.status, server_time, reply.content):
                raise SyncBadResponse(detail="the answer is not signed by the server")
            self.clock.observe(server_time)
            if reply.status == 200:
                return reply
            code, message = self._refusal(reply)
            if reply.status == 401 and code == auth.AuthClockSkew.code and attempt == 1:
                continue  # the clock now follows the server's; the retry is inside the window
            if reply.status == 401 or code in ("terminal_revoked", "terminal_quarantined", "terminal_forked",
                                            "terminal_broke_rule"):
                raise SyncAuthFailed(server_code=code, status=reply.status, message=message)
            raise SyncRefused(server_code=code, status=reply.status, message=message)
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> _Reply:
        session = self.session
        import requests  # loaded by `session` already: this only names it

        try:
            with session.request(method, self.base_url + path, data=body or None, headers=headers,
                                      timeout=self.timeout_s, stream=True) as resp:
                content = bytearray()
                for chunk in resp.iter_content(64 * 1024):
                    content += chunk
                    if len(content) > MAX_RESPONSE_BYTES:
                        raise SyncBadResponse(detail="answer too large")
                return _Reply(resp.status_code, resp.headers, bytes(content))
        except requests.Timeout:
            raise SyncTimeout() from None
        except requests.RequestException as exc:
            if "timed out" in str(exc):  # a read timeout mid-body surfaces as a ConnectionError
                raise SyncTimeout() from None
            raise SyncUnreachable(detail=type(exc).__name__) from None

    @staticmethod
    def _server_time(reply: _Reply) -> int:
        text = reply.headers.get(auth.H_SERVER_TIME, "")
        if not text.isdigit():
            raise SyncBadResponse(detail="no server time in the answer")
        return int(text)

    @staticmethod
    def _refusal(reply: _Reply) -> tuple[str, str]:
        try:
            data = json.loads(reply.content)
            return str(data.get("error", "unknown")), str(data.get("message_nl") or data.get("message", ""))
        except (ValueError, AttributeError):
            return f"http_{reply.status}", ""
