"""`axis pki`, `axis sign`, `axis verify` through click's CliRunner: exit codes and --json."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from axis.cli import pki_cmds
from signing_helpers import VPCP, edoc, with_legacy_signature


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("axis")
    for command in (pki_cmds.pki, pki_cmds.sign, pki_cmds.verify):
        group.add_command(command)
    return group


@pytest.fixture
def pki_dir(cli: click.Group, tmp_path: Path) -> Path:
    runner = CliRunner()
    directory = tmp_path / "pki"
    assert runner.invoke(cli, ["pki", "init", "--dir", str(directory), "--algorithm", "ec"]).exit_code == 0
    issued = runner.invoke(cli, ["pki", "issue", "--dir", str(directory), "--organ-id", VPCP,
                                 "--name", "Văn phòng Chính phủ", "--algorithm", "ec"])
    assert issued.exit_code == 0, issued.output
    return directory


def test_the_module_exports_the_three_commands() -> None:
    assert {"pki", "sign", "verify"} <= set(vars(pki_cmds))
    assert set(pki_cmds.pki.commands) == {"init", "issue", "revoke", "list"}


def test_sign_then_verify_exits_0_and_the_json_names_signer_and_algorithm(
    cli: click.Group, pki_dir: Path, tmp_path: Path
) -> None:
    package, out = tmp_path / "in.edxml", tmp_path / "out.edxml"
    package.write_bytes(edoc())
    runner = CliRunner()
    signed = runner.invoke(cli, ["sign", str(package), "--key", str(pki_dir / f"{VPCP}-key.pem"),
                                 "--cert", str(pki_dir / f"{VPCP}.pem"), "-o", str(out)])
    assert signed.exit_code == 0, signed.output
    result = runner.invoke(cli, ["verify", str(out), "--trust", str(pki_dir / "ca.pem"),
                                 "--crl", str(pki_dir / "crl.pem"), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output.strip().splitlines()[-1])
    assert body["valid"] is True
    assert (body["signer"], body["algorithm"], body["reason"]) == (VPCP, "ecdsa-sha256", None)


def test_sign_writes_to_stdout_without_output(cli: click.Group, pki_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "in.edxml"
    package.write_bytes(edoc())
    result = CliRunner().invoke(cli, ["sign", str(package), "--key", str(pki_dir / f"{VPCP}-key.pem"),
                                      "--cert", str(pki_dir / f"{VPCP}.pem")])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"<?xml") and b"xmldsig#" in result.stdout_bytes


def test_verify_exits_1_with_the_reason_for_a_legacy_signature(cli: click.Group, pki_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "legacy.edxml"
    package.write_bytes(with_legacy_signature(edoc()))
    runner = CliRunner()
    result = runner.invoke(cli, ["verify", str(package), "--trust", str(pki_dir / "ca.pem"), "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert (body["valid"], body["signer"], body["reason"]) == (False, None, "legacy-signature")
    plain = runner.invoke(cli, ["verify", str(package), "--trust", str(pki_dir / "ca.pem")])
    assert plain.exit_code == 1 and "legacy-signature" in plain.output


def test_a_revoked_signer_fails_verification_after_pki_revoke(cli: click.Group, pki_dir: Path, tmp_path: Path) -> None:
    package, out = tmp_path / "in.edxml", tmp_path / "out.edxml"
    package.write_bytes(edoc())
    runner = CliRunner()
    runner.invoke(cli, ["sign", str(package), "--key", str(pki_dir / f"{VPCP}-key.pem"),
                        "--cert", str(pki_dir / f"{VPCP}.pem"), "-o", str(out)])
    assert runner.invoke(cli, ["pki", "revoke", "--dir", str(pki_dir), "--organ-id", VPCP]).exit_code == 0
    result = runner.invoke(cli, ["verify", str(out), "--trust", str(pki_dir / "ca.pem"),
                                 "--crl", str(pki_dir / "crl.pem"), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout.strip().splitlines()[-1])["reason"] == "certificate-revoked"
    listed = runner.invoke(cli, ["pki", "list", "--dir", str(pki_dir), "--json"])
    assert [(c["organ_id"], c["revoked"]) for c in json.loads(listed.output)] == [(VPCP, True)]


def test_a_passphrase_comes_from_the_named_environment_variable(cli: click.Group, tmp_path: Path) -> None:
    runner = CliRunner()
    directory = tmp_path / "pki"
    runner.invoke(cli, ["pki", "init", "--dir", str(directory), "--algorithm", "ec"])
    env = {"AXIS_TEST_PASS": "bí mật"}
    issued = runner.invoke(cli, ["pki", "issue", "--dir", str(directory), "--organ-id", VPCP, "--name", "VPCP",
                                 "--algorithm", "ec", "--passphrase-env", "AXIS_TEST_PASS"], env=env)
    assert issued.exit_code == 0, issued.output
    package = tmp_path / "in.edxml"
    package.write_bytes(edoc())
    args = ["sign", str(package), "--key", str(directory / f"{VPCP}-key.pem"), "--cert", str(directory / f"{VPCP}.pem")]
    without = runner.invoke(cli, args)
    assert without.exit_code == 1 and "passphrase" in without.output
    assert runner.invoke(cli, [*args, "--passphrase-env", "AXIS_TEST_PASS"], env=env).exit_code == 0
    assert runner.invoke(cli, [*args, "--passphrase-env", "AXIS_UNSET_VAR"]).exit_code == 2


def test_pki_commands_without_init_fail_with_exit_1(cli: click.Group, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["pki", "list", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "pki init" in result.output
