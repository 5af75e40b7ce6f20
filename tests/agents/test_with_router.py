"""End to end with the REAL router and ledger (PostgreSQL from the fixtures): two agents, a document, statuses."""

from __future__ import annotations

import asyncio

from agent_support import AUTH, RECIPIENT, SENDER, AgentFactory, client, register_both
from cryptography import x509
from polling import eventually

from agents.model import AttachmentInput, DocumentFields, OrganInput
from axis.bootstrap import build_ledger, build_router, evidence_desk
from axis.metrics import MetricsServer
from axis.proof import verify_bundle


async def test_a_document_and_its_statuses_travel_through_the_router(
        make_agent: AgentFactory, settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    central = settings.replace(database_url=database_url)
    async with build_ledger(central) as ledger:
        await register_both(ledger, settings)
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


async def test_the_document_system_gets_the_exchange_evidence_of_its_own_documents_from_its_agent(
        make_agent: AgentFactory, settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """`GET /evidence` on the agent: signed by the agency, answered by the router's HTTP, verified offline."""
    central = settings.replace(database_url=database_url)
    async with build_ledger(central) as ledger:
        await register_both(ledger, settings)
        async with build_router(central, ledger=ledger, poll_s=0.05, directory_poll_s=0.2,
                                epoch_interval_s=0.5) as router, \
                MetricsServer(router, ledger, 0, evidence=evidence_desk(central, ledger)) as http:
            at_exchange = settings.replace(exchange_url=f"http://127.0.0.1:{http.port}")
            sender = await make_agent(SENDER, settings=at_exchange)
            recipient = await make_agent(RECIPIENT, settings=at_exchange)
            fields = DocumentFields(to=(OrganInput(RECIPIENT),), subject="Cần chứng cứ", code_number="22",
                                    code_notation="VPCP-TTĐT")
            sub = await sender.service.submit_document(fields, [AttachmentInput("a.pdf", b"%PDF")])
            await eventually(lambda: _state(sender, "delivered"), timeout=30)
            trust = x509.load_pem_x509_certificates((settings.pki_dir / "ca.pem").read_bytes())
            for agent in (sender, recipient):
                async with client(agent) as api:
                    answer = await api.get("/evidence", params={"document_id": sub.document_id}, headers=AUTH)
                    assert answer.status_code == 200, answer.text
                    assert answer.headers["content-disposition"].endswith('.zip"')
                    report = verify_bundle(answer.content, trust=trust, exchange=central.exchange_organ_id)
                    assert report.ok and report.document_id == sub.document_id, report.as_json()
                    unknown = await api.get("/evidence", params={"document_id": "x,2026/01/01,1/KHONG"}, headers=AUTH)
                    assert unknown.status_code == 404 and "no document" in unknown.json()["detail"]
                    assert (await api.get("/evidence", params={"document_id": sub.document_id})).status_code == 401
