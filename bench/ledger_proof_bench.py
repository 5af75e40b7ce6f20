"""What the proof of delivery costs the ledger: events/s with and without it, in one run, on one PostgreSQL.

    .venv/bin/python bench/ledger_proof_bench.py [--events 40000] [--writers 2] [--documents 25] [--json]

Both passes write the same transactions the way the router does (`--writers` at once, each a batch of
`--documents` documents with their deliveries and one status 01 from each of three recipients: four events per
document among its other rows) into a fresh database each:
- `with proof`: each event hashed over its fields and bytes digest, each transaction's events recorded as a
  batch with its Merkle root, and the checkpointer sealing batches every 10,000 events (or second) meanwhile;
- `without proof`: the same transactions, the events written with no hash work, no batch, no checkpoint
  (the baseline: `Pending._append_events` replaced in this process by a plain insert).
Each pass runs twice, alternated; rates are their means. The issue allows the proof 10 % at most:
`overhead_pct` is 100 * (1 - with / without). With `--json` the last
line is one JSON object. A watchdog fails the bench with the reason if it runs past `--timeout` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from axis.bootstrap import build_checkpointer, exchange_identity  # noqa: E402
from axis.embedded import EmbeddedPostgres  # noqa: E402
from axis.ledger import Ledger, WorkCalendar  # noqa: E402
from axis.ledger import _pending  # noqa: E402
from axis.settings import Settings  # noqa: E402
from signing import DevPki  # noqa: E402

SENDER = "000.00.00.G22"


async def _plain_append(self: _pending.Pending, conn: Any) -> None:
    """The baseline: number the events and write them, with no hash, batch or Merkle root."""
    seqs = [r[0] for r in await conn.fetch("SELECT nextval('events_seq') FROM generate_series(1, $1)", len(self.events))]
    await conn.executemany(
        "INSERT INTO events (seq, at, document, document_id, recipient, actor, kind, status_code, message_id, detail,"
        " signature, body_sha256, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'',$13)",
        [(seq, e.at, e.document.id if e.document else None, e.about, e.recipient, e.actor, e.kind, e.status_code,
          e.message_id, e.detail, e.signature, e.body_sha256, str(seq)) for seq, e in zip(seqs, self.events, strict=True)])
    self.facts += [f"e{seq}" for seq in seqs]


RECIPIENTS = ("000.00.00.H41", "000.00.00.H14", "000.00.00.G17")
SIGNATURE = "xmldsig:ecdsa-sha256:" + "c" * 64


async def _writer(ledger: Ledger, transactions: int, documents: int) -> None:
    """Transactions shaped like the router's batches: per document its tracking row, its row, a delivery per
    recipient and the `received` event; and each recipient's status 01 with its tracking row, status row,
    delivery back and `status` event: four events and fourteen other rows per document."""
    for _ in range(transactions):
        now = datetime.now(UTC)
        async with ledger.unit_of_work() as uow:
            for _ in range(documents):
                n = uuid.uuid4().hex
                await uow.record_message(message_id=n, kind="edoc", sender=SENDER, document_id=n, outcome="accepted",
                                         reason="", body_sha256="a" * 64, sent_at_ms=0, recipients=RECIPIENTS, at=now)
                doc = await uow.add_document(document_id=n, sender=SENDER, message_id=n, subject="Công văn thử",
                                             code="1/A", business_type=0, business_reason="", recipients=RECIPIENTS,
                                             body=b"<x/>" * 2500, signer_fingerprint="f", at=now)
                await uow.append_event(doc, at=now, kind="received", actor=SENDER, message_id=n, signature=SIGNATURE,
                                       body_sha256="a" * 64, detail={"subject": "Công văn thử", "recipients": RECIPIENTS})
                for organ in RECIPIENTS:
                    await uow.add_delivery(message_id=n, document=doc, recipient=organ, kind="edoc", at=now)
                    status_id = f"{n}-{organ}"
                    await uow.record_message(message_id=status_id, kind="status", sender=organ, document_id=n,
                                             outcome="accepted", reason="", body_sha256="b" * 64, sent_at_ms=0,
                                             recipients=[SENDER], at=now)
                    await uow.add_status(message_id=status_id, document=doc, sender=organ, code="01",
                                         description="Đã đến", status_at=now, body=b"<s/>" * 400, at=now)
                    await uow.append_event(doc, at=now, kind="status", actor=organ, recipient=organ, status_code="01",
                                           message_id=status_id, signature=SIGNATURE, body_sha256="b" * 64,
                                           detail={"description": "Đã đến", "status_at": now.isoformat()})
                    await uow.add_delivery(message_id=status_id, document=doc, recipient=SENDER, kind="status", at=now)
            await uow.commit()


async def _pass(server: EmbeddedPostgres, settings: Settings, events: int, writers: int, per: int,
                proof: bool) -> dict[str, float]:
    """One pass; `per` is documents per transaction (four events each)."""
    url = await server.create_database(f"bench_{'proof' if proof else 'plain'}_{uuid.uuid4().hex[:8]}")
    calendar = WorkCalendar(settings.tz, *settings.workday_hours, settings.working_days)
    async with Ledger(url, calendar=calendar, arrival_deadline=timedelta(minutes=15), pool_size=writers + 2) as ledger:
        await ledger.directory.add(SENDER, "Văn phòng Chính phủ", at=datetime.now(UTC))
        checkpointer = build_checkpointer(settings, ledger, exchange_identity(settings), clock=lambda: datetime.now(UTC))
        transactions = max(1, events // (4 * per) // writers)
        original = _pending.Pending._append_events
        if not proof:
            _pending.Pending._append_events = _plain_append  # type: ignore[method-assign]
        began = time.perf_counter()
        try:
            if proof:
                await checkpointer.start()
            await asyncio.gather(*(_writer(ledger, transactions, per) for _ in range(writers)))
            if proof:
                await checkpointer.stop()
                await checkpointer.seal_now()  # what is left is sealed too: part of the cost
        finally:
            _pending.Pending._append_events = original  # type: ignore[method-assign]
        seconds = time.perf_counter() - began
        written = transactions * writers * per * 4
        checkpoints = len(await ledger.proofs.checkpoints()) if proof else 0
    return {"events": written, "seconds": round(seconds, 2), "events_per_s": round(written / seconds, 1),
            "checkpoints": checkpoints}


async def run(events: int, writers: int, per: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="axis-proof-bench-") as tmp:
        pki = DevPki(Path(tmp) / "pki")
        pki.init(algorithm="ec")
        settings = Settings(data_dir=Path(tmp), pki_dir=pki.dir, checkpoint_interval_s=1.0, checkpoint_events=10_000)
        async with EmbeddedPostgres(Path(tmp) / "pgdata") as server:
            await _pass(server, settings, min(events, 2000), writers, per, proof=True)  # warm-up: caches, JIT of paths
            passes: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
            for _ in range(2):  # alternated, so a machine that slows down hurts both alike
                passes["without"].append(await _pass(server, settings, events, writers, per, proof=False))
                passes["with"].append(await _pass(server, settings, events, writers, per, proof=True))
    rate = {k: round(sum(p["events_per_s"] for p in v) / len(v), 1) for k, v in passes.items()}
    return {
        "events": passes["with"][0]["events"], "writers": writers, "documents_per_transaction": per,
        "without_proof_events_per_s": rate["without"], "with_proof_events_per_s": rate["with"],
        "overhead_pct": round(100 * (1 - rate["with"] / rate["without"]), 1),
        "checkpoints": passes["with"][-1]["checkpoints"], "passes": passes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--documents", type=int, default=25, help="documents per transaction (four events each)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    async def watched() -> dict[str, Any]:
        try:
            return await asyncio.wait_for(run(args.events, args.writers, args.documents), args.timeout)
        except TimeoutError:
            raise SystemExit(f"ledger proof bench: no result after {args.timeout:.0f} s (PostgreSQL stuck?)") from None

    figures = asyncio.run(watched())
    print(f"ledger events/s (mean of 2 passes each), {figures['writers']} writers, {figures['documents_per_transaction']} documents "
          "(4 events each) per transaction: "
          f"without proof {figures['without_proof_events_per_s']}, with proof {figures['with_proof_events_per_s']} "
          f"({figures['checkpoints']} checkpoints): the proof costs {figures['overhead_pct']} %",
          file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
