"""Typed, frozen settings read once at the entrypoint (like starlette's `Config`).

Only `load_settings` looks at the process environment; library code receives a `Settings` (or plain
values) as arguments, so tests build one directly and nothing depends on hidden global state.

Precedence, highest first: keyword overrides, `AXIS_<FIELD>` environment variables, the TOML file
(`AXIS_CONFIG`, else `<data_dir>/axis.toml` when present), the defaults below. The endpoints of a locally
running exchange (`axis up`) live in `<data_dir>/run.json`; `resolve_endpoints` fills missing ones from it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from axis.errors import SettingsError

__all__ = [
    "RUN_FILE",
    "RunInfo",
    "Secret",
    "Settings",
    "SettingsError",
    "load_settings",
    "read_run_info",
    "remove_run_info",
    "resolve_endpoints",
    "write_run_info",
]

MiB = 1024 * 1024
RUN_FILE = "run.json"
_ENV_PREFIX = "AXIS_"
_DEFAULT_DATA_DIR = Path(".axis")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Secret:
    """A secret string (database URL with a password, API token) that never prints its value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = str(value)

    def get_secret_value(self) -> str:
        """The real value; call it only where the secret is handed to a driver."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def _hhmm(value: str) -> _dt.time:
    try:
        return _dt.time.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"expected a time of day HH:MM, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the exchange, the router and the agents can be configured with."""

    data_dir: Path = _DEFAULT_DATA_DIR
    kafka_bootstrap: str | None = None
    database_url: Secret | None = None
    pki_dir: Path = None  # type: ignore[assignment]  # filled in as <data_dir>/pki by __post_init__
    outbound_partitions: int = 8
    inbox_partitions: int = 1
    max_package_bytes: int = 50 * MiB
    redelivery_after_s: float = 600.0
    redelivery_limit: int = 6
    arrival_deadline_s: float = 900.0
    workday_start: str = "08:00"
    workday_end: str = "17:00"
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    timezone: str = "Asia/Ho_Chi_Minh"
    publish_batch_max: int = 500
    confirm_timeout_s: float = 30.0
    agent_token: Secret | None = None
    metrics_port: int = 9400  # the router's Prometheus endpoint on 127.0.0.1; 0 turns it off

    def __post_init__(self) -> None:
        # Accept plain values from tests and TOML (str paths, str secrets, lists) and normalise them.
        setter: Callable[[str, Any], None] = lambda name, value: object.__setattr__(self, name, value)
        setter("data_dir", Path(self.data_dir))
        setter("pki_dir", Path(self.pki_dir) if self.pki_dir is not None else self.data_dir / "pki")
        for name in ("database_url", "agent_token"):
            value = getattr(self, name)
            if isinstance(value, str):
                setter(name, Secret(value) if value else None)
        setter("working_days", tuple(sorted(set(self.working_days))))
        self._validate()

    def _validate(self) -> None:
        for name in ("outbound_partitions", "inbox_partitions", "max_package_bytes", "publish_batch_max"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name}: must be at least 1, got {getattr(self, name)!r}")
        for name in ("redelivery_after_s", "arrival_deadline_s", "confirm_timeout_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError(f"metrics_port: expected 0..65535, got {self.metrics_port!r}")
        if self.redelivery_limit < 0:
            raise SettingsError(f"redelivery_limit: must not be negative, got {self.redelivery_limit!r}")
        if not self.working_days or not all(0 <= d <= 6 for d in self.working_days):
            raise SettingsError(f"working_days: expected days 0 (Mon) .. 6 (Sun), got {self.working_days!r}")
        if _hhmm(self.workday_start) >= _hhmm(self.workday_end):
            raise SettingsError(f"workday_start {self.workday_start} must be before workday_end {self.workday_end}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"timezone: unknown time zone {self.timezone!r}") from None

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def workday_hours(self) -> tuple[_dt.time, _dt.time]:
        return _hhmm(self.workday_start), _hhmm(self.workday_end)

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (pki_dir follows data_dir unless given or set explicitly)."""
        if "data_dir" in changes and "pki_dir" not in changes and self.pki_dir == self.data_dir / "pki":
            changes["pki_dir"] = None
        return dataclasses.replace(self, **changes)

    def resolved(self, *, need_database: bool = True) -> "Settings":
        """A copy with `kafka_bootstrap` (and `database_url`) filled from `<data_dir>/run.json`."""
        bootstrap, database_url = resolve_endpoints(self, need_database=need_database)
        return dataclasses.replace(self, kafka_bootstrap=bootstrap, database_url=database_url)


# --- loading -------------------------------------------------------------------------------------------

def _cast_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int):
        return raw
    return int(str(raw).strip().replace("_", ""))


def _cast_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError
    return float(raw)


def _cast_days(raw: Any) -> tuple[int, ...]:
    items = raw if isinstance(raw, (list, tuple)) else [p for p in str(raw).replace(" ", ",").split(",") if p]
    days = []
    for item in items:
        text = str(item).strip().lower()[:3]
        days.append(_DAY_NAMES.index(text) if text in _DAY_NAMES else int(text))
    return tuple(days)


def _cast_optional_str(raw: Any) -> str | None:
    return str(raw) or None


def _cast_secret(raw: Any) -> Secret | None:
    return Secret(str(raw)) if str(raw) else None


_CASTS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "data_dir": (lambda raw: Path(str(raw)).expanduser(), "a path"),
    "pki_dir": (lambda raw: Path(str(raw)).expanduser(), "a path"),
    "kafka_bootstrap": (_cast_optional_str, "host:port[,host:port]"),
    "database_url": (_cast_secret, "a postgresql:// URL"),
    "agent_token": (_cast_secret, "a token"),
    "outbound_partitions": (_cast_int, "an integer"),
    "inbox_partitions": (_cast_int, "an integer"),
    "max_package_bytes": (_cast_int, "an integer"),
    "redelivery_after_s": (_cast_float, "a number of seconds"),
    "redelivery_limit": (_cast_int, "an integer"),
    "arrival_deadline_s": (_cast_float, "a number of seconds"),
    "workday_start": (str, "HH:MM"),
    "workday_end": (str, "HH:MM"),
    "working_days": (_cast_days, "days such as 0,1,2,3,4 or mon,tue,wed,thu,fri"),
    "timezone": (str, "a time zone name"),
    "publish_batch_max": (_cast_int, "an integer"),
    "confirm_timeout_s": (_cast_float, "a number of seconds"),
    "metrics_port": (_cast_int, "a port number (0 for none)"),
}


def _cast(name: str, raw: Any, where: str) -> Any:
    cast, expected = _CASTS[name]
    try:
        return cast(raw)
    except (ValueError, TypeError):
        raise SettingsError(f"{where}: expected {expected}, got {raw!r}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"configuration file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"configuration file {path}: {exc}") from exc
    unknown = sorted(set(data) - set(_CASTS))
    if unknown:
        raise SettingsError(f"configuration file {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Read the settings once, at an entrypoint: overrides > `AXIS_*` environment > TOML file > defaults.

    `environ` defaults to `os.environ` (this is the only place in the project that reads it).
    """
    env = os.environ if environ is None else environ
    unknown = sorted(set(overrides) - set(_CASTS))
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}")

    from_env = {
        name: _cast(name, env[key], key)
        for name in _CASTS
        if (key := _ENV_PREFIX + name.upper()) in env
    }
    data_dir = overrides.get("data_dir") or from_env.get("data_dir")
    if config_file is None and env.get("AXIS_CONFIG"):
        config_file = Path(env["AXIS_CONFIG"]).expanduser()
    elif config_file is None:
        candidate = Path(data_dir or _DEFAULT_DATA_DIR) / "axis.toml"
        config_file = candidate if candidate.is_file() else None

    values: dict[str, Any] = {}
    if config_file is not None:
        for name, raw in _read_toml(Path(config_file)).items():
            values[name] = _cast(name, raw, f"{config_file}: {name}")
    values.update(from_env)
    values.update(overrides)
    try:
        return Settings(**values)
    except TypeError as exc:
        raise SettingsError(str(exc)) from exc


# --- run.json: how a running `axis up` is found --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RunInfo:
    """What `axis up` writes to `<data_dir>/run.json` so other commands can find the exchange."""

    kafka_bootstrap: str
    database_url: Secret
    pki_dir: Path
    pid: int
    started_at: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))

    def is_alive(self) -> bool:
        """Whether the process that wrote the file still runs (a crash leaves a stale file behind)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def to_json(self) -> str:
        return json.dumps(
            {
                "kafka_bootstrap": self.kafka_bootstrap,
                "database_url": self.database_url.get_secret_value(),
                "pki_dir": str(self.pki_dir),
                "pid": self.pid,
                "started_at": self.started_at.isoformat(),
            },
            indent=2,
        )


def write_run_info(data_dir: Path, info: RunInfo) -> Path:
    """Write run.json atomically, readable by the owner only (it holds the database URL)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / RUN_FILE
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(info.to_json())
    os.replace(tmp, path)
    return path


def read_run_info(data_dir: Path) -> RunInfo | None:
    """The run.json of `data_dir`, or None when no exchange was started there."""
    path = Path(data_dir) / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunInfo(
            kafka_bootstrap=str(data["kafka_bootstrap"]),
            database_url=Secret(str(data["database_url"])),
            pki_dir=Path(data["pki_dir"]),
            pid=int(data["pid"]),
            started_at=_dt.datetime.fromisoformat(data["started_at"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"{path} is unreadable ({exc}); remove it and start `axis up` again") from exc


def remove_run_info(data_dir: Path) -> None:
    (Path(data_dir) / RUN_FILE).unlink(missing_ok=True)


def resolve_endpoints(settings: Settings, *, need_database: bool = True) -> tuple[str, Secret | None]:
    """(kafka bootstrap, database URL): from the settings, else from the running exchange's run.json.

    Agents pass `need_database=False`: they never connect to PostgreSQL.
    """
    bootstrap, database_url = settings.kafka_bootstrap, settings.database_url
    if bootstrap and (database_url or not need_database):
        return bootstrap, database_url
    info = read_run_info(settings.data_dir)
    missing = "AXIS_KAFKA_BOOTSTRAP" if not bootstrap else "AXIS_DATABASE_URL"
    if info is None:
        raise SettingsError(
            f"no exchange running in {settings.data_dir} (start `axis up`) and {missing} not set"
        )
    if not info.is_alive():
        raise SettingsError(
            f"{settings.data_dir / RUN_FILE} names process {info.pid}, which is not running "
            f"(stale; start `axis up` again) and {missing} not set"
        )
    return bootstrap or info.kafka_bootstrap, database_url or info.database_url
