"""The fault drill's document systems: each agency's clerk software, played over its agent's HTTP API.

Why over HTTP and not `AgentService`: the agents run in their own processes (so SIGKILL is real), and what
the drill must prove is what a document system sees: every document once, every receipt back. So the
figures come from here, not from the ledger: a document counts as delivered when the recipient's document
system has listed it; a second message id for the same (sender, DocumentId) at a recipient is a duplicate.

Every call may fail while an agent is down. Reads and acknowledgements are idempotent and retried. A
submission and the 03 answer are not idempotent (the agent builds a fresh package each time), so after an
unanswered attempt the document system first asks the agent's `/trail` whether the first attempt landed,
and sends again only if it did not: exactly what a careful integration does after a lost answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from _drill_procs import DrillError

__all__ = ["DocumentSystem", "PlannedDocument", "Tally"]

RECEIPT_CODES = ("01", "03")  # 01 arrived (automatic, from the recipient's agent), 03 accepted (the clerk)
_RETRY_STATUS = {500, 502, 503, 504}

Delivery = tuple[str, str, str]  # (recipient, sender, document id)
Receipt = tuple[str, str, str]  # (document id, recipient that answered, status code)


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    """One document the drill sends: who to whom, its fixed DocumentId and the JSON body of the submission."""

    index: int
    sender: str
    recipients: tuple[str, ...]
    document_id: str
    payload: dict[str, Any]


@dataclass
class Tally:
    """What the document systems saw, with first-seen times; the drill's figures are computed from it."""

    accepted: dict[str, PlannedDocument] = field(default_factory=dict)
    accepted_at: dict[str, float] = field(default_factory=dict)
    sightings: dict[Delivery, set[str]] = field(default_factory=dict)
    receipts: dict[Receipt, set[str]] = field(default_factory=dict)
    first_seen: dict[Delivery | Receipt, float] = field(default_factory=dict)
    strays: int = 0  # received packages about documents the drill never sent

    def accept(self, doc: PlannedDocument) -> None:
        self.accepted[doc.document_id] = doc
        self.accepted_at[doc.document_id] = time.monotonic()

    def _see(self, table: dict[Any, set[str]], key: Any, message_id: str) -> None:
        table.setdefault(key, set()).add(message_id)
        self.first_seen.setdefault(key, time.monotonic())

    def see_document(self, recipient: str, sender: str, document_id: str, message_id: str) -> None:
        if document_id not in self.accepted:
            self.strays += 1
            return
        self._see(self.sightings, (recipient, sender, document_id), message_id)

    def see_receipt(self, document_id: str, answered_by: str, code: str, message_id: str) -> None:
        if document_id not in self.accepted:
            self.strays += 1
            return
        self._see(self.receipts, (document_id, answered_by, code), message_id)

    def expected_deliveries(self) -> set[Delivery]:
        return {(r, d.sender, d.document_id) for d in self.accepted.values() for r in d.recipients}

    def expected_receipts(self) -> set[Receipt]:
        return {(d.document_id, r, c) for d in self.accepted.values() for r in d.recipients for c in RECEIPT_CODES}

    def missing(self) -> tuple[set[Delivery], set[Receipt]]:
        return self.expected_deliveries() - self.sightings.keys(), self.expected_receipts() - self.receipts.keys()

    def complete(self) -> bool:
        lost, missing = self.missing()
        return not lost and not missing

    @property
    def duplicated(self) -> int:
        return sum(len(ids) - 1 for ids in self.sightings.values())

    @property
    def receipts_duplicated(self) -> int:
        return sum(len(ids) - 1 for ids in self.receipts.values())


class DocumentSystem:
    """One agency's document system: submits, polls received documents and statuses, answers, acknowledges."""

    def __init__(self, organ_id: str, base_url: str, token: str, tally: Tally, *, parallel: int = 8) -> None:
        self.organ_id = organ_id
        self._tally = tally
        self._client = httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                         timeout=httpx.Timeout(120.0, connect=3.0))
        self._answered: set[tuple[str, str]] = set()  # (sender, document id) answered with 03
        self._parallel = asyncio.Semaphore(parallel)
        self.retries = 0  # HTTP calls that failed (agent down) and were tried again
        self.last_failure = ""  # the last failed call and how it failed, for a drill that stalls
        self.deadline = math.inf  # time.monotonic() after which a failing call gives up (DrillError)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- transport ----------------------------------------------------------------------------------------

    async def _pause(self, attempt: int, what: str, answer: httpx.Response | None) -> None:
        self.last_failure = f"{what}: " + (f"HTTP {answer.status_code} {answer.text[:200]}" if answer is not None
                                           else "no answer (agent down?)")
        if time.monotonic() > self.deadline:
            raise DrillError(f"{self.organ_id}: {what} still failing at the drill's deadline")
        self.retries += 1
        await asyncio.sleep(min(0.2 * 2 ** min(attempt, 4), 2.0))

    async def _idempotent(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """Send until an answer other than 'agent unavailable' arrives; a 4xx is a drill bug and raises."""
        attempt = 0
        while True:
            try:
                answer = await self._client.request(method, url, **kw)
            except (httpx.TransportError, OSError):
                answer = None
            if answer is not None and answer.status_code not in _RETRY_STATUS:
                return answer
            await self._pause(attempt, f"{method} {url}", answer)
            attempt += 1

    async def _once(self, url: str, body: dict[str, Any], landed: Callable[[], Awaitable[bool]]) -> None:
        """POST a non-idempotent request; after a lost answer, resend only if `landed()` says it did not land."""
        attempt = 0
        while True:
            try:
                answer = await self._client.post(url, json=body)
            except (httpx.TransportError, OSError):
                answer = None
            if answer is not None and answer.status_code < 300:
                return
            if answer is not None and answer.status_code not in _RETRY_STATUS:
                raise DrillError(f"{self.organ_id} POST {url}: {answer.status_code} {answer.text[:300]}")
            await self._pause(attempt, f"POST {url}", answer)
            attempt += 1
            if await landed():
                return

    async def _trail_has(self, document_id: str, kind: str, code: str | None) -> bool:
        answer = await self._idempotent("GET", "/trail", params={"document_id": document_id})
        if answer.status_code == 404:
            return False
        answer.raise_for_status()
        return any(e["direction"] == "out" and e["kind"] == kind and (code is None or e["status_code"] == code)
                   for e in answer.json()["events"])

    # -- the document system's work -----------------------------------------------------------------------

    async def submit(self, doc: PlannedDocument) -> None:
        """Hand a document to the agent; returns once the agent has it in its outbox."""
        await self._once("/documents", doc.payload, lambda: self._trail_has(doc.document_id, "edoc", None))
        self._tally.accept(doc)

    async def poll_once(self) -> int:
        """One pass over pending received documents and statuses; returns how many it handled."""
        handled = 0
        for kind, handle in (("edoc", self._take_document), ("status", self._take_status)):
            answer = await self._idempotent("GET", "/received", params={"kind": kind, "pending_only": "true",
                                                                       "limit": 500})
            answer.raise_for_status()
            items = answer.json()
            await asyncio.gather(*(self._bounded(handle, item) for item in items))
            handled += len(items)
        return handled

    async def _bounded(self, handle: Callable[[dict[str, Any]], Awaitable[None]], item: dict[str, Any]) -> None:
        async with self._parallel:  # the coroutine is made inside: a cancelled wait leaves none un-awaited
            await handle(item)

    async def _take_document(self, item: dict[str, Any]) -> None:
        """Record it (the clerk files it), answer 03 once, then mark it done at the agent."""
        sender, document_id, message_id = item["sender"], item["document_id"], item["message_id"]
        self._tally.see_document(self.organ_id, sender, document_id, message_id)
        if (sender, document_id) not in self._answered:
            await self._once(f"/received/{message_id}/status",
                             {"code": "03", "description": "Văn thư: đã tiếp nhận, vào sổ văn bản đến"},
                             lambda: self._trail_has(document_id, "status", "03"))
            self._answered.add((sender, document_id))
        await self._ack(message_id)

    async def _take_status(self, item: dict[str, Any]) -> None:
        self._tally.see_receipt(item["document_id"], item["sender"], item["status_code"] or "", item["message_id"])
        await self._ack(item["message_id"])

    async def _ack(self, message_id: str) -> None:
        answer = await self._idempotent("POST", f"/received/{message_id}/ack", json={"transport_status": "done"})
        answer.raise_for_status()

    async def run_poller(self, stop: asyncio.Event, interval_s: float = 0.3) -> None:
        while not stop.is_set():
            if await self.poll_once() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)

    async def sent_states(self) -> dict[str, int]:
        """Per-recipient states of the documents this agency sent, as its agent reports them (`/sent`)."""
        answer = await self._idempotent("GET", "/sent", params={"limit": 10_000})
        answer.raise_for_status()
        states: dict[str, int] = {}
        for row in answer.json():
            if row["kind"] == "edoc":
                states[row["state"]] = states.get(row["state"], 0) + 1
        return states


