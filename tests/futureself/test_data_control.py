"""Data control in the API and the UI: export, per-item delete, delete everything."""

import os

import pytest
from django.conf import settings

from conversations.models import Conversation, Debrief, Message
from futureself.models import SafetyEvent
from interviews.models import Interview, Profile, Turn
from personas.models import FutureSelf
from tests.futureself.test_privacy import (
    ALICE_MARKER,
    BOB_MARKER,
    all_rows_text,
    build_person,
    media_entries,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_data(alice):
    return build_person(alice, marker=ALICE_MARKER)


@pytest.fixture
def bob_data(bob):
    return build_person(bob, marker=BOB_MARKER)


# --- API: per-item delete ---------------------------------------------------------------------


def test_deleting_an_interview_through_the_api_removes_its_rows_and_media(alice_api, alice_data, bob_data):
    interview = alice_data["interview"]
    response = alice_api.delete(f"/api/interview/{interview.pk}")
    assert response.status_code == 204
    assert not Interview.objects.filter(pk=interview.pk).exists()
    assert not Turn.objects.filter(interview_id=interview.pk).exists()
    assert not Profile.objects.filter(interview_id=interview.pk).exists()
    assert not FutureSelf.objects.filter(pk=alice_data["future_self"].pk).exists()
    assert not Conversation.objects.filter(pk=alice_data["conversation"].pk).exists()
    assert not os.path.exists(os.path.join(settings.MEDIA_ROOT, alice_data["avatar"]))
    assert ALICE_MARKER not in all_rows_text()
    assert BOB_MARKER in all_rows_text()
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, bob_data["avatar"]))


def test_it_returns_404_for_another_users_interview_and_deletes_nothing(bob_api, alice_data):
    response = bob_api.delete(f"/api/interview/{alice_data['interview'].pk}")
    assert response.status_code == 404
    assert Interview.objects.filter(pk=alice_data["interview"].pk).exists()


def test_deleting_an_interview_needs_authentication(anon_api, alice_data):
    assert anon_api.delete(f"/api/interview/{alice_data['interview'].pk}").status_code == 401
    assert Interview.objects.filter(pk=alice_data["interview"].pk).exists()


def test_deleting_a_conversation_through_the_api_keeps_the_future_self(alice_api, alice_data):
    conversation = alice_data["conversation"]
    response = alice_api.delete(f"/api/conversation/{conversation.pk}")
    assert response.status_code == 204
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()
    assert not Debrief.objects.filter(conversation_id=conversation.pk).exists()
    assert not SafetyEvent.objects.filter(conversation_id=conversation.pk).exists()
    assert FutureSelf.objects.filter(pk=alice_data["future_self"].pk).exists()
    assert f"Hello from {ALICE_MARKER}" not in all_rows_text()


def test_it_returns_404_for_another_users_conversation(bob_api, anon_api, alice_data):
    conversation = alice_data["conversation"]
    assert bob_api.delete(f"/api/conversation/{conversation.pk}").status_code == 404
    assert anon_api.delete(f"/api/conversation/{conversation.pk}").status_code == 401
    assert Conversation.objects.filter(pk=conversation.pk).exists()


# --- UI -----------------------------------------------------------------------------------------


def test_the_header_links_to_the_data_page_for_users_and_guests(client, alice_client):
    assert 'href="/me/"' in client.get("/").content.decode()
    assert 'href="/me/"' in alice_client.get("/").content.decode()


def test_the_data_page_lists_the_persons_items_only(alice_client, alice_data, bob_data):
    html = alice_client.get("/me/").content.decode()
    assert f"/interview/{alice_data['interview'].pk}/delete/" in html
    assert f"/conversations/{alice_data['conversation'].pk}/delete/" in html
    assert str(bob_data["interview"].pk) not in html
    assert "/me/export.json" in html
    assert "/me/delete/" in html


def test_the_data_page_works_for_a_visitor_with_nothing(client):
    response = client.get("/me/")
    assert response.status_code == 200
    assert "No interviews yet." in response.content.decode()


def test_the_json_download_holds_the_persons_data(alice_client, alice_data, bob_data):
    response = alice_client.get("/me/export.json")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    body = response.json()
    assert body["person"]["username"] == "alice"
    assert ALICE_MARKER in response.content.decode()
    assert BOB_MARKER not in response.content.decode()


def test_the_readable_export_shows_everything_escaped(alice_client, alice, alice_data):
    Turn.objects.filter(interview=alice_data["interview"], position=0).update(content="<script>alert(1)</script>")
    response = alice_client.get("/me/export/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Hello from {ALICE_MARKER}" in html
    assert f"Debrief about {ALICE_MARKER}" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_markdown_download_is_offered(alice_client, alice_data):
    response = alice_client.get("/me/export.md")
    assert response["Content-Type"].startswith("text/markdown")
    assert ALICE_MARKER in response.content.decode()


def test_deleting_an_interview_in_the_ui_asks_first_then_removes_it(alice_client, alice_data):
    url = f"/interview/{alice_data['interview'].pk}/delete/"
    confirm = alice_client.get(url)
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.content.decode()
    assert Interview.objects.filter(pk=alice_data["interview"].pk).exists()
    response = alice_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == "/me/"
    assert not Interview.objects.filter(pk=alice_data["interview"].pk).exists()
    assert not any(str(alice_data["future_self"].pk) in entry for entry in media_entries())


def test_another_person_cannot_delete_an_interview_in_the_ui(client, alice_data):
    assert client.post(f"/interview/{alice_data['interview'].pk}/delete/").status_code == 404
    assert Interview.objects.filter(pk=alice_data["interview"].pk).exists()


def test_deleting_a_conversation_in_the_ui_removes_it(alice_client, alice_data):
    url = f"/conversations/{alice_data['conversation'].pk}/delete/"
    assert "The future self stays" in alice_client.get(url).content.decode()
    response = alice_client.post(url, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/me/"
    assert not Conversation.objects.filter(pk=alice_data["conversation"].pk).exists()


def test_the_debrief_page_offers_to_delete_the_conversation(alice_client, alice_data):
    html = alice_client.get(f"/conversations/{alice_data['conversation'].pk}/debrief/").content.decode()
    assert f"/conversations/{alice_data['conversation'].pk}/delete/" in html


def test_delete_everything_needs_the_typed_confirmation(alice_client, alice, alice_data):
    response = alice_client.post("/me/delete/", {"confirm": "yes"})
    assert response.status_code == 200
    assert 'Type "delete" to confirm' in response.content.decode() or "Type &quot;delete&quot;" in (
        response.content.decode()
    )
    assert Interview.objects.filter(pk=alice_data["interview"].pk).exists()


def test_delete_everything_removes_the_person_their_rows_and_their_media(
    alice_client, alice, alice_data, bob_data, django_user_model
):
    response = alice_client.post("/me/delete/", {"confirm": "delete"})
    assert response.status_code == 302
    assert not django_user_model.objects.filter(pk=alice.pk).exists()
    assert ALICE_MARKER not in all_rows_text()
    assert not os.path.exists(os.path.join(settings.MEDIA_ROOT, alice_data["avatar"]))
    assert BOB_MARKER in all_rows_text()
    assert alice_client.get("/me/").context["owner"].is_anonymous


def test_a_guest_can_delete_everything_from_the_page(client):
    client.post("/interview/start/", {"adult": "on"})
    guest_key = Interview.objects.get().guest_key
    build_person(marker="Guest-Marker-5", guest_key=guest_key)
    client.post("/me/delete/", {"confirm": "delete"})
    assert Interview.objects.count() == 0
    assert "Guest-Marker-5" not in all_rows_text()


def test_the_conversation_page_offers_to_delete_it(alice_client, alice_data):
    html = alice_client.get(f"/conversations/{alice_data['conversation'].pk}/").content.decode()
    assert f"/conversations/{alice_data['conversation'].pk}/delete/" in html
