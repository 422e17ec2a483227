"""A small TOML writer for the files this tool writes (provision.toml, terminal.toml), and a safe file write.

Python reads TOML (tomllib) but does not write it. What we write is simple:
tables of strings, integers, booleans and lists of those, plus arrays of
tables ([[operators]]). `dumps` refuses anything else, and `write_toml`
reads its own output back with tomllib and compares, so a file we write is
always a file we (and the till) can read.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

_BARE_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _key(key: str) -> str:
    if key and set(key) <= _BARE_KEY_CHARS:
        return key
    return _string(key)


def _string(value: str) -> str:
    # JSON string escapes (\", \\, \n, \uXXXX) are all valid TOML basic-string escapes.
    return json.dumps(value, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError("floats are not written by this tool")  # nothing we write is fractional
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list, tuple)) for v in value):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Mapping) for v in value)


def dumps(doc: Mapping[str, Any], header: str = "") -> str:
    """Top-level scalars first, then [tables] (one level deep), then [[arrays of tables]]."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    scalars = {k: v for k, v in doc.items() if not isinstance(v, Mapping) and not _is_table_array(v)}
    for k, v in scalars.items():
        lines.append(f"{_key(k)} = {_value(v)}")
    for name, table in doc.items():
        if isinstance(table, Mapping):
            lines += ["", f"[{_key(name)}]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items() if v is not None]
    for name, tables in doc.items():
        if _is_table_array(tables):
            for table in tables:
                lines += ["", f"[[{_key(name)}]]"]
                lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def _without_none(doc: Any) -> Any:
    if isinstance(doc, Mapping):
        return {k: _without_none(v) for k, v in doc.items() if v is not None}
    if isinstance(doc, (list, tuple)):
        return [_without_none(v) for v in doc]
    return doc


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file atomically (temp file, fsync, rename) with `mode` from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode is filtered by the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def write_toml(path: Path, doc: Mapping[str, Any], *, header: str = "", mode: int = 0o600) -> None:
    text = dumps(doc, header)
    assert tomllib.loads(text) == _without_none(doc), "the TOML writer must round-trip what it writes"
    write_private(path, text.encode("utf-8"), mode)
