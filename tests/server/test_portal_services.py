"""The portal's services on every backend (SQLite, and PostgreSQL when configured): users, sessions,
lock-out, payment requests paid once. The pages themselves are tested in chromium (tests/server/portal)."""

import pytest

from floreyn.server import payment_requests, payments
from floreyn.server.portal import users


def test_code_activate_verify_lock_and_sessions(srv, world):
    member, _ = world.member()
    db, now = srv.ctx.db, srv.ctx.clock()
    made = db.write(lambda c: users.issue_code(c, role="member", subject_id=member, login=None, email=None, now=now))
    with pytest.raises(users.PasswordWeak):
        db.write(lambda c: users.activate(c, login=member, code=made["activation_code"], password="kort",
                                          repeat="kort", now=now))
    user = db.write(lambda c: users.activate(c, login=member, code=made["activation_code"], password="p" * 12,
                                             repeat="p" * 12, now=now))
    assert db.write(lambda c: users.verify(c, login=member.upper(), password="p" * 12, now=now)) == user

    def wrong(c):
        try:
            users.verify(c, login=member, password="fout" * 3, now=now)
        except (users.SigninRefused, users.SigninLocked) as exc:
            return exc.code

    codes = [db.write(wrong) for _ in range(users.LOCKOUT_FAILURES)]
    assert codes[-1] == "signin_locked" and set(codes[:-1]) == {"signin_refused"}
    with pytest.raises(users.SigninLocked):
        db.write(lambda c: users.verify(c, login=member, password="p" * 12, now=now))
    later = now + users.LOCKOUT_S * 1000 + 1
    assert db.write(lambda c: users.verify(c, login=member, password="p" * 12, now=later)) == user
    token = db.write(lambda c: users.start_session(c, user, "test", later))
    assert db.read(lambda c: users.load_session(c, token, later)).user == user
    assert db.read(lambda c: users.load_session(c, token, later + users.SESSION_IDLE_S * 1000 + 1)) is None
    db.write(lambda c: users.end_all_sessions(c, user.user_id, later))
    assert db.read(lambda c: users.load_session(c, token, later)) is None


def test_a_payment_request_is_paid_once(srv, world):
    harry = world.merchant(category="klussen")
    anna, _ = world.member(eur_cents=5_000)
    bert, _ = world.member(eur_cents=5_000)
    db, now = srv.ctx.db, srv.ctx.clock()
    req = db.write(lambda c: payment_requests.create(c, payee=payments.Party("merchant", harry), amount_cents=2_500,
                                                      description="  dakgoot   schoonmaken ", now=now))
    assert req["description"] == "dakgoot schoonmaken" and req["status"] == "open"
    paid = db.write(lambda c: payment_requests.pay(c, code=req["code"], payer=payments.Party("member", anna),
                                                    budget_id=None, now=now))
    again = db.write(lambda c: payment_requests.pay(c, code=req["code"], payer=payments.Party("member", anna),
                                                     budget_id=None, now=now))
    assert (paid["result"], again["result"], again["payment_id"]) == ("created", "exists", paid["payment_id"])
    with pytest.raises(payment_requests.RequestClosed):
        db.write(lambda c: payment_requests.pay(c, code=req["code"], payer=payments.Party("member", bert),
                                                 budget_id=None, now=now))
    assert world.balance(f"merchant:{harry}") == 2_500 and world.balance(f"member:{anna}") == 2_500
    assert world.balance(f"member:{bert}") == 5_000
