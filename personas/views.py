"""HTMX pages of the personas app: generate future selves, meet them, correct
one, draw their avatars and pick one to talk to."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from futureself.auth import user_for_token
from futureself.errors import InvalidInput, ServiceError
from futureself.limits import (
    RateLimited,
    limit_response,
    posted,
    provider_backed_view,
    rate_limit_request,
    rate_limited_view,
)
from futureself.ownership import Owner, owner_from_request, owner_from_user
from futureself.providers.base import ProviderError
from interviews.selectors import profile_get_for_owner
from personas import services
from personas.models import FutureSelf
from personas.selectors import future_self_get_for_owner, generation_get_for_owner

PANEL = "personas/_generate_panel.html"
FUTURES = "personas/futures.html"


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _years(raw: str | None) -> int | None:
    try:
        return int(raw or services.YEARS_AHEAD_DEFAULT)
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
@provider_backed_view("generation", methods=("POST",), crisis_text=posted("dilemma", "options"))
def generate(request: HttpRequest, profile_id) -> HttpResponse:
    profile = profile_get_for_owner(owner=owner_from_request(request), pk=profile_id)
    context: dict = {"profile": profile}
    if request.method == "POST":
        dilemma = request.POST.get("dilemma", "")
        options = request.POST.getlist("options")
        years = _years(request.POST.get("years_ahead"))
        unexpected = request.POST.get("include_unexpected") == "on"
        context.update(
            generate_dilemma=dilemma,
            generate_options=[o for o in options if o.strip()],
            generate_years=request.POST.get("years_ahead"),
            generate_unexpected=unexpected,
        )
        try:
            if years is None:
                raise InvalidInput("Years ahead must be a whole number.")
            selves = services.future_selves_generate(
                profile=profile, dilemma=dilemma, options=options, years_ahead=years, include_unexpected=unexpected
            )
        except ServiceError as exc:
            context["generate_error"] = exc.detail
            context["generate_safety"] = getattr(exc, "safety", None)
        except ProviderError as exc:
            context.update(generate_error=_provider_message(exc), generate_retryable=exc.retryable)
        else:
            return _redirect(request, reverse("personas:futures", kwargs={"generation_id": selves[0].generation_id}))
        if request.htmx:
            # htmx swaps 2xx answers only: the inline error travels with a 200.
            return render(request, PANEL, context)
        status = 503 if "generate_retryable" in context else 422
        return render(request, "personas/generate.html", context, status=status)
    return render(request, "personas/generate.html", context)


def _provider_message(exc: ProviderError) -> str:
    if exc.retryable:
        return "We couldn't reach the AI just now, so nothing was saved. Please try again in a moment."
    return "The AI service is not available right now (it is not configured). Nothing was saved."


@require_GET
def futures(request: HttpRequest, generation_id) -> HttpResponse:
    selves = generation_get_for_owner(owner=owner_from_request(request), generation_id=generation_id)
    first = selves[0]
    return render(
        request,
        FUTURES,
        {
            "selves": selves,
            "profile": first.profile,
            "dilemma": first.dilemma,
            "years_ahead": first.years_ahead,
            "generation_id": generation_id,
            "batched": True,
            "missing_avatars": any(not s.avatar for s in selves),
        },
    )


def _avatars_refused(request: HttpRequest, exc: ServiceError, generation_id) -> HttpResponse:
    # Portraits load on their own: say why in place of each spinner, with a retry.
    selves = generation_get_for_owner(owner=owner_from_request(request), generation_id=generation_id)
    errors = {s.pk: exc.detail for s in selves if not s.avatar}
    return render(request, f"{FUTURES}#avatar_figures", {"selves": selves, "errors": errors, "oob": True})


def _avatar_refused(request: HttpRequest, exc: ServiceError, pk) -> HttpResponse:
    future_self = future_self_get_for_owner(owner=owner_from_request(request), pk=pk)
    return render(request, f"{FUTURES}#avatar", {"future_self": future_self, "avatar_error": exc.detail})


@require_GET
@provider_backed_view("generation", on_limit=_avatars_refused)
def avatars(request: HttpRequest, generation_id) -> HttpResponse:
    """Every missing avatar of a generation, drawn at once; answers with out-of-band figures."""
    selves = generation_get_for_owner(owner=owner_from_request(request), generation_id=generation_id)
    errors = services.avatars_ensure(selves=selves)
    return render(
        request,
        f"{FUTURES}#avatar_figures",
        {"selves": selves, "errors": {pk: _provider_message(exc) for pk, exc in errors.items()}, "oob": True},
    )


@require_http_methods(["GET", "POST"])
@provider_backed_view("generation", on_limit=_avatar_refused)
def avatar_figure(request: HttpRequest, pk) -> HttpResponse:
    """One card's avatar figure: drawn if missing (GET) or drawn again (POST)."""
    future_self = future_self_get_for_owner(owner=owner_from_request(request), pk=pk)
    error = None
    try:
        future_self = services.avatar_ensure(future_self=future_self, regenerate=request.method == "POST")
    except ProviderError as exc:
        error = _provider_message(exc)
    return render(request, f"{FUTURES}#avatar", {"future_self": future_self, "avatar_error": error})


def _image_owner(request: HttpRequest) -> Owner:
    """The web session's owner, or the API client's when it sends its bearer token (external frontends)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        user = user_for_token(token.strip())
        return owner_from_user(user)
    return owner_from_request(request)


@require_GET
def avatar(request: HttpRequest, pk) -> HttpResponse:
    """The avatar image, to its owner only; drawn on first request if it does not exist yet."""
    future_self: FutureSelf = future_self_get_for_owner(owner=_image_owner(request), pk=pk)
    if not future_self.avatar:
        try:
            # Only a request that draws counts against the limit; a stored image is free.
            rate_limit_request(request, "generation")
        except RateLimited as exc:
            return limit_response(exc, request=request)
        try:
            future_self = services.avatar_ensure(future_self=future_self)
        except ProviderError as exc:
            response = HttpResponse(exc.message, status=503, content_type="text/plain")
            response["Retry-After"] = "5"
            return response
    response = FileResponse(future_self.avatar.open("rb"), content_type=future_self.avatar_content_type or "image/png")
    # The URL carries the file's version, so the browser may keep it; "private" keeps it out of shared caches.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@require_POST
@rate_limited_view("provider")
def talk(request: HttpRequest, pk) -> HttpResponse:
    future_self = future_self_get_for_owner(owner=owner_from_request(request), pk=pk)
    conversation = services.future_self_select(future_self=future_self)
    return _redirect(request, reverse("conversations:detail", kwargs={"pk": conversation.pk}))


@require_POST
@provider_backed_view("generation", crisis_text=posted("correction"))
def correct(request: HttpRequest, pk) -> HttpResponse:
    """ "That's not me": rewrite the card with the person's correction; answers with the card."""
    future_self = future_self_get_for_owner(owner=owner_from_request(request), pk=pk)
    correction = request.POST.get("correction", "")
    try:
        future_self = services.future_self_correct(future_self=future_self, correction=correction)
    except ServiceError as exc:
        error, status = exc.detail, exc.status
        safety = getattr(exc, "safety", None)
    except ProviderError as exc:
        error, status, safety = _provider_message(exc), 503, None
    else:
        if not request.htmx:
            return redirect("personas:futures", generation_id=future_self.generation_id)
        return render(request, f"{FUTURES}#card", {"future_self": future_self, "corrected": True})
    context = {
        "future_self": future_self,
        "correction_text": correction,
        "correction_error": error,
        "correction_safety": safety,
    }
    # htmx swaps 2xx answers only: the inline error travels with a 200.
    return render(request, f"{FUTURES}#card", context, status=200 if request.htmx else status)
