"""Prompt templates: one file per task in ``prompts/``, rendered with context.

Templates use Django's template language with autoescaping off (prompts are
not HTML). Text that came from a person never goes into a system message:
engines put it in user-role messages, wrapped by ``as_data`` so the model can
tell data from instructions.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template import Context, Engine

PROMPTS_DIR = Path(settings.BASE_DIR) / "prompts"


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return Engine(dirs=[str(PROMPTS_DIR)], autoescape=False, debug=False)


def render_prompt(name: str, **context: Any) -> str:
    """Render ``prompts/<name>`` with ``context``; surrounding whitespace is stripped."""
    return _engine().get_template(name).render(Context(context, autoescape=False)).strip()


def as_data(label: str, value: Any) -> str:
    """Wrap user-provided content as clearly delimited data.

    Strings are kept verbatim; anything else is JSON on one line (the C encoder: an indented
    dump runs the pure-Python one, whose nested functions leave a garbage cycle on every call,
    twice per conversation turn). A closing tag inside the value is neutralised so the data
    cannot end its own block early.
    """
    body = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    tag = label.strip().lower().replace(" ", "_")
    body = body.replace(f"</{tag}>", f"<\\/{tag}>")
    return f"<{tag}>\n{body}\n</{tag}>"
