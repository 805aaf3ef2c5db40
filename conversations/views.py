"""HTMX pages of the conversations app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from conversations.selectors import conversation_get_for_owner
from futureself.ownership import owner_from_request


def conversation_detail(request: HttpRequest, pk) -> HttpResponse:
    conversation = conversation_get_for_owner(owner=owner_from_request(request), pk=pk)
    return render(request, "conversations/detail.html", {"conversation": conversation})
