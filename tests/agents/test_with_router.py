"""End to end with the REAL router and ledger (PostgreSQL from the fixtures): two agents, a document, statuses."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from agent_support import RECIPIENT, SENDER, AgentFactory
from polling import eventually

from agents.model import AttachmentInput, DocumentFields, OrganInput
from axis.bootstrap import build_ledger, build_router


async def test_a_document_and_its_statuses_travel_through_the_router(
        make_agent: AgentFactory, settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    central = settings.replace(database_url=database_url)
    async with build_ledger(central) as ledger:
        for organ, name in ((SENDER, "Văn phòng Chính phủ"), (RECIPIENT, "UBND Tỉnh Nghệ An")):
            pem = (settings.pki_dir / f"{organ}.pem").read_text()
            await ledger.directory.add(organ, name, certificates=[pem], at=datetime.now(timezone.utc))
        async with build_router(central, ledger=ledger, poll_s=0.05, directory_poll_s=0.2, epoch_interval_s=0.5):
            sender, recipient = await asyncio.gather(make_agent(SENDER), make_agent(RECIPIENT))
            fields = DocumentFields(to=(OrganInput(RECIPIENT),), subject="Qua router", code_number="21",
                                    code_notation="VPCP-TTĐT")
            sub = await sender.service.submit_document(fields, [AttachmentInput("a.pdf", b"%PDF")])
            items = await eventually(lambda: recipient.service.received(kind="edoc"), timeout=30)
            assert items[0].message_id == sub.message_id and items[0].sent_at is not None
            await eventually(lambda: _state(sender, "delivered"), timeout=30)
            await recipient.service.send_status(sub.document_id, "06", "xong")
            await eventually(lambda: _status(sender, "06"), timeout=30)
            await eventually(lambda: _no_pending(sender, recipient), timeout=30)
            assert [a.organ_id for a in await sender.service.agencies()] == sorted([SENDER, RECIPIENT])


async def _state(agent, state):  # type: ignore[no-untyped-def]
    return [r for r in await agent.service.sent() if r.kind == "edoc" and r.state == state]


async def _status(agent, code):  # type: ignore[no-untyped-def]
    return [r for r in await agent.service.sent() if r.last_status_code == code]


async def _no_pending(*agents):  # type: ignore[no-untyped-def]
    return all([await a.store.count_pending() == 0 for a in agents])
