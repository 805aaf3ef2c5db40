"""Contract tests: the real mistralai client against the local vendor fake."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from pydantic import BaseModel, Field

from futureself.providers.base import (
    ChatMessage,
    ChatRequest,
    Moderator,
    ProviderBadResponse,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderUnavailable,
)
from futureself.providers.mistral import MistralChat, MistralImage, MistralModeration
from futureself.providers.resilience import Deadlines, RetryPolicy
from tests.vendor_fakes import Fault, Image, Lingering, Malformed, NoImage, Stall
from tests.vendor_fakes.samples import png

# Roomy for calls meant to succeed (the SDK imports models lazily on first use, and
# the machine may be busy); the fault tests set short deadlines of their own.
ROOMY = Deadlines(first_token=5, stream_total=10, complete=5, structured=5, image=10)
QUICK_RETRIES = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=3)
MODELS = {"interview": "mistral-small-latest", "profile": "mistral-medium-latest"}


class Plan(BaseModel):
    title: str
    steps: list[str] = Field(min_length=1)
    years: int


def chat(fake, **overrides) -> MistralChat:
    options = {"api_key": "test-key", "server_url": fake.base_url, "models": MODELS, "deadlines": ROOMY}
    options["retry"] = QUICK_RETRIES
    return MistralChat(**{**options, **overrides})


def request(task: str = "interview", text: str = "I am thinking about moving abroad.") -> ChatRequest:
    return ChatRequest(
        task=task,
        messages=[ChatMessage("system", "You are a careful interviewer."), ChatMessage("user", text)],
        temperature=0.3,
    )


async def test_complete_returns_the_reply_with_model_and_usage(vendor_fake):
    vendor_fake.script("mistral.chat", "What draws you there?")

    result = await chat(vendor_fake).complete(request())

    assert result.text == "What draws you there?"
    assert result.model == "mistral-small-latest"
    assert result.usage.output_tokens == 4
    sent = vendor_fake.last("mistral.chat")
    assert sent.headers["Authorization"] == "Bearer test-key"
    assert sent.json["model"] == "mistral-small-latest"
    assert sent.json["temperature"] == 0.3
    assert sent.json["messages"] == [
        {"role": "system", "content": "You are a careful interviewer."},
        {"role": "user", "content": "I am thinking about moving abroad."},
    ]


async def test_the_task_picks_the_model_from_settings(vendor_fake):
    await chat(vendor_fake).complete(request(task="profile"))

    assert vendor_fake.last("mistral.chat").json["model"] == "mistral-medium-latest"


async def test_stream_yields_text_deltas_then_usage_and_model(vendor_fake):
    vendor_fake.script("mistral.chat", "It will be all right, mostly.")

    deltas = [d async for d in chat(vendor_fake).stream(request())]

    assert "".join(d.text for d in deltas) == "It will be all right, mostly."
    assert len([d for d in deltas if d.text]) == 6
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.output_tokens == 6
    assert deltas[-1].model == "mistral-small-latest"
    assert vendor_fake.last("mistral.chat").json["stream"] is True


def test_a_new_client_loads_no_ca_bundle(vendor_fake, monkeypatch):
    """Each client is one per event loop (per call on the sync paths) and per pool: given no sync
    client, the SDK made its own, with a new TLS context (~25 ms of CPU loading the CA bundle)."""
    import ssl

    adapter = chat(vendor_fake)
    adapter._new_client()  # the process's shared TLS context and sync client, made once
    loads = []
    real_load = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(
        ssl.SSLContext, "load_verify_locations", lambda *a, **kw: loads.append(1) or real_load(*a, **kw)
    )

    clients = [adapter._new_client()[0] for _ in range(3)]

    assert loads == []
    assert len({id(c) for c in clients}) == 3
    assert len({id(c.sdk_configuration.client) for c in clients}) == 1


async def test_requests_under_way_together_are_spread_over_several_connection_pools(vendor_fake):
    """One httpcore pool's bookkeeping grows with the square of its connections: requests in
    flight at the same time go through up to POOL_SHARDS clients, the least busy first."""
    from futureself.providers import mistral

    vendor_fake.script("mistral.chat", *[f"Reply number {n}." for n in range(mistral.POOL_SHARDS + 1)])
    adapter = chat(vendor_fake)

    streams = [adapter.stream(request()) for _ in range(mistral.POOL_SHARDS + 1)]
    for stream in streams:  # each keeps its response open after its first words
        assert (await anext(stream)).text
    shards = adapter._clients.get()
    assert len(shards) == mistral.POOL_SHARDS > 1
    assert sorted(count() for _, count in shards._shards) == [1] * (mistral.POOL_SHARDS - 1) + [2]
    for stream in streams:
        assert [d async for d in stream][-1].usage is not None


async def test_a_finished_stream_leaves_its_connection_for_the_next_request(vendor_fake):
    """Read only up to ``[DONE]``, a stream's response was closed before its body ended, and
    its connection could not be reused: every turn opened a new one. Nor could it when turns were
    spread over the pools in turn: each came to a pool idle for longer than the keep-alive."""
    vendor_fake.script("mistral.chat", "First reply.", "Second reply.")
    adapter = chat(vendor_fake)

    for _ in range(2):
        assert [d async for d in adapter.stream(request())][-1].usage is not None
        await asyncio.sleep(0.05)  # the body's end is read beside the caller; turns are seconds apart

    first, second = [r.peer for r in vendor_fake.requests if r.route == "mistral.chat"]
    assert first is not None
    assert second == first


async def test_a_reply_is_complete_at_done_even_while_the_body_stays_open(vendor_fake, monkeypatch):
    """The end of the body is read beside the caller: the reply's last words (and so its last
    sentence's speech) do not wait for it."""
    from futureself.providers import mistral

    monkeypatch.setattr(mistral, "_BODY_END_SECONDS", 5)
    vendor_fake.script("mistral.chat", Lingering("All done here.", seconds=1))

    started = time.monotonic()
    deltas = [d async for d in chat(vendor_fake).stream(request())]
    elapsed = time.monotonic() - started

    assert "".join(d.text for d in deltas) == "All done here."
    assert deltas[-1].usage is not None
    assert elapsed < 0.8
    await asyncio.gather(*mistral._closing)  # the body's end, read meanwhile


async def test_a_body_that_does_not_end_after_done_is_closed_after_a_bound(monkeypatch):
    """The end of the body is read beside the caller (the reply is complete at ``[DONE]``), and
    a server that keeps the body open gets the response closed after half a second."""
    from futureself.providers import mistral

    monkeypatch.setattr(mistral, "_BODY_END_SECONDS", 0.05)
    read_after_done = []

    async def lingering_body():
        yield b"data: [DONE]\n\n"
        read_after_done.append(True)
        await asyncio.sleep(60)  # the server keeps the body open
        yield b"never read"

    class Events:
        closed = False

        async def close(self):
            self.closed = True

    pieces, events = lingering_body(), Events()
    assert [chunk async for chunk in mistral._completion_chunks(pieces)] == []  # ends at [DONE] at once
    started = time.monotonic()

    await asyncio.wait_for(mistral.close_after_the_body(pieces, events), 5)

    assert read_after_done == [True]
    assert events.closed is True
    assert time.monotonic() - started < 5


async def test_the_sdks_request_hooks_run_on_the_event_loop_not_in_a_worker_thread(vendor_fake, monkeypatch):
    """Each trip to a worker thread cost up to a millisecond before a first token (see
    ``_run_sdk_hooks_inline``); the SDK's own user-agent hook still runs."""
    import threading

    from futureself.providers import mistral

    monkeypatch.setattr(mistral, "POOL_SHARDS", 1)  # the hooks go on the client that sends
    adapter = chat(vendor_fake)
    threads = []

    class Recorder:
        def before_request(self, hook_ctx, request):
            threads.append(threading.get_ident())
            return request

        def after_success(self, hook_ctx, response):
            threads.append(threading.get_ident())
            return response

    hooks = adapter.client().sdk_configuration.__dict__["_hooks"]
    hooks.register_before_request_hook(Recorder())
    hooks.register_after_success_hook(Recorder())

    deltas = [d async for d in adapter.stream(request())]

    assert deltas
    assert threads == [threading.get_ident()] * 2
    assert vendor_fake.last("mistral.chat").headers["User-Agent"].startswith("mistral-client-python/")


async def test_parse_sends_the_json_schema_and_returns_a_validated_instance(vendor_fake):
    vendor_fake.script("mistral.chat", {"title": "Lisbon", "steps": ["learn Portuguese"], "years": 5})

    result = await chat(vendor_fake).parse(request(task="profile"), Plan)

    assert result.value == Plan(title="Lisbon", steps=["learn Portuguese"], years=5)
    response_format = vendor_fake.last("mistral.chat").json["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Plan"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert set(schema["properties"]) == {"title", "steps", "years"}
    assert schema["additionalProperties"] is False


async def test_parse_retries_invalid_output_once_then_succeeds(vendor_fake):
    vendor_fake.script("mistral.chat", {"title": "Lisbon"}, {"title": "Porto", "steps": ["move"], "years": 3})

    result = await chat(vendor_fake).parse(request(task="profile"), Plan)

    assert result.value.title == "Porto"
    assert len(vendor_fake.received("mistral.chat")) == 2


async def test_parse_reports_a_bad_response_after_two_invalid_outputs(vendor_fake):
    vendor_fake.script("mistral.chat", "not json at all", {"title": "Lisbon", "steps": [], "years": 2})

    with pytest.raises(ProviderBadResponse, match="Plan"):
        await chat(vendor_fake).parse(request(task="profile"), Plan)
    assert len(vendor_fake.received("mistral.chat")) == 2


async def test_parse_with_nothing_scripted_gets_a_schema_valid_default(vendor_fake):
    result = await chat(vendor_fake).parse(request(task="profile"), Plan)

    assert result.value.steps


async def test_a_rejected_key_is_not_configured_and_names_the_setting(vendor_fake):
    vendor_fake.script("mistral.chat", Fault(401))

    with pytest.raises(ProviderNotConfigured, match="MISTRAL_API_KEY") as caught:
        await chat(vendor_fake).complete(request())
    assert caught.value.retryable is False
    assert len(vendor_fake.received("mistral.chat")) == 1


async def test_rate_limit_waits_as_retry_after_asks_then_succeeds(vendor_fake):
    vendor_fake.script("mistral.chat", Fault(429, retry_after=0.3), "Fine now.")

    started = time.perf_counter()
    result = await chat(vendor_fake).complete(request())

    assert result.text == "Fine now."
    assert time.perf_counter() - started >= 0.3
    assert len(vendor_fake.received("mistral.chat")) == 2


async def test_server_errors_are_retried_then_reported_unavailable(vendor_fake):
    vendor_fake.script("mistral.chat", Fault(500), Fault(502), Fault(503), "too late")

    with pytest.raises(ProviderUnavailable) as caught:
        await chat(vendor_fake).complete(request())
    assert caught.value.retryable is True
    assert len(vendor_fake.received("mistral.chat")) == 3


async def test_a_server_error_then_success_is_invisible_to_the_caller(vendor_fake):
    vendor_fake.script("mistral.chat", Fault(500), "Recovered.")

    assert (await chat(vendor_fake).complete(request())).text == "Recovered."


async def test_a_stalled_completion_misses_its_deadline(vendor_fake):
    vendor_fake.script("mistral.chat", Stall(), Stall(), Stall())
    slow = chat(vendor_fake, deadlines=Deadlines(complete=0.2), retry=RetryPolicy(attempts=1))

    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable, match="longer than"):
        await slow.complete(request())
    assert time.perf_counter() - started < 1.5


async def test_a_stream_that_never_starts_misses_the_first_token_deadline(vendor_fake):
    vendor_fake.script("mistral.chat", Stall(), Stall(), Stall())
    slow = chat(vendor_fake, deadlines=Deadlines(first_token=0.3, stream_total=5), retry=RetryPolicy(attempts=1))

    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable):
        [d async for d in slow.stream(request())]
    assert time.perf_counter() - started < 1.5


async def test_a_stream_that_stops_midway_misses_the_whole_stream_deadline(vendor_fake):
    vendor_fake.script("mistral.chat", Stall(after=2))
    slow = chat(vendor_fake, deadlines=Deadlines(first_token=0.5, stream_total=0.6))
    received: list[str] = []

    async def consume() -> None:
        async for delta in slow.stream(request()):
            received.append(delta.text)

    with pytest.raises(ProviderUnavailable, match="deadline"):
        await consume()
    assert "".join(received).strip()


async def test_a_stream_rejected_with_401_is_not_configured(vendor_fake):
    vendor_fake.script("mistral.chat", Fault(401))

    with pytest.raises(ProviderNotConfigured):
        [d async for d in chat(vendor_fake).stream(request())]


async def test_a_stream_opening_with_500_is_retried(vendor_fake):
    vendor_fake.script("mistral.chat", Fault(500), "Second time lucky.")

    deltas = [d async for d in chat(vendor_fake).stream(request())]

    assert "".join(d.text for d in deltas) == "Second time lucky."


async def test_a_malformed_completion_is_a_bad_response(vendor_fake):
    vendor_fake.script("mistral.chat", Malformed())

    with pytest.raises(ProviderBadResponse):
        await chat(vendor_fake).complete(request())


async def test_a_malformed_stream_chunk_is_a_bad_response(vendor_fake):
    vendor_fake.script("mistral.chat", Malformed())

    with pytest.raises(ProviderBadResponse):
        [d async for d in chat(vendor_fake).stream(request())]


async def test_an_unreachable_server_is_unavailable():
    closed = MistralChat(
        api_key="k", server_url="http://127.0.0.1:9", models=MODELS, retry=RetryPolicy(attempts=2, base_seconds=0.01)
    )

    with pytest.raises(ProviderUnavailable):
        await closed.complete(request())


def test_a_missing_key_is_not_configured():
    with pytest.raises(ProviderNotConfigured, match="MISTRAL_API_KEY"):
        MistralChat(api_key="", models=MODELS)


# --- images ---------------------------------------------------------------------


def painter(fake, **overrides) -> MistralImage:
    # A key of its own per test: agent ids are cached per process and key.
    options = {
        "api_key": f"test-key-{uuid.uuid4().hex}",
        "server_url": fake.base_url,
        "deadlines": ROOMY,
        "retry": QUICK_RETRIES,
    }
    return MistralImage(model="mistral-medium-latest", **{**options, **overrides})


async def test_image_goes_through_an_agent_with_the_image_tool_and_downloads_the_file(vendor_fake):
    portrait = png((10, 20, 30))
    vendor_fake.script("mistral.conversations", Image(portrait))

    result = await painter(vendor_fake).generate("A calm woman of 60 in a garden, warm light")

    assert result.data == portrait
    assert result.content_type == "image/png"
    agent = vendor_fake.last("mistral.agents").json
    assert agent["tools"] == [{"type": "image_generation"}]
    assert agent["model"] == "mistral-medium-latest"
    started = vendor_fake.last("mistral.conversations").json
    assert started["inputs"] == "A calm woman of 60 in a garden, warm light"
    assert started["agent_id"].startswith("ag_")
    assert vendor_fake.last("mistral.files").path.endswith("/content")


async def test_the_image_agent_is_created_once_per_process(vendor_fake):
    image = painter(vendor_fake)
    await image.generate("first")
    await painter(vendor_fake, api_key=image.api_key).generate("second")

    assert len(vendor_fake.received("mistral.agents")) == 1
    assert len(vendor_fake.received("mistral.conversations")) == 2


async def test_a_vanished_image_agent_is_created_again(vendor_fake):
    image = painter(vendor_fake)
    await image.generate("first")
    vendor_fake.agents.clear()  # deleted on the vendor's side

    result = await image.generate("second")

    assert result.content_type == "image/png"
    assert len(vendor_fake.received("mistral.agents")) == 2
    agent_ids = [r.json["agent_id"] for r in vendor_fake.received("mistral.conversations")]
    assert agent_ids[1] == agent_ids[0] != agent_ids[2]


async def test_no_image_in_the_conversation_is_a_bad_response_with_the_reason(vendor_fake):
    vendor_fake.script("mistral.conversations", NoImage(text="I cannot draw real people."))

    with pytest.raises(ProviderBadResponse, match="cannot draw real people"):
        await painter(vendor_fake).generate("a portrait")


async def test_an_empty_image_file_is_a_bad_response(vendor_fake):
    vendor_fake.script("mistral.files", b"")

    with pytest.raises(ProviderBadResponse, match="not an image"):
        await painter(vendor_fake).generate("a portrait")


async def test_image_generation_rejected_key_is_not_configured(vendor_fake):
    vendor_fake.script("mistral.agents", Fault(403))

    with pytest.raises(ProviderNotConfigured, match="MISTRAL_API_KEY"):
        await painter(vendor_fake, api_key="another-key").generate("a portrait")


def test_one_adapter_serves_successive_event_loops(vendor_fake):
    """Services call adapters through async_to_sync, a new loop each time."""
    adapter = chat(vendor_fake)
    vendor_fake.script("mistral.chat", "One.", "Two.")

    first = async_to_sync(adapter.complete)(request())
    second = async_to_sync(adapter.complete)(request())

    assert (first.text, second.text) == ("One.", "Two.")


def test_the_sdks_throwaway_unmarshal_models_are_built_once_per_type():
    from mistralai.client.utils import serializers
    from pydantic import ConfigDict

    import futureself.providers.mistral  # noqa: F401  (installs the cache)

    def build(typ):
        config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)
        return serializers.create_model("Unmarshaller", body=(typ, ...), __config__=config)

    assert build(int) is build(int)
    assert build(int) is not build(str)
    assert build(int)(body="3").body == 3
    assert serializers.unmarshal({"a": 1}, dict[str, int]) == {"a": 1}


# --- moderation -----------------------------------------------------------------------


def moderator(fake, **overrides) -> MistralModeration:
    options = {"api_key": "test-key", "server_url": fake.base_url, "model": "mistral-moderation-latest", "seconds": 5}
    return MistralModeration(**{**options, **overrides})


async def test_moderation_sends_every_text_in_one_request_and_returns_a_verdict_per_text(vendor_fake):
    vendor_fake.script("mistral.moderations", ["selfharm"])

    result = await moderator(vendor_fake).moderate(["first", "second"])

    assert isinstance(moderator(vendor_fake), Moderator)
    assert result.model == "mistral-moderation-latest"
    assert [r.categories["selfharm"] for r in result.results] == [True, True]
    assert result.results[0].scores["selfharm"] == pytest.approx(0.99)
    sent = vendor_fake.last("mistral.moderations")
    assert sent.json == {"model": "mistral-moderation-latest", "input": ["first", "second"]}
    assert sent.headers["Authorization"] == "Bearer test-key"


@pytest.mark.parametrize(
    ("fault", "error"), [(Fault(500), ProviderUnavailable), (Fault(429, retry_after=0.1), ProviderRateLimited)]
)
async def test_a_moderation_outage_is_reported_at_once_not_retried(vendor_fake, fault, error):
    vendor_fake.script("mistral.moderations", fault, [])

    with pytest.raises(error):
        await moderator(vendor_fake).moderate(["words"])
    assert len(vendor_fake.received("mistral.moderations")) == 1


async def test_a_malformed_moderation_is_a_bad_response(vendor_fake):
    vendor_fake.script("mistral.moderations", Malformed())

    with pytest.raises(ProviderBadResponse):
        await moderator(vendor_fake).moderate(["words"])


async def test_a_stalled_moderation_misses_its_short_deadline(vendor_fake):
    vendor_fake.script("mistral.moderations", Stall())

    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable, match="longer than"):
        await moderator(vendor_fake, seconds=0.2).moderate(["words"])
    assert time.perf_counter() - started < 1.0


def test_moderation_is_served_only_when_mistral_serves_chat(vendor_fake, settings):
    from futureself.providers import registry

    settings.MISTRAL_API_KEY = "test-key"
    settings.MISTRAL_SERVER_URL = vendor_fake.base_url
    settings.FUTURESELF_CHAT_PROVIDER = "offline"
    assert registry.moderation() is None
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    assert registry.moderation().inner.model == settings.MISTRAL_MODELS["moderation"]
    settings.SAFETY_MODERATION_ENABLED = False
    assert registry.moderation() is None


# --- image faults, per request of the three (agent, conversation, file download) -------------

IMAGE_ROUTES = ("mistral.agents", "mistral.conversations", "mistral.files")


@pytest.mark.parametrize("route", IMAGE_ROUTES)
async def test_an_image_request_rate_limited_waits_as_retry_after_asks_then_succeeds(vendor_fake, route):
    vendor_fake.script(route, Fault(429, retry_after=0.3))

    started = time.perf_counter()
    result = await painter(vendor_fake).generate("a portrait")

    assert result.content_type == "image/png"
    assert time.perf_counter() - started >= 0.3
    assert len(vendor_fake.received(route)) == 2
    assert all(len(vendor_fake.received(r)) == 1 for r in IMAGE_ROUTES if r != route)


@pytest.mark.parametrize("route", IMAGE_ROUTES)
async def test_an_image_request_rate_limited_past_the_budget_is_reported_with_retry_after(vendor_fake, route):
    vendor_fake.script(route, Fault(429, retry_after=60))

    with pytest.raises(ProviderRateLimited) as caught:
        await painter(vendor_fake).generate("a portrait")
    assert (caught.value.retryable, caught.value.retry_after) == (True, 60)
    assert len(vendor_fake.received(route)) == 1


@pytest.mark.parametrize("route", IMAGE_ROUTES)
async def test_an_image_request_failing_with_500_is_retried_then_unavailable(vendor_fake, route):
    vendor_fake.script(route, Fault(500), Fault(500), Fault(500))

    with pytest.raises(ProviderUnavailable) as caught:
        await painter(vendor_fake).generate("a portrait")
    assert caught.value.retryable is True
    assert len(vendor_fake.received(route)) == QUICK_RETRIES.attempts
    later = IMAGE_ROUTES[IMAGE_ROUTES.index(route) + 1 :]
    assert all(not vendor_fake.received(r) for r in later)


@pytest.mark.parametrize("route", IMAGE_ROUTES)
async def test_a_stalled_image_request_misses_its_deadline(vendor_fake, route):
    vendor_fake.script(route, Stall())
    impatient = painter(vendor_fake, deadlines=Deadlines(complete=0.3, image=0.6), retry=RetryPolicy(attempts=1))

    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable, match="longer than") as caught:
        await impatient.generate("a portrait")
    assert time.perf_counter() - started < 1.5
    assert caught.value.retryable is True
    assert len(vendor_fake.received(route)) == 1


@pytest.mark.parametrize("route", IMAGE_ROUTES)
async def test_a_malformed_image_response_is_a_bad_response_not_retried(vendor_fake, route):
    vendor_fake.script(route, Malformed())

    with pytest.raises(ProviderBadResponse) as caught:
        await painter(vendor_fake).generate("a portrait")
    assert caught.value.retryable is True  # garbage may come out right later; the API answers 503
    assert len(vendor_fake.received(route)) == 1
