"""Terminal endpoints: upload, snapshot, online authorization, card summary. All signed (sync/auth.py)."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Final, Mapping, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, update
from starlette.concurrency import run_in_threadpool

from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.server import authz, bulk, ingest, logs, nonces, rules, snapshot_cache
from floreyn.server import schema as s
from floreyn.server.app import (LIMIT_CHECK_KEY, LimitCheck, ServerContext, checks_failed_auth_limit,
                                too_many_failed_auth)
from floreyn.server.errors import RequestInvalid, TerminalQuarantined, TerminalRevoked
from floreyn.server.models import CARD_HEX_PATTERN, AuthorizeRequest, ReleaseRequest, UploadRequest
from floreyn.sync import auth
from floreyn.sync.snapshot import Snapshot, sign_delta, sign_snapshot
from floreyn.sync.snapshot_pages import sign_page

router = APIRouter(prefix="/v1/terminal", tags=["terminal"])
H_SNAPSHOT_KIND = "X-Floreyn-Snapshot-Kind"
H_SNAPSHOT_SIGNATURE = "X-Floreyn-Snapshot-Signature"
FETCH_PATTERN = r"^[0-9a-f]{8,64}$"  # the till's random id for one fetch, echoed in every page
CARD_CURSOR_PATTERN = r"^[0-9a-f]{0,32}$"  # a card id (hex), or empty for the first page
CARD_HEX = re.compile(CARD_HEX_PATTERN)  # models.CardHex's rule, for the card summary (see _card_summary)
M = TypeVar("M", bound=BaseModel)
_NOBODY = keys.new_private_key().public_key()  # verifies nothing anyone sends: stands in for an unknown terminal


@dataclass(frozen=True, slots=True)
class Terminal:
    terminal_id: str
    merchant_id: str
    public_key: bytes = b""  # raw Ed25519 key, as enrolled (never changes)
    head_seq: int = 0  # the head when authenticated; it only grows
    nonce: str = ""  # this request's nonce; for an upload, taken inside its write transaction


def signed_path(scope: Mapping[str, Any]) -> str:
    """The API path the terminal signed: the app's path (proxy prefix removed) plus the query string."""
    path = scope["path"]
    root = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root):]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


# Every signed request reads it: straight to the driver (bulk.run).
_TERMINAL: Final = ("SELECT terminal_id, merchant_id, public_key, status, head_seq"
                    f" FROM {s.terminals.name} WHERE terminal_id = {{mark}}")


class OverLimit(Exception):
    """The client is over the failed-authentication limit (authenticate's `limit_check`): answer 429."""

    def __init__(self, retry_s: int) -> None:
        super().__init__(retry_s)
        self.retry_s = retry_s

    def answer(self) -> Response:
        return too_many_failed_auth(self.retry_s)


def authenticate(ctx: ServerContext, headers: Mapping[str, str], method: str, path: str, body: bytes, *,
                 take_nonce: bool = True, limit_check: LimitCheck | None = None) -> Terminal:
    """Who sent this request; typed refusal otherwise (see sync/auth.py for the scheme).

    `take_nonce=False`: the caller records the nonce in its own write transaction, before anything
    else it writes, and refuses AuthReplayed when it was taken (the upload: one write per batch).
    `limit_check`: the failed-authentication limit, asked first, before the headers are looked at, in the
    read that takes the terminal's row (one transaction, one round trip); OverLimit when the client is over it.
    """
    def read(conn: Connection) -> tuple[auth.AuthHeaders, Any]:
        if limit_check is not None and (retry_s := limit_check(conn, ctx.clock())) is not None:
            raise OverLimit(retry_s)
        creds = auth.parse_headers(headers)
        return creds, bulk.run(conn, _TERMINAL, (creds.terminal_id,)).first()

    creds, term = ctx.db.read(read)
    # An unknown terminal id is answered exactly as a wrong key (same refusal, same signature work), so
    # terminal ids cannot be enumerated.
    public = keys.public_from_raw(bytes(term.public_key)) if term is not None else _NOBODY
    auth.verify_request(public, creds, method, path, body)
    if term is None:
        raise auth.AuthBadSignature()
    if term.status == "revoked":
        raise TerminalRevoked()
    now = ctx.clock()
    auth.check_time(creds, now)
    if not take_nonce:  # the write transaction checks the nonce, then the status, in this same order
        return Terminal(term.terminal_id, term.merchant_id, bytes(term.public_key), int(term.head_seq), creds.nonce)
    if not nonces.remember_apart(ctx.db, creds.terminal_id, creds.nonce, now):
        raise auth.AuthReplayed()
    if term.status == "quarantined":
        raise TerminalQuarantined()
    return Terminal(term.terminal_id, term.merchant_id, bytes(term.public_key), int(term.head_seq), creds.nonce)


async def terminal(request: Request) -> Terminal:
    body = await request.body()
    ctx: ServerContext = request.app.state.ctx
    return await run_in_threadpool(authenticate, ctx, request.headers, request.method, signed_path(request.scope),
                                   body)


Authed = Annotated[Terminal, Depends(terminal)]
UPLOAD_BODY: Final = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": UploadRequest.model_json_schema(ref_template="#/components/schemas/{model}")}}}}


@router.post("/upload", summary="Upload signed records; answers the highest contiguous sequence number held",
             openapi_extra=UPLOAD_BODY, responses={422: {"description": "Invalid body (request_invalid)"}})
@checks_failed_auth_limit
async def upload(request: Request) -> Response:
    # Forty queued uploads must clear within the p99 goal, so each one's fixed cost counts forty times: the limit
    # on failed authentications, the signature, the body and the ingest take ONE trip to the thread pool (each
    # trip waits for the GIL again behind the other uploads and wakes the event loop through its pipe; there
    # were three), and the body is read here rather than declared beside a dependency (FastAPI parsed it on the
    # event loop, then solved the dependency). The order of the checks stays the declared route's: see _upload.
    body = await request.body()
    ctx: ServerContext = request.app.state.ctx
    return await run_in_threadpool(_upload, ctx, request.headers, request.method, signed_path(request.scope), body,
                                   _limit_check_of(request))


def _upload(ctx: ServerContext, headers: Mapping[str, str], method: str, path: str, body: bytes,
            limit_check: LimitCheck | None) -> Response:
    """The upload, in the order the envelope and a declared body would check it: the failed-authentication limit
    (429), the signature (401, nonce not yet taken), the body (422), the records' base64 (422), then the ingest,
    which takes the nonce first inside its write transaction."""
    try:
        who = authenticate(ctx, headers, method, path, body, take_nonce=False, limit_check=limit_check)
    except OverLimit as over:
        return over.answer()
    # After authentication, as a body declared beside the dependency was: a stranger learns nothing about it.
    sent = json_body(UploadRequest, headers, body)
    raws = []
    for i, text in enumerate(sent.records):
        try:
            raws.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise RequestInvalid(detail=f"records[{i}] is not base64") from None
    started = time.perf_counter()
    try:
        result = ingest.ingest(ctx.db, who.terminal_id, raws, ctx.clock(), reported_head=sent.head_seq,
                               authenticated=ingest.Authenticated(who.public_key, who.head_seq, who.nonce))
    except FloreynError as exc:
        if not isinstance(exc, auth.AuthError):  # a replay is an authentication refusal, as on other endpoints
            _count_rejected(ctx, who.terminal_id)
        logs.upload_line(who.terminal_id, len(raws), started, reported_head=sent.head_seq, error=exc.code)
        raise
    logs.upload_line(who.terminal_id, len(raws), started, result=result.to_dict(), reported_head=sent.head_seq)
    return JSONResponse(result.to_dict())


def _limit_check_of(request: Request) -> LimitCheck | None:
    """The failed-authentication check the envelope handed this route (server/app.py checks_failed_auth_limit)."""
    check: LimitCheck | None = request.scope.get("state", {}).get(LIMIT_CHECK_KEY)
    return check


def json_body(model: type[M], headers: Mapping[str, str], body: bytes) -> M:
    """`body` as FastAPI reads a declared JSON body of `model`, refused with the same RequestValidationError (422).

    A JSON media type (application/json or +json) is required, as FastAPI's strict content type does; pydantic
    parses and validates in one pass (the same rules: the models are strict, JSON numbers and strings only).
    """
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not body or not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        raise RequestValidationError([{"type": "missing" if not body else "model_attributes_type", "loc": ("body",),
                                       "msg": "Field required" if not body else "Input should be a JSON object "
                                              "sent as application/json", "input": None}])
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _count_rejected(ctx: ServerContext, terminal_id: str) -> None:
    """For the metrics (floreyn_terminal_rejected_uploads_total); never hides the refusal itself."""
    try:
        ctx.db.write(lambda conn: conn.execute(
            update(s.terminals).where(s.terminals.c.terminal_id == terminal_id)
            .values(rejected_uploads=s.terminals.c.rejected_uploads + 1)))
    except Exception:  # noqa: BLE001
        logging.getLogger("floreyn.server").exception("could not count a rejected upload")


@router.get("/snapshot", summary="The signed snapshot for this terminal: full, or the delta since a version",
            response_description="Canonical JSON; X-Floreyn-Snapshot-Kind says full or delta, "
                                 "X-Floreyn-Snapshot-Signature is the server's Ed25519 signature (hex).")
async def snapshot(request: Request, who: Authed,
                   since: Annotated[int | None, Query(ge=0, le=2**62)] = None) -> Response:
    ctx: ServerContext = request.app.state.ctx
    now = ctx.clock()
    # Only reads: lapsed holds, due reinstatements and the kept entries are the housekeeping job's
    # (server/housekeeping.py). Tills before snapshot pages ask here (server/snapshot_cache.py json_snapshot).
    snap = await run_in_threadpool(ctx.db.read, lambda conn: snapshot_cache.json_snapshot(conn, who.terminal_id,
                                                                                           since, now))
    terms = rules.terms_dict(snap.rates, snap.limits, snap.merchant.save_rate_bp, snap.merchant.topup_allowed)
    # What the till now holds: the rule check of its records accepts these terms (server/rules.py).
    await run_in_threadpool(ctx.db.write, lambda conn: rules.note_terms_served(conn, who.terminal_id, terms, now))
    if isinstance(snap, Snapshot):
        data, sig = sign_snapshot(snap, ctx.key)
        kind = "full"
    else:
        data, sig = sign_delta(snap, ctx.key)
        kind = "delta"
    return Response(data, media_type="application/json",
                    headers={H_SNAPSHOT_KIND: kind, H_SNAPSHOT_SIGNATURE: sig.hex()})


@router.get("/snapshot/page", summary="One signed page of this terminal's snapshot: full, or changed since a version",
            response_description="zlib-compressed compact pages (sync/snapshot_pages.py); "
                                 "X-Floreyn-Snapshot-Signature is the server's Ed25519 signature (hex) of the body.")
async def snapshot_page(request: Request, who: Authed, fetch: Annotated[str, Query(pattern=FETCH_PATTERN)],
                        since: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                        after: Annotated[str, Query(pattern=CARD_CURSOR_PATTERN)] = "") -> Response:
    ctx: ServerContext = request.app.state.ctx
    now = ctx.clock()
    served = await run_in_threadpool(ctx.db.read, lambda conn: snapshot_cache.page(
        conn, who.terminal_id, fetch=fetch, since=since, after=after, now_ms=now))
    if served.header.next is None:  # the last page: the till now holds these terms; its rule check accepts them
        await run_in_threadpool(ctx.db.write, lambda conn: rules.note_terms_served(conn, who.terminal_id,
                                                                                   served.terms, now))
    wire = await run_in_threadpool(served.wire)
    return Response(wire, media_type="application/octet-stream",
                    headers={H_SNAPSHOT_KIND: served.header.kind, H_SNAPSHOT_SIGNATURE: sign_page(wire, ctx.key).hex()})


@router.post("/authorize", summary="Online authorization of a spend above the offline limits")
async def authorize(request: Request, body: AuthorizeRequest, who: Authed) -> JSONResponse:
    ctx: ServerContext = request.app.state.ctx
    now = ctx.clock()
    answer = await run_in_threadpool(ctx.db.write, lambda conn: authz.authorize(
        conn, who.terminal_id, body.card_id, body.amount_cents, body.request_id, body.budget_id, now,
        body.confirm_card_id))
    return JSONResponse(answer)


@router.post("/release", summary="Release the hold of an online authorization the till will not use",
             response_description="status: released, declined or expired; result: released (now), exists "
                                  "(released before: a retry) or nothing_held. 409 hold_consumed when the "
                                  "spend was already posted, 404 when no such authorization exists.")
async def release(request: Request, body: ReleaseRequest, who: Authed) -> JSONResponse:
    ctx: ServerContext = request.app.state.ctx
    now = ctx.clock()
    answer = await run_in_threadpool(ctx.db.write, lambda conn: authz.release(conn, who.terminal_id,
                                                                                body.request_id, now))
    return JSONResponse(answer)


@router.get("/cards/{card_id}", summary="A card's alias, balance, budgets and state, for the till's display")
@checks_failed_auth_limit
async def card(request: Request, card_id: Annotated[str, Path(description="The card's id: 32 hex digits")]
               ) -> Response:
    # A till asks at every tap: authentication and the read in one trip to the thread pool (each trip waits
    # for the GIL again, behind whatever uploads hold it; bench/server_balance.py), not one per step.
    # The failed-authentication limit is asked in that trip too (checks_failed_auth_limit).
    body = await request.body()
    ctx: ServerContext = request.app.state.ctx
    return await run_in_threadpool(_card_summary, ctx, request.headers, request.method, signed_path(request.scope),
                                   body, card_id, _limit_check_of(request))


def _card_summary(ctx: ServerContext, headers: Mapping[str, str], method: str, path: str, body: bytes,
                  card_id: str, limit_check: LimitCheck | None) -> Response:
    try:  # the limit first, before the signature, as the envelope would
        authenticate(ctx, headers, method, path, body, limit_check=limit_check)
    except OverLimit as over:
        return over.answer()
    # Checked after authentication, as a declared CardHex would be (a dependency runs before the path's
    # validation): a stranger learns nothing about the path before the signature is checked.
    if not CARD_HEX.fullmatch(card_id):
        raise RequestInvalid(detail=f"path.card_id: String should match pattern '{CARD_HEX.pattern}'")
    now = ctx.clock()
    return JSONResponse(ctx.db.read(lambda conn: authz.card_summary(conn, card_id, now)))
