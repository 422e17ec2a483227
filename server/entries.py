"""What each kind of transaction posts: the meaning of the ledger, in one place.

    spend    payer (member wallet or labeled budget) -fl   merchant +fl
    save     merchant -fl   member +fl                     (the merchant pays the reward)
    top-up   fl:  member/funder +fl, coop:issued -fl
             EUR: reserve +€ (desk) or merchant_eur +€ (at a till), world -€
             fl = floor(€ x 10,000 / ask) at the desk; at a till the record says what was given
    cash-out fl:  merchant -fl, coop:issued +fl
             EUR: world +€paid, reserve -€value, income +(€value - €paid)
             €paid = floor(fl x bid / 10,000), €value = floor(fl x ask / 10,000): the spread is income
    remit    EUR: reserve +€, merchant_eur -€                (top-up euros handed in at the desk)
    grant    funder -fl   budget(s) +fl
    expiry   budget -rest   funder +(rest - kept)   holder wallet(s) +kept   (kept: the funder's keep share)
    refund   merchant -fl   payer +fl
    excess   what a record claims beyond the rules (server/rules.py) goes to dispute:<terminal>, not to
             its beneficiary (a top-up's excess is issued into it: frozen, not held against the reserve)
    dispute  dispute:<terminal> -fl   payee (release) | payer (return) | coop:issued (write off) +fl
    void / reversal   the original's postings, negated
    claim    card suspense -fl   member +fl
    settle   fl:  merchant -handed_in +bought, coop:issued +handed_in -bought
             EUR: reserve -value(handed_in) +€bought +€till, income +spread, merchant_eur -€till,
                  world +€till (the merchant keeps its till euros as part of what it is paid),
                  clearing +paid -€bought -€till (the net: > 0 to pay the merchant, < 0 to collect)
    payout   EUR: clearing -net, world +net       (a bank batch confirmed: the euros really moved)
    payment  payer (member wallet, budget or merchant) -fl   payee (member or merchant) +fl   (server/payments.py)
"""

from __future__ import annotations

from typing import Sequence

from floreyn.money import Currency, ExchangeRates, Money
from floreyn.server.ledger import (
    INCOME, ISSUED, RESERVE, WORLD, LedgerTx, Posting, TxKind, budget_acct, cents_legs, clearing_acct, funder_acct, legs,
    member_acct, merchant_acct, merchant_eur_acct, reversed_postings,
)
from floreyn.sync.record import Kind, TxRecord

_RECORD_KINDS = {Kind.SPEND: TxKind.SPEND, Kind.SAVE: TxKind.SAVE, Kind.TOPUP: TxKind.TOPUP,
                 Kind.REFUND: TxKind.REFUND}


def record_entry(rec: TxRecord, card_account: str, payer_account: str, now_ms: int, *, allowed_cents: int | None = None,
                 suspense: str | None = None, tx_id: str | None = None) -> LedgerTx | None:
    """The transaction a terminal record posts (spend, save, top-up, refund); None when it moves nothing.

    `card_account` is the card holder's wallet (or the card's suspense
    account); `payer_account` is the budget the record names, else the wallet.
    `allowed_cents` (server/rules.py) is how much of the record's fl reaches
    its beneficiary; the rest goes to `suspense` (the terminal's dispute account). `tx_id`: str(rec.record_id)
    when the caller has made it already (uuid's str() is not cheap).
    """
    # Whole cents until the postings are made: this runs for every record inside ingest's write lock, and
    # the Money objects of the arithmetic (six per record) cost more than the postings themselves.
    fl, eur = rec.fl_cents, rec.eur_cents
    allowed = fl if allowed_cents is None else allowed_cents
    excess = fl - allowed
    assert 0 <= allowed <= fl and (suspense is not None or not excess)
    park = ((suspense, excess),) if suspense is not None else ()
    merchant = merchant_acct(rec.merchant_id)
    eur_legs: tuple[tuple[str, int], ...] = ()
    if rec.kind is Kind.SPEND:
        fl_legs = ((payer_account, -fl), (merchant, allowed), *park)
    elif rec.kind is Kind.SAVE:
        fl_legs = ((merchant, -fl), (card_account, allowed), *park)
    elif rec.kind is Kind.TOPUP:
        fl_legs = ((card_account, allowed), *park, (ISSUED, -fl))
        eur_legs = ((merchant_eur_acct(rec.merchant_id), eur), (WORLD, -eur))
    elif rec.kind is Kind.REFUND:
        fl_legs = ((merchant, -fl), (payer_account, allowed), *park)
    else:
        raise ValueError(f"{rec.kind.name} is not posted by record_entry")
    postings = cents_legs(fl_legs, Currency.FL) + (cents_legs(eur_legs, Currency.EUR) if eur_legs else ())
    if not postings:
        return None
    return LedgerTx(
        tx_id=tx_id or str(rec.record_id), kind=_RECORD_KINDS[rec.kind], postings=postings, created_ms=now_ms,
        terminal_id=rec.terminal_id, record_seq=rec.seq, card_id=rec.card_id.hex() if rec.card_id else None,
        merchant_id=rec.merchant_id, memo=f"{excess} parked: rule check" if excess else "",
    )


def dispute_parties(rec: TxRecord, card_account: str, payer_account: str) -> tuple[str, str]:
    """(payer, payee) of a record's parked excess: where it came from, where the record wanted it to go."""
    merchant = merchant_acct(rec.merchant_id)
    return {Kind.SPEND: (payer_account, merchant), Kind.SAVE: (merchant, card_account),
            Kind.TOPUP: (ISSUED, card_account), Kind.REFUND: (merchant, payer_account)}[rec.kind]


def dispute_resolution(tx_id: str, suspense: str, to_account: str, amount: Money, now_ms: int, request_id: str,
                       memo: str) -> LedgerTx:
    """An admin's decision on a parked excess: it leaves the suspense account for one account."""
    return LedgerTx(tx_id=tx_id, kind=TxKind.DISPUTE, created_ms=now_ms, request_id=request_id, memo=memo,
                    postings=legs((suspense, -amount), (to_account, amount)))


def reversal(tx_id: str, kind: TxKind, original_tx_id: str, original: Sequence[Posting], now_ms: int,
             **fields: object) -> LedgerTx:
    return LedgerTx(tx_id=tx_id, kind=kind, postings=reversed_postings(original), created_ms=now_ms,
                    reverses=original_tx_id, **fields)  # type: ignore[arg-type]  # fields: LedgerTx's own keywords


def desk_topup(tx_id: str, holder_account: str, eur: Money, rates: ExchangeRates, now_ms: int,
               request_id: str, merchant_id: str | None = None) -> LedgerTx:
    fl = rates.topup_fl_for_eur(eur)
    return LedgerTx(tx_id=tx_id, kind=TxKind.TOPUP, created_ms=now_ms, request_id=request_id, merchant_id=merchant_id,
                    postings=legs((holder_account, fl), (ISSUED, -fl), (RESERVE, eur), (WORLD, -eur)),
                    memo=f"desk top-up at ask {rates.ask_bp} bp")


def cashout_amounts(fl: Money, rates: ExchangeRates) -> tuple[Money, Money]:
    """(euros paid out, spread income) for Floreyn handed in."""
    paid = rates.cashout_eur_for_fl(fl)
    value = Money.eur(fl.cents * rates.ask_bp // 10_000)
    assert value >= paid, (value, paid)  # bid <= ask, both floored
    return paid, value - paid


def desk_cashout(tx_id: str, merchant_id: str, fl: Money, rates: ExchangeRates, now_ms: int,
                 request_id: str, *, to_bank: bool = False) -> LedgerTx:
    paid, income = cashout_amounts(fl, rates)
    out = clearing_acct(merchant_id) if to_bank else WORLD  # to the bank: paid when its batch is confirmed
    return LedgerTx(tx_id=tx_id, kind=TxKind.CASHOUT, created_ms=now_ms, request_id=request_id,
                    merchant_id=merchant_id,
                    postings=legs((merchant_acct(merchant_id), -fl), (ISSUED, fl), (out, paid),
                                  (RESERVE, -(paid + income)), (INCOME, income)),
                    memo=f"cash-out at bid {rates.bid_bp} bp, ask {rates.ask_bp} bp")


def remit(tx_id: str, merchant_id: str, eur: Money, now_ms: int, request_id: str) -> LedgerTx:
    return LedgerTx(tx_id=tx_id, kind=TxKind.REMIT, created_ms=now_ms, request_id=request_id,
                    merchant_id=merchant_id, postings=legs((RESERVE, eur), (merchant_eur_acct(merchant_id), -eur)))


def grant(tx_id: str, funder_id: str, amounts: Sequence[tuple[str, Money]], now_ms: int,
          request_id: str) -> LedgerTx:
    total = Money.fl(sum(a.cents for _, a in amounts))
    return LedgerTx(tx_id=tx_id, kind=TxKind.GRANT, created_ms=now_ms, request_id=request_id,
                    postings=legs((funder_acct(funder_id), -total),
                                  *((budget_acct(bid), amount) for bid, amount in amounts)))


def expiry(tx_id: str, budget_id: str, funder_id: str, rest: Money, now_ms: int, request_id: str,
           kept: Sequence[tuple[str, Money]] = ()) -> LedgerTx:
    """The rest goes back to the funder, less what the funder's rule lets the holders keep (`kept`: wallets)."""
    back = rest - Money.fl(sum(k.cents for _, k in kept))
    assert back.cents >= 0, (rest, kept)
    return LedgerTx(tx_id=tx_id, kind=TxKind.EXPIRY, created_ms=now_ms, request_id=request_id,
                    postings=legs((budget_acct(budget_id), -rest), (funder_acct(funder_id), back), *kept),
                    memo=f"expiry of {budget_id}")


def kept_shares(rest: Money, keep_share_bp: int, holders: Sequence[str]) -> tuple[tuple[str, Money], ...]:
    """What each holder keeps of a budget's rest at expiry: floor(rest x share) split evenly over the holders
    (a group's members), each rounded down; the cents that do not split go back to the funder."""
    if rest.cents <= 0 or keep_share_bp <= 0 or not holders:
        return ()
    kept = rest.cents * keep_share_bp // 10_000
    each = kept // len(holders)
    return tuple((member_acct(h), Money.fl(each)) for h in sorted(holders)) if each > 0 else ()


def claim(tx_id: str, card_account: str, member_account: str, amount: Money, now_ms: int, card_hex: str,
          request_id: str) -> LedgerTx:
    return LedgerTx(tx_id=tx_id, kind=TxKind.CLAIM, created_ms=now_ms, request_id=request_id, card_id=card_hex,
                    postings=legs((card_account, -amount), (member_account, amount)))


def settle(tx_id: str, merchant_id: str, *, handed_in: Money, bought: Money, till_eur: Money,
           rates: ExchangeRates, now_ms: int, request_id: str, memo: str) -> LedgerTx | None:
    """A merchant's settlement for a period (the rule is in settlement.py); None when nothing moves."""
    paid, spread = cashout_amounts(handed_in, rates)
    value = paid + spread
    bought_eur = rates.topup_eur_for_fl(bought)
    net = paid - bought_eur - till_eur
    postings = legs((merchant_acct(merchant_id), bought - handed_in), (ISSUED, handed_in - bought),
                    (RESERVE, bought_eur + till_eur - value), (INCOME, spread),
                    (merchant_eur_acct(merchant_id), -till_eur), (WORLD, till_eur), (clearing_acct(merchant_id), net))
    if not postings:
        return None
    return LedgerTx(tx_id=tx_id, kind=TxKind.SETTLE, created_ms=now_ms, request_id=request_id,
                    merchant_id=merchant_id, postings=postings, memo=memo)


def payout(tx_id: str, nets: Sequence[tuple[str, Money]], now_ms: int, request_id: str, memo: str) -> LedgerTx | None:
    """A confirmed bank batch: each merchant's clearing against the world (paid out or collected)."""
    total = Money.eur(sum(n.cents for _, n in nets))
    postings = legs(*((clearing_acct(m), -n) for m, n in nets), (WORLD, total))
    if len(postings) < 2:
        return None
    return LedgerTx(tx_id=tx_id, kind=TxKind.PAYOUT, created_ms=now_ms, request_id=request_id, postings=postings,
                    memo=memo)
