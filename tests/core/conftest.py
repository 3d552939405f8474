import io
import logging

import pytest


@pytest.fixture
def console():
    """What the console handler (LOGGING's only one) writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)
