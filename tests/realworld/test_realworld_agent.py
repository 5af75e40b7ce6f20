"""Real traffic, without a broker: each corpus file through the agent (its API's service call and its SDK
facade), and what the agent signed through the router's own check (`Judge`, strict with the directory).

One rule set: whatever an agent answers OK for, the router accepts for its form; what it refuses, it
refuses at once, saying what and where; and what it repaired or assumed is in its answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import ConsumerRecord
from realworld_support import ANSWERED, CASES, DIRECTORY, H41, SENDERS, Case, the_corpus_is_complete
from sdk_client import SECRET, SdkLikeClient

import edxml
from agents.errors import InvalidInput
from agents.relay import outbound_record
from agents.service import AgentService
from agents.store import InboxEntry, Store
from agents.vdxp import SdkClientRegistry, create_vdxp_app
from axis.router._verdict import Judge
from axis.wire import DirectoryEntry, now_ms
from signing import DevPki, Signer, SigningIdentity, TrustStore, Verifier


@dataclass
class Agent:
    service: AgentService
    store: Store
    sdk: SdkLikeClient


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    pki = DevPki(tmp_path_factory.mktemp("pki"))
    pki.init(algorithm="ec")
    for organ in SENDERS:
        pki.issue(organ, DIRECTORY[organ], "ec")
    return pki


@pytest.fixture
async def agents(tmp_path: Path, pki: DevPki) -> AsyncIterator[dict[str, Agent]]:
    """An agent per sender, each with the whole directory; the answering agency holds the answered document."""
    made: dict[str, Agent] = {}
    clients: list[httpx.AsyncClient] = []
    for organ in SENDERS:
        store = Store(tmp_path / organ / "agent.sqlite", synchronous="NORMAL")
        await store.open()
        for organ_id, name in DIRECTORY.items():
            await store.upsert_directory(DirectoryEntry(organ_id, name))
        await store.mark_directory_synced()
        service = AgentService(organ, store, Signer(SigningIdentity.from_files(pki.key_path(organ), pki.cert_path(organ))))
        registry = SdkClientRegistry(tmp_path / organ / "sdk-clients.json")
        registry.add(organ, may_send_for=(organ,), secret=SECRET)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(create_vdxp_app(service, registry)), base_url="http://a")
        clients.append(http)
        made[organ] = Agent(service, store, SdkLikeClient(http, organ))
    answered = CASES[0].data
    async with made["000.00.00.G22"].store.unit_of_work() as uow:
        await uow.add_inbox(InboxEntry("m-answered", "edoc", H41, ANSWERED, ("000.00.00.G22",), "subject", None, "",
                                       0, H41, answered, None), None)
        await uow.commit()
    try:
        yield made
    finally:
        for http in clients:
            await http.aclose()
        for agent in made.values():
            await agent.store.close()


@pytest.fixture(scope="module")
def judge(pki: DevPki) -> Judge:
    """The router's database-free check, knowing the directory as the router does."""
    return Judge(Verifier(TrustStore.from_files([pki.ca_path])), max_package_bytes=edxml.DEFAULT_MAX_BYTES,
                 known_organs=set(DIRECTORY))


def test_every_file_of_the_corpus_has_a_case() -> None:
    the_corpus_is_complete()


async def _router_check(agent: Agent, judge: Judge, case: Case) -> edxml.Package:
    rows = await agent.store.due(100)
    assert len(rows) == 1, rows
    out = outbound_record(case.sender, rows[0], now_ms())
    record = ConsumerRecord(out.topic, 0, 0, 0, 0, out.key, out.value, None, 0, len(out.value), list(out.headers))
    verdict = judge.one(record)
    assert verdict.refusal is None, verdict.refusal
    assert verdict.package is not None
    return verdict.package


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_what_the_agent_takes_from_its_api_the_router_accepts(
        case: Case, agents: dict[str, Agent], judge: Judge) -> None:
    agent = agents[case.sender]
    if not case.accepted:
        with pytest.raises(InvalidInput) as refused:
            await agent.service.submit_package(case.data, source=case.name)
        assert all(text in refused.value.message for text in case.says), refused.value.message
        assert refused.value.message.startswith(case.name + ":")
        assert await agent.store.count_pending() == 0
        return
    submission = await agent.service.submit_package(case.data, source=case.name)
    said = "\n".join(submission.warnings)
    assert all(text in said for text in case.says), said
    package = await _router_check(agent, judge, case)
    assert package.document_id == submission.document_id
    assert set(package.recipients) == set(case.recipients)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_the_sdk_facade_takes_the_same_files_and_says_what_it_assumed(
        case: Case, agents: dict[str, Agent], judge: Judge) -> None:
    agent = agents[case.sender]
    messagetype = "edoc" if case.name.find("status") < 0 else "status"
    answer = (await agent.sdk.send_edoc(case.data, messagetype=messagetype, from_=case.sender)).json()
    if not case.accepted:
        assert answer["status"] == "FAIL" and all(t in answer["ErrorDesc"] for t in case.says), answer
        return
    assert answer["status"] == "OK", answer
    assert all(text in "\n".join(answer["warnings"]) for text in case.says), answer["warnings"]
    package = await _router_check(agent, judge, case)
    assert set(package.recipients) == set(case.recipients)


async def test_a_recipient_not_in_the_directory_is_refused_at_once_by_name(agents: dict[str, Agent]) -> None:
    data = CASES[0].data.replace(b"000.00.00.G22", b"000.00.00.G99")
    with pytest.raises(InvalidInput) as refused:
        await agents[H41].service.submit_package(data, source="stranger.edxml")
    assert refused.value.code == "unknown-recipient"
    assert "recipient 000.00.00.G99 is not in the exchange's directory" in refused.value.message
    assert await agents[H41].store.count_pending() == 0


async def test_a_disabled_recipient_is_refused_at_once(agents: dict[str, Agent]) -> None:
    store = agents[H41].store
    await store.upsert_directory(DirectoryEntry("000.00.00.G22", "Văn phòng Chính phủ", active=False,
                                                updated_at_ms=now_ms() + 1000))
    with pytest.raises(InvalidInput) as refused:
        await agents[H41].service.submit_package(CASES[0].data, source="01.edxml")
    assert refused.value.code == "recipient-inactive" and "000.00.00.G22" in refused.value.message
