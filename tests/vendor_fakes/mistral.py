"""Mistral's wire format: chat completions (JSON and SSE), agents, conversations, files, models, moderations."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.vendor_fakes import samples
from tests.vendor_fakes.server import Fault, Image, Lingering, Malformed, NoImage, Stall, VendorFake, bound, clock

MODELS = ("mistral-small-latest", "mistral-medium-latest", "mistral-large-latest", "mistral-moderation-latest")


def add_routes(app: web.Application, fake: VendorFake) -> None:
    app.router.add_post("/v1/chat/completions", bound(chat, fake))
    app.router.add_post("/v1/agents", bound(create_agent, fake))
    app.router.add_post("/v1/conversations", bound(conversation, fake))
    app.router.add_get("/v1/files/{file_id}/content", bound(file_content, fake))
    app.router.add_get("/v1/models", bound(list_models, fake))
    app.router.add_post("/v1/moderations", bound(moderation, fake))
    app.router.add_post("/v1/chat/moderations", bound(moderation, fake))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _tokens(text: str) -> list[str]:
    """Split like a tokenizer would, keeping the whitespace so chunks join back exactly."""
    return re.findall(r"\s*\S+", text) or [text]


def _count(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def _reply_text(reply: Any, body: dict[str, Any]) -> str:
    if isinstance(reply, str):
        return reply
    if isinstance(reply, dict | list):
        return json.dumps(reply)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(
            samples.structured_reply(response_format["json_schema"]["schema"], body.get("messages") or [])
        )
    if response_format.get("type") == "json_object":
        return "{}"
    return samples.DEFAULT_REPLY


async def chat(request: web.Request, fake: VendorFake) -> web.StreamResponse:
    arrived = clock()
    body = await request.json()
    fake.record(request, "mistral.chat", json=body)
    reply = fake.next_reply("mistral.chat")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="mistral")
    if isinstance(reply, Stall) and (reply.after == 0 or not body.get("stream")):
        await fake.stall()
        return web.Response(status=504)
    model = body.get("model", "mistral-small-latest")
    completion_id = f"cmpl-{uuid.uuid4().hex[:12]}"
    if body.get("stream"):
        return await _stream(request, fake, body, reply, model, completion_id, arrived)
    if isinstance(reply, Malformed):
        return web.Response(body=reply.body, content_type="application/json")
    await fake.sleep_from(arrived, fake.latency.llm_first_token_ms)
    text = _reply_text(reply, body)
    prompt_tokens, completion_tokens = _count(body.get("messages", [])), len(_tokens(text))
    if fake.latency.llm_tokens_per_second:
        await fake.sleep_ms(1000 * completion_tokens / fake.latency.llm_tokens_per_second)
    return web.json_response(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "tool_calls": None},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


async def _stream(
    request: web.Request,
    fake: VendorFake,
    body: dict[str, Any],
    reply: Any,
    model: str,
    completion_id: str,
    arrived: float,
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    await fake.sleep_from(arrived, fake.latency.llm_first_token_ms)
    # Token k leaves at first token + k / rate by the clock, so the fake's own scheduling delays
    # do not add up over a reply (they would count as the app's overhead in the voice benchmark).
    first_token_at = clock()

    def chunk(delta: dict[str, Any], finish: str | None, usage: dict[str, int] | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            data["usage"] = usage
        return f"data: {json.dumps(data)}\n\n".encode()

    if isinstance(reply, Malformed):
        await response.write(chunk({"role": "assistant", "content": ""}, None))
        await response.write(b"data: {this is not json}\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response
    if isinstance(reply, Lingering):
        text = reply.text
    else:
        text = _reply_text(None if isinstance(reply, Stall) else reply, body)
    tokens = _tokens(text)
    await response.write(chunk({"role": "assistant", "content": ""}, None))
    pause = 1 / fake.latency.llm_tokens_per_second if fake.latency.llm_tokens_per_second else 0
    for index, token in enumerate(tokens):
        if isinstance(reply, Stall) and index >= reply.after:
            await fake.stall()
            return response
        if pause and index:
            await fake.pace_until(first_token_at + index * pause)
        await response.write(chunk({"content": token}, None))
    prompt_tokens = _count(body.get("messages", []))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(tokens),
        "total_tokens": prompt_tokens + len(tokens),
    }
    await response.write(chunk({"content": ""}, "stop", usage))
    await response.write(b"data: [DONE]\n\n")
    if isinstance(reply, Lingering):
        await asyncio.sleep(reply.seconds)
    return response


async def create_agent(request: web.Request, fake: VendorFake) -> web.Response:
    body = await request.json()
    fake.record(request, "mistral.agents", json=body)
    reply = fake.next_reply("mistral.agents")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="mistral")
    if isinstance(reply, Stall):
        await fake.stall()
    if isinstance(reply, Malformed):
        return web.Response(body=reply.body, content_type="application/json")
    now = _now()
    agent = {
        "object": "agent",
        "id": f"ag_{uuid.uuid4().hex[:16]}",
        "name": body.get("name", "agent"),
        "model": body.get("model", "mistral-medium-latest"),
        "instructions": body.get("instructions"),
        "tools": body.get("tools", []),
        "completion_args": {},
        "version": 0,
        "versions": [0],
        "created_at": now,
        "updated_at": now,
        "deployment_chat": False,
        "source": "api",
    }
    fake.agents[agent["id"]] = agent
    return web.json_response(agent)


async def conversation(request: web.Request, fake: VendorFake) -> web.Response:
    arrived = clock()
    body = await request.json()
    fake.record(request, "mistral.conversations", json=body)
    reply = fake.next_reply("mistral.conversations")
    await fake.sleep_from(arrived, fake.latency.image_ms)
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="mistral")
    if isinstance(reply, Stall):
        await fake.stall()
    if isinstance(reply, Malformed):
        return web.Response(body=reply.body, content_type="application/json")
    agent_id = body.get("agent_id")
    if agent_id and agent_id not in fake.agents:
        return web.json_response({"object": "error", "message": f"Agent {agent_id} not found"}, status=404)
    now = _now()
    model = fake.agents.get(agent_id, {}).get("model", "mistral-medium-latest")
    entry_common = {"object": "entry", "created_at": now, "completed_at": now, "agent_id": agent_id, "model": model}
    if isinstance(reply, NoImage):
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}]
        outputs: list[dict[str, Any]] = []
    else:
        image = reply if isinstance(reply, Image) else Image(samples.png())
        file_id = str(uuid.uuid4())
        fake.files[file_id] = image.data
        content = [
            {"type": "text", "text": "Here is the portrait."},
            {
                "type": "tool_file",
                "tool": "image_generation",
                "file_id": file_id,
                "file_name": "image_generated_0",
                "file_type": image.mime_type.split("/")[-1],
            },
        ]
        outputs = [
            {
                **entry_common,
                "type": "tool.execution",
                "id": f"tool_exec_{uuid.uuid4().hex[:12]}",
                "name": "image_generation",
                "arguments": json.dumps({"prompt": str(body.get("inputs", ""))[:200]}),
                "info": {},
            }
        ]
    outputs.append(
        {
            **entry_common,
            "type": "message.output",
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "role": "assistant",
            "content": content,
        }
    )
    return web.json_response(
        {
            "object": "conversation.response",
            "conversation_id": f"conv_{uuid.uuid4().hex[:16]}",
            "outputs": outputs,
            "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20, "connector_tokens": None},
        }
    )


async def file_content(request: web.Request, fake: VendorFake) -> web.Response:
    fake.record(request, "mistral.files")
    reply = fake.next_reply("mistral.files")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="mistral")
    if isinstance(reply, Stall):
        await fake.stall()
    if isinstance(reply, Malformed | bytes):
        data = reply.body if isinstance(reply, Malformed) else reply
        return web.Response(body=data, content_type="application/octet-stream")
    data = fake.files.get(request.match_info["file_id"])
    if data is None:
        return web.json_response({"object": "error", "message": "File not found"}, status=404)
    return web.Response(body=data, content_type="application/octet-stream")


async def list_models(request: web.Request, fake: VendorFake) -> web.Response:
    fake.record(request, "mistral.models")
    reply = fake.next_reply("mistral.models")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="mistral")
    if isinstance(reply, Stall):
        await fake.stall()
    if isinstance(reply, Malformed):
        return web.Response(body=reply.body, content_type="application/json")
    capabilities = {"completion_chat": True, "function_calling": True, "vision": False}
    return web.json_response(
        {
            "object": "list",
            "data": [
                {
                    "id": model,
                    "object": "model",
                    "created": 1700000000,
                    "owned_by": "mistralai",
                    "capabilities": capabilities,
                    "type": "base",
                }
                for model in (reply or MODELS)
            ],
        }
    )


async def moderation(request: web.Request, fake: VendorFake) -> web.Response:
    body = await request.json()
    fake.record(request, "mistral.moderations", json=body)
    reply = fake.next_reply("mistral.moderations")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="mistral")
    if isinstance(reply, Stall):
        await fake.stall()
        return web.Response(status=504)
    if isinstance(reply, Malformed):
        return web.Response(body=reply.body, content_type="application/json")
    flagged = set(reply or [])
    categories = ("sexual", "hate_and_discrimination", "violence_and_threats", "selfharm", "health", "pii")
    inputs = body.get("input") or body.get("inputs") or [""]
    count = len(inputs) if isinstance(inputs, list) else 1
    return web.json_response(
        {
            "id": f"mod-{uuid.uuid4().hex[:12]}",
            "model": body.get("model", "mistral-moderation-latest"),
            "results": [
                {
                    "categories": {c: c in flagged for c in categories},
                    "category_scores": {c: 0.99 if c in flagged else 0.01 for c in categories},
                }
                for _ in range(count)
            ],
        }
    )
