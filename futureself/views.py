from __future__ import annotations

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from futureself.forms import AdultConfirmationForm, SignupForm, needs_adult_confirmation
from futureself.limits import RateLimited, limit_response, rate_limit_request
from futureself.ownership import owner_from_request
from futureself.privacy import PersonExport, person_delete, person_export, person_export_markdown

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    return render_home(request)


def render_home(
    request: HttpRequest, *, adult_form: AdultConfirmationForm | None = None, status: int = 200
) -> HttpResponse:
    """The home page; a guest who has not confirmed they are an adult gets the checkbox to do so."""
    from interviews.selectors import interview_list_for_owner

    owner = owner_from_request(request)
    interviews = interview_list_for_owner(owner=owner)[:10] if not owner.is_anonymous else []
    if adult_form is None and needs_adult_confirmation(request):
        adult_form = AdultConfirmationForm()
    return render(request, "home.html", {"interviews": interviews, "adult_form": adult_form}, status=status)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("healthz.")
    marker = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "marker": marker})
    message = await layer.receive(channel)
    if message.get("marker") != marker:
        raise RuntimeError("channel layer returned another message")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    healthy = True
    for name, check in (("database", _check_database), ("channel_layer", async_to_sync(_check_channel_layer))):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # a health check reports every failure, whatever it is
            logger.warning("healthz: %s failed: %s", name, type(exc).__name__)
            checks[name] = "error"
            healthy = False
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # login() fires user_logged_in, which hands the guest's data to the new account.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(request.GET.get("next") or "home")
    return render(request, "registration/signup.html", {"form": form})


# --- the person's own data -------------------------------------------------------------------


def _export_response(request: HttpRequest) -> dict | HttpResponse:
    try:
        rate_limit_request(request, "export")
    except RateLimited as exc:
        return limit_response(exc, request=request)
    return person_export(owner=owner_from_request(request))


@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    """Everything the person has here, with export and delete (per item, or all)."""
    from conversations.models import Conversation
    from interviews.selectors import interview_list_for_owner

    owner = owner_from_request(request)
    interviews = list(interview_list_for_owner(owner=owner)) if not owner.is_anonymous else []
    conversations = (
        Conversation.objects.filter(**owner.filter_kwargs("future_self__profile__interview__"))
        .select_related("future_self")
        .order_by("-created_at")
        if not owner.is_anonymous
        else []
    )
    return render(
        request,
        "account/data.html",
        {"owner": owner, "interviews": interviews, "conversations": conversations},
    )


@require_GET
def my_data_export(request: HttpRequest) -> HttpResponse:
    """The export, readable in the browser (every value escaped by the template)."""
    document = _export_response(request)
    if isinstance(document, HttpResponse):
        return document
    return render(request, "account/export.html", {"export": PersonExport.model_validate(document)})


@require_GET
def my_data_export_json(request: HttpRequest) -> HttpResponse:
    document = _export_response(request)
    if isinstance(document, HttpResponse):
        return document
    body = PersonExport.model_validate(document).model_dump_json(indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="futureself-export.json"'
    return response


@require_GET
def my_data_export_markdown(request: HttpRequest) -> HttpResponse:
    document = _export_response(request)
    if isinstance(document, HttpResponse):
        return document
    response = HttpResponse(person_export_markdown(document), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="futureself-export.md"'
    return response


class DeleteEverythingForm(forms.Form):
    confirm = forms.CharField(
        label='Type "delete" to confirm',
        error_messages={"required": 'Type "delete" to confirm.'},
    )

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip().lower()
        if value not in {"delete", "supprimer"}:
            raise forms.ValidationError('Type "delete" to confirm.')
        return value


@require_http_methods(["GET", "POST"])
def my_data_delete(request: HttpRequest) -> HttpResponse:
    """Delete the person and everything they made, after they type "delete"."""
    owner = owner_from_request(request)
    form = DeleteEverythingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person_delete(owner=owner)
        logout(request)
        request.session.flush()
        messages.success(request, "Everything you had here is deleted.")
        return redirect("home")
    return render(request, "account/delete.html", {"form": form, "owner": owner})


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400, except for a body over DATA_UPLOAD_MAX_MEMORY_SIZE: a 413 that says so (as the
    API does), in plain text for htmx (shown in the page's alert region, the form left as it was)."""
    if not isinstance(exception, RequestDataTooBig):
        return defaults.bad_request(request, exception)
    detail = (
        f"That is too much to send at once (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes). "
        "Nothing was saved: please shorten it and send it again."
    )
    if request.headers.get("HX-Request") == "true":
        return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
    return render(request, "request_too_large.html", {"detail": detail}, status=413)
