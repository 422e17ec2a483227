"""The demo tour: the real till app driven through its screens, a PNG of each (no display needed).

    python -m floreyn.terminal.app.tour --config run/demo/T-bakker-01.toml --out run/demo/screenshots

`make demo` runs this on a machine without a display. It builds the same
Runtime the app runs (engine, TillService, virtual card reader and printer,
the server from terminal.toml) and the same root widget, in one window drawn
by SDL's offscreen driver with Mesa's software GL. Each step does what a tap
would do (through the Controller, the same calls the buttons make), waits
until the screen shows the result, and saves the frame. The sales it makes
are real: committed, printed by the virtual printer (PNG + text beside the
till's data) and synced to the server.

Pixels are read after drawing and before the buffer swap (after a swap the
back buffer is undefined), as the UI tests do (tests/support/kivy_env.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

STEP_TIMEOUT_S = 20.0  # a live card summary or an online hold takes one round trip; a slow CI machine more
BANK_CARD_EXTRA_CENTS = 500  # the tour's mixed payment: this much more than the card can pay, the rest by bank card


def _environment(size: tuple[int, int]) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.setdefault("LIBGL_ALWAYS_SOFTWARE", "1")  # the same pixels on every machine
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_METRICS_DENSITY", "1")
    from floreyn.terminal.app import kivy_setup

    kivy_setup.prepare_environment(kiosk=False, size=size)


class Tour:
    def __init__(self, root: Any, runtime: Any, out_dir: Path) -> None:
        self.root = root
        self.ctl = root.ctl
        self.runtime = runtime
        self.out_dir = out_dir
        self.shots: list[dict[str, str]] = []

    def pump(self, seconds: float = 0.05) -> None:
        from kivy.base import EventLoop

        end = time.monotonic() + seconds
        while True:
            EventLoop.idle()
            if time.monotonic() >= end:
                return

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        from kivy.base import EventLoop

        end = time.monotonic() + STEP_TIMEOUT_S
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError(f"tour: timed out waiting for {what}; screen={self.ctl.screen} "
                                   f"message={self.ctl.message!r}")
            EventLoop.idle()
            time.sleep(0.005)
        self.pump(0.1)

    def wait_screen(self, name: str) -> None:
        self.wait(lambda: self.ctl.screen == name and self.root.ids.sm.current == name and not self.ctl.busy,
                  f"screen {name}")

    def shot(self, name: str, caption: str) -> Path:
        from kivy.base import EventLoop
        from kivy.graphics.opengl import GL_PACK_ALIGNMENT, GL_RGB, GL_UNSIGNED_BYTE, glPixelStorei, glReadPixels
        from PIL import Image

        window = EventLoop.window
        EventLoop.idle()
        window.dispatch("on_draw")
        width, height = window.size
        glPixelStorei(GL_PACK_ALIGNMENT, 1)
        data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
        window.dispatch("on_flip")
        image = Image.frombytes("RGB", (width, height), data).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        colours = image.getcolors(maxcolors=width * height) or []
        assert len(colours) >= 8, f"{name}: the frame is blank"  # a broken GL stack draws nothing
        path = self.out_dir / f"{len(self.shots) + 1:02d}-{name}.png"
        image.save(path)
        self.shots.append({"file": path.name, "screen": self.ctl.screen, "caption": caption})
        return path

    def present(self, name: str) -> None:
        from floreyn.terminal import demo_setup

        self.runtime.present(demo_setup.demo_payload(name))

    def type_amount(self, keys: str) -> None:
        screen = self.root.screen("amount")
        for key in keys:
            screen.on_key(key)
        self.pump(0.05)

    def press(self, msgid: str) -> None:
        """What a tap on the current screen's button labelled `msgid` (in the shown language) does: its
        on_tap, the tap guards aside."""
        from floreyn.terminal.app.i18n import tr
        from floreyn.terminal.app.widgets import TButton

        words = tr._(msgid)
        screen = self.root.screen(self.ctl.screen)
        found = [w for w in screen.walk(restrict=True) if isinstance(w, TButton) and w.text == words and w.opacity > 0]
        if len(found) != 1:
            raise LookupError(f"tour: {len(found)} buttons {words!r} on {self.ctl.screen}")
        found[0].dispatch("on_tap")

    def pay_rest_by_bank_card(self, card: str) -> None:
        """More than the card can pay: the rest in euros by bank card, booked only after "Is de pinbetaling gelukt?"."""
        from floreyn.terminal.app import texts
        from floreyn.terminal.app.entry import DECIMAL_KEY

        ctl = self.ctl
        self.present(card)
        self.wait_screen("member")
        member = ctl.member
        payable = max(0, member.own.cents) + sum(b.remaining.cents for b in texts.payable_sources(member))
        ctl.enter_amount()
        self.wait_screen("amount")
        cents = payable + BANK_CARD_EXTRA_CENTS
        self.type_amount(f"{cents // 100}{DECIMAL_KEY}{cents % 100:02d}")
        self.root.screen("amount").action_buttons["spend"].dispatch("on_tap")  # "Betalen fl …"
        self.wait(lambda: ctl.screen in ("source", "confirm") and not ctl.busy, "source or confirm")
        if ctl.screen == "source":
            self.press("Combined\n(budgets first)")
            self.wait_screen("confirm")
        self.shot("rest-met-pin", "More than the card holds: the rest in cash or by bank card")
        self.press("Rest by bank card")
        self.wait_screen("bankcard")
        self.shot("pinbetaling-gelukt", "The customer pays the rest on the bank card terminal: did it go through?")
        self.press("Yes, paid")
        self.wait(lambda: ctl.screen == "done" and ctl.receipt_state == "printed", "the receipt")
        self.shot("betaald-met-pin", "Booked only now: the Floreyn part and the bank card payment")
        ctl.back_to_idle()
        self.wait_screen("idle")

    def run(self, cashier_pin: str, manager_pin: str) -> None:
        ctl = self.ctl
        self.wait(lambda: ctl.merchant is not None and ctl.screen == "signin", "the till to start")
        self.shot("aanmelden", "Sign-in with the PIN pad")
        ctl.sign_in(cashier_pin)
        self.wait_screen("idle")
        self.shot("wacht-op-pas", "Waiting for a card (the 'Demopas' button lays a demo card on the reader)")
        self.present("anna")
        self.wait_screen("member")
        self.shot("lid-anna", "Anna's card: balance and budgets, live from the server")
        ctl.enter_amount()
        self.wait_screen("amount")
        self.type_amount("12,50")
        self.shot("bedrag", "Amount typed: fl 12,50")
        ctl.amount_action("spend", self.root.screen("amount").cents())
        self.wait(lambda: ctl.screen in ("source", "confirm") and not ctl.busy, "source or confirm")
        if ctl.screen == "source":
            self.shot("betaalbron", "Anna chooses what pays: a budget or her own balance")
            ctl.choose_source(None)
            self.wait_screen("confirm")
        self.shot("bevestigen", "Confirm the payment")
        ctl.confirm()
        self.wait(lambda: ctl.screen == "done" and ctl.receipt_state == "printed", "the receipt")
        self.shot("betaald", "Paid; the receipt is printed")
        ctl.back_to_idle()
        self.wait_screen("idle")
        self.present("fenna")
        self.wait_screen("member")
        ctl.enter_amount()
        self.wait_screen("amount")
        self.type_amount("20")
        ctl.amount_action("save", self.root.screen("amount").cents())
        self.wait_screen("confirm")
        self.shot("sparen-dubbel", "Saving on a \u20ac 20,00 purchase, doubled by the Zomermarkt campaign")
        ctl.confirm()
        self.wait(lambda: ctl.screen == "done" and ctl.receipt_state == "printed", "the receipt")
        self.shot("gespaard", "Saved")
        ctl.back_to_idle()
        self.wait_screen("idle")
        self.pay_rest_by_bank_card("eva")
        self.present("cees")
        self.wait_screen("refused")
        self.shot("pas-geblokkeerd", "A blocked card is refused: the whole screen says why and what to do")
        ctl.dismiss_refusal()
        self.wait_screen("idle")
        ctl.manager.open_manager()
        self.wait_screen("manager")
        self.shot("beheer", "The manager's menu")
        ctl.manager.open_status()
        self.wait_screen("status")
        self.pump(0.3)  # the overview (printer, sync) arrives from the worker
        self.shot("status", "Status: server, printer, pending uploads")
        ctl.manager.ask_day_close()
        self.wait_screen("dayclose")
        self.shot("dagafsluiting", "Day close: asks before it closes")
        self.close_day_with_managers_pin(manager_pin)
        self.wait(lambda: ctl.screen == "report" and "Dag" in ctl.report_text, "the Z-report")
        self.shot("z-rapport", "The Z-report, as printed")
        ctl.back_to_idle()
        self.wait_screen("idle")
        ctl.sign_out()
        self.wait(lambda: ctl.signout_armed, "sign-out armed")
        self.shot("afmelden-bevestigen", "Signing out takes a second, deliberate tap")
        self.pump(1.0)  # the second tap counts only after SIGNOUT_MIN_GAP_S
        ctl.sign_out()
        self.wait_screen("signin")

    def close_day_with_managers_pin(self, manager_pin: str) -> None:
        """The cashier closes the day: a manager types their PIN (a wrong one first: refused over the header)."""
        ctl = self.ctl
        ctl.manager.confirm_day_close()
        self.wait_screen("managerpin")
        screen = self.root.screen("managerpin")
        wrong = "0000" if manager_pin != "0000" else "1111"  # one wrong try: far from the lock-out (max_failures)
        for key in wrong:
            screen.on_pin_key(key)
        self.shot("pincode-beheerder", "Only a manager closes the day: a manager types their PIN")
        screen.submit()
        self.wait(lambda: bool(ctl.message) and not ctl.busy, "the wrong PIN refused")
        self.shot("pincode-beheerder-fout", "A wrong PIN is refused in the banner over the header: the keypad stays put")
        for key in manager_pin:
            screen.on_pin_key(key)
        screen.submit()

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m floreyn.terminal.app.tour")
    p.add_argument("--config", type=Path, required=True, help="terminal.toml of an enrolled terminal")
    p.add_argument("--out", type=Path, required=True, help="folder for the PNGs and index.json")
    p.add_argument("--pin", default="1234", help="a cashier's PIN")
    p.add_argument("--manager-pin", default="9999")
    args = p.parse_args(argv)
    from floreyn.terminal.config import load_config

    config = load_config(args.config)
    size = (config.display.width_px, config.display.height_px)  # the panel's, as terminal.toml says
    _environment(size)
    import kivy  # noqa: F401  (after the environment)
    from kivy.config import Config

    for option in Config.options("input"):  # no input devices: the tour makes every move itself
        Config.remove_option("input", option)
    from kivy.base import EventLoop
    from kivy.core.window import Window

    if Window is None:
        print("tour: Kivy could not open a window (libEGL/libGL/Mesa missing?)", file=sys.stderr)
        return 3
    from floreyn.terminal.app.app import build_root
    from floreyn.terminal.app.runtime import build_runtime

    Window.size = size
    EventLoop.ensure_window()
    args.out.mkdir(parents=True, exist_ok=True)
    runtime, relay = build_runtime(config, simulate=True)
    root = None
    try:
        root = build_root(runtime, relay, window=Window)
        Window.add_widget(root)
        root.ctl.start()
        tour = Tour(root, runtime, args.out)
        try:
            tour.run(args.pin, args.manager_pin)
        finally:
            (args.out / "index.json").write_text(json.dumps(tour.shots, indent=1, ensure_ascii=False) + "\n")
        print(json.dumps({"screenshots": len(tour.shots), "out": str(args.out)}))
    finally:
        if root is not None:
            root.ctl.stop()
            root.unlisten_keyboard()
        relay.attach(None)
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
