"""Catches model output that repeats the app's own instructions (a prompt-injection success).

Every prompt in ``prompts/`` is cut into overlapping runs of ``RUN`` words (template
tags split runs, so only the fixed wording counts). Output containing one of those
runs repeats our instructions: the services treat it as an unusable answer
(``ProviderBadResponse``, retryable) and store nothing of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from futureself.providers.base import ProviderBadResponse

RUN = 8
_TAG = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.DOTALL)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _runs(words: list[str]) -> Iterator[tuple[str, ...]]:
    for start in range(len(words) - RUN + 1):
        yield tuple(words[start : start + RUN])


@lru_cache(maxsize=4)
def _prompt_runs(prompts_dir: str) -> frozenset[tuple[str, ...]]:
    runs: set[tuple[str, ...]] = set()
    for path in sorted(Path(prompts_dir).glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        for segment in _TAG.split(path.read_text(encoding="utf-8")):
            runs.update(_runs(_words(segment)))
    return frozenset(runs)


def _current_runs() -> frozenset[tuple[str, ...]]:
    from futureself import prompts

    return _prompt_runs(str(prompts.PROMPTS_DIR))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def repeats_instructions(value: Any) -> bool:
    """Whether any text in ``value`` (a string, or the strings of a dict, list or model) repeats a prompt."""
    known = _current_runs()
    return any(run in known for text in _strings(value) for run in _runs(_words(text)))


def ensure_no_instructions(value: Any, *, what: str) -> None:
    """Raise ``ProviderBadResponse`` when ``value`` repeats our instructions, so nothing of it is stored."""
    if repeats_instructions(value):
        raise ProviderBadResponse(f"The {what} repeated the app's instructions and was discarded.", provider="guard")
