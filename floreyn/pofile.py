"""GNU gettext catalogs without the gettext tools: read and write .po files, write .mo files.

Shared by the till's catalogs (terminal/app/catalogs.py) and the portal's
(server/portal/catalogs.py); each keeps its own extraction and languages.
"""

from __future__ import annotations

import ast
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

def _unquote(s: str) -> str:
    return ast.literal_eval(s)


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr (the header entry, msgid "", included). Handles the subset `write_po` writes."""
    entries: dict[str, str] = {}
    msgid = msgstr = None
    target = None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if line.startswith("#") or not line:
            if msgid is not None and msgstr is not None:
                entries[msgid] = msgstr
            if not line:
                msgid = msgstr = target = None
            continue
        if line.startswith("msgid "):
            if msgid is not None and msgstr is not None:
                entries[msgid] = msgstr
            msgid, msgstr, target = _unquote(line[6:]), None, "id"
        elif line.startswith("msgstr "):
            msgstr, target = _unquote(line[7:]), "str"
        elif line.startswith('"'):
            if target == "id":
                msgid = (msgid or "") + _unquote(line)
            elif target == "str":
                msgstr = (msgstr or "") + _unquote(line)
            else:
                raise ValueError(f"{path}: stray string line {raw!r}")
        else:
            raise ValueError(f"{path}: cannot read line {raw!r}")
    return entries


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def write_po(path: Path, lang: str, used: dict[str, list[str]], translations: dict[str, str], *, comment: str,
             header: str) -> None:
    """`comment` is the first line (may name {lang}); `header` the header entry's text (may name {lang})."""
    lines = [comment.format(lang=lang),
             'msgid ""', 'msgstr ""']
    lines += [f'"{part}\\n"' for part in header.format(lang=lang).split("\\n") if part]
    for msgid, places in used.items():
        lines.append("")
        lines.append("#: " + " ".join(places[:4]))
        if "{" in msgid:
            lines.append("#, python-brace-format")
        lines.append("msgid " + _quote(msgid))
        lines.append("msgstr " + _quote(translations.get(msgid, "")))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- .mo -----------------------------------------------------------------------------------------


def mo_bytes(entries: dict[str, str]) -> bytes:
    """GNU .mo for msgid -> msgstr (untranslated entries left out: gettext then returns the msgid)."""
    items = sorted((k.encode(), v.encode()) for k, v in entries.items() if v)
    ids = strs = b""
    offsets = []
    for k, v in items:
        offsets.append((len(ids), len(k), len(strs), len(v)))
        ids += k + b"\0"
        strs += v + b"\0"
    n = len(items)
    keystart = 7 * 4 + 16 * n
    valuestart = keystart + len(ids)
    koffsets: list[int] = []
    voffsets: list[int] = []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + keystart]
        voffsets += [l2, o2 + valuestart]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + n * 8, 0, 0)
    return header + struct.pack(f"{len(koffsets)}i", *koffsets) + struct.pack(f"{len(voffsets)}i", *voffsets) \
        + ids + strs


def extract_calls(sources: list[Path], call: re.Pattern[str], root: Path,
                  max_msgid_chars: int | None = None) -> dict[str, list[str]]:
    """msgid -> places it is used ("file:line" under `root`), in order of first use; `call`'s group 1 is
    the string literal."""
    found: dict[str, list[str]] = {}
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for m in call.finditer(text):
            msgid = ast.literal_eval(m.group(1))
            if max_msgid_chars is not None:
                assert 0 < len(msgid) <= max_msgid_chars, f"{path}: msgid length {len(msgid)}"
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault(msgid, []).append(f"{path.relative_to(root)}:{line}")
    return found


def extract_class_attrs(sources: list[Path], attrs: tuple[str, ...], root: Path) -> dict[str, list[str]]:
    """msgid -> places, for every string literal assigned to one of `attrs` in a class body (`msgid = "..."`),
    or given as a value of a dict so assigned (`REASONS = {"code": "..."}`)."""
    found: dict[str, list[str]] = {}
    for path in sources:
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for st in cls.body:
                target = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else \
                    st.target if isinstance(st, ast.AnnAssign) else None
                value = getattr(st, "value", None)
                if not isinstance(target, ast.Name) or target.id not in attrs:
                    continue
                for literal in value.values if isinstance(value, ast.Dict) else [value]:
                    if isinstance(literal, ast.Constant) and isinstance(literal.value, str) and literal.value:
                        found.setdefault(literal.value, []).append(f"{path.relative_to(root)}:{literal.lineno}")
    return found


def extract_call_args(sources: list[Path], calls: dict[str, int], root: Path) -> dict[str, list[str]]:
    """msgid -> places, for every string literal passed as positional argument `calls[key]` of a call that
    `key` names, as xgettext's --keyword=name:N does: "name" is a plain function call `name(...)`, never a
    method; "receiver.method" is `receiver.method(...)` on a variable of exactly that name. Naming the
    receiver keeps an unrelated `.add("...")` (a set, a session) out of the catalog."""
    found: dict[str, list[str]] = {}
    for path in sources:
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(call, ast.Call):
                continue
            key = _call_key(call)
            index = calls.get(key) if key else None
            if index is None or len(call.args) <= index:
                continue
            literal = call.args[index]
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str) and literal.value:
                found.setdefault(literal.value, []).append(f"{path.relative_to(root)}:{literal.lineno}")
    return found


def _call_key(call: ast.Call) -> str | None:
    """"name" for `name(...)`, "receiver.method" for `receiver.method(...)`; None for any other callee
    (`a.b.method(...)`, `f()(...)`), which no keyword names."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return None


# -- one part's catalogs: extract, merge, compile, check ----------------------------------------


def _fields(s: str) -> set[str]:
    return set(re.findall(r"\{(\w*)[^}]*\}", s))


@dataclass(frozen=True)
class CatalogSet:
    """The .po/.mo pair per language of one part (the till app, the portal), kept in step with its code.

    `extract` gives msgid -> the places it is used; `source_lang` is the language the msgids are
    written in (its msgstr defaults to the msgid).
    """

    locale_dir: Path
    domain: str
    languages: tuple[str, ...]
    comment: str
    header: str
    extract: Callable[[], dict[str, list[str]]]
    source_lang: str = "en"

    def paths(self, lang: str) -> tuple[Path, Path]:
        folder = self.locale_dir / lang / "LC_MESSAGES"
        return folder / f"{self.domain}.po", folder / f"{self.domain}.mo"

    def problems(self) -> list[str]:
        """What is missing or stale; empty when the catalogs match the code."""
        used = self.extract()
        out: list[str] = []
        for lang in self.languages:
            po, mo = self.paths(lang)
            if not po.exists():
                out.append(f"{po} is missing")
                continue
            entries = read_po(po)
            out += [f"{lang}: no translation for {m!r} ({used[m][0]})" for m in used if not entries.get(m)]
            out += [f"{lang}: {m!r} is no longer used" for m in entries if m and m not in used]
            # A translation may leave a placeholder out; one the msgid lacks would fail when formatted.
            out += [f"{lang}: placeholders differ in {m!r}" for m in entries
                    if m and entries[m] and m in used and not _fields(entries[m]) <= _fields(m)]
            if not mo.exists() or mo.read_bytes() != mo_bytes(entries):
                out.append(f"{mo} is not compiled from {po.name}")
        return out

    def update(self) -> None:
        used = self.extract()
        for lang in self.languages:
            po, mo = self.paths(lang)
            old = read_po(po) if po.exists() else {}
            if lang == self.source_lang:  # msgstr = msgid unless someone improved it
                old = {m: old.get(m) or m for m in used} | {"": ""}
            write_po(po, lang, used, old, comment=self.comment, header=self.header)
            mo.write_bytes(mo_bytes(read_po(po)))

    def main(self, argv: list[str] | None = None) -> int:
        """`--check`: report only (exit 1 on any problem); otherwise update, then report."""
        argv = sys.argv[1:] if argv is None else argv
        if "--check" not in argv:
            self.update()
        found = self.problems()
        for problem in found:
            print(problem)
        return 1 if found else 0
