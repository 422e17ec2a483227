"""What a terminal record posts (entries.record_entry): the same postings as the Money-arithmetic form it replaced."""

import uuid

import pytest

from floreyn.money import Money
from floreyn.server import entries, ledger
from floreyn.sync.record import ChainHead, Kind, RecordContent, Tender, TxRecord

NOW = 1_780_000_000_000
CARD = bytes.fromhex("0a" * 16)


def _record(kind: Kind, fl_cents: int, eur_cents: int = 0) -> TxRecord:
    tender = Tender.CASH if kind is Kind.TOPUP else Tender.NONE
    content = RecordContent(record_id=uuid.uuid4(), kind=kind, card_id=CARD, fl_cents=fl_cents, eur_cents=eur_cents,
                            tender=tender, ref_id=uuid.uuid4() if kind is Kind.REFUND else None)
    return ChainHead().next_record(content, terminal_id="T-1", merchant_id="M-1")


def _reference_postings(rec: TxRecord, card_account: str, payer_account: str, allowed_cents: int | None,
                        suspense: str | None) -> tuple[ledger.Posting, ...]:
    """record_entry's postings as it made them before it worked in whole cents (Money arithmetic, ledger.legs)."""
    fl, eur = Money.fl(rec.fl_cents), Money.eur(rec.eur_cents)
    allowed = fl if allowed_cents is None else Money.fl(allowed_cents)
    excess = fl - allowed
    park = ((suspense, excess),) if suspense is not None else ()
    merchant = ledger.merchant_acct(rec.merchant_id)
    if rec.kind is Kind.SPEND:
        return ledger.legs((payer_account, -fl), (merchant, allowed), *park)
    if rec.kind is Kind.SAVE:
        return ledger.legs((merchant, -fl), (card_account, allowed), *park)
    if rec.kind is Kind.TOPUP:
        return ledger.legs((card_account, allowed), *park, (ledger.ISSUED, -fl),
                           (ledger.merchant_eur_acct(rec.merchant_id), eur), (ledger.WORLD, -eur))
    return ledger.legs((merchant, -fl), (payer_account, allowed), *park)


@pytest.mark.parametrize("kind", [Kind.SPEND, Kind.SAVE, Kind.TOPUP, Kind.REFUND])
@pytest.mark.parametrize("allowed", [None, 1_250, 400, 0])  # all of it, all of it said twice, part, nothing
@pytest.mark.parametrize("payer", ["member:m-1", "budget:b-1"])
def test_a_record_posts_what_the_money_arithmetic_posted(kind, allowed, payer):
    rec = _record(kind, 1_250, 1_250 if kind in (Kind.TOPUP, Kind.SAVE) else 0)
    suspense = ledger.dispute_acct("T-1") if allowed is not None and allowed < rec.fl_cents else None
    tx = entries.record_entry(rec, "member:m-1", payer, NOW, allowed_cents=allowed, suspense=suspense)
    assert tx is not None
    assert tx.postings == _reference_postings(rec, "member:m-1", payer, allowed, suspense)
    assert (tx.tx_id, tx.kind.value, tx.created_ms, tx.terminal_id, tx.record_seq, tx.card_id, tx.merchant_id) == (
        str(rec.record_id), kind.name.lower(), NOW, "T-1", 1, CARD.hex(), "M-1")
    excess = rec.fl_cents - (rec.fl_cents if allowed is None else allowed)
    assert tx.memo == (f"{excess} parked: rule check" if excess else "")


def test_a_record_that_moves_nothing_posts_nothing():
    assert entries.record_entry(_record(Kind.SPEND, 0), "member:m-1", "member:m-1", NOW) is None


def test_a_record_entry_still_refuses_what_the_ledger_refuses():
    with pytest.raises(AssertionError):  # more allowed than claimed
        entries.record_entry(_record(Kind.SPEND, 100), "member:m-1", "member:m-1", NOW, allowed_cents=101)
    with pytest.raises(AssertionError):  # an excess with nowhere to park it
        entries.record_entry(_record(Kind.SPEND, 100), "member:m-1", "member:m-1", NOW, allowed_cents=50)
    with pytest.raises(ValueError):  # a euro account cannot take the Floreyn leg
        entries.record_entry(_record(Kind.SPEND, 100), "member:m-1", ledger.clearing_acct("M-1"), NOW)
    with pytest.raises(ValueError):
        entries.record_entry(_record(Kind.VOID, 0), "member:m-1", "member:m-1", NOW)


def test_a_transaction_unbalanced_in_euros_only_is_refused():
    with pytest.raises(ledger.Unbalanced, match="EUR postings sum to 1"):
        ledger.LedgerTx("t-eur", ledger.TxKind.TOPUP, ledger.legs(
            ("member:a", Money.fl(100)), (ledger.ISSUED, Money.fl(-100)), (ledger.RESERVE, Money.eur(101)),
            (ledger.WORLD, Money.eur(-100))), NOW)
