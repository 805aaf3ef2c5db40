"""The event loop the server runs on: uvloop where it is installed, asyncio's own otherwise.

Everything live in futureself runs on one event loop per process: daphne's WebSockets (through
Twisted's asyncio reactor), the channel layer, the vendor SDKs' HTTP and WebSocket clients and the
voice pipeline between them. Under voice load that loop is the bottleneck, and much of its work is
the loop's own (scheduling callbacks, futures, timers, socket reads and writes). uvloop does that
part in C: in back-to-back runs of the voice benchmark it took daphne from 60% to 57% of a core
for 100 conversations, and the reply's overhead at 200 from 431 / 822 to 250 / 550 ms (p50 / p95;
docs/performance.md).

Daphne creates its loop when ``daphne.server`` is first imported (Django imports it while loading
the ``daphne`` app), so the choice must be made before that: ``manage.py`` and
``python -m futureself.serve`` call ``install()`` first. ``FUTURESELF_EVENT_LOOP=asyncio`` keeps
asyncio's loop (uvloop is not available on Windows).
"""

from __future__ import annotations

import asyncio
import os
import types
from collections.abc import Callable

SETTING = "FUTURESELF_EVENT_LOOP"
CHOICES = ("uvloop", "asyncio")


class EventLoopNotAvailable(RuntimeError):
    pass


def configured() -> str:
    """The loop asked for by ``FUTURESELF_EVENT_LOOP``, or uvloop when it is installed."""
    name = os.environ.get(SETTING, "").strip().lower()
    if not name:
        return "uvloop" if _uvloop() is not None else "asyncio"
    if name not in CHOICES:
        raise EventLoopNotAvailable(f"{SETTING} must be one of {', '.join(CHOICES)}, not {name!r}.")
    if name == "uvloop" and _uvloop() is None:
        raise EventLoopNotAvailable(f"{SETTING}=uvloop, but uvloop is not installed (pip install uvloop).")
    return name


def factory(name: str | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """A function that makes a new loop of the given (or the configured) kind."""
    name = name or configured()
    if name == "uvloop":
        uvloop = _uvloop()
        if uvloop is None:
            raise EventLoopNotAvailable("uvloop is not installed (pip install uvloop).")
        return uvloop.new_event_loop
    return asyncio.SelectorEventLoop


def install() -> str:
    """Make the configured loop the one ``asyncio.new_event_loop()`` returns; returns its name.

    Call it before anything imports ``daphne.server``.
    """
    name = configured()
    if name == "uvloop":
        asyncio.set_event_loop_policy(_uvloop().EventLoopPolicy())  # type: ignore[union-attr]
    else:
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    return name


def _uvloop() -> types.ModuleType | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop
