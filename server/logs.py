"""Structured logs: one JSON object per line on stderr (journald keeps them; `jq` reads them).

Lines the server writes on purpose:
- `request`: one per HTTP request: method, the route *template*
  (`/v1/admin/members/{member_id}`, never the filled-in path: ids of members
  and cards stay out of the log), status, duration_ms, bytes out, and for a
  terminal request the terminal id it claims. No client addresses, tokens,
  bodies or names: the log holds no personal data. Health checks and
  metrics scrapes are logged at DEBUG (they come every few seconds).
- `upload`: one per upload batch: terminal id, records, accepted,
  duplicates, waiting, acked_seq, the terminal's reported head, duration_ms,
  and the refusal code when it was refused.
Everything else (uvicorn's start/stop, errors with their traceback) goes
through the same formatter. `--log-format text` gives classic lines.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from typing import Any, Callable, Final

log = logging.getLogger("floreyn.server.access")
QUIET_PATHS: Final = frozenset({"/v1/health", "/metrics"})
HUNG_UP_KEY: Final = "hung_up"  # in the request's scope state: the client went away before its body came (app.py)
CLIENT_HUNG_UP: Final = 499  # the access line's status then (nginx's "client closed request"); nothing was sent
MAX_FIELD_CHARS: Final = 200
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():  # fields given as extra={...}
            if key not in _STANDARD and not key.startswith("_"):
                plain = isinstance(value, (int, float, bool)) or value is None
                out[key] = value if plain else str(value)[:MAX_FIELD_CHARS]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def handler(fmt: str) -> logging.Handler:
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(JsonFormatter() if fmt == "json" else
                   logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return h


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """Root logging to stderr in `fmt` ("json" or "text"); uvicorn's loggers go through it too."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler(fmt))
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True


def uvicorn_log_config(fmt: str) -> dict[str, object]:
    """For uvicorn.run(log_config=...): uvicorn's own lines through our formatter, in every worker process."""
    formatter = {"()": "floreyn.server.logs.JsonFormatter"} if fmt == "json" else {
        "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {"uvicorn": {"level": "INFO"}, "uvicorn.access": {"level": "WARNING"},
                    "alembic": {"level": "WARNING"}},
    }


class AccessLog:
    """ASGI middleware: the `request` line (see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, int] = {"status": 0, "bytes": 0}

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self._line(scope, seen, started)

    @staticmethod
    def _line(scope: dict, seen: dict[str, int], started: float) -> None:
        path: str = scope.get("path", "")
        route = getattr(scope.get("route"), "path", None) or "(no route)"
        # Nothing sent: the app failed, or (499, as nginx logs it) the client hung up before its body came.
        status = seen["status"] or (CLIENT_HUNG_UP if (scope.get("state") or {}).get(HUNG_UP_KEY) else 500)
        fields: dict[str, object] = {"event": "request", "method": scope.get("method", ""), "route": route,
                                     "status": status,
                                     "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                                     "bytes_out": seen["bytes"]}
        if path.startswith("/v1/terminal/"):
            for k, v in scope.get("headers", []):
                if k == b"x-floreyn-terminal":
                    fields["terminal_id"] = v.decode("latin-1")[:64]
                    break
        level = logging.DEBUG if path in QUIET_PATHS and status < 400 else logging.INFO
        log.log(level, "%s %s %s", fields["method"], route, status, extra=fields)


def upload_line(terminal_id: str, records: int, started: float, *, result: dict[str, int] | None = None,
                reported_head: int | None = None, error: str | None = None) -> None:
    fields: dict[str, object] = {"event": "upload", "terminal_id": terminal_id, "records": records,
                                 "reported_head": reported_head,
                                 "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    if result is not None:
        fields.update(result)
    if error is not None:
        fields["error"] = error
    logging.getLogger("floreyn.server.ingest").log(logging.WARNING if error else logging.INFO,
                                                   "upload %s: %s", terminal_id, error or "ok", extra=fields)
