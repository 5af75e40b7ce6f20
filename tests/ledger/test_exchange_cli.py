"""`axis agency`, `axis status`, `axis overdue` against a real database (click's runner, real settings)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from axis.cli.exchange_cmds import agency, overdue, status
from signing import DevPki


def test_agency_add_list_disable_with_a_dev_certificate(database_url: str, tmp_path: Path) -> None:
    DevPki(tmp_path / "pki").init(algorithm="ec")
    env = {"AXIS_DATABASE_URL": database_url, "AXIS_KAFKA_BOOTSTRAP": "127.0.0.1:1", "AXIS_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    added = runner.invoke(agency, ["add", "--organ-id", "000.00.00.H41", "--name", "Nghệ An"], env=env)
    assert added.exit_code == 0, added.output
    listed = runner.invoke(agency, ["list", "--json"], env=env)
    [entry] = json.loads(listed.stdout)
    assert entry["organ_id"] == "000.00.00.H41" and len(entry["fingerprints"]) == 1
    assert runner.invoke(agency, ["disable", "--organ-id", "000.00.00.H41"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(agency, ["list"], env=env).stdout
    missing = runner.invoke(status, ["nope"], env=env)
    assert missing.exit_code == 1 and "no document" in missing.output
    assert json.loads(runner.invoke(overdue, ["--json"], env=env).stdout) == []
