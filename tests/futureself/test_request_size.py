"""An HTTP body over DATA_UPLOAD_MAX_MEMORY_SIZE: the API's error shape on the API, a 413 that says so on pages."""

from __future__ import annotations

import json

import pytest

from interviews.models import Interview

pytestmark = pytest.mark.django_db


def test_an_oversize_body_on_the_api_answers_413_in_the_error_shape_without_a_provider_call(
    alice, alice_api, fake_chat, settings
):
    body = json.dumps({"message": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    response = alice_api.post("/api/interview/respond", body)

    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "detail": f"The request body is too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
        "code": "request_too_large",
        "retryable": False,
    }
    assert fake_chat.calls == []
    assert not Interview.objects.filter(owner=alice).exists()


def test_a_body_just_under_the_limit_is_still_parsed(alice_api, fake_chat, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = alice_api.post("/api/interview/respond", json.dumps({"message": "x" * 5_000}))
    assert response.status_code == 422  # read and validated (over the 4,000-character limit), not refused for size
    assert fake_chat.calls == []


def test_the_openapi_schema_lists_413_on_write_endpoints(client):
    spec = client.get("/api/openapi.json").json()
    assert "413" in spec["paths"]["/api/interview/respond"]["post"]["responses"]


def test_an_oversize_form_on_a_page_answers_413_saying_so_and_saves_nothing(alice_client, alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    interview = Interview.objects.create(owner=alice, source=Interview.Source.WEB)

    response = alice_client.post(f"/interview/{interview.pk}/answer/", {"message": "x" * 20_000})

    assert response.status_code == 413
    page = response.content.decode()
    assert "Too much to send at once" in page
    assert "at most 10,000 bytes" in page
    assert not interview.turns.exists()


def test_an_oversize_htmx_form_gets_the_reason_in_plain_text_for_the_alert(alice_client, alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    interview = Interview.objects.create(owner=alice, source=Interview.Source.WEB)

    response = alice_client.post(
        f"/interview/{interview.pk}/answer/", {"message": "x" * 20_000}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.content.decode() == (
        "That is too much to send at once (at most 10,000 bytes). "
        "Nothing was saved: please shorten it and send it again."
    )


def test_other_bad_requests_keep_djangos_400(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]

    response = client.get("/", HTTP_HOST="evil.example")

    assert response.status_code == 400
