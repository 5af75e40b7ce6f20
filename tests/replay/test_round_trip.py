"""Round trip: traffic through a real exchange, recorded, played with --resign into a fresh exchange, and
the two ledgers' outcomes compared. Real broker, real PostgreSQL, real agents and routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.bootstrap import Agent
from agents.model import AttachmentInput, DocumentFields, OrganInput
from axis import wire
from axis.cli import main
from axis.embedded import EmbeddedBroker, EmbeddedPostgres
from axis.replay import diff_outcomes, play, read_outcome, record_topics
from axis.testing._exchange import RunningExchange

G22, H41, H14 = "000.00.00.G22", "000.00.00.H41", "000.00.00.H14"
AGENCIES = {G22: "Văn phòng Chính phủ", H41: "UBND Tỉnh Nghệ An", H14: "UBND Tỉnh Cao Bằng"}

BrokerFactory = Callable[[], Awaitable[EmbeddedBroker]]


def _fields(to: list[str], number: int, **extra: object) -> DocumentFields:
    return DocumentFields(
        to=tuple(OrganInput(o) for o in to),
        subject=f"Công văn số {number}",
        code_number=str(number),
        code_notation="VPCP-TTĐT",
        promulgation_date=date(2026, 12, 1),
        **extra,
    )  # type: ignore[arg-type]


async def _traffic(agents: dict[str, Agent], settle: Callable[[], Awaitable[None]]) -> list[str]:
    """Documents to several recipients, statuses in order, a refusal (02), a withdrawal and a revoke."""
    g22, h41, h14 = agents[G22].service, agents[H41].service, agents[H14].service
    attachment = [AttachmentInput("cong-van.pdf", b"%PDF-1.5 " * 200, "application/pdf")]
    docs = [(await g22.submit_document(_fields([H41, H14], n), attachment)).document_id for n in (1, 2, 3)]
    docs.append((await h41.submit_document(_fields([G22], 4), attachment)).document_id)
    await settle()
    for code in ("03", "04", "06"):
        await h41.send_status(docs[0], code, f"bước {code}")
    await h14.send_status(docs[0], "02", "sai thẩm quyền")
    await h14.send_status(docs[0], "03", "tiếp nhận sau khi từ chối")  # the router refuses it: 02 ended it
    await g22.send_status(docs[1], "13", "đề nghị thu hồi")
    await g22.submit_document(_fields([H41, H14], 5, doc_type=1, doc_reason="thu hồi", replaces=(docs[2],)), [])
    await settle()
    await h41.send_status(docs[1], "15", "đồng ý thu hồi")
    await h14.send_status(docs[1], "16", "không đồng ý")
    await h41.send_status(docs[2], "15", "đồng ý")
    await g22.send_status(docs[3], "03", "đã vào sổ")
    await settle()
    return docs


@pytest.mark.slow
async def test_a_recorded_exchange_played_with_resign_into_a_fresh_one_reaches_the_same_outcome(
    broker_factory: BrokerFactory, embedded_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    source = RunningExchange((await broker_factory()).bootstrap, embedded_postgres, tmp_path / "a", AGENCIES)
    await source.start()
    try:
        await _traffic({o: a for o, (a, _) in source.agents.items()}, lambda: source.settle([], 60))
        expected = await read_outcome(source.ledger)
        recording = tmp_path / "outbound.jsonl.gz"
        header = await record_topics(source.bootstrap, [wire.OUTBOUND], recording)
    finally:
        await source.stop()
    assert expected.totals["documents"] == 5 and expected.totals["refused"] == 1
    assert expected.status_codes(_id(expected, 1), H41) == ["01", "03", "04", "06"]
    assert expected.state(_id(expected, 1), H14) == "refused"
    assert expected.recipient(_id(expected, 3), H41)["changes"] == ["revoked"]
    assert header.count > 30 and header.source["epoch"]

    target = RunningExchange((await broker_factory()).bootstrap, embedded_postgres, tmp_path / "b", {})
    await target.start()
    try:
        report = await play(target.settings, recording, speed=None, resign=True, algorithm="ec")
        await target.settle(report.message_ids, 60)
        replayed = await read_outcome(target.ledger)
        forecast: list[str] = []  # once more, as recorded: signed by the first exchange's keys
        again = await play(target.settings, recording, speed=None, on_warning=forecast.append)
        await target.settle(again.message_ids, 60)
        after_again = await read_outcome(target.ledger)
    finally:
        await target.stop()
    assert report.records == header.count
    assert report.registration is not None and sorted(report.registration.registered) == sorted(AGENCIES)
    (tmp_path / "a.json").write_text(expected.to_json())
    (tmp_path / "b.json").write_text(replayed.to_json())
    result = CliRunner().invoke(main, ["replay", "diff", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    assert diff_outcomes(expected, replayed) == []
    assert any("untrusted-certificate" in line for line in forecast), forecast  # said before it started
    assert diff_outcomes(replayed, after_again) == []  # the same message ids again: nothing changes


def _id(outcome, number: int) -> str:  # type: ignore[no-untyped-def]
    return next(d["document_id"] for d in outcome.documents if d["document_id"].endswith(f",{number}/VPCP-TTĐT"))
