"""Authentication of SDK calls: the HMAC, the signed headers, the system id; and what is deliberately allowed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from agents.vdxp import SdkClientRegistry, create_vdxp_app
from agents.vdxp._auth import parse_sdk_timestamp
from vdxp_helpers import H13, SECRET, FakeAgentService, SdkLikeClient, sign


def test_the_hmac_of_the_wire_readme_example_verifies() -> None:
    header = ('{"XroadVnpt-systemid":"000.00.00.G22","XroadVnpt-timestamp":"26112026T011415+0734",'
              '"XroadVnpt-Content-Type":"application/json"}')
    assert sign(header, SECRET) == "b89dfd2d845fe9c1aaedaccfb235a69fdadbdfa8438f3563f44c58bf65a3d538"


async def test_a_correctly_signed_call_is_answered_ok(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().call("/countReceiveEdoc", body=b"{}")
    assert answer.status_code == 200 and answer.json() == {"status": "OK", "ErrorCode": "0", "ErrorDesc": "", "count": 0}


async def test_a_missing_hmac_is_refused_and_named(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().call("/countReceiveEdoc", tamper={"XroadVnpt-hash-header": ""})
    assert answer.status_code == 401
    assert answer.json()["status"] == "FAIL" and "XroadVnpt-hash-header" in answer.json()["ErrorDesc"]


async def test_a_wrong_hmac_is_refused_and_named(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk(secret="not-the-secret").call("/countReceiveEdoc")
    assert answer.status_code == 401
    assert answer.json()["status"] == "FAIL" and "wrong HMAC" in answer.json()["ErrorDesc"]


async def test_an_unknown_system_id_is_refused_and_named(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk("000.00.00.X99").call("/countReceiveEdoc")
    assert answer.status_code == 401
    assert "unknown system id '000.00.00.X99'" in answer.json()["ErrorDesc"]


async def test_a_signed_value_that_differs_from_its_header_is_refused_and_named(
        sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().call("/updateStatus", {"docId": "a", "status": "done"}, tamper={"XroadVnpt-docId": "b"})
    assert answer.status_code == 403
    assert answer.json()["status"] == "FAIL" and "XroadVnpt-docId differs" in answer.json()["ErrorDesc"]


async def test_a_signed_parameter_that_is_not_sent_is_refused(sdk: Callable[..., SdkLikeClient]) -> None:
    client = sdk()
    client.params["docId"] = "a"
    answer = await client.call("/getEdoc", tamper={"XroadVnpt-docId": ""})
    assert answer.status_code == 403 and "XroadVnpt-docId" in answer.json()["ErrorDesc"]


async def test_a_parameter_the_call_reads_must_be_signed(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().call("/getEdoc", tamper={"XroadVnpt-docId": "smuggled"})
    assert answer.status_code == 403
    assert "XroadVnpt-docId" in answer.json()["ErrorDesc"] and "not among the signed" in answer.json()["ErrorDesc"]


async def test_sign_header_keys_must_follow_the_key_list(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().call("/countReceiveEdoc", tamper={"XroadVnpt-sign-header-key": "timestamp;systemid"})
    assert answer.status_code == 403 and "sign-header-key" in answer.json()["ErrorDesc"]


async def test_a_stale_timestamp_is_accepted(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk(timestamp="01012019T080000+0001").call("/countReceiveEdoc")
    assert answer.json()["status"] == "OK"


async def test_headers_left_over_from_earlier_calls_are_ignored(sdk: Callable[..., SdkLikeClient]) -> None:
    client = sdk()
    client.params.update({"from": H13, "hash-file": "00", "docId": "x", "filePath": "xml", "status": "done",
                          "to": H13, "fromDate": "01/01/2020", "pageSize": "20", "AgencyCode": "1"})
    for path in ("/countReceiveEdoc", "/countReceiveStatus", "/getReceivedEdocList", "/getSentEdocList",
                 "/getAgenciesList", "/getSynchronizeUnit"):
        assert (await client.call(path)).json()["status"] == "OK", path


async def test_a_client_registered_with_a_freshness_window_gets_one(tmp_path: Path) -> None:
    registry = SdkClientRegistry(tmp_path / "sdk-clients.json")
    registry.add("fresh", may_send_for=(H13,), secret=SECRET, freshness_window_s=300)
    registry.add("lenient", may_send_for=(H13,), secret=SECRET)
    now = parse_sdk_timestamp("26112026T014339+0215") + timedelta(hours=1)
    app = create_vdxp_app(FakeAgentService(H13), registry, clock=lambda: now)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://agent") as http:
        stale = await SdkLikeClient(http, "fresh").call("/countReceiveEdoc")
        fresh = await SdkLikeClient(http, "fresh", timestamp="26112026T024300+0001").call("/countReceiveEdoc")
        other = await SdkLikeClient(http, "lenient").call("/countReceiveEdoc")
    assert stale.status_code == 401 and "window of 300 s" in stale.json()["ErrorDesc"]
    assert fresh.json()["status"] == "OK" and other.json()["status"] == "OK"


def test_the_sdk_timestamp_is_vietnam_local_time_with_a_counter() -> None:
    assert parse_sdk_timestamp("26112026T014339+0215") == datetime(2026, 11, 25, 18, 43, 39, tzinfo=timezone.utc)


@pytest.mark.parametrize("path", ["/noSuchCall", "/"])
async def test_an_unknown_call_is_a_fail_answer_not_a_crash(sdk: Callable[..., SdkLikeClient], path: str) -> None:
    answer = await sdk().call(path)
    assert answer.status_code == 404 and answer.json()["status"] == "FAIL"
