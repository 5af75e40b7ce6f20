"""A national-style synthetic recording of `edx.outbound`: what agents would publish over working days.

Everything a real exchange's outbound topic carries is there, in time order: each document (unsigned: there
is no real signer to be faithful to, so playing it needs `--resign`), for each recipient the agent's `ack`
of the delivery and its automatic 01, then the clerks' statuses, and the sender's agent's ack of each
status delivered to it. Ack values name the router's deterministic delivery ids (`delivery_id_for`), so
a router replaying the file reaches the same states without agents.

Realistic sequences, each within the router's rules (axis/ledger/_status.py): 01 → 03 → 04 → 05 → 06 with
some stopping early, a share of 02 refusals instead of 03, withdrawals (13 from the sender, answered 15 or
16 by each recipient), and revoke, update and replace documents (answered 15 or 16 about the earlier
document). Documents arrive over working hours (08:00-17:00, Monday-Friday, Vietnam time) with morning and
afternoon peaks; clerks act in working time, agents at any time. The same arguments give the same bytes:
every random draw comes from generators seeded by `seed` and a purpose, and message ids are drawn, not uuid4.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiokafka.partitioner import DefaultPartitioner

import edxml
from axis import wire
from axis.ledger import delivery_id_for

from ._format import RecordedRecord, RecordingHeader, RecordingWriter
from ._population import SizeProfile, SynthAgency, population
from ._progress import Progress, SilentProgress

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_START = date(2026, 3, 2)  # a Monday
_HOURS = {8: 1.0, 9: 1.6, 10: 1.6, 11: 1.2, 12: 0.3, 13: 0.8, 14: 1.5, 15: 1.4, 16: 1.0}
_SUBJECTS = (
    "Về việc triển khai gửi, nhận văn bản điện tử",
    "Về việc báo cáo tình hình kinh tế - xã hội",
    "Về việc tổ chức hội nghị tổng kết",
    "Về việc góp ý dự thảo nghị định",
    "Về việc phòng, chống thiên tai",
    "Về việc kiểm tra công tác cải cách hành chính",
    "Về việc phân bổ kinh phí năm",
)
_STEPS = {
    "01": "Văn bản đã đến",
    "02": "Từ chối tiếp nhận: sai thẩm quyền",
    "03": "Văn thư đã vào sổ văn bản đến",
    "04": "Giao chuyên viên xử lý",
    "05": "Đang xử lý",
    "06": "Đã xử lý xong",
    "13": "Đề nghị thu hồi văn bản",
    "15": "Đồng ý",
    "16": "Không đồng ý",
}
_CHANGE = {1: "revoke", 2: "update", 3: "replace"}


@dataclass(slots=True)
class _Doc:
    sender: SynthAgency
    recipients: tuple[SynthAgency, ...]
    number: int
    at: datetime  # naive Vietnam time, like the packages' own timestamps
    message_id: str
    doc_type: int = 0
    concerns: _Doc | None = None
    notation: str = field(init=False)

    def __post_init__(self) -> None:
        self.notation = {"ministry": "VP", "province": "UBND-VX", "district": "UBND", "commune": "UBND"}[
            self.sender.level
        ]

    @property
    def code(self) -> edxml.Code:
        return edxml.Code(str(self.number), self.notation)

    @property
    def document_id(self) -> str:
        return edxml.new_document_id(self.sender.organ_id, self.at.date(), str(self.number), self.notation)


def _working(t: datetime) -> datetime:
    """The moment itself if in working hours, else the start of the next working period."""
    while t.weekday() >= 5 or t.time() >= time(17):
        t = datetime.combine(t.date() + timedelta(days=1), time(8))
    return max(t, datetime.combine(t.date(), time(8)))


def _clerk(t: datetime, low_s: float, high_s: float, rng: random.Random) -> datetime:
    """`t` plus a random span of working time: clerks act in office hours, agents any time."""
    left = rng.uniform(low_s, high_s)
    t = _working(t)
    while True:
        room = (datetime.combine(t.date(), time(17)) - t).total_seconds()
        if left <= room:
            return t + timedelta(seconds=left)
        left -= room
        t = _working(datetime.combine(t.date() + timedelta(days=1), time(8)))


def _ms(t: datetime) -> int:
    return int(t.replace(tzinfo=TZ).timestamp() * 1000)


def _org(agency: SynthAgency) -> edxml.Organization:
    return edxml.Organization(agency.organ_id, agency.name, agency.name, "Việt Nam")


class _Traffic:
    """Schedules every record of every document on a heap and emits them in time order."""

    def __init__(self, agencies: list[SynthAgency], sizes: SizeProfile, seed: int, partitions: int) -> None:
        self.agencies, self.sizes, self.seed = agencies, sizes, seed
        self.rng = random.Random(f"{seed}/traffic")
        self.heap: list[tuple[int, int, str, object]] = []
        self.seq = 0
        self.numbers: dict[str, int] = {}
        self.offsets = [0] * partitions
        self._partitioner = DefaultPartitioner()
        self._partitions = list(range(partitions))
        self.by_level = {
            level: [a for a in agencies if a.level == level]
            for level in ("ministry", "province", "district", "commune")
        }

    def message_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def push(self, at: datetime, kind: str, item: object) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (_ms(at), self.seq, kind, item))

    # --- who sends what to whom -----------------------------------------------------------------------

    def new_document(
        self,
        at: datetime,
        sender: SynthAgency | None = None,
        recipients: tuple[SynthAgency, ...] = (),
        doc_type: int = 0,
        concerns: _Doc | None = None,
    ) -> _Doc:
        rng = self.rng
        if sender is None:
            level = rng.choices(("ministry", "province", "district", "commune"), (30, 30, 25, 15))[0]
            sender = rng.choice(self.by_level[level] or self.agencies)
        if not recipients:
            pool = self._pool(sender)
            wanted = rng.choices((1, 2, 3, 4, 5, 6), (35, 25, 15, 10, 8, 7))[0]
            recipients = tuple(rng.sample(pool, min(wanted, len(pool))))
        self.numbers[sender.organ_id] = self.numbers.get(sender.organ_id, 0) + 1
        doc = _Doc(sender, recipients, self.numbers[sender.organ_id], at, self.message_id(), doc_type, concerns)
        self.push(at, "edoc", doc)
        return doc

    def _pool(self, sender: SynthAgency) -> list[SynthAgency]:
        """Downwards to its own units, upwards to its parent and the ministries, sideways to peers."""
        others = [a for a in self.agencies if a.organ_id != sender.organ_id]
        near = [
            a
            for a in others
            if a.parent == sender.organ_id
            or a.organ_id == sender.parent
            or (a.level == sender.level and a.parent == sender.parent)
        ]
        if sender.level in ("ministry", "province"):
            near += [a for a in others if a.level in ("ministry", "province") and a not in near]
        return near or others

    # --- what happens to a document ---------------------------------------------------------------------

    def follow(self, doc: _Doc) -> None:
        """Deliveries, 01s and acks for every recipient, then clerks' statuses, withdrawals and changes."""
        rng = self.rng
        cut: datetime | None = None
        choice = rng.choices(("none", "withdraw", "revoke", "update", "replace"), (955, 15, 12, 9, 9))[0]
        if doc.doc_type or doc.concerns is not None:
            choice = "none"
        if choice == "withdraw":
            cut = _clerk(doc.at, 3600, 6 * 3600, rng)
            self._withdraw(doc, cut)
        elif choice != "none":
            cut = _clerk(doc.at, 3600, 8 * 3600, rng)
            change = self.new_document(
                cut, doc.sender, doc.recipients, {"revoke": 1, "update": 2, "replace": 3}[choice], doc
            )
            for organ in doc.recipients:
                self._status(
                    organ,
                    doc,
                    rng.choice(("15", "15", "15", "16")),
                    _clerk(cut + timedelta(seconds=10), 600, 4 * 3600, rng),
                )
            if choice == "update":
                cut = None  # an update does not stop the work on the document
            self.follow(change)
        for organ in doc.recipients:
            arrived = doc.at + timedelta(seconds=rng.uniform(0.5, 4))
            self.push(arrived, "ack", (organ, delivery_id_for(doc.message_id, organ.organ_id)))
            self._status(organ, doc, "01", arrived + timedelta(milliseconds=50))
            if doc.doc_type != 1:
                self._clerks(organ, doc, arrived, cut)

    def _clerks(self, organ: SynthAgency, doc: _Doc, arrived: datetime, cut: datetime | None) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return  # never answered beyond the automatic 01
        steps = [("02", 600, 3 * 3600)] if roll < 0.09 else [("03", 600, 4 * 3600)]
        if steps[0][0] == "03" and rng.random() < 0.8:
            steps.append(("04", 1800, 8 * 3600))
            if rng.random() < 0.6:
                steps.append(("05", 1800, 9 * 3600))
            if rng.random() < 0.7:
                steps.append(("06", 3600, 3 * 9 * 3600))
        t = arrived + timedelta(seconds=1)
        for code, low, high in steps:
            t = _clerk(t, low, high, rng)
            if cut is not None and t >= cut:
                return
            self._status(organ, doc, code, t)

    def _withdraw(self, doc: _Doc, at: datetime) -> None:
        message_id = self._status(doc.sender, doc, "13", at, to=doc.sender)
        for organ in doc.recipients:
            self.push(
                at + timedelta(seconds=self.rng.uniform(0.5, 4)),
                "ack",
                (organ, delivery_id_for(message_id, organ.organ_id)),
            )
            self._status(
                organ,
                doc,
                self.rng.choice(("15", "15", "16")),
                _clerk(at + timedelta(seconds=5), 600, 4 * 3600, self.rng),
            )

    def _status(self, sender: SynthAgency, doc: _Doc, code: str, at: datetime, to: SynthAgency | None = None) -> str:
        """A status package; the document's sender's agent acks its delivery (a 13 is acked by each recipient)."""
        message_id = self.message_id()
        self.push(at, "status", (sender, doc, code, at.replace(microsecond=0), message_id, to))
        if code != "13":
            self.push(
                at + timedelta(seconds=self.rng.uniform(0.5, 3)),
                "ack",
                (doc.sender, delivery_id_for(message_id, doc.sender.organ_id)),
            )
        return message_id

    # --- bytes ----------------------------------------------------------------------------------------

    def record(self, at_ms: int, kind: str, item: object) -> RecordedRecord:
        if kind == "ack":
            acker, delivery_id = item  # type: ignore[misc]
            return self._wire(
                at_ms, acker.organ_id, "ack", acker.organ_id, wire.encode_ack([delivery_id]), self.message_id()
            )
        if kind == "edoc":
            doc: _Doc = item  # type: ignore[assignment]
            return self._wire(at_ms, doc.document_id, "edoc", doc.sender.organ_id, self._document(doc), doc.message_id)
        sender, doc, code, stamp, message_id, to = item  # type: ignore[misc]
        about = edxml.ResponseFor(
            (to or doc.sender).organ_id, f"{doc.number}/{doc.notation}", doc.at.date(), doc.document_id
        )
        package = edxml.build_status(_org(sender), about, edxml.StatusCode(code), _STEPS[code], timestamp=stamp)
        return self._wire(at_ms, doc.document_id, "status", sender.organ_id, edxml.serialize(package), message_id)

    def _document(self, doc: _Doc) -> bytes:
        rng = random.Random(f"{self.seed}/document/{doc.sender.organ_id}/{doc.number}")
        size, count = self.sizes.document_size(rng), self.sizes.attachment_count(rng)
        shares = sorted(rng.random() for _ in range(count - 1))
        cuts = [0, *(int(size * s) for s in shares), size]
        attachments = []
        for n in range(count):
            length = max(1, cuts[n + 1] - cuts[n])
            scanned = length > 5 * 1024 * 1024
            name = f"{'ban-scan' if scanned else 'van-ban'}-{doc.number}-{n + 1}.pdf"
            attachments.append(
                edxml.Attachment(
                    f"cid:{doc.number}-{n + 1}@{doc.sender.organ_id}",
                    name,
                    "application/pdf",
                    "Toàn văn" if n == 0 else "Phụ lục",
                    data=(b"%PDF-1.5\n" + rng.randbytes(length))[:length],
                )
            )
        concerned = doc.concerns
        package = edxml.build_document(
            sender=_org(doc.sender),
            recipients=[_org(r) for r in doc.recipients],
            code=doc.code,
            subject=(f"{_CHANGE[doc.doc_type].capitalize()} " if doc.doc_type else "") + rng.choice(_SUBJECTS),
            promulgation_date=doc.at.date(),
            place="Việt Nam",
            content="Văn bản tổng hợp để thử nghiệm.",
            doc_type=edxml.BusinessDocType(doc.doc_type),
            reason="Điều chỉnh nội dung" if doc.doc_type else "",
            business_document_id=concerned.document_id if concerned else "",
            replacements=(
                edxml.ReplacementInfo(concerned.document_id, tuple(r.organ_id for r in concerned.recipients)),
            )
            if concerned and doc.doc_type == 3
            else (),
            attachments=attachments,
            timestamp=doc.at.replace(microsecond=0),
        )
        return edxml.serialize(package)

    def _wire(self, at_ms: int, key: str, kind: str, sender: str, value: bytes, message_id: str) -> RecordedRecord:
        headers = wire.RecordHeaders(message_id, kind, sender, wire.sha256_hex(value), at_ms)  # type: ignore[arg-type]
        key_bytes = key.encode("utf-8")
        partition = self._partitioner(key_bytes, self._partitions, self._partitions)
        offset, self.offsets[partition] = self.offsets[partition], self.offsets[partition] + 1
        return RecordedRecord(wire.OUTBOUND, partition, offset, at_ms, key_bytes, value, tuple(headers.encode()))


def _arrivals(documents: int, start: date, days: int, rng: random.Random) -> list[datetime]:
    workdays, day = [], start
    while len(workdays) < days:
        if day.weekday() < 5:
            workdays.append(day)
        day += timedelta(days=1)
    hours, weights = list(_HOURS), list(_HOURS.values())
    return sorted(
        datetime.combine(
            rng.choice(workdays), time(rng.choices(hours, weights)[0], rng.randrange(60), rng.randrange(60))
        )
        + timedelta(microseconds=rng.randrange(1_000_000))
        for _ in range(documents)
    )


def synthesise(
    path: Path,
    *,
    agencies: int,
    documents: int,
    seed: int,
    sizes: str = "national",
    start: date = DEFAULT_START,
    days: int = 1,
    partitions: int = 8,
    progress: Progress | None = None,
) -> RecordingHeader:
    """Write a synthetic recording of `documents` documents among `agencies` agencies to `path`."""
    progress = progress or SilentProgress()
    profile = SizeProfile.parse(sizes)
    traffic = _Traffic(population(agencies, random.Random(f"{seed}/population")), profile, seed, partitions)
    source = {
        "synthetic": True,
        "generator": "axis replay synth",
        "seed": seed,
        "agencies": agencies,
        "documents": documents,
        "sizes": profile.spec,
        "start": start.isoformat(),
        "days": days,
    }
    progress.set_total(documents)
    with RecordingWriter(path, source=source, topics=[wire.OUTBOUND]) as writer:
        for at in _arrivals(documents, start, days, random.Random(f"{seed}/arrivals")):
            while traffic.heap and traffic.heap[0][0] <= _ms(at):
                writer.add(traffic.record(*_pop(traffic)))
            traffic.follow(traffic.new_document(at))
            progress.advance()
        while traffic.heap:
            writer.add(traffic.record(*_pop(traffic)))
    assert writer.header is not None  # closed by the with block
    return writer.header


def _pop(traffic: _Traffic) -> tuple[int, str, object]:
    at_ms, _, kind, item = heapq.heappop(traffic.heap)
    return at_ms, kind, item
