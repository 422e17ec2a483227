"""Fake ESC/POS printers on real transports: a TCP server on loopback, and a pty pair.

Both keep every byte they receive (minus the real-time status queries) and
answer DLE EOT 1/2/4 from a settable state, as an Epson TM printer does:

    with FakeNetworkPrinter() as printer:          # printer.port
        printer.paper = "out"                      # "ok" / "near_end" / "out"
        printer.cover_open = True
        printer.answers_status = False             # a printer without DLE EOT support
        printer.jobs                               # bytes of each finished connection
        printer.last_job()                         # waits for the connection to close

    with FakeSerialPrinter() as printer:           # printer.device, e.g. /dev/pts/7
        printer.received                           # everything, status queries removed
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import tty
from typing import Callable

from escpos_decode import parse_spans

_ALIVE_S = 0.05  # poll interval of the server threads; bounds stop() latency


class PrinterCore:
    """Byte sink and status responder shared by both fakes."""

    def __init__(self) -> None:
        self.paper = "ok"
        self.cover_open = False
        self.online = True
        self.answers_status = True
        self.paper_out_after_bytes: int | None = None  # the roll runs out while this job prints
        self.status_queries: list[int] = []
        self._lock = threading.RLock()

    def status_byte(self, n: int) -> int:
        out = self.paper == "out"
        if n == 1:
            return 0x12 | (0x08 if self.cover_open or out or not self.online else 0)
        if n == 2:
            return 0x12 | (0x04 if self.cover_open else 0) | (0x20 if out else 0)
        if n == 4:
            return 0x12 | (0x0C if self.paper != "ok" else 0) | (0x60 if out else 0)
        return 0x12

    def feed(self, pending: bytearray, chunk: bytes, sink: bytearray) -> bytes:
        """Consume `chunk`; append job bytes to `sink`; return the status answers to send back."""
        with self._lock:
            pending += chunk
            spans, used = parse_spans(bytes(pending))
            replies = bytearray()
            for token, start, end in spans:
                if token[0] == "status":  # real-time query: answered now, not part of the job
                    self.status_queries.append(token[1])
                    if self.answers_status:
                        replies.append(self.status_byte(token[1]))
                else:
                    sink += pending[start:end]
                    if self.paper_out_after_bytes is not None and len(sink) >= self.paper_out_after_bytes:
                        self.paper = "out"
            del pending[:used]
            return bytes(replies)


class FakeNetworkPrinter(PrinterCore):
    """An ESC/POS printer listening on 127.0.0.1:<free port> like a LAN printer on 9100."""

    def __init__(self) -> None:
        super().__init__()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.jobs: list[bytes] = []
        self.connections = 0
        self.drop_after_bytes: int | None = None  # close the connection mid-job, like a printer losing power
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake-network-printer")

    def __enter__(self) -> FakeNetworkPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self._server.close()

    def _serve(self) -> None:
        self._server.settimeout(_ALIVE_S)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
            with conn:
                self._handle(conn)

    def last_job(self, timeout_s: float = 2.0) -> bytes:
        """The newest finished job, once every connection made so far has been closed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self.jobs and len(self.jobs) == self.connections:
                    return self.jobs[-1]
            time.sleep(0.005)
        raise AssertionError(f"no finished job: {self.connections} connections, {len(self.jobs)} jobs")

    def _handle(self, conn: socket.socket) -> None:
        pending, job = bytearray(), bytearray()
        conn.settimeout(_ALIVE_S)
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            replies = self.feed(pending, chunk, job)
            if self.drop_after_bytes is not None and len(job) >= self.drop_after_bytes:
                break
            if replies:
                conn.sendall(replies)
        with self._lock:
            self.jobs.append(bytes(job))


class FakeSerialPrinter(PrinterCore):
    """An ESC/POS printer on the master side of a pty; the driver opens `device` (the slave)."""

    def __init__(self) -> None:
        super().__init__()
        self._master, self._slave = os.openpty()
        self.slave_fd = self._slave  # tests read the line settings (termios) the driver set
        tty.setraw(self._slave)  # no echo, no line editing: bytes pass as on a real serial line
        self.device = os.ttyname(self._slave)
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake-serial-printer")

    def __enter__(self) -> FakeSerialPrinter:
        self._thread.start()
        return self

    def wait_received(self, done: Callable[[bytes], bool], timeout_s: float = 10.0) -> bytes:
        """What arrived, once `done` accepts it or at the deadline.

        A thread reads the pty: the driver's write returns before that thread has read
        every byte, which on a busy machine shows as a job cut short.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            got = bytes(self.received)
            if done(got) or time.monotonic() >= deadline:
                return got
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self._master)
        os.close(self._slave)

    def _serve(self) -> None:
        pending = bytearray()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], _ALIVE_S)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                continue
            replies = self.feed(pending, chunk, self.received)
            if replies:
                os.write(self._master, replies)
