"""The error body every API error has, and the per-endpoint error statuses for OpenAPI.

The exception handlers of ``futureself/api.py`` produce these bodies; endpoints
declare the statuses they can answer with ``response={200: Out, **errors(404, 503)}``
so the published schema is truthful (401 is added to every authenticated endpoint).
"""

from __future__ import annotations

from typing import Any

from ninja import Schema

# Which statuses mean what, for endpoint authors:
# 400 unparsable JSON body; 401 no or bad credentials; 403 a session-cookie request without its CSRF token;
# 404 not found or not yours; 409 the object's state forbids it; 413 body over DATA_UPLOAD_MAX_MEMORY_SIZE;
# 422 invalid input; 429 rate limit or daily budget;
# 502 provider refused the request, or has no (valid) key: not retryable;
# 503 provider unavailable, rate limited, or answered garbage (a malformed answer may come out right
#     next time): retryable. The ProviderError handler in api.py picks one from ``retryable``.
PROVIDER = (502, 503)
WRITE = (400, 403, 413)  # every POST/PATCH with a JSON body


class ErrorOut(Schema):
    detail: str | list[dict[str, Any]]
    code: str
    retryable: bool


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys(sorted({401, *statuses}), ErrorOut)
