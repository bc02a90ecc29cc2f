"""A small layered layout for nested DAGs: inside each group, a task sits one layer below
its deepest dependency, layers are ordered by the mean position of their dependencies (one
barycentre pass, which removes most crossings in pipeline shapes), long layers wrap, and a
group is as large as its laid-out contents. Coordinates are absolute after `layout`."""

from __future__ import annotations

from dataclasses import dataclass, field

NODE_W, NODE_H = 150.0, 42.0
GAP_X, GAP_Y = 20.0, 34.0
PAD, TITLE = 10.0, 24.0
MAX_ROW = 8
CHAR_W = 6.4  # mean glyph width of 12px sans-serif: enough to size boxes without a browser
MAX_CHARS = 36


def clip(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Box:
    id: str
    key: str  # the name dependencies refer to, within the enclosing group
    deps: list[str]
    title: str
    sub: str
    state: str
    task_id: str | None = None
    importer: bool = False
    children: list[Box] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    w: float = NODE_W
    h: float = NODE_H
    inner_w: float = 0.0

    def __post_init__(self) -> None:
        self.title, self.sub = clip(self.title), clip(self.sub)


def _layers(items: list[Box]) -> list[list[Box]]:
    by_key = {b.key: b for b in items}
    depth: dict[str, int] = {}

    def d(b: Box, seen: frozenset[str] = frozenset()) -> int:
        if b.key in depth:
            return depth[b.key]
        ups = [by_key[k] for k in b.deps if k in by_key and k not in seen]
        depth[b.key] = 1 + max((d(u, seen | {b.key}) for u in ups), default=-1)
        return depth[b.key]

    out: list[list[Box]] = []
    for b in items:
        level = d(b)
        while len(out) <= level:
            out.append([])
        out[level].append(b)
    pos: dict[str, float] = {}
    for level, row in enumerate(out):
        if level:
            def bary(b: Box, row: list[Box] = row) -> float:
                ps = [pos[k] for k in b.deps if k in pos]
                return sum(ps) / len(ps) if ps else row.index(b) / max(len(row), 1)
            row.sort(key=bary)
        for i, b in enumerate(row):
            pos[b.key] = i / max(len(row) - 1, 1)
    return out


def _measure(items: list[Box]) -> tuple[float, float]:
    """Sizes every box and places the items relative to their scope; the scope's size."""
    for b in items:
        if b.children:
            cw, ch = _measure(b.children)
            b.inner_w = cw
            b.w = max(cw + 2 * PAD, len(b.title + b.sub) * CHAR_W * 0.95 + 30)
            b.h = ch + TITLE + PAD
        else:
            b.w = max(NODE_W, max(len(b.title), len(b.sub) * 0.85) * CHAR_W + 24)
            b.h = NODE_H
    rows: list[list[Box]] = []
    for layer in _layers(items):
        rows += [layer[i:i + MAX_ROW] for i in range(0, len(layer), MAX_ROW)]
    widths = [sum(b.w for b in row) + GAP_X * (len(row) - 1) for row in rows]
    width = max(widths, default=0.0)
    y = 0.0
    for row, row_w in zip(rows, widths, strict=True):
        x = (width - row_w) / 2
        height = max(b.h for b in row)
        for b in row:
            b.x, b.y = x, y
            x += b.w + GAP_X
        y += height + GAP_Y
    return width, max(y - GAP_Y, 0.0)


def _place(items: list[Box], ox: float, oy: float) -> None:
    for b in items:
        b.x += ox
        b.y += oy
        if b.children:
            _place(b.children, b.x + (b.w - b.inner_w) / 2, b.y + TITLE)


def layout(items: list[Box], margin: float = 8.0) -> tuple[float, float]:
    """Lay out `items` (and everything inside them); returns the drawing's size."""
    width, height = _measure(items)
    _place(items, margin, margin)
    return width + 2 * margin, height + 2 * margin
