"""The evidence bundle: one zip that proves, offline, what happened to one document.

Layout (ASiC-E, ETSI EN 319 162, where it fits):

    mimetype                          "application/vnd.etsi.asic-e+zip", first, stored uncompressed
    document/package.edxml            the document's package exactly as its sender signed and sent it
    statuses/<n>-<code>-<organ>.edxml each status package exactly as sent (receipts, withdrawals)
    ledger/events.json                the document's ledger events, each with its hash and the proofs from it
                                      to its batch's Merkle root and from that root to its checkpoint
    ledger/checkpoint-<id>.json       the checkpoint's canonical bytes, as sealed
    ledger/checkpoint-<id>.seal.json  the exchange's signature over them, with its certificate
    ledger/checkpoint-<id>.tsr        the RFC 3161 time-stamp token over them (when a TSA is configured)
    certificates/exchange-ca.pem      the exchange CA; certificates/signers/<fingerprint>.pem: package signers
    summary.html                      who sent what to whom, when it arrived, each status, time and signer
    META-INF/manifest.xml             the ASiC-E manifest of the files
    META-INF/evidence.json            SHA-256 of every file above, and what the bundle is about
    META-INF/evidence.seal.json       the exchange's signature over evidence.json

Where it departs from ASiC-E: the container signature is the exchange's seal over `evidence.json` (a
detached RSA/ECDSA signature with its certificate), not a CAdES or XAdES signature file; the packages keep
their own XMLDSig signatures inside them. Changing any byte of any file breaks `evidence.json`'s digests or
its seal, so the verifier refuses it.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import zipfile
from datetime import timezone
from typing import Any

from signing import SigningIdentity

from ._material import EvidenceMaterial
from ._seal import seal

__all__ = ["MIMETYPE", "bundle_filename", "write_bundle"]

MIMETYPE = "application/vnd.etsi.asic-e+zip"
_STATUS_NAMES = {"01": "arrived", "02": "refused", "03": "accepted", "04": "assigned", "05": "being handled",
                 "06": "done", "13": "withdrawal requested", "15": "agreed", "16": "refused the change"}


def bundle_filename(document_id: str) -> str:
    """A download name for the bundle of `document_id` (ASCII: HTTP headers are Latin-1)."""
    return "evidence-" + "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in document_id) + ".zip"


def write_bundle(material: EvidenceMaterial, identity: SigningIdentity) -> bytes:
    """The bundle's zip bytes, sealed by the exchange's `identity`."""
    files: dict[str, bytes] = {"document/package.edxml": material.package}
    for n, (message_id, body) in enumerate(sorted(material.statuses.items(), key=lambda kv: _status_order(
            material, kv[0])), start=1):
        event = _status_event(material, message_id)
        code, organ = (event["status_code"], event["actor"]) if event else ("xx", "unknown")
        files[f"statuses/{n:03d}-{code}-{organ}.edxml"] = body
    files["ledger/events.json"] = _json([e.as_json() for e in material.events])
    for checkpoint in material.checkpoints:
        files[f"ledger/checkpoint-{checkpoint.id}.json"] = checkpoint.canonical
        files[f"ledger/checkpoint-{checkpoint.id}.seal.json"] = _json(checkpoint.seal)
        if checkpoint.timestamp is not None:
            files[f"ledger/checkpoint-{checkpoint.id}.tsr"] = checkpoint.timestamp
    files["certificates/exchange-ca.pem"] = material.ca_pem.encode("ascii")
    for fingerprint, pem in sorted(material.signer_certificates.items()):
        files[f"certificates/signers/{fingerprint}.pem"] = pem.encode("ascii")
    files["summary.html"] = _summary(material).encode("utf-8")
    files["META-INF/manifest.xml"] = _manifest(files)
    evidence = _json({
        "v": 1, "document_id": material.document_id, "sender": material.sender, "exchange": material.exchange,
        "created_at": material.created_at.astimezone(timezone.utc).isoformat(),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    })
    files["META-INF/evidence.json"] = evidence
    files["META-INF/evidence.seal.json"] = _json(seal(identity, evidence).as_json())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def _status_event(material: EvidenceMaterial, message_id: str) -> dict[str, Any] | None:
    return next((e.row for e in material.events if e.row["kind"] == "status" and e.row["message_id"] == message_id),
                None)


def _status_order(material: EvidenceMaterial, message_id: str) -> tuple[str, str]:
    event = _status_event(material, message_id)
    return (event["at"] if event else "", message_id)


def _manifest(files: dict[str, bytes]) -> bytes:
    entries = "".join(
        f'  <manifest:file-entry manifest:full-path="{html.escape(name)}" manifest:media-type="{_media(name)}"/>\n'
        for name in files)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">\n'
            f'  <manifest:file-entry manifest:full-path="/" manifest:media-type="{MIMETYPE}"/>\n'
            f"{entries}</manifest:manifest>\n").encode("utf-8")


def _media(name: str) -> str:
    for suffix, media in ((".edxml", "application/xml"), (".json", "application/json"), (".pem", "application/x-pem-file"),
                          (".tsr", "application/timestamp-reply"), (".html", "text/html")):
        if name.endswith(suffix):
            return media
    return "application/octet-stream"


def _summary(m: EvidenceMaterial) -> str:
    """A page a clerk or a court reads: who sent what to whom, when it arrived, and every answer."""
    rows = []
    for e in m.events:
        row = e.row
        what = row["kind"]
        if what == "status":
            code = row["status_code"]
            what = f"status {code} ({_STATUS_NAMES.get(code, '?')})"
        signer = row.get("signature") or ""
        rows.append(
            f"<tr><td>{html.escape(row['at'])}</td><td>{html.escape(what)}</td><td>{html.escape(row['actor'])}</td>"
            f"<td>{html.escape(row['recipient'])}</td><td><code>{html.escape(signer)}</code></td>"
            f"<td>checkpoint {e.checkpoint_id}</td></tr>")
    arrived = {e.row["recipient"]: e.row["at"] for e in m.events if e.row["kind"] == "delivered"}
    recipients = "".join(
        f"<li>{html.escape(r)}: {html.escape(arrived.get(r, 'not stored yet'))}</li>" for r in m.recipients)
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Evidence: {html.escape(m.document_id)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:4px 8px;text-align:left}}</style>
</head><body>
<h1>Evidence of delivery</h1>
<p>Document <b>{html.escape(m.document_id)}</b> — {html.escape(m.subject)}</p>
<p>Sent by <b>{html.escape(m.sender)}</b> through the exchange <b>{html.escape(m.exchange)}</b>.</p>
<h2>Arrived at (stored by the recipient's agent)</h2><ul>{recipients}</ul>
<h2>Everything the ledger recorded, in order</h2>
<table><tr><th>time (UTC)</th><th>what</th><th>by</th><th>concerning</th><th>signature verified</th><th>proved by</th></tr>
{''.join(rows)}
</table>
<p>Verify this bundle offline: <code>axis evidence verify THIS.zip --trust exchange-ca.pem</code>. Every file is
listed with its SHA-256 in META-INF/evidence.json, sealed by the exchange; each event is proved by a Merkle path
to a checkpoint the exchange signed{' and a time-stamping authority stamped' if any(c.timestamp for c in m.checkpoints) else ''}.</p>
</body></html>
"""
