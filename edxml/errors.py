"""Errors raised by the EDXML layer.

    EdxmlError                 root of every error in edxml
    ├── PackageTooLarge        input is over the configured size cap
    ├── XmlSyntaxError         not well-formed XML, or a forbidden DOCTYPE/entity
    └── PackageInvalid         well-formed, but not a valid package (schema or rule)

Every error carries `source` (file name or "<bytes>") and, where known, `line`, so that a
message always says what is wrong and where.
"""

from __future__ import annotations


class EdxmlError(Exception):
    """Root of every error raised by edxml."""

    def __init__(self, message: str, *, source: str = "<bytes>", line: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.line = line


class PackageTooLarge(EdxmlError):
    """The input is larger than the configured maximum package size."""


class XmlSyntaxError(EdxmlError):
    """The input is not well-formed XML, or carries a DOCTYPE or entity we refuse."""


class PackageInvalid(EdxmlError):
    """The XML is well-formed but is not a valid EDXML package."""
