"""The checkpointer: seals the ledger's new batches every N seconds or M events, and has them time-stamped.

It runs beside every router (`axis up`, `axis router`); the ledger's checkpoint lock makes one of them seal at
a time, so replicas need no leader for it. `seal_now()` is also what `axis evidence` calls when the events it
must prove are not sealed yet. A time-stamping authority that does not answer delays only the token: the
checkpoint is sealed and kept, and the token is asked for again on the next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from axis.errors import AxisError, ProofError
from axis.internal_errors import InternalErrors
from axis.ledger import BatchRow, CheckpointRow, Ledger, merkle_root
from axis.lifecycle import AsyncService, cancel_and_wait
from signing import SigningIdentity

from ._checkpoint import GENESIS_CHECKPOINT, CheckpointBody
from ._seal import seal
from ._tsa import request_timestamp

__all__ = ["Checkpointer"]

_log = logging.getLogger(__name__)
_LATE_COMMIT = timedelta(minutes=10)  # far longer than any unit of work lasts


class Checkpointer(AsyncService):
    """`start()`/`stop()` (idempotent) or `async with`; `seal_now()` any time."""

    def __init__(self, ledger: Ledger, identity: SigningIdentity, *, exchange: str, every_s: float = 60.0,
                 every_events: int = 10_000, tsa_url: str | None = None, clock: Callable[[], datetime],
                 poll_s: float = 1.0) -> None:
        self._ledger = ledger
        self.identity = identity  # the exchange's key and certificate, which seal its checkpoints
        self._exchange = exchange
        self._every_s = every_s
        self._every_events = every_events
        self._tsa_url = tsa_url
        self._clock = clock
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self.errors = InternalErrors("checkpointer", _log)
        self.sealed = 0
        self._above = 0  # every batch up to this id was sealed, but for late commits (looked back for by time)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="axis-checkpointer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.pass_once()
                self.errors.succeeded("checkpointing")
            except AxisError as exc:
                self.errors.record("checkpointing", exc)
            await asyncio.sleep(self._poll_s)

    async def pass_once(self) -> CheckpointRow | None:
        """Seal if it is time (M events waiting, or the oldest waiting for N seconds); stamp what lacks a token."""
        made = None
        unsealed = await self._ledger.proofs.unsealed(limit=self._every_events, **self._window())
        waiting = sum(b.events for b in unsealed)
        if unsealed and (waiting >= self._every_events
                         or (self._clock() - unsealed[0].at).total_seconds() >= self._every_s):
            made = await self.seal_now()
        if self._tsa_url:
            for checkpoint in await self._ledger.proofs.without_timestamp():
                await self._stamp(checkpoint)
        return made

    async def seal_now(self) -> CheckpointRow | None:
        """Seal every batch not sealed yet (None: nothing to seal, or another process is sealing now)."""
        made = await self._ledger.proofs.add_checkpoint(self._make, **self._window())
        if made is not None:
            self.sealed += 1
            self._above = max(self._above, *made.batch_ids)
            _log.info("checkpoint %d sealed: %d batch(es), root %s", made.id, len(made.batch_ids), made.root[:16])
            if self._tsa_url:
                await self._stamp(made)
        return made

    def _window(self) -> dict[str, Any]:
        """Where unsealed batches can be: above the last sealed id, or (a transaction that committed after a
        later one was sealed) written in the last ten minutes; everywhere until this process sealed once."""
        if not self._above:
            return {}
        return {"above": self._above, "since": self._clock() - _LATE_COMMIT}

    async def _make(self, batches: list[BatchRow], last: tuple[int, str] | None) -> CheckpointRow | None:
        if not batches:
            return None
        body = CheckpointBody(
            id=(last[0] + 1) if last else 1, at=self._clock(), exchange=self._exchange,
            prev_hash=last[1] if last else GENESIS_CHECKPOINT, root=merkle_root([b.root for b in batches]),
            batch_ids=tuple(b.id for b in batches), events=sum(b.events for b in batches),
        )
        canonical = body.canonical()
        sealed = await asyncio.to_thread(seal, self.identity, canonical)
        return CheckpointRow(body.id, body.at, body.hash, body.prev_hash, body.root, canonical, sealed.as_json(),
                             None, body.batch_ids)

    async def _stamp(self, checkpoint: CheckpointRow) -> None:
        assert self._tsa_url is not None  # noqa: S101 -- called only when configured
        try:
            token = await request_timestamp(self._tsa_url, CheckpointBody.from_canonical(checkpoint.canonical).digest)
        except ProofError as exc:
            self.errors.record("time-stamping", exc)
            return
        await self._ledger.proofs.add_timestamp(checkpoint.id, token)
        self.errors.succeeded("time-stamping")
