"""SyncWorker's upload batches (sync/worker.py with sync/batching.py): sized by the round trips before them.

First against a fake client and clock (the sizes the worker asks for), then against the real server over
HTTP: whatever the sizes and a lost answer, every record arrives exactly once.
"""

import pytest

from floreyn.server.testing import MemoryOutbox, ServerThread, SimTerminal, World
from floreyn.sync.batching import BATCH_MAX, BATCH_MIN, BATCH_START, GROW_STEP, SLOW_FRACTION
from floreyn.sync.client import SyncTimeout, UploadAck
from floreyn.sync.worker import SyncWorker

TIMEOUT_S = 3.0
SLOW_S = SLOW_FRACTION * TIMEOUT_S + 0.1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeClient:
    """Takes whatever it is sent (acked up to the last record) after the round trip the test scripts."""

    timeout_s = TIMEOUT_S

    def __init__(self, clock: FakeClock, round_trips_s: list[float | None]) -> None:
        self.clock = clock
        self.round_trips_s = round_trips_s  # None: this upload times out
        self.sent: list[int] = []
        self.acked = 0

    def upload(self, raws, head_seq=None):
        took = self.round_trips_s.pop(0) if self.round_trips_s else 0.01
        self.sent.append(len(raws))
        if took is None:
            self.clock.now += TIMEOUT_S
            raise SyncTimeout()
        self.clock.now += took
        self.acked += len(raws)
        return UploadAck(self.acked, len(raws))

    def server_time_ms(self):
        return 0


def outbox_with(records: int) -> MemoryOutbox:
    term = SimTerminal("T-fake", "M-fake")
    for _ in range(records):
        term.save("00" * 16, 1, 20)
    return MemoryOutbox(term)


def test_the_worker_grows_its_batch_on_fast_round_trips_and_halves_it_on_slow_ones():
    clock = FakeClock()
    client = FakeClient(clock, [0.01, 0.01, SLOW_S, 0.01])
    worker = SyncWorker(outbox_with(700), client, clock=clock)
    worker._upload_all()
    grown = BATCH_START + 2 * GROW_STEP
    halved = max(BATCH_MIN, grown // 2)
    assert client.sent[:4] == [BATCH_START, BATCH_START + GROW_STEP, grown, halved]
    assert client.sent[4] == halved + GROW_STEP
    assert sum(client.sent) == 700 and max(client.sent) <= BATCH_MAX


def test_a_timeout_ends_the_round_and_the_next_round_sends_half():
    clock = FakeClock()
    client = FakeClient(clock, [None])
    outbox = outbox_with(300)
    worker = SyncWorker(outbox, client, clock=clock)
    with pytest.raises(SyncTimeout):
        worker._upload_all()
    worker._upload_all()
    assert client.sent[:2] == [BATCH_START, max(BATCH_MIN, BATCH_START // 2)]
    assert outbox.acked == 300


def test_a_fixed_batch_size_stays_fixed():
    clock = FakeClock()
    client = FakeClient(clock, [SLOW_S, None])
    worker = SyncWorker(outbox_with(23), client, batch_size=5, clock=clock)
    with pytest.raises(SyncTimeout):
        worker._upload_all()
    worker._upload_all()
    assert client.sent == [5, 5, 5, 5, 5, 3]


def test_max_batches_still_bounds_a_round_whatever_the_size():
    clock = FakeClock()
    client = FakeClient(clock, [])
    worker = SyncWorker(outbox_with(2_000), client, max_batches=4, clock=clock)
    worker._upload_all()
    assert len(client.sent) == 4


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    data = tmp_path_factory.mktemp("server")
    with ServerThread(f"sqlite:///{data / 'floreyn.db'}", data) as server:
        yield server


class LostAnswer:
    """The real client, but the answer to one upload is lost: the server took the batch, the till timed out."""

    def __init__(self, client, lose_call: int) -> None:
        self.client = client
        self.timeout_s = client.timeout_s
        self.lose_call = lose_call
        self.sent: list[int] = []
        self.answers: list[UploadAck] = []

    def upload(self, raws, head_seq=None):
        ack = self.client.upload(raws, head_seq=head_seq)
        self.sent.append(len(raws))
        if len(self.sent) == self.lose_call:
            raise SyncTimeout()
        self.answers.append(ack)
        return ack

    def __getattr__(self, name):
        return getattr(self.client, name)


class SlowEvery:
    """The real clock, plus a slow round trip every `every`th reading pair: the worker sees a loaded server."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.readings = 0
        self.extra_s = 0.0

    def __call__(self) -> float:
        import time

        self.readings += 1
        if self.readings % (2 * self.every) == 0:
            self.extra_s += SLOW_S
        return time.monotonic() + self.extra_s


def test_adaptive_batches_upload_every_record_exactly_once_to_the_real_server(srv):
    world = World(srv)
    member, card = world.member()
    term = world.terminal()
    for _ in range(700):
        term.save(card, 1, 20)  # within the 5 % save rate the server checks
    outbox = MemoryOutbox(term)
    client = LostAnswer(term.client(srv, timeout_s=TIMEOUT_S), lose_call=4)
    worker = SyncWorker(outbox, client, clock=SlowEvery(3))
    first = worker.run_once()
    assert first.last_error == "sync_timeout" and outbox.acked > 0
    state = worker.run_once()
    while state.waiting and len(client.sent) < 100:
        state = worker.run_once()
    assert (state.online, state.waiting, state.acked_seq, outbox.acked) == (True, 0, 700, 700)
    assert len(set(client.sent)) > 2, client.sent  # the batch grew and shrank
    assert sum(a.accepted for a in client.answers) == 700 - client.sent[3]  # the lost answer's batch was taken
    assert sum(a.duplicates for a in client.answers) > 0  # and re-sent, answered as duplicates
    assert world.balance(f"member:{member}") == 700
