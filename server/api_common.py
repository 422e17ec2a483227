"""Shared plumbing of the admin endpoints: token check, idempotent writes, reads."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Callable, Final, Iterator

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from floreyn.server import admin_auth
from floreyn.server.app import ServerContext
from floreyn.server.errors import Conflict

Actor = tuple[str, str]
MAX_ROW_ID: Final = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite: a larger `after` is refused (422)
# Rows one admin list page holds: a larger `limit` is refused (422), a longer list is
# read page by page with `after`.
MAX_ADMIN_PAGE: Final = 1000
AfterId = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Page after this row id")]


def ctx_of(request: Request) -> ServerContext:
    return request.app.state.ctx


_bearer = HTTPBearer(auto_error=False, description="Admin token (floreyn-server token create, or the bootstrap "
                                                     "token in the data folder); roles admin, clerk, auditor.")


def require(allowed: frozenset[str]) -> Callable[..., Actor]:
    """A dependency: the caller's (token name, role), refused unless the role is allowed."""

    def check(request: Request, _: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Actor:
        ctx = ctx_of(request)
        actor = ctx.db.read(lambda conn: admin_auth.check_token(conn, request.headers.get("authorization"), allowed))
        request.state.actor = actor
        return actor

    return check


def write(request: Request, actor: Actor, action: str, body: BaseModel, run: Callable[[Connection, int], dict],
          *, path_params: dict[str, Any] | None = None, secret: tuple[str, ...] = ()) -> dict[str, object]:
    """One admin write: idempotent by request_id, audited, all in one transaction.

    Two concurrent first attempts with one request id (or one natural key)
    collide on a unique key; the loser's transaction rolls back whole and is
    run once more, when it finds the winner's row and answers "exists".
    """
    ctx = ctx_of(request)
    params = {**body.model_dump(exclude={"request_id"}), **(path_params or {})}
    request_id: str = body.request_id  # type: ignore[attr-defined]  # every Write body has one (models.Write)

    def tx(conn: Connection) -> dict[str, object]:
        now = ctx.clock()
        return admin_auth.idempotent(conn, request_id=request_id, action=action, params=params, actor=actor,
                                     path=request.url.path, method=request.method, secret=secret,
                                     run=lambda: run(conn, now))

    for attempt in range(2):
        try:
            return ctx.db.write(tx)
        except IntegrityError:
            if attempt == 1:
                raise Conflict(detail="a concurrent request changed the same thing; retry") from None
    raise AssertionError("unreachable")


def read(request: Request, fn: Callable[[Connection], Any]) -> Any:
    return ctx_of(request).db.read(fn)


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that closes its generator when the response ends, also when the client hangs up.

    Starlette stops iterating when the client disconnects but leaves the generator to the garbage
    collector, which can take minutes; a generator holding a database connection and a read
    transaction (server/export.py) would keep both that long. Closing it runs its `finally` and
    `with` blocks at once. anyio does not abandon a worker thread on cancellation, so the generator is
    never running in a thread when this closes it.
    """

    def __init__(self, content: Iterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._source = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - the answer is over either way; the error is worth a log line
                    logging.getLogger("floreyn.server").exception("could not close a streamed answer")
