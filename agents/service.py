"""`AgentService`: the one internal API of the agent (docs/ARCHITECTURE.md, "The agent").

The HTTP API, the drop folder and the SDK facade all call it, so the rules live here once: what a document
system may submit, how it is normalised and signed, and that it is in the outbox (durably, with a message id
fixed for ever) before anyone is told "accepted". Parsing and signing run in a worker thread because packages
reach tens of megabytes and the event loop also serves the relay and the receiver.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from typing import Literal

from lxml import etree

import edxml
from axis.wire import DirectoryEntry, new_message_id, sha256_hex
from edxml import DocumentPackage, Package, Profile, StaffInfo, StatusCode, StatusPackage
from signing import Signer

from ._compose import document_from_fields, response_for_received, response_for_sent
from .errors import AgentError, AgentUnavailable, InvalidInput, NotFound
from .metrics import AgentMetrics
from .model import (
    AttachmentInput, DocumentFields, DocumentTrail, Kind, ReceivedItem, SentRecipient, Submission, TrailEvent,
    TransportStatus, ms_to_dt,
)
from .store import OutboxEntry, Store

__all__ = ["AgentService"]

_MAX_WARNINGS = 50


def _name_in(directory: Mapping[str, DirectoryEntry]) -> Callable[[str], str | None]:
    return lambda organ: entry.name if (entry := directory.get(organ)) is not None else None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AgentService:
    """Submit, list, acknowledge and answer documents for one organ."""

    def __init__(
        self,
        organ_id: str,
        store: Store,
        signer: Signer,
        *,
        max_package_bytes: int = edxml.DEFAULT_MAX_BYTES,
        clock: Callable[[], datetime] = _utcnow,
        local_tz: tzinfo | None = None,
        on_submitted: Callable[[], None] = lambda: None,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self.organ_id = organ_id
        self._store = store
        self._signer = signer
        self._max_bytes = max_package_bytes
        self._clock = clock
        self._tz = local_tz
        self._on_submitted = on_submitted
        self.metrics = metrics or AgentMetrics()

    # -- sending -------------------------------------------------------------------------------------------

    async def submit_package(self, data: bytes, *, profile: Profile = "lenient", source: str = "<api>",
                             sign_as: str | None = None, check: Callable[[Package], None] | None = None,
                             via: str = "api") -> Submission:
        """Read, complete, check, sign and store; the same bytes again answer the first Submission.

        `via` names the door (api, facade, dropfolder) for the submissions metric.

        One rule set: the package is read with `profile` (lenient takes what real systems send, with a
        warning for each repair), completed to the form this agent signs (`edxml.complete_package`: what
        strict needs, from the package itself and the directory), and that form must pass the router's own
        strict check with the directory before anyone is told OK. `check` lets a caller (the SDK facade)
        refuse the completed package for reasons of its own before it is stored.
        """
        try:
            submission = await self._submit(data, profile, source, sign_as, check)
        except AgentError:
            self.metrics.submitted(via, "refused")
            raise
        except Exception:
            self.metrics.submitted(via, "error")
            raise
        self.metrics.submitted(via, "duplicate" if submission.duplicate else "accepted")
        return submission

    async def _submit(self, data: bytes, profile: Profile, source: str, sign_as: str | None,
                      check: Callable[[Package], None] | None) -> Submission:
        if sign_as is not None and sign_as != self.organ_id:
            raise InvalidInput(f"this agent signs only as {self.organ_id}, not {sign_as}", code="from-mismatch")
        if len(data) > self._max_bytes:
            raise InvalidInput(f"{source}: {len(data)} bytes is over the limit of {self._max_bytes}", code="too-large")
        directory = await self._store.directory()
        pkg, warnings = await asyncio.to_thread(self._read, data, profile, source, directory)
        pkg, notes = edxml.complete_package(pkg, at=self._local_now(), directory=_name_in(directory),
                                            answered_organ=await self._answered_organ(pkg))
        warnings += [f"{source}: {note}" for note in notes]
        if check is not None:
            check(pkg)
        if pkg.sender != self.organ_id:
            raise InvalidInput(
                f"{source}: From/OrganId is {pkg.sender!r} but this agent sends for {self.organ_id!r}",
                code="from-mismatch")
        self._check_recipients(pkg, directory, source)
        sha = sha256_hex(data)
        found = await self._store.find_submission(pkg.kind, pkg.document_id, sha)
        if found is not None:
            return dataclasses.replace(found, warnings=tuple(warnings))
        entry = await asyncio.to_thread(self._sealed, pkg, sha, None, directory, source)
        return await self._enqueue(entry, tuple(warnings))

    async def submit_document(self, fields: DocumentFields, attachments: Sequence[AttachmentInput]) -> Submission:
        """Build an EDXML package from a document system's fields and files, then submit it as above."""
        directory = await self._store.directory()
        pkg = document_from_fields(self.organ_id, fields, attachments, directory, self._local_now())
        data = edxml.serialize(pkg)
        return await self.submit_package(data, profile="strict", source="<fields>")

    async def send_status(self, document_id: str, code: StatusCode | str, description: str = "",
                          staff: StaffInfo | None = None) -> Submission:
        """Answer a received document (01..16), or ask recipients of our own document to withdraw it (13)."""
        try:
            status = StatusCode(code)
        except ValueError:
            raise InvalidInput(f"status code {code!r} is not one of {', '.join(c.value for c in StatusCode)}",
                               code="bad-status") from None
        entry = await self.status_entry(document_id, status, description, staff)
        return await self._enqueue(entry)

    async def status_entry(self, document_id: str, code: StatusCode, description: str = "",
                           staff: StaffInfo | None = None, *, received: DocumentPackage | None = None) -> OutboxEntry:
        """A signed status package ready for the outbox; the receiver uses it for the automatic 01."""
        if code == StatusCode.WITHDRAW_REQUESTED:
            body = await self._store.sent_body("edoc", document_id)
            if body is None:
                raise NotFound(f"status 13 is for documents this agent sent; {document_id!r} is not one")
            doc = edxml.parse_package(body)
            assert isinstance(doc, DocumentPackage)  # noqa: S101 -- the outbox holds what we built
            sender, response_for = doc.header.from_, response_for_sent(doc)
            recipients = doc.recipients
        else:
            if received is None:
                items = await self._store.received(kind="edoc", document_id=document_id)
                if not items:
                    raise NotFound(f"no received document with DocumentId {document_id!r}")
                parsed = edxml.parse_package(items[-1].body)
                assert isinstance(parsed, DocumentPackage)  # noqa: S101 -- stored as kind edoc
                received = parsed
            sender, response_for = response_for_received(received, self.organ_id)
            recipients = (received.sender,)
        pkg = edxml.build_status(sender, response_for, code, description, staff=staff, timestamp=self._local_now())
        directory = await self._store.directory()
        return await asyncio.to_thread(self._sealed, pkg, None, recipients, directory, f"status {code.value}")

    async def _enqueue(self, entry: OutboxEntry, warnings: tuple[str, ...] = ()) -> Submission:
        async with self._store.unit_of_work() as uow:
            submission = await uow.add_outbox(entry)
            await uow.commit()
        if not submission.duplicate:
            self._on_submitted()
            if entry.status_code is not None:
                self.metrics.receipts_sent[entry.status_code] += 1
        return dataclasses.replace(submission, warnings=warnings)

    def _read(self, data: bytes, profile: Profile, source: str,
              directory: Mapping[str, DirectoryEntry]) -> tuple[Package, list[str]]:
        """The package as read with `profile`, and the warnings (each `source:line: what`)."""
        report = edxml.validate(data, profile=profile, source=source, max_bytes=self._max_bytes,
                                known_organs=directory)
        if not report.ok or report.package is None:
            problems = "; ".join(str(issue) for issue in report.errors[:20]) or f"{source}: not an EDXML package"
            raise InvalidInput(problems, code="invalid-package")
        return report.package, [str(w) for w in report.warnings[:_MAX_WARNINGS]]

    async def _answered_organ(self, pkg: Package) -> str:
        """For a status whose ResponseFor names no organ: the sender of the document it answers."""
        if not isinstance(pkg, StatusPackage) or pkg.response_for.organ_id:
            return ""
        received = await self._store.received(kind="edoc", document_id=pkg.document_id)
        if received:
            return received[-1].sender
        return self.organ_id if await self._store.sent_body("edoc", pkg.document_id) is not None else ""

    def _check_recipients(self, pkg: Package, directory: Mapping[str, DirectoryEntry], source: str) -> None:
        """Refuse at once what the router would refuse for its addressees (it keeps its own check)."""
        if not pkg.recipients or not all(pkg.recipients):
            raise InvalidInput(f"{source}: the package names no recipient organ", code="invalid-package")
        if not self._store.directory_synced:
            return  # no copy of the directory yet: the router checks, and its notice says why it refused
        for organ in pkg.recipients:
            entry = directory.get(organ)
            if entry is None:
                raise InvalidInput(f"{source}: recipient {organ} is not in the exchange's directory",
                                   code="unknown-recipient")
            if not entry.active:
                raise InvalidInput(f"{source}: recipient {organ} ({entry.name}) is disabled in the exchange's "
                                   "directory", code="recipient-inactive")

    def _sealed(self, pkg: Package, submitted_sha: str | None, recipients: tuple[str, ...] | None,
                directory: Mapping[str, DirectoryEntry], source: str) -> OutboxEntry:
        """Write the package in the signed form, check it as the router will, sign: the outbox keeps exactly
        the bytes every resend will carry."""
        unsigned = edxml.serialize(pkg)
        root = edxml.load_tree(unsigned, source=source)
        report = edxml.validate(root, profile="strict", source=source, known_organs=directory)
        if not report.ok:
            problems = "; ".join(issue.message for issue in report.errors[:20])
            raise InvalidInput(f"{source}: the package lacks what the exchange needs and the agent cannot fill "
                               f"in: {problems}", code="invalid-package")
        self._signer.sign_in_place(root)
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        if len(body) > self._max_bytes:
            raise InvalidInput(f"{source}: signed, the package is {len(body)} bytes, over the limit of "
                               f"{self._max_bytes}", code="too-large")
        document = isinstance(pkg, DocumentPackage)
        return OutboxEntry(
            message_id=new_message_id(), kind=pkg.kind, document_id=pkg.document_id,
            recipients=recipients or pkg.recipients, submitted_sha256=submitted_sha or sha256_hex(unsigned),
            body=body, body_sha256=sha256_hex(body),
            subject=pkg.header.subject if document else "",
            code_notation=pkg.header.code.code_notation if document else "",
            status_code=None if document else pkg.status_code.value,  # type: ignore[union-attr]
            description="" if document else pkg.description,  # type: ignore[union-attr]
        )

    def _local_now(self) -> datetime:
        """EDXML timestamps are local wall-clock time without an offset."""
        now = self._clock()
        return (now.astimezone(self._tz) if self._tz else now).replace(tzinfo=None)

    # -- receiving -----------------------------------------------------------------------------------------

    async def received(self, *, kind: Literal["edoc", "status"] | None = None, pending_only: bool = False,
                       limit: int = 1000) -> list[ReceivedItem]:
        return await self._store.received(kind=kind, pending_only=pending_only, limit=limit)

    async def received_item(self, message_id: str) -> ReceivedItem:
        return await self._store.received_item(message_id)

    async def acknowledge(self, message_id: str, transport_status: Literal["done", "fail", "processing"],
                          reason: str | None = None) -> ReceivedItem:
        if transport_status not in ("done", "fail", "processing"):
            raise InvalidInput(f"transport status must be done, fail or processing, not {transport_status!r}",
                               code="bad-status")
        status: TransportStatus = transport_status
        await self._store.set_transport_status(message_id, status, reason)
        return await self._store.received_item(message_id)

    async def count_received(self, *, kind: Kind, pending_only: bool = True) -> int:
        return await self._store.count_received(kind=kind, pending_only=pending_only)

    # -- what happened -------------------------------------------------------------------------------------

    async def sent(self, *, limit: int = 1000) -> list[SentRecipient]:
        return await self._store.sent(limit=limit)

    async def trail(self, document_id: str) -> DocumentTrail:
        """Per-recipient state of a document we sent plus every package either way about it, oldest first."""
        recipients = await self._store.sent(document_id=document_id, direction="asc", limit=10_000)
        events = [
            TrailEvent(ms_to_dt(at), "out", kind, self.organ_id, mid, code, desc)  # type: ignore[arg-type]
            for mid, kind, _to, code, desc, at in await self._store.outbox_for_document(document_id)
        ] + [
            TrailEvent(ms_to_dt(at), "in", kind, sender, mid, code, desc)  # type: ignore[arg-type]
            for mid, kind, sender, code, desc, at in await self._store.received_for_document(document_id)
        ]
        if not recipients and not events:
            raise NotFound(f"this agent knows no document with DocumentId {document_id!r}")
        events.sort(key=lambda e: e.at)
        return DocumentTrail(document_id, tuple(s for s in recipients if s.kind == "edoc"), tuple(events))

    async def agencies(self) -> list[DirectoryEntry]:
        """The exchange's directory; "not ready" until this agent has read it to its end once."""
        if not self._store.directory_synced:
            raise AgentUnavailable("the agent has not yet received the exchange's directory; try again shortly",
                                   code="directory-not-ready")
        return await self._store.agencies()

