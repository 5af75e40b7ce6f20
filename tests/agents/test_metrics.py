"""Operators' metrics move with traffic: the router's `/metrics` (counters, latency histograms, lag, certificate
expiry) and an agent's `/metrics` (submissions, receipts, outbox, inbox), scraped before and after a document
and its receipts travelled through a real router, broker and ledger."""

from __future__ import annotations

import asyncio

import httpx
from agent_support import AUTH, FIELDS, RECIPIENT, SENDER, AgentFactory, client, register_both
from polling import eventually
from prometheus_client.parser import text_string_to_metric_families

from axis.bootstrap import build_ledger, build_router
from axis.metrics import MetricsServer


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_router_and_agent_metrics_move_with_a_document_and_its_receipts(
        make_agent: AgentFactory, settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    central = settings.replace(database_url=database_url)
    async with build_ledger(central) as ledger:
        await register_both(ledger, settings)
        router = build_router(central, ledger=ledger, poll_s=0.05, directory_poll_s=0.2, epoch_interval_s=0.5)
        async with router, MetricsServer(router, ledger, 0, refresh_s=0.2) as server, httpx.AsyncClient() as http:
            sender, recipient = await asyncio.gather(make_agent(SENDER), make_agent(RECIPIENT))

            async def scrape_router() -> dict:  # type: ignore[type-arg]
                return _samples((await http.get(f"http://127.0.0.1:{server.port}/metrics")).text)

            async with client(sender) as out, client(recipient) as inbox:
                async def scrape_agent(api: httpx.AsyncClient) -> dict:  # type: ignore[type-arg]
                    answer = await api.get("/metrics")  # no token needed
                    assert answer.status_code == 200
                    return _samples(answer.text)

                before, sender_before = await scrape_router(), await scrape_agent(out)
                assert _value(before, "axis_router_accepted_total") == 0
                assert _value(sender_before, "axis_agent_submissions_total", via="api", result="accepted") == 0

                made = await out.post("/documents", json=FIELDS, headers=AUTH)
                assert made.status_code == 201
                refused = await out.post("/documents", json={**FIELDS, "to": ["000.00.00.Z99"]}, headers=AUTH)
                assert refused.status_code == 422
                items = await eventually(lambda: recipient.service.received(kind="edoc"), timeout=30)
                await recipient.service.send_status(items[0].document_id, "03", "vào sổ")

                async def settled() -> bool:
                    samples = await scrape_router()
                    return (_value(samples, "axis_receipt_latency_seconds_count", code="03") >= 1
                            and _value(samples, "axis_delivery_latency_seconds_count") >= 1
                            and "axis_certificate_expiry_seconds" in {n for n, _ in samples})

                await eventually(settled, timeout=30)
                after, sender_after = await scrape_router(), await scrape_agent(out)
                recipient_after = await scrape_agent(inbox)

    assert _value(after, "axis_router_accepted_total") >= 3  # the document, the 01 and the 03
    assert _value(after, "axis_receipt_latency_seconds_count", code="01") >= 1
    assert _value(after, "axis_ledger_transaction_seconds_count") >= 1
    assert _value(after, "axis_router_batch_records_count") >= 1
    assert _value(after, "axis_router_facts_published_total") >= 3
    assert _value(after, "axis_router_consumer_lag_records") == 0
    assert 360 * 86400 < _value(after, "axis_certificate_expiry_seconds") < 3 * 365 * 86400  # dev certs: 730 days
    assert _value(after, "axis_router_healthy") == 1
    assert _value(sender_after, "axis_agent_submissions_total", via="api", result="accepted") == 1
    assert _value(sender_after, "axis_agent_submissions_total", via="api", result="refused") == 1
    assert _value(sender_after, "axis_agent_broker_connected") == 1
    assert _value(recipient_after, "axis_agent_receipts_sent_total", code="01") == 1
    assert _value(recipient_after, "axis_agent_receipts_sent_total", code="03") == 1
    assert _value(recipient_after, "axis_agent_inbox_waiting", kind="edoc") == 1
    assert "axis_agent_outbox_oldest_pending_age_seconds" in {n for n, _ in recipient_after}
