"""Our ``get_discriminator`` in the Mistral SDK's place: the same answers, no garbage cycles."""

from __future__ import annotations

import enum
from types import SimpleNamespace

import pytest
from mistralai.client import models as sdk_models
from mistralai.client.utils import annotations

from futureself.providers import mistral
from futureself.providers.base import ChatMessage, ChatRequest
from tests.cycles import cyclic_functions_left_by


class Role(enum.Enum):
    USER = "user"


SDK_GET_DISCRIMINATOR = mistral.get_discriminator.sdk_original
SDK_AND_OURS = ("mistralai", "pydantic", "futureself")


@pytest.mark.parametrize(
    "model",
    [
        {"role": "user", "content": "hi"},
        SimpleNamespace(role="assistant"),
        SimpleNamespace(role=Role.USER),
        SimpleNamespace(ROLE=Role.USER),
        sdk_models.SystemMessage(content="Be kind."),
        {"content": [{"type": "text", "text": "x"}], "meta": {"role": "tool"}},
        {"content": [{"no": 1}, {"role": "user"}]},
        [{"no": 1}, {"role": "system"}],
        [{"no": 1}, SimpleNamespace(role="user")],
    ],
)
def test_it_answers_as_the_sdk_s_own(model):
    assert mistral.get_discriminator(model, "role", "role") == SDK_GET_DISCRIMINATOR(model, "role", "role")


@pytest.mark.parametrize("model", [{"content": "hi"}, {"ROLE": "user"}, [], [{"a": [1, 2]}], "text", 3])
def test_without_a_discriminator_it_fails_as_the_sdk_s_own(model):
    with pytest.raises(ValueError, match="Could not find discriminator field role") as ours:
        mistral.get_discriminator(model, "role", "role")
    with pytest.raises(ValueError, match="Could not find discriminator field role") as theirs:
        SDK_GET_DISCRIMINATOR(model, "role", "role")
    assert str(ours.value) == str(theirs.value)


def test_the_sdk_s_models_use_ours():
    assert annotations.get_discriminator is mistral.get_discriminator
    from mistralai.client.models import chatcompletionstreamrequest

    assert chatcompletionstreamrequest.get_discriminator is mistral.get_discriminator


def test_building_a_chat_request_leaves_nothing_for_the_cyclic_collector(monkeypatch):
    turn = ChatRequest(
        task="conversation",
        messages=[ChatMessage("system", "Be kind."), ChatMessage("user", "Hello."), ChatMessage("assistant", "Hi.")],
    )

    def build() -> None:
        sdk_models.ChatCompletionStreamRequest(model="mistral-small-latest", messages=mistral._messages(turn))

    assert cyclic_functions_left_by(build, packages=SDK_AND_OURS) == []
    # The SDK's own function leaves its cycles (this is what the replacement is for).
    monkeypatch.setattr(annotations, "get_discriminator", SDK_GET_DISCRIMINATOR)
    from mistralai.client.models import chatcompletionstreamrequest

    monkeypatch.setattr(chatcompletionstreamrequest, "get_discriminator", SDK_GET_DISCRIMINATOR)
    assert any(".get_discriminator." in name for name in cyclic_functions_left_by(build, packages=SDK_AND_OURS))
