"""The person's own data: export it, delete it."""

from __future__ import annotations

from typing import Literal

from django.http import HttpResponse
from ninja import Router, Status

from futureself.api_errors import errors
from futureself.limits import rate_limit_request
from futureself.privacy import PersonExport, person_delete, person_export, person_export_markdown

router = Router(tags=["me"])


@router.get(
    "/me/export",
    response={200: PersonExport, **errors(422, 429)},
    summary="Everything the app holds about you, as JSON or readable Markdown",
    openapi_extra={"responses": {200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}}},
)
def export_me(request, format: Literal["json", "markdown"] = "json"):
    rate_limit_request(request, "export")
    document = person_export(owner=request.auth)
    if format == "markdown":
        response = HttpResponse(person_export_markdown(document), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="futureself-export.md"'
        return response
    return document


@router.delete("/me", response={204: None, **errors(403)}, summary="Delete you and everything you made, for good")
def delete_me(request):
    person_delete(owner=request.auth)
    session = getattr(request, "session", None)
    if session is not None:
        session.flush()
    return Status(204, None)
