"""Quiet, useful logs: a connected, idle `axis agent` writes nothing, and `--log-format json` writes JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from agent_support import SENDER

from axis.embedded import free_port


async def test_an_idle_agent_writes_nothing_and_json_logs_are_json_lines(
        tmp_path: Path, pki_dir: Path, private_bootstrap: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
    env.update(AXIS_DATA_DIR=str(tmp_path / "data"), AXIS_PKI_DIR=str(pki_dir), AXIS_AGENT_TOKEN="test-token",
               AXIS_KAFKA_BOOTSTRAP=private_bootstrap)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from axis.cli import main; main()", "agent", "--organ-id", SENDER,
        "--port", str(free_port()), "--log-format", "json", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    lines: list[dict[str, str]] = []
    try:
        deadline = time.monotonic() + 30
        while not any("connected to the broker" in line["message"] for line in lines):
            raw = await asyncio.wait_for(proc.stderr.readline(), timeout=max(0.1, deadline - time.monotonic()))
            assert raw, "axis agent exited before it connected"
            lines.append(json.loads(raw))
        await asyncio.sleep(1.0)  # the first directory read and the like
        idle_from = datetime.now()
        await asyncio.sleep(3.0)
        idle_to = datetime.now()
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), timeout=15)
        await proc.wait()
    lines += [json.loads(raw) for raw in rest.decode().splitlines() if raw.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    moments = [datetime.strptime(line["time"], "%Y-%m-%d %H:%M:%S,%f") for line in lines]
    assert [line for line, at in zip(lines, moments) if idle_from < at < idle_to] == []
