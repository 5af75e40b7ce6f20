"""Element-name tables shared by the parser and the serialiser, so the two cannot drift apart.

Each table lists `(element name, model attribute, kind)` in canonical (serialisation) order.
The kind says how the text is read and written: dates `yyyy/MM/dd`, timestamps
`yyyy/MM/dd HH:mm:ss` (local time), `flag` as 0/1, `bool` as true/false; `id` is an identifier (read
without surrounding whitespace, `null` as no value), `organ` an organ id (an id; `000.00.00.h41` is H41).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

Kind = Literal["text", "id", "organ", "int", "date", "timestamp", "flag", "bool"]
Table = tuple[tuple[str, str, Kind], ...]

ORGANIZATION: Table = (
    ("OrganId", "organ_id", "organ"),
    ("OrganizationInCharge", "organization_in_charge", "text"),
    ("OrganName", "organ_name", "text"),
    ("OrganAdd", "organ_add", "text"),
    ("Email", "email", "text"),
    ("Telephone", "telephone", "text"),
    ("Fax", "fax", "text"),
    ("Website", "website", "text"),
)
CODE: Table = (("CodeNumber", "code_number", "id"), ("CodeNotation", "code_notation", "id"))
PROMULGATION: Table = (("Place", "place", "text"), ("PromulgationDate", "promulgation_date", "date"))
DOCUMENT_TYPE: Table = (("Type", "type", "int"), ("TypeDetail", "type_detail", "int"), ("TypeName", "type_name", "text"))
SIGNER: Table = (("Competence", "competence", "text"), ("Position", "position", "text"), ("FullName", "full_name", "text"))
OTHER: Table = (
    ("Priority", "priority", "int"),
    ("SphereOfPromulgation", "sphere_of_promulgation", "text"),
    ("TyperNotation", "typer_notation", "text"),
    ("PromulgationAmount", "promulgation_amount", "int"),
    ("PageAmount", "page_amount", "int"),
    ("Direction", "direction", "bool"),
)
RESPONSE_FOR: Table = (
    ("OrganId", "organ_id", "organ"),
    ("Code", "code", "id"),
    ("PromulgationDate", "promulgation_date", "date"),
    ("DocumentId", "document_id", "id"),
)
STAFF: Table = (("Department", "department", "text"), ("Staff", "staff", "text"), ("Email", "email", "text"), ("Mobile", "mobile", "text"))
TRACE_HEADER: Table = (("OrganId", "organ_id", "organ"), ("Timestamp", "timestamp", "timestamp"))
RECEIVER: Table = (("OrganId", "organ_id", "organ"), ("ReceiverType", "receiver_type", "int"))
BUSINESS_INFO: Table = (("DocumentInfo", "document_info", "text"), ("DocumentReceiver", "document_receiver", "text"))
BUSINESS: Table = (
    ("DocumentId", "document_id", "id"),
    ("BussinessDocType", "doc_type", "int"),
    ("BussinessDocReason", "reason", "text"),
    ("Paper", "paper", "flag"),
)
REFERENCE = ("ContentId", "ContentType", "Description", "AttachmentName")
ATTACHMENT = ("ContentId", "AttachmentName", "Description", "ContentType", "ContentTransferEncoded")

# Element order inside MessageHeader, as this exchange writes it.
DOCUMENT_HEADER = (
    "From", "To", "DocumentId", "Code", "PromulgationInfo", "DocumentType", "Subject", "Content",
    "SignerInfo", "DueDate", "ToPlaces", "OtherInfo", "ResponseFor", "SteeringType",
)  # fmt: skip
STATUS_HEADER = ("From", "ResponseFor", "StaffInfo", "StatusCode", "Description", "Timestamp")


def names(table: Table) -> frozenset[str]:
    """The element names a table knows, for spotting unexpected ones."""
    return frozenset(name for name, _, _ in table)


def format_value(kind: Kind, value: object) -> str | None:
    """Text for an element, or None when the element is to be left out."""
    if value is None or value == "":
        return None
    if kind == "timestamp" and isinstance(value, datetime):
        return f"{value.year:04d}/{value.month:02d}/{value.day:02d} {value:%H:%M:%S}"
    if kind == "date" and isinstance(value, date):
        return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"
    if kind == "flag":
        return "1" if value else "0"
    if kind == "bool":
        return "true" if value else "false"
    return str(int(value)) if kind == "int" else str(value)  # type: ignore[call-overload]
