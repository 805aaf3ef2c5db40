import asyncio
import time

import pytest
from asgiref.sync import async_to_sync

from futureself.models import ProviderCall
from futureself.providers import registry
from futureself.providers.base import ModerationResult, ModerationScores, ProviderUnavailable
from futureself.providers.recording import deferred_recording, flush_provider_calls
from futureself.safety.checker import check_text
from futureself.safety.moderation import assess, moderate, moderation_configured

# Every moderation call is recorded, so every test may write a ProviderCall row.
pytestmark = pytest.mark.django_db(transaction=True)


async def test_it_flags_what_the_moderation_model_marks_as_self_harm(fake_moderation):
    fake_moderation.flag("selfharm", 0.91)
    verdict = await moderate("some words the phrase list does not know")
    assert verdict.flagged
    assert (verdict.category, verdict.detector) == ("self_harm", "moderation")
    assert verdict.matched == "selfharm 0.91"
    assert fake_moderation.requests[0]["model"] == "mistral-moderation-latest"
    assert fake_moderation.requests[0]["input"] == ["some words the phrase list does not know"]
    assert fake_moderation.headers[0]["Authorization"] == "Bearer test-key-not-real"


async def test_it_ignores_categories_it_is_not_asked_to_watch(fake_moderation):
    fake_moderation.flag("sexual")
    assert not (await moderate("an ordinary sentence")).flagged


async def test_it_flags_a_score_over_the_configured_threshold(fake_moderation, settings):
    settings.SAFETY_MODERATION_THRESHOLD = 0.5
    fake_moderation.scores["selfharm"] = 0.6
    assert (await moderate("an ordinary sentence")).flagged


@pytest.mark.parametrize("status", [500, 503, 429, 401])
async def test_it_fails_open_when_the_endpoint_errors(fake_moderation, status):
    fake_moderation.status = status
    fake_moderation.body = '{"message": "nope"}'
    verdict = await moderate("an ordinary sentence")
    assert not verdict.flagged
    assert len(fake_moderation.requests) == 1


async def test_it_fails_open_on_a_garbage_body(fake_moderation):
    fake_moderation.body = "<html>not json</html>"
    assert not (await moderate("an ordinary sentence")).flagged


async def test_it_gives_up_at_its_deadline_instead_of_holding_the_message(fake_moderation, settings):
    settings.SAFETY_MODERATION_TIMEOUT = 0.2
    fake_moderation.delay = 1.0
    started = time.perf_counter()
    verdict = await moderate("an ordinary sentence")
    assert not verdict.flagged
    assert time.perf_counter() - started < 0.8


async def test_it_fails_open_when_nothing_listens(settings):
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    settings.MISTRAL_API_KEY = "test-key-not-real"
    settings.MISTRAL_SERVER_URL = "http://127.0.0.1:9"
    assert not (await moderate("an ordinary sentence")).flagged


async def test_it_makes_no_call_without_a_key(fake_moderation, settings):
    settings.MISTRAL_API_KEY = ""
    assert not (await moderate("an ordinary sentence")).flagged
    assert fake_moderation.requests == []


async def test_assess_answers_from_the_phrase_check_without_calling_moderation(fake_moderation):
    verdict = await assess("je veux me suicider")
    assert verdict.flagged
    assert verdict.detector == "phrases"
    assert fake_moderation.requests == []


async def test_assess_reuses_a_phrase_verdict_the_caller_already_has(fake_moderation, monkeypatch):
    from futureself.safety import moderation

    flagged = check_text("je veux me suicider")
    monkeypatch.setattr(moderation, "check_text", lambda text: pytest.fail("the phrases ran again"))

    assert await assess("je veux me suicider", phrases=flagged) is flagged
    assert fake_moderation.requests == []


async def test_assess_asks_moderation_when_the_phrases_see_nothing(fake_moderation):
    fake_moderation.flag("selfharm")
    verdict = await assess("an unusual way of saying it")
    assert verdict.detector == "moderation"
    assert len(fake_moderation.requests) == 1


class ScriptedModerator:
    """A moderation provider answering from a list (a ModerationResult or an exception per call)."""

    name = "scripted"
    model = "scripted-moderation"

    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls: list[list[str]] = []

    async def moderate(self, texts):
        self.calls.append(list(texts))
        reply = self.replies.pop(0) if self.replies else ModerationResult(results=[ModerationScores()] * len(texts))
        if isinstance(reply, BaseException):
            raise reply
        return reply


async def test_it_makes_no_call_while_chat_is_offline_even_with_a_mistral_key(fake_moderation, settings):
    settings.FUTURESELF_CHAT_PROVIDER = "offline"

    assert not moderation_configured()
    assert not (await moderate("an ordinary sentence")).flagged
    assert fake_moderation.requests == []


async def test_it_makes_no_call_when_switched_off(fake_moderation, settings):
    settings.SAFETY_MODERATION_ENABLED = False

    assert not (await moderate("an ordinary sentence")).flagged
    assert fake_moderation.requests == []


@pytest.mark.django_db
def test_a_moderation_call_is_recorded_as_a_provider_call(fake_moderation):
    fake_moderation.flag("selfharm", 0.9)

    assert async_to_sync(moderate)("an unusual way of saying it").flagged

    call = ProviderCall.objects.get()
    assert (call.interface, call.task, call.provider, call.model) == (
        "chat",
        "moderation",
        "mistral",
        "mistral-moderation-latest",
    )
    assert (call.outcome, call.error_code) == ("ok", "")


@pytest.mark.django_db
def test_a_failed_moderation_call_is_recorded_with_its_error(fake_moderation):
    fake_moderation.status = 503
    fake_moderation.body = "{}"

    assert not async_to_sync(moderate)("an ordinary sentence").flagged

    call = ProviderCall.objects.get()
    assert (call.task, call.outcome, call.error_code) == ("moderation", "error", "provider_unavailable")


async def test_on_the_voice_path_the_record_is_written_in_the_background(fake_moderation):
    with deferred_recording():
        assert not (await moderate("an ordinary sentence")).flagged
        assert len(fake_moderation.requests) == 1
        assert await ProviderCall.objects.acount() == 0  # nothing written while the person waits
        await flush_provider_calls()
    assert await ProviderCall.objects.filter(task="moderation").acount() == 1


async def test_the_registry_serves_an_injected_moderation_provider(settings):
    settings.SAFETY_MODERATION_THRESHOLD = None
    flagged = ModerationResult(results=[ModerationScores(categories={"selfharm": True}, scores={"selfharm": 0.7})])
    moderator = ScriptedModerator(flagged, ProviderUnavailable("down"))

    with registry.use_providers(moderation=moderator):
        first = await moderate("words")
        second = await moderate("more words")

    assert (first.flagged, first.matched) == (True, "selfharm 0.70")
    assert not second.flagged  # failed open
    assert moderator.calls == [["words"], ["more words"]]


async def test_a_provider_that_ignores_its_deadline_is_still_cut_off(settings):
    settings.SAFETY_MODERATION_TIMEOUT = 0.1

    class Hanging(ScriptedModerator):
        async def moderate(self, texts):
            await asyncio.sleep(5)

    started = time.perf_counter()
    with registry.use_providers(moderation=Hanging()):
        assert not (await moderate("words")).flagged
    assert time.perf_counter() - started < 1.0


async def test_it_keeps_one_provider_and_its_clients_per_event_loop(fake_moderation, settings):
    from futureself.providers import mistral

    provider = registry.moderation()

    def clients() -> set[int]:
        return {id(provider.inner.client()) for _ in range(2 * mistral.POOL_SHARDS)}

    before = clients()
    await moderate("one")
    await moderate("two")

    assert registry.moderation() is provider
    assert clients() == before
    assert len(before) == 1  # calls one at a time share the first SDK client, never rebuilt
    settings.MISTRAL_SERVER_URL = "http://127.0.0.1:10"
    assert registry.moderation() is not provider
