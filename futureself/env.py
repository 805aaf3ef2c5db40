"""Reading configuration from the environment, with an optional ``.env`` file.

Real environment variables win over the file, so a deployment never has its
settings changed by a stray ``.env``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_INLINE_COMMENT = re.compile(r"(?:^|\s+)#")


def load_dotenv(path: Path) -> None:
    """Set the variables ``path`` defines that the environment does not already have.

    ``KEY=value`` lines; ``export`` and surrounding quotes are allowed, and so is a trailing
    ``  # comment`` (as in ``.env.example``) outside quotes. A ``#`` not preceded by a space is
    part of the value (``SECRET_KEY=ab#cd``).
    """
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if value[:1] in ("'", '"') and value.find(value[0], 1) > 0:
            value = value[1 : value.find(value[0], 1)]
        else:
            value = _INLINE_COMMENT.split(value, maxsplit=1)[0]
        os.environ.setdefault(key, value)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_json(name: str) -> dict[str, Any]:
    """A JSON object from the environment; empty when unset. Invalid JSON stops the start with the variable's name.

    The value is never echoed: it may hold credentials (a storage backend's keys).
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(
            f"{name} must be a JSON object: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object ({{...}}), not {type(parsed).__name__}.")
    return parsed
