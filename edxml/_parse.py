"""Read a loaded tree into a `DocumentPackage` or `StatusPackage`, checking the rules a schema cannot."""

from __future__ import annotations

import binascii

from lxml import etree

from . import _fields as f
from ._attachment import Attachment
from ._model import (
    BusinessDocType,
    Bussiness,
    BussinessDocumentInfo,
    Code,
    DocumentPackage,
    DocumentType,
    MessageHeader,
    Organization,
    OtherInfo,
    Package,
    PromulgationInfo,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    Signature,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPackage,
    TraceHeader,
    TraceHeaderList,
)
from ._reader import ORGAN_ID, PLACEHOLDER_TIME, Need, Reader, element_bytes, local, name_of
from ._xml import NS

_E = etree._Element
_HEADER_PARTS = frozenset({"MessageHeader", "TraceHeaderList", "Signature", "ds:Signature"})


def read_package(root: _E, r: Reader) -> Package | None:
    """The package in `root`, or None when it is too broken to say what it is (already reported)."""
    if local(root.tag) != "edXML":
        r.c.error(root, f"the root element is {root.tag}, not {{{NS}}}edXML")
        return None
    top = r.kids(root, frozenset({"edXMLEnvelope", "AttachmentEncoded"}))
    envelope = r.one(top, "edXMLEnvelope", root, "hard")
    if envelope is None:
        return None
    parts = r.kids(envelope, frozenset({"edXMLHeader", "edXMLBody"}))
    header = r.one(parts, "edXMLHeader", envelope, "hard")
    if header is None:
        return None
    hkids = r.kids(header, _HEADER_PARTS)
    message = r.one(hkids, "MessageHeader", header, "hard")
    if message is None:
        return None
    signature = _signature(hkids, r)
    if any(local(el.tag) == "StatusCode" for el in message if isinstance(el.tag, str)):
        if "TraceHeaderList" in hkids:
            r.c.soft(hkids["TraceHeaderList"][0], "a status package has no TraceHeaderList; ignored")
        return _status(message, signature, r)
    trace_el = r.one(hkids, "TraceHeaderList", header)
    if trace_el is None:
        r.c.soft(header, "edXMLHeader has no TraceHeaderList (the sending agent writes one)")
    trace = _trace(trace_el, r) if trace_el is not None else TraceHeaderList(())
    body = r.one(parts, "edXMLBody", envelope)
    encoded = r.one(top, "AttachmentEncoded", root)
    attachments = _attachments(body, encoded, r)
    return DocumentPackage(_document_header(message, r), trace, attachments, signature)


def _signature(hkids: dict[str, list[_E]], r: Reader) -> Signature | None:
    if "ds:Signature" in hkids:
        return Signature("xmldsig", element_bytes(hkids["ds:Signature"][0]))
    if "Signature" in hkids:
        el = hkids["Signature"][0]
        r.c.soft(el, "legacy Signature in the edXML namespace: it cannot be verified (XMLDSig expected)")
        return Signature("legacy", element_bytes(el))
    return None


def _organization(el: _E, r: Reader) -> Organization:
    values, _ = r.record(el, f.ORGANIZATION)
    what = name_of(el)
    r.organ_id(el, str(values.get("organ_id", "")), what)
    if not values.get("organ_name"):
        r.c.soft(el, f"{what} has no OrganName")
    return Organization(**{"organ_id": "", **values})  # type: ignore[arg-type]


def _response_for(el: _E, r: Reader, need: Need) -> ResponseFor:
    values, _ = r.record(el, f.RESPONSE_FOR)
    response = ResponseFor(**{"organ_id": "", **values})  # type: ignore[arg-type]
    if need == "hard":
        if response.organ_id:
            r.organ_id(el, response.organ_id, "ResponseFor")
        else:  # the sender of the document answered, which the sending agent knows
            r.c.soft(el, "ResponseFor has no OrganId (the sending agent fills in the organ of the document answered)")
        r.document_id(el, response.document_id, "ResponseFor")
    elif not response.organ_id or not response.document_id:
        r.c.soft(el, "ResponseFor has no OrganId or no DocumentId")
    return response


def _staff(el: _E | None, r: Reader) -> StaffInfo | None:
    return None if el is None else StaffInfo(**r.record(el, f.STAFF)[0])  # type: ignore[arg-type]


def _texts(el: _E | None, child: str, r: Reader) -> tuple[str, ...]:
    return () if el is None else tuple(r.text(x) for x in r.kids(el, frozenset({child})).get(child, []))


def _document_header(el: _E, r: Reader) -> MessageHeader:
    kids = r.kids(el, frozenset(f.DOCUMENT_HEADER))
    from_el = r.one(kids, "From", el, "hard")
    to = tuple(_organization(x, r) for x in kids.get("To", []))
    if not to:
        r.c.error(el, "MessageHeader has no To")
    id_el = r.one(kids, "DocumentId", el, "hard")
    document_id = r.identifier(id_el, r.text(id_el)) if id_el is not None else ""
    if id_el is not None:
        r.document_id(id_el, document_id, "MessageHeader")
    code_el = r.one(kids, "Code", el, "soft")
    code = r.record(code_el, f.CODE)[0] if code_el is not None else {}
    prom_el = r.one(kids, "PromulgationInfo", el, "soft")
    promulgation = r.record(prom_el, f.PROMULGATION)[0] if prom_el is not None else {}
    if prom_el is not None and "promulgation_date" not in promulgation:
        r.c.soft(prom_el, "PromulgationInfo has no PromulgationDate")
    type_el = r.one(kids, "DocumentType", el)
    signer_el = r.one(kids, "SignerInfo", el)
    subject = r.text(r.one(kids, "Subject", el, "soft"))
    due_el = r.one(kids, "DueDate", el)
    steering_el = r.one(kids, "SteeringType", el, "soft")
    return MessageHeader(
        from_=_organization(from_el, r) if from_el is not None else Organization(""),
        to=to,
        document_id=document_id,
        code=Code(**{"code_number": "", "code_notation": "", **code}),  # type: ignore[arg-type]
        subject=subject,
        promulgation=PromulgationInfo(**promulgation),  # type: ignore[arg-type]
        document_type=DocumentType(**r.record(type_el, f.DOCUMENT_TYPE)[0]) if type_el is not None else DocumentType(),  # type: ignore[arg-type]
        content=r.text(r.one(kids, "Content", el)),
        signer=SignerInfo(**r.record(signer_el, f.SIGNER)[0]) if signer_el is not None else SignerInfo(),  # type: ignore[arg-type]
        due_date=r.value(due_el, "date") if due_el is not None else None,  # type: ignore[arg-type]
        to_places=_texts(r.one(kids, "ToPlaces", el), "Place", r),
        other=_other(r.one(kids, "OtherInfo", el), r),
        response_for=tuple(_response_for(x, r, "soft") for x in kids.get("ResponseFor", [])),
        steering_type=r.value(steering_el, "int") if steering_el is not None else None,  # type: ignore[arg-type]
    )


def _other(el: _E | None, r: Reader) -> OtherInfo:
    if el is None:
        return OtherInfo()
    values, kids = r.record(el, f.OTHER, frozenset({"Appendixes"}))
    appendixes = _texts(r.one(kids, "Appendixes", el), "Appendix", r)
    return OtherInfo(**values, appendixes=appendixes)  # type: ignore[arg-type]


def _trace(el: _E, r: Reader) -> TraceHeaderList:
    kids = r.kids(el, frozenset({"TraceHeader", "Bussiness"}))
    hops = []
    for hop in kids.get("TraceHeader", []):
        with r.c.history():  # a TraceHeader is history: what is odd in it is noted, never refused
            values, _ = r.record(hop, f.TRACE_HEADER)
        organ = str(values.get("organ_id", ""))
        if not organ:
            r.c.warn(hop, "TraceHeader has no OrganId (a hop of the package's history; kept out of the signed form)")
        elif not (ORGAN_ID.match(organ) or r.known_organ(organ)):
            r.c.warn(hop, f"TraceHeader OrganId {organ!r} is not of the form 000.00.00.A00 (history; not checked)")
        if "timestamp" not in values:
            r.c.warn(hop, "TraceHeader has no readable Timestamp (history; kept out of the signed form)")
        hops.append(TraceHeader(**{"organ_id": "", "timestamp": PLACEHOLDER_TIME, **values}))  # type: ignore[arg-type]
    if not hops:
        r.c.warn(el, "TraceHeaderList has no TraceHeader (the sending agent adds its own)")
    business_el = r.one(kids, "Bussiness", el, "soft")
    business = _business(business_el, r) if business_el is not None else None
    return TraceHeaderList(tuple(hops), business, tuple((str(k), str(v)) for k, v in el.attrib.items()))


def _business(el: _E, r: Reader) -> Bussiness:
    parts = frozenset({"BussinessDocumentInfo", "ReplacementInfoList", "StaffInfo"})
    values, kids = r.record(el, f.BUSINESS, parts)
    raw_type = values.pop("doc_type", None)
    if raw_type is None:
        r.c.soft(el, "Bussiness has no BussinessDocType; 0 (new) assumed")
        raw_type = 0
    try:
        doc_type = BusinessDocType(raw_type)
    except ValueError:
        r.c.error(el, f"BussinessDocType {raw_type} is not 0 (new), 1 (revoke), 2 (update) or 3 (replace)")
        doc_type = BusinessDocType.NEW
    info_el = r.one(kids, "BussinessDocumentInfo", el)
    replacements_el = r.one(kids, "ReplacementInfoList", el)
    return Bussiness(
        doc_type=doc_type,
        document_info=_business_info(info_el, r) if info_el is not None else None,
        replacements=_replacements(replacements_el, r) if replacements_el is not None else (),
        staff=_staff(r.one(kids, "StaffInfo", el), r),
        **values,  # type: ignore[arg-type]
    )


def _business_info(el: _E, r: Reader) -> BussinessDocumentInfo:
    values, kids = r.record(el, f.BUSINESS_INFO, frozenset({"ReceiverList"}))
    receivers_el = r.one(kids, "ReceiverList", el)
    receivers = r.kids(receivers_el, frozenset({"Receiver"})).get("Receiver", []) if receivers_el is not None else []
    return BussinessDocumentInfo(
        receivers=tuple(Receiver(**{"organ_id": "", **r.record(x, f.RECEIVER)[0]}) for x in receivers),  # type: ignore[arg-type]
        **values,  # type: ignore[arg-type]
    )


def _replacements(el: _E, r: Reader) -> tuple[ReplacementInfo, ...]:
    out = []
    for item in r.kids(el, frozenset({"ReplacementInfo"})).get("ReplacementInfo", []):
        kids = r.kids(item, frozenset({"DocumentId", "OrganIdList"}))
        organs = _texts(r.one(kids, "OrganIdList", item), "OrganId", r)
        out.append(ReplacementInfo(r.text(r.one(kids, "DocumentId", item, "hard")), organs))
    return tuple(out)


def _attachments(body: _E | None, encoded: _E | None, r: Reader) -> list[Attachment]:
    """Pair manifest references with encoded attachments; every reference must have decodable content."""
    references: dict[str, tuple[_E, dict[str, str]]] = {}
    manifest = r.one(r.kids(body, frozenset({"edXMLManifest"})), "edXMLManifest", body) if body is not None else None
    if manifest is not None:
        for ref in r.kids(manifest, frozenset({"Reference"})).get("Reference", []):
            meta = _leaves(ref, f.REFERENCE, r)
            if not meta.get("ContentId"):
                r.c.error(ref, "manifest Reference has no ContentId")
            references[meta.get("ContentId", "")] = (ref, meta)
    found = r.kids(encoded, frozenset({"Attachment"})).get("Attachment", []) if encoded is not None else []
    attachments = [a for a in (_attachment(el, references, r) for el in found) if a is not None]
    carried = {r.text(x) for el in found for x in el if isinstance(x.tag, str) and local(x.tag) == "ContentId"}
    for cid, (ref, _) in references.items():
        if cid and cid not in carried:
            r.c.error(ref, f"the manifest references {cid} but no Attachment carries it")
    return attachments


def _attachment(el: _E, references: dict[str, tuple[_E, dict[str, str]]], r: Reader) -> Attachment | None:
    meta = _leaves(el, f.ATTACHMENT, r)
    cid = meta.get("ContentId", "")
    if not cid:
        r.c.error(el, "Attachment has no ContentId")
        return None
    ref = references.get(cid)
    if ref is None:
        r.c.soft(el, f"Attachment {cid} is not listed in the edXMLManifest")
    else:
        for key, value in ref[1].items():
            if meta.get(key) and value and meta[key] != value:
                r.c.warn(el, f"Attachment {cid}: {key} {meta[key]!r} differs from the manifest's {value!r}")
            if not meta.get(key):
                meta[key] = value
    if "ContentTransferEncoded" not in meta:
        r.c.error(el, f"Attachment {cid} has no ContentTransferEncoded content")
        return None
    attachment = Attachment(
        cid,
        meta.get("AttachmentName", ""),
        meta.get("ContentType") or "application/octet-stream",
        meta.get("Description", ""),
        encoded=meta["ContentTransferEncoded"],
    )
    try:
        attachment.check_decodes()
    except (binascii.Error, ValueError) as exc:
        r.c.error(el, f"Attachment {cid} ({attachment.name}): content is not valid base64 ({exc})")
        return None
    return attachment


def _leaves(el: _E, wanted: tuple[str, ...], r: Reader) -> dict[str, str]:
    """Leaf texts of `el` by element name, for the elements present (even if empty)."""
    kids = r.kids(el, frozenset(wanted))
    return {name: r.text(child) for name in wanted if (child := r.one(kids, name, el)) is not None}


def _status(el: _E, signature: Signature | None, r: Reader) -> StatusPackage | None:
    kids = r.kids(el, frozenset(f.STATUS_HEADER))
    from_el = r.one(kids, "From", el, "hard")
    rf_el = r.one(kids, "ResponseFor", el, "hard")
    code_el = r.one(kids, "StatusCode", el, "hard")
    time_el = r.one(kids, "Timestamp", el, "hard")
    response_for = _response_for(rf_el, r, "hard") if rf_el is not None else ResponseFor("")
    raw_code = r.text(code_el).strip()
    if raw_code.isdigit() and len(raw_code) == 1:
        r.c.soft(code_el, f"StatusCode {raw_code!r} read as '0{raw_code}' (two digits)")
        raw_code = "0" + raw_code
    try:
        code = StatusCode(raw_code)
    except ValueError:
        if code_el is not None:
            allowed = ", ".join(c.value for c in StatusCode)
            r.c.error(code_el, f"StatusCode {raw_code!r} is not one of {allowed}")
        return None
    timestamp = r.value(time_el, "timestamp") if time_el is not None else None
    if time_el is not None and not r.text(time_el).strip():
        r.c.error(time_el, "Timestamp is empty")
    if from_el is None or timestamp is None:
        return None
    return StatusPackage(
        from_=_organization(from_el, r),
        response_for=response_for,
        status_code=code,
        timestamp=timestamp,  # type: ignore[arg-type]
        description=r.text(r.one(kids, "Description", el)),
        staff=_staff(r.one(kids, "StaffInfo", el), r),
        signature=signature,
    )
