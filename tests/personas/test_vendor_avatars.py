"""Avatars through the real Gemini and Mistral image adapters, against the local vendor fake."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image as PILImage

from futureself.models import ProviderCall
from tests.builders import make_future_self
from tests.vendor_fakes.server import Fault, Image, Latency, NoImage

pytestmark = pytest.mark.django_db


def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def gemini(settings, vendor_fake):
    settings.FUTURESELF_IMAGE_PROVIDER = "gemini"
    settings.GEMINI_API_KEY = "test-key"
    settings.GEMINI_BASE_URL = vendor_fake.base_url
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    return vendor_fake


@pytest.fixture
def mistral_images(settings, vendor_fake):
    settings.FUTURESELF_IMAGE_PROVIDER = "mistral"
    settings.MISTRAL_API_KEY = "test-key"
    settings.MISTRAL_SERVER_URL = vendor_fake.base_url
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    return vendor_fake


def test_an_avatar_is_drawn_by_gemini_and_served_to_its_owner(alice, alice_api, alice_client, bob_api, gemini):
    future_self = make_future_self(owner=alice)
    gemini.script("gemini.generate", Image(png("teal")))

    response = alice_api.post("/api/avatar/generate", {"future_self_id": str(future_self.pk)})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["provider"], body["content_type"]) == ("gemini", "image/png")
    sent = gemini.last("gemini.generate")
    assert sent.path.endswith(":generateContent")
    assert future_self.card["avatar_prompt"] in str(sent.json)
    served = alice_client.get(body["avatar_url"])
    assert served.status_code == 200
    assert b"".join(served.streaming_content if served.streaming else [served.content]) == png("teal")
    assert bob_api.get(body["avatar_url"]).status_code == 404
    assert ProviderCall.objects.filter(interface="image", provider="gemini", outcome="ok").count() == 1


def test_a_gemini_safety_block_is_a_clear_retryable_error_and_nothing_is_stored(alice, alice_api, gemini):
    future_self = make_future_self(owner=alice)
    gemini.script("gemini.generate", NoImage(reason="IMAGE_SAFETY"), NoImage(reason="IMAGE_SAFETY"))

    response = alice_api.post("/api/avatar/generate", {"future_self_id": str(future_self.pk)})

    assert response.status_code == 503
    assert response.json()["code"] == "provider_bad_response"
    future_self.refresh_from_db()
    assert not future_self.avatar


def test_an_avatar_is_drawn_by_mistrals_image_generation_agent(alice, alice_api, mistral_images):
    future_self = make_future_self(owner=alice)
    mistral_images.script("mistral.conversations", Image(png("orange")))

    response = alice_api.post("/api/avatar/generate", {"future_self_id": str(future_self.pk)})

    assert response.status_code == 200, response.content
    assert response.json()["provider"] == "mistral"
    agent = mistral_images.last("mistral.agents").json
    assert {"type": "image_generation"} in agent["tools"]
    assert mistral_images.received("mistral.files"), "the image is downloaded from the files API"
    future_self.refresh_from_db()
    assert future_self.avatar.read() == png("orange")


def test_three_avatars_from_a_slow_gemini_take_about_the_time_of_one(alice, gemini):
    from personas.services import avatars_ensure

    first = make_future_self(owner=alice)
    selves = [
        first,
        make_future_self(profile=first.profile, path="Stay in Lyon"),
        make_future_self(profile=first.profile, path="Something else"),
    ]
    gemini.latency = Latency(image_ms=500)
    for colour in ("red", "green", "blue"):
        gemini.script("gemini.generate", Image(png(colour)))

    started = time.perf_counter()
    failures = avatars_ensure(selves=selves)
    elapsed = time.perf_counter() - started

    assert failures == {}
    assert elapsed < 1.2, f"three 0.5 s avatars took {elapsed:.2f} s: they were not drawn concurrently"
    for future_self in selves:
        future_self.refresh_from_db()
        assert future_self.avatar
    assert len(gemini.received("gemini.generate")) == 3


def test_a_gemini_outage_is_a_503_and_the_retry_succeeds(alice, alice_api, gemini, settings):
    settings.PROVIDER_RETRY_ATTEMPTS = 2
    future_self = make_future_self(owner=alice)
    gemini.script("gemini.generate", Fault(500), Fault(500))
    failed = alice_api.post("/api/avatar/generate", {"future_self_id": str(future_self.pk)})
    assert failed.status_code == 503
    assert failed.json() == {"detail": failed.json()["detail"], "code": "provider_unavailable", "retryable": True}

    gemini.script("gemini.generate", Image(png("navy")))
    retried = alice_api.post("/api/avatar/generate", {"future_self_id": str(future_self.pk)})
    assert retried.status_code == 200
