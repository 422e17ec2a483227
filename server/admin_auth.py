"""Admin tokens with roles, the audit log and idempotent admin writes.

Roles: `admin` (everything), `clerk` (the desk: members, cards, top-up,
cash-out, remit; and all reads), `auditor` (reads only). A token is shown
once; the server keeps its SHA-256.

Every admin write carries a client-made `request_id`. The first time it
runs and answers `"result": "created"`; the same id with the same
parameters answers the stored response with `"result": "exists"`; the same id
with other parameters is refused (409 `exists_with_different_params`). The
stored response and the audit line are written in the same transaction as
the change itself.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Callable, Final, Mapping

from sqlalchemy import Connection, select, update

from floreyn.server import schema as s
from floreyn.server import state
from floreyn.server.errors import AdminForbidden, AdminUnauthorized, Conflict, ExistsWithDifferentParams

ROLES: Final = ("admin", "clerk", "auditor")
READ: Final = frozenset(ROLES)
DESK: Final = frozenset({"admin", "clerk"})
ADMIN: Final = frozenset({"admin"})
# Personal data never enters the append-only audit log; the alias neither: a GDPR erasure could not take it
# out again (the table refuses UPDATE).
PERSONAL_FIELDS: Final = frozenset({"name", "email", "phone", "address", "alias"})
MAX_TOKEN_LEN: Final = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, name: str, role: str, now: int) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if conn.execute(select(s.admin_tokens.c.name).where(s.admin_tokens.c.name == name)).first():
        raise Conflict(detail=f"a token named {name} exists")
    token = "fla_" + secrets.token_urlsafe(32)
    conn.execute(s.admin_tokens.insert().values(token_hash=_hash(token), name=name, role=role, created_ms=now))
    return token


def revoke_token(conn: Connection, name: str, now: int) -> bool:
    result = conn.execute(update(s.admin_tokens).where(s.admin_tokens.c.name == name,
                                                       s.admin_tokens.c.revoked_ms.is_(None))
                          .values(revoked_ms=now))
    return result.rowcount > 0


def has_tokens(conn: Connection) -> bool:
    return conn.execute(select(s.admin_tokens.c.name).limit(1)).first() is not None


def check_token(conn: Connection, authorization: str | None, allowed: frozenset[str]) -> tuple[str, str]:
    """(name, role) of a live token allowed here; typed refusal otherwise."""
    if not authorization or not authorization.startswith("Bearer ") or len(authorization) > MAX_TOKEN_LEN:
        raise AdminUnauthorized()
    row = conn.execute(select(s.admin_tokens).where(
        s.admin_tokens.c.token_hash == _hash(authorization[len("Bearer "):].strip()))).first()
    if row is None or row.revoked_ms is not None:
        raise AdminUnauthorized()
    if row.role not in allowed:
        raise AdminForbidden(role=row.role)
    return row.name, row.role


def redact(params: Mapping[str, object]) -> dict[str, object]:
    """Parameters as the audit log keeps them: personal data never enters the append-only log."""
    return {k: ("<redacted>" if k in PERSONAL_FIELDS and v is not None else v) for k, v in params.items()}


def audit(conn: Connection, *, actor: tuple[str, str] | None, method: str, path: str, action: str | None,
          request_id: str | None, status: int, detail: Mapping[str, object], now: int) -> None:
    conn.execute(s.audit_log.insert().values(
        at_ms=now, actor=actor[0] if actor else None, role=actor[1] if actor else None, method=method,
        path=path[:300], action=action, request_id=request_id, status=status,
        detail=json.dumps(redact(detail), sort_keys=True, default=str)[:4000]))


def params_hash(action: str, params: Mapping[str, object]) -> str:
    text = json.dumps({"action": action, "params": params}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent(conn: Connection, *, request_id: str, action: str, params: Mapping[str, object],
               actor: tuple[str, str], path: str, run: Callable[[], dict[str, object]], method: str = "POST",
               secret: tuple[str, ...] = ()) -> dict[str, object]:
    """Run an admin write once per request id (see the module docstring).

    Keys named in `secret` (a new token) are answered once and never stored.
    """
    phash = params_hash(action, params)
    prior = conn.execute(select(s.admin_requests).where(s.admin_requests.c.request_id == request_id)).first()
    if prior is not None:
        if prior.action != action or prior.params_hash != phash:
            raise ExistsWithDifferentParams(what="request", id=request_id)
        return {**json.loads(prior.response), "result": "exists"}
    now = state.now_ms()
    response = run()
    kept = {k: v for k, v in response.items() if k not in secret}
    conn.execute(s.admin_requests.insert().values(request_id=request_id, action=action, params_hash=phash,
                                                  response=json.dumps(kept, default=str), created_ms=now))
    audit(conn, actor=actor, method=method, path=path, action=action, request_id=request_id, status=200,
          detail=params, now=now)
    return {**response, "result": response.get("result", "created")}
