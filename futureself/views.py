from __future__ import annotations

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django import forms
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from futureself.ownership import owner_from_request

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    from interviews.selectors import interview_list_for_owner

    owner = owner_from_request(request)
    interviews = interview_list_for_owner(owner=owner)[:10] if not owner.is_anonymous else []
    return render(request, "home.html", {"interviews": interviews})


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


class SignupForm(UserCreationForm):
    adult = forms.BooleanField(
        required=True,
        label="I am 18 or older",
        error_messages={"required": "futureself is for adults: please confirm you are 18 or older."},
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


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
