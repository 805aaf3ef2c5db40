"""The whole journey in Chromium, as a guest, against daphne: home -> interview
(six typed answers) -> finish -> correct a profile field -> generate future
selves -> avatars -> talk by text -> end -> debrief -> export -> delete.

Run twice: with the offline providers, and with every vendor provider (Mistral,
ElevenLabs, Gemini) pointed at the local vendor fake. Each page is
screenshotted at 1280x800 and 390x844, must log no console error and must not
scroll sideways on a phone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.builders import SAMPLE_ANSWERS
from tests.e2e.conftest import LiveServer, screenshot, start_server, stop_server
from tests.vendor_fakes.server import VendorFake

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def live_server_vendor_fakes() -> Iterator[tuple[LiveServer, VendorFake]]:
    fake = VendorFake()
    fake.start()
    server = start_server(extra_env=fake.env())
    yield server, fake
    stop_server(server)
    fake.stop()


def settle(page) -> None:
    """Let the layout catch up with a viewport change before capturing it."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def check_page(page, name: str) -> None:
    """Screenshots at both sizes; no sideways scroll on a phone; no console errors so far."""
    page.wait_for_load_state("networkidle")
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    settle(page)
    screenshot(page, f"{name}-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways on a phone ({width}px wide)"
    page.set_viewport_size(DESKTOP)
    settle(page)
    assert page.console_errors == [], f"{name}: {page.console_errors}"


def run_journey(page, server: LiveServer, label: str) -> None:
    page.set_default_timeout(TIMEOUT)
    page.on("console", lambda m: print("CONSOLE", page.url, m.location, m.text[:60]))
    page.goto(server.url + "/")
    check_page(page, f"{label}-home")

    # Interview: six typed answers, each followed by a new question.
    page.get_by_label("I am 18 or older").check()
    page.get_by_role("button", name="Start your interview").click()
    page.wait_for_url("**/interview/*/")
    questions = page.locator(".bubble--interviewer")
    questions.first.wait_for()
    for count, answer in enumerate(SAMPLE_ANSWERS, start=1):
        page.locator("#answer").fill(answer)
        page.locator("#answer").press("Enter")
        page.locator(".bubble--user").nth(count - 1).wait_for()
        page.wait_for_function(
            "n => document.querySelectorAll('.bubble--interviewer').length > n"
            " && !document.querySelector('.bubble--pending')",
            arg=count,
        )
        page.locator("#answer:not([disabled])").wait_for()
    assert page.locator(".bubble--user").count() == len(SAMPLE_ANSWERS)
    check_page(page, f"{label}-interview")

    # Finish: the profile is built and shown.
    page.get_by_role("button", name="Finish interview").click()
    page.wait_for_url("**/profile/*/", timeout=60_000)
    page.get_by_role("heading", name="Your profile").wait_for()
    check_page(page, f"{label}-profile")

    # Correct a field inline.
    page.locator("#field-occupation .profile-field__edit").click()
    page.locator("#edit-occupation").fill("paediatric nurse")
    page.locator("#field-occupation").get_by_role("button", name="Save").click()
    page.locator("#field-occupation").get_by_text("(corrected by you)").wait_for()
    assert "paediatric nurse" in page.locator("#field-occupation").inner_text()
    assert page.get_by_text("Includes your corrections").is_visible()

    # Generate the future selves; every avatar loads.
    page.locator("#generate-dilemma").fill("Take the job in Montreal or stay in Lyon")
    # The options the profile found prefill the boxes (none with the vendor fake's minimal profile).
    page.locator("input[name=options]").nth(0).fill("Move to Montreal")
    page.locator("input[name=options]").nth(1).fill("Stay in Lyon")
    page.get_by_role("button", name="Generate my future selves").click()
    page.wait_for_function(
        "() => location.pathname.startsWith('/futures/') || document.querySelector('#generate-panel .error')",
        timeout=90_000,
    )
    assert page.locator("#generate-panel .error").count() == 0, page.locator("#generate-panel .error").inner_text()
    page.wait_for_url("**/futures/*/")
    cards = page.locator(".self-card")
    assert cards.count() >= 2
    page.wait_for_function(
        "n => document.querySelectorAll('img.self-avatar__image').length >= n", arg=cards.count(), timeout=60_000
    )
    for index in range(cards.count()):
        image = page.locator("img.self-avatar__image").nth(index)
        image.scroll_into_view_if_needed()  # they load lazily
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    page.evaluate("window.scrollTo(0, 0)")
    assert page.locator(".self-avatar__error").count() == 0
    check_page(page, f"{label}-futures")

    # Talk to the first self by text: a streamed reply appears.
    cards.first.get_by_role("button", name="Talk to this self").click()
    page.wait_for_url("**/conversations/*/")
    page.locator("[data-send]:not([disabled])").wait_for()
    page.fill("#chat-text", "What was the hardest part of this path?")
    page.keyboard.press("Enter")
    page.locator(".bubble--future_self").first.wait_for()
    page.locator(".bubble--streaming").wait_for(state="detached")
    reply = page.locator(".bubble--future_self").last.inner_text()
    assert len(reply.strip()) > 20, reply
    assert page.locator("#chat-error").is_hidden()
    check_page(page, f"{label}-conversation")

    # End and debrief.
    page.get_by_role("button", name="End and debrief").click()
    page.wait_for_url("**/debrief/", timeout=60_000)
    page.get_by_role("heading", name="Your debrief").wait_for()
    check_page(page, f"{label}-debrief")

    # Export with the browser's own session, then delete everything.
    export = page.request.get(server.url + "/api/me/export")
    assert export.status == 200, export.text()
    document = export.json()
    assert "paediatric nurse" in export.text()
    assert document["interviews"], document
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    deleted = page.request.delete(server.url + "/api/me", headers={"X-CSRFToken": csrf, "Referer": server.url + "/"})
    assert deleted.status == 204, deleted.text()
    assert page.request.get(server.url + "/api/me/export").status == 401
    page.goto(server.url + "/")
    assert page.locator(".session-list__item").count() == 0
    assert page.console_errors == []


def test_a_guest_goes_from_interview_to_debrief_then_exports_and_deletes_offline(live_server_offline, page):
    run_journey(page, live_server_offline, "offline")


def test_the_same_journey_works_with_every_vendor_pointed_at_the_local_fakes(live_server_vendor_fakes, page):
    server, fake = live_server_vendor_fakes
    run_journey(page, server, "vendors")
    for route in ("mistral.chat", "gemini.generate"):
        assert fake.received(route), f"the app never called {route}"
