"""PIN sign-in: slow salted hashes, roles, lock-out that survives a restart."""

from __future__ import annotations

import pytest
from till_helpers import CASHIER_PIN, MANAGER_PIN, dump_db, open_till

from floreyn.money import Money
from floreyn.terminal.engine import errors as E
from floreyn.pins import check_pin, hash_pin


def test_hash_is_salted_and_checks():
    a, b = hash_pin("1234", n=16, r=1, p=1), hash_pin("1234", n=16, r=1, p=1)
    assert a != b and a.startswith("scrypt:16:1:1:")
    assert check_pin("1234", a) and check_pin("1234", b)
    assert not check_pin("1235", a) and not check_pin("", a) and not check_pin("1234", "scrypt:broken")
    with pytest.raises(ValueError):
        hash_pin("12a4")


def test_default_cost_is_the_tuned_one():
    from floreyn.terminal.config import SecurityConfig

    sec = SecurityConfig()
    stored = hash_pin("123456", n=sec.scrypt_n, r=sec.scrypt_r, p=sec.scrypt_p)
    assert stored.split(":")[1:4] == ["4096", "8", "2"] and check_pin("123456", stored)


def test_roles_and_sign_out(till):
    assert till.engine.operator.role == "cashier"
    till.engine.sign_out()
    with pytest.raises(E.NotSignedIn):
        till.present("anna")
    assert till.engine.sign_in(MANAGER_PIN).is_manager


def test_wrong_pins_lock_out_and_the_lock_out_survives_a_restart(till):
    till.engine.sign_out()
    before = {k: v for k, v in dump_db(till.config.db_path).items() if k != "pin_lockout" and k != "terminal_state"}
    with pytest.raises(E.WrongPin) as first:
        till.engine.sign_in("0000")
    assert first.value.params["left"] == 2 and "Onjuiste pincode" in first.value.message("nl")
    with pytest.raises(E.WrongPin):
        till.engine.sign_in("0001")
    with pytest.raises(E.PinLockedOut) as locked:
        till.engine.sign_in("0002")
    assert locked.value.params["seconds"] == 30
    with pytest.raises(E.PinLockedOut):  # even the right PIN, while locked
        till.engine.sign_in(CASHIER_PIN)
    after = {k: v for k, v in dump_db(till.config.db_path).items() if k != "pin_lockout" and k != "terminal_state"}
    assert after == before  # only the lock-out changed
    t2 = till.reopen(sign_in=False)  # SIGKILL or restart does not reset it
    with pytest.raises(E.PinLockedOut):
        t2.engine.sign_in(CASHIER_PIN)
    t2.clock.advance(31)
    assert t2.engine.sign_in(CASHIER_PIN).name == "Carla"
    t2.engine.sign_out()
    with pytest.raises(E.WrongPin):  # the count started again after a good PIN
        t2.engine.sign_in("9999")
    t2.store.close()


def test_lock_out_doubles_on_further_failures(till):
    till.engine.sign_out()
    for pin in ("0000", "0001"):
        with pytest.raises(E.WrongPin):
            till.engine.sign_in(pin)
    with pytest.raises(E.PinLockedOut):
        till.engine.sign_in("0002")
    till.clock.advance(31)
    with pytest.raises(E.PinLockedOut) as again:
        till.engine.sign_in("0003")
    assert again.value.params["seconds"] == 60


def test_refund_needs_a_manager_pin_which_a_cashier_pin_is_not(till):
    till.present("anna")
    paid = till.spend(500)
    quote = till.engine.quote_refund(paid.tx_id)
    with pytest.raises(E.ManagerRequired):
        till.engine.confirm(quote.quote_id)
    with pytest.raises(E.ManagerRequired):
        till.engine.confirm(quote.quote_id, manager_pin=CASHIER_PIN)
    with pytest.raises(E.WrongPin):
        till.engine.confirm(quote.quote_id, manager_pin="5555")
    result = till.engine.confirm(quote.quote_id, manager_pin=MANAGER_PIN)
    assert result.fl == Money.fl(500)


def test_void_needs_a_manager_pin_and_a_refused_pin_writes_nothing(till):
    till.present("anna")
    till.spend(500)
    quote = till.engine.quote_void()
    assert quote.needs_manager
    before = {k: v for k, v in dump_db(till.config.db_path).items() if k not in ("pin_lockout", "terminal_state")}
    with pytest.raises(E.ManagerRequired):
        till.engine.confirm(quote.quote_id)
    with pytest.raises(E.ManagerRequired):  # the cashier's own PIN is not a manager's
        till.engine.confirm(quote.quote_id, manager_pin=CASHIER_PIN)
    with pytest.raises(E.WrongPin):
        till.engine.confirm(quote.quote_id, manager_pin="5555")
    after = {k: v for k, v in dump_db(till.config.db_path).items() if k not in ("pin_lockout", "terminal_state")}
    assert after == before and len(till.printer.docs) == 1  # only the sale's receipt
    result = till.engine.confirm(quote.quote_id, manager_pin=MANAGER_PIN)  # the quote stayed open
    assert result.kind.name == "VOID" and result.fl == Money.fl(500)


def test_manager_signed_in_needs_no_extra_pin(config, clock):
    till = open_till(config, clock, sign_in=False)
    till.engine.sign_in(MANAGER_PIN)
    till.present("anna")
    paid = till.spend(500)
    assert till.engine.confirm(till.engine.quote_refund(paid.tx_id).quote_id).kind.name == "REFUND"
    till.clock.advance(10)
    till.spend(300)
    assert till.engine.confirm(till.engine.quote_void().quote_id).kind.name == "VOID"
    till.store.close()
