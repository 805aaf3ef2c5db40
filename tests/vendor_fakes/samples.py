"""Default content the fakes answer with when nothing is scripted."""

from __future__ import annotations

import functools
import io
import json
import math
import re
import struct
from typing import Any

DEFAULT_REPLY = "That sounds like something worth taking slowly; what matters most to you about it?"
DEFAULT_TRANSCRIPT = "I think I would like to live closer to my family in a few years."

# One silent MPEG-1 Layer III frame: 128 kbit/s, 44.1 kHz, mono, 417 bytes, 26.1 ms.
MP3_FRAME = b"\xff\xfb\x90\xc4" + bytes(413)
MP3_FRAME_SECONDS = 1152 / 44100


def png(color: tuple[int, int, int] = (214, 160, 120), size: int = 64) -> bytes:
    """A small, valid, square PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def speech_seconds(text: str) -> float:
    """Roughly how long ``text`` takes to say (about 15 characters a second)."""
    return max(0.3, len(text) / 15)


@functools.cache
def _tone_second(rate: int) -> bytes:
    """One second of a quiet 220 Hz tone (a whole number of cycles, so it loops seamlessly), so players and
    level meters see something. Made once: packing it per request cost the fake 30-45 ms before each first byte."""
    return b"".join(struct.pack("<h", int(800 * math.sin(2 * math.pi * 220 * i / rate))) for i in range(rate))


def audio(text: str, output_format: str) -> tuple[bytes, float]:
    """Audio for ``text`` in ``output_format`` and its duration in seconds."""
    seconds = speech_seconds(text)
    if output_format.startswith("pcm_"):
        rate = int(output_format.split("_")[1])
        samples = int(seconds * rate)
        pcm = (_tone_second(rate) * (samples // rate + 1))[: samples * 2]
        return pcm, seconds
    frames = max(1, round(seconds / MP3_FRAME_SECONDS))
    return MP3_FRAME * frames, frames * MP3_FRAME_SECONDS


def bytes_per_second(output_format: str) -> float:
    if output_format.startswith("pcm_"):
        return int(output_format.split("_")[1]) * 2
    return len(MP3_FRAME) / MP3_FRAME_SECONDS


# --- JSON schema --------------------------------------------------------------


def sample_for_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A minimal value valid against ``schema`` (the subset pydantic emits)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        return sample_for_schema(_resolve(schema["$ref"], root), root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            if key == "allOf":
                merged: dict[str, Any] = {}
                for part in options:
                    merged.update(_resolve(part["$ref"], root) if "$ref" in part else part)
                return sample_for_schema(merged, root)
            return sample_for_schema(options[0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {name: sample_for_schema(properties[name], root) for name in properties if name in required}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        if "maxItems" in schema:
            count = min(count, schema["maxItems"])
        item_schema = schema.get("items", {"type": "string"})
        return [_vary(sample_for_schema(item_schema, root), i) for i in range(count)]
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return int(_number(schema))
    if kind == "number":
        return float(_number(schema))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "sample"


def structured_reply(schema: dict[str, Any], messages: list[dict[str, Any]]) -> Any:
    """A sample for ``schema``; for the future selves, one card per option the request lists.

    A bare schema sample cannot match the options the person typed, and the app rightly
    rejects cards whose paths match none of them.
    """
    value = sample_for_schema(schema)
    options = _data_block(messages, "options")
    if isinstance(value, dict) and value.get("selves") and isinstance(options, list):
        card = value["selves"][0]
        memories = [{**memory, "kind": "imagined", "source": None} for memory in card.get("memories") or []]
        value["selves"] = [
            {**card, "path": option, "title": f"The one who chose: {option}", "unexpected": False, "memories": memories}
            for option in options
        ]
    return value


def _data_block(messages: list[dict[str, Any]], tag: str) -> Any:
    """The JSON inside the last ``<tag>...</tag>`` block of the user messages (see ``prompts.as_data``)."""
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, str):
            continue
        match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", content, re.DOTALL)
        if match:
            try:
                return json.loads(match.group(1))
            except ValueError:
                return None
    return None


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _vary(value: Any, index: int) -> Any:
    return f"{value} {index + 1}" if isinstance(value, str) and index else value


def _string(schema: dict[str, Any]) -> str:
    text = {"date": "2030-01-01", "date-time": "2030-01-01T00:00:00Z", "email": "someone@example.com"}.get(
        schema.get("format", ""), "A plausible sample"
    )
    minimum, maximum = schema.get("minLength", 0), schema.get("maxLength")
    while len(text) < minimum:
        text += " sample"
    if maximum is not None:
        text = text[:maximum]
    return text


def _number(schema: dict[str, Any]) -> float:
    if "minimum" in schema:
        return schema["minimum"]
    if "exclusiveMinimum" in schema:
        return schema["exclusiveMinimum"] + 1
    if "maximum" in schema:
        return min(0, schema["maximum"])
    return 1
