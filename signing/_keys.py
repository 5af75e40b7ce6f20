"""Keys, certificates and the signing identity of an agency.

The organ id (Decision 20/2020, e.g. `000.00.00.G22`) travels in the certificate subject as
the `UID` attribute (OID 0.9.2342.19200300.100.1.1). We chose UID over `serialNumber` because
`serialNumber` is easily confused with the certificate serial and national CAs already use it
for personal id numbers; UID is the LDAP "user id", a plain identifier string.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .errors import PkiError

Algorithm = Literal["rsa", "rsa3072", "ec"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
ORGAN_ID_OID = NameOID.USER_ID


def generate_key(algorithm: Algorithm) -> PrivateKey:
    """A new key: RSA-2048 (`rsa`, what national CAs issue), RSA-3072, or ECDSA P-256 (`ec`, fast)."""
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if algorithm == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise PkiError(f"unknown key algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")


def key_to_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the passphrase when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file atomically with mode 0600 from the start (never world-readable, even briefly)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_public(path: Path, data: bytes) -> None:
    """Write a public file (certificate, CRL) atomically, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_private_key(path: Path | str, passphrase: bytes | None = None) -> PrivateKey:
    """Read a PEM private key; a wrong or missing passphrase is a PkiError, not a ValueError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot read private key: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{path}: cannot load private key (wrong or missing passphrase?): {exc}") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise PkiError(f"{path}: only RSA and ECDSA keys are supported")
    return key


def load_certificate(path: Path | str) -> x509.Certificate:
    """Read a PEM certificate."""
    path = Path(path)
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise PkiError(f"{path}: cannot read certificate: {exc.strerror}") from exc
    except ValueError as exc:
        raise PkiError(f"{path}: not a PEM certificate: {exc}") from exc


def organ_id_of(cert: x509.Certificate) -> str:
    """The organ id named by an agency certificate: its single subject `UID` attribute."""
    values = cert.subject.get_attributes_for_oid(ORGAN_ID_OID)
    if len(values) != 1 or not isinstance(values[0].value, str) or not values[0].value:
        raise PkiError(f"certificate {cert.subject.rfc4514_string()} does not carry exactly one organ id (UID)")
    return values[0].value


def fingerprint_of(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex: the id logs and the directory use."""
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True, eq=False)
class SigningIdentity:
    """An agency's private key and certificate, ready to sign (the xmlsec key is prepared once).

    The xmlsec key holds the private key only: xmlsec deep-copies a key's X509 certificate into
    every signature context (~40 us), so the `Signer` writes `X509Certificate` from
    `_certificate_b64` itself.
    """

    private_key: PrivateKey
    certificate: x509.Certificate
    organ_id: str = field(init=False)
    _xmlsec_key: xmlsec.Key = field(init=False, repr=False)
    _certificate_b64: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pub = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        cert_pub = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if pub != cert_pub:
            raise PkiError("the private key does not match the certificate's public key")
        object.__setattr__(self, "organ_id", organ_id_of(self.certificate))
        try:
            key = xmlsec.Key.from_memory(key_to_pem(self.private_key), xmlsec.constants.KeyDataFormatPem)
        except xmlsec.Error as exc:  # pragma: no cover - cryptography already accepted it
            raise PkiError(f"xmlsec cannot load the key: {exc}") from exc
        object.__setattr__(self, "_xmlsec_key", key)
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        object.__setattr__(self, "_certificate_b64", "\n" + base64.encodebytes(der).decode())  # xmlsec's layout

    @classmethod
    def from_files(
        cls, key_path: Path | str, cert_path: Path | str, passphrase: bytes | None = None
    ) -> SigningIdentity:
        """Load a PKCS#8 (or PKCS#1/SEC1) PEM key, optionally encrypted, and its PEM certificate."""
        return cls(load_private_key(key_path, passphrase), load_certificate(cert_path))

    @property
    def algorithm(self) -> str:
        """`rsa-sha256` or `ecdsa-sha256`: the XMLDSig signature method this identity signs with."""
        return "rsa-sha256" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ecdsa-sha256"
