"""Bank files for a payout batch: SEPA credit transfers (pain.001.001.03) and direct debits (pain.008.001.02),
made with sepaxml and validated against the XSD it ships before they leave the server; and the invoice list.

The cooperative's own account (name, IBAN, creditor id for debits) is a
setting: PUT /v1/admin/bank. A file names the batch as its message id, so a
bank that sees the same file twice refuses the second.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import xml.etree.ElementTree as ET
from typing import Any, Final

from schwifty import IBAN
from sepaxml import SepaDD, SepaTransfer
from sepaxml.validation import ValidationError, try_valid_xml
from sqlalchemy import Connection, select

from floreyn.server import bank, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound, RequestInvalid, StateRefused

TRANSFER_SCHEMA: Final = "pain.001.001.03"
DEBIT_SCHEMA: Final = "pain.008.001.02"
CREDITOR_ID_MAX: Final = 35


def set_bank(conn: Connection, *, name: str, iban: str, creditor_id: str | None) -> dict[str, Any]:
    """The cooperative's account the transfers are paid from and the debits collected to."""
    value = {"name": name.strip()[: bank.SEPA_NAME_MAX], "iban": bank.normalize_iban(iban),
             "creditor_id": creditor_id}
    if not value["name"]:
        raise RequestInvalid(detail="the account holder's name is empty")
    state.put_setting(conn, "bank", value)
    return value


def get_bank(conn: Connection) -> dict[str, Any]:
    row = conn.execute(select(s.settings.c.value).where(s.settings.c.key == "bank")).scalar()
    if row is None:
        raise StateRefused(detail="the cooperative's bank account is not set (PUT /v1/admin/bank)")
    value: dict[str, Any] = json.loads(row)
    return value


def _bic(iban: str) -> str | None:
    bic = IBAN(iban).bic
    return str(bic) if bic is not None else None


def _batch(conn: Connection, batch_id: str) -> Any:
    b = conn.execute(select(s.payout_batches).where(s.payout_batches.c.batch_id == batch_id)).first()
    if b is None:
        raise NotFound(what="batch", id=batch_id)
    return b


def _lines(conn: Connection, batch_id: str, method: str) -> list[Any]:
    return list(conn.execute(select(s.payout_lines).where(s.payout_lines.c.batch_id == batch_id,
                                                          s.payout_lines.c.method == method)
                             .order_by(s.payout_lines.c.id)))


def _fix_ids(xml: bytes, schema: str, batch_id: str, created_ms: int) -> bytes:
    """Message and payment-information ids from the batch (sepaxml makes random ones), creation time too."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:{schema}"
    ET.register_namespace("", ns)
    root = ET.fromstring(xml)
    for el in root.iter(f"{{{ns}}}MsgId"):
        el.text = batch_id[:35]
    for i, el in enumerate(root.iter(f"{{{ns}}}PmtInfId")):
        el.text = f"{batch_id}-{i + 1}"[:35]
    when = dt.datetime.fromtimestamp(created_ms / 1000, state.TZ).replace(tzinfo=None, microsecond=0)
    for el in root.iter(f"{{{ns}}}CreDtTm"):
        el.text = when.isoformat()
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def transfer_file(conn: Connection, batch_id: str) -> bytes:
    """pain.001: one credit transfer per merchant line paid by bank in the batch."""
    b, coop = _batch(conn, batch_id), get_bank(conn)
    lines = _lines(conn, batch_id, "transfer")
    if not lines:
        raise StateRefused(detail=f"batch {batch_id} has no bank transfers")
    config = {"name": coop["name"], "IBAN": coop["iban"], "batch": True, "currency": "EUR"}
    if _bic(coop["iban"]):
        config["BIC"] = _bic(coop["iban"])
    sepa = SepaTransfer(config, schema=TRANSFER_SCHEMA, clean=True)
    execution = dt.date.fromisoformat(b.execution_date)
    for r in lines:
        payment = {"name": r.account_holder, "IBAN": r.iban, "amount": int(r.eur_cents),
                   "execution_date": execution, "description": r.reference,
                   "endtoend_id": f"FL{r.id:010d}"}
        if _bic(r.iban):
            payment["BIC"] = _bic(r.iban)
        sepa.add_payment(payment)
    return _export(sepa, TRANSFER_SCHEMA, batch_id, b.created_ms)


def debit_file(conn: Connection, batch_id: str) -> bytes:
    """pain.008: one direct debit (recurring, CORE) per merchant line with a mandate."""
    b, coop = _batch(conn, batch_id), get_bank(conn)
    if not coop.get("creditor_id"):
        raise StateRefused(detail="the cooperative's SEPA creditor id is not set (PUT /v1/admin/bank)")
    lines = _lines(conn, batch_id, "debit")
    if not lines:
        raise StateRefused(detail=f"batch {batch_id} has no direct debits")
    config = {"name": coop["name"], "IBAN": coop["iban"], "BIC": _bic(coop["iban"]) or "NOTPROVIDED",
              "batch": True, "creditor_id": coop["creditor_id"], "currency": "EUR", "instrument": "CORE"}
    sepa = SepaDD(config, schema=DEBIT_SCHEMA, clean=True)
    collection = dt.date.fromisoformat(b.execution_date)
    for r in lines:
        m = conn.execute(select(s.merchants).where(s.merchants.c.merchant_id == r.merchant_id)).one()
        payment = {"name": r.account_holder, "IBAN": r.iban, "amount": -int(r.eur_cents), "type": "RCUR",
                   "collection_date": collection, "mandate_id": m.mandate_id,
                   "mandate_date": dt.date.fromisoformat(m.mandate_signed_on), "description": r.reference,
                   "endtoend_id": f"FL{r.id:010d}"}
        if _bic(r.iban):
            payment["BIC"] = _bic(r.iban)
        sepa.add_payment(payment)
    return _export(sepa, DEBIT_SCHEMA, batch_id, b.created_ms)


def _export(sepa: SepaTransfer | SepaDD, schema: str, batch_id: str, created_ms: int) -> bytes:
    raw = sepa.export(validate=False)
    fixed = _fix_ids(raw, schema, batch_id, created_ms)
    try:
        try_valid_xml(fixed, schema)
    except ValidationError as exc:  # a bug of ours, never the treasurer's input: say what failed
        raise StateRefused(detail=f"the {schema} file does not validate: {exc.__cause__}") from None
    return fixed


def invoice_csv(conn: Connection, batch_id: str) -> str:
    """Merchants that owe without a mandate, and payouts to merchants without an IBAN (cash at the desk)."""
    _batch(conn, batch_id)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(("merchant_id", "name", "method", "eur", "eur_cents", "reference", "paid"))
    for method in ("invoice", "cash"):
        for r in _lines(conn, batch_id, method):
            name = conn.execute(select(s.merchants.c.name).where(s.merchants.c.merchant_id == r.merchant_id)).scalar()
            w.writerow((r.merchant_id, name, method, _eur(r.eur_cents),
                        r.eur_cents, r.reference, "ja" if r.paid_tx_id else "nee"))
    return buf.getvalue()


def _eur(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
