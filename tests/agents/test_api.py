"""The agent's HTTP API, in process (ASGI) and once over a real socket."""

from __future__ import annotations

import asyncio
import json

import httpx
import uvicorn
from agent_forwarder import Forwarder
from agent_support import AUTH, FIELDS, RECIPIENT, SENDER, AgentFactory, client
from polling import eventually

from agents.api import create_app
from axis.embedded import free_port


async def test_requests_without_the_right_token_are_refused(make_agent: AgentFactory) -> None:
    agent = await make_agent(SENDER)
    async with client(agent) as http:
        missing = await http.get("/received")
        wrong = await http.get("/received", headers={"Authorization": "Bearer nope"})
        health = await http.get("/health")
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert health.status_code == 200 and health.json()["status"] == "ok"


async def test_bad_input_says_what_is_wrong_and_where(make_agent: AgentFactory) -> None:
    agent = await make_agent(SENDER)
    async with client(agent) as http:
        broken = await http.post("/documents", content=b"<edXML>\n<oops>", headers={**AUTH, "X-Filename": "package.edxml",
                                                                                     "Content-Type": "application/xml"})
        typo = await http.post("/documents", json={**FIELDS, "subjct": "x"}, headers=AUTH)
        empty = await http.post("/documents", json={**FIELDS, "subject": ""}, headers=AUTH)
        not_json = await http.post("/documents", content=b"{", headers={**AUTH, "Content-Type": "application/json"})
        unknown = await http.get("/received/deadbeef", headers=AUTH)
        bad_status = await http.post("/statuses", json={"document_id": "x", "code": "99"}, headers=AUTH)
    assert broken.status_code == 422 and broken.json()["detail"].startswith("package.edxml:2")
    assert typo.status_code == 422 and typo.json()["detail"] == "fields.subjct: unknown field"
    assert empty.status_code == 422 and "fields.subject" in empty.json()["detail"]
    assert not_json.status_code == 422 and not_json.json()["detail"].startswith("fields:1:2")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not-found"
    assert bad_status.status_code == 422 and bad_status.json()["error"] == "bad-status"


async def test_a_package_from_another_organ_is_refused(make_agent: AgentFactory) -> None:
    sender, recipient = await asyncio.gather(make_agent(SENDER), make_agent(RECIPIENT))
    async with client(sender) as http:
        made = await http.post("/documents", json=FIELDS, headers=AUTH)
    body = await sender.store.sent_body("edoc", made.json()["document_id"])
    async with client(recipient) as http:
        foreign = await http.post("/documents", content=body, headers={**AUTH, "Content-Type": "application/xml"})
    assert foreign.status_code == 422 and foreign.json()["error"] == "from-mismatch"


async def test_documents_go_out_and_come_in_through_the_api(make_agent: AgentFactory, private_bootstrap: str) -> None:
    sender, recipient = await asyncio.gather(make_agent(SENDER), make_agent(RECIPIENT))
    async with Forwarder(private_bootstrap), client(sender) as out, client(recipient) as inbox:
        files = [("files", ("quyết định.pdf", b"%PDF-1.4 test", "application/pdf"))]
        made = await out.post("/documents", data={"fields": json.dumps(FIELDS)}, files=files, headers=AUTH)
        assert made.status_code == 201, made.text
        doc = made.json()
        again = await out.post("/documents", content=(await sender.store.sent_body("edoc", doc["document_id"])),
                               headers={**AUTH, "Content-Type": "application/xml"})
        assert again.status_code == 201  # signed bytes differ from the first submission: a new package

        async def received() -> list[dict[str, object]]:
            return (await inbox.get("/received", params={"kind": "edoc"}, headers=AUTH)).json()  # type: ignore[no-any-return]

        items = await eventually(received)
        mid = items[0]["message_id"]
        assert items[0]["latency_ms"] >= 0
        listed = (await inbox.get(f"/received/{mid}/attachments", headers=AUTH)).json()
        assert listed[0]["name"] == "quyết định.pdf"
        content = await inbox.get(f"/received/{mid}/attachments/0", headers=AUTH)
        assert content.content == b"%PDF-1.4 test"
        package = await inbox.get(f"/received/{mid}/package", headers=AUTH)
        assert package.content.startswith(b"<?xml")
        acked = await inbox.post(f"/received/{mid}/ack", json={"transport_status": "done"}, headers=AUTH)
        assert acked.json()["transport_status"] == "done"
        pending = (await inbox.get("/received", params={"pending_only": True, "kind": "edoc"}, headers=AUTH)).json()
        assert mid not in [p["message_id"] for p in pending]
        status = await inbox.post(f"/received/{mid}/status", json={"code": "03", "description": "vào sổ"}, headers=AUTH)
        assert status.status_code == 201, status.text

        async def answered() -> list[dict[str, object]]:
            rows = (await out.get("/sent", headers=AUTH)).json()
            return [r for r in rows if r["last_status_code"] == "03"]

        await eventually(answered)
        trail = (await out.get("/trail", params={"document_id": doc["document_id"]}, headers=AUTH)).json()
        assert trail["recipients"][0]["state"] == "delivered"
        withdraw = await out.post("/statuses", json={"document_id": doc["document_id"], "code": "13",
                                                      "description": "nhầm"}, headers=AUTH)
        assert withdraw.status_code == 201, withdraw.text
        assert (await out.get("/openapi.json")).json()["paths"]["/documents"]


async def test_the_api_serves_over_a_real_socket(make_agent: AgentFactory) -> None:
    agent = await make_agent(SENDER, start=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(agent), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0.05, server.started))
        await agent.wait_connected(timeout_s=15)  # the API serves at once; the broker link comes up behind it
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            health = await http.get("/health")
            made = await http.post("/documents", json=FIELDS, headers=AUTH)
            refused = await http.get("/sent")
        assert health.json()["status"] == "ok"
        assert made.status_code == 201 and refused.status_code == 401
    finally:
        server.should_exit = True
        await task
    assert not (await agent.health())["started"]
