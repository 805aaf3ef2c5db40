"""In the browser: a guest finds their data from the header, reads it, deletes it."""

from tests.e2e.conftest import screenshot


def test_a_guest_reads_and_deletes_their_data_from_the_header(live_server_offline, page):
    url = live_server_offline.url
    page.goto(url + "/")
    page.get_by_label("I am 18 or older").check()
    page.get_by_role("button", name="Start your interview").click()
    page.locator(".bubble--interviewer").first.wait_for()
    page.locator("#answer").fill("I'm Maya, 34, I live in Lyon and work as a nurse.")
    page.get_by_role("button", name="Send").click()
    page.locator(".bubble--interviewer").nth(1).wait_for()

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Your data").click()
    page.get_by_role("heading", name="Your data", exact=True).wait_for()
    assert page.locator(".session-list__item").count() == 1
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the data page scrolls sideways"
    assert page.console_errors == []
    screenshot(page, "data-page-390")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name="Read it here").click()
    assert page.get_by_text("I'm Maya, 34, I live in Lyon").is_visible()
    page.go_back()

    page.get_by_role("link", name="Delete the interview", exact=False).click()
    page.get_by_role("heading", name="Delete this interview?").wait_for()
    page.get_by_role("button", name="Delete").click()
    page.get_by_text("The interview and everything made from it are deleted.").wait_for()
    assert page.get_by_text("No interviews yet.").is_visible()

    page.get_by_role("link", name="Delete everything…").click()
    page.get_by_label('Type "delete" to confirm').fill("delete")
    page.get_by_role("button", name="Delete everything").click()
    page.get_by_text("Everything you had here is deleted.").wait_for()
    # Playwright's full-page screenshot applies an inline style the CSP reports: that one is ours to ignore.
    assert [e for e in page.console_errors if not e.startswith("Applying inline style")] == []
