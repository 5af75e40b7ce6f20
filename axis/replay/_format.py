"""The recording file: gzip-compressed JSON lines, a header first, an end line with checksums last.

    line 1      {"format": "axis-replay", "version": 1, "source": {...}, "topics": [...], "count": N,
                 "first_timestamp": ms, "last_timestamp": ms, "range": {"from": ..., "to": ...}, "created_at": ...}
    lines 2..   {"topic", "partition", "offset", "timestamp", "key", "headers": [[name, value], ...], "value"}
    last line   {"end": {"count": N, "header_sha256": hex, "records_sha256": hex}}

Bytes (key, header values, value) are written as a JSON string when they are valid UTF-8, which EDXML and
the wire's JSON always are, else as `{"b64": "..."}`, and `null` for none: the exact bytes come back either
way, and a recording stays readable with `zcat FILE | head` or `jq`. Every line is UTF-8 JSON ending in `\\n`.

The file is three concatenated gzip members (RFC 1952 allows it; `zcat`, Python's `gzip`, Java's
`GZIPInputStream` read them as one stream): the header, the records, the end line. The count and time range
are known only when recording ends, so the records member is written to `FILE.partial` first and copied
byte for byte behind the header when the writer closes; the final name appears only then (a crash leaves
no half file under it). Members carry no time or file name, so equal content gives equal bytes.

A reader checks everything before anyone acts on it: a gzip stream that ends early, a CRC error, a line
that is not JSON, a missing end line, a count or SHA-256 that differs all raise `RecordingInvalid`. The
checksums detect truncation and alteration by accident or by tools unaware of the format; they are not a
signature (the packages inside carry their own).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ._errors import RecordingInvalid

FORMAT = "axis-replay"
VERSION = 1
_LEVEL = 6  # zlib's default: about 3x faster than 9 for 1-2 % more bytes on EDXML


def encode_bytes(data: bytes | None) -> str | dict[str, str] | None:
    """UTF-8 text as a JSON string (readable, and smaller once compressed), other bytes as base64."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def decode_bytes(value: Any, where: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and isinstance(value.get("b64"), str):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            pass
    raise RecordingInvalid(f'{where}: expected a string, {{"b64": ...}} or null')


@dataclass(frozen=True, slots=True)
class RecordedRecord:
    """One broker record as it was read: where it was, when, and its exact key, headers and value."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str | None:
        """The first header of that name as text (the wire's headers are UTF-8), or None."""
        return next((v.decode("utf-8", "replace") for k, v in self.headers if k == name), None)

    def to_line(self) -> bytes:
        data = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp_ms,
            "key": encode_bytes(self.key),
            "headers": [[k, encode_bytes(v)] for k, v in self.headers],
            "value": encode_bytes(self.value),
        }
        return _line(data)

    @classmethod
    def from_json(cls, data: Any, where: str) -> RecordedRecord:
        try:
            return cls(
                topic=str(data["topic"]),
                partition=int(data["partition"]),
                offset=int(data["offset"]),
                timestamp_ms=int(data["timestamp"]),
                key=decode_bytes(data["key"], f"{where}: key"),
                value=decode_bytes(data["value"], f"{where}: value"),
                headers=tuple((str(k), decode_bytes(v, f"{where}: header {k}") or b"") for k, v in data["headers"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingInvalid(f"{where}: not a record line ({exc!r})") from None


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    """The first line: where the records come from, which topics, how many and over what time."""

    source: dict[str, Any]
    topics: tuple[str, ...]
    count: int
    first_timestamp_ms: int | None
    last_timestamp_ms: int | None
    range: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    version: int = VERSION

    def to_line(self) -> bytes:
        return _line(
            {
                "format": FORMAT,
                "version": self.version,
                "source": self.source,
                "topics": list(self.topics),
                "count": self.count,
                "first_timestamp": self.first_timestamp_ms,
                "last_timestamp": self.last_timestamp_ms,
                "range": self.range,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def from_json(cls, data: Any, where: str) -> RecordingHeader:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RecordingInvalid(f'{where}: not an axis recording (the first line has no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise RecordingInvalid(
                f"{where}: recording format version {data.get('version')!r}; this axis reads {VERSION}"
            )
        try:
            return cls(
                source=dict(data["source"]),
                topics=tuple(data["topics"]),
                count=int(data["count"]),
                first_timestamp_ms=data["first_timestamp"],
                last_timestamp_ms=data["last_timestamp"],
                range=dict(data.get("range") or {}),
                created_at=data.get("created_at"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingInvalid(f"{where}: malformed header ({exc!r})") from None


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _member(payload: bytes) -> bytes:
    return gzip.compress(payload, compresslevel=_LEVEL, mtime=0)


class RecordingWriter:
    """Writes one recording; `close()` puts it in place, an exception inside `with` leaves nothing behind."""

    def __init__(
        self,
        path: Path,
        *,
        source: dict[str, Any],
        topics: Sequence[str],
        range: dict[str, Any] | None = None,
        created_at: str | None = None,
    ) -> None:
        self.path = Path(path)
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._source, self._topics, self._range, self._created_at = source, tuple(topics), range or {}, created_at
        self._raw = open(self._partial, "wb")  # noqa: SIM115 -- open until close() or abort()
        self._records = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=_LEVEL, mtime=0)
        self._digest = hashlib.sha256()
        self.count = 0
        self._first: int | None = None
        self._last: int | None = None
        self.header: RecordingHeader | None = None  # set by close()

    def add(self, record: RecordedRecord) -> None:
        line = record.to_line()
        self._records.write(line)
        self._digest.update(line)
        self.count += 1
        self._first = record.timestamp_ms if self._first is None else min(self._first, record.timestamp_ms)
        self._last = record.timestamp_ms if self._last is None else max(self._last, record.timestamp_ms)

    def close(self) -> RecordingHeader:
        """Write header, records and end line to the final path (atomically) and return the header."""
        self._records.close()
        self._raw.close()
        header = RecordingHeader(
            self._source, self._topics, self.count, self._first, self._last, self._range, self._created_at
        )
        head = header.to_line()
        end = _line(
            {
                "end": {
                    "count": self.count,
                    "header_sha256": hashlib.sha256(head).hexdigest(),
                    "records_sha256": self._digest.hexdigest(),
                }
            }
        )
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as out, open(self._partial, "rb") as records:
            out.write(_member(head))
            shutil.copyfileobj(records, out, 1024 * 1024)
            out.write(_member(end))
        os.replace(tmp, self.path)
        self._partial.unlink(missing_ok=True)
        self.header = header
        return header

    def abort(self) -> None:
        """Give up: close and remove the partial file; the final path is never touched."""
        self._records.close()
        self._raw.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Recording:
    """A recording on disk, checked whole when opened; `records()` streams it again and checks again."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        scan = self._scan(with_records=False)
        self.header: RecordingHeader = next(scan)
        scan.close()

    @classmethod
    def open(cls, path: Path) -> Recording:
        """Read and check the whole file once: a recording that is truncated or altered is refused here."""
        recording = cls(path)
        for _ in recording.records():
            pass
        return recording

    def records(self) -> Iterator[RecordedRecord]:
        """Every record in file order; raises `RecordingInvalid` (at the point found) if the file is bad."""
        scan = self._scan(with_records=True)
        next(scan)  # the header
        yield from scan  # type: ignore[misc]

    def _scan(self, *, with_records: bool) -> Iterator[Any]:
        where = str(self.path)
        if not self.path.is_file():
            raise RecordingInvalid(f"{where}: no such file")
        digest = hashlib.sha256()
        count, n = 0, 0
        try:
            with gzip.open(self.path, "rb") as fh:
                head = fh.readline()
                header = RecordingHeader.from_json(_json(head, f"{where}:1"), f"{where}:1")
                yield header
                if not with_records:
                    return
                for n, line in enumerate(fh, start=2):
                    data = _json(line, f"{where}:{n}")
                    if isinstance(data, dict) and "end" in data:
                        _check_end(data["end"], head, digest, count, header, f"{where}:{n}")
                        if fh.read(1):
                            raise RecordingInvalid(f"{where}:{n + 1}: data after the end line")
                        return
                    digest.update(line)
                    count += 1
                    yield RecordedRecord.from_json(data, f"{where}:{n}")
        except EOFError:
            raise RecordingInvalid(f"{where}: truncated: the compressed data ends early (after line {n})") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise RecordingInvalid(f"{where}: damaged after line {n}: {exc}") from None
        raise RecordingInvalid(
            f"{where}: truncated: no end line after {count} records (the header says {header.count})"
        )


def _json(line: bytes, where: str) -> Any:
    if not line.endswith(b"\n"):
        raise RecordingInvalid(f"{where}: truncated line")
    try:
        return json.loads(line)
    except ValueError as exc:
        raise RecordingInvalid(f"{where}: not JSON ({exc})") from None


def _check_end(end: Any, head: bytes, digest: Any, count: int, header: RecordingHeader, where: str) -> None:
    if not isinstance(end, dict):
        raise RecordingInvalid(f"{where}: malformed end line")
    if end.get("header_sha256") != hashlib.sha256(head).hexdigest():
        raise RecordingInvalid(f"{where}: altered: the header's SHA-256 differs from the end line's")
    if end.get("count") != count or header.count != count:
        raise RecordingInvalid(
            f"{where}: altered: {count} records, the end line says {end.get('count')}, the header {header.count}"
        )
    if end.get("records_sha256") != digest.hexdigest():
        raise RecordingInvalid(f"{where}: altered: the records' SHA-256 differs from the end line's")
