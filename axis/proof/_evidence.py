"""Gather one document's evidence from the ledger: its packages, its events with their proofs, the checkpoints.

Events not sealed yet are sealed first (a checkpoint is made now), so a bundle never holds an unproved event.
Bodies moved to archive files (`axis ledger archive`) are read back from there and must still match the
SHA-256 the ledger recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axis.errors import NotAParty, ProofError, UnknownDocument
from axis.ledger import Ledger, inclusion_proof

from ._archive import read_archived
from ._checkpointer import Checkpointer
from ._material import EventProof, EvidenceMaterial, ProvedEvent, SealedCheckpoint

__all__ = ["gather_evidence"]


async def gather_evidence(ledger: Ledger, checkpointer: Checkpointer, document_id: str, *, sender: str | None,
                          ca_pem: str, exchange: str, archive_dir: Path | None,
                          party: str | None = None) -> EvidenceMaterial:
    """Everything the bundle of `document_id` (sent by `sender`, when several sent one with that id) holds;
    with `party`, only when that organ sent or received it."""
    proofs = ledger.proofs
    documents = await proofs.documents_named(document_id, sender)
    if party is not None:
        mine = [d for d in documents if party == d["sender"] or party in d["recipients"]]
        if documents and not mine:
            raise NotAParty(f"{party} neither sent nor received {document_id!r}")
        documents = mine
    if not documents:
        raise UnknownDocument(f"no document {document_id!r}" + (f" from {sender}" if sender else "") + " in the ledger")
    if len(documents) > 1:
        raise ProofError(f"{len(documents)} senders sent a document {document_id!r} "
                         f"({', '.join(d['sender'] for d in documents)}): say which with --sender")
    doc = documents[0]
    events = await proofs.document_events(doc["id"])
    if any(e["batch"] is None for e in events):
        raise ProofError(f"{document_id} has events from before the proof tables (hash version 1): they are "
                         "proved by `axis ledger verify` over the whole legacy chain, not by a bundle")
    if None in [await proofs.checkpoint_of(batch) for batch in {e["batch"] for e in events}]:
        await checkpointer.seal_now()
    proved, checkpoint_ids = await _prove(ledger, events)
    checkpoints = await proofs.checkpoints(ids=sorted(checkpoint_ids))
    statuses = {s["message_id"]: _body(s, archive_dir) for s in await proofs.statuses_of(doc["id"])}
    fingerprints = {e["signature"].rsplit(":", 1)[-1] for e in events if e["signature"].startswith("xmldsig:")}
    return EvidenceMaterial(
        document_id=doc["document_id"], sender=doc["sender"], recipients=tuple(doc["recipients"]),
        subject=doc["subject"], package=_body(doc, archive_dir), statuses=statuses, events=proved,
        checkpoints=[SealedCheckpoint(c.id, c.canonical, c.seal, c.timestamp) for c in checkpoints],
        ca_pem=ca_pem, signer_certificates=await proofs.certificates(sorted(fingerprints)), exchange=exchange,
    )


async def _prove(ledger: Ledger, events: list[dict[str, Any]]) -> tuple[list[ProvedEvent], set[int]]:
    proofs = ledger.proofs
    leaves: dict[int, list[str]] = {}
    proved, used = [], set()
    for event in events:
        batch_id = event["batch"]
        if batch_id not in leaves:
            leaves[batch_id] = [e["hash"] for e in await proofs.batch_events(batch_id)]
        checkpoint_id = await proofs.checkpoint_of(batch_id)
        if checkpoint_id is None:
            raise ProofError(f"event {event['seq']} is not sealed yet and no checkpoint could be made now "
                             "(another process is sealing: try again)")
        [checkpoint] = await proofs.checkpoints(ids=[checkpoint_id])
        batch_roots = [b.root for b in _in_order(await proofs.batches(checkpoint.batch_ids), checkpoint.batch_ids)]
        position = checkpoint.batch_ids.index(batch_id)
        in_batch = leaves[batch_id].index(event["hash"])
        proved.append(ProvedEvent(
            row=_fields(event), hash=event["hash"], batch_id=batch_id, batch_root=batch_roots[position],
            in_batch=EventProof(in_batch, len(leaves[batch_id]), tuple(inclusion_proof(leaves[batch_id], in_batch))),
            checkpoint_id=checkpoint_id,
            in_checkpoint=EventProof(position, len(batch_roots), tuple(inclusion_proof(batch_roots, position))),
        ))
        used.add(checkpoint_id)
    return proved, used


def _in_order(rows: dict[int, Any], ids: tuple[int, ...]) -> list[Any]:
    return [rows[i] for i in ids]


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event, as the bundle carries them (times as ISO text)."""
    keys = ("seq", "at", "document_id", "recipient", "actor", "kind", "status_code", "message_id", "detail",
            "signature", "body_sha256")
    row = {k: event[k] for k in keys}
    row["at"] = event["at"].isoformat()
    return row


def _body(row: dict[str, Any], archive_dir: Path | None) -> bytes:
    if row.get("archive"):
        if archive_dir is None:
            raise ProofError(f"the body is archived in {row['archive']}: say where the archive files are "
                             "(AXIS_ARCHIVE_DIR, settings.archive_dir)")
        return read_archived(archive_dir / row["archive"], row)
    return bytes(row["body"])
