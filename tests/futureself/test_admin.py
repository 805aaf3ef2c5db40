"""Staff editing in the admin: JSON is checked against the app's own schemas, provider data is read-only."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.urls import reverse

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
