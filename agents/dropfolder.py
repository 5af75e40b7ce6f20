"""The drop folder: document systems that can only write and read files exchange packages through it.

    <agent dir>/outbox/            write a package here (write `name.tmp`, then rename: half-written files
                                   are not read; a file is also taken only once its size and mtime stood still
                                   for one scan)
    <agent dir>/outbox/sent/       packages the agent accepted, renamed `<name>` (or `<name>.<message id>`),
                                   with `<name>.warnings.txt` when it repaired or assumed something
    <agent dir>/outbox/failed/     packages it refused, each with `<name>.error.txt` saying why
    <agent dir>/inbox/             every received package as `<message id>.edxml` plus `<message id>.json`
                                   (sender, DocumentId, status, superseded...), written atomically

Packages dropped here are read leniently (real systems write quirky EDXML) and completed to the strict
form before signing, as the API and the SDK facade do. A file whose submission fails with an internal error
of the agent stays where it is for the next scan; the error is counted in the agent's `/health`. Export to `inbox/` is driven by an `exported` flag in the store, so a
crash between storing and writing the file only delays the file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from pathlib import Path

from axis.internal_errors import InternalErrors

from ._task import LoopService, Supervised
from .errors import AgentError
from .model import ReceivedItem
from .service import AgentService
from .store import Store

__all__ = ["DropFolder"]

_log = logging.getLogger(__name__)
_OPERATION = "drop folder submission"
_SKIP_SUFFIXES = (".tmp", ".part", ".error.txt", ".warnings.txt")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _export(inbox: Path, items: list[ReceivedItem]) -> None:
    """Each item's package and metadata, written and synced to temporary names, renamed into place, then the
    folder synced once (so the renames last too): blocking file work, run in a worker thread, not the loop."""
    for item in items:
        for name, data in ((f"{item.message_id}.edxml", item.body), (f"{item.message_id}.json", _metadata(item))):
            _write_atomic(inbox / name, data)
    folder = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _free_name(folder: Path, name: str, suffix: str) -> Path:
    target = folder / name
    return target if not target.exists() else folder / f"{name}.{suffix}"


def _metadata(item: ReceivedItem) -> bytes:
    return json.dumps({
        "message_id": item.message_id, "kind": item.kind, "sender": item.sender, "document_id": item.document_id,
        "recipients": list(item.recipients), "subject": item.subject, "status_code": item.status_code,
        "doc_type": item.doc_type, "superseded": item.superseded, "superseded_by": item.superseded_by,
        "received_at": item.received_at.isoformat(), "signer": item.signer,
    }, ensure_ascii=False, indent=2).encode("utf-8")


class DropFolder(LoopService):
    """Scans `outbox/` and fills `inbox/`. `start()`/`stop()` (idempotent) or `async with`."""

    def __init__(self, root: Path, service: AgentService, store: Store, *, poll_interval_s: float = 0.25,
                 errors: InternalErrors | None = None) -> None:
        self.outbox = root / "outbox"
        self.sent_dir = self.outbox / "sent"
        self.failed_dir = self.outbox / "failed"
        self.inbox = root / "inbox"
        self._service = service
        self._store = store
        self._interval = poll_interval_s
        self._errors = errors or InternalErrors(f"drop folder {service.organ_id}", _log)
        self._seen: dict[str, tuple[int, int]] = {}
        self._wake = asyncio.Event()
        self._task = Supervised(f"drop-folder-{service.organ_id}", self._run)

    def wake(self) -> None:
        """A package was stored: export it without waiting for the next scan."""
        self._wake.set()

    async def start(self) -> None:
        for folder in (self.outbox, self.sent_dir, self.failed_dir, self.inbox):
            folder.mkdir(parents=True, exist_ok=True)
        await super().start()


    async def _run(self) -> None:
        while True:
            self._wake.clear()
            await self.scan_once()
            await self.export_once()
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
            except TimeoutError:
                pass

    def _ready(self) -> list[Path]:
        """Files whose size and mtime did not change since the previous scan."""
        ready, seen = [], {}
        for path in sorted(self.outbox.iterdir()):
            if not path.is_file() or path.name.startswith(".") or path.name.endswith(_SKIP_SUFFIXES):
                continue
            stat = path.stat()
            seen[path.name] = (stat.st_size, stat.st_mtime_ns)
            if self._seen.get(path.name) == seen[path.name]:
                ready.append(path)
        self._seen = seen
        return ready

    async def scan_once(self) -> int:
        """Submit every settled file in `outbox/`; returns how many were moved to sent/ or failed/."""
        moved = 0
        for path in self._ready():
            try:
                submission = await self._service.submit_package(
                    path.read_bytes(), profile="lenient", source=path.name, via="dropfolder")
            except AgentError as exc:
                self._errors.succeeded(_OPERATION)
                if exc.retriable:
                    _log.info("drop folder: %s stays for a retry: %s", path.name, exc)
                    continue
                target = _free_name(self.failed_dir, path.name, uuid.uuid4().hex[:8])
                path.replace(target)
                _write_atomic(target.with_name(target.name + ".error.txt"), f"{exc.code}: {exc.message}\n".encode())
            except Exception as exc:  # a fault of the agent, not of the file: it stays for the next scan
                self._errors.record(_OPERATION, exc)
                continue
            else:
                self._errors.succeeded(_OPERATION)
                target = _free_name(self.sent_dir, path.name, submission.message_id)
                path.replace(target)
                if submission.warnings:
                    _write_atomic(target.with_name(target.name + ".warnings.txt"),
                                  "".join(f"{w}\n" for w in submission.warnings).encode("utf-8"))
            self._seen.pop(path.name, None)
            moved += 1
        return moved

    async def export_once(self) -> int:
        """Write received packages not yet exported to `inbox/`."""
        items = await self._store.unexported()
        if items:
            await asyncio.to_thread(_export, self.inbox, items)
            await self._store.mark_exported([i.message_id for i in items])
        return len(items)
