"""End to end: SDK clients on one agency's facade and another agency's own API, through the real router.

Real embedded broker and PostgreSQL, real router and ledger, two real agents (`build_agent`) serving their
full HTTP app (`agents.api.create_app`, facade mounted at `/vdxp`). Packages are written as the national
SDK writes them (junk bytes before `<?xml`, the legacy `<Signature>`), only re-addressed to the test organs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from polling import eventually
from vdxp_helpers import H13, H41, SECRET, SdkLikeClient, sample

import edxml
from agents.api import create_app
from agents.bootstrap import Agent, build_agent
from agents.vdxp import SdkClientRegistry, registry_path
from axis.bootstrap import build_ledger, build_router
from axis.settings import Settings
from signing import DevPki

pytestmark = pytest.mark.slow
TOKEN = {"Authorization": "Bearer test-token"}
DOC_FROM_H41 = f"{H41},2026/11/26,15/UBND-VP"




def sdk_edoc_to_h41() -> bytes:
    """The SDK's own edoc_new.edxml (junk prefix, legacy Signature) addressed to H41 instead of 28.22.H17."""
    data = sample("edoc_new.edxml").replace(b"28.22.H17", H41.encode())
    assert data.startswith(b"1212<?xml")
    return data


def sdk_status_03_for(document_id: str) -> bytes:
    """The SDK's status_acceptance_03.edxml sent by H13 about H41's document, stamped now (as systems do)."""
    now = datetime.now(timezone(timedelta(hours=7))).strftime("%Y/%m/%d %H:%M:%S")
    data = sample("status_acceptance_03.edxml").replace(b"2015/09/20 11:08:36", now.encode())
    data = data.replace(H41.encode(), b"@SENDER@")
    data = data.replace("000.00.00.G22,2015/09/30,7816/VPCP-TTĐT".encode(), document_id.encode())
    return data.replace(b"000.00.00.G22", H41.encode()).replace(b"@SENDER@", H13.encode())


@dataclass
class Exchange:
    h13: Agent
    h41: Agent
    sdk_http: httpx.AsyncClient  # H13's full agent app (facade at /vdxp)
    api_h41: httpx.AsyncClient   # H41's own API


@pytest.fixture
async def exchange(tmp_path: Path, broker_factory: Callable[[], Awaitable[Any]],
                   database_url: str) -> AsyncIterator[Exchange]:
    pki = DevPki(tmp_path / "pki")
    pki.init(algorithm="ec")
    for organ in (H13, H41):
        pki.issue(organ, organ, "ec")
    broker = await broker_factory()
    settings = Settings(data_dir=tmp_path / "data", pki_dir=pki.dir, kafka_bootstrap=broker.bootstrap,
                        database_url=database_url, confirm_timeout_s=2.0, agent_token="test-token")
    SdkClientRegistry(registry_path(settings.data_dir, H13)).add(H13, may_send_for=(H13,), secret=SECRET)
    async with contextlib.AsyncExitStack() as stack:
        ledger = await stack.enter_async_context(build_ledger(settings))
        for organ, name in ((H13, "UBND xã Hà Tiến"), (H41, "UBND Tỉnh Nghệ An")):
            await ledger.directory.add(organ, name, certificates=[pki.cert_path(organ).read_text()],
                                       at=datetime.now(timezone.utc))
        await stack.enter_async_context(build_router(settings, ledger=ledger, poll_s=0.05, directory_poll_s=0.2,
                                                     epoch_interval_s=0.3))
        agents = [build_agent(settings, organ, poll_interval_s=0.05, epoch_interval_s=0.3) for organ in (H13, H41)]
        for agent in agents:
            await stack.enter_async_context(agent)
        clients = [await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(create_app(a, manage_agent=False)), base_url="http://agent"))
            for a in agents]
        yield Exchange(agents[0], agents[1], clients[0], clients[1])


async def test_an_sdk_send_arrives_through_the_other_agencys_api_once_and_its_statuses_come_back(
        exchange: Exchange) -> None:
    sdk = SdkLikeClient(exchange.sdk_http, H13, timestamp="01012025T080000+0001")  # stale: accepted
    package = sdk_edoc_to_h41()
    first = (await _vdxp(sdk).send_edoc(package, from_=H13)).json()
    assert first["status"] == "OK", first
    replayed = (await _vdxp(sdk).send_edoc(package, from_=H13)).json()
    assert replayed["DocId"] == first["DocId"]

    async def arrived() -> list[dict[str, Any]]:
        answer = await exchange.api_h41.get("/received", params={"kind": "edoc"}, headers=TOKEN)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    items = await eventually(arrived)
    assert items[0]["message_id"] == first["DocId"] and items[0]["signer"] == H13 and items[0]["sender"] == H13
    body = (await exchange.api_h41.get(f"/received/{first['DocId']}/package", headers=TOKEN)).content
    assert edxml.parse_package(body).recipients == (H41,)

    async def status_01() -> list[dict[str, Any]]:
        return [r for r in await _vdxp(sdk).received_list("status") if r["status_desc"].startswith("01")]

    statuses = await eventually(status_01)
    assert statuses[0]["from"] == H41

    async def delivered() -> list[dict[str, Any]]:
        rows = (await _vdxp(sdk).call("/getSentEdocList")).json()["data"]
        return [r for r in rows if r["toCode"] == H41 and r["receiveStatus"] == "01"]

    rows = await eventually(delivered)
    assert rows[0]["senderDocId"] == first["DocId"] and rows[0]["sendStatus"] == "delivered"
    await asyncio.sleep(0.5)
    assert len(await arrived()) == 1  # the replayed send was delivered once


async def test_a_document_from_the_other_agencys_api_reaches_the_sdk_receive_loop_and_is_answered_03(
        exchange: Exchange, tmp_path: Path) -> None:
    fields = {"to": [H13], "subject": "Về việc kết nối", "code_number": "15", "code_notation": "UBND-VP",
              "document_id": DOC_FROM_H41}
    submitted = await exchange.api_h41.post("/documents", json=fields, headers=TOKEN)
    assert submitted.status_code == 201, submitted.text
    sdk = _vdxp(SdkLikeClient(exchange.sdk_http, H13))

    rows = await eventually(lambda: sdk.received_list("edoc"))
    assert rows[0]["from"] == H41
    stored = await sdk.receive_loop(tmp_path / "xml")
    assert edxml.parse_package(stored[0].read_bytes()).document_id == DOC_FROM_H41
    assert await sdk.received_list("edoc") == []  # acknowledged done

    answer = (await sdk.send_edoc(sdk_status_03_for(DOC_FROM_H41), messagetype="status", from_=H13,
                                  to=f'"[\\"{H41}\\"]"')).json()
    assert answer["status"] == "OK", answer

    async def answered() -> list[dict[str, Any]]:
        rows = (await exchange.api_h41.get("/received", params={"kind": "status"}, headers=TOKEN)).json()
        return [r for r in rows if r["sender"] == H13 and r["status_code"] == "03"]

    statuses = await eventually(answered)
    assert statuses[0]["message_id"] == answer["DocId"] and statuses[0]["document_id"] == DOC_FROM_H41


class _Prefixed(SdkLikeClient):
    """The same SDK-like client, pointed at the facade's mount point like `service.endpoint=.../vdxp`."""

    async def call(self, path: str, *args: Any, **kw: Any) -> httpx.Response:
        return await super().call("/vdxp" + path, *args, **kw)


def _vdxp(client: SdkLikeClient) -> SdkLikeClient:
    prefixed = _Prefixed(client.http, client.params["systemid"], client.secret, client.timestamp)
    prefixed.params = client.params  # one header map for the client object's whole life
    return prefixed
