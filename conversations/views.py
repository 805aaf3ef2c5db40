"""Web pages of the conversations app: the conversation and its debrief."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from conversations.consumers import avatar_url
from conversations.models import Debrief
from conversations.schemas import DebriefData
from conversations.selectors import conversation_get_for_owner
from conversations.services import conversation_summarize, stream_path
from futureself.errors import ServiceError
from futureself.limits import provider_backed_view
from futureself.ownership import owner_from_request
from futureself.privacy import conversation_delete
from futureself.providers import registry
from futureself.providers.base import ProviderError


def conversation_detail(request: HttpRequest, pk) -> HttpResponse:
    conversation = conversation_get_for_owner(owner=owner_from_request(request), pk=pk)
    future_self = conversation.future_self
    return render(
        request,
        "conversations/detail.html",
        {
            "conversation": conversation,
            "future_self": future_self,
            "card": future_self.card,
            "avatar_url": avatar_url(future_self),
            "history": conversation.messages.order_by("position"),
            "stream_path": stream_path(conversation),
            "max_chars": settings.MESSAGE_MAX_CHARS,
            "has_debrief": Debrief.objects.filter(conversation=conversation).exists(),
        },
    )


@require_POST
@provider_backed_view("generation")
def conversation_end_and_debrief(request: HttpRequest, pk) -> HttpResponse:
    conversation = conversation_get_for_owner(owner=owner_from_request(request), pk=pk)
    try:
        conversation_summarize(conversation=conversation, chat=registry.chat())
    except ServiceError as exc:
        messages.error(request, exc.detail)
        target = reverse("conversations:detail", kwargs={"pk": conversation.pk})
    except ProviderError:
        messages.error(request, "We could not write your debrief just now. Nothing is lost: please try again.")
        target = reverse("conversations:debrief", kwargs={"pk": conversation.pk})
    else:
        target = reverse("conversations:debrief", kwargs={"pk": conversation.pk})
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


def conversation_debrief(request: HttpRequest, pk) -> HttpResponse:
    conversation = conversation_get_for_owner(owner=owner_from_request(request), pk=pk)
    debrief = Debrief.objects.filter(conversation=conversation).first()
    return render(
        request,
        "conversations/debrief.html",
        {
            "conversation": conversation,
            "future_self": conversation.future_self,
            "debrief": DebriefData.model_validate(debrief.data) if debrief else None,
        },
    )


@require_http_methods(["GET", "POST"])
def conversation_remove(request: HttpRequest, pk) -> HttpResponse:
    """Ask to confirm (GET), then delete the conversation with its messages and debrief (POST)."""
    conversation = conversation_get_for_owner(owner=owner_from_request(request), pk=pk)
    if request.method == "GET":
        return render(
            request,
            "confirm_delete.html",
            {
                "title": "Delete this conversation?",
                "what": "This conversation, every message in it and its debrief. The future self stays.",
                "cancel_url": reverse("conversations:detail", kwargs={"pk": conversation.pk}),
            },
        )
    conversation_delete(conversation=conversation)
    messages.success(request, "The conversation is deleted.")
    url = reverse("my_data")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
