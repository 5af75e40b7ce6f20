"""Verification of EDXML package signatures: structure first, then crypto, then who signed.

Order of checks and why:
1. Structure (no crypto): exactly one XMLDSig `Signature` in the whole package, in `edXMLHeader`
   right after `TraceHeaderList`/`MessageHeader`, one `Reference URI=""` whose only transforms are
   enveloped-signature and exclusive c14n, no `Object`. Anything else could make the signature
   cover something other than the package we parsed (signature wrapping), so it is refused before
   any key is touched.
2. The signature value and digest with libxmlsec1, keyed by the certificate in `X509Data`
   (xmlsec's own key lookup is bypassed; the chain is ours to check).
3. The certificate against the trust store (issuer, validity, CRL, key usage), then the organ id
   in it against `From/OrganId`: an agency may only send as itself.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import xmlsec
from cryptography import x509
from lxml import etree

from edxml import DSIG_NS, EdxmlError, load_tree, strip_leading_junk

from ._keys import fingerprint_of, organ_id_of
from ._layout import DSIG_SIGNATURE, LEGACY_SIGNATURE, anchor_of, from_organ_ids, header_of
from ._trust import TrustStore, check_key_usage
from .errors import PkiError, SignatureInvalid

_D = f"{{{DSIG_NS}}}"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_C14N_METHODS = {_EXC_C14N, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"}
_DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}
_SIGNATURE_METHODS = {
    f"http://www.w3.org/2001/04/xmldsig-more#{name}": name
    for name in ("rsa-sha256", "rsa-sha384", "rsa-sha512", "ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512")
}
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class VerifiedSignature:
    """Who signed a package that verified, and how."""

    organ_id: str
    certificate: x509.Certificate
    fingerprint_sha256: str
    algorithm: str


@dataclass(frozen=True)
class _KnownCert:
    certificate: x509.Certificate
    key: xmlsec.Key
    organ_id: str
    fingerprint: str


class Verifier:
    """Verifies package signatures against one trust store; cheap to call, build it once.

    Certificates seen before (agencies sign thousands of packages with the same one) are kept
    parsed, chain-checked and loaded as xmlsec keys, so a verification costs the package's
    digest plus one public-key operation.
    """

    def __init__(self, trust: TrustStore, clock: Callable[[], datetime] | None = None) -> None:
        self.trust = trust
        self._clock = clock or (lambda: datetime.now(UTC))
        self._known: dict[bytes, _KnownCert] = {}

    def verify(self, data: bytes | etree._Element, *, expected_organ_id: str | None = None) -> VerifiedSignature:
        """Verify a package (bytes, or the root the caller already parsed) or raise SignatureInvalid.

        `expected_organ_id` defaults to the package's own `From/OrganId`.
        """
        root = _load(data) if isinstance(data, (bytes, bytearray)) else data
        sig, method = _locate_signature(root)
        known = self._known_cert(sig)
        _check_crypto(sig, known.key)
        self.trust.check_current(known.certificate, self._clock())
        if expected_organ_id is None:
            organs = from_organ_ids(root)
            if len(organs) != 1 or not organs[0]:
                raise SignatureInvalid("malformed", f"package has {len(organs)} From/OrganId, expected one")
            expected_organ_id = organs[0]
        if known.organ_id != expected_organ_id:
            raise SignatureInvalid(
                "organ-mismatch", f"signed by {known.organ_id} but the package is from {expected_organ_id}"
            )
        return VerifiedSignature(known.organ_id, known.certificate, known.fingerprint, method)

    def _known_cert(self, sig: etree._Element) -> _KnownCert:
        certs = sig.findall(f"{_D}KeyInfo/{_D}X509Data/{_D}X509Certificate")
        if not certs:
            raise SignatureInvalid("malformed", "KeyInfo/X509Data carries no X509Certificate")
        ders = []
        for el in certs:
            try:
                ders.append(base64.b64decode("".join((el.text or "").split()), validate=True))
            except (binascii.Error, ValueError) as exc:
                raise SignatureInvalid("malformed", "X509Certificate is not base64") from exc
        for der in ders:  # the signer first; anything else is chain material we do not need
            if der in self._known:
                return self._known[der]
        known = self._admit(ders)
        if len(self._known) >= _CACHE_LIMIT:
            self._known.clear()
        self._known[ders[0]] = known
        return known

    def _admit(self, ders: list[bytes]) -> _KnownCert:
        try:
            cert = x509.load_der_x509_certificate(ders[0])
        except ValueError as exc:
            raise SignatureInvalid("malformed", f"X509Certificate is not a certificate: {exc}") from exc
        self.trust.issuer_of(cert)
        check_key_usage(cert)
        try:
            organ_id = organ_id_of(cert)
        except PkiError as exc:
            raise SignatureInvalid("untrusted-certificate", str(exc)) from exc
        try:
            key = xmlsec.Key.from_memory(ders[0], xmlsec.constants.KeyDataFormatCertDer)
        except xmlsec.Error as exc:
            raise SignatureInvalid("malformed", f"xmlsec cannot use the certificate's key: {exc}") from exc
        return _KnownCert(cert, key, organ_id, fingerprint_of(cert))


def _load(data: bytes | bytearray) -> etree._Element:
    try:
        return load_tree(strip_leading_junk(bytes(data))[0])
    except EdxmlError as exc:
        raise SignatureInvalid("malformed", str(exc)) from exc


def _locate_signature(root: etree._Element) -> tuple[etree._Element, str]:
    """The one Signature, checked for place and shape; returns it and its short algorithm name."""
    header = header_of(root)
    if header is None or root.getparent() is not None:
        raise SignatureInvalid("malformed", "not an EDXML package (no edXML/edXMLEnvelope/edXMLHeader)")
    sigs = list(root.iter(DSIG_SIGNATURE))
    if not sigs:
        if next(header.iterchildren(LEGACY_SIGNATURE), None) is not None:
            raise SignatureInvalid("legacy-signature", "unsigned (legacy signature element)")
        raise SignatureInvalid("unsigned", "the package carries no XML signature")
    if len(sigs) > 1:
        raise SignatureInvalid("signature-wrapping", f"{len(sigs)} XML signatures in the package, expected one")
    sig = sigs[0]
    if sig.getparent() is not header or sig.getprevious() is not anchor_of(header):
        raise SignatureInvalid("signature-wrapping", "the signature is not in edXMLHeader after TraceHeaderList")
    if next(header.iterchildren(LEGACY_SIGNATURE), None) is not None:
        raise SignatureInvalid("signature-wrapping", "a legacy Signature sits beside the XML signature")
    if sig.find(f"{_D}Object") is not None:
        raise SignatureInvalid("signature-wrapping", "the signature carries an Object")
    info = sig.find(f"{_D}SignedInfo")
    if info is None or sig.find(f"{_D}SignatureValue") is None:
        raise SignatureInvalid("malformed", "Signature lacks SignedInfo or SignatureValue")
    refs = info.findall(f"{_D}Reference")
    if len(refs) != 1 or refs[0].get("URI") != "":
        raise SignatureInvalid("signature-wrapping", 'the signature must have exactly one Reference, URI=""')
    transforms = [t.get("Algorithm") for t in refs[0].iterfind(f"{_D}Transforms/{_D}Transform")]
    if transforms not in ([_ENVELOPED], [_ENVELOPED, _EXC_C14N]):
        raise SignatureInvalid("signature-wrapping", f"unexpected reference transforms {transforms}")
    digest = refs[0].find(f"{_D}DigestMethod")
    if digest is None or digest.get("Algorithm") not in _DIGESTS:
        raise SignatureInvalid("malformed", "the reference digest is not SHA-256/384/512")
    c14n = info.find(f"{_D}CanonicalizationMethod")
    method = info.find(f"{_D}SignatureMethod")
    if c14n is None or c14n.get("Algorithm") not in _C14N_METHODS:
        raise SignatureInvalid("malformed", "SignedInfo canonicalization is not (exclusive) c14n")
    if method is None or method.get("Algorithm") not in _SIGNATURE_METHODS:
        raise SignatureInvalid("malformed", "signature method is not RSA or ECDSA with SHA-2")
    return sig, _SIGNATURE_METHODS[method.get("Algorithm", "")]


def _check_crypto(sig: etree._Element, key: xmlsec.Key) -> None:
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    try:
        ctx.verify(sig)
    except xmlsec.Error as exc:
        if _digest_matches(sig):
            raise SignatureInvalid("bad-signature", "the signature value does not match SignedInfo") from exc
        raise SignatureInvalid("bad-digest", "the package content does not match the signed digest") from exc


def _digest_matches(sig: etree._Element) -> bool:
    """Recompute the reference digest (cold path, only to tell bad-digest from bad-signature)."""
    ref = sig.find(f"{_D}SignedInfo/{_D}Reference")
    method = None if ref is None else ref.find(f"{_D}DigestMethod")
    if ref is None or method is None:  # pragma: no cover - checked by _locate_signature
        return False
    try:
        stored = base64.b64decode("".join((ref.findtext(f"{_D}DigestValue") or "").split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    canon = etree.tostring(_without(sig), method="c14n", exclusive=True, with_comments=False)
    return _DIGESTS[method.get("Algorithm", "")](canon).digest() == stored


def _without(sig: etree._Element) -> etree._Element:
    """A copy of the package root minus `sig` (its tail kept): what the enveloped transform digests."""
    path: list[int] = []
    node = sig
    while (parent := node.getparent()) is not None:
        path.append(parent.index(node))
        node = parent
    clone = copy.deepcopy(node)
    target = clone
    for i in reversed(path):
        target = target[i]
    before, parent = target.getprevious(), target.getparent()
    if before is not None:
        before.tail = (before.tail or "") + (target.tail or "")
    elif parent is not None:  # pragma: no cover - the signature always follows its anchor
        parent.text = (parent.text or "") + (target.tail or "")
    if parent is not None:
        parent.remove(target)
    return clone
