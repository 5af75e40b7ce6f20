"""The evidence desk: where bundles are made for the CLI, the console and the agencies' agents.

An operator (CLI, console) may have the bundle of any document. An agency asks through its agent, which signs
the request with the agency's key (`sign_evidence_request`): the desk checks the signature (a certificate
from the exchange CA, for that organ id, registered and active in the directory), that the request is fresh
(five minutes either way), and that the agency sent or received the document, before it builds anything.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from axis.errors import NotAParty, ProofError
from axis.ledger import Clock, Ledger, utc_now
from signing import SigningIdentity

from ._bundle import write_bundle
from ._checkpointer import Checkpointer
from ._evidence import gather_evidence
from ._seal import Seal, seal, verify_seal

__all__ = ["EVIDENCE_REQUEST_HEADER", "EvidenceDesk", "EvidenceRequestRefused", "sign_evidence_request"]

EVIDENCE_REQUEST_HEADER = "x-axis-evidence-request"
_FRESH = timedelta(minutes=5)


class EvidenceRequestRefused(ProofError):
    """An agency's evidence request whose signature, certificate or time does not hold (HTTP 401)."""


def _signed_bytes(organ_id: str, document_id: str, sender: str | None, at: datetime) -> bytes:
    return "\n".join(["axis-evidence-request", organ_id, document_id, sender or "", at.isoformat()]).encode()


def sign_evidence_request(identity: SigningIdentity, organ_id: str, document_id: str, *, sender: str | None,
                          at: datetime) -> str:
    """The header value with which an agent asks for the bundle of `document_id` as `organ_id`."""
    sealed = seal(identity, _signed_bytes(organ_id, document_id, sender, at))
    body = {"organ_id": organ_id, "at": at.isoformat(), **sealed.as_json()}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Request:
    organ_id: str
    at: datetime
    seal: Seal


def _read_request(header: str) -> _Request:
    try:
        body = json.loads(base64.b64decode(header, validate=True))
        at = datetime.fromisoformat(body["at"])
        return _Request(str(body["organ_id"]), at, Seal.from_json(body))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise EvidenceRequestRefused(f"the evidence request header cannot be read ({exc})") from None


class EvidenceDesk:
    """Makes evidence bundles: `bundle()` for operators, `bundle_for_agency()` for an agency's signed request."""

    def __init__(self, ledger: Ledger, identity: SigningIdentity, checkpointer: Checkpointer, *, exchange: str,
                 ca_pem: str, archive_dir: Path | None, clock: Clock = utc_now) -> None:
        self._ledger = ledger
        self._identity = identity
        self._checkpointer = checkpointer
        self._exchange = exchange
        self._ca_pem = ca_pem
        self._trust = x509.load_pem_x509_certificates(ca_pem.encode("ascii"))
        self._archive_dir = archive_dir
        self._clock = clock

    async def bundle(self, document_id: str, *, sender: str | None = None, party: str | None = None) -> bytes:
        """The zip of `document_id` (`sender` when several sent one with that id); with `party`, only when that
        organ sent or received it (`NotAParty` otherwise). `UnknownDocument` when the ledger has none."""
        material = await gather_evidence(self._ledger, self._checkpointer, document_id, sender=sender, party=party,
                                         ca_pem=self._ca_pem, exchange=self._exchange, archive_dir=self._archive_dir)
        return await asyncio.to_thread(write_bundle, material, self._identity)

    async def bundle_for_agency(self, document_id: str, *, sender: str | None, request_header: str) -> bytes:
        """The bundle an agency asked for with `sign_evidence_request`, once its request holds."""
        request = _read_request(request_header)
        now = self._clock()
        if abs(now - request.at) > _FRESH:
            raise EvidenceRequestRefused(f"the evidence request was signed at {request.at.isoformat()}, more than "
                                         f"{_FRESH.seconds // 60} minutes from the exchange's time (check the clock)")
        try:
            cert = verify_seal(_signed_bytes(request.organ_id, document_id, sender, request.at), request.seal,
                               trust=self._trust, organ_id=request.organ_id, at=now)
        except ProofError as exc:
            raise EvidenceRequestRefused(f"the evidence request of {request.organ_id} does not verify: {exc}") from None
        agency = await self._ledger.directory.get(request.organ_id)
        fingerprint = cert.fingerprint(hashes.SHA256()).hex()
        if agency is None or not agency.active:
            raise NotAParty(f"{request.organ_id} is not an active agency of the exchange")
        if fingerprint not in agency.fingerprints:
            raise EvidenceRequestRefused(f"the certificate that signed the request ({fingerprint[:16]}…) is not "
                                         f"registered for {request.organ_id}")
        return await self.bundle(document_id, sender=sender, party=request.organ_id)
