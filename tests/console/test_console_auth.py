"""Accounts, sessions and actions: signed cookies, CSRF on every POST, viewers read, operators act, and every
action is in the ledger under the operator's name."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from console_support import OPERATOR, PASSWORD, VIEWER, ConsoleClient

from axis.console import ConsoleUsers
from axis.ledger import Ledger


async def _actions(ledger: Ledger, action: str, target: str) -> list[Any]:
    return [a for a in reversed(await ledger.operator_actions(limit=1000))
            if a["action"] == action and a["target"] == target]


async def _fresh_dead_letter(ledger: Ledger) -> str:
    message_id = f"t{uuid.uuid4().hex}"
    await ledger.pool.execute(
        "INSERT INTO dead_letters (message_id, sender, kind, document_id, reason_code, reason, headers, body,"
        " refused_at) VALUES ($1, '000.00.00.H10', 'edoc', '', 'unsigned', 'unsigned: no signature',"
        " jsonb_build_object('message-id', $1::text), '', now())", message_id)
    return message_id


async def test_a_wrong_password_and_an_unknown_user_get_the_same_refusal(app: Any) -> None:
    async with ConsoleClient(app) as client:
        await client.get("/login")
        wrong = await client.post_form("/login", {"username": OPERATOR, "password": "not the password"})
        unknown = await client.post_form("/login", {"username": "nobody", "password": "not the password"})
        assert wrong.status_code == unknown.status_code == 401
        assert "Wrong user name or password." in wrong.text and "Wrong user name or password." in unknown.text
        assert (await client.get("/")).status_code == 303


async def test_signing_in_sets_a_signed_lax_http_only_cookie_and_is_recorded(app: Any, ledger: Ledger) -> None:
    before = len(await _actions(ledger, "login", VIEWER))
    async with ConsoleClient(app) as client:
        response = await client.sign_in(VIEWER, PASSWORD)
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("axis_console=") and "httponly" in cookie and "samesite=lax" in cookie
        assert (await client.get("/overdue")).status_code == 200
    logins = await _actions(ledger, "login", VIEWER)
    assert len(logins) == before + 1 and logins[-1]["operator"] == VIEWER


async def test_a_post_without_this_sessions_csrf_token_is_refused(app: Any, operator_client: ConsoleClient,
                                                                  ledger: Ledger) -> None:
    message_id = await _fresh_dead_letter(ledger)
    for token in ("", "forged-token"):
        refused = await operator_client.post_form("/dead-letters/requeue", {"message_id": message_id}, csrf=token)
        assert refused.status_code == 403 and "Form expired" in refused.text
    async with ConsoleClient(app) as other:
        await other.get("/login")
        refused = await other.post_form("/login", {"username": OPERATOR, "password": PASSWORD}, csrf="x")
        assert refused.status_code == 403
    assert await _actions(ledger, "requeue", message_id) == []


async def test_a_viewer_is_refused_an_action_and_nothing_changes(viewer_client: ConsoleClient, ledger: Ledger) -> None:
    message_id = await _fresh_dead_letter(ledger)
    await viewer_client.get("/dead-letters")
    refused = await viewer_client.post_form("/dead-letters/requeue", {"message_id": message_id})
    assert refused.status_code == 403 and "requeue needs the operator role" in refused.text
    refused = await viewer_client.post_form("/directory/disable", {"organ_id": "000.00.00.H11"})
    assert refused.status_code == 403
    assert await ledger.pool.fetchval("SELECT requeue_requested_at FROM dead_letters WHERE message_id = $1",
                                      message_id) is None
    assert (await ledger.directory.get("000.00.00.H11")).active  # type: ignore[union-attr]


async def test_an_operator_requeues_a_dead_letter_once_recorded_under_their_name(
        operator_client: ConsoleClient, ledger: Ledger) -> None:
    message_id = await _fresh_dead_letter(ledger)
    await operator_client.get("/dead-letters")
    done = await operator_client.post_form("/dead-letters/requeue", {"message_id": message_id})
    assert done.status_code == 303 and done.headers["location"] == "/dead-letters"
    page = await operator_client.get("/dead-letters")
    assert "will be judged again" in page.text and f"asked by {OPERATOR}" in page.text
    again = await operator_client.post_form("/dead-letters/requeue", {"message_id": message_id})
    assert "was not requeued" in (await operator_client.get(again.headers["location"])).text
    assert [a["operator"] for a in await _actions(ledger, "requeue", message_id)] == [OPERATOR]


async def test_an_operator_adds_and_disables_an_agency_each_recorded(operator_client: ConsoleClient,
                                                                     ledger: Ledger) -> None:
    organ = f"000.00.99.T{uuid.uuid4().int % 100:02d}"
    await operator_client.get("/directory")
    added = await operator_client.post_form("/directory/add", {"organ_id": organ, "name": "Sở Tư pháp Thử nghiệm"})
    assert added.status_code == 303
    agency = await ledger.directory.get(organ)
    assert agency is not None and agency.active and agency.name == "Sở Tư pháp Thử nghiệm"
    assert "Sở Tư pháp Thử nghiệm is in the directory" in (await operator_client.get("/directory")).text
    disabled = await operator_client.post_form("/directory/disable", {"organ_id": organ})
    assert disabled.status_code == 303
    assert not (await ledger.directory.get(organ)).active  # type: ignore[union-attr]
    assert [a["operator"] for a in await _actions(ledger, "agency-add", organ)] == [OPERATOR]
    assert [a["operator"] for a in await _actions(ledger, "agency-disable", organ)] == [OPERATOR]
    bad = await operator_client.post_form("/directory/add", {"organ_id": organ, "name": "x", "certificate": "junk"})
    assert "was not added" in (await operator_client.get(bad.headers["location"])).text


async def test_sign_out_ends_the_session(app: Any, ledger: Ledger) -> None:
    async with ConsoleClient(app) as client:
        await client.sign_in(OPERATOR, PASSWORD)
        out = await client.post_form("/logout", {})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (await client.get("/")).status_code == 303
    assert (await _actions(ledger, "logout", OPERATOR))[-1]["operator"] == OPERATOR


async def test_removing_an_account_or_changing_its_password_ends_its_sessions(app: Any, ledger: Ledger) -> None:
    users = ConsoleUsers(ledger.pool)
    name = f"tam{uuid.uuid4().hex[:6]}"
    await users.add(name, "viewer", PASSWORD)
    async with ConsoleClient(app) as client:
        await client.sign_in(name, PASSWORD)
        await users.add(name, "operator", "một mật khẩu mới", replace=True)
        assert (await client.get("/")).status_code == 303
        await client.sign_in(name, "một mật khẩu mới")
        await users.remove(name)
        assert (await client.get("/")).status_code == 303


async def test_after_sign_in_the_browser_returns_only_to_a_page_of_this_site(app: Any) -> None:
    async with ConsoleClient(app) as client:
        await client.get("/login")
        back = await client.post_form("/login", {"username": VIEWER, "password": PASSWORD, "next": "/overdue?x=1"})
        assert back.headers["location"] == "/overdue?x=1"
    async with ConsoleClient(app) as client:
        await client.get("/login")
        away = await client.post_form("/login", {"username": VIEWER, "password": PASSWORD, "next": "//evil.example/"})
        assert away.headers["location"] == "/"


async def test_the_console_health_needs_no_sign_in(app: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as http:
        health = await http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
