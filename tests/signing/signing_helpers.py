"""Helpers for the signing tests: EDXML packages built with lxml (the SDK samples' skeleton), crafted certificates."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from edxml import NS
from signing import DevPki
from signing._keys import ORGAN_ID_OID, load_certificate, load_private_key

VPCP = "000.00.00.G22"  # Văn phòng Chính phủ: RSA in the tests, as the national CAs issue
NGHE_AN = "000.00.00.H41"  # UBND Tỉnh Nghệ An: ECDSA P-256
E = f"{{{NS}}}"
NSMAP = {"edXML": NS}


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, E + tag)
    el.text = text
    return el


def _organ(parent: etree._Element, tag: str, organ_id: str, name: str) -> None:
    org = _sub(parent, tag)
    _sub(org, "OrganId", organ_id)
    _sub(org, "OrganName", name)
    _sub(org, "OrganAdd", "Số 1 Hoàng Hoa Thám, Ba Đình, Hà Nội")


def edoc(sender: str = "000.00.00.G22", recipient: str = "000.00.00.H41", attachment: bytes = b"PDF") -> bytes:
    """A document package from `sender` to `recipient` with one attachment."""
    root = etree.Element(E + "edXML", nsmap={None: NS})
    envelope = etree.SubElement(root, E + "edXMLEnvelope", nsmap=NSMAP)
    header = _sub(envelope, "edXMLHeader")
    message = _sub(header, "MessageHeader")
    _organ(message, "From", sender, "Văn phòng Chính phủ")
    _organ(message, "To", recipient, "UBND Tỉnh Nghệ An")
    document_id = f"{sender},2024/05/06,12/VPCP-TTĐT"
    _sub(message, "DocumentId", document_id)
    code = _sub(message, "Code")
    _sub(code, "CodeNumber", "12")
    _sub(code, "CodeNotation", "VPCP-TTĐT")
    _sub(message, "Subject", "Về việc triển khai trục liên thông văn bản")
    _sub(message, "SteeringType", "0")
    trace = _sub(header, "TraceHeaderList")
    hop = _sub(trace, "TraceHeader")
    _sub(hop, "OrganId", sender)
    _sub(hop, "Timestamp", "2024/05/06 09:00:00")
    business = _sub(trace, "Bussiness")
    _sub(business, "DocumentId", document_id)
    _sub(business, "BussinessDocType", "0")
    body = _sub(envelope, "edXMLBody")
    manifest = _sub(body, "edXMLManifest")
    manifest.set("version", "1.0")
    ref = _sub(manifest, "Reference")
    _sub(ref, "ContentId", "cid:1")
    _sub(ref, "ContentType", "application/pdf")
    _sub(ref, "AttachmentName", "vanban.pdf")
    encoded = etree.SubElement(root, E + "AttachmentEncoded", nsmap=NSMAP)
    att = _sub(encoded, "Attachment")
    _sub(att, "ContentId", "cid:1")
    _sub(att, "AttachmentName", "vanban.pdf")
    _sub(att, "ContentType", "application/pdf")
    _sub(att, "ContentTransferEncoded", base64.b64encode(attachment).decode())
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def status(sender: str = "000.00.00.H41", answered: str = "000.00.00.G22") -> bytes:
    """A status package (01, arrived) from `sender` about a document of `answered`."""
    root = etree.Element(E + "edXML", nsmap={None: NS})
    envelope = etree.SubElement(root, E + "edXMLEnvelope", nsmap=NSMAP)
    header = _sub(envelope, "edXMLHeader")
    message = _sub(header, "MessageHeader")
    _organ(message, "From", sender, "UBND Tỉnh Nghệ An")
    response = _sub(message, "ResponseFor")
    _sub(response, "OrganId", answered)
    _sub(response, "DocumentId", f"{answered},2024/05/06,12/VPCP-TTĐT")
    _sub(message, "StatusCode", "01")
    _sub(message, "Timestamp", "2024/05/06 09:05:00")
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def with_legacy_signature(package: bytes) -> bytes:
    """The package with the SDK's placeholder `<Signature>` in the edXML namespace after TraceHeaderList."""
    root = etree.fromstring(package)
    trace = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}TraceHeaderList")
    legacy = etree.Element(E + "Signature")
    info = etree.SubElement(legacy, E + "SignedInfo")
    etree.SubElement(info, E + "Reference", URI="")
    etree.SubElement(legacy, E + "SignatureValue").text = "GbVb8n9+qFxz466Ag0sbpVdLPs2R0+9J"
    trace.addnext(legacy)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def craft_certificate(
    pki: DevPki,
    organ_id: str,
    out_dir: Path,
    *,
    key_usage: x509.KeyUsage | None = None,
    ca: bool = False,
) -> tuple[Path, Path]:
    """An agency certificate from the trusted CA with chosen extensions (for wrong-key-usage tests)."""
    ca_key, ca_cert = load_private_key(pki.ca_key_path), load_certificate(pki.ca_path)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(ORGAN_ID_OID, organ_id), x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    cert = builder.sign(ca_key, hashes.SHA256())
    key_path, cert_path = out_dir / f"{organ_id}-crafted-key.pem", out_dir / f"{organ_id}-crafted.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def xmlsec_sign(
    root: etree._Element,
    key_path: Path,
    cert_path: Path,
    *,
    uri: str = "",
    references: int = 1,
    digest: object = None,
    place: str = "after-trace",
) -> bytes:
    """Sign `root` with python-xmlsec directly, with a template of our choosing (crafted attacks)."""
    import xmlsec

    header = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader")
    sig = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.ECDSA_SHA256)
    for _ in range(references):
        ref = xmlsec.template.add_reference(sig, digest or xmlsec.Transform.SHA256, uri=uri)
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig)))
    if place == "after-trace":
        header.find(f"{E}TraceHeaderList").addnext(sig)
    elif place == "header-start":
        header.insert(0, sig)
    else:
        root.find(f"{E}edXMLEnvelope/{E}edXMLBody").append(sig)
    ctx = xmlsec.SignatureContext()
    key = xmlsec.Key.from_file(str(key_path), xmlsec.KeyFormat.PEM)
    key.load_cert_from_file(str(cert_path), xmlsec.KeyFormat.PEM)
    ctx.key = key
    if uri.startswith("#"):
        target = root.find(f".//{E}Subject")
        ctx.register_id(target, "Id")
    ctx.sign(sig)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
