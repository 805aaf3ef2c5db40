"""HTTP control of a fake running in another process (standalone, benchmarks).

``GET /_fake/requests`` lists what was received; ``POST /_fake/script``
queues replies (``{"route": "mistral.chat", "replies": [...]}``, each reply a
string, a JSON object as ``{"json": {...}}``, ``{"fault": 429, "retry_after": 1}``,
``{"stall": 0}`` or ``{"malformed": true}``); ``POST /_fake/latency`` sets the
pacing; ``POST /_fake/reset`` clears all three.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from tests.vendor_fakes.server import Fault, Latency, Malformed, Stall, VendorFake, bound


def add_routes(app: web.Application, fake: VendorFake) -> None:
    app.router.add_get("/_fake/requests", bound(list_requests, fake))
    app.router.add_post("/_fake/script", bound(script, fake))
    app.router.add_post("/_fake/latency", bound(set_latency, fake))
    app.router.add_post("/_fake/reset", bound(reset, fake))


def reply_from_json(raw: Any) -> Any:
    if isinstance(raw, str):
        return raw
    if "fault" in raw:
        return Fault(int(raw["fault"]), retry_after=raw.get("retry_after"), body=raw.get("body"))
    if "stall" in raw:
        return Stall(after=int(raw["stall"]))
    if raw.get("malformed"):
        return Malformed()
    if "json" in raw:
        return raw["json"]
    raise ValueError(f"unknown reply {raw!r}")


async def list_requests(request: web.Request, fake: VendorFake) -> web.Response:
    route = request.query.get("route")
    entries = [r for r in fake.requests if route is None or r.route == route]
    return web.json_response(
        [
            {
                **{k: v for k, v in dataclasses.asdict(r).items() if k != "files"},
                "files": {
                    name: {"filename": f[0], "content_type": f[1], "size": len(f[2])} for name, f in r.files.items()
                },
            }
            for r in entries
        ]
    )


async def script(request: web.Request, fake: VendorFake) -> web.Response:
    body = await request.json()
    try:
        fake.script(body["route"], *(reply_from_json(r) for r in body.get("replies", [])))
    except (KeyError, ValueError, TypeError) as exc:
        return web.json_response({"detail": str(exc)}, status=400)
    return web.json_response({"pending": fake.pending(body["route"])})


async def set_latency(request: web.Request, fake: VendorFake) -> web.Response:
    body = await request.json()
    known = {f.name for f in dataclasses.fields(Latency)}
    fake.latency = dataclasses.replace(fake.latency, **{k: v for k, v in body.items() if k in known})
    return web.json_response(dataclasses.asdict(fake.latency))


async def reset(request: web.Request, fake: VendorFake) -> web.Response:
    fake.reset()
    return web.json_response({})
