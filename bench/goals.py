"""Issue 19's goals as the benches measure them: each target, floor and what a figure includes, in one place.

Not a benchmark itself. Each bench calls its function here once, with the values it measured (one per
round), and the function emits the goal rows (common.emit_goal: one JSON line each, collected by
bench/run_all.py into the goals table). The wording of the targets is the issue's; "met" holds the median
of the rounds to the target.
"""

from __future__ import annotations

import statistics
from typing import Any, Final, Sequence

from common import Target, at_least, at_most, emit_goal, min_med_max, ratio_at_least, ratio_at_most

MB_IN_MIB: Final = 1e6 / 2**20  # the issue's MB are 10^6 bytes; the benches measure MiB
ISSUE_SIZE_CARDS: Final = 100_000
ISSUE_SIZE_POSTINGS: Final = 1_000_000
ISSUE_SIZE_UNACKED: Final = 100_000
ISSUE_TILLS_P99: Final = 40  # goal 1's upload p99 is at 40 concurrent tills
TILL_TIMEOUT_MS: Final = 3_000.0  # terminal/config.py online_timeout_s
# Goal 1's ">= 2x today's absolute rate on this machine": the medians the issue measured (its "Why").
ISSUE_RATE: Final = {"SQLite": 2_956.0, "PostgreSQL": 2_060.0}

_one_worker_rates: dict[str, list[float]] = {}  # goal 2 compares each worker count with 1 worker, same run


def _mmm(values: Sequence[float], digits: int) -> str:
    """min/median/max for a note (the rows' own figures are numbers, the table formats them)."""
    return "/".join(f"{v:.{digits}f}" for v in min_med_max(list(values)))


def _reduced(size: int, issue_size: int) -> str:
    return f" (reduced: the issue's size is {issue_size:,})" if size < issue_size else ""


def http_ingest(label: str, workers: int, terminals: int, per_terminal: int, rates: Sequence[float],
                floors: Sequence[float], p99s_ms: Sequence[float], timeouts: int, *,
                batch: str = "batches of 200", fixed_batch: int | None = None, duplicates: int = 0) -> None:
    """Goals 1 and 2 from bench/server_http_ingest.py: records/s over HTTP per round, the raw floor's, p99s.

    `batch`: how the tills sized their batches, in words; `fixed_batch`: the size when it was fixed (a run beside
    the worker's own sizing: its rows get keys of their own)."""
    key = f"{label}, {workers} worker(s)" + (f", batch {fixed_batch}" if fixed_batch is not None else "")
    what = f"{terminals} tills x {per_terminal} records"
    includes = (f"wall time from the start signal to every till's last acknowledged batch: {terminals} real "
                f"SyncClients (signed requests, signed answers checked) posting {batch} to floreyn-server "
                f"(uvicorn, {workers} worker(s)) on loopback; the server authenticates, decodes, verifies each "
                f"Ed25519 signature, checks the rules, writes the ledger and commits. Signing is done before")
    floor_what = "raw INSERT per record + UPDATE per balance, committed per batch, same batches and database"
    emit_goal(1, f"HTTP ingest, {key}, {what}, real SyncClient", rates, "records/s",
              ratio_at_least(0.1, ">= 0.1x floor"), floor=floors, floor_what=floor_what, over_http=True,
              includes=includes, key=f"1|ingest|{key}")
    if workers == 1 and label in ISSUE_RATE:
        before = ISSUE_RATE[label]
        emit_goal(1, f"HTTP ingest, {key}, {what}, beside the issue's rate", rates, "records/s",
                  at_least(2 * before, f">= 2x the issue's {before:,.0f} records/s"), floor=[before],
                  floor_what="the issue's median on this machine (not this run)", ratio=[r / before for r in rates],
                  over_http=True, includes=includes, key=f"1|ingest-2x|{key}")
    emit_goal(1, f"upload p99 over HTTP, {key}, {terminals} tills{_reduced(terminals, ISSUE_TILLS_P99)}", p99s_ms, "ms",
              at_most(TILL_TIMEOUT_MS / 2, "<= 1,500 ms (half the till's timeout) at 40 tills"),
              floor=[TILL_TIMEOUT_MS] * len(p99s_ms), floor_what="the till's timeout", over_http=True,
              includes="each acknowledged upload request as the till times it; a timed-out batch is sent again "
                       "and not counted (see the note)", key=f"1|p99|{key}",
              note=f"{timeouts} timeouts, {duplicates} records re-sent and answered as duplicates")
    if label != "PostgreSQL":
        return
    if workers == 1:
        _one_worker_rates[what] = list(rates)
    elif what in _one_worker_rates:
        one = _one_worker_rates[what]
        emit_goal(2, f"HTTP ingest, PostgreSQL, {workers} workers beside 1, {what}", rates, "records/s",
                  Target("more workers, more throughput (> 1x of 1 worker)", "ratio", ">", 1.0), floor=one,
                  floor_what="1 worker, same run", ratio=[r / o for r, o in zip(rates, one, strict=False)],
                  over_http=True, includes=includes, key=f"2|workers|{workers}")


def balance(label: str, postings: int, results: Sequence[dict[str, float]], load_tills: int, *, split: bool) -> None:
    """Goal 6 from bench/server_balance.py: the card summary's p99 over HTTP while tills upload, `split`: with
    the uploads in their own process at a lower priority (docs/operations.md "Uploads in their own process")."""
    where = ("uploads in their own process (floreyn-uploads.service's Nice=)" if split
             else "one process for reads and uploads")
    emit_goal(6, f"balance read p99 over HTTP, {label}, {postings:,} postings, {load_tills} tills uploading, {where}"
                 f"{_reduced(postings, ISSUE_SIZE_POSTINGS)}",
              [r["p99"] for r in results], "ms", at_most(5.0, "<= 5 ms"), floor=[r["floor_p99"] for r in results],
              floor_what="bare primary-key SELECT of the balance, interleaved, same load", over_http=True,
              includes="the real SyncClient's card summary (signed request, signed answer checked) from "
                       "floreyn-server (one worker) on loopback, one read at a time, while another process "
                       "uploads with the real SyncClient"
                       + (" to a second floreyn-server (one worker) on the same database; that server and the "
                          "uploading process (tills, which are other machines for a real server) at the unit's "
                          "Nice=" if split else " to the same server"),
              key=f"6|{'split' if split else 'one'}|{label}", size=postings,
              note="reads per round: " + "/".join(f"{r['reads']:.0f}" for r in results)
                   + "; GET /v1/health p99 under the same load: " + _mmm([r["health_p99"] for r in results], 1) + " ms"
                   + "; a bare ASGI app's constant answer (uvicorn alone, bench/bare_asgi.py) p99 under the same load: "
                   + _mmm([r["bare_p99"] for r in results], 1) + " ms")


def export(label: str, big: dict[str, Any], small: dict[str, Any]) -> None:
    """Goal 7 from bench/server_export.py: seconds per million postings over HTTP, and the server's peak
    memory at the largest size beside the smallest."""
    count = big["count"]
    emit_goal(7, f"CSV export over HTTP, {label}, {count:,} postings{_reduced(count, ISSUE_SIZE_POSTINGS)}",
              big["per_m"], "s per million", at_most(5.0, "<= 5 s per million"),
              floor=big["floor_per_m"][big["goal_floor"]], floor_what=big["goal_floor_what"], over_http=True,
              includes="GET /v1/admin/reports/export.csv read to the end over loopback (plain dialect) from "
                       "floreyn-server, one worker", key=f"7|time|{label}", size=count,
              note=f"server CPU per million: {_mmm(big['cpu_per_m'], 2)} s"
                   + "".join(f"; floor {name}: {_mmm(v, 1)} s" for name, v in big["floor_per_m"].items()))
    emit_goal(7, f"server peak RSS with the export, {label}, {count:,} vs {small['count']:,} postings",
              [big["peak_mb"]], "MB",
              ratio_at_most(1.25, f"constant memory (<= 1.25x the peak at {small['count']:,})"),
              floor=[small["peak_mb"]], floor_what=f"the same at {small['count']:,} postings", over_http=True,
              includes="the server process's VmHWM after the exports, a fresh server per size",
              key=f"7|memory|{label}", size=count)


def snapshot(n: int, label: str, m: dict[str, list[float]], floor_bytes_per_card: float) -> None:
    """Goal 3 from bench/server_snapshot.py at `n` cards (each size is a point of the curve)."""
    tag = f"{label}, {n:,} cards x 2 budgets{_reduced(n, ISSUE_SIZE_CARDS)}"
    pages = "every page as the page endpoint serves it (kept pages, changed cards as overlays, signed)"
    emit_goal(3, f"full snapshot, server time, {tag}", m["full"], "s", at_most(1.0, "<= 1 s"), floor=m["full_floor"],
              floor_what="SELECT of the kept entries + zlib of the same bytes", over_http=False, includes=pages,
              key=f"3|full|{label}", size=n)
    emit_goal(3, f"snapshot delta of 100 changed cards, server time, {tag}", [v * 1000 for v in m["delta"]], "ms",
              at_most(50.0, "<= 50 ms"), floor=[v * 1000 for v in m["delta_floor"]],
              floor_what="SELECT of the changed card rows", over_http=False,
              includes=pages + ", before the housekeeping job refreshed the changed cards' entries",
              key=f"3|delta|{label}", size=n,
              note=f"once the job ran: {_mmm([v * 1000 for v in m['delta_kept']], 1)} ms")
    wire = [v / 2**20 for v in m["wire"]]
    emit_goal(3, f"full snapshot on the wire, {tag}", wire, "MiB", at_most(4 * MB_IN_MIB, "<= 4 MB (3.81 MiB)"),
              floor=[n * floor_bytes_per_card / 2**20] * len(wire),
              floor_what="the random bytes of the cards' short ids and the budgets' ids, and the entropy of their "
                         "random balances (no encoding naming cards by short ids goes below)",
              over_http=False, includes="the signed compressed pages' bytes", key=f"3|wire|{label}", size=n)
    emit_goal(3, f"till's Python heap peak during a full fetch, {tag}", m["mem"], "MiB",
              at_most(20 * MB_IN_MIB, "<= 20 MB (19.07 MiB)"), floor=m["mem_floor"],
              floor_what="one page, compressed + plain", over_http=True,
              includes="tracemalloc peak of the real SyncClient + TerminalStore fetching, verifying and applying "
                       "every page from floreyn-server over loopback", key=f"3|memory|{label}", size=n)


def long_day(n: int, first_starts: Sequence[float], later_starts: Sequence[float], first_floors: Sequence[float],
             later_floors: Sequence[float], commit_ms: Sequence[float], raw_ms: Sequence[float]) -> None:
    """Goal 4 from bench/till_long_day.py at `n` unacknowledged records."""
    tag = f"{n:,} unacknowledged records{_reduced(n, ISSUE_SIZE_UNACKED)}"
    floor_what = "open the file, read + verify the head record"
    emit_goal(4, f"till first start after the upgrade, {tag}", first_starts, "s", at_most(2.0, "<= 2 s"),
              floor=first_floors, floor_what=floor_what, over_http=False,
              includes="a fresh process opening the store (migrations, lock, state) and the chain check the "
                       "engine runs at start; each record's full check runs after, in the background",
              key="4|first-start", size=n)
    emit_goal(4, f"till later starts, {tag}", later_starts, "s", at_most(2.0, "<= 2 s"), floor=later_floors,
              floor_what=floor_what, over_http=False,
              includes="the same, resuming from the last verified point", key="4|later-start", size=n)
    emit_goal(4, f"till commit with the sale's usage re-checks, {tag}", commit_ms, "ms",
              ratio_at_most(3.0, "<= 3x raw"), floor=raw_ms,
              floor_what="raw sqlite3 durable insert + update (WAL, FULL), interleaved", over_http=False,
              includes="median of each run's TerminalStore.commit_tx with three card_usage re-checks inside "
                       "the write transaction", key="4|commit", size=n)


def scripted_spend(n: int, spend_ms: Sequence[float], raw_ms: Sequence[float], cpu_ms: Sequence[float]) -> None:
    """Goal 4's whole scripted spend from bench/till_scripted_spend.py (each run's median of `n`)."""
    emit_goal(4, "till whole scripted spend", spend_ms, "ms", ratio_at_most(4.0, "<= 4x one raw durable commit"),
              floor=raw_ms, floor_what="one raw sqlite3 durable insert + update (WAL, FULL), interleaved",
              over_http=False, includes=f"the scripted till's spend action: quote, Engine.confirm with its "
                                        f"re-checks, both durable transactions, the receipt printed (median of {n})",
              key="4|spend", note=f"CPU time: {_mmm(cpu_ms, 2)} ms")


def app_memory(peak_mb: Sequence[float], floor_mb: Sequence[float]) -> None:
    """Goal 5 from bench/app_start.py: the till app's peak RSS beside the one-label Kivy app's."""
    limit = min(150.0, 1.1 * statistics.median(floor_mb))
    emit_goal(5, "till app peak RSS", peak_mb, "MB",
              Target(f"<= 150 MB or <= 1.1x the floor ({1.1 * statistics.median(floor_mb):.0f} MB), "
                     "whichever is lower", "figure", "<=", limit),
              floor=floor_mb, floor_what="a one-label Kivy app, same settings and frame cap", over_http=False,
              includes="VmHWM of the till app (SDL offscreen, llvmpipe) from spawn to the card prompt and a "
                       "resting, then dimmed, screen", key="5|rss")
