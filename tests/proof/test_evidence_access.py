"""Evidence for agencies: an agent asks the router's HTTP with a request signed by the agency's key, and gets
the bundle of a document its agency sent or received, exactly as the operators' `axis evidence` makes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from cryptography import x509
from exchange_helpers import Exchange, document, signed

from agents.errors import Conflict, NotFound
from agents.evidence import EvidenceClient
from axis.bootstrap import evidence_desk
from axis.metrics import MetricsServer
from axis.proof import EVIDENCE_REQUEST_HEADER, sign_evidence_request, verify_bundle


@pytest_asyncio.fixture
async def exchange_url(exchange: Exchange) -> AsyncIterator[str]:
    desk = evidence_desk(exchange.settings, exchange.ledger, clock=exchange.clock)
    async with MetricsServer(exchange.router, exchange.ledger, 0, evidence=desk) as server:
        yield f"http://127.0.0.1:{server.port}"


async def _sent(exchange: Exchange) -> str:
    vpcp, nghean, caobang = exchange.vpcp, exchange.nghean, exchange.caobang
    doc = document(vpcp, [nghean, caobang], subject="Về việc cấp chứng cứ")
    message_id = await exchange.agents.send(vpcp.organ_id, signed(vpcp, doc), "edoc", key=doc.document_id)
    assert (await (await exchange.agents.inbox(vpcp.organ_id)).notice_for(message_id)).outcome == "accepted"
    return doc.document_id


def _client(exchange: Exchange, name: str, url: str) -> EvidenceClient:
    party = exchange.parties[name]
    return EvidenceClient(party.organ_id, party.signer.identity, url, exchange.clock)


async def test_the_sender_and_each_recipient_get_a_bundle_that_verifies_and_no_one_else_does(
        exchange: Exchange, exchange_url: str) -> None:
    document_id = await _sent(exchange)
    trust = x509.load_pem_x509_certificates((exchange.settings.pki_dir / "ca.pem").read_bytes())
    for name in ("vpcp", "nghean", "caobang"):
        bundle = await _client(exchange, name, exchange_url).bundle(document_id)
        report = verify_bundle(bundle, trust=trust, exchange=exchange.settings.exchange_organ_id)
        assert report.ok and report.document_id == document_id, (name, report.as_json())
    with pytest.raises(Conflict, match="neither sent nor received"):
        await _client(exchange, "haiphong", exchange_url).bundle(document_id)
    with pytest.raises(NotFound, match="no document"):
        await _client(exchange, "vpcp", exchange_url).bundle("000.00.00.G22,2026/12/01,999/VPCP-KHONGCO")


async def test_a_request_signed_by_another_key_too_old_or_missing_is_refused(
        exchange: Exchange, exchange_url: str) -> None:
    document_id = await _sent(exchange)
    vpcp, nghean = exchange.vpcp, exchange.nghean
    now = exchange.clock()

    async def ask(header: str | None) -> httpx.Response:
        headers = {EVIDENCE_REQUEST_HEADER: header} if header else {}
        async with httpx.AsyncClient() as client:
            return await client.get(f"{exchange_url}/evidence", params={"document_id": document_id}, headers=headers)

    as_vpcp_by_nghean = sign_evidence_request(nghean.signer.identity, vpcp.organ_id, document_id, sender=None, at=now)
    answer = await ask(as_vpcp_by_nghean)
    assert answer.status_code == 401 and "does not verify" in answer.json()["detail"]
    stale = sign_evidence_request(vpcp.signer.identity, vpcp.organ_id, document_id, sender=None,
                                  at=now - timedelta(minutes=10))
    answer = await ask(stale)
    assert answer.status_code == 401 and "more than 5 minutes" in answer.json()["detail"]
    other_document = sign_evidence_request(vpcp.signer.identity, vpcp.organ_id, "another", sender=None, at=now)
    answer = await ask(other_document)  # signed for another DocumentId: the signature does not cover this one
    assert answer.status_code == 401
    assert (await ask(None)).status_code == 400
    assert (await ask(sign_evidence_request(vpcp.signer.identity, vpcp.organ_id, document_id, sender=None,
                                            at=now))).status_code == 200


async def test_an_agency_whose_certificate_is_not_registered_is_refused(exchange: Exchange, exchange_url: str) -> None:
    document_id = await _sent(exchange)
    rogue = exchange.rogue  # a certificate from the exchange CA, but not in the directory
    await exchange.ledger.directory.add(rogue.organ_id, rogue.name, at=exchange.clock())
    with pytest.raises(Conflict, match="not registered"):
        await _client(exchange, "rogue", exchange_url).bundle(document_id)
