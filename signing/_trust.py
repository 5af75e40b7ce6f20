"""The trust store: trusted CA certificates and their CRLs, parsed and checked once.

Chain checks use `cryptography`, not xmlsec's X509 store: the signer certificate must be
issued directly by one of the trusted CAs (a national sub-CA can itself be configured as a trust
anchor), be inside its validity window, not be on its issuer's CRL, and allow digitalSignature.
The expensive part (parsing the certificate and checking the issuer's signature on it) is cached
per certificate by the `Verifier`; the time and CRL checks run on every verification.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtensionOID

from ._keys import load_certificate
from .errors import PkiError, SignatureInvalid


@dataclass(frozen=True, eq=False)
class TrustStore:
    """Trusted CA certificates by subject, and the revoked serials each CA's CRL lists."""

    cas: dict[x509.Name, tuple[x509.Certificate, ...]]
    revoked: dict[x509.Name, frozenset[int]]

    @classmethod
    def from_certificates(
        cls, cas: Iterable[x509.Certificate], crls: Iterable[x509.CertificateRevocationList] = ()
    ) -> TrustStore:
        """Build from parsed objects; each CRL must be signed by a trusted CA, or it is refused."""
        by_name: dict[x509.Name, list[x509.Certificate]] = {}
        for ca in cas:
            _require_ca(ca)
            by_name.setdefault(ca.subject, []).append(ca)
        revoked: dict[x509.Name, set[int]] = {}
        for crl in crls:
            issuers = by_name.get(crl.issuer, [])
            if not any(crl.is_signature_valid(ca.public_key()) for ca in issuers):  # type: ignore[arg-type]
                raise PkiError(f"CRL of {crl.issuer.rfc4514_string()} is not signed by a trusted CA")
            revoked.setdefault(crl.issuer, set()).update(r.serial_number for r in crl)
        return cls(
            cas={name: tuple(certs) for name, certs in by_name.items()},
            revoked={name: frozenset(serials) for name, serials in revoked.items()},
        )

    @classmethod
    def from_files(cls, ca_paths: Iterable[Path | str], crl_paths: Iterable[Path | str] = ()) -> TrustStore:
        """Read PEM CA certificates and PEM (or DER) CRLs."""
        return cls.from_certificates([load_certificate(p) for p in ca_paths], [_load_crl(Path(p)) for p in crl_paths])

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        """The trusted CA that signed `cert`, or SignatureInvalid("untrusted-certificate")."""
        for ca in self.cas.get(cert.issuer, ()):
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return ca
        raise SignatureInvalid(
            "untrusted-certificate",
            f"certificate {cert.subject.rfc4514_string()} is not issued by a trusted CA "
            f"(issuer {cert.issuer.rfc4514_string()})",
        )

    def revoked_by(self, issuer: x509.Name) -> frozenset[int]:
        """The serials the CRL of `issuer` lists (empty when it has none)."""
        return self.revoked.get(issuer, frozenset())

    def check_current(self, cert: x509.Certificate, now: datetime) -> None:
        """Validity window and CRL; cheap, so run on every verification."""
        check_validity(
            cert.not_valid_before_utc, cert.not_valid_after_utc, cert.serial_number, self.revoked_by(cert.issuer), now
        )


def check_validity(
    not_before: datetime, not_after: datetime, serial: int, revoked: frozenset[int], now: datetime
) -> None:
    """The per-call half of the trust check, on values the `Verifier` keeps per certificate.

    `cryptography` builds a new datetime on every `not_valid_*_utc` access; taking them once
    per certificate makes this two comparisons and one set lookup.
    """
    if now < not_before:
        raise SignatureInvalid("certificate-not-yet-valid", f"certificate is valid from {not_before.isoformat()}")
    if now > not_after:
        raise SignatureInvalid("certificate-expired", f"certificate expired at {not_after.isoformat()}")
    if serial in revoked:
        raise SignatureInvalid("certificate-revoked", f"certificate serial {serial:x} is on its issuer's CRL")


def check_key_usage(cert: x509.Certificate) -> None:
    """An agency signing certificate must say keyUsage digitalSignature and must not be a CA."""
    try:
        usage = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    except x509.ExtensionNotFound:
        raise SignatureInvalid("wrong-key-usage", "certificate has no keyUsage extension") from None
    if not isinstance(usage, x509.KeyUsage) or not usage.digital_signature:
        raise SignatureInvalid("wrong-key-usage", "certificate keyUsage does not allow digitalSignature")
    try:
        basic = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return
    if isinstance(basic, x509.BasicConstraints) and basic.ca:
        raise SignatureInvalid("wrong-key-usage", "a CA certificate cannot sign packages")


def _require_ca(ca: x509.Certificate) -> None:
    try:
        basic = ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        basic = None
    if not isinstance(basic, x509.BasicConstraints) or not basic.ca:
        raise PkiError(f"{ca.subject.rfc4514_string()} is not a CA certificate (basicConstraints CA:TRUE)")


def _load_crl(path: Path) -> x509.CertificateRevocationList:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot read CRL: {exc.strerror}") from exc
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise PkiError(f"{path}: not a CRL: {exc}") from exc
