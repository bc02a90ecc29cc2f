"""One listing query for every table the API pages through: predicates, one sort key,
offset paging and the total count, all in SQL so a page of 10,000 rows costs one page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import InstrumentedAttribute

from flowyard.store.store import Store

OPERATIONS = ("EQUALS", "NOT_EQUALS", "GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN",
              "LESS_THAN_EQUALS", "IN", "IS_SUBSTRING")


@dataclass(frozen=True)
class Predicate:
    key: str
    op: str
    value: Any


@dataclass
class Page:
    predicates: list[Predicate] = field(default_factory=list)
    sort_key: str = "created_at"
    desc: bool = True
    offset: int = 0
    limit: int = 50
    # Keyset paging: the sort value and primary key of the previous page's last row. Pages
    # deep in a long list then cost what the first page costs (no OFFSET scan).
    after: tuple[Any, Any] | None = None


Columns = dict[str, InstrumentedAttribute[Any]]


def condition(col: InstrumentedAttribute[Any], op: str, value: Any) -> ColumnElement[bool]:
    if op == "EQUALS":
        return col == value
    if op == "NOT_EQUALS":
        return col != value
    if op == "GREATER_THAN":
        return col > value
    if op == "GREATER_THAN_EQUALS":
        return col >= value
    if op == "LESS_THAN":
        return col < value
    if op == "LESS_THAN_EQUALS":
        return col <= value
    if op == "IN":
        return col.in_(list(value))
    if op == "IS_SUBSTRING":
        # contains() escapes % and _, so a user's text is matched literally.
        return col.contains(str(value), autoescape=True)
    raise ValueError(f"unknown operation {op}")


def list_page(store: Store, model: type[Any], columns: Columns, page: Page,
              where: Sequence[ColumnElement[bool]] = (), load: Sequence[Any] = ()) -> tuple[
                  list[Any], int]:
    """Rows of `model` matching `where` and the page's predicates, and how many match in all.
    `load` narrows the selected columns (deferred ones are not read)."""
    conds = list(where)
    for p in page.predicates:
        col = columns[p.key]
        cond = condition(col, p.op, p.value)
        # SQL's NOT_EQUALS leaves out NULLs; a user asking "not X" means rows without X too.
        if p.op == "NOT_EQUALS":
            cond = cond | col.is_(None)
        conds.append(cond)
    clause = and_(*conds) if conds else true()
    sort_col = columns[page.sort_key]
    order = [sort_col.desc() if page.desc else sort_col.asc()]
    pk = model.__mapper__.primary_key[0]
    order.append(pk.desc() if page.desc else pk.asc())
    q = select(model).where(clause).order_by(*order).limit(page.limit)
    if page.after is not None:
        value, last = page.after
        # "at or past the value" first, so both databases seek the sort column's index to
        # the previous page's end instead of scanning from the top.
        if page.desc:
            q = q.where(sort_col <= value, (sort_col < value) | (pk < last))
        else:
            q = q.where(sort_col >= value, (sort_col > value) | (pk > last))
    else:
        q = q.offset(page.offset)
    if load:
        from sqlalchemy.orm import load_only

        q = q.options(load_only(*load))
    with store.session() as s:
        rows = list(s.scalars(q))
        total = s.scalar(select(func.count()).select_from(model).where(clause)) or 0
    return rows, total
