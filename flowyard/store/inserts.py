"""Get-or-create without a race: the row is inserted unless one with the same key exists,
in one statement both databases make atomic (INSERT ... ON CONFLICT DO NOTHING). Reading
first and inserting when nothing was found lets two writers both insert, and the second
then fails on the unique key."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def insert_if_absent(s: Session, model: type[Any], **values: Any) -> bool:
    """Insert a `model` row with `values` unless a row with the same unique key exists
    (a concurrent insert included: PostgreSQL waits for it to commit). True if inserted.
    Column defaults apply as for an ORM insert."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # RETURNING says whether a row went in; rowcount does not (psycopg reports -1 here).
    keys = list(model.__table__.primary_key.columns)
    stmt = insert(model).values(**values).on_conflict_do_nothing().returning(*keys)
    return s.execute(stmt).first() is not None
