"""The receive side and the lists: the SDK's receive loop, transport acknowledgements, counters, directory."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import httpx

from agents.vdxp import SdkClientRegistry, create_vdxp_app
from axis.wire import DirectoryEntry
from vdxp_helpers import G22, H13, H41, SAAS, SECRET, FakeAgentService, SdkLikeClient, sample


async def test_the_sdk_receive_loop_stores_each_document_and_empties_the_list(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService, tmp_path: Path) -> None:
    items = [fake.deliver(sample(name)) for name in ("edoc_update.edxml", "edoc_revocation.edxml")]
    client = sdk()
    rows = await client.received_list()
    assert [r["docId"] for r in rows] == [i.message_id for i in items]
    assert rows[0]["from"] == "000.00.00.G22" and rows[0]["messageType"] == "edoc" and rows[0]["status"] == "pending"
    assert set(rows[0]) == {"docId", "serviceType", "messageType", "created_time", "updated_time", "from", "to",
                            "status", "status_desc"}
    stored = await client.receive_loop(tmp_path / "xml")
    assert [p.read_bytes() for p in stored] == [i.body for i in items]
    assert stored[0].name == f"{items[0].message_id}.edxml"
    assert await client.received_list() == []
    assert (await client.call("/countReceiveEdoc", body=b"{}")).json()["count"] == 0


async def test_status_packages_are_listed_only_for_messagetype_status(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    doc, status = fake.deliver(sample("edoc_update.edxml")), fake.deliver(sample("status_acceptance_03.edxml"))
    client = sdk()
    assert [r["docId"] for r in await client.received_list("edoc")] == [doc.message_id]
    rows = await client.received_list("status")
    assert [r["docId"] for r in rows] == [status.message_id] and rows[0]["status_desc"].startswith("03")
    assert (await client.call("/countReceiveStatus", body=b"{}")).json()["count"] == 1
    assert (await client.call("/countReceiveEdoc", body=b"{}")).json()["count"] == 1


async def test_update_status_fail_keeps_the_package_listed_and_records_why(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    item = fake.deliver(sample("edoc_update.edxml"))
    client = sdk()
    assert (await client.update_status(item.message_id, "fail"))["status"] == "OK"
    rows = await client.received_list()
    assert [r["docId"] for r in rows] == [item.message_id] and rows[0]["status"] == "fail"
    assert fake.inbox[item.message_id].transport_reason == f"reported as failed by document system {H13}"


async def test_a_repeated_update_status_changes_nothing(sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    item = fake.deliver(sample("edoc_update.edxml"))
    client = sdk()
    await client.update_status(item.message_id, "done")
    before = fake.inbox[item.message_id]
    assert (await client.update_status(item.message_id, "done"))["status"] == "OK"
    assert fake.inbox[item.message_id] == before


async def test_update_status_refuses_business_codes_and_unknown_documents(sdk: Callable[..., SdkLikeClient]) -> None:
    client = sdk()
    wrong = await client.call("/updateStatus", {"docId": "x", "status": "03"}, body=b"{}")
    assert wrong.status_code == 400 and "status packages through sendEdoc" in wrong.json()["ErrorDesc"]
    unknown = await client.call("/updateStatus", {"docId": "abc-1", "status": "done"}, body=b"{}")
    assert unknown.status_code == 404 and "abc-1" in unknown.json()["ErrorDesc"]


async def test_get_edoc_answers_base64_and_download_edoc_the_raw_package(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    item = fake.deliver(sample("edoc_update.edxml"))
    client = sdk()
    got = (await client.call("/getEdoc", {"docId": item.message_id, "filePath": "xml"}, body=b"{}")).json()
    assert base64.b64decode(got["data"]) == item.body
    raw = await client.call("/downloadEdoc", method="GET")
    assert raw.status_code == 200 and raw.content == item.body


async def test_the_sent_list_has_one_row_per_receiver(sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    client = sdk()
    doc_id = (await client.send_edoc(sample("edoc_new.edxml"), from_=H13)).json()["DocId"]
    rows = (await client.call("/getSentEdocList")).json()["data"]
    assert [(r["senderDocId"], r["fromCode"], r["toCode"]) for r in rows] == [(doc_id, H13, "28.22.H17")]
    assert set(rows[0]) == {"senderDocId", "receiverDocId", "fromCode", "toCode", "sendStatus", "sendStatusDesc",
                            "receiveStatus", "receiveStatusDesc", "sentTime", "receivedTime", "title", "notation",
                            "messageType", "serviceType"}


async def test_the_directory_calls_answer_from_the_agents_mirror(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    fake.directory = [DirectoryEntry(G22, "Văn phòng Chính phủ", updated_at_ms=1_700_000_000_000),
                      DirectoryEntry("000.00.12.H41", "Sở Nội vụ Nghệ An", parent_id=H41),
                      DirectoryEntry("000.00.00.H99", "gone", active=False)]
    client = sdk()
    listed = (await client.call("/getAgenciesList")).json()["data"]
    assert [r["code"] for r in listed] == [G22, "000.00.12.H41"]
    assert listed[0] == {"id": G22, "pid": "", "code": G22, "name": "Văn phòng Chính phủ", "mail": "",
                         "oldCode": "", "code102": G22}
    level1 = (await client.call("/getAgenciesListQD20", {"level": "1"})).json()["data"]
    level2 = (await client.call("/getAgenciesListQD20", {"level": "2"})).json()["data"]
    assert [r["code"] for r in level1] == [G22] and [r["pid"] for r in level2] == [H41]
    synced = (await client.call("/getSynchronizeUnit")).json()["data"]
    assert [(r["code"], r["deleted"]) for r in synced] == [(G22, False), ("000.00.12.H41", False), ("000.00.00.H99", True)]
    assert synced[0]["modifyDate"] and synced[0]["version"] == 1_700_000_000_000


async def test_directory_changes_are_refused_unless_an_operator_client_calls_an_operator_agent(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService, registry: SdkClientRegistry) -> None:
    body = b'{"id":"","pcode":"00.22.W00","code":"999.010.01.H22","name":"Ha giang test","mail":"a@b.vn"}'
    for call in (sdk().call("/registerAgency", body=body), sdk().call("/deleteAgency", {"AgencyCode": "9"})):
        answer = await call
        assert answer.status_code == 403 and "managed by the exchange operator" in answer.json()["ErrorDesc"]

    class Admin:
        def __init__(self) -> None:
            self.calls: list[tuple[str, ...]] = []

        async def register_agency(self, organ_id: str, name: str, *, parent_id: str | None, email: str) -> None:
            self.calls.append(("add", organ_id, name, parent_id or "", email))

        async def delete_agency(self, organ_id: str) -> None:
            self.calls.append(("delete", organ_id))

    registry.add(SAAS, may_send_for=(H13,), secret=SECRET, operator=True)
    admin = Admin()
    app = create_vdxp_app(fake, registry, operator=True, directory_admin=admin)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://agent") as http:
        assert (await SdkLikeClient(http, SAAS).call("/registerAgency", body=body)).json()["status"] == "OK"
        assert (await SdkLikeClient(http, SAAS).call("/deleteAgency", {"AgencyCode": "9"})).json()["status"] == "OK"
        refused = await SdkLikeClient(http, H13).call("/deleteAgency", {"AgencyCode": "9"})
    assert admin.calls == [("add", "999.010.01.H22", "Ha giang test", "00.22.W00", "a@b.vn"), ("delete", "9")]
    assert refused.status_code == 403
