"""HTMX pages of the interview and the profile.

Each view parses the form, checks ownership through a selector, calls a
service and renders: the whole page, or (for htmx requests) the partial it
replaces. Provider failures and refused input are shown inline with a way to
retry; nothing the person wrote is lost.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, replace_url, retarget

from futureself.errors import ServiceError
from futureself.forms import AdultConfirmationForm, needs_adult_confirmation, record_adult_confirmation
from futureself.limits import posted, provider_backed_view
from futureself.ownership import owner_from_request
from futureself.privacy import interview_delete
from futureself.providers.base import ProviderError
from futureself.views import render_home
from interviews import services
from interviews.engines import topic_progress
from interviews.models import Interview, Profile, Turn
from interviews.schemas import PROFILE_SCALAR_FIELDS, TOPIC_PLAN
from interviews.selectors import interview_get_for_owner, profile_get_for_owner, profile_latest

FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "age": "Age",
    "pronouns": "Pronouns",
    "location": "Where you live",
    "occupation": "What you do",
    "life_situation": "Your life right now",
    "communication_style": "How you express yourself",
}
LIST_LABELS: dict[str, str] = {
    "values": "What matters to you",
    "goals": "Your goals",
    "fears": "Your fears",
    "strengths": "Your strengths",
    "challenges": "Your challenges",
    "relationships": "The people in your life",
    "turning_points": "Turning points",
    "boundaries": "What you'd rather not talk about",
}
EDITABLE_FIELDS = (*PROFILE_SCALAR_FIELDS, "dilemma")


def _provider_message(exc: ProviderError) -> str:
    if exc.code == "provider_rate_limited":
        return "The AI service is busy right now. Your words are saved: try again in a moment."
    if exc.retryable:
        return "The AI service did not answer. Your words are saved: try again."
    return "The AI service is not available. Your words are saved."


# --- the interview -----------------------------------------------------------


def _chat_context(interview: Interview, *, error: str = "", retryable: bool = False) -> dict[str, Any]:
    turns = list(interview.turns.order_by("position"))
    pending = turns[-1] if turns and turns[-1].status == Turn.Status.PENDING else None
    covered = set(interview.topics_covered)
    return {
        "interview": interview,
        "turns": turns,
        "pending": pending,
        "needs_question": services.interview_needs_question(interview=interview),
        "topics": [{"label": t.label, "covered": t.slug in covered} for t in TOPIC_PLAN],
        "covered_count": len(covered),
        "topic_count": len(TOPIC_PLAN),
        "progress_percent": round(topic_progress(interview.topics_covered) * 100),
        "can_finish": services.interview_can_finish(interview=interview),
        "error": error,
        "retryable": retryable,
        "safety": services.interview_safety_notice(interview=interview),
        "gentle_question": services.interview_gentle_question(interview=interview),
    }


def _render_chat(request: HttpRequest, interview: Interview, **kwargs: Any) -> HttpResponse:
    context = _chat_context(interview, **kwargs)
    if request.htmx:
        return render(request, "interviews/detail.html#chat", context)
    if not kwargs.get("error"):
        return redirect("interviews:detail", pk=interview.pk)
    return render(request, "interviews/detail.html", context)


@require_POST
def start(request: HttpRequest) -> HttpResponse:
    if needs_adult_confirmation(request):
        form = AdultConfirmationForm(request.POST)
        if not form.is_valid():
            return render_home(request, adult_form=form, status=400)
        record_adult_confirmation(request)
    owner = owner_from_request(request, create_guest=True)
    interview = services.interview_create(owner=owner, source=Interview.Source.WEB)
    return redirect("interviews:detail", pk=interview.pk)


@require_GET
def detail(request: HttpRequest, pk) -> HttpResponse:
    interview = interview_get_for_owner(owner=owner_from_request(request), pk=pk)
    context = _chat_context(interview)
    context["profile"] = profile_latest(interview=interview)
    return render(request, "interviews/detail.html", context)


@require_POST
@provider_backed_view("provider", crisis_text=posted("message"))
def answer(request: HttpRequest, pk) -> HttpResponse:
    interview = interview_get_for_owner(owner=owner_from_request(request), pk=pk)
    message = request.POST.get("message", "")
    try:
        services.interview_respond(interview=interview, message=message)
    except ServiceError as exc:
        context = _chat_context(interview, error=exc.detail)
        context["draft"] = message
        template = "interviews/detail.html#chat" if request.htmx else "interviews/detail.html"
        return render(request, template, context)
    except ProviderError as exc:
        return _render_chat(request, interview, error=_provider_message(exc), retryable=exc.retryable)
    return _render_chat(request, interview)


@require_POST
@provider_backed_view("provider")
def ask(request: HttpRequest, pk) -> HttpResponse:
    """The interviewer's turn for the transcript as it stands: the first question, or a retry."""
    interview = interview_get_for_owner(owner=owner_from_request(request), pk=pk)
    if interview.status == Interview.Status.IN_PROGRESS:
        try:
            services.interview_ask(interview=interview)
        except ProviderError as exc:
            return _render_chat(request, interview, error=_provider_message(exc), retryable=exc.retryable)
    return _render_chat(request, interview)


@require_POST
def finish(request: HttpRequest, pk) -> HttpResponse:
    interview = interview_get_for_owner(owner=owner_from_request(request), pk=pk)
    try:
        services.interview_mark_completed(interview=interview)
    except ServiceError as exc:
        return _render_chat(request, interview, error=exc.detail)
    url = reverse("interviews:detail", kwargs={"pk": interview.pk})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _build_failed(request: HttpRequest, interview: Interview, error: str) -> HttpResponse:
    rebuild = bool(request.POST.get("rebuild"))
    if request.htmx:
        context = {"interview": interview, "build_error": error, "rebuild": rebuild}
        return render(request, "interviews/detail.html#building", context)
    context = {**_chat_context(interview), "build_error": error, "rebuild": rebuild}
    return render(request, "interviews/detail.html", context)


def _build_refused(request: HttpRequest, exc: ServiceError, pk) -> HttpResponse:
    # The build starts on page load: show the refusal (and a retry) where the spinner was.
    interview = interview_get_for_owner(owner=owner_from_request(request), pk=pk)
    response = _build_failed(request, interview, exc.detail)
    response["Retry-After"] = str(getattr(exc, "retry_after", 1))
    return response


@require_POST
@provider_backed_view("generation", on_limit=_build_refused)
def build(request: HttpRequest, pk) -> HttpResponse:
    """Build the profile (a new version when ``rebuild`` is posted) and go to it."""
    interview = interview_get_for_owner(owner=owner_from_request(request), pk=pk)
    rebuild = bool(request.POST.get("rebuild"))
    try:
        if rebuild:
            new = services.profile_build(interview=interview)
        else:
            new = services.interview_complete(interview=interview)
    except (ServiceError, ProviderError) as exc:
        error = exc.detail if isinstance(exc, ServiceError) else _provider_message(exc)
        return _build_failed(request, interview, error)
    url = reverse("interviews:profile", kwargs={"pk": new.pk})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- the profile ---------------------------------------------------------------


def _profile_context(profile: Profile) -> dict[str, Any]:
    data = profile.data
    edited = set(profile.edited_fields)
    return {
        "profile": profile,
        "interview": profile.interview,
        "is_latest": profile_latest(interview=profile.interview).pk == profile.pk,
        "fields": [
            {"name": name, "label": label, "value": data.get(name), "edited": name in edited}
            for name, label in FIELD_LABELS.items()
        ],
        "dilemma": data.get("dilemma") or {"summary": "", "options": []},
        "dilemma_edited": "dilemma" in edited,
        "dilemma_options_text": "\n".join((data.get("dilemma") or {}).get("options") or []),
        "lists": [
            {"name": name, "label": label, "items": data.get(name) or [], "edited": name in edited}
            for name, label in LIST_LABELS.items()
        ],
        "dropped_count": len(profile.dropped_items),
    }


@require_GET
def profile(request: HttpRequest, pk) -> HttpResponse:
    found = profile_get_for_owner(owner=owner_from_request(request), pk=pk)
    return render(request, "interviews/profile.html", _profile_context(found))


def _saved(request: HttpRequest, new: Profile) -> HttpResponse:
    url = reverse("interviews:profile", kwargs={"pk": new.pk})
    if not request.htmx:
        return redirect(url)
    return replace_url(render(request, "interviews/profile.html#profile-body", _profile_context(new)), url)


def _changes_from_form(name: str, post) -> dict[str, Any]:
    if name == "dilemma":
        options = [line.strip() for line in post.get("options", "").splitlines() if line.strip()]
        return {"dilemma": {"summary": post.get("summary", "").strip(), "options": options}}
    value = post.get("value", "").strip()
    if name == "age":
        if not value:
            return {"age": None}
        if not value.isdigit():
            return {"age": value}  # refused by validation with a clear message
        return {"age": int(value)}
    return {name: value or None}


@require_http_methods(["GET", "POST"])
def profile_field(request: HttpRequest, pk, name: str) -> HttpResponse:
    """Inline editing of one field: GET the form (or the display with ``cancel``), POST the correction."""
    current = profile_get_for_owner(owner=owner_from_request(request), pk=pk)
    if name not in EDITABLE_FIELDS:
        return HttpResponse("Unknown field.", status=404)
    context = _profile_context(current)
    context["field"] = next((f for f in context["fields"] if f["name"] == name), None)
    partial = "dilemma" if name == "dilemma" else "field"
    if request.method == "GET":
        suffix = "" if request.GET.get("cancel") else "-edit"
        return render(request, f"interviews/profile.html#{partial}{suffix}", context)
    try:
        new = services.profile_update(profile=current, changes=_changes_from_form(name, request.POST))
    except ServiceError as exc:
        context["error"] = exc.detail
        context["draft"] = request.POST
        response = render(request, f"interviews/profile.html#{partial}-edit", context)
        return retarget(response, f"#field-{name}")
    return _saved(request, new)


@require_POST
def profile_remove_item(request: HttpRequest, pk, name: str, index: int) -> HttpResponse:
    current = profile_get_for_owner(owner=owner_from_request(request), pk=pk)
    if name not in LIST_LABELS:
        return HttpResponse("Unknown field.", status=404)
    items = list(current.data.get(name) or [])
    if 0 <= index < len(items):
        del items[index]
    new = services.profile_update(profile=current, changes={name: items})
    return _saved(request, new)


@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk) -> HttpResponse:
    """Ask to confirm (GET), then delete the interview with everything made from it (POST)."""
    interview = interview_get_for_owner(owner=owner_from_request(request), pk=pk)
    if request.method == "GET":
        return render(
            request,
            "confirm_delete.html",
            {
                "title": "Delete this interview?",
                "what": (
                    "This interview, its transcript, every profile version, the future selves made from it (with "
                    "their portraits), and all your conversations and debriefs with them."
                ),
                "cancel_url": reverse("interviews:detail", kwargs={"pk": interview.pk}),
            },
        )
    interview_delete(interview=interview)
    messages.success(request, "The interview and everything made from it are deleted.")
    return _after_delete(request)


def _after_delete(request: HttpRequest) -> HttpResponse:
    url = reverse("my_data")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
