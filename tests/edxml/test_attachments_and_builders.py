"""Attachments stream between files and packages; builders fill ids and stamps the standard's way."""

from __future__ import annotations

import base64
import io
from datetime import date, datetime
from pathlib import Path

import pytest

from edxml import (
    Attachment,
    DocumentPackage,
    Organization,
    PackageInvalid,
    ResponseFor,
    StatusCode,
    build_status,
    new_document_id,
    parse_package,
    serialize,
    validate,
    write_package,
)


def test_new_document_id_has_the_standard_shape() -> None:
    assert new_document_id("000.00.00.G22", date(2015, 9, 30), "7816", "VPCP-TTĐT") == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"


def test_a_built_document_is_strict_valid(document: DocumentPackage) -> None:
    report = validate(serialize(document), profile="strict")
    assert report.ok, [str(e) for e in report.errors]
    assert document.document_id == "000.00.00.G22,2024/03/01,7816/VPCP-TTĐT"
    assert document.trace.trace_headers[0].timestamp == datetime(2024, 3, 1, 9, 30)


def test_build_status_stamps_now_in_vietnam_time_unless_told() -> None:
    status = build_status(
        Organization("000.00.00.H41", "UBND Tỉnh Nghệ An"),
        ResponseFor("000.00.00.G22", "7816/VPCP-TTĐT", date(2015, 9, 30), "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"),
        StatusCode.ACCEPTED,
        "Đã tiếp nhận",
    )
    assert status.timestamp.tzinfo is None and status.timestamp.microsecond == 0
    assert status.recipients == ("000.00.00.G22",)
    assert parse_package(serialize(status), profile="strict") == status


def test_a_file_attachment_is_encoded_in_chunks_identical_to_one_shot_base64(tmp_path: Path, document: DocumentPackage) -> None:
    payload = bytes(range(256)) * 9000  # 2.3 MB: several chunks, not a multiple of the chunk size
    source = tmp_path / "quyết định.pdf"
    source.write_bytes(payload)
    attachment = Attachment.from_file(source, description="Quyết định")
    assert attachment.content_type == "application/pdf" and attachment.content_id.startswith("cid:")
    assert b"".join(attachment.iter_encoded()) == base64.b64encode(payload)
    pkg = DocumentPackage(document.header, document.trace, [attachment])
    out = io.BytesIO()
    write_package(pkg, out)
    parsed = parse_package(out.getvalue(), profile="strict")
    assert isinstance(parsed, DocumentPackage)
    assert parsed == pkg
    sink = io.BytesIO()
    assert parsed.attachments[0].write_to(sink) == len(payload)
    assert sink.getvalue() == payload


def test_an_attachment_takes_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Attachment("cid:1", "a.txt", data=b"x", encoded="eA==")


def test_a_manifest_reference_without_attachment_is_an_error(document: DocumentPackage) -> None:
    pkg = DocumentPackage(document.header, document.trace, [Attachment("cid:1", "a.txt", "text/plain", data=b"hi")])
    data = serialize(pkg).replace(b"<AttachmentEncoded>", b"<AttachmentEncoded><!--").replace(
        b"</AttachmentEncoded>", b"--></AttachmentEncoded>"
    )
    with pytest.raises(PackageInvalid, match="the manifest references cid:1 but no Attachment carries it"):
        parse_package(data, profile="lenient")


def test_a_document_id_of_another_shape_is_an_error_in_strict_and_a_warning_in_lenient(document: DocumentPackage) -> None:
    data = serialize(document).replace(document.document_id.encode(), b"9fbfbad2-f1f8-4256")
    strict, lenient = validate(data, profile="strict"), validate(data, profile="lenient")
    assert any("DocumentId '9fbfbad2-f1f8-4256' is not of the form" in e.message for e in strict.errors)
    assert lenient.ok and any("is not of the form" in w.message for w in lenient.warnings)


def test_an_xmldsig_signature_after_the_trace_is_accepted_in_strict_and_kept(document: DocumentPackage) -> None:
    signature = b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>'
    data = serialize(document).replace(b"</TraceHeaderList>", b"</TraceHeaderList>" + signature, 1)
    pkg = parse_package(data, profile="strict")
    assert pkg.signature is not None and pkg.signature.kind == "xmldsig"
    assert parse_package(serialize(pkg), profile="strict") == pkg


def test_elements_in_another_order_and_unknown_ones_are_read_in_lenient_only(document: DocumentPackage) -> None:
    data = serialize(document)
    moved = data.replace(b"<SteeringType>0</SteeringType>", b"").replace(
        b"<Code>", b"<SteeringType>0</SteeringType><Extra>x</Extra><Code>"
    )
    assert not validate(moved, profile="strict").ok
    lenient = validate(moved, profile="lenient")
    assert lenient.package == document
    assert [w.message for w in lenient.warnings] == ["unexpected element Extra in MessageHeader ignored"]
