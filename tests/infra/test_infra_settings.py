"""Settings: environment over file over defaults, casts with clear errors, secrets that never print."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from axis.errors import AxisError, SettingsError
from axis.settings import (
    RunInfo,
    Secret,
    Settings,
    load_settings,
    read_run_info,
    remove_run_info,
    resolve_endpoints,
    write_run_info,
)


def test_defaults_match_the_architecture_contract() -> None:
    s = load_settings({})
    assert s.data_dir == Path(".axis")
    assert s.pki_dir == Path(".axis/pki")
    assert s.kafka_bootstrap is None and s.database_url is None and s.agent_token is None
    assert (s.outbound_partitions, s.inbox_partitions) == (8, 1)
    assert s.max_package_bytes == 50 * 1024 * 1024
    assert (s.redelivery_after_s, s.redelivery_limit, s.arrival_deadline_s) == (600.0, 6, 900.0)
    assert (s.workday_start, s.workday_end, s.working_days) == ("08:00", "17:00", (0, 1, 2, 3, 4))
    assert s.timezone == "Asia/Ho_Chi_Minh"
    assert (s.publish_batch_max, s.confirm_timeout_s) == (500, 30.0)


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().redelivery_limit = 1  # type: ignore[misc]


def test_environment_wins_over_the_file_and_the_file_over_defaults(tmp_path: Path) -> None:
    (tmp_path / "axis.toml").write_text('redelivery_limit = 3\ninbox_partitions = 2\ntimezone = "UTC"\n')
    s = load_settings({"AXIS_DATA_DIR": str(tmp_path), "AXIS_REDELIVERY_LIMIT": "9"})
    assert s.redelivery_limit == 9  # env
    assert s.inbox_partitions == 2  # file
    assert s.timezone == "UTC"  # file
    assert s.outbound_partitions == 8  # default
    assert s.pki_dir == tmp_path / "pki"


def test_axis_config_names_the_file_and_overrides_win_over_everything(tmp_path: Path) -> None:
    cfg = tmp_path / "custom.toml"
    cfg.write_text('outbound_partitions = 4\nworking_days = ["mon", "tue"]\n')
    s = load_settings({"AXIS_CONFIG": str(cfg), "AXIS_OUTBOUND_PARTITIONS": "6"}, outbound_partitions=2)
    assert s.outbound_partitions == 2
    assert s.working_days == (0, 1)


def test_casts_of_every_kind_from_environment_strings() -> None:
    s = load_settings(
        {
            "AXIS_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
            "AXIS_DATABASE_URL": "postgresql://u:pw@db/axis",
            "AXIS_REDELIVERY_AFTER_S": "12.5",
            "AXIS_MAX_PACKAGE_BYTES": "1_000_000",
            "AXIS_WORKING_DAYS": "mon,tue,wed,thu,fri,sat",
            "AXIS_PKI_DIR": "/etc/axis/pki",
            "AXIS_AGENT_TOKEN": "tok",
        }
    )
    assert s.kafka_bootstrap == "k1:9092,k2:9092"
    assert isinstance(s.database_url, Secret)
    assert s.database_url.get_secret_value() == "postgresql://u:pw@db/axis"
    assert s.redelivery_after_s == 12.5
    assert s.max_package_bytes == 1_000_000
    assert s.working_days == (0, 1, 2, 3, 4, 5)
    assert s.pki_dir == Path("/etc/axis/pki")
    assert s.agent_token == Secret("tok")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AXIS_REDELIVERY_LIMIT": "x"}, "AXIS_REDELIVERY_LIMIT: expected an integer, got 'x'"),
        ({"AXIS_CONFIRM_TIMEOUT_S": "soon"}, "AXIS_CONFIRM_TIMEOUT_S: expected a number of seconds, got 'soon'"),
        ({"AXIS_WORKING_DAYS": "funday"}, "AXIS_WORKING_DAYS: expected days"),
        ({"AXIS_OUTBOUND_PARTITIONS": "0"}, "outbound_partitions: must be at least 1"),
        ({"AXIS_TIMEZONE": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"AXIS_WORKDAY_START": "18:00"}, "must be before workday_end"),
        ({"AXIS_WORKDAY_END": "5pm"}, "expected a time of day HH:MM"),
    ],
)
def test_bad_values_raise_settings_error_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")) as info:
        load_settings(env)
    assert isinstance(info.value, AxisError)


def test_file_problems_are_settings_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("redelivery_limit = \n")
    with pytest.raises(SettingsError, match="bad.toml"):
        load_settings({}, config_file=bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("redelivery_limt = 3\n")
    with pytest.raises(SettingsError, match="unknown setting.*redelivery_limt"):
        load_settings({}, config_file=typo)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({}, config_file=tmp_path / "missing.toml")
    with pytest.raises(SettingsError, match="expected an integer"):
        typed = tmp_path / "typed.toml"
        typed.write_text('redelivery_limit = "many"\n')
        load_settings({}, config_file=typed)
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings({}, no_such_field=1)


def test_secrets_never_print() -> None:
    s = load_settings({"AXIS_DATABASE_URL": "postgresql://u:hunter2@db/x", "AXIS_AGENT_TOKEN": "hunter3"})
    for text in (str(s), repr(s), f"{s.database_url}", str(s.agent_token), repr(s.agent_token)):
        assert "hunter" not in text
    assert "**********" in repr(s)


def test_load_settings_reads_os_environ_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AXIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AXIS_INBOX_PARTITIONS", "3")
    assert load_settings().inbox_partitions == 3


def test_run_info_round_trips_and_fills_missing_endpoints(tmp_path: Path) -> None:
    info = RunInfo("127.0.0.1:9", Secret("postgresql://postgres@/postgres?host=/s"), tmp_path / "pki", os.getpid())
    path = write_run_info(tmp_path, info)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_run_info(tmp_path) == info
    s = Settings(data_dir=tmp_path)
    assert resolve_endpoints(s) == ("127.0.0.1:9", info.database_url)
    assert s.resolved().kafka_bootstrap == "127.0.0.1:9"
    explicit = Settings(data_dir=tmp_path, kafka_bootstrap="kafka:9092")
    assert resolve_endpoints(explicit) == ("kafka:9092", info.database_url)
    remove_run_info(tmp_path)
    assert read_run_info(tmp_path) is None


def test_without_a_running_exchange_the_error_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"no exchange running in .* \(start `axis up`\) and AXIS_KAFKA_BOOTSTRAP not set"):
        resolve_endpoints(Settings(data_dir=tmp_path))
    agent = Settings(data_dir=tmp_path, kafka_bootstrap="k:1")
    assert resolve_endpoints(agent, need_database=False) == ("k:1", None)
    with pytest.raises(SettingsError, match="AXIS_DATABASE_URL not set"):
        resolve_endpoints(agent)


def test_a_stale_run_file_is_reported(tmp_path: Path) -> None:
    write_run_info(tmp_path, RunInfo("127.0.0.1:9", Secret("postgresql://x"), tmp_path, pid=2**22 + 12345))
    with pytest.raises(SettingsError, match="not running"):
        resolve_endpoints(Settings(data_dir=tmp_path))
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(SettingsError, match="unreadable"):
        read_run_info(tmp_path)


def test_replace_keeps_pki_dir_following_data_dir(tmp_path: Path) -> None:
    s = Settings().replace(data_dir=tmp_path)
    assert s.pki_dir == tmp_path / "pki"
    t = Settings(pki_dir=Path("/keys")).replace(data_dir=tmp_path)
    assert t.pki_dir == Path("/keys")


def test_every_field_can_be_set_from_the_environment() -> None:
    from axis.settings import _CASTS

    assert set(_CASTS) == {f.name for f in dataclasses.fields(Settings)}
