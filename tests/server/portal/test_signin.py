"""Activation with the welcome slip's code, sign-in, lock-out, CSRF, sessions: in a real chromium."""

import re
import uuid

import pytest
from sqlalchemy import select
from support.browser import check_page
from support.portal import PASSWORD, make_user, sign_in

from floreyn.server import schema as s

SIZES = ["390x844", "1280x800"]


def audit_actions(srv, user_like: str = "") -> list[str]:
    return srv.ctx.db.read(lambda conn: list(conn.execute(
        select(s.audit_log.c.action).where(s.audit_log.c.action.like("portal.%")).order_by(s.audit_log.c.id))
        .scalars()))


@pytest.mark.parametrize("size", SIZES)
def test_activation_with_the_slip_code_then_sign_in(srv, world, new_context, size):
    member, _ = world.member(eur_cents=2_500, alias="Anna B.")
    code = srv.admin("POST", "/v1/admin/portal/codes", {"member_id": member})["activation_code"]
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    page = new_context(size).new_page()
    page.goto(srv.base_url + "/portal/")
    assert page.url.endswith("/portal/signin")
    check_page(page, "signin")
    page.click("text=Activeren met mijn code")
    check_page(page, "activate")
    page.fill("#login", member)
    page.fill("#code", code.lower().replace("-", " "))  # typed off paper: case and separators do not matter
    page.fill("#password", PASSWORD)
    page.fill("#repeat", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/portal/me")
    assert "fl 25,00" in page.inner_text("#balance")
    assert "Hallo Anna B." in page.inner_text("h1")
    # The code was for once only.
    other = new_context(size).new_page()
    other.goto(srv.base_url + "/portal/activate")
    other.fill("#login", member)
    other.fill("#code", code)
    other.fill("#password", PASSWORD)
    other.fill("#repeat", PASSWORD)
    other.click("button.primary")
    assert "activeringscode klopt niet" in other.inner_text("#error")
    # Sign out, sign in again with the member number.
    page.click("text=Afmelden")
    page.wait_for_url("**/portal/signin")
    sign_in(page, srv, member)
    assert page.url.endswith("/portal/me")
    assert {"portal.activate", "portal.signin", "portal.signout", "portal.activate_failed"} <= set(audit_actions(srv))


def test_session_cookie_is_httponly_secure_lax(srv, world, new_context):
    member, _ = world.member()
    login = make_user(srv, "member", member)
    ctx = new_context()
    page = ctx.new_page()
    sign_in(page, srv, login)
    cookie = next(c for c in ctx.cookies() if c["name"] == "floreyn_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("() => document.cookie").find("floreyn_session") == -1


def test_lock_out_after_five_wrong_passwords(srv, world, new_context):
    member, _ = world.member()
    login = make_user(srv, "member", member)
    page = new_context().new_page()
    for _ in range(4):
        sign_in(page, srv, login, password="verkeerd-wachtwoord")
        assert "Aanmelden lukt niet" in page.inner_text("#error")
    sign_in(page, srv, login, password="verkeerd-wachtwoord")
    assert "Te vaak een verkeerd wachtwoord" in page.inner_text("#error")
    check_page(page, "signin-locked")
    sign_in(page, srv, login)  # the right password does not open a locked account
    assert "Te vaak een verkeerd wachtwoord" in page.inner_text("#error")
    assert page.url.endswith("/portal/signin")
    assert "portal.locked" in audit_actions(srv)


def test_a_form_with_a_wrong_csrf_token_is_refused_and_changes_nothing(srv, world, new_context):
    member, card = world.member()
    login = make_user(srv, "member", member)
    page = new_context().new_page()
    sign_in(page, srv, login)
    page.goto(srv.base_url + "/portal/card")
    page.evaluate("() => document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'forged')")
    page.click("text=Blokkeer deze pas nu")
    assert "formulier is verlopen" in page.inner_text(".notice.error")
    check_page(page, "csrf-refused")
    assert srv.admin("GET", f"/v1/admin/cards/{card}")["status"] == "active"
    # And the sign-in form before any session: a token not bound to this browser's cookie is refused.
    anon = new_context().new_page()
    anon.goto(srv.base_url + "/portal/signin")
    anon.evaluate("() => document.querySelector('input[name=csrf]').value = 'x'.repeat(64)")
    anon.fill("#login", login)
    anon.fill("#password", PASSWORD)
    anon.click("button.primary")
    assert "formulier is verlopen" in anon.inner_text(".notice.error")


def test_session_list_and_sign_out_everywhere(srv, world, new_context):
    member, _ = world.member()
    login = make_user(srv, "member", member)
    phone, desktop = new_context().new_page(), new_context("1280x800").new_page()
    sign_in(phone, srv, login)
    sign_in(desktop, srv, login)
    desktop.goto(srv.base_url + "/portal/sessions")
    assert desktop.locator(".cards li").count() == 2
    check_page(desktop, "sessions")
    desktop.click("text=Overal afmelden")
    desktop.wait_for_url("**/portal/signin")
    phone.goto(srv.base_url + "/portal/me")
    assert phone.url.split("?")[0].endswith("/portal/signin")


def test_english_by_choice(srv, world, new_context):
    member, _ = world.member(alias=f"Lid {uuid.uuid4().hex[:4]}")
    login = make_user(srv, "member", member)
    page = new_context().new_page()
    sign_in(page, srv, login)
    page.click("text=English")
    assert "Your balance" in page.inner_text("main")
    assert page.get_attribute("html", "lang") == "en"
    check_page(page, "me-english")


def test_sign_in_posts_per_address_are_limited(srv, world, new_context, tmp_path):
    from floreyn.server.config import Limits
    from floreyn.server.testing import ServerThread

    with ServerThread(f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "data",
                      limits=Limits(portal_signins_per_window=3)) as small:
        page = new_context().new_page()
        for _ in range(3):
            sign_in(page, small, "niemand", password="x" * 12)
            assert "Aanmelden lukt niet" in page.inner_text("#error")
        sign_in(page, small, "niemand", password="x" * 12)
        assert "Te veel pogingen" in page.inner_text(".notice.error")


def test_rate_limiter_forgets_after_the_window(tmp_path):
    from floreyn.server.db import Database
    from floreyn.server.portal.web import RateLimiter

    db = Database(f"sqlite:///{tmp_path / 'limits.db'}")
    db.migrate()
    limiter = RateLimiter(db, 2, window_s=0.0)
    assert all(limiter.allow("a", now) for now in range(5))  # a window of zero keeps nothing
    strict = RateLimiter(db, 2, window_s=3600)
    assert [strict.allow("b", 1_000) for _ in range(3)] == [True, True, False] and strict.allow("c", 1_000)
    assert strict.allow("b", 1_000 + 3_600_000)  # the next window
    db.dispose()
