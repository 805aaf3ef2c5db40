"""Who owns what: a signed-in user, or a web guest identified by their session.

Every object a person creates hangs off an ``Interview`` whose owner is either
``owner`` (a user) or ``guest_key`` (a random key stored in the guest's
session). All owner-checked getters filter through ``Owner.filter_kwargs``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.http import HttpRequest

GUEST_SESSION_KEY = "futureself_guest_key"


@dataclass(frozen=True, slots=True)
class Owner:
    user_id: int | None = None
    guest_key: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and not self.guest_key

    def filter_kwargs(self, prefix: str = "") -> dict[str, object]:
        """Lookup kwargs selecting what this owner owns; ``prefix`` is the path to the Interview."""
        if self.user_id is not None:
            return {f"{prefix}owner_id": self.user_id}
        if self.guest_key:
            return {f"{prefix}owner__isnull": True, f"{prefix}guest_key": self.guest_key}
        # Nobody: match nothing.
        return {f"{prefix}pk__in": []}

    def create_kwargs(self) -> dict[str, object]:
        if self.user_id is not None:
            return {"owner_id": self.user_id, "guest_key": ""}
        return {"owner": None, "guest_key": self.guest_key or ""}


def owner_from_user(user) -> Owner:
    if user is not None and user.is_authenticated:
        return Owner(user_id=user.pk)
    return Owner()


def owner_from_request(request: HttpRequest, *, create_guest: bool = False) -> Owner:
    """The owner behind a web or API request; a guest key is made only when asked."""
    user = getattr(request, "auth_user", None) or getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Owner(user_id=user.pk)
    session = getattr(request, "session", None)
    if session is None:
        return Owner()
    key = session.get(GUEST_SESSION_KEY)
    if not key and create_guest:
        key = secrets.token_urlsafe(24)
        session[GUEST_SESSION_KEY] = key
    return Owner(guest_key=key) if key else Owner()


def owner_from_scope(scope) -> Owner:
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return Owner(user_id=user.pk)
    session = scope.get("session")
    key = session.get(GUEST_SESSION_KEY) if session is not None else None
    return Owner(guest_key=key) if key else Owner()
