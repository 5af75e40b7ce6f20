"""Private exchanges: restart mid-stream, redelivery and undeliverable (injected clock), overdue."""

from __future__ import annotations

import asyncio

from exchange_helpers import Exchange, document, signed, status
from test_status_life import _send


async def test_a_router_restart_mid_stream_loses_nothing_and_delivers_once(exchange: Exchange) -> None:
    ex = exchange
    ids = []
    for i in range(30):
        ids.append(await ex.agents.send(ex.vpcp.organ_id, signed(ex.vpcp, document(ex.vpcp, [ex.nghean])), "edoc"))
        if i == 10:
            await ex.restart_router()
    inbox = await ex.agents.inbox(ex.nghean.organ_id)
    await inbox.wait_for(lambda r: {h.message_id for h, _ in r.deliveries()} >= set(ids), timeout=30)
    await asyncio.sleep(0.5)
    await inbox.poll()
    delivered = [h.message_id for h, _ in inbox.deliveries()]
    assert sorted(delivered) == sorted(ids)  # every one, none twice
    assert await ex.ledger.pool.fetchval("SELECT count(*) FROM processed_messages") == 30


async def test_an_unacked_delivery_is_redelivered_with_backoff_then_undeliverable(exchange: Exchange) -> None:
    ex = exchange  # redelivery_after 600 s, limit 3
    message_id = await ex.agents.send(ex.vpcp.organ_id, signed(ex.vpcp, document(ex.vpcp, [ex.nghean])), "edoc")
    inbox = await ex.agents.inbox(ex.nghean.organ_id)
    for attempt, wait in ((1, 0), (2, 600), (3, 1200)):
        ex.clock.advance(wait)
        ex.router.wake()
        await inbox.wait_for(lambda r: len(r.deliveries(message_id)) == attempt)
        assert inbox.deliveries(message_id)[-1][0].attempt == attempt
    ex.clock.advance(2400)
    ex.router.wake()
    notice = await (await ex.agents.inbox(ex.vpcp.organ_id)).wait_for(
        lambda r: any(n.outcome == "undeliverable" for n in r.notices(message_id)))
    undeliverable = [n for n in (await ex.agents.inbox(ex.vpcp.organ_id)).notices(message_id) if n.outcome == "undeliverable"]
    assert undeliverable[0].recipient == ex.nghean.organ_id and "after 3 attempt" in undeliverable[0].reason
    assert ex.router.metrics.redelivered == 2 and ex.router.metrics.undeliverable == 1
    del notice


async def test_an_ack_stops_redelivery(exchange: Exchange) -> None:
    ex = exchange
    message_id = await ex.agents.send(ex.vpcp.organ_id, signed(ex.vpcp, document(ex.vpcp, [ex.nghean])), "edoc")
    inbox = await ex.agents.inbox(ex.nghean.organ_id)
    await inbox.wait_for(lambda r: bool(r.deliveries(message_id)))
    await ex.agents.ack(ex.nghean.organ_id, [inbox.deliveries(message_id)[0][0].delivery_id])
    for _ in range(50):
        if await ex.ledger.pool.fetchval("SELECT state FROM deliveries WHERE message_id = $1", message_id) == "acked":
            break
        await asyncio.sleep(0.1)
    ex.clock.advance(3600)
    ex.router.wake()
    await asyncio.sleep(0.5)
    await inbox.poll()
    assert len(inbox.deliveries(message_id)) == 1


async def test_overdue_lists_a_late_arrival_then_a_late_acceptance(exchange: Exchange) -> None:
    ex = exchange  # the clock starts Monday 09:00 in Hanoi
    pkg = document(ex.vpcp, [ex.nghean])
    assert (await _send(ex, ex.vpcp, pkg)).outcome == "accepted"
    inbox = await ex.agents.inbox(ex.nghean.organ_id)
    await inbox.wait_for(lambda r: bool(r.deliveries()))
    assert await ex.ledger.overdue() == []
    ex.clock.advance(16 * 60)
    [late] = await ex.ledger.overdue()
    assert (late.document_id, late.recipient, late.late_status) == (pkg.document_id, ex.nghean.organ_id, "01")
    assert (await _send(ex, ex.nghean, status(ex.nghean, pkg, "01"))).outcome == "accepted"
    assert await ex.ledger.overdue() == []
    ex.clock.advance(8 * 3600)  # past 17:00
    [late] = await ex.ledger.overdue()
    assert late.late_status == "03" and late.due_at.hour == 17
    assert await ex.ledger.overdue_count() == 1
