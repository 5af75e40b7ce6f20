"""Write packages in canonical element order, streaming attachment content into the output.

The header is a small lxml tree; each attachment's content is left as a marker and, when the
bytes are written out, replaced by base64 produced chunk by chunk from memory or a file.
"""

from __future__ import annotations

import io
import uuid
from typing import BinaryIO

from lxml import etree

from . import _fields as f
from ._model import DocumentPackage, MessageHeader, Package, Signature, StatusPackage, TraceHeaderList
from ._xml import NS, load_tree

_E = etree._Element
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def serialize(pkg: Package) -> bytes:
    """The package as UTF-8 bytes with an XML declaration, elements in canonical order."""
    out = io.BytesIO()
    write_package(pkg, out)
    return out.getvalue()


def write_package(pkg: Package, out: BinaryIO) -> None:
    """Write the package to a binary stream, encoding attachment content in chunks."""
    marker = f"attachment-{uuid.uuid4().hex}"
    root = _document(pkg, marker) if isinstance(pkg, DocumentPackage) else _status(pkg)
    etree.indent(root, space="  ")
    _add_signature(root[0][0], pkg.signature)  # after indenting: a signature's own whitespace is signed
    text = _DECLARATION + etree.tostring(root, encoding="utf-8")
    attachments = pkg.attachments if isinstance(pkg, DocumentPackage) else []
    pieces = text.split(marker.encode("ascii"))
    if len(pieces) != len(attachments) + 1:
        raise RuntimeError("attachment marker found in package text")  # a 128-bit random collision
    out.write(pieces[0])
    for attachment, piece in zip(attachments, pieces[1:], strict=True):
        for chunk in attachment.iter_encoded():
            out.write(chunk)
        out.write(piece)


def _el(parent: _E, name: str) -> _E:
    return etree.SubElement(parent, f"{{{NS}}}{name}")


def _leaf(parent: _E, name: str, text: str | None) -> None:
    if text is not None:
        _el(parent, name).text = text


def _record(parent: _E, name: str, obj: object, table: f.Table) -> _E:
    el = _el(parent, name)
    for child, attr, kind in table:
        _leaf(el, child, f.format_value(kind, getattr(obj, attr)))
    return el


def _skeleton() -> tuple[_E, _E, _E]:
    root = etree.Element(f"{{{NS}}}edXML", nsmap={None: NS})
    envelope = _el(root, "edXMLEnvelope")
    return root, envelope, _el(envelope, "edXMLHeader")


def _add_signature(header: _E, signature: Signature | None) -> None:
    """Put the signature last in edXMLHeader: after TraceHeaderList (status: after MessageHeader)."""
    if signature is None:
        return
    element = load_tree(signature.xml, source="<signature>")
    last = header[-1]
    element.tail, last.tail = last.tail, header.text
    header.append(element)


def _document(pkg: DocumentPackage, marker: str) -> _E:
    root, envelope, header = _skeleton()
    _message_header(_el(header, "MessageHeader"), pkg.header)
    _trace(header, pkg.trace)
    manifest = _el(_el(envelope, "edXMLBody"), "edXMLManifest")
    manifest.set("version", "1.0")
    if pkg.attachments:
        encoded = _el(root, "AttachmentEncoded")
    for attachment in pkg.attachments:
        meta = {
            "ContentId": attachment.content_id,
            "ContentType": attachment.content_type,
            "Description": attachment.description,
            "AttachmentName": attachment.name,
            "ContentTransferEncoded": marker,
        }
        for parent, names in ((_el(manifest, "Reference"), f.REFERENCE), (_el(encoded, "Attachment"), f.ATTACHMENT)):
            for name in names:
                _leaf(parent, name, meta[name] or None)
    return root


def _message_header(el: _E, h: MessageHeader) -> None:
    _record(el, "From", h.from_, f.ORGANIZATION)
    for org in h.to:
        _record(el, "To", org, f.ORGANIZATION)
    _leaf(el, "DocumentId", h.document_id or None)
    _record(el, "Code", h.code, f.CODE)
    _record(el, "PromulgationInfo", h.promulgation, f.PROMULGATION)
    _record(el, "DocumentType", h.document_type, f.DOCUMENT_TYPE)
    _leaf(el, "Subject", h.subject)
    _leaf(el, "Content", h.content or None)
    _record(el, "SignerInfo", h.signer, f.SIGNER)
    _leaf(el, "DueDate", f.format_value("date", h.due_date))
    if h.to_places:
        places = _el(el, "ToPlaces")
        for place in h.to_places:
            _leaf(places, "Place", place)
    other = _record(el, "OtherInfo", h.other, f.OTHER)
    if h.other.appendixes:
        appendixes = _el(other, "Appendixes")
        for appendix in h.other.appendixes:
            _leaf(appendixes, "Appendix", appendix)
    for response in h.response_for:
        _record(el, "ResponseFor", response, f.RESPONSE_FOR)
    _leaf(el, "SteeringType", f.format_value("int", h.steering_type))


def _trace(header: _E, trace: TraceHeaderList) -> None:
    el = _el(header, "TraceHeaderList")
    for key, value in trace.attributes:
        el.set(key, value)
    for hop in trace.trace_headers:
        _record(el, "TraceHeader", hop, f.TRACE_HEADER)
    b = trace.business
    if b is None:
        return
    business = _record(el, "Bussiness", b, f.BUSINESS)
    if b.document_info is not None:
        info = _record(business, "BussinessDocumentInfo", b.document_info, f.BUSINESS_INFO)
        receivers = _el(info, "ReceiverList")
        for receiver in b.document_info.receivers:
            _record(receivers, "Receiver", receiver, f.RECEIVER)
    if b.replacements:
        replacements = _el(business, "ReplacementInfoList")
        for item in b.replacements:
            replacement = _el(replacements, "ReplacementInfo")
            _leaf(replacement, "DocumentId", item.document_id)
            organs = _el(replacement, "OrganIdList")
            for organ_id in item.organ_ids:
                _leaf(organs, "OrganId", organ_id)
    if b.staff is not None:
        _record(business, "StaffInfo", b.staff, f.STAFF)


def _status(pkg: StatusPackage) -> _E:
    root, _, header = _skeleton()
    el = _el(header, "MessageHeader")
    _record(el, "From", pkg.from_, f.ORGANIZATION)
    _record(el, "ResponseFor", pkg.response_for, f.RESPONSE_FOR)
    if pkg.staff is not None:
        _record(el, "StaffInfo", pkg.staff, f.STAFF)
    _leaf(el, "StatusCode", pkg.status_code.value)
    _leaf(el, "Description", pkg.description or None)
    _leaf(el, "Timestamp", f.format_value("timestamp", pkg.timestamp))
    return root
