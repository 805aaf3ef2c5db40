"""Authentication for the JSON API.

External frontends send ``Authorization: Bearer <token>``; the bundled web UI
uses its session (signed-in user or guest) with CSRF. Either way the request's
``auth`` is the ``Owner`` whose objects it may reach.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from futureself.models import ApiToken
from futureself.ownership import Owner, owner_from_request

LAST_USED_RESOLUTION = timedelta(minutes=5)


def user_for_token(raw: str):
    """The active user owning the raw API token, or None. Marks the token used."""
    token = ApiToken.objects.for_raw(raw)
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Owner | None:
        user = user_for_token(token)
        if user is None:
            return None
        request.auth_user = user
        return Owner(user_id=user.pk)


class SessionOwnerAuth(APIKeyCookie):
    """The web UI's session: a signed-in user or a guest who has started something."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a session cookie there is no session to protect: skip the CSRF check so a
        # request with a missing or bad bearer token gets 401, not "CSRF check Failed" (403).
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Owner | None:
        owner = owner_from_request(request)
        return None if owner.is_anonymous else owner


api_auth = [BearerTokenAuth(), SessionOwnerAuth()]
