"""The terminal's background sync: the only thing on a till that waits on the network.

SyncWorker is a daemon thread that uploads waiting records in bounded batches
(sized by the round trips: sync/batching.py), fetches the snapshot (a delta when it can), and retries with a bounded,
jittered backoff. The till reads `worker.state` (never blocks) and may call
`request_sync()` after a sale to wake it early. The network itself, and its
one error family, is SyncClient's (sync/client.py).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Final

from floreyn.sync.batching import AdaptiveBatch
from floreyn.sync.client import (
    MAX_UPLOAD_BATCH, Outbox, SyncClient, SyncError, SyncServerBehind, SyncTimeout, UploadAck,
)
from floreyn.sync.record import decode
from floreyn.sync.snapshot import Snapshot
from floreyn.sync.snapshot_pages import SnapshotSink

log = logging.getLogger("floreyn.sync")
BACKOFF_MIN_S: Final = 1.0  # the pause after a failed round, doubling with each further one ...
BACKOFF_MAX_S: Final = 60.0  # ... up to this


@dataclass(frozen=True, slots=True)
class SyncState:
    last_sync_ms: int | None = None  # server time of the last complete sync
    waiting: int = 0  # records not yet acknowledged by the server
    snapshot_age_s: int | None = None  # age of the snapshot the till works from
    online: bool = False  # the last attempt reached the server and completed
    last_error: str | None = None  # code of the last failure (SyncError codes), None after a success
    last_error_message: str | None = None  # Dutch, for the shopkeeper
    acked_seq: int = 0
    snapshot_version: int | None = None


def backoff_s(failures: int, min_s: float, max_s: float) -> float:
    """The pause after `failures` (>= 1) failed rounds in a row: doubling from min_s up to max_s, jittered so a
    market's tills do not retry in step. bench/server_http_ingest.py's tills pause the same after a time-out."""
    delay = min(max_s, min_s * 2.0 ** min(failures - 1, 16))
    return delay * random.uniform(0.5, 1.0)


class SyncWorker:
    def __init__(self, outbox: Outbox, client: SyncClient, *, batch_size: int | None = None, max_batches: int = 25,
                 interval_s: float = 30.0, backoff_min_s: float = BACKOFF_MIN_S, backoff_max_s: float = BACKOFF_MAX_S,
                 on_state: Callable[[SyncState], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`batch_size`: a fixed number of records per upload; None (the default) sizes each batch by the round
        trips before it (sync/batching.py). `clock` times the round trips (seconds)."""
        if batch_size is not None and not 1 <= batch_size <= MAX_UPLOAD_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_UPLOAD_BATCH}")
        self.outbox = outbox
        self.client = client
        timeout_s = client.timeout_s
        self.batch = AdaptiveBatch(timeout_s) if batch_size is None else AdaptiveBatch.fixed(batch_size, timeout_s)
        self._clock = clock
        # Requests per round, each bounded by the client's timeout, so one round is bounded in time too (however
        # the batch is sized) and the snapshot, with its blocked cards, is refreshed at least once a round.
        self.max_batches = max_batches
        self.interval_s = interval_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.on_state = on_state  # called on the worker thread; a UI must hop to its own thread
        self._state = SyncState()
        self._failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._round = threading.Lock()  # run_once from a test and from the thread never overlap
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SyncState:
        return self._state  # an immutable value swapped whole: safe to read from any thread

    def run_once(self) -> SyncState:
        """One round: upload what waits (bounded), then refresh the snapshot. Never raises."""
        with self._round:
            try:
                acked = self._upload_all()
                snap = self._refresh_snapshot()
                self._failures = 0
                self._set(online=True, last_error=None, last_error_message=None, acked_seq=acked,
                          last_sync_ms=self.client.server_time_ms(), snapshot_version=snap.snapshot_version)
            except SyncError as exc:
                self._failures += 1
                self._set(online=False, last_error=exc.code, last_error_message=exc.message("nl"))
            except Exception as exc:  # a bug in the store or here: report it, keep the thread alive
                log.exception("sync round failed")
                self._failures += 1
                self._set(online=False, last_error="sync_internal", last_error_message=str(exc)[:200])
            return self._state

    def _refresh_snapshot(self) -> Snapshot:
        """A store that stages pages (the till's) applies them itself, all at once; any other outbox is
        handed the merged snapshot."""
        if isinstance(self.outbox, SnapshotSink):
            return self.client.fetch_snapshot(self.outbox)
        snap = self.client.snapshot(base=self.outbox.current_snapshot())
        self.outbox.store_snapshot(snap)
        return snap

    def _upload_all(self) -> int:
        """Upload what waits, in bounded batches. A round with nothing to send still asks the server's
        acked_seq (an empty upload): after a restore from a backup the server may hold less than it once
        acknowledged, and the records above its head are then sent again (_server_behind)."""
        acked = self._state.acked_seq
        rewound = False
        for batch_no in range(self.max_batches):
            size = self.batch.size
            raws = self.outbox.unsent(size)
            if not raws and batch_no > 0:
                break
            ack = self._upload(raws)
            if ack.acked_seq > 0:
                self.outbox.acknowledge(ack.acked_seq)
            first_seq = decode(raws[0]).record.seq if raws else None
            if self._server_behind(ack.acked_seq, first_seq):
                rewound, acked = True, ack.acked_seq
                continue  # the records above the server's head are unsent again: send them now
            if not raws:
                acked = max(acked, ack.acked_seq)
                break
            last_seq = decode(raws[-1]).record.seq
            if ack.acked_seq < last_seq:
                break  # the server waits for something earlier, or took part; next round resends
            acked = max(acked, ack.acked_seq)
            if len(raws) < size:
                break
        return acked if rewound else max(acked, self._state.acked_seq)

    def _upload(self, raws: list[bytes]) -> UploadAck:
        """One upload, timed for the batch size (an empty one too: it queues for the server's write lock as
        any upload does, so its round trip says as much about the load; being empty, it never grows the batch)."""
        head = self._local_head()
        started = self._clock()
        try:
            ack = self.client.upload(raws, head_seq=head) if head is not None else self.client.upload(raws)
        except SyncTimeout:
            self.batch.timed_out()
            raise
        self.batch.answered(len(raws), self._clock() - started)
        return ack

    def _server_behind(self, server_seq: int, first_seq: int | None) -> bool:
        """True when the outbox re-marked records for sending because the server lost them.

        The server is behind when its head is below the first record we send, minus one (a gap), or, with
        nothing to send, below what it acknowledged before (the outbox compares). If nothing could be
        re-marked although there is a gap, the missing records were pruned here: SyncServerBehind, so the
        till's status says so.
        """
        if first_seq is not None and server_seq >= first_seq - 1:
            return False
        if self.outbox.resend_after(server_seq) > 0:
            log.warning("the server holds this terminal's records only up to %d: sending the rest again", server_seq)
            return True
        if first_seq is not None:
            raise SyncServerBehind(first_missing=first_seq - 1, server_seq=server_seq)
        return False

    def _local_head(self) -> int | None:
        head = self.outbox.head
        return None if head is None else head.seq

    def _set(self, **changes: Any) -> None:
        snap = None
        try:
            snap = self.outbox.current_snapshot()
            waiting = self._count_waiting()
        except Exception:
            waiting = self._state.waiting
        age = None
        if snap is not None:
            age = max(0, (self.client.server_time_ms() - snap.server_time_ms) // 1000)
        self._state = replace(self._state, waiting=waiting, snapshot_age_s=age, **changes)
        if self.on_state is not None:
            try:
                self.on_state(self._state)
            except Exception:
                log.exception("on_state callback failed")

    def _count_waiting(self) -> int:
        return self.outbox.count_unsent()

    def next_delay_s(self) -> float:
        if self._failures == 0:
            return self.interval_s
        return backoff_s(self._failures, self.backoff_min_s, self.backoff_max_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.next_delay_s())
            self._wake.clear()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="floreyn-sync", daemon=True)
        self._thread.start()

    def request_sync(self) -> None:
        """Wake the worker now (after a sale); returns at once."""
        self._wake.set()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the thread; waits at most timeout_s (default: the client timeout plus a second)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s if timeout_s is not None else self.client.timeout_s * 2 + 1)
