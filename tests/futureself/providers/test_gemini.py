"""Contract tests: the real google-genai client against the local vendor fake."""

from __future__ import annotations

import base64
import time

import pytest

from futureself.providers.base import (
    ImageGenerator,
    ProviderBadResponse,
    ProviderNotConfigured,
    ProviderUnavailable,
)
from futureself.providers.gemini import GeminiImage
from futureself.providers.resilience import Deadlines, RetryPolicy
from tests.vendor_fakes import Fault, Image, Malformed, NoImage, Stall
from tests.vendor_fakes.samples import png

ROOMY = Deadlines(image=10, complete=5)  # the stall test sets a short one
QUICK_RETRIES = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=3)


def painter(fake, **overrides) -> GeminiImage:
    options = {"api_key": "g-test", "base_url": fake.base_url, "deadlines": ROOMY, "retry": QUICK_RETRIES}
    return GeminiImage(model="gemini-3.1-flash-image", **{**options, **overrides})


async def test_generate_returns_the_inline_image_and_asks_for_image_output(vendor_fake):
    portrait = png((200, 180, 150))
    vendor_fake.script("gemini.generate", Image(portrait))

    result = await painter(vendor_fake).generate("A man of 70 by the sea, soft light, oil painting")

    assert isinstance(painter(vendor_fake), ImageGenerator)
    assert result.data == portrait
    assert result.content_type == "image/png"
    assert result.model == "gemini-3.1-flash-image"
    sent = vendor_fake.last("gemini.generate")
    assert sent.path.endswith("/models/gemini-3.1-flash-image:generateContent")
    assert sent.headers["x-goog-api-key"] == "g-test"
    assert sent.json["contents"][0]["parts"][0]["text"] == "A man of 70 by the sea, soft light, oil painting"
    assert sent.json["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert sent.json["generationConfig"]["imageConfig"]["aspectRatio"] == "1:1"


async def test_a_safety_block_is_a_bad_response_with_the_reason(vendor_fake):
    vendor_fake.script("gemini.generate", NoImage(reason="IMAGE_SAFETY", text="I can't draw that."))

    with pytest.raises(ProviderBadResponse, match="IMAGE_SAFETY"):
        await painter(vendor_fake).generate("a portrait")


async def test_a_blocked_prompt_is_a_bad_response_with_the_block_reason(vendor_fake):
    vendor_fake.script("gemini.generate", NoImage(reason="SAFETY", text=""))

    with pytest.raises(ProviderBadResponse, match=r"prompt was blocked \(SAFETY\)"):
        await painter(vendor_fake).generate("a portrait")


async def test_a_rejected_key_is_not_configured(vendor_fake):
    vendor_fake.script("gemini.generate", Fault(403))

    with pytest.raises(ProviderNotConfigured, match="GEMINI_API_KEY"):
        await painter(vendor_fake).generate("a portrait")
    assert len(vendor_fake.received("gemini.generate")) == 1


async def test_rate_limit_honours_retry_after_then_succeeds(vendor_fake):
    vendor_fake.script("gemini.generate", Fault(429, retry_after=0.3))

    started = time.perf_counter()
    result = await painter(vendor_fake).generate("a portrait")

    assert result.data.startswith(b"\x89PNG")
    assert time.perf_counter() - started >= 0.3
    assert len(vendor_fake.received("gemini.generate")) == 2


async def test_server_errors_are_retried_then_unavailable(vendor_fake):
    vendor_fake.script("gemini.generate", Fault(500), Fault(500), Fault(500))

    with pytest.raises(ProviderUnavailable):
        await painter(vendor_fake).generate("a portrait")
    assert len(vendor_fake.received("gemini.generate")) == 3


async def test_a_stalled_generation_misses_its_deadline(vendor_fake):
    vendor_fake.script("gemini.generate", Stall())

    with pytest.raises(ProviderUnavailable):
        await painter(vendor_fake, deadlines=Deadlines(image=0.3), retry=RetryPolicy(attempts=1)).generate("x")


async def test_a_malformed_body_is_a_bad_response(vendor_fake):
    vendor_fake.script("gemini.generate", Malformed())

    with pytest.raises(ProviderBadResponse):
        await painter(vendor_fake).generate("a portrait")


async def test_a_jpeg_keeps_its_content_type(vendor_fake):
    jpeg = b"\xff\xd8\xff\xe0" + base64.b64decode("AAAA")
    vendor_fake.script("gemini.generate", Image(jpeg, "image/jpeg"))

    result = await painter(vendor_fake).generate("a portrait")

    assert result.content_type == "image/jpeg"
    assert result.data == jpeg


def test_a_missing_key_is_not_configured():
    with pytest.raises(ProviderNotConfigured, match="GEMINI_API_KEY"):
        GeminiImage(api_key="")
