"""Status life through a real router: transitions, refusals, out-of-order arrival, withdraw exchange."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from exchange_helpers import Exchange, Party, document, signed, status

import edxml
from axis import wire

T0 = datetime(2025, 3, 3, 9, 0)  # package timestamps are naive Hanoi local time


async def _send(ex: Exchange, party: Party, pkg: edxml.Package) -> wire.Notice:
    message_id = await ex.agents.send(party.organ_id, signed(party, pkg), pkg.kind)
    return await (await ex.agents.inbox(party.organ_id)).notice_for(message_id)


async def _document(ex: Exchange, recipients: list[Party]) -> edxml.DocumentPackage:
    pkg = document(ex.vpcp, recipients)
    assert (await _send(ex, ex.vpcp, pkg)).outcome == "accepted"
    return pkg


async def _status(ex: Exchange, party: Party, doc: edxml.DocumentPackage, code: str, minutes: int = 0,
                  to: Party | None = None) -> wire.Notice:
    return await _send(ex, party, status(party, doc, code, to=to, at=T0 + timedelta(minutes=minutes)))


async def _recipient(ex: Exchange, doc: edxml.DocumentPackage, party: Party) -> dict[str, Any]:
    trail = await ex.ledger.trail(doc.document_id)
    assert trail is not None
    return trail["recipients"][party.organ_id]


async def test_every_forward_transition_is_recorded_and_reaches_the_sender(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    doc = await _document(ex, [ex.nghean])
    for minutes, (code, state) in enumerate(
        [("01", "arrived"), ("03", "accepted"), ("04", "assigned"), ("05", "processing"), ("06", "done")]
    ):
        notice = await _status(ex, ex.nghean, doc, code, minutes)
        assert notice.outcome == "accepted", notice.reason
        assert (await _recipient(ex, doc, ex.nghean))["state"] == state
    sender_inbox = await ex.agents.inbox(ex.vpcp.organ_id)
    await sender_inbox.wait_for(lambda r: len([h for h, _ in r.deliveries() if h.kind == "status"
                                              and h.sender == ex.nghean.organ_id]) >= 5)
    codes = [e["status_code"] for e in (await _recipient(ex, doc, ex.nghean))["events"] if e["kind"] == "status"]
    assert codes == ["01", "03", "04", "05", "06"]


async def test_a_refusal_ends_the_life_and_later_statuses_are_refused_with_a_reason(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    doc = await _document(ex, [ex.nghean])
    assert (await _status(ex, ex.nghean, doc, "02", 1)).outcome == "accepted"
    assert (await _recipient(ex, doc, ex.nghean))["state"] == "refused"
    late = await _status(ex, ex.nghean, doc, "03", 2)
    assert late.outcome == "refused" and "refused (02)" in late.reason
    events = (await _recipient(ex, doc, ex.nghean))["events"]
    assert events[-1]["kind"] == "status-refused" and events[-1]["status_code"] == "03"


async def test_transitions_that_cannot_happen_are_refused(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    doc = await _document(ex, [ex.nghean, ex.caobang])
    assert (await _status(ex, ex.nghean, doc, "03", 1)).outcome == "accepted"
    cases = [
        (ex.nghean, "02", 2, "already accepted"),          # refuse after accepting
        (ex.nghean, "03", 3, "already recorded"),          # the same status twice
        (ex.haiphong, "01", 4, "not-a-recipient"),         # not a recipient of the document
        (ex.vpcp, "03", 5, "not-a-recipient"),             # the sender reporting a recipient's status
        (ex.nghean, "15", 6, "no withdraw or change"),     # an answer nobody asked for
        (ex.nghean, "13", 7, "not-document-sender"),       # a recipient asking to withdraw
    ]
    for party, code, minutes, why in cases:
        notice = await _status(ex, party, doc, code, minutes, to=ex.nghean if party is ex.vpcp else None)
        assert notice.outcome == "refused" and why in notice.reason, (code, notice.reason)
    assert (await _status(ex, ex.nghean, doc, "06", 10)).outcome == "accepted"
    after_done = await _status(ex, ex.nghean, doc, "05", 11)
    assert after_done.outcome == "refused" and "ended processing" in after_done.reason


async def test_out_of_order_statuses_are_kept_and_the_state_follows_the_defined_order(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    doc = await _document(ex, [ex.nghean])
    assert (await _status(ex, ex.nghean, doc, "05", 30)).outcome == "accepted"
    assert (await _status(ex, ex.nghean, doc, "03", 10)).outcome == "accepted"
    assert (await _status(ex, ex.nghean, doc, "01", 5)).outcome == "accepted"
    recipient = await _recipient(ex, doc, ex.nghean)
    assert recipient["state"] == "processing" and recipient["status_code"] == "05"
    assert [e["status_code"] for e in recipient["events"] if e["kind"] == "status"] == ["05", "03", "01"]


async def test_withdraw_exchange_shows_the_outcome_per_recipient(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    doc = await _document(ex, [ex.nghean, ex.caobang])
    assert (await _status(ex, ex.nghean, doc, "06", 1)).outcome == "accepted"
    for party in (ex.nghean, ex.caobang):
        assert (await _status(ex, ex.vpcp, doc, "13", 2, to=party)).outcome == "accepted"
    for party in (ex.nghean, ex.caobang):  # the request reaches each recipient
        inbox = await ex.agents.inbox(party.organ_id)
        await inbox.wait_for(lambda r: any(h.kind == "status" and h.sender == ex.vpcp.organ_id for h, _ in r.deliveries()))
    again = await _status(ex, ex.vpcp, doc, "13", 3, to=ex.nghean)
    assert again.outcome == "refused" and "already requested" in again.reason
    assert (await _status(ex, ex.nghean, doc, "15", 4)).outcome == "accepted"   # allowed even after 06
    assert (await _status(ex, ex.caobang, doc, "16", 4)).outcome == "accepted"
    assert (await _recipient(ex, doc, ex.nghean))["withdrawal"] == "agreed"
    assert (await _recipient(ex, doc, ex.caobang))["withdrawal"] == "refused"
