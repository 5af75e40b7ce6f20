"""Interoperability with the independent `xmlsec1` command-line tool, in both directions."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from edxml import NS, load_tree
from signing import DevPki, Signer, Verifier
from signing_helpers import NGHE_AN, VPCP, edoc

E = f"{{{NS}}}"
XMLSEC1 = shutil.which("xmlsec1")
TEMPLATE = """<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#{method}"/>
<Reference URI=""><Transforms>
<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms>
<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>
</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature>"""


def xmlsec1(*args: str) -> subprocess.CompletedProcess[str]:
    # The Makefile's install-test target installs xmlsec1; without it these tests must fail, not skip.
    assert XMLSEC1 is not None, "xmlsec1 is not installed (Debian package xmlsec1)"
    return subprocess.run([XMLSEC1, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("organ", [VPCP, NGHE_AN])
def test_xmlsec1_verifies_what_we_sign(
    signer: Callable[[str], Signer], pki: DevPki, tmp_path: Path, organ: str
) -> None:
    signed = tmp_path / "signed.edxml"
    signed.write_bytes(signer(organ).sign(edoc(sender=organ)))
    ok = xmlsec1("--verify", "--trusted-pem", str(pki.ca_path), str(signed))
    assert ok.returncode == 0, ok.stderr
    tampered = tmp_path / "tampered.edxml"
    tampered.write_bytes(signed.read_bytes().replace("triển khai".encode(), "hủy bỏ".encode()))
    assert xmlsec1("--verify", "--trusted-pem", str(pki.ca_path), str(tampered)).returncode != 0


@pytest.mark.parametrize(("organ", "method"), [(VPCP, "rsa-sha256"), (NGHE_AN, "ecdsa-sha256")])
def test_we_verify_what_xmlsec1_signs_with_an_agency_key(
    pki: DevPki, verifier: Verifier, tmp_path: Path, organ: str, method: str
) -> None:
    root = load_tree(edoc(sender=organ))
    root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}TraceHeaderList").addnext(
        etree.fromstring(TEMPLATE.format(method=method))
    )
    template, signed = tmp_path / "template.edxml", tmp_path / "signed.edxml"
    template.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    done = xmlsec1(
        "--sign", "--privkey-pem", f"{pki.key_path(organ)},{pki.cert_path(organ)}",
        "--output", str(signed), str(template),
    )
    assert done.returncode == 0, done.stderr
    result = verifier.verify(signed.read_bytes())
    assert (result.organ_id, result.algorithm) == (organ, method)
