"""What the keypads have typed, as plain objects (no Kivy), so their rules are easy to test.

The amount keypad types like a calculator a shopkeeper knows: digits, one
decimal comma, at most two digits after it; backspace and clear. The text
becomes Money only through floreyn.money.parse_money, so the keypad and the
scripted till refuse exactly the same amounts.
"""

from __future__ import annotations

from floreyn.money import Currency, Money, parse_money

DECIMAL_KEY = ","
BACKSPACE_KEY = "back"
CLEAR_KEY = "clear"
MAX_WHOLE_DIGITS = 5  # 99.999: above the till's largest allowed amount, so the engine says why
MAX_FRACTION_DIGITS = 2
PIN_MAX_DIGITS = 12  # as floreyn.terminal.engine.auth accepts
PIN_MIN_DIGITS = 4


class AmountEntry:
    """Digits typed so far; `press` says whether the key was taken."""

    def __init__(self) -> None:
        self.whole = ""
        self.fraction: str | None = None  # None: no comma typed yet

    def press(self, key: str) -> bool:
        if key == BACKSPACE_KEY:
            return self.backspace()
        if key == CLEAR_KEY:
            self.clear()
            return True
        if key == DECIMAL_KEY:
            if self.fraction is not None:
                return False
            self.fraction = ""
            return True
        if len(key) != 1 or key not in "0123456789":
            raise ValueError(f"not a keypad key: {key!r}")
        if self.fraction is not None:
            if len(self.fraction) >= MAX_FRACTION_DIGITS:
                return False
            self.fraction += key
            return True
        if self.whole == "0":  # "07" is a slip for "7"
            self.whole = key
            return True
        if len(self.whole) >= MAX_WHOLE_DIGITS:
            return False
        self.whole += key
        return True

    def backspace(self) -> bool:
        if self.fraction:
            self.fraction = self.fraction[:-1]
        elif self.fraction is not None:
            self.fraction = None
        elif self.whole:
            self.whole = self.whole[:-1]
        else:
            return False
        return True

    def clear(self) -> None:
        self.whole, self.fraction = "", None

    @property
    def empty(self) -> bool:
        return not self.whole and self.fraction is None

    def text(self, mark: str = ",") -> str:
        """As typed, with the language's decimal mark ("12,5" or "12.5")."""
        out = self.whole or ("0" if self.fraction is not None else "")
        if self.fraction is not None:
            out += mark + self.fraction
        return out

    def cents(self) -> int | None:
        """The amount typed in cents, or None when nothing is typed."""
        if self.empty:
            return None
        return int(self.whole or "0") * 100 + int((self.fraction or "").ljust(2, "0"))

    def money(self, currency: Currency, *, max_cents: int | None = None) -> Money:
        """The amount as Money; raises the AmountError family (empty, zero, too large)."""
        if max_cents is None:
            return parse_money(self.text(","), currency)
        return parse_money(self.text(","), currency, max_cents=max_cents)


class PinEntry:
    """PIN digits typed so far; shown as dots, never as digits."""

    def __init__(self) -> None:
        self.digits = ""

    def press(self, key: str) -> bool:
        if key == BACKSPACE_KEY:
            if not self.digits:
                return False
            self.digits = self.digits[:-1]
            return True
        if key == CLEAR_KEY:
            self.digits = ""
            return True
        if len(key) != 1 or key not in "0123456789":
            raise ValueError(f"not a PIN key: {key!r}")
        if len(self.digits) >= PIN_MAX_DIGITS:
            return False
        self.digits += key
        return True

    @property
    def complete(self) -> bool:
        return len(self.digits) >= PIN_MIN_DIGITS

    def masked(self) -> str:
        return "\u25cf" * len(self.digits)

    def take(self) -> str:
        """The PIN, forgotten by the entry at once (it must not linger on screen or in memory)."""
        pin, self.digits = self.digits, ""
        return pin
