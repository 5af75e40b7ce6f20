"""The console's settings: `console_port` and `console_secret`, like every other field (environment over file
over defaults, casts with clear errors, a secret that never prints), and the secret file made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.console import console_secret
from axis.errors import SettingsError
from axis.settings import Secret, Settings, load_settings


def test_the_console_listens_on_9401_by_default_and_signs_with_a_secret_of_the_data_folder() -> None:
    s = load_settings({})
    assert s.console_port == 9401 and s.console_secret is None


def test_environment_and_file_set_the_port_and_the_secret(tmp_path: Path) -> None:
    (tmp_path / "axis.toml").write_text(f'console_port = 9500\nconsole_secret = "{"f" * 40}"\n')
    from_file = load_settings({"AXIS_DATA_DIR": str(tmp_path)})
    assert from_file.console_port == 9500 and from_file.console_secret == Secret("f" * 40)
    from_env = load_settings({"AXIS_DATA_DIR": str(tmp_path), "AXIS_CONSOLE_PORT": "0",
                              "AXIS_CONSOLE_SECRET": "e" * 32})
    assert from_env.console_port == 0 and from_env.console_secret == Secret("e" * 32)
    assert "e" * 32 not in repr(from_env)


@pytest.mark.parametrize(("environ", "message"), [
    ({"AXIS_CONSOLE_PORT": "web"}, "AXIS_CONSOLE_PORT: expected a port number (0 for none), got 'web'"),
    ({"AXIS_CONSOLE_PORT": "70000"}, "console_port: expected 0..65535, got 70000"),
    ({"AXIS_CONSOLE_SECRET": "too short"}, "console_secret: must be at least 32 characters"),
])
def test_bad_console_settings_name_their_source(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environ)


def test_without_a_configured_secret_one_is_made_once_readable_by_the_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = console_secret(settings)
    path = tmp_path / "data" / "console-secret"
    assert len(first) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert console_secret(settings) == first
    assert console_secret(settings.replace(console_secret="c" * 32)) == "c" * 32
    path.write_text("short")
    with pytest.raises(SettingsError, match="fewer than 32 characters; remove it"):
        console_secret(settings)
