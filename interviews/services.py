"""Writes of the interviews app. Keyword-only, typed, called by the API, the
HTMX views and management commands alike."""

from __future__ import annotations

from django.db import transaction

from interviews.models import Interview


@transaction.atomic
def interviews_claim_for_user(*, guest_key: str, user) -> int:
    """Give everything a guest made to the account they just signed in to."""
    if not guest_key:
        return 0
    return Interview.objects.filter(owner__isnull=True, guest_key=guest_key).update(owner=user, guest_key="")
