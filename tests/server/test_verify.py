"""Record signatures on the verify pool (server/verify.py): the same answer as the record's own check."""

import json
import random
import uuid

import pytest
import requests

from floreyn import keys
from floreyn.server import verify
from floreyn.server.remembered import Remembered
from floreyn.sync.record import BadSignature, ChainHead, Kind, RecordContent, SignedRecord, decode


def chain(n: int, key) -> list[SignedRecord]:
    head, out = ChainHead(), []
    for i in range(n):
        rec = head.next_record(RecordContent(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=bytes(16), fl_cents=100 + i),
                               terminal_id="T-v", merchant_id="M-v", mono_ms=i)
        signed = rec.sign(key)
        head = head.advance(signed)
        out.append(signed)
    return out


def tamper(signed: SignedRecord, where: int) -> SignedRecord:
    """One bit flipped in the signature (where < 0) or in the signed body (where >= 0, an amount byte)."""
    raw = bytearray(signed.raw)
    raw[where] ^= 1
    return decode(bytes(raw))


def crypto_ok(public, signed: SignedRecord) -> bool:
    try:
        signed.verify(public)
    except BadSignature:
        return False
    return True


def test_the_pool_refuses_exactly_what_the_record_check_refuses_first_bad_first():
    key = keys.new_private_key()
    public, public_raw = key.public_key(), keys.public_raw(key)
    good = chain(3 * verify.VERIFY_CHUNK_RECORDS + 7, key)  # several chunks: the pool is used
    assert verify.first_bad(public_raw, good) is None
    rng = random.Random(19)
    for _ in range(20):
        batch = list(good)
        bad_at = sorted(rng.sample(range(len(batch)), rng.randint(1, 3)))
        for i in bad_at:
            batch[i] = tamper(batch[i], -1 - rng.randrange(keys.SIGNATURE_LEN))
        assert [crypto_ok(public, sr) for sr in batch] == [verify.signature_ok(public_raw, sr) for sr in batch]
        assert verify.first_bad(public_raw, batch) is batch[bad_at[0]]
    other = keys.public_raw(keys.new_private_key())
    assert verify.first_bad(other, good) is good[0]  # another terminal's key verifies nothing
    assert not verify.signature_ok(bytes(32), good[0])  # a key that is no curve point: refused, not raised


def _verify_in(public_raw: bytes, batch: list[SignedRecord], answers) -> None:
    answers.put(verify.first_bad(public_raw, batch) is None)


def test_a_process_forked_after_the_pool_ran_verifies_with_a_pool_of_its_own():
    """The parent's pool threads are not in a forked child; without a new pool its batches would wait forever."""
    import multiprocessing

    key = keys.new_private_key()
    batch = chain(2 * verify.VERIFY_CHUNK_RECORDS + 1, key)
    assert verify.first_bad(keys.public_raw(key), batch) is None  # the parent's pool threads are running
    ctx = multiprocessing.get_context("fork")
    answers = ctx.Queue()
    child = ctx.Process(target=_verify_in, args=(keys.public_raw(key), batch, answers))
    child.start()
    try:
        assert answers.get(timeout=60) is True
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0


def body_of(raws: list[bytes]) -> bytes:
    import base64

    return json.dumps({"records": [base64.b64encode(r).decode() for r in raws]}).encode()


def alerts(srv, kind, terminal_id):
    found = srv.admin("GET", "/v1/admin/alerts", kind=kind, limit=1000)["alerts"]
    return [a for a in found if a["terminal_id"] == terminal_id]


@pytest.mark.parametrize("bad_index", [0, 130])
def test_a_bad_signature_deep_in_a_batch_refuses_it_whole_and_a_replay_of_it_alerts_no_more(srv, world, bad_index):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    for i in range(150):
        term.spend(card, 1 + i)
    raws = list(term.raws)
    raws[bad_index] = raws[bad_index][:-1] + bytes([raws[bad_index][-1] ^ 1])
    first = term.send(srv, "POST", "/v1/terminal/upload", body_of(raws))
    assert first.status_code == 422 and first.json()["error"] == "record_bad_signature", first.text
    assert srv.admin("GET", f"/v1/admin/terminals/{term.terminal_id}")["head_seq"] == 0
    assert world.balance(f"merchant:{term.merchant_id}") == 0
    [alert] = alerts(srv, "bad_signature", term.terminal_id)
    assert alert["detail"]["seq"] == bad_index + 1 and alert["detail"]["raw"] == raws[bad_index].hex()
    replay = requests.post(srv.base_url + "/v1/terminal/upload", data=first.request.body,
                           headers=first.request.headers, timeout=30)
    assert replay.status_code == 401 and replay.json()["error"] == "auth_replayed"
    assert len(alerts(srv, "bad_signature", term.terminal_id)) == 1


def test_a_replayed_upload_posts_nothing_twice_and_is_refused_as_a_replay(srv, world):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    for _ in range(3):
        term.spend(card, 100)
    ok = term.send(srv, "POST", "/v1/terminal/upload", body_of(term.raws))
    assert ok.status_code == 200 and ok.json()["accepted"] == 3
    replay = requests.post(srv.base_url + "/v1/terminal/upload", data=ok.request.body, headers=ok.request.headers,
                           timeout=30)
    assert replay.status_code == 401 and replay.json()["error"] == "auth_replayed"
    assert world.balance(f"merchant:{term.merchant_id}") == 300


def test_a_batch_sent_again_is_verified_once_and_a_changed_record_is_verified_anew(monkeypatch):
    # A till whose upload timed out sends the same batch again while the first still waits for the write lock.
    key = keys.new_private_key()
    public_raw = keys.public_raw(key)
    batch = chain(verify.VERIFY_CHUNK_RECORDS + 5, key)
    checked: list[SignedRecord] = []
    real = verify.signature_ok

    def counting(public: bytes, signed: SignedRecord) -> bool:
        checked.append(signed)
        return real(public, signed)

    monkeypatch.setattr(verify, "signature_ok", counting)
    assert verify.first_bad(public_raw, batch) is None
    assert verify.first_bad(public_raw, batch) is None
    assert len(checked) == len(batch)
    changed = tamper(batch[9], 60)  # a body byte: another record, not the remembered one
    assert verify.first_bad(public_raw, [*batch[:9], changed, *batch[10:]]) is changed
    assert checked[-1] is changed and len(checked) == len(batch) + 1
    other = keys.public_raw(keys.new_private_key())
    assert verify.first_bad(other, batch) is batch[0]  # remembered per key: another key verifies nothing


def test_the_remembered_verifications_are_bounded(monkeypatch):
    monkeypatch.setattr(verify, "_verified", Remembered(10))
    key = keys.new_private_key()
    assert verify.first_bad(keys.public_raw(key), chain(25, key)) is None
    assert len(verify._verified) == 10
