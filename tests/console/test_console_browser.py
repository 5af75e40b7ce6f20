"""The console in a real browser (Playwright for Python driving Debian's chromium, no browser download)
against a running exchange with traffic: a real broker, PostgreSQL, router and three agencies' agents.

An operator signs in, searches a document and opens its trail, and requeues a dead letter (an unsigned
package the router refused); a viewer is refused the same action. Screenshots go to tests/artifacts/.
The projection of receipts is also checked against `Ledger.overdue()` on the router's own rows.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography import x509
from playwright.async_api import Browser, Page, async_playwright, expect
from polling import eventually

import edxml
from agents.bootstrap import Agent, build_agent
from agents.model import AttachmentInput, DocumentFields, OrganInput
from axis import wire
from axis.console import Console, ConsoleUsers, router_probe
from axis.demo import await_directory
from axis.embedded import EmbeddedBroker, EmbeddedPostgres
from axis.embedded_exchange import Exchange, NewAgency, open_exchange, register_agencies
from axis.proof import verify_bundle
from axis.settings import Secret, Settings
from axis.transport import OutRecord, Publisher
from signing import DevPki

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
AGENCIES = [NewAgency("000.00.00.G22", "Văn phòng Chính phủ"), NewAgency("000.00.00.H41", "UBND Tỉnh Nghệ An"),
            NewAgency("000.00.00.H14", "UBND Tỉnh Cao Bằng")]
SENDER, RECIPIENTS = AGENCIES[0].organ_id, [a.organ_id for a in AGENCIES[1:]]
PASSWORD = "mật khẩu vận hành"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Traffic:
    exchange: Exchange
    console: Console
    documents: list[str]
    unsigned_document: str


def _fields(n: int) -> DocumentFields:
    return DocumentFields(
        to=tuple(OrganInput(r) for r in RECIPIENTS), subject=f"Về việc triển khai nền tảng số, đợt {n}",
        code_number=str(700 + n), code_notation="VPCP-TTĐT", promulgation_date=date.today(), place="Hà Nội",
        type_name="Công văn", content="Đề nghị các cơ quan phối hợp.", signer_name="Nguyễn Văn A",
        signer_position="Chánh Văn phòng")


async def _send_unsigned(bootstrap: str) -> str:
    """A package the router refuses (no signature): it becomes a dead letter."""
    package = edxml.build_document(
        sender=edxml.Organization(SENDER, AGENCIES[0].name, AGENCIES[0].name, "Hà Nội"),
        recipients=[edxml.Organization(RECIPIENTS[0], AGENCIES[1].name, AGENCIES[1].name, "Nghệ An")],
        code=edxml.Code("999", "VPCP-TTĐT"), subject="Gửi thiếu chữ ký số", promulgation_date=date.today())
    body = edxml.serialize(package)
    headers = wire.RecordHeaders(wire.new_message_id(), "edoc", SENDER, wire.sha256_hex(body), wire.now_ms())
    async with Publisher(bootstrap) as publisher:
        await publisher.publish(OutRecord(wire.OUTBOUND, package.document_id.encode(), body, headers.encode()))
    return package.document_id


@pytest_asyncio.fixture(scope="module")
async def traffic(embedded_postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[Traffic]:
    base = tmp_path_factory.mktemp("console-exchange")
    pki = DevPki(base / "pki")
    pki.init(algorithm="ec")
    database_url = await embedded_postgres.create_database(f"console_browser_{uuid.uuid4().hex[:8]}")
    async with EmbeddedBroker(log_path=base / "tansu.log") as broker:
        settings = Settings(data_dir=base / "data", pki_dir=pki.dir, kafka_bootstrap=broker.bootstrap,
                            database_url=Secret(database_url), metrics_port=0, console_port=0,
                            console_secret="b" * 40, confirm_timeout_s=2.0)
        async with open_exchange(settings, write_run_file=False, poll_s=0.05, directory_poll_s=0.2,
                                 epoch_interval_s=0.5) as exchange, contextlib.AsyncExitStack() as stack:
            await register_agencies(exchange, AGENCIES, algorithm="ec")
            agents: dict[str, Agent] = {}
            for agency in AGENCIES:
                agents[agency.organ_id] = await stack.enter_async_context(build_agent(
                    exchange.settings, agency.organ_id, poll_interval_s=0.05, epoch_interval_s=0.3,
                    consumer_options={"session_timeout_ms": 1000, "heartbeat_interval_ms": 250}))
            await await_directory(agents, len(AGENCIES))
            sent = [await agents[SENDER].service.submit_document(
                _fields(n), [AttachmentInput(f"cong-van-{n}.txt", "Nội dung.".encode(), "text/plain", "Toàn văn")])
                for n in range(3)]
            documents = [s.document_id for s in sent]

            async def arrived() -> bool:  # each recipient stored each document and its 01 is in the ledger
                trails = [await exchange.ledger.trail(d) for d in documents]
                return all(t and all(r["status_code"] for r in t["recipients"].values()) for t in trails)

            await eventually(arrived, timeout=30)
            await agents[RECIPIENTS[0]].service.send_status(documents[0], edxml.StatusCode.ACCEPTED, "Đã vào sổ")
            unsigned = await _send_unsigned(broker.bootstrap)
            await eventually(lambda: exchange.ledger.dead_letters(limit=5), timeout=20)
            console = await stack.enter_async_context(
                Console(exchange.settings, exchange.ledger, port=0, probes={"router": router_probe(exchange.router)},
                        follow_interval_s=0.2))
            users = ConsoleUsers(exchange.ledger.pool)
            await users.add("oanh", "operator", PASSWORD)
            await users.add("vinh", "viewer", PASSWORD)
            yield Traffic(exchange, console, documents, unsigned)


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: `make install-test` installs it (apt-get install chromium)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def _sign_in(browser: Browser, base: str, name: str) -> Page:
    page = await (await browser.new_context(base_url=base, locale="vi-VN")).new_page()
    page.set_default_timeout(10_000)
    await page.goto("/login")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_contain_text("Today,")
    return page


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


async def test_an_operator_finds_a_trail_and_requeues_a_dead_letter_and_a_viewer_is_refused(
        traffic: Traffic, browser: Browser) -> None:
    ledger = traffic.exchange.ledger
    operator = await _sign_in(browser, traffic.console.url, "oanh")
    await expect(operator.locator(".figures")).to_contain_text("documents accepted")
    await _shot(operator, "overview")

    await operator.fill("header input[name=q]", "triển khai nền tảng số")
    await operator.press("header input[name=q]", "Enter")
    rows = operator.locator("table tbody tr")
    await expect(rows).to_have_count(3)
    await expect(operator.locator("table")).to_contain_text("đợt 0")
    await _shot(operator, "search")
    await operator.click(f"a:text-is('{traffic.documents[0]}')")
    await expect(operator.locator("h1")).to_have_text(traffic.documents[0])
    trail = operator.locator(f"section[id='r-{RECIPIENTS[0]}']")
    await expect(trail).to_contain_text("published")
    await expect(trail).to_contain_text("01 arrived")
    await expect(trail).to_contain_text("03 accepted")
    await expect(operator.locator(f"section[id='r-{RECIPIENTS[1]}']")).to_contain_text("01 arrived")
    await _shot(operator, "document")
    async with operator.expect_download() as downloading:  # the evidence bundle, as `axis evidence` makes it
        await operator.click("button:has-text('Evidence bundle')")
    bundle = Path(await (await downloading.value).path()).read_bytes()
    trust = x509.load_pem_x509_certificates((traffic.exchange.settings.pki_dir / "ca.pem").read_bytes())
    report = verify_bundle(bundle, trust=trust, exchange=traffic.exchange.settings.exchange_organ_id)
    assert report.ok and report.document_id == traffic.documents[0], report.as_json()
    assert [a["operator"] for a in await ledger.operator_actions()
            if a["action"] == "evidence" and a["target"] == traffic.documents[0]] == ["oanh"]

    await operator.click("nav >> text=Dead letters")
    letter = operator.locator("tr", has_text="unsigned")
    await expect(letter).to_have_count(1)
    await letter.locator("button", has_text="Requeue").click()
    await expect(operator.locator(".flash.ok")).to_contain_text("will be judged again")
    await expect(operator.locator("table")).to_contain_text("asked by oanh")
    await _shot(operator, "dead-letters")
    [first] = [d for d in await ledger.dead_letters(limit=10) if d.document_id == traffic.unsigned_document
               and d.requeued_by]
    assert first.requeued_by == "oanh"
    await eventually(lambda: _requeued_and_refused_again(traffic), timeout=20)

    viewer = await _sign_in(browser, traffic.console.url, "vinh")
    await viewer.goto("/dead-letters")
    await viewer.locator("tr", has_text="unsigned").locator("button", has_text="Requeue").first.click()
    await expect(viewer.locator("h1")).to_have_text("Refused")
    await expect(viewer.locator(".flash.error")).to_contain_text("requeue needs the operator role; vinh is a viewer")
    await _shot(viewer, "viewer-refused")
    assert [d.requeued_by for d in await ledger.dead_letters(limit=10) if d.requeued_by] == ["oanh"]


async def _requeued_and_refused_again(traffic: Traffic) -> bool:
    """The router published the requeued bytes; still unsigned, they were refused again: a new dead letter."""
    letters = await traffic.exchange.ledger.dead_letters(limit=10)
    return len(letters) == 2 and any(d.requeued_at for d in letters)


async def test_receipts_owed_on_the_routers_own_rows_are_what_ledger_overdue_says(traffic: Traffic) -> None:
    receipts = traffic.console.state.receipts
    await receipts.catch_up(settled=False)
    later = traffic.exchange.ledger.clock() + timedelta(days=3)  # every 03 not sent is late by then
    late, token = await receipts.page(now=later, limit=100)
    expected = [o.as_dict() for o in await traffic.exchange.ledger.overdue(later)]
    assert token is None and sorted((o.as_dict() for o in late), key=str) == sorted(expected, key=str)
    assert len(expected) == 5  # 3 documents x 2 recipients, one of which accepted
    assert (await receipts.count(later)).total == 5
