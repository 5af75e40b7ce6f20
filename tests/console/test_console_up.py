"""`axis up` serves the console beside the router (`--console-port`), says where in its banner, and stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from axis.embedded import free_port

AXIS = [sys.executable, "-c", "from axis.cli import main; main()"]


@pytest.mark.slow
def test_axis_up_serves_the_console_on_its_port_and_stops_it(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "AXIS_METRICS_PORT": str(free_port())}
    proc = subprocess.Popen([*AXIS, "up", "--data-dir", str(tmp_path / "exchange"), "--console-port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        banner = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(line.startswith("  router:") for line in banner):
            line = proc.stdout.readline()
            if not line:
                break
            banner.append(line)
        assert f"  console:         http://127.0.0.1:{port}/ (accounts: axis console user add NAME --role operator)\n" \
            in banner, "".join(banner) + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).headers["location"] == "/login?next=%2F"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
