"""Attachments whose bytes live in memory, in a file, or still base64-encoded as received.

Packages carry files of many megabytes: the content is encoded and decoded in chunks straight
between a file and the output, so at most one copy of it is ever held.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_CHUNK = 3 * 256 * 1024  # a multiple of 3 bytes, so encoded chunks concatenate cleanly
_WHITESPACE = str.maketrans("", "", " \t\r\n")


class Attachment:
    """One attached file: manifest metadata plus content, read only when asked for."""

    __slots__ = ("content_id", "name", "content_type", "description", "_data", "_path", "_encoded")

    def __init__(
        self,
        content_id: str,
        name: str,
        content_type: str = "application/octet-stream",
        description: str = "",
        *,
        data: bytes | None = None,
        path: Path | None = None,
        encoded: str | None = None,
    ) -> None:
        if sum(x is not None for x in (data, path, encoded)) != 1:
            raise ValueError("an Attachment takes exactly one of data, path or encoded")
        self.content_id = content_id
        self.name = name
        self.content_type = content_type
        self.description = description
        self._data = data
        self._path = path
        self._encoded = encoded

    @classmethod
    def from_file(cls, path: Path, *, content_type: str | None = None, description: str = "") -> Attachment:
        """Reference a file without reading it; the content id is a fresh `cid:<uuid>`."""
        guessed = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(f"cid:{uuid.uuid4()}", path.name, guessed, description, path=path)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def data(self) -> bytes:
        """The decoded content, read into memory (use `write_to` for big files)."""
        if self._data is not None:
            return self._data
        if self._path is not None:
            return self._path.read_bytes()
        return b"".join(self.iter_decoded())

    def check_decodes(self) -> None:
        """Raise `binascii.Error` if received content is not valid base64."""
        for _ in self.iter_decoded():
            pass

    def iter_decoded(self) -> Iterator[bytes]:
        """Yield the content in chunks, decoding received base64 strictly as it goes."""
        if self._encoded is None:
            yield self.data
            return
        text = self._encoded.translate(_WHITESPACE) if _needs_strip(self._encoded) else self._encoded
        if len(text) % 4:
            raise binascii.Error(f"base64 length {len(text)} is not a multiple of 4")
        step = _CHUNK // 3 * 4
        for start in range(0, len(text), step):
            yield binascii.a2b_base64(text[start : start + step], strict_mode=True)

    def iter_encoded(self) -> Iterator[bytes]:
        """Yield the content as base64 in chunks, reading a file piece by piece."""
        if self._encoded is not None:
            yield self._encoded.translate(_WHITESPACE).encode("ascii")
        elif self._data is not None:
            yield base64.b64encode(self._data)
        elif self._path is not None:
            with self._path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    yield base64.b64encode(chunk)

    def write_to(self, out: BinaryIO) -> int:
        """Write the decoded content to `out`; return the number of bytes written."""
        return sum(out.write(chunk) for chunk in self.iter_decoded())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attachment):
            return NotImplemented
        return self._meta() == other._meta() and self.data == other.data

    __hash__ = None  # type: ignore[assignment]  # equality depends on content that may change on disk

    def __repr__(self) -> str:
        return f"Attachment(content_id={self.content_id!r}, name={self.name!r}, content_type={self.content_type!r})"

    def _meta(self) -> tuple[str, str, str, str]:
        return (self.content_id, self.name, self.content_type, self.description)


def _needs_strip(text: str) -> bool:
    return any(c in text for c in " \t\r\n")
