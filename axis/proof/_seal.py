"""The exchange's own signature over bytes (checkpoints, evidence manifests, archives), and its check offline.

The exchange signs with a key whose certificate the exchange CA issued to the exchange's own organ id, with
KeyUsage digitalSignature, like an agency's. Verifying needs only that CA certificate: the signer certificate
travels with the signature, and must be issued by the CA, be for digital signatures, name the exchange's
organ id, and be valid at the moment it signed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from axis.errors import ProofError
from signing import SigningIdentity, organ_id_of

__all__ = ["Seal", "seal", "verify_seal"]


@dataclass(frozen=True, slots=True)
class Seal:
    """A signature over some bytes: base64 signature and the signer's PEM certificate."""

    signature: str
    certificate_pem: str

    def as_json(self) -> dict[str, str]:
        return {"signature": self.signature, "certificate": self.certificate_pem}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Seal:
        return cls(data["signature"], data["certificate"])


def seal(identity: SigningIdentity, data: bytes) -> Seal:
    """Sign `data` with the exchange's key (RSA PKCS#1 v1.5 or ECDSA, SHA-256)."""
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    pem = identity.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return Seal(base64.b64encode(signature).decode("ascii"), pem)


def verify_seal(data: bytes, sealed: Seal, *, trust: list[x509.Certificate], organ_id: str | None,
                at: datetime) -> x509.Certificate:
    """Check the seal over `data` offline; the signer certificate, or ProofError saying what does not hold."""
    try:
        cert = x509.load_pem_x509_certificate(sealed.certificate_pem.encode("ascii"))
        signature = base64.b64decode(sealed.signature, validate=True)
    except ValueError as exc:
        raise ProofError(f"the seal cannot be read: {exc}") from exc
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise ProofError(f"unsupported key type {type(key).__name__}")
    except InvalidSignature as exc:
        raise ProofError("the signature does not verify: the sealed bytes were changed") from exc
    if not any(_issued_by(cert, anchor) for anchor in trust):
        raise ProofError(f"the sealing certificate ({cert.subject.rfc4514_string()}) is not issued by a trusted CA")
    try:
        if not cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise ProofError("the sealing certificate is not for digital signatures")
    except x509.ExtensionNotFound as exc:
        raise ProofError("the sealing certificate has no KeyUsage") from exc
    signer = organ_id_of(cert)
    if organ_id is not None and signer != organ_id:
        raise ProofError(f"sealed by {signer}, not by the exchange {organ_id}")
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise ProofError(f"the sealing certificate was not valid at {at.isoformat()}")
    return cert


def _issued_by(cert: x509.Certificate, anchor: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(anchor)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False
