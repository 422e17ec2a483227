"""Language at the till: gettext catalogs, Dutch by default, switchable while running.

Source strings (msgids) are English, as gettext expects; the Dutch catalog
translates every one of them and is what the till shows unless the
shopkeeper picks English. Catalogs live in locale/<lang>/LC_MESSAGES/
floreyn.po (edited) and floreyn.mo (compiled by `catalogs.py`).

In .kv files a string is written `tr._(<English text>)`. `tr` is a kivy Observable:
kv binds every such rule to `tr`'s `_` attribute, so `tr.switch("en")`
re-evaluates each rule and the whole screen changes language at once.
Python code that builds text calls `tr._(...)` when it builds it and listens
with `tr.on_switch(callback)` to build it again.

Refusals from the engine (FloreynError) name an English msgid whose words live in
the refusal catalogs (floreyn/refusals.py): `error_text(err)` translates it into
the current language.
"""

from __future__ import annotations

import datetime as dt
import gettext
import weakref
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from kivy.event import Observable

from floreyn.errors import FloreynError
from floreyn.money import Money, format_money

DOMAIN = "floreyn"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
NBSP = "\u00a0"  # Kivy wraps at plain spaces only
DEFAULT_ZONE = "Europe/Amsterdam"  # TerminalConfig.timezone's default; build_root sets the configured one
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}  # each in its own language: not translated
_MAX_OBSERVERS = 20_000  # kv rules bound to `_`: a screen has a few dozen; far more means a leak


def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog for `lang`. English has a catalog too, so both paths are exercised.

    No fallback: a missing .mo is a packaging bug that must fail loudly, not
    show English to a Dutch shopkeeper.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; choose from {LANGUAGES}")
    return gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[lang])


class Translator(Observable):
    """`tr._(msgid)` in the current language; kv rules using it follow `switch()`."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        super().__init__()
        self._observers: dict[int, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = {}
        self._next_uid = 1
        self._listeners: list[Any] = []  # weak refs to bound methods, or plain callables
        self._catalogs = {code: catalog(code) for code in LANGUAGES}
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.zone = ZoneInfo(DEFAULT_ZONE)
        self._gettext = self._catalogs[self.lang].gettext

    def _(self, msgid: str) -> str:
        return self._gettext(msgid)

    def switch(self, lang: str) -> None:
        """Change the language of every screen now."""
        if lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}")
        if lang == self.lang:
            return
        self.lang = lang
        self._gettext = self._catalogs[lang].gettext
        for uid, (func, largs, kwargs) in list(self._observers.items()):
            try:
                func(*largs, None, None, **kwargs)
            except ReferenceError:  # the widget of that rule is gone
                self._observers.pop(uid, None)
        for ref in list(self._listeners):
            listener = ref() if isinstance(ref, weakref.WeakMethod) else ref
            if listener is None:  # its widget is gone
                self._listeners.remove(ref)
            else:
                listener(lang)

    def on_switch(self, listener: Callable[[str], None]) -> None:
        """Call `listener(lang)` after each switch. A bound method is held weakly (widgets come and go)."""
        self._listeners.append(weakref.WeakMethod(listener) if hasattr(listener, "__self__") else listener)

    # -- the kivy Observable protocol, for kv rules that read `tr._` ---------------------------

    def fbind(self, name: str, func: Callable[..., Any], *largs: Any, **kwargs: Any) -> int:
        # Any attribute a kv rule reads (`tr._`, `tr.money`) depends on the language alone.
        if len(self._observers) >= _MAX_OBSERVERS:
            self._drop_dead()
        uid = self._next_uid
        self._next_uid += 1
        self._observers[uid] = (func, largs, kwargs)
        return uid

    def funbind(self, name: str, func: Callable[..., Any], *largs: Any, **kwargs: Any) -> None:
        for uid, entry in list(self._observers.items()):
            if entry == (func, largs, kwargs):
                del self._observers[uid]
                return

    def unbind_uid(self, name: str, uid: int) -> None:
        self._observers.pop(uid, None)

    def _drop_dead(self) -> None:
        """Forget rules whose widgets were collected (kv does not always unbind them)."""
        for uid, (_func, largs, _kwargs) in list(self._observers.items()):
            element = largs[0][0] if largs and isinstance(largs[0], (list, tuple)) and largs[0] else None
            try:
                if element is not None:
                    _ = element.uid  # a dead proxy raises ReferenceError
            except ReferenceError:
                del self._observers[uid]
        if len(self._observers) >= _MAX_OBSERVERS:
            raise RuntimeError("too many translated kv rules alive: widgets are leaking")

    @property
    def observer_count(self) -> int:
        return len(self._observers)

    # -- formatting in the current language ------------------------------------------------------

    def money(self, amount: Money) -> str:
        """An amount that never breaks over two lines on screen ("fl" and "12,50" joined by a no-break space)."""
        return format_money(amount, self.lang).replace(" ", NBSP)

    def set_zone(self, name: str) -> None:
        """The cooperative's time zone (terminal.toml `timezone`, as the receipts use): every time on screen."""
        self.zone = ZoneInfo(name)

    def local(self, wall_ms: int) -> dt.datetime:
        """A wall-clock moment in the cooperative's time zone, never the machine's."""
        return dt.datetime.fromtimestamp(wall_ms / 1000, self.zone)

    def error_text(self, error: BaseException) -> str:
        if isinstance(error, FloreynError):
            return error.message(self.lang)
        return self._("Unexpected error: {detail}").format(detail=type(error).__name__)


tr = Translator()
"""The app's one translator; kv files import it with `#:import tr floreyn.terminal.app.i18n.tr`."""
