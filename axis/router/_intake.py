"""Writing each outbound record's consequences into the batch's unit of work: the database half.

The CPU half (`_verdict.Judge`: headers, digest, size, EDXML strict, signature) has already run for the
whole batch off the event loop; its verdicts travel in `BatchEffects`. Here, inside the transaction and
in record order: duplicate message id, then a refusal from the verdict if any, then signer certificate
registered in the directory for From, sender and recipients active, then the document or status rules.
A refusal is a result, not an exception: the tracking row, a Notice and a dead letter are all written
for it. `preload()` reads what the batch will ask about in a few queries before the first record.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from aiokafka import ConsumerRecord

import edxml
from axis import wire
from axis.internal_errors import InternalErrors
from axis.ledger import DeadLetterRow, ProcessedMessage, UnitOfWork
from axis.transport import OutRecord
from signing import REASONS as SIGNATURE_REASONS
from signing import Verifier

from ._metrics import Latency, RouterMetrics, since
from ._rules import Refusal, record_document, record_status
from ._verdict import Judge, RecordKey, Verdict, record_key

_log = logging.getLogger(__name__)


@dataclass
class BatchEffects:
    """What a batch carries besides database rows: the verdicts judged off the loop (in), and the dead
    letters it produces (out, published before the commit)."""

    verdicts: dict[RecordKey, Verdict] = field(default_factory=dict)
    dead_letters: list[OutRecord] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)  # applied to the histograms after the commit


class Intake:
    """Turns outbound records into ledger rows; one instance per router."""

    def __init__(self, verifier: Verifier, *, max_package_bytes: int, tz: tzinfo, metrics: RouterMetrics,
                 known_organs: Container[str] | None = None, errors: InternalErrors | None = None) -> None:
        self.judge = Judge(verifier, max_package_bytes=max_package_bytes, known_organs=known_organs, errors=errors)
        self._tz = tz
        self.metrics = metrics

    async def preload(self, uow: UnitOfWork, effects: BatchEffects) -> None:
        """One round of queries for the batch: tracking rows, directory, documents named, acked deliveries."""
        message_ids: list[str] = []
        organs: set[str] = set()
        documents: list[tuple[str, str]] = []
        delivery_ids: list[str] = []
        new_documents = 0
        for verdict in effects.verdicts.values():
            headers, package = verdict.headers, verdict.package
            if headers is None:
                continue
            if verdict.ack_ids is not None:
                delivery_ids.extend(verdict.ack_ids)
                continue
            message_ids.append(headers.message_id)
            organs.add(headers.sender)
            if isinstance(package, edxml.DocumentPackage):
                organs.update(package.recipients)
                documents.append((package.document_id, package.sender))
                new_documents += 1
            elif isinstance(package, edxml.StatusPackage):
                documents += [(package.document_id, package.sender), (package.document_id, package.response_for.organ_id)]
        await uow.preload(
            message_ids=message_ids, documents=documents, organ_ids=sorted(organs), delivery_ids=delivery_ids,
            new_documents=new_documents,
        )

    async def handle(self, uow: UnitOfWork, record: ConsumerRecord[Any, Any], now: datetime, effects: BatchEffects) -> None:
        value: bytes = record.value or b""
        verdict = effects.verdicts.get(record_key(record)) or self.judge.one(record)
        headers = verdict.headers
        if headers is None:
            self._dead_letter(uow, effects, value, list(record.headers or ()), verdict.problem, now)
            self.metrics.refused["bad-headers"] += 1
            return
        if headers.kind == "ack":
            await self._ack(uow, headers, verdict, now, effects)
            return
        earlier = await uow.processed(headers.message_id)
        if earlier is not None:
            await self._duplicate(uow, headers, earlier, now)
            return
        try:
            if verdict.refusal is not None:
                raise verdict.refusal
            await self._accept(uow, headers, verdict, value, now, effects)
        except Refusal as refusal:
            await self._refuse(uow, headers, value, refusal, now, effects, _key(record), verdict.signature)

    async def refuse_internal(
        self, uow: UnitOfWork, record: ConsumerRecord[Any, Any], error: BaseException, now: datetime,
        effects: BatchEffects,
    ) -> None:
        """Give up on a record the ledger cannot take (a bug, not bad input): refused, visible, not lost."""
        value: bytes = record.value or b""
        try:
            headers = wire.RecordHeaders.decode(record.headers or ())
        except wire.WireFormatError:
            self._dead_letter(uow, effects, value, list(record.headers or ()), f"internal-error: {error}", now)
            return
        if headers.kind == "ack" or await uow.processed(headers.message_id) is not None:
            return
        await self._refuse(uow, headers, value, Refusal("internal-error", str(error)), now, effects, _key(record))

    async def _ack(self, uow: UnitOfWork, headers: wire.RecordHeaders, verdict: Verdict, now: datetime,
                   effects: BatchEffects) -> None:
        if verdict.ack_ids is None:
            _log.warning("ignoring malformed ack from %s: %s", headers.sender, verdict.problem)
            return
        for delivery_id, kind, document in await uow.ack_deliveries(verdict.ack_ids, headers.sender, now):
            if kind != "edoc":
                continue
            await uow.append_event(
                document, at=now, kind="delivered", actor=headers.sender, recipient=headers.sender,
                detail={"delivery_id": delivery_id}, message_id=headers.message_id, body_sha256=headers.body_sha256,
            )
            if (elapsed := since(document.accepted_at, now)) is not None:
                effects.latencies.append(Latency("delivery", elapsed))
        self.metrics.acks += 1

    async def _duplicate(self, uow: UnitOfWork, headers: wire.RecordHeaders, earlier: ProcessedMessage, now: datetime) -> None:
        # A refused message stays refused; an accepted one is confirmed again as "duplicate".
        outcome = "refused" if earlier.outcome == "refused" else "duplicate"
        notice = wire.Notice(
            message_id=headers.message_id, outcome=outcome, reason=earlier.reason, document_id=earlier.document_id,
            recipients=earlier.recipients, at_ms=_ms(now),
        )
        await uow.add_notice(headers.sender, notice, now)
        self.metrics.duplicates += 1

    async def _accept(
        self, uow: UnitOfWork, headers: wire.RecordHeaders, verdict: Verdict, value: bytes, now: datetime,
        effects: BatchEffects,
    ) -> None:
        package = verdict.package
        assert package is not None  # a verdict without refusal carries its package
        sender = await uow.directory.get(package.sender)
        if sender is None:
            raise Refusal("unknown-sender", f"{package.sender} is not in the directory")
        if not sender.active:
            raise Refusal("sender-inactive", f"{package.sender} is disabled in the directory")
        if verdict.fingerprint not in sender.fingerprints:
            raise Refusal(
                "unregistered-certificate",
                f"certificate {verdict.fingerprint} is not registered for {package.sender}",
            )
        if isinstance(package, edxml.DocumentPackage):
            recipients = await record_document(uow, headers, package, value, verdict.signature, now)
        else:
            recipients = await record_status(uow, headers, package, value, verdict.signature, now, self._tz,
                                             effects.latencies)
        await uow.record_message(
            message_id=headers.message_id, kind=headers.kind, sender=headers.sender, document_id=package.document_id,
            outcome="accepted", reason="", body_sha256=headers.body_sha256, sent_at_ms=headers.sent_at_ms,
            recipients=recipients, at=now,
        )
        notice = wire.Notice(
            message_id=headers.requeued_from or headers.message_id, outcome="accepted", document_id=package.document_id,
            recipients=tuple(recipients), at_ms=_ms(now), requeued=headers.requeued_from is not None,
        )
        await uow.add_notice(headers.sender, notice, now)
        self.metrics.accepted += 1

    async def _refuse(
        self, uow: UnitOfWork, headers: wire.RecordHeaders, value: bytes, refusal: Refusal, now: datetime,
        effects: BatchEffects, key: str, signature: str = "",
    ) -> None:
        reason = refusal.text
        await uow.record_message(
            message_id=headers.message_id, kind=headers.kind, sender=headers.sender,
            document_id=refusal.document.document_id if refusal.document else "", outcome="refused",
            reason=reason, body_sha256=headers.body_sha256, sent_at_ms=headers.sent_at_ms, recipients=(), at=now,
        )
        # The refusal is an event like any other (its bytes' digest and how their signature verified): on its
        # document when one is known (a status refused), else on the DocumentId the record was keyed with.
        await uow.append_event(
            refusal.document, at=now, kind="status-refused" if refusal.document is not None else "refused",
            actor=headers.sender, recipient=refusal.recipient, status_code=refusal.status_code,
            message_id=headers.message_id, detail={"reason": reason, "package_kind": headers.kind},
            signature=signature or f"not verified: {refusal.code}", body_sha256=headers.body_sha256,
            document_id=key,
        )
        if await uow.directory.get(headers.sender) is not None:  # an unknown sender has no inbox to tell
            notice = wire.Notice(
                message_id=headers.requeued_from or headers.message_id, outcome="refused", reason=reason,
                document_id=refusal.document.document_id if refusal.document else "", at_ms=_ms(now),
                requeued=headers.requeued_from is not None,
            )
            await uow.add_notice(headers.sender, notice, now)
        self._dead_letter(uow, effects, value, headers.encode(), reason, now,
                          refusal.document.document_id if refusal.document else key)
        self.metrics.refused[refusal.code] += 1
        if refusal.code in SIGNATURE_REASONS:
            self.metrics.signature_failures[refusal.code] += 1
        _log.info("refused %s from %s: %s", headers.message_id, headers.sender, reason)

    def _dead_letter(self, uow: UnitOfWork, effects: BatchEffects, value: bytes, headers: list[tuple[str, bytes]],
                     reason: str, now: datetime, document_id: str = "") -> None:
        """The refused record on `edx.dead-letter` and, with its bytes, in the ledger (the topic may be lost)."""
        extra = [("reason", reason.encode("utf-8")), ("refused-at", str(_ms(now)).encode())]
        kept = [(k, v) for k, v in headers if k not in ("reason", "refused-at")]
        effects.dead_letters.append(OutRecord(wire.DEAD_LETTER, None, value, kept + extra))
        self.metrics.dead_letters += 1
        named = {k: v.decode("utf-8", "replace") for k, v in kept}
        uow.add_dead_letter(DeadLetterRow(
            message_id=named.get("message-id") or "x" + wire.sha256_hex(value), sender=named.get("sender", ""),
            kind=named.get("package-kind", ""), document_id=document_id, reason_code=reason.split(":", 1)[0],
            reason=reason, headers=named, body=value, refused_at=now,
        ))


def _key(record: ConsumerRecord[Any, Any]) -> str:
    """The record's key: the DocumentId agents publish under (docs/ARCHITECTURE.md, the wire)."""
    return (record.key or b"").decode("utf-8", "replace")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
