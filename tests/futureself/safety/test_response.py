from futureself.safety.checker import NOT_FLAGGED, SafetyVerdict, check_text
from futureself.safety.response import CRISIS_MESSAGES, crisis_resources, safety_payload, safety_ws_event


def contacts(resources) -> list[str]:
    return [resource.contact for resource in resources]


def test_a_clean_message_gets_an_empty_safety_member():
    assert safety_payload(NOT_FLAGGED).model_dump() == {"flagged": False, "message": None, "resources": []}


def test_a_flagged_message_gets_the_static_message_and_resources():
    payload = safety_payload(check_text("I want to end my life"), country="US").model_dump()
    assert payload["flagged"] is True
    assert payload["message"] == CRISIS_MESSAGES["en"]["self"]
    assert payload["resources"][0] == {"name": "988 Suicide & Crisis Lifeline (call or text)", "contact": "988"}
    assert all(set(item) == {"name", "contact"} for item in payload["resources"])


def test_the_message_follows_the_language_the_person_spoke():
    assert safety_payload(check_text("je veux mourir")).message == CRISIS_MESSAGES["fr"]["self"]
    moderation_verdict = SafetyVerdict(flagged=True, category="self_harm", detector="moderation")
    assert safety_payload(moderation_verdict, language="fr-CA").message == CRISIS_MESSAGES["fr"]["self"]
    assert safety_payload(moderation_verdict, language="de").message == CRISIS_MESSAGES["en"]["self"]


def test_harm_to_others_gets_its_own_message():
    assert safety_payload(check_text("I'm going to kill my boss")).message == CRISIS_MESSAGES["en"]["others"]


def test_resources_are_chosen_per_country_with_the_international_ones_last():
    assert contacts(crisis_resources("fr"))[0] == "3114"
    assert "116 123" in contacts(crisis_resources("GB"))
    assert "116 123" in contacts(crisis_resources("UK"))
    assert contacts(crisis_resources("CA"))[0] == "988"
    assert contacts(crisis_resources("ZZ")) == contacts(crisis_resources(None))
    assert contacts(crisis_resources(None))[-2] == "https://findahelpline.com"


def test_the_default_country_and_the_table_come_from_settings(settings):
    settings.SAFETY_DEFAULT_COUNTRY = "DE"
    settings.CRISIS_RESOURCES = {
        **settings.CRISIS_RESOURCES,
        "DE": [{"name": "TelefonSeelsorge", "contact": "0800 111 0 111"}],
    }
    assert contacts(crisis_resources())[0] == "0800 111 0 111"


def test_the_websocket_event_replaces_the_persona_reply():
    event = safety_ws_event(check_text("goodbye everyone, this is my goodbye"), country="FR")
    assert event["type"] == "safety"
    assert event["message"] == CRISIS_MESSAGES["en"]["self"]
    assert event["resources"][0]["contact"] == "3114"
