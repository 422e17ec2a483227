"""floreyn-provision at the desk: CSV member import throughput and the time to issue one card.

Both run the real tool (main(argv), in-process) against a real server on
loopback (uvicorn, SQLite), each beside a floor measured in the same run:

* member import: rows per second for a 1000-row CSV (whole-file check, then one
  POST per row with a request id from the file), beside the same 1000 POSTs
  sent bare from one requests.Session with nothing checked.
* card issue: seconds per card (member lookup, key check at the server, sign,
  write, read back, verify, lock, register) to an emulated NTAG215 over
  nfcpy's udp radio, beside CardWriter.write alone (write, verify, lock).

    python bench/provision_desk.py [--rows 1000] [--cards 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from floreyn import card as cards
from floreyn import keys
from floreyn.provisioning.cli import main
from floreyn.server.testing import ServerThread
from floreyn.terminal.drivers.nfc_emulator_ntag import EmulatedNtag
from floreyn.terminal.drivers.nfc_writer import CardWriter

OVER_HTTP = True  # bench/run_all.py: the desk tool against a real server on loopback


def tool(base: list[str], *argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = main([*base, *argv, "--json"], stdout=out, stderr=err)
    if code != 0:
        raise RuntimeError(f"{argv}: exit {code}: {err.getvalue()}")
    return out.getvalue()


def bench_import(srv: ServerThread, base: list[str], token: str, folder: Path, rows: int) -> tuple[float, float]:
    path = folder / "leden.csv"
    path.write_text("name,alias,email\n" + "".join(f"Lid Nummer {i},Lid {i},lid{i}@example.org\n" for i in range(rows)))
    started = time.perf_counter()
    tool(base, "member", "import", str(path))
    tool_rps = rows / (time.perf_counter() - started)
    session = requests.Session()
    started = time.perf_counter()
    for i in range(rows):
        resp = session.post(
            srv.base_url + "/v1/admin/members",
            timeout=30,
            json={"alias": f"Kaal {i}", "email": f"kaal{i}@example.org", "request_id": uuid.uuid4().hex},
            headers={"Authorization": f"Bearer {token}"},
        )
        resp.raise_for_status()
    bare_rps = rows / (time.perf_counter() - started)
    session.close()
    return tool_rps, bare_rps


def bench_cards(base: list[str], home: Path, folder: Path, count: int) -> tuple[float, float]:
    members = [
        tool(base, "member", "add", "--alias", f"Pas {i}").split('"member_id": "')[1].split('"')[0]
        for i in range(count)
    ]
    tool_s = []
    for member_id in members:
        with EmulatedNtag() as tag:
            started = time.perf_counter()
            tool(base, "card", "issue", "--member", member_id, "--reader", tag.path, "--no-print")
            tool_s.append(time.perf_counter() - started)
    issuer = keys.load_private_key(home / "issuer.pem")
    ntag_key = bytes.fromhex((home / "ntag.key").read_text())
    issuers = cards.issuer_map([issuer.public_key()])
    bare_s = []
    for _ in range(count):
        with EmulatedNtag() as tag:
            card = cards.issue(issuer)
            started = time.perf_counter()
            CardWriter(tag.path, targets=("106A",)).write(
                card, lambda p: cards.verify_payload(p, issuers), password_key=ntag_key
            )
            bare_s.append(time.perf_counter() - started)
    return statistics.median(tool_s), statistics.median(bare_s)


def run(rows: int = 1000, card_count: int = 5) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with ServerThread(f"sqlite:///{folder / 'bench.db'}", folder / "data") as srv:
            home = folder / "home"
            base = ["--home", str(home), "--server", srv.base_url]
            tool(base, "init", "--bootstrap-token-file", str(srv.config.data_dir / "admin_token"), "--no-passphrase")
            token = (home / "provision.toml").read_text().split('token = "')[1].split('"')[0]
            tool_rps, bare_rps = bench_import(srv, base, token, folder, rows)
            card_s, write_s = bench_cards(base, home, folder, card_count)
    return [
        {
            "name": f"provision: member import, {rows}-row CSV",
            "value": round(tool_rps),
            "unit": "rows/s",
            "baseline": round(bare_rps),
            "baseline_name": "bare POST /members loop",
            "target": ">= 100 rows/s",
        },
        {
            "name": "provision: card issue (sign, write, verify, lock, register)",
            "value": round(card_s, 3),
            "unit": "s",
            "baseline": round(write_s, 3),
            "baseline_name": "CardWriter.write alone",
            "target": "<= 2 s per card",
        },
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--cards", type=int, default=5)
    opts = parser.parse_args()
    from run_all import print_row  # bench/ is sys.path[0] when a bench script runs alone

    for row in run(opts.rows, opts.cards):
        print_row(row)
    sys.exit(0)
