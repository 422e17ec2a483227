"""GNU gettext catalogs without the gettext tools: read and write .po files, write .mo files.

Shared by the till's catalogs (terminal/app/catalogs.py) and the portal's
(server/portal/catalogs.py); each keeps its own extraction and languages.
"""

from __future__ import annotations

import ast
import struct
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
