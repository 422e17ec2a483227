"""Provisioning: write a member card record to a blank NTAG21x and prove it reads back.

One `write()` is one card on the reader: wait for it (bounded), refuse what we
must not write (MIFARE Classic, cards holding other data unless told to
overwrite, cards too small), write the NDEF message, read it back through a
fresh NDEF read and verify the signature, then optionally set the NTAG21x
write password (diversified per UID, floreyn.card.ntag_password) and read
back once more. Writing the same card twice is harmless: a card that already
holds exactly this record is reported as `already_written` and not touched
again (protection is still added if asked and missing).

Everything blocks the calling thread; provisioning is a desk tool, not the till.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from floreyn import cardtrail
from floreyn.card import Card, CardError, ntag_password
from floreyn.terminal.drivers.base import (
    CardNotBlank,
    CardNotPresented,
    CardRemovedTooEarly,
    CardUnsupported,
    CardWriteFailed,
    CardWriteProtected,
    ReaderUnavailable,
    VerifyPayload,
)

from floreyn.terminal.drivers import nfc_trail
from floreyn.terminal.drivers.ndef_card import card_payload_from_ndef, encode_card_message
from floreyn.terminal.drivers.nfc_device import (
    DEFAULT_TARGETS,
    OpenFrontend,
    check_device_path,
    check_targets,
    describe_open_error,
    is_mifare_classic,
    is_peer_to_peer,
    open_frontend,
)

log = logging.getLogger(__name__)

_PROTECT_FROM_PAGE = 3  # format 1: the capability container too: readers then see the NDEF area as write-protected
MAX_WAIT_S = 120.0


@dataclass(frozen=True, slots=True)
class WriteResult:
    uid: bytes
    product: str  # nfcpy's name for the tag, e.g. "NXP NTAG215"
    protected: bool  # the NTAG write password is set (now or before)
    already_written: bool  # the card held exactly this record already


class CardWriter:
    """Writes cards on one reader; open per `write()` so a desk tool never holds the reader idle."""

    def __init__(
        self, device: str, *, targets: tuple[str, ...] = DEFAULT_TARGETS, opener: OpenFrontend = open_frontend
    ) -> None:
        self.device = check_device_path(device)
        self.targets = check_targets(targets)
        self._opener = opener

    def write(
        self,
        card: Card,
        verify: VerifyPayload,
        *,
        overwrite: bool = False,
        password_key: bytes | None = None,
        timeout_s: float = 15.0,
    ) -> WriteResult:
        """Write `card`; raises a CardError subclass (nothing issued) or ReaderUnavailable."""
        assert 0 < timeout_s <= MAX_WAIT_S
        try:
            clf = self._opener(self.device)
        except Exception as exc:
            raise ReaderUnavailable(hint=describe_open_error(self.device, exc)) from exc
        try:
            tag = self._wait_for_tag(clf, timeout_s)
            return _write_tag(tag, card, verify, overwrite=overwrite, password_key=password_key)
        except (CardError, ReaderUnavailable):
            raise
        except Exception as exc:  # nfcpy on an odd tag can raise nearly anything; the desk gets a typed refusal
            log.exception("writing card %s failed", card.card_hex)
            raise CardWriteFailed(detail=f"onverwachte fout {type(exc).__name__}") from exc
        finally:
            clf.close()

    def _wait_for_tag(self, clf: Any, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        refused: list[Any] = []

        def on_discover(target: Any) -> bool:
            if is_mifare_classic(target):
                refused.append(target)
                return False
            return not is_peer_to_peer(target)

        options = {
            "targets": list(self.targets),
            "on-discover": on_discover,
            "on-connect": lambda tag: False,  # hand the tag back to us instead of waiting for removal
            "iterations": 1,
            "beep-on-connect": False,
        }
        tag = clf.connect(rdwr=options, terminate=lambda: bool(refused) or time.monotonic() > deadline)
        if refused:
            raise CardUnsupported(detail="MIFARE Classic")
        if tag is False:
            raise ReaderUnavailable(hint="de kaartlezer gaf een fout; sluit hem opnieuw aan")
        if tag is None:
            raise CardNotPresented()
        return tag


def _write_tag(
    tag: Any, card: Card, verify: VerifyPayload, *, overwrite: bool, password_key: bytes | None
) -> WriteResult:
    uid, product = bytes(tag.identifier), str(tag.product)
    can_protect = _is_ntag21x(tag)
    if password_key is not None and not can_protect:
        raise CardUnsupported(detail=f"{product} heeft geen wachtwoordbeveiliging")
    password = b"".join(ntag_password(password_key, uid)) if password_key is not None else None
    message = encode_card_message(card.payload())

    ndef = _ndef_or_format(tag)
    existing = bytes(ndef.octets)
    already = existing == message
    if existing and not already and not overwrite:
        raise CardNotBlank()
    if not already:
        if not ndef.is_writeable or (can_protect and nfc_trail.password_protected(tag)):
            if password is None or not tag.authenticate(password):
                raise CardWriteProtected()
            ndef = _ndef_or_format(tag)  # after authentication nfcpy reports the area writeable
        trail = card.has_trail and can_protect  # the trail needs NTAG21x pages (a Type 3 tag carries none)
        if trail and nfc_trail.read_area(tag) is None:  # blank, or old data the caller lets us overwrite
            try:  # format 2: the trail below AUTH0, the record after it (floreyn/cardtrail.py)
                nfc_trail.lay_out(tag)
            except Exception as exc:
                raise _lost_or_failed(tag, "spoor aanleggen") from exc
            ndef = _ndef_or_format(tag)
        if ndef.capacity < len(message):
            raise CardUnsupported(detail=f"te weinig geheugen: {ndef.capacity} bytes, nodig {len(message)}")
        try:
            ndef.octets = message
        except Exception as exc:
            raise _lost_or_failed(tag, "schrijven") from exc
    _verify_on_card(tag, message, card, verify)

    protected = False
    with_trail = card.has_trail and can_protect
    protect_from = cardtrail.NDEF_PAGE if with_trail else _PROTECT_FROM_PAGE
    if password is not None:
        # A format-2 card keeps CC byte 3 at 0x00 (phones read it; the password refuses writes),
        # so whether it is protected shows in AUTH0, not in nfcpy's writeable flag.
        locked = (nfc_trail.auth0(tag) == protect_from) if with_trail else not _writeable_without_password(tag)
        if already and locked:
            if tag.authenticate(password) is not True:  # protected, but not with this card's password
                raise CardWriteFailed(detail="de pas is met een ander wachtwoord beveiligd")
            protected = True
        else:
            try:
                ok = tag.protect(password=password, read_protect=False, protect_from=protect_from)
            except Exception as exc:
                raise _lost_or_failed(tag, "beveiligen") from exc
            if ok is not True:
                raise CardWriteFailed(detail="wachtwoord zetten mislukt")
            protected = True
            _verify_on_card(tag, message, card, verify)
    log.info("card %s written to %s uid=%s protected=%s", card.card_hex, product, uid.hex(), protected)
    return WriteResult(uid=uid, product=product, protected=protected, already_written=already)


def _ndef_or_format(tag: Any) -> Any:
    tag._ndef = None  # nfcpy caches the NDEF view; read the card itself every time we decide on it
    ndef = tag.ndef
    if ndef is None:
        if not _present(tag):
            raise CardRemovedTooEarly()
        if not _is_ntag21x(tag):  # nfcpy formats only NTAGs reliably (its Type 3 format is broken)
            raise CardUnsupported(detail=f"{tag.product} heeft geen NDEF-indeling")
        try:
            formatted = tag.format() is True and tag.ndef is not None
        except Exception as exc:
            raise _lost_or_failed(tag, "formatteren") from exc
        if not formatted:
            raise CardUnsupported(detail=f"{tag.product}: geen NDEF-indeling en formatteren lukte niet")
        ndef = tag.ndef
    return ndef


def _verify_on_card(tag: Any, message: bytes, card: Card, verify: VerifyPayload) -> None:
    """Read the card again from scratch and check it is exactly our record, and genuine."""
    tag._ndef = None
    try:
        ndef = tag.ndef
        octets = bytes(ndef.octets) if ndef is not None else None
    except Exception as exc:
        raise _lost_or_failed(tag, "teruglezen") from exc
    if octets is None:
        raise _lost_or_failed(tag, "teruglezen")
    if octets != message:
        raise CardWriteFailed(detail="teruggelezen gegevens wijken af")
    try:
        read_back = verify(card_payload_from_ndef(octets))
    except CardError as exc:
        raise CardWriteFailed(detail=f"handtekening klopt niet: {exc.code}") from exc
    if read_back.card_id != card.card_id:
        raise CardWriteFailed(detail="ander kaartnummer teruggelezen")


def _writeable_without_password(tag: Any) -> bool:
    tag._ndef = None
    ndef = tag.ndef
    return ndef is not None and bool(ndef.is_writeable)


def _is_ntag21x(tag: Any) -> bool:
    import nfc.tag.tt2_nxp

    return isinstance(tag, nfc.tag.tt2_nxp.NTAG21x) and not isinstance(tag, nfc.tag.tt2_nxp.MifareUltralightEV1)


def _lost_or_failed(tag: Any, step: str) -> CardError:
    return CardWriteFailed(detail=f"{step} mislukt") if _present(tag) else CardRemovedTooEarly()


def _present(tag: Any) -> bool:
    try:
        return bool(tag.is_present)
    except Exception:
        return False
