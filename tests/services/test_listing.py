"""KFP list parameters: filters as kfp.Client sends them, sort, paging, and clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from flowyard.services import listing, runs
from flowyard.services.errors import InvalidArgument
from flowyard.store.query import Predicate


def test_filters_as_kfp_client_writes_them() -> None:
    raw = json.dumps({"predicates": [
        {"operation": 1, "key": "display_name", "stringValue": "x"},
        {"op": "IN", "key": "state", "string_values": {"values": ["RUNNING", "PENDING"]}},
        {"operation": "GREATER_THAN", "key": "createdAt", "timestampValue":
         "2026-01-01T00:00:00Z"},
        {"operation": "EQUALS", "key": "storage_state", "stringValue": "ARCHIVED"},
        {"operation": 8, "key": "name", "string_value": "ab"},
    ]})
    preds = listing.parse_filter(raw, runs.FIELDS)
    assert preds == [
        Predicate("name", "EQUALS", "x"),
        Predicate("state", "IN", ["RUNNING", "PENDING"]),
        Predicate("created_at", "GREATER_THAN", datetime(2026, 1, 1, tzinfo=UTC)),
        Predicate("archived", "EQUALS", True),
        Predicate("name", "IS_SUBSTRING", "ab"),
    ]


@pytest.mark.parametrize(("raw", "message"), [
    ("{", "not valid JSON"),
    ('{"predicates": [{"operation": 1, "key": "colour", "stringValue": "x"}]}',
     "cannot filter on 'colour'"),
    ('{"predicates": [{"operation": 42, "key": "state", "stringValue": "x"}]}',
     "unknown operation"),
    ('{"predicates": [{"operation": 1, "key": "state"}]}', "has no value"),
    ('{"predicates": [{"operation": 1, "key": "created_at", "stringValue": "yesterday"}]}',
     "RFC 3339"),
])
def test_bad_filters_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        listing.parse_filter(raw, runs.FIELDS)


def test_sort_and_paging() -> None:
    assert listing.parse_sort("created_at desc", runs.FIELDS) == ("created_at", True)
    assert listing.parse_sort("name", runs.FIELDS) == ("name", False)
    with pytest.raises(InvalidArgument, match="sort_by"):
        listing.parse_sort("created_at sideways", runs.FIELDS)
    page = listing.page(runs.FIELDS, page_size=10)
    token = listing.next_token(page, total=25)
    second = listing.page(runs.FIELDS, page_size=10, page_token=token)
    assert second.offset == 10 and listing.next_token(second, 25)
    third = listing.page(runs.FIELDS, page_size=10, page_token=listing.next_token(second, 25))
    assert listing.next_token(third, 25) == ""
    with pytest.raises(InvalidArgument, match="page_token"):
        listing.page(runs.FIELDS, page_token="garbage!")
    assert listing.page(runs.FIELDS, page_size=10**6).limit == listing.MAX_PAGE_SIZE


def test_pages_cover_every_run_once_even_with_equal_times(store: Any) -> None:
    """Keyset tokens break ties on the id: no run is skipped or repeated between pages."""
    from sqlalchemy import insert

    from flowyard.services.context import Services
    from flowyard.services.launcher import Launcher
    from flowyard.store.schema import Run

    same = datetime(2026, 5, 1, tzinfo=UTC)
    with store.session() as s, s.begin():
        s.execute(insert(Run), [{"id": f"run-{i:02d}", "display_name": f"r{i}", "spec": {},
                                 "created_at": same if i % 2 else same.replace(day=2)}
                                for i in range(25)])
    import asyncio

    svc = Services(store, Launcher(asyncio.new_event_loop(), store))
    seen: list[str] = []
    token = None
    for _ in range(5):
        page = runs.list_(svc, page_size=10, page_token=token)
        seen += [r["run_id"] for r in page["runs"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == [f"run-{i:02d}" for i in range(25)]
    assert seen[:12] == sorted(seen[:12], reverse=True)  # newest day first, ties by id
