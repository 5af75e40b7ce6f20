"""The stats app beside a real router: its faust figures equal the ledger's SQL figures after normal traffic and
again after the broker lost its data; its metrics, health and JSON say the same."""

from __future__ import annotations

import asyncio
import time

import httpx
from exchange_helpers import Exchange
from prometheus_client.parser import text_string_to_metric_families
from stats_support import Traffic, figure_problems, published_tallies, until_figures_match

from axis.embedded import EmbeddedBroker
from axis.stats import StatsService, ledger_facts, tallies_of


async def _day_of_traffic(ex: Exchange) -> Traffic:
    """Six documents, answers 20 s to 2 min later, two deliveries acknowledged without an answer, one delivery
    never acknowledged, two refusals; then 16 minutes pass (three receipts of 000.00.00.H14 go overdue)."""
    vpcp, nghean, caobang = ex.vpcp, ex.nghean, ex.caobang
    traffic = Traffic(ex)
    d1, d2, d3, d4 = await traffic.send(vpcp, [nghean, caobang], 4)
    d5, d6 = await traffic.send(nghean, [vpcp], 2)
    traffic.later(20)
    await traffic.answer("01", [(nghean, d1), (nghean, d2), (vpcp, d5)])
    traffic.later(40)
    await traffic.answer("01", [(caobang, d1), (nghean, d3), (nghean, d4), (vpcp, d6)])
    traffic.later(75)
    await traffic.answer("03", [(nghean, d1), (nghean, d2), (nghean, d3), (caobang, d1)])
    await traffic.ack(caobang, [d2, d3])
    await traffic.refused(ex.rogue, [vpcp], sign=True)  # its certificate is not registered
    await traffic.refused(ex.haiphong, [vpcp], sign=False)
    traffic.later(16 * 60)
    return traffic


async def test_the_figures_equal_the_ledgers_after_normal_traffic(exchange: Exchange, stats: StatsService) -> None:
    await _day_of_traffic(exchange)
    took = await until_figures_match(stats, stats.day_start())
    print(f"stats matched the ledger {took:.1f} s after the last fact")

    day = {agency: f.report() for agency, f in stats.engine.figures("day", exchange.clock()).items()}  # type: ignore[union-attr]
    vpcp, nghean, caobang = exchange.vpcp.organ_id, exchange.nghean.organ_id, exchange.caobang.organ_id
    rogue, haiphong = exchange.rogue.organ_id, exchange.haiphong.organ_id
    assert {a: r["sent"] for a, r in day.items() if r["sent"]} == {vpcp: 4, nghean: 2}
    assert {a: r["received"] for a, r in day.items() if r["received"]} == {nghean: 4, caobang: 3, vpcp: 2}
    assert {a: r["deliveries"] for a, r in day.items() if r["deliveries"]} == {vpcp: 7, nghean: 2}
    assert {a: r["refusals"] for a, r in day.items() if r["refusals"]} == {rogue: 1, haiphong: 1}
    to_01, to_03 = day[nghean]["time_to_01_seconds"], day[nghean]["time_to_03_seconds"]
    assert to_01["count"] == 4 and abs(to_01["p50"] - 20) <= 0.2 and abs(to_01["p90"] - 60) <= 0.6  # 20, 20, 60, 60
    assert to_03["count"] == 3 and abs(to_03["p90"] - 135) <= 1.35
    assert day[caobang]["time_to_01_seconds"]["count"] == 1 and day[vpcp]["time_to_01_seconds"]["count"] == 2

    # A rebuild replays the ledger's facts: they must count exactly as the router's copies on the wire do.
    from_ledger = {t.once: t.asdict() for batch in [b async for b in ledger_facts(stats.ledger.pool, stats.day_start())]
                   for f in batch for t in tallies_of(f)}
    assert len(from_ledger) == 6 + (7 + 4) + 2 * (7 + 2) + 2  # sent, 01 and 03, delivered (by 01, acked) x2, refused
    on_wire = await published_tallies(exchange.bootstrap, exchange.settings.outbound_partitions, set(from_ledger))
    assert {once: on_wire[once] for once in from_ledger} == from_ledger


async def test_metrics_health_and_the_json_api_tell_the_same_figures(exchange: Exchange, stats: StatsService) -> None:
    traffic = Traffic(exchange)
    [doc] = await traffic.send(exchange.vpcp, [exchange.caobang], 1)
    traffic.later(30)
    await traffic.answer("01", [(exchange.caobang, doc)])
    await traffic.send(exchange.vpcp, [exchange.nghean], 2)
    traffic.later(16 * 60)  # the two documents to 000.00.00.H41 wait for their 01 past the deadline
    await until_figures_match(stats, stats.day_start())
    nghean = exchange.nghean.organ_id
    async with httpx.AsyncClient(base_url=stats.url, timeout=5) as http:
        health = await _until(lambda: http.get("/health"), lambda r: r.status_code == 200)
        assert health.json()["status"] == "ok" and health.json()["broker"] == "ok"
        metrics = await _until(lambda: http.get("/metrics"), lambda r: "axis_stats_overdue_receipts{" in r.text)
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(metrics.text) for s in family.samples}
        assert samples[("axis_stats_healthy", ())] == 1
        assert samples[("axis_stats_documents_sent_total", ())] == 3
        assert samples[("axis_stats_documents_received_total", ())] == 1
        assert samples[("axis_stats_overdue_receipts", (("agency", nghean), ("status", "01")))] == 2
        quantile = ("axis_stats_time_to_status_seconds", (("quantile", "0.5"), ("status", "01"), ("window", "day")))
        assert abs(samples[quantile] - 30) <= 0.3
        assert not any(name == "axis_stats_time_to_status_seconds" and dict(labels).get("status") == "03"
                       for name, labels in samples)

        at = exchange.clock().isoformat()
        agencies = (await http.get("/stats/agencies", params={"window": "hour", "at": at})).json()
        rows = {row["agency"]: row for row in agencies["agencies"]}
        assert agencies["ready"] and rows[nghean]["overdue_receipts"]["01"] == 2  # 03 too, after 17:00 in Hanoi
        engine_figures = stats.engine.figures("hour", exchange.clock())  # type: ignore[union-attr]
        vpcp = exchange.vpcp.organ_id
        assert rows[vpcp] == {"agency": vpcp, **engine_figures[vpcp].report(),
                              "overdue_receipts": rows[vpcp]["overdue_receipts"]}
        overview = (await http.get("/stats/overview", params={"at": at})).json()
        assert overview["windows"]["day"]["sent"] == 3 and overview["overdue_receipts"]["01"] == 2
        assert (await http.get("/stats/agencies", params={"window": "week"})).status_code == 400
        assert (await http.get("/stats/agencies", params={"at": "yesterday"})).status_code == 400


async def test_after_the_broker_lost_its_data_the_tables_are_rebuilt_from_the_ledger(
        exchange: Exchange, stats: StatsService, broker: EmbeddedBroker) -> None:
    traffic = Traffic(exchange)
    [d1, d2] = await traffic.send(exchange.vpcp, [exchange.nghean], 2)
    traffic.later(45)
    await traffic.answer("01", [(exchange.nghean, d1)])
    await traffic.refused(exchange.rogue, [exchange.vpcp], sign=True)
    await until_figures_match(stats, stats.day_start())
    first = stats.engine
    assert first is not None

    # The router is down when the broker loses its data: nobody republishes the day on the new epoch's topic;
    # the stats app must rebuild from the ledger alone, and say it is not ok meanwhile.
    await exchange.router.stop()
    async with httpx.AsyncClient(base_url=stats.url, timeout=5) as http:
        began = time.monotonic()
        await broker.restart()
        restarted = time.monotonic()
        await _until(lambda: http.get("/health"), lambda r: r.status_code == 503, timeout=20)
        await _until(lambda: http.get("/health"), lambda r: r.status_code == 200, timeout=60)
        healthy = time.monotonic()
        print(f"broker restarted in {restarted - began:.1f} s; stats healthy {healthy - restarted:.1f} s later")
    engine = stats.engine
    assert engine is not None and engine is not first and engine.epoch != first.epoch
    assert engine.facts == 0 and engine.rebuild_sent > 0 and stats.rebuilds == 2
    assert await figure_problems(stats, stats.day_start()) == []

    # The router comes back on the new epoch; what happens now reaches the stats through edx.events again.
    await exchange.restart_router()
    traffic.later(30)
    await traffic.answer("01", [(exchange.nghean, d2)])
    await traffic.send(exchange.nghean, [exchange.vpcp], 1)
    await until_figures_match(stats, stats.day_start())
    assert engine.facts > 0


async def _until(request, accept, timeout: float = 30.0) -> httpx.Response:  # type: ignore[no-untyped-def]
    """Ask again until the answer is accepted; fail with the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        response = await request()
        if accept(response):
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
        await asyncio.sleep(0.05)
