"""A minimal stand-in for the router: outbound records go to each recipient's inbox plus a notice `accepted`.

Only for agent tests while they must not depend on the router: no validation, no ledger, no redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib

import edxml
from axis import wire
from axis.transport import Consumer, OutRecord, Publisher


class Forwarder:
    def __init__(self, bootstrap: str) -> None:
        self._consumer = Consumer(bootstrap, [wire.OUTBOUND], group_id=None)
        self._publisher = Publisher(bootstrap, linger_ms=0)
        self._task: asyncio.Task[None] | None = None
        self.acks: list[str] = []
        self.forwarded: list[str] = []

    async def __aenter__(self) -> "Forwarder":
        await self._consumer.start()
        await self._publisher.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
        await self._publisher.stop()

    async def _run(self) -> None:
        seen: set[str] = set()
        async for batch in self._consumer.batches(timeout_s=0.2):
            out: list[OutRecord] = []
            for record in batch.records:
                headers = wire.RecordHeaders.decode(record.headers)
                if headers.kind == "ack":
                    self.acks += wire.decode_ack(record.value or b"")
                    continue
                pkg = edxml.parse_package(record.value or b"")
                outcome = "duplicate" if headers.message_id in seen else "accepted"
                notice = wire.Notice(headers.message_id, outcome, document_id=pkg.document_id,  # type: ignore[arg-type]
                                     recipients=pkg.recipients, at_ms=wire.now_ms())
                out.append(OutRecord(wire.inbox_topic(headers.sender), None, notice.encode(), wire.RecordHeaders(
                    wire.new_message_id(), "notice", "router", wire.sha256_hex(notice.encode()), wire.now_ms()).encode()))
                if outcome == "duplicate":
                    continue
                seen.add(headers.message_id)
                self.forwarded.append(headers.message_id)
                for to in pkg.recipients:
                    delivery = wire.RecordHeaders(headers.message_id, headers.kind, headers.sender, headers.body_sha256,
                                                  headers.sent_at_ms, delivery_id=f"{headers.message_id}:{to}", attempt=1)
                    out.append(OutRecord(wire.inbox_topic(to), None, record.value or b"", delivery.encode()))
            if out:
                await self._publisher.publish_many(out)
