"""A page's cards in columns (sync/snapshot_columns.py): the same entries back, byte for byte, far fewer
bytes on the wire, and a typed error for anything malformed or of an unknown format."""

import random
import uuid
import zlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floreyn import keys
from floreyn.money import ExchangeRates
from floreyn.sync import snapshot_columns
from floreyn.sync.snapshot import BudgetInfo, CardInfo, MerchantConfig, OfflineLimits, SnapshotError, pick, short_id
from floreyn.sync.snapshot_entry import decode_card, entry_card_id, short_keys, superseded
from floreyn.sync.snapshot_pages import (
    PAGE_FORMAT, PageHeader, SnapshotPageFormat, common_dict, encode_card, encode_page, pack_entries, sign_page,
    verify_page,
)
from tests.sync.test_snapshot_pages import cards

KEY = keys.new_private_key()
COMMON = common_dict(MerchantConfig("M-1", "Bakker", "winkel"), ExchangeRates(), OfflineLimits(), (), (), {})


def entries_of(infos):
    by_id = {c.card_id: c for c in infos}  # a page holds each card once, ascending
    return [encode_card(by_id[k]) for k in sorted(by_id)]


@given(st.lists(st.tuples(cards, st.integers(-10**12, 10**12) | st.none()), max_size=12))
def test_columns_give_back_the_very_entries_they_were_made_from(drawn):
    entries = entries_of([replace(c, balance_cents=balance) for c, balance in drawn])
    every_id = {c.card_id for c, _ in drawn}  # each named in full (as format 3 did): the very entries back
    assert snapshot_columns.unpack(snapshot_columns.pack(entries, every_id), 100) == entries
    keys = short_keys(sorted(every_id), set())  # named by short ids where none shares them: the rest the same
    assert [replace(decode_card(e), card_id=k) for e, k in zip(entries, keys, strict=True)] == [
        decode_card(e) for e in snapshot_columns.unpack(snapshot_columns.pack(entries), 100)]


@given(st.lists(st.tuples(cards, st.integers(-10**12, 10**12) | st.none(), st.booleans()), max_size=12))
def test_cards_packed_as_they_are_give_the_very_bytes_of_their_entries(drawn):
    """The server packs the cards it made in a request as CardInfo (no entry made to be decoded again): the
    till must get the bytes their entries give, mixed with kept entries in any order."""
    by_id = {c.card_id: replace(c, balance_cents=balance) for c, balance, _ in drawn}
    as_info = {c.card_id for c, _, info in drawn if info}
    mixed = [by_id[k] if k in as_info else encode_card(by_id[k]) for k in sorted(by_id)]
    assert snapshot_columns.pack(mixed) == snapshot_columns.pack(entries_of(by_id.values()))


def city(n: int, seed: int = 7) -> list[CardInfo]:
    """Cards as the bench makes them: random ids, two budgets each with the desk tool's ids and the same labels."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        balance = rng.randrange(0, 20_000)
        out.append(CardInfo(card_id=uuid.UUID(int=rng.getrandbits(128)).hex, alias=f"Lid {i:05d}",
                            offline_allowance_cents=min(balance, 5_000), state_version=1, balance_cents=balance,
                            budgets=tuple(BudgetInfo(f"B-{rng.getrandbits(80):020x}", label, (cat,), "2099-12-31",
                                                     rng.randrange(0, 50_000), "F-bench")
                                          for label, cat in (("Onderhoudsbudget", "klussen"), ("Tuinbudget", "groen")))))
    return out


def test_a_city_page_costs_little_more_than_its_random_bytes():
    entries = entries_of(city(5_000))
    one_by_one = len(zlib.compress(b"".join(entries), 9))
    columns = len(pack_entries(entries))
    random_bytes = 5_000 * (8 + 2 * 10)  # the ids as sent (short card ids): no encoding beats them
    assert columns < 0.75 * one_by_one  # measured: 0.73 of the entries one after another, zlib 9 alike
    assert columns < random_bytes * 1.25  # measured 1.19: plus the random balances and alias numbers


def signed(header_changes=None, body=None):
    header = PageHeader("full", "T-1", "ab" * 16, None, 7, 1_000, "", None, count=1,
                        common={**COMMON, **(header_changes or {})})
    wire = encode_page(header, [encode_card(city(1)[0])], body=body)
    return wire, sign_page(wire, KEY)


def test_a_page_of_a_format_the_till_does_not_know_is_refused_by_name():
    assert verify_page(*signed(), KEY.public_key()).header.count == 1
    for other in (PAGE_FORMAT - 1, PAGE_FORMAT + 1, "3", None):
        with pytest.raises(SnapshotPageFormat) as refused:
            verify_page(*signed({"format": other}), KEY.public_key())
        assert refused.value.code == "snapshot_page_format" and str(PAGE_FORMAT) in refused.value.message("en")


@given(st.binary(max_size=300), st.integers(0, 400))
def test_any_damaged_body_is_a_typed_error_never_a_crash(noise, at):
    """Signed by the server key and still malformed (a server bug): only SnapshotError comes out."""
    plain = bytearray(snapshot_columns.pack(entries_of(city(3))))
    plain[at:at + len(noise)] = noise
    wire, sig = signed(body=zlib.compress(bytes(plain)))
    try:
        page = verify_page(wire, sig, KEY.public_key())
    except SnapshotError:
        return
    assert len(page.entries) == 1


def test_a_body_that_claims_more_cards_than_a_page_may_hold_is_refused():
    plain = bytearray(snapshot_columns.pack([]))
    plain[0] = 2 * 11  # the card count (a zigzag varint) says 11, one more than the page may hold
    with pytest.raises(SnapshotError, match="bad count 11"):
        snapshot_columns.unpack(bytes(plain), 10)


# -- short ids (format 4): a card named by its id's first 8 bytes unless another card shares them --------


def test_a_page_names_each_card_by_its_short_id_unless_another_card_shares_it():
    """Cards a and b share their first 8 bytes (neighbours on the page); c's are shared with a card of
    another page (the server says so: `shared`); d's with none. The till gets each entry back, named by
    the key `short_keys` gives it, and the rest of every entry byte for byte."""
    a, b, c, d = ("1111111111111111" + "0" * 16, "1111111111111111" + "f" * 16, "22" * 16, "33" * 16)
    infos = [replace(card, card_id=i) for card, i in zip(city(4), (a, b, c, d), strict=True)]
    entries = entries_of(infos)
    back = snapshot_columns.unpack(snapshot_columns.pack(entries, {c}), 100)
    assert [entry_card_id(e) for e in back] == [a, b, c, short_id(d)]
    assert [replace(decode_card(e), card_id=i.card_id) for e, i in zip(back, infos, strict=True)] == infos
    assert short_keys([a, b, c, d], {c}) == [a, b, c, short_id(d)]
    assert short_keys(["kaart-7", d], set()) == ["kaart-7", short_id(d)]  # not a 32-digit id: always in full


def test_short_ids_save_their_8_bytes_a_card_on_the_wire():
    entries = entries_of(city(5_000))
    full = len(pack_entries(entries, {entry_card_id(e) for e in entries}))  # every card in full: format 3
    short = len(pack_entries(entries))
    assert short < full - 5_000 * 7  # measured: 8.0 bytes a card less (the ids' random bytes not sent)


def test_a_till_finds_a_card_by_its_short_id_only_when_no_other_entry_shares_it():
    a, b, c = "1111111111111111" + "0" * 16, "1111111111111111" + "f" * 16, "1111111111111111" + "9" * 16
    info_a, info_b = CardInfo(card_id=a, alias="a"), CardInfo(card_id=b, alias="b")
    assert pick(a, [(short_id(a), info_a)]) == info_a
    assert pick(c, [(short_id(a), info_a)]) == replace(info_a, card_id=c)  # the server vouches it is alone
    assert pick(a, [(a, info_a), (b, info_b)]) == info_a and pick(b, [(a, info_a), (b, info_b)]) == info_b
    assert pick(c, [(a, info_a), (b, info_b)]) is None  # a card sharing their short id spends neither
    # a short id beside another entry of it (a server that failed to name them in full): no card gets it
    mixed = [(short_id(a), info_a), (b, info_b)]
    assert pick(a, mixed) is None and pick(c, mixed) is None and pick(b, mixed) == info_b
    assert pick(short_id(a), [(short_id(a), info_a)]) is None  # only a full id is looked up


def test_a_delta_supersedes_the_other_key_of_the_same_card():
    a, b = "1111111111111111" + "0" * 16, "1111111111111111" + "f" * 16
    d = "22" * 16
    assert superseded([a, d], [short_id(a)]) == [a]  # stored in full (format 3), now by its short id
    assert superseded([short_id(a), d], [a, b]) == [short_id(a)]  # another card now shares it
    assert superseded([short_id(a), d], [short_id(d), b]) == [short_id(a), d] and superseded([a], [short_id(d)]) == []
