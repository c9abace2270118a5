"""Opaque keyset cursors: base64url JSON of the sort, the order and the last row's sort key."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ornament_pipeline.server.errors import ApiError, FieldError


def encode_cursor(sort: str, order: str, key: list[Any]) -> str:
    raw = json.dumps({"s": sort, "o": order, "k": key}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def bad_cursor(message: str) -> ApiError:
    return ApiError(422, "invalid_parameter", "invalid parameter(s): cursor",
                    [FieldError(field="cursor", location="query", message=message)])


def decode_cursor(cursor: str, sort: str, order: str) -> list[Any]:
    """The key stored in `cursor`; 422 naming `cursor` when it is malformed or from another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_cursor("not a cursor returned by this API") from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise bad_cursor("not a cursor returned by this API")
    if data.get("s") != sort or data.get("o") != order:
        raise bad_cursor("this cursor belongs to another sort or order; start again without it")
    return data["k"]
