"""The two entry points a newcomer uses: `axis demo` (the main job) and `axis up` (the exchange on this machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from axis.embedded import free_port

AXIS = [sys.executable, "-c", "from axis.cli import main; main()"]


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (a data folder path)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline and str(os.getpid()) != proc.name:
            found.append(f"{proc.name}: {cmdline}")
    return found


def _scrape(url: str, *, wanted: str, timeout_s: float = 30.0) -> str:
    """The metrics page once it shows `wanted` (the overdue gauge appears after the first ledger query)."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(url, timeout=5).text
        if wanted in text:
            break
        time.sleep(0.2)
    return text


@pytest.mark.slow
def test_demo_delivers_every_document_and_receipt_and_reports_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    result = subprocess.run(
        [*AXIS, "demo", "--agencies", "3", "--documents", "6", "--json", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["sent"] == 6
    assert report["delivered"] == report["deliveries_expected"] >= 6
    assert report["receipts"] == report["receipts_expected"] == report["deliveries_expected"] * 4
    assert report["lost"] == 0
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
    assert len(report["documents"]) == report["deliveries_expected"]
    assert all(row["last_status"] == "06" for row in report["documents"])
    sidecars = [json.loads(p.read_text()) for p in (data_dir / "agents").glob("*/inbox/*.json")]
    documents = [s for s in sidecars if s["kind"] == "edoc"]
    statuses = [s for s in sidecars if s["kind"] == "status"]
    assert len(documents) == report["deliveries_expected"], "each recipient's drop folder shows each document once"
    assert len(statuses) == report["receipts_expected"], "each sender's drop folder shows each receipt once"
    assert _processes_mentioning(str(data_dir)) == []


@pytest.mark.slow
def test_up_serves_until_sigterm_then_leaves_nothing_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "exchange"
    metrics_port = free_port()
    env = {**os.environ, "AXIS_METRICS_PORT": str(metrics_port), "AXIS_CONSOLE_PORT": str(free_port()),
           "AXIS_STATS_PORT": str(free_port())}
    proc = subprocess.Popen([*AXIS, "up", "--data-dir", str(data_dir), "--log-format", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        run_file = data_dir / "run.json"
        deadline = time.monotonic() + 90
        while not run_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run_file.exists(), proc.communicate(timeout=30)
        run = json.loads(run_file.read_text())
        assert run["kafka_bootstrap"].startswith("127.0.0.1:")
        assert (data_dir / "pki" / "ca.pem").exists()
        assert _processes_mentioning(str(data_dir)), "the embedded PostgreSQL should be running under the data folder"
        metrics = _scrape(f"http://127.0.0.1:{metrics_port}/metrics", wanted="axis_overdue_receipts")
        assert "axis_router_healthy 1.0" in metrics
        assert "axis_router_accepted_total 0.0" in metrics
        assert "axis_overdue_receipts 0.0" in metrics
        health = httpx.get(f"http://127.0.0.1:{metrics_port}/health", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        idle_from = datetime.now()
        time.sleep(3.0)  # idle: nothing may be logged
        idle_to = datetime.now()

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10, "stopping took longer than 10 s"
        assert proc.returncode == 0, err[-3000:]
        lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # JSON lines, every one
        assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
        moments = [datetime.strptime(line["time"], "%Y-%m-%d %H:%M:%S,%f") for line in lines]
        assert [line for line, at in zip(lines, moments) if idle_from < at < idle_to] == []
        assert "stopped" in out
        assert not run_file.exists()
        assert _processes_mentioning(str(data_dir)) == []
        port = run["kafka_bootstrap"].rsplit(":", 1)[1]
        assert _processes_mentioning(f"tcp://127.0.0.1:{port}") == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipes


@pytest.mark.slow
def test_up_runs_router_replicas_of_which_one_leads(tmp_path: Path) -> None:
    data_dir, metrics_port = tmp_path / "replicas", free_port()
    env = {**os.environ, "AXIS_METRICS_PORT": str(metrics_port), "AXIS_CONSOLE_PORT": "0", "AXIS_STATS_PORT": "0"}
    proc = subprocess.Popen([*AXIS, "up", "--data-dir", str(data_dir), "--routers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        replica = ""
        for line in proc.stdout:
            if "router replica:" in line:
                replica = line.split("router replica:")[1].split()[0]
            if "Ctrl-C or SIGTERM" in line:
                break
        assert replica.endswith("/health"), "axis up did not print the replica's health URL"
        reports = [httpx.get(url, timeout=10).json() for url in (f"http://127.0.0.1:{metrics_port}/health", replica)]
        assert [r["status"] for r in reports] == ["ok", "ok"]
        assert sorted(r["leader"] for r in reports) == [False, True]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert _processes_mentioning(str(data_dir)) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
