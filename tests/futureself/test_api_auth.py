import pytest
from django.conf import settings
from django.test import Client

from futureself.models import ApiToken, hash_token
from interviews.models import Profile
from tests.builders import make_interview, make_profile

pytestmark = pytest.mark.django_db


def test_it_returns_401_without_a_token(anon_api, alice):
    interview = make_interview(owner=alice)
    response = anon_api.get(f"/api/interview/{interview.pk}")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication required: send a valid API token.",
        "code": "unauthorized",
        "retryable": False,
    }


def test_it_returns_401_for_an_invalid_token(alice):
    from tests.conftest import ApiClient

    interview = make_interview(owner=alice)
    response = ApiClient("fs_not-a-real-token").get(f"/api/interview/{interview.pk}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_it_returns_401_for_a_token_of_an_inactive_user(alice, alice_api):
    interview = make_interview(owner=alice)
    alice.is_active = False
    alice.save()
    assert alice_api.get(f"/api/interview/{interview.pk}").status_code == 401


def test_a_valid_token_reaches_the_owners_interview(alice, alice_api):
    interview = make_interview(owner=alice, answers=["I live in Lyon."])
    response = alice_api.get(f"/api/interview/{interview.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["interview_id"] == str(interview.pk)
    assert [t["content"] for t in body["turns"]] == ["Tell me more?", "I live in Lyon."]


def test_it_returns_404_for_another_users_interview(alice, bob_api):
    interview = make_interview(owner=alice)
    response = bob_api.get(f"/api/interview/{interview.pk}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "retryable": False}


def test_tokens_are_stored_hashed_and_mark_their_last_use(alice, alice_token, alice_api):
    token = ApiToken.objects.get(user=alice)
    assert token.token_hash == hash_token(alice_token)
    assert alice_token not in {token.token_hash, token.prefix, token.name}
    assert token.last_used_at is None
    alice_api.get(f"/api/interview/{make_interview(owner=alice).pk}")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_session_auth_works_for_the_web_ui_with_csrf(alice, alice_client):
    interview = make_interview(owner=alice)
    assert alice_client.get(f"/api/interview/{interview.pk}").status_code == 200


@pytest.fixture
def alice_browser(alice) -> Client:
    """A signed-in session that, like a real browser, is held to Django's CSRF check."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    return browser


def test_a_session_write_to_the_api_without_a_csrf_token_is_refused(alice, alice_browser):
    profile = make_profile(owner=alice)
    alice_browser.get("/")  # the page sets the CSRF cookie, but the request below does not send the token

    response = alice_browser.patch(
        f"/api/profile/{profile.pk}", {"data": {"name": "Mallory"}}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["detail"] == "CSRF check Failed"
    assert not Profile.objects.filter(data__name="Mallory").exists()


def test_a_session_write_to_the_api_with_the_csrf_token_succeeds(alice, alice_browser):
    profile = make_profile(owner=alice)
    alice_browser.get("/")

    response = alice_browser.patch(
        f"/api/profile/{profile.pk}",
        {"data": {"name": "Maya L."}},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=alice_browser.cookies[settings.CSRF_COOKIE_NAME].value,
    )

    assert response.status_code == 200, response.content
    assert response.json()["data"]["name"] == "Maya L."
    assert response.json()["version"] == 2


def test_a_bearer_token_write_needs_no_csrf_token(alice, alice_token):
    from tests.conftest import ApiClient

    profile = make_profile(owner=alice)
    external = ApiClient(alice_token, enforce_csrf_checks=True)
    assert external.patch(f"/api/profile/{profile.pk}", {"data": {"name": "Maya L."}}).status_code == 200


def test_a_web_guest_reaches_only_their_own_interview(client):
    session = client.session
    session["futureself_guest_key"] = "guest-key-1"
    session.save()
    mine = make_interview(guest_key="guest-key-1")
    theirs = make_interview(guest_key="guest-key-2")
    assert client.get(f"/api/interview/{mine.pk}").status_code == 200
    assert client.get(f"/api/interview/{theirs.pk}").status_code == 404


def test_a_user_does_not_reach_a_guests_interview(alice_api):
    guest_interview = make_interview(guest_key="some-guest")
    assert alice_api.get(f"/api/interview/{guest_interview.pk}").status_code == 404


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "futureself API"
    assert client.get("/api/docs").status_code == 200
