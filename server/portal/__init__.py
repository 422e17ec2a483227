"""The Floreyn portal: members, shops, self-employed, funders and the treasurer on their own phone.

One more router in the server's FastAPI app (no second server): pages under
/portal rendered on the server (Jinja2, autoescaped), working without
JavaScript, Dutch by default with English (gettext catalogs in locale/),
vendored static files only. See README.md "The portal".
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from floreyn.errors import FloreynError
from floreyn.server.portal import web


def install(app: FastAPI) -> None:
    from floreyn.server.portal import api_admin, guard, routes_auth, routes_business, routes_member

    app.include_router(api_admin.router)

    for module in (routes_auth, routes_member, routes_business):
        app.include_router(module.router, prefix=web.PREFIX, include_in_schema=False)
    app.mount(web.PREFIX + "/static", StaticFiles(directory=str(web.HERE / "static")), name="portal-static")

    @app.exception_handler(guard.Redirect)
    async def _redirect(_: Request, exc: guard.Redirect) -> Response:
        return web.redirect(exc.path)


def is_portal(request: Request) -> bool:
    return request.url.path == web.PREFIX or request.url.path.startswith(web.PREFIX + "/")


def error_page(request: Request, exc: FloreynError, status: int) -> Response:
    """A refusal on a portal page as a page, in the visitor's language, never as JSON."""
    from floreyn.server.portal import guard

    if isinstance(exc, guard.CsrfRefused):
        status = 403
    elif isinstance(exc, guard.RoleRefused):
        status = 403
    p = web.Page(request, guard.session_of(request) if status != 500 else None)
    return web.render(p, "error.html", status=status, message=exc.message(p.lang))
