"""Sign-in, activation with the welcome slip's code, sign-out, the session list, the language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from floreyn.errors import FloreynError
from floreyn.server.errors import ServerError
from floreyn.server.portal import users, web
from floreyn.server.portal.guard import anonymous, check_csrf, home, page, safe_next, session_of

router = APIRouter()
Field = Annotated[str, Form(max_length=300)]


class TooManyAttempts(ServerError):
    status = 429
    code = "too_many_attempts"
    msgid = "Too many attempts from this address. Wait a few minutes and try again."


@router.get("/")
@router.get("")
def root(request: Request) -> Response:
    session = session_of(request)
    return web.redirect(home(session.user) if session else f"{web.PREFIX}/signin")


def _password_post(request: Request, csrf: str) -> web.Page:
    """A form that checks a password or a code without a session: its CSRF token, then the per-address limit."""
    p = web.Page(request, None)
    check_csrf(p, csrf)
    if not web.limiter(request).allow(web.client_address(request), web.request_ctx(request).clock()):
        raise TooManyAttempts()
    return p


@router.get("/signin")
def signin_form(request: Request, next: str = "") -> Response:
    p = anonymous(request)
    if p.session is not None:
        return web.redirect(safe_next(next) or home(p.session.user))
    return web.render(p, "signin.html", next=safe_next(next) or "", error=None, login="")


@router.post("/signin")
def signin(request: Request, login: Field = "", password: Field = "", csrf: Field = "", next: Field = "") -> Response:
    p = _password_post(request, csrf)
    now = p.now

    def run(conn: Connection) -> Any:
        try:
            user = users.verify(conn, login=login, password=password, now=now)
        except FloreynError as exc:
            users.audit(conn, None, "portal.signin_failed", request.url.path, now, status=401,
                        login=login.strip().lower()[:80], reason=exc.code)
            return exc
        token = users.start_session(conn, user, request.headers.get("user-agent", ""), now)
        users.audit(conn, user, "portal.signin", request.url.path, now)
        return user, token

    out = p.ctx.db.write(run)  # the failure is counted and audited even though the answer is a refusal
    if isinstance(out, FloreynError):
        return web.render(p, "signin.html", status=401 if out.code == "signin_refused" else 429,
                          next=safe_next(next) or "", error=out.message(p.lang), login=login)
    user, token = out
    resp = web.redirect(safe_next(next) or home(user))
    web.set_cookie(resp, web.SESSION_COOKIE, token, max_age_s=users.SESSION_MAX_S)
    return resp


@router.get("/activate")
def activate_form(request: Request, login: str = "") -> Response:
    return web.render(anonymous(request), "activate.html", error=None, login=login[:200])


@router.post("/activate")
def activate(request: Request, login: Field = "", code: Field = "", password: Field = "", repeat: Field = "",
             csrf: Field = "") -> Response:
    p = _password_post(request, csrf)
    now = p.now

    def run(conn: Connection) -> Any:
        try:
            user = users.activate(conn, login=login, code=code, password=password, repeat=repeat, now=now)
        except FloreynError as exc:
            users.audit(conn, None, "portal.activate_failed", request.url.path, now, status=401,
                        login=login.strip().lower()[:80], reason=exc.code)
            return exc
        token = users.start_session(conn, user, request.headers.get("user-agent", ""), now)
        users.audit(conn, user, "portal.activate", request.url.path, now)
        return user, token

    out = p.ctx.db.write(run)
    if isinstance(out, FloreynError):
        return web.render(p, "activate.html", status=422 if out.code == "password_weak" else 401,
                          error=out.message(p.lang), login=login)
    user, token = out
    resp = web.redirect(home(user))
    web.set_cookie(resp, web.SESSION_COOKIE, token, max_age_s=users.SESSION_MAX_S)
    return resp


@router.post("/signout")
def signout(request: Request, csrf: Field = "") -> Response:
    p = page(request)
    check_csrf(p, csrf)
    assert p.session is not None
    session = p.session

    def run(conn: Connection) -> Any:
        users.end_session(conn, session.session_hash, session.user.user_id, p.now)
        users.audit(conn, session.user, "portal.signout", request.url.path, p.now)

    p.ctx.db.write(run)
    resp = web.redirect(f"{web.PREFIX}/signin")
    web.clear_cookie(resp, web.SESSION_COOKIE)
    return resp


@router.get("/sessions")
def sessions(request: Request) -> Response:
    p = page(request)
    assert p.session is not None
    user_id = p.session.user.user_id
    rows = p.ctx.db.read(lambda conn: users.list_sessions(conn, user_id, p.now))
    return web.render(p, "sessions.html", sessions=rows, current=p.session.session_hash)


@router.post("/sessions/end")
def end_sessions(request: Request, csrf: Field = "", which: Field = "all") -> Response:
    p = page(request)
    check_csrf(p, csrf)
    assert p.session is not None
    session = p.session

    def run(conn: Connection) -> Any:
        if which == "all":
            n = users.end_all_sessions(conn, session.user.user_id, p.now)
        else:
            n = 0
            for row in users.list_sessions(conn, session.user.user_id, p.now):
                if row["id"] == which:
                    users.end_session(conn, row["hash"], session.user.user_id, p.now)
                    n = 1
        users.audit(conn, session.user, "portal.signout_sessions", request.url.path, p.now, which=which[:20],
                    ended=n)

    p.ctx.db.write(run)
    return web.redirect(f"{web.PREFIX}/sessions" if which != "all" else f"{web.PREFIX}/signin")


@router.get("/lang/{lang}")
def set_language(request: Request, lang: str, next: str = "") -> Response:
    resp = web.redirect(safe_next(next) or f"{web.PREFIX}/")
    if lang in web.LANGUAGES:
        web.set_cookie(resp, web.LANG_COOKIE, lang, max_age_s=365 * 86400)
    return resp
