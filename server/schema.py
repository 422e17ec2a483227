"""The server's tables (SQLAlchemy Core; the Alembic migrations create exactly these).

Money columns are BIGINT cents. Identifiers made by people or terminals are
short ASCII strings (at most 64). Postings, transactions and records are
append-only: triggers in the migration refuse UPDATE and DELETE on them.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, MetaData, SmallInteger, String,
    Table, Text, UniqueConstraint, text,
)
from sqlalchemy.types import TypeEngine

from floreyn.sync.record import WIRE_BY_NAME, Form

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

ID = 64  # longest identifier (codec.MAX_ID_LEN)
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "meta", metadata,
    Column("key", String(ID), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

settings = Table(
    "settings", metadata,
    Column("key", String(ID), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
)

members = Table(
    "members", metadata,
    Column("member_id", String(ID), primary_key=True),
    Column("alias", String(80), nullable=False),
    Column("name", String(200)),
    Column("email", String(200)),
    Column("phone", String(50)),
    Column("address", String(300)),
    Column("created_ms", BigInteger, nullable=False),
    Column("erased_ms", BigInteger),
)

member_groups = Table(
    "member_groups", metadata,
    Column("group_id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

group_members = Table(
    "group_members", metadata,
    Column("group_id", String(ID), ForeignKey("member_groups.group_id"), primary_key=True),
    Column("member_id", String(ID), ForeignKey("members.member_id"), primary_key=True),
    Index("ix_group_members_member", "member_id"),
)

cards = Table(
    "cards", metadata,
    Column("card_id", String(32), primary_key=True),  # hex of the 16-byte id
    Column("member_id", String(ID), ForeignKey("members.member_id"), nullable=False),
    Column("status", String(16), nullable=False),  # active | blocked | replaced
    Column("blocked_reason", String(200)),
    Column("replaced_by", String(32)),
    Column("flagged_ms", BigInteger),  # offline overspend seen
    Column("nonneg_since_ms", BigInteger),  # blocked for overspend, wallet >= 0 since (server/reinstate.py)
    Column("offline_spent_cents", BigInteger, nullable=False, server_default="0"),  # see floreyn/cardtrail.py
    Column("changed_version", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_cards_member", "member_id"),
    Index("ix_cards_changed", "changed_version"),
)

snapshot_cards = Table(  # each card's snapshot entry, kept by the housekeeping job (server/snapshot_cache.py; 0008)
    "snapshot_cards", metadata,
    Column("card_id", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),  # the card's changed_version the entry was made from
    Column("valid_until", String(10), nullable=False),  # from this local date on the calendar makes it wrong
    Column("entry", LargeBinary, nullable=False),  # compact binary (sync/snapshot_pages.py encode_card)
)

snapshot_pages = Table(  # full-snapshot pages kept compressed by the housekeeping job (server/snapshot_cache.py; 0008)
    "snapshot_pages", metadata,
    Column("after", String(32), primary_key=True),  # the page holds the cards after this card id ("" = the first)
    Column("upto", String(32)),  # ... up to and including this one; NULL: to the end
    Column("version", BigInteger, nullable=False),  # the data version read before its entries
    Column("valid_until", String(10), nullable=False),  # the first local date one of its entries is wrong
    Column("count", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),  # the entries in columns, packed (sync/snapshot_pages.py pack_entries; 0009, 0010)
)

merchants = Table(
    "merchants", metadata,
    Column("merchant_id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(ID), nullable=False),
    Column("save_rate_bp", Integer, nullable=False),
    Column("topup_allowed", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # (0005) a shop ('winkel') or a self-employed resident ('zelfstandige'); the bank account payouts go to
    Column("kind", String(16), nullable=False, server_default=text("'winkel'")),
    Column("iban", String(34)),
    Column("account_holder", String(70)),
    Column("mandate_id", String(35)),  # a signed SEPA direct debit mandate: what it owes is collected
    Column("mandate_signed_on", String(10)),
    Column("keep_fl_cents", BigInteger, nullable=False, server_default=text("0")),  # kept for re-spending
)

funders = Table(
    "funders", metadata,
    Column("funder_id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

terminals = Table(
    "terminals", metadata,
    Column("terminal_id", String(ID), primary_key=True),
    Column("merchant_id", String(ID), ForeignKey("merchants.merchant_id"), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("status", String(16), nullable=False),  # active | revoked | quarantined
    Column("status_reason", String(200)),
    Column("head_seq", BigInteger, nullable=False),
    Column("head_hash", LargeBinary(32), nullable=False),
    Column("enrolled_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger),
    Column("reported_head_seq", BigInteger),  # the terminal's own head, sent with each upload (0002)
    Column("rejected_uploads", BigInteger, nullable=False, server_default=text("0")),  # (0002)
    Column("snapshot_served_ms", BigInteger),  # last snapshot fetched (0003)
    Column("snapshot_base_seq", BigInteger),  # the head the server held then: offline usage counts from it (0003)
)

terminal_terms = Table(  # the terms (rates, limits, save rate) a terminal was sent, one row per change (0003)
    "terminal_terms", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("terminal_id", String(ID), nullable=False),
    Column("served_ms", BigInteger, nullable=False),
    Column("terms", Text, nullable=False),  # JSON
    Index("ix_terminal_terms_terminal", "terminal_id", "served_ms"),
)

offline_usage = Table(  # offline spends per terminal and card since the terminal's last snapshot (0003)
    "offline_usage", metadata,
    Column("terminal_id", String(ID), primary_key=True),
    Column("card_id", String(32), primary_key=True),
    Column("base_seq", BigInteger, nullable=False),
    Column("spent_cents", BigInteger, nullable=False),
    Column("taps", BigInteger, nullable=False),
)

refunds = Table(  # a posted till refund and the payment it refers to (0003)
    "refunds", metadata,
    Column("refund_tx", String(64), primary_key=True),
    Column("ref_tx", String(64), nullable=False),
    Column("fl_cents", BigInteger, nullable=False),  # what posted to the payer (the allowed part)
    Index("ix_refunds_ref", "ref_tx"),
)

disputes = Table(  # a record's excess over the rules, parked on the terminal's suspense account (0003)
    "disputes", metadata,
    Column("dispute_id", String(64), primary_key=True),
    Column("terminal_id", String(ID), nullable=False),
    Column("record_id", String(36), nullable=False, unique=True),
    Column("seq", BigInteger, nullable=False),
    Column("rules", String(200), nullable=False),  # comma-separated rule names
    Column("payer_account", String(2 * ID), nullable=False),  # where the excess came from
    Column("payee_account", String(2 * ID), nullable=False),  # where the record wanted it to go
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # open | released | returned | written_off | voided
    Column("created_ms", BigInteger, nullable=False),
    Column("resolved_ms", BigInteger),
    Column("resolved_by", String(ID)),
    Column("resolution_tx", String(64)),
    Column("note", String(200)),
    Index("ix_disputes_status", "status"),
)

request_nonces = Table(
    "request_nonces", metadata,
    Column("terminal_id", String(ID), primary_key=True),
    Column("nonce", String(32), primary_key=True),
    Column("time_ms", BigInteger, nullable=False),
    Index("ix_request_nonces_time", "time_ms"),
)

client_counts = Table(  # events per client address and window, shared by every server process (server/throttle.py)
    "client_counts", metadata,
    Column("scope", String(16), primary_key=True),  # what is counted: failed_auth, portal_signin
    Column("client", String(64), primary_key=True),  # the client's address
    Column("window_start_ms", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
    Column("previous_events", Integer, nullable=False),  # in this client's window before the current one
    Index("ix_client_counts_window", "window_start_ms"),
)
# Any: each form's column holds another Python type (SQLAlchemy's TypeEngine is invariant in it).
_TYPE_OF_FORM: Final[dict[Form, TypeEngine[Any]]] = {
    Form.SMALL_INT: SmallInteger(), Form.BIG_INT: BigInteger(), Form.UUID: String(36), Form.IDENT: String(ID),
    Form.BYTES: LargeBinary(),
}
# The record's fields that are only in `raw` (the server reads them by decoding it); the others have a column
# of their own (to find, order and count records). tests/server/test_schema.py fails when the record gains a
# field that is in neither.
RECORD_RAW_ONLY: Final = frozenset({"version", "prev_hash", "card_id", "merchant_id", "fl_cents", "eur_cents", "tender",
                                    "budget_id", "ref_id", "wall_ms", "mono_ms", "confirm_card_id"})


def record_column(name: str, *, primary_key: bool = False, unique: bool = False) -> Column[Any]:
    """The column of record field `name`: its type follows from the field's wire form (sync.record.WIRE)."""
    wire = WIRE_BY_NAME[name]
    return Column(name, _TYPE_OF_FORM[wire.form], nullable=wire.optional, primary_key=primary_key, unique=unique)


records = Table(
    "records", metadata,
    record_column("terminal_id", primary_key=True),
    record_column("seq", primary_key=True),
    record_column("record_id", unique=True),
    Column("hash", LargeBinary(32), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    record_column("kind"),
    Column("received_ms", BigInteger, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("key", String(2 * ID), primary_key=True),  # "member:m-17", "coop:reserve", ...
    Column("kind", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("owner_id", String(ID)),
    Column("balance_cents", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

transactions = Table(
    "transactions", metadata,
    Column("tx_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("terminal_id", String(ID)),
    Column("record_seq", BigInteger),
    Column("card_id", String(32)),
    Column("merchant_id", String(ID)),
    Column("reverses", String(64), unique=True),  # one reversal per transaction
    Column("request_id", String(ID)),
    Column("memo", String(200), nullable=False),
    Index("ix_transactions_created", "created_ms"),
)

postings = Table(
    "postings", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("tx_id", String(64), nullable=False),
    Column("account", String(2 * ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # the transaction's kind, for reports without a join
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_postings_account_time", "account", "created_ms"),
    Index("ix_postings_tx", "tx_id"),
    Index("ix_postings_time", "created_ms"),
)

budgets = Table(
    "budgets", metadata,
    Column("budget_id", String(ID), primary_key=True),
    Column("funder_id", String(ID), ForeignKey("funders.funder_id"), nullable=False),
    Column("owner_member_id", String(ID)),
    Column("owner_group_id", String(ID)),
    Column("label", String(120), nullable=False),
    Column("categories", Text, nullable=False),  # JSON list
    Column("expires_on", String(10), nullable=False),  # ISO date, last valid day
    Column("status", String(16), nullable=False),  # active | expired
    Column("granted_ms", BigInteger, nullable=False),
    # (0005) the funder's rules: a group member's cap per calendar month, the amount above which a second
    # member of the group confirms, and the share of the rest at expiry that becomes the holder's own fl
    Column("member_cap_cents", BigInteger),
    Column("confirm_above_cents", BigInteger),
    Column("keep_share_bp", Integer, nullable=False, server_default=text("0")),
    Index("ix_budgets_member", "owner_member_id"),
    Index("ix_budgets_group", "owner_group_id"),
)

holds = Table(
    "holds", metadata,
    Column("auth_id", String(36), primary_key=True),
    Column("request_id", String(ID), nullable=False),
    Column("terminal_id", String(ID), nullable=False),
    Column("card_id", String(32), nullable=False),
    Column("account", String(2 * ID)),
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # active | consumed | declined | expired
    Column("reason", String(ID)),
    Column("params_hash", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    UniqueConstraint("terminal_id", "request_id", name="uq_holds_terminal_request"),
    Index("ix_holds_account_status", "account", "status"),
)

campaigns = Table(
    "campaigns", metadata,
    Column("campaign_id", String(ID), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("multiplier_bp", Integer, nullable=False),
    Column("starts_on", String(10), nullable=False),
    Column("ends_on", String(10), nullable=False),
    Column("merchant_ids", Text, nullable=False),  # JSON list; empty = all
    Column("created_ms", BigInteger, nullable=False),
    # (0005) a joint campaign with a pot (server/campaign_pots.py): merchants pay in, the pot pays the saving
    # extra and a redeeming bonus (redeem_bonus_bp of a spend) while it lasts
    Column("pot", Boolean, nullable=False, server_default=text("false")),
    Column("redeem_bonus_bp", Integer, nullable=False, server_default=text("0")),
)

alerts = Table(
    "alerts", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("terminal_id", String(ID)),
    Column("card_id", String(32)),
    Column("detail", Text, nullable=False),  # JSON
)

admin_tokens = Table(
    "admin_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(ID), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
)

admin_requests = Table(
    "admin_requests", metadata,
    Column("request_id", String(ID), primary_key=True),
    Column("action", String(ID), nullable=False),
    Column("params_hash", String(64), nullable=False),
    Column("response", Text, nullable=False),  # JSON
    Column("created_ms", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(ID)),
    Column("role", String(16)),
    Column("method", String(8), nullable=False),
    Column("path", String(300), nullable=False),
    Column("action", String(ID)),
    Column("request_id", String(ID)),
    Column("status", Integer, nullable=False),
    Column("detail", Text, nullable=False),  # JSON
)

backups = Table(  # one row per `floreyn-server backup` (0002), for the metrics
    "backups", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("path", String(500), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("revision", String(32), nullable=False),
)

rates = Table(  # (0005) exchange rates as data: each applies from its moment on, never before it
    "rates", metadata,
    Column("from_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("ask_bp", Integer, nullable=False),
    Column("bid_bp", Integer, nullable=False),
    Column("set_ms", BigInteger, nullable=False),
)

settlement_periods = Table(  # (0005) one row per closed period (YYYY-MM); never changed after
    "settlement_periods", metadata,
    Column("period", String(7), primary_key=True),
    Column("cut_ms", BigInteger, nullable=False),  # postings before this moment belong to the period
    Column("run_ms", BigInteger, nullable=False),
    Column("batch_id", String(ID), nullable=False),
)

settlement_lines = Table(  # (0005) per merchant and period: every component, the rates and the net
    "settlement_lines", metadata,
    Column("period", String(7), primary_key=True),
    Column("merchant_id", String(ID), primary_key=True),
    Column("tx_id", String(64)),
    Column("net_eur_cents", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),  # JSON
)

payout_batches = Table(  # (0005) one bank file's worth of payouts and collections
    "payout_batches", metadata,
    Column("batch_id", String(ID), primary_key=True),
    Column("period", String(7)),
    Column("status", String(16), nullable=False),  # open | confirmed
    Column("created_ms", BigInteger, nullable=False),
    Column("execution_date", String(10), nullable=False),
    Column("confirmed_ms", BigInteger),
    Column("confirm_tx_id", String(64)),
)

payout_lines = Table(  # (0005) euros to pay a merchant (credit) or to collect from one (debit / invoice)
    "payout_lines", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("batch_id", String(ID)),  # NULL: waiting for the next settlement run (a desk cash-out to the bank)
    Column("merchant_id", String(ID), nullable=False),
    Column("method", String(16), nullable=False),  # transfer | debit | invoice | cash
    Column("eur_cents", BigInteger, nullable=False),  # > 0: the cooperative pays; < 0: it collects
    Column("iban", String(34)),
    Column("account_holder", String(70)),
    Column("reference", String(140), nullable=False),
    Column("source_tx_id", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("paid_tx_id", String(64)),  # the confirmation that booked it through the bank; NULL: not yet
    Index("ix_payout_lines_batch", "batch_id"),
)

categories = Table(  # (0005) categories as data; "klussen/vakman" is a sub-category of "klussen"
    "categories", metadata,
    Column("category", String(ID), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

budget_approvals = Table(  # (0005) a second group member confirms one spend above the budget's threshold
    "budget_approvals", metadata,
    Column("approval_id", String(36), primary_key=True),
    Column("budget_id", String(ID), nullable=False),
    Column("member_id", String(ID), nullable=False),
    Column("approver_member_id", String(ID), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used_ms", BigInteger),
    Index("ix_budget_approvals_budget_member", "budget_id", "member_id"),
)

merchant_categories = Table(  # (0005) a merchant may have several categories
    "merchant_categories", metadata,
    Column("merchant_id", String(ID), ForeignKey("merchants.merchant_id"), primary_key=True),
    Column("category", String(ID), primary_key=True),
)

APPEND_ONLY = ("postings", "transactions", "records", "audit_log")

# -- payments between accounts and the portal (0003) ----------------------------------

payments = Table(  # one row per payment between accounts (server/payments.py); the ledger has its postings
    "payments", metadata,
    Column("payment_id", String(36), primary_key=True),  # = the ledger transaction's tx_id
    Column("payer", String(2 * ID), nullable=False),  # "member:m-17" or "merchant:bakkerij"
    Column("request_id", String(ID), nullable=False),  # the payer's client-made id: a retry pays once
    Column("params_hash", String(64), nullable=False),
    Column("from_account", String(2 * ID), nullable=False),  # the wallet or budget drawn on
    Column("to_account", String(2 * ID), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("memo", String(200), nullable=False),
    Column("channel", String(16), nullable=False),  # desk | portal
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("payer", "request_id", name="uq_payments_payer_request"),
    Index("ix_payments_payer_time", "payer", "created_ms"),
)

payment_requests = Table(  # "Ontvang fl 25,00 voor: dakgoot schoonmaken", shown as a QR code
    "payment_requests", metadata,
    Column("request_code", String(32), primary_key=True),  # random, in the QR code's address
    Column("payee", String(2 * ID), nullable=False),  # "merchant:harry" or "member:m-17"
    Column("amount_cents", BigInteger, nullable=False),
    Column("description", String(120), nullable=False),
    Column("status", String(16), nullable=False),  # open | paid | cancelled
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("payment_id", String(36)),
    Column("paid_by", String(2 * ID)),
    Column("paid_ms", BigInteger),
    Index("ix_payment_requests_payee", "payee", "created_ms"),
)

portal_users = Table(  # who may sign in to the portal, with one role over one subject
    "portal_users", metadata,
    Column("user_id", String(ID), primary_key=True),
    Column("role", String(16), nullable=False),  # member | merchant | funder | admin | auditor
    Column("subject_id", String(ID)),  # member_id, merchant_id or funder_id; none for admin/auditor
    Column("login", String(200), nullable=False, unique=True),  # member number or e-mail, lower case
    Column("email", String(200)),  # lower case; a member may also sign in with it
    Column("password_hash", String(200)),  # argon2id; none until activated
    Column("activation_hash", String(64)),  # SHA-256 of the one-time code
    Column("activation_expires_ms", BigInteger),
    Column("failed_signins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until_ms", BigInteger),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_portal_users_email", "email"),
    Index("ix_portal_users_subject", "role", "subject_id"),
)

portal_sessions = Table(
    "portal_sessions", metadata,
    Column("session_hash", String(64), primary_key=True),  # SHA-256 of the cookie's token
    Column("user_id", String(ID), ForeignKey("portal_users.user_id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("reconfirmed_ms", BigInteger, nullable=False),  # last time the password was typed
    Column("ended_ms", BigInteger),
    Column("user_agent", String(200), nullable=False),
    Index("ix_portal_sessions_user", "user_id"),
)
