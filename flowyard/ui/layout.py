"""The frame every page shares: header, the left navigation drawer (with the places later
issues fill: tuning, training, serving, notebooks, profiles), and small display helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from flowyard.services.graph_view import fmt_duration

# (label, icon, path); a None path is a page a later issue adds, shown greyed out.
NAV: list[tuple[str, str, str | None]] = [
    ("Home", "home", "/"),
    ("Pipelines", "account_tree", "/pipelines"),
    ("Runs", "directions_run", "/runs"),
    ("Experiments", "science", "/experiments"),
    ("Artifacts", "inventory_2", "/artifacts"),
    ("Recurring runs", "schedule", "/recurring"),
    ("Tuning", "tune", None),
    ("Training", "model_training", None),
    ("Serving", "dns", None),
    ("Notebooks", "book", None),
    ("Profiles", "people", None),
]
STATE_COLOR = {"SUCCEEDED": "positive", "RUNNING": "primary", "PENDING": "grey-6",
               "FAILED": "negative", "CANCELED": "orange-8", "CANCELING": "orange-6",
               "SKIPPED": "grey-5", "CACHED": "teal"}


def register_nav(label: str, icon: str, path: str, after: str | None = None) -> None:
    """How a later page joins the drawer (replacing its greyed placeholder, or right after
    the entry named `after`, else at the end)."""
    for i, (name, _, _) in enumerate(NAV):
        if name == label:
            NAV[i] = (label, icon, path)
            return
    names = [name for name, _, _ in NAV]
    NAV.insert(names.index(after) + 1 if after in names else len(NAV), (label, icon, path))


@contextmanager
def frame(title: str, active: str) -> Iterator[None]:
    ui.page_title(f"{title} · Flowyard")
    ui.colors(primary="#1565c0")
    # Markdown a component wrote sits inside a card: headings at card scale, not page scale.
    ui.add_css(".fy-md h1{font-size:1.5rem;line-height:2rem;margin:.3em 0}"
               ".fy-md h2{font-size:1.25rem;line-height:1.75rem;margin:.3em 0}"
               ".fy-md h3{font-size:1.1rem;margin:.3em 0}")
    with ui.header(elevated=True).classes("items-center bg-primary q-py-xs"):
        ui.button(icon="menu", on_click=lambda: drawer.toggle()).props("flat round dense color=white")
        ui.link("Flowyard", "/").classes("text-white text-h6 no-underline")
        ui.label(title).classes("text-white text-subtitle1 q-ml-md opacity-80")
    drawer = ui.left_drawer(value=True, bordered=True).props("width=210")
    with drawer, ui.list().props("dense").classes("w-full"):
        for label, icon, path in NAV:
            with ui.item(on_click=(lambda p=path: ui.navigate.to(p)) if path else None
                         ).props("clickable" if path else "disable") as item:
                if label == active:
                    item.classes("bg-blue-1 text-primary")
                with ui.item_section().props("avatar"):
                    ui.icon(icon)
                with ui.item_section():
                    ui.item_label(label)
                    if path is None:
                        ui.item_label("coming").props("caption")
    with ui.column().classes("w-full q-pa-md gap-3"):
        yield


def state_badge(state: str) -> ui.badge:
    return ui.badge(state.lower(), color=STATE_COLOR.get(state, "grey")).classes("text-caption")


def when(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone() if value.tzinfo else value.replace(tzinfo=UTC).astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S")


def ago(value: datetime | None) -> str:
    if value is None:
        return ""
    secs = (datetime.now(UTC) - value).total_seconds()
    if secs < 60:
        return f"{int(secs)}s ago"
    if secs < 3600:
        return f"{int(secs // 60)}m ago"
    if secs < 86400:
        return f"{int(secs // 3600)}h ago"
    return f"{int(secs // 86400)}d ago"


def dur(seconds: float | None) -> str:
    return fmt_duration(seconds)


def short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A state cell for ui.table: a coloured badge rendered by Quasar from the row's value.
STATE_SLOT = r'''
<q-td :props="props">
  <q-badge :color="{SUCCEEDED:'positive',RUNNING:'primary',FAILED:'negative',CANCELED:'orange-8',
    CANCELING:'orange-6',SKIPPED:'grey-5',CACHED:'teal'}[props.value] || 'grey-6'"
    :label="props.value.toLowerCase()" />
</q-td>
'''
LINK_SLOT = r'''
<q-td :props="props"><a :href="props.row.href" class="text-primary">{{ props.value }}</a></q-td>
'''


def tid(name: str) -> str:
    """Props naming an element for the browser tests (NiceGUI's markers stay server-side)."""
    return f'data-testid="{name}"'


def show_page(table: Any, rows: list[dict[str, Any]], total: int, page: dict[str, int],
              info: Any, prev_btn: Any, next_btn: Any) -> None:
    """Put one page of rows in `table` (only if they changed, so polling doesn't flicker) and
    update the pager around it."""
    if rows != table.rows:
        table.rows = rows
        table.update()
    first = page["n"] * page["size"]
    info.set_text(f"{first + 1 if rows else 0}-{first + len(rows)} of {total}")
    prev_btn.set_enabled(page["n"] > 0)
    next_btn.set_enabled(first + len(rows) < total)
