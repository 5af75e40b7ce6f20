"""`axis stats` as an operator runs it: serves until SIGTERM, then stops cleanly and promptly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from axis.cli import main
from axis.embedded import free_port

AXIS = [sys.executable, "-c", "from axis.cli import main; main()"]


async def test_axis_stats_serves_until_sigterm_then_stops_within_seconds(
        broker_factory, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broker = await broker_factory()
    port = free_port()
    env = {**os.environ, "AXIS_KAFKA_BOOTSTRAP": broker.bootstrap, "AXIS_DATABASE_URL": database_url,
           "AXIS_DATA_DIR": str(tmp_path)}
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *AXIS, "stats", "--port", str(port), "--log-format", "json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                assert proc.returncode is None, "axis stats exited while starting"
                assert time.monotonic() - began < 60, "axis stats not healthy within 60 s"
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        print(f"axis stats healthy {time.monotonic() - began:.1f} s after exec")
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=15)
        took = time.monotonic() - stopping
        print(f"axis stats stopped {took:.1f} s after SIGTERM")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert took < 5, f"stopping took {took:.1f} s"
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]  # JSON lines, every one
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert f"axis stats on http://127.0.0.1:{port}" in out.decode()


def test_axis_stats_refuses_to_run_with_its_port_off() -> None:
    result = CliRunner().invoke(main, ["stats"], env={"AXIS_STATS_PORT": "0"})
    assert result.exit_code == 1 and "stats_port is 0 (off): give --port" in result.output
