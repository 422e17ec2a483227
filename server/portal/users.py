"""Portal users, one-time activation codes, passwords, sessions and CSRF tokens.

A user is one role over one subject: a member (subject = member id), a
merchant or self-employed person (merchant id), a funder (funder id), or the
treasurer's roles admin and auditor (no subject). The desk makes a user with
an activation code (printed on the welcome slip, or handed over with a
`floreyn-provision portal invite`); the person signs in once with the code
and chooses a password, stored as argon2id.

Sessions live in the database: the cookie holds a random token, the table its
SHA-256, so a copy of the database signs nobody in. Each session has its own
CSRF token. Sign-in failures count per user: LOCKOUT_FAILURES in a row lock
the user for LOCKOUT_S, whatever password comes next; a success resets the
count. Each sign-in, sign-out and lock is written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, or_, select, update

from floreyn.server import admin_auth
from floreyn.server import schema as s
from floreyn.server.errors import NotFound, RequestInvalid, ServerError
from floreyn.server.rows import TableRow

ROLES: Final = ("member", "merchant", "funder", "admin", "auditor")
LOCKOUT_FAILURES: Final = 5  # wrong passwords in a row before the user is locked
LOCKOUT_S: Final = 15 * 60  # how long a lock holds; the desk can issue a new code meanwhile
SESSION_IDLE_S: Final = 2 * 3600  # a session unused this long has ended
SESSION_MAX_S: Final = 12 * 3600  # and none lives longer
TOUCH_EVERY_S: Final = 60  # last_seen is written at most this often (a page view is then a pure read)
ACTIVATION_TTL_S: Final = 60 * 86400  # a welcome slip's code works for 60 days
CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper by older eyes
CODE_GROUPS: Final = 3  # XXXX-XXXX-XXXX: 60 bits
MIN_PASSWORD_CHARS: Final = 10
MAX_PASSWORD_CHARS: Final = 200
MAX_SESSIONS_LISTED: Final = 50

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile


class SigninRefused(ServerError):
    status = 401
    code = "signin_refused"
    msgid = "Sign-in failed: check your member number or e-mail address and your password."


class SigninLocked(ServerError):
    status = 429
    code = "signin_locked"
    msgid = "Too many wrong passwords. Try again in {minutes} minutes, or ask the desk for help."


class ActivationRefused(ServerError):
    status = 401
    code = "activation_refused"
    msgid = "This activation code is wrong or has expired. The desk can give you a new one."


class PasswordWeak(ServerError):
    status = 422
    code = "password_weak"
    msgid = "Choose a password of at least {min} characters, the same both times."


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    role: str
    subject_id: str | None
    login: str


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    session_hash: str
    csrf: str
    created_ms: int
    last_seen_ms: int
    reconfirmed_ms: int


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(4 * CODE_GROUPS))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _user(row: TableRow) -> User:
    return User(user_id=row.user_id, role=row.role, subject_id=row.subject_id, login=row.login)


# -- the desk's side ---------------------------------------------------------------------------


def issue_code(conn: Connection, *, role: str, subject_id: str | None, login: str | None, email: str | None,
               now: int) -> dict[str, Any]:
    """Make (or re-arm) a user and give it a new one-time code; the code is answered once, stored hashed."""
    if role not in ROLES:
        raise RequestInvalid(detail=f"role must be one of {', '.join(ROLES)}")
    if role in ("member", "merchant", "funder") and not subject_id:
        raise RequestInvalid(detail=f"a {role} user needs the {role}'s id")
    _check_subject(conn, role, subject_id)
    if role == "member" and email is None:
        email = conn.execute(select(s.members.c.email).where(s.members.c.member_id == subject_id)).scalar()
    login = (login or (subject_id if role == "member" else email) or "").strip().lower()
    if not login:
        raise RequestInvalid(detail="give the e-mail address the user signs in with")
    email = email.strip().lower() if email else None
    code = new_code()
    prior = conn.execute(select(s.portal_users).where(
        (s.portal_users.c.login == login) | ((s.portal_users.c.role == role) & (s.portal_users.c.subject_id
                                                                                 == subject_id)))).first()
    values = {"activation_hash": _sha(normalise_code(code)), "activation_expires_ms": now + ACTIVATION_TTL_S * 1000,
              "failed_signins": 0, "locked_until_ms": None}
    if prior is not None:
        if prior.role != role or prior.subject_id != subject_id:
            raise RequestInvalid(detail=f"the login {login} belongs to another user")
        conn.execute(update(s.portal_users).where(s.portal_users.c.user_id == prior.user_id).values(**values))
        user_id = prior.user_id
    else:
        user_id = "u-" + secrets.token_hex(8)
        conn.execute(s.portal_users.insert().values(user_id=user_id, role=role, subject_id=subject_id, login=login,
                                                    email=email, created_ms=now, **values))
    return {"user_id": user_id, "role": role, "subject_id": subject_id, "login": login, "activation_code": code,
            "expires_ms": values["activation_expires_ms"]}


def _check_subject(conn: Connection, role: str, subject_id: str | None) -> None:
    table = {"member": (s.members, "member_id"), "merchant": (s.merchants, "merchant_id"),
             "funder": (s.funders, "funder_id")}.get(role)
    if table is None:
        return
    t, col = table
    if conn.execute(select(t.c[col]).where(t.c[col] == subject_id)).first() is None:
        raise NotFound(what=role, id=subject_id)


# -- signing in --------------------------------------------------------------------------------


def _find(conn: Connection, login: str) -> Any:
    """The user a typed login names: a login (member number, e-mail) or a member's e-mail, if only one."""
    text = login.strip().lower()[:200]
    rows = conn.execute(select(s.portal_users).where(
        or_(s.portal_users.c.login == text, s.portal_users.c.email == text)).limit(3)).all()
    exact = [r for r in rows if r.login == text]
    if exact:
        return exact[0]
    return rows[0] if len(rows) == 1 else None  # an e-mail shared by two members names neither


def check_password_choice(password: str, repeat: str) -> None:
    if password != repeat or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise PasswordWeak(min=MIN_PASSWORD_CHARS)


def activate(conn: Connection, *, login: str, code: str, password: str, repeat: str, now: int) -> User:
    """The code once, then a password of the person's own choosing; a wrong code counts as a failure."""
    row = _find(conn, login)
    _refuse_if_locked(row, now)
    ok = (row is not None and row.activation_hash is not None and (row.activation_expires_ms or 0) >= now
          and hmac.compare_digest(row.activation_hash, _sha(normalise_code(code))))
    if not ok:
        _fail(conn, row, now)
        raise ActivationRefused()
    check_password_choice(password, repeat)
    conn.execute(update(s.portal_users).where(s.portal_users.c.user_id == row.user_id).values(
        password_hash=_hasher.hash(password), activation_hash=None, activation_expires_ms=None, failed_signins=0,
        locked_until_ms=None))
    return _user(row)


def _refuse_if_locked(row: TableRow, now: int) -> None:
    if row is not None and row.locked_until_ms and row.locked_until_ms > now:
        raise SigninLocked(minutes=max(1, -(-(row.locked_until_ms - now) // 60_000)))


def _fail(conn: Connection, row: TableRow, now: int) -> None:
    if row is None:
        return
    failures = row.failed_signins + 1
    locked = now + LOCKOUT_S * 1000 if failures >= LOCKOUT_FAILURES else None
    conn.execute(update(s.portal_users).where(s.portal_users.c.user_id == row.user_id).values(
        failed_signins=0 if locked else failures, locked_until_ms=locked))
    if locked:
        audit(conn, _user(row), "portal.locked", "/portal/signin", now, status=429, failures=failures)


def verify(conn: Connection, *, login: str, password: str, now: int) -> User:
    """The user, or SigninRefused / SigninLocked. The failure is counted in the caller's transaction."""
    row = _find(conn, login)
    _refuse_if_locked(row, now)
    try:
        ok = row is not None and row.password_hash is not None and _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if row is None:  # spend the same time as a real check, so timing does not tell who exists
            _hasher.hash(password or "x")
        _fail(conn, row, now)
        if row is not None and (row.failed_signins + 1) >= LOCKOUT_FAILURES:
            raise SigninLocked(minutes=LOCKOUT_S // 60)
        raise SigninRefused()
    if row.failed_signins:
        conn.execute(update(s.portal_users).where(s.portal_users.c.user_id == row.user_id)
                     .values(failed_signins=0))
    return _user(row)


def reconfirm(conn: Connection, session: Session, password: str, now: int) -> bool:
    row = conn.execute(select(s.portal_users.c.password_hash).where(
        s.portal_users.c.user_id == session.user.user_id)).first()
    try:
        ok = row is not None and row.password_hash is not None and _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok:
        conn.execute(update(s.portal_sessions).where(s.portal_sessions.c.session_hash == session.session_hash)
                     .values(reconfirmed_ms=now))
    return ok


# -- sessions ----------------------------------------------------------------------------------


def start_session(conn: Connection, user: User, user_agent: str, now: int) -> str:
    """A new session; returns the cookie's token (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    conn.execute(s.portal_sessions.insert().values(
        session_hash=_sha(token), user_id=user.user_id, csrf=secrets.token_urlsafe(24), created_ms=now,
        last_seen_ms=now, reconfirmed_ms=now, user_agent=user_agent[:200]))
    return token


def load_session(conn: Connection, token: str | None, now: int) -> Session | None:
    if not token or len(token) > 100:
        return None
    row = conn.execute(select(s.portal_sessions, s.portal_users.c.role, s.portal_users.c.subject_id,
                              s.portal_users.c.login)
                       .join(s.portal_users, s.portal_users.c.user_id == s.portal_sessions.c.user_id)
                       .where(s.portal_sessions.c.session_hash == _sha(token))).first()
    if row is None or row.ended_ms is not None:
        return None
    if now - row.last_seen_ms > SESSION_IDLE_S * 1000 or now - row.created_ms > SESSION_MAX_S * 1000:
        return None
    user = User(user_id=row.user_id, role=row.role, subject_id=row.subject_id, login=row.login)
    return Session(user=user, session_hash=row.session_hash, csrf=row.csrf, created_ms=row.created_ms,
                   last_seen_ms=row.last_seen_ms, reconfirmed_ms=row.reconfirmed_ms)


def needs_touch(session: Session, now: int) -> bool:
    return now - session.last_seen_ms > TOUCH_EVERY_S * 1000


def touch(conn: Connection, session: Session, now: int) -> None:
    conn.execute(update(s.portal_sessions).where(s.portal_sessions.c.session_hash == session.session_hash)
                 .values(last_seen_ms=now))


def end_session(conn: Connection, session_hash: str, user_id: str, now: int) -> None:
    conn.execute(update(s.portal_sessions).where(s.portal_sessions.c.session_hash == session_hash,
                                                 s.portal_sessions.c.user_id == user_id,
                                                 s.portal_sessions.c.ended_ms.is_(None)).values(ended_ms=now))


def end_all_sessions(conn: Connection, user_id: str, now: int) -> int:
    return conn.execute(update(s.portal_sessions).where(s.portal_sessions.c.user_id == user_id,
                                                        s.portal_sessions.c.ended_ms.is_(None))
                        .values(ended_ms=now)).rowcount


def list_sessions(conn: Connection, user_id: str, now: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(s.portal_sessions).where(
        s.portal_sessions.c.user_id == user_id, s.portal_sessions.c.ended_ms.is_(None),
        s.portal_sessions.c.last_seen_ms > now - SESSION_IDLE_S * 1000,
        s.portal_sessions.c.created_ms > now - SESSION_MAX_S * 1000)
        .order_by(s.portal_sessions.c.last_seen_ms.desc()).limit(MAX_SESSIONS_LISTED))
    return [{"id": r.session_hash[:12], "hash": r.session_hash, "created_ms": r.created_ms,
             "last_seen_ms": r.last_seen_ms, "user_agent": r.user_agent} for r in rows]


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def audit(conn: Connection, user: User | None, action: str, path: str, now: int, *, status: int = 200,
          request_id: str | None = None, **detail: object) -> None:
    """A line in the same audit log as the admin API's: actor = portal user id, role = portal role."""
    admin_auth.audit(conn, actor=(user.user_id, f"portal:{user.role}"[:16]) if user else None, method="POST",
                     path=path, action=action, request_id=request_id, status=status, detail=detail, now=now)
