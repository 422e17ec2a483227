"""The server's signed snapshot: exact bytes signed, tampering and junk refused by type."""

from __future__ import annotations

import pytest

from floreyn import keys
from floreyn.money import ExchangeRates
from floreyn.sync.snapshot import (
    BudgetInfo,
    Campaign,
    CardInfo,
    MerchantConfig,
    OfflineLimits,
    Snapshot,
    SnapshotBadSignature,
    SnapshotError,
    short_id,
    short_id_range,
    sign_snapshot,
    verify_snapshot,
)

SERVER = keys.private_from_seed(bytes(range(1, 33)))


def sample() -> Snapshot:
    return Snapshot(
        version=1, terminal_id="T-1", snapshot_version=7, server_time_ms=1_785_000_000_000,
        merchant=MerchantConfig("M-klus", "Klusbedrijf Jansen", "klussen", save_rate_bp=300, topup_allowed=True),
        rates=ExchangeRates(10_000, 9_500), limits=OfflineLimits(),
        cards=(CardInfo("ab" * 16, "Tuinier Anna", offline_allowance_cents=5_000, budgets=(
            BudgetInfo("B-1", "Onderhoudsbudget Portaal", ("klussen",), "2027-06-30", 15_000, "Portaal"),)),),
        campaigns=(Campaign("C-1", "Zomermarkt: dubbel sparen", 20_000, "2027-06-01", "2027-08-31"),),
        issuer_keys=("00" * 32,), blocklist=("cd" * 16,),
    )


def test_round_trip() -> None:
    data, sig = sign_snapshot(sample(), SERVER)
    assert verify_snapshot(data, sig, SERVER.public_key()) == sample()
    assert verify_snapshot(data, sig, SERVER.public_key()).card("ab" * 16).budgets[0].remaining_cents == 15_000


def test_tampered_snapshot_is_refused() -> None:
    data, sig = sign_snapshot(sample(), SERVER)
    with pytest.raises(SnapshotBadSignature):
        verify_snapshot(data.replace(b"5000", b"9000"), sig, SERVER.public_key())
    with pytest.raises(SnapshotBadSignature):
        verify_snapshot(data, sig, keys.new_private_key().public_key())


def test_signed_junk_is_a_typed_error() -> None:
    for junk in (b"not json", b"{}", b'{"version": 2}', b'{"version": 1}'):
        with pytest.raises(SnapshotError):
            verify_snapshot(junk, SERVER.sign(b"floreyn/snapshot/v1\x00" + junk), SERVER.public_key())


def test_short_id_range_holds_exactly_the_ids_that_start_with_the_short_id() -> None:
    card = "0123456789abcdef" + "f" * 16
    low, high = short_id_range(card)
    inside = [short_id(card), "0123456789abcdef" + "0" * 16, card]
    outside = ["0123456789abcdee" + "f" * 16, "0123456789abcdf0" + "0" * 16, "0123456789abcdf0"]
    assert all(low <= i < high for i in inside)
    assert not any(low <= o < high for o in outside)
