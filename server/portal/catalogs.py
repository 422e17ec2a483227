"""Keep the portal's gettext catalogs in step with its templates and code: extract, merge, compile.

    python -m floreyn.server.portal.catalogs          # update both .po files and compile .mo
    python -m floreyn.server.portal.catalogs --check  # exit 1 if anything is missing or stale (tests run it)

Translatable: `_("...")` in templates/*.html and in the portal's .py files
(`web._(lang, "...")`), and `N_("...")` for words chosen at run time (kinds,
statuses). Msgids are English; Dutch is the default language of the pages.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Final

from floreyn.pofile import mo_bytes, read_po, write_po

HERE: Final = Path(__file__).resolve().parent
LOCALE_DIR: Final = HERE / "locale"
DOMAIN: Final = "portal"
LANGUAGES: Final = ("nl", "en")
_CALL: Final = re.compile(r"""\bN?_\(\s*(?:[\w.]+\s*,\s*)?((?:"(?:[^"\\\n]|\\.)*")|(?:'(?:[^'\\\n]|\\.)*'))""")
COMMENT: Final = "# Floreyn portal: {lang} catalog. Edit msgstr lines; run python -m floreyn.server.portal.catalogs."
HEADER: Final = ("Project-Id-Version: floreyn-portal\\n" "MIME-Version: 1.0\\n"
                 "Content-Type: text/plain; charset=UTF-8\\n" "Content-Transfer-Encoding: 8bit\\n" "Language: {lang}\\n")


def sources() -> list[Path]:
    return sorted(p for p in HERE.rglob("*") if (p.suffix == ".html" or (p.suffix == ".py" and p.name != "catalogs.py")))


def extract() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sources():
        text = path.read_text(encoding="utf-8")
        for m in _CALL.finditer(text):
            msgid = ast.literal_eval(m.group(1))
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault(msgid, []).append(f"{path.relative_to(HERE)}:{line}")
    return found


def paths(lang: str) -> tuple[Path, Path]:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


def _fields(s: str) -> set[str]:
    return set(re.findall(r"\{(\w*)[^}]*\}", s))


def problems() -> list[str]:
    used = extract()
    out = []
    for lang in LANGUAGES:
        po, mo = paths(lang)
        if not po.exists():
            out.append(f"{po} is missing")
            continue
        entries = read_po(po)
        out += [f"{lang}: no translation for {m!r} ({used[m][0]})" for m in used if not entries.get(m)]
        out += [f"{lang}: {m!r} is no longer used" for m in entries if m and m not in used]
        out += [f"{lang}: placeholders differ in {m!r}" for m in entries
                if m and entries[m] and m in used and _fields(m) != _fields(entries[m])]
        if not mo.exists() or mo.read_bytes() != mo_bytes(entries):
            out.append(f"{mo} is not compiled from {po.name}")
    return out


def update() -> None:
    used = extract()
    for lang in LANGUAGES:
        po, mo = paths(lang)
        old = read_po(po) if po.exists() else {}
        if lang == "en":
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
