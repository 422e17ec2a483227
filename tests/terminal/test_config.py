"""terminal.toml: a full example loads; typos and wrong values are refused with a ConfigError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from floreyn import keys
from floreyn.terminal.config import load_config
from floreyn.pins import check_pin, hash_pin
from floreyn.terminal.engine.errors import ConfigError

SERVER_KEY = keys.public_raw(keys.private_from_seed(bytes(32))).hex()
PIN_HASH = hash_pin("4321", n=16, r=1, p=1)

FULL = f"""
[terminal]
terminal_id = "T-bakker-01"
cooperative = "Coöperatie Floreyn Amersfoort"
data_dir = "state"
key_file = "terminal.key"
issuer_keys = ["{SERVER_KEY}"]
columns = 48
trust_wall_clock = false

[merchant]
merchant_id = "M-bakker"
name = "Bakkerij De Korenbloem"
category = "winkel"
save_rate_bp = 500
topup_allowed = true

[[operators]]
name = "Anna"
role = "manager"
pin_hash = "{PIN_HASH}"

[security]
scrypt_n = 16384
max_failures = 5
lockout_s = 60

[till]
repeat_guard_s = 4.5
max_amount_cents = 20000
day_close_needs_manager = false

[display]
width_px = 1024
height_px = 600

[store]
retention_days = 14

[server]
url = "http://127.0.0.1:8080"
server_key = "{SERVER_KEY}"
sync_interval_s = 15

[printer]
kind = "network"
host = "192.168.1.50"

[reader]
kind = "nfcpy"
path = "usb"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_example_loads(tmp_path):
    cfg = load_config(write(tmp_path, FULL))
    assert cfg.terminal_id == "T-bakker-01" and cfg.columns == 48
    assert cfg.data_dir == tmp_path / "state" and cfg.key_path == tmp_path / "state" / "terminal.key"
    assert cfg.merchant.category == "winkel" and cfg.merchant.topup_allowed
    assert cfg.operators[0].is_manager and check_pin("4321", cfg.operators[0].pin_hash)
    assert cfg.security.scrypt_n == 16384 and cfg.security.max_failures == 5
    assert cfg.till.repeat_guard_s == 4.5 and cfg.till.max_amount_cents == 20000
    assert cfg.till.day_close_needs_manager is False
    assert (cfg.display.width_px, cfg.display.height_px, cfg.display.fullscreen) == (1024, 600, False)
    assert cfg.display.panel_width_mm == 154.08  # the official 7" panel's size: a 7" 1024x600 panel's too
    assert cfg.store.retention_days == 14 and cfg.server.sync_interval_s == 15
    assert cfg.drivers.printer == {"kind": "network", "host": "192.168.1.50"}
    assert cfg.drivers.reader["kind"] == "nfcpy"


def test_data_dir_override(tmp_path):
    cfg = load_config(write(tmp_path, FULL), data_dir=tmp_path / "elsewhere")
    assert cfg.data_dir == tmp_path / "elsewhere"


@pytest.mark.parametrize("change, words", [
    (("[till]\n", "[till]\nrepeat_gaurd_s = 3\n"), "till.repeat_gaurd_s"),
    (('columns = 48', 'columns = 40'), "columns"),
    (('max_amount_cents = 20000', 'max_amount_cents = "veel"'), "max_amount_cents"),
    (('max_amount_cents = 20000', 'max_amount_cents = -5'), "max_amount_cents"),
    (('role = "manager"', 'role = "baas"'), "role"),
    (('url = "http://127.0.0.1:8080"', 'url = "ftp://x"'), "server.url"),
    (('terminal_id = "T-bakker-01"', 'terminal_id = "T bakker"'), "terminal_id"),
    (('save_rate_bp = 500', 'save_rate_bp = 20000'), "save_rate_bp"),
    ((f'server_key = "{SERVER_KEY}"', 'server_key = "abc"'), "server_key"),
    (('[printer]', '[pritner]'), "pritner"),
    (('day_close_needs_manager = false', 'day_close_needs_manager = "nee"'), "day_close_needs_manager"),
    (('width_px = 1024', 'width_px = 0'), "display.width_px"),
    (('height_px = 600', 'height_px = 600.5'), "display.height_px"),
])
def test_mistakes_are_refused_by_name(tmp_path, change, words):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, FULL.replace(*change, 1)))
    assert words in info.value.message("nl")


def test_unreadable_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, "[terminal\n"))
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.toml")


def test_hash_pin_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "floreyn.terminal.cli", "--hash-pin"], input="987654\n",
                         capture_output=True, text=True, check=True, timeout=60)
    stored = out.stdout.strip()
    assert stored.startswith("scrypt:4096:8:2:") and check_pin("987654", stored)
    bad = subprocess.run([sys.executable, "-m", "floreyn.terminal.cli", "--hash-pin"], input="12\n",
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
