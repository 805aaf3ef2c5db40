"""Reads of future selves, always through the owner check: anyone but the owner
gets ``Http404``, as if the self did not exist."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from futureself.ownership import Owner
from interviews.models import Profile
from personas.models import FutureSelf


def _owned(owner: Owner) -> QuerySet[FutureSelf]:
    return FutureSelf.objects.select_related("profile__interview").filter(**owner.filter_kwargs("profile__interview__"))


def future_self_get_for_owner(*, owner: Owner, pk) -> FutureSelf:
    return get_object_or_404(_owned(owner), pk=pk)


def future_selves_for_profile(*, profile: Profile) -> list[FutureSelf]:
    """Every self generated for ``profile`` (already owner-checked): newest generation first, each in its order."""
    selves = list(FutureSelf.objects.select_related("profile__interview").filter(profile=profile))
    started: dict[uuid.UUID, object] = {}
    for future_self in selves:
        current = started.get(future_self.generation_id)
        if current is None or future_self.created_at < current:
            started[future_self.generation_id] = future_self.created_at
    by_generation = sorted(started, key=lambda generation: started[generation], reverse=True)
    rank = {generation: index for index, generation in enumerate(by_generation)}
    return sorted(selves, key=lambda s: (rank[s.generation_id], s.position))


def generation_get_for_owner(*, owner: Owner, generation_id: uuid.UUID) -> list[FutureSelf]:
    """The selves generated together, in their generation order (options first, unexpected last)."""
    selves = list(_owned(owner).filter(generation_id=generation_id).order_by("position", "created_at"))
    if not selves:
        raise Http404("No such future selves.")
    return selves


def latest_generation_id(*, profile: Profile) -> uuid.UUID | None:
    latest = FutureSelf.objects.filter(profile=profile).order_by("-created_at").only("generation_id").first()
    return latest.generation_id if latest else None


def avatar_url(future_self: FutureSelf) -> str | None:
    """Where the owner fetches the avatar; the version parameter changes whenever the image does."""
    if not future_self.avatar:
        return None
    version = future_self.avatar.name.rsplit("/", 1)[-1].split(".")[0][:12]
    return f"{reverse('personas:avatar', kwargs={'pk': future_self.pk})}?v={version}"


def self_card(future_self: FutureSelf) -> dict[str, Any]:
    """The API's ``SelfCard`` for a stored self."""
    card = future_self.card
    return {
        "id": future_self.pk,
        "profile_id": future_self.profile_id,
        "path": future_self.path,
        "years_ahead": future_self.years_ahead,
        "age": card.get("age"),
        "title": card.get("title", ""),
        "tagline": card.get("tagline", ""),
        "backstory": card.get("backstory", ""),
        "memories": card.get("memories", []),
        "gains": card.get("gains", []),
        "costs": card.get("costs", []),
        "personality": card.get("personality", ""),
        "speaking_style": card.get("speaking_style", ""),
        "voice": {"voice_id": future_self.voice_id, "name": future_self.voice_name},
        "avatar_url": avatar_url(future_self),
        "selected": future_self.selected_at is not None,
        "unexpected": bool(card.get("unexpected")),
        "created_at": future_self.created_at,
    }
