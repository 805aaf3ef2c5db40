"""Mistral: chat, streamed chat and structured output (chat completions),
images through the Agents/Conversations API's ``image_generation`` tool, and
the moderation model the safety check asks for a second opinion.

Pixtral only understands images; image *generation* goes through an agent
that carries the built-in tool, created once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx2
from mistralai.client import Mistral, errors
from mistralai.client import models as sdk_models
from mistralai.client.utils import serializers as sdk_serializers
from mistralai.extra.utils.response_format import response_format_from_pydantic_model
from pydantic import ValidationError

from futureself.providers.base import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    ImageResult,
    ModerationResult,
    ModerationScores,
    ParsedResult,
    ProviderBadResponse,
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
    SchemaT,
    Usage,
)
from futureself.providers.resilience import (
    KEEPALIVE_SECONDS,
    Deadlines,
    PerLoop,
    RetryPolicy,
    Shards,
    describe,
    error_for_status,
    iterate_with_deadlines,
    tls_context,
    transport_error,
    with_retries,
    within,
)
from futureself.providers.transport import http_transport, in_flight

PROVIDER = "mistral"
KEY_SETTING = "MISTRAL_API_KEY"
# Up to this many clients (each with its own connection pool), the least busy taken (``Shards``):
# httpcore's pool does work quadratic in its connections on every request and response, and one pool
# serving a process's chat streams and moderation calls was 1.5% of daphne's CPU at 200 voice
# conversations (as ElevenLabs' POOL_SHARDS).
POOL_SHARDS = 4
DEFAULT_MODEL = "mistral-small-latest"
IMAGE_AGENT_NAME = "futureself-avatar-painter"
IMAGE_AGENT_INSTRUCTIONS = (
    "You paint portraits. For every request, call the image generation tool exactly once "
    "with a faithful, detailed prompt and return the image."
)


def _reuse_sdk_unmarshallers() -> None:
    """Make the SDK build each of its throwaway pydantic wrapper models once, not once per value.

    ``mistralai`` (generated code) calls ``pydantic.create_model("Unmarshaller", body=(T, ...))`` for
    every value it parses, every SSE chunk of a streamed reply included: about 1 ms of CPU each, 30-40 ms
    per spoken reply, which the voice benchmark showed saturating the event loop from 50 conversations
    on. The wrapper depends only on its name, ``T`` and the config, so it is cached by those.
    """
    original = sdk_serializers.create_model
    if getattr(original, "futureself_cached", False):
        return
    cache: dict[Any, Any] = {}

    def create_model(name: str, /, **fields: Any) -> Any:
        body, config = fields.get("body"), fields.get("__config__")
        if set(fields) == {"body", "__config__"} and isinstance(body, tuple) and isinstance(config, dict):
            key = (name, body, tuple(sorted(config.items())))
            try:
                model = cache.get(key)
            except TypeError:  # an unhashable type annotation: build it as the SDK would
                return original(name, **fields)
            if model is None:
                model = cache[key] = original(name, **fields)
            return model
        return original(name, **fields)

    create_model.futureself_cached = True  # type: ignore[attr-defined]
    sdk_serializers.create_model = create_model


_reuse_sdk_unmarshallers()


def _cache_sdk_type_hints() -> None:
    """Make the SDK read each request class's type hints once, not on every request.

    Building a request walks the query, path and form parameters of its request class with
    ``typing.get_type_hints``, which re-evaluates every annotation each time: about a millisecond
    of CPU before each streamed reply leaves. A class's hints do not change, so they are cached.
    """
    from mistralai.client.utils import forms, queryparams, url

    for module in (forms, queryparams, url):
        original = module.get_type_hints
        if getattr(original, "futureself_cached", False):
            continue
        cached = functools.lru_cache(maxsize=512)(original)

        def get_type_hints(obj: Any, *args: Any, _cached: Any = cached, _original: Any = original, **kwargs: Any):
            if args or kwargs or not isinstance(obj, type):
                return _original(obj, *args, **kwargs)
            return _cached(obj)

        get_type_hints.futureself_cached = True  # type: ignore[attr-defined]
        module.get_type_hints = get_type_hints


_cache_sdk_type_hints()


def _run_sdk_hooks_inline() -> None:
    """Make the SDK run its request hooks on the event loop, as its sync client does.

    ``mistralai``'s async client hands its hooks to ``asyncio.to_thread`` before and after every
    request: two trips through a worker thread for what is in-memory header and tracing work
    (the one hook that can read a file, the service-account token, reads nothing when an API key
    is passed, as ours always is). On these machines each trip costs 0.3-1 ms of latency before a
    moderation verdict or a first token, and under load the trips queue for the default executor's
    few threads. ``_MistralBase`` always passes an API key, so running them inline is safe here.
    """
    from mistralai.client import basesdk

    if getattr(basesdk.run_sync_in_thread, "futureself_inline", False):
        return

    async def run_inline(func: Any, *args: Any) -> Any:
        return func(*args)

    run_inline.futureself_inline = True  # type: ignore[attr-defined]
    basesdk.run_sync_in_thread = run_inline


_run_sdk_hooks_inline()


def _field_discriminator(value: Any, fieldname: str, upper_fieldname: str, key: str) -> str | None:
    if isinstance(value, dict) and key in value:
        return f"{value[key]}"
    for name in (fieldname, upper_fieldname):
        if hasattr(value, name):
            attr = getattr(value, name)
            return f"{attr.value}" if isinstance(attr, Enum) else f"{attr}"
    return None


def _nested_discriminator(value: Any, fieldname: str, upper_fieldname: str, key: str) -> str | None:
    found = _field_discriminator(value, fieldname, upper_fieldname, key)
    if found is not None or not isinstance(value, dict):
        return found
    for nested in value.values():
        if isinstance(nested, dict):
            nested = [nested]
        if not isinstance(nested, list):
            continue
        for item in nested:
            found = _nested_discriminator(item, fieldname, upper_fieldname, key)
            if found is not None:
                return found
    return None


def get_discriminator(model: Any, fieldname: str, key: str) -> str:
    """The SDK's ``get_discriminator``, answer for answer, without leaving garbage cycles behind.

    The SDK's version defines two nested functions per call, one of them recursive, so every call
    leaves a reference cycle (two functions, five cells) that only the cyclic collector frees.
    Pydantic calls it for every message of every chat request: at 200 voice conversations that was
    half of what each young collection found (~4,300 of ~9,000 objects), and those passes paused the
    event loop for 15-40 ms every 2-3 s. Plain functions are freed as soon as the call returns.
    """
    upper_fieldname = fieldname.upper()
    for value in [*model, model] if isinstance(model, list) else [model]:
        found = _nested_discriminator(value, fieldname, upper_fieldname, key)
        if found is not None:
            return found
    raise ValueError(f"Could not find discriminator field {fieldname} in {model}")


def _discriminate_without_cycles() -> None:
    """Put ``get_discriminator`` in place of the SDK's, where its models look it up at call time."""
    from mistralai.client import utils as sdk_utils
    from mistralai.client.utils import annotations

    original = annotations.get_discriminator
    if original is get_discriminator:
        return
    get_discriminator.sdk_original = original  # type: ignore[attr-defined]  # for the tests' comparison
    annotations.get_discriminator = get_discriminator
    sdk_utils.get_discriminator = get_discriminator
    # Model modules already imported hold the SDK's function under their own name (later ones
    # import it from ``sdk_utils`` and get ours).
    for name, module in list(sys.modules.items()):
        if name.startswith("mistralai.") and getattr(module, "get_discriminator", None) is original:
            module.get_discriminator = get_discriminator


_discriminate_without_cycles()


def map_error(exc: BaseException) -> ProviderError:
    """Any failure of the Mistral SDK or its transport, as a ProviderError."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, errors.ResponseValidationError | ValidationError | json.JSONDecodeError):
        return ProviderBadResponse(f"Mistral sent a malformed response ({describe(exc)}).", provider=PROVIDER)
    if isinstance(exc, errors.MistralError):
        status = getattr(exc, "status_code", 0) or 0
        if status:
            return error_for_status(
                status,
                provider=PROVIDER,
                key_setting=KEY_SETTING,
                headers=dict(getattr(exc, "headers", None) or {}),
                detail=str(getattr(exc, "body", "") or ""),
            )
    mapped = transport_error(exc, provider=PROVIDER)
    if mapped is not None:
        return mapped
    return ProviderBadResponse(f"Mistral call failed ({describe(exc)}).", provider=PROVIDER)


_MESSAGE_TYPES = {
    "system": sdk_models.SystemMessage,
    "user": sdk_models.UserMessage,
    "assistant": sdk_models.AssistantMessage,
}


def _messages(request: ChatRequest) -> list[Any]:
    """The request's messages as the SDK's own models: given dicts, the SDK walks every message
    against its whole union of message types before validating them (~1 ms per streamed reply)."""
    return [_MESSAGE_TYPES[m.role](content=m.content) for m in request.messages]


def _options(request: ChatRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.max_tokens is not None:
        options["max_tokens"] = request.max_tokens
    return options


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(input_tokens=usage.prompt_tokens or 0, output_tokens=usage.completion_tokens or 0)


def _text(content: Any) -> str:
    """Message content as text (a string, or a list of chunks of which text ones count)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        (chunk.get("text") if isinstance(chunk, dict) else getattr(chunk, "text", "")) or "" for chunk in content
    )


@functools.cache
def _sync_client() -> httpx2.Client:
    """The SDK's client for its synchronous methods, which futureself never calls: one per process.

    Given none, the SDK builds its own with a new TLS context, loading the whole CA bundle (~25 ms
    of CPU) for every client: once per event loop, so once per call on the sync paths, and once
    per connection pool (``POOL_SHARDS``) on the server's loop, where the first turns of a process
    each paid it (a single conversation's first three turns, 60-90 ms over the others).
    """
    return httpx2.Client(follow_redirects=True, verify=tls_context(httpx2))


class _MistralBase:
    name = PROVIDER

    def __init__(
        self,
        *,
        api_key: str,
        server_url: str | None = None,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ProviderNotConfigured("Mistral needs an API key: set MISTRAL_API_KEY.", provider=PROVIDER)
        self.api_key = api_key
        self.server_url = server_url or None
        self.deadlines = deadlines or Deadlines()
        self.retry = retry or RetryPolicy()
        # No retry_config: the SDK must not retry, with_retries does.
        self._clients: PerLoop[Shards[Mistral]] = PerLoop(lambda: Shards(self._new_client, POOL_SHARDS))

    def _new_client(self) -> tuple[Mistral, Callable[[], int]]:
        """An SDK client with a connection pool of its own, and the count of its requests in flight."""
        # Idle connections kept up to the connection limit: a turn's chat and moderation
        # requests come in bursts, and every connection closed is a connect on the next turn.
        limits = httpx2.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_SECONDS)
        transport = http_transport(httpx2, limits=limits)
        http = httpx2.AsyncClient(follow_redirects=True, verify=tls_context(httpx2), transport=transport)
        client = Mistral(api_key=self.api_key, server_url=self.server_url, client=_sync_client(), async_client=http)
        return client, functools.partial(in_flight, transport)

    def client(self) -> Mistral:
        return self._clients.get().next()

    async def _call(self, make: Any, *, seconds: float, what: str) -> Any:
        """One request with a deadline and retries, SDK errors mapped."""

        async def attempt() -> Any:
            try:
                return await within(seconds, make(), what=what, provider=PROVIDER)
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise map_error(exc) from exc

        return await with_retries(attempt, policy=self.retry, provider=PROVIDER, what=what)

    async def ping(self) -> str:
        """One free call (the model list) to check the key and the server."""
        listing = await self._call(
            lambda: self.client().models.list_async(timeout_ms=int(self.deadlines.complete * 1000)),
            seconds=self.deadlines.complete,
            what="model listing",
        )
        available = {m.id for m in listing.data or []}
        missing = sorted(set(self.configured_models()) - available)
        note = f"; not listed: {', '.join(missing)}" if missing else "; every configured model is listed"
        return f"{len(available)} models{note}"

    def configured_models(self) -> list[str]:
        return []


class MistralChat(_MistralBase):
    def __init__(self, *, models: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.models = dict(models or {})

    def model_for(self, task: str) -> str:
        return self.models.get(task) or self.models.get("conversation") or DEFAULT_MODEL

    def configured_models(self) -> list[str]:
        return [m for task, m in self.models.items() if task != "moderation"]

    async def complete(self, request: ChatRequest) -> ChatResult:
        model = self.model_for(request.task)
        seconds = self.deadlines.complete
        response = await self._call(
            lambda: self.client().chat.complete_async(
                model=model,
                messages=_messages(request),
                timeout_ms=int(seconds * 1000),
                **_options(request),
            ),
            seconds=seconds,
            what="chat completion",
        )
        if not response.choices:
            raise ProviderBadResponse("Mistral returned no choices.", provider=PROVIDER)
        return ChatResult(
            text=_text(response.choices[0].message.content),
            model=response.model or model,
            usage=_usage(response.usage),
        )

    async def parse(self, request: ChatRequest, schema: type[SchemaT]) -> ParsedResult[SchemaT]:
        model = self.model_for(request.task)
        seconds = self.deadlines.structured
        response_format = response_format_from_pydantic_model(schema)
        problem = ""
        for _ in range(2):  # invalid output is retried once
            response = await self._call(
                lambda: self.client().chat.complete_async(
                    model=model,
                    messages=_messages(request),
                    response_format=response_format,
                    timeout_ms=int(seconds * 1000),
                    **_options(request),
                ),
                seconds=seconds,
                what="structured output",
            )
            raw = _text(response.choices[0].message.content) if response.choices else ""
            try:
                value = schema.model_validate(json.loads(raw))
            except (json.JSONDecodeError, ValidationError) as exc:
                problem = describe(exc)
                continue
            return ParsedResult(value=value, model=response.model or model, usage=_usage(response.usage))
        raise ProviderBadResponse(
            f"Mistral's {schema.__name__} did not match the schema twice ({problem}).", provider=PROVIDER
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        model = self.model_for(request.task)
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline = start + self.deadlines.first_token
        total_deadline = start + self.deadlines.stream_total

        # HTTP errors surface when the stream is opened: those are retried, but
        # only within the first-token deadline, since the person is waiting.
        try:
            async with asyncio.timeout_at(first_deadline):
                events = await self._call(
                    lambda: self.client().chat.stream_async(
                        model=model,
                        messages=_messages(request),
                        timeout_ms=int(self.deadlines.stream_total * 1000),
                        **_options(request),
                    ),
                    seconds=self.deadlines.first_token,
                    what="streamed chat",
                )
        except TimeoutError:
            raise ProviderUnavailable(
                f"Mistral did not start answering within {self.deadlines.first_token:g} s.", provider=PROVIDER
            ) from None

        usage: Usage | None = None
        reply_model = model
        pieces = events.response.aiter_bytes()
        finished = False
        try:
            async with contextlib.aclosing(
                iterate_with_deadlines(
                    _completion_chunks(pieces),
                    first_deadline=first_deadline,
                    total_deadline=total_deadline,
                    provider=PROVIDER,
                    what="streamed chat",
                    is_first=lambda chunk: bool(chunk.texts),
                )
            ) as chunks:
                async for chunk in chunks:
                    reply_model = chunk.model or reply_model
                    usage = chunk.usage or usage
                    for text in chunk.texts:
                        yield ChatDelta(text)
            finished = True
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | GeneratorExit):
                raise
            raise map_error(exc) from exc
        finally:
            if finished:
                close_after_the_body(pieces, events)
            else:
                with contextlib.suppress(Exception):
                    await events.close()
        yield ChatDelta("", usage=usage or Usage(), model=reply_model)


@dataclass(frozen=True, slots=True)
class _CompletionChunk:
    texts: tuple[str, ...]
    model: str | None
    usage: Usage | None


_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


async def _completion_chunks(pieces: AsyncIterator[bytes]) -> AsyncIterator[_CompletionChunk]:
    """The chunks of a streamed chat completion, read straight off the SSE body.

    The SDK's own reader looks for event boundaries one byte at a time in Python and
    validates every event into pydantic models: most of the CPU a streamed reply cost
    in the voice benchmark. Events are JSON objects (``{"model", "choices": [{"delta":
    {"content"}}], "usage"?}``) until ``[DONE]``; anything else is a bad response.
    """
    buffer = b""
    async for piece in pieces:
        buffer += piece
        while (end := _EVENT_END.search(buffer)) is not None:
            block, buffer = buffer[: end.start()], buffer[end.end() :]
            data = "\n".join(
                line[5:].removeprefix(" ")
                for line in block.decode("utf-8").replace("\r\n", "\n").split("\n")
                if line.startswith("data:")
            )
            if not data:
                continue  # a comment or a keep-alive
            if data == "[DONE]":
                return  # what follows, up to the end of the body: close_after_the_body
            yield _completion_chunk(json.loads(data))
    if buffer.strip():
        raise ProviderBadResponse("Mistral's stream ended in the middle of an event.", provider=PROVIDER)


# How long the end of the body may take to follow ``[DONE]`` (it normally comes in the same breath).
_BODY_END_SECONDS = 0.5
_closing: set[asyncio.Task[None]] = set()  # referenced until done: the loop keeps only weak references


def close_after_the_body(pieces: AsyncIterator[bytes], events: Any) -> asyncio.Task[None]:
    """Read what follows ``[DONE]`` up to the end of the body, ignore it, then close the response.

    A response closed before its body ended cannot be reused: its connection is dropped and the
    next request opens a new one, in the voice pipeline one TCP connect per turn, often on the way
    to the persona's first token. This runs beside the caller, who has the whole reply already:
    its last sentence does not wait for the body's end. If the end does not come promptly the
    response is closed anyway (and its connection with it).
    """

    async def read_to_the_end() -> None:
        try:
            with contextlib.suppress(TimeoutError, httpx2.HTTPError):
                async with asyncio.timeout(_BODY_END_SECONDS):
                    async for _ in pieces:
                        pass
        finally:
            with contextlib.suppress(Exception):
                await events.close()

    task = asyncio.get_running_loop().create_task(read_to_the_end())
    _closing.add(task)
    task.add_done_callback(_closing.discard)
    return task


def _completion_chunk(event: Any) -> _CompletionChunk:
    try:
        texts = tuple(
            text for choice in event.get("choices") or () if (text := _text((choice.get("delta") or {}).get("content")))
        )
        usage = event.get("usage")
        return _CompletionChunk(
            texts=texts,
            model=event.get("model"),
            usage=None
            if usage is None
            else Usage(input_tokens=usage.get("prompt_tokens") or 0, output_tokens=usage.get("completion_tokens") or 0),
        )
    except (AttributeError, TypeError) as exc:
        raise ProviderBadResponse(f"Mistral sent a malformed stream event ({describe(exc)}).", provider=PROVIDER)


# Agent ids by (server, key, model): an agent is created once per process.
_image_agents: dict[tuple[str | None, str, str], str] = {}


class MistralImage(_MistralBase):
    def __init__(self, *, model: str = "mistral-medium-latest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self._agent_lock: PerLoop[asyncio.Lock] = PerLoop(asyncio.Lock)

    def configured_models(self) -> list[str]:
        return [self.model]

    async def agent_id(self) -> str:
        key = (self.server_url, self.api_key, self.model)
        async with self._agent_lock.get():
            if key not in _image_agents:
                agent = await self._call(
                    lambda: self.client().beta.agents.create_async(
                        model=self.model,
                        name=IMAGE_AGENT_NAME,
                        instructions=IMAGE_AGENT_INSTRUCTIONS,
                        tools=[{"type": "image_generation"}],
                        timeout_ms=int(self.deadlines.complete * 1000),
                    ),
                    seconds=self.deadlines.complete,
                    what="image agent creation",
                )
                _image_agents[key] = agent.id
            return _image_agents[key]

    async def generate(self, prompt: str, *, context: Mapping[str, Any] | None = None) -> ImageResult:
        seconds = self.deadlines.image
        try:
            async with asyncio.timeout(seconds):
                return await self._generate(prompt)
        except TimeoutError:
            raise ProviderUnavailable(f"Mistral image took longer than {seconds:g} s.", provider=PROVIDER) from None

    async def _start_conversation(self, prompt: str) -> Any:
        agent_id = await self.agent_id()
        seconds = self.deadlines.image
        return await self._call(
            lambda: self.client().beta.conversations.start_async(
                agent_id=agent_id, inputs=prompt, store=False, timeout_ms=int(seconds * 1000)
            ),
            seconds=seconds,
            what="image generation",
        )

    async def _generate(self, prompt: str) -> ImageResult:
        seconds = self.deadlines.image
        try:
            conversation = await self._start_conversation(prompt)
        except ProviderBadResponse as error:
            if getattr(error, "http_status", None) != 404:
                raise
            # The cached agent was deleted on Mistral's side: make a new one, once.
            _image_agents.pop((self.server_url, self.api_key, self.model), None)
            conversation = await self._start_conversation(prompt)
        file_id, said = None, []
        for entry in conversation.outputs:
            content = getattr(entry, "content", None)
            if getattr(entry, "type", None) != "message.output" or content is None:
                continue
            if isinstance(content, str):
                said.append(content)
                continue
            for chunk in content:
                if getattr(chunk, "type", None) == "tool_file" and file_id is None:
                    file_id = chunk.file_id
                elif getattr(chunk, "text", None):
                    said.append(chunk.text)
        if file_id is None:
            reason = " ".join(said).strip()[:200] or "no tool_file in the conversation outputs"
            raise ProviderBadResponse(f"Mistral made no image: {reason}", provider=PROVIDER)

        async def download() -> bytes:
            response = await self.client().files.download_async(file_id=file_id, timeout_ms=int(seconds * 1000))
            try:
                return await response.aread()
            finally:
                await response.aclose()

        data = await self._call(download, seconds=seconds, what="image download")
        content_type = sniff_image_type(data)
        if content_type is None:
            raise ProviderBadResponse("Mistral's image file is empty or not an image.", provider=PROVIDER)
        return ImageResult(data=data, content_type=content_type, model=self.model)


def sniff_image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def build_chat() -> MistralChat:
    from django.conf import settings

    return MistralChat(
        api_key=settings.MISTRAL_API_KEY,
        server_url=settings.MISTRAL_SERVER_URL,
        models=settings.MISTRAL_MODELS,
        deadlines=Deadlines.from_settings(),
        retry=RetryPolicy.from_settings(),
    )


def build_image() -> MistralImage:
    from django.conf import settings

    return MistralImage(
        api_key=settings.MISTRAL_API_KEY,
        server_url=settings.MISTRAL_SERVER_URL,
        model=settings.MISTRAL_IMAGE_MODEL,
        deadlines=Deadlines.from_settings(),
        retry=RetryPolicy.from_settings(),
    )


class MistralModeration(_MistralBase):
    """Mistral's moderation model (``POST /v1/moderations``), all texts in one request.

    It runs on every message, the voice path's included, after the phrase check
    has already answered: one attempt with a short deadline (``seconds``), no
    retries, so an outage costs the person at most that deadline.
    """

    def __init__(self, *, model: str = "mistral-moderation-latest", seconds: float = 2.0, **kwargs: Any) -> None:
        kwargs.setdefault("retry", RetryPolicy(attempts=1))
        super().__init__(**kwargs)
        self.model = model
        self.seconds = seconds

    def configured_models(self) -> list[str]:
        return [self.model]

    async def moderate(self, texts: Sequence[str]) -> ModerationResult:
        inputs = list(texts)
        response = await self._call(
            lambda: self.client().classifiers.moderate_async(
                model=self.model, inputs=inputs, timeout_ms=int(self.seconds * 1000)
            ),
            seconds=self.seconds,
            what="moderation",
        )
        results = [
            ModerationScores(categories=dict(r.categories or {}), scores=dict(r.category_scores or {}))
            for r in response.results or []
        ]
        if len(results) != len(inputs):
            raise ProviderBadResponse(
                f"Mistral moderated {len(results)} texts of the {len(inputs)} sent.", provider=PROVIDER
            )
        return ModerationResult(results=results, model=response.model or self.model)


def build_moderation() -> MistralModeration:
    from django.conf import settings

    return MistralModeration(
        api_key=settings.MISTRAL_API_KEY,
        server_url=settings.MISTRAL_SERVER_URL,
        model=settings.MISTRAL_MODELS["moderation"],
        seconds=settings.SAFETY_MODERATION_TIMEOUT,
        deadlines=Deadlines.from_settings(),
    )
