"""Keep the portal's gettext catalogs in step with its templates and code: extract, merge, compile.

    python -m floreyn.server.portal.catalogs          # update both .po files and compile .mo
    python -m floreyn.server.portal.catalogs --check  # exit 1 if anything is missing or stale (tests run it)

Translatable: `_("...")` in templates/*.html and in the portal's .py files
(`web._(lang, "...")`), and `N_("...")` for words chosen at run time (kinds,
statuses). Msgids are English; Dutch is the default language of the pages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from floreyn.pofile import CatalogSet, extract_calls

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
    return extract_calls(sources(), _CALL, HERE)


CATALOGS: Final = CatalogSet(LOCALE_DIR, DOMAIN, LANGUAGES, COMMENT, HEADER, extract)
paths = CATALOGS.paths
problems = CATALOGS.problems
update = CATALOGS.update
main = CATALOGS.main


if __name__ == "__main__":
    raise SystemExit(main())
