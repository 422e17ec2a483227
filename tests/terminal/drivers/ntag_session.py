"""nfcpy's own Type 2 tag object for an emulated NTAG: for tests that speak to the card directly."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import nfc


@contextlib.contextmanager
def nfcpy_tag(emulated: Any) -> Iterator[Any]:
    """(tag) as nfcpy's reader stack activates it on the udp radio; the reader closes afterwards."""
    clf = nfc.ContactlessFrontend(emulated.path)
    try:
        tag = clf.connect(rdwr={"targets": ["106A"], "on-connect": lambda tag: False, "beep-on-connect": False},
                          terminate=_deadline(5.0))
        assert tag, "no tag found on the udp radio"
        yield tag
    finally:
        clf.close()


def _deadline(seconds: float) -> Any:
    import time

    end = time.monotonic() + seconds
    return lambda: time.monotonic() > end
