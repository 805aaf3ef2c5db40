"""pytest fixtures for the vendor fake; import them into a conftest.py::

from tests.vendor_fakes.fixtures import vendor_fake, vendor_fake_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.vendor_fakes.server import VendorFake


@pytest.fixture(scope="session")
def vendor_fake_server() -> Iterator[VendorFake]:
    fake = VendorFake()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def vendor_fake(vendor_fake_server: VendorFake) -> Iterator[VendorFake]:
    """The running fake, with no scripted replies, no recorded requests and no latency."""
    vendor_fake_server.reset()
    yield vendor_fake_server
    vendor_fake_server.reset()
