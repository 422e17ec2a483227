"""Receipt printing cost: one receipt through EscposPrinter to a loopback network printer.

Measured: print_doc (render with python-escpos, connect, DLE EOT status before
and after, send, close) for an 80 mm receipt with a QR code. Baseline, same
run: connect + sendall of the already-rendered bytes to the same printer, i.e.
the transport alone. The difference is what rendering and status checks cost.
"""

from __future__ import annotations

import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROUNDS = 60


def _sink_printer() -> tuple[socket.socket, threading.Event]:
    """A minimal ESC/POS sink: swallows bytes, answers every DLE EOT n with 'online, paper ok'."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                tail = b""
                while chunk := conn.recv(65536):
                    data = tail + chunk
                    conn.sendall(b"\x12" * data.count(b"\x10\x04"))  # good enough for a benchmark
                    tail = data[-1:]

    threading.Thread(target=serve, daemon=True).start()
    return server, stop


def _receipt():  # noqa: ANN202
    from floreyn.terminal.drivers.base import Align, Line, PrintDoc

    lines = [Line("Floreyn Amersfoort", bold=True, align=Align.CENTER)]
    lines += [Line("BON", bold=True, large=True, align=Align.CENTER)]
    lines += [Line(f"Artikel {i}", f"€ {i},50") for i in range(12)]
    lines += [Line("Te betalen", "€ 84,00", bold=True), Line("Pas", "•••• 1A2B")]
    return PrintDoc(tuple(lines), qr_data="tx-7f3a9c2e-0b41-4d8e-9a55-2c6e1f08b7d4")


def _median_ms(job, rounds: int = ROUNDS) -> float:  # noqa: ANN001
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        job()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run() -> list[dict]:
    from floreyn.terminal.drivers.escpos_render import render_doc
    from floreyn.terminal.drivers.factory import make_printer

    server, stop = _sink_printer()
    port = server.getsockname()[1]
    doc = _receipt()
    try:
        config = {"kind": "network", "host": "127.0.0.1", "port": port, "columns": 48, "profile": "TM-T20II"}
        printer = make_printer(config)
        data = render_doc(doc, profile="TM-T20II", columns=48, codepage="CP1252")

        def raw_send() -> None:
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(data)

        printer.print_doc(doc)  # warm-up: imports, capability profiles
        measured = _median_ms(lambda: printer.print_doc(doc))
        baseline = _median_ms(raw_send)
        render_ms = _median_ms(lambda: render_doc(doc, profile="TM-T20II", columns=48, codepage="CP1252"))
    finally:
        stop.set()
        server.close()
    return [
        {
            "name": "drivers: print one 80 mm receipt with QR (network, status checked)",
            "value": round(measured, 2),
            "unit": "ms",
            "baseline": round(baseline, 2),
            "baseline_name": f"connect + send the {len(data)} rendered bytes",
            "target": "< 100 ms",
        },
        {
            "name": "drivers: render receipt to ESC/POS (python-escpos Dummy)",
            "value": round(render_ms, 2),
            "unit": "ms",
            "baseline": round(baseline, 2),
            "baseline_name": "transport alone",
            "target": "< 50 ms",
        },
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from run_all import print_row  # bench/ is sys.path[0] when a bench script runs alone

    for row in run():
        print_row(row)
