"""What docs/providers.md promises: every provider setting is described, /api/status names
the offline providers, and each provider error answers the API status the docs give."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from futureself.providers import registry
from futureself.providers.base import (
    ProviderBadResponse,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderUnavailable,
)
from futureself.providers.resilience import error_for_status
from tests.fakes.providers import FakeChat

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "providers.md"
PROVIDER_SETTING = re.compile(
    r"(MISTRAL_|ELEVENLABS_|GEMINI_|PROVIDER_TIMEOUT_|PROVIDER_RETRY_)[A-Z0-9_]+|FUTURESELF_[A-Z]+_PROVIDER"
)


def environment_settings() -> set[str]:
    """Every variable settings.py reads through one of its ``env_*`` helpers, whatever the helper."""
    tree = ast.parse((ROOT / "futureself" / "settings.py").read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def test_every_provider_setting_is_described_in_docs_providers_md():
    names = {name for name in environment_settings() if PROVIDER_SETTING.fullmatch(name)}
    assert {"MISTRAL_API_KEY", "FUTURESELF_CHAT_PROVIDER", "PROVIDER_TIMEOUT_STT", "PROVIDER_RETRY_ATTEMPTS"} <= names
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", DOC.read_text(encoding="utf-8"), re.MULTILINE))
    assert sorted(names - documented) == []


# --- /api/status ---------------------------------------------------------------------------


def test_the_status_names_the_provider_of_each_interface_and_says_which_are_offline(client, settings):
    settings.MISTRAL_API_KEY = "test-key"
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    settings.FUTURESELF_IMAGE_PROVIDER = "gemini"

    response = client.get("/api/status")

    assert response.status_code == 200
    assert response.json() == {
        "chat": "mistral",
        "speech_to_text": "offline",
        "text_to_speech": "offline",
        "image": "gemini",
        "moderation": "mistral",  # follows chat
        "offline_mode": True,
    }


def test_the_status_says_offline_for_every_interface_with_no_vendor(client):
    body = client.get("/api/status").json()  # the test settings: no keys

    assert {body[i] for i in ("chat", "speech_to_text", "text_to_speech", "image", "moderation")} == {"offline"}
    assert body["offline_mode"] is True


def test_the_status_is_not_in_offline_mode_when_every_interface_has_a_vendor(client, settings):
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    settings.FUTURESELF_STT_PROVIDER = "elevenlabs"
    settings.FUTURESELF_TTS_PROVIDER = "elevenlabs"
    settings.FUTURESELF_IMAGE_PROVIDER = "mistral"

    body = client.get("/api/status").json()

    assert "offline" not in {body[i] for i in ("chat", "speech_to_text", "text_to_speech", "image")}
    assert body["offline_mode"] is False
    assert body["moderation"] == "offline"  # not an interface: without Mistral's key, the phrase check alone


# --- API status per provider error --------------------------------------------------------


def _refused() -> ProviderBadResponse:
    error = error_for_status(400, provider="fake", key_setting="FAKE_KEY", detail="bad request")
    assert isinstance(error, ProviderBadResponse)
    return error


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "status", "retryable"),
    [
        (ProviderUnavailable("down", provider="fake"), 503, True),
        (ProviderRateLimited("slow down", provider="fake"), 503, True),
        (ProviderBadResponse("garbled JSON", provider="fake"), 503, True),  # a malformed answer: try again
        (_refused(), 502, False),  # a refused request would be refused again
        (ProviderNotConfigured("no key", provider="fake"), 502, False),
    ],
    ids=["unavailable", "rate-limited", "malformed", "refused", "not-configured"],
)
def test_each_provider_error_answers_the_documented_status(alice_api, error, status, retryable):
    chat = FakeChat(fallback_offline=True).enqueue(error)
    with registry.use_providers(chat=chat):
        response = alice_api.post("/api/interview/respond", {"interview_id": None, "message": ""})

    assert response.status_code == status
    assert response.json() == {"detail": error.message, "code": error.code, "retryable": retryable}
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if f"| `{error.code}` |" in line]
    said = f"| {status}, {'retryable' if retryable else 'not retryable'} |"
    assert any(row.endswith(said) for row in rows), f"docs/providers.md should say {said!r} for {error.code}"
