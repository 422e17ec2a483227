"""Upload over real HTTP: idempotence, gaps, forks, bad records, and what each record kind posts."""

import json
import time
import uuid

import anyio.to_thread
import pytest
import requests
from sqlalchemy import select

from floreyn import keys
from floreyn.server import ingest
from floreyn.server import schema as s
from floreyn.server.config import Limits
from floreyn.server.errors import RecordRefused
from floreyn.server.remembered import Remembered
from floreyn.server.testing import ServerThread, World
from floreyn.sync import auth, record
from floreyn.sync.client import SyncAuthFailed, SyncClient, SyncRefused
from floreyn.sync.record import Kind, with_fields


def alerts(srv, kind, terminal_id=None):
    found = srv.admin("GET", "/v1/admin/alerts", kind=kind, limit=1000)["alerts"]
    return [a for a in found if terminal_id is None or a["terminal_id"] == terminal_id]


def test_upload_posts_each_record_once_however_batches_are_split_or_repeated(srv, world):
    members = [world.member(eur_cents=10_000) for _ in range(3)]  # at most 4 offline taps per card
    term = world.terminal()
    for i in range(12):
        term.spend(members[i % 3][1], 100 + i)
    client = term.client(srv)
    raws = term.raws
    assert client.upload(raws[:5]).acked_seq == 5
    again = client.upload(raws[:5])
    assert (again.acked_seq, again.accepted, again.duplicates) == (5, 0, 5)
    split = client.upload(raws[3:9])  # overlaps the first batch
    assert (split.acked_seq, split.accepted, split.duplicates) == (9, 4, 2)
    last = client.upload(list(reversed(raws)))  # order within a batch does not matter
    assert (last.acked_seq, last.accepted) == (12, 3)
    assert client.upload(raws).acked_seq == 12
    spent = sum(100 + i for i in range(12))
    assert sum(world.balance(f"member:{m}") for m, _ in members) == 3 * 10_000 - spent
    assert world.balance(f"merchant:{term.merchant_id}") == spent


def test_records_after_a_gap_wait_for_the_missing_ones(srv, world):
    cards = [world.member(eur_cents=5_000)[1] for _ in range(2)]  # within the offline count limit per card
    term = world.terminal()
    for i in range(6):
        term.spend(cards[i % 2], 10)
    client = term.client(srv)
    raws = term.raws
    ack = client.upload(raws[:3] + raws[4:])  # seq 4 missing
    assert (ack.acked_seq, ack.accepted, ack.waiting) == (3, 3, 2)
    assert client.upload(raws[3:4]).acked_seq == 4  # 5 and 6 were not kept: they must come again
    assert client.upload(raws[4:]).acked_seq == 6
    assert world.balance(f"merchant:{term.merchant_id}") == 60


def test_fork_quarantines_the_terminal_and_raises_an_alert(srv, world):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    first = term.spend(card, 100)
    client = term.client(srv)
    client.upload([first.raw])
    forged = with_fields(first.record, fl_cents=1).sign(term.key)  # same seq, other content
    with pytest.raises(SyncAuthFailed) as refused:
        client.upload([forged.raw])
    assert refused.value.server_code == "terminal_forked" and refused.value.status == 409
    assert srv.admin("GET", f"/v1/admin/terminals/{term.terminal_id}")["status"] == "quarantined"
    assert len(alerts(srv, "fork", term.terminal_id)) == 1
    with pytest.raises(SyncAuthFailed) as again:  # from now on every request is refused
        client.upload([first.raw])
    assert again.value.server_code == "terminal_quarantined"
    assert world.balance(f"merchant:{term.merchant_id}") == 100  # the forged record posted nothing


def test_two_records_with_one_seq_in_one_batch_are_a_fork(srv, world):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    one = term.spend(card, 100)
    other = with_fields(one.record, fl_cents=200).sign(term.key)
    with pytest.raises(SyncAuthFailed):
        term.client(srv).upload([one.raw, other.raw])
    assert world.balance(f"merchant:{term.merchant_id}") == 0


def test_bad_record_signature_refuses_the_batch_and_posts_nothing(srv, world):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    good = term.spend(card, 100)
    bad = term.spend(card, 200)
    tampered = bad.raw[:-1] + bytes([bad.raw[-1] ^ 1])
    with pytest.raises(SyncRefused) as refused:
        term.client(srv).upload([good.raw, tampered])
    assert refused.value.server_code == "record_bad_signature" and refused.value.status == 422
    assert world.balance(f"merchant:{term.merchant_id}") == 0
    assert srv.admin("GET", f"/v1/admin/terminals/{term.terminal_id}")["head_seq"] == 0
    assert len(alerts(srv, "bad_signature", term.terminal_id)) == 1


def test_records_of_another_terminal_or_merchant_are_refused(srv, world):
    _, card = world.member(eur_cents=5_000)
    term, other = world.terminal(), world.terminal()
    with pytest.raises(SyncRefused) as wrong_terminal:
        term.client(srv).upload([other.spend(card, 100).raw])
    assert wrong_terminal.value.server_code == "record_refused"
    term.record(Kind.SPEND, card_id=bytes.fromhex(card), fl_cents=100, merchant_id=other.merchant_id)
    with pytest.raises(SyncRefused) as wrong_merchant:
        term.client(srv).upload(term.raws)
    assert wrong_merchant.value.server_code == "record_refused"
    assert world.balance(f"merchant:{other.merchant_id}") == 0


def test_a_record_id_another_terminal_used_is_refused_on_every_backend(srv, world):
    # On PostgreSQL the records go in by COPY, whose errors were the driver's own: a 500 instead of the refusal.
    _, card = world.member(eur_cents=5_000)
    first, second = world.terminal(), world.terminal()
    used = first.spend(card, 100)
    assert first.client(srv).upload(first.raws).accepted == 1
    again = second.head.next_record(record.RecordContent(record_id=used.record.record_id, kind=Kind.SPEND,
                                                         card_id=bytes.fromhex(card), fl_cents=100),
                                    terminal_id=second.terminal_id, merchant_id=second.merchant_id, mono_ms=1)
    with pytest.raises(SyncRefused) as refused:
        second.client(srv).upload([again.sign(second.key).raw])
    assert refused.value.server_code == "record_refused" and refused.value.status == 422
    assert second.client(srv).upload([]).acked_seq == 0  # nothing of it was taken


def test_malformed_records_and_oversized_batches_are_refused(srv, world):
    term = world.terminal()
    client = term.client(srv)
    with pytest.raises(SyncRefused) as garbage:
        client.upload([b"FLR\x01" + bytes(100)])
    assert garbage.value.status == 422
    with pytest.raises(ValueError):
        client.upload([b"x"] * 501)  # the client refuses before sending
    body = json.dumps({"records": ["AAAA"] * 501}).encode()
    resp = term.send(srv, "POST", "/v1/terminal/upload", body)
    assert resp.status_code == 422 and resp.json()["error"] == "request_invalid"
    resp = term.send(srv, "POST", "/v1/terminal/upload", json.dumps({"records": ["not base64!"]}).encode())
    assert resp.status_code == 422


def test_request_authentication_refusals(srv, world):
    term = world.terminal()
    body = json.dumps({"records": []}).encode()
    ok = term.send(srv, "POST", "/v1/terminal/upload", body)
    assert ok.status_code == 200 and ok.json()["acked_seq"] == 0
    # The same request again: the nonce was seen.
    replay = requests.post(srv.base_url + "/v1/terminal/upload", data=body, headers=ok.request.headers, timeout=10)
    assert replay.status_code == 401 and replay.json()["error"] == "auth_replayed"
    # Signed by another key.
    impostor = world.terminal()
    impostor.terminal_id = term.terminal_id
    assert impostor.send(srv, "POST", "/v1/terminal/upload", body).json()["error"] == "auth_bad_signature"
    # Body changed after signing.
    h = term.signed_headers("POST", "/v1/terminal/upload", body)
    changed = requests.post(srv.base_url + "/v1/terminal/upload", data=b'{"records":[""]}', headers=h, timeout=10)
    assert changed.status_code == 401 and changed.json()["error"] == "auth_bad_signature"
    # A clock far off: refused with the server time, so the terminal can correct.
    stale = term.send(srv, "POST", "/v1/terminal/upload", body, time_ms=0)
    assert stale.status_code == 401 and stale.json()["error"] == "auth_clock_skew"
    assert abs(int(stale.headers[auth.H_SERVER_TIME]) - time.time() * 1000) < 60_000
    # Unknown terminal, missing headers.
    ghost = world.terminal()
    ghost.terminal_id = "T-never-enrolled"
    assert ghost.send(srv, "POST", "/v1/terminal/upload", body).json()["error"] == "auth_bad_signature"  # as a wrong key
    bare = requests.post(srv.base_url + "/v1/terminal/upload", data=body, timeout=10)
    assert bare.status_code == 401 and bare.json()["error"] == "auth_missing"


def test_a_stranger_learns_nothing_about_an_upload_body(srv, world):
    # The body is read after the signature is checked: malformed JSON from anyone else is an authentication
    # refusal, not a 422 that tells what the parser thought of it.
    term = world.terminal()
    impostor = world.terminal()
    impostor.terminal_id = term.terminal_id
    for body in (b"garbage", b'{"records": [', b"\xff\xfe"):
        forged = impostor.send(srv, "POST", "/v1/terminal/upload", body)
        assert forged.status_code == 401 and forged.json()["error"] == "auth_bad_signature", body
        bare = requests.post(srv.base_url + "/v1/terminal/upload", data=body, timeout=10,
                             headers={"Content-Type": "application/json"})
        assert bare.status_code == 401 and bare.json()["error"] == "auth_missing", body
        signed = term.send(srv, "POST", "/v1/terminal/upload", body)  # the terminal itself is told
        assert signed.status_code == 422 and signed.json()["error"] == "request_invalid", body
    no_json = term.send(srv, "POST", "/v1/terminal/upload", b'{"records": []}', headers={"Content-Type": "text/plain"})
    assert no_json.status_code == 422 and no_json.json()["error"] == "request_invalid"  # as FastAPI's strict media type
    assert term.send(srv, "POST", "/v1/terminal/upload", b'{"records": []}').json()["acked_seq"] == 0


def test_an_upload_takes_one_trip_to_the_thread_pool(srv, world, monkeypatch):
    # Each trip waits for the GIL again behind the other uploads and wakes the event loop through its pipe: the
    # failed-authentication limit, the signature, the body and the ingest go in one (api_terminal.upload).
    _, card = world.member(eur_cents=1_000)
    term = world.terminal()
    client = term.client(srv)
    assert client.upload([]).acked_seq == 0
    trips = []
    real = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        trips.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    term.spend(card, 100)
    assert client.upload(term.raws).accepted == 1
    assert len(trips) == 1, trips


def test_uploads_from_an_address_over_the_failed_authentication_limit_are_refused_first(tmp_path):
    # The upload checks the limit itself, in its one trip to the thread pool, before the signature (server/app.py
    # checks_failed_auth_limit): forged uploads count, and then even a good one waits, as on every other endpoint.
    with ServerThread(f"sqlite:///{tmp_path / 'limits.db'}", tmp_path / "data", limits=Limits(failed_auth_max=3)) as own:
        world = World(own)
        term, impostor = world.terminal(), world.terminal()
        impostor.terminal_id = term.terminal_id
        body = json.dumps({"records": []}).encode()
        codes = [impostor.send(own, "POST", "/v1/terminal/upload", body).status_code for _ in range(5)]
        assert codes == [401] * 3 + [429] * 2
        good = term.send(own, "POST", "/v1/terminal/upload", body)
        assert good.status_code == 429 and good.json()["error"] == "too_many_failed_auth"
        assert 1 <= int(good.headers["Retry-After"]) <= 60 and good.headers[auth.H_RESPONSE_SIGNATURE]


def test_the_api_docs_describe_the_upload_body(srv):
    spec = requests.get(srv.base_url + "/openapi.json", timeout=10).json()
    body = spec["paths"]["/v1/terminal/upload"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    if "$ref" in schema:  # a declared body's model is in the components
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert body["required"] and schema["required"] == ["records"] and schema["additionalProperties"] is False
    assert schema["properties"]["records"]["maxItems"] == ingest.MAX_BATCH_RECORDS
    assert "head_seq" in schema["properties"]


def test_terminal_without_clock_recovers_in_one_round_trip(srv, world):
    _, card = world.member(eur_cents=1_000)
    term = world.terminal()
    term.spend(card, 50)
    clock = auth.ServerClock(wall_ms=lambda: 0)  # a Pi that booted in 1970
    client = SyncClient(srv.base_url, term.terminal_id, term.key, srv.public_key, clock=clock)
    assert client.upload(term.raws).acked_seq == 1
    assert clock.synced and abs(clock.now_ms() - time.time() * 1000) < 60_000


def test_revoked_terminal_is_refused(srv, world):
    term = world.terminal()
    client = term.client(srv)
    assert client.upload([]).acked_seq == 0
    srv.admin("POST", f"/v1/admin/terminals/{term.terminal_id}/revoke", {"reason": "stolen"})
    with pytest.raises(SyncAuthFailed) as refused:
        client.upload([])
    assert refused.value.server_code == "terminal_revoked" and refused.value.status == 403


def test_offline_overspend_is_posted_flagged_and_blocked_beyond_the_threshold(srv, world):
    member, card = world.member(eur_cents=1_000)
    term = world.terminal()
    client = term.client(srv)
    term.spend(card, 1_500)  # 5,00 below zero: flagged, not blocked (threshold fl 10,00)
    client.upload(term.raws)
    assert world.balance(f"member:{member}") == -500
    card_state = srv.admin("GET", f"/v1/admin/cards/{card}")
    assert card_state["flagged"] and card_state["status"] == "active"
    term.spend(card, 1_000)  # 15,00 below zero: blocked
    client.upload(term.raws)
    card_state = srv.admin("GET", f"/v1/admin/cards/{card}")
    assert card_state["status"] == "blocked" and card_state["blocked_reason"] == "overspend"
    report = srv.admin("GET", "/v1/admin/reports/overspend")
    assert {"card_id": card, "balance_cents": -1500} .items() <= next(
        c for c in report["cards"] if c["card_id"] == card).items()
    assert world.balance(f"merchant:{term.merchant_id}") == 2_500


def test_each_record_kind_posts_its_meaning(srv, world):
    member, card = world.member(eur_cents=5_000)
    term = world.terminal()
    spend = term.spend(card, 1_000)
    term.save(card, 125, eur_cents=2_500)
    term.topup(card, 2_000, eur_cents=2_000)
    term.refund(card, 400, spend)
    doomed = term.spend(card, 700)
    term.void(doomed)
    term.record(Kind.DAY_CLOSE)
    assert term.client(srv).upload(term.raws).acked_seq == 7
    assert world.balance(f"member:{member}") == 5_000 - 1_000 + 125 + 2_000 + 400
    assert world.balance(f"merchant:{term.merchant_id}") == 1_000 - 125 - 400
    assert world.balance(f"merchant_eur:{term.merchant_id}") == 2_000  # top-up euros the merchant owes
    assert srv.admin("GET", f"/v1/admin/terminals/{term.terminal_id}")["status"] == "active"
    assert srv.admin("GET", "/v1/admin/replay")["ok"]


def test_unknown_card_goes_to_suspense_and_follows_the_card_when_issued(srv, world):
    term = world.terminal()
    card = uuid.uuid4().hex
    term.save(card, 300, eur_cents=6_000)
    term.client(srv).upload(term.raws)
    assert world.balance(f"card:{card}") == 300
    assert len(alerts(srv, "unknown_card", term.terminal_id)) == 1
    member = srv.admin("POST", "/v1/admin/members", {"alias": "Nieuw"})["member_id"]
    issued = srv.admin("POST", "/v1/admin/cards", {"card_id": card, "member_id": member})
    assert issued["claimed_cents"] == 300
    assert world.balance(f"member:{member}") == 300 and world.balance(f"card:{card}") == 0


def test_upload_body_over_the_limit_is_refused_unread(srv, world):
    term = world.terminal()
    body = b'{"records":["' + b"A" * (2 * 1024 * 1024) + b'"]}'
    resp = term.send(srv, "POST", "/v1/terminal/upload", body)
    assert resp.status_code == 413 and resp.json()["error"] == "request_too_large"


def test_a_till_cannot_void_another_shops_sale_or_a_desk_transaction(srv, world):
    member, card = world.member(eur_cents=5_000)
    shop, other = world.terminal(), world.terminal()
    sale = other.spend(card, 1_000)
    other.client(srv).upload(other.raws)
    shop.void(sale)
    top = srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 500})
    shop.record(Kind.VOID, ref_id=uuid.UUID(top["tx_id"]))
    with pytest.raises(SyncAuthFailed) as refused:  # stored, posts nothing, and the till is quarantined
        shop.client(srv).upload(shop.raws)
    assert refused.value.server_code == "terminal_broke_rule"
    assert srv.admin("GET", f"/v1/admin/terminals/{shop.terminal_id}")["head_seq"] == 2
    assert world.balance(f"member:{member}") == 5_000 - 1_000 + 500
    assert world.balance(f"merchant:{other.merchant_id}") == 1_000
    assert len(alerts(srv, "void_own_record_once", shop.terminal_id)) == 2


def test_implausible_amounts_are_refused_before_they_reach_a_balance(srv, world):
    member, card = world.member(eur_cents=1_000)
    term = world.terminal()
    term.save(card, 2**62, eur_cents=1)  # a valid record format, but no till takes such an amount
    with pytest.raises(SyncRefused) as refused:
        term.client(srv).upload(term.raws)
    assert refused.value.status == 422 and refused.value.server_code == "record_refused"
    assert world.balance(f"member:{member}") == 1_000
    assert len(alerts(srv, "amount_implausible", term.terminal_id)) == 1


def test_a_batch_sent_again_is_decoded_once_and_a_changed_record_anew(monkeypatch):
    # A till whose upload timed out sends the same batch again, often while the first still waits.
    key = keys.new_private_key()
    head, raws = record.ChainHead(), []
    for i in range(5):
        signed = head.next_record(record.RecordContent(record_id=uuid.uuid4(), kind=record.Kind.SPEND,
                                                       card_id=bytes(16), fl_cents=100 + i),
                                  terminal_id="T-dec", merchant_id="M-dec").sign(key)
        head = head.advance(signed)
        raws.append(signed.raw)
    decoded: list[bytes] = []
    real = ingest.decode

    def counting(raw: bytes) -> record.SignedRecord:
        decoded.append(raw)
        return real(raw)

    monkeypatch.setattr(ingest, "decode", counting)
    first = ingest.decode_batch(raws)
    again = ingest.decode_batch(raws)
    assert decoded == raws and all(a is b for a, b in zip(first, again, strict=True))
    changed = bytearray(raws[2])
    changed[-1] ^= 1  # the signature: decodes, verifies not (that is the verify pool's to refuse)
    third = ingest.decode_batch([*raws[:2], bytes(changed), *raws[3:]])
    assert decoded == [*raws, bytes(changed)] and third[2].raw == bytes(changed)
    broken = raws[3][:-70]
    with pytest.raises(RecordRefused) as refused:
        ingest.decode_batch([*raws[:3], broken])
    assert refused.value.params["seq"] == "#3"


def test_the_remembered_decodes_are_bounded(monkeypatch):
    monkeypatch.setattr(ingest, "_decoded", Remembered(3))
    key, head, raws = keys.new_private_key(), record.ChainHead(), []
    for _ in range(6):
        signed = head.next_record(record.RecordContent(record_id=uuid.uuid4(), kind=record.Kind.DAY_CLOSE),
                                  terminal_id="T-dec2", merchant_id="M-dec").sign(key)
        head = head.advance(signed)
        raws.append(signed.raw)
    ingest.decode_batch(raws)
    assert len(ingest._decoded) == 3


def _heads(srv, terminal_id):
    """(head_seq, reported_head_seq, last_seen_ms) as stored for the terminal."""
    t = s.terminals.c
    return srv.ctx.db.read(lambda conn: tuple(conn.execute(
        select(t.head_seq, t.reported_head_seq, t.last_seen_ms).where(t.terminal_id == terminal_id)).one()))


def test_each_upload_stores_the_new_head_and_the_head_the_terminal_reported(srv, world):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    for i in range(4):
        term.spend(card, 10 + i)
    client = term.client(srv)
    assert client.upload(term.raws[:2], head_seq=4).acked_seq == 2
    head, reported, seen = _heads(srv, term.terminal_id)
    assert (head, reported) == (2, 4) and seen is not None
    # An ingest without a reported head keeps the last one reported; the head moves on.
    ingest.ingest(srv.ctx.db, term.terminal_id, term.raws[2:3])
    assert _heads(srv, term.terminal_id)[:2] == (3, 4)
    # A reported head below what the server holds is stored as the server's head.
    assert client.upload(term.raws[3:], head_seq=1).acked_seq == 4
    assert _heads(srv, term.terminal_id)[:2] == (4, 4)
