"""The words of every refusal, in gettext catalogs: each FloreynError class names one English msgid.

    python -m floreyn.refusals          # update both .po files from the classes and compile .mo
    python -m floreyn.refusals --check  # exit 1 if a class has no translation or a catalog is stale

One catalog for the refusals of every part (core, sync, till, server, desk): a refusal raised in one
part is shown by another (the server's JSON, the till's screen, the portal, the desk's terminal), so
its Dutch lives in one place. Edges translate with `FloreynError.message(lang)`; msgids are English,
like the till's and the portal's catalogs (floreyn/pofile.py), and the Dutch catalog is what people read.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path
from typing import Final

from floreyn.pofile import CatalogSet, extract_call_args, extract_class_attrs

HERE: Final = Path(__file__).resolve().parent
LOCALE_DIR: Final = HERE / "locale"
DOMAIN: Final = "refusals"
LANGUAGES: Final = ("nl", "en")
COMMENT: Final = "# Floreyn refusals: {lang} catalog. Edit msgstr lines; run python -m floreyn.refusals."
HEADER: Final = ("Project-Id-Version: floreyn-refusals\\n" "MIME-Version: 1.0\\n"
                 "Content-Type: text/plain; charset=UTF-8\\n" "Content-Transfer-Encoding: 8bit\\n" "Language: {lang}\\n")


def sources() -> list[Path]:
    """Every module of the package, the role folders included (floreyn/terminal etc. are links in a checkout)."""
    return sorted(Path(folder, name) for folder, _dirs, files in os.walk(HERE, followlinks=True)
                  for name in files if name.endswith(".py") and "__pycache__" not in folder)


# Helpers that word a refusal from a msgid given at the call (the desk tool's, floreyn/provisioning/errors.py and
# its csvin and context): the call, as xgettext's --keyword names it, -> position of the msgid argument. A bare
# name is a plain function call; the desk's methods are named with the variables that hold their objects
# (a csvin.Checked is `checked` or `bad`, a context.Ctx is `ctx`; tests/core/test_refusals.py checks that every
# such variable in the desk tool has one of these names), so a set's or a session's `.add("...")` is not a msgid.
RECEIVERS: Final = {"Checked": ("checked", "bad"), "Ctx": ("ctx",)}
MSGID_ARGS: Final = {"local": 0, "invalid": 1, "worded": 1,
                     **{f"{name}.add": 1 for name in RECEIVERS["Checked"]},
                     **{f"{name}.confirm": 0 for name in RECEIVERS["Ctx"]}}


def extract() -> dict[str, list[str]]:
    found = extract_class_attrs(sources(), ("msgid", "REASONS", "FALLBACK", "WORDS"), HERE)
    for msgid, places in extract_call_args(sources(), MSGID_ARGS, HERE).items():
        found.setdefault(msgid, []).extend(places)
    return found


@functools.cache
def _catalog(lang: str) -> gettext.NullTranslations:
    """No fallback: a missing .mo is a packaging bug that must fail loudly, not show English to a Dutch reader."""
    return gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[lang])


def translate(msgid: str, lang: str) -> str:
    """`msgid` in `lang` ("nl" or "en"; any other language gets the English msgid). "" stays "" (gettext
    would answer the catalog's header)."""
    return _catalog(lang).gettext(msgid) if msgid and lang in LANGUAGES else msgid


CATALOGS: Final = CatalogSet(LOCALE_DIR, DOMAIN, LANGUAGES, COMMENT, HEADER, extract)


if __name__ == "__main__":
    raise SystemExit(CATALOGS.main())
