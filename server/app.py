"""The FastAPI application: routers, the request envelope and the error answers.

The envelope (an ASGI middleware around everything) does four things:
- refuses an address over the failed-authentication limit (429: server/throttle.py) before any token or
  signature is looked at (the upload and the card summary ask in their own one trip to the thread pool:
  checks_failed_auth_limit);
- refuses a body over the size limit before the application reads it (413);
- stamps every response with the server time (X-Floreyn-Server-Time), which a
  terminal without a real-time clock sets its clock by;
- signs every answer to a terminal request with the server key, bound to the
  request's nonce (see floreyn.sync.auth), and writes the audit line of
  admin reads and refused admin requests (successful admin writes write
  theirs in their own transaction).

Every refusal is JSON: {"error": code, "message", "message_nl", "params"}.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Iterable, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, APIRouter
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import floreyn
from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.keys import PrivateKey
from floreyn.server import admin_auth, logs, state
from floreyn.server.config import Limits
from floreyn.server.db import Database
from floreyn.server.errors import (
    MethodNotAllowed, RequestInvalid, RequestTooLarge, RouteNotFound, TooManyFailedAuth, status_of,
)
from floreyn.server.throttle import NOT_FAILURES, FailedAuthLimiter
from floreyn.sync import auth

log = logging.getLogger("floreyn.server")


class _HungUp(Exception):
    """The client went away before its whole body arrived (Envelope._read_body)."""


@dataclass
class ServerContext:
    db: Database
    key: PrivateKey
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], int] = state.now_ms
    portal_url: str | None = None  # the portal's public address (QR codes, slips); None: the request's own

    @property
    def public_hex(self) -> str:
        return keys.public_raw(self.key).hex()


def error_body(exc: FloreynError) -> dict[str, object]:
    return {**exc.to_dict(), "status": status_of(exc)}


def error_response(exc: FloreynError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=status_of(exc), headers=headers)


def too_many_failed_auth(retry_s: int) -> JSONResponse:
    """The answer to a client address over the failed-authentication limit (server/throttle.py)."""
    return error_response(TooManyFailedAuth(retry_after_s=retry_s), headers={"Retry-After": str(retry_s)})


LIMIT_CHECK_KEY: Final = "floreyn_limit_check"
# (read connection, now_ms) -> seconds to wait when the client is over the limit, else None
LimitCheck = Callable[[Connection, int], int | None]
_CHECKS_OWN_LIMIT: Final = "floreyn_checks_failed_auth_limit"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
RouteMatch = tuple[frozenset[str], re.Pattern[str]]  # an APIRoute's methods and compiled path


def checks_failed_auth_limit(endpoint: Endpoint) -> Endpoint:
    """Marks a route that asks the failed-authentication limit itself, in the one trip to the thread pool it makes
    for everything (each trip waits for the GIL again and wakes the event loop: api_terminal.upload). The envelope
    hands it LimitCheck under LIMIT_CHECK_KEY in the request's state; it calls it before it looks at the signature,
    in the read that also takes the terminal's row (api_terminal.authenticate): one transaction, one round trip."""
    setattr(endpoint, _CHECKS_OWN_LIMIT, True)
    return endpoint


def routes_checking_own_limit(routers: Iterable[APIRouter]) -> tuple[RouteMatch, ...]:
    """The routes marked with checks_failed_auth_limit, matched as the router matches them (path parameters too).
    From the routers themselves: an app keeps each included router whole (FastAPI's _IncludedRouter)."""
    return tuple((frozenset(route.methods or ()), route.path_regex) for router in routers for route in router.routes
                 if isinstance(route, APIRoute) and getattr(route.endpoint, _CHECKS_OWN_LIMIT, False))


def json_too_deep(body: bytes, max_depth: int) -> bool:
    """Whether a JSON text nests deeper than `max_depth` (brackets inside strings do not count).

    Runs before any parser, so a hostile body can never reach the parser's recursion limit. Bodies with
    few brackets (every real request) are answered by two C-speed counts.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


OPENAPI_TAGS = [
    {"name": "terminal", "description":
        "Signed by the terminal's enrolled Ed25519 key: headers X-Floreyn-Terminal, X-Floreyn-Time (ms, the "
        "terminal's estimate of server time), X-Floreyn-Nonce (32 hex), X-Floreyn-Signature (128 hex) over "
        "b'floreyn/request/v1\\0' + method, path?query, terminal id, time, nonce and SHA-256(body) joined by "
        "newlines. Accepted within 5 minutes of server time, each nonce once. Every answer carries "
        "X-Floreyn-Server-Time and X-Floreyn-Response-Signature (server key, over the request nonce, status, "
        "server time and SHA-256(body)). A refusal for auth_clock_skew tells the server time: adopt it, retry."},
    {"name": "admin", "description": "Bearer token with a role. Writes carry a client-made request_id: the same id "
                                     "again answers result=exists; with other parameters 409 "
                                     "exists_with_different_params. Every admin action is in the audit log."},
    {"name": "desk", "description": "Money at the cooperative's desk (role clerk or admin)."},
    {"name": "budgets", "description": "Labeled budgets of funders for members or groups (role admin)."},
    {"name": "ledger", "description": "Accounts, transactions, corrections and the replay check."},
    {"name": "reports", "description": "Settlement statements, circulation, overspend, bookkeeping CSV."},
]


def create_app(ctx: ServerContext) -> FastAPI:
    from floreyn.server import api_admin, api_payments, api_terminal, portal

    app = FastAPI(
        title="Floreyn server", version=floreyn.__version__, openapi_tags=OPENAPI_TAGS,
        description="Sync server and double-entry ledger of the Floreyn neighbourhood currency. Terminal endpoints "
                    "(/v1/terminal) are signed with the terminal's Ed25519 key; admin endpoints (/v1/admin) take "
                    "a bearer token with a role (admin, clerk, auditor) and a client-made request_id on writes.",
    )
    app.state.ctx = ctx

    @app.exception_handler(FloreynError)
    async def _floreyn(request: Request, exc: FloreynError) -> Response:
        request.state.refusal = exc.code  # the envelope reads it (a clock-skew 401 is no failed authentication)
        if portal.is_portal(request):
            return await run_in_threadpool(portal.error_page, request, exc, status_of(exc))
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        refusal = RequestInvalid(detail="; ".join(problems))
        if portal.is_portal(request):
            return await run_in_threadpool(portal.error_page, request, refusal, 422)
        return error_response(refusal)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if portal.is_portal(request) and exc.status_code in (404, 405):
            return await run_in_threadpool(portal.error_page, request, RouteNotFound(path=request.url.path[:200]),
                                           exc.status_code)
        if exc.status_code == 405:
            return error_response(MethodNotAllowed(method=request.method))
        if exc.status_code == 404:
            return error_response(RouteNotFound(path=request.url.path[:200]))
        return JSONResponse({"error": "http_error", "message": str(exc.detail), "message_nl": str(exc.detail),
                             "params": {}, "status": exc.status_code}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:  # a bug: logged, answered plainly
        log.exception("unhandled error", exc_info=exc)
        if portal.is_portal(request):
            return await run_in_threadpool(portal.error_page, request, FloreynError(), 500)
        return JSONResponse({"error": "internal", "message": "Internal error.", "message_nl": "Interne fout.",
                             "params": {}, "status": 500}, status_code=500)

    @app.get("/v1/health", tags=["health"])
    def health() -> JSONResponse:
        """For load balancers and monitoring: 200 when the database answers, 503 when it does not."""
        try:
            ctx.db.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar_one())
            database = "ok"
        except Exception:  # noqa: BLE001 - any failure to reach the database is "unavailable"
            log.warning("health check: the database does not answer", exc_info=True)
            database = "unavailable"
        body = {"status": "ok" if database == "ok" else "unavailable", "database": database,
                "version": floreyn.__version__, "server_time_ms": ctx.clock(), "server_key": ctx.public_hex,
                "portal_url": ctx.portal_url}
        return JSONResponse(body, status_code=200 if database == "ok" else 503)

    from floreyn.server import metrics

    routers = (api_terminal.router, api_admin.router, api_payments.router, metrics.router)
    for router in routers:
        app.include_router(router)
    portal.install(app)
    app.add_middleware(Envelope, ctx=ctx, own_limit_routes=routes_checking_own_limit(routers))
    app.add_middleware(logs.AccessLog)  # outermost: it times everything
    return app


class Envelope:
    """Pure ASGI middleware (see the module docstring); buffers at most limits.max_body_bytes."""

    def __init__(self, app: Any, ctx: ServerContext, own_limit_routes: tuple[RouteMatch, ...] = ()) -> None:
        self.app = app
        self.ctx = ctx
        self.own_limit_routes = own_limit_routes
        self.limiter = FailedAuthLimiter(ctx.db, ctx.limits.failed_auth_max, ctx.limits.failed_auth_window_s)

    def _checks_own_limit(self, method: str, path: str) -> bool:
        """Whether the route the router will pick asks the failed-authentication limit itself."""
        return any(method in methods and regex.match(path) for methods, regex in self.own_limit_routes)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path: str = scope.get("path", "")
        terminal = path.startswith("/v1/terminal/")
        authed = terminal or path.startswith("/v1/admin")
        client = str((scope.get("client") or ("?",))[0])
        nonce = headers.get(auth.H_NONCE.lower(), "")
        nonce = nonce if terminal and len(nonce) == 32 and all(c in "0123456789abcdef" for c in nonce) else ""
        status_seen: list[int] = []
        body_box: list[bytes] = [b""]

        async def before_last_chunk(status: int) -> None:
            # The audit line is written before the answer completes, so whoever reads the log after
            # an answer finds the line there. A failed authentication is counted per client and
            # audited once per burst (server/throttle.py).
            burst = None
            if authed and status == 401 and (scope.get("state") or {}).get("refusal") not in NOT_FAILURES:
                burst = await run_in_threadpool(self.limiter.failed, client, self.ctx.clock())
                if burst is None:
                    return
            if path.startswith("/v1/admin") and (scope["method"] == "GET" or status >= 400):
                extra = {"failed_auth_burst": 1, "previous_window_failures": burst.previous_failures} if burst else {}
                await run_in_threadpool(self._audit, scope, status, body_box[0], extra)

        reply = self._sender(send, nonce, status_seen, before_last_chunk)
        retry_s = None
        if authed and self._checks_own_limit(scope["method"], path):
            # The route asks first thing in its one trip to the thread pool, before it looks at the signature.
            limiter = self.limiter
            scope.setdefault("state", {})[LIMIT_CHECK_KEY] = (
                lambda conn, now_ms: limiter.retry_after_s_in(conn, client, now_ms))
        elif authed:
            retry_s = await run_in_threadpool(self.limiter.retry_after_s, client, self.ctx.clock())
        if retry_s is not None:  # refused before the body is read or any token or signature is looked at
            await too_many_failed_auth(retry_s)(scope, receive, reply)
            return
        try:
            body = await self._read_body(receive, headers)
        except _HungUp:
            # A till whose upload timed out, say: nobody reads an answer, and the part that came is no
            # signed request, so it is neither answered as a bad signature nor counted as a failed one.
            scope.setdefault("state", {})[logs.HUNG_UP_KEY] = True  # the access line says 499, not 500
            return
        if body is None:
            limit = self.ctx.limits.max_body_bytes
            resp = error_response(RequestTooLarge(max_bytes=limit))
            await resp(scope, receive, reply)
            return
        if json_too_deep(body, self.ctx.limits.max_json_depth):
            body_box[0] = b""  # never parsed, not even for the audit line
            resp = error_response(RequestInvalid(detail=f"JSON nested deeper than {self.ctx.limits.max_json_depth}"
                                                        " levels"))
            await resp(scope, receive, reply)
            return
        body_box[0] = body
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the client to go away

        await self.app(scope, replay, reply)

    async def _read_body(self, receive: Callable, headers: dict[str, str]) -> bytes | None:
        """The whole body, or None when it is longer than the limit; _HungUp when the client went away first."""
        limit = self.ctx.limits.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _HungUp()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _sender(self, send: Callable, nonce: str, status_seen: list[int],
                before_last_chunk: Callable) -> Callable:
        start: dict = {}
        parts: list[bytes] = []

        async def reply(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                start.update(message, headers=list(message.get("headers", [])))
                start["server_time"] = self.ctx.clock()
                start["headers"].append((auth.H_SERVER_TIME.encode(), str(start["server_time"]).encode()))
                if not nonce:
                    await send({k: v for k, v in start.items() if k != "server_time"})
                return
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await before_last_chunk(start.get("status", 0))
            if message["type"] != "http.response.body" or not nonce:
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(parts)
            sig = auth.sign_response(self.ctx.key, nonce, start["status"], start["server_time"], body)
            start["headers"].append((auth.H_RESPONSE_SIGNATURE.encode(), sig.encode()))
            await send({k: v for k, v in start.items() if k != "server_time"})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return reply

    def _audit(self, scope: dict, status: int, body: bytes, extra: dict[str, Any]) -> None:
        actor = (scope.get("state") or {}).get("actor")
        request_id = None
        try:
            parsed = json.loads(body) if body else None
            if isinstance(parsed, dict) and isinstance(parsed.get("request_id"), str):
                request_id = parsed["request_id"][:64]
        except (ValueError, RecursionError):
            pass
        query = scope.get("query_string", b"").decode("latin-1")[:200]
        detail = {**({"query": query} if query else {}), **extra}
        try:
            self.ctx.db.write(lambda conn: admin_auth.audit(
                conn, actor=actor, method=scope["method"], path=scope["path"], action=None, request_id=request_id,
                status=status, detail=detail, now=self.ctx.clock()))
        except Exception:  # the answer has started; a lost read-audit line must not break it (logged)
            log.exception("could not write the audit line")
