"""`Receiver`: reads this agency's inbox topic and the directory, and makes each delivery durable once.

Order of effects for a delivery, and why: verify the signature against the exchange CA (a document system
must never see a package that does not verify); store the package, its delivery id and, for a document, the
signed status 01 in one unit of work (so a crash leaves all or nothing); only then publish the `ack` and
commit the Kafka offset. A redelivery (same message id) is not stored again but is acked again, so the
router stops resending while the document system still sees the document once. Router notices update the
outbox and sent rows; received statuses update the sent documents' per-recipient state; a revoke, update or
replace marks the earlier received document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import tzinfo

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

import edxml
from axis.errors import TransportError
from axis.transport import Consumer, OutRecord, Publisher
from axis.wire import (
    DIRECTORY,
    OUTBOUND,
    DirectoryEntry,
    Notice,
    RecordHeaders,
    WireFormatError,
    encode_ack,
    new_message_id,
    now_ms,
    sha256_hex,
)
from edxml import DocumentPackage, StatusCode, StatusPackage
from signing import SignatureInvalid, Verifier

from ._compose import superseded_documents
from ._task import LoopService, Supervised
from .errors import AgentError
from .service import AgentService
from .store import InboxEntry, OutboxEntry, Store

__all__ = ["Receiver"]

_log = logging.getLogger(__name__)
_Checked = tuple[InboxEntry, edxml.Package] | Exception  # a verified delivery, or why it was refused
_DIRECTORY_TP = TopicPartition(DIRECTORY, 0)
ARRIVED_TEXT = "Đã đến - the agent stored the document; the clerk has not handled it yet"


class Receiver(LoopService):
    """Consumes `edx.inbox.<organ>` and `edx.directory`. `start()`/`stop()` (idempotent) or `async with`."""

    def __init__(
        self,
        organ_id: str,
        store: Store,
        service: AgentService,
        verifier: Verifier,
        publisher: Publisher,
        consumer: Consumer,
        *,
        local_tz: tzinfo,
        on_stored: Callable[[], None] = lambda: None,
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.organ_id = organ_id
        self._store = store
        self._service = service
        self._verifier = verifier
        self._publisher = publisher
        self._consumer = consumer
        self._tz = local_tz
        self._on_stored = on_stored
        self._on_outbox = on_outbox
        self._task = Supervised(f"receiver-{organ_id}", self._run)
        self.stored = 0
        self.last_error: BaseException | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self._consumer.stop()


    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                batch = await self._consumer.getmany(timeout_s=0.5, max_records=200)
                await self.handle_batch(batch.records)
                await self.flush_acks()
                await self._consumer.commit(batch)
                await self._note_directory_read()
                failures, self.last_error = 0, None
            except TransportError as exc:
                # Broker away: nothing was committed, the records come again; stored ones are deduplicated.
                failures += 1
                self.last_error = exc
                _log.info("agent %s: receive failed (%s), retrying", self.organ_id, exc)
                await asyncio.sleep(min(0.2 * 2 ** failures, 5.0))

    async def _note_directory_read(self) -> None:
        """Mark the mirror a true copy once the directory topic was read to its end (its high-water mark).

        Until then the agent answers directory questions with "not ready" rather than a partial list."""
        if self._store.directory_synced:
            return
        consumer = self._consumer.consumer
        high = consumer.highwater(_DIRECTORY_TP)
        if not high or _DIRECTORY_TP not in consumer.assignment():
            return
        try:
            position = await consumer.position(_DIRECTORY_TP)
        except KafkaError:  # reassigned meanwhile: ask again after the next batch
            return
        if position >= high and (await self._store.directory()):
            await self._store.mark_directory_synced()
            _log.info("agent %s: directory read (%d agencies)", self.organ_id, len(await self._store.directory()))

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Apply one record (a batch of one)."""
        await self.handle_batch([record])

    async def handle_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply records; malformed ones are logged and skipped (they would fail the same way again).

        Directory entries and notices are applied as they come; the deliveries are stored together at the
        end (notices and received statuses commute: both only move a sent row forward), so a busy inbox
        costs one verification hop and one commit per batch and a quiet one the same per record.
        """
        deliveries: list[tuple[RecordHeaders, bytes]] = []
        for record in records:
            value = record.value or b""
            if record.topic == DIRECTORY:
                try:
                    await self._store.upsert_directory(DirectoryEntry.decode(value))
                except WireFormatError as exc:
                    _log.warning("agent %s: skipping directory record at offset %d: %s",
                                 self.organ_id, record.offset, exc)
                continue
            try:
                headers = RecordHeaders.decode(record.headers)
                if headers.kind == "notice":
                    if not await self._store.apply_notice(Notice.decode(value)):
                        _log.debug("agent %s: notice for an unknown or settled message", self.organ_id)
                elif headers.kind in ("edoc", "status"):
                    deliveries.append((headers, value))
            except WireFormatError as exc:
                _log.warning("agent %s: skipping inbox record at offset %d: %s", self.organ_id, record.offset, exc)
        if deliveries:
            await self._deliveries(deliveries)

    async def _deliveries(self, items: list[tuple[RecordHeaders, bytes]]) -> None:
        fresh: list[tuple[str, RecordHeaders, bytes]] = []
        for headers, body in items:
            delivery_id = headers.delivery_id or f"{headers.message_id}:{self.organ_id}"
            if await self._store.has_received(headers.message_id):
                await self._store.note_delivery(delivery_id, headers.message_id)
            else:
                fresh.append((delivery_id, headers, body))
        if not fresh:
            return
        checked = await asyncio.to_thread(self._verify_all, [(h, b) for _, h, b in fresh])
        arrivals = await asyncio.gather(*(self._arrived(result) for result in checked))
        stored = answered = 0
        async with self._store.unit_of_work() as uow:
            for (delivery_id, headers, body), result, arrived in zip(fresh, checked, arrivals, strict=True):
                if isinstance(result, Exception):
                    _log.warning("agent %s: rejecting delivery %s from %s: %s",
                                 self.organ_id, delivery_id, headers.sender, result)
                    await uow.add_rejected(delivery_id, headers.message_id, headers.sender, str(result), body)
                    continue
                entry, package = result
                inserted = await uow.add_inbox(entry, delivery_id)
                if inserted and isinstance(package, DocumentPackage):
                    if arrived is not None:
                        await uow.add_outbox(arrived)
                        answered += 1
                    superseded = superseded_documents(package)
                    if superseded is not None:
                        await uow.mark_superseded(package.sender, superseded[1], superseded[0], entry.message_id)
                elif inserted and isinstance(package, StatusPackage):
                    at = int(package.timestamp.replace(tzinfo=self._tz).timestamp() * 1000)
                    await uow.apply_status(package.document_id, package.sender, package.status_code.value,
                                           package.description, at)
                stored += inserted
            await uow.commit()
        if stored:
            self.stored += stored
            self._on_stored()
        if answered:
            self._service.metrics.receipts_sent[StatusCode.ARRIVED.value] += answered
            self._on_outbox()

    async def _arrived(self, result: _Checked) -> OutboxEntry | None:
        """The signed status 01 for a verified document; None for a status or a rejected delivery."""
        if isinstance(result, Exception) or not isinstance(result[1], DocumentPackage):
            return None
        package = result[1]
        try:
            return await self._service.status_entry(package.document_id, StatusCode.ARRIVED, ARRIVED_TEXT,
                                                    received=package)
        except AgentError as exc:  # e.g. a package that cannot be answered; store it anyway
            _log.warning("agent %s: no status 01 for %s: %s", self.organ_id, package.document_id, exc)
            return None

    def _verify_all(self, items: list[tuple[RecordHeaders, bytes]]) -> list[_Checked]:
        """Verify in the worker thread, one call for the batch; a refusal is returned, not raised."""
        results: list[_Checked] = []
        for headers, body in items:
            try:
                results.append(self._verified_entry(headers, body))
            except (SignatureInvalid, edxml.EdxmlError, ValueError) as exc:
                results.append(exc)
        return results

    def _verified_entry(self, headers: RecordHeaders, body: bytes) -> tuple[InboxEntry, edxml.Package]:
        if sha256_hex(body) != headers.body_sha256:
            raise ValueError("body-sha256 header does not match the record value")
        signature = self._verifier.verify(body)
        package = edxml.parse_package(body, profile="lenient", source=f"delivery {headers.message_id}")
        if signature.organ_id != headers.sender or package.sender != headers.sender:
            raise ValueError(f"sender header {headers.sender!r} is not the signer {signature.organ_id!r}")
        document = isinstance(package, DocumentPackage)
        entry = InboxEntry(
            message_id=headers.message_id, kind=package.kind, sender=package.sender,
            document_id=package.document_id, recipients=package.recipients,
            subject=package.header.subject if document else "",  # type: ignore[union-attr]
            status_code=None if document else package.status_code.value,  # type: ignore[union-attr]
            description="" if document else package.description,  # type: ignore[union-attr]
            doc_type=int(package.trace.business.doc_type) if document and package.trace.business else None,  # type: ignore[union-attr]
            signer=signature.organ_id, body=body, sent_at_ms=headers.sent_at_ms or None,
        )
        return entry, package

    async def flush_acks(self) -> None:
        """Tell the router which deliveries are stored; left for the next round if the broker is away."""
        ids = await self._store.unacked_deliveries()
        if not ids:
            return
        value = encode_ack(ids)
        headers = RecordHeaders(new_message_id(), "ack", self.organ_id, sha256_hex(value), now_ms())
        await self._publisher.publish(OutRecord(OUTBOUND, self.organ_id.encode(), value, headers.encode()))
        await self._store.mark_acked(ids)
