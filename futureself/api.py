"""The JSON API root: ``/api/``, with OpenAPI at ``/api/openapi.json`` and docs at ``/api/docs``.

Every error has the shape ``{"detail", "code", "retryable"}``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from futureself.auth import api_auth
from futureself.errors import SafetyFlagged, ServiceError
from futureself.limits import BudgetExceeded, RateLimited
from futureself.providers.base import ProviderError

api = NinjaAPI(
    title="futureself API",
    version="1",
    description=(
        "Interview, profile, future selves, conversations and debriefs. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `manage.py create_api_token`)."
    ),
    auth=api_auth,
    urls_namespace="api",
)


def error_response(request: HttpRequest, status: int, detail, code: str, retryable: bool = False):
    return api.create_response(request, {"detail": detail, "code": code, "retryable": retryable}, status=status)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    return error_response(request, 422, exc.errors, "validation_error")


@api.exception_handler(AuthenticationError)
def on_authentication_error(request, exc):
    return error_response(request, 401, "Authentication required: send a valid API token.", "unauthorized")


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error_response(request, 404, "Not found.", "not_found")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return error_response(request, exc.status_code, str(exc), f"http_{exc.status_code}")


@api.exception_handler(RequestDataTooBig)
def on_request_too_large(request, exc: RequestDataTooBig):
    # Raised while ninja reads the body, before the operation runs: nothing was counted, stored or sent to a
    # provider. Without this handler Django answers its HTML "Bad Request (400)" page.
    detail = f"The request body is too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
    return error_response(request, 413, detail, "request_too_large")


@api.exception_handler(RateLimited)
@api.exception_handler(BudgetExceeded)
def on_limit(request, exc: RateLimited | BudgetExceeded):
    response = error_response(request, 429, exc.detail, exc.code, exc.retryable)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ServiceError)
def on_service_error(request, exc: ServiceError):
    body = {"detail": exc.detail, "code": exc.code, "retryable": exc.retryable}
    if isinstance(exc, SafetyFlagged):
        body["safety"] = exc.safety.model_dump()
    return api.create_response(request, body, status=exc.status)


@api.exception_handler(ProviderError)
def on_provider_error(request, exc: ProviderError):
    status = 503 if exc.retryable else 502
    return error_response(request, status, exc.message, exc.code, exc.retryable)


def _register_routers() -> None:
    from conversations.api import router as conversations_router
    from futureself.api_me import router as me_router
    from futureself.api_meta import router as meta_router
    from interviews.api import router as interviews_router
    from personas.api import router as personas_router

    api.add_router("/", meta_router)
    api.add_router("/", me_router)
    api.add_router("/", interviews_router)
    api.add_router("/", personas_router)
    api.add_router("/", conversations_router)


_register_routers()
