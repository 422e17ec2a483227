"""Provisioning: write a member card record to a blank NTAG21x and prove it reads back.

One `write()` is one card on the reader: wait for it (bounded), refuse what we
must not write (MIFARE Classic, cards holding other data unless told to
overwrite, cards too small), write the NDEF message, read it back through a
fresh NDEF read and verify the signature, then optionally set the NTAG21x
write password (diversified per UID, floreyn.card.ntag_password) and read
back once more.

Protection, per NXP's NTAG213/215/216 datasheet, written here rather than
with nfcpy's `protect()`: that ORs 0x08 ("proprietary") into the capability
container's access byte, and Android's NFC stack (libnfc-nci
rw_t2t_handle_cc_read_rsp) accepts only 0x00 or 0x0F there, so a phone shows
no NDEF on such a card (iPhones neither, nfcpy issue #236). We leave the CC
at 0x00 (read and write access by NFC Forum rules): phones read the card, and
a write without the password is refused by the tag itself (AUTH0 = 3, so the
CC is covered too). AUTHLIM allows `AUTH_LIMIT` wrong passwords in the card's
life (unlimited tries would let a lost card's 32-bit password be brute-forced),
and CFGLCK then locks AUTH0 and ACCESS for good; PWD stays changeable. Writing the same card twice is harmless: a card that already
holds exactly this record is reported as `already_written` and not touched
again (protection is still added if asked and missing).

Everything blocks the calling thread; provisioning is a desk tool, not the till.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

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
    is_stop_request,
)
from floreyn.terminal.drivers import nfc_trail
from floreyn.terminal.drivers.ndef_card import card_payload_from_ndef, encode_card_message
from floreyn.terminal.drivers.nfc_device import (
    DEFAULT_TARGETS,
    Frontend,
    NdefArea,
    NfcTag,
    OpenFrontend,
    check_device_path,
    check_targets,
    describe_open_error,
    is_mifare_classic,
    is_peer_to_peer,
    open_frontend,
)

log = logging.getLogger(__name__)

PROTECT_FROM_PAGE = 3  # format 1 AUTH0: the CC and all user memory need the password to write (format 2: 13)
AUTH_LIMIT = 3  # AUTHLIM: wrong PWD_AUTH tries in the card's life before it refuses every PWD_AUTH
_ACCESS_CFGLCK = 0x40  # CFG1 byte 0 (ACCESS) bits, datasheet 8.5.7
_ACCESS_PROT = 0x80
_ACCESS_AUTHLIM = 0x07
PHONE_CC_ACCESS = (0x00, 0x0F)  # CC byte 3 values Android's and iOS's NFC stacks accept
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
        except BaseException as exc:  # nfcpy on an odd tag can raise nearly anything; the desk gets a typed refusal
            if is_stop_request(exc):  # Ctrl-C at the desk stops the tool
                raise
            log.exception("writing card %s failed", card.card_hex)
            raise CardWriteFailed(detail=f"onverwachte fout {type(exc).__name__}") from exc
        finally:
            clf.close()

    def _wait_for_tag(self, clf: Frontend, timeout_s: float) -> NfcTag:
        deadline = time.monotonic() + timeout_s
        refused: list[object] = []

        def on_discover(target: object) -> bool:
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
    tag: NfcTag, card: Card, verify: VerifyPayload, *, overwrite: bool, password_key: bytes | None
) -> WriteResult:
    uid, product = bytes(tag.identifier), str(tag.product)
    can_protect = _is_ntag21x(tag)
    if password_key is not None and not can_protect:
        raise CardUnsupported(detail=f"{product} heeft geen wachtwoordbeveiliging")
    password = b"".join(ntag_password(password_key, uid)) if password_key is not None else None
    message = encode_card_message(card.payload())
    with_trail = card.has_trail and can_protect  # the trail needs NTAG21x pages (a Type 3 tag carries none)

    ndef = _ndef_or_format(tag)
    existing = bytes(ndef.octets)
    already = existing == message
    if existing and not already and not overwrite:
        raise CardNotBlank()
    if not already:
        if not ndef.is_writeable or (can_protect and _password_protected(tag)):
            if password is None or tag.authenticate(password) is not True:
                raise CardWriteProtected()
            ndef = _ndef_or_format(tag)  # after authentication nfcpy reports the area writeable
        if with_trail and nfc_trail.read_area(tag) is None:  # blank, or old data the caller lets us overwrite
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
    if password is not None:
        if _password_protected(tag):
            if already and tag.authenticate(password) is not True:  # not with this card's password
                raise CardWriteFailed(detail="de pas is met een ander wachtwoord beveiligd")
            protected = True
        else:
            try:
                ok = _protect(tag, password, cardtrail.NDEF_PAGE if with_trail else PROTECT_FROM_PAGE)
            except Exception as exc:
                raise _lost_or_failed(tag, "beveiligen") from exc
            if ok is not True:
                raise CardWriteFailed(detail="wachtwoord zetten mislukt")
            protected = True
            _verify_on_card(tag, message, card, verify)
    log.info("card %s written to %s uid=%s protected=%s", card.card_hex, product, uid.hex(), protected)
    return WriteResult(uid=uid, product=product, protected=protected, already_written=already)


def _ndef_or_format(tag: NfcTag) -> NdefArea:
    tag._ndef = None  # nfcpy caches the NDEF view; read the card itself every time we decide on it
    ndef = tag.ndef
    if ndef is None:
        if not _present(tag):
            raise CardRemovedTooEarly()
        if not _is_ntag21x(tag):  # nfcpy formats only NTAGs reliably (its Type 3 format is broken)
            raise CardUnsupported(detail=f"{tag.product} heeft geen NDEF-indeling")
        try:
            ndef = tag.ndef if tag.format() is True else None
        except Exception as exc:
            raise _lost_or_failed(tag, "formatteren") from exc
        if ndef is None:
            raise CardUnsupported(detail=f"{tag.product}: geen NDEF-indeling en formatteren lukte niet")
    return ndef


def _verify_on_card(tag: NfcTag, message: bytes, card: Card, verify: VerifyPayload) -> None:
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


def _password_protected(tag: NfcTag) -> bool:
    """AUTH0 points into the tag's memory: writes from there on need PWD_AUTH (CFG0 is readable)."""
    return int(tag.read(tag._cfgpage)[3]) < tag._cfgpage


def _protect(tag: NfcTag, password: bytes, protect_from: int) -> bool:
    """Password, AUTHLIM and AUTH0 = `protect_from`, then CFGLCK once authenticated; the CC is left as phones want it.

    Order matters: CFGLCK would freeze CFG0 and CFG1, so it is written last,
    after re-activating the tag (it applies AUTH0 only then) and proving the
    password with PWD_AUTH, which also makes the now protected page writable.
    """
    cfg = tag._cfgpage
    tag.write(cfg + 2, password[0:4])  # PWD
    tag.write(cfg + 3, password[4:6] + b"\x00\x00")  # PACK, RFUI
    cfg1 = bytearray(tag.read(cfg)[4:8])
    cfg1[0] = (cfg1[0] & ~(_ACCESS_PROT | _ACCESS_AUTHLIM)) | AUTH_LIMIT  # reads stay open: phones read the card
    tag.write(cfg + 1, bytes(cfg1))
    cfg0 = bytearray(tag.read(cfg)[0:4])
    cfg0[3] = protect_from  # format 2: 13, so the trail below it stays writable without the password
    tag.write(cfg, bytes(cfg0))
    tag._target = tag.clf.sense(tag.target)  # re-activate: the tag applies its configuration now
    if not tag.target or tag.authenticate(password) is not True:
        return False
    cfg1[0] |= _ACCESS_CFGLCK
    tag.write(cfg + 1, bytes(cfg1))
    return True


def _is_ntag21x(tag: NfcTag) -> bool:
    import nfc.tag.tt2_nxp

    return isinstance(tag, nfc.tag.tt2_nxp.NTAG21x) and not isinstance(tag, nfc.tag.tt2_nxp.MifareUltralightEV1)


def _lost_or_failed(tag: NfcTag, step: str) -> CardError:
    return CardWriteFailed(detail=f"{step} mislukt") if _present(tag) else CardRemovedTooEarly()


def _present(tag: NfcTag) -> bool:
    try:
        return bool(tag.is_present)
    except Exception:
        return False
