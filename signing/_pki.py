"""A development PKI for the embedded exchange: one root CA, agency certificates, one CRL.

Layout of the directory (all PEM; private keys PKCS#8, mode 0600):

    ca.pem, ca-key.pem              the root CA, the exchange's trust anchor
    crl.pem                         the CA's CRL (re-signed on every revocation)
    <organ-id>.pem, <organ-id>-key.pem
                                    the agency's current certificate and key
    previous/<organ-id>.<serial>.pem, previous/<organ-id>.<serial>-key.pem
                                    older certificates kept on re-issue (key rotation: the old one
                                    stays valid until it expires or is revoked; serial in hex)

The organ id is the certificate subject's `UID` attribute (see `signing._keys`).
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ._keys import (
    ORGAN_ID_OID,
    Algorithm,
    PrivateKey,
    generate_key,
    key_to_pem,
    load_certificate,
    load_private_key,
    organ_id_of,
    write_private,
    write_public,
)
from .errors import PkiError

_ORGAN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SKEW = timedelta(minutes=5)  # backdate notBefore: clocks of agencies differ a little
CRL_VALIDITY = timedelta(days=30)


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate of the PKI as `list()` reports it."""

    organ_id: str
    name: str
    serial: int
    algorithm: str
    not_before: datetime
    not_after: datetime
    current: bool
    revoked: bool
    path: Path


def _common_name(name: str) -> str:
    """The name cut to the 64 UTF-8 bytes commonName allows; the UID attribute identifies the agency anyway."""
    cut = name.encode("utf-8")[:64].decode("utf-8", "ignore")
    if not cut:
        raise PkiError("an agency certificate needs a non-empty name")
    return cut


class DevPki:
    """The dev PKI in one directory; `init()` once, then `issue()` per agency."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)

    @property
    def ca_path(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.dir / "ca-key.pem"

    @property
    def crl_path(self) -> Path:
        return self.dir / "crl.pem"

    def cert_path(self, organ_id: str) -> Path:
        return self.dir / f"{_checked(organ_id)}.pem"

    def key_path(self, organ_id: str) -> Path:
        return self.dir / f"{_checked(organ_id)}-key.pem"

    def init(self, *, algorithm: Algorithm = "rsa3072", name: str = "axis development root CA") -> bool:
        """Create the root CA and an empty CRL; return False (and change nothing) if they exist."""
        if self.ca_path.exists():
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        key = generate_key(algorithm)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private(self.ca_key_path, key_to_pem(key))
        write_public(self.ca_path, cert.public_bytes(serialization.Encoding.PEM))
        self._write_crl(key, cert, [])
        return True

    def issue(
        self,
        organ_id: str,
        name: str,
        algorithm: Algorithm = "rsa",
        *,
        passphrase: bytes | None = None,
        valid_days: int = 730,
    ) -> tuple[Path, Path]:
        """Issue an agency certificate; return (key_path, cert_path).

        An existing certificate for the same organ id is moved to `previous/` (never silently
        overwritten), so an agency holds two valid certificates during a key changeover.
        """
        ca_key, ca = self._ca()
        key = generate_key(algorithm)
        subject = x509.Name([
            x509.NameAttribute(ORGAN_ID_OID, _checked(organ_id)),
            x509.NameAttribute(NameOID.COMMON_NAME, _common_name(name)),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        ])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)  # type: ignore[arg-type]
            .sign(ca_key, hashes.SHA256())
        )
        key_path, cert_path = self.key_path(organ_id), self.cert_path(organ_id)
        if cert_path.exists():
            old = load_certificate(cert_path)
            previous = self.dir / "previous"
            previous.mkdir(exist_ok=True)
            stem = f"{organ_id}.{old.serial_number:x}"
            if key_path.exists():
                key_path.replace(previous / f"{stem}-key.pem")
            cert_path.replace(previous / f"{stem}.pem")
        write_private(key_path, key_to_pem(key, passphrase))
        write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return key_path, cert_path

    def revoke(self, organ_id: str, serial: int | None = None) -> builtins.list[int]:
        """Put the organ's certificates (all of them, or the one `serial`) on the CRL; return the serials."""
        ca_key, ca = self._ca()
        targets = [
            info.serial for info in self.list()
            if info.organ_id == organ_id and not info.revoked and (serial is None or info.serial == serial)
        ]
        if not targets:
            raise PkiError(f"no unrevoked certificate for {organ_id}" + ("" if serial is None else f" with serial {serial:x}"))
        crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
        entries = [(r.serial_number, r.revocation_date_utc) for r in crl]
        now = datetime.now(UTC)
        self._write_crl(ca_key, ca, entries + [(s, now) for s in targets])
        return targets

    def list(self) -> list[CertificateInfo]:
        """Every agency certificate in the directory, current and previous, with its state."""
        self._ca()
        revoked = {r.serial_number for r in x509.load_pem_x509_crl(self.crl_path.read_bytes())}
        found: list[CertificateInfo] = []
        paths = [(p, True) for p in sorted(self.dir.glob("*.pem"))]
        paths += [(p, False) for p in sorted((self.dir / "previous").glob("*.pem"))]
        for path, current in paths:
            if path.name.endswith("-key.pem") or path in (self.ca_path, self.crl_path):
                continue
            cert = load_certificate(path)
            names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            found.append(CertificateInfo(
                organ_id=organ_id_of(cert),
                name=str(names[0].value) if names else "",
                serial=cert.serial_number,
                algorithm="rsa" if isinstance(cert.public_key(), rsa.RSAPublicKey) else "ec",
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                current=current,
                revoked=cert.serial_number in revoked,
                path=path,
            ))
        return found

    def _ca(self) -> tuple[PrivateKey, x509.Certificate]:
        if not self.ca_path.exists():
            raise PkiError(f"{self.dir}: no CA here; run `axis pki init --dir {self.dir}` first")
        return load_private_key(self.ca_key_path), load_certificate(self.ca_path)

    def _write_crl(self, ca_key: PrivateKey, ca: x509.Certificate, entries: builtins.list[tuple[int, datetime]]) -> None:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.subject)
            .last_update(now - _SKEW)
            .next_update(now + CRL_VALIDITY)
        )
        for serial, when in entries:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        write_public(self.crl_path, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def _checked(organ_id: str) -> str:
    """Organ ids become file names: allow only letters, digits, dot, dash, underscore."""
    if not _ORGAN_ID.match(organ_id):
        raise PkiError(f"organ id {organ_id!r} is not usable (letters, digits, '.', '-', '_' only)")
    return organ_id


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=not cert_sign, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )

