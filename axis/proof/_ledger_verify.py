"""`axis ledger verify`: recompute every proof in PostgreSQL and report the first thing that does not match.

Order: the legacy chain (events written before batches existed, each linked to the previous), then every
batch (each event's hash from its fields, then the batch's Merkle root from its events), then every
checkpoint (its hash, its link to the previous one, its root from its batches' roots, the exchange's seal,
and its time-stamp). A row edited behind the database's back (triggers disabled by a superuser) changes an
event's fields, so its hash no longer matches; an event removed or added changes its batch's root; a batch
changed after sealing changes the checkpoint's root; a checkpoint changed breaks its seal or the next link.
Batches not sealed yet are counted: their events are protected by their batch root until the next checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from axis.errors import ProofError
from axis.ledger import Ledger, event_digest, merkle_root, verify_rows

from ._checkpoint import GENESIS_CHECKPOINT, CheckpointBody
from ._seal import Seal, verify_seal
from ._tsa import verify_timestamp

__all__ = ["LedgerReport", "verify_ledger"]


@dataclass
class LedgerReport:
    """What `axis ledger verify` counted, and the first thing that did not hold (None when all did)."""

    events: int = 0
    batches: int = 0
    checkpoints: int = 0
    unsealed_batches: int = 0
    timestamped: int = 0
    failure: dict[str, Any] | None = None
    legacy: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def fail(self, kind: str, problem: str, **where: Any) -> None:
        if self.failure is None:
            self.failure = {"kind": kind, "problem": problem, **where}

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "batches": self.batches, "checkpoints": self.checkpoints,
                "unsealed_batches": self.unsealed_batches, "timestamped": self.timestamped,
                "legacy_chain": self.legacy, "first_failure": self.failure}


async def verify_ledger(ledger: Ledger, *, trust: list[x509.Certificate], exchange: str,
                        tsa_trust: list[x509.Certificate] = (), since: datetime | None = None) -> LedgerReport:  # type: ignore[assignment]
    """Recompute every hash, link, root and seal from `since` (all when None); stop at the first failure."""
    report = LedgerReport()
    proofs = ledger.proofs
    if since is None:
        legacy = verify_rows(await proofs.legacy_events())
        report.legacy = {"ok": legacy.ok, "events": legacy.events}
        if not legacy.ok:
            report.fail("link", legacy.problem, event=legacy.first_bad_seq)
            return report
    roots: dict[int, str] = {}
    async for batch, events in proofs.walk_batches(since=since):
        report.batches += 1
        report.events += len(events)
        for event in events:
            if event_digest(event) != event["hash"]:
                report.fail("hash", "the event's hash does not match its fields", event=event["seq"], batch=batch.id)
                return report
        if len(events) != batch.events or merkle_root([e["hash"] for e in events]) != batch.root:
            first = events[0]["seq"] if events else None
            report.fail("batch-root", f"batch {batch.id} holds {len(events)} event(s) whose root is not the one "
                        f"recorded for its {batch.events} (an event was removed, added or moved)",
                        batch=batch.id, event=first)
            return report
        roots[batch.id] = batch.root
    sealed: set[int] = set()
    for checkpoint in await proofs.checkpoints(since=since):
        report.checkpoints += 1
        where = {"checkpoint": checkpoint.id}
        try:
            body = CheckpointBody.from_canonical(checkpoint.canonical)
        except (ValueError, KeyError, TypeError) as exc:
            report.fail("checkpoint", f"its content cannot be read: {exc}", **where)
            return report
        previous = await proofs.previous_hash(checkpoint.id) or GENESIS_CHECKPOINT
        if body.hash != checkpoint.hash or body.batch_ids != checkpoint.batch_ids or body.root != checkpoint.root:
            report.fail("checkpoint", "its content does not match its recorded hash, root or batches", **where)
            return report
        if body.prev_hash != previous:
            report.fail("link", "it does not link to the previous checkpoint", **where)
            return report
        missing = [b for b in body.batch_ids if b not in roots]
        if missing:
            roots.update({b: row.root for b, row in (await proofs.batches(missing)).items()})
        if merkle_root([roots.get(b, "") for b in body.batch_ids]) != body.root:
            report.fail("checkpoint-root", "its batches' roots do not give its root (a sealed batch changed)",
                        **where)
            return report
        try:
            verify_seal(checkpoint.canonical, Seal.from_json(checkpoint.seal), trust=trust, organ_id=exchange,
                        at=body.at)
        except ProofError as exc:
            report.fail("checkpoint-signature", str(exc), **where)
            return report
        if checkpoint.timestamp is not None:
            try:
                verify_timestamp(checkpoint.timestamp, body.digest, [*tsa_trust, *trust])
                report.timestamped += 1
            except ProofError as exc:
                report.fail("timestamp", str(exc), **where)
                return report
        sealed.update(body.batch_ids)
    report.unsealed_batches = sum(1 for b in roots if b not in sealed)
    return report
