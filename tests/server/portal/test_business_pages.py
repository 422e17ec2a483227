"""Payment requests between two browsers, shops' sales, funders' aggregates, the treasurer: in chromium."""

import re

import pytest
from support.browser import check_page
from support.portal import PASSWORD, make_user, sign_in

SIZES = ["390x844", "1280x800"]


@pytest.mark.parametrize("size", SIZES)
def test_a_payment_request_made_on_one_phone_is_paid_from_another(srv, world, new_context, size):
    harry = world.merchant(category="klussen", save_rate_bp=0, topup_allowed=False)
    harry_login = srv.admin("POST", "/v1/admin/portal/invites",
                            {"role": "merchant", "subject_id": harry, "email": f"{harry}@example.org"})["login"]
    make_user(srv, "merchant", harry, email=harry_login)
    anna, _ = world.member(eur_cents=4_000, alias="Anna B.")
    anna_login = make_user(srv, "member", anna)
    payee = new_context(size).new_page()
    sign_in(payee, srv, harry_login)
    payee.goto(srv.base_url + "/portal/requests")
    check_page(payee, "requests")
    payee.fill("#amount", "25,00")
    payee.fill("#description", "dakgoot schoonmaken")
    payee.click("button.primary")
    payee.wait_for_url(re.compile(r".*/portal/requests/[\w-]+$"))
    assert "Ontvang fl 25,00" in payee.inner_text("h1")
    assert "Wacht op de betaling" in payee.inner_text("#status")
    check_page(payee, "request-open")
    code = payee.inner_text("#code").strip()
    pay_url = srv.base_url + f"/portal/r/{code}"
    assert payee.locator("svg.qr").count() == 1

    payer = new_context(size).new_page()  # the payer "scans": opens the QR code's address, not signed in
    payer.goto(pay_url)
    assert "/portal/signin" in payer.url
    payer.fill("#login", anna_login)
    payer.fill("#password", PASSWORD)
    payer.click("button.primary")
    payer.wait_for_url(f"**/portal/r/{code}")
    assert "fl 25,00" in payer.inner_text("#pay-amount") and "dakgoot schoonmaken" in payer.inner_text("#memo")
    check_page(payer, "request-pay")
    payer.click("#confirm")
    assert "fl 25,00" in payer.inner_text("#paid")
    # The payee's page says so by itself (polling, no reload), within a few seconds.
    payee.wait_for_function("() => document.getElementById('status').dataset.state === 'paid'", timeout=15_000)
    assert "Betaald door Anna B." in payee.inner_text("#status")
    check_page(payee, "request-paid")
    assert world.balance(f"merchant:{harry}") == 2_500 and world.balance(f"member:{anna}") == 1_500
    # Paid once: a second payer is refused, nothing moves.
    bert, _ = world.member(eur_cents=4_000)
    second = new_context(size).new_page()
    sign_in(second, srv, make_user(srv, "member", bert), next_path=f"/portal/r/{code}")
    assert "al betaald" in second.inner_text("#closed")
    assert world.balance(f"member:{bert}") == 4_000


def test_an_expired_request_cannot_be_paid(srv, world, new_context):
    from floreyn.server import payment_requests, payments

    harry = world.merchant()
    now = srv.ctx.clock()
    made = srv.ctx.db.write(lambda conn: payment_requests.create(
        conn, payee=payments.Party("merchant", harry), amount_cents=500, description="ramen", now=now - 3_600_000,
        ttl_s=60))
    anna, _ = world.member(eur_cents=1_000)
    page = new_context().new_page()
    sign_in(page, srv, make_user(srv, "member", anna), next_path=f"/portal/r/{made['code']}")
    assert "verlopen" in page.inner_text("#closed")
    assert world.balance(f"member:{anna}") == 1_000


@pytest.mark.parametrize("size", SIZES)
def test_shop_sees_sales_per_day_and_till_and_settlement(srv, world, new_context, size):
    bakery = world.merchant(category="winkel")
    term = world.terminal(bakery)
    member, card = world.member(eur_cents=5_000)
    term.spend(card, 1_500)
    term.spend(card, 700)
    term.save(card, 50, eur_cents=1_000)
    term.client(srv).upload(term.raws)
    srv.admin("POST", "/v1/admin/campaigns", {"campaign_id": f"C-{bakery}", "name": "Dubbel sparen",
                                              "multiplier_bp": 20_000, "starts_on": "2020-01-01",
                                              "ends_on": "2099-01-01", "merchant_ids": [bakery]})
    login = make_user(srv, "merchant", bakery, email=f"{bakery}@bakkerij.example")
    page = new_context(size).new_page()
    sign_in(page, srv, login)
    assert page.url.endswith("/portal/shop")
    table = page.inner_text("main table")
    assert term.terminal_id in table and "fl 22,00" in table and "fl 0,50" in table
    assert page.locator("svg.chart").count() == 1
    assert "Dubbel sparen: sparen ×2," in page.inner_text("main")
    check_page(page, "shop")
    with page.expect_download() as dl:
        page.click("text=Downloaden als CSV")
    assert "22.00" in open(dl.value.path(), encoding="utf-8").read()


def _programme(srv, world, funder, label, members, amount_cents=10_000):
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": world.new_id("B"), "member_id": m, "label": label, "categories": ["klussen"],
         "expires_on": "2099-12-31", "amount_cents": amount_cents} for m in members]})


@pytest.mark.parametrize("size", SIZES)
def test_funder_sees_aggregates_over_five_recipients_only(srv, world, new_context, size):
    funder = world.funder(eur_cents=200_000)
    harry = world.merchant(category="klussen")
    big = [world.member()[0] for _ in range(6)]
    small = [world.member()[0] for _ in range(3)]
    _programme(srv, world, funder, "Onderhoud blok A", big)
    _programme(srv, world, funder, "Duurzaam klein", small)
    budgets = srv.admin("GET", "/v1/admin/budgets", funder_id=funder, limit=100)
    for b in budgets["budgets"]:
        if b["label"] == "Onderhoud blok A":
            srv.admin("POST", "/v1/admin/payments", {"payer": {"kind": "member", "id": b["member_id"]},
                                                     "payee": {"kind": "merchant", "id": harry},
                                                     "amount_cents": 1_000, "budget_id": b["budget_id"]})
    login = make_user(srv, "funder", funder, email=f"{funder}@corporatie.example")
    page = new_context(size).new_page()
    sign_in(page, srv, login)
    text = page.inner_text("main")
    assert "nooit wat één persoon kocht" in text
    sections = page.locator("section.programme")
    small_text = sections.filter(has_text="Duurzaam klein").inner_text()
    assert "te weinig ontvangers om te tonen" in small_text and "fl" not in small_text
    big_text = sections.filter(has_text="Onderhoud blok A").inner_text()
    assert "6 ontvangers" in big_text and "fl 600,00" in big_text and "fl 60,00" in big_text
    assert "klussen" in big_text
    for b in big:  # no member id, never a single member's line
        assert b not in page.content()
    check_page(page, "funder")


def test_treasurer_dashboard(srv, world, new_context):
    world.member(eur_cents=1_000)
    world.terminal()
    login = make_user(srv, "admin", None, email="penningmeester@floreyn.example")
    page = new_context("1280x800").new_page()
    sign_in(page, srv, login)
    assert page.url.endswith("/portal/treasurer")
    text = page.inner_text("main")
    assert "Floreyn uitgegeven" in text and "Kassa's" in text
    assert page.locator("svg.chart").count() == 1
    check_page(page, "treasurer")


def test_a_cancelled_request_cannot_be_paid(srv, world, new_context):
    harry = world.merchant(category="klussen")
    payee = new_context().new_page()
    sign_in(payee, srv, make_user(srv, "merchant", harry, email=f"{harry}@example.org"))
    payee.goto(srv.base_url + "/portal/requests")
    payee.fill("#amount", "7,50")
    payee.fill("#description", "ramen lappen")
    payee.click("button.primary")
    payee.wait_for_url(re.compile(r".*/portal/requests/[\w-]+$"))
    code = payee.inner_text("#code").strip()
    payee.click("text=Verzoek intrekken")
    payee.wait_for_url("**/portal/requests")
    assert "ingetrokken" in payee.inner_text("table")
    anna, _ = world.member(eur_cents=1_000)
    payer = new_context().new_page()
    sign_in(payer, srv, make_user(srv, "member", anna), next_path=f"/portal/r/{code}")
    assert "ingetrokken" in payer.inner_text("#closed")
    assert world.balance(f"member:{anna}") == 1_000


def test_everything_works_without_javascript_and_the_manifest_installs(srv, world, new_context):
    harry = world.merchant(category="klussen")
    anna, _ = world.member(eur_cents=3_000)
    payee = new_context(javascript=False).new_page()
    sign_in(payee, srv, make_user(srv, "merchant", harry, email=f"{harry}@example.org"))
    payee.goto(srv.base_url + "/portal/requests")
    payee.fill("#amount", "12,00")
    payee.fill("#description", "gras maaien")
    payee.click("button.primary")
    payee.wait_for_url(re.compile(r".*/portal/requests/[\w-]+$"))
    code = payee.inner_text("#code").strip()
    payer = new_context(javascript=False).new_page()
    sign_in(payer, srv, make_user(srv, "member", anna), next_path=f"/portal/r/{code}")
    payer.click("#confirm")
    assert "fl 12,00" in payer.inner_text("#paid")
    payee.click("text=Vernieuwen")  # no script: the Refresh link shows the new state
    assert "Betaald door" in payee.inner_text("#status")
    manifest = payer.request.get(srv.base_url + "/portal/static/manifest.webmanifest").json()
    assert manifest["start_url"] == "/portal/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert payer.request.get(srv.base_url + icon["src"]).ok
