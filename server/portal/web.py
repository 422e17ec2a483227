"""The portal's web plumbing: templates, languages, cookies, the signed-in session, CSRF, rate limits.

Pages are rendered on the server with Jinja2 (autoescaping on for every
template), so they work without JavaScript; static/portal.js only adds live
updates. Texts are English msgids translated through the gettext catalogs in
locale/ (Dutch by default, English by choice: the `lang` cookie).

Cookies are HttpOnly, Secure and SameSite=Lax. A Secure cookie travels over
https, and over http only to a "potentially trustworthy" host: Chromium counts
http://localhost and http://127.0.0.1 as such, so the tests' loopback server
works with the same flags as production behind TLS.
"""

from __future__ import annotations

import datetime as dt
import gettext
import hashlib
import hmac
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from floreyn.money import Money, format_money
from floreyn.server import state, throttle
from floreyn.server.app import ServerContext
from floreyn.server.db import Database
from floreyn.server.portal import users

HERE: Final = Path(__file__).resolve().parent
LOCALE_DIR: Final = HERE / "locale"
DOMAIN: Final = "portal"
LANGUAGES: Final = ("nl", "en")
PREFIX: Final = "/portal"
SESSION_COOKIE: Final = "floreyn_session"
PRE_COOKIE: Final = "floreyn_pre"  # binds the CSRF token of the sign-in forms before there is a session
LANG_COOKIE: Final = "floreyn_lang"
SIGNIN_WINDOW_S: Final = 5 * 60


class Page:
    """What a route hands to `render`: the request's context."""

    def __init__(self, request: Request, session: users.Session | None) -> None:
        self.request = request
        self.session = session
        self.lang = lang_of(request)

    @property
    def ctx(self) -> ServerContext:
        return request_ctx(self.request)

    @property
    def now(self) -> int:
        return self.ctx.clock()


def request_ctx(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "nl")
    return lang if lang in LANGUAGES else "nl"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> gettext.NullTranslations:
    mo = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.exists():  # a missing catalog is caught by the catalog check; English msgids still read
        return gettext.NullTranslations()
    with mo.open("rb") as f:
        return gettext.GNUTranslations(f)


def _(lang: str, msgid: str, **fields: Any) -> str:
    text = translations(lang).gettext(msgid)
    return text.format(**fields) if fields else text


def money(cents: int, lang: str = "nl") -> str:
    return format_money(Money.fl(int(cents)), lang)


def day_text(ms: int, lang: str = "nl") -> str:
    d = state.local_date(ms)
    return d.strftime("%d-%m-%Y") if lang == "nl" else d.isoformat()


def day_month_text(ms: int, lang: str = "nl") -> str:
    """A day inside a month the page already names: "06-12" / "12-06"."""
    d = state.local_date(ms)
    return d.strftime("%d-%m") if lang == "nl" else d.strftime("%m-%d")


def time_text(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, state.TZ).strftime("%H:%M")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["day"] = day_text
    env.filters["clock"] = time_text
    env.filters["daymonth"] = day_month_text
    return env


def render(page: Page, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    lang = page.lang
    session = page.session
    html = environment().get_template(template).render(
        _=lambda msgid, **f: _(lang, msgid, **f), money=lambda c: money(c, lang),
        eur=lambda c: format_money(Money.eur(int(c)), lang), lang=lang, prefix=PREFIX,
        session=session, user=session.user if session else None,
        csrf=session.csrf if session else anon_csrf(page.request), path=page.request.url.path, **values)
    resp = HTMLResponse(html, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    if session is None and PRE_COOKIE not in page.request.cookies:
        set_cookie(resp, PRE_COOKIE, page.request.state.pre_token, max_age_s=None)
    return resp


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def set_cookie(resp: Response, name: str, value: str, *, max_age_s: int | None) -> None:
    resp.set_cookie(name, value, max_age=max_age_s, path=PREFIX, secure=True, httponly=True, samesite="lax")


def clear_cookie(resp: Response, name: str) -> None:
    resp.delete_cookie(name, path=PREFIX, secure=True, httponly=True, samesite="lax")


# -- CSRF before sign-in: a token bound to the pre-session cookie by the server key -------------


def _csrf_secret(ctx: ServerContext) -> bytes:
    return hashlib.sha256(b"floreyn/portal/csrf\0" + ctx.key.private_bytes_raw()).digest()


def anon_csrf(request: Request) -> str:
    pre = request.cookies.get(PRE_COOKIE)
    if not pre or len(pre) > 100:
        pre = getattr(request.state, "pre_token", None) or secrets.token_urlsafe(24)
        request.state.pre_token = pre
    return hmac.new(_csrf_secret(request_ctx(request)), pre.encode(), "sha256").hexdigest()


def anon_csrf_ok(request: Request, given: str | None) -> bool:
    pre = request.cookies.get(PRE_COOKIE)
    if not pre or not given:
        return False
    expected = hmac.new(_csrf_secret(request_ctx(request)), pre.encode(), "sha256").hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode())


# -- rate limit on sign-in posts per client address ---------------------------------------------


class RateLimiter:
    """At most `limit` events per address per window, counted in the database (server/throttle.py), so every
    server process sees the same counts; the per-user lock-out is in the database too (portal/users.py)."""

    def __init__(self, db: Database, limit: int, window_s: float = SIGNIN_WINDOW_S) -> None:
        self.db = db
        self.limit = limit
        self.window_ms = int(window_s * 1000)

    def allow(self, address: str, now_ms: int) -> bool:
        """Count one event of `address`; False when it is over the limit in its window."""
        counted = self.db.write(lambda conn: throttle.count_event(conn, throttle.PORTAL_SIGNIN, address, now_ms,
                                                                  self.window_ms))
        return counted.events <= self.limit


def limiter(request: Request) -> RateLimiter:
    """The app's one limiter (config Limits.portal_signins_per_window), made on first use."""
    found: RateLimiter | None = getattr(request.app.state, "portal_limiter", None)
    if found is None:
        ctx = request_ctx(request)
        found = RateLimiter(ctx.db, ctx.limits.portal_signins_per_window)
        request.app.state.portal_limiter = found
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def N_(msgid: str) -> str:  # noqa: N802 - the gettext convention: marks a msgid chosen at run time
    return msgid


# Words a template shows through _(value): transaction kinds and statuses (extracted by catalogs.py).
RUNTIME_WORDS: Final = (
    N_("spend"), N_("save"), N_("topup"), N_("cashout"), N_("refund"), N_("void"), N_("reversal"), N_("grant"),
    N_("expiry"), N_("claim"), N_("payment"), N_("remit"), N_("active"), N_("blocked"), N_("replaced"),
    N_("open"), N_("paid"), N_("expired"), N_("cancelled"),
)
