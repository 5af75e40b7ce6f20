"""The receiver: verify before storing, store once, ack every delivery, mark revoked documents, survive data loss."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent_forwarder import Forwarder
from agent_support import RECIPIENT, SENDER, STRANGER, AgentFactory
from polling import eventually

import edxml
from axis import wire
from axis.transport import OutRecord, Publisher
from signing import Signer, SigningIdentity


def _signed(pki: Path, sender: str, code: str, *, doc_type: int = 0, concerns: str = "") -> bytes:
    pkg = edxml.build_document(
        sender=edxml.Organization(sender, "Gửi", organ_add="Hà Nội"),
        recipients=[edxml.Organization(RECIPIENT, "Nhận", organ_add="Vinh")],
        code=edxml.Code(code, "VPCP-TEST"), subject=f"Văn bản {code}",
        doc_type=edxml.BusinessDocType(doc_type), business_document_id=concerns)
    identity = SigningIdentity.from_files(pki / f"{sender}-key.pem", pki / f"{sender}.pem")
    return Signer(identity).sign(edxml.serialize(pkg))


async def _deliver(bootstrap: str, body: bytes, sender: str, message_id: str, times: int = 1) -> None:
    headers = wire.RecordHeaders(message_id, "edoc", sender, wire.sha256_hex(body), wire.now_ms(),
                                 delivery_id=f"d-{message_id}", attempt=1)
    async with Publisher(bootstrap) as publisher:
        for _ in range(times):
            await publisher.publish(OutRecord(wire.inbox_topic(RECIPIENT), None, body, headers.encode()))


async def test_a_redelivered_document_is_stored_once_and_acked(make_agent: AgentFactory, private_bootstrap: str,
                                                               pki_dir: Path) -> None:
    agent = await make_agent(RECIPIENT)
    mid = wire.new_message_id()
    await _deliver(private_bootstrap, _signed(pki_dir, SENDER, "1"), SENDER, mid, times=3)
    await eventually(lambda: agent.store.count_received(kind="edoc"))
    await eventually(lambda: _no_unacked(agent))
    await asyncio.sleep(0.3)
    assert await agent.store.count_received(kind="edoc") == 1
    assert await agent.store.count_pending() == 1  # the automatic status 01, waiting for the router


async def test_a_package_that_does_not_verify_is_never_shown(make_agent: AgentFactory, private_bootstrap: str,
                                                             pki_dir: Path) -> None:
    agent = await make_agent(RECIPIENT)
    await _deliver(private_bootstrap, _signed(pki_dir / "other-ca", STRANGER, "2"), STRANGER, wire.new_message_id())
    rejected = await eventually(agent.store.rejected)
    assert "untrusted-certificate" in rejected[0][3]
    assert await agent.service.received() == []
    await eventually(lambda: _no_unacked(agent))


async def test_a_revocation_marks_the_earlier_document(make_agent: AgentFactory, private_bootstrap: str,
                                                       pki_dir: Path) -> None:
    agent = await make_agent(RECIPIENT)
    first = _signed(pki_dir, SENDER, "3")
    document_id = edxml.parse_package(first).document_id
    await _deliver(private_bootstrap, first, SENDER, first_id := wire.new_message_id())
    await _deliver(private_bootstrap, _signed(pki_dir, SENDER, "4", doc_type=1, concerns=document_id), SENDER,
                   wire.new_message_id())
    item = await eventually(lambda: _superseded(agent, first_id))
    assert item.superseded == "revoked"


async def test_after_the_broker_loses_everything_pending_packages_are_resent(
        make_agent: AgentFactory, broker_factory, settings) -> None:  # type: ignore[no-untyped-def]
    broker = await broker_factory()
    local = settings.replace(kafka_bootstrap=broker.bootstrap)
    sender, recipient = await asyncio.gather(make_agent(SENDER, settings=local), make_agent(RECIPIENT, settings=local))
    from agents.model import DocumentFields, OrganInput
    sub = await sender.service.submit_document(
        DocumentFields(to=(OrganInput(RECIPIENT),), subject="Mất dữ liệu", code_number="5", code_notation="VPCP-X"), [])
    await eventually(lambda: _published(sender))
    await broker.restart()  # memory storage: topics, records and offsets are gone; nobody confirmed the package
    await eventually(lambda: asyncio.sleep(0, sender.watch.epochs_seen >= 1 and recipient.watch.epochs_seen >= 1))
    async with Forwarder(broker.bootstrap):
        items = await eventually(lambda: recipient.service.received(kind="edoc"), timeout=30)
        assert items[0].document_id == sub.document_id
        await eventually(lambda: _confirmed(sender), timeout=30)


async def _published(agent):  # type: ignore[no-untyped-def]
    return agent.relay.published >= 1


async def _confirmed(agent):  # type: ignore[no-untyped-def]
    return await agent.store.count_pending() == 0


async def _no_unacked(agent):  # type: ignore[no-untyped-def]
    return not await agent.store.unacked_deliveries() and await agent.store.count_received(kind="edoc") + len(
        await agent.store.rejected()) > 0


async def _superseded(agent, message_id):  # type: ignore[no-untyped-def]
    item = await agent.store.received_item(message_id) if await agent.store.has_received(message_id) else None
    return item if item and item.superseded else None
