"""Card tap to verified-card event, through nfcpy's udp radio and an emulated Type 3 tag.

Measured: NfcCardReader running; the card is laid on the reader (emulation
starts) and we time until the CardPresented event arrives (includes waiting
for the next poll, up to 0.2 s, signature verification and the callback).
Baseline, same run: nfcpy alone with the card already there: open, sense,
activate and read the NDEF message, no polling wait and no verification.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

TAPS = 15


def run() -> list[dict]:
    import nfc
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from floreyn import card as floreyn_card
    from floreyn.terminal.drivers.ndef_card import encode_card_message
    from floreyn.terminal.drivers.nfc_emulator import EmulatedType3Tag
    from floreyn.terminal.drivers.nfc_reader import NfcCardReader

    issuer = Ed25519PrivateKey.generate()
    member = floreyn_card.issue(issuer)
    issuers = floreyn_card.issuer_map([issuer.public_key()])
    tag = EmulatedType3Tag(encode_card_message(member.payload()))
    arrived = threading.Event()
    verify = lambda payload: floreyn_card.verify_payload(payload, issuers)  # noqa: E731
    reader = NfcCardReader(verify, tag.path, targets=("212F",), repeat_guard_s=0.0)
    reader.start(lambda event: arrived.set(), lambda status: None)
    taps = []
    try:
        for _ in range(TAPS):
            arrived.clear()
            started = time.perf_counter()
            tag.present()
            assert arrived.wait(5), "no card event"
            taps.append((time.perf_counter() - started) * 1000)
            tag.remove()
            time.sleep(0.4)  # the reader notices the card left
        reader.stop()
        bare = []
        with tag:
            for _ in range(TAPS):
                started = time.perf_counter()
                clf = nfc.ContactlessFrontend(tag.path)
                try:
                    found = clf.connect(rdwr={"targets": ["212F"], "on-connect": lambda t: False, "iterations": 1})
                    assert found and found.ndef.octets == encode_card_message(member.payload())
                finally:
                    clf.close()
                bare.append((time.perf_counter() - started) * 1000)
    finally:
        reader.stop()
        tag.stop()
    return [
        {
            "name": "drivers: card tap to verified CardPresented (nfcpy udp, Type 3)",
            "value": round(statistics.median(taps), 1),
            "unit": "ms",
            "baseline": round(statistics.median(bare), 1),
            "baseline_name": "nfcpy alone: open+sense+read NDEF, card already there",
            "target": "< 500 ms",
        }
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for row in run():
        base = f"baseline {row['baseline']} {row['unit']}: {row['baseline_name']}"
        print(f"{row['name']}: {row['value']} {row['unit']} ({base}; target {row['target']})")
