"""The SDK client registry and `axis agent sdk-client add|list|remove`."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.vdxp import RegistryError, SdkClientRegistry, registry_path
from agents.vdxp.cli import sdk_client
from vdxp_helpers import H13, H41, SAAS, SECRET


def test_a_generated_secret_looks_like_a_national_one(tmp_path: Path) -> None:
    client, generated = SdkClientRegistry(tmp_path / "c.json").add(H13, may_send_for=(H13,))
    assert generated and len(client.secret) == 44 and len(base64.b64decode(client.secret)) == 32


def test_the_file_is_private_and_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "agents" / H13 / "sdk-clients.json"
    registry = SdkClientRegistry(path)
    registry.add(H13, may_send_for=(H13,), secret=SECRET)
    registry.add(SAAS, may_send_for=(H41, H13), secret="other")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["sdk-clients.json", "sdk-clients.json.lock"]
    assert [c["system_id"] for c in json.loads(path.read_text())["clients"]] == [H13, SAAS]


def test_the_secret_never_shows_in_a_repr(tmp_path: Path) -> None:
    client, _ = SdkClientRegistry(tmp_path / "c.json").add(H13, may_send_for=(H13,), secret=SECRET)
    assert SECRET not in repr(client)


def test_a_running_agent_sees_changes_made_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    running, cli = SdkClientRegistry(path), SdkClientRegistry(path)
    assert running.get(H13) is None
    cli.add(H13, may_send_for=(H13,), secret=SECRET)
    assert running.get(H13) is not None and running.get(H13).secret == SECRET  # type: ignore[union-attr]
    cli.remove(H13)
    assert running.get(H13) is None


def test_a_system_id_is_registered_once(tmp_path: Path) -> None:
    registry = SdkClientRegistry(tmp_path / "c.json")
    registry.add(H13, may_send_for=(H13,), secret=SECRET)
    with pytest.raises(RegistryError, match="already registered"):
        registry.add(H13, may_send_for=(H13,))


def test_a_broken_file_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(RegistryError, match="cannot read SDK clients"):
        SdkClientRegistry(path).get(H13)


def test_an_organ_id_cannot_escape_the_agents_folder(tmp_path: Path) -> None:
    assert registry_path(tmp_path, H13) == tmp_path / "agents" / H13 / "sdk-clients.json"
    with pytest.raises(RegistryError):
        registry_path(tmp_path, "../etc")


def test_the_cli_adds_lists_and_removes_clients_in_the_agents_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"AXIS_DATA_DIR": str(tmp_path)}
    added = runner.invoke(sdk_client, ["add", "--organ-id", H13, "--system-id", H13], env=env)
    assert added.exit_code == 0, added.output
    secret = added.output.strip().rsplit(" ", 1)[-1]
    assert len(secret) == 44
    kept = runner.invoke(sdk_client, ["add", "--organ-id", H13, "--system-id", SAAS, "--secret", SECRET,
                                      "--may-send-for", H13, "--may-send-for", H41], env=env)
    assert kept.exit_code == 0 and SECRET not in kept.output
    assert f"signs only as {H13}" in kept.output  # stderr is mixed into output by CliRunner
    registry = SdkClientRegistry(tmp_path / "agents" / H13 / "sdk-clients.json")
    assert registry.get(H13).secret == secret and registry.get(SAAS).secret == SECRET  # type: ignore[union-attr]
    assert registry.get(H13).may_send_for == (H13,)  # type: ignore[union-attr]
    listed = runner.invoke(sdk_client, ["list", "--organ-id", H13], env=env)
    assert listed.exit_code == 0 and H13 in listed.output and SAAS in listed.output
    assert secret not in listed.output and SECRET not in listed.output
    removed = runner.invoke(sdk_client, ["remove", "--organ-id", H13, "--system-id", SAAS], env=env)
    assert removed.exit_code == 0 and registry.get(SAAS) is None
    again = runner.invoke(sdk_client, ["remove", "--organ-id", H13, "--system-id", SAAS], env=env)
    assert again.exit_code != 0 and "not registered" in again.output


def test_the_cli_reads_a_secret_from_stdin(tmp_path: Path) -> None:
    result = CliRunner().invoke(sdk_client, ["add", "--organ-id", H13, "--system-id", H13, "--secret", "-"],
                                input=SECRET + "\n", env={"AXIS_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert SdkClientRegistry(registry_path(tmp_path, H13)).get(H13).secret == SECRET  # type: ignore[union-attr]
