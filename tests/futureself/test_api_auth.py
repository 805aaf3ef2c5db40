import pytest

from futureself.models import ApiToken, hash_token
from tests.builders import make_interview

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
