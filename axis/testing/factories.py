"""Fixture factories, like pytest-postgresql's: compose them in a conftest with the options you need.

    from axis.testing import factories

    axis_broker_proc = factories.broker_proc()                    # session: one embedded Tansu broker
    axis_postgres_proc = factories.postgres_proc()                # session: one embedded PostgreSQL server
    ministry_exchange = factories.exchange(agencies=["000.00.00.G22", "000.00.00.H41"], scope="module")
    axis_replay = factories.replay()                              # plays a recording, returns the outcome

The process fixtures start the real servers once; an exchange fixture builds a router (on a database of its
own) and an agent with its HTTP API for each organ id it is given or a test names with
`@pytest.mark.axis_agencies(...)`, and takes it all down afterwards. Every fixture is synchronous: the
services run on one background event loop (`_loop.LoopThread`) for the whole session.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from axis.embedded import EmbeddedBroker, EmbeddedPostgres
from axis.replay import Outcome
from axis.settings import Settings

from ._exchange import AgentHandle, RunningExchange
from ._loop import LoopThread

MARKER = "axis_agencies"


@dataclass(slots=True)
class BrokerProc:
    """The session's embedded broker. The wire's topic names are fixed, so one exchange at a time holds it
    (`held`); an exchange that starts while another holds it (a module's and a test's) gets a private broker."""

    bootstrap: str
    broker: EmbeddedBroker
    held: bool = False


@dataclass(frozen=True, slots=True)
class PostgresProc:
    """The session's embedded PostgreSQL server; each exchange creates (and drops) a database on it."""

    server: EmbeddedPostgres


class ExchangeUnderTest:
    """A running exchange as a test sees it: agents to talk to, recordings to play, the outcome to check."""

    def __init__(self, running: RunningExchange, loop: LoopThread) -> None:
        self._running = running
        self._loop = loop

    @property
    def settings(self) -> Settings:
        """Its resolved settings: broker, database, dev PKI (for tools such as `axis.replay`)."""
        return self._running.settings

    @property
    def organ_ids(self) -> list[str]:
        """The agencies that have a running agent."""
        return list(self._running.agents)

    def agent(self, organ_id: str) -> AgentHandle:
        """The agent of `organ_id`: `url` of its HTTP API and the `headers` that authenticate to it."""
        return self._running.handle(organ_id)

    def play(
        self,
        recording: Path,
        *,
        speed: float | None = None,
        resign: bool = True,
        timeout_s: float = 120.0,
        **options: Any,
    ) -> Outcome:
        """Play a recording into this exchange (signed again for it, as fast as it goes, unless told otherwise),
        wait until the exchange settles, and return the outcome."""
        options.update(speed=speed, resign=resign)
        options.setdefault("algorithm", "ec")
        return self._loop.run(self._running.play(Path(recording), options, timeout_s))

    def outcome(self, *, timeout_s: float = 60.0) -> Outcome:
        """Wait until agents have sent what they hold and the router is quiet, then read the outcome."""
        return self._loop.run(self._running.outcome(timeout_s))


def _loop_fixture(request: pytest.FixtureRequest) -> LoopThread:
    return request.getfixturevalue("axis_loop")  # type: ignore[no-any-return]


def broker_proc(*, scope: str = "session") -> Any:
    """A fixture that starts an embedded broker (Tansu) once per `scope`."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload,misc]
    def fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProc]:
        loop = _loop_fixture(request)
        broker = EmbeddedBroker(log_path=tmp_path_factory.mktemp("axis-broker") / "tansu.log")
        loop.run(broker.start())
        try:
            yield BrokerProc(broker.bootstrap, broker)
        finally:
            loop.run(broker.stop())

    return fixture


def postgres_proc(*, scope: str = "session") -> Any:
    """A fixture that starts an embedded PostgreSQL server once per `scope`.

    Its data lives in a fresh temporary directory outside pytest's (which pytest resets to mode 0700 on each
    start, locking out a server that runs as another user when the tests run as root)."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload,misc]
    def fixture(request: pytest.FixtureRequest) -> Iterator[PostgresProc]:
        loop = _loop_fixture(request)
        folder = Path(tempfile.mkdtemp(prefix="axis-postgres-"))
        server = EmbeddedPostgres(folder / "pgdata")
        try:
            loop.run(server.start())
            yield PostgresProc(server)
        finally:
            loop.run(server.stop())
            shutil.rmtree(folder, ignore_errors=True)

    return fixture


def _agencies(request: pytest.FixtureRequest, given: Sequence[str | tuple[str, str]]) -> dict[str, str]:
    named: list[str | tuple[str, str]] = list(given)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        named += list(marker.args)
    agencies: dict[str, str] = {}
    for item in named:
        organ, name = (item, "") if isinstance(item, str) else item
        agencies[organ] = name or f"Cơ quan {organ}"
    return agencies


def exchange(
    broker_proc_name: str = "axis_broker_proc",
    postgres_proc_name: str = "axis_postgres_proc",
    *,
    agencies: Sequence[str | tuple[str, str]] = (),
    agents: bool = True,
    scope: str = "function",
) -> Any:
    """A fixture that runs an exchange per `scope`: a router, and (with `agents`) an agent per agency.

    Agencies are `agencies` plus the organ ids (or `(organ id, name)` pairs) of the nearest
    `@pytest.mark.axis_agencies(...)`; each is registered with a dev-PKI certificate."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload,misc]
    def fixture(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[ExchangeUnderTest]:
        loop = _loop_fixture(request)
        shared: BrokerProc = request.getfixturevalue(broker_proc_name)
        postgres: PostgresProc = request.getfixturevalue(postgres_proc_name)
        named = _agencies(request, agencies) if agents else {}
        folder = tmp_path_factory.mktemp("axis-exchange")
        private = EmbeddedBroker(log_path=folder / "tansu.log") if shared.held else None
        if private is None:
            shared.held = True
        else:
            loop.run(private.start())
        running = RunningExchange(private.bootstrap if private else shared.bootstrap, postgres.server, folder, named)
        try:
            loop.run(running.start())
            yield ExchangeUnderTest(running, loop)
        finally:
            try:
                loop.run(running.stop())
            finally:
                if private is None:
                    shared.held = False
                else:
                    loop.run(private.stop())

    return fixture


Replayer = Callable[..., Outcome]


def replay(exchange_name: str = "axis_bare_exchange") -> Any:
    """A fixture giving `play(recording, **options) -> Outcome` on the exchange fixture `exchange_name`
    (by default one without agents, so only the recording speaks for its agencies)."""

    @pytest.fixture
    def fixture(request: pytest.FixtureRequest) -> Replayer:
        target: ExchangeUnderTest = request.getfixturevalue(exchange_name)
        return target.play

    return fixture
