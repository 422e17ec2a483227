"""Write the checked-in test vectors. Run only when the format version changes:

    .venv/bin/python tests/vectors/generate.py --force

A test compares every vector against the code, so an encoding change that
forgets to bump the version fails the suite instead of drifting silently.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from floreyn import card, keys
from floreyn.sync import record as rec

HERE = Path(__file__).parent
TERMINAL_SEED = bytes(range(32))
ISSUER_SEED = bytes(range(100, 132))


def record_vectors() -> list[dict]:
    key = keys.private_from_seed(TERMINAL_SEED)
    head = rec.ChainHead()
    cases = [
        dict(kind=rec.Kind.SAVE, card_id=bytes(range(16)), eur_cents=2450, fl_cents=122),
        dict(kind=rec.Kind.SPEND, card_id=bytes(range(16)), fl_cents=1250, budget_id="B-portaal-0042"),
        dict(kind=rec.Kind.SPEND, card_id=bytes(range(16)), fl_cents=500, eur_cents=250, tender=rec.Tender.CASH),
        dict(kind=rec.Kind.TOPUP, card_id=bytes(range(16)), fl_cents=2000, eur_cents=2000, tender=rec.Tender.CASH),
        dict(kind=rec.Kind.REFUND, card_id=bytes(range(16)), fl_cents=1250, budget_id="B-portaal-0042",
             ref_id=uuid.UUID(int=2)),
        dict(kind=rec.Kind.VOID, ref_id=uuid.UUID(int=4), card_id=bytes(range(16)), fl_cents=2000),
        dict(kind=rec.Kind.DAY_CLOSE),
    ]
    out = []
    for i, fields in enumerate(cases, start=1):
        r = head.next_record(rec.RecordContent(record_id=uuid.UUID(int=i), **fields), terminal_id="T-bakker-01",
                             merchant_id="M-bakker", wall_ms=1_785_000_000_000 + i * 1000, mono_ms=i * 1000)
        signed = r.sign(key)
        out.append({"seq": r.seq, "kind": r.kind.name, "raw_hex": signed.raw.hex(),
                    "body_hex": signed.body.hex(), "signature_hex": signed.signature.hex(),
                    "hash_hex": signed.hash.hex()})
        head = head.advance(signed)
    return out


def card_vectors() -> list[dict]:
    issuer = keys.private_from_seed(ISSUER_SEED)
    out = []
    for card_id in (bytes(16), bytes(range(16)), bytes.fromhex("ff" * 16)):
        c = card.issue(issuer, card_id)
        out.append({"card_id_hex": card_id.hex(), "key_id_hex": c.key_id.hex(), "payload_hex": c.payload().hex()})
    return out


def main() -> None:
    data = {
        "record_v1": {"terminal_seed_hex": TERMINAL_SEED.hex(),
                      "terminal_public_hex": keys.public_raw(keys.private_from_seed(TERMINAL_SEED)).hex(),
                      "records": record_vectors()},
        "card_v1": {"issuer_seed_hex": ISSUER_SEED.hex(),
                    "issuer_public_hex": keys.public_raw(keys.private_from_seed(ISSUER_SEED)).hex(),
                    "cards": card_vectors()},
    }
    target = HERE / "vectors_v1.json"
    if target.exists() and "--force" not in sys.argv:
        sys.exit(f"{target} exists; the vectors are a contract. Pass --force only with a new format version.")
    target.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
