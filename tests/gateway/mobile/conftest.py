from tests.gateway.mobile.scan_world import scan_world  # noqa: F401 (the fixture)
