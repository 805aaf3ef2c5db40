"""Gemini's wire format: ``models/{model}:generateContent`` with inline image data."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from tests.vendor_fakes import samples
from tests.vendor_fakes.server import Fault, Image, Malformed, NoImage, Stall, VendorFake, bound, clock


def add_routes(app: web.Application, fake: VendorFake) -> None:
    for version in ("v1", "v1beta", "v1alpha"):
        app.router.add_post(f"/{version}/models/{{model_action}}", bound(generate, fake))
        app.router.add_get(f"/{version}/models/{{model}}", bound(get_model, fake))


async def generate(request: web.Request, fake: VendorFake) -> web.Response:
    arrived = clock()
    model, _, action = request.match_info["model_action"].partition(":")
    if action != "generateContent":
        return web.json_response({"error": {"code": 404, "message": "not faked", "status": "NOT_FOUND"}}, status=404)
    body = await request.json()
    entry = fake.record(request, "gemini.generate", json=body)
    entry.query["model"] = model
    reply = fake.next_reply("gemini.generate")
    await fake.sleep_from(arrived, fake.latency.image_ms)
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="gemini")
    if isinstance(reply, Stall):
        await fake.stall()
    if isinstance(reply, Malformed):
        return web.Response(body=b"<html>upstream error</html>", content_type="application/json")
    usage = {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302}
    if isinstance(reply, NoImage):
        if reply.reason in ("SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT") and not reply.text:
            return web.json_response({"promptFeedback": {"blockReason": reply.reason}, "usageMetadata": usage})
        candidate: dict[str, Any] = {"finishReason": reply.reason, "index": 0}
        if reply.text:
            candidate["content"] = {"role": "model", "parts": [{"text": reply.text}]}
        return web.json_response({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model})
    image = reply if isinstance(reply, Image) else Image(samples.png((120, 150, 200)))
    return web.json_response(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"inlineData": {"mimeType": image.mime_type, "data": base64.b64encode(image.data).decode()}}
                        ],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": "fake-response",
        }
    )


async def get_model(request: web.Request, fake: VendorFake) -> web.Response:
    fake.record(request, "gemini.models")
    reply = fake.next_reply("gemini.models")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="gemini")
    if isinstance(reply, Stall):
        await fake.stall()
    model = request.match_info["model"]
    return web.json_response(
        {
            "name": f"models/{model}",
            "displayName": model,
            "version": "001",
            "inputTokenLimit": 32768,
            "outputTokenLimit": 32768,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        }
    )
