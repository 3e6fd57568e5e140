"""Result tables as aligned text, Markdown, JSON or CSV.

A table is a list of column names and rows of plain values (str, int, float, None). Floats that are rates are
shown as percentages in text and Markdown; JSON and CSV keep the raw numbers (None becomes null / an empty field).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("text", "markdown", "json", "csv")


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    title: str = ""
    # Columns shown as percentages in text (values are fractions).
    percent: set[str] = field(default_factory=set)
    digits: int = 1

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"row has {len(values)} values, table has {len(self.columns)} columns")
        self.rows.append(list(values))

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _cell(value: Any, as_percent: bool, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{100 * value:.{digits}f}" if as_percent else f"{value:.{max(digits, 3)}g}"
    return str(value)


def _numeric_columns(table: Table) -> list[bool]:
    """Columns holding only numbers (or None): these are right-aligned."""
    return [
        bool(table.rows) and all(isinstance(r[i], int | float) or r[i] is None for r in table.rows)
        for i in range(len(table.columns))
    ]


def render_text(table: Table) -> str:
    """Columns aligned: text left, numbers right; a `%` after the name of percentage columns."""
    names = [f"{c} %" if c in table.percent else c for c in table.columns]
    cells = [[_cell(v, c in table.percent, table.digits) for v, c in zip(row, table.columns, strict=True)]
             for row in table.rows]  # fmt: skip
    numeric = _numeric_columns(table)
    widths = [max([len(names[i])] + [len(r[i]) for r in cells]) for i in range(len(names))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [table.title] if table.title else []
    out += [line(names), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def render_markdown(table: Table) -> str:
    """A Markdown (GitHub) table, numbers right-aligned, with the title as a bold line above it."""
    names = [f"{c} %" if c in table.percent else c for c in table.columns]
    numeric = _numeric_columns(table)
    out = [f"**{table.title}**", ""] if table.title else []
    out.append("| " + " | ".join(names) + " |")
    out.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    for row in table.rows:
        cells = [
            _cell(v, c in table.percent, table.digits).replace("|", "\\|")
            for v, c in zip(row, table.columns, strict=True)
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def render_json(tables: Sequence[Table], meta: dict[str, Any] | None = None) -> str:
    """{"meta": ..., "tables": {title: [records]}}; non-finite floats become null (valid JSON)."""

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    body = {t.title or f"table{i}": [{k: clean(v) for k, v in r.items()} for r in t.records()]
            for i, t in enumerate(tables)}  # fmt: skip
    return json.dumps({"meta": meta or {}, "tables": body}, ensure_ascii=False, indent=1)


def render_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    return buf.getvalue()


def render(tables: Sequence[Table], fmt: str = "text", meta: dict[str, Any] | None = None) -> str:
    """All tables in one format; CSV puts a `# title` line before each table and a blank line between them."""
    if fmt == "text":
        return "\n\n".join(render_text(t) for t in tables)
    if fmt == "markdown":
        return "\n\n".join(render_markdown(t) for t in tables)
    if fmt == "json":
        return render_json(tables, meta)
    if fmt == "csv":
        return "\n".join((f"# {t.title}\n" if t.title else "") + render_csv(t) for t in tables)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


__all__ = ["FORMATS", "Table", "render", "render_csv", "render_json", "render_markdown", "render_text"]
