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

import re
from pathlib import Path
from typing import Final

from floreyn.pofile import CatalogSet, extract_calls, mo_bytes, read_po, write_po  # noqa: F401  # the tests reach them here

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
    return extract_calls(sources(), _CALL, APP_DIR, _MAX_MSGID_CHARS)


CATALOGS: Final = CatalogSet(LOCALE_DIR, DOMAIN, LANGUAGES, COMMENT, HEADER, extract)
paths = CATALOGS.paths
problems = CATALOGS.problems
update = CATALOGS.update
main = CATALOGS.main


if __name__ == "__main__":
    raise SystemExit(main())
