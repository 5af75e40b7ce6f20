"""Every real SDK sample: what each profile says about it, and that reading it loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from shared_material import SHARED

from edxml import (
    BusinessDocType,
    DocumentPackage,
    PackageInvalid,
    StatusCode,
    StatusPackage,
    XmlSyntaxError,
    load_tree,
    parse_package,
    serialize,
    validate,
)

SAMPLES = SHARED / "edxml-samples"
SAMPLE_FILES = sorted(SAMPLES.glob("**/*.edxml"))
if len(SAMPLE_FILES) < 15:
    raise RuntimeError(f"expected the 15 SDK samples under {SAMPLES}, found {len(SAMPLE_FILES)}")
SDK = SAMPLES / "vdxp-sdk"
LENIENT_VALID = [p for p in SAMPLE_FILES if p.name != "edoc.edxml"]


def test_the_samples_are_found() -> None:
    assert len(SAMPLE_FILES) == 15


@pytest.mark.parametrize("path", LENIENT_VALID, ids=lambda p: p.name)
def test_lenient_accepts_every_sample_but_edoc(path: Path) -> None:
    report = validate(path.read_bytes(), profile="lenient", source=path.name)
    assert report.ok, [str(e) for e in report.errors]
    assert report.package is not None


@pytest.mark.parametrize("path", LENIENT_VALID, ids=lambda p: p.name)
def test_a_sample_read_written_and_read_again_is_unchanged(path: Path) -> None:
    first = parse_package(path.read_bytes(), source=path.name)
    again = parse_package(serialize(first))
    assert again == first


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_strict_rejects_every_sdk_sample_with_a_located_reason(path: Path) -> None:
    report = validate(path.read_bytes(), profile="strict", source=path.name)
    assert not report.ok
    assert all(issue.line for issue in report.errors)


def test_edoc_is_repaired_with_warnings_then_refused_for_its_placeholder_attachment() -> None:
    report = validate((SDK / "edoc.edxml").read_bytes(), profile="lenient", source="edoc.edxml")
    warnings = [str(w) for w in report.warnings]
    assert "edoc.edxml:116: repaired: declared the undeclared namespace prefix 'xlink' as http://www.w3.org/1999/xlink" in warnings
    assert any(w.startswith("edoc.edxml:125: repaired: declared the undeclared namespace prefix 'edXML'") for w in warnings)
    assert [str(e) for e in report.errors] == [
        "edoc.edxml:126: Attachment cid:36b8a92e-f054-11e7-842b-005056b672fc (GUIDE_INSTALL OPENVPN.SIGNED.PDF): "
        "content is not valid base64 (Only base64 data is allowed)"
    ]


def test_edoc_in_strict_is_an_xml_error_naming_the_line_and_prefix() -> None:
    with pytest.raises(XmlSyntaxError) as info:
        parse_package((SDK / "edoc.edxml").read_bytes(), profile="strict", source="edoc.edxml")
    assert info.value.line == 116
    assert str(info.value).startswith("edoc.edxml:116: Namespace prefix xlink for href on Reference is not defined")


def test_junk_before_the_declaration_is_an_error_in_strict_and_a_warning_in_lenient() -> None:
    data = (SDK / "edoc_new.edxml").read_bytes()
    strict = validate(data, profile="strict", source="edoc_new.edxml")
    assert [str(e) for e in strict.errors] == ["edoc_new.edxml:1: 4 bytes before the XML declaration: b'1212'"]
    lenient = validate(data, profile="lenient", source="edoc_new.edxml")
    assert "edoc_new.edxml:1: repaired: skipped 4 bytes before the XML declaration: b'1212'" in map(str, lenient.warnings)


def test_update_sample_reads_every_business_field() -> None:
    pkg = parse_package((SDK / "edoc_update.edxml").read_bytes())
    assert isinstance(pkg, DocumentPackage)
    assert pkg.kind == "edoc"
    assert pkg.sender == "000.00.00.G22"
    assert pkg.recipients == ("000.00.00.H41", "000.00.00.H14", "000.00.00.G17")
    assert pkg.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    business = pkg.trace.business
    assert business is not None and business.doc_type is BusinessDocType.UPDATE
    assert business.document_info is not None
    assert [(r.organ_id, r.receiver_type) for r in business.document_info.receivers] == [
        ("000.00.00.H41", 0),
        ("000.00.00.H14", 1),
    ]
    assert pkg.header.other.typer_notation == "TVC" and pkg.header.other.direction is False
    assert pkg.signature is not None and pkg.signature.kind == "legacy"
    (attachment,) = pkg.attachments
    assert attachment.content_type == "application/zip"
    assert attachment.data.startswith(b"PK\x03\x04")


def test_replacement_and_revocation_samples() -> None:
    replacement = parse_package((SDK / "edoc_replacement.edxml").read_bytes())
    revocation = parse_package((SDK / "edoc_revocation.edxml").read_bytes())
    assert isinstance(replacement, DocumentPackage) and isinstance(revocation, DocumentPackage)
    assert replacement.trace.business is not None
    assert replacement.trace.business.doc_type is BusinessDocType.REPLACE
    assert replacement.trace.business.replacements[0].organ_ids == ("000.00.00.H41", "000.00.00.H14")
    assert revocation.trace.business is not None and revocation.trace.business.doc_type is BusinessDocType.REVOKE
    assert revocation.header.response_for[0].document_id == "000.00.04.G14,2012/08/06,267/VPCP-TTĐT"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("status_inbox__01.edxml", StatusCode.ARRIVED),
        ("status_rejection_02.edxml", StatusCode.REFUSED),
        ("status_acceptance_03.edxml", StatusCode.ACCEPTED),
        ("status_assignment_04.edxml", StatusCode.ASSIGNED),
        ("status_processing_05.edxml", StatusCode.PROCESSING),
        ("status_finish_06.edxml", StatusCode.DONE),
        ("status_cancellation_13.edxml", StatusCode.WITHDRAW_REQUESTED),
        ("status_change-acceptance_15.edxml", StatusCode.CHANGE_AGREED),
        ("status_change-rejection_16.edxml", StatusCode.CHANGE_REFUSED),
    ],
)
def test_status_samples_read_their_code(name: str, code: StatusCode) -> None:
    pkg = parse_package((SDK / name).read_bytes())
    assert isinstance(pkg, StatusPackage)
    assert pkg.status_code is code
    assert pkg.kind == "status"
    assert pkg.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert pkg.recipients == (pkg.response_for.organ_id,)


def test_parse_package_accepts_an_already_loaded_root() -> None:
    root = load_tree((SDK / "status.edxml").read_bytes())
    pkg = parse_package(root)
    assert isinstance(pkg, StatusPackage) and pkg.sender == "000.00.00.H41"
    assert isinstance(root, etree._Element)


def test_a_bad_status_code_is_refused_in_both_profiles() -> None:
    data = (SDK / "status.edxml").read_bytes().replace(b"<edXML:StatusCode>01<", b"<edXML:StatusCode>07<")
    with pytest.raises(PackageInvalid, match="StatusCode '07' is not one of 01, 02"):
        parse_package(data, profile="lenient")
    assert not validate(data, profile="strict").ok
