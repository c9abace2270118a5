"""The record of two warehouses compared without ids and wall-clock times, for `soak_bench.py`.

Every timestamp (columns, and ISO strings inside JSON values) is replaced by the replica day whose wall-time
window on that side contains it, so a faulted side that took longer, retried or was killed compares equal to
a clean one when it recorded the same thing. Columns are read generically (every column but the surrogate
keys), so a column added by a migration is compared too.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, text

from ornament_pipeline.db.engine import sqlalchemy_url

Key = tuple[str, str]  # (vendor, vendor_id)
# Surrogate keys and the transaction id: numbers the database hands out, never part of the record.
SKIPPED_COLUMNS = {"id", "product_id", "history_id", "txid"}
TABLES = ("products", "price_history", "change_events")
# Rows of one listing in record order; ties on the time broken by id (insertion order).
QUERIES = {
    "products": "SELECT p.vendor AS _vendor, p.vendor_id AS _vendor_id, p.* FROM products p"
                " ORDER BY p.vendor, p.vendor_id",
    "price_history": "SELECT p.vendor AS _vendor, p.vendor_id AS _vendor_id, h.* FROM price_history h"
                     " JOIN products p ON p.id = h.product_id ORDER BY p.vendor, p.vendor_id, h.valid_from, h.id",
    "change_events": "SELECT p.vendor AS _vendor, p.vendor_id AS _vendor_id, e.* FROM change_events e"
                     " JOIN products p ON p.id = e.product_id ORDER BY p.vendor, p.vendor_id, e.occurred_at, e.id",
}


@dataclass
class DayWindows:
    """Wall-time windows of the replica days on one side: [(day, start, end)], in order."""

    windows: list[tuple[int, datetime, datetime]] = field(default_factory=list)

    def add(self, day: int, start: datetime, end: datetime) -> None:
        self.windows.append((day, start, end))

    def day_of(self, moment: datetime) -> str:
        for day, start, end in self.windows:
            if start <= moment <= end:
                return f"day {day}"
        return f"outside every day window ({moment.isoformat()})"


class JsonObject(tuple):
    """A JSON object as sorted (key, value) pairs: hashable, and printed by the keys that differ."""


def _normalise(value: Any, windows: DayWindows) -> Any:
    if isinstance(value, datetime):
        return windows.day_of(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return JsonObject(sorted((k, _normalise(v, windows)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_normalise(v, windows) for v in value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:  # a timestamp inside a JSON value (new_values, old_values)
            return windows.day_of(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, float):
        return str(Decimal(str(value)))  # JSON numbers: 12.5 and 12.50 are one price
    return value


Row = tuple[tuple[str, Any], ...]


def load_record(url: str, windows: DayWindows,
                ignored: frozenset[str] = frozenset()) -> dict[str, dict[Key, list[Row]]]:
    """Each table's rows per listing, normalised, in record order; `ignored` holds `table.column` names."""
    engine = create_engine(sqlalchemy_url(url))
    record: dict[str, dict[Key, list[Row]]] = {}
    try:
        with engine.connect() as conn:
            for table in TABLES:
                rows: dict[Key, list[Row]] = {}
                for row in conn.execute(text(QUERIES[table])).mappings():
                    key = (row["_vendor"], row["_vendor_id"])
                    rows.setdefault(key, []).append(tuple(
                        (column, _normalise(value, windows)) for column, value in row.items()
                        if not column.startswith("_") and column not in SKIPPED_COLUMNS
                        and f"{table}.{column}" not in ignored))
                record[table] = rows
    finally:
        engine.dispose()
    return record


@dataclass
class TableDiff:
    table: str
    rows: dict[str, int]  # per side
    listings_differing: int = 0
    row_differences: int = 0  # rows on one side without an equal row at the same place on the other
    columns: Counter[str] = field(default_factory=Counter)  # which columns differ, over aligned row pairs
    examples: list[str] = field(default_factory=list)


def _varying(rows: list[Row]) -> dict[str, set[str] | None]:
    """The columns whose value is not the same in every row (for JSON objects: the keys that vary)."""
    shown: dict[str, set[str] | None] = {}
    for column in dict.fromkeys(c for row in rows for c, _ in row):
        values = [dict(row).get(column) for row in rows]
        if len(set(values)) == 1:
            continue
        if all(isinstance(v, JsonObject) for v in values if v is not None):
            keys = {k for v in values if v is not None for k, _ in v}
            shown[column] = {k for k in keys if len({dict(v or ()).get(k) for v in values}) > 1}
        else:
            shown[column] = None
    return shown


def _format_value(value: Any, keys: set[str] | None) -> str:
    if isinstance(value, JsonObject) and keys is not None:
        return "{" + ", ".join(f"{k}: {v!r}" for k, v in value if k in keys) + "}"
    return repr(value)


def _format_rows(label: str, rows: list[Row], shown: dict[str, set[str] | None]) -> list[str]:
    return [f"      {label} " + (", ".join(f"{c}={_format_value(v, shown[c])}" for c, v in row if c in shown)
                                 or "(an equal row)") for row in rows]


def compare_table(table: str, reference: dict[Key, list[Row]], subject: dict[Key, list[Row]],
                  labels: tuple[str, str], notes: dict[Key, str], max_examples: int) -> TableDiff:
    """Per listing, align the two row sequences and count the rows that differ."""
    diff = TableDiff(table, {labels[0]: sum(map(len, reference.values())),
                             labels[1]: sum(map(len, subject.values()))})
    for key in sorted(reference.keys() | subject.keys()):
        a, b = reference.get(key, []), subject.get(key, [])
        if a == b:
            continue
        diff.listings_differing += 1
        matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        opcodes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
        diff.row_differences += sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in opcodes)
        for _, i1, i2, j1, j2 in opcodes:
            for row_a, row_b in zip(a[i1:i2], b[j1:j2], strict=False):
                diff.columns.update(c for (c, va), (_, vb) in zip(row_a, row_b, strict=True) if va != vb)
            surplus = (i2 - i1) - (j2 - j1)
            if surplus:
                diff.columns[f"(rows only in {labels[0] if surplus > 0 else labels[1]})"] += abs(surplus)
        if len(diff.examples) >= max_examples:
            continue
        # Show the columns that vary within this listing (name, link etc. are noise when equal everywhere).
        shown = _varying(a + b)
        for column in ("valid_from", "occurred_at", "kind"):
            if any(c == column for c, _ in (a or b)[0]):
                shown.setdefault(column, None)
        lines = [f"  {table} {key[0]}/{key[1]}" + (f"  [{notes[key]}]" if key in notes else "")]
        for tag, i1, i2, j1, j2 in opcodes[:3]:
            lines.append(f"    {tag} at {labels[0]}[{i1}:{i2}] / {labels[1]}[{j1}:{j2}]:")
            lines += _format_rows(f"{labels[0]:>8}:", a[i1:i2], shown) or [f"      {labels[0]:>8}: (none)"]
            lines += _format_rows(f"{labels[1]:>8}:", b[j1:j2], shown) or [f"      {labels[1]:>8}: (none)"]
        diff.examples.append("\n".join(lines))
    return diff


def compare(reference_url: str, reference_days: DayWindows, subject_url: str, subject_days: DayWindows,
            labels: tuple[str, str] = ("clean", "faulted"), notes: dict[Key, str] | None = None,
            max_examples: int = 5, ignored: frozenset[str] = frozenset()) -> list[TableDiff]:
    """products, price_history and change_events of the two warehouses, listing by listing."""
    a, b = load_record(reference_url, reference_days, ignored), load_record(subject_url, subject_days, ignored)
    return [compare_table(t, a[t], b[t], labels, notes or {}, max_examples) for t in TABLES]


def partitions_of(url: str) -> dict[Key, tuple[str, int | None]]:
    """Which vendor-year partition owns each listing (for notes on partitions a side never completed)."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM products")).mappings().all()
    finally:
        engine.dispose()
    return {(r["vendor"], r["vendor_id"]): (r["vendor"], r.get("partition_year", r.get("release_year")))
            for r in rows}
