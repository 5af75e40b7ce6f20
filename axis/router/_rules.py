"""What an accepted package changes in the ledger: documents and their links, statuses and their rules.

Authority: only a recipient of a document reports statuses about it (01..06, 15, 16); only its sender
withdraws (13), revokes (1), updates (2) or replaces (3) it. A revoke/update/replace names the document
it concerns in `Bussiness/DocumentId`, in `ReplacementInfoList`, or (the SDK's revocation sample) in
`ResponseFor`; each one must be a document of the same sender already in the ledger. Routing always
follows `To`: an update that adds receivers delivers to them; receivers of the earlier document left out
of the update's `To` get a `receiver-removed` event on that document.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Sequence

import edxml
from axis import wire
from axis.ledger import SENDER_CODES, DocumentRef, UnitOfWork, refusal_reason, withdraw_refusal_reason

from ._metrics import Latency, since

_CHANGE_KIND = {1: "revoked", 2: "updated", 3: "replaced"}


class Refusal(Exception):
    """A package the router will not accept: `code` for metrics and tests, `text` for the sender."""

    def __init__(
        self, code: str, message: str, *, document: DocumentRef | None = None, recipient: str = "", status_code: str = ""
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.text = f"{code}: {message}"
        self.document = document
        self.recipient = recipient
        self.status_code = status_code


def _concerned(pkg: edxml.DocumentPackage) -> dict[str, tuple[str, ...]]:
    """{document id: organ ids named with it} for a revoke/update/replace."""
    business = pkg.trace.business
    found: dict[str, tuple[str, ...]] = {}
    if business is not None and business.document_id:
        receivers = business.document_info.receivers if business.document_info else ()
        found[business.document_id] = tuple(r.organ_id for r in receivers)
    for replacement in business.replacements if business else ():
        found[replacement.document_id] = tuple(dict.fromkeys(found.get(replacement.document_id, ()) + replacement.organ_ids))
    for response in pkg.header.response_for:
        if response.document_id:
            found.setdefault(response.document_id, ())
    found.pop(pkg.document_id, None)
    return found


async def _check_recipients(uow: UnitOfWork, recipients: Sequence[str]) -> None:
    if not recipients:
        raise Refusal("no-recipient", "the package has no To")
    agencies = await uow.directory.many(recipients)
    for organ in recipients:
        if organ not in agencies:
            raise Refusal("unknown-recipient", f"{organ} is not in the directory")
        if not agencies[organ].active:
            raise Refusal("recipient-inactive", f"{organ} is disabled in the directory")


async def record_document(
    uow: UnitOfWork, headers: wire.RecordHeaders, pkg: edxml.DocumentPackage, body: bytes, signature: str, now: datetime,
) -> list[str]:
    """Store a document, link it to what it concerns, queue one delivery per recipient."""
    recipients = list(dict.fromkeys(pkg.recipients))
    await _check_recipients(uow, recipients)
    if await uow.find_document(pkg.document_id, [pkg.sender]) is not None:
        raise Refusal("document-exists", f"{pkg.sender} already sent a document {pkg.document_id}")
    business = pkg.trace.business or edxml.Bussiness()
    doc_type = int(business.doc_type)
    targets: list[tuple[DocumentRef, tuple[str, ...]]] = []
    if doc_type != 0:
        concerned = _concerned(pkg)
        if not concerned:
            raise Refusal("concerned-document-missing", "a revoke/update/replace must name the document it concerns")
        for document_id, organs in concerned.items():
            target = await uow.find_document(document_id, [pkg.sender])
            if target is None:
                other = await uow.find_document(document_id)
                if other is not None:
                    raise Refusal("not-document-sender", f"{document_id} was sent by {other.sender}, not {pkg.sender}")
                raise Refusal("unknown-document", f"no document {document_id} from {pkg.sender} in the ledger")
            targets.append((target, organs))
    doc = await uow.add_document(
        document_id=pkg.document_id, sender=pkg.sender, message_id=headers.message_id, subject=pkg.header.subject,
        code=f"{pkg.header.code.code_number}/{pkg.header.code.code_notation}", business_type=doc_type,
        business_reason=business.reason, recipients=recipients, body=body, signer_fingerprint=signature.rsplit(":", 1)[-1],
        at=now,
    )
    await uow.append_event(
        doc, at=now, kind="received", actor=pkg.sender, message_id=headers.message_id, signature=signature,
        detail={"subject": pkg.header.subject, "recipients": recipients, "business_type": doc_type,
                "concerns": [t.document_id for t, _ in targets]}, body_sha256=headers.body_sha256,
    )
    for target, organs in targets:
        await uow.link(doc, target, organs or recipients)
        await _mark_concerned(uow, doc, target, organs, recipients, business.reason, now, headers.body_sha256)
    for organ in recipients:
        await uow.add_delivery(message_id=headers.message_id, document=doc, recipient=organ, kind="edoc", at=now)
    return recipients


async def _mark_concerned(
    uow: UnitOfWork, doc: DocumentRef, target: DocumentRef, organs: Sequence[str], recipients: Sequence[str],
    reason: str, now: datetime, body_sha256: str,
) -> None:
    """Events on the earlier document's recipients: revoked/updated/replaced, or removed by an update (each
    naming the bytes of the package that did it)."""
    kind = _CHANGE_KIND[doc.business_type]
    affected = set(organs or recipients) | set(recipients)
    for organ in target.recipients:
        detail = {"by": doc.document_id, "reason": reason}
        what = kind if organ in affected else "receiver-removed" if doc.business_type == 2 else None
        if what is not None:
            await uow.append_event(target, at=now, kind=what, actor=doc.sender, recipient=organ, detail=detail,
                                   body_sha256=body_sha256)


async def record_status(
    uow: UnitOfWork, headers: wire.RecordHeaders, pkg: edxml.StatusPackage, body: bytes, signature: str,
    now: datetime, tz: tzinfo, latencies: list[Latency],
) -> list[str]:
    """Check a status against the document's log and queue its delivery to the other side; a receipt's
    time since the document's acceptance (and a delivery proved by a 01) go to `latencies`."""
    code = pkg.status_code.value
    doc = await uow.find_document(pkg.document_id, [pkg.sender, pkg.response_for.organ_id])
    if doc is None:
        raise Refusal("unknown-document", f"no document {pkg.document_id} between {pkg.sender} and {pkg.response_for.organ_id}")
    status_at = pkg.timestamp if pkg.timestamp.tzinfo else pkg.timestamp.replace(tzinfo=tz)
    if code in SENDER_CODES:
        targets = _withdraw_targets(pkg, doc, code)
        for organ in targets:
            why = withdraw_refusal_reason(await uow.log(doc, organ))
            if why:
                raise Refusal("status-not-allowed", why, document=doc, recipient=organ, status_code=code)
    else:
        if pkg.sender not in doc.recipients:
            raise Refusal("not-a-recipient", f"{pkg.sender} is not a recipient of {doc.document_id}", document=doc)
        why = refusal_reason(code, status_at, await uow.log(doc, pkg.sender))
        if why:
            raise Refusal("status-not-allowed", why, document=doc, recipient=pkg.sender, status_code=code)
        targets = [pkg.sender]
    await uow.add_status(
        message_id=headers.message_id, document=doc, sender=pkg.sender, code=code, description=pkg.description,
        status_at=status_at, body=body, at=now,
    )
    for organ in targets:
        await uow.append_event(
            doc, at=now, kind="status", actor=pkg.sender, recipient=organ, status_code=code,
            message_id=headers.message_id, signature=signature, body_sha256=headers.body_sha256,
            detail={"description": pkg.description, "status_at": status_at.isoformat()},
        )
    elapsed = since(doc.accepted_at, now)
    if code == "01" and await uow.ack_document_delivery(doc, pkg.sender, now):
        await uow.append_event(doc, at=now, kind="delivered", actor=pkg.sender, recipient=pkg.sender,
                               detail={"by": "status 01"}, message_id=headers.message_id, body_sha256=headers.body_sha256)
        if elapsed is not None:
            latencies.append(Latency("delivery", elapsed))
    if elapsed is not None and code not in SENDER_CODES:
        latencies.append(Latency("receipt", elapsed, code))
    addressees = targets if code in SENDER_CODES else [doc.sender]
    for organ in addressees:
        await uow.add_delivery(message_id=headers.message_id, document=doc, recipient=organ, kind="status", at=now)
    return addressees


def _withdraw_targets(pkg: edxml.StatusPackage, doc: DocumentRef, code: str) -> list[str]:
    if pkg.sender != doc.sender:
        raise Refusal("not-document-sender", f"only {doc.sender} may send status {code} about {doc.document_id}", document=doc)
    target = pkg.response_for.organ_id
    if target in doc.recipients:
        return [target]
    if target in ("", doc.sender):
        return list(doc.recipients)
    raise Refusal("not-a-recipient", f"{target} is not a recipient of {doc.document_id}", document=doc)
