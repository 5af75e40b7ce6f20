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
_KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_KAFKA_SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
_KAFKA_SSL_FILES = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")


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
    # The address the router's metrics/health, the stats app and the console listen on: 0.0.0.0 in a container
    # (Prometheus scrapes it from another host); keep 127.0.0.1 on a shared machine.
    http_host: str = "127.0.0.1"
    metrics_port: int = 9400  # the router's Prometheus endpoint and /health; 0 turns it off
    console_port: int = 9401  # the web console that `axis up` serves; 0 turns it off
    console_secret: Secret | None = None  # signs console sessions; none: <data_dir>/console-secret (made once)
    stats_port: int = 9402  # the stats app's HTTP (metrics, health, JSON); 0: `axis up` runs none
    # Where agents ask the exchange for evidence bundles: a router's HTTP (metrics_port); none: this machine's
    # router, http://127.0.0.1:<metrics_port> (the embedded exchange).
    exchange_url: str | None = None
    # How every Kafka client connects (axis.transport.kafka_security reads the files at start).
    kafka_security_protocol: str = "PLAINTEXT"  # SSL, SASL_PLAINTEXT or SASL_SSL for a secured cluster
    kafka_ssl_cafile: Path | None = None  # the CA of the brokers' certificates; none: the system's CAs
    kafka_ssl_certfile: Path | None = None  # this client's certificate (mutual TLS), PEM
    kafka_ssl_keyfile: Path | None = None  # its private key, PEM
    kafka_ssl_password: Secret | None = None  # of an encrypted key file
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"  # or SCRAM-SHA-256, PLAIN; with SASL_* protocols only
    kafka_sasl_username: str | None = None  # the client's Kafka principal (see `axis kafka acls`)
    kafka_sasl_password: Secret | None = None
    kafka_replication_factor: int = 1  # of the topics the exchange creates: 3 on a 3-broker cluster (Tansu: 1)
    # The proof of delivery (axis.proof): the exchange seals checkpoints as this organ, with
    # <pki_dir>/<exchange_organ_id>-key.pem, every checkpoint_interval_s or checkpoint_events events.
    exchange_organ_id: str = "axis.exchange"
    checkpoint_interval_s: float = 60.0
    checkpoint_events: int = 10_000
    tsa_url: str | None = None  # an RFC 3161 time-stamping authority; none: checkpoints are not time-stamped
    tsa_trust: Path | None = None  # its CA certificate (PEM), for `axis ledger verify`
    archive_dir: Path | None = None  # where `axis ledger archive` put old bodies (evidence reads them back)

    def __post_init__(self) -> None:
        # Accept plain values from tests and TOML (str paths, str secrets, lists) and normalise them.
        setter: Callable[[str, Any], None] = lambda name, value: object.__setattr__(self, name, value)
        setter("data_dir", Path(self.data_dir))
        setter("pki_dir", Path(self.pki_dir) if self.pki_dir is not None else self.data_dir / "pki")
        for name in ("database_url", "agent_token", "console_secret", "kafka_ssl_password", "kafka_sasl_password"):
            value = getattr(self, name)
            if isinstance(value, str):
                setter(name, Secret(value) if value else None)
        for name in (*_KAFKA_SSL_FILES, "tsa_trust", "archive_dir"):
            if getattr(self, name) is not None:
                setter(name, Path(getattr(self, name)))
        setter("kafka_security_protocol", self.kafka_security_protocol.upper())
        setter("kafka_sasl_mechanism", self.kafka_sasl_mechanism.upper())
        setter("working_days", tuple(sorted(set(self.working_days))))
        self._validate()

    def _validate(self) -> None:
        for name in ("outbound_partitions", "inbox_partitions", "max_package_bytes", "publish_batch_max",
                     "kafka_replication_factor"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name}: must be at least 1, got {getattr(self, name)!r}")
        if self.checkpoint_events < 1:
            raise SettingsError(f"checkpoint_events: must be at least 1, got {self.checkpoint_events!r}")
        for name in ("redelivery_after_s", "arrival_deadline_s", "confirm_timeout_s", "checkpoint_interval_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be positive, got {getattr(self, name)!r}")
        for name in ("metrics_port", "console_port", "stats_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise SettingsError(f"{name}: expected 0..65535, got {getattr(self, name)!r}")
        if self.console_secret is not None and len(self.console_secret.get_secret_value()) < 32:
            raise SettingsError("console_secret: must be at least 32 characters (it signs the console's sessions)")
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
        self._validate_kafka_security()

    def _validate_kafka_security(self) -> None:
        """Settings that the chosen protocol would silently ignore are errors: a half-secured client is worse."""
        protocol = self.kafka_security_protocol
        if protocol not in _KAFKA_PROTOCOLS:
            raise SettingsError(f"kafka_security_protocol: expected one of {', '.join(_KAFKA_PROTOCOLS)}, "
                                f"got {protocol!r}")
        if self.kafka_sasl_mechanism not in _KAFKA_SASL_MECHANISMS:
            raise SettingsError(f"kafka_sasl_mechanism: expected one of {', '.join(_KAFKA_SASL_MECHANISMS)}, "
                                f"got {self.kafka_sasl_mechanism!r}")
        sasl_names = ("kafka_sasl_username", "kafka_sasl_password")
        ssl_names = (*_KAFKA_SSL_FILES, "kafka_ssl_password")
        uses_sasl, uses_ssl = protocol in ("SASL_PLAINTEXT", "SASL_SSL"), protocol in ("SSL", "SASL_SSL")
        for names, used, instead in ((sasl_names, uses_sasl, "SASL_SSL"), (ssl_names, uses_ssl, "SSL or SASL_SSL")):
            given = [name for name in names if getattr(self, name)]
            if given and not used:
                raise SettingsError(f"{given[0]} is set but kafka_security_protocol is {protocol}, which would "
                                    f"ignore it (use {instead})")
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise SettingsError("kafka_ssl_keyfile is set without kafka_ssl_certfile (the client certificate)")
        if self.kafka_ssl_password and self.kafka_ssl_keyfile is None and self.kafka_ssl_certfile is None:
            raise SettingsError("kafka_ssl_password is set but there is no key file (kafka_ssl_keyfile)")

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


def _cast_optional_path(raw: Any) -> Path | None:
    return Path(str(raw)).expanduser() if str(raw) else None


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
    "http_host": (str, "an address to listen on, such as 127.0.0.1 or 0.0.0.0"),
    "metrics_port": (_cast_int, "a port number (0 for none)"),
    "console_port": (_cast_int, "a port number (0 for none)"),
    "stats_port": (_cast_int, "a port number (0 for none)"),
    "exchange_url": (_cast_optional_str, "an http(s):// URL of a router's HTTP"),
    "console_secret": (_cast_secret, "a secret of at least 32 characters"),
    "kafka_security_protocol": (str, " or ".join(_KAFKA_PROTOCOLS)),
    "kafka_ssl_cafile": (_cast_optional_path, "a path to a PEM file"),
    "kafka_ssl_certfile": (_cast_optional_path, "a path to a PEM file"),
    "kafka_ssl_keyfile": (_cast_optional_path, "a path to a PEM file"),
    "kafka_ssl_password": (_cast_secret, "a password"),
    "kafka_sasl_mechanism": (str, " or ".join(_KAFKA_SASL_MECHANISMS)),
    "kafka_sasl_username": (_cast_optional_str, "a user name"),
    "kafka_sasl_password": (_cast_secret, "a password"),
    "kafka_replication_factor": (_cast_int, "an integer"),
    "exchange_organ_id": (str, "an organ id"),
    "checkpoint_interval_s": (_cast_float, "a number of seconds"),
    "checkpoint_events": (_cast_int, "an integer"),
    "tsa_url": (_cast_optional_str, "an http(s):// URL of an RFC 3161 time-stamping authority"),
    "tsa_trust": (_cast_optional_path, "a path to a PEM file"),
    "archive_dir": (_cast_optional_path, "a path"),
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
