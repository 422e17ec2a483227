"""The type of a database row as the server's code reads it."""

from __future__ import annotations

from typing import TypeAlias

from sqlalchemy import Row

# A row of one of schema.py's tables, read by column name (`row.member_id`): SQLAlchemy types a row's
# values only for a select() of typed columns; a whole-table select() gives this.
TableRow: TypeAlias = Row[tuple[object, ...]]
