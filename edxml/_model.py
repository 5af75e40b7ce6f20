"""The typed model of EDXML packages: plain frozen values, no I/O (a signature slot compares as canonical XML).

Field names follow the standard's element names in snake case; `from_` is `From` (a keyword in
Python). Optional text fields default to "" and the serialiser omits empty ones, so an absent
element and an empty one read back the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Literal

from lxml import etree

from ._attachment import Attachment
from ._xml import load_tree

Profile = Literal["strict", "lenient"]


class StatusCode(StrEnum):
    """Processing state a recipient (or, for 13, the sender) reports about a document."""

    ARRIVED = "01"
    REFUSED = "02"
    ACCEPTED = "03"
    ASSIGNED = "04"
    PROCESSING = "05"
    DONE = "06"
    WITHDRAW_REQUESTED = "13"
    CHANGE_AGREED = "15"
    CHANGE_REFUSED = "16"

    @property
    def progress(self) -> int:
        """How far along the handling this status is: 01 < 03 < 04 < 05 < 06 (02 ends it as 06 does), then the
        withdraw exchange. Statuses can arrive out of order; a later arrival of an earlier step must not win."""
        return _PROGRESS[self.value]


_PROGRESS = {"01": 1, "03": 2, "04": 3, "05": 4, "06": 5, "02": 5, "13": 6, "15": 7, "16": 7}


class BusinessDocType(IntEnum):
    """What a document package does: `Bussiness/BussinessDocType`."""

    NEW = 0
    REVOKE = 1
    UPDATE = 2
    REPLACE = 3


@dataclass(frozen=True, slots=True)
class Organization:
    """`From` or `To`: an organ and its contact details."""

    organ_id: str
    organ_name: str = ""
    organization_in_charge: str = ""
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    fax: str = ""
    website: str = ""


@dataclass(frozen=True, slots=True)
class Code:
    """`Code`: the number and notation of a document, as in `7816/VPCP-TTĐT`."""

    code_number: str
    code_notation: str


@dataclass(frozen=True, slots=True)
class PromulgationInfo:
    """`PromulgationInfo`: where and when the document was issued."""

    place: str = ""
    promulgation_date: date | None = None


@dataclass(frozen=True, slots=True)
class DocumentType:
    """`DocumentType`: code lists differ between sources, so any integer is kept."""

    type: int | None = None
    type_detail: int | None = None
    type_name: str = ""


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """`SignerInfo`: who signed the paper original."""

    competence: str = ""
    position: str = ""
    full_name: str = ""


@dataclass(frozen=True, slots=True)
class OtherInfo:
    """`OtherInfo`; `typer_notation` keeps the standard's spelling (`TyperNotation`)."""

    priority: int = 0
    sphere_of_promulgation: str = ""
    typer_notation: str = ""
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool | None = None
    appendixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseFor:
    """The document a package answers or concerns (`Code` is one string here)."""

    organ_id: str
    code: str = ""
    promulgation_date: date | None = None
    document_id: str = ""


@dataclass(frozen=True, slots=True)
class StaffInfo:
    """The clerk who handled the package."""

    department: str = ""
    staff: str = ""
    email: str = ""
    mobile: str = ""


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """`MessageHeader` of a document package."""

    from_: Organization
    to: tuple[Organization, ...]
    document_id: str
    code: Code
    subject: str
    promulgation: PromulgationInfo = PromulgationInfo()
    document_type: DocumentType = DocumentType()
    content: str = ""
    signer: SignerInfo = SignerInfo()
    due_date: date | None = None
    to_places: tuple[str, ...] = ()
    other: OtherInfo = OtherInfo()
    response_for: tuple[ResponseFor, ...] = ()
    steering_type: int | None = None


@dataclass(frozen=True, slots=True)
class TraceHeader:
    """One hop: which organ handled the package and when (local time)."""

    organ_id: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Receiver:
    """`ReceiverList/Receiver` of an update."""

    organ_id: str
    receiver_type: int = 0


@dataclass(frozen=True, slots=True)
class BussinessDocumentInfo:
    """What an update changes: flags kept as sent ("0"/"1") and the receivers concerned."""

    document_info: str = ""
    document_receiver: str = ""
    receivers: tuple[Receiver, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplacementInfo:
    """A document replaced by this one, and the organs that had received it."""

    document_id: str
    organ_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bussiness:
    """`Bussiness` (sic): the business action this package performs."""

    doc_type: BusinessDocType = BusinessDocType.NEW
    document_id: str = ""
    reason: str = ""
    paper: bool = False
    document_info: BussinessDocumentInfo | None = None
    replacements: tuple[ReplacementInfo, ...] = ()
    staff: StaffInfo | None = None


@dataclass(frozen=True, slots=True)
class TraceHeaderList:
    """`TraceHeaderList`; `attributes` keeps the C# SDK's SOAP-style attributes for round trips."""

    trace_headers: tuple[TraceHeader, ...]
    business: Bussiness | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Signature:
    """The signature slot, kept as the raw element so a round trip loses nothing.

    `legacy` is the SDK's unverifiable `Signature` in the edXML namespace; `xmldsig` a real one.
    Two slots are equal when their elements are the same after canonicalisation, as for signing.
    """

    kind: Literal["legacy", "xmldsig"]
    xml: bytes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Signature):
            return NotImplemented
        return self.kind == other.kind and _canonical(self.xml) == _canonical(other.xml)

    def __hash__(self) -> int:
        return hash((self.kind, _canonical(self.xml)))


@dataclass(frozen=True, slots=True)
class DocumentPackage:
    """An edoc package: header, trace, signature slot and attachments."""

    header: MessageHeader
    trace: TraceHeaderList
    attachments: list[Attachment] = field(default_factory=list)
    signature: Signature | None = None

    @property
    def kind(self) -> Literal["edoc"]:
        return "edoc"

    @property
    def sender(self) -> str:
        return self.header.from_.organ_id

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(org.organ_id for org in self.header.to)

    @property
    def document_id(self) -> str:
        return self.header.document_id


@dataclass(frozen=True, slots=True)
class StatusPackage:
    """A status package: what `from_` reports about the document in `response_for`."""

    from_: Organization
    response_for: ResponseFor
    status_code: StatusCode
    timestamp: datetime
    description: str = ""
    staff: StaffInfo | None = None
    signature: Signature | None = None

    @property
    def kind(self) -> Literal["status"]:
        return "status"

    @property
    def sender(self) -> str:
        return self.from_.organ_id

    @property
    def recipients(self) -> tuple[str, ...]:
        return (self.response_for.organ_id,)

    @property
    def document_id(self) -> str:
        return self.response_for.document_id


Package = DocumentPackage | StatusPackage


def _canonical(xml: bytes) -> bytes:
    return etree.tostring(load_tree(xml, source="<signature>"), method="c14n", exclusive=True)
