"""When the till's SD card fills up: a warning first, then new money transactions refused before any write.

Most tests inject the disk usage (DiskGuard's `usage`); one fills a real, small
tmpfs (mounted here, unmounted after), both up to the floor and to the last byte:
what was committed is never lost.
"""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from till_helpers import dump_db, fast_config, open_till

from floreyn.money import Money
from floreyn.terminal.config import StoreConfig, config_from_dict
from floreyn.terminal.clock import FakeClock
from floreyn.terminal.engine.disk import MIB, DiskGuard, Usage
from floreyn.terminal.engine.errors import ConfigError, DiskFull

GIB = 1024 * MIB


class FakeDisk:
    def __init__(self, free_bytes: int) -> None:
        self.free = free_bytes
        self.calls = 0

    def __call__(self, path: Path) -> Usage:
        self.calls += 1
        if self.free < 0:
            raise OSError(errno.EIO, "card reader gone")
        return Usage(16 * GIB, 16 * GIB - self.free, self.free)


@pytest.fixture
def till(tmp_path):
    t = open_till(fast_config(tmp_path / "data"), FakeClock())
    yield t
    t.store.close()


def guard(till, free_bytes: int) -> FakeDisk:  # noqa: ANN001
    disk = FakeDisk(free_bytes)
    till.engine.disk = DiskGuard(till.config.data_dir, warn_mb=256, floor_mb=64, usage=disk)
    return disk


def sale(till, cents: int = 100, **kw):  # noqa: ANN001, ANN201
    till.present("anna")
    return till.spend(cents, repeat_ok=True, **kw)


def test_plenty_low_full_and_back(till):
    disk = guard(till, 2 * GIB)
    s = till.engine.status()
    assert (s.disk_free_mb, s.disk_low, s.disk_full) == (2048, False, False)
    sale(till)

    disk.free = 200 * MIB  # below the warning: sales go on, the status says so
    s = till.engine.status()
    assert (s.disk_free_mb, s.disk_low, s.disk_full) == (200, True, False)
    sale(till)

    disk.free = 50 * MIB  # below the floor
    s = till.engine.status()
    assert (s.disk_low, s.disk_full) == (True, True) and s.to_dict()["disk_full"] is True
    before = dump_db(till.config.db_path)
    till.present("anna")
    quote = till.engine.quote_spend(Money.fl(100))  # quoting writes nothing; committing is refused
    with pytest.raises(DiskFull) as refused:
        till.engine.confirm(quote.quote_id, repeat_ok=True)
    assert refused.value.code == "disk_full" and "50 MB vrij" in refused.value.message("nl")
    assert "veilig bewaard" in refused.value.message("nl") and "50 MB free" in refused.value.message("en")
    assert dump_db(till.config.db_path) == before  # nothing written
    assert len(till.printer.docs) == 2  # and nothing printed

    disk.free = 65 * MIB  # room again: the same quote goes through
    done = till.engine.confirm(quote.quote_id, repeat_ok=True)
    assert done.records[0].seq == 3 and till.store.head.seq == 3


def test_a_committed_retry_still_answers_and_the_day_can_close_when_full(till):
    disk = guard(till, GIB)
    till.present("anna")
    first = till.engine.confirm(till.engine.quote_spend(Money.fl(250)).quote_id, client_ref="run:1",
                                fingerprint="koffie")
    disk.free = 10 * MIB
    till.present("anna")
    again = till.engine.confirm(till.engine.quote_spend(Money.fl(250)).quote_id, client_ref="run:1",
                                fingerprint="koffie", repeat_ok=True)
    assert again.existed and again.tx_id == first.tx_id  # the answer of what did commit, not a refusal
    with pytest.raises(DiskFull):
        sale(till)
    till.engine.sign_in("2222")
    closed = till.engine.close_day()  # one small record: the shopkeeper can still end the day
    assert closed.report is not None and till.store.head.seq == 2


def test_an_unmeasurable_disk_is_unknown_not_full(till):
    guard(till, -1)
    s = till.engine.status()
    assert (s.disk_free_mb, s.disk_low, s.disk_full) == (None, False, False)
    sale(till)


def test_config_keys_defaults_and_refusals(tmp_path):
    base = {"terminal": {"terminal_id": "T-1"}}
    cfg = config_from_dict(base, base_dir=tmp_path)
    assert (cfg.store.disk_warn_mb, cfg.store.disk_floor_mb) == (256, 64)
    cfg = config_from_dict({**base, "store": {"disk_warn_mb": 1024, "disk_floor_mb": 100}}, base_dir=tmp_path)
    assert cfg.store == StoreConfig(retention_days=30, disk_warn_mb=1024, disk_floor_mb=100)
    for bad in ({"disk_warn_mb": 10, "disk_floor_mb": 20}, {"disk_floor_mb": -1}, {"disk_warn_mb": "256"},
                {"disk_floor": 5}):
        with pytest.raises(ConfigError):
            config_from_dict({**base, "store": bad}, base_dir=tmp_path)


# -- a real, small file system ------------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path):
    """A 24 MiB tmpfs, unmounted afterwards. Mounting needs root (CAP_SYS_ADMIN); the tests above cover the
    same logic with an injected usage where that is not allowed."""
    mnt = tmp_path / "sd"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the injected tests cover the logic")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path: Path, leave_bytes: int) -> Path:
    """Write a filler file until at most `leave_bytes` are free (0: until the disk refuses)."""
    filler = path / f"filler-{uuid.uuid4().hex[:6]}"
    chunk = b"\0" * (64 * 1024)
    with filler.open("wb") as f:
        try:
            while os.statvfs(path).f_bavail * os.statvfs(path).f_frsize > leave_bytes:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_real_card_filling_up(small_fs):
    cfg = replace(fast_config(small_fs / "data"), store=StoreConfig(disk_warn_mb=12, disk_floor_mb=6))
    till = open_till(cfg, FakeClock())
    try:
        sale(till)
        assert not till.engine.status().disk_low
        filler = fill(small_fs, 10 * MIB)
        s = till.engine.status()
        assert s.disk_low and not s.disk_full and s.disk_free_mb < 12
        sale(till)
        more = fill(small_fs, 4 * MIB)
        assert till.engine.status().disk_full
        before = dump_db(cfg.db_path)
        with pytest.raises(DiskFull):
            sale(till)
        assert dump_db(cfg.db_path) == before
        more.unlink()
        sale(till)
        assert till.store.head.seq == 3

        # Now with the guard off and the card filled to the last byte: a commit either fails whole or
        # succeeds whole; what was committed before stays, and the store opens clean once there is room.
        till.engine.disk = DiskGuard(cfg.data_dir, warn_mb=0, floor_mb=0)
        last = fill(small_fs, 0)
        committed = till.store.head.seq
        for _ in range(20):
            try:
                sale(till)
                committed = till.store.head.seq
            except Exception:  # noqa: BLE001 - "database or disk is full", from SQLite or the receipt step
                break
        kept = [r.seq for r in till.store.all_records()]
        assert kept[: committed] == list(range(1, committed + 1))
        till.store.close()
        last.unlink()
        filler.unlink()
        till = open_till(cfg, FakeClock(), install_snapshot=False)
        head = till.engine.store.verify(till.engine.public_key)
        assert head.seq >= committed >= 3
        sale(till)
    finally:
        till.store.close()


def test_power_config_and_control(tmp_path):
    from floreyn.terminal.power import PowerControl, PowerOffFailed, PowerOffUnavailable

    base = {"terminal": {"terminal_id": "T-1"}}
    assert config_from_dict(base, base_dir=tmp_path).power.shutdown_command == ("/usr/bin/systemctl", "poweroff")
    cfg = config_from_dict({**base, "power": {"shutdown_command": []}}, base_dir=tmp_path)
    assert cfg.power.shutdown_command == ()
    for bad in ({"shutdown_command": "systemctl poweroff"}, {"shutdown_command": ["ok", ""]},
                {"shutdown_command": ["x"] * 17}, {"shutdown": ["x"]}):
        with pytest.raises(ConfigError):
            config_from_dict({**base, "power": bad}, base_dir=tmp_path)
    with pytest.raises(PowerOffUnavailable) as none:
        PowerControl(cfg.power.shutdown_command).power_off()
    assert "[power]" in none.value.message("nl")
    with pytest.raises(PowerOffFailed) as missing:
        PowerControl([str(tmp_path / "no-such-command")]).power_off()
    assert "FileNotFoundError" in missing.value.message("nl") and "stekker" in missing.value.message("nl")
    mark = tmp_path / "off"
    PowerControl(["/bin/sh", "-c", f"touch {mark}"]).power_off()
    assert mark.exists()
