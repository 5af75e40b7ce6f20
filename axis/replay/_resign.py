"""Packages from another exchange, made acceptable to this one: signed again as their sender, or explained.

A recording's packages are signed by keys of the exchange they were recorded on (or by nobody: synthetic
ones), which this router does not trust. `--resign` signs each package again as its `From` organ with the
target exchange's development PKI (issuing a key for organs that have none) and registers missing agencies
in its directory with that certificate. Only the signature changes, and with it the `body-sha256` header;
message ids, keys, the rest of the headers and every element of the package stay as recorded.

Without `--resign`, `forecast_refusals` checks one package per sender against the target's CA and
directory, so the player can say before it starts why the router will refuse them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import edxml
from axis import wire
from axis.ledger import Agency, Ledger, fingerprint_of_pem, utc_now
from signing import DevPki, SignatureInvalid, Signer, SigningIdentity, Verifier

from ._errors import ExchangeNotReady
from ._format import RecordedRecord

PACKAGE_KINDS = ("edoc", "status")


def is_package(record: RecordedRecord) -> bool:
    """A record whose value is a signed EDXML package (a document or a status), not an ack or a notice."""
    return record.header("package-kind") in PACKAGE_KINDS and bool(record.value)


def organs_named(record: RecordedRecord, names: dict[str, str]) -> None:
    """Add every organ a package names (From, To, ResponseFor) to `names`, with its name when it has one."""
    assert record.value is not None  # callers pass packages only (is_package)
    try:
        package = edxml.parse_package(record.value, profile="lenient")
    except edxml.EdxmlError:
        return  # the router refuses it whatever its signature; nothing to register for it
    if isinstance(package, edxml.DocumentPackage):
        organs = [package.header.from_, *package.header.to]
        for organ in organs:
            if organ.organ_id and not names.get(organ.organ_id):
                names[organ.organ_id] = organ.organ_name
    else:
        if not names.get(package.sender):
            names[package.sender] = package.from_.organ_name
        names.setdefault(package.response_for.organ_id, "")


@dataclass
class Registration:
    """What preparing a resign changed in the target exchange."""

    registered: list[str] = field(default_factory=list)  # agencies added to the directory
    certified: list[str] = field(default_factory=list)  # existing agencies given the dev certificate
    disabled: list[str] = field(default_factory=list)  # agencies the directory keeps disabled (refused)
    issued: list[str] = field(default_factory=list)  # organs given a key by the dev PKI


class Resigner:
    """Signs packages again as their sender; one prepared `Signer` per organ."""

    def __init__(self, signers: Mapping[str, Signer]) -> None:
        self._signers = dict(signers)

    def resign(self, record: RecordedRecord) -> RecordedRecord:
        """The same record with the package signed again and `body-sha256` recomputed; others unchanged."""
        if not is_package(record):
            return record
        sender = record.header("sender") or ""
        signer = self._signers.get(sender)
        if signer is None:
            return record  # an unreadable package's sender was not registered: left as recorded, refused
        assert record.value is not None
        value = signer.sign(record.value)
        digest = wire.sha256_hex(value).encode()
        headers = tuple((k, digest if k == "body-sha256" else v) for k, v in record.headers)
        return dataclasses.replace(record, value=value, headers=headers)


async def prepare_resign(
    ledger: Ledger, pki: DevPki, names: Mapping[str, str], *, algorithm: str = "rsa"
) -> tuple[Resigner, Registration]:
    """Keys for every organ (issued when missing) and directory entries for those the directory lacks."""
    if not pki.ca_path.exists():
        raise ExchangeNotReady(
            f"no development CA at {pki.ca_path}: --resign signs with the target exchange's "
            "dev PKI (`axis up` creates it)"
        )
    done = Registration()
    agencies = await ledger.directory.many(sorted(names))
    signers: dict[str, Signer] = {}
    for organ in sorted(names):
        name = names[organ] or organ
        if not pki.cert_path(organ).exists():
            pki.issue(organ, name, algorithm=algorithm)  # type: ignore[arg-type]
            done.issued.append(organ)
        pem = pki.cert_path(organ).read_text()
        await _register(ledger, organ, name, pem, agencies.get(organ), done)
        signers[organ] = Signer(SigningIdentity.from_files(pki.key_path(organ), pki.cert_path(organ)))
    return Resigner(signers), done


async def _register(ledger: Ledger, organ: str, name: str, pem: str, agency: Agency | None, done: Registration) -> None:
    if agency is None:
        await ledger.directory.add(organ, name, certificates=[pem], at=utc_now())
        done.registered.append(organ)
    elif not agency.active:
        done.disabled.append(organ)  # the operator disabled it: replay does not undo that
    elif fingerprint_of_pem(pem) not in agency.fingerprints:
        await ledger.directory.add(
            organ, agency.name, parent_id=agency.parent_id, email=agency.email, certificates=[pem], at=utc_now()
        )
        done.certified.append(organ)


async def forecast_refusals(
    samples: Mapping[str, RecordedRecord],
    counts: Mapping[str, int],
    ledger: Ledger,
    verifier: Verifier | None,
) -> list[str]:
    """Why the router will refuse each sender's packages (one sample each), as lines; empty when none."""
    agencies = await ledger.directory.many(sorted(samples))
    lines = []
    for sender, record in sorted(samples.items()):
        why = _why_refused(record, agencies.get(sender), verifier)
        if why:
            lines.append(f"{sender}: {counts.get(sender, 0)} package(s) will be refused: {why}")
    return lines


def _why_refused(record: RecordedRecord, agency: Agency | None, verifier: Verifier | None) -> str | None:
    sender = record.header("sender") or ""
    if agency is None:
        return f"{sender} is not in this exchange's directory (unknown-sender)"
    if not agency.active:
        return f"{sender} is disabled in this exchange's directory (sender-inactive)"
    if verifier is None:
        return None
    assert record.value is not None
    try:
        verified = verifier.verify(record.value, expected_organ_id=sender)
    except SignatureInvalid as exc:
        return f"{exc} ({exc.reason})"
    if verified.fingerprint_sha256 not in agency.fingerprints:
        return (
            f"signed with certificate {verified.fingerprint_sha256[:16]}…, which this exchange has not "
            f"registered for {sender} (unregistered-certificate)"
        )
    return None
