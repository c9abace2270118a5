"""JSON bodies for the hot read routes, serialised without a second pass through the response model.

FastAPI validates a returned dict against the route's `response_model` and then serialises it: for a page
of 50 products that costs more CPU than the query behind it. The rows of these routes come from SQL whose
columns are exactly the model's fields (`tests: server/test_products.py` validates every body against its
model), so they go out through pydantic-core's serializer directly, in the same format (money as a decimal
string, timestamps in ISO 8601). The `response_model` stays on the route for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from starlette.responses import Response


class RowsJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)
