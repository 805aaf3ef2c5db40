from tests.e2e.conftest import screenshot


def test_home_page_renders_without_console_errors_at_desktop_and_phone_width(live_server_offline, page):
    page.goto(live_server_offline.url + "/")
    assert page.get_by_role("heading", name="Talk with the person you might become.").is_visible()
    assert page.get_by_text("Offline mode.").is_visible()
    screenshot(page, "home-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "home-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    assert page.console_errors == []


def test_api_docs_render_under_the_csp(live_server_offline, page):
    page.goto(live_server_offline.url + "/api/docs")
    page.get_by_text("futureself API").first.wait_for()
    assert page.locator(".opblock").count() >= 1
    assert page.console_errors == []
