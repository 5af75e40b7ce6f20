"""The console's pages over a seeded ledger: each shows what the ledger holds, as HTML and as the same JSON,
pages big lists by keyset, and needs a signed-in user."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx
from _console_seed import SeedInfo
from console_support import ConsoleClient

from axis.ledger import Ledger


async def _today_counts(ledger: Ledger, tz: Any) -> tuple[int, int]:
    start = datetime.now(timezone.utc).astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    documents = await ledger.pool.fetchval("SELECT count(*) FROM documents WHERE received_at >= $1", start)
    delivered = await ledger.pool.fetchval(
        "SELECT count(*) FROM deliveries d JOIN documents doc ON doc.id = d.document"
        " WHERE doc.received_at >= $1 AND d.kind = 'edoc' AND d.state = 'acked'", start)
    return documents, delivered


async def test_every_page_needs_a_signed_in_user(app: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as http:
        for path in ("/", "/agencies", "/documents?q=x", "/documents/x", "/dead-letters", "/overdue", "/directory"):
            page = await http.get(path)
            assert page.status_code == 303 and page.headers["location"].startswith("/login?next="), path
        assert (await http.get("/overdue", headers={"Accept": "application/json"})).status_code == 401


async def test_the_overview_shows_todays_volume_delivery_receipt_times_and_overdue(
        operator_client: ConsoleClient, ledger: Ledger, seeded: SeedInfo, app: Any) -> None:
    await app.state.console.receipts.catch_up(settled=False)  # signing in was an event too
    data = await operator_client.json("/")
    documents, delivered = await _today_counts(ledger, ledger.calendar.tz)
    today = data["today"]
    assert today["documents"] == documents > 0
    assert today["deliveries"] == 3 * documents and today["delivered"] == delivered
    assert today["delivery_rate"] == round(delivered / (3 * documents), 4)
    assert 30 <= today["time_to"]["01"]["p50_s"] <= 600 <= today["time_to"]["03"]["p50_s"]
    assert data["overdue"]["total"] == len(await ledger.overdue()) > 0
    assert data["receipts_projection"]["behind"] == 0
    assert data["components"] == {"router": {"status": "ok", "state": "running"}}
    assert data["agents"]["active"] == len(seeded.agencies)

    html = (await operator_client.get("/")).text
    assert "Today," in html and f"{documents:,}" in html and "median time to 01" in html


async def test_search_finds_by_document_id_organ_id_and_text_newest_first_in_keyset_pages(
        operator_client: ConsoleClient, ledger: Ledger, seeded: SeedInfo) -> None:
    one = await ledger.pool.fetchrow("SELECT document_id, sender, subject, code FROM documents WHERE id = 123")
    exact = await operator_client.json("/documents", q=one["document_id"])
    assert exact["mode"] == "document" and [d["document_id"] for d in exact["documents"]] == [one["document_id"]]

    organ = seeded.agencies[3]
    pages, token = [], ""
    while True:
        data = await operator_client.json("/documents", q=organ, next=token)
        pages.append(data["documents"])
        if not (token := data["next"]):
            break
    found = [d for page in pages for d in page]
    expected = await ledger.pool.fetchval(
        "SELECT count(*) FROM documents WHERE sender = $1 OR $1 = ANY(recipients)", organ)
    assert len(pages) > 1 and all(len(p) == 20 for p in pages[:-1])
    assert len(found) == expected == len({d["document_id"] for d in found})
    assert all(organ == d["sender"] or organ in d["recipients"] for d in found)
    assert [d["received_at"] for d in found] == sorted((d["received_at"] for d in found), reverse=True)
    token = (await operator_client.json("/documents", q=organ))["next"]
    first_page = (await operator_client.get("/documents", params={"q": organ})).text
    assert f'<a rel="next" href="?next={token}&amp;q={organ}">' in first_page

    text = await operator_client.json("/documents", q="chuyển đổi số")
    assert text["mode"] == "text" and text["documents"]
    assert all("chuyển đổi số" in d["subject"] for d in text["documents"])
    assert text["count"] == await ledger.pool.fetchval(
        "SELECT count(*) FROM documents WHERE subject LIKE '%chuyển đổi số%'")
    code = await operator_client.json("/documents", q=one["code"].split("/")[0] + "/")
    assert one["document_id"] in [d["document_id"] for d in code["documents"]]

    assert (await operator_client.json("/documents", q="ab"))["mode"] == "too-short"
    html = (await operator_client.get("/documents", params={"q": "chuyển đổi số"})).text
    assert "V/v triển khai chuyển đổi số" in html  # Vietnamese text renders as it was stored


async def test_a_document_page_shows_its_trail_per_recipient_in_order(operator_client: ConsoleClient,
                                                                      ledger: Ledger) -> None:
    document_id = await ledger.pool.fetchval("SELECT document_id FROM documents WHERE id = 42")
    page = await operator_client.get(f"/documents/{document_id}")
    assert page.status_code == 200
    trail = await ledger.trail(document_id)
    assert trail is not None
    assert (await operator_client.json(f"/documents/{document_id}"))["trail"] == trail
    html = page.text
    for organ, recipient in trail["recipients"].items():
        assert f'id="r-{organ}"' in html
        section = html[html.index(f'id="r-{organ}"'):]
        kinds = [e["kind"] for e in recipient["events"]]
        assert kinds[:2] == ["published", "delivered"] and "status" in kinds
        assert section.index(">published<") < section.index(">delivered<") < section.index("01 arrived")
    assert html.count("03 accepted") >= 2  # the document is days old: its recipients accepted it


async def test_an_unknown_document_is_not_found(operator_client: ConsoleClient) -> None:
    page = await operator_client.get("/documents/000.00.00.X99,2026/01/01,1/KHONG-CO")
    assert page.status_code == 404 and "No document" in page.text


async def test_dead_letters_are_listed_newest_first_with_their_reason(operator_client: ConsoleClient,
                                                                      ledger: Ledger) -> None:
    data = await operator_client.json("/dead-letters")
    refused = [d["refused_at"] for d in data["dead_letters"]]
    assert refused and refused == sorted(refused, reverse=True)
    assert all(d["reason_code"] == "unsigned" and d["reason"] for d in data["dead_letters"])
    assert "Requeue" in (await operator_client.get("/dead-letters")).text


async def test_the_agencies_page_shows_each_agencys_day_overdue_and_certificate(
        operator_client: ConsoleClient, ledger: Ledger, seeded: SeedInfo) -> None:
    data = await operator_client.json("/agencies")
    rows = {a["organ_id"]: a for a in data["agencies"]}
    assert sorted(rows) == sorted(seeded.agencies)
    documents, delivered = await _today_counts(ledger, ledger.calendar.tz)
    assert sum(a["sent"] for a in rows.values()) == documents
    assert sum(a["received"] for a in rows.values()) == delivered
    assert sum(a["overdue"] for a in rows.values()) == len(await ledger.overdue())
    assert all(a["certificate_expiry"] and a["active"] for a in rows.values())
    assert all(a["last_seen"] for a in rows.values())


async def test_the_overdue_page_lists_what_ledger_overdue_lists_in_keyset_pages(operator_client: ConsoleClient,
                                                                                ledger: Ledger) -> None:
    listed, token = [], ""
    while True:
        data = await operator_client.json("/overdue", next=token)
        listed += data["overdue"]
        if not (token := data["next"]):
            break
    expected = [o.as_dict() for o in await ledger.overdue()]
    assert sorted(listed, key=str) == sorted(expected, key=str) and len(listed) > 20
    recipient = expected[0]["recipient"]
    one = await operator_client.json(f"/overdue?recipient={recipient}")
    assert one["overdue"] and all(o["recipient"] == recipient for o in one["overdue"])


async def test_the_directory_pages_by_organ_id(operator_client: ConsoleClient, seeded: SeedInfo) -> None:
    data = await operator_client.json("/directory")
    assert [a["organ_id"] for a in data["agencies"]] == sorted(seeded.agencies)[:20]
    assert all(a["certificates"] == 1 and a["active"] for a in data["agencies"])


async def test_a_page_token_the_page_did_not_make_is_a_bad_request(operator_client: ConsoleClient) -> None:
    assert (await operator_client.get("/overdue?next=garbage")).status_code == 400
    assert (await operator_client.get("/documents?q=abc&next=garbage")).status_code == 400
