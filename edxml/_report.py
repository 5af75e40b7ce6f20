"""Validation results: every problem says where (file and line) and what."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import PackageInvalid

if TYPE_CHECKING:
    from lxml import etree

    from ._model import Package, Profile


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a package."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line or '?'}: {self.message}"


@dataclass(slots=True)
class ValidationReport:
    """The outcome of `validate`: `ok` when there are no errors; warnings never fail a package."""

    source: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    package: Package | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise `PackageInvalid` naming the first error (and how many more there are)."""
        if self.errors:
            first = self.errors[0]
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            raise PackageInvalid(f"{first.message}{more}", source=first.source, line=first.line)


class Collector:
    """Collects issues while reading; `soft` problems are errors in strict and warnings in lenient.

    Inside `history()` (a TraceHeader: where the package has been) nothing is an error: history is
    noted, never a reason to refuse.
    """

    def __init__(self, report: ValidationReport, profile: Profile) -> None:
        self.report = report
        self.profile = profile
        self._history = False

    def error(self, where: etree._Element | int | None, message: str) -> None:
        target = self.report.warnings if self._history else self.report.errors
        target.append(Issue(self.report.source, _line(where), message))

    def warn(self, where: etree._Element | int | None, message: str) -> None:
        self.report.warnings.append(Issue(self.report.source, _line(where), message))

    def soft(self, where: etree._Element | int | None, message: str) -> None:
        (self.error if self.profile == "strict" else self.warn)(where, message)

    @contextlib.contextmanager
    def history(self) -> Iterator[None]:
        """Read a part that is history: its problems become warnings."""
        self._history = True
        try:
            yield
        finally:
            self._history = False


def _line(where: etree._Element | int | None) -> int | None:
    if where is None or isinstance(where, int):
        return where
    return where.sourceline
