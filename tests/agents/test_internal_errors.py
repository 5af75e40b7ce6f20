"""Never healthy while failing: an agent whose submissions fail with an internal error answers 500 with an
error id, says `degraded` in `/health` with the error and its count, and logs the fault once, not a traceback
per request. The fault is injected by a signer that breaks (the agent's own code path, a real agent and broker).
"""

from __future__ import annotations

import logging

import httpx
import pytest
from agent_support import AUTH, FIELDS, RECIPIENT, SENDER, AgentFactory, client
from sdk_client import SECRET, SdkLikeClient

import edxml
from agents.vdxp import SdkClientRegistry
from axis.internal_errors import InternalErrors
from signing import Signer, SigningIdentity


class BreakableSigner(Signer):
    """A real signer that fails like a broken native library while `broken` is set."""

    broken = True

    def sign_in_place(self, root):  # type: ignore[no-untyped-def]
        if self.broken:
            raise RuntimeError("xmlSecCtxSign failed: native state lost")
        return super().sign_in_place(root)


async def test_failing_submissions_answer_500_with_an_id_and_health_says_degraded_until_they_work(
        make_agent: AgentFactory, settings, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    pki = settings.pki_dir
    signer = BreakableSigner(SigningIdentity.from_files(pki / f"{SENDER}-key.pem", pki / f"{SENDER}.pem"))
    agent = await make_agent(SENDER, signer=signer)
    caplog.set_level(logging.INFO)
    async with client(agent) as http:
        assert (await http.get("/health")).json()["status"] == "ok"
        answers = [await http.post("/documents", json={**FIELDS, "code_number": str(n)}, headers=AUTH)
                   for n in range(5)]
        assert {a.status_code for a in answers} == {500}
        ids = {a.json()["error_id"] for a in answers}
        assert len(ids) == 1 and all(a.json()["error"] == "internal-error" for a in answers)
        health = await http.get("/health")
        report = health.json()
        assert health.status_code == 503 and report["status"] == "degraded"
        failing = report["internal_errors"]["failing"]["POST /documents"]
        assert failing["error_id"] in ids and failing["count"] == 5 and "native state lost" in failing["error"]
        lines = [r for r in caplog.records if failing["error_id"] in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is not None  # logged once, with its traceback

        signer.broken = False
        made = await http.post("/documents", json={**FIELDS, "code_number": "99"}, headers=AUTH)
        assert made.status_code == 201, made.text
        again = (await http.get("/health")).json()
        assert again["status"] == "ok" and again["internal_errors"]["total"] == 5


async def test_the_sdk_facade_counts_its_internal_errors_in_the_agents_health(
        make_agent: AgentFactory, settings) -> None:  # type: ignore[no-untyped-def]
    pki = settings.pki_dir
    signer = BreakableSigner(SigningIdentity.from_files(pki / f"{SENDER}-key.pem", pki / f"{SENDER}.pem"))
    agent = await make_agent(SENDER, signer=signer)
    SdkClientRegistry(agent.directory / "sdk-clients.json").add(SENDER, may_send_for=(SENDER,), secret=SECRET)
    package = edxml.serialize(edxml.build_document(
        sender=edxml.Organization(SENDER, "Văn phòng Chính phủ"), recipients=[edxml.Organization(RECIPIENT, "Nghệ An")],
        code=edxml.Code("77", "VPCP-TH"), subject="Về việc họp"))
    async with client(agent) as http:
        http.base_url = httpx.URL("http://agent/vdxp")
        answer = await SdkLikeClient(http, SENDER).send_edoc(package, from_=SENDER)
        assert answer.status_code == 500 and "internal error E-" in answer.json()["ErrorDesc"]
        http.base_url = httpx.URL("http://agent")
        report = (await http.get("/health")).json()
    assert report["status"] == "degraded" and "vdxp sendEdoc" in report["internal_errors"]["failing"]


def test_repeats_are_summarised_in_one_line_at_most_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    errors = InternalErrors("router", logging.getLogger("test.errors"), summary_every_s=60, window_s=300,
                            clock=lambda: now[0])
    caplog.set_level(logging.ERROR, logger="test.errors")

    def fail() -> None:
        try:
            raise ValueError(f"bad thing at {now[0]}")
        except ValueError as exc:
            errors.record("batch", exc)

    for _ in range(100):
        fail()
        now[0] += 1
    assert len(caplog.records) == 2  # the first, then one summary after 60 s
    assert "happened 60 more time(s), 61 in all" in caplog.records[1].getMessage()
    assert errors.failing()["batch"].count == 100
    now[0] += 301
    assert errors.failing() == {}  # outside the window: no longer failing
    fail()
    errors.succeeded("batch")
    assert errors.failing() == {} and errors.report()["total"] == 101
