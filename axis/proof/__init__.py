"""Proof of delivery that stands on its own: checkpoints sealed by the exchange over the ledger's batches,
RFC 3161 time-stamps, evidence bundles verified offline, archives of old bodies (docs/ARCHITECTURE.md)."""

from ._archive import ArchiveReport, archive_before, read_archived
from ._bundle import MIMETYPE, bundle_filename, write_bundle
from ._checkpoint import GENESIS_CHECKPOINT, CheckpointBody
from ._checkpointer import Checkpointer
from ._desk import EVIDENCE_REQUEST_HEADER, EvidenceDesk, EvidenceRequestRefused, sign_evidence_request
from ._evidence import gather_evidence
from ._ledger_verify import LedgerReport, verify_ledger
from ._material import EventProof, EvidenceMaterial, ProvedEvent, SealedCheckpoint
from ._seal import Seal, seal, verify_seal
from ._tsa import request_timestamp, timestamp_request, verify_timestamp
from ._verify import BundleReport, verify_bundle

__all__ = [
    "EVIDENCE_REQUEST_HEADER",
    "GENESIS_CHECKPOINT",
    "MIMETYPE",
    "ArchiveReport",
    "BundleReport",
    "CheckpointBody",
    "Checkpointer",
    "EventProof",
    "EvidenceDesk",
    "EvidenceMaterial",
    "EvidenceRequestRefused",
    "LedgerReport",
    "ProvedEvent",
    "Seal",
    "SealedCheckpoint",
    "archive_before",
    "bundle_filename",
    "gather_evidence",
    "read_archived",
    "request_timestamp",
    "seal",
    "sign_evidence_request",
    "timestamp_request",
    "verify_bundle",
    "verify_ledger",
    "verify_seal",
    "verify_timestamp",
    "write_bundle",
]
