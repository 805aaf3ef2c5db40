from tests.vendor_fakes.fixtures import vendor_fake, vendor_fake_server  # noqa: F401
