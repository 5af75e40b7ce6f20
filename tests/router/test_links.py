"""Revoke, update and replace packages shaped like the national SDK samples, linked in the ledger."""

from __future__ import annotations

from exchange_helpers import Exchange
from test_status_life import _document, _send

import edxml


async def _trail(ex: Exchange, document_id: str) -> dict:
    trail = await ex.ledger.trail(document_id)
    assert trail is not None
    return trail


async def test_a_revocation_names_its_document_in_response_for_like_the_sdk_sample(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    original = await _document(ex, [ex.nghean, ex.caobang])
    revoke = edxml.build_document(
        sender=ex.vpcp.org, recipients=[ex.nghean.org, ex.caobang.org], code=edxml.Code("9001", "VPCP-TTĐT"),
        subject="Thu hồi", doc_type=edxml.BusinessDocType.REVOKE, reason="Thu hồi văn bản điện tử",
        response_for=[edxml.ResponseFor(ex.nghean.organ_id, "x", None, original.document_id)],
        document_id=original.document_id + "-thu-hoi",
    )
    assert (await _send(ex, ex.vpcp, revoke)).outcome == "accepted"
    trail = await _trail(ex, original.document_id)
    assert trail["concerned_by"] == [{"document_id": revoke.document_id, "business_type": "revoke",
                                      "organ_ids": [ex.nghean.organ_id, ex.caobang.organ_id]}]
    assert trail["recipients"][ex.nghean.organ_id]["events"][-1]["kind"] == "revoked"


async def test_an_update_links_by_bussiness_document_id_and_may_drop_a_receiver(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    original = await _document(ex, [ex.nghean, ex.caobang])
    update = edxml.build_document(
        sender=ex.vpcp.org, recipients=[ex.nghean.org, ex.haiphong.org], code=edxml.Code("9002", "VPCP-TTĐT"),
        subject="Cập nhật", doc_type=edxml.BusinessDocType.UPDATE, reason="Cập nhật văn bản điện tử",
        business_document_id=original.document_id,
    )
    assert (await _send(ex, ex.vpcp, update)).outcome == "accepted"
    trail = await _trail(ex, original.document_id)
    assert trail["concerned_by"][0]["business_type"] == "update"
    assert trail["recipients"][ex.nghean.organ_id]["events"][-1]["kind"] == "updated"
    assert trail["recipients"][ex.caobang.organ_id]["events"][-1]["kind"] == "receiver-removed"
    new = await _trail(ex, update.document_id)
    assert sorted(new["recipients"]) == sorted([ex.nghean.organ_id, ex.haiphong.organ_id])  # added one receives it
    # a recipient answers the change request with 15
    from test_status_life import _status
    assert (await _status(ex, ex.nghean, original, "15", 1)).outcome == "accepted"


async def test_a_replacement_links_every_replacement_info(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    first, second = await _document(ex, [ex.nghean]), await _document(ex, [ex.caobang])
    replace = edxml.build_document(
        sender=ex.vpcp.org, recipients=[ex.nghean.org, ex.caobang.org], code=edxml.Code("9003", "VPCP-TTĐT"),
        subject="Thay thế", doc_type=edxml.BusinessDocType.REPLACE, reason="Văn bản thay thế",
        replacements=[edxml.ReplacementInfo(first.document_id, (ex.nghean.organ_id,)),
                      edxml.ReplacementInfo(second.document_id, (ex.caobang.organ_id,))],
    )
    assert (await _send(ex, ex.vpcp, replace)).outcome == "accepted"
    concerns = (await _trail(ex, replace.document_id))["concerns"]
    assert {c["document_id"] for c in concerns} == {first.document_id, second.document_id}


async def test_only_the_sender_may_change_a_document_and_it_must_exist(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    original = await _document(ex, [ex.nghean])
    foreign = edxml.build_document(
        sender=ex.caobang.org, recipients=[ex.nghean.org], code=edxml.Code("9004", "UBND"), subject="x",
        doc_type=edxml.BusinessDocType.REVOKE, business_document_id=original.document_id,
    )
    notice = await _send(ex, ex.caobang, foreign)
    assert notice.outcome == "refused" and notice.reason.startswith("not-document-sender:")
    unknown = edxml.build_document(
        sender=ex.vpcp.org, recipients=[ex.nghean.org], code=edxml.Code("9005", "VPCP"), subject="x",
        doc_type=edxml.BusinessDocType.UPDATE, business_document_id="000.00.00.G22,2014/02/28,7806/VPCP-TTĐT",
    )
    notice = await _send(ex, ex.vpcp, unknown)
    assert notice.outcome == "refused" and notice.reason.startswith("unknown-document:")
