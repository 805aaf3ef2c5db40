"""In the browser: the crisis notice in the interview, and a rate limit shown inline."""

import time

import pytest

from tests.e2e.conftest import screenshot, start_server, stop_server

RISKY = "Honestly I want to kill myself, there is no reason to keep living."


def _start_interview(page, url: str) -> None:
    page.goto(url + "/")
    page.get_by_label("I am 18 or older").check()
    page.get_by_role("button", name="Start your interview").click()
    page.locator(".bubble--interviewer").first.wait_for()


def _answer(page, text: str) -> None:
    page.locator("#answer").fill(text)
    page.get_by_role("button", name="Send").click()


def test_a_risky_answer_shows_the_crisis_notice_and_the_interview_goes_on(live_server_offline, page):
    _start_interview(page, live_server_offline.url)
    questions = page.locator(".bubble--interviewer").count()

    _answer(page, RISKY)
    notice = page.locator(".safety-notice")
    notice.wait_for()
    assert "an AI" in notice.inner_text()
    assert "findahelpline.com" in notice.inner_text()
    assert page.locator(".bubble--interviewer").count() == questions  # the interviewer was not asked
    assert page.console_errors == []
    # Playwright's full-page screenshot applies an inline style that the CSP reports (and blocks)
    # a moment later, so the console is checked before it.
    screenshot(page, "interview-safety-notice")

    _answer(page, "I'm Maya, 34, I live in Lyon and work as a nurse.")
    page.locator(".bubble--interviewer").nth(questions).wait_for()  # (no wait_for_function: the CSP forbids eval)
    assert page.locator(".safety-notice").count() == 0


@pytest.fixture(scope="module")
def tight_server():
    server = start_server({"RATE_LIMIT_PROVIDER_USER": "2"})
    yield server
    stop_server(server)


def _clear_of_a_window_boundary(window: int = 60, needed: float = 25) -> None:
    """Rate limits count in fixed windows of the clock (``futureself.limits``): three requests
    that straddle a boundary are two windows, and the third is rightly not refused. Start where
    the window still has ``needed`` seconds left (a CI run failed at 22:33 on the minute's edge)."""
    left = window - time.time() % window
    if left < needed:
        time.sleep(left + 0.5)


def test_a_rate_limited_answer_is_explained_inline_and_keeps_the_text(tight_server, page):
    _clear_of_a_window_boundary()
    _start_interview(page, tight_server.url)  # the first question is request 1
    _answer(page, "I'm Maya, 34, I live in Lyon.")  # request 2
    page.locator(".bubble--interviewer").nth(1).wait_for()

    _answer(page, "Family matters most to me.")  # request 3: refused
    alert = page.locator("#request-alert")
    alert.wait_for(state="visible")
    assert "Too many requests" in alert.inner_text()
    assert "try again in" in alert.inner_text()
    assert page.locator("#answer").input_value() == "Family matters most to me."
    screenshot(page, "interview-rate-limited")
