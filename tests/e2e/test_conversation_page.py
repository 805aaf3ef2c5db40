"""The conversation page in Chromium against the real app (daphne, offline providers)."""

from __future__ import annotations

from tests.e2e.conftest import screenshot

SEED = """
from django.contrib.auth import get_user_model
from tests.builders import make_conversation, make_future_self
user = get_user_model().objects.create_user("maya-e2e", "", "a long password 123")
conversation = make_conversation(
    future_self=make_future_self(owner=user),
    messages=[("user", "Is it really you?"), ("future_self", "It is, more or less.")],
)
print(conversation.pk)
"""


def test_a_conversation_streams_resumes_and_ends_in_a_debrief(live_server_offline, page):
    conversation_id = live_server_offline.manage("shell", "-c", SEED).strip().splitlines()[-1]
    page.goto(live_server_offline.url + "/accounts/login/")
    page.fill("input[name=username]", "maya-e2e")
    page.fill("input[name=password]", "a long password 123")
    page.click("button[type=submit]")

    page.goto(f"{live_server_offline.url}/conversations/{conversation_id}/")
    assert page.get_by_text("AI, not a real person.").is_visible()
    page.locator("[data-send]:not([disabled])").wait_for(timeout=5000)
    assert page.locator(".bubble").count() == 2

    page.fill("#chat-text", "What was the hardest part of leaving?")
    page.keyboard.press("Enter")
    page.locator(".bubble").nth(3).wait_for(timeout=5000)
    page.locator(".bubble--streaming").wait_for(state="detached", timeout=5000)
    reply = page.locator(".bubble--future_self").last.inner_text()
    assert "Montreal" in reply
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

    page.get_by_role("button", name="End and debrief").click()
    page.wait_for_url("**/debrief/")
    assert page.get_by_role("heading", name="Your debrief").is_visible()
    assert page.get_by_text("One small next step").is_visible()
    screenshot(page, "debrief-1280")
    assert page.console_errors == []
