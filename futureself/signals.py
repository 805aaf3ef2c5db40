"""A guest who signs up or logs in keeps what they made as a guest."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from futureself.ownership import GUEST_SESSION_KEY


@receiver(user_logged_in)
def claim_guest_data(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    guest_key = request.session.pop(GUEST_SESSION_KEY, None)
    if guest_key:
        from interviews.services import interviews_claim_for_user

        interviews_claim_for_user(guest_key=guest_key, user=user)
