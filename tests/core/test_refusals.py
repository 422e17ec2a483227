"""Every refusal class's words are in the refusal catalogs (floreyn/refusals.py), in each language."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

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


# -- no refusal worded inline: Dutch and English literals side by side at a raise ---------------------------

# What still takes or passes a Dutch and an English text written out by its caller; each is to move to catalog
# msgids like the till's did (not_writable, OnlineUnavailable.no_server, SnapshotStale's age) and the server's
# BudgetNotUsable. The list may only shrink: a new helper or a new literal pair fails the test below, and so
# does a moved one left on the list.
INLINE_PAIRS_LEFT = {
    "provisioning/output.py:say",  # the desk's output, not a refusal
}


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _inline_pairs(path: Path, rel: str) -> list[str]:
    """Functions taking (nl, en) texts, and calls passing literal `X=` / `X_nl=` beside `X_en=` texts."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = {a.arg for a in node.args.args + node.args.kwonlyargs}
            paired = {n[:-3] for n in names if n.endswith("_en")} & ({n[:-3] for n in names if n.endswith("_nl")} | names)
            if paired or {"nl", "en"} <= names:
                found.append(f"{rel}:{node.name}")
        elif isinstance(node, ast.Call):
            texts = {k.arg for k in node.keywords if k.arg and _is_text(k.value)}
            pairs = {n[:-3] for n in texts if n.endswith("_en")} & ({n[:-3] for n in texts if n.endswith("_nl")} | texts)
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "?")
            found += [f"{rel}:{callee}({pair})" for pair in pairs]
    return found


def test_no_refusal_is_worded_inline_in_dutch_and_english():
    """Every refusal's words come from the catalogs: no `not_writable(nl, en)`-style helper, no literal pairs."""
    found = [hit for path in refusals.sources() for hit in _inline_pairs(path, str(path.relative_to(refusals.HERE)))]
    assert sorted(set(found) - INLINE_PAIRS_LEFT) == []
    assert sorted(INLINE_PAIRS_LEFT - set(found)) == [], "moved to the catalogs: drop it from INLINE_PAIRS_LEFT"


def test_the_till_refusals_once_worded_inline_read_as_before():
    from floreyn.terminal.engine.errors import OnlineUnavailable, SnapshotStale
    from floreyn.terminal.engine.trail import CardNotWritable
    assert OnlineUnavailable.no_server().message("nl") == "Geen verbinding met de server: geen server ingesteld"
    assert SnapshotStale.of(None).params["age"] == "onbekend (herstart zonder verbinding)"
    assert [SnapshotStale.of(s).params["age"] for s in (600, 5400)] == ["10 min", "1,5 uur"]
    assert [SnapshotStale.of(s).params["age_en"] for s in (600, 5400)] == ["10 min", "1.5 h"]
    assert CardNotWritable(why="no_writer").params["reason"] == "de lezer kan niet schrijven"
    assert CardNotWritable(why="no_trail").message("en").startswith(
        "Card cannot be updated (old card without a trail; have it replaced)")


def test_the_server_budget_refusal_reads_as_before():
    from floreyn.server.payments import BudgetNotUsable
    refused = BudgetNotUsable.because("Groente", "wrong_category", category="kapper")
    assert refused.message("nl") == "Het budget Groente kan hiervoor niet gebruikt worden: niet voor de categorie kapper."
    assert refused.params["why_en"] == "not for the category kapper"


def test_the_desk_refusals_once_worded_inline_read_as_before():
    from floreyn.money import Currency
    from floreyn.provisioning.csvin import Checked
    from floreyn.provisioning.errors import invalid, local, worded
    assert "at most {max_batch} cards at a time" in refusals.extract()  # picked up from the call, like _()
    refused = invalid("--batch", "at most {max_batch} cards at a time", max_batch=50)
    assert refused.params["problem_nl"] == "hoogstens 50 kaarten per keer"
    assert refused.params["problem_en"] == "at most 50 cards at a time"
    assert local("{path} holds no token", path="t").message("nl") == "t bevat geen token"
    assert worded("message", "{what} {who} does not exist", what_nl="lid", what_en="member", who="M1") == {
        "message_nl": "lid M1 bestaat niet", "message_en": "member M1 does not exist"}
    checked = Checked(Path("x.csv"))
    checked.add(3, "funder {funder} holds {held}, the rows need {need}", funder="F", held_cents=1000, need_cents=123450,
                currency=Currency.FL)
    assert checked.problems == [(3, "fonds F heeft fl 10,00, de regels vragen fl 1.234,50",
                                 "funder F holds fl 10.00, the rows need fl 1,234.50")]


# -- the desk's msgid calls are matched by receiver, as xgettext's --keyword=receiver.method would ----------


def test_only_the_named_calls_give_msgids(tmp_path):
    from floreyn.pofile import extract_call_args
    source = tmp_path / "m.py"
    source.write_text(
        'seen = set()\nseen.add("not a msgid: a set")\nsession.add("nor an ORM session")\nself.checked.add(1, "nor this")\n'
        'tr.local("nor a method named like a helper")\nctx.add(1, "nor the wrong method on a named receiver")\n'
        'checked.add(3, "a bad line {n}", n=1)\nbad.add(4, "another bad line")\nctx.confirm("Sure?", "--yes")\n'
        'local("{path} is missing", path="p")\n')
    found = extract_call_args([source], refusals.MSGID_ARGS, tmp_path)
    assert sorted(found) == ["Sure?", "a bad line {n}", "another bad line", "{path} is missing"]
    assert found["a bad line {n}"] == ["m.py:7"]


def _desk_bindings(tree: ast.AST, type_name: str) -> set[str]:
    """Names the desk tool binds to a `type_name`: annotated parameters and variables, `x = Checked(...)` and
    `x = file.checked` (a CsvFile's own Checked)."""
    def is_type(node: ast.expr | None) -> bool:
        return node is not None and ast.unparse(node).split(".")[-1].strip("'\"") == type_name
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and is_type(node.annotation):
            names.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and is_type(node.annotation):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call | ast.Attribute):
            made = isinstance(node.value, ast.Call) and is_type(node.value.func)
            kept = type_name == "Checked" and isinstance(node.value, ast.Attribute) and node.value.attr == "checked"
            if made or kept:
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


@pytest.mark.parametrize("type_name", sorted(refusals.RECEIVERS))
def test_every_desk_variable_holding_a_msgid_helper_is_a_named_receiver(type_name):
    """A Checked or Ctx under another name would have its msgids missed by the catalog (and shown in English)."""
    desk = refusals.HERE / "provisioning"
    names = set().union(*(_desk_bindings(ast.parse(p.read_text(encoding="utf-8")), type_name)
                          for p in sorted(desk.glob("*.py"))))
    assert names, f"no {type_name} found in the desk tool: the search is broken"
    assert names <= set(refusals.RECEIVERS[type_name]), sorted(names - set(refusals.RECEIVERS[type_name]))
