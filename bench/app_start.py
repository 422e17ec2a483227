"""The till app on the terminal: cold start, peak memory, idle CPU while waiting for a card.

Each figure is measured on a subprocess with SDL's offscreen video driver
(Mesa llvmpipe, no GPU), beside a minimal Kivy app (one label, same Kivy/SDL
settings, same frame-rate cap) started and measured the same way in the
same run: the floor any Kivy app pays. The floor runs at the till's frame cap
on a resting card prompt (root.REST_FPS); beside the peak RSS, what the
till's own libraries add to the floor's imports (no window), the least the
till can add without replacing them, and what each import adds in turn
(requests too, which the card prompt no longer loads: the sync client
imports it when it first talks to a server).

* cold start: spawn to the first frame of the resting screen. For the till:
  demo set-up, engine start (store check), PIN sign-in through the app's
  own call, the card prompt ("Houd de pas bij de lezer") drawn.
* peak RSS: the kernel's high-water mark (VmHWM) at the end of the run.
* idle CPU: user+system time of all the process's threads (UI loop, till
  worker, card reader) over a window on the card prompt, as % of one core;
  then again after the screen has dimmed (frame cap 5/s).

    python bench/app_start.py [--window 30]     (FLOREYN_BENCH_WINDOW_S for run_all; default 30 s)
"""

from __future__ import annotations

import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

import goals  # bench/goals.py (bench/ is on sys.path): issue 19's goal rows, one JSON line each

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_WINDOW_S = 30.0
START_TIMEOUT_S = 120.0
RUNS = 3

FLOOR_APP = r'''
import os, sys, time
t0 = time.perf_counter()
from floreyn.terminal.app import kivy_setup
kivy_setup.prepare_environment(kiosk=False)
import kivy
kivy_setup.configure_input(kiosk=False)
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.label import Label

class Floor(App):
    def build(self):
        if os.environ.get("SDL_VIDEODRIVER") == "offscreen":  # draw each frame, as the till does (app.py flush_each_frame)
            from kivy.core.window import Window
            from kivy.graphics.opengl import glFlush
            Window.fbind("on_flip", lambda *_a: glFlush())
        return Label(text="Houd de pas bij de lezer", font_size=44, color=(0, 0, 0, 1))
    def on_start(self):
        Clock.schedule_once(self.ready, 0)
    def ready(self, _dt):
        Clock._max_fps = float(sys.argv[2])  # the till's cap on the card prompt once it rests
        print("FLOREYN_READY screen=floor", flush=True)
        Clock.schedule_once(lambda _dt: self.stop(), float(sys.argv[1]))

Floor().run()
'''


# The libraries the till imports beside Kivy, one step at a time, into a process that already imported what the
# floor app imports (no window): what each adds to the floor at least (VmRSS after each step). The card prompt
# imports the first two; requests only when the sync client first talks to a server (sync/client.py). The till
# no longer imports SQLAlchemy: its store is bare sqlite3 (terminal/store/db.py); nor `cryptography`: PyNaCl
# (libsodium) signs and verifies (floreyn/keys.py).
LIBRARY_STEPS = (
    ("pynacl", "import nacl.bindings"),
    ("till_modules", "import floreyn.terminal.store, floreyn.terminal.engine.service, floreyn.terminal.engine.build"),
    ("requests", "import requests"),
)
CARD_PROMPT_LIBRARIES = ("pynacl",)
LIBRARIES_ONLY = r'''
import sys
from floreyn.terminal.app import kivy_setup
kivy_setup.prepare_environment(kiosk=False)
import kivy, kivy.app, kivy.uix.label  # noqa


def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


print("kivy", rss_mb())
for arg in sys.argv[1:]:
    name, _, statement = arg.partition("=")
    exec(statement)
    print(name, rss_mb())
'''


def library_steps_mb(env: dict[str, str]) -> dict[str, float]:
    """{"kivy": RSS after the floor's imports, name: MB that step added} in one fresh process."""
    out = subprocess.run([sys.executable, "-c", LIBRARIES_ONLY, *(f"{n}={s}" for n, s in LIBRARY_STEPS)],
                         capture_output=True, text=True, check=True, timeout=START_TIMEOUT_S, env=env, cwd=ROOT)
    lines = out.stdout.strip().splitlines()[-1 - len(LIBRARY_STEPS):]  # "kivy MB", then "name MB" per step
    rss = [(name, float(mb)) for name, mb in (line.split() for line in lines)]
    steps = {"kivy": rss[0][1]}
    for (_, before), (name, after) in zip(rss, rss[1:], strict=False):  # consecutive pairs
        steps[name] = after - before
    return steps


def child_env(kivy_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update({"SDL_VIDEODRIVER": "offscreen", "LIBGL_ALWAYS_SOFTWARE": "1", "SDL_AUDIODRIVER": "dummy",
                "KIVY_HOME": str(kivy_home), "KIVY_NO_CONSOLELOG": "1", "FLOREYN_APP_REPORT_READY": "1"})
    return env


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def wait_line(proc: subprocess.Popen, prefix: str, timeout_s: float) -> str:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited ({proc.returncode}) before {prefix}: {proc.stderr.read()[-2000:]}")
            continue
        if line.startswith(prefix):
            return line.strip()
    raise TimeoutError(prefix)


def idle_cpu_pct(proc: psutil.Process, window_s: float) -> float:
    c0, t0 = cpu_s(proc), time.monotonic()
    time.sleep(window_s)
    return (cpu_s(proc) - c0) / (time.monotonic() - t0) * 100


def measure(cmd: list[str], window_s: float, *, dimmed: bool, env: dict[str, str]) -> dict[str, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_line(proc, "FLOREYN_READY", START_TIMEOUT_S)
        out = {"start_s": time.monotonic() - t0}
        ps = psutil.Process(proc.pid)
        time.sleep(1.0)  # let start-up work (first overview, reader thread) settle
        out["idle_cpu_pct"] = idle_cpu_pct(ps, window_s)
        if dimmed:
            wait_line(proc, "FLOREYN_DIMMED 1", window_s + 30)
            time.sleep(1.0)
            out["dimmed_cpu_pct"] = idle_cpu_pct(ps, window_s)
        out["peak_rss_mb"] = peak_rss_mb(proc.pid)
        proc.wait(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        return out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _one_run(window_s: float) -> dict[str, float]:
    """The till, the floor app and the libraries' peaks, each in a fresh process and folder."""
    with tempfile.TemporaryDirectory(prefix="floreyn-bench-app-") as tmp:
        tmp_path = Path(tmp)
        env = child_env(tmp_path / "kivy")
        till = measure([sys.executable, "-m", "floreyn.terminal.app", "--simulate", "--windowed",
                        "--data-dir", str(tmp_path / "data"), "--sign-in-pin", "1234",
                        "--dim-after", str(window_s + 5), "--exit-after", str(2 * window_s + 12)],
                       window_s, dimmed=True, env=env)
        floor_py = tmp_path / "floor_app.py"  # a file: Kivy's App looks for a .kv beside its source
        floor_py.write_text(FLOOR_APP)
        floor = measure([sys.executable, str(floor_py), str(window_s + 3), str(rest_fps())], window_s, dimmed=False,
                        env=env)
        steps = library_steps_mb(env)
    return {**till, **{f"floor_{k}": v for k, v in floor.items()}, "kivy_mb": steps["kivy"],
            "libraries_mb": sum(steps[n] for n in CARD_PROMPT_LIBRARIES), **{f"lib_{n}": steps[n] for n, _ in LIBRARY_STEPS}}


def rest_fps() -> float:
    """terminal/app/root.py's REST_FPS, read from its source (importing it would open a Kivy window here)."""
    tree = ast.parse((ROOT / "terminal" / "app" / "root.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "REST_FPS" for t in node.targets):
            return float(ast.literal_eval(node.value))
    raise RuntimeError("no REST_FPS in terminal/app/root.py")


def _spread(runs: list[dict[str, float]], key: str, digits: int) -> str:
    values = [r[key] for r in runs]
    return "/".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


def run(window_s: float | None = None) -> list[dict]:
    window_s = float(window_s or os.environ.get("FLOREYN_BENCH_WINDOW_S") or DEFAULT_WINDOW_S)
    runs = [_one_run(window_s) for _ in range(RUNS)]
    goals.app_memory([r["peak_rss_mb"] for r in runs], [r["floor_peak_rss_mb"] for r in runs])
    floor_peak = statistics.median(r["floor_peak_rss_mb"] for r in runs)
    goal_mb = min(150.0, 1.1 * floor_peak)
    base = "minimal Kivy app, one label"
    note = f"{window_s:g} s window; min/med/max of {RUNS} runs"
    return [
        {"name": f"app: cold start to the card prompt (min/med/max of {RUNS})", "value": _spread(runs, "start_s", 2),
         "unit": "s", "baseline": _spread(runs, "floor_start_s", 2), "baseline_name": base + ", to first frame",
         "target": ""},
        {"name": f"app: peak RSS (min/med/max of {RUNS})", "value": _spread(runs, "peak_rss_mb", 1), "unit": "MB",
         "baseline": _spread(runs, "floor_peak_rss_mb", 1), "baseline_name": base,
         "target": f"<= 150 MB or <= 1.1x the floor ({1.1 * floor_peak:.0f} MB), whichever is lower"},
        {"name": f"app: RSS the card prompt's libraries add to the floor's imports (PyNaCl; "
                 f"min/med/max of {RUNS})",
         "value": _spread(runs, "libraries_mb", 1), "unit": "MB more", "baseline": _spread(runs, "kivy_mb", 1),
         "baseline_name": "python + the floor's Kivy imports, no window",
         "target": f"the least the till adds to the floor; the goal leaves {goal_mb - floor_peak:.0f} MB"},
        {"name": "app: RSS each import adds, in order (median of 3): PyNaCl / "
                 "the till's store, engine and sync modules / requests (not at the card prompt: loaded when the "
                 "sync client first talks to the server)",
         "value": "/".join(f"{statistics.median(r[f'lib_{n}'] for r in runs):.1f}" for n, _ in LIBRARY_STEPS),
         "unit": "MB", "baseline": f"{statistics.median(r['kivy_mb'] for r in runs):.1f}",
         "baseline_name": "python + the floor's Kivy imports, no window", "target": ""},
        {"name": f"app: idle CPU on the card prompt ({note})", "value": _spread(runs, "idle_cpu_pct", 2),
         "unit": "% of a core", "baseline": _spread(runs, "floor_idle_cpu_pct", 2), "baseline_name": base,
         "target": "<= 1 %"},
        {"name": f"app: idle CPU, screen dimmed ({note})", "value": _spread(runs, "dimmed_cpu_pct", 2),
         "unit": "% of a core", "baseline": _spread(runs, "floor_idle_cpu_pct", 2),
         "baseline_name": base + " (not dimmed)", "target": "<= 1 %"},
    ]


def main(argv: list[str]) -> int:
    window = None
    if "--window" in argv:
        window = float(argv[argv.index("--window") + 1])
    for row in run(window):
        print(f"{row['name']:<52} {row['value']:>8} {row['unit']:<12} "
              f"baseline {row['baseline']} ({row['baseline_name']})  target {row['target']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
