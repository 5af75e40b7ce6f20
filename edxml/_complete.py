"""Bring a package read leniently into the form this exchange signs, filling what strict needs.

A document system's package may lack what the strict profile requires but what the package itself or the
directory already says: names of organs (the directory), the code and the promulgation date (the
standard DocumentId carries both), the TraceHeaderList and its Bussiness (a new document, sent now by its
sender), the organ a status answers (the sending agent knows which document it answers). Each value filled
in is reported as a note, so the agent can tell the document system what it assumed. Nothing else changes:
the DocumentId and every value the package does carry stay as written. What cannot be filled stays missing,
and the strict check that follows names it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime

from ._model import (
    Bussiness, Code, DocumentPackage, MessageHeader, Organization, Package, PromulgationInfo, StatusPackage,
    TraceHeader, TraceHeaderList,
)
from ._reader import DOCUMENT_ID, PLACEHOLDER_TIME

__all__ = ["complete_package"]

_SUBJECT_MAX = 250


def complete_package(pkg: Package, *, at: datetime, directory: Callable[[str], str | None],
                     answered_organ: str = "") -> tuple[Package, list[str]]:
    """The package as it will be signed, and a note for each value filled in.

    `at`: the local (Vietnam) time the sending agent took the package, for its TraceHeader. `directory`:
    the name of an organ in the directory (None: not there). `answered_organ`: for a status whose
    ResponseFor has no OrganId, the organ of the document it answers.
    """
    notes: list[str] = []
    if pkg.signature is not None:
        what = "legacy Signature (it cannot be verified)" if pkg.signature.kind == "legacy" else "XML signature"
        notes.append(f"the package's {what} is replaced by the sending agent's signature")
        pkg = dataclasses.replace(pkg, signature=None)
    if isinstance(pkg, StatusPackage):
        return _status(pkg, directory, answered_organ, notes), notes
    header = pkg.header
    header = dataclasses.replace(
        header,
        from_=_named(header.from_, "From", directory, notes),
        to=tuple(_named(o, "To", directory, notes) for o in header.to),
        code=_code(header, notes),
        promulgation=_promulgation(header, pkg.trace, at, notes),
        subject=_subject(header, notes),
        steering_type=_steering(header, notes),
    )
    return dataclasses.replace(pkg, header=header, trace=_trace(pkg, at, notes)), notes


def _named(org: Organization, where: str, directory: Callable[[str], str | None], notes: list[str]) -> Organization:
    if org.organ_name.strip() or not org.organ_id:
        return org
    name = directory(org.organ_id) or org.organ_id
    notes.append(f"{where} {org.organ_id}: OrganName filled from the directory: {name!r}")
    return dataclasses.replace(org, organ_name=name)


def _id_parts(document_id: str) -> tuple[str, str, str] | None:
    """(date yyyy/MM/dd, number, notation) of a standard DocumentId."""
    if not DOCUMENT_ID.match(document_id):
        return None
    _, day, code = document_id.split(",", 2)
    number, notation = code.split("/", 1)
    return day, number, notation


def _code(header: MessageHeader, notes: list[str]) -> Code:
    code, parts = header.code, _id_parts(header.document_id)
    if (code.code_number and code.code_notation) or parts is None:
        return code
    filled = Code(code.code_number or parts[1], code.code_notation or parts[2])
    notes.append(f"Code filled from the DocumentId: {filled.code_number}/{filled.code_notation}")
    return filled


def _promulgation(header: MessageHeader, trace: TraceHeaderList, at: datetime, notes: list[str]) -> PromulgationInfo:
    info = header.promulgation
    if info.promulgation_date is not None:
        return info
    parts = _id_parts(header.document_id)
    if parts is not None:
        y, m, d = (int(p) for p in parts[0].split("/"))
        try:
            issued, source = date(y, m, d), "the DocumentId"
        except ValueError:
            issued, source = at.date(), f"today (the DocumentId's date {parts[0]} is not a date)"
    else:
        sent = [h.timestamp for h in trace.trace_headers
                if h.organ_id == header.from_.organ_id and h.timestamp != PLACEHOLDER_TIME]
        issued, source = (sent[0].date(), "the sender's TraceHeader") if sent else (at.date(), "today")
    notes.append(f"PromulgationDate filled from {source}: {issued:%Y/%m/%d}")
    return dataclasses.replace(info, promulgation_date=issued)


def _subject(header: MessageHeader, notes: list[str]) -> str:
    if header.subject.strip():
        return header.subject
    content = " ".join(header.content.split())
    if content:
        subject = content if len(content) <= _SUBJECT_MAX else content[: _SUBJECT_MAX - 1] + "…"
        notes.append(f"Subject filled from Content: {subject!r}")
        return subject
    return header.subject


def _steering(header: MessageHeader, notes: list[str]) -> int | None:
    if header.steering_type is not None:
        return header.steering_type
    notes.append("SteeringType filled as 0 (none given)")
    return 0


def _trace(pkg: DocumentPackage, at: datetime, notes: list[str]) -> TraceHeaderList:
    """Hops that say who and when are kept; the sender's own hop is added when missing."""
    trace, sender = pkg.trace, pkg.sender
    hops = tuple(h for h in trace.trace_headers if h.organ_id and h.timestamp != PLACEHOLDER_TIME)
    if len(hops) < len(trace.trace_headers):
        notes.append(f"{len(trace.trace_headers) - len(hops)} TraceHeader(s) without an OrganId or a readable "
                     "Timestamp left out of the signed form")
    if not any(h.organ_id == sender for h in hops):
        hops += (TraceHeader(sender, at.replace(microsecond=0)),)
        notes.append(f"TraceHeader of the sender {sender} added at {at:%Y/%m/%d %H:%M:%S}")
    business = trace.business
    if business is None:
        business = Bussiness(document_id=pkg.document_id)
        notes.append("Bussiness added: a new document (BussinessDocType 0)")
    return dataclasses.replace(trace, trace_headers=hops, business=business)


def _status(pkg: StatusPackage, directory: Callable[[str], str | None], answered_organ: str,
            notes: list[str]) -> StatusPackage:
    response_for = pkg.response_for
    if not response_for.organ_id and answered_organ:
        response_for = dataclasses.replace(response_for, organ_id=answered_organ)
        notes.append(f"ResponseFor OrganId filled from the document answered: {answered_organ}")
    return dataclasses.replace(pkg, from_=_named(pkg.from_, "From", directory, notes), response_for=response_for)
