"""The demo's card picker, minus the buttons: named cards to lay on the virtual reader.

The Kivy app draws one button per card and binds the keys 1-9; pressing one
calls `DemoCards.present(reader, key)`. Besides members there are the cards a
shopkeeper will meet in real life and must see refused: a foreign card, a
damaged one, a forged one. Member card ids are derived from the names, so the
demo server can seed the same members with the same ids every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Iterator

from floreyn.card import CARD_ID_LEN, issue
from floreyn.keys import PrivateKey
from floreyn.terminal.drivers.virtual import VirtualCardReader

DEFAULT_MEMBERS: Final = ("Anouk de Vries", "Sem Jansen", "Fatima El Amrani", "Jan Bakker", "Lotte Visser")
MAX_CARDS: Final = 9  # one digit key each


@dataclass(frozen=True, slots=True)
class DemoCard:
    key: str  # keyboard shortcut, "1".."9"
    label: str  # Dutch, on the picker button
    kind: str  # "member" / "foreign" / "damaged" / "tampered"
    payload: bytes  # what the NDEF record holds
    uid: bytes  # the tag's serial number as a reader reports it
    card_id: bytes | None = None  # members only


def demo_card_id(name: str) -> bytes:
    """The member's card id: stable per name, so demo data can refer to it."""
    return hashlib.sha256(b"floreyn/demo-card\x00" + name.encode("utf-8")).digest()[:CARD_ID_LEN]


def _uid(label: str) -> bytes:
    digest = hashlib.sha256(b"floreyn/demo-uid\x00" + label.encode("utf-8")).digest()
    return b"\x04" + digest[:6]  # NXP-style 7-byte UID


class DemoCards:
    """An ordered, immutable set of demo cards with their keys."""

    def __init__(self, cards: tuple[DemoCard, ...]) -> None:
        assert len(cards) <= MAX_CARDS and len({c.key for c in cards}) == len(cards)
        self.cards = cards

    @classmethod
    def build(cls, issuer: PrivateKey, members: tuple[str, ...] = DEFAULT_MEMBERS) -> DemoCards:
        """Members signed by `issuer` (the demo cooperative's card key), then the three bad cards."""
        assert 1 <= len(members) <= MAX_CARDS - 3
        cards: list[DemoCard] = []
        for name in members:
            card = issue(issuer, demo_card_id(name))
            key = str(len(cards) + 1)
            cards.append(DemoCard(key, f"Pas {name}", "member", card.payload(), _uid(name), card.card_id))
        genuine = cards[0].payload
        forged = genuine[:-1] + bytes([genuine[-1] ^ 0x01])  # one bit of the signature flipped
        extras = (
            ("Vreemde pas (OV-chipkaart)", "foreign", b"\x01OV-chipkaart 3528 0100 1234 5678"),
            ("Beschadigde pas", "damaged", genuine[:40]),
            ("Vervalste pas", "tampered", forged),
        )
        for label, kind, payload in extras:
            cards.append(DemoCard(str(len(cards) + 1), label, kind, payload, _uid(label)))
        return cls(tuple(cards))

    def __iter__(self) -> Iterator[DemoCard]:
        return iter(self.cards)

    def __len__(self) -> int:
        return len(self.cards)

    def by_key(self, key: str) -> DemoCard | None:
        return next((card for card in self.cards if card.key == key), None)

    def present(self, reader: VirtualCardReader, key: str) -> DemoCard | None:
        """Lay the card with this key on the reader; None (nothing happens) for a key without a card."""
        card = self.by_key(key)
        if card is not None:
            reader.present(card.payload, card.uid)
        return card
