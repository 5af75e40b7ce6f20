"""Errors of replay (`axis.replay`), under the exchange's root `axis.errors.AxisError`.

    AxisError
    └── ReplayError                   replay cannot do what was asked
        ├── RecordingInvalid          a recording is truncated, altered or not a recording at all
        ├── TopicNotFound             a topic to record or play into does not exist on the broker
        ├── ExchangeNotReady          the exchange to play into is not running or does not answer
        └── OutcomeInvalid            an outcome file is unreadable or of another format

Broker and database failures on the way keep their own classes (`TransportError`, `LedgerError`).
"""

from __future__ import annotations

from axis.errors import AxisError

__all__ = ["ExchangeNotReady", "OutcomeInvalid", "RecordingInvalid", "ReplayError", "TopicNotFound"]


class ReplayError(AxisError):
    """Replay cannot do what was asked; the message says what and where."""


class RecordingInvalid(ReplayError):
    """A recording is truncated, altered, or not a recording of this format; nothing of it is played."""


class TopicNotFound(ReplayError):
    """A topic named for recording or playing does not exist on the broker (it is never auto-created)."""


class ExchangeNotReady(ReplayError):
    """The exchange to play into is not running, or its broker or database does not answer."""


class OutcomeInvalid(ReplayError):
    """An outcome file cannot be read, or it is not an axis outcome."""
