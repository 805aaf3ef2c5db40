import json
import os
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.utils import timezone

from conversations.models import Conversation, Debrief, Message
from futureself.models import ApiToken, ProviderCall, SafetyEvent
from futureself.ownership import GUEST_SESSION_KEY, Owner
from futureself.privacy import (
    PersonExport,
    conversation_delete,
    interview_delete,
    person_delete,
    person_export,
    person_export_markdown,
)
from futureself.safety.services import safety_screen
from interviews.models import Interview, Profile, Turn
from personas.models import FutureSelf
from personas.selectors import avatar_url
from tests.builders import make_conversation, make_future_self, make_interview, make_profile, sample_profile_data

pytestmark = pytest.mark.django_db

ALICE_MARKER = "Zebra-Quartz-1234"
BOB_MARKER = "Walrus-Onyx-9876"


def build_person(user=None, *, marker: str, guest_key: str = "") -> dict:
    """Everything one person can have: turns, two profile versions, a future self with an
    avatar, a conversation with messages and a debrief, a safety event, a provider call."""
    interview = make_interview(owner=user, guest_key=guest_key, answers=[f"My secret is {marker}", "Lyon"])
    profile = make_profile(interview=interview, name=f"Maya {marker}")
    Profile.objects.create(interview=interview, version=2, data=sample_profile_data(name=marker), edited_by_user=True)
    future_self = make_future_self(profile=profile)
    future_self.avatar.save("face.png", ContentFile(b"\x89PNG fake avatar"), save=True)
    conversation = make_conversation(
        future_self=future_self, messages=[("user", f"Hello from {marker}"), ("future_self", "Hello, you.")]
    )
    conversation.status = Conversation.Status.ENDED
    conversation.ended_at = timezone.now()
    conversation.save()
    Debrief.objects.create(conversation=conversation, data={"summary": f"Debrief about {marker}"})
    safety_screen(text=f"{marker} I want to kill myself", source="conversation", conversation=conversation)
    ProviderCall.objects.create(interface="chat", task="conversation", provider="offline", conversation=conversation)
    return {
        "interview": interview,
        "profile": profile,
        "future_self": future_self,
        "conversation": conversation,
        "avatar": future_self.avatar.name,
    }


@pytest.fixture
def alice_data(alice):
    return build_person(alice, marker=ALICE_MARKER)


@pytest.fixture
def bob_data(bob):
    return build_person(bob, marker=BOB_MARKER)


def all_rows_text() -> str:
    """Every column of every row of every table, as text."""
    chunks = []
    for model in apps.get_models():
        for row in model.objects.all().values():
            chunks.append(json.dumps(row, default=str))
        if model is Session:
            chunks += [json.dumps(s.get_decoded(), default=str) for s in Session.objects.all()]
    return "\n".join(chunks)


def rows_pointing_to_user(user_pk: int) -> list[str]:
    user_model = get_user_model()
    found = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            points_to_user = isinstance(field, models.ForeignKey) and field.related_model is user_model
            if points_to_user and model.objects.filter(**{field.name: user_pk}).exists():
                found.append(f"{model._meta.label}.{field.name}")
    return found


def media_entries() -> list[str]:
    entries = []
    for root, dirs, files in os.walk(settings.MEDIA_ROOT):
        entries += [os.path.relpath(os.path.join(root, name), settings.MEDIA_ROOT) for name in dirs + files]
    return entries


def ids_of(data: dict) -> list[str]:
    return [str(data[key].pk) for key in ("interview", "profile", "future_self", "conversation")]


# --- export --------------------------------------------------------------------------------


def test_the_export_holds_everything_of_the_person(alice, alice_data):
    document = person_export(owner=Owner(user_id=alice.pk))
    PersonExport.model_validate(document)
    assert document["person"] == {
        "kind": "user",
        "username": "alice",
        "email": "alice@example.com",
        "date_joined": document["person"]["date_joined"],
    }
    [interview] = document["interviews"]
    assert interview["id"] == str(alice_data["interview"].pk)
    assert f"My secret is {ALICE_MARKER}" in [turn["content"] for turn in interview["turns"]]
    assert [p["version"] for p in interview["profiles"]] == [1, 2]
    [future_self] = interview["future_selves"]
    assert future_self["avatar_link"] == avatar_url(alice_data["future_self"])
    [conversation] = future_self["conversations"]
    assert [m["text"] for m in conversation["messages"]] == [f"Hello from {ALICE_MARKER}", "Hello, you."]
    assert conversation["debrief"] == {"summary": f"Debrief about {ALICE_MARKER}"}
    [event] = interview["safety_events"]
    assert (event["category"], event["conversation_id"]) == ("suicidal_ideation", str(alice_data["conversation"].pk))


def test_the_export_holds_nothing_of_anyone_else(alice, alice_data, bob_data):
    text = json.dumps(person_export(owner=Owner(user_id=alice.pk)))
    assert ALICE_MARKER in text
    assert BOB_MARKER not in text
    assert not any(identifier in text for identifier in ids_of(bob_data))


def test_a_guest_exports_their_own_data_only(alice_data):
    build_person(marker="Guest-Marker-555", guest_key="guest-key-1")
    document = person_export(owner=Owner(guest_key="guest-key-1"))
    assert document["person"]["kind"] == "guest"
    text = json.dumps(document)
    assert "Guest-Marker-555" in text
    assert ALICE_MARKER not in text


def test_the_markdown_rendering_is_readable_and_escapes_the_persons_words(alice, alice_data):
    Turn.objects.filter(interview=alice_data["interview"], role="user").update(content="<script>x</script> **bold**")
    markdown = person_export_markdown(person_export(owner=Owner(user_id=alice.pk)))
    assert markdown.startswith("# Your futureself data")
    assert f"Hello from {ALICE_MARKER}" in markdown
    assert "<script>" not in markdown
    assert "&lt;script&gt;x&lt;/script&gt; \\*\\*bold\\*\\*" in markdown
    assert "### Profile, version 2, edited by you" in markdown


def test_the_export_endpoint_answers_json_and_markdown(alice_api, alice_data):
    response = alice_api.get("/api/me/export")
    assert response.status_code == 200
    assert ALICE_MARKER in response.content.decode()
    markdown = alice_api.get("/api/me/export", {"format": "markdown"})
    assert markdown.status_code == 200
    assert markdown["Content-Type"].startswith("text/markdown")
    assert f"Hello from {ALICE_MARKER}" in markdown.content.decode()


def test_the_export_endpoint_needs_authentication(anon_api):
    assert anon_api.get("/api/me/export").status_code == 401
    assert anon_api.delete("/api/me").status_code == 401


# --- deletion --------------------------------------------------------------------------------


def test_deleting_a_person_leaves_nothing_of_them_in_any_table_or_in_storage(alice, alice_data, bob_data, alice_api):
    logged_in = Client()
    logged_in.force_login(alice)
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, alice_data["avatar"]))
    before = all_rows_text()
    assert all(trace in before for trace in [ALICE_MARKER, "alice@example.com", *ids_of(alice_data)])
    assert rows_pointing_to_user(alice.pk)

    response = alice_api.delete("/api/me")

    assert response.status_code == 204
    everything = all_rows_text()
    for trace in [ALICE_MARKER, "alice@example.com", *ids_of(alice_data)]:
        assert trace not in everything, trace
    assert not get_user_model().objects.filter(username="alice").exists()
    assert rows_pointing_to_user(alice.pk) == []
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(alice.pk)]
    assert not ApiToken.objects.filter(user_id=alice.pk).exists()
    assert not any(
        str(alice_data["future_self"].pk) in entry or alice_data["avatar"] in entry for entry in media_entries()
    )
    # Bob is untouched.
    assert BOB_MARKER in everything
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, bob_data["avatar"]))
    assert Message.objects.filter(conversation=bob_data["conversation"]).count() == 2
    assert SafetyEvent.objects.filter(interview=bob_data["interview"]).count() == 1
    # And the old token no longer opens anything.
    assert alice_api.get("/api/me/export").status_code == 401


def test_deleting_a_guest_removes_their_data_and_session(bob_data):
    guest = Client()
    session = guest.session
    session[GUEST_SESSION_KEY] = "guest-key-2"
    session.save()
    guest.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    data = build_person(marker="Guest-Marker-777", guest_key="guest-key-2")

    response = guest.delete("/api/me")

    assert response.status_code == 204
    everything = all_rows_text()
    assert "Guest-Marker-777" not in everything
    assert "guest-key-2" not in everything
    assert not any(str(data["future_self"].pk) in entry for entry in media_entries())
    assert BOB_MARKER in everything


def test_deleting_one_interview_removes_it_with_its_media_and_nothing_else(alice, alice_data):
    other = build_person(alice, marker="Second-Interview-42")
    interview_delete(interview=alice_data["interview"])
    assert not Interview.objects.filter(pk=alice_data["interview"].pk).exists()
    assert not FutureSelf.objects.filter(pk=alice_data["future_self"].pk).exists()
    assert not SafetyEvent.objects.filter(conversation_id=alice_data["conversation"].pk).exists()
    assert not ProviderCall.objects.filter(conversation_id=alice_data["conversation"].pk).exists()
    assert not any(str(alice_data["future_self"].pk) in entry for entry in media_entries())
    assert Interview.objects.filter(pk=other["interview"].pk).exists()
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, other["avatar"]))


def test_deleting_one_conversation_keeps_the_future_self(alice, alice_data):
    conversation_delete(conversation=alice_data["conversation"])
    assert not Conversation.objects.filter(pk=alice_data["conversation"].pk).exists()
    assert not Message.objects.filter(conversation_id=alice_data["conversation"].pk).exists()
    assert not Debrief.objects.filter(conversation_id=alice_data["conversation"].pk).exists()
    assert FutureSelf.objects.filter(pk=alice_data["future_self"].pk).exists()
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, alice_data["avatar"]))


def test_deleting_nobody_deletes_nothing(alice_data):
    assert person_delete(owner=Owner()) == {"interviews": 0, "files": 0}
    assert Interview.objects.count() == 1


# --- retention --------------------------------------------------------------------------------


def age(data: dict, days: int) -> None:
    past = timezone.now() - timedelta(days=days)
    Interview.objects.filter(pk=data["interview"].pk).update(updated_at=past)
    Turn.objects.filter(interview=data["interview"]).update(created_at=past)
    Conversation.objects.filter(pk=data["conversation"].pk).update(created_at=past, ended_at=past)
    Message.objects.filter(conversation=data["conversation"]).update(created_at=past)


def run_purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_expired", *args, stdout=out)
    return out.getvalue()


def test_purge_removes_stale_guest_data_only(alice, alice_data, settings):
    settings.GUEST_RETENTION_DAYS = 30
    stale = build_person(marker="Stale-Guest-1", guest_key="stale-guest")
    fresh = build_person(marker="Fresh-Guest-2", guest_key="fresh-guest")
    age(stale, 31)
    age(alice_data, 400)

    output = run_purge()

    assert "guest interviews older than 30 days: removed 1 (1 media files)" in output
    assert not Interview.objects.filter(pk=stale["interview"].pk).exists()
    assert not any(str(stale["future_self"].pk) in entry for entry in media_entries())
    assert Interview.objects.filter(pk=fresh["interview"].pk).exists()
    assert Interview.objects.filter(pk=alice_data["interview"].pk).exists()
    assert "removed 0" in run_purge()


def test_purge_keeps_a_guest_who_is_still_talking(settings):
    settings.GUEST_RETENTION_DAYS = 30
    guest = build_person(marker="Active-Guest-3", guest_key="active-guest")
    age(guest, 60)
    Message.objects.create(conversation=guest["conversation"], position=5, role="user", text="still here")
    run_purge()
    assert Interview.objects.filter(pk=guest["interview"].pk).exists()


def test_purge_dry_run_removes_nothing(settings):
    settings.GUEST_RETENTION_DAYS = 30
    stale = build_person(marker="Stale-Guest-4", guest_key="stale-guest-4")
    age(stale, 31)
    assert "would remove 1" in run_purge("--dry-run")
    assert Interview.objects.filter(pk=stale["interview"].pk).exists()


def test_purge_removes_old_ended_conversations_when_configured(alice, alice_data, settings):
    settings.ENDED_CONVERSATION_RETENTION_DAYS = 90
    age(alice_data, 91)
    output = run_purge()
    assert "ended conversations older than 90 days: removed 1" in output
    assert not Conversation.objects.filter(pk=alice_data["conversation"].pk).exists()
    assert FutureSelf.objects.filter(pk=alice_data["future_self"].pk).exists()
