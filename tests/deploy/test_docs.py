"""docs/operations.md documents every terminal.toml key there is (it must not drift from terminal/config.py)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from floreyn.sync.snapshot import MerchantConfig
from floreyn.terminal import config as c
from floreyn.terminal.drivers import factory

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def documented_keys(text: str) -> set[str]:
    keys = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            keys.update(re.findall(r"`([a-z_]+)`", first_cell))
    return keys


def test_every_terminal_toml_key_is_documented():
    doc = documented_keys(section("terminal.toml, key by key"))
    nested = {"merchant", "operators", "security", "till", "store", "server", "drivers", "power", "display"}
    want = {f.name for f in fields(c.TerminalConfig)} - nested
    for cls in (c.Operator, c.SecurityConfig, c.TillConfig, c.StoreConfig, c.ServerConfig, c.PowerConfig, c.DisplayConfig,
                MerchantConfig):
        want |= {f.name for f in fields(cls)}
    for keys in (*factory._READER_KEYS.values(), *factory._PRINTER_KEYS.values()):  # noqa: SLF001
        want |= set(keys)
    assert want - doc == set(), f"undocumented: {sorted(want - doc)}"


def test_the_defaults_in_the_tables_are_the_codes():
    text = section("terminal.toml, key by key")
    for cls in (c.SecurityConfig, c.TillConfig, c.StoreConfig):
        for f in fields(cls):
            row = next(line for line in text.splitlines()
                       if line.startswith("|") and f"`{f.name}`" in line.split("|")[1])
            if f.name in ("scrypt_n", "scrypt_r", "scrypt_p"):
                continue  # one row for three
            assert f"`{f.default!r}`" in row or f"`{f.default}`" in row, (f.name, f.default, row)
