"""The conversation page in Chromium against the real app (daphne; the chat model is the local Mistral
fake, paced so a reply visibly streams; every other provider offline)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import LiveServer, screenshot, start_server, stop_server
from tests.vendor_fakes.server import Latency, VendorFake

NAME = "Maya who chose: Move to Montreal"
SEED = """
from django.contrib.auth import get_user_model
from personas.services import avatar_ensure
from tests.builders import make_conversation, make_future_self
user = get_user_model().objects.create_user("maya-e2e", "", "a long password 123")
future_self = avatar_ensure(future_self=make_future_self(owner=user))
conversation = make_conversation(
    future_self=future_self,
    messages=[("user", "Is it really you?"), ("future_self", "It is, more or less.")],
)
print(conversation.pk)
"""
REPLY = (
    "The hardest part was the first winter in Montreal. I missed Lea every Sunday. "
    "It got easier once the ward felt like mine."
)
# About 25 tokens at 8 a second: the reply takes some three seconds to stream.
SLOW_MODEL = Latency(llm_tokens_per_second=8)


@pytest.fixture(scope="module")
def slow_chat_server() -> Iterator[tuple[LiveServer, VendorFake]]:
    fake = VendorFake()
    fake.start()
    server = start_server(
        {
            "MISTRAL_API_KEY": "fake-mistral-key",
            "MISTRAL_SERVER_URL": fake.base_url,
            "FUTURESELF_CHAT_PROVIDER": "mistral",
            "FUTURESELF_STT_PROVIDER": "offline",
            "FUTURESELF_TTS_PROVIDER": "offline",
            "FUTURESELF_IMAGE_PROVIDER": "offline",
        }
    )
    yield server, fake
    stop_server(server)
    fake.stop()


def test_a_conversation_streams_resumes_and_ends_in_a_debrief(slow_chat_server, page):
    server, fake = slow_chat_server
    conversation_id = server.manage("shell", "-c", SEED).strip().splitlines()[-1]
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", "maya-e2e")
    page.fill("input[name=password]", "a long password 123")
    page.click("button[type=submit]")

    page.goto(f"{server.url}/conversations/{conversation_id}/")
    assert page.get_by_text("AI, not a real person.").is_visible()
    # The self is shown by name and portrait (a real image, loaded).
    assert page.locator(".chat__name").inner_text() == NAME
    avatar = page.locator("img.chat__avatar")
    assert avatar.is_visible()
    assert avatar.get_attribute("alt") == f"Portrait of {NAME}"
    page.wait_for_function(
        "() => { const img = document.querySelector('img.chat__avatar'); return img.naturalWidth > 0; }",
        timeout=5000,
    )
    page.locator("[data-send]:not([disabled])").wait_for(timeout=5000)
    assert page.locator(".bubble").count() == 2

    fake.script("mistral.chat", REPLY)
    fake.latency = SLOW_MODEL
    page.fill("#chat-text", "What was the hardest part of leaving?")
    page.keyboard.press("Enter")
    # The reply streams: its bubble shows part of it, under the self's name, before it is complete.
    page.locator(".bubble--streaming").wait_for(state="attached", timeout=5000)
    partial = page.wait_for_function(
        """() => {
            const text = document.querySelector('.bubble--streaming .bubble__text')?.textContent.trim();
            return text ? text : false;
        }""",
        timeout=5000,
    ).json_value()
    assert REPLY.startswith(partial)
    assert len(partial) < len(REPLY)
    assert page.locator(".bubble--streaming .bubble__who").inner_text() == NAME
    page.locator(".bubble--streaming").wait_for(state="detached", timeout=10000)
    fake.latency = Latency()
    assert page.locator(".bubble--future_self").last.locator(".bubble__text").inner_text() == REPLY
    assert page.locator("#chat-error").is_hidden()
    screenshot(page, "conversation-1280")

    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "conversation-360")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Resuming shows the whole history.
    page.reload()
    page.locator("[data-send]:not([disabled])").wait_for(timeout=5000)
    assert page.locator(".bubble").count() == 4

    fake.script("mistral.chat", {"summary": "A hard first winter.", "next_steps": ["Call Lea on Sunday."]})
    page.get_by_role("button", name="End and debrief").click()
    page.wait_for_url("**/debrief/")
    assert page.get_by_role("heading", name="Your debrief").is_visible()
    assert page.get_by_text("One small next step").is_visible()
    screenshot(page, "debrief-1280")
    assert page.console_errors == []
