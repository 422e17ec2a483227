"""Reading a card once the reader has found it, through nfcpy's udp radio and an emulated Type 3 tag.

Measured: NfcCardReader's on-connect step, i.e. reading the NDEF message
through nfcpy, parsing the record, verifying the Ed25519 signature and
delivering the event. Baseline, same run and same card: nfcpy alone reading
`tag.ndef.octets` in its on-connect. The gap is what Floreyn adds per tap.

Tap-to-event latency is not reported: on the udp radio it is dominated by
nfcpy's one-second receive timeout per poll, which real readers do not have.
"""

from __future__ import annotations

import logging
import statistics
import sys
import threading
import time
from pathlib import Path

TAPS = 20

# nfcpy logs every udp frontend it opens at INFO; a benchmark prints only its figures.
logging.getLogger("nfc").setLevel(logging.WARNING)


def run() -> list[dict]:
    import nfc

    from floreyn import card as floreyn_card
    from floreyn import keys
    from floreyn.terminal.drivers.ndef_card import encode_card_message
    from floreyn.terminal.drivers.nfc_emulator import EmulatedType3Tag
    from floreyn.terminal.drivers.nfc_reader import NfcCardReader

    issuer = keys.new_private_key()
    member = floreyn_card.issue(issuer)
    issuers = floreyn_card.issuer_map([issuer.public_key()])
    message = encode_card_message(member.payload())
    ours: list[float] = []
    arrived = threading.Event()

    class TimedReader(NfcCardReader):
        def _on_connect(self, tag):  # noqa: ANN001, ANN202
            started = time.perf_counter()
            result = super()._on_connect(tag)
            ours.append((time.perf_counter() - started) * 1000)
            return result

    with EmulatedType3Tag(message) as tag:
        verify = lambda payload: floreyn_card.verify_payload(payload, issuers)  # noqa: E731
        reader = TimedReader(verify, tag.path, targets=("212F",), repeat_guard_s=0.0)
        reader.start(lambda event: arrived.set(), lambda status: None)
        try:
            for _ in range(TAPS):
                assert arrived.wait(5), "no card event"
                arrived.clear()
                tag.remove()
                time.sleep(0.4)  # the reader notices the card left
                tag.present()
        finally:
            reader.stop()
        bare: list[float] = []

        def read_only(found) -> bool:  # noqa: ANN001
            started = time.perf_counter()
            assert found.ndef.octets == message
            bare.append((time.perf_counter() - started) * 1000)
            return False

        clf = nfc.ContactlessFrontend(tag.path)
        try:
            for _ in range(TAPS):
                clf.connect(rdwr={"targets": ["212F"], "on-connect": read_only, "iterations": 1})
        finally:
            clf.close()
    return [
        {
            "name": "drivers: read + verify a card once found (nfcpy udp, Type 3)",
            "value": round(statistics.median(ours), 2),
            "unit": "ms",
            "baseline": round(statistics.median(bare), 2),
            "baseline_name": "nfcpy alone reading the NDEF message",
            "target": "< 50 ms",
        }
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from run_all import print_row  # bench/ is sys.path[0] when a bench script runs alone

    for row in run():
        print_row(row)
