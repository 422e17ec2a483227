"""Protocol pieces the client relies on: snapshot deltas and request signing, without a server."""

import dataclasses

import pytest

from floreyn import keys
from floreyn.money import ExchangeRates
from floreyn.sync import auth
from floreyn.sync.snapshot import (
    CardInfo, MerchantConfig, OfflineLimits, Snapshot, SnapshotBadSignature, SnapshotDelta, SnapshotDeltaMismatch,
    apply_delta, sign_delta, sign_snapshot, verify_delta, verify_snapshot,
)

MERCHANT = MerchantConfig("M1", "Bakker", "winkel", 500, True)


def base() -> Snapshot:
    return Snapshot(version=1, terminal_id="T1", snapshot_version=5, server_time_ms=1000, merchant=MERCHANT,
                    rates=ExchangeRates(), limits=OfflineLimits(),
                    cards=(CardInfo("aa" * 16, "A", False, 100), CardInfo("bb" * 16, "B", True, 0)),
                    blocklist=("bb" * 16,))


def delta(**kw) -> SnapshotDelta:
    fields = dict(version=1, terminal_id="T1", base_version=5, snapshot_version=9, server_time_ms=2000,
                  merchant=MERCHANT, rates=ExchangeRates(ask_bp=10_100), limits=OfflineLimits())
    return SnapshotDelta(**{**fields, **kw})


def test_apply_delta_replaces_cards_and_derives_the_blocklist():
    merged = apply_delta(base(), delta(cards=(CardInfo("aa" * 16, "A", True, 0), CardInfo("bb" * 16, "B", False, 50),
                                              CardInfo("cc" * 16, "C", False, 10))))
    assert merged.snapshot_version == 9 and merged.rates.ask_bp == 10_100
    assert merged.blocklist == ("aa" * 16,)
    assert [c.card_id for c in merged.cards] == ["aa" * 16, "bb" * 16, "cc" * 16]
    assert apply_delta(base(), delta(removed_cards=("bb" * 16,))).blocklist == ()


def test_delta_for_another_base_or_terminal_is_refused():
    with pytest.raises(SnapshotDeltaMismatch):
        apply_delta(base(), delta(base_version=4))
    with pytest.raises(SnapshotDeltaMismatch):
        apply_delta(base(), delta(terminal_id="T2"))


def test_full_and_delta_signatures_are_not_interchangeable():
    key = keys.new_private_key()
    data, sig = sign_delta(delta(), key)
    assert verify_delta(data, sig, key.public_key()) == delta()
    with pytest.raises(SnapshotBadSignature):
        verify_snapshot(data, sig, key.public_key())  # a delta cannot pass for a full snapshot
    full, full_sig = sign_snapshot(base(), key)
    with pytest.raises(SnapshotBadSignature):
        verify_delta(full, full_sig, key.public_key())
    assert dataclasses.replace(verify_snapshot(full, full_sig, key.public_key())) == base()


def test_request_signature_covers_method_path_time_nonce_and_body():
    key = keys.new_private_key()
    h = auth.sign_request(key, "POST", "/v1/terminal/upload", "T1", b"{}", 1234, nonce="0" * 32)
    creds = auth.parse_headers(h)
    auth.verify_request(key.public_key(), creds, "POST", "/v1/terminal/upload", b"{}")
    for method, path, body in (("GET", "/v1/terminal/upload", b"{}"), ("POST", "/v1/terminal/authorize", b"{}"),
                               ("POST", "/v1/terminal/upload", b"{ }")):
        with pytest.raises(auth.AuthBadSignature):
            auth.verify_request(key.public_key(), creds, method, path, body)
    with pytest.raises(auth.AuthClockSkew):
        auth.check_time(creds, 1234 + auth.MAX_SKEW_MS + 1)
    auth.check_time(creds, 1234 + auth.MAX_SKEW_MS)


@pytest.mark.parametrize("name,value", [(auth.H_TIME, "12a"), (auth.H_NONCE, "XYZ"), (auth.H_SIGNATURE, "00"),
                                        (auth.H_TERMINAL, "bad id!")])
def test_malformed_auth_headers_are_refused(name, value):
    h = auth.sign_request(keys.new_private_key(), "GET", "/", "T1", b"", 1)
    with pytest.raises(auth.AuthMissing):
        auth.parse_headers({**h, name: value})


def test_server_clock_follows_the_server_not_the_wall():
    mono = [1_000]
    clock = auth.ServerClock(wall_ms=lambda: 0, mono_ms=lambda: mono[0])
    assert not clock.synced and clock.now_ms() == 0
    clock.observe(1_800_000_000_000)
    mono[0] += 5_000
    assert clock.now_ms() == 1_800_000_005_000
