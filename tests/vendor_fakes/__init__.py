"""A small real server that speaks Mistral's, ElevenLabs' and Gemini's wire formats.

Used by the provider contract tests (the real SDK clients pointed at it), and
reusable by browser end-to-end tests and latency benchmarks::

    python -m tests.vendor_fakes --port 8765 --llm-first-token-ms 350

In pytest, the ``vendor_fake`` fixture of ``tests.vendor_fakes.fixtures``
serves it on a free loopback port from a background thread.
"""

from tests.vendor_fakes.server import (
    ROUTES,
    Fault,
    Image,
    Latency,
    Lingering,
    Malformed,
    NoImage,
    Recorded,
    Stall,
    VendorFake,
    running_fake,
)

__all__ = [
    "ROUTES",
    "Fault",
    "Image",
    "Latency",
    "Lingering",
    "Malformed",
    "NoImage",
    "Recorded",
    "Stall",
    "VendorFake",
    "running_fake",
]
