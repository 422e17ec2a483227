"""The till app's parts without a window: keypad entry, tap guard, catalogs, language switch,
touch target size, font, backlight, settings, Kivy/SDL set-up, the service bridge and relay."""
import dataclasses
import gettext
import io
import json
import os
from argparse import Namespace
from concurrent.futures import Future
from dataclasses import dataclass

import pytest

from floreyn.errors import FloreynError
from floreyn.money import AmountEmpty, AmountTooLarge, AmountZero, Currency, Money
from floreyn.terminal.app import catalogs
from floreyn.terminal.app.backlight import set_backlight
from floreyn.terminal.app.entry import AmountEntry, PinEntry
from floreyn.terminal.app.guard import TapGuard
from floreyn.terminal.app.settings import AppSettings, load_settings, save_settings


# -- amount and PIN entry --------------------------------------------------------------------


def press_all(entry, keys):
    return [entry.press(k) for k in keys]


def test_amount_entry_types_like_a_calculator():
    e = AmountEntry()
    assert e.empty and e.cents() is None and e.text() == ""
    assert press_all(e, ["0", "0", "7", ",", "5"]) == [True, True, True, True, True]
    assert e.text() == "7,5" and e.text(".") == "7.5" and e.cents() == 750
    assert e.press("0") and not e.press("1")  # a third decimal is refused
    assert not e.press(",")  # one decimal mark
    assert e.money(Currency.EUR) == Money.eur(750)
    assert press_all(e, ["back", "back", "back"]) == [True, True, True] and e.text() == "7"
    e.press("clear")
    assert e.empty
    assert press_all(e, list("123456")) == [True] * 5 + [False]  # at most 5 whole digits
    assert e.cents() == 1_234_500
    with pytest.raises(AmountTooLarge):
        e.money(Currency.FL, max_cents=50_000)
    e.clear()
    assert e.press(",") and e.text() == "0," and e.press("5") and e.cents() == 50
    assert e.backspace() and e.text() == "0,"
    assert e.backspace() and e.empty
    assert not e.backspace()


def test_amount_entry_refusals_come_from_parse_money():
    e = AmountEntry()
    with pytest.raises(AmountEmpty):
        e.money(Currency.FL)
    e.press("0")
    with pytest.raises(AmountZero):
        e.money(Currency.FL)
    with pytest.raises(ValueError):
        e.press("x")


def test_pin_entry_is_masked_bounded_and_forgotten():
    p = PinEntry()
    assert not p.press("back")
    assert press_all(p, list("123")) == [True] * 3 and not p.complete
    p.press("4")
    assert p.complete and p.masked() == "\u25cf" * 4
    assert press_all(p, list("5" * 9)) == [True] * 8 + [False]  # 12 digits at most
    assert p.take() == "123455555555" and p.digits == "" and p.masked() == ""
    with pytest.raises(ValueError):
        p.press(",")


# -- the double-tap guard ------------------------------------------------------------------------


def test_tap_guard_ignores_the_second_tap_within_the_window():
    now = [100.0]
    g = TapGuard(0.4, clock=lambda: now[0])
    assert g.allow()
    now[0] += 0.39
    assert not g.allow()  # the second half of a double tap
    now[0] += 0.05  # 0.44 s after the first allowed tap
    assert g.allow()
    now[0] += 0.4
    assert g.allow()  # exactly the window apart counts as deliberate
    assert g.ignored == 1
    g.reset()
    assert g.allow()


# -- catalogs and language -------------------------------------------------------------------------


def test_catalogs_translate_every_visible_string_and_are_compiled():
    assert catalogs.problems() == []
    used = catalogs.extract()
    assert len(used) > 100
    nl = catalogs.read_po(catalogs.paths("nl")[0])
    assert all(nl[m] for m in used)
    assert nl["Hold the card to the reader"] == "Houd de pas bij de lezer"


def test_mo_writer_reads_back_through_gettext(tmp_path):
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", "Pay\n{amount}": "Betalen\n{amount}",
               'Say "hi" \\ €': 'Zeg "hoi" \\ €', "untranslated": ""}
    po = tmp_path / "x.po"
    catalogs.write_po(po, "nl", {k: ["here:1"] for k in entries if k}, entries, comment=catalogs.COMMENT,
                      header=catalogs.HEADER)
    back = catalogs.read_po(po)
    assert "charset=UTF-8" in back.pop("") and back == {k: v for k, v in entries.items() if k}
    t = gettext.GNUTranslations(io.BytesIO(catalogs.mo_bytes(entries)))
    assert t.gettext("Pay\n{amount}") == "Betalen\n{amount}"
    assert t.gettext('Say "hi" \\ €') == 'Zeg "hoi" \\ €'
    assert t.gettext("untranslated") == "untranslated"


def test_catalog_check_catches_a_missing_translation(tmp_path, monkeypatch):
    for lang in catalogs.LANGUAGES:
        src = catalogs.paths(lang)
        dst = tmp_path / lang / "LC_MESSAGES"
        dst.mkdir(parents=True)
        for f in src:
            (dst / f.name).write_bytes(f.read_bytes())
    po = tmp_path / "nl" / "LC_MESSAGES" / "floreyn.po"
    text = po.read_text(encoding="utf-8").replace('msgstr "Houd de pas bij de lezer"', 'msgstr ""')
    po.write_text(text, encoding="utf-8")
    found = dataclasses.replace(catalogs.CATALOGS, locale_dir=tmp_path).problems()
    assert any("Hold the card to the reader" in p for p in found)
    assert any("not compiled" in p for p in found)


def test_translator_switches_kv_rules_and_listeners():
    from support import kivy_env

    kivy_env.get_window()  # the shared window, before any widget exists
    from kivy.factory import Factory
    from kivy.lang import Builder

    from floreyn.terminal.app.i18n import Translator, tr

    Builder.load_string("#:import tr floreyn.terminal.app.i18n.tr\n#:import Money floreyn.money.Money\n"
                        "<I18nProbe@Label>:\n    text: tr._('Sign in') + ' ' + tr.money(Money.fl(123456))\n")
    probe = Factory.I18nProbe()
    assert tr.lang == "nl" and probe.text == "Aanmelden fl\u00a01.234,56"  # an amount never breaks
    try:
        tr.switch("en")  # every kv rule that reads tr follows at once
        assert probe.text == "Sign in fl\u00a01,234.56"
    finally:
        tr.switch("nl")
    assert probe.text == "Aanmelden fl\u00a01.234,56"

    t = Translator("nl")
    heard = []

    class Listener:
        def on_lang(self, lang):
            heard.append(lang)

    keep = Listener()
    t.on_switch(keep.on_lang)
    gone = Listener()
    t.on_switch(gone.on_lang)
    del gone  # widgets come and go: a dead listener is dropped, not called
    t.switch("en")
    assert heard == ["en"] and t._("Sign in") == "Sign in"
    assert t.error_text(AmountEmpty()) == "Enter an amount." and t.error_text(KeyError()) == "Unexpected error: KeyError"
    t.switch("nl")
    assert heard == ["en", "nl"] and t.error_text(AmountEmpty()) == "Vul een bedrag in."
    with pytest.raises(ValueError):
        t.switch("de")


def test_engine_reasons_with_amounts_read_right_in_either_language():
    """texts.reason_text words the engine's reasons from their cents; the rest fall back to the
    refusal's own template, whose amounts are formatted in the shown language too."""
    from floreyn.terminal.app.i18n import Translator
    from floreyn.terminal.app.texts import reason_text
    from floreyn.terminal.engine import errors as E

    en, nl = Translator("en"), Translator("nl")
    per_tx = E.OfflinePerTxLimit(max_cents=250_000, currency=Currency.FL)
    assert reason_text(per_tx, en).replace("\u00a0", " ") == "Without a connection at most fl 2,500.00 per payment"
    assert "fl 2.500,00" in reason_text(per_tx, nl).replace("\u00a0", " ")
    short = E.InsufficientBalance(available_cents=123_456, currency=Currency.FL)
    assert reason_text(short, en).replace("\u00a0", " ") == "Insufficient balance: fl 1,234.56 available"
    over = E.AmountOverLimit(max_cents=1_234_500, currency=Currency.EUR)  # not worded in texts: the template
    assert reason_text(over, en) == "Amount too high: at most €12,345.00 per transaction."
    assert reason_text(over, nl) == "Bedrag te hoog: maximaal € 12.345,00 per transactie."


def test_a_damaged_store_is_the_banner_before_anything_else_about_the_till():
    from floreyn.terminal.app.i18n import Translator
    from floreyn.terminal.app.texts import banner
    from floreyn.terminal.engine.model import Overview, TillStatus

    status = TillStatus(terminal_id="T-1", operator=None, role=None, head_seq=9, day_no=1, pending_uploads=9,
                        receipts_to_print=0, snapshot_version=None, snapshot_age_s=None, snapshot_stale=True,
                        online=False, disk_low=True, store_damaged=True)
    text, level = banner(Overview(status=status), None, Translator("nl"))
    assert level == "error" and text.startswith("Kassagegevens beschadigd")
    assert banner(Overview(status=dataclasses.replace(status, store_damaged=False)), None, Translator("nl"))[0] \
        != text


# -- touch targets and font ------------------------------------------------------------------------


def test_touch_target_is_9_mm_at_the_panels_dpi():
    from floreyn.terminal.app.theme import touch_target_px

    assert touch_target_px(133) == 48  # Raspberry Pi 7" panel, 800x480
    assert touch_target_px(170) == 61  # a 7" 1024x600 panel
    assert touch_target_px(96) == 35
    assert touch_target_px(25.4) == 9  # 1 px per mm
    with pytest.raises(AssertionError):
        touch_target_px(0)


def test_bundled_font_has_the_euro_sign_and_a_licence():
    from PIL import ImageFont

    from floreyn.terminal.app import theme

    for path in (theme.FONT_REGULAR, theme.FONT_BOLD, theme.FONT_MONO):
        font = ImageFont.truetype(str(path), 40)
        missing = bytes(font.getmask("\U0010fff0"))  # a code point no font has: the .notdef box
        for ch in "€\u232b\u25cf\u2248":
            assert bytes(font.getmask(ch)) != missing, f"{path.name} lacks {ch!r}"
    assert "bitstream-vera" in (theme.FONT_DIR / "LICENSE-DejaVu.txt").read_text()


# -- backlight ---------------------------------------------------------------------------------------


def test_backlight_sets_every_writable_panel_and_never_goes_black(tmp_path):
    for name, maximum in (("rpi_backlight", 255), ("10-0045", 31)):
        dev = tmp_path / name
        dev.mkdir()
        (dev / "max_brightness").write_text(f"{maximum}\n")
        (dev / "brightness").write_text(f"{maximum}\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "max_brightness").write_text("255\n")
    (broken / "brightness").mkdir()  # cannot be written, like a file we have no permission for
    assert set_backlight(0.15, tmp_path)
    assert (tmp_path / "rpi_backlight" / "brightness").read_text() == "38\n"
    assert (tmp_path / "10-0045" / "brightness").read_text() == "5\n"
    assert set_backlight(0.0, tmp_path)
    assert (tmp_path / "rpi_backlight" / "brightness").read_text() == "1\n"
    assert set_backlight(7.0, tmp_path) and (tmp_path / "10-0045" / "brightness").read_text() == "31\n"
    assert not set_backlight(1.0, tmp_path / "missing")
    assert not set_backlight(1.0, broken)  # a folder without devices


# -- settings ------------------------------------------------------------------------------------------


def test_settings_round_trip_and_bad_files_fall_back_to_defaults(tmp_path):
    path = tmp_path / "app_settings.json"
    assert load_settings(path) == AppSettings()
    save_settings(path, AppSettings(lang="en", dim_after_s=120))
    assert load_settings(path) == AppSettings(lang="en", dim_after_s=120)
    assert not path.with_suffix(".tmp").exists()
    path.write_text('{"lang": "fr", "dim_after_s": 7, "done_timeout_s": 999, "x": 1}')
    assert load_settings(path) == AppSettings()
    path.write_text("{not json")
    assert load_settings(path) == AppSettings()
    path.write_text(json.dumps({"lang": "en", "pad": "x" * 5000}))
    assert load_settings(path) == AppSettings()  # too large to be ours
    assert load_settings(None) == AppSettings()
    path.write_text('{"member_timeout_s": 120}')
    assert load_settings(path).member_timeout_s == 120
    assert [AppSettings(member_timeout_s=s).checked().member_timeout_s for s in (0, 5, 601, "60")] == [0, 60, 60, 60]


# -- Kivy and SDL set-up ---------------------------------------------------------------------------------


def test_environment_for_kiosk_and_desktop(monkeypatch):
    from floreyn.terminal.app import kivy_setup

    for key in list(os.environ):
        if key.startswith(("KCFG_", "KIVY_", "SDL_")) or key in ("FLOREYN_TOUCH", "DISPLAY", "WAYLAND_DISPLAY"):
            monkeypatch.delenv(key)
    done = kivy_setup.prepare_environment(kiosk=True)
    assert done["SDL_VIDEODRIVER"] == "kmsdrm" and done["SDL_TOUCH_MOUSE_EVENTS"] == "0"
    assert done["KCFG_GRAPHICS_FULLSCREEN"] == "auto" and done["KCFG_GRAPHICS_MAXFPS"] == "30"
    for key in done:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SDL_VIDEODRIVER", "offscreen")  # whoever runs us wins
    monkeypatch.setenv("DISPLAY", ":0")
    assert not kivy_setup.on_console()
    done = kivy_setup.prepare_environment(size=(1024, 600))
    assert "SDL_VIDEODRIVER" not in done and os.environ["SDL_VIDEODRIVER"] == "offscreen"
    assert (done["KCFG_GRAPHICS_WIDTH"], done["KCFG_GRAPHICS_HEIGHT"]) == ("1024", "600")
    assert "SDL_TOUCH_MOUSE_EVENTS" not in done


def test_the_window_covers_the_panel_that_display_describes():
    """Issue 17 item 11: on a desktop the window opens at the panel's resolution from terminal.toml [display]
    (before: always 800x480, a corner of a 1024x600 screen), full screen when [display] fullscreen says so;
    the command line's --size and --fullscreen win."""
    from floreyn.terminal.app import kivy_setup
    from floreyn.terminal.config import DisplayConfig

    official, seven_inch = DisplayConfig(), DisplayConfig(width_px=1024, height_px=600)
    assert kivy_setup.window_choice(official) == ((800, 480), False)
    assert kivy_setup.window_choice(seven_inch) == ((1024, 600), False)
    assert kivy_setup.window_choice(DisplayConfig(fullscreen=True)) == ((800, 480), True)
    assert kivy_setup.window_choice(seven_inch, size=(640, 400)) == ((640, 400), False)
    assert kivy_setup.window_choice(DisplayConfig(fullscreen=True), size=(640, 400)) == ((640, 400), False)
    assert kivy_setup.window_choice(official, fullscreen=True) == ((800, 480), True)


def test_one_touch_source_per_device():
    from kivy.config import Config

    from floreyn.terminal.app import kivy_setup

    saved = dict(Config.items("input"))
    try:
        assert kivy_setup.configure_input(kiosk=True, provider="hidinput") == {
            "mouse": "mouse,disable_on_activity,disable_multitouch",
            "touch_%(name)s": "probesysfs,provider=hidinput"}
        assert dict(Config.items("input", raw=True)) == {
            "mouse": "mouse,disable_on_activity,disable_multitouch",
            "touch_%(name)s": "probesysfs,provider=hidinput"}
        assert kivy_setup.configure_input(kiosk=True, provider="mtdev")["touch_%(name)s"] == \
            "probesysfs,provider=mtdev"
        assert list(kivy_setup.configure_input(kiosk=True, provider="sdl")) == ["mouse"]
        assert kivy_setup.configure_input(kiosk=False) == {"mouse": "mouse,disable_multitouch"}
        with pytest.raises(ValueError):
            kivy_setup.configure_input(kiosk=True, provider="both")
    finally:
        for option in Config.options("input"):
            Config.remove_option("input", option)
        for key, value in saved.items():
            Config.set("input", key, value)


# -- service bridge and event relay ----------------------------------------------------------------------


def test_bridge_hands_results_and_refusals_to_the_main_thread():
    from floreyn.terminal.app.services import Bridge

    posted, got = [], []
    bridge = Bridge(posted.append)
    quoted, signed_in = Future(), Future()
    bridge.watch(quoted, got.append, got.append)
    bridge.watch(signed_in, got.append, got.append)
    assert bridge.pending == 2 and posted == []
    signed_in.set_exception(AmountEmpty())
    quoted.set_result("quote")
    assert got == []  # nothing runs on the worker's thread; it is posted
    for fn in posted:
        fn()
    assert isinstance(got[0], AmountEmpty) and got[1] == "quote" and bridge.pending == 0


def test_every_engine_event_type_has_a_handler_in_the_app():
    import gc

    from floreyn.terminal.app.controller import EVENTS
    from floreyn.terminal.engine import events as ev

    assert len(ev.event_types()) >= 9 and EVENTS.kinds == ev.event_types()

    @dataclass(frozen=True)
    class Planted(ev.Event):  # a new event nobody handles yet: the check above would fail on it
        pass

    assert Planted in ev.event_types() and Planted not in EVENTS.kinds
    del Planted
    gc.collect()
    assert EVENTS.kinds == ev.event_types()


def test_the_event_table_routes_by_type_and_survives_a_stray_event():
    from floreyn.terminal.engine import events as ev

    seen = []
    table: ev.EventTable[list] = ev.EventTable()
    table.on(ev.SignedOut, lambda receiver, event: receiver.append(event))
    table.dispatch(seen, ev.SignedOut())
    table.dispatch(seen, ev.ReceiptPrinted("tx"))  # no handler: logged, nothing else
    assert seen == [ev.SignedOut()]
    with pytest.raises(AssertionError):
        table.on(ev.SignedOut, lambda receiver, event: None)


def test_relay_keeps_early_events_bounded_and_in_order():
    from floreyn.terminal.app.runtime import EVENT_BUFFER_LIMIT, EventRelay

    relay = EventRelay()
    for i in range(EVENT_BUFFER_LIMIT + 5):
        relay(i)
    got = []
    relay.attach(got.append)
    relay("late")
    assert got == list(range(5, EVENT_BUFFER_LIMIT + 5)) + ["late"]
    relay.attach(None)
    relay("buffered")
    assert got[-1] == "late"


def test_config_from_the_cli_namespace(tmp_path):
    from floreyn.terminal.app.runtime import load_config

    config, simulate = load_config(Namespace(config=None, data_dir=tmp_path, simulate=False))
    assert simulate and config.data_dir == tmp_path and config.terminal_id == "T-demo-01"
    with pytest.raises(FloreynError):
        load_config(Namespace(config=tmp_path / "missing.toml", data_dir=None, simulate=False))


def test_status_screen_says_when_the_till_worker_was_restarted(till):
    from dataclasses import replace

    from floreyn.terminal.app.i18n import Translator
    from floreyn.terminal.app.texts import status_lines

    healthy = till.engine.overview()
    assert not any("herstart" in line for line in status_lines(healthy, None, Translator("nl")))
    restarted = replace(healthy, worker_restarts=2, worker_failure="ValueError: Invalid endpoint address 0x1")
    lines = status_lines(restarted, None, Translator("nl"))
    assert "Kassaproces 2 keer herstart; laatste oorzaak: ValueError: Invalid endpoint address 0x1" in lines
