"""The desk's devices for card commands: the card writer, the signing key, the slip printer.

One member card is: signed with the cooperative's issuing key (floreyn.card.issue),
written to a blank NTAG through the reader, read back from scratch and
verified, then locked with its per-card NTAG password (nfc_writer.CardWriter
does those steps and refuses a card that holds other data). The welcome
slip prints only after the card is registered at the server: a slip is
never handed out for a card that does not work.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Final

from floreyn import card as cards
from floreyn import keys
from floreyn.card import CardError
from floreyn.keys import PrivateKey
from floreyn.provisioning import keystore
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import local

RETRY_PAUSE_S: Final = 0.5  # between attempts in a batch while the last card still lies on the reader
MAX_ATTEMPTS: Final = 1_000  # per card in a batch; the wait time is the real bound


@dataclass
class Desk:
    writer: Any  # floreyn.terminal.drivers.nfc_writer.CardWriter
    issuer: PrivateKey
    verify: Callable[[bytes], cards.Card]
    ntag_key: bytes | None  # None: do not lock
    printer: Any  # a ReceiptPrinter, or None for no slips
    wait_s: float
    overwrite: bool

    def write(self, card: cards.Card, timeout_s: float | None = None) -> Any:
        return self.writer.write(
            card, self.verify, overwrite=self.overwrite, password_key=self.ntag_key, timeout_s=timeout_s or self.wait_s
        )

    def write_patiently(self, card: cards.Card, on_problem: Callable[[CardError], None]) -> Any:
        """Batch mode: keep trying until a blank card takes this one or the wait runs out.

        A card refused for what it is (the previous card still on the reader, a foreign or
        protected card, one pulled away too early) is reported and the next card tried;
        no card at all within the wait, or a reader problem, ends the batch.
        """
        from floreyn.terminal.drivers.base import CardNotPresented

        deadline = time.monotonic() + self.wait_s
        last: type | None = None
        for _ in range(MAX_ATTEMPTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                return self.write(card, timeout_s=max(remaining, 0.2))
            except CardNotPresented:
                raise
            except CardError as exc:
                if type(exc) is not last:  # say it once, not at every poll of a card left lying there
                    on_problem(exc)
                    last = type(exc)
                time.sleep(RETRY_PAUSE_S)
        raise CardNotPresented()

    def close(self) -> None:
        if self.printer is not None:
            self.printer.close()


def add_device_options(p: Any) -> None:
    p.add_argument(
        "--reader", metavar="DEVICE", help="NFC reader (default: [reader] in provision.toml or $FLOREYN_READER)"
    )
    p.add_argument("--passphrase-file", metavar="PATH", help="passphrase of the card-issuing key")
    p.add_argument("--wait", type=float, default=60.0, metavar="S", help="how long to wait for a card (default 60 s)")
    p.add_argument("--overwrite", action="store_true", help="write over a card that holds other data")
    p.add_argument("--no-lock", action="store_true", help="leave the card without its NTAG write password")
    p.add_argument("--no-print", action="store_true", help="no welcome slip even when a printer is configured")


def open_desk(ctx: Ctx) -> Desk:
    """Load the key, check the server trusts it, open the writer and the printer (nothing is written yet)."""
    from floreyn.terminal.drivers.factory import make_printer, make_writer
    from floreyn.terminal.drivers.nfc_writer import MAX_WAIT_S

    args, s = ctx.args, ctx.settings
    if not 0 < args.wait <= MAX_WAIT_S:
        from floreyn.provisioning.errors import invalid

        raise invalid("--wait", "choose 1 to {MAX_WAIT_S:.0f} seconds", MAX_WAIT_S=MAX_WAIT_S)
    issuer = keystore.load_issuer(s.issuer_path, keystore.passphrase(args.passphrase_file, new=False))
    public_hex = keys.public_raw(issuer).hex()
    if public_hex not in (ctx.api.get("/v1/admin/config").get("issuer_keys") or []):
        raise local(
            "the server does not know this desk's card-issuing key; tills would refuse the card. Run 'floreyn-provision init'.",
        )
    issuers = cards.issuer_map([issuer.public_key()])
    ntag_key = None if args.no_lock else keystore.load_ntag_key(s.ntag_key_path)
    writer = make_writer(s.reader_config(args.reader))
    printer = make_printer(s.printer) if s.printer and not args.no_print else None
    return Desk(
        writer=writer,
        issuer=issuer,
        verify=lambda payload: cards.verify_payload(payload, issuers),
        ntag_key=ntag_key,
        printer=printer,
        wait_s=args.wait,
        overwrite=args.overwrite,
    )


def print_slip(ctx: Ctx, desk: Desk, alias: str, card_id: bytes, portal: dict[str, Any] | None = None) -> str:
    """'printed', 'off' (no printer), or 'failed: ...': a slip that fails never undoes a working card.

    `portal` is the server's answer to the member's activation code (portal.activation_code): the
    slip prints the code, the server's portal_url and its ask rate."""
    if desk.printer is None:
        return "off"
    from floreyn.terminal.drivers.base import PrinterError
    from floreyn.terminal.receipts import ReceiptContext, welcome_slip

    s = ctx.settings
    portal = portal or {}
    receipt_ctx = ReceiptContext(cooperative=s.cooperative, merchant_name=s.desk_name, terminal_id="balie")
    if portal.get("portal_url"):
        receipt_ctx = dataclasses.replace(receipt_ctx, welcome_url=portal["portal_url"])
    doc = welcome_slip(alias, card_id, receipt_ctx, activation_code=portal.get("activation_code"),
                       ask_bp=portal.get("ask_bp"))
    try:
        desk.printer.print_doc(doc)
    except PrinterError as exc:
        ctx.out.warn(
            ctx.out.say(
                f"welkomstbon niet geprint: {exc.message('nl')}", f"welcome slip not printed: {exc.message('en')}"
            )
        )
        return f"failed: {exc.code}"
    return "printed"
