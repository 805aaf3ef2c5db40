import pytest
from django.test import Client
from django.urls import reverse

from futureself.forms import ADULT_SESSION_KEY
from futureself.ownership import GUEST_SESSION_KEY
from futureself.providers.base import ProviderUnavailable
from interviews.models import Interview, Profile, Turn
from tests.builders import SAMPLE_ANSWERS, make_interview, make_profile

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def ask_first_question(client, interview):
    return client.post(reverse("interviews:ask", kwargs={"pk": interview.pk}), **HTMX)


def test_a_visitor_starts_an_interview_as_a_guest(offline_chat):
    client = Client()
    response = client.post(reverse("interviews:start"), {"adult": "on"})
    interview = Interview.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("interviews:detail", kwargs={"pk": interview.pk})
    assert interview.owner is None
    assert interview.guest_key == client.session[GUEST_SESSION_KEY]
    page = client.get(response.url).content.decode()
    assert "an AI interviewer, not a person, and this is not therapy" in page
    assert 'hx-trigger="load"' in page


def test_a_guest_confirms_being_an_adult_before_the_first_interview(offline_chat):
    client = Client()
    assert "I am 18 or older" in client.get(reverse("home")).content.decode()

    refused = client.post(reverse("interviews:start"))

    assert refused.status_code == 400
    assert "futureself is for adults: please confirm you are 18 or older." in refused.content.decode()
    assert not Interview.objects.exists()
    assert GUEST_SESSION_KEY not in client.session  # nothing is kept for a visitor who did not confirm


def test_a_guest_confirms_once_per_session(offline_chat):
    client = Client()
    assert client.post(reverse("interviews:start"), {"adult": "on"}).status_code == 302
    assert client.session[ADULT_SESSION_KEY]  # when they confirmed

    assert "I am 18 or older" not in client.get(reverse("home")).content.decode()
    assert client.post(reverse("interviews:start")).status_code == 302
    assert Interview.objects.count() == 2


def test_a_signed_in_person_confirmed_at_sign_up_and_is_not_asked_again(offline_chat, alice):
    client = Client()
    client.force_login(alice)

    assert "I am 18 or older" not in client.get(reverse("home")).content.decode()
    assert client.post(reverse("interviews:start")).status_code == 302
    assert Interview.objects.get().owner == alice


def test_start_only_accepts_post(client):
    assert client.get(reverse("interviews:start")).status_code == 405


def test_the_interview_page_is_404_for_another_user(alice, bob):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:1])
    client = Client()
    client.force_login(bob)
    assert client.get(reverse("interviews:detail", kwargs={"pk": interview.pk})).status_code == 404
    answer_url = reverse("interviews:answer", kwargs={"pk": interview.pk})
    assert client.post(answer_url, {"message": "hi"}).status_code == 404
    assert Client().get(reverse("interviews:detail", kwargs={"pk": interview.pk})).status_code == 404


def test_an_answer_returns_the_transcript_partial_with_the_next_question(alice, alice_client, offline_chat):
    interview = make_interview(owner=alice)
    ask_first_question(alice_client, interview)
    response = alice_client.post(
        reverse("interviews:answer", kwargs={"pk": interview.pk}), {"message": SAMPLE_ANSWERS[0]}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="interview-chat"')
    assert "<html" not in html
    assert "children&#x27;s hospital" in html
    assert "What decision are you facing" in html
    assert "1 of 9" in html


def test_a_provider_failure_shows_an_inline_retry_that_resends_the_kept_message(alice, alice_client, offline_chat):
    interview = make_interview(owner=alice)
    ask_first_question(alice_client, interview)
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))
    url = reverse("interviews:answer", kwargs={"pk": interview.pk})
    html = alice_client.post(url, {"message": "I live in Lyon with Tom."}, **HTMX).content.decode()
    assert 'role="alert"' in html
    assert "Your words are saved" in html
    assert '<input type="hidden" name="message" value="I live in Lyon with Tom.">' in html
    assert Turn.objects.get(interview=interview, role="user").status == "pending"

    retried = alice_client.post(url, {"message": "I live in Lyon with Tom."}, **HTMX).content.decode()
    assert 'role="alert"' not in retried
    assert list(interview.turns.values_list("role", "status")) == [
        ("interviewer", "answered"),
        ("user", "answered"),
        ("interviewer", "answered"),
    ]


def test_an_empty_answer_is_refused_inline(alice, alice_client, offline_chat):
    interview = make_interview(owner=alice)
    ask_first_question(alice_client, interview)
    html = alice_client.post(
        reverse("interviews:answer", kwargs={"pk": interview.pk}), {"message": "  "}, **HTMX
    ).content.decode()
    assert "Please write an answer first." in html
    assert not interview.turns.filter(role="user").exists()


def test_finish_is_offered_after_a_few_answers(alice, alice_client):
    few = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:2])
    more = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:3])
    assert (
        "Finish interview" not in alice_client.get(reverse("interviews:detail", kwargs={"pk": few.pk})).content.decode()
    )
    assert "Finish interview" in alice_client.get(reverse("interviews:detail", kwargs={"pk": more.pk})).content.decode()


def test_finish_then_build_leads_to_the_profile_page(alice, alice_client, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS)
    response = alice_client.post(reverse("interviews:finish", kwargs={"pk": interview.pk}))
    assert response.status_code == 302
    page = alice_client.get(response.url).content.decode()
    assert "Building your profile" in page
    built = alice_client.post(reverse("interviews:build", kwargs={"pk": interview.pk}), **HTMX)
    profile = Profile.objects.get(interview=interview)
    assert built.headers["HX-Redirect"] == reverse("interviews:profile", kwargs={"pk": profile.pk})


def test_a_failed_build_shows_a_retry(alice, alice_client, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS, status="completed")
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))
    html = alice_client.post(reverse("interviews:build", kwargs={"pk": interview.pk}), **HTMX).content.decode()
    assert 'id="profile-building"' in html
    assert "Retry" in html
    assert not Profile.objects.filter(interview=interview).exists()


def test_the_profile_page_shows_evidence_and_the_personas_panel(alice, alice_client):
    profile = make_profile(owner=alice)
    html = alice_client.get(reverse("interviews:profile", kwargs={"pk": profile.pk})).content.decode()
    assert "“Family matters most to me”" in html
    assert "<details>" in html
    assert "Move to Montreal" in html
    assert 'id="generate-panel"' in html


def test_the_profile_page_is_404_for_another_user(alice, bob):
    profile = make_profile(owner=alice)
    client = Client()
    client.force_login(bob)
    assert client.get(reverse("interviews:profile", kwargs={"pk": profile.pk})).status_code == 404
    edit = reverse("interviews:profile_field", kwargs={"pk": profile.pk, "name": "name"})
    assert client.post(edit, {"value": "Bob"}).status_code == 404


def test_an_inline_edit_saves_a_new_version_and_swaps_the_profile(alice, alice_client):
    profile = make_profile(owner=alice)
    url = reverse("interviews:profile_field", kwargs={"pk": profile.pk, "name": "occupation"})
    form = alice_client.get(url, **HTMX).content.decode()
    assert 'name="value"' in form
    assert 'value="nurse"' in form
    response = alice_client.post(url, {"value": "head nurse"}, **HTMX)
    new = Profile.objects.get(interview=profile.interview, version=2)
    assert (new.data["occupation"], new.edited_by_user, new.edited_fields) == ("head nurse", True, ["occupation"])
    assert response.headers["HX-Replace-Url"] == reverse("interviews:profile", kwargs={"pk": new.pk})
    assert "corrected by you" in response.content.decode()


def test_the_dilemma_options_are_confirmed_one_per_line(alice, alice_client):
    profile = make_profile(owner=alice)
    url = reverse("interviews:profile_field", kwargs={"pk": profile.pk, "name": "dilemma"})
    alice_client.post(url, {"summary": "Montreal or Lyon", "options": "Go to Montreal\r\n\r\nStay in Lyon\r\n"}, **HTMX)
    new = Profile.objects.get(interview=profile.interview, version=2)
    assert new.data["dilemma"] == {"summary": "Montreal or Lyon", "options": ["Go to Montreal", "Stay in Lyon"]}


def test_an_invalid_edit_is_shown_in_the_field_and_saves_nothing(alice, alice_client):
    profile = make_profile(owner=alice)
    url = reverse("interviews:profile_field", kwargs={"pk": profile.pk, "name": "age"})
    response = alice_client.post(url, {"value": "200"}, **HTMX)
    assert response.headers["HX-Retarget"] == "#field-age"
    assert 'role="alert"' in response.content.decode()
    assert Profile.objects.filter(interview=profile.interview).count() == 1


def test_removing_an_item_saves_a_new_version_without_it(alice, alice_client):
    profile = make_profile(owner=alice)
    url = reverse("interviews:profile_remove_item", kwargs={"pk": profile.pk, "name": "relationships", "index": 0})
    alice_client.post(url, **HTMX)
    new = Profile.objects.get(interview=profile.interview, version=2)
    assert [r["name"] for r in new.data["relationships"]] == ["Lea"]
    assert new.edited_fields == ["relationships"]


def test_a_rebuild_from_the_profile_page_keeps_corrections(alice, alice_client, offline_chat):
    profile = make_profile(owner=alice)
    alice_client.post(
        reverse("interviews:profile_field", kwargs={"pk": profile.pk, "name": "name"}), {"value": "Maya L."}, **HTMX
    )
    response = alice_client.post(reverse("interviews:build", kwargs={"pk": profile.interview.pk}), {"rebuild": "1"})
    rebuilt = Profile.objects.get(interview=profile.interview, version=3)
    assert response.url == reverse("interviews:profile", kwargs={"pk": rebuilt.pk})
    assert rebuilt.data["name"] == "Maya L."
    assert rebuilt.edited_by_user is False
