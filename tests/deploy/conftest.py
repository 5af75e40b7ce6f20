"""tests/deploy read files and run promtool and amtool: they open no socket, loop or file left to the garbage
collector, so the suite's collect-after-each-test (tests/conftest.py), which costs about half a second a test
once the whole exchange is imported, is not needed here."""

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    yield
