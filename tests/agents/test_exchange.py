"""Two agents exchange a document and its statuses through a real broker."""

from __future__ import annotations

import asyncio

from agent_forwarder import Forwarder
from agent_support import RECIPIENT, SENDER, AgentFactory
from polling import eventually

from agents.model import AttachmentInput, DocumentFields, OrganInput


async def test_two_agents_exchange_a_document_and_statuses(make_agent: AgentFactory, private_bootstrap: str) -> None:
    sender, recipient = await asyncio.gather(make_agent(SENDER), make_agent(RECIPIENT))
    async with Forwarder(private_bootstrap) as router:
        fields = DocumentFields(to=(OrganInput(RECIPIENT),), subject="Về việc thử nghiệm", code_number="12",
                                code_notation="VPCP-TTĐT")
        sub = await sender.service.submit_document(fields, [AttachmentInput("a.txt", b"hello")])
        items = await eventually(lambda: recipient.service.received(kind="edoc"))
        assert items[0].document_id == sub.document_id and items[0].signer == SENDER
        assert items[0].sent_at is not None and items[0].received_at >= items[0].sent_at
        rows = await eventually(lambda: _delivered(sender))
        assert rows[0].last_status_code == "01"
        await recipient.service.send_status(sub.document_id, "03", "registered")
        await eventually(lambda: _status(sender, "03"))
        assert await sender.store.count_pending() == 0
        await eventually(lambda: _acked(router, recipient))
        trail = await sender.service.trail(sub.document_id)
        assert [e.status_code for e in trail.events if e.direction == "in"] == ["01", "03"]


async def _delivered(agent):  # type: ignore[no-untyped-def]
    rows = await agent.service.sent()
    return [r for r in rows if r.kind == "edoc" and r.state == "delivered"]


async def _status(agent, code):  # type: ignore[no-untyped-def]
    return [r for r in await agent.service.sent() if r.last_status_code == code]


async def _acked(router, agent):  # type: ignore[no-untyped-def]
    return router.acks and not await agent.store.unacked_deliveries()
