"""python-escpos's printer profiles come from a pickle kept between starts (terminal/drivers/escpos_cache.py).

The till with a real printer imports the profiles at start; the library parsed its JSON with PyYAML each time
(0.3-0.5 s, 1.7 MB of resident memory left in the heap). These run the library itself, in a fresh process where it
must load the kept pickle: it has to find there exactly what it would have parsed, and never write the file.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

from floreyn.terminal.drivers import escpos_cache
from floreyn.terminal.drivers.escpos_cache import CAPABILITIES_FILE_ENV, PICKLE_DIR_ENV, use_pickled_capabilities

LIBRARY_LOAD = ("import escpos.capabilities as c; "
                "print(c.full_load, c.pickle_dir, len(c.CAPABILITIES['profiles']), c.get_profile('TM-T20II').media)")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither variable set, and whatever the call sets is undone after the test."""
    for name in (PICKLE_DIR_ENV, CAPABILITIES_FILE_ENV):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def parsed_by_the_library() -> dict:
    return yaml.safe_load((resources.files("escpos") / "capabilities.json").read_text(encoding="utf-8"))


def library_in_a_fresh_process(folder: Path) -> list[str]:
    env = {**os.environ, PICKLE_DIR_ENV: str(folder)}
    done = subprocess.run([sys.executable, "-c", LIBRARY_LOAD], env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout.split(maxsplit=3)


def test_the_pickle_holds_what_the_library_parses_and_the_library_loads_it(clean_env, tmp_path):
    target = use_pickled_capabilities(tmp_path / "cache")
    assert target == escpos_cache.pickle_path(tmp_path / "cache") and os.environ[PICKLE_DIR_ENV] == str(tmp_path / "cache")
    assert pickle.loads(target.read_bytes()) == parsed_by_the_library()
    written = target.stat().st_mtime_ns
    full_load, folder, profiles, media = library_in_a_fresh_process(tmp_path / "cache")
    assert (full_load, folder) == ("False", str(tmp_path / "cache"))  # read the pickle, parsed nothing
    assert int(profiles) == len(parsed_by_the_library()["profiles"]) and "width" in media
    assert target.stat().st_mtime_ns == written and sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_pickle_older_than_the_json_is_written_again(clean_env, monkeypatch, tmp_path):
    target = use_pickled_capabilities(tmp_path)
    target.write_bytes(pickle.dumps({"profiles": {}}))
    os.utime(target, (0, 0))  # 1970: older than any installed JSON
    monkeypatch.delenv(PICKLE_DIR_ENV)  # the next start
    assert use_pickled_capabilities(tmp_path) == target
    assert pickle.loads(target.read_bytes()) == parsed_by_the_library()
    assert library_in_a_fresh_process(tmp_path)[0] == "False"


def test_a_choice_made_in_the_environment_is_left_alone(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv(PICKLE_DIR_ENV, str(tmp_path / "theirs"))
    assert use_pickled_capabilities(tmp_path / "ours") is None
    assert os.environ[PICKLE_DIR_ENV] == str(tmp_path / "theirs") and not (tmp_path / "ours").exists()


def test_a_folder_that_cannot_be_written_leaves_the_library_to_parse_its_json(clean_env, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert use_pickled_capabilities(blocked / "cache") is None
    assert PICKLE_DIR_ENV not in os.environ


def test_the_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert escpos_cache.default_folder() == tmp_path / "floreyn"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert escpos_cache.default_folder() == tmp_path / "home" / ".cache" / "floreyn"
