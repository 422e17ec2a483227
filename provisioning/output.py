"""What the tool prints: a readable table by default, JSON with --json; progress and errors on stderr.

stdout carries only the result (one JSON document with --json), so a script
can pipe it; progress lines ("kaart 7 van 40 ...") and warnings go to
stderr. An error is one line on stderr: the message, or with --json a JSON
object {"error", "message", "exit_code", ...}.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import IO, Any, Callable, Final, Mapping, Sequence

from floreyn.errors import FloreynError
from floreyn.money import Money, format_money

# A value as JSON carries it (json_value's answer).
JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]
MAX_CELL: int = 60  # a wider value is cut in the table (never in JSON)


def fl(cents: object) -> str:
    return format_money(Money.fl(int(cents))) if isinstance(cents, int) else ""


def eur(cents: object) -> str:
    return format_money(Money.eur(int(cents))) if isinstance(cents, int) else ""


def pct(bp: object) -> str:
    if not isinstance(bp, int):
        return ""
    whole, frac = divmod(bp, 100)
    return f"{whole},{frac:02d} %" if frac else f"{whole} %"


def factor(bp: object) -> str:
    if not isinstance(bp, int):
        return ""
    whole, frac = divmod(bp, 10_000)
    return f"x{whole}" + (f",{frac:04d}".rstrip("0") if frac else "")


def yes(value: object) -> str:
    return "ja" if value else "nee"


# What the server answers in English ("created") as the Dutch tables print it; JSON keeps the server's word.
WORDS_NL: Final = {
    "created": "nieuw",
    "exists": "bestond al",
    "skipped": "overgeslagen",
    "updated": "gewijzigd",
    "unchanged": "ongewijzigd",
    "ended": "beëindigd",
    "erased": "gewist",
    "active": "actief",
    "blocked": "geblokkeerd",
    "replaced": "vervangen",
    "added": "toegevoegd",
    "present": "al aanwezig",
    "spent": "opgemaakt",
    "expired": "verlopen",
}


def word(value: object) -> str:
    """A server's status word in Dutch (unknown words as they are)."""
    return WORDS_NL.get(str(value), "" if value is None else str(value))


def json_value(value: object) -> JSON:
    """A parameter as JSON carries it: numbers, lists and objects as themselves, anything else as text."""
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def listed(value: object) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else ""


@dataclass(frozen=True)
class Col:
    header: str
    key: str
    fmt: Callable[[Any], str] | None = None  # Any: each column formats the one type its key holds
    right: bool = False

    def cell(self, row: Mapping[str, object]) -> str:
        value: object = row
        for part in self.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        text = self.fmt(value) if self.fmt else ("" if value is None else str(value))
        return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def money_col(header: str, key: str, kind: str = "fl") -> Col:
    return Col(header, key, fl if kind == "fl" else eur, right=True)


def table(rows: Sequence[Mapping[str, object]], cols: Sequence[Col]) -> str:
    cells = [[c.cell(r) for c in cols] for r in rows]
    widths = [max([len(c.header)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if c.right else v.ljust(w) for v, w, c in zip(values, widths, cols, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line([c.header for c in cols]), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out) + "\n"


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """A single object as 'label: value' lines."""
    width = max((len(k) for k, _ in pairs), default=0)
    return "".join(f"{k.ljust(width)}  {v}\n" for k, v in pairs)


class Output:
    def __init__(self, stdout: IO[str], stderr: IO[str], *, json_mode: bool, lang: str = "nl") -> None:
        self.stdout, self.stderr = stdout, stderr
        self.json_mode = json_mode
        self.lang = lang

    def result(self, data: object, text: str | Callable[[], str]) -> None:
        """The command's result: `data` as JSON, or `text` (or what it returns) for people."""
        if self.json_mode:
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        else:
            self.stdout.write(text() if callable(text) else text)
        self.stdout.flush()

    def progress(self, message: str) -> None:
        self.stderr.write(message + "\n")
        self.stderr.flush()

    def warn(self, message: str) -> None:
        self.stderr.write(("waarschuwing: " if self.lang == "nl" else "warning: ") + message + "\n")
        self.stderr.flush()

    def say(self, nl: str, en: str) -> str:
        return nl if self.lang == "nl" else en

    def error(self, exc: FloreynError, exit_code: int) -> None:
        if self.json_mode:
            refusal = exc.to_dict()
            body = {**refusal, "exit_code": exit_code,
                    "params": {**refusal["params"], **{k: json_value(v) for k, v in exc.params.items()}}}
            self.stderr.write(json.dumps(body, ensure_ascii=False) + "\n")
        else:
            self.stderr.write(("fout: " if self.lang == "nl" else "error: ") + exc.message(self.lang) + "\n")
        self.stderr.flush()
