"""The bounded memo behind the remembered decodes and verifications (server/remembered.py)."""

from __future__ import annotations

import os
import signal
import threading
import time

from floreyn.server.remembered import Remembered


def test_the_oldest_is_forgotten_first_and_a_missing_key_is_none():
    memo: Remembered[str, int] = Remembered(2)
    memo.remember([("a", 1), ("b", 2)])
    memo.remember([("c", 3)])
    assert len(memo) == 2
    assert memo.recall(["a", "b", "c", "d"]) == [None, 2, 3, None]


def test_a_child_forked_while_another_thread_holds_the_lock_can_still_use_it():
    memo: Remembered[str, int] = Remembered(4)
    memo.remember([("a", 1)])
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with memo._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: without a lock of its own this would wait forever (the parent's test times out)
        ok = memo.recall(["a"]) == [1]
        memo.remember([("b", 2)])
        os._exit(0 if ok and len(memo) == 2 else 1)
    try:
        status = _exit_status_within(pid, CHILD_DEADLINE_S)
    finally:
        release.set()
        holder.join()
    assert status == 0, "the forked child waited on a lock no thread of its own would release"


CHILD_DEADLINE_S = 10.0  # the child's two calls take microseconds; this only bounds a deadlock


def _exit_status_within(pid: int, deadline_s: float) -> int | None:
    """The child's exit code, or None after killing it when it has not ended within `deadline_s`."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None
