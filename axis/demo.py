"""The main job: a demo exchange between several agencies on the embedded broker and PostgreSQL.

Everything is real: the Tansu broker and PostgreSQL run as child processes, each agency has a key and a
certificate from the dev PKI, every package is signed and verified, the router records every step in the
ledger. The demo sends documents with attachments (some to several recipients), lets each recipient answer
with statuses, waits until every receipt is back at its sender, and reports what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from agents.bootstrap import Agent, build_agent
from agents.model import AttachmentInput, DocumentFields, OrganInput, Submission
from axis.embedded_exchange import NewAgency, open_exchange, register_agencies
from axis.settings import Settings

__all__ = ["DEMO_AGENCIES", "DemoReport", "await_directory", "demo_agencies", "render", "run_demo"]

# Real national organ ids and names, as the SDK samples carry them.
DEMO_AGENCIES: tuple[NewAgency, ...] = (
    NewAgency("000.00.00.G22", "Văn phòng Chính phủ"),
    NewAgency("000.00.00.H41", "UBND Tỉnh Nghệ An"),
    NewAgency("000.00.00.H14", "UBND Tỉnh Cao Bằng"),
    NewAgency("000.00.00.G17", "Sở Thông tin truyền thông Hải Phòng"),
    NewAgency("002.00.20.H13", "UBND xã Hòa Tiến - UBND huyện Hòa Vang - Thành phố Đà Nẵng"),
    NewAgency("000.00.15.H51", "Trung tâm test production"),
)

# What each recipient does with a document after the automatic 01 (arrived).
ANSWERS: tuple[tuple[str, str], ...] = (
    ("03", "Văn thư: tiếp nhận văn bản, vào sổ văn bản đến"),
    ("04", "Giao chuyên viên xử lý"),
    ("06", "Đã xử lý xong"),
)


def demo_agencies(count: int) -> list[NewAgency]:
    """The first `count` demo agencies; beyond the real ones, districts of Nghệ An (parent H41)."""
    agencies = list(DEMO_AGENCIES[:count])
    for n in range(len(agencies), count):
        agencies.append(NewAgency(f"000.{n:02d}.41.H41", f"UBND huyện số {n} - Tỉnh Nghệ An", "000.00.00.H41"))
    return agencies


@dataclass
class _Sent:
    submission: Submission
    sender: str
    recipients: tuple[str, ...]
    subject: str
    submitted_at: float


@dataclass
class DemoReport:
    """What the demo saw; `ok` only when nothing was lost."""

    agencies: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    deliveries_expected: int = 0
    delivered: int = 0
    receipts_expected: int = 0
    receipts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    data_dir: str = ""

    @property
    def lost(self) -> int:
        return (self.deliveries_expected - self.delivered) + (self.receipts_expected - self.receipts)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.sent > 0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 1)

    def as_json(self) -> dict[str, Any]:
        return {
            "agencies": self.agencies,
            "sent": self.sent,
            "deliveries_expected": self.deliveries_expected,
            "delivered": self.delivered,
            "receipts_expected": self.receipts_expected,
            "receipts": self.receipts,
            "lost": self.lost,
            "latency_ms": {"p50": self.percentile(0.50), "p99": self.percentile(0.99)},
            "elapsed_s": round(self.elapsed_s, 2),
            "data_dir": self.data_dir,
            "documents": self.rows,
        }


async def _send_documents(agents: dict[str, Agent], count: int, rng: random.Random) -> list[_Sent]:
    organs = list(agents)
    sent = []
    for i in range(count):
        sender = organs[i % len(organs)]
        others = [o for o in organs if o != sender]
        recipients = tuple(rng.sample(others, k=min(len(others), 1 + (i % 3))))  # 1, 2 or 3 recipients
        subject = f"Công văn số {i + 1}: triển khai gửi nhận văn bản điện tử"
        fields = DocumentFields(
            to=tuple(OrganInput(r) for r in recipients),
            subject=subject,
            code_number=str(100 + i),
            code_notation="DEMO-VP",
            promulgation_date=date.today(),
            place="Hà Nội",
            type_name="Công văn",
            content="Đề nghị các cơ quan tiếp nhận và phản hồi trạng thái xử lý.",
            signer_name="Nguyễn Văn A",
            signer_position="Chánh Văn phòng",
            priority=i % 3,
        )
        body = (f"Nội dung văn bản số {i + 1}.\n" * 400).encode("utf-8")  # an attachment of about 12 KB
        attachments = [AttachmentInput(f"cong-van-{i + 1}.txt", body, "text/plain", "Toàn văn")]
        started = time.monotonic()
        submission = await agents[sender].service.submit_document(fields, attachments)
        sent.append(_Sent(submission, sender, recipients, subject, started))
    return sent


async def _wait(predicate: Any, timeout_s: float, interval_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval_s)
    return await predicate()


async def _received_ids(agent: Agent) -> set[str]:
    return {item.document_id for item in await agent.service.received(kind="edoc")}


async def _answer_all(agents: dict[str, Agent], sent: list[_Sent]) -> None:
    """Each recipient answers each document with the ANSWERS statuses, in order."""
    for code, description in ANSWERS:
        for doc in sent:
            for recipient in doc.recipients:
                await agents[recipient].service.send_status(doc.submission.document_id, code, description)


async def _collect(report: DemoReport, agents: dict[str, Agent], sent: list[_Sent]) -> None:
    by_recipient = {organ: {i.document_id: i for i in await a.service.received(kind="edoc")} for organ, a in agents.items()}
    sender_rows = {organ: await a.service.sent() for organ, a in agents.items()}
    for doc in sent:
        doc_id = doc.submission.document_id
        rows = {(r.document_id, r.recipient): r for r in sender_rows[doc.sender] if r.kind == "edoc"}
        for recipient in doc.recipients:
            item = by_recipient[recipient].get(doc_id)
            row = rows.get((doc_id, recipient))
            latency = None
            if item is not None and item.sent_at is not None:
                latency = (item.received_at - item.sent_at).total_seconds() * 1000
                report.latencies_ms.append(latency)
            report.rows.append({
                "document_id": doc_id,
                "sender": doc.sender,
                "recipient": recipient,
                "delivered": item is not None,
                "latency_ms": None if latency is None else round(latency, 1),
                "last_status": row.last_status_code if row else None,
                "last_status_description": row.last_status_description if row else None,
                "state": row.state if row else None,
            })
    report.delivered = sum(1 for r in report.rows if r["delivered"])
    report.receipts = await _count_receipts(agents, sent)


async def _count_receipts(agents: dict[str, Agent], sent: list[_Sent]) -> int:
    """Statuses (01 and the ANSWERS) about each sent document that reached its sender."""
    expected_codes = {"01", *(code for code, _ in ANSWERS)}
    got: set[tuple[str, str, str]] = set()
    for organ, agent in agents.items():
        for item in await agent.service.received(kind="status"):
            if item.status_code in expected_codes:
                got.add((item.document_id, item.sender, item.status_code or ""))
    return sum(
        1 for doc in sent for r in doc.recipients for code in expected_codes
        if (doc.submission.document_id, r, code) in got
    )


async def run_demo(settings: Settings, *, agencies: int = 5, documents: int = 20, timeout_s: float = 180.0,
                   seed: int = 2026) -> DemoReport:
    """Run a fresh demo exchange under `settings.data_dir` and report what happened."""
    if agencies < 2:
        raise ValueError("the demo needs at least 2 agencies")
    if documents < 1:
        raise ValueError("the demo needs at least 1 document")
    data_dir = Path(settings.data_dir)
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a demo always starts from nothing
    settings = settings.replace(data_dir=data_dir)
    started = time.monotonic()
    chosen = demo_agencies(agencies)
    report = DemoReport([a.organ_id for a in chosen], data_dir=str(data_dir))
    async with open_exchange(settings) as exchange:
        await register_agencies(exchange, chosen)
        async with contextlib.AsyncExitStack() as stack:
            agents = {}
            for agency in chosen:
                agents[agency.organ_id] = await stack.enter_async_context(build_agent(exchange.settings, agency.organ_id))
            await await_directory(agents, len(chosen))
            sent = await _send_documents(agents, documents, random.Random(seed))
            report.sent = len(sent)
            report.deliveries_expected = sum(len(d.recipients) for d in sent)
            report.receipts_expected = report.deliveries_expected * (1 + len(ANSWERS))

            async def all_delivered() -> bool:
                have = {organ: await _received_ids(agent) for organ, agent in agents.items()}
                return all(d.submission.document_id in have[r] for d in sent for r in d.recipients)

            await _wait(all_delivered, timeout_s)
            await _answer_all(agents, sent)

            async def all_receipts() -> bool:
                return await _count_receipts(agents, sent) >= report.receipts_expected

            await _wait(all_receipts, timeout_s)
            await _collect(report, agents, sent)
    report.elapsed_s = time.monotonic() - started
    return report


async def await_directory(agents: dict[str, Agent], count: int, timeout_s: float = 30.0) -> None:
    """Agents learn the directory from the broker; wait until each knows every agency."""
    async def known() -> bool:
        sizes = [len(await a.store.agencies()) if a.store.directory_synced else 0 for a in agents.values()]
        return min(sizes) >= count

    await _wait(known, timeout_s)


def render(report: DemoReport) -> str:
    """The human-readable table: documents by recipient, last status, totals, latency, where to look."""
    names = {
        "01": "arrived", "02": "refused", "03": "accepted", "04": "assigned", "05": "processing", "06": "done",
        "13": "withdraw asked", "15": "agreed", "16": "refused change", None: "-",
    }
    lines = [f"{'document':<36} {'from':<14} {'to':<14} {'delivered':>9} {'latency':>9}  last status"]
    for row in report.rows:
        latency = "-" if row["latency_ms"] is None else f"{row['latency_ms']:.0f} ms"
        lines.append(
            f"{row['document_id']:<36} {row['sender']:<14} {row['recipient']:<14} "
            f"{'yes' if row['delivered'] else 'NO':>9} {latency:>9}  "
            f"{row['last_status'] or '-'} {names.get(row['last_status'], '')}"
        )
    lines += [
        "",
        f"agencies: {len(report.agencies)}   documents sent: {report.sent}   "
        f"deliveries: {report.delivered}/{report.deliveries_expected}   "
        f"receipts at senders: {report.receipts}/{report.receipts_expected}   lost: {report.lost}",
        f"end-to-end latency (submit at sender -> stored at recipient): "
        f"p50 {report.percentile(0.5)} ms, p99 {report.percentile(0.99)} ms; took {report.elapsed_s:.1f} s",
        "",
        "Where to look:",
        f"  {report.data_dir}/agents/<organ-id>/inbox/    the packages each agency received (signed EDXML)",
        f"  {report.data_dir}/agents/<organ-id>/agent.sqlite    each agent's outbox, inbox and receipts",
        f"  {report.data_dir}/pgdata    the ledger (PostgreSQL); to query it: `AXIS_DATA_DIR={report.data_dir} axis up`,",
        f"      then `AXIS_DATA_DIR={report.data_dir} axis status '<document id>'` or `axis overdue`",
        f"  {report.data_dir}/pki    the development CA and each agency's certificate",
        "",
        "RESULT: every document reached every recipient and every receipt reached its sender."
        if report.ok else f"RESULT: FAILED, {report.lost} deliveries or receipts missing.",
    ]
    return "\n".join(lines)
