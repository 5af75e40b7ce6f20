"""Verification fails with a specific reason for each way a package can be wrong (one crafted package each)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmlsec
from cryptography import x509
from lxml import etree

from edxml import DSIG_NS, NS, load_tree
from signing import DevPki, SignatureInvalid, Signer, SigningIdentity, TrustStore, Verifier
from signing_helpers import NGHE_AN, VPCP, craft_certificate, edoc, status, with_legacy_signature, xmlsec_sign

D = f"{{{DSIG_NS}}}"
E = f"{{{NS}}}"


def reason_of(verifier: Verifier, package: bytes | etree._Element, **kwargs: str) -> str:
    with pytest.raises(SignatureInvalid) as info:
        verifier.verify(package, **kwargs)
    return info.value.reason


@pytest.fixture
def signed(signer: Callable[[str], Signer]) -> bytes:
    return signer(VPCP).sign(edoc())


def test_a_valid_package_verifies_from_bytes_and_from_a_parsed_root(signed: bytes, verifier: Verifier) -> None:
    from_bytes = verifier.verify(signed)
    from_root = verifier.verify(load_tree(signed))
    assert from_bytes.organ_id == from_root.organ_id == VPCP
    assert from_bytes.algorithm == "rsa-sha256"
    assert from_bytes.certificate.subject == from_root.certificate.subject


def test_an_unsigned_package_is_unsigned(verifier: Verifier) -> None:
    assert reason_of(verifier, edoc()) == "unsigned"
    assert reason_of(verifier, status()) == "unsigned"


def test_the_sdk_legacy_signature_is_reported_unsigned_never_valid(verifier: Verifier) -> None:
    with pytest.raises(SignatureInvalid) as info:
        verifier.verify(with_legacy_signature(edoc()))
    assert info.value.reason == "legacy-signature"
    assert "unsigned (legacy signature element)" in info.value.message


def test_changed_content_is_a_bad_digest(signed: bytes, verifier: Verifier) -> None:
    tampered = signed.replace("triển khai".encode(), "hủy bỏ".encode())
    assert tampered != signed
    assert reason_of(verifier, tampered) == "bad-digest"


def test_a_changed_attachment_is_a_bad_digest(signed: bytes, verifier: Verifier) -> None:
    encoded = base64.b64encode(b"PDF").decode().encode()
    tampered = signed.replace(b">" + encoded + b"<", b">" + base64.b64encode(b"PDX") + b"<")
    assert tampered != signed
    assert reason_of(verifier, tampered) == "bad-digest"


def test_a_changed_signature_value_is_a_bad_signature(signed: bytes, verifier: Verifier) -> None:
    root = load_tree(signed)
    value = root.find(f".//{D}SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    assert reason_of(verifier, root) == "bad-signature"


def test_a_certificate_from_another_ca_is_untrusted(other_pki: DevPki, verifier: Verifier) -> None:
    forged = Signer(SigningIdentity.from_files(other_pki.key_path(VPCP), other_pki.cert_path(VPCP))).sign(edoc())
    assert reason_of(verifier, forged) == "untrusted-certificate"


def test_an_expired_certificate_is_refused(signed: bytes, pki: DevPki) -> None:
    later = Verifier(TrustStore.from_files([pki.ca_path]), clock=lambda: datetime.now(UTC) + timedelta(days=800))
    assert reason_of(later, signed) == "certificate-expired"


def test_a_certificate_not_yet_valid_is_refused(signed: bytes, pki: DevPki) -> None:
    earlier = Verifier(TrustStore.from_files([pki.ca_path]), clock=lambda: datetime.now(UTC) - timedelta(days=1))
    assert reason_of(earlier, signed) == "certificate-not-yet-valid"


def test_a_revoked_certificate_is_refused_once_the_crl_says_so(pki: DevPki) -> None:
    organ = "000.00.00.X01"
    key, cert = pki.issue(organ, "Cơ quan bị thu hồi", "ec")
    package = Signer(SigningIdentity.from_files(key, cert)).sign(edoc(sender=organ))
    assert Verifier(TrustStore.from_files([pki.ca_path], [pki.crl_path])).verify(package).organ_id == organ
    pki.revoke(organ)
    after = Verifier(TrustStore.from_files([pki.ca_path], [pki.crl_path]))
    assert reason_of(after, package) == "certificate-revoked"


@pytest.mark.parametrize(
    ("usage", "ca"),
    [
        (x509.KeyUsage(False, False, True, False, False, False, False, False, False), False),  # keyEncipherment only
        (None, False),  # no keyUsage at all
        (x509.KeyUsage(True, False, False, False, False, True, True, False, False), True),  # a CA certificate
    ],
)
def test_a_certificate_without_digital_signature_usage_is_refused(
    pki: DevPki, verifier: Verifier, tmp_path: Path, usage: x509.KeyUsage | None, ca: bool
) -> None:
    key, cert = craft_certificate(pki, VPCP, tmp_path, key_usage=usage, ca=ca)
    package = Signer(SigningIdentity.from_files(key, cert)).sign(edoc())
    assert reason_of(verifier, package) == "wrong-key-usage"


def test_an_agency_cannot_send_as_another(signer: Callable[[str], Signer], verifier: Verifier) -> None:
    package = signer(NGHE_AN).sign(edoc(sender=VPCP))
    assert reason_of(verifier, package) == "organ-mismatch"


def test_the_expected_organ_can_be_given_by_the_caller(signed: bytes, verifier: Verifier) -> None:
    assert verifier.verify(signed, expected_organ_id=VPCP).organ_id == VPCP
    assert reason_of(verifier, signed, expected_organ_id=NGHE_AN) == "organ-mismatch"


def test_two_from_organ_ids_are_malformed(signer: Callable[[str], Signer], verifier: Verifier) -> None:
    root = load_tree(edoc())
    message = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader")
    message.insert(0, etree.fromstring(f'<From xmlns="{NS}"><OrganId>{NGHE_AN}</OrganId></From>'))
    assert reason_of(verifier, signer(VPCP).sign(root)) == "malformed"


class TestSignatureWrapping:
    """Cryptographically valid signatures that do not cover the package as parsed are refused."""

    def test_a_reference_to_one_element_instead_of_the_package(self, pki: DevPki, verifier: Verifier, tmp_path: Path) -> None:
        key, cert = pki.issue("000.00.00.X02", "Kẻ tấn công", "ec")
        root = load_tree(edoc(sender="000.00.00.X02"))
        root.find(f".//{E}Subject").set("Id", "subject")
        package = xmlsec_sign(root, key, cert, uri="#subject")
        assert reason_of(verifier, package) == "signature-wrapping"

    def test_two_references(self, pki: DevPki, verifier: Verifier) -> None:
        root = load_tree(edoc(sender=NGHE_AN))
        package = xmlsec_sign(root, pki.key_path(NGHE_AN), pki.cert_path(NGHE_AN), references=2)
        assert reason_of(verifier, package) == "signature-wrapping"

    @pytest.mark.parametrize("place", ["header-start", "body"])
    def test_a_signature_in_another_place(self, pki: DevPki, verifier: Verifier, place: str) -> None:
        root = load_tree(edoc(sender=NGHE_AN))
        package = xmlsec_sign(root, pki.key_path(NGHE_AN), pki.cert_path(NGHE_AN), place=place)
        assert reason_of(verifier, package) == "signature-wrapping"

    def test_a_second_signature_beside_a_valid_one(self, signed: bytes, verifier: Verifier) -> None:
        root = load_tree(signed)
        extra = etree.fromstring(etree.tostring(root.find(f".//{D}Signature")))
        root.find(f"{E}edXMLEnvelope/{E}edXMLBody").append(extra)
        assert reason_of(verifier, root) == "signature-wrapping"

    def test_a_legacy_signature_beside_a_valid_one(self, signed: bytes, verifier: Verifier) -> None:
        root = load_tree(signed)
        root.find(f".//{D}Signature").addnext(etree.Element(f"{E}Signature"))
        assert reason_of(verifier, root) == "signature-wrapping"

    def test_an_object_inside_the_signature(self, signed: bytes, verifier: Verifier) -> None:
        root = load_tree(signed)
        etree.SubElement(root.find(f".//{D}Signature"), f"{D}Object").text = "x"
        assert reason_of(verifier, root) == "signature-wrapping"

    def test_a_root_that_is_not_the_document_root(self, signed: bytes, verifier: Verifier) -> None:
        wrapper = etree.Element("wrapper")
        wrapper.append(load_tree(signed))
        assert reason_of(verifier, wrapper[0]) == "malformed"


def test_malformed_packages_say_malformed(signed: bytes, verifier: Verifier, pki: DevPki) -> None:
    assert reason_of(verifier, b"<edXML") == "malformed"
    assert reason_of(verifier, b"<other/>") == "malformed"
    no_cert = load_tree(signed)
    x509_data = no_cert.find(f".//{D}X509Data")
    x509_data.remove(x509_data[0])
    assert reason_of(verifier, no_cert) == "malformed"
    bad_cert = load_tree(signed)
    bad_cert.find(f".//{D}X509Certificate").text = "not base64!"
    assert reason_of(verifier, bad_cert) == "malformed"
    sha1 = xmlsec_sign(load_tree(edoc(sender=NGHE_AN)), pki.key_path(NGHE_AN), pki.cert_path(NGHE_AN),
                       digest=xmlsec.Transform.SHA1)
    assert reason_of(verifier, sha1) == "malformed"


def test_a_crl_not_signed_by_the_trusted_ca_is_refused(pki: DevPki, other_pki: DevPki) -> None:
    from signing import PkiError

    with pytest.raises(PkiError, match="not signed by a trusted CA"):
        TrustStore.from_files([pki.ca_path], [other_pki.crl_path])
