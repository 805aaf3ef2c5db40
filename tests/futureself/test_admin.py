"""Staff editing in the admin: JSON is checked against the app's own schemas, provider data is read-only."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.urls import reverse

from futureself.models import ProviderCall
from tests.builders import make_future_self, make_profile, sample_card, sample_profile_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def form_data(response) -> dict:
    """What the admin's change form would post back unchanged."""
    form = response.context["adminform"].form
    data = {"_save": "Save"}
    for name, bound in ((name, form[name]) for name in form.fields):
        widget, value = bound.field.widget, bound.value()
        if isinstance(widget, forms.MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else part
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif isinstance(widget, forms.FileInput):
            continue
        elif value is not None:
            data[name] = value
    return data


def test_staff_cannot_save_a_profile_that_breaks_the_schema(staff_client, alice):
    profile = make_profile(owner=alice)
    url = reverse("admin:interviews_profile_change", args=[profile.pk])
    data = form_data(staff_client.get(url))
    data["data"] = json.dumps({**profile.data, "age": "thirty-four", "values": [{"text": "family"}]})

    response = staff_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["data"]
    assert "This is not a valid profile" in errors[0]
    assert "age" in errors[0]
    assert "values.0.evidence" in errors[0]
    profile.refresh_from_db()
    assert profile.data == sample_profile_data()


def test_staff_cannot_save_a_profile_with_unknown_fields(staff_client, alice):
    profile = make_profile(owner=alice)
    url = reverse("admin:interviews_profile_change", args=[profile.pk])
    data = form_data(staff_client.get(url))
    data["data"] = json.dumps({**profile.data, "favourite_colour": "blue"})

    response = staff_client.post(url, data)

    assert response.status_code == 200
    assert "favourite_colour" in response.context["adminform"].form.errors["data"][0]
    profile.refresh_from_db()
    assert "favourite_colour" not in profile.data


def test_staff_can_save_a_valid_profile_edit(staff_client, alice):
    profile = make_profile(owner=alice)
    url = reverse("admin:interviews_profile_change", args=[profile.pk])
    data = form_data(staff_client.get(url))
    data["data"] = json.dumps({**profile.data, "name": "Maya L."})

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    profile.refresh_from_db()
    assert profile.data["name"] == "Maya L."


def test_staff_cannot_save_a_card_that_breaks_the_schema(staff_client, alice):
    future_self = make_future_self(owner=alice)
    url = reverse("admin:personas_futureself_change", args=[future_self.pk])
    data = form_data(staff_client.get(url))
    data["card"] = json.dumps({**future_self.card, "memories": [], "years_ahead": 0})

    response = staff_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["card"]
    assert "This is not a valid future-self card" in errors[0]
    assert "memories" in errors[0]
    assert "years_ahead" in errors[0]
    future_self.refresh_from_db()
    assert future_self.card == sample_card()


def test_staff_can_save_a_valid_card_edit(staff_client, alice):
    future_self = make_future_self(owner=alice)
    url = reverse("admin:personas_futureself_change", args=[future_self.pk])
    data = form_data(staff_client.get(url))
    data["card"] = json.dumps({**future_self.card, "tagline": "Still here, still curious."})

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    future_self.refresh_from_db()
    assert future_self.card["tagline"] == "Still here, still curious."


@pytest.fixture
def provider_call(alice):
    interview = make_profile(owner=alice).interview
    return ProviderCall.objects.create(
        interface="chat", task="profile", provider="mistral", model="mistral-medium-latest", interview=interview
    )


def test_staff_cannot_add_a_provider_call(staff_client):
    assert staff_client.get(reverse("admin:futureself_providercall_add")).status_code == 403
    assert "Add provider call" not in staff_client.get(reverse("admin:futureself_providercall_changelist")).text


def test_staff_see_a_provider_call_without_any_field_to_edit(staff_client, provider_call):
    response = staff_client.get(reverse("admin:futureself_providercall_change", args=[provider_call.pk]))

    assert response.status_code == 200
    assert "mistral-medium-latest" in response.text
    assert response.context["adminform"].form.fields == {}
    assert 'name="_save"' not in response.text


def test_staff_cannot_change_a_provider_call_by_posting(staff_client, provider_call):
    url = reverse("admin:futureself_providercall_change", args=[provider_call.pk])

    response = staff_client.post(url, {"model": "edited", "latency_ms": "1", "_save": "Save"})

    assert response.status_code == 403
    provider_call.refresh_from_db()
    assert (provider_call.model, provider_call.latency_ms) == ("mistral-medium-latest", 0)


def test_staff_see_each_sessions_provider_cost_and_latency(staff_client, alice):
    from tests.builders import make_conversation

    conversation = make_conversation(future_self=make_future_self(owner=alice))
    interview = conversation.future_self.profile.interview
    calls = [
        {"interface": "chat", "task": "conversation", "input_tokens": 900, "output_tokens": 60, "latency_ms": 400},
        {"interface": "tts", "task": "conversation", "characters": 120, "latency_ms": 200},
        {"interface": "chat", "task": "conversation", "latency_ms": 3000, "outcome": ProviderCall.Outcome.ERROR},
    ]
    for call in calls:
        ProviderCall.objects.create(provider="mistral", conversation=conversation, **call)
    ProviderCall.objects.create(
        provider="mistral", interface="chat", task="interview", input_tokens=50, output_tokens=5, interview=interview
    )

    page = staff_client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "3 calls, 900 tokens in / 60 out, 120 TTS characters, mean latency 1200 ms, 1 failed" in text

    page = staff_client.get(reverse("admin:interviews_interview_change", args=[interview.pk]))
    assert "1 calls, 50 tokens in / 5 out" in page.content.decode()
