from __future__ import annotations

from django.shortcuts import get_object_or_404

from futureself.ownership import Owner
from personas.models import FutureSelf


def future_self_get_for_owner(*, owner: Owner, pk) -> FutureSelf:
    return get_object_or_404(
        FutureSelf.objects.select_related("profile__interview").filter(**owner.filter_kwargs("profile__interview__")),
        pk=pk,
    )
