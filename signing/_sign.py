"""Enveloped XMLDSig of EDXML packages with python-xmlsec (libxmlsec1), the exchange's hot path.

One `Signature` in the `http://www.w3.org/2000/09/xmldsig#` namespace, in `edXMLHeader` right
after `TraceHeaderList` (status packages: after `MessageHeader`), where the standard's samples put
it; `Reference URI=""` over the whole package with the enveloped-signature transform, exclusive
c14n, SHA-256, and the signer certificate in `KeyInfo/X509Data`.
"""

from __future__ import annotations

import copy

import xmlsec
from lxml import etree

from edxml import EdxmlError, load_tree, strip_leading_junk

from ._keys import SigningIdentity
from ._layout import DSIG_SIGNATURE, LEGACY_SIGNATURE, anchor_of, header_of
from .errors import SigningFailed


class Signer:
    """Signs packages as one agency; holds the prepared key so each signature costs only crypto."""

    def __init__(self, identity: SigningIdentity) -> None:
        self.identity = identity
        self._method = (
            xmlsec.constants.TransformRsaSha256 if identity.algorithm == "rsa-sha256" else xmlsec.constants.TransformEcdsaSha256
        )

    def sign(self, data: bytes | etree._Element) -> bytes:
        """Return the signed package bytes (UTF-8, XML declaration).

        Bytes are parsed with the hardened loader; an lxml root is copied first, so the caller's
        tree is never changed. A legacy edXML-namespace `Signature` or an earlier XMLDSig one in
        the header is replaced: a package carries exactly one signature.
        """
        if isinstance(data, (bytes, bytearray)):
            try:
                root = load_tree(strip_leading_junk(bytes(data))[0])
            except EdxmlError as exc:
                raise SigningFailed(f"cannot sign: {exc}") from exc
        else:
            root = copy.deepcopy(data)
        self.sign_in_place(root)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def sign_in_place(self, root: etree._Element) -> etree._Element:
        """Insert and compute the signature in `root` (which must be its document's root); return it."""
        header = header_of(root)
        if header is None:
            raise SigningFailed("cannot sign: not an EDXML package (no edXML/edXMLEnvelope/edXMLHeader)")
        for old in [*header.iterchildren(LEGACY_SIGNATURE), *header.iterchildren(DSIG_SIGNATURE)]:
            header.remove(old)  # its tail is indentation only
        if next(root.iter(DSIG_SIGNATURE), None) is not None:
            raise SigningFailed("cannot sign: the package carries an XML signature outside edXMLHeader")
        anchor = anchor_of(header)
        if anchor is None:
            raise SigningFailed("cannot sign: edXMLHeader has neither TraceHeaderList nor MessageHeader")

        sig = xmlsec.template.create(root, xmlsec.constants.TransformExclC14N, self._method)
        ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha256, uri="")
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
        anchor.addnext(sig)
        sig.tail, anchor.tail = anchor.tail, anchor.tail  # keep the header's indentation

        ctx = xmlsec.SignatureContext()
        ctx.key = self.identity._xmlsec_key
        try:
            ctx.sign(sig)
        except xmlsec.Error as exc:  # pragma: no cover - a prepared key over a valid template
            raise SigningFailed(f"xmlsec could not sign: {exc}") from exc
        # KeyInfo is outside SignedInfo and inside the enveloped Signature, so it is signed by
        # neither digest and may follow signing: this spares xmlsec copying the certificate.
        x509_data = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
        xmlsec.template.x509_data_add_certificate(x509_data).text = self.identity._certificate_b64
        return sig

