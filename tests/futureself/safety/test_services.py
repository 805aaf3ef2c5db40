import pytest

from futureself.models import ProviderCall, SafetyEvent
from futureself.safety.services import asafety_screen, safety_screen
from tests.builders import make_conversation, make_interview

pytestmark = pytest.mark.django_db

MARKER = "Zebra-Quartz-1234"


def test_a_flagged_message_records_an_event_with_the_phrase_not_the_message(alice):
    interview = make_interview(owner=alice)
    outcome = safety_screen(
        text=f"{MARKER} I want to kill myself", source="interview", interview=interview, input_mode="text"
    )
    assert outcome.flagged
    assert outcome.payload.flagged
    assert outcome.ws_event["type"] == "safety"
    event = SafetyEvent.objects.get()
    assert event == outcome.event
    assert (event.source, event.category, event.language, event.detector) == (
        "interview",
        "suicidal_ideation",
        "en",
        "phrases",
    )
    assert event.matched == "want to kill myself"
    assert event.interview == interview
    assert not SafetyEvent.objects.filter(matched__icontains=MARKER.lower()).exists()


def test_a_clean_message_records_nothing(alice):
    outcome = safety_screen(text="Tell me about Montreal", source="interview", interview=make_interview(owner=alice))
    assert not outcome.flagged
    assert outcome.payload.model_dump() == {"flagged": False, "message": None, "resources": []}
    assert outcome.ws_event is None
    assert not SafetyEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_the_async_screen_links_a_conversation_event_to_its_interview(alice):
    from asgiref.sync import sync_to_async

    conversation = await sync_to_async(make_conversation)(owner=alice)
    outcome = await asafety_screen(text="j'ai envie de mourir", source="conversation", conversation=conversation)
    assert outcome.ws_event["message"].startswith("Je sors un instant")
    event = await SafetyEvent.objects.select_related("interview").aget()
    assert event.conversation_id == conversation.pk
    interview_id = await sync_to_async(lambda: conversation.future_self.profile.interview_id)()
    assert event.interview_id == interview_id


def test_the_log_line_never_carries_the_message(alice, caplog):
    safety_screen(text=f"{MARKER} je veux en finir", source="interview", interview=make_interview(owner=alice))
    assert "safety check fired" in caplog.text
    assert MARKER not in caplog.text


def test_staff_can_filter_safety_events_in_admin(alice, staff, client):
    interview = make_interview(owner=alice)
    safety_screen(text="I want to kill myself", source="interview", interview=interview)
    client.force_login(staff)
    page = client.get("/admin/futureself/safetyevent/", {"category": "suicidal_ideation", "source": "interview"})
    assert page.status_code == 200
    assert "suicidal_ideation" in page.text
    assert client.get("/admin/futureself/safetyevent/", {"q": str(interview.pk)}).status_code == 200
    assert client.get("/admin/futureself/safetyevent/", {"category": "farewell"}).context["cl"].result_count == 0


def test_the_sync_screen_uses_moderation_when_the_phrases_see_nothing(alice, fake_moderation):
    fake_moderation.flag("selfharm", 0.88)
    outcome = safety_screen(text="an unusual way to say it", source="interview", interview=make_interview(owner=alice))
    assert outcome.flagged
    assert SafetyEvent.objects.get().detector == "moderation"
    assert SafetyEvent.objects.get().matched == "selfharm 0.88"


def test_the_sync_screen_keeps_working_when_moderation_is_down(alice, fake_moderation):
    fake_moderation.status = 503
    fake_moderation.body = "{}"
    interview = make_interview(owner=alice)
    assert safety_screen(text="je veux en finir", source="interview", interview=interview).flagged
    assert not safety_screen(text="Tell me about Montreal", source="interview", interview=interview).flagged
    assert len(fake_moderation.requests) == 1


def test_the_moderation_call_is_recorded_against_the_interview(alice, fake_moderation):
    interview = make_interview(owner=alice)
    safety_screen(text="Tell me about Montreal", source="interview", interview=interview)
    call = ProviderCall.objects.get()
    assert (call.task, call.interview_id) == ("moderation", interview.pk)


def test_the_screen_never_calls_moderation_while_chat_is_offline(alice, fake_moderation, settings):
    settings.FUTURESELF_CHAT_PROVIDER = "offline"
    outcome = safety_screen(text="an unusual way to say it", source="interview", interview=make_interview(owner=alice))
    assert not outcome.flagged
    assert fake_moderation.requests == []
    assert not ProviderCall.objects.exists()
