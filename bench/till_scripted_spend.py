"""The till's whole scripted spend: quote, both transactions, the receipt printed and its status kept.

    python bench/till_scripted_spend.py          # 3 runs of 300 spends
    python bench/till_scripted_spend.py 100      # fewer spends per run

Each spend goes through the scripted till (terminal/script.py, as `floreyn-terminal run-script` runs
it): the card laid on the virtual reader, then a `spend` action (quote, Engine.confirm with its
re-checks inside the write transaction, the durable commit, the receipt rendered and printed by the
script printer into its text file, the receipt's status kept). Only the spend action is timed, the
card's tap is not. Interleaved with each spend, on the same disk: the floor of engine_commit.py, one raw
sqlite3 durable insert + head update (WAL, synchronous=FULL). Three runs, each in a fresh process and
data folder; the figure is each run's median, min/median/max over the runs. The spend's CPU time
(process time) is shown beside the same floor: the part of a spend that a faster disk does not shrink.
"""

from __future__ import annotations

import importlib.util
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import goals  # bench/goals.py (bench/ is on sys.path): issue 19's goal rows, one JSON line each

N_DEFAULT = 300
RUNS = 3
CARDS = 50


def _engine_commit():  # noqa: ANN202 - the sibling bench module (its raw floor)
    spec = importlib.util.spec_from_file_location("bench_engine_commit", Path(__file__).with_name("engine_commit.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _child(data_dir: Path, n: int) -> dict:
    from floreyn.terminal import demo_setup
    from floreyn.terminal.script import Action, ScriptedTill, ScriptPrinter

    bench = _engine_commit()
    engine, names = bench.bench_engine(data_dir, lambda config: ScriptPrinter(config.columns, data_dir / "receipts"),
                                       CARDS)
    printer = engine.printer
    till = ScriptedTill(engine, printer, run_id="bench", card_payload=demo_setup.demo_payload, out=io.StringIO())
    till.reader.start(till._events.put, lambda _status: None)  # noqa: SLF001 - what run() starts
    raw = bench._RawStore(data_dir.parent / "raw.db")  # noqa: SLF001 - the shared floor
    assert till._run_one(Action(0, "in", "sign_in", {"action": "sign_in", "pin": "1234"}))  # noqa: SLF001
    times, cpu_times, raw_times = [], [], []
    for i in range(n):
        name = names[i % CARDS]
        assert till._run_one(Action(2 * i + 1, f"p{i}", "present", {"action": "present", "card": name}))  # noqa: SLF001
        spend = Action(2 * i + 2, f"s{i}", "spend", {"action": "spend", "amount": f"{1 + i % 9},00"})
        started, cpu_started = time.perf_counter(), time.process_time()
        ok = till._run_one(spend)  # noqa: SLF001 - one action, as run() runs each
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
        assert ok
        raw_times.append(raw.commit(i + 1))
    till.reader.stop()
    assert engine.store.head.seq == n
    engine.store.close()
    raw.close()
    return {"times": times, "cpu_times": cpu_times, "raw_times": raw_times}


def run(n: int = N_DEFAULT) -> list[dict]:
    spends, cpus, raws, ratios = [], [], [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="floreyn-bench-spend-") as tmp:
            out = subprocess.run([sys.executable, __file__, "--child", str(Path(tmp) / "till"), str(n)],
                                 capture_output=True, text=True, check=True, timeout=1800)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        med = statistics.median(got["times"]) * 1000
        raw_med = statistics.median(got["raw_times"]) * 1000
        spends.append(med)
        cpus.append(statistics.median(got["cpu_times"]) * 1000)
        raws.append(raw_med)
        ratios.append(med / raw_med)
    goals.scripted_spend(n, spends, raws, cpus)

    def spread(values: list[float]) -> str:
        return "/".join(f"{v:.2f}" for v in (min(values), statistics.median(values), max(values)))

    return [{"name": f"till scripted spend, whole action (median of {n}; min/med/max of {RUNS} runs)",
             "value": spread(spends), "unit": "ms", "baseline": spread(raws),
             "baseline_name": "one raw sqlite3 durable insert+update, WAL, FULL, interleaved",
             "target": f"<= 4x raw (now {spread(ratios)}x)"},
            {"name": f"till scripted spend, CPU time of the whole action (median of {n}; min/med/max of {RUNS} runs)",
             "value": spread(cpus), "unit": "ms", "baseline": spread(raws),
             "baseline_name": "the same raw durable commit (wall time)",
             "target": "none: the ratio above holds <= 4x while one raw durable commit costs at least a third "
                       "of this CPU time (its fsync bounds it)"}]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(_child(Path(argv[1]), int(argv[2]))))
        return 0
    from run_all import print_row  # bench/ is sys.path[0] when a bench script runs alone

    for row in run(int(argv[0]) if argv else N_DEFAULT):
        print_row(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
