"""One faust app for one broker epoch: `edx.events` -> tallies by agency -> per-agency windowed tables.

Topology (app id `axis-stats.<epoch>`; its topics and tables have the partitions of `edx.events`):

    edx.events --agent route--> <id>-by-agency --agent tally--> tables seen, minute, hour, day
    (key DocumentId)            (key agency)  <-- rebuild: the day's facts read from the ledger

`route` decodes each `LedgerFact` and sends its tallies on, keyed by agency (`_tallies`); `tally` drops a
repeat by its `once` key (table `seen`, per local day) and adds the rest to the agency's `Figures` of the
minute, the hour and the day it falls in (tables keyed (agency, window), values JSON, memory store,
changelog topics for recovery when the app restarts within the epoch).

Why one app per epoch: a Tansu restart loses every topic, changelog and committed offset, while clients keep
their old positions and would silently skip what is written again below them. A new epoch is a new cluster:
a new app id gives a new group (reading everything from the beginning) and new changelog topics.

Configuration, from ../shared/EMBEDDED-BROKER.md (measured there): 6 s sessions with 1 s heartbeats (a first
group join takes session/2), `earliest` (Tansu's "latest" is wrong), `stream_wait_empty=False` (else a stop
waits for an acknowledgement that never comes), one record per producer batch (Tansu answers the end of a
changelog as the base offset of its last batch + 1, so recovery reads every record only when each record is
its own batch), faust's web server off (the stats app serves its own HTTP).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import faust
from faust.types import EventT
from faust.types.auth import CredentialsT

from axis import wire
from axis.errors import TransportUnavailable
from axis.lifecycle import AsyncService, stop_within
from axis.transport import PLAINTEXT, KafkaSecurity

from ._figures import WINDOWS, Figures, Measure, Window, window_named
from ._tallies import Tally, tallies_of

__all__ = ["Engine"]

_log = logging.getLogger(__name__)
_SEEN = window_named("day")  # repeats come within the local day (the router republishes the day)


def _faust_brokers(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def _faust_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """The process's Kafka security as faust's credentials (the same TLS context and SASL user)."""
    if security.sasl_mechanism is not None:
        return faust.SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password.get_secret_value() if security.sasl_password else None,
            mechanism=security.sasl_mechanism, ssl_context=security.ssl_context)
    if security.ssl_context is not None:
        return faust.SSLCredentials(security.ssl_context)
    return None


class Engine(AsyncService):
    """The faust app of one epoch, started and stopped on the running loop (no faust Worker: it would take
    the process's signals); `figures()` reads its tables."""

    def __init__(
        self, bootstrap: str, *, epoch: str, partitions: int, tz: ZoneInfo, data_dir: Path,
        security: KafkaSecurity = PLAINTEXT, replication_factor: int = 1, start_timeout_s: float = 60.0,
    ) -> None:
        self.app_id = f"axis-stats.{epoch}"
        self.epoch = epoch
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._tz = tz
        self._data_dir = data_dir
        self._security = security
        self._replication_factor = replication_factor
        self._start_timeout_s = start_timeout_s
        self._app: faust.App | None = None
        self._by_agency: Any = None
        self._seen: Any = None
        self._tables: dict[str, Any] = {}
        self.started_at: float | None = None
        self.error: BaseException | None = None
        self.facts = 0
        self.malformed = 0
        self.duplicates = 0
        self.rebuild_sent = 0
        self.rebuild_applied = 0
        self.rebuilt = False  # a rebuild from the ledger was sent whole

    # --- the app ------------------------------------------------------------------------------------

    def _clock(self, window: Window) -> Callable[[EventT | None], float]:
        def clock(event: EventT | None) -> float:
            if event is None:  # only the tally agent updates tables; reads outside it go by window range
                raise RuntimeError(f"the {window.name} table was updated outside the tally agent")
            return window.clock(cast(Tally, event.value).at, self._tz)

        return clock

    def _build(self) -> faust.App:
        datadir = self._data_dir / "stats"  # faust makes its folders there; memory tables write nothing in them
        datadir.mkdir(parents=True, exist_ok=True)
        app = faust.App(
            self.app_id, broker=_faust_brokers(self._bootstrap), broker_client_id=self.app_id, web_enabled=False,
            broker_credentials=_faust_credentials(self._security), topic_replication_factor=self._replication_factor,
            store="memory://", datadir=str(datadir), autodiscover=False,
            topic_partitions=self._partitions, stream_wait_empty=False, consumer_auto_offset_reset="earliest",
            broker_session_timeout=6, broker_heartbeat_interval=1, producer_max_batch_size=1,
        )
        events = app.topic(wire.EVENTS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
        self._by_agency = app.topic(f"{self.app_id}-by-agency", partitions=self._partitions, internal=True,
                                    key_type=str, value_type=Tally, key_serializer="raw")

        def table(name: str, window: Window, default: Callable[[], Any]) -> Any:
            plain: Any = app.Table(name, partitions=self._partitions, default=default)  # keys, values: JSON
            return plain.tumbling(window.seconds, expires=window.expires_s).relative_to(self._clock(window))

        self._seen = table("seen", _SEEN, bool)
        self._tables = {w.name: table(w.name, w, dict) for w in WINDOWS}
        app.agent(events, name="route")(self._failing_visibly(self._route))
        app.agent(self._by_agency, name="tally")(self._failing_visibly(self._tally))
        return app

    def _failing_visibly(self, agent: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        """An agent that fails marks the engine unhealthy (faust would only log it): figures stop being right."""

        async def run(stream: Any) -> None:
            try:
                await agent(stream)
            except Exception as exc:
                self.error = exc
                _log.exception("stats: agent %s of %s failed", agent.__name__, self.app_id)
                raise

        return run

    async def _route(self, stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            try:
                fact = wire.LedgerFact.decode(value)
            except wire.WireFormatError as exc:
                self.malformed += 1
                _log.warning("stats: skipping a malformed record on %s: %s", wire.EVENTS, exc)
                continue
            self.facts += 1
            for tally in tallies_of(fact):
                await self._by_agency.send(key=tally.agency, value=tally)

    async def _tally(self, stream: faust.StreamT[Tally]) -> None:
        async for tally in stream:
            self._apply(tally)

    def _apply(self, tally: Tally) -> None:
        """Count a tally once; no await inside, so a read and its write are never split by another event."""
        if tally.from_ledger:
            self.rebuild_applied += 1
        if self._seen[tally.once].value():
            self.duplicates += 1
            return
        self._seen[tally.once] = True
        for table in self._tables.values():
            current = table[tally.agency].value()
            figures = Figures.from_json(current) if current else Figures()
            figures.add(cast(Measure, tally.measure), tally.seconds)
            table[tally.agency] = figures.to_json()

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._app is not None:
            return
        app = self._build()
        started = asyncio.Event()

        async def on_startup_finished() -> None:
            started.set()

        app.on_startup_finished = on_startup_finished
        self._app = app
        begun = time.monotonic()
        try:
            await app.start()
            while not started.is_set():
                if app.crashed or time.monotonic() - begun > self._start_timeout_s:
                    raise TransportUnavailable(
                        f"stats app {self.app_id} did not start within {self._start_timeout_s:.0f} s"
                        + (f": {app.crash_reason!r}" if app.crash_reason else ""))
                await asyncio.sleep(0.05)
        except BaseException:
            await self.stop()
            raise
        self.started_at = time.monotonic()
        _log.debug("stats: app %s started in %.1f s", self.app_id, self.started_at - begun)

    async def stop(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            await stop_within(app.stop(), 10.0, f"stopping stats app {self.app_id}")

    @property
    def healthy(self) -> bool:
        app = self._app
        return app is not None and self.started_at is not None and not app.crashed and self.error is None

    @property
    def ready(self) -> bool:
        """Started and every tally of its rebuilds counted: the tables hold the ledger's figures."""
        return self.healthy and self.rebuilt and self.rebuild_applied >= self.rebuild_sent

    # --- rebuild and reads --------------------------------------------------------------------------

    async def rebuild(self, batches: AsyncIterator[list[wire.LedgerFact]]) -> int:
        """Send the tallies of the ledger's facts through the tables (repeats of the stream's are dropped there);
        returns how many; `ready` turns true once the `tally` agent has counted them all. A failed rebuild
        is simply run again: what it sent twice is dropped as repeats."""
        sent = 0
        async for facts in batches:
            pending = [await self._by_agency.send(key=t.agency, value=t)
                       for fact in facts for t in tallies_of(fact, from_ledger=True)]
            await asyncio.gather(*pending)
            sent += len(pending)
            self.rebuild_sent += len(pending)
        self.rebuilt = True
        return sent

    def figures(self, window: Window | str, at: datetime) -> dict[str, Figures]:
        """Every agency's figures in the window (minute, hour, day) holding `at`."""
        window = window_named(window) if isinstance(window, str) else window
        table = self._tables[window.name].table
        wanted = table.window.current(window.clock(at.timestamp(), self._tz))
        return {agency: Figures.from_json(value) for (agency, span), value in list(table.items()) if span == wanted}
