"""Signing: where the signature goes, what it is made of, and that it verifies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from edxml import DSIG_NS, NS, load_tree
from signing import Signer, SigningFailed, Verifier
from signing_helpers import NGHE_AN, VPCP, edoc, status, with_legacy_signature

D = f"{{{DSIG_NS}}}"
E = f"{{{NS}}}"


def header_children(signed: bytes) -> list[str]:
    header = load_tree(signed).find(f"{E}edXMLEnvelope/{E}edXMLHeader")
    assert header is not None
    return [etree.QName(child).localname for child in header]


def test_a_document_is_signed_after_trace_header_list(signer: Callable[[str], Signer]) -> None:
    signed = signer(VPCP).sign(edoc())
    assert header_children(signed) == ["MessageHeader", "TraceHeaderList", "Signature"]


def test_a_status_package_is_signed_after_message_header(signer: Callable[[str], Signer]) -> None:
    signed = signer(NGHE_AN).sign(status())
    assert header_children(signed) == ["MessageHeader", "Signature"]


@pytest.mark.parametrize(("organ", "method"), [(VPCP, "rsa-sha256"), (NGHE_AN, "ecdsa-sha256")])
def test_the_signature_is_enveloped_exclusive_c14n_sha256_with_the_certificate(
    signer: Callable[[str], Signer], organ: str, method: str
) -> None:
    sig = load_tree(signer(organ).sign(edoc(sender=organ))).find(f".//{D}Signature")
    assert sig is not None
    assert sig.find(f"{D}SignedInfo/{D}CanonicalizationMethod").get("Algorithm") == "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert sig.find(f"{D}SignedInfo/{D}SignatureMethod").get("Algorithm").endswith(method)
    (ref,) = sig.findall(f"{D}SignedInfo/{D}Reference")
    assert ref.get("URI") == ""
    assert [t.get("Algorithm") for t in ref.iterfind(f"{D}Transforms/{D}Transform")] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    assert ref.find(f"{D}DigestMethod").get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#sha256"
    assert (sig.findtext(f"{D}KeyInfo/{D}X509Data/{D}X509Certificate") or "").strip()


@pytest.mark.parametrize("organ", [VPCP, NGHE_AN])
def test_signed_documents_and_status_packages_verify_and_name_the_signer(
    signer: Callable[[str], Signer], verifier: Verifier, organ: str
) -> None:
    for package in (edoc(sender=organ), status(sender=organ)):
        result = verifier.verify(signer(organ).sign(package))
        assert result.organ_id == organ
        assert len(result.fingerprint_sha256) == 64


def test_signing_replaces_a_legacy_signature(signer: Callable[[str], Signer], verifier: Verifier) -> None:
    legacy = with_legacy_signature(edoc())
    assert header_children(legacy) == ["MessageHeader", "TraceHeaderList", "Signature"]
    signed = signer(VPCP).sign(legacy)
    root = load_tree(signed)
    assert root.find(f".//{E}Signature") is None
    assert len(root.findall(f".//{D}Signature")) == 1
    assert verifier.verify(root).organ_id == VPCP


def test_signing_twice_keeps_one_signature(signer: Callable[[str], Signer], verifier: Verifier) -> None:
    twice = signer(VPCP).sign(signer(VPCP).sign(edoc()))
    assert header_children(twice).count("Signature") == 1
    assert verifier.verify(twice).organ_id == VPCP


def test_signing_a_parsed_root_leaves_the_callers_tree_alone(
    signer: Callable[[str], Signer], verifier: Verifier
) -> None:
    root = load_tree(edoc())
    before = etree.tostring(root)
    signed = signer(VPCP).sign(root)
    assert etree.tostring(root) == before
    assert verifier.verify(signed).organ_id == VPCP


def test_leading_junk_before_the_declaration_is_dropped(signer: Callable[[str], Signer], verifier: Verifier) -> None:
    signed = signer(VPCP).sign(b"1212" + edoc())
    assert signed.startswith(b"<?xml")
    assert verifier.verify(signed).organ_id == VPCP


def test_what_is_not_a_package_cannot_be_signed(signer: Callable[[str], Signer]) -> None:
    with pytest.raises(SigningFailed, match="not an EDXML package"):
        signer(VPCP).sign(b"<other/>")
    with pytest.raises(SigningFailed, match="cannot sign"):
        signer(VPCP).sign(b"<edXML")


def test_a_signature_elsewhere_in_the_package_is_refused(signer: Callable[[str], Signer]) -> None:
    root = load_tree(signer(VPCP).sign(edoc()))
    sig = root.find(f".//{D}Signature")
    root.find(f"{E}edXMLEnvelope/{E}edXMLBody").append(sig)
    with pytest.raises(SigningFailed, match="outside edXMLHeader"):
        signer(VPCP).sign(root)
