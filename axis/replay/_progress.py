"""Progress of long replay commands: a rich bar on a terminal, nothing otherwise.

Library functions report to a `Progress` (total when known, then advances); the CLI hands them a
`TerminalProgress`, tests and the pytest plugin the silent default. The summary line at the end is the
caller's, printed whether or not a bar was shown.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as RichProgress,
)


class Progress(Protocol):
    """Where a long loop reports how far it is."""

    def set_total(self, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...


class SilentProgress:
    """Reports nowhere: the default of the library functions."""

    def set_total(self, total: int | None) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        return None


class TerminalProgress:
    """One rich progress bar on standard error, shown only when standard error is a terminal."""

    def __init__(self, description: str, *, unit: str = "records", console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self.enabled = self._console.is_terminal
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._description = description

    def set_total(self, total: int | None) -> None:
        if self._task is not None:
            self._bar.update(self._task, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, count)

    def __enter__(self) -> Self:
        if self.enabled:
            self._bar.start()
            self._task = self._bar.add_task(self._description, total=None)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._bar.stop()
            self._task = None
