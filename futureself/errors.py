"""Errors the API and the UI report with a stable code."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses: ``status`` and ``code`` become the API error."""

    status = 400
    code = "bad_request"
    retryable = False

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class InvalidInput(ServiceError):
    status = 422
    code = "invalid_input"


class SafetyFlagged(ServiceError):
    """The crisis check fired on free text a person gave (a dilemma, a correction): nothing was
    sent to a provider. ``safety`` is the ``SafetyOut`` to show, the API adds it to the error body."""

    status = 422
    code = "safety_flagged"

    def __init__(self, safety) -> None:
        super().__init__(safety.message or "")
        self.safety = safety
