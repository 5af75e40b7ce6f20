"""The README's "Connecting an existing document system" sequence, as separate processes on real sockets.

`axis up`, `axis agency add`, `axis agent sdk-client add`, two `axis agent --port` processes; then a document
system speaking the SDK's wire to one agent, and another speaking the agent's own API to the other.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from vdxp_helpers import SECRET, SdkLikeClient

from axis.embedded import free_port

AXIS = [sys.executable, "-c", "from axis.cli import main; main()"]
PROVINCE, OFFICE = "000.00.00.H41", "000.00.00.G22"


def _axis(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*AXIS, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"axis {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


async def _until(check, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = await check()
            if result:
                return result
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.3)


@pytest.mark.slow
async def test_an_sdk_system_and_an_api_system_exchange_through_the_readme_commands(tmp_path: Path) -> None:
    data_dir = tmp_path / "exchange"
    env = {**os.environ, "AXIS_DATA_DIR": str(data_dir), "AXIS_METRICS_PORT": "0"}
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def start(*args: str) -> None:
        logs.append(tmp_path / f"process-{len(logs)}.log")
        with logs[-1].open("wb") as log:
            processes.append(subprocess.Popen([*AXIS, *args], env=env, stdout=log, stderr=subprocess.STDOUT))

    try:
        start("up")
        await _until(lambda: asyncio.sleep(0, (data_dir / "run.json").exists()))
        _axis(env, "agency", "add", "--organ-id", PROVINCE, "--name", "UBND Tỉnh Nghệ An")
        _axis(env, "agency", "add", "--organ-id", OFFICE, "--name", "Văn phòng Chính phủ")
        _axis(env, "agent", "sdk-client", "add", "--organ-id", PROVINCE, "--system-id", PROVINCE, "--secret", SECRET)
        assert SECRET not in _axis(env, "agent", "sdk-client", "list", "--organ-id", PROVINCE)
        ports = {PROVINCE: free_port(), OFFICE: free_port()}
        for organ, port in ports.items():
            start("agent", "--organ-id", organ, "--port", str(port))

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[PROVINCE]}/vdxp", timeout=30) as sdk_http, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[OFFICE]}", timeout=30) as api:
            await _until(lambda: _healthy(api))
            token = (data_dir / "agents" / OFFICE / "token").read_text().strip()
            api.headers["Authorization"] = f"Bearer {token}"
            sdk = SdkLikeClient(sdk_http, PROVINCE)

            # The office's document system sends through the agent's own API ...
            sent = await api.post("/documents", json={
                "to": [{"organ_id": PROVINCE}], "subject": "Công văn thử nghiệm", "code_number": "12",
                "code_notation": "VPCP-TTĐT",
                "attachments": [{"name": "cong-van.txt", "content_base64": "eGluIGNow6Bv"}],
            })
            assert sent.status_code in (200, 201), sent.text
            document_id = sent.json()["document_id"]

            # ... and the province's SDK-based system receives it with its unchanged receive loop.
            rows = await _until(lambda: sdk.received_list())
            assert [r["from"] for r in rows] == [OFFICE]
            stored = await sdk.receive_loop(tmp_path / "sdk-inbox")
            assert len(stored) == 1 and document_id.encode() in stored[0].read_bytes()
            assert await sdk.received_list() == []

            # The SDK system answers 03 as a status package; it reaches the office's document system.
            status_package = _status_03(stored[0].read_bytes())
            answer = (await sdk.send_edoc(status_package, messagetype="status", from_=PROVINCE)).json()
            assert answer["status"] == "OK", answer

            async def office_sees_03():  # type: ignore[no-untyped-def]
                trail = (await api.get("/sent")).json()
                return [r for r in trail if r["document_id"] == document_id and r["last_status_code"] == "03"]

            assert await _until(office_sees_03)
    finally:
        for proc in reversed(processes):
            proc.send_signal(signal.SIGTERM)
        for proc in reversed(processes):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"{proc.args} did not stop within 15 s of SIGTERM") from None
    assert processes[0].returncode == 0, logs[0].read_text()
    for log, proc in zip(logs[1:], processes[1:]):
        # uvicorn re-raises SIGTERM once it has shut down cleanly; the log shows the clean shutdown.
        assert proc.returncode in (0, -signal.SIGTERM), log.read_text()
        assert "Application shutdown complete" in log.read_text(), log.read_text()


async def _healthy(api: httpx.AsyncClient) -> bool:
    return (await api.get("/health")).status_code == 200


def _status_03(received: bytes) -> bytes:
    """A status 03 package answering the received document, as a document system writes one."""
    import edxml

    document = edxml.parse_package(received)
    assert isinstance(document, edxml.DocumentPackage)
    status = edxml.build_status(
        edxml.Organization(PROVINCE, "UBND Tỉnh Nghệ An", organ_add="Số 03, đường Trường Thi, Thành phố Vinh"),
        edxml.ResponseFor(OFFICE, document.header.code.code_number + "/" + document.header.code.code_notation,
                          document.header.promulgation.promulgation_date, document.document_id),
        edxml.StatusCode.ACCEPTED, "Văn thư: tiếp nhận, vào sổ văn bản đến",
    )
    return edxml.serialize(status)
