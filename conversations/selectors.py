from __future__ import annotations

from django.shortcuts import get_object_or_404

from conversations.models import Conversation
from futureself.ownership import Owner


def conversation_get_for_owner(*, owner: Owner, pk) -> Conversation:
    return get_object_or_404(
        Conversation.objects.select_related("future_self__profile__interview").filter(
            **owner.filter_kwargs("future_self__profile__interview__")
        ),
        pk=pk,
    )
