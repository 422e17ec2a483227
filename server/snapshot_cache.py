"""Snapshot pages served from entries kept up to date, not rebuilt per request (issue 19).

Each card's snapshot entry (sync/snapshot_pages.py `encode_card`) is the same for every terminal: the
till decides with its own merchant's categories. `snapshot_cards` keeps that entry with the card's
`changed_version` and `valid_until`, the first local date the calendar alone makes it wrong (a budget's
last day passed, a month's cap renewed). The housekeeping job (server/housekeeping.py) makes the entries
of cards changed since, or past that day, again (`make_stale` in a read, `keep` in a short write), then
keeps runs of PAGE_CARDS entries compressed in `snapshot_pages` (`plan_pages`, `keep_pages`): a run is
cut anew when none exist or one doubled, and made again once REMAKE_PAGE_CHANGES of its cards changed.

A page request only reads. It takes the data version first (see server/snapshots.py). A full fetch's
page that starts where a kept run starts goes out as kept, with the cards of its range changed since
as the overlay; any other page, and every delta page (the changed cards, by ix_cards_changed), is read
here: each card's kept entry when current, else made in the request from the same
`snapshots.card_infos` the kept ones came from, so a page is never staler than a rebuild would be.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, replace
from typing import Any, Final, Sequence

from sqlalchemy import Connection, Row, bindparam, delete, func, select, text

from floreyn.server import admin_categories, bulk, rules, snapshots, state
from floreyn.server import schema as s
from floreyn.server.errors import Conflict, NotFound
from floreyn.server.rates import rate_in_force
from floreyn.sync.snapshot import (
    MAX_DELTA_CARDS, SHORT_ID_END_CHAR, SHORT_ID_HEX, SNAPSHOT_VERSION, CardInfo, Snapshot, SnapshotDelta, snapshot_from_dict,
)
from floreyn.sync.snapshot_pages import (
    PAGE_CARDS, EntryOrCard, PageHeader, common_dict, decode_card, encode_card, encode_page, pack_entries,
)
from floreyn.sync.snapshot_entry import short_keys

REFRESH_CHUNK: Final = 2_000  # cards re-made per round of the housekeeping job
FOREVER: Final = "9999-12-31"  # an entry no date makes wrong
MAX_OVERLAY_CARDS: Final = 2_000  # a kept page with more changes since is read afresh instead
REMAKE_PAGE_CHANGES: Final = 200  # the job makes a kept page again once this many of its cards changed
_sc = s.snapshot_cards
_sp = s.snapshot_pages


class SnapshotBaseUnknown(Conflict):
    code = "snapshot_base_unknown"
    msgid = "The server does not know data version {since} (newer than its own); fetch a full snapshot."


def valid_until(info: CardInfo, today: str) -> str:
    """The first day a card's entry made today is no longer right by the calendar alone: the day after its
    first budget's last day (the budget then leaves the snapshot), or the first of next month when a
    group budget caps the member per month."""
    ends = [end for b in info.budgets if (end := _day_after(b.expires_on)) is not None]
    if any(b.member_cap_left_cents is not None for b in info.budgets):
        ends.append(_next_month(today))
    return min(ends, default=FOREVER)


@functools.lru_cache(maxsize=1024)
def _day_after(expires_on: str) -> str | None:
    """The day after a budget's last day (None: not a date). Cached: a city's budgets share a few last days,
    and parsing each card's dates again was a tenth of making a delta's cards."""
    try:
        return (dt.date.fromisoformat(expires_on) + dt.timedelta(days=1)).isoformat()
    except ValueError:
        return None


@functools.lru_cache(maxsize=64)
def _next_month(today: str) -> str:
    day = dt.date.fromisoformat(today)
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1).isoformat()


def _entries(conn: Connection, rows: Sequence[Row[Any]], today: str, now_ms: int, cap_cents: int | None = None
             ) -> dict[str, tuple[CardInfo, str]]:
    """Fresh cards (rows of `cards`), as the snapshot's own builder makes them, with the day each stops
    being right (`valid_until`). Left as CardInfo: a page packs them as they are (no entry made only to be
    decoded again), the job encodes them to keep."""
    if not rows:
        return {}
    cap = state.get_settings(conn).limits.cumulative_cents if cap_cents is None else cap_cents
    infos = snapshots.card_infos(conn, rows, (), today, cap, now_ms)
    return {i.card_id: (i, valid_until(i, today)) for i in infos}


def _stale_rows(conn: Connection, today: str, limit: int, after: str) -> list[Row[Any]]:
    stale = (_sc.c.card_id.is_(None)) | (_sc.c.version != s.cards.c.changed_version) | (_sc.c.valid_until <= today)
    return list(conn.execute(select(s.cards).select_from(s.cards.outerjoin(_sc, _sc.c.card_id == s.cards.c.card_id))
                             .where(stale, s.cards.c.card_id > after).order_by(s.cards.c.card_id).limit(limit)).all())


def make_stale(conn: Connection, now_ms: int, limit: int = REFRESH_CHUNK, after: str = "") -> list[dict[str, Any]]:
    """Read only: up to `limit` entries after card `after` that are missing, older than their card, or past
    their day, made anew (the job passes the last card of the round before, so a pass reads each card once)."""
    today = state.local_date(now_ms).isoformat()
    rows = _stale_rows(conn, today, limit, after)
    fresh = _entries(conn, rows, today, now_ms)
    return [{"card_id": r.card_id, "version": int(r.changed_version), "valid_until": fresh[r.card_id][1],
             "entry": encode_card(fresh[r.card_id][0])} for r in rows]


def keep(conn: Connection, made: list[dict[str, Any]]) -> None:
    """Write entries made by `make_stale` (a short write: the making happened in a read). An entry whose card
    changed in between is kept with the older version, so pages and the next run see it as stale."""
    for chunk in bulk.chunks([m["card_id"] for m in made]):
        conn.execute(delete(_sc).where(_sc.c.card_id.in_(chunk)))
    if made:
        conn.execute(_sc.insert(), made)


def refresh(conn: Connection, now_ms: int, limit: int = REFRESH_CHUNK) -> int:
    """Make and keep up to `limit` stale entries in one transaction; how many (the job: `housekeeping`)."""
    made = make_stale(conn, now_ms, limit)
    keep(conn, made)
    return len(made)


@dataclass(frozen=True, slots=True)
class ServedPage:
    header: PageHeader
    body: bytes | None  # a kept body, packed; None: `entries` made in the request
    entries: list[EntryOrCard]
    overlay: list[EntryOrCard]
    terms: dict[str, Any]  # the terms the page hands the till (server/rules.py)
    shared: frozenset[str] = frozenset()  # card ids of `entries` and `overlay` sent in full (`shared_ids`)

    def wire(self) -> bytes:
        return encode_page(self.header, self.entries, self.overlay, body=self.body, shared=self.shared)


def page(conn: Connection, terminal_id: str, *, fetch: str, since: int | None, after: str, now_ms: int,
         limit: int | None = None) -> ServedPage:
    """One page: the cards after `after` (all, or those changed since `since`), ascending card id.

    A full snapshot's page is a kept one when the job has one starting at `after` (its body as kept, the
    cards changed since as the overlay); otherwise, and for a delta, up to `limit` cards are read here."""
    limit = limit or PAGE_CARDS
    version = state.current_version(conn)  # first: see server/snapshots.py
    if since is not None and since > version:
        raise SnapshotBaseUnknown(since=since)
    term = conn.execute(select(s.terminals.c.merchant_id).where(s.terminals.c.terminal_id == terminal_id)).first()
    if term is None:
        raise NotFound(what="terminal", id=terminal_id)
    today = state.local_date(now_ms).isoformat()
    cfg = state.get_settings(conn)  # once for the page: its terms and the cards it makes
    shared, terms = common(conn, term.merchant_id, today, now_ms, cfg)
    cap = cfg.limits.cumulative_cents
    header = PageHeader(kind="full" if since is None else "delta", terminal_id=terminal_id, fetch=fetch,
                        base_version=since, snapshot_version=version, server_time_ms=now_ms, after=after,
                        next=None, count=0, common=shared)
    kept = conn.execute(select(_sp).where(_sp.c.after == after)).first() if since is None else None
    if kept is not None and today < kept.valid_until:
        overlay = _run(conn, today, now_ms, after=after, upto=kept.upto, since=int(kept.version), cap_cents=cap)
        if len(overlay) <= MAX_OVERLAY_CARDS:
            return ServedPage(replace(header, next=kept.upto, count=int(kept._mapping["count"]), overlay=len(overlay)),
                              bytes(kept.body), [], [e for _, e, _ in overlay], terms,
                              shared_ids(conn, [c for c, _, _ in overlay]))
    run = _run(conn, today, now_ms, after=after, since=since, limit=limit, cap_cents=cap)
    return ServedPage(replace(header, next=run[-1][0] if len(run) == limit else None, count=len(run)), None,
                      [e for _, e, _ in run], [], terms,
                      shared_ids(conn, [c for c, _, _ in run], run_after=after if since is None else None))


# A card's short id is shared when another card's id starts with it: the card id index read over the
# short id's range (sync/snapshot.py short_id_range, here in SQL: the short id, then it and :end).
_SHARED_PROBE: Final = text(
    "SELECT c.card_id FROM cards c WHERE c.card_id IN :ids AND (SELECT COUNT(*) FROM cards d "
    "WHERE d.card_id >= substr(c.card_id, 1, :n) AND d.card_id < substr(c.card_id, 1, :n) || :end) > 1"
).bindparams(bindparam("ids", expanding=True))


def shared_ids(conn: Connection, card_ids: Sequence[str], *, run_after: str | None = None) -> frozenset[str]:
    """Of `card_ids` (ascending), those whose short id another card of the server has: a page names them by
    their full id (sync/snapshot_entry.py `short_keys`), so a till never finds one by another's short id.

    `run_after`: `card_ids` are every card after it (a full page's run): only the two cards around the
    run are read, the rest are neighbours in it. Otherwise (a delta, an overlay: a few cards) each is
    looked up in the card id index."""
    if not card_ids:
        return frozenset()
    if run_after is None:
        found: set[str] = set()
        for chunk in bulk.chunks(list(card_ids)):
            found.update(conn.execute(_SHARED_PROBE, {"ids": list(chunk), "n": SHORT_ID_HEX, "end": SHORT_ID_END_CHAR}).scalars())
        return frozenset(found)
    ids = s.cards.c.card_id
    before = conn.execute(select(func.max(ids)).where(ids <= run_after)).scalar() if run_after else None
    beyond = conn.execute(select(func.min(ids)).where(ids > card_ids[-1])).scalar()
    around = [*([before] if before else []), *card_ids, *([beyond] if beyond else [])]
    keys = short_keys(around, frozenset())  # the full id where a neighbour has the same short id
    return frozenset(c for c, key in zip(around, keys, strict=True) if key == c) & frozenset(card_ids)


def _run(conn: Connection, today: str, now_ms: int, *, after: str, upto: str | None = None, since: int | None = None,
         limit: int | None = None, cap_cents: int | None = None) -> list[tuple[str, EntryOrCard, str]]:
    """(card id, entry, valid until) of the cards after `after` (up to `upto`; changed since `since`), in order:
    the kept entry when current, else the card made here as the job would (a CardInfo: see `_entries`)."""
    # Plain SQL: no result processing per row (a page is thousands of rows). With `since` the few cards are
    # found by ix_cards_changed: `card_id || ''` (same order) keeps SQLite from walking every card in key
    # order instead, to filter or to sort.
    key = "c.card_id" if since is None else "c.card_id || ''"
    where = [f"{key} > :after"] + ([f"{key} <= :upto"] if upto is not None else [])
    where += ["c.changed_version > :since"] if since is not None else []
    # The card's own columns come along: a card whose entry is stale (changed since the job ran) is made
    # from this row, with no second read of it.
    sql = ("SELECT c.card_id, c.changed_version, c.member_id, c.status, c.flagged_ms, c.offline_spent_cents, "
           "k.version, k.valid_until, k.entry FROM cards c "
           f"LEFT JOIN snapshot_cards k ON k.card_id = c.card_id WHERE {' AND '.join(where)} ORDER BY {key}"
           + (" LIMIT :limit" if limit is not None else ""))
    rows = conn.execute(text(sql), {"after": after, "upto": upto, "since": since, "limit": limit}).all()
    out: list[tuple[str, EntryOrCard, str] | None] = [
        (r.card_id, bytes(r.entry), r.valid_until) if r.entry is not None and r.version == r.changed_version
        and today < r.valid_until else None for r in rows]
    stale = [r for r, o in zip(rows, out, strict=True) if o is None]
    if not stale:
        return [o for o in out if o is not None]
    fresh = _entries(conn, stale, today, now_ms, cap_cents)  # changed since the housekeeping job last ran
    return [o if o is not None else (r.card_id, *fresh[r.card_id]) for r, o in zip(rows, out, strict=True)]


# -- the JSON snapshot of tills before pages ----------------------------------------------------------


def json_snapshot(conn: Connection, terminal_id: str, since: int | None, now_ms: int) -> Snapshot | SnapshotDelta:
    """The one-document snapshot (GET /v1/terminal/snapshot) that tills before issue 19 fetch, kept for them
    while a city's tills are upgraded one by one: from the kept entries as pages are (each card decoded, no
    longer made per request), with the limit it always had (8 MiB, some 16k cards with two budgets).
    A delta larger than MAX_DELTA_CARDS, or from a version the server does not know, is a full snapshot."""
    version = state.current_version(conn)  # first: see server/snapshots.py
    term = conn.execute(select(s.terminals.c.merchant_id).where(s.terminals.c.terminal_id == terminal_id)).first()
    if term is None:
        raise NotFound(what="terminal", id=terminal_id)
    today = state.local_date(now_ms).isoformat()
    shared, _ = common(conn, term.merchant_id, today, now_ms)
    snap = snapshot_from_dict({"version": SNAPSHOT_VERSION, "terminal_id": terminal_id, "snapshot_version": version,
                               "server_time_ms": now_ms, **shared})
    if since is not None and 0 <= since <= version and conn.execute(
            select(func.count()).select_from(s.cards).where(s.cards.c.changed_version > since)
    ).scalar_one() <= MAX_DELTA_CARDS:
        cards = tuple(_card(e) for _, e, _ in _run(conn, today, now_ms, after="", since=since))
        fields = {f: getattr(snap, f) for f in ("version", "terminal_id", "snapshot_version", "server_time_ms",
                                                "merchant", "rates", "limits", "campaigns", "issuer_keys", "extra")}
        return SnapshotDelta(base_version=since, cards=cards, **fields)
    cards = tuple(_card(e) for _, e, _ in _run(conn, today, now_ms, after=""))
    return replace(snap, cards=cards, blocklist=tuple(c.card_id for c in cards if c.blocked))


def _card(e: EntryOrCard) -> CardInfo:
    return e if isinstance(e, CardInfo) else decode_card(e)


# -- kept pages ---------------------------------------------------------------------------------


def plan_pages(conn: Connection, now_ms: int) -> tuple[bool, list[dict[str, Any]]]:
    """Read only: the kept pages to make again (all, re-cut, when there are none or one grew too big; else
    those past their day or with too many changes since), made. (replace all?, page rows)"""
    version = state.current_version(conn)  # first, as for a page
    today = state.local_date(now_ms).isoformat()
    kept = conn.execute(select(_sp.c.after, _sp.c.upto, _sp.c.version, _sp.c.valid_until, _sp.c.count)
                        .order_by(_sp.c.after)).all()
    if not kept or any(k._mapping["count"] > 2 * PAGE_CARDS for k in kept):
        ids = list(conn.execute(select(s.cards.c.card_id).order_by(s.cards.c.card_id)).scalars())
        cuts = ids[PAGE_CARDS - 1:-1:PAGE_CARDS]
        ranges = list(zip(["", *cuts], [*cuts, None], strict=True))
        return True, [_make_page(conn, version, today, now_ms, a, u) for a, u in ranges]
    due = []
    for k in kept:
        changed = conn.execute(text(
            "SELECT COUNT(*) FROM cards WHERE card_id || '' > :after"  # by ix_cards_changed, as in _run
            + (" AND card_id || '' <= :upto" if k.upto is not None else "") + " AND changed_version > :version"),
            {"after": k.after, "upto": k.upto, "version": k.version}).scalar_one()
        if changed > REMAKE_PAGE_CHANGES or k.valid_until <= today:
            due.append(_make_page(conn, version, today, now_ms, k.after, k.upto))
    return False, due


def _make_page(conn: Connection, version: int, today: str, now_ms: int, after: str, upto: str | None
               ) -> dict[str, Any]:
    run = _run(conn, today, now_ms, after=after, upto=upto)
    return {"after": after, "upto": upto, "version": version, "count": len(run),
            "valid_until": min((u for _, _, u in run), default=FOREVER),
            "body": pack_entries([e for _, e, _ in run], shared_ids(conn, [c for c, _, _ in run], run_after=after))}


def keep_pages(conn: Connection, replace_all: bool, pages: list[dict[str, Any]]) -> None:
    if replace_all:
        conn.execute(delete(_sp))
    else:
        for p in pages:
            conn.execute(delete(_sp).where(_sp.c.after == p["after"]))
    if pages:
        conn.execute(_sp.insert(), pages)


def common(conn: Connection, merchant_id: str, today: str, now_ms: int, cfg: state.Settings | None = None
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """What every page carries besides cards (small, the same as the JSON snapshot's), and the terms in it
    as the rule check records them (server/rules.py). `cfg`: the settings, when the caller read them already
    (a page reads them once, for these and for the cards it makes)."""
    cfg = cfg or state.get_settings(conn)
    merchant = snapshots.merchant_config(conn, merchant_id)
    rates = rate_in_force(conn, now_ms)
    terms = rules.terms_dict(rates, cfg.limits, merchant.save_rate_bp, merchant.topup_allowed)
    return common_dict(merchant, rates, cfg.limits, snapshots.active_campaigns(conn, merchant_id, today),
                       cfg.issuer_keys, {"categories": admin_categories.all_names(conn)}), terms
