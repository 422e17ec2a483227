"""Keep the gettext catalogs in step with the code: extract, merge, compile.

    python -m floreyn.terminal.app.catalogs          # update both .po files and compile .mo
    python -m floreyn.terminal.app.catalogs --check  # exit 1 if anything is missing or stale (CI)

Only `tr._(<literal>)` (`self._` inside the Translator) is a translatable string; that is
the one spelling used in .py and .kv files, so a regular expression finds
them all without xgettext (which does not read .kv). The .mo writer is the
GNU format as Python's own Tools/i18n/msgfmt.py writes it, so no system
gettext package is needed to build the app.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from floreyn.pofile import mo_bytes, read_po, write_po

APP_DIR = Path(__file__).resolve().parent
LOCALE_DIR = APP_DIR / "locale"
DOMAIN = "floreyn"
LANGUAGES = ("nl", "en")
_CALL = re.compile(r"""\b(?:tr|self)\._\(\s*((?:"(?:[^"\\\n]|\\.)*")|(?:'(?:[^'\\\n]|\\.)*'))\s*\)""")
_MAX_MSGID_CHARS = 400  # a screen string longer than this is a paragraph that belongs in a document

COMMENT = "# Floreyn till: {lang} catalog. Edit msgstr lines; run python -m floreyn.terminal.app.catalogs."
HEADER = (
    "Project-Id-Version: floreyn-terminal\\n"
    "MIME-Version: 1.0\\n"
    "Content-Type: text/plain; charset=UTF-8\\n"
    "Content-Transfer-Encoding: 8bit\\n"
    "Language: {lang}\\n"
)


def sources() -> list[Path]:
    return sorted(p for p in APP_DIR.rglob("*") if p.suffix in (".py", ".kv") and p.name != "catalogs.py")


def extract() -> dict[str, list[str]]:
    """msgid -> places it is used ("file:line"), in order of first use."""
    found: dict[str, list[str]] = {}
    for path in sources():
        text = path.read_text(encoding="utf-8")
        for m in _CALL.finditer(text):
            msgid = ast.literal_eval(m.group(1))
            assert 0 < len(msgid) <= _MAX_MSGID_CHARS, f"{path}: msgid length {len(msgid)}"
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault(msgid, []).append(f"{path.relative_to(APP_DIR)}:{line}")
    return found


def paths(lang: str) -> tuple[Path, Path]:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


def problems() -> list[str]:
    """What is missing or stale; empty when the catalogs match the code."""
    used = extract()
    out = []
    for lang in LANGUAGES:
        po, mo = paths(lang)
        if not po.exists():
            out.append(f"{po} is missing")
            continue
        entries = read_po(po)
        for msgid in used:
            if not entries.get(msgid):
                out.append(f"{lang}: no translation for {msgid!r} ({used[msgid][0]})")
        for msgid in entries:
            if msgid and msgid not in used:
                out.append(f"{lang}: {msgid!r} is no longer used")
            elif msgid and entries[msgid] and _fields(msgid) != _fields(entries[msgid]):
                out.append(f"{lang}: placeholders differ in {msgid!r}")
        if not mo.exists() or mo.read_bytes() != mo_bytes(entries):
            out.append(f"{mo} is not compiled from {po.name}")
    return out


def _fields(s: str) -> set[str]:
    return set(re.findall(r"\{(\w*)[^}]*\}", s))


def update() -> None:
    used = extract()
    for lang in LANGUAGES:
        po, mo = paths(lang)
        old = read_po(po) if po.exists() else {}
        if lang == "en":  # the source language: msgstr = msgid unless someone improved it
            old = {m: old.get(m) or m for m in used} | {"": ""}
        write_po(po, lang, used, old, comment=COMMENT, header=HEADER)
        mo.write_bytes(mo_bytes(read_po(po)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--check" not in argv:
        update()
    found = problems()
    for p in found:
        print(p)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
