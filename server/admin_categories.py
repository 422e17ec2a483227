"""Categories as data: the cooperative's list, the categories of each merchant, the check of a budget's.

The matching rule is one function for the server and the till: floreyn.categories.covers.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, delete, select

from floreyn import categories as cat
from floreyn.server import bulk, state
from floreyn.server import schema as s
from floreyn.server.errors import ExistsWithDifferentParams, NotFound, RequestInvalid


def create(conn: Connection, category: str, name: str, now: int) -> dict[str, object]:
    if not cat.valid_category(category):
        raise RequestInvalid(detail=f"{category!r} is not a category name (like duurzaam or klussen/vakman)")
    up = cat.parent(category)
    if up is not None and not _exists(conn, up):
        raise NotFound(what="category", id=up)
    prior = conn.execute(select(s.categories).where(s.categories.c.category == category)).first()
    if prior is not None:
        if prior.name != name:
            raise ExistsWithDifferentParams(what="category", id=category)
        return {"category": category, "name": name, "parent": up, "result": "exists"}
    conn.execute(s.categories.insert().values(category=category, name=name, created_ms=now))
    state.bump_version(conn)  # tills get the list in the snapshot
    return {"category": category, "name": name, "parent": up, "result": "created"}


def _exists(conn: Connection, category: str) -> bool:
    return conn.execute(select(s.categories.c.category).where(s.categories.c.category == category)).first() is not None


def all_names(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(select(s.categories.c.category, s.categories.c.name)
                             .order_by(s.categories.c.category)).tuples().all())


def listing(conn: Connection) -> list[dict[str, object]]:
    return [{"category": c, "name": n, "parent": cat.parent(c)} for c, n in all_names(conn).items()]


def require_known(conn: Connection, categories: Iterable[str]) -> None:
    known = all_names(conn)
    for c in categories:
        if c not in known:
            raise NotFound(what="category", id=c)


_OF_MERCHANT = f"SELECT category FROM {s.merchant_categories.name} WHERE merchant_id = {{mark}}"


def of_merchant(conn: Connection, merchant_id: str, main: str) -> tuple[str, ...]:
    """All of a merchant's categories, its main one first."""
    rows = bulk.run(conn, _OF_MERCHANT, (merchant_id,)).scalars().all()  # every upload asks: straight to the driver
    return (main, *sorted(set(rows) - {main}))


def set_merchant(conn: Connection, merchant_id: str, main: str, others: Iterable[str]) -> None:
    """The merchant's categories become `main` plus `others` (each must be defined)."""
    wanted = {main, *others}
    require_known(conn, wanted)
    conn.execute(delete(s.merchant_categories).where(s.merchant_categories.c.merchant_id == merchant_id))
    conn.execute(s.merchant_categories.insert(), [{"merchant_id": merchant_id, "category": c} for c in sorted(wanted)])
