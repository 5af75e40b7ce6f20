"""What the proof commands need, opened once: settings, ledger, the exchange's key, trust anchors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from axis.bootstrap import evidence_desk, exchange_identity, open_ledger
from axis.ledger import Ledger
from axis.proof import EvidenceDesk
from axis.settings import load_settings
from signing import DevPki, SigningIdentity


@dataclass(frozen=True)
class ProofContext:
    ledger: Ledger
    identity: SigningIdentity
    desk: EvidenceDesk
    exchange: str
    trust: list[Any]
    tsa_trust: list[Any]


@contextlib.asynccontextmanager
async def opened() -> AsyncIterator[ProofContext]:
    from cryptography import x509

    settings = load_settings().resolved()
    identity = exchange_identity(settings)
    ca_path = DevPki(settings.pki_dir).ca_path
    tsa_trust = x509.load_pem_x509_certificates(settings.tsa_trust.read_bytes()) if settings.tsa_trust else []
    async with open_ledger(settings) as ledger:
        yield ProofContext(
            ledger=ledger, identity=identity, desk=evidence_desk(settings, ledger), exchange=settings.exchange_organ_id,
            trust=x509.load_pem_x509_certificates(ca_path.read_bytes()), tsa_trust=tsa_trust,
        )
