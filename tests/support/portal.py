"""Helpers of the portal's browser tests: a user with a password, signing in through the page."""

from __future__ import annotations

from floreyn.server.portal import users

PASSWORD = "fietsbel-tulp-42"


def make_user(srv, role: str, subject_id: str | None, email: str | None = None, password: str = PASSWORD) -> str:
    """A portal user with a password already chosen (activation itself is tested in the browser); its login."""
    now = srv.ctx.clock()

    def run(conn):
        made = users.issue_code(conn, role=role, subject_id=subject_id, login=email, email=email, now=now)
        users.activate(conn, login=made["login"], code=made["activation_code"], password=password,
                       repeat=password, now=now)
        return made["login"]

    return srv.ctx.db.write(run)


def sign_in(page, srv, login: str, password: str = PASSWORD, next_path: str = "") -> None:
    page.goto(srv.base_url + "/portal/signin" + (f"?next={next_path}" if next_path else ""))
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
