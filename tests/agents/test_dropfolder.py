"""The drop folder: files in outbox/ are sent or refused with a reason; received packages appear in inbox/."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agent_forwarder import Forwarder
from agent_support import RECIPIENT, SENDER, AgentFactory
from polling import eventually

import edxml
from agents.model import DocumentFields, OrganInput


def _package(sender: str = SENDER) -> bytes:
    pkg = edxml.build_document(sender=edxml.Organization(sender, "Văn phòng", organ_add="Hà Nội"),
                               recipients=[edxml.Organization(RECIPIENT, "UBND", organ_add="Vinh")],
                               code=edxml.Code("5", "VPCP-KSTT"), subject="Thử drop folder")
    return edxml.serialize(pkg)


async def test_a_dropped_package_is_sent_and_arrives_as_a_file(make_agent: AgentFactory, private_bootstrap: str) -> None:
    sender, recipient = await asyncio.gather(make_agent(SENDER), make_agent(RECIPIENT))
    async with Forwarder(private_bootstrap):
        (sender.directory / "outbox" / "doc.edxml.tmp").write_bytes(_package())
        (sender.directory / "outbox" / "doc.edxml.tmp").rename(sender.directory / "outbox" / "doc.edxml")
        await eventually(lambda: asyncio.sleep(0, (sender.directory / "outbox" / "sent" / "doc.edxml").exists()))
        inbox: Path = recipient.directory / "inbox"
        files = await eventually(lambda: asyncio.sleep(0, sorted(inbox.glob("*.json"))))
    meta = json.loads(files[0].read_text(encoding="utf-8"))
    assert meta["sender"] == SENDER and meta["subject"] == "Thử drop folder"
    assert files[0].with_suffix(".edxml").read_bytes().startswith(b"<?xml")


async def test_a_bad_file_moves_to_failed_with_the_reason(make_agent: AgentFactory) -> None:
    agent = await make_agent(SENDER)
    outbox = agent.directory / "outbox"
    (outbox / "broken.edxml").write_bytes(b"<edXML>\n  <unclosed>\n")
    (outbox / "foreign.edxml").write_bytes(_package(RECIPIENT))
    error = await eventually(lambda: asyncio.sleep(0, (outbox / "failed" / "broken.edxml.error.txt").exists()))
    assert error
    text = (outbox / "failed" / "broken.edxml.error.txt").read_text()
    assert text.startswith("invalid-package: broken.edxml:")
    await eventually(lambda: asyncio.sleep(0, (outbox / "failed" / "foreign.edxml.error.txt").exists()))
    assert "from-mismatch" in (outbox / "failed" / "foreign.edxml.error.txt").read_text()
    assert not (outbox / "broken.edxml").exists()
    assert await agent.store.count_pending() == 0


async def test_fields_build_a_valid_revocation(make_agent: AgentFactory) -> None:
    agent = await make_agent(SENDER)
    fields = DocumentFields(to=(OrganInput(RECIPIENT),), subject="Thu hồi", code_number="9", code_notation="VPCP-X",
                            doc_type=1, replaces=("000.00.00.G22,2024/01/02,8/VPCP-X",))
    sub = await agent.service.submit_document(fields, [])
    body = await agent.store.sent_body("edoc", sub.document_id)
    pkg = edxml.parse_package(body or b"", profile="strict")
    assert isinstance(pkg, edxml.DocumentPackage) and pkg.trace.business is not None
    assert pkg.trace.business.document_id == "000.00.00.G22,2024/01/02,8/VPCP-X"
