"""Reads of interviews and profiles, always through the owner check: anyone but
the owner gets ``Http404``, as if the object did not exist."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from futureself.ownership import Owner
from interviews.models import Interview, Profile


def interview_list_for_owner(*, owner: Owner) -> QuerySet[Interview]:
    return Interview.objects.filter(**owner.filter_kwargs())


def interview_get_for_owner(*, owner: Owner, pk) -> Interview:
    return get_object_or_404(Interview.objects.filter(**owner.filter_kwargs()), pk=pk)


def profile_get_for_owner(*, owner: Owner, pk) -> Profile:
    return get_object_or_404(
        Profile.objects.select_related("interview").filter(**owner.filter_kwargs("interview__")), pk=pk
    )


def profile_latest(*, interview: Interview) -> Profile | None:
    return interview.profiles.order_by("-version").first()
