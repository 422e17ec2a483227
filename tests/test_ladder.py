"""The import graph is a ladder: a module imports only from its own rung or the rungs below.

    core     floreyn.{money, card, codec, keys, errors, pins}
    sync     floreyn.sync                                        <- core
    till     floreyn.terminal.{errors, clock}                    <- core
             floreyn.terminal.drivers                            <- core, till base
             floreyn.terminal.store                              <- sync, till base
             floreyn.terminal.{config, receipts}                 <- drivers, store
             floreyn.terminal.engine (+ power, script, ...)      <- config, receipts
             floreyn.terminal.app, floreyn.terminal.cli          <- engine
    server   floreyn.server                                      <- sync
    desk     floreyn.provisioning                                <- sync, the till's devices and formats
                                                                    (drivers, config, receipts), never
                                                                    its store, engine or app
    top      floreyn.demo, floreyn.demo_walk, floreyn.demo_portal <- anything

Why (docs/architecture.md): the core is imported by everything, so it must import
nothing above it; the till's store must load without its engine; the server and the
desk tool must run on machines without the till. The check reads the source (every
import statement, also those inside functions), so a lazy import cannot hide an arrow.
The same reading keeps the till's rungs off the server's libraries (NEVER_IMPORTS).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Real folders and the package each one is (floreyn/<role> links to <role>/).
FOLDERS = {"floreyn": "floreyn", "sync": "floreyn.sync", "server": "floreyn.server",
           "provisioning": "floreyn.provisioning", "terminal": "floreyn.terminal"}

# Rungs, first match wins (longest prefixes first). Each names the rungs it may import.
CORE = ("floreyn.money", "floreyn.card", "floreyn.codec", "floreyn.keys", "floreyn.errors", "floreyn.pins")
RUNG_OF: tuple[tuple[str, str], ...] = (
    *((m, "core") for m in CORE),
    ("floreyn.demo", "top"),
    ("floreyn.demo_walk", "top"),
    ("floreyn.demo_portal", "top"),
    ("floreyn.sync", "sync"),
    ("floreyn.server", "server"),
    ("floreyn.provisioning", "desk"),
    ("floreyn.terminal.errors", "till-base"),
    ("floreyn.terminal.clock", "till-base"),
    ("floreyn.terminal.drivers", "drivers"),
    ("floreyn.terminal.store", "store"),
    ("floreyn.terminal.config", "formats"),
    ("floreyn.terminal.receipts", "formats"),
    ("floreyn.terminal.app", "app"),
    ("floreyn.terminal.cli", "app"),
    ("floreyn.terminal", "engine"),  # engine/, power, script, demo_setup and the package itself
    ("floreyn", "core"),  # the package __init__ (version only)
)
MAY_IMPORT: dict[str, set[str]] = {
    "core": {"core"},
    "sync": {"core", "sync"},
    "till-base": {"core", "till-base"},
    "drivers": {"core", "till-base", "drivers"},
    "store": {"core", "sync", "till-base", "store"},
    "formats": {"core", "sync", "till-base", "drivers", "store", "formats"},
    "engine": {"core", "sync", "till-base", "drivers", "store", "formats", "engine"},
    "app": {"core", "sync", "till-base", "drivers", "store", "formats", "engine", "app"},
    "server": {"core", "sync", "server"},
    "desk": {"core", "sync", "till-base", "drivers", "formats", "desk"},
    "top": {"core", "sync", "till-base", "drivers", "store", "formats", "engine", "app", "server", "desk", "top"},
}


# Libraries a rung never imports, anywhere in its code. SQLAlchemy is the server's: the till's store is bare
# sqlite3 (terminal/store/db.py), which keeps about 15 MB off the till's peak RSS (issue 19, goal 5).
TILL_RUNGS = ("core", "sync", "till-base", "drivers", "store", "formats", "engine", "app")
NEVER_IMPORTS: dict[str, set[str]] = {name: {"sqlalchemy"} for name in TILL_RUNGS}


def rung(module: str) -> str:
    for prefix, name in RUNG_OF:
        if module == prefix or module.startswith(prefix + "."):
            return name
    raise AssertionError(f"{module} is on no rung: add it to RUNG_OF")


def imports(source: str, module: str, is_package: bool) -> set[str]:
    """Every floreyn module `source` imports, wherever the statement sits."""
    return {m for m in all_imports(source, module, is_package) if m == "floreyn" or m.startswith("floreyn.")}


def all_imports(source: str, module: str, is_package: bool) -> set[str]:
    """Every module `source` imports (libraries too), wherever the statement sits."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from floreyn.terminal import receipts` imports a module: judge the longest name.
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def forbidden_libraries(module: str, imported: set[str]) -> list[str]:
    never = NEVER_IMPORTS.get(rung(module), set())
    return [f"{module} ({rung(module)}) imports {m}" for m in sorted(imported) if m.partition(".")[0] in never]


def wrong_way(module: str, imported: set[str]) -> list[str]:
    mine = rung(module)
    return [f"{module} ({mine}) imports {m} ({rung(m)})" for m in sorted(imported) if rung(m) not in MAY_IMPORT[mine]]


def modules() -> dict[str, tuple[Path, bool]]:
    out: dict[str, tuple[Path, bool]] = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder)
            if folder == "floreyn" and len(rel.parts) > 1:
                continue  # the links; their folders are walked as themselves
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join([package, *(parts[:-1] if is_package else parts)])
            out[name] = (path, is_package)
    return out


def test_every_import_goes_down_the_ladder() -> None:
    found = modules()
    assert len(found) > 100 and "floreyn.terminal.store.store" in found  # the walk found the code
    problems = [p for name, (path, pkg) in sorted(found.items())
                for p in wrong_way(name, imports(path.read_text(), name, pkg))]
    assert not problems, "imports that go the wrong way:\n" + "\n".join(problems)


def test_the_tills_rungs_never_import_the_servers_libraries() -> None:
    problems = [p for name, (path, pkg) in sorted(modules().items())
                for p in forbidden_libraries(name, all_imports(path.read_text(), name, pkg))]
    assert not problems, "the till's code imports what only the server may:\n" + "\n".join(problems)


def test_a_planted_server_library_import_in_the_till_is_found() -> None:
    planted = {
        "floreyn.terminal.store.db": "from sqlalchemy import create_engine",
        "floreyn.sync.client": "def f():\n    import sqlalchemy.exc",  # lazy, inside a function
        "floreyn.terminal.app.root": "from sqlalchemy.pool import StaticPool",
    }
    for module, source in planted.items():
        assert forbidden_libraries(module, all_imports(source, module, False)), f"not caught: {module}: {source}"
    assert not forbidden_libraries("floreyn.server.db", all_imports("from sqlalchemy import select", "x", False))


def test_a_planted_wrong_way_import_is_found() -> None:
    # The same check, fed modules that break the ladder in each way it is easy to break it.
    planted = {
        "floreyn.terminal.store.store": "from floreyn.terminal.engine.clock import Clock",
        "floreyn.money": "def f():\n    from floreyn.sync import record",  # lazy, inside a function
        "floreyn.provisioning.cmd_terminal": "from floreyn.terminal.engine.auth import hash_pin",
        "floreyn.server.ingest": "import floreyn.terminal.store",
        "floreyn.sync.client": "from ..terminal import config",  # relative
        "floreyn.terminal.engine.core": "from floreyn.terminal.app import controller",
    }
    for module, source in planted.items():
        assert wrong_way(module, imports(source, module, False)), f"not caught: {module}: {source}"
    # ... and the allowed direction of each passes.
    assert not wrong_way("floreyn.terminal.engine.core", imports("from floreyn.terminal.store import store", "x", False))
    assert not wrong_way("floreyn.demo", imports("import floreyn.provisioning.cli", "floreyn.demo", False))
