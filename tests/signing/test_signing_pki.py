"""The development PKI: files, modes, the organ id in the certificate, rotation, revocation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from signing import DevPki, PkiError, Signer, SigningIdentity, TrustStore, Verifier, organ_id_of
from signing._keys import load_certificate
from signing_helpers import edoc


@pytest.fixture
def fresh(tmp_path: Path) -> DevPki:
    pki = DevPki(tmp_path / "pki")
    assert pki.init(algorithm="ec") is True
    return pki


def test_init_creates_the_ca_and_an_empty_crl_and_is_idempotent(fresh: DevPki) -> None:
    ca = load_certificate(fresh.ca_path)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(x509.load_pem_x509_crl(fresh.crl_path.read_bytes())) == []
    before = fresh.ca_path.read_bytes()
    assert fresh.init() is False
    assert fresh.ca_path.read_bytes() == before


def test_issue_writes_pkcs8_keys_readable_only_by_the_owner(fresh: DevPki) -> None:
    key_path, cert_path = fresh.issue("000.00.00.G22", "Văn phòng Chính phủ")
    assert (key_path, cert_path) == (fresh.key_path("000.00.00.G22"), fresh.cert_path("000.00.00.G22"))
    assert key_path.name == "000.00.00.G22-key.pem" and cert_path.name == "000.00.00.G22.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(fresh.ca_key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_the_organ_id_is_the_subject_uid_and_rsa_is_the_default(fresh: DevPki) -> None:
    _, cert_path = fresh.issue("000.00.00.G22", "Văn phòng Chính phủ")
    cert = load_certificate(cert_path)
    assert cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "000.00.00.G22"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Văn phòng Chính phủ"
    assert organ_id_of(cert) == "000.00.00.G22"
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048


def test_ecdsa_and_rsa_3072_can_be_chosen(fresh: DevPki) -> None:
    ec_cert = load_certificate(fresh.issue("a.1", "A", "ec")[1])
    rsa_cert = load_certificate(fresh.issue("b.1", "B", "rsa3072")[1])
    assert isinstance(ec_cert.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(rsa_cert.public_key(), rsa.RSAPublicKey) and rsa_cert.public_key().key_size == 3072


def test_a_passphrase_encrypts_the_key(fresh: DevPki) -> None:
    key_path, cert_path = fresh.issue("000.00.00.G22", "VPCP", "ec", passphrase=b"mat-khau")
    assert key_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(PkiError, match="passphrase"):
        SigningIdentity.from_files(key_path, cert_path)
    with pytest.raises(PkiError, match="passphrase"):
        SigningIdentity.from_files(key_path, cert_path, b"wrong")
    assert SigningIdentity.from_files(key_path, cert_path, b"mat-khau").organ_id == "000.00.00.G22"


def test_a_key_that_does_not_match_the_certificate_is_refused(fresh: DevPki) -> None:
    key_a, _ = fresh.issue("a.1", "A", "ec")
    _, cert_b = fresh.issue("b.1", "B", "ec")
    with pytest.raises(PkiError, match="does not match"):
        SigningIdentity.from_files(key_a, cert_b)


def test_organ_ids_that_are_not_file_names_are_refused(fresh: DevPki) -> None:
    for bad in ("../etc", "a/b", "", ".hidden"):
        with pytest.raises(PkiError, match="not usable"):
            fresh.issue(bad, "X", "ec")


def test_issue_without_a_ca_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="pki init"):
        DevPki(tmp_path).issue("a.1", "A", "ec")


def test_key_rotation_keeps_the_old_certificate_and_both_verify(fresh: DevPki) -> None:
    organ = "000.00.00.G22"
    old = SigningIdentity.from_files(*fresh.issue(organ, "VPCP", "ec"))
    new = SigningIdentity.from_files(*fresh.issue(organ, "VPCP", "ec"))
    assert old.certificate.serial_number != new.certificate.serial_number
    kept = fresh.dir / "previous" / f"{organ}.{old.certificate.serial_number:x}.pem"
    assert load_certificate(kept) == old.certificate
    assert stat.S_IMODE((fresh.dir / "previous" / f"{organ}.{old.certificate.serial_number:x}-key.pem").stat().st_mode) == 0o600
    assert load_certificate(fresh.cert_path(organ)) == new.certificate
    verifier = Verifier(TrustStore.from_files([fresh.ca_path], [fresh.crl_path]))
    for identity in (old, new):
        assert verifier.verify(Signer(identity).sign(edoc(sender=organ))).organ_id == organ
    infos = [i for i in fresh.list() if i.organ_id == organ]
    assert sorted((i.current, i.serial) for i in infos) == sorted(
        [(False, old.certificate.serial_number), (True, new.certificate.serial_number)]
    )


def test_revoking_one_serial_leaves_the_other_certificate_valid(fresh: DevPki) -> None:
    organ = "000.00.00.G22"
    old = SigningIdentity.from_files(*fresh.issue(organ, "VPCP", "ec"))
    new = SigningIdentity.from_files(*fresh.issue(organ, "VPCP", "ec"))
    assert fresh.revoke(organ, old.certificate.serial_number) == [old.certificate.serial_number]
    verifier = Verifier(TrustStore.from_files([fresh.ca_path], [fresh.crl_path]))
    assert verifier.verify(Signer(new).sign(edoc(sender=organ))).organ_id == organ
    states = {i.serial: i.revoked for i in fresh.list()}
    assert states == {old.certificate.serial_number: True, new.certificate.serial_number: False}
    assert fresh.revoke(organ) == [new.certificate.serial_number]
    with pytest.raises(PkiError, match="no unrevoked certificate"):
        fresh.revoke(organ)
