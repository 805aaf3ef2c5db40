"""Logs never contain what the person said (nor API keys)."""

from __future__ import annotations

import logging

import pytest

from futureself.providers import registry
from tests.builders import SAMPLE_ANSWERS
from tests.fakes.providers import FakeChat, FakeImageGenerator, FakeTextToSpeech
from tests.futureself.offline_session import CONVERSATION_LINES, run_offline_session

pytestmark = pytest.mark.django_db

MARKED_ANSWERS = [f"{answer} (marker Quokka-{n})" for n, answer in enumerate(SAMPLE_ANSWERS)]
RISKY = "Quokka-risk I want to kill myself"


def test_a_whole_session_logs_none_of_the_persons_words(alice_client, caplog, settings):
    settings.RATE_LIMITS_ENABLED = False
    settings.MISTRAL_API_KEY = "sk-test-should-never-be-logged"
    caplog.set_level(logging.DEBUG)
    with registry.use_providers(
        chat=FakeChat(fallback_offline=True), tts=FakeTextToSpeech(), image=FakeImageGenerator()
    ):
        session = run_offline_session(alice_client, answers=[*MARKED_ANSWERS[:3], RISKY, *MARKED_ANSWERS[3:]])

    assert session.interview.safety_events.count() == 1  # the check fired and logged it
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "safety check fired" in text
    assert "Quokka" not in text
    for line in CONVERSATION_LINES:
        assert line not in text
    assert "kill myself" not in text
    assert "sk-test-should-never-be-logged" not in text
