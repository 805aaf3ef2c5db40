from __future__ import annotations

import pytest

from futureself.providers.base import Voice
from futureself.providers.offline import OfflineChat
from personas.engines import FutureSelfGenerator
from tests.builders import sample_profile_data
from tests.fakes.providers import FakeChat, FakeTextToSpeech

FALLBACK = Voice("fallback-voice", "Fallback")


@pytest.fixture
def profile_data() -> dict:
    return sample_profile_data()


@pytest.fixture
def offline_generator() -> FutureSelfGenerator:
    return FutureSelfGenerator(chat=OfflineChat(), tts=FakeTextToSpeech(), fallback_voice=FALLBACK)


@pytest.fixture
def scripted_chat() -> FakeChat:
    return FakeChat()


@pytest.fixture
def scripted_generator(scripted_chat) -> FutureSelfGenerator:
    return FutureSelfGenerator(chat=scripted_chat, tts=FakeTextToSpeech(), fallback_voice=FALLBACK)
