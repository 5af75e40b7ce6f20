"""Documents through a real router: delivery, fan-out, refusals, duplicates, restart."""

from __future__ import annotations

import asyncio
import dataclasses

from exchange_helpers import Exchange, document, signed

from axis import wire


async def test_a_document_reaches_its_one_recipient_with_the_exact_signed_bytes(shared_exchange: Exchange) -> None:
    body = signed(shared_exchange.vpcp, document(shared_exchange.vpcp, [shared_exchange.nghean]))
    message_id = await shared_exchange.agents.send(shared_exchange.vpcp.organ_id, body, "edoc")

    sender_inbox = await shared_exchange.agents.inbox(shared_exchange.vpcp.organ_id)
    notice = await sender_inbox.notice_for(message_id)
    assert notice.outcome == "accepted" and notice.recipients == (shared_exchange.nghean.organ_id,)

    inbox = await shared_exchange.agents.inbox(shared_exchange.nghean.organ_id)
    await inbox.wait_for(lambda r: bool(r.deliveries(message_id)))
    [(headers, value)] = inbox.deliveries(message_id)
    assert value == body
    assert headers.kind == "edoc" and headers.sender == shared_exchange.vpcp.organ_id and headers.attempt == 1
    assert headers.body_sha256 == wire.sha256_hex(body) and headers.delivery_id


async def test_a_document_fans_out_to_three_recipients(shared_exchange: Exchange) -> None:
    recipients = [shared_exchange.nghean, shared_exchange.caobang, shared_exchange.haiphong]
    pkg = document(shared_exchange.vpcp, recipients)
    message_id = await shared_exchange.agents.send(shared_exchange.vpcp.organ_id, signed(shared_exchange.vpcp, pkg), "edoc")
    delivery_ids = set()
    for party in recipients:
        inbox = await shared_exchange.agents.inbox(party.organ_id)
        await inbox.wait_for(lambda r: bool(r.deliveries(message_id)))
        delivery_ids.add(inbox.deliveries(message_id)[0][0].delivery_id)
    assert len(delivery_ids) == 3
    trail = await shared_exchange.ledger.trail(pkg.document_id)
    assert trail is not None and sorted(trail["recipients"]) == sorted(p.organ_id for p in recipients)
    assert shared_exchange.router.metrics.accepted >= 1 and shared_exchange.router.healthy


async def _refusal(exchange: Exchange, body: bytes, sender: str) -> wire.Notice:
    message_id = await exchange.agents.send(sender, body, "edoc")
    notice = await (await exchange.agents.inbox(sender)).notice_for(message_id)
    assert notice.outcome == "refused"
    return notice


async def test_an_unsigned_package_is_refused_and_dead_lettered(shared_exchange: Exchange) -> None:
    import edxml

    body = edxml.serialize(document(shared_exchange.vpcp, [shared_exchange.nghean]))
    before = shared_exchange.router.metrics.refused["unsigned"]
    notice = await _refusal(shared_exchange, body, shared_exchange.vpcp.organ_id)
    assert notice.reason.startswith("unsigned:")
    assert shared_exchange.router.metrics.refused["unsigned"] == before + 1


async def test_a_package_signed_by_another_agency_than_from_is_refused(shared_exchange: Exchange) -> None:
    body = signed(shared_exchange.caobang, document(shared_exchange.vpcp, [shared_exchange.nghean]))
    notice = await _refusal(shared_exchange, body, shared_exchange.vpcp.organ_id)
    assert notice.reason.startswith("organ-mismatch:")


async def test_a_certificate_not_registered_for_the_sender_is_refused(shared_exchange: Exchange) -> None:
    body = signed(shared_exchange.rogue, document(shared_exchange.rogue, [shared_exchange.nghean]))
    notice = await _refusal(shared_exchange, body, shared_exchange.rogue.organ_id)
    assert notice.reason.startswith("unregistered-certificate:")


async def test_an_unknown_recipient_is_refused_with_the_reason(shared_exchange: Exchange) -> None:
    import edxml

    pkg = document(shared_exchange.vpcp, [shared_exchange.nghean])
    stranger = edxml.Organization("000.00.00.H99", "Không có", "Không có", "Hà Nội")
    header = dataclasses.replace(pkg.header, to=(stranger,))
    pkg = edxml.DocumentPackage(header, pkg.trace, pkg.attachments)
    notice = await _refusal(shared_exchange, signed(shared_exchange.vpcp, pkg), shared_exchange.vpcp.organ_id)
    assert notice.reason.startswith("unknown-recipient:") and "000.00.00.H99" in notice.reason


async def test_a_resent_message_is_confirmed_as_duplicate_and_delivered_once(shared_exchange: Exchange) -> None:
    body = signed(shared_exchange.vpcp, document(shared_exchange.vpcp, [shared_exchange.nghean]))
    message_id = await shared_exchange.agents.send(shared_exchange.vpcp.organ_id, body, "edoc")
    await shared_exchange.agents.send(shared_exchange.vpcp.organ_id, body, "edoc", message_id=message_id)
    sender_inbox = await shared_exchange.agents.inbox(shared_exchange.vpcp.organ_id)
    await sender_inbox.wait_for(lambda r: len(r.notices(message_id)) == 2)
    assert [n.outcome for n in sender_inbox.notices(message_id)] == ["accepted", "duplicate"]
    inbox = await shared_exchange.agents.inbox(shared_exchange.nghean.organ_id)
    await inbox.wait_for(lambda r: bool(r.deliveries(message_id)))
    await asyncio.sleep(0.3)
    await inbox.poll()
    assert len(inbox.deliveries(message_id)) == 1
