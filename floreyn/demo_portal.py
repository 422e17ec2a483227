"""The demo's portal part: Anna, Handige Harry, the bakery and the housing corporation on their phones.

Part of `python -m floreyn.demo` (after the till walk-through). Invitations
and activation codes come from `floreyn-provision portal ...`; every person
then activates and signs in through the real pages in Debian's chromium
(Playwright, never a downloaded browser), at a phone's 390x844. Harry asks
for fl 25,00 with a QR code, Anna opens its address on her own phone, pays
from the corporation's maintenance budget, and Harry's page turns "paid" by
itself. Screenshots in run/demo/portal/.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from floreyn.demo import Demo

from floreyn.demo import MAINTENANCE_BUDGET, MEMBERS, DemoError, say

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE: Final = {"width": 390, "height": 844}
WAIT_MS: Final = 20_000
PASSWORD: Final = "demo-wachtwoord-1"
HARRY: Final = ("M-harry", "Handige Harry", "klussen")
BLOCK_BUDGET_LABEL: Final = "Onderhoud blok Soesterkwartier"


def set_up(demo: Demo) -> dict[str, dict[str, Any]]:
    """Harry as a self-employed merchant, a block budget of the corporation for five tenants, and the
    portal's users with their one-time codes."""
    merchant_id, name, category = HARRY
    demo.provision("merchant", "add", "--id", merchant_id, "--name", name, "--category", category, "--save-rate", "0",
                   "--no-topup")
    expires = (dt.date.today() + dt.timedelta(days=180)).isoformat()
    block = demo.run / "blokbudget.csv"
    tenants = [k for k in MEMBERS if k != "anna"][:5]
    block.write_text("budget_id;lidnummer;bedrag;categorieen;vervaldatum;fonds;omschrijving\n" + "".join(
        f"B-blok-{k};m-{k};40;klussen;{expires};F-portaal;{BLOCK_BUDGET_LABEL}\n" for k in tenants), encoding="utf-8")
    demo.provision("budget", "grant", str(block))
    api = demo.admin()
    try:  # the tenants had jobs done by Harry, paid at the desk on their behalf (the payments API)
        for i, k in enumerate(tenants):
            api.send("POST", "/v1/admin/payments", {
                "payer": {"kind": "member", "id": f"m-{k}"}, "payee": {"kind": "merchant", "id": merchant_id},
                "amount_cents": 1_000 + 250 * i, "budget_id": f"B-blok-{k}", "memo": "klus aan huis",
                "request_id": f"demo-blok-{k}"})
    finally:
        api.close()
    return {
        "anna": demo.provision("portal", "code", "m-anna"),
        "harry": demo.provision("portal", "invite", "--role", "merchant", "--id", merchant_id,
                                "--email", "harry@example.org"),
        "bakery": demo.provision("portal", "invite", "--role", "merchant", "--id", "M-bakker",
                                 "--email", "bakker@example.org"),
        "corporation": demo.provision("portal", "invite", "--role", "funder", "--id", "F-portaal",
                                      "--email", "fonds@portaal.example"),
    }


def walk(demo: Demo) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    say("portaal", "Anna, Harry, de bakker en de corporatie in het portaal (chromium, 390x844)")
    invites = set_up(demo)
    out = demo.run / "portal"
    out.mkdir(exist_ok=True)
    shots: list[str] = []
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:
            raise DemoError(f"chromium did not start ({CHROMIUM}; apt-get install chromium): {exc}") from None
        try:
            pages = {who: _activate(browser, demo.url, invite) for who, invite in invites.items()}

            def shot(who: str, name: str) -> None:
                path = out / f"{len(shots) + 1:02d}-{who}-{name}.png"
                pages[who].screenshot(path=str(path), full_page=True)
                shots.append(path.name)

            shot("anna", "saldo-en-budgetten")
            paid = _pay_a_request(demo, pages, shot)
            pages["anna"].goto(demo.url + "/portal/statement")
            shot("anna", "overzicht")
            pages["bakery"].goto(demo.url + "/portal/shop")
            shot("bakery", "verkoop")
            pages["corporation"].goto(demo.url + "/portal/funder")
            shot("corporation", "budgetregelingen")
            pages["harry"].goto(demo.url + "/portal/shop")
            shot("harry", "verkoop")
        finally:
            browser.close()
    say("portaal", f"{len(shots)} schermafdrukken in {out}; betaalverzoek betaald: {paid}")
    return {"screenshots": shots, "request_paid": paid, "folder": str(out)}


def _activate(browser: Any, base: str, invite: dict[str, Any]) -> Any:
    page = browser.new_context(viewport=PHONE, locale="nl-NL").new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(base + "/portal/activate")
    page.fill("#login", invite["login"])
    page.fill("#code", invite["activation_code"])
    page.fill("#password", PASSWORD)
    page.fill("#repeat", PASSWORD)
    page.click("button.primary")
    page.wait_for_load_state()
    if "/portal/activate" in page.url:
        raise DemoError(f"activation of {invite['login']} failed: {page.inner_text('main')[:200]}")
    return page


def _pay_a_request(demo: Demo, pages: dict[str, Any], shot: Any) -> bool:
    harry, anna = pages["harry"], pages["anna"]
    harry.goto(demo.url + "/portal/requests")
    harry.fill("#amount", "25,00")
    harry.fill("#description", "dakgoot schoonmaken")
    harry.click("button.primary")
    harry.wait_for_url(re.compile(r".*/portal/requests/[\w-]+$"))
    shot("harry", "betaalverzoek-qr")
    code = harry.inner_text("#code").strip()
    anna.goto(demo.url + f"/portal/r/{code}")  # what scanning the QR code opens
    anna.check(f"input[value='{MAINTENANCE_BUDGET}']")
    shot("anna", "betaalverzoek-bevestigen")
    anna.click("#confirm")
    anna.wait_for_selector("#paid")
    shot("anna", "betaald")
    harry.wait_for_function("() => document.getElementById('status').dataset.state === 'paid'", timeout=WAIT_MS)
    shot("harry", "betaald")
    return "Betaald door" in harry.inner_text("#status")


def copy_for_readme(run: Path, target: Path) -> None:  # pragma: no cover - a maintainer's step
    """Put two of the demo's screenshots where the README shows them."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for src in sorted((run / "portal").glob("*.png")):
        if "harry-betaald" in src.name or "anna-saldo" in src.name:
            shutil.copyfile(src, target / re.sub(r"^\d+-", "portal-", src.name))
