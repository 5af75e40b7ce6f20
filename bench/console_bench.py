"""Console bench: page times of the web console over a ledger at national volume.

    .venv/bin/python bench/console_bench.py [--documents 1000000] [--agencies 95] [--days 100]
                                            [--requests 60] [--timeout 5400] [--json]

Starts an embedded PostgreSQL in a temporary folder, creates a dedicated database (dropped at the end),
migrates it, and seeds `--documents` documents, each with 3 recipients, their deliveries and their
receipts (01 and 03), spread over `--days` days ending now (bench/_console_seed.py: set-based SQL, indexes
built after the load). The console's receipts projection then reads every event once, as a console does
when it first starts on an existing ledger. Then, signed in as an operator, it times each page in process
(httpx.ASGITransport on the console app: the server's time for the page, queries and template rendering,
without network or browser): the overview `/`, a search `/documents?q=` rotating over a DocumentId, an
organ id, words of a subject and a code with its notation, and a document's page `/documents/<DocumentId>`
of random documents; also the agencies, overdue and dead-letter pages. Each page is requested `--requests`
times after 3 warm-up requests; p50, p95 and max are printed. With `--json` the last line is one JSON object
(`documents`, `overview_p95_ms`, `search_p95_ms`, `document_p95_ms`, `seed_s`, ...). A watchdog fails the
bench, naming the stage it hung in, if it runs past `--timeout` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _console_seed import TOPICS, seed_ledger  # noqa: E402

from axis.bootstrap import build_ledger  # noqa: E402
from axis.console import ConsoleUsers, create_console_app  # noqa: E402
from axis.embedded import EmbeddedPostgres  # noqa: E402
from axis.settings import Secret, Settings  # noqa: E402

PASSWORD = "bench password"
LIMIT_MS = 300.0


class Watchdog:
    """Fails the bench, naming the stage it was in, when it runs past its time limit."""

    def __init__(self, timeout_s: float, log: Callable[[str], None]) -> None:
        self.stage = "starting"
        self._log = log
        self._timer = threading.Timer(timeout_s, self._fire, (timeout_s,))
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def enter(self, stage: str) -> None:
        self.stage = stage
        self._log(stage)

    def _fire(self, timeout_s: float) -> None:
        sys.stderr.write(f"console bench FAILED: still in stage '{self.stage}' after {timeout_s:.0f} s\n")
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(2)  # the embedded PostgreSQL's reaper stops the server when this process dies


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 1)

    return {"p50": at(0.50), "p95": at(0.95), "max": round(ordered[-1], 1), "n": len(ordered)}


async def _timed(http: httpx.AsyncClient, url: str) -> float:
    started = time.perf_counter()
    response = await http.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed


async def _measure(http: httpx.AsyncClient, urls: Callable[[int], str], requests: int) -> list[float]:
    for i in range(3):
        await _timed(http, urls(-1 - i))
    return [await _timed(http, urls(i)) for i in range(requests)]


async def _sign_in(http: httpx.AsyncClient) -> None:
    page = await http.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = await http.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf})
    if signed.status_code != 303:
        raise RuntimeError(f"sign-in failed: HTTP {signed.status_code}")


async def run(options: argparse.Namespace, log: Callable[[str], None], watchdog: Watchdog) -> dict[str, Any]:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="axis-console-bench-") as tmp:
        watchdog.enter("starting PostgreSQL")
        async with EmbeddedPostgres(Path(tmp) / "pgdata") as server:
            url = await server.create_database("console_bench")
            try:
                return await _bench(options, url, Path(tmp), rng, log, watchdog)
            finally:
                conn = await asyncpg.connect(server.database_url)
                try:
                    await conn.execute("DROP DATABASE IF EXISTS console_bench WITH (FORCE)")
                finally:
                    await conn.close()


async def _bench(options: argparse.Namespace, url: str, tmp: Path, rng: random.Random, log: Callable[[str], None],
                 watchdog: Watchdog) -> dict[str, Any]:
    settings = Settings(data_dir=tmp / "data", database_url=Secret(url), console_secret="b" * 40, metrics_port=0)
    async with build_ledger(settings) as ledger:
        watchdog.enter(f"seeding {options.documents:,} documents")
        started = time.monotonic()
        async with ledger.pool.acquire() as conn:
            info = await seed_ledger(conn, documents=options.documents, agencies=options.agencies, days=options.days,
                                     bulk=options.documents >= 100_000, progress=log)
            shared_buffers = await conn.fetchval("SHOW shared_buffers")
            size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
            events = await conn.fetchval("SELECT count(*) FROM events")
        seed_s = time.monotonic() - started
        log(f"seeded in {seed_s:.0f} s: {events:,} events, database {size}, shared_buffers {shared_buffers}")

        app = create_console_app(settings, ledger)
        watchdog.enter("the receipts projection reads every event")
        started = time.monotonic()
        await app.state.console.receipts.catch_up(settled=False)
        catch_up_s = time.monotonic() - started
        log(f"receipts projection caught up in {catch_up_s:.0f} s")
        await ConsoleUsers(ledger.pool).add("bench", "operator", PASSWORD)

        picks = [rng.randint(1, options.documents) for _ in range(options.requests + 3)]
        rows = {r["id"]: r for r in await ledger.pool.fetch(
            "SELECT id, document_id, code FROM documents WHERE id = ANY($1::bigint[])", picks)}

        def search(q: str) -> str:
            return "/documents?" + urlencode({"q": q})

        searches: dict[str, Callable[[int], str]] = {
            "document_id": lambda i: search(rows[picks[i]]["document_id"]),
            "organ_id": lambda i: search(info.agencies[picks[i] % len(info.agencies)]),
            "subject": lambda i: search(TOPICS[picks[i] % len(TOPICS)]),
            "code": lambda i: search(rows[picks[i]]["code"]),
        }
        pages: dict[str, Callable[[int], str]] = {
            "overview": lambda i: "/",
            "document": lambda i: "/documents/" + quote(rows[picks[i]]["document_id"], safe="/,"),
            "agencies": lambda i: "/agencies",
            "overdue": lambda i: "/overdue",
            "dead_letters": lambda i: "/dead-letters",
        }
        results: dict[str, dict[str, float]] = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as http:
            await _sign_in(http)
            for name, urls in pages.items():
                watchdog.enter(f"timing {name}")
                results[name] = percentiles(await _measure(http, urls, options.requests))
            search_all: list[float] = []
            for kind, urls in searches.items():
                watchdog.enter(f"timing search by {kind}")
                times = await _measure(http, urls, max(10, options.requests // len(searches)))
                results[f"search_{kind}"] = percentiles(times)
                search_all += times
            results["search"] = percentiles(search_all)
    return {
        "documents": options.documents,
        "recipients_per_document": 3,
        "events": events,
        "days": options.days,
        "database_size": size,
        "shared_buffers": shared_buffers,
        "seed_s": round(seed_s, 1),
        "receipts_catch_up_s": round(catch_up_s, 1),
        "overview_p95_ms": results["overview"]["p95"],
        "search_p95_ms": results["search"]["p95"],
        "document_p95_ms": results["document"]["p95"],
        "pages_ms": results,
        "under_300_ms": all(results[p]["p95"] < LIMIT_MS for p in ("overview", "search", "document")),
        "measured": "in process (httpx.ASGITransport), one request at a time, after 3 warm-up requests",
    }


def _render(report: dict[str, Any]) -> str:
    lines = [f"{'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'n':>5}"]
    for name, figures in report["pages_ms"].items():
        lines.append(f"{name:<22} {figures['p50']:>8} {figures['p95']:>8} {figures['max']:>8} {figures['n']:>5}")
    lines.append(f"{report['documents']:,} documents x 3 recipients, {report['events']:,} events, "
                 f"{report['database_size']}; seeded in {report['seed_s']} s; receipts projection caught up in "
                 f"{report['receipts_catch_up_s']} s")
    verdict = "under" if report["under_300_ms"] else "NOT under"
    lines.append(f"p95: overview {report['overview_p95_ms']} ms, search {report['search_p95_ms']} ms, "
                 f"document {report['document_p95_ms']} ms: {verdict} {LIMIT_MS:.0f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--agencies", type=int, default=95)
    parser.add_argument("--days", type=float, default=100.0, help="days of traffic, ending now")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--timeout", type=float, default=5400.0, help="watchdog: fail after this many seconds")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    options = parser.parse_args()
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:7.1f} s] {line}", file=sys.stderr, flush=True)

    with Watchdog(options.timeout, log) as watchdog:
        report = asyncio.run(run(options, log, watchdog))
    print(_render(report))
    if options.json:
        print(json.dumps(report, ensure_ascii=False))
    sys.exit(0 if report["under_300_ms"] else 1)


if __name__ == "__main__":
    main()
