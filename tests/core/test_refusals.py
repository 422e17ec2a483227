"""Every refusal class's words are in the refusal catalogs (floreyn/refusals.py), in each language."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import floreyn
from floreyn import refusals
from floreyn.errors import FloreynError
from floreyn.pofile import read_po


def all_refusal_classes() -> list[type[FloreynError]]:
    for info in pkgutil.walk_packages(floreyn.__path__, "floreyn."):
        if ".migrations." not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    out, todo = [], [FloreynError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return [c for c in set(out) if c.__module__.startswith("floreyn")]


def test_the_catalogs_match_the_classes():
    assert refusals.CATALOGS.problems() == []


@pytest.mark.parametrize("lang", refusals.LANGUAGES)
def test_every_refusal_class_has_a_translation_in_each_catalog(lang):
    entries = read_po(refusals.CATALOGS.paths(lang)[0])
    classes = all_refusal_classes()
    assert len(classes) > 100
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes if not entries.get(c.msgid))
    assert not missing, f"no {lang} translation (run python -m floreyn.refusals, then fill in msgstr): {missing}"
    assert not [c for c in classes if "nl" in vars(c) or "en" in vars(c)], "wording belongs in the catalogs"


def test_the_dutch_is_what_people_read():
    from floreyn.money import AmountTooLarge, Currency
    assert AmountTooLarge(max_cents=1_000_000, currency=Currency.EUR).message("nl") == "Bedrag te hoog: maximaal € 10.000,00."
    assert refusals.translate(FloreynError.msgid, "nl") == "Er ging iets mis."



def test_an_empty_text_stays_empty():
    assert refusals.translate("", "nl") == ""
