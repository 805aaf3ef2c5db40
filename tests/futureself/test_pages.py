import re

import pytest
from django.test import Client, override_settings

from interviews.models import Interview
from tests.builders import make_conversation, make_interview

pytestmark = pytest.mark.django_db


def test_home_page_says_what_futureself_is_and_that_it_is_an_ai(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Talk with the person you might become" in html
    assert "not therapy" in html


def test_the_conversation_notice_says_ai_not_a_person_not_a_prediction_not_therapy(alice, alice_client):
    conversation = make_conversation(owner=alice)
    html = alice_client.get(f"/conversations/{conversation.pk}/").content.decode()
    # The notice itself, not the site footer (which says "not therapy" on every page).
    notice = re.search(r'<p class="notice chat__notice" role="note">(.*?)</p>', html, re.DOTALL).group(1)
    for phrase in ("AI, not a real person.", "not a prediction", "not therapy"):
        assert phrase in notice


def test_pages_label_offline_mode(client):
    html = client.get("/").content.decode()
    assert "Offline mode." in html


@override_settings(
    FUTURESELF_CHAT_PROVIDER="mistral",
    FUTURESELF_STT_PROVIDER="elevenlabs",
    FUTURESELF_TTS_PROVIDER="elevenlabs",
    FUTURESELF_IMAGE_PROVIDER="gemini",
)
def test_pages_do_not_claim_offline_mode_when_every_vendor_is_configured(client):
    assert "Offline mode." not in client.get("/").content.decode()


def test_pages_carry_a_csp_with_a_script_nonce_and_no_unsafe_inline(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'nonce-" in script_src
    assert "unsafe-inline" not in script_src
    assert "unsafe-eval" not in script_src
    nonce = script_src.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.content.decode()


def test_htmx_is_served_locally_not_from_a_cdn(client):
    html = client.get("/").content.decode()
    assert "/static/django_htmx/htmx" in html
    assert "unpkg.com" not in html
    assert "cdn" not in html.lower()


def test_healthz_reports_database_and_channel_layer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}


@override_settings(
    CHANNEL_LAYERS={
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
)
def test_healthz_fails_when_the_channel_layer_is_down(client):
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "error"
    assert response.json()["database"] == "ok"


def test_signup_requires_adult_confirmation(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "maya", "password1": "a long passphrase 42", "password2": "a long passphrase 42"},
    )
    assert response.status_code == 200
    assert "18 or older" in response.content.decode()
    assert not Interview.objects.exists()


def test_a_guest_who_signs_up_keeps_their_data(client, django_user_model):
    session = client.session
    session["futureself_guest_key"] = "guest-abc"
    session.save()
    interview = make_interview(guest_key="guest-abc", answers=["I live in Lyon."])
    response = client.post(
        "/accounts/signup/",
        {"username": "maya", "password1": "a long passphrase 42", "password2": "a long passphrase 42", "adult": "on"},
    )
    assert response.status_code == 302
    interview.refresh_from_db()
    assert interview.owner == django_user_model.objects.get(username="maya")
    assert interview.guest_key == ""


def test_a_guest_who_logs_in_keeps_their_data(client, alice):
    session = client.session
    session["futureself_guest_key"] = "guest-xyz"
    session.save()
    interview = make_interview(guest_key="guest-xyz")
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 302
    interview.refresh_from_db()
    assert interview.owner == alice


def test_admin_pages_render_for_staff(client, staff, alice):
    conversation = make_conversation(owner=alice, messages=[("user", "Hello"), ("future_self", "Hi, it's you.")])
    future_self = conversation.future_self
    interview = future_self.profile.interview
    client.force_login(staff)
    urls = [
        "/admin/",
        "/admin/interviews/interview/",
        f"/admin/interviews/interview/{interview.pk}/change/",
        "/admin/interviews/profile/",
        f"/admin/interviews/profile/{future_self.profile.pk}/change/",
        "/admin/interviews/turn/",
        "/admin/personas/futureself/",
        f"/admin/personas/futureself/{future_self.pk}/change/",
        "/admin/conversations/conversation/",
        f"/admin/conversations/conversation/{conversation.pk}/change/",
        "/admin/conversations/message/",
        "/admin/conversations/debrief/",
        "/admin/futureself/apitoken/",
        "/admin/futureself/apitoken/add/",
        "/admin/futureself/providercall/",
        f"/admin/interviews/interview/?q={alice.username}",
        "/admin/conversations/conversation/?status__exact=active",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/interviews/interview/{interview.pk}/change/").content.decode()
    assert "Tell me more?" in page  # the transcript is inline
    assert str(future_self) in page
    assert (
        "Hi, it&#x27;s you."
        in client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").content.decode()
    )


def test_admin_is_closed_to_non_staff(alice_client):
    response = alice_client.get("/admin/interviews/interview/")
    assert response.status_code == 302
    assert "/admin/login/" in response.headers["Location"]


def test_a_signed_in_person_can_log_out_from_any_page(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    page = browser.get("/")
    assert 'action="/accounts/logout/"' in page.text

    response = browser.post("/accounts/logout/", {"csrfmiddlewaretoken": page.context["csrf_token"]})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "_auth_user_id" not in browser.session
    assert "Log out" not in browser.get("/").text


def test_logging_out_needs_a_post_with_the_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.get("/accounts/logout/").status_code == 405
    assert browser.post("/accounts/logout/").status_code == 403
    assert browser.session["_auth_user_id"] == str(alice.pk)
