"""Verification of EDXML package signatures: structure first, then crypto, then who signed.

Order of checks and why:
1. Structure (no crypto): exactly one XMLDSig `Signature` in the whole package, in `edXMLHeader`
   right after `TraceHeaderList`/`MessageHeader`, one `Reference URI=""` whose only transforms are
   enveloped-signature and exclusive c14n, no `Object`. Anything else could make the signature
   cover something other than the package we parsed (signature wrapping), so it is refused before
   any key is touched.
2. The signature value and digest with libxmlsec1, keyed by the public key of the certificate in
   `X509Data` (xmlsec's own key lookup is bypassed; the chain is ours to check).
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
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree

from edxml import DSIG_NS, EdxmlError, load_tree, strip_leading_junk

from ._keys import fingerprint_of, organ_id_of
from ._layout import DSIG_SIGNATURE, LEGACY_SIGNATURE, anchor_of, child, from_organ_ids, header_of
from ._trust import TrustStore, check_key_usage, check_validity
from .errors import PkiError, SignatureInvalid

_D = f"{{{DSIG_NS}}}"
_SIGNED_INFO, _SIGNATURE_VALUE, _OBJECT = f"{_D}SignedInfo", f"{_D}SignatureValue", f"{_D}Object"
_REFERENCE, _TRANSFORMS, _TRANSFORM = f"{_D}Reference", f"{_D}Transforms", f"{_D}Transform"
_DIGEST_METHOD, _C14N_METHOD, _SIGNATURE_METHOD = f"{_D}DigestMethod", f"{_D}CanonicalizationMethod", f"{_D}SignatureMethod"
_KEY_INFO, _X509_DATA, _X509_CERTIFICATE = f"{_D}KeyInfo", f"{_D}X509Data", f"{_D}X509Certificate"
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


@dataclass(frozen=True, eq=False)
class _KnownCert:
    """A signer certificate that passed the once-per-certificate checks, with what each call needs."""

    certificate: x509.Certificate
    key: xmlsec.Key  # the public key only: a context copies it by reference, not a whole X509
    organ_id: str
    fingerprint: str
    not_before: datetime
    not_after: datetime
    serial: int
    revoked: frozenset[int]  # the issuer's CRL, from the (immutable) trust store
    results: dict[str, VerifiedSignature]  # one immutable answer per signature method


class Verifier:
    """Verifies package signatures against one trust store; cheap to call, build it once.

    Certificates seen before (agencies sign thousands of packages with the same one) are kept
    parsed, chain-checked and loaded as xmlsec keys, looked up by the `X509Certificate` text
    itself, so a verification costs the package's digest plus one public-key operation; the
    validity window and the CRL are still checked on every call.
    """

    def __init__(self, trust: TrustStore, clock: Callable[[], datetime] | None = None) -> None:
        self.trust = trust
        self._clock = clock or (lambda: datetime.now(UTC))
        self._known: dict[bytes, _KnownCert] = {}
        self._by_text: dict[str, _KnownCert] = {}

    def verify(self, data: bytes | etree._Element, *, expected_organ_id: str | None = None) -> VerifiedSignature:
        """Verify a package (bytes, or the root the caller already parsed) or raise SignatureInvalid.

        `expected_organ_id` defaults to the package's own `From/OrganId`. A parsed root is used
        as it is: it is neither parsed again nor copied.
        """
        root = _load(data) if isinstance(data, (bytes, bytearray)) else data
        sig, method = _locate_signature(root)
        known = self._known_cert(sig)
        _check_crypto(sig, known.key)
        check_validity(known.not_before, known.not_after, known.serial, known.revoked, self._clock())
        if expected_organ_id is None:
            organs = from_organ_ids(root)
            if len(organs) != 1 or not organs[0]:
                raise SignatureInvalid("malformed", f"package has {len(organs)} From/OrganId, expected one")
            expected_organ_id = organs[0]
        if known.organ_id != expected_organ_id:
            raise SignatureInvalid(
                "organ-mismatch", f"signed by {known.organ_id} but the package is from {expected_organ_id}"
            )
        result = known.results.get(method)
        if result is None:
            result = known.results.setdefault(
                method, VerifiedSignature(known.organ_id, known.certificate, known.fingerprint, method)
            )
        return result

    def _known_cert(self, sig: etree._Element) -> _KnownCert:
        certs = [
            cert
            for info in sig.iterchildren(_KEY_INFO)
            for data in info.iterchildren(_X509_DATA)
            for cert in data.iterchildren(_X509_CERTIFICATE)
        ]
        if not certs:
            raise SignatureInvalid("malformed", "KeyInfo/X509Data carries no X509Certificate")
        text = certs[0].text or ""
        known = self._by_text.get(text)  # the same text always decodes to the same DER
        if known is not None:
            return known
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
        if len(self._known) >= _CACHE_LIMIT or len(self._by_text) >= _CACHE_LIMIT:
            self._known.clear()
            self._by_text.clear()
        self._known[ders[0]] = self._by_text[text] = known
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
            spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            # Not KeyDataFormatCertDer: a key that carries its X509 certificate is deep-copied
            # (X509_dup, ~40 us) into every signature context; a bare public key is not.
            key = xmlsec.Key.from_memory(spki, xmlsec.constants.KeyDataFormatDer)
        except (ValueError, xmlsec.Error) as exc:
            raise SignatureInvalid("malformed", f"xmlsec cannot use the certificate's key: {exc}") from exc
        return _KnownCert(
            certificate=cert,
            key=key,
            organ_id=organ_id,
            fingerprint=fingerprint_of(cert),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            serial=cert.serial_number,
            revoked=self.trust.revoked_by(cert.issuer),
            results={},
        )


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
        if child(header, LEGACY_SIGNATURE) is not None:
            raise SignatureInvalid("legacy-signature", "unsigned (legacy signature element)")
        raise SignatureInvalid("unsigned", "the package carries no XML signature")
    if len(sigs) > 1:
        raise SignatureInvalid("signature-wrapping", f"{len(sigs)} XML signatures in the package, expected one")
    sig = sigs[0]
    if sig.getparent() is not header or sig.getprevious() is not anchor_of(header):
        raise SignatureInvalid("signature-wrapping", "the signature is not in edXMLHeader after TraceHeaderList")
    if child(header, LEGACY_SIGNATURE) is not None:
        raise SignatureInvalid("signature-wrapping", "a legacy Signature sits beside the XML signature")
    info, value = _first_children(sig, (_SIGNED_INFO, _SIGNATURE_VALUE), forbidden=_OBJECT)
    if info is None or value is None:
        raise SignatureInvalid("malformed", "Signature lacks SignedInfo or SignatureValue")
    refs = [child for child in info if child.tag == _REFERENCE]
    if len(refs) != 1 or refs[0].get("URI") != "":
        raise SignatureInvalid("signature-wrapping", 'the signature must have exactly one Reference, URI=""')
    transforms = [
        t.get("Algorithm") for ts in refs[0] if ts.tag == _TRANSFORMS for t in ts if t.tag == _TRANSFORM
    ]
    if transforms not in ([_ENVELOPED], [_ENVELOPED, _EXC_C14N]):
        raise SignatureInvalid("signature-wrapping", f"unexpected reference transforms {transforms}")
    (digest,) = _first_children(refs[0], (_DIGEST_METHOD,))
    if digest is None or digest.get("Algorithm") not in _DIGESTS:
        raise SignatureInvalid("malformed", "the reference digest is not SHA-256/384/512")
    c14n, method = _first_children(info, (_C14N_METHOD, _SIGNATURE_METHOD))
    if c14n is None or c14n.get("Algorithm") not in _C14N_METHODS:
        raise SignatureInvalid("malformed", "SignedInfo canonicalization is not (exclusive) c14n")
    if method is None or method.get("Algorithm") not in _SIGNATURE_METHODS:
        raise SignatureInvalid("malformed", "signature method is not RSA or ECDSA with SHA-2")
    return sig, _SIGNATURE_METHODS[method.get("Algorithm", "")]


def _first_children(
    parent: etree._Element, tags: tuple[str, ...], forbidden: str | None = None
) -> list[etree._Element | None]:
    """The first child with each tag, in one pass over the children (each `find()` costs a µs)."""
    found: list[etree._Element | None] = [None] * len(tags)
    for node in parent:
        tag = node.tag
        if tag == forbidden:
            raise SignatureInvalid("signature-wrapping", "the signature carries an Object")
        if tag in tags:
            i = tags.index(tag)
            if found[i] is None:
                found[i] = node
    return found


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
