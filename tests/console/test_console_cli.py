"""`axis console user add|list|remove` and `axis console --port` on its own, against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from axis.cli import main
from axis.embedded import free_port

AXIS = [sys.executable, "-c", "from axis.cli import main; main()"]


def test_accounts_are_added_listed_and_removed_with_the_password_from_standard_input(
        database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"AXIS_DATABASE_URL": database_url, "AXIS_DATA_DIR": str(tmp_path)}
    added = runner.invoke(main, ["console", "user", "add", "lan", "--role", "operator"], input="mật khẩu của Lan\n",
                          env=env)
    assert added.exit_code == 0 and "console user lan (operator) added" in added.output, added.output
    again = runner.invoke(main, ["console", "user", "add", "lan", "--role", "viewer"], input="another one\n", env=env)
    assert again.exit_code != 0 and "exists" in again.output
    short = runner.invoke(main, ["console", "user", "add", "binh", "--role", "viewer"], input="short\n", env=env)
    assert short.exit_code != 0 and "at least 8 characters" in short.output
    replaced = runner.invoke(main, ["console", "user", "add", "lan", "--role", "viewer", "--replace"],
                             input="một mật khẩu khác\n", env=env)
    assert replaced.exit_code == 0 and "updated" in replaced.output

    listed = runner.invoke(main, ["console", "user", "list", "--json"], env=env)
    assert [(u["name"], u["role"]) for u in json.loads(listed.output)] == [("lan", "viewer")]
    assert "argon2" not in listed.output and "mật khẩu" not in listed.output

    assert runner.invoke(main, ["console", "user", "remove", "lan"], env=env).exit_code == 0
    gone = runner.invoke(main, ["console", "user", "remove", "lan"], env=env)
    assert gone.exit_code != 0 and "no console user 'lan'" in gone.output
    assert "no console users" in runner.invoke(main, ["console", "user", "list"], env=env).output


def test_the_console_runs_on_its_own_until_sigterm(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "AXIS_DATABASE_URL": database_url, "AXIS_DATA_DIR": str(tmp_path),
           "AXIS_METRICS_PORT": str(free_port())}
    proc = subprocess.Popen([*AXIS, "console", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"axis console on (http://127\.0\.0\.1:\d+)/", line)
        assert found, line + proc.stderr.read() if proc.poll() is not None else line
        url = found.group(1)
        assert httpx.get(f"{url}/health", timeout=5).json()["status"] == "ok"
        login = httpx.get(f"{url}/login", timeout=5)
        assert login.status_code == 200 and 'name="username"' in login.text and 'name="password"' in login.text
        assert (tmp_path / "console-secret").stat().st_mode & 0o777 == 0o600
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
