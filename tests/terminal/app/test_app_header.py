"""A till that is offline all day still shows, in its header, who works it and whether the reader works.

Before: the offline warning ("Offline: geen server ingesteld.") was a banner laid over the whole header
(so that it moves no key), and being offline lasts: a market stall never saw its operator or "Lezer: niet
beschikbaar" all day. Now the lasting sync state is a chip inside the header (its full wording on a tap)
and the banner is for what passes: refusals, and the card on the reader. The card's banner lasts the whole
sale, so it has its own line under the header (over it, it hid the header and took the chip's taps). Driven
by touches at both panel sizes, with the reader unplugged; screenshots in the artifacts folder.
"""
from dataclasses import replace

import pytest
from kivy.uix.label import Label

from floreyn import keys
from floreyn.terminal import demo_setup
from floreyn.terminal.app.widgets import Banner
from floreyn.terminal.clock import SystemClock
from floreyn.terminal.config import ServerConfig
from floreyn.terminal.drivers.base import ReaderState
from floreyn.terminal.drivers.virtual import VirtualPrinter
from floreyn.terminal.engine.build import build_engine
from support import kivy_env, net
from till_ui import TillUITest

pytestmark = pytest.mark.ui

UNPLUGGED = (ReaderState.UNAVAILABLE, "Geen kaartlezer gevonden: steek hem in een USB-poort.")


def rendered(label) -> str:
    """What a label shows once drawn: a shortened text ends in "..." where the full one did not."""
    label.texture_update()
    lines = [" ".join(w.text for w in line.words).strip() for line in label._label._cached_lines]
    return " ".join(" ".join(lines).split())


def overlaps(a, b) -> bool:
    (ax, ay), (bx, by) = a.to_window(a.x, a.y), b.to_window(b.x, b.y)
    return ax < bx + b.width and bx < ax + a.width and ay < by + b.height and by < ay + a.height


class HeaderWalk(TillUITest):
    __test__ = False
    world = "no-server"  # in the screenshots' names
    chip_words = "Offline"  # no server configured, or one that does not answer: the same word, the tap tells which
    full_words = "Offline: geen server ingesteld."

    def assert_readable(self, label, words: str) -> None:
        """`words` in `label`, drawn whole (not shortened), visible and under no banner."""
        self.assertIn(words, label.text)
        self.assertGreater(label.opacity, 0)
        self.assertEqual(rendered(label), " ".join(label.text.split()), f"{self.size_tag}: {label.text!r} cut short")
        for banner in self.banners():
            self.assertFalse(banner.text and overlaps(banner, label),
                             f"{self.size_tag}: the banner {banner.text!r} covers {label.text!r}")

    def banners(self) -> list[Banner]:
        """Every banner on the root (found by type: where the app lays each one does not matter)."""
        return [w for w in self.root.walk(restrict=True) if isinstance(w, Banner)]

    def card_banner(self) -> str:
        return "Offline limiet"

    def header_label(self, words: str):
        """The header's label that shows `words` (found by its text: how the header is built does not matter)."""
        found = [w for w in self.root.ids.header.walk(restrict=True) if isinstance(w, Label) and words in w.text]
        self.assertEqual(len(found), 1, f"{self.size_tag}: {len(found)} header labels with {words!r}")
        return found[0]

    def wait_offline(self) -> None:
        """Until the till knows it is offline (its first overview): whatever shows it is on screen by then."""
        self.wait(lambda: self.ctl.overview is not None and self.ctl.overview.status.online is not True,
                  what="the till offline")

    def assert_header_readable(self) -> None:
        self.assert_readable(self.header_label("Kassa"), "Kassa")
        self.assert_readable(self.header_label("Lezer:"), "Lezer: niet beschikbaar")
        self.assertEqual(self.header_overflow(), [])
        self.assert_readable(self.root.ids.sync, self.chip_words)

    def test_offline_the_header_shows_the_operator_and_the_reader(self):
        self.sign_in()
        self.reader_reports(*UNPLUGGED)
        self.wait_offline()
        self.assert_header_readable()
        self.assertEqual(self.banner(), "")  # a lasting state is no banner
        self.shot(f"header-{self.world}-reader-unplugged")
        self.tap(self.root.ids.sync)  # the chip says it in full on a tap
        self.assertEqual(self.banner(), self.full_words)
        self.shot(f"header-{self.world}-explained")
        self.tap(self.root.ids.banner)  # and a tap puts that away again
        self.assertEqual(self.banner(), "")
        self.present("anna")  # a card's offline limit is a banner while the card is there...
        self.wait_screen("member")
        self.assertIn(self.card_banner(), self.banner())
        self.tap(self.screen().ids.cancel)
        self.wait_screen("idle")
        self.assertEqual(self.banner(), "")  # ... and goes with it
        self.assert_header_readable()

    def test_a_cards_banner_leaves_the_header_visible_and_its_buttons_touchable(self):
        """Issue 17: a card's banner (its offline limit) lasts the whole sale. Laid over the header it hid the
        operator, the sync chip and the reader for as long, and took the taps meant for the chip."""
        self.sign_in()
        self.reader_reports(*UNPLUGGED)
        self.wait_offline()
        self.present("anna")
        self.wait_screen("member")
        self.wait(lambda: any(self.card_banner() in b.text for b in self.banners()), what="the card's banner")
        self.pump(0.1)  # a layout pass with the banner in place
        [banner] = [b for b in self.banners() if self.card_banner() in b.text]
        self.assertGreater(banner.height, 0)
        header = [w for w in self.root.ids.header.children if w.opacity > 0 and w.width > 1]
        self.assertGreaterEqual(len(header), 4)  # the shop, the operator, the chip, the reader (and the demo card)
        for w in [*header, *self.buttons()]:
            self.assertFalse(overlaps(banner, w), f"{self.size_tag}: the banner covers {getattr(w, 'text', w)!r}")
            self.assertFalse(banner.collide_point(*banner.to_widget(*w.to_window(*w.center))))
        self.assert_header_readable()
        self.shot(f"header-{self.world}-card-banner")
        self.tap(self.root.ids.sync)  # the chip takes the tap: its full wording
        self.assertEqual(self.banner(), self.full_words)
        self.assertIn(self.card_banner(), banner.text)  # the card's banner stays while the card is there
        self.tap(self.screen().ids.cancel)  # and the screen's buttons take theirs
        self.wait_screen("idle")

    def test_in_english_too(self):
        self.sign_in()
        self.reader_reports(*UNPLUGGED)
        self.wait_offline()
        self.tap_text("English")
        self.wait(lambda: self.ctl.lang == "en", what="the English header")
        self.assert_readable(self.header_label("Kassa"), "Kassa")
        self.assert_readable(self.header_label("Reader:"), "Reader: not available")
        self.assert_readable(self.root.ids.sync, self.root.ids.sync.text)
        self.shot(f"header-{self.world}-english")


class LongNames(TillUITest):
    """A long operator's name and the longest reader state: the header still fits its box, the shop's name
    gives way first, and the operator's name and the chip stay on it."""

    __test__ = False
    long_name = "Marie-Louise van den Bergh-Achterberg"

    def configure(self, config):
        operators = tuple(replace(op, name=self.long_name) if op.name == "Kassa" else op for op in config.operators)
        return replace(config, operators=operators)

    def test_the_header_fits_whatever_the_names(self):
        self.sign_in()
        self.reader_reports(ReaderState.RECONNECTING)
        self.wait(lambda: self.ctl.overview is not None, what="the till's state")
        self.assertEqual(self.header_overflow(), [])
        operator, reader, sync = self.root.ids.operator, self.root.ids.reader, self.root.ids.sync
        self.assertTrue(rendered(operator).startswith("\u00b7 Marie"), rendered(operator))
        self.assertEqual(rendered(sync), "Offline")
        self.assertTrue(rendered(reader).startswith("Lezer: maakt"), rendered(reader))
        self.assertEqual(self.banner(), "")
        self.shot("header-long-names")


class TestLongNames800(LongNames):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestLongNames1024(LongNames):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]


class TestHeader800(HeaderWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestHeader1024(HeaderWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]


class ReceivedEarlier(SystemClock):
    """The system clock `ago_s` back: a snapshot stored through it arrived that long ago, in this boot."""

    def __init__(self, ago_s: float) -> None:
        super().__init__()
        self.ago_ms = round(ago_s * 1000)

    def monotonic_ms(self) -> int:
        return super().monotonic_ms() - self.ago_ms

    def wall_ms(self) -> int:
        return super().wall_ms() - self.ago_ms


class ServerAway(HeaderWalk):
    """A server is configured but nothing listens at its address: "Offline", and the longer sentence."""

    __test__ = False
    world = "server-away"
    full_words = "Offline: geen verbinding met de server. Betalen met de pas kan nog, tot een vast bedrag."
    snapshot_age_s = 600.0  # the last sync brought the server's data 10 minutes ago

    def configure(self, config):
        server_key = demo_setup.demo_server_key().public_key()
        config = replace(config, server=ServerConfig(f"http://127.0.0.1:{net.free_port()}",
                                                     keys.public_raw(server_key).hex(), sync_interval_s=1.0))
        clock = ReceivedEarlier(self.snapshot_age_s)
        engine = build_engine(config, VirtualPrinter(), clock=clock)  # the snapshot a past sync left
        try:
            data, sig = demo_setup.signed_demo_snapshot(config.terminal_id, clock.wall_ms())
            engine.store.store_signed_snapshot(data, sig, server_key)
        finally:
            engine.store.close()
        return config


class StaleData(ServerAway):
    """Offline for more than a day: the server's data is too old for offline payments. The chip turns red
    and says so; a card on the reader gets its refusal in the banner while it lies there."""

    __test__ = False
    world = "stale-data"
    chip_words = "Data te oud"
    full_words = "De gegevens van de server zijn te oud: offline betalen kan niet. Sparen kan wel."
    snapshot_age_s = 25 * 3600.0  # OfflineLimits.max_snapshot_age_s is a day

    def test_offline_the_header_shows_the_operator_and_the_reader(self):
        super().test_offline_the_header_shows_the_operator_and_the_reader()
        self.assertEqual(self.root.ids.sync.level, "error")

    def card_banner(self) -> str:
        return "uur oud"


class TestServerAway800(ServerAway):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestServerAway1024(ServerAway):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]


class TestStaleData800(StaleData):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestStaleData1024(StaleData):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]
