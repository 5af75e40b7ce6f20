"""`StatsService`: the stats app of `axis stats` — epoch watch, the faust engine of the epoch, the ledger's
overdue receipts, and the HTTP surface (`_http`).

The ledger is the truth, the tables are a fast copy of it:

- Each engine (one per broker epoch, `_engine`) is filled from two sides: `edx.events` of its epoch from
  the beginning, and a rebuild that replays the current local day's facts read from the ledger. Repeats
  between the two are dropped by fact id. The rebuild does not wait for the router's republication of the
  day (it also comes, and is dropped as repeats): the router republishes only when it sees the epoch change
  while running, and a broker that lost its data while the router was down (or a fresh `axis up`) gets no
  republication, while the ledger always has the day. No fact falls between the two: a fact the relay
  published into the lost broker was committed before the rebuild's query, which runs after the new epoch
  was found; a fact committed after that query is published after it, into the new epoch's topic.
- Overdue receipts are a state, not an event: they are counted from the ledger (`Ledger.overdue()`) every
  `overdue_every_s`, by recipient.

`health()` is `ok` only when the broker answers, the engine of the current epoch runs, its rebuild is
counted and the last overdue query worked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from datetime import datetime
from datetime import time as day_time
from typing import Any

from axis import wire
from axis.bootstrap import build_ledger
from axis.errors import AxisError, SettingsError
from axis.ledger import Clock, Ledger, utc_now
from axis.lifecycle import AsyncService, cancel_and_wait, stop_within
from axis.settings import Settings
from axis.transport import EpochWatch, kafka_security

from ._engine import Engine
from ._http import stats_http
from ._ledger_sql import ledger_facts

__all__ = ["StatsService"]

_log = logging.getLogger(__name__)
_RETRY_S = 2.0


class StatsService(AsyncService):
    """The stats app over resolved settings (broker and database); `start()`/`stop()` or `async with`.

    `port` is where its HTTP surface listens on 127.0.0.1 (0: a free port, see `.url`; None: no HTTP,
    for callers that read `engine` and `health()` themselves).
    """

    def __init__(
        self, settings: Settings, *, port: int | None, clock: Clock = utc_now, overdue_every_s: float = 15.0,
        epoch_interval_s: float = 1.0,
    ) -> None:
        if not settings.kafka_bootstrap or settings.database_url is None:
            raise SettingsError("the stats app needs kafka_bootstrap and database_url (resolve the settings first)")
        self.settings = settings
        self.clock = clock
        self._bootstrap: str = settings.kafka_bootstrap
        self._security = kafka_security(settings)  # reads the TLS files now: a bad one stops the start
        self._port = port
        self._overdue_every_s = overdue_every_s
        self._epoch_interval_s = epoch_interval_s
        self.ledger: Ledger = build_ledger(settings, clock=clock)
        self.engine: Engine | None = None
        self.rebuilds = 0
        self.overdue: dict[str, Counter[str]] | None = None  # recipient -> late status ("01", "03") -> count
        self.overdue_error: AxisError | None = None
        self.engine_error: Exception | None = None
        self._watch: EpochWatch | None = None
        self._http: Any = None
        self._epoch_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._failed: BaseException | None = None
        self._state = "new"

    @property
    def url(self) -> str | None:
        return self._http.url if self._http is not None else None

    @property
    def epochs_seen(self) -> int:
        return self._watch.epochs_seen if self._watch is not None else 0

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._state != "new":
            return
        self._state = "starting"
        try:
            await self.ledger.start()
            if self._port is not None:
                self._http = stats_http(self, self._port)
                await self._http.start()
            self._watch = EpochWatch(self._bootstrap, lambda: {wire.EVENTS: self.settings.outbound_partitions},
                                     interval_s=self._epoch_interval_s, security=self._security,
                                     replication_factor=self.settings.kafka_replication_factor)
            await self._watch.start()
            self._watch.on_new_epoch(self._on_new_epoch)
        except BaseException:
            await self.stop()
            raise
        self._spawn(self._engine_loop(), "axis-stats-engine")
        self._spawn(self._overdue_loop(), "axis-stats-overdue")
        self._state = "running"

    async def stop(self) -> None:
        """Stop HTTP first (no reads of a stopping engine), then the loops, the engine, the watch, the ledger."""
        if self._state == "stopped":
            return
        self._state = "stopping"
        if self._http is not None:
            await self._http.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):  # a loop's failure was reported when it happened
                await cancel_and_wait(task)
        self._tasks.clear()
        engine, self.engine = self.engine, None
        for name, service in (("engine", engine), ("epoch watch", self._watch), ("ledger", self.ledger)):
            if service is not None:
                await stop_within(service.stop(), 10.0, f"stopping the stats app's {name}")
        self._state = "stopped"

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._state != "running":
            return
        self._failed = task.exception() or RuntimeError(f"{task.get_name()} ended")
        _log.error("stats task %s died: %r", task.get_name(), self._failed)

    # --- the engine of the current epoch ------------------------------------------------------------

    async def _on_new_epoch(self, epoch: str) -> None:
        self._epoch_changed.set()  # the engine loop switches; the watch's tick stays short

    async def _engine_loop(self) -> None:
        """Keep an engine of the current epoch running and rebuilt; retry after a failure."""
        while True:
            self._epoch_changed.clear()
            try:
                await self._ensure_engine()
                self.engine_error = None
            except Exception as exc:  # noqa: BLE001 - broker or ledger away, or faust failing: unhealthy, retried
                self.engine_error = exc
                _log.warning("stats: engine of epoch %s not ready, retrying: %r", self._watch_epoch(), exc)
                await asyncio.sleep(_RETRY_S)
                continue
            await self._epoch_changed.wait()

    def _watch_epoch(self) -> str | None:
        return self._watch.epoch if self._watch is not None else None

    async def _ensure_engine(self) -> None:
        epoch = self._watch_epoch()
        if epoch is None:
            return
        engine = self.engine
        if engine is not None and engine.epoch != epoch:
            self.engine = None
            await engine.stop()
            engine = None
        if engine is None:
            engine = Engine(self._bootstrap, epoch=epoch, partitions=self.settings.outbound_partitions,
                            tz=self.settings.tz, data_dir=self.settings.data_dir, security=self._security,
                            replication_factor=self.settings.kafka_replication_factor)
            await engine.start()
            self.engine = engine
        if not engine.rebuilt:
            await self._rebuild(engine)

    async def _rebuild(self, engine: Engine) -> None:
        since = self.day_start()
        began = time.monotonic()
        sent = await engine.rebuild(ledger_facts(self.ledger.pool, since))
        self.rebuilds += 1
        _log.log(logging.INFO if sent else logging.DEBUG,  # an idle exchange logs nothing
                 "stats: epoch %s rebuilt from the ledger: %d tallies of facts since %s sent in %.1f s",
                 engine.epoch, sent, since.isoformat(), time.monotonic() - began)

    def day_start(self) -> datetime:
        """Local midnight of today, in the exchange's time zone: the running day starts there."""
        tz = self.settings.tz
        return datetime.combine(self.clock().astimezone(tz).date(), day_time(0), tz)

    # --- overdue receipts ---------------------------------------------------------------------------

    async def _overdue_loop(self) -> None:
        while True:
            try:
                late = await self.ledger.overdue()
                counts: dict[str, Counter[str]] = {}
                for item in late:
                    counts.setdefault(item.recipient, Counter())[item.late_status] += 1
                self.overdue, self.overdue_error = counts, None
            except AxisError as exc:  # the ledger may be away a moment: keep the last counts, say so in health
                self.overdue_error = exc
                _log.warning("stats: overdue receipts not counted: %s", exc)
            await asyncio.sleep(self._overdue_every_s)

    # --- health -------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`ok` (the tables hold the ledger's figures and follow the stream); `starting`, `rebuilding`,
        `degraded` (overdue counts stale), `unhealthy` or `stopped` otherwise."""
        engine = self.engine
        broker_ok = self._watch is not None and self._watch.healthy
        problems = []
        if self._failed is not None:
            problems.append(f"a loop died: {self._failed!r}")
        if not broker_ok:
            problems.append(f"broker: {self._watch.last_error if self._watch else 'not connected'}")
        if self.engine_error is not None:
            problems.append(f"engine: {self.engine_error}")
        if engine is not None and engine.error is not None:
            problems.append(f"engine agent failed: {engine.error!r}")
        if self._state != "running":
            status = "stopped" if self._state == "stopped" else "starting"
        elif problems:
            status = "unhealthy"
        elif engine is None or not engine.healthy:
            status = "starting"
        elif not engine.ready:
            status = "rebuilding"
        elif self.overdue_error is not None or self.overdue is None:
            status = "degraded"
            problems.append(f"overdue receipts: {self.overdue_error or 'not counted yet'}")
        else:
            status = "ok"
        return {
            "status": status,
            "problems": problems,
            "broker": "ok" if broker_ok else "unreachable",
            "epoch": self._watch_epoch(),
            "app_id": engine.app_id if engine else None,
            "facts": engine.facts if engine else 0,
            "duplicates": engine.duplicates if engine else 0,
            "malformed": engine.malformed if engine else 0,
            "rebuild": None if engine is None else {"tallies_sent": engine.rebuild_sent,
                                                    "tallies_counted": engine.rebuild_applied},
            "rebuilds": self.rebuilds,
        }
