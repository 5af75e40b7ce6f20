"""The proof commands as an operator runs them: `axis evidence` and `axis evidence verify`, `axis ledger verify`
(exit 1 on the first thing that does not match) and `axis ledger archive` (evidence still built from it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from exchange_helpers import Exchange, document, signed
from polling import eventually

AXIS = [sys.executable, "-c", "from axis.cli import main; main()"]


def _axis(exchange: Exchange, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
    env.update(AXIS_DATA_DIR=str(exchange.settings.data_dir), AXIS_PKI_DIR=str(exchange.settings.pki_dir),
               AXIS_KAFKA_BOOTSTRAP=exchange.bootstrap,
               AXIS_DATABASE_URL=exchange.settings.database_url.get_secret_value(), **extra)  # type: ignore[union-attr]
    return subprocess.run([*AXIS, *args], capture_output=True, text=True, env=env, timeout=120)


async def _document(exchange: Exchange) -> str:
    vpcp, nghean = exchange.vpcp, exchange.nghean
    doc = document(vpcp, [nghean])
    message_id = await exchange.agents.send(vpcp.organ_id, signed(vpcp, doc), "edoc", key=doc.document_id)
    assert (await (await exchange.agents.inbox(vpcp.organ_id)).notice_for(message_id)).outcome == "accepted"
    return doc.document_id


async def test_an_operator_makes_and_checks_evidence_and_verifies_the_ledger(exchange: Exchange, tmp_path: Path) -> None:
    document_id = await _document(exchange)
    bundle, ca = tmp_path / "evidence.zip", str(exchange.settings.pki_dir / "ca.pem")
    made = _axis(exchange, "evidence", document_id, "-o", str(bundle))
    assert made.returncode == 0 and bundle.exists(), made.stderr
    checked = _axis(exchange, "evidence", "verify", str(bundle), "--trust", ca, "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"], checked.stdout + checked.stderr
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "changed.zip").write_bytes(bytes(data))
    refused = _axis(exchange, "evidence", "verify", str(tmp_path / "changed.zip"), "--trust", ca)
    assert refused.returncode == 1 and refused.stderr.strip(), refused.stdout

    verified = _axis(exchange, "ledger", "verify", "--json")
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["ok"] and report["checkpoints"] >= 1, verified.stdout + verified.stderr
    seq = await exchange.ledger.pool.fetchval("SELECT max(seq) FROM events")
    async with exchange.ledger.pool.acquire() as conn:
        await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await conn.execute("UPDATE events SET detail = '{\"forged\": true}' WHERE seq = $1", seq)
        await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
    broken = _axis(exchange, "ledger", "verify")
    assert broken.returncode == 1 and f"event {seq}" in broken.stderr and "hash" in broken.stderr, broken.stderr


async def test_archived_bodies_leave_the_database_and_evidence_is_built_from_the_archive(
        exchange: Exchange, tmp_path: Path) -> None:
    document_id = await _document(exchange)
    nghean = exchange.nghean
    inbox = await exchange.agents.inbox(nghean.organ_id)
    await inbox.wait_for(lambda r: bool(r.deliveries()))
    await exchange.agents.ack(nghean.organ_id, [h.delivery_id for h, _ in inbox.deliveries()])  # type: ignore[misc]

    async def settled() -> bool:
        return not await exchange.ledger.pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'published')")

    await eventually(settled)
    archive = tmp_path / "archive"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    moved = _axis(exchange, "ledger", "archive", "--before", tomorrow, "-o", str(archive))
    assert moved.returncode == 0 and "1 documents" in moved.stdout, moved.stdout + moved.stderr
    assert await exchange.ledger.pool.fetchval("SELECT length(body) FROM documents WHERE document_id = $1",
                                               document_id) == 0
    without = _axis(exchange, "evidence", document_id, "-o", str(tmp_path / "e.zip"))
    assert without.returncode == 1 and "AXIS_ARCHIVE_DIR" in without.stderr
    made = _axis(exchange, "evidence", document_id, "-o", str(tmp_path / "e.zip"), AXIS_ARCHIVE_DIR=str(archive))
    assert made.returncode == 0, made.stderr
    checked = _axis(exchange, "evidence", "verify", str(tmp_path / "e.zip"), "--trust",
                    str(exchange.settings.pki_dir / "ca.pem"))
    assert checked.returncode == 0, checked.stderr
