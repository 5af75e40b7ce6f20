"""Builders for the packages this exchange sends: ids, timestamps and defaults filled in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from ._attachment import Attachment
from ._moments import VIETNAM
from ._model import (
    BusinessDocType,
    Bussiness,
    Code,
    DocumentPackage,
    DocumentType,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPackage,
    TraceHeader,
    TraceHeaderList,
)



def local_now() -> datetime:
    """Now, as the naive Vietnam local time packages carry, to the second."""
    return datetime.now(VIETNAM).replace(tzinfo=None, microsecond=0)


def new_document_id(organ_id: str, date: date, code_number: str, code_notation: str) -> str:
    """`{OrganId},{yyyy/MM/dd},{CodeNumber}/{CodeNotation}`, the standard's DocumentId."""
    return f"{organ_id},{date.year:04d}/{date.month:02d}/{date.day:02d},{code_number}/{code_notation}"


def build_status(
    sender: Organization,
    response_for: ResponseFor,
    code: StatusCode,
    description: str,
    staff: StaffInfo | None = None,
    timestamp: datetime | None = None,
) -> StatusPackage:
    """A status package about `response_for`, stamped now unless a timestamp is given."""
    return StatusPackage(
        from_=sender,
        response_for=response_for,
        status_code=StatusCode(code),
        timestamp=timestamp or local_now(),
        description=description,
        staff=staff,
    )


def build_document(
    *,
    sender: Organization,
    recipients: Sequence[Organization],
    code: Code,
    subject: str,
    promulgation_date: date | None = None,
    place: str = "",
    document_type: DocumentType = DocumentType(),
    content: str = "",
    signer: SignerInfo = SignerInfo(),
    due_date: date | None = None,
    to_places: Sequence[str] = (),
    other: OtherInfo = OtherInfo(),
    response_for: Sequence[ResponseFor] = (),
    steering_type: int = 0,
    doc_type: BusinessDocType = BusinessDocType.NEW,
    reason: str = "",
    business_document_id: str = "",
    replacements: Sequence[ReplacementInfo] = (),
    staff: StaffInfo | None = None,
    attachments: Sequence[Attachment | Path] = (),
    document_id: str | None = None,
    timestamp: datetime | None = None,
) -> DocumentPackage:
    """A document package from its fields and files.

    Files are referenced, not read: their content is base64-encoded in chunks when the package is
    serialised. They are attached as they are, not wrapped in a ZIP as the national SDK does.
    The DocumentId is built from sender, date and code unless given; the single TraceHeader is the
    sender at `timestamp` (default now).
    """
    now = timestamp or local_now()
    issued = promulgation_date or now.date()
    return DocumentPackage(
        header=MessageHeader(
            from_=sender,
            to=tuple(recipients),
            document_id=document_id or new_document_id(sender.organ_id, issued, code.code_number, code.code_notation),
            code=code,
            subject=subject,
            promulgation=PromulgationInfo(place, issued),
            document_type=document_type,
            content=content,
            signer=signer,
            due_date=due_date,
            to_places=tuple(to_places),
            other=other,
            response_for=tuple(response_for),
            steering_type=steering_type,
        ),
        trace=TraceHeaderList(
            (TraceHeader(sender.organ_id, now),),
            Bussiness(doc_type, business_document_id, reason, False, None, tuple(replacements), staff),
        ),
        attachments=[a if isinstance(a, Attachment) else Attachment.from_file(a) for a in attachments],
    )
