import time

import httpx2
import pytest

from futureself.safety.moderation import assess, moderate


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


async def test_assess_asks_moderation_when_the_phrases_see_nothing(fake_moderation):
    fake_moderation.flag("selfharm")
    verdict = await assess("an unusual way of saying it")
    assert verdict.detector == "moderation"
    assert len(fake_moderation.requests) == 1


async def test_an_injected_client_is_used_and_left_open(settings):
    settings.MISTRAL_API_KEY = "test-key-not-real"
    settings.MISTRAL_SERVER_URL = "https://moderation.test"
    seen = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.path)
        return httpx2.Response(
            200,
            json={
                "id": "m",
                "model": "mistral-moderation-latest",
                "results": [{"categories": {"selfharm": True}, "category_scores": {"selfharm": 0.8}}],
            },
        )

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        assert (await moderate("words", http_client=client)).flagged
        assert not client.is_closed
    assert seen == ["/v1/moderations"]


async def test_it_keeps_one_client_per_event_loop_and_server(settings):
    from futureself.safety.moderation import _client

    settings.MISTRAL_API_KEY = "test-key-not-real"
    settings.MISTRAL_SERVER_URL = "http://127.0.0.1:9"
    first = _client(None)
    assert _client(None) is first
    settings.MISTRAL_SERVER_URL = "http://127.0.0.1:10"
    assert _client(None) is not first
