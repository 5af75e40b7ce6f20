"""The router is never healthy while failing: a check that fails with an internal error (a broken native
library, a bug) refuses that package visibly, answers `degraded` on `/health` with the error id and its count,
and returns to `ok` once checks work again. The fault is injected by a verifier that breaks."""

from __future__ import annotations

import httpx
from exchange_helpers import Exchange, document, signed
from polling import eventually

from axis.bootstrap import build_router, build_verifier
from axis.metrics import MetricsServer
from signing import Verifier


class BreakableVerifier(Verifier):
    broken = True

    def verify(self, data, *, expected_organ_id=None):  # type: ignore[no-untyped-def]
        if self.broken:
            raise RuntimeError("xmlSecDSigCtxVerify: native state lost")
        return super().verify(data, expected_organ_id=expected_organ_id)


async def test_internal_errors_make_health_degraded_and_are_refused_visibly_until_checks_work(exchange: Exchange) -> None:
    await exchange.router.stop()
    trusted = build_verifier(exchange.settings)
    verifier = BreakableVerifier(trusted.trust)
    exchange.router = build_router(exchange.settings, ledger=exchange.ledger, verifier=verifier, clock=exchange.clock,
                                   poll_s=0.05, directory_poll_s=0.2, epoch_interval_s=0.5)
    await exchange.router.start()
    async with MetricsServer(exchange.router, exchange.ledger, 0) as metrics, httpx.AsyncClient() as http:
        health = (await http.get(f"http://127.0.0.1:{metrics.port}/health")).json()
        assert health["status"] == "ok"
        vpcp, nghean = exchange.vpcp, exchange.nghean
        sender_inbox = await exchange.agents.inbox(vpcp.organ_id)
        for _ in range(3):
            message_id = await exchange.agents.send(vpcp.organ_id, signed(vpcp, document(vpcp, [nghean])), "edoc")
            notice = await sender_inbox.notice_for(message_id)
            assert notice.outcome == "refused" and notice.reason.startswith("internal-error: ")
        answer = await http.get(f"http://127.0.0.1:{metrics.port}/health")
        report = answer.json()
        assert answer.status_code == 503 and report["status"] == "degraded"
        failing = report["internal_errors"]["failing"]["judging packages"]
        assert failing["count"] == 3 and failing["error_id"] in notice.reason and "native state lost" in failing["error"]

        verifier.broken = False
        message_id = await exchange.agents.send(vpcp.organ_id, signed(vpcp, document(vpcp, [nghean])), "edoc")
        assert (await sender_inbox.notice_for(message_id)).outcome == "accepted"

        async def ok() -> bool:
            return (await http.get(f"http://127.0.0.1:{metrics.port}/health")).json()["status"] == "ok"

        await eventually(ok)
        text = (await http.get(f"http://127.0.0.1:{metrics.port}/metrics")).text
        assert 'axis_router_refused_total{reason="internal-error"} 3.0' in text
