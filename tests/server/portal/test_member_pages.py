"""A member's pages in a real chromium: budgets, statement and CSV, card block reaching a till, paying, XSS."""

import csv
import io

import pytest
from support.browser import check_page
from support.portal import PASSWORD, make_user, sign_in

from floreyn.server import state

SIZES = ["390x844", "1280x800"]


def grant(srv, world, member, label, categories, amount_cents, expires_on="2099-12-31"):
    funder = world.funder(eur_cents=amount_cents)
    budget_id = world.new_id("B")
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": budget_id, "member_id": member, "label": label, "categories": categories,
         "expires_on": expires_on, "amount_cents": amount_cents}]})
    return budget_id


@pytest.mark.parametrize("size", SIZES)
def test_budgets_with_label_category_left_and_expiry(srv, world, new_context, size):
    member, _ = world.member(eur_cents=1_000, alias="Anna B.")
    grant(srv, world, member, "Onderhoud woning", ["klussen"], 30_000, "2027-06-30")
    grant(srv, world, member, "Tuin", ["groen"], 5_000, "2027-03-31")
    page = new_context(size).new_page()
    sign_in(page, srv, make_user(srv, "member", member))
    cards = page.locator(".budget")
    assert cards.count() == 2
    first, second = cards.nth(0).inner_text(), cards.nth(1).inner_text()
    assert "Tuin" in first and "fl 50,00" in first and "groen" in first and "2027-03-31" in first
    assert "Onderhoud woning" in second and "fl 300,00" in second and "klussen" in second
    check_page(page, "me")


@pytest.mark.parametrize("size", SIZES)
def test_statement_lists_till_and_portal_transactions_and_downloads_safe_csv(srv, world, new_context, size):
    member, card = world.member(eur_cents=5_000)
    shop = world.merchant(category="klussen")
    term = world.terminal(shop)
    budget = grant(srv, world, member, "Onderhoud", ["klussen"], 10_000)
    term.spend(card, 1_250)
    term.spend(card, 2_000, budget_id=budget)
    term.client(srv).upload(term.raws)
    friend, _ = world.member(alias="=HYPERLINK(\"http://x\")")
    srv.admin("POST", "/v1/admin/payments", {"payer": {"kind": "member", "id": member},
                                             "payee": {"kind": "member", "id": friend}, "amount_cents": 300,
                                             "memo": "koffie"})
    page = new_context(size).new_page()
    sign_in(page, srv, make_user(srv, "member", member))
    page.goto(srv.base_url + "/portal/statement")
    rows = page.locator("table.statement tbody tr")
    assert rows.count() == 5  # top-up, the budget's grant, two till payments, one portal payment
    text = page.inner_text("table.statement")
    assert "fl -12,50" in text and "fl -20,00" in text and "budget: Onderhoud" in text
    assert f"bon {term.terminal_id} #1" in text and "koffie" in text
    check_page(page, "statement")
    with page.expect_download() as dl:
        page.click("text=Downloaden als CSV")
    body = open(dl.value.path(), encoding="utf-8").read()
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0][:4] == ["date", "time", "kind", "amount_fl"]
    assert any(r[3] == "-12.50" for r in lines[1:])  # amounts stay numbers
    assert any(r[5].startswith("'=HYPERLINK") for r in lines[1:])  # a formula in a name does not run


def test_blocking_my_card_reaches_a_tills_snapshot(srv, world, new_context):
    member, card = world.member(eur_cents=1_000)
    term = world.terminal()
    client = term.client(srv)
    before = client.snapshot()
    assert not before.card(card).blocked
    page = new_context().new_page()
    sign_in(page, srv, make_user(srv, "member", member))
    page.goto(srv.base_url + "/portal/card")
    check_page(page, "card")
    page.click("text=Blokkeer deze pas nu")
    assert "Uw pas is geblokkeerd" in page.inner_text("#done")
    check_page(page, "card-blocked")
    assert client.snapshot(base=before).card(card).blocked  # the next sync's delta carries the block
    page.click("text=Nieuwe pas aanvragen")
    assert "aanvraag voor een nieuwe pas" in page.inner_text("#done")


@pytest.mark.parametrize("size", SIZES)
def test_pay_a_shop_from_a_fitting_budget_with_the_password_again_above_the_limit(srv, world, new_context, size):
    member, _ = world.member(eur_cents=1_000)
    harry = world.merchant(category="klussen")
    budget = grant(srv, world, member, "Onderhoud", ["klussen"], 20_000)
    grant(srv, world, member, "Tuin", ["groen"], 5_000)
    page = new_context(size).new_page()
    sign_in(page, srv, make_user(srv, "member", member))
    page.goto(srv.base_url + "/portal/pay")
    check_page(page, "pay")
    page.select_option("#to_shop", harry)
    page.fill("#amount", "75,00")
    page.fill("#memo", "dakgoot")
    page.click("button.primary")
    labels = page.locator("fieldset label").all_inner_texts()
    assert len(labels) == 2 and "Onderhoud" in labels[1]  # the garden budget does not fit a handyman
    assert page.locator("#password").count() == 1  # fl 75 is above the reconfirm amount of fl 50
    check_page(page, "pay-confirm")
    page.check(f"input[value='{budget}']")
    page.fill("#password", "niet-mijn-wachtwoord")
    page.click("#confirm")
    assert "Aanmelden lukt niet" in page.inner_text("#error")
    assert world.balance(f"budget:{budget}") == 20_000
    page.check(f"input[value='{budget}']")
    page.fill("#password", PASSWORD)
    form = page.evaluate("() => Object.fromEntries(new FormData(document.querySelector(\"form[action$='/pay/confirm']\")))")
    page.click("#confirm")
    assert "fl 75,00" in page.inner_text("#paid")
    check_page(page, "paid")
    assert world.balance(f"budget:{budget}") == 12_500
    assert world.balance(f"merchant:{harry}") == 7_500
    again = page.evaluate("(d) => fetch('/portal/pay/confirm', {method: 'POST', body: new URLSearchParams(d)})"
                          ".then(r => r.text())", form)  # a double submit: the same request id pays once
    assert "fl 75,00" in again
    assert world.balance(f"budget:{budget}") == 12_500


def test_pay_another_member_and_refusals_are_pages(srv, world, new_context):
    member, _ = world.member(eur_cents=5_000)
    friend, _ = world.member(alias="Bert")
    page = new_context().new_page()
    sign_in(page, srv, make_user(srv, "member", member))
    page.goto(srv.base_url + "/portal/pay")
    page.fill("#to_member", friend)
    page.fill("#amount", "12,5")
    page.click("button.primary")
    assert "Bert" in page.inner_text("#payee")
    page.click("#confirm")
    assert "fl 12,50" in page.inner_text("#paid")
    page.goto(srv.base_url + "/portal/pay")
    page.fill("#to_member", friend)
    page.fill("#amount", "400,00")
    page.click("button.primary")
    page.fill("#password", PASSWORD)  # fl 500 is above the reconfirm amount
    page.click("#confirm")
    assert "Onvoldoende saldo" in page.inner_text("#error")
    page.goto(srv.base_url + "/portal/pay")
    page.fill("#to_member", member)
    page.fill("#amount", "1")
    page.click("button.primary")
    assert "niet aan uzelf betalen" in page.inner_text("#error")
    assert world.balance(f"member:{member}") == 5_000 - 1_250


def test_an_alias_with_a_script_shows_as_text(srv, world, new_context):
    alias = "<script>window.pwned=1</script>"
    member, _ = world.member(alias=alias)
    page = new_context().new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, srv, make_user(srv, "member", member))
    assert alias in page.inner_text("h1")
    assert page.evaluate("() => window.pwned") is None and not dialogs
    check_page(page, "xss-alias")


def test_a_page_of_another_role_is_refused(srv, world, new_context):
    member, _ = world.member()
    page = new_context().new_page()
    sign_in(page, srv, make_user(srv, "member", member))
    resp = page.goto(srv.base_url + "/portal/funder")
    assert resp.status == 403 and "niet voor uw account" in page.inner_text("main")
    resp = page.goto(srv.base_url + "/portal/nergens")
    assert resp.status == 404
    assert state.now_ms() > 0


@pytest.mark.parametrize("size", SIZES)
def test_scan_page_explains_the_camera_and_takes_a_typed_code(srv, world, new_context, size):
    from floreyn.server import payment_requests, payments

    harry = world.merchant(category="klussen")
    now = srv.ctx.clock()
    made = srv.ctx.db.write(lambda conn: payment_requests.create(
        conn, payee=payments.Party("merchant", harry), amount_cents=1_500, description="heg knippen", now=now))
    member, _ = world.member(eur_cents=2_000)
    page = new_context(size).new_page()
    sign_in(page, srv, make_user(srv, "member", member))
    page.click("text=Betaalverzoek scannen")
    assert "camera" in page.inner_text("main")
    check_page(page, "scan")
    page.fill("#code", made["code"])
    page.click("text=Openen")
    page.wait_for_url(f"**/portal/r/{made['code']}")
    assert "heg knippen" in page.inner_text("#memo")
