"""Playing the agent side against a real router: signed packages, a raw producer, inbox readers.

The real agent lives in `agents/`; these helpers speak the wire directly (axis.wire) so router tests
depend only on the contract.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

import edxml
from axis import wire
from axis.bootstrap import build_ledger, build_router
from axis.ledger import Ledger
from axis.router import Router
from axis.settings import Settings
from axis.transport import OutRecord, Publisher, make_consumer
from signing import DevPki, Signer, SigningIdentity

START = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)  # Monday 09:00 in Hanoi


class FakeClock:
    """The router's and ledger's clock; tests move it forward to trigger redelivery and deadlines."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Party:
    """An agency as a test plays it: organ id, name, signing identity."""

    organ_id: str
    name: str
    key_path: Path
    cert_path: Path
    signer: Signer = field(init=False)

    def __post_init__(self) -> None:
        self.signer = Signer(SigningIdentity.from_files(self.key_path, self.cert_path))

    @property
    def org(self) -> edxml.Organization:
        return edxml.Organization(self.organ_id, self.name, self.name, "Hà Nội")

    @property
    def pem(self) -> str:
        return self.cert_path.read_text()


def issue_party(pki: DevPki, organ_id: str, name: str) -> Party:
    key, cert = pki.issue(organ_id, name, algorithm="ec")
    return Party(organ_id, name, key, cert)


_counter = iter(range(1, 1_000_000))


def document(
    sender: Party, recipients: list[Party], *, subject: str = "Công văn thử", doc_type: int = 0,
    business_document_id: str = "", replacements: tuple[edxml.ReplacementInfo, ...] = (),
    response_for: tuple[edxml.ResponseFor, ...] = (), document_id: str | None = None,
) -> edxml.DocumentPackage:
    n = next(_counter)
    return edxml.build_document(
        sender=sender.org, recipients=[r.org for r in recipients], code=edxml.Code(str(1000 + n), "VPCP-TTĐT"),
        subject=subject, promulgation_date=date(2025, 3, 3), doc_type=edxml.BusinessDocType(doc_type),
        reason="thử" if doc_type else "", business_document_id=business_document_id,
        replacements=replacements, response_for=response_for, document_id=document_id,
    )


def status(
    sender: Party, doc: edxml.DocumentPackage, code: str, *, to: Party | None = None, at: datetime | None = None,
    description: str = "",
) -> edxml.StatusPackage:
    counterpart = to.organ_id if to else doc.sender
    return edxml.build_status(
        sender.org,
        edxml.ResponseFor(counterpart, f"{doc.header.code.code_number}/{doc.header.code.code_notation}",
                          date(2025, 3, 3), doc.document_id),
        edxml.StatusCode(code), description or f"status {code}", timestamp=at,
    )


def signed(party: Party, pkg: edxml.Package) -> bytes:
    return party.signer.sign(edxml.serialize(pkg))


class Agents:
    """A raw producer onto `edx.outbound` and readers of inbox topics."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.publisher = Publisher(bootstrap, linger_ms=0)
        self._readers: dict[str, InboxReader] = {}

    async def start(self) -> None:
        await self.publisher.start()

    async def stop(self) -> None:
        await self.publisher.stop()
        for reader in self._readers.values():
            await reader.stop()

    async def send(
        self, sender: str, body: bytes, kind: str, *, message_id: str | None = None, key: str = "doc",
    ) -> str:
        message_id = message_id or wire.new_message_id()
        headers = wire.RecordHeaders(message_id, kind, sender, wire.sha256_hex(body), wire.now_ms())  # type: ignore[arg-type]
        await self.publisher.publish(OutRecord(wire.OUTBOUND, key.encode(), body, headers.encode()))
        return message_id

    async def ack(self, sender: str, delivery_ids: list[str]) -> None:
        await self.send(sender, wire.encode_ack(delivery_ids), "ack")

    async def inbox(self, organ_id: str) -> "InboxReader":
        if organ_id not in self._readers:
            reader = InboxReader(self.bootstrap, organ_id)
            await reader.start()
            self._readers[organ_id] = reader
        return self._readers[organ_id]


class InboxReader:
    """Reads one inbox from the beginning and keeps every record seen."""

    def __init__(self, bootstrap: str, organ_id: str) -> None:
        self.topic = wire.inbox_topic(organ_id)
        self._consumer: AIOKafkaConsumer = make_consumer(bootstrap, group_id=None, fetch_max_wait_ms=50)
        self.records: list[ConsumerRecord[Any, Any]] = []

    async def start(self) -> None:
        await self._consumer.start()
        tp = TopicPartition(self.topic, 0)
        self._consumer.assign([tp])
        await self._consumer.seek_to_beginning(tp)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def poll(self) -> None:
        data = await self._consumer.getmany(timeout_ms=100)
        for records in data.values():
            self.records.extend(records)

    async def wait_for(self, predicate: Callable[["InboxReader"], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic}: condition not met; saw {self.describe()}")
            await self.poll()

    def notices(self, message_id: str | None = None) -> list[wire.Notice]:
        found = [wire.Notice.decode(r.value) for r in self.records if _kind(r) == "notice"]
        return [n for n in found if message_id is None or n.message_id == message_id]

    def deliveries(self, message_id: str | None = None) -> list[tuple[wire.RecordHeaders, bytes]]:
        found = [(wire.RecordHeaders.decode(r.headers), r.value) for r in self.records if _kind(r) in ("edoc", "status")]
        return [(h, v) for h, v in found if message_id is None or h.message_id == message_id]

    async def notice_for(self, message_id: str, timeout: float = 10.0) -> wire.Notice:
        await self.wait_for(lambda r: bool(r.notices(message_id)), timeout)
        return self.notices(message_id)[0]

    def describe(self) -> str:
        return json.dumps([{k: v.decode(errors="replace") for k, v in r.headers} for r in self.records][-10:])


def _kind(record: ConsumerRecord[Any, Any]) -> str:
    return dict(record.headers).get("package-kind", b"").decode()


ORGANS = {
    "vpcp": ("000.00.00.G22", "Văn phòng Chính phủ"),
    "nghean": ("000.00.00.H41", "UBND Tỉnh Nghệ An"),
    "caobang": ("000.00.00.H14", "UBND Tỉnh Cao Bằng"),
    "haiphong": ("000.00.00.G17", "Sở TTTT Hải Phòng"),
    "rogue": ("000.00.00.H50", "Đơn vị chưa đăng ký chứng thư"),
}


@dataclass
class Pki:
    pki: DevPki
    parties: dict[str, Party]


def make_pki(folder: Path) -> Pki:
    """A development PKI (ECDSA) in `folder` with a key and certificate for every party of ORGANS."""
    pki = DevPki(folder)
    pki.init(algorithm="ec")
    return Pki(pki, {name: issue_party(pki, organ, title) for name, (organ, title) in ORGANS.items()})


@dataclass
class Exchange:
    settings: Settings
    ledger: Ledger
    router: Router
    clock: FakeClock
    agents: Agents
    parties: dict[str, Party]
    bootstrap: str

    def __getattr__(self, name: str) -> Party:
        try:
            return self.parties[name]
        except KeyError:
            raise AttributeError(name) from None

    async def restart_router(self) -> None:
        await self.router.stop()
        self.router = new_router(self.settings, self.ledger, self.clock)
        await self.router.start()


def new_router(settings: Settings, ledger: Ledger, clock: FakeClock) -> Router:
    return build_router(settings, ledger=ledger, clock=clock, poll_s=0.05, directory_poll_s=0.2, epoch_interval_s=0.5)


@contextlib.asynccontextmanager
async def open_exchange(bootstrap: str, database_url: str, pki: Pki, data_dir: Path) -> AsyncIterator[Exchange]:
    settings = Settings(
        data_dir=data_dir, kafka_bootstrap=bootstrap, database_url=database_url, pki_dir=pki.pki.dir,
        redelivery_limit=3,
    )
    clock = FakeClock()
    ledger = build_ledger(settings, clock=clock)
    await ledger.start()
    for name, party in pki.parties.items():
        certs = [] if name == "rogue" else [party.pem]
        await ledger.directory.add(party.organ_id, party.name, certificates=certs, at=clock())
    router = new_router(settings, ledger, clock)
    agents = Agents(bootstrap)
    ex = Exchange(settings, ledger, router, clock, agents, pki.parties, bootstrap)
    try:
        await router.start()
        await agents.start()
        yield ex
    finally:
        await agents.stop()
        await ex.router.stop()
        await ledger.stop()
