import threading

import pytest


@pytest.fixture(autouse=True)
def no_server_left_behind():
    """Every server a test of tests/io starts (helpers.range_server, helpers.stac_server) is stopped and joined when
    the test ends."""
    yield
    alive = [t.name for t in threading.enumerate() if t.name.startswith('range-server')]
    assert not alive, f'server threads still running after the test: {alive}'
