"""Record signatures checked with libsodium (PyNaCl) on a small thread pool, before the write transaction.

Why: verifying each record's Ed25519 signature was the largest cost of an
upload (py-spy over HTTP, bench/server_http_ingest.py). libsodium verifies
about twice as fast as `cryptography` here and releases the GIL, so a batch
split over VERIFY_THREADS threads uses both cores while the event loop and
the other requests' database work go on. The bytes checked are exactly
those SignedRecord.verify checks (SignedRecord.signature_ok); the answer is the same: the first bad record in batch order.

Records that verified are remembered (by SHA-256 of key and bytes, a bounded number): a till whose upload
timed out sends the same batch again while the first one still waits for the write lock, so its head has
not moved and every record would be verified twice. Whether a signature verifies depends on the key and
the bytes alone, so a remembered record is a verified one.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Final, Sequence

from floreyn.server.remembered import Remembered
from floreyn.sync.record import SignedRecord

# Threads that verify at once, for all requests together: one per core of the small server this is sized for.
# More only queue inside libsodium's CPU time; a batch waits for a free thread when all are busy.
VERIFY_THREADS: Final = 2
# Records per task: large enough that handing a chunk to a thread costs little beside 64 verifications.
VERIFY_CHUNK_RECORDS: Final = 64

# Verified records remembered per process: 40 tills' batches of 500 in flight at once, with room to spare;
# about 100 bytes each (a 32-byte digest in a dict), so 10 MB at most.
VERIFIED_REMEMBERED: Final = 100_000

_pool = ThreadPoolExecutor(max_workers=VERIFY_THREADS, thread_name_prefix="floreyn-verify")
_verified: Remembered[bytes, bool] = Remembered(VERIFIED_REMEMBERED)  # fingerprint -> True


def _fingerprint(public_raw: bytes, signed: SignedRecord) -> bytes:
    return hashlib.sha256(public_raw + signed.raw).digest()


def _new_pool_in_child() -> None:
    """A forked child inherits the pool but none of its threads: work handed to it would wait forever (a
    process forked after an ingest, as bench/server_ingest.py's worker processes are). It gets a pool of its own."""
    global _pool
    _pool = ThreadPoolExecutor(max_workers=VERIFY_THREADS, thread_name_prefix="floreyn-verify")


os.register_at_fork(after_in_child=_new_pool_in_child)


def signature_ok(public_raw: bytes, signed: SignedRecord) -> bool:
    """SignedRecord.verify's check, through libsodium (GIL released while it runs)."""
    return signed.signature_ok(public_raw)


def _first_bad_in(public_raw: bytes, chunk: Sequence[SignedRecord]) -> int | None:
    for i, signed in enumerate(chunk):
        if not signature_ok(public_raw, signed):
            return i
    return None


def first_bad(public_raw: bytes, batch: Sequence[SignedRecord]) -> SignedRecord | None:
    """The first record of `batch` (in its order) whose signature does not verify; None when all do."""
    prints = [_fingerprint(public_raw, sr) for sr in batch]
    todo = [(sr, fp) for sr, fp, known in zip(batch, prints, _verified.recall(prints), strict=True) if not known]
    bad = _first_bad_unremembered(public_raw, [sr for sr, _ in todo])
    if bad is None:
        _verified.remember((fp, True) for _, fp in todo)
    return bad


def _first_bad_unremembered(public_raw: bytes, batch: Sequence[SignedRecord]) -> SignedRecord | None:
    if len(batch) <= VERIFY_CHUNK_RECORDS:
        bad = _first_bad_in(public_raw, batch)
        return None if bad is None else batch[bad]
    starts = range(0, len(batch), VERIFY_CHUNK_RECORDS)
    futures = [_pool.submit(_first_bad_in, public_raw, batch[i : i + VERIFY_CHUNK_RECORDS]) for i in starts]
    for start, future in zip(starts, futures, strict=True):
        bad = future.result()  # in order: the first bad chunk's first bad record is the batch's first
        if bad is not None:
            for later in futures:
                later.cancel()
            return batch[start + bad]
    return None
