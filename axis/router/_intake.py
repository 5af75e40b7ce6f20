"""Judging one outbound record and writing its consequences into the batch's unit of work.

The record is parsed once into an lxml tree; the same tree goes to the strict EDXML reader and to the
signature verifier, so what was verified is exactly what was read. Checks, in order: wire headers, body
digest, duplicate message id, size, EDXML strict, signature against the exchange CA (+CRL), signer
certificate registered in the directory for From, signer organ = From, sender and recipients active,
then the document or status rules. A refusal is a result, not an exception: the tracking row, a
Notice and a dead letter are all written for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from aiokafka import ConsumerRecord
from lxml import etree

import edxml
from axis import wire
from axis.ledger import UnitOfWork
from axis.transport import OutRecord
from signing import SignatureInvalid, Verifier

from ._metrics import RouterMetrics
from ._rules import Refusal, record_document, record_status

_log = logging.getLogger(__name__)


@dataclass
class BatchEffects:
    """What a batch produces besides database rows: dead letters (published before the commit)."""

    dead_letters: list[OutRecord] = field(default_factory=list)


class Intake:
    """Turns outbound records into ledger rows; one instance per router."""

    def __init__(self, verifier: Verifier, *, max_package_bytes: int, tz: tzinfo, metrics: RouterMetrics) -> None:
        self._verifier = verifier
        self._max_bytes = max_package_bytes
        self._tz = tz
        self.metrics = metrics

    async def handle(self, uow: UnitOfWork, record: ConsumerRecord[Any, Any], now: datetime, effects: BatchEffects) -> None:
        value: bytes = record.value or b""
        try:
            headers = wire.RecordHeaders.decode(record.headers or ())
        except wire.WireFormatError as exc:
            self._dead_letter(effects, value, list(record.headers or ()), f"bad-headers: {exc}", now)
            self.metrics.refused["bad-headers"] += 1
            return
        if headers.kind == "ack":
            await self._ack(uow, headers, value, now)
            return
        earlier = await uow.processed(headers.message_id)
        if earlier is not None:
            await self._duplicate(uow, headers, earlier, now)
            return
        try:
            await self._judge(uow, headers, value, now)
        except Refusal as refusal:
            await self._refuse(uow, headers, value, refusal, now, effects)

    async def refuse_internal(
        self, uow: UnitOfWork, record: ConsumerRecord[Any, Any], error: BaseException, now: datetime,
        effects: BatchEffects,
    ) -> None:
        """Give up on a record the ledger cannot take (a bug, not bad input): refused, visible, not lost."""
        value: bytes = record.value or b""
        try:
            headers = wire.RecordHeaders.decode(record.headers or ())
        except wire.WireFormatError:
            self._dead_letter(effects, value, list(record.headers or ()), f"internal-error: {error}", now)
            return
        if headers.kind == "ack" or await uow.processed(headers.message_id) is not None:
            return
        await self._refuse(uow, headers, value, Refusal("internal-error", str(error)), now, effects)

    async def _ack(self, uow: UnitOfWork, headers: wire.RecordHeaders, value: bytes, now: datetime) -> None:
        try:
            ids = wire.decode_ack(value)
        except wire.WireFormatError as exc:
            _log.warning("ignoring malformed ack from %s: %s", headers.sender, exc)
            return
        for delivery_id, kind, document in await uow.ack_deliveries(ids, headers.sender, now):
            if kind != "edoc":
                continue
            await uow.append_event(
                document, at=now, kind="delivered", actor=headers.sender, recipient=headers.sender,
                detail={"delivery_id": delivery_id},
            )
        self.metrics.acks += 1

    async def _duplicate(self, uow: UnitOfWork, headers: wire.RecordHeaders, earlier: Any, now: datetime) -> None:
        # A refused message stays refused; an accepted one is confirmed again as "duplicate".
        outcome = "refused" if earlier.outcome == "refused" else "duplicate"
        notice = wire.Notice(
            message_id=headers.message_id, outcome=outcome, reason=earlier.reason, document_id=earlier.document_id,
            recipients=earlier.recipients, at_ms=_ms(now),
        )
        await uow.add_notice(headers.sender, notice, now)
        self.metrics.duplicates += 1

    async def _judge(self, uow: UnitOfWork, headers: wire.RecordHeaders, value: bytes, now: datetime) -> None:
        if headers.kind not in ("edoc", "status"):
            raise Refusal("unexpected-kind", f"package-kind {headers.kind!r} does not belong on {wire.OUTBOUND}")
        if wire.sha256_hex(value) != headers.body_sha256:
            raise Refusal("body-digest-mismatch", "the body's SHA-256 differs from the body-sha256 header")
        if len(value) > self._max_bytes:
            raise Refusal("too-large", f"{len(value)} bytes, the limit is {self._max_bytes}")
        root, package = self._parse(value)
        if package.kind != headers.kind:
            raise Refusal("kind-mismatch", f"header says {headers.kind}, the package is {package.kind}")
        if package.sender != headers.sender:
            raise Refusal("sender-mismatch", f"header sender {headers.sender} but From is {package.sender}")
        try:
            verified = self._verifier.verify(root, expected_organ_id=package.sender)
        except SignatureInvalid as exc:
            raise Refusal(exc.reason, str(exc)) from None
        sender = await uow.directory.get(package.sender)
        if sender is None:
            raise Refusal("unknown-sender", f"{package.sender} is not in the directory")
        if not sender.active:
            raise Refusal("sender-inactive", f"{package.sender} is disabled in the directory")
        if verified.fingerprint_sha256 not in sender.fingerprints:
            raise Refusal(
                "unregistered-certificate",
                f"certificate {verified.fingerprint_sha256} is not registered for {package.sender}",
            )
        signature = f"xmldsig:{verified.algorithm}:{verified.fingerprint_sha256}"
        if isinstance(package, edxml.DocumentPackage):
            recipients = await record_document(uow, headers, package, value, signature, now)
        else:
            recipients = await record_status(uow, headers, package, value, signature, now, self._tz)
        await uow.record_message(
            message_id=headers.message_id, kind=headers.kind, sender=headers.sender, document_id=package.document_id,
            outcome="accepted", reason="", body_sha256=headers.body_sha256, sent_at_ms=headers.sent_at_ms,
            recipients=recipients, at=now,
        )
        notice = wire.Notice(
            message_id=headers.message_id, outcome="accepted", document_id=package.document_id,
            recipients=tuple(recipients), at_ms=_ms(now),
        )
        await uow.add_notice(headers.sender, notice, now)
        self.metrics.accepted += 1

    def _parse(self, value: bytes) -> tuple[etree._Element, edxml.Package]:
        try:
            root = edxml.load_tree(value, max_bytes=self._max_bytes)
            return root, edxml.parse_package(root, profile="strict")
        except edxml.EdxmlError as exc:
            raise Refusal("invalid-package", str(exc)) from None

    async def _refuse(
        self, uow: UnitOfWork, headers: wire.RecordHeaders, value: bytes, refusal: Refusal, now: datetime,
        effects: BatchEffects,
    ) -> None:
        reason = refusal.text
        await uow.record_message(
            message_id=headers.message_id, kind=headers.kind, sender=headers.sender,
            document_id=refusal.document.document_id if refusal.document else "", outcome="refused",
            reason=reason, body_sha256=headers.body_sha256, sent_at_ms=headers.sent_at_ms, recipients=(), at=now,
        )
        if refusal.document is not None:
            await uow.append_event(
                refusal.document, at=now, kind="status-refused", actor=headers.sender,
                recipient=refusal.recipient, status_code=refusal.status_code, message_id=headers.message_id,
                detail={"reason": reason},
            )
        if await uow.directory.get(headers.sender) is not None:  # an unknown sender has no inbox to tell
            notice = wire.Notice(
                message_id=headers.message_id, outcome="refused", reason=reason,
                document_id=refusal.document.document_id if refusal.document else "", at_ms=_ms(now),
            )
            await uow.add_notice(headers.sender, notice, now)
        self._dead_letter(effects, value, headers.encode(), reason, now)
        self.metrics.refused[refusal.code] += 1
        _log.info("refused %s from %s: %s", headers.message_id, headers.sender, reason)

    @staticmethod
    def _dead_letter(effects: BatchEffects, value: bytes, headers: list[tuple[str, bytes]], reason: str, now: datetime) -> None:
        extra = [("reason", reason.encode("utf-8")), ("refused-at", str(_ms(now)).encode())]
        kept = [(k, v) for k, v in headers if k not in ("reason", "refused-at")]
        effects.dead_letters.append(OutRecord(wire.DEAD_LETTER, None, value, kept + extra))


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
