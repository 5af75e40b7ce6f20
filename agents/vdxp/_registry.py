"""The document systems allowed to call one agent's SDK facade, kept in `sdk-clients.json`.

The national exchange authenticates a document system by its system id and a shared secret used as an
HMAC key, so the secret must be stored in clear; the file is therefore written with mode 0600, atomically
(a reader never sees half a file, a crash never loses the old one) and under a lock, because the CLI may
change it while the agent is running. The agent picks changes up without a restart: `get` re-reads the
file whenever its modification time or size changed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

__all__ = ["RegistryError", "SdkClient", "SdkClientRegistry", "generate_secret", "registry_path"]

_FORMAT_VERSION = 1
FILE_NAME = "sdk-clients.json"
_SAFE_ORGAN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


class RegistryError(Exception):
    """`sdk-clients.json` cannot be read or the requested change is not possible."""


def generate_secret() -> str:
    """A new secret shaped like the national ones: 44 characters, base64 of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def registry_path(data_dir: str | os.PathLike[str], organ_id: str) -> Path:
    """`<data_dir>/agents/<organ-id>/sdk-clients.json`: the file lives in the agent's own folder."""
    if not _SAFE_ORGAN.match(organ_id):
        raise RegistryError(f"organ id {organ_id!r} cannot name an agent folder (letters, digits, '.', '_', '-')")
    return Path(data_dir) / "agents" / organ_id / FILE_NAME


@dataclass(frozen=True, slots=True)
class SdkClient:
    """One registered document system; the secret never appears in `repr` (logs, tracebacks)."""

    system_id: str
    secret: str = field(repr=False)
    may_send_for: tuple[str, ...]
    operator: bool = False
    freshness_window_s: int | None = None
    created_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "system_id": self.system_id,
            "secret": self.secret,
            "may_send_for": list(self.may_send_for),
            "operator": self.operator,
            "freshness_window_s": self.freshness_window_s,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str) -> "SdkClient":
        try:
            window = data.get("freshness_window_s")
            client = cls(
                system_id=str(data["system_id"]),
                secret=str(data["secret"]),
                may_send_for=tuple(str(o) for o in data.get("may_send_for", ())),
                operator=bool(data.get("operator", False)),
                freshness_window_s=None if window is None else int(window),
                created_at=str(data.get("created_at", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RegistryError(f"{source}: malformed client entry ({exc!r})") from exc
        if not client.system_id or not client.secret:
            raise RegistryError(f"{source}: a client entry lacks system_id or secret")
        return client


class SdkClientRegistry:
    """The SDK clients of one agent, backed by a JSON file; safe to share between the CLI and a running agent."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._clients: dict[str, SdkClient] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------------

    def get(self, system_id: str) -> SdkClient | None:
        """The client registered under `system_id`, reading the file again if it changed."""
        return self._current().get(system_id)

    def list(self) -> list[SdkClient]:
        """All clients, sorted by system id."""
        return sorted(self._current().values(), key=lambda c: c.system_id)

    def _current(self) -> dict[str, SdkClient]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._clients, self._stamp = {}, None
                return self._clients
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._clients = self._read()
                self._stamp = stamp
            return self._clients

    def _read(self) -> dict[str, SdkClient]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{self.path}: cannot read SDK clients: {exc}") from exc
        entries = data.get("clients") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise RegistryError(f"{self.path}: expected an object with a 'clients' list")
        clients = [SdkClient.from_json(e, source=str(self.path)) for e in entries]
        return {c.system_id: c for c in clients}

    # -- changing -----------------------------------------------------------------------------------

    def add(
        self,
        system_id: str,
        *,
        may_send_for: tuple[str, ...],
        secret: str | None = None,
        operator: bool = False,
        freshness_window_s: int | None = None,
    ) -> tuple[SdkClient, bool]:
        """Register a client; returns it and whether its secret was generated here (to be shown once)."""
        if not system_id.strip():
            raise RegistryError("the system id must not be empty")
        if secret is not None and not secret:
            raise RegistryError("the secret must not be empty")
        if not may_send_for:
            raise RegistryError("a client must be allowed to send for at least one organ")
        generated = secret is None
        client = SdkClient(
            system_id=system_id,
            secret=secret if secret is not None else generate_secret(),
            may_send_for=tuple(dict.fromkeys(may_send_for)),
            operator=operator,
            freshness_window_s=freshness_window_s,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        with self._exclusive():
            clients = self._read()
            if system_id in clients:
                raise RegistryError(f"system id {system_id!r} is already registered; remove it first")
            clients[system_id] = client
            self._write(clients)
        return client, generated

    def remove(self, system_id: str) -> bool:
        """Forget a client; False if it was not registered."""
        with self._exclusive():
            clients = self._read()
            if clients.pop(system_id, None) is None:
                return False
            self._write(clients)
        return True

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise read-modify-write cycles of concurrent CLI invocations."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, clients: dict[str, SdkClient]) -> None:
        """Write the whole file to a 0600 temporary file, fsync it and rename it over the old one."""
        payload = {
            "version": _FORMAT_VERSION,
            "clients": [c.to_json() for c in sorted(clients.values(), key=lambda c: c.system_id)],
        }
        data = (json.dumps(payload, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=".sdk-clients.", suffix=".tmp", dir=self.path.parent)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # mkstemp creates 0600 already; say so explicitly
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
