"""CSV files in: read whole, check every row, report every bad row by line number; ids from the content.

A file is accepted or refused as a whole: `file.checked.raise_if_bad()` lists every
bad line (up to MAX_REPORTED) and nothing is sent. Rows that pass are sent
with request ids derived from the file's SHA-256, the row's line and its
content (`row_request_id`), so running the same file again after a crash
or a lost connection answers "exists" for every row that went through and
does the rest: nothing is doubled.

Spreadsheets from Dutch offices write ";" between fields and a UTF-8 BOM;
both are understood. Headers are matched case-insensitively, with Dutch
names accepted beside the English ones (see each command's column list).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Final, Mapping

from floreyn.provisioning.errors import CsvInvalid, InputInvalid, invalid, worded_pair

MAX_CSV_BYTES: Final = 8 * 1024 * 1024
MAX_ROWS: Final = 10_000
MAX_REPORTED: Final = 50  # bad lines listed in full; the rest counted


@dataclass(frozen=True)
class Row:
    line: int  # line number in the file (the header is line 1)
    cells: dict[str, str]  # canonical column name -> stripped text ("" when absent)


@dataclass
class CsvFile:
    path: Path
    sha256: str
    rows: list[Row]
    checked: Checked  # lines already found bad while reading (wrong field count); commands add theirs


def read(
    path: Path, columns: Mapping[str, tuple[str, ...]], *, required: tuple[str, ...] = (), one_of: tuple[str, ...] = ()
) -> CsvFile:
    """Read `path`; `columns` maps each canonical name to the header spellings accepted for it."""
    try:
        raw = path.read_bytes() if path.stat().st_size <= MAX_CSV_BYTES else None
    except OSError as exc:
        raise invalid(str(path), "cannot be read: {strerror}", strerror=exc.strerror) from None
    if raw is None:
        raise invalid(str(path), "larger than {MAX_CSV_BYTES} bytes; split the file", MAX_CSV_BYTES=MAX_CSV_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid(str(path), "not UTF-8 (byte {start}); save as 'CSV UTF-8'", start=exc.start) from None
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise invalid(str(path), "the file is empty") from None
    except csv.Error as exc:
        raise invalid(f"{path}:1", "{detail}", detail=str(exc)) from None
    index = _header_index(path, header, columns, required, one_of)
    rows: list[Row] = []
    bad = Checked(path)
    end = reader.line_num
    try:
        for cells in reader:
            line, end = end + 1, reader.line_num  # a quoted field may span lines: report where the row starts
            if not any(c.strip() for c in cells):
                continue  # blank lines are what spreadsheets leave at the end
            if len(rows) >= MAX_ROWS:
                raise invalid(str(path), "more than {MAX_ROWS} rows; split the file", MAX_ROWS=MAX_ROWS)
            if len(cells) > len(header):
                bad.add(line, "{n_cells} fields, the header has {n_header}", n_cells=len(cells), n_header=len(header))
                continue
            rows.append(Row(line, {name: (cells[i].strip() if i < len(cells) else "") for name, i in index.items()}))
    except csv.Error as exc:
        bad.add(end + 1, "{detail}", detail=str(exc))
    if not rows and not bad.problems:
        raise invalid(str(path), "no rows below the header")
    return CsvFile(path, hashlib.sha256(raw).hexdigest(), rows, bad)


def _delimiter(text: str) -> str:
    """The separator the header uses; for a one-column header, the one the first data line uses."""
    lines = [line for line in text.splitlines()[:2] if line.strip()]
    for line in lines:
        counts = {d: line.count(d) for d in (";", ",", "\t")}
        if any(counts.values()):
            return max(counts, key=lambda d: counts[d])
    return ","


def _header_index(
    path: Path,
    header: list[str],
    columns: Mapping[str, tuple[str, ...]],
    required: tuple[str, ...],
    one_of: tuple[str, ...],
) -> dict[str, int]:
    spelled = {_norm(alias): name for name, aliases in columns.items() for alias in (name, *aliases)}
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        name = spelled.get(_norm(h))
        if name is None:
            known = ", ".join(columns)
            raise invalid(f"{path}:1", "unknown column {h!r}; known columns are {known}", h=h, known=known)
        if name in index:
            raise invalid(f"{path}:1", "column {name!r} appears twice", name=name)
        index[name] = i
    missing = [c for c in required if c not in index]
    if missing:
        raise invalid(f"{path}:1", "column {missing!r} is missing", missing=missing[0])
    if one_of and not any(c in index for c in one_of):
        raise invalid(f"{path}:1", "one of the columns {columns} is needed", columns=", ".join(one_of))
    return index


def _norm(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


@dataclass
class Checked:
    """Bad lines of one file, collected while checking every row."""

    path: Path
    problems: list[tuple[int, str, str]] = field(default_factory=list)

    def add(self, line: int, msgid: str, /, **params: object) -> None:
        """One bad line, worded by the catalog's `msgid` (filled with `params`)."""
        self.problems.append((line, *worded_pair(msgid, params)))

    def check(self, row: Row, fn: Callable[[], Any]) -> Any:
        """Run one row's parsing; an InputInvalid becomes a bad line, and None is returned."""
        try:
            return fn()
        except InputInvalid as exc:
            self.problems.append((row.line, exc.message("nl"), exc.message("en")))
            return None

    def raise_if_bad(self) -> None:
        if not self.problems:
            return
        shown = sorted(self.problems)[:MAX_REPORTED]
        more = len(self.problems) - len(shown)
        lines_nl = "\n".join(f"  regel {n}: {nl}" for n, nl, _ in shown) + (f"\n  ... en {more} meer" if more else "")
        lines_en = "\n".join(f"  line {n}: {en}" for n, _, en in shown) + (f"\n  ... and {more} more" if more else "")
        raise CsvInvalid(
            path=str(self.path),
            count=len(self.problems),
            lines_nl=lines_nl,
            lines_en=lines_en,
            lines=[n for n, _, _ in sorted(self.problems)],
        )


def row_request_id(file: CsvFile, kind: str, row: Row | None = None, extra: str = "") -> str:
    """A request id from the file's content and the row: the same file sent again reuses every id."""
    content = "" if row is None else "\x1f".join(f"{k}={v}" for k, v in sorted(row.cells.items()))
    seed = f"{file.sha256}\x1e{kind}\x1e{row.line if row else 0}\x1e{content}\x1e{extra}"
    return f"csv-{kind[:8]}-{hashlib.sha256(seed.encode()).hexdigest()[:40]}"
