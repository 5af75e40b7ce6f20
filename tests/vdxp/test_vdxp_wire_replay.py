"""Replay every request the national Java SDK made (requests.jsonl, exact headers) against the facade.

The facade runs on the real agent service (SQLite store, dev PKI signer): agency 002.00.20.H13 with its own
system id, and organ 000.00.00.H41 served to the shared platform `vxp.saas.03`. Each request goes to the
agent whose registry knows its system id, and is replayed twice: the client's frozen timestamp makes a
replay indistinguishable from the original, and every call must be idempotent.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import edxml
from agents.service import AgentService
from agents.store import InboxEntry, Store
from agents.vdxp import SdkClientRegistry, create_vdxp_app
from axis.wire import DirectoryEntry
from signing import DevPki, Signer, SigningIdentity
from vdxp_helpers import G22, H13, H41, SAAS, SECRET, SdkLikeClient, sample, wire_body, wire_requests


@dataclass
class Agent:
    service: AgentService
    store: Store
    registry: SdkClientRegistry
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    pki = DevPki(tmp_path_factory.mktemp("pki"))
    pki.init(algorithm="ec")
    for organ in (H13, H41):
        pki.issue(organ, organ, "ec")
    return pki


@pytest.fixture
async def agents(tmp_path: Path, pki: DevPki) -> AsyncIterator[dict[str, Agent]]:
    """Two real agents with facades: H13 registers its own system id; H41 registers vxp.saas.03."""
    made: dict[str, Agent] = {}
    for organ, system_id in ((H13, H13), (H41, SAAS)):
        folder = tmp_path / "agents" / organ
        folder.mkdir(parents=True)
        store = Store(folder / "agent.sqlite", synchronous="NORMAL")
        await store.open()
        signer = Signer(SigningIdentity.from_files(pki.key_path(organ), pki.cert_path(organ)))
        service = AgentService(organ, store, signer)
        registry = SdkClientRegistry(folder / "sdk-clients.json")
        registry.add(system_id, may_send_for=(organ,), secret=SECRET)
        for entry in (DirectoryEntry(G22, "Văn phòng Chính phủ"), DirectoryEntry(H41, "UBND Tỉnh Nghệ An"),
                      DirectoryEntry(H13, "UBND xã Hòa Tiến"), DirectoryEntry("28.22.H17", "UBND xã Hòa Sơn")):
            await store.upsert_directory(entry)
        await store.mark_directory_synced()
        http = httpx.AsyncClient(transport=httpx.ASGITransport(create_vdxp_app(service, registry)),
                                 base_url="http://agent")
        made[system_id] = Agent(service, store, registry, http)
    try:
        yield made
    finally:
        for agent in made.values():
            await agent.http.aclose()
            await agent.store.close()


async def _deliver_abc_1(store: Store) -> bytes:
    """The package the recorded getEdoc/downloadEdoc/updateStatus ask for (docId abc-1), as the receiver stores it."""
    body = sample("edoc_update.edxml")
    pkg = edxml.parse_package(body, profile="lenient")
    async with store.unit_of_work() as uow:
        await uow.add_inbox(InboxEntry("abc-1", "edoc", pkg.sender, pkg.document_id, pkg.recipients, "subject",
                                       None, "", 2, pkg.sender, body, None), None)
        await uow.commit()
    return body


async def _replay(agents: dict[str, Agent], request: dict[str, Any]) -> httpx.Response:
    headers = [(k.encode(), v.encode("utf-8")) for k, v in request["headers"].items()]
    agent = agents[request["headers"]["XroadVnpt-systemid"]]
    return await agent.http.request(request["method"], request["path"], headers=headers, content=wire_body(request))


async def test_every_recorded_sdk_request_is_answered_as_the_sdk_expects(agents: dict[str, Agent]) -> None:
    abc_1 = await _deliver_abc_1(agents[H13].store)
    answers: list[list[httpx.Response]] = []
    for request in wire_requests():
        answers.append([await _replay(agents, request), await _replay(agents, request)])
    paths = [r["path"] for r in wire_requests()]
    by_call = dict(zip(paths, answers))  # the last answer of each path; the ones asked about are unique or equal

    for (first, again), path in zip(answers, paths):
        assert first.status_code in (200, 403), (path, first.text)
        if path != "/downloadEdoc":
            assert first.json()["status"] in ("OK", "FAIL") and "ErrorDesc" in first.json()
        if path not in ("/sendEdoc", "/updateStatus", "/getReceivedEdocList"):
            assert first.content == again.content, path  # a replay answers the same

    agencies = by_call["/getAgenciesList"][0].json()
    assert agencies["status"] == "OK" and {a["code"] for a in agencies["data"]} == {G22, H41, H13, "28.22.H17"}
    assert [a["code"] for a in by_call["/getAgenciesListQD20"][0].json()["data"]] == [G22, H41]

    edoc_send, status_send = (a for a, p in zip(answers, paths) if p == "/sendEdoc")
    for first, again in (edoc_send, status_send):
        assert first.json()["status"] == "OK", first.json()
        assert first.json()["DocId"] == again.json()["DocId"]  # a replayed send is recognised
    sent_h13 = await agents[H13].service.sent()
    assert [(s.message_id, s.recipient, s.kind) for s in sent_h13] == [(edoc_send[0].json()["DocId"], "28.22.H17", "edoc")]
    sent_h41 = await agents[SAAS].service.sent()
    assert [(s.message_id, s.recipient, s.kind) for s in sent_h41] == [(status_send[0].json()["DocId"], G22, "status")]

    received_first, received_again = answers[paths.index("/getReceivedEdocList")]
    assert [r["docId"] for r in received_first.json()["data"]] == ["abc-1"]
    assert base64.b64decode(by_call["/getEdoc"][0].json()["data"]) == abc_1
    assert by_call["/downloadEdoc"][0].content == abc_1
    assert [a.json()["status"] for a in by_call["/updateStatus"]] == ["OK", "OK"]
    assert (await agents[H13].service.received_item("abc-1")).transport_status == "done"
    sent_list = by_call["/getSentEdocList"][0].json()["data"]
    assert [(r["senderDocId"], r["fromCode"], r["toCode"]) for r in sent_list] == [
        (edoc_send[0].json()["DocId"], H13, "28.22.H17")]
    assert by_call["/countReceiveEdoc"][0].json()["count"] == 0  # abc-1 was acknowledged done just before
    assert by_call["/countReceiveStatus"][0].json()["count"] == 0
    saas_lists = [a[0].json() for a, r in zip(answers, wire_requests())
                  if r["path"] == "/getReceivedEdocList" and r["headers"]["XroadVnpt-systemid"] == SAAS]
    assert [s["data"] for s in saas_lists] == [[], []]

    for path in ("/registerAgency", "/deleteAgency"):
        answer = by_call[path][0]
        assert answer.status_code == 403 and "managed by the exchange operator" in answer.json()["ErrorDesc"]
    assert by_call["/getSynchronizeUnit"][0].json()["status"] == "OK"


async def test_one_agent_refuses_clearly_to_send_for_an_organ_it_cannot_sign_as(agents: dict[str, Agent]) -> None:
    """vxp.saas.03 may send for 000.00.00.H41, but registered at H13's agent it cannot: H13 signs only as H13."""
    agent = agents[H13]
    agent.registry.add(SAAS, may_send_for=(H41,), secret=SECRET)
    request = next(r for r in wire_requests() if r["path"] == "/sendEdoc" and r["headers"]["XroadVnpt-systemid"] == SAAS)
    answer = await agent.http.request("POST", "/sendEdoc", headers=[(k.encode(), v.encode()) for k, v in
                                                                    request["headers"].items()],
                                      content=wire_body(request))
    assert answer.status_code == 403
    assert answer.json()["ErrorDesc"].startswith(f"this agent signs only as organ {H13}; packages from organ {H41}")
    assert await agent.service.sent() == []


async def test_on_the_real_agent_update_status_fail_keeps_the_package_listed(agents: dict[str, Agent]) -> None:
    """`fail` is the document system saying it could not take the package: it must be offered again."""
    agent = agents[H13]
    await _deliver_abc_1(agent.store)
    client = SdkLikeClient(agent.http, H13)
    assert (await client.update_status("abc-1", "fail"))["status"] == "OK"
    item = await agent.service.received_item("abc-1")
    assert item.transport_status == "fail" and item.transport_reason
    assert [r["docId"] for r in await client.received_list()] == ["abc-1"], (
        "AgentService.received(pending_only=True) must mean 'not acknowledged done' (include 'fail')")
    assert (await client.update_status("abc-1", "done"))["status"] == "OK"
    assert await client.received_list() == []
