"""Forms shared by the apps' HTML views."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest

# Set in a visitor's session once they confirm they are an adult (an ISO timestamp).
ADULT_SESSION_KEY = "futureself_adult_confirmed_at"


def adult_field() -> forms.BooleanField:
    return forms.BooleanField(
        required=True,
        label="I am 18 or older",
        error_messages={"required": "futureself is for adults: please confirm you are 18 or older."},
    )


class SignupForm(UserCreationForm):
    adult = adult_field()

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class AdultConfirmationForm(forms.Form):
    """What a guest confirms before their first interview (an account confirms it at sign-up)."""

    adult = adult_field()


def needs_adult_confirmation(request: HttpRequest) -> bool:
    """Whether this visitor has yet to confirm they are 18 or older: guests only, once per session."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return False
    session = getattr(request, "session", None)
    return session is None or not session.get(ADULT_SESSION_KEY)


def record_adult_confirmation(request: HttpRequest) -> None:
    request.session[ADULT_SESSION_KEY] = datetime.now(UTC).isoformat(timespec="seconds")
