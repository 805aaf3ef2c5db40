"""Which of our calls leave reference cycles behind for Python's cyclic collector."""

from __future__ import annotations

import gc
from collections.abc import Callable


def cyclic_functions_left_by(call: Callable[[], object], *, packages: tuple[str, ...], times: int = 10) -> list[str]:
    """Qualified names of the functions from ``packages`` found in the cyclic garbage of ``times`` calls.

    Counting only those functions (the nested closures that make such cycles) keeps garbage
    that other threads happen to drop meanwhile (an event loop closing in a test server's
    thread leaves weak-set callbacks) from being blamed on ``call``. The first call runs
    before counting: first use may import modules and build classes, which are cyclic by nature.
    """
    call()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(times):
            call()
        gc.collect()
        return sorted(
            f"{found.__module__}.{found.__qualname__}"
            for found in gc.garbage
            if type(found).__name__ == "function" and found.__module__.split(".")[0] in packages
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
