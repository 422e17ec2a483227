"""Who is asking: the session behind the cookie, the roles a page allows, and the CSRF check of a form."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from fastapi import Request

from floreyn.errors import FloreynError
from floreyn.server.portal import users, web

HOME_OF_ROLE: Final = {"member": "/me", "merchant": "/shop", "funder": "/funder", "admin": "/treasurer",
                       "auditor": "/treasurer"}
PAYERS: Final = frozenset({"member", "merchant"})


class Redirect(Exception):
    """A page that cannot be shown to this visitor sends them elsewhere (303)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class CsrfRefused(FloreynError):
    code = "csrf_refused"
    msgid = "This form has expired or did not come from this site. Open the page again and retry."


class RoleRefused(FloreynError):
    code = "portal_forbidden"
    msgid = "This page is not for your account."


def session_of(request: Request) -> users.Session | None:
    """The live session of the cookie, or None; a view older than TOUCH_EVERY_S updates last_seen."""
    if hasattr(request.state, "portal_session"):
        cached: users.Session | None = request.state.portal_session
        return cached
    ctx = web.request_ctx(request)
    now = ctx.clock()
    token = request.cookies.get(web.SESSION_COOKIE)
    session = ctx.db.read(lambda conn: users.load_session(conn, token, now)) if token else None
    if session is not None and users.needs_touch(session, now):
        ctx.db.write(lambda conn: users.touch(conn, session, now))
    request.state.portal_session = session
    return session


def page(request: Request, roles: frozenset[str] | None = None) -> web.Page:
    """The page context of a signed-in user with one of `roles`; else off to sign in (or refused)."""
    session = session_of(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Redirect(f"{web.PREFIX}/signin?next={quote(target, safe='')}")
    if roles is not None and session.user.role not in roles:
        raise RoleRefused()
    return web.Page(request, session)


def anonymous(request: Request) -> web.Page:
    return web.Page(request, session_of(request))


def check_csrf(p: web.Page, given: str) -> None:
    ok = users.csrf_ok(p.session.csrf, given) if p.session else web.anon_csrf_ok(p.request, given)
    if not ok:
        raise CsrfRefused()


def safe_next(target: str | None) -> str | None:
    """Only a path inside the portal: never an address elsewhere."""
    if target and target.startswith(web.PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def home(user: users.User) -> str:
    return web.PREFIX + HOME_OF_ROLE.get(user.role, "/me")
