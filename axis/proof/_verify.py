"""Verify an evidence bundle offline, trusting only the exchange CA (and a time-stamping authority's CA).

Each part is checked and reported on its own, so a failing bundle says which part does not hold:

- `container`: a zip whose first entry is the ASiC-E `mimetype`;
- `seal`: `META-INF/evidence.json` sealed by the exchange (a certificate from the trusted CA, KeyUsage
  digitalSignature, the exchange's organ id);
- `files`: every file's SHA-256 as `evidence.json` lists it, none missing, none added;
- `signatures`: every package's XMLDSig, against the trusted CA, at the time the ledger recorded it;
- `hashes`: every event's hash recomputed from its fields; the document's and each status's event names the
  SHA-256 of that package's bytes;
- `proofs`: every event's Merkle path to its batch root, and the batch root's path to its checkpoint;
- `checkpoints`: each checkpoint's seal and, where present, its RFC 3161 time-stamp.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from axis.errors import ProofError
from axis.ledger import event_digest, root_from_proof
from signing import SignatureInvalid, TrustStore, Verifier

from ._bundle import MIMETYPE
from ._checkpoint import CheckpointBody
from ._material import ProvedEvent
from ._seal import Seal, verify_seal
from ._tsa import verify_timestamp

__all__ = ["BundleReport", "verify_bundle"]

_PARTS = ("container", "seal", "files", "signatures", "hashes", "proofs", "checkpoints")
_UNSEALED = {"mimetype", "META-INF/evidence.json", "META-INF/evidence.seal.json"}


@dataclass
class BundleReport:
    """What held and what did not, part by part."""

    problems: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in _PARTS})
    document_id: str = ""
    timestamped: bool = False

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "document_id": self.document_id, "timestamped": self.timestamped,
                "parts": {p: {"ok": not probs, "problems": probs} for p, probs in self.problems.items()}}


def verify_bundle(data: bytes, *, trust: list[x509.Certificate], exchange: str,
                  tsa_trust: list[x509.Certificate] = ()) -> BundleReport:  # type: ignore[assignment]
    """Check every part of a bundle; never raises for a bad bundle (the report says what is wrong)."""
    report = BundleReport()
    try:
        files = _read(data)
    except ProofError as exc:
        report.problems["container"].append(str(exc))
        return report
    evidence = _sealed_evidence(files, trust, exchange, report)
    if evidence is None:
        return report
    report.document_id = evidence.get("document_id", "")
    listed: dict[str, str] = evidence.get("files", {})
    present = set(files) - _UNSEALED
    for name in sorted(present - set(listed)):
        report.problems["files"].append(f"{name}: not listed in evidence.json (added)")
    for name, digest in sorted(listed.items()):
        if name not in files:
            report.problems["files"].append(f"{name}: listed but missing")
        elif hashlib.sha256(files[name]).hexdigest() != digest:
            report.problems["files"].append(f"{name}: SHA-256 differs from evidence.json (changed)")
    try:
        events = [ProvedEvent.from_json(e) for e in json.loads(files.get("ledger/events.json", b"[]"))]
    except (ValueError, KeyError, TypeError) as exc:
        report.problems["hashes"].append(f"ledger/events.json cannot be read: {exc}")
        return report
    checkpoints = _checkpoints(files, trust, exchange, list(tsa_trust), report)
    _check_events(files, events, checkpoints, report)
    _check_signatures(files, events, trust, report)
    return report


def _read(data: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if not names or names[0] != "mimetype" or zf.read("mimetype").decode("ascii", "replace") != MIMETYPE:
                raise ProofError(f"not an evidence bundle: the first entry must be mimetype {MIMETYPE}")
            return {name: zf.read(name) for name in names}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ProofError(f"not a readable zip: {exc}") from exc


def _sealed_evidence(files: dict[str, bytes], trust: list[x509.Certificate], exchange: str,
                     report: BundleReport) -> dict[str, Any] | None:
    try:
        evidence_bytes = files["META-INF/evidence.json"]
        evidence = json.loads(evidence_bytes)
        sealed = Seal.from_json(json.loads(files["META-INF/evidence.seal.json"]))
        verify_seal(evidence_bytes, sealed, trust=trust, organ_id=exchange,
                    at=datetime.fromisoformat(evidence["created_at"]))
        return evidence  # type: ignore[no-any-return]
    except KeyError as exc:
        report.problems["seal"].append(f"{exc.args[0]} is missing")
    except (ValueError, TypeError) as exc:
        report.problems["seal"].append(f"META-INF/evidence.json cannot be read: {exc}")
    except ProofError as exc:
        report.problems["seal"].append(f"META-INF/evidence.json: {exc}")
    return None


def _checkpoints(files: dict[str, bytes], trust: list[x509.Certificate], exchange: str,
                 tsa_trust: list[x509.Certificate], report: BundleReport) -> dict[int, CheckpointBody]:
    found: dict[int, CheckpointBody] = {}
    for name in sorted(n for n in files if n.startswith("ledger/checkpoint-") and n.endswith(".json")
                       and not n.endswith(".seal.json")):
        canonical = files[name]
        try:
            body = CheckpointBody.from_canonical(canonical)
            sealed = Seal.from_json(json.loads(files[name.replace(".json", ".seal.json")]))
            verify_seal(canonical, sealed, trust=trust, organ_id=exchange, at=body.at)
        except (ValueError, KeyError, TypeError) as exc:
            report.problems["checkpoints"].append(f"{name}: cannot be read: {exc}")
            continue
        except ProofError as exc:
            report.problems["checkpoints"].append(f"{name}: {exc}")
            continue
        token = files.get(name.replace(".json", ".tsr"))
        if token is not None:
            try:
                verify_timestamp(token, body.digest, [*tsa_trust, *trust])
                report.timestamped = True
            except ProofError as exc:
                report.problems["checkpoints"].append(f"{name}: time-stamp: {exc}")
        found[body.id] = body
    return found


def _check_events(files: dict[str, bytes], events: list[ProvedEvent], checkpoints: dict[int, CheckpointBody],
                  report: BundleReport) -> None:
    package_sha = hashlib.sha256(files.get("document/package.edxml", b"")).hexdigest()
    status_shas = {hashlib.sha256(v).hexdigest() for k, v in files.items() if k.startswith("statuses/")}
    named: set[str] = set()
    for event in events:
        row, seq = event.row, event.row.get("seq")
        try:
            if event_digest({**row, "at": datetime.fromisoformat(row["at"])}) != event.hash:
                report.problems["hashes"].append(f"event {seq}: its hash does not match its fields")
        except (KeyError, ValueError, TypeError) as exc:
            report.problems["hashes"].append(f"event {seq}: cannot be read: {exc}")
            continue
        if row["kind"] == "received" and row["body_sha256"] != package_sha:
            report.problems["hashes"].append(f"event {seq}: the document's package is not the one it names")
        if row["kind"] == "status":
            if row["body_sha256"] not in status_shas:
                report.problems["hashes"].append(f"event {seq}: the status package it names is not in the bundle")
            named.add(row["body_sha256"])
        _check_proofs(event, checkpoints, report)
    for digest in sorted(status_shas - named):
        report.problems["hashes"].append(f"a status package (SHA-256 {digest[:16]}…) is named by no event")


def _check_proofs(event: ProvedEvent, checkpoints: dict[int, CheckpointBody], report: BundleReport) -> None:
    seq = event.row.get("seq")
    try:
        batch_root = root_from_proof(event.hash, event.in_batch.index, event.in_batch.size, event.in_batch.path)
        if batch_root != event.batch_root:
            report.problems["proofs"].append(f"event {seq}: its path does not lead to batch {event.batch_id}'s root")
        checkpoint = checkpoints.get(event.checkpoint_id)
        if checkpoint is None:
            report.problems["proofs"].append(f"event {seq}: checkpoint {event.checkpoint_id} is missing or not valid")
            return
        if event.batch_id not in checkpoint.batch_ids:
            report.problems["proofs"].append(f"event {seq}: batch {event.batch_id} is not in checkpoint {checkpoint.id}")
        proof = event.in_checkpoint
        if root_from_proof(event.batch_root, proof.index, proof.size, proof.path) != checkpoint.root:
            report.problems["proofs"].append(f"event {seq}: batch {event.batch_id} does not lead to checkpoint "
                                             f"{checkpoint.id}'s root")
    except ValueError as exc:
        report.problems["proofs"].append(f"event {seq}: {exc}")


def _check_signatures(files: dict[str, bytes], events: list[ProvedEvent], trust: list[x509.Certificate],
                      report: BundleReport) -> None:
    store = TrustStore.from_certificates(trust)
    when = {e.row["body_sha256"]: datetime.fromisoformat(e.row["at"]) for e in events
            if e.row["kind"] in ("received", "status")}
    for name in sorted(n for n in files if n.endswith(".edxml")):
        body = files[name]
        at = when.get(hashlib.sha256(body).hexdigest())
        verifier = Verifier(store, clock=(lambda at=at: at) if at else None)
        try:
            verifier.verify(body)
        except SignatureInvalid as exc:
            report.problems["signatures"].append(f"{name}: {exc.reason}: {exc.message}")
