"""Turn what a document system gives the agent into EDXML model values.

Kept apart from `service.py` because it is pure (no store, no keys): fields and files become a
`DocumentPackage`, and a stored document becomes the `ResponseFor` a status package answers.
Field errors name the JSON field (`fields.to[0].organ_id: ...`) so an API caller knows what to fix.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import edxml
from axis.wire import DirectoryEntry
from edxml import (
    Attachment, BusinessDocType, Code, DocumentPackage, DocumentType, Organization, OtherInfo, ReplacementInfo,
    ResponseFor, SignerInfo,
)

from .errors import InvalidInput
from .model import AttachmentInput, DocumentFields

__all__ = ["document_from_fields", "response_for_received", "response_for_sent", "superseded_documents"]


def _organization(organ_id: str, directory: Mapping[str, DirectoryEntry], name: str = "", address: str = "",
                  email: str = "") -> Organization:
    known = directory.get(organ_id)
    return Organization(
        organ_id=organ_id,
        organ_name=name or (known.name if known else "") or organ_id,
        organ_add=address or "-",
        email=email or (known.email if known else ""),
    )


def _check(fields: DocumentFields) -> None:
    problems = []
    if not fields.to:
        problems.append("fields.to: name at least one recipient organ")
    problems += [f"fields.to[{i}].organ_id: must not be empty" for i, o in enumerate(fields.to) if not o.organ_id.strip()]
    for name in ("subject", "code_number", "code_notation"):
        if not str(getattr(fields, name)).strip():
            problems.append(f"fields.{name}: must not be empty")
    if fields.doc_type not in (0, 1, 2, 3):
        problems.append(f"fields.doc_type: must be 0 new, 1 revoke, 2 update or 3 replace, not {fields.doc_type}")
    elif fields.doc_type and not fields.replaces:
        problems.append("fields.replaces: a revoke, update or replace must name the DocumentId(s) it concerns")
    if problems:
        raise InvalidInput("; ".join(problems), code="invalid-fields")


def _attachment(item: AttachmentInput, index: int) -> Attachment:
    if not item.name:
        raise InvalidInput(f"files[{index}]: a file needs a name", code="invalid-fields")
    content_type = item.content_type or mimetypes.guess_type(item.name)[0] or "application/octet-stream"
    return Attachment(f"cid:{uuid.uuid4()}", item.name, content_type, item.description, data=item.data)


def document_from_fields(organ_id: str, fields: DocumentFields, attachments: Sequence[AttachmentInput],
                         directory: Mapping[str, DirectoryEntry], now: datetime) -> DocumentPackage:
    """A new, revoking, updating or replacing document from `organ_id`; `now` is local wall-clock time."""
    _check(fields)
    recipients = tuple(o.organ_id.strip() for o in fields.to)
    # The samples name a revoked or updated document in Bussiness/DocumentId and replaced ones in a list.
    replacing = fields.doc_type == BusinessDocType.REPLACE
    return edxml.build_document(
        sender=_organization(organ_id, directory),
        recipients=[_organization(o.organ_id.strip(), directory, o.name, o.address, o.email) for o in fields.to],
        code=Code(fields.code_number, fields.code_notation),
        subject=fields.subject,
        promulgation_date=fields.promulgation_date,
        place=fields.place,
        document_type=DocumentType(fields.document_type, None, fields.type_name),
        content=fields.content,
        signer=SignerInfo(position=fields.signer_position, full_name=fields.signer_name),
        due_date=fields.due_date,
        other=OtherInfo(priority=fields.priority),
        steering_type=fields.steering_type,
        doc_type=BusinessDocType(fields.doc_type),
        reason=fields.doc_reason,
        business_document_id=fields.replaces[0] if fields.doc_type and not replacing else "",
        replacements=[ReplacementInfo(d, recipients) for d in fields.replaces] if replacing else (),
        attachments=[_attachment(a, i) for i, a in enumerate(attachments)],
        document_id=fields.document_id,
        timestamp=now.replace(microsecond=0),
    )


def _code(doc: DocumentPackage) -> str:
    return f"{doc.header.code.code_number}/{doc.header.code.code_notation}"


def response_for_sent(doc: DocumentPackage) -> ResponseFor:
    """The ResponseFor of a status about our own document (13: withdraw)."""
    return ResponseFor(doc.sender, _code(doc), doc.header.promulgation.promulgation_date, doc.document_id)


def response_for_received(doc: DocumentPackage, organ_id: str) -> tuple[Organization, ResponseFor]:
    """Our own `From` (as the sender addressed us, so names match) and the ResponseFor of a received document."""
    me = next((o for o in doc.header.to if o.organ_id == organ_id), Organization(organ_id, organ_id))
    return me, ResponseFor(doc.sender, _code(doc), doc.header.promulgation.promulgation_date, doc.document_id)


def superseded_documents(doc: DocumentPackage) -> tuple[str, list[str]] | None:
    """For a revoke/update/replace: ('revoked'|'updated'|'replaced', the DocumentIds it concerns)."""
    business = doc.trace.business
    if business is None or business.doc_type == BusinessDocType.NEW:
        return None
    how = {BusinessDocType.REVOKE: "revoked", BusinessDocType.UPDATE: "updated",
           BusinessDocType.REPLACE: "replaced"}[business.doc_type]
    ids = [r.document_id for r in business.replacements if r.document_id]
    return how, ids or [business.document_id or doc.document_id]
