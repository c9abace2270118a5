"""CSV bodies for exports: one row per stored row, columns in the JSON model's order, values as stored."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from starlette.responses import Response

# An export is one consistent read: past this many rows the client is asked to narrow it instead.
MAX_CSV_ROWS = 100_000


def _cell(value: Any) -> Any:
    """What the JSON body says, unquoted: a decimal keeps its cents, a timestamp is ISO 8601, null is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_response(rows: Iterable[dict[str, Any]], columns: Sequence[str], filename: str) -> Response:
    """`rows` as an attachment named `filename` (text/csv, UTF-8, RFC 4180 quoting and CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_cell(row[column]) for column in columns] for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
