"""The smallest HTTP answer uvicorn can give: a constant JSON body from a bare ASGI app, no framework.

bench/server_balance.py serves it with uvicorn as floreyn-server runs it (one worker, uvicorn's default HTTP
parser and event loop, no access log) and times a GET of it beside every card summary under the same load:
what any answer over loopback costs on this machine then, with no middleware, router, thread pool, signature
or database in it. The floor beneath GET /v1/health.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

BODY = b'{"ok":true}'
_START = {"type": "http.response.start", "status": 200,
          "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]}


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start or stop
        return
    await send(_START)
    await send({"type": "http.response.body", "body": BODY})
