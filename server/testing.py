"""A real server on loopback in a background thread, for tests of the server, the sync client and the till.

    with ServerThread(db_url, data_dir) as srv:
        requests.get(srv.base_url + "/v1/health")
        srv.admin("POST", "/v1/admin/merchants", {...})

It binds port 0 (the OS picks a free one) and serves over real HTTP with
uvicorn, exactly as `floreyn-server` does.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import requests
import uvicorn

from floreyn import keys
from floreyn.keys import PrivateKey, PublicKey
from floreyn.server import housekeeping
from floreyn.server.app import ServerContext, create_app
from floreyn.server.cli import open_context
from floreyn.server.config import TOKEN_FILE, Limits, ServerConfig
from floreyn.sync import auth
from floreyn.sync.client import SyncClient
from floreyn.sync.record import ChainHead, Kind, RecordContent, SignedRecord, Tender
from floreyn.sync.snapshot import Snapshot

START_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 30.0  # SimTerminal.send: generous, for a loaded test machine


class ServerThread:
    def __init__(self, db_url: str, data_dir: Path, *, clock: Callable[[], int] | None = None,
                 limits: Limits | None = None, portal_url: str | None = None) -> None:
        self.config = ServerConfig(data_dir=Path(data_dir), db_url=db_url, limits=limits or Limits(),
                                   portal_url=portal_url)
        self.clock = clock
        self.ctx: ServerContext | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.session = requests.Session()

    def __enter__(self) -> ServerThread:
        self.ctx = open_context(self.config, clock=self.clock)
        config = uvicorn.Config(create_app(self.ctx), host="127.0.0.1", port=0, log_level="warning",
                                lifespan="off", timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="floreyn-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.ctx is not None:
            self.ctx.db.dispose()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_token(self) -> str:
        return (self.config.data_dir / TOKEN_FILE).read_text().strip()

    @property
    def public_key(self) -> PublicKey:
        assert self.ctx is not None
        return self.ctx.key.public_key()

    def housekeeping(self) -> dict[str, Any]:
        """One run of the every-minute job (floreyn-housekeeping.timer) against this server's database."""
        assert self.ctx is not None
        return housekeeping.run(self.ctx.db, self.ctx.clock).to_dict()

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None, *, token: str | None = None,
              expect: int | None = 200, **params: Any) -> Any:
        """Call an admin endpoint; a write without a request_id gets a fresh one. Checks the status."""
        if body is not None and method != "GET" and "request_id" not in body:
            body = {**body, "request_id": uuid.uuid4().hex}
        resp = self.session.request(method, self.base_url + path, json=body, params=params or None,
                                    headers={"Authorization": f"Bearer {token or self.admin_token}"}, timeout=30)
        if expect is not None and resp.status_code != expect:
            raise AssertionError(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.text


class SimTerminal:
    """A terminal in a test: its key and chain, making signed records as a till would."""

    def __init__(self, terminal_id: str, merchant_id: str, key: PrivateKey | None = None) -> None:
        self.terminal_id = terminal_id
        self.merchant_id = merchant_id
        self.key = key or keys.new_private_key()
        self.head = ChainHead()
        self.records: list[SignedRecord] = []

    @property
    def raws(self) -> list[bytes]:
        return [r.raw for r in self.records]

    def record(self, kind: Kind, **fields: Any) -> SignedRecord:
        merchant_id, wall_ms = fields.pop("merchant_id", self.merchant_id), fields.pop("wall_ms", 0)
        rec = self.head.next_record(RecordContent(record_id=uuid.uuid4(), kind=kind, **fields),
                                    terminal_id=self.terminal_id, merchant_id=merchant_id, wall_ms=wall_ms,
                                    mono_ms=self.head.seq + 1)
        signed = rec.sign(self.key)
        self.head = self.head.advance(signed)
        self.records.append(signed)
        return signed

    def spend(self, card_hex: str, fl_cents: int, budget_id: str | None = None,
              confirm_card: str | None = None) -> SignedRecord:
        """`confirm_card`: a second group member's card confirmed it (a version 2 record, sync/record.py)."""
        confirm = bytes.fromhex(confirm_card) if confirm_card else None
        return self.record(Kind.SPEND, card_id=bytes.fromhex(card_hex), fl_cents=fl_cents, budget_id=budget_id,
                           confirm_card_id=confirm)

    def save(self, card_hex: str, fl_cents: int, eur_cents: int = 0) -> SignedRecord:
        return self.record(Kind.SAVE, card_id=bytes.fromhex(card_hex), fl_cents=fl_cents, eur_cents=eur_cents)

    def topup(self, card_hex: str, fl_cents: int, eur_cents: int) -> SignedRecord:
        return self.record(Kind.TOPUP, card_id=bytes.fromhex(card_hex), fl_cents=fl_cents, eur_cents=eur_cents,
                           tender=Tender.CASH)

    def refund(self, card_hex: str, fl_cents: int, ref: SignedRecord, budget_id: str | None = None) -> SignedRecord:
        return self.record(Kind.REFUND, card_id=bytes.fromhex(card_hex), fl_cents=fl_cents,
                           ref_id=ref.record.record_id, budget_id=budget_id)

    def void(self, ref: SignedRecord) -> SignedRecord:
        return self.record(Kind.VOID, ref_id=ref.record.record_id, card_id=ref.record.card_id)

    def authorize(self, srv: ServerThread, spend: SignedRecord) -> None:
        """Ask the server to authorize a spend online, as a till does above its offline limits (record id as
        request id, as floreyn.terminal does): the rule check then treats the spend as online."""
        rec = spend.record
        assert rec.card_id is not None
        answer = self.client(srv).authorize_spend(rec.card_id.hex(), rec.fl_cents, str(rec.record_id), rec.budget_id)
        assert answer.approved, answer

    def enroll(self, srv: ServerThread) -> Any:
        return srv.admin("POST", "/v1/admin/terminals", {"terminal_id": self.terminal_id,
                                                         "merchant_id": self.merchant_id,
                                                         "public_key": keys.public_raw(self.key).hex()})

    def client(self, srv: ServerThread, **kw: Any) -> SyncClient:
        return SyncClient(srv.base_url, self.terminal_id, self.key, kw.pop("server_key", srv.public_key), **kw)

    def signed_headers(self, method: str, path: str, body: bytes = b"", *, time_ms: int | None = None,
                       nonce: str | None = None) -> dict[str, str]:
        """The headers this terminal's SyncClient would sign the request with (sync/auth.py); the wall
        clock's time unless `time_ms`, a fresh nonce unless `nonce`."""
        at_ms = int(time.time() * 1000) if time_ms is None else time_ms
        return auth.sign_request(self.key, method, path, self.terminal_id, body, at_ms, nonce)

    def send(self, srv: ServerThread, method: str, path: str, body: bytes = b"", *, time_ms: int | None = None,
             nonce: str | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        """A signed request made by hand, as a till (or, with `headers` over the signed ones, a tampered
        one) would send it: what tests of the authentication need that SyncClient does not let them do."""
        signed = self.signed_headers(method, path, body, time_ms=time_ms, nonce=nonce)
        if body:
            signed["Content-Type"] = "application/json"
        return requests.request(method, srv.base_url + path, data=body or None, headers={**signed, **(headers or {})},
                                timeout=REQUEST_TIMEOUT_S)


class MemoryOutbox:
    """The Outbox protocol over a list: what a terminal store does, without the disk."""

    def __init__(self, terminal: SimTerminal | None = None) -> None:
        self.terminal = terminal
        self.acked = 0
        self.snapshot: Snapshot | None = None
        self.stored_snapshots = 0
        self._lock = threading.Lock()

    def unsent(self, limit: int) -> list[bytes]:
        with self._lock:
            records = self.terminal.records if self.terminal else []
            return [r.raw for r in records[self.acked : self.acked + limit]]

    def count_unsent(self) -> int:
        with self._lock:
            return len(self.terminal.records) - self.acked if self.terminal else 0

    def acknowledge(self, up_to_seq: int) -> None:
        with self._lock:
            assert up_to_seq >= self.acked, "acknowledgements never go back"
            self.acked = up_to_seq

    def resend_after(self, server_seq: int) -> int:
        """The server lost what it acknowledged above `server_seq`: send those again (records[i] has seq i + 1)."""
        with self._lock:
            if not 0 <= server_seq < self.acked:
                return 0
            again, self.acked = self.acked - server_seq, server_seq
            return again

    @property
    def head(self) -> ChainHead | None:
        return None  # the simulated terminal's records are not a chain this outbox vouches for

    def store_snapshot(self, snapshot: Snapshot) -> None:
        with self._lock:
            self.snapshot = snapshot
            self.stored_snapshots += 1

    def current_snapshot(self) -> Snapshot | None:
        return self.snapshot


class World:
    """Makes merchants, members with cards and money, funders and terminals through the admin API."""

    def __init__(self, srv: ServerThread) -> None:
        self.srv = srv

    @staticmethod
    def new_id(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def merchant(self, category: str = "winkel", save_rate_bp: int = 500, topup_allowed: bool = True) -> str:
        merchant_id = self.new_id("M")
        self.srv.admin("POST", "/v1/admin/merchants", {"merchant_id": merchant_id, "name": f"Winkel {merchant_id}",
                                                       "category": category, "save_rate_bp": save_rate_bp,
                                                       "topup_allowed": topup_allowed})
        return merchant_id

    def member(self, eur_cents: int = 0, alias: str | None = None) -> tuple[str, str]:
        """(member_id, card_hex) of a new member with one card, topped up at the desk when eur_cents > 0."""
        body: dict[str, Any] = {"name": "Test Lid", "email": "lid@example.org"}
        if alias:
            body["alias"] = alias
        member_id = self.srv.admin("POST", "/v1/admin/members", body)["member_id"]
        card_hex = uuid.uuid4().hex
        self.srv.admin("POST", "/v1/admin/cards", {"card_id": card_hex, "member_id": member_id})
        if eur_cents:
            self.srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member_id, "eur_cents": eur_cents})
        return member_id, card_hex

    def funder(self, eur_cents: int = 0) -> str:
        funder_id = self.new_id("F")
        self.srv.admin("POST", "/v1/admin/funders", {"funder_id": funder_id, "name": f"Fonds {funder_id}"})
        if eur_cents:
            self.srv.admin("POST", "/v1/admin/desk/topup", {"funder_id": funder_id, "eur_cents": eur_cents})
        return funder_id

    def terminal(self, merchant_id: str | None = None) -> SimTerminal:
        term = SimTerminal(self.new_id("T"), merchant_id or self.merchant())
        term.enroll(self.srv)
        return term

    def balance(self, account: str) -> int:
        return int(self.srv.admin("GET", f"/v1/admin/accounts/{account}", limit=1)["balance_cents"])
