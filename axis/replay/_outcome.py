"""The ledger's outcome as stable JSON, and waiting until an exchange has settled after a play.

The outcome is what a router decided, with nothing that depends on timing or on the exchange it ran in:
for each document (by sender and DocumentId) and each recipient, the final state, the accepted status
codes in ledger order, the changes that reached it (revoked, updated, replaced, receiver-removed,
undeliverable) and the statuses refused for it; and every package the router refused, by message id.
Delivery attempts, times, sequence numbers and signatures are left out. Two runs of the same recording
through the same router give equal outcomes; `diff` shows where two routers decided differently.

It reads the ledger's tables directly (documents, document_links, events, status_messages, deliveries,
processed_messages) in a few queries, read-only, in one snapshot.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axis.ledger import Ledger, LoggedEvent, current_state, mapped

from ._errors import OutcomeInvalid, ReplayError

OUTCOME_FORMAT = "axis-outcome"
_CHANGES = ("revoked", "updated", "replaced", "receiver-removed", "undeliverable")
_BUSINESS = {0: "new", 1: "revoke", 2: "update", 3: "replace"}


@dataclass(frozen=True)
class Outcome:
    """Documents (sorted by sender, DocumentId) with their recipients, and the refused packages."""

    documents: list[dict[str, Any]]
    refused: list[dict[str, Any]]

    @property
    def totals(self) -> dict[str, int]:
        recipients = [r for d in self.documents for r in d["recipients"].values()]
        return {
            "documents": len(self.documents),
            "recipients": len(recipients),
            "statuses": sum(len(r["status_codes"]) for r in recipients),
            "refused": len(self.refused),
        }

    def recipient(self, document_id: str, organ_id: str) -> dict[str, Any]:
        """One recipient's entry of a document; KeyError naming what is missing."""
        for document in self.documents:
            if document["document_id"] == document_id:
                if organ_id not in document["recipients"]:
                    raise KeyError(f"{organ_id} is not a recipient of {document_id}")
                return document["recipients"][organ_id]  # type: ignore[no-any-return]
        raise KeyError(f"no document {document_id} in this outcome")

    def state(self, document_id: str, organ_id: str) -> str:
        return str(self.recipient(document_id, organ_id)["state"])

    def status_codes(self, document_id: str, organ_id: str) -> list[str]:
        return list(self.recipient(document_id, organ_id)["status_codes"])

    def to_json(self) -> str:
        """Stable JSON: sorted keys, fixed indentation, UTF-8 text, a final newline."""
        data = {
            "format": OUTCOME_FORMAT,
            "version": 1,
            "totals": self.totals,
            "documents": self.documents,
            "refused": self.refused,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "<outcome>") -> Outcome:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise OutcomeInvalid(f"{where}: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != OUTCOME_FORMAT:
            raise OutcomeInvalid(f'{where}: not an axis outcome (no "format": "{OUTCOME_FORMAT}")')
        return cls(list(data.get("documents", [])), list(data.get("refused", [])))

    @classmethod
    def read(cls, path: Path) -> Outcome:
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise OutcomeInvalid(f"{path}: {exc.strerror}") from None


async def read_outcome(ledger: Ledger) -> Outcome:
    """The outcome of everything the ledger holds (one repeatable-read snapshot)."""
    with mapped():
        async with ledger.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            docs = await conn.fetch("SELECT id, document_id, sender, business_type, recipients FROM documents")
            links = await conn.fetch(
                "SELECT l.document, c.document_id FROM document_links l JOIN documents c ON c.id = l.concerns"
            )
            events = await conn.fetch(
                "SELECT e.document, e.recipient, e.kind, e.status_code, e.actor, e.detail, s.status_at"
                " FROM events e LEFT JOIN status_messages s ON s.message_id = e.message_id AND e.kind = 'status'"
                " WHERE e.kind IN ('status', 'status-refused', 'delivered', 'published', 'revoked', 'updated',"
                " 'replaced', 'receiver-removed', 'undeliverable') ORDER BY e.seq"
            )
            deliveries = await conn.fetch("SELECT document, recipient, state FROM deliveries WHERE kind = 'edoc'")
            refused = await conn.fetch(
                "SELECT message_id, kind, sender, document_id, reason FROM processed_messages WHERE outcome = 'refused'"
            )
    concerns: dict[int, list[str]] = defaultdict(list)
    for link in links:
        concerns[link["document"]].append(link["document_id"])
    logs: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for event in events:
        logs[(event["document"], event["recipient"])].append(event)
    delivery = {(d["document"], d["recipient"]): d["state"] for d in deliveries}
    documents = [_document(doc, sorted(concerns[doc["id"]]), logs, delivery) for doc in docs]
    documents.sort(key=lambda d: (d["sender"], d["document_id"]))
    refusals = [{k: row[k] for k in ("message_id", "kind", "sender", "document_id", "reason")} for row in refused]
    refusals.sort(key=lambda r: (r["sender"], r["document_id"], r["message_id"]))
    return Outcome(documents, refusals)



def _refusal(event: Any) -> dict[str, str]:
    detail = event["detail"] or {}  # the ledger's pool decodes jsonb
    return {"status_code": event["status_code"], "actor": event["actor"], "reason": detail.get("reason", "")}


def _document(
    doc: Any, concerns: list[str], logs: dict[tuple[int, str], list[Any]], delivery: dict[tuple[int, str], str]
) -> dict[str, Any]:
    recipients = {}
    for organ in doc["recipients"]:
        log = logs.get((doc["id"], organ), [])
        state, _ = current_state(
            [LoggedEvent(e["kind"], e["status_code"], e["status_at"]) for e in log],
            delivery.get((doc["id"], organ), "pending"),
        )
        recipients[organ] = {
            "state": state,
            "status_codes": [e["status_code"] for e in log if e["kind"] == "status"],
            "changes": [e["kind"] for e in log if e["kind"] in _CHANGES],
            "refusals": [_refusal(e) for e in log if e["kind"] == "status-refused"],
        }
    return {
        "sender": doc["sender"],
        "document_id": doc["document_id"],
        "business_type": _BUSINESS[doc["business_type"]],
        "concerns": concerns,
        "recipients": recipients,
        "refusals": [_refusal(e) for e in logs.get((doc["id"], ""), []) if e["kind"] == "status-refused"],
    }


async def wait_settled(
    ledger: Ledger, message_ids: Sequence[str], *, timeout_s: float = 120.0, quiet_s: float = 1.0
) -> None:
    """Wait until the router has handled every one of `message_ids`, published every delivery, and the ledger
    has not changed for `quiet_s` (acks and the relay's work come after the last package)."""
    deadline = time.monotonic() + timeout_s
    waiting = set(message_ids)
    last: Any = None
    quiet_since = time.monotonic()
    while True:
        with mapped():
            for chunk in _chunked(sorted(waiting), 10_000):
                waiting -= {
                    r["message_id"]
                    for r in await ledger.pool.fetch(
                        "SELECT message_id FROM processed_messages WHERE message_id = ANY($1::text[])", chunk
                    )
                }
            state = tuple(
                await ledger.pool.fetchrow(
                    "SELECT (SELECT max(seq) FROM events) AS seq,"
                    " (SELECT count(*) FROM deliveries WHERE state = 'pending') AS pending,"
                    " (SELECT count(*) FROM deliveries WHERE state = 'acked') AS acked"
                )
            )
        now = time.monotonic()
        if state != last:
            last, quiet_since = state, now
        if not waiting and state[1] == 0 and now - quiet_since >= quiet_s:
            return
        if now > deadline:
            raise ReplayError(
                f"the exchange did not settle within {timeout_s:.0f} s: {len(waiting)} of {len(message_ids)} "
                f"packages not yet handled by the router, {state[1]} deliveries waiting to be published "
                "(is the router running?)"
            )
        await asyncio.sleep(0.2)


def _chunked(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
