"""Bank accounts: an IBAN is checked (schwifty: country, length, checksum, bank code) and stored compact.

A payout goes to an IBAN only with the account holder's name beside it
(the bank file carries both; Dutch banks compare them).
"""

from __future__ import annotations

from typing import Any, Final

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from floreyn.server.errors import RequestInvalid

SEPA_NAME_MAX: Final = 70  # the <Nm> field of pain.001 / pain.008


def normalize_iban(text: str) -> str:
    """The compact form ('NL91ABNA0417164300') of a valid IBAN; RequestInvalid for anything else."""
    try:
        return str(IBAN(text).compact)
    except (SchwiftyException, ValueError) as exc:
        raise RequestInvalid(detail=f"IBAN {text!r} is not valid ({exc})") from None


def bank_fields(values: dict[str, Any], current_holder: str | None = None) -> dict[str, Any]:
    """Check iban/account_holder in a merchant's values: the IBAN normalised, and a holder required."""
    out = dict(values)
    if out.get("iban") is not None:
        out["iban"] = normalize_iban(str(out["iban"]))
        if not (out.get("account_holder") or current_holder):
            raise RequestInvalid(detail="an IBAN needs the account holder's name (account_holder)")
    holder = out.get("account_holder")
    if holder is not None and len(str(holder).strip()) == 0:
        raise RequestInvalid(detail="account_holder is empty")
    return out
