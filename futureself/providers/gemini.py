"""Gemini: avatar images from an image-output model through ``generate_content``.

Imagen (``generate_images``) is Vertex-only and retired in this SDK, so it is
not used. The model id is a setting (``GEMINI_IMAGE_MODEL``): image model ids
are retired quickly.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

import httpx2
from google import genai
from google.genai import errors, types
from pydantic import ValidationError

from futureself.providers.base import (
    ImageResult,
    ProviderBadResponse,
    ProviderError,
    ProviderNotConfigured,
)
from futureself.providers.resilience import (
    Deadlines,
    PerLoop,
    RetryPolicy,
    describe,
    error_for_status,
    tls_context,
    transport_error,
    with_retries,
    within,
)
from futureself.providers.transport import http_transport

PROVIDER = "gemini"
KEY_SETTING = "GEMINI_API_KEY"


def map_error(exc: BaseException) -> ProviderError:
    """Any failure of google-genai or its transport, as a ProviderError."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, errors.APIError):
        response = getattr(exc, "response", None)
        headers = dict(getattr(response, "headers", None) or {})
        if isinstance(exc.code, int) and exc.code >= 400:
            return error_for_status(
                exc.code, provider=PROVIDER, key_setting=KEY_SETTING, headers=headers, detail=exc.message or ""
            )
        return ProviderBadResponse(f"Gemini sent an unusable response ({describe(exc)}).", provider=PROVIDER)
    if isinstance(exc, ValidationError | ValueError):  # includes JSON decode errors
        return ProviderBadResponse(f"Gemini sent a malformed response ({describe(exc)}).", provider=PROVIDER)
    mapped = transport_error(exc, provider=PROVIDER)
    if mapped is not None:
        return mapped
    return ProviderBadResponse(f"Gemini call failed ({describe(exc)}).", provider=PROVIDER)


class GeminiImage:
    name = PROVIDER

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = "gemini-3.1-flash-image",
        aspect_ratio: str = "1:1",
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ProviderNotConfigured("Gemini needs an API key: set GEMINI_API_KEY.", provider=PROVIDER)
        self.api_key = api_key
        self.base_url = base_url or None
        self.model = model
        self.aspect_ratio = aspect_ratio
        self.deadlines = deadlines or Deadlines()
        self.retry = retry or RetryPolicy()
        self._clients: PerLoop[genai.Client] = PerLoop(self._new_client)

    def _new_client(self) -> genai.Client:
        options = types.HttpOptions(
            base_url=self.base_url,
            timeout=int(self.deadlines.image * 1000),
            # One attempt: with_retries owns retrying.
            retry_options=types.HttpRetryOptions(attempts=1),
            # Always httpx2, whether or not aiohttp happens to be installed.
            httpx_async_client=httpx2.AsyncClient(
                timeout=self.deadlines.image, verify=tls_context(httpx2), transport=http_transport(httpx2)
            ),
        )
        return genai.Client(api_key=self.api_key, http_options=options)

    def client(self) -> genai.Client:
        return self._clients.get()

    async def generate(self, prompt: str, *, context: Mapping[str, Any] | None = None) -> ImageResult:
        seconds = self.deadlines.image
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=self.aspect_ratio),
        )

        async def attempt() -> types.GenerateContentResponse:
            try:
                return await within(
                    seconds,
                    self.client().aio.models.generate_content(model=self.model, contents=prompt, config=config),
                    what="image generation",
                    provider=PROVIDER,
                )
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise map_error(exc) from exc

        response = await with_retries(attempt, policy=self.retry, provider=PROVIDER, what="image generation")
        return self._image(response)

    async def ping(self) -> str:
        """One free call (the image model's description) to check the key, server and model id."""

        async def attempt() -> types.Model:
            try:
                return await within(
                    self.deadlines.complete,
                    self.client().aio.models.get(model=self.model),
                    what="model lookup",
                    provider=PROVIDER,
                )
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise map_error(exc) from exc

        model = await with_retries(attempt, policy=self.retry, provider=PROVIDER, what="model lookup")
        return f"model {model.name} available"

    def _image(self, response: types.GenerateContentResponse) -> ImageResult:
        candidates = response.candidates or []
        for candidate in candidates:
            for part in (candidate.content.parts if candidate.content else None) or []:
                inline = part.inline_data
                if inline is not None and inline.data:
                    data = inline.data if isinstance(inline.data, bytes) else base64.b64decode(inline.data)
                    return ImageResult(data=data, content_type=inline.mime_type or "image/png", model=self.model)
        raise ProviderBadResponse(f"Gemini made no image: {self._reason(response)}.", provider=PROVIDER)

    @staticmethod
    def _reason(response: types.GenerateContentResponse) -> str:
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason:
            return f"the prompt was blocked ({_enum_name(feedback.block_reason)})"
        for candidate in response.candidates or []:
            said = " ".join(p.text for p in (candidate.content.parts if candidate.content else None) or [] if p.text)
            reason = _enum_name(candidate.finish_reason) if candidate.finish_reason else "no reason given"
            return f"finish reason {reason}" + (f" ({said.strip()[:160]})" if said.strip() else "")
        return "no candidates"


def _enum_name(value: Any) -> str:
    return getattr(value, "value", None) or str(value)


def build_image() -> GeminiImage:
    from django.conf import settings

    return GeminiImage(
        api_key=settings.GEMINI_API_KEY,
        base_url=settings.GEMINI_BASE_URL,
        model=settings.GEMINI_IMAGE_MODEL,
        deadlines=Deadlines.from_settings(),
        retry=RetryPolicy.from_settings(),
    )
