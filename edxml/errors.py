"""Errors raised by the EDXML layer.

    EdxmlError                 root of every error in edxml
    ├── PackageTooLarge        input is over the configured size cap
    ├── XmlSyntaxError         not well-formed XML, or a forbidden DOCTYPE/entity
    └── PackageInvalid         well-formed, but not a valid package (schema or rule)

Every error carries `source` (file name or "<bytes>"), where known `line`, and `problem` (the
message without the location); `str()` gives `source:line: problem`.
"""

from __future__ import annotations

from typing import Any


class EdxmlError(Exception):
    """Root of every error raised by edxml."""

    def __init__(self, problem: str, *, source: str = "<bytes>", line: int | None = None) -> None:
        super().__init__(f"{source}:{line or '?'}: {problem}")
        self.problem = problem
        self.source = source
        self.line = line


class PackageTooLarge(EdxmlError):
    """The input is larger than the configured maximum package size."""


class XmlSyntaxError(EdxmlError):
    """The input is not well-formed XML, or carries a DOCTYPE or entity we refuse."""

    def __init__(self, problem: str, *, source: str = "<bytes>", line: int | None = None, log: Any = None) -> None:
        super().__init__(problem, source=source, line=line)
        self.log = log  # lxml's error log, so the lenient loader can tell what exactly went wrong


class PackageInvalid(EdxmlError):
    """The XML is well-formed but is not a valid EDXML package."""
