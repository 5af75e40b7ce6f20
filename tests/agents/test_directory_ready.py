"""Directory answers that are true: until an agent has read the exchange's directory to its end once, its
directory calls answer "not ready" (503, or the SDK's FAIL with the reason), never an empty OK; after that,
the copy survives a restart."""

from __future__ import annotations

from agent_support import AUTH, RECIPIENT, SENDER, AgentFactory, client
from polling import eventually
from sdk_client import SECRET, SdkLikeClient

from agents.vdxp import SdkClientRegistry
from axis import wire
from axis.transport import OutRecord, Publisher


async def test_directory_calls_say_not_ready_until_the_directory_was_read(
        make_agent: AgentFactory, private_bootstrap: str) -> None:
    agent = await make_agent(SENDER)
    SdkClientRegistry(agent.directory / "sdk-clients.json").add(SENDER, may_send_for=(SENDER,), secret=SECRET)
    async with client(agent) as http:
        before = await http.get("/agencies", headers=AUTH)
        assert before.status_code == 503 and before.json()["error"] == "directory-not-ready"
        sdk = SdkLikeClient(http, SENDER)
        for call in ("/vdxp/getAgenciesList", "/vdxp/getAgenciesListQD20", "/vdxp/getSynchronizeUnit"):
            answer = await sdk.call(call)
            assert answer.status_code == 503 and answer.json()["status"] == "FAIL", call
            assert "not yet received the exchange's directory" in answer.json()["ErrorDesc"]

        async with Publisher(private_bootstrap) as publisher:  # what the router publishes at start
            await publisher.publish_many([
                OutRecord(wire.DIRECTORY, organ.encode(), wire.DirectoryEntry(organ, name).encode())
                for organ, name in ((SENDER, "Văn phòng Chính phủ"), (RECIPIENT, "UBND Tỉnh Nghệ An"))
            ])

        async def listed() -> list[str]:
            answer = await http.get("/agencies", headers=AUTH)
            return [a["organ_id"] for a in answer.json()] if answer.status_code == 200 else []

        assert await eventually(listed) == [SENDER, RECIPIENT]
        answer = (await sdk.call("/vdxp/getAgenciesList")).json()
        assert answer["status"] == "OK" and {a["code"] for a in answer["data"]} == {SENDER, RECIPIENT}

    await agent.stop()
    again = await make_agent(SENDER, connected=False)  # same data folder, broker link not awaited
    assert [e.organ_id for e in await again.service.agencies()] == [SENDER, RECIPIENT]
